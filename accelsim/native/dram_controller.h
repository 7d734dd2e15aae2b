/* accelsim's command-level DRAM controller: the interface Python (accelsim/sim/dram/controller.py)
 * calls through ctypes. The parameter struct and the counter list are written once, here, as
 * X-lists; the library describes them (ctl_parameter_field, ctl_counter_name) so that Python
 * can check, at load, that its ctypes declaration has the same field names, offsets and size. */
#ifndef ACCELSIM_DRAM_CONTROLLER_H
#define ACCELSIM_DRAM_CONTROLLER_H

#include <stdint.h>

/* Every parameter is an int64_t, in this order. Cycles are DRAM clocks. */
#define CTL_PARAMETERS(X)                                                                     \
    X(channels) X(ranks) X(bank_groups) X(banks_per_group)                                    \
    X(burst_cycles)            /* data-bus clocks of one burst (burst length / 2) */          \
    X(tcl_cycles) X(tcwl_cycles) X(trcd_cycles) X(trp_cycles) X(tras_cycles)                  \
    X(tccd_s_cycles) X(tccd_l_cycles) X(trrd_s_cycles) X(trrd_l_cycles) X(tfaw_cycles)        \
    X(trefi_cycles) X(trfc_cycles) X(twtr_s_cycles) X(twtr_l_cycles) X(twr_cycles)            \
    X(trtp_cycles) X(trtrs_cycles)                                                            \
    X(tppd_cycles)             /* precharge to another bank's precharge in the rank; 0: none */ \
    X(queue_depth)             /* read-queue entries per channel */                           \
    X(command_queue_depth)     /* entries per bank command queue */                           \
    X(write_buffer_depth)      /* write-buffer entries per channel */                         \
    X(closed_page)             /* 1: every column command auto-precharges */                  \
    X(dual_command_bus)        /* 1: a row and a column command may share a clock (HBM) */    \
    X(refresh_staggered)       /* 1: one rank every tREFI / ranks, in turn; 0: all every tREFI */ \
    X(every_clock)             /* 1: step every clock, skip none (to check the skipping) */

#define CTL_FIELD(name) int64_t name;
typedef struct { CTL_PARAMETERS(CTL_FIELD) } ctl_parameters_t;
#undef CTL_FIELD

/* Per-channel running counters, in this order. row_conflicts: precharges a request's other
 * row needed (not refresh's, not auto-precharge); drain_deadlocks_broken: clocks where
 * DRAMsim3's drain rule would never move again and the reads moved instead. */
#define CTL_COUNTERS(X)                                                                       \
    X(reads) X(writes) X(row_hits) X(activates) X(precharges) X(row_conflicts) X(refreshes)   \
    X(forwarded_reads) X(merged_writes) X(drain_deadlocks_broken)

#define CTL_ENUM(name) S_##name,
enum { CTL_COUNTERS(CTL_ENUM) S_COUNT };
#undef CTL_ENUM

/* the layout, for the caller's check: field `index`'s name and byte offset (NULL past the
 * last), the struct's size; the counters' names in order (NULL past the last) */
const char *ctl_parameter_field(int64_t index, int64_t *offset);
int64_t ctl_parameter_size(void);
const char *ctl_counter_name(int64_t index);
/* a digest of the sources and flags this library was built from (see accelsim/native) */
const char *ctl_build_digest(void);

/* A controller for `parameters` (copied), or NULL out of memory. */
void *ctl_new(const ctl_parameters_t *parameters);
void ctl_free(void *handle);
/* Time one batch (see dram_controller.c). Returns 0; -1 past max_clock; -2 out of memory;
 * -3 a channel stalled (a bug). */
int64_t ctl_run(void *handle, const int64_t *order, const int64_t *offsets,
                const int64_t *bank, const int64_t *row, const int64_t *column,
                const int64_t *key, const uint8_t *is_write, const int64_t *arrival,
                double *done, int64_t *next_read, int64_t *counters, int64_t max_clock);
int64_t ctl_log(void *handle, int64_t *buffer, int64_t capacity);
void ctl_clocks(void *handle, int64_t *clocks);
/* banks with a row open, over every channel */
int64_t ctl_open_banks(void *handle);

#endif
