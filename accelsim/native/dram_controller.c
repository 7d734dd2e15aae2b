/* accelsim's command-level DRAM controller: one DRAM clock at a time, one channel at a time.
 *
 * What it models (per channel; the channels share nothing):
 *   - a read queue and a write buffer of transactions, filled in arrival order (a full one
 *     holds back the channel's later requests); a write to an address with a write pending is
 *     merged into it, a read of such an address is answered from the buffer, reads of an
 *     address already being read share the one read;
 *   - per-bank command queues; one transaction moves from the read queue (or, while the
 *     write buffer drains, from the write buffer) to its bank's queue per clock when there is
 *     room; the write buffer drains when it is full, or holds more than 8 writes while every
 *     bank queue is empty, or at the end of the requests;
 *   - one command per clock on the command bus (HBM: a second one of the other kind, row or
 *     column, in the same clock), the bank queues served round robin, each taking its first
 *     ready command: FR-FCFS per bank (a later row hit issues before an earlier request's
 *     precharge; a precharge only for the bank's oldest request, and only when no queued
 *     request hits the open row or 4 hits were served since the activate);
 *   - every timing rule between commands as JEDEC states it (tRCD, tRP, tRAS, tRC, tRTP, tWR,
 *     tCCD_S/L, tRRD_S/L, tFAW, tWTR_S/L, read-to-write turnaround, tRTRS between ranks),
 *     tPPD where given; all-bank refresh, every rank every tREFI or one rank every
 *     tREFI / ranks in turn (open banks precharged first, the rank's queues held);
 *   - open page, or strict closed page (every column command auto-precharges).
 * The scheduling policy follows the one DRAMsim3 (github umd-memsys/DRAMsim3) describes and
 * implements, so that accelsim's figures can be checked against it cycle for cycle
 * (reports/validation/dram_parity.md); the code is accelsim's own.
 *
 * Clocks where nothing can happen are skipped (a bank queue is not searched before the
 * clock its first command could be ready; an idle stretch jumps to the next arrival, and its
 * refresh boundaries are applied at once); with the parameter every_clock set it steps every
 * clock instead, which the tests use to check that the skipping changes nothing.
 *
 * Interface (dram_controller.h): ctl_new(params) -> state; ctl_run(state, ...) times one batch of requests given
 * per channel in arrival order and runs each channel until they are all served (state carries
 * over to the next batch: open rows, timing, refresh, clock); ctl_free(state).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dram_controller.h"

#ifndef ACCELSIM_BUILD_DIGEST
#define ACCELSIM_BUILD_DIGEST "unknown"
#endif

/* ---- the interface's layout, for the caller's check ---- */

#define CTL_LAYOUT(name) {#name, (int64_t)offsetof(ctl_parameters_t, name)},
static const struct { const char *name; int64_t offset; } parameter_fields[] = {
    CTL_PARAMETERS(CTL_LAYOUT)
};
#undef CTL_LAYOUT
#define CTL_NAME(name) #name,
static const char *const counter_names[] = { CTL_COUNTERS(CTL_NAME) };
#undef CTL_NAME

const char *ctl_parameter_field(int64_t index, int64_t *offset) {
    if (index < 0 || index >= (int64_t)(sizeof parameter_fields / sizeof *parameter_fields))
        return NULL;
    *offset = parameter_fields[index].offset;
    return parameter_fields[index].name;
}

int64_t ctl_parameter_size(void) { return (int64_t)sizeof(ctl_parameters_t); }

const char *ctl_counter_name(int64_t index) {
    return index >= 0 && index < S_COUNT ? counter_names[index] : NULL;
}

const char *ctl_build_digest(void) { return ACCELSIM_BUILD_DIGEST; }

/* clocks without a command, a move or an arrival after which a busy channel counts as stalled */
#define STALL_CLOCKS 100000000LL

/* what a bank's next command of each kind waits for */
enum { T_ACT, T_RD, T_WR, T_PRE, T_REF, T_KINDS };
/* commands */
enum { C_NONE = -1, C_ACT, C_RD, C_WR, C_RDA, C_WRA, C_PRE, C_REF, C_KINDS };
/* where a bank sits relative to the one a command went to */
enum { R_SAME, R_GROUP, R_RANK, R_OTHER, R_KINDS };

typedef struct { int64_t bank, row, column, key, request; int is_write; } entry_t;
typedef struct { int64_t open_row, hits, ready[T_KINDS]; } bank_t;
typedef struct { int64_t key, reads_head, writes; } slot_t;   /* key < 0: empty */

typedef struct {
    int64_t clk, round_robin, draining, refresh_rank, next_refresh;
    int64_t refresh_next_rank;   /* staggered refresh: the rank the next boundary makes due */
    bank_t *banks;
    entry_t *queue;          /* banks x cmd_queue_depth */
    int64_t *queue_length;
    int64_t *wake;           /* per bank: no queued command is ready before this clock */
    entry_t *reads, *writes; /* transaction queues */
    int64_t read_count, write_count;
    int64_t *refresh_due;    /* per rank */
    int64_t *activates;      /* per rank: the last 4 activate times, a ring */
    int64_t *activate_next;
    slot_t *pending;         /* open addressing, power-of-two size */
    int64_t pending_mask;
    int64_t counters[S_COUNT];
} channel_t;

typedef struct {
    ctl_parameters_t p;
    int64_t banks_per_rank, banks, read_delay, write_delay;
    int64_t refresh_interval;   /* clocks between refresh boundaries */
    int64_t delay[C_KINDS][R_KINDS][T_KINDS];  /* -1: no rule */
    int64_t *group_of, *rank_of;               /* per bank of a channel: no division later */
    channel_t *channels;
    int64_t *log, log_capacity, log_count;     /* optional command log: 5 values a command */
} state_t;

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static void set_rule(state_t *s, int command, int relation, int kind, int64_t cycles) {
    s->delay[command][relation][kind] = cycles;
}

/* The timing rules: after `command` at clock t, a bank in `relation` to it may take a command
 * of `kind` at t + delay. JEDEC JESD79-4 / JESD209-4 / JESD235 constraints, AL = 0. */
static void build_rules(state_t *s) {
    const ctl_parameters_t *p = &s->p;
    int64_t burst = p->burst_cycles;
    int single_group = p->bank_groups == 1;
    int64_t ccd_l = single_group ? p->tccd_s_cycles : p->tccd_l_cycles;
    int64_t wtr_l = single_group ? p->twtr_s_cycles : p->twtr_l_cycles;
    int64_t rrd_l = single_group ? p->trrd_s_cycles : p->trrd_l_cycles;
    int64_t rd_rd_l = max64(burst, ccd_l), rd_rd_s = max64(burst, p->tccd_s_cycles);
    int64_t rd_rd_o = burst + p->trtrs_cycles;
    /* read data must leave the bus before write data enters it */
    int64_t rd_wr = p->tcl_cycles + burst - p->tcwl_cycles + p->trtrs_cycles;
    int64_t rd_wr_o = s->read_delay + burst + p->trtrs_cycles - s->write_delay;
    int64_t wr_rd_l = s->write_delay + wtr_l, wr_rd_s = s->write_delay + p->twtr_s_cycles;
    int64_t wr_rd_o = s->write_delay + burst + p->trtrs_cycles - s->read_delay;
    int64_t wr_pre = p->tcwl_cycles + burst + p->twr_cycles;
    int64_t trc = p->tras_cycles + p->trp_cycles;
    for (int c = 0; c < C_KINDS; c++)
        for (int r = 0; r < R_KINDS; r++)
            for (int k = 0; k < T_KINDS; k++) s->delay[c][r][k] = -1;
    for (int pre = 0; pre < 2; pre++) {
        int rd = pre ? C_RDA : C_RD, wr = pre ? C_WRA : C_WR;
        set_rule(s, rd, R_SAME, T_RD, rd_rd_l);
        set_rule(s, rd, R_SAME, T_WR, rd_wr);
        set_rule(s, rd, R_GROUP, T_RD, rd_rd_l);
        set_rule(s, rd, R_GROUP, T_WR, rd_wr);
        set_rule(s, rd, R_RANK, T_RD, rd_rd_s);
        set_rule(s, rd, R_RANK, T_WR, rd_wr);
        set_rule(s, rd, R_OTHER, T_RD, rd_rd_o);
        set_rule(s, rd, R_OTHER, T_WR, rd_wr_o);
        set_rule(s, wr, R_SAME, T_RD, wr_rd_l);
        set_rule(s, wr, R_SAME, T_WR, rd_rd_l);
        set_rule(s, wr, R_GROUP, T_RD, wr_rd_l);
        set_rule(s, wr, R_GROUP, T_WR, rd_rd_l);
        set_rule(s, wr, R_RANK, T_RD, wr_rd_s);
        set_rule(s, wr, R_RANK, T_WR, rd_rd_s);
        set_rule(s, wr, R_OTHER, T_RD, wr_rd_o);
        set_rule(s, wr, R_OTHER, T_WR, burst);
    }
    set_rule(s, C_RD, R_SAME, T_PRE, p->trtp_cycles);
    set_rule(s, C_WR, R_SAME, T_PRE, wr_pre);
    /* auto-precharge: the bank's next activate after the implied precharge and tRP */
    set_rule(s, C_RDA, R_SAME, T_RD, -1);
    set_rule(s, C_RDA, R_SAME, T_WR, -1);
    set_rule(s, C_RDA, R_SAME, T_ACT, burst + p->trtp_cycles + p->trp_cycles);
    set_rule(s, C_RDA, R_SAME, T_REF, p->trtp_cycles + p->trp_cycles);
    set_rule(s, C_WRA, R_SAME, T_RD, -1);
    set_rule(s, C_WRA, R_SAME, T_WR, -1);
    set_rule(s, C_WRA, R_SAME, T_ACT, wr_pre + p->trp_cycles);
    set_rule(s, C_WRA, R_SAME, T_REF, wr_pre + p->trp_cycles);
    set_rule(s, C_ACT, R_SAME, T_ACT, trc);
    set_rule(s, C_ACT, R_SAME, T_RD, p->trcd_cycles);
    set_rule(s, C_ACT, R_SAME, T_WR, p->trcd_cycles);
    set_rule(s, C_ACT, R_SAME, T_PRE, p->tras_cycles);
    set_rule(s, C_ACT, R_GROUP, T_ACT, rrd_l);
    set_rule(s, C_ACT, R_RANK, T_ACT, p->trrd_s_cycles);
    set_rule(s, C_PRE, R_SAME, T_ACT, p->trp_cycles);
    set_rule(s, C_PRE, R_SAME, T_REF, p->trp_cycles);
    /* tPPD (LPDDR4, GDDR): precharges to different banks of a rank this far apart */
    if (p->tppd_cycles > 0) {
        set_rule(s, C_PRE, R_GROUP, T_PRE, p->tppd_cycles);
        set_rule(s, C_PRE, R_RANK, T_PRE, p->tppd_cycles);
    }
    /* refresh is a rank command: every bank of the rank is R_SAME */
    set_rule(s, C_REF, R_SAME, T_ACT, p->trfc_cycles);
    set_rule(s, C_REF, R_SAME, T_REF, p->trfc_cycles);
}

static int64_t pending_size(const ctl_parameters_t *p) {
    int64_t need = 4 * (p->queue_depth + p->write_buffer_depth +
                        p->ranks * p->bank_groups * p->banks_per_group * p->command_queue_depth);
    int64_t size = 64;
    while (size < need) size *= 2;
    return size;
}


void ctl_free(void *handle) {
    state_t *s = handle;
    if (!s) return;
    if (s->channels) {
        for (int64_t c = 0; c < s->p.channels; c++) {
            channel_t *ch = &s->channels[c];
            free(ch->banks); free(ch->queue); free(ch->queue_length); free(ch->wake);
            free(ch->reads);
            free(ch->writes); free(ch->refresh_due); free(ch->activates);
            free(ch->activate_next); free(ch->pending);
        }
        free(s->channels);
    }
    free(s->group_of);
    free(s->rank_of);
    free(s);
}

void *ctl_new(const ctl_parameters_t *parameters) {
    state_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = *parameters;
    const ctl_parameters_t *p = &s->p;
    s->banks_per_rank = p->bank_groups * p->banks_per_group;
    s->banks = p->ranks * s->banks_per_rank;
    s->read_delay = p->tcl_cycles + p->burst_cycles;
    s->write_delay = p->tcwl_cycles + p->burst_cycles;
    /* staggered: one rank per boundary, each rank once per tREFI (DRAMsim3: tREFI / ranks,
     * integer division); all at once: every rank at every tREFI */
    s->refresh_interval = p->refresh_staggered ? p->trefi_cycles / p->ranks : p->trefi_cycles;
    if (s->refresh_interval < 1) s->refresh_interval = 1;
    build_rules(s);
    s->channels = calloc((size_t)p->channels, sizeof *s->channels);
    s->group_of = calloc((size_t)s->banks, sizeof *s->group_of);
    s->rank_of = calloc((size_t)s->banks, sizeof *s->rank_of);
    if (!s->channels || !s->group_of || !s->rank_of) { ctl_free(s); return NULL; }
    for (int64_t b = 0; b < s->banks; b++) {
        s->group_of[b] = b / p->banks_per_group;   /* unique across ranks */
        s->rank_of[b] = b / s->banks_per_rank;
    }
    int64_t slots = pending_size(p);
    for (int64_t c = 0; c < p->channels; c++) {
        channel_t *ch = &s->channels[c];
        ch->banks = calloc((size_t)s->banks, sizeof *ch->banks);
        ch->queue = calloc((size_t)(s->banks * p->command_queue_depth), sizeof *ch->queue);
        ch->queue_length = calloc((size_t)s->banks, sizeof *ch->queue_length);
        ch->wake = calloc((size_t)s->banks, sizeof *ch->wake);
        ch->reads = calloc((size_t)p->queue_depth, sizeof *ch->reads);
        ch->writes = calloc((size_t)p->write_buffer_depth, sizeof *ch->writes);
        ch->refresh_due = calloc((size_t)p->ranks, sizeof *ch->refresh_due);
        ch->activates = calloc((size_t)(4 * p->ranks), sizeof *ch->activates);
        ch->activate_next = calloc((size_t)p->ranks, sizeof *ch->activate_next);
        ch->pending = calloc((size_t)slots, sizeof *ch->pending);
        if (!ch->banks || !ch->queue || !ch->queue_length || !ch->wake || !ch->reads ||
            !ch->writes ||
            !ch->refresh_due || !ch->activates || !ch->activate_next || !ch->pending) {
            ctl_free(s);
            return NULL;
        }
        for (int64_t b = 0; b < s->banks; b++) ch->banks[b].open_row = -1;
        for (int64_t i = 0; i < 4 * p->ranks; i++) ch->activates[i] = INT64_MIN / 2;
        for (int64_t i = 0; i < slots; i++) ch->pending[i].key = -1;
        ch->pending_mask = slots - 1;
        ch->refresh_rank = -1;
        ch->next_refresh = s->refresh_interval;
        ch->round_robin = s->banks - 1;   /* the first search starts at bank queue 0 */
    }
    return s;
}

/* ---- pending addresses: reads waiting for data, writes waiting in the buffer ---- */

static slot_t *pending_find(channel_t *ch, int64_t key) {
    int64_t i = (int64_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> 20) & ch->pending_mask;
    while (ch->pending[i].key >= 0 && ch->pending[i].key != key) i = (i + 1) & ch->pending_mask;
    return &ch->pending[i];
}

static slot_t *pending_get(channel_t *ch, int64_t key) {
    slot_t *slot = pending_find(ch, key);
    if (slot->key < 0) { slot->key = key; slot->reads_head = -1; slot->writes = 0; }
    return slot;
}

/* remove an entry that has neither reads nor writes (backward-shift deletion) */
static void pending_drop(channel_t *ch, slot_t *slot) {
    if (slot->reads_head >= 0 || slot->writes > 0) return;
    int64_t mask = ch->pending_mask, hole = slot - ch->pending, i = hole;
    for (;;) {
        i = (i + 1) & mask;
        if (ch->pending[i].key < 0) break;
        int64_t home = (int64_t)(((uint64_t)ch->pending[i].key * 0x9E3779B97F4A7C15ull) >> 20)
                       & mask;
        /* move i into the hole unless its home lies cyclically in (hole, i] */
        int stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) { ch->pending[hole] = ch->pending[i]; hole = i; }
    }
    ch->pending[hole].key = -1;
}

/* ---- banks ---- */


/* the command a queued request needs next, and the first clock its timing allows it */
static int required_command(const state_t *s, const channel_t *ch, int64_t bank,
                            const entry_t *e, int64_t *when) {
    const bank_t *b = &ch->banks[bank];
    if (b->open_row < 0) {
        int64_t rank = s->rank_of[bank];
        int64_t faw = ch->activates[4 * rank + ch->activate_next[rank]] + s->p.tfaw_cycles;
        *when = max64(b->ready[T_ACT], faw);
        return C_ACT;
    }
    if (b->open_row == e->row) {
        *when = b->ready[e->is_write ? T_WR : T_RD];
        if (s->p.closed_page) return e->is_write ? C_WRA : C_RDA;
        return e->is_write ? C_WR : C_RD;
    }
    *when = b->ready[T_PRE];
    return C_PRE;
}

static void apply_rules(state_t *s, channel_t *ch, int command, int64_t bank) {
    int64_t rank = s->rank_of[bank], group = s->group_of[bank];
    for (int64_t other = 0; other < s->banks; other++) {
        int relation;
        if (command == C_REF) {
            if (s->rank_of[other] != rank) continue;
            relation = R_SAME;
        } else if (other == bank) relation = R_SAME;
        else if (s->group_of[other] == group) relation = R_GROUP;
        else if (s->rank_of[other] == rank) relation = R_RANK;
        else relation = R_OTHER;
        const int64_t *rule = s->delay[command][relation];
        bank_t *b = &ch->banks[other];
        for (int k = 0; k < T_KINDS; k++)
            if (rule[k] >= 0) b->ready[k] = max64(b->ready[k], ch->clk + rule[k]);
    }
}

/* issue `command` for bank `bank`; `slot` is the queue position of a column command's request */
typedef struct { double *done; int64_t *next_read; } run_t;

static void issue(state_t *s, channel_t *ch, int command, int64_t bank, int64_t slot,
                  const run_t *run) {
    bank_t *b = &ch->banks[bank];
    if (s->log && s->log_count < s->log_capacity) {
        int64_t *entry = &s->log[5 * s->log_count++];
        entry[0] = ch->clk;
        entry[1] = ch - s->channels;
        entry[2] = command;
        entry[3] = bank;
        entry[4] = command == C_PRE || command == C_REF ? b->open_row
                   : ch->queue[bank * s->p.command_queue_depth + slot].row;
    }
    int64_t depth = s->p.command_queue_depth;
    if (command == C_ACT) {
        entry_t *e = &ch->queue[bank * depth + slot];
        int64_t rank = bank / s->banks_per_rank;
        ch->activates[4 * rank + ch->activate_next[rank]] = ch->clk;
        ch->activate_next[rank] = (ch->activate_next[rank] + 1) & 3;
        b->open_row = e->row;
        b->hits = 0;
        ch->counters[S_activates]++;
    } else if (command == C_PRE) {
        b->open_row = -1;
        ch->counters[S_precharges]++;
    } else if (command == C_REF) {
        ch->counters[S_refreshes]++;
    } else {
        entry_t *e = &ch->queue[bank * depth + slot];
        if (b->hits > 0) ch->counters[S_row_hits]++;
        b->hits++;
        slot_t *pending = pending_get(ch, e->key);
        if (e->is_write) {
            run->done[e->request] = (double)(ch->clk + s->write_delay);
            ch->counters[S_writes]++;
            pending->writes--;
        } else {
            /* every read of this address waiting for data gets it */
            for (int64_t r = pending->reads_head; r >= 0; r = run->next_read[r])
                run->done[r] = (double)(ch->clk + s->read_delay);
            pending->reads_head = -1;
            ch->counters[S_reads]++;
        }
        pending_drop(ch, pending);
        if (command == C_RDA || command == C_WRA) {
            b->open_row = -1;
            ch->counters[S_precharges]++;
        }
        memmove(e, e + 1, (size_t)(ch->queue_length[bank] - slot - 1) * sizeof *e);
        ch->queue_length[bank]--;
    }
    apply_rules(s, ch, command, bank);
    if (command == C_REF) {
        int64_t first = bank / s->banks_per_rank * s->banks_per_rank;
        for (int64_t b2 = first; b2 < first + s->banks_per_rank; b2++) ch->wake[b2] = 0;
    } else {
        ch->wake[bank] = 0;
    }
}

/* the first command a bank queue can issue now (FR-FCFS within the queue), or C_NONE and
 * in *wake the first clock at which one might (requests held back by the queue's order wait
 * for a command of this bank, which resets the bank's wake) */
static int first_ready(const state_t *s, const channel_t *ch, int64_t bank, int64_t *slot,
                       int64_t *wake) {
    int64_t depth = s->p.command_queue_depth, length = ch->queue_length[bank];
    const entry_t *queue = &ch->queue[bank * depth];
    const bank_t *b = &ch->banks[bank];
    *wake = INT64_MAX;
    for (int64_t i = 0; i < length; i++) {
        int64_t when;
        int command = required_command(s, ch, bank, &queue[i], &when);
        if (when > ch->clk) {
            if (when < *wake) *wake = when;
            continue;
        }
        if (command == C_PRE) {
            /* only for the oldest request, and not while the open row still has queued hits
             * (up to 4 served since the activate) */
            if (i > 0) continue;
            if (b->hits < 4) {
                int hit = 0;
                for (int64_t j = 1; j < length && !hit; j++) hit = queue[j].row == b->open_row;
                if (hit) continue;
            }
        } else if (command == C_WR || command == C_WRA) {
            /* a write does not pass an older read of the same column */
            int older_read = 0;
            for (int64_t j = 0; j < i && !older_read; j++)
                older_read = !queue[j].is_write && queue[j].row == queue[i].row &&
                             queue[j].column == queue[i].column;
            if (older_read) continue;
        }
        *slot = i;
        return command;
    }
    return C_NONE;
}

static int command_queues_empty(const state_t *s, const channel_t *ch) {
    for (int64_t b = 0; b < s->banks; b++)
        if (ch->queue_length[b]) return 0;
    return 1;
}

/* the refresh's next command (a precharge of an open bank, then the refresh), or C_NONE */
static int refresh_command(const state_t *s, const channel_t *ch, int64_t *bank) {
    int64_t rank = ch->refresh_rank, first = rank * s->banks_per_rank;
    int all_ready = 1;
    for (int64_t b = first; b < first + s->banks_per_rank; b++) {
        const bank_t *state = &ch->banks[b];
        if (state->open_row >= 0) {
            if (ch->clk >= state->ready[T_PRE]) { *bank = b; return C_PRE; }
            all_ready = 0;
        } else if (ch->clk < state->ready[T_REF]) {
            all_ready = 0;
        }
    }
    if (!all_ready) return C_NONE;
    *bank = first;
    return C_REF;
}

/* round robin over the bank queues, from the one after the last searched */
static int next_command(state_t *s, channel_t *ch, int64_t *bank, int64_t *slot) {
    for (int64_t i = 0; i < s->banks; i++) {
        ch->round_robin = ch->round_robin + 1 == s->banks ? 0 : ch->round_robin + 1;
        int64_t b = ch->round_robin;
        if (ch->refresh_rank >= 0 && s->rank_of[b] == ch->refresh_rank) continue;
        if (!ch->queue_length[b]) continue;
        if (ch->clk < ch->wake[b] && !s->p.every_clock) continue;
        int64_t wake;
        int command = first_ready(s, ch, b, slot, &wake);
        if (command != C_NONE) { *bank = b; return command; }
        ch->wake[b] = wake;
    }
    return C_NONE;
}

/* whether a read of `key` is still in the read queue (not yet in its bank's queue) */
static int waiting_read(const channel_t *ch, int64_t key) {
    for (int64_t i = 0; i < ch->read_count; i++)
        if (ch->reads[i].key == key) return 1;
    return 0;
}

static int is_column(int command) {
    return command == C_RD || command == C_WR || command == C_RDA || command == C_WRA;
}

static int tick(state_t *s, channel_t *ch, const run_t *run) {
    int64_t ranks = s->p.ranks;
    if (ch->refresh_rank < 0)
        for (int64_t r = 0; r < ranks; r++)
            if (ch->refresh_due[r]) { ch->refresh_rank = r; break; }
    int64_t bank = 0, slot = 0;
    int command = C_NONE, acted = 0;
    if (ch->refresh_rank >= 0) {
        command = refresh_command(s, ch, &bank);
        if (command == C_REF) {
            ch->refresh_due[ch->refresh_rank] = 0;
            ch->refresh_rank = -1;
        }
    }
    if (command == C_NONE) {
        command = next_command(s, ch, &bank, &slot);
        if (command == C_PRE) ch->counters[S_row_conflicts]++;  /* a request needs another row */
    }
    if (command != C_NONE) {
        acted = 1;
        issue(s, ch, command, bank, slot, run);
        if (s->p.dual_command_bus && command != C_REF) {
            /* HBM: a row command and a column command may share a clock */
            int64_t bank2 = 0, slot2 = 0;
            int second = next_command(s, ch, &bank2, &slot2);
            if (second != C_NONE && is_column(second) != is_column(command)) {
                if (second == C_PRE) ch->counters[S_row_conflicts]++;
                issue(s, ch, second, bank2, slot2, run);
            }
        }
    }
    /* one transaction moves to its bank's queue */
    int started = ch->draining == 0 &&
                  (ch->write_count >= s->p.write_buffer_depth ||
                   (ch->write_count > 8 && command_queues_empty(s, ch)));
    if (started) ch->draining = ch->write_count;
    int from_writes = ch->draining > 0;
    int64_t depth = s->p.command_queue_depth;
    for (int pass = 0; pass < 2; pass++) {
        entry_t *source = from_writes ? ch->writes : ch->reads;
        int64_t *count = from_writes ? &ch->write_count : &ch->read_count;
        int blocked = 0;
        for (int64_t i = 0; i < *count; i++) {
            entry_t *e = &source[i];
            if (ch->queue_length[e->bank] >= depth) continue;
            if (from_writes) {
                /* an older read of this address goes first: stop draining */
                if (pending_find(ch, e->key)->reads_head >= 0) {
                    ch->draining = 0;
                    acted = 1;   /* the next clock moves reads: not a clock to skip */
                    blocked = started && waiting_read(ch, e->key) &&
                              command_queues_empty(s, ch);
                    break;
                }
                ch->draining--;
            }
            ch->queue[e->bank * depth + ch->queue_length[e->bank]++] = *e;
            ch->wake[e->bank] = 0;
            memmove(e, e + 1, (size_t)(*count - i - 1) * sizeof *e);
            (*count)--;
            return 1;
        }
        /* A drain that has just started stops at once for a read that still waits in the
         * read queue, with every bank queue empty: nothing will change, so the drain would
         * start and stop the same way on every later clock and no read would ever move
         * (DRAMsim3's rule as written deadlocks here). The reads move this clock instead. */
        if (!blocked) break;
        ch->counters[S_drain_deadlocks_broken]++;
        from_writes = 0;
    }
    return acted;
}

/* After a clock in which nothing issued or moved, nothing changes until a queued command's
 * timing allows it (or a refresh command's, or an arrival, or the next refresh is due): the
 * earliest such clock, which the caller may skip to. That clock's search has just set every
 * searched bank's wake (banks it skipped had a later one), so the wakes give it; the rank in
 * refresh waits for its precharges and refresh instead. Conservative: it may wake early. */
static int64_t next_event(const state_t *s, const channel_t *ch) {
    int64_t soonest = ch->next_refresh;
    for (int64_t b = 0; b < s->banks; b++) {
        const bank_t *state = &ch->banks[b];
        int64_t t;
        if (ch->refresh_rank >= 0 && s->rank_of[b] == ch->refresh_rank)
            t = state->ready[state->open_row >= 0 ? T_PRE : T_REF];
        else if (ch->queue_length[b])
            t = ch->wake[b];
        else
            continue;
        if (t < soonest) soonest = t;
    }
    return soonest;
}

/* a request enters the controller, or 0 if its queue is full */
static int offer(state_t *s, channel_t *ch, const run_t *run, int64_t request, int64_t bank,
                 int64_t row, int64_t column, int64_t key, int is_write) {
    if (is_write ? ch->write_count >= s->p.write_buffer_depth
                 : ch->read_count >= s->p.queue_depth)
        return 0;
    slot_t *pending = pending_get(ch, key);
    entry_t e = {bank, row, column, key, request, is_write};
    if (is_write) {
        if (pending->writes > 0) {
            /* merged into the write already buffered for this address */
            run->done[request] = (double)ch->clk;
            ch->counters[S_merged_writes]++;
        } else {
            pending->writes = 1;
            ch->writes[ch->write_count++] = e;
        }
    } else if (pending->writes > 0) {
        /* answered from the write buffer */
        run->done[request] = (double)(ch->clk + 1);
        ch->counters[S_forwarded_reads]++;
    } else {
        int first = pending->reads_head < 0;
        run->next_read[request] = pending->reads_head;
        pending->reads_head = request;
        if (first) ch->reads[ch->read_count++] = e;
    }
    pending_drop(ch, pending);
    return 1;
}

static int channel_busy(const state_t *s, const channel_t *ch) {
    if (ch->read_count || ch->write_count || ch->refresh_rank >= 0) return 1;
    for (int64_t r = 0; r < s->p.ranks; r++)
        if (ch->refresh_due[r]) return 1;
    return !command_queues_empty(s, ch);
}

/* An idle channel with every bank closed and ready for a refresh refreshes, at every refresh
 * boundary B, each rank r at clock B + r (all ranks at once), or the boundary's one rank at B
 * (staggered): apply all but the last boundary before clock `until` at once (a long gap
 * between requests costs nothing per boundary). */
static void skip_refreshes(state_t *s, channel_t *ch, int64_t until) {
    int64_t interval = s->refresh_interval, ranks = s->p.ranks;
    int staggered = (int)s->p.refresh_staggered;
    if (!staggered && ranks > interval) return;
    int64_t boundaries = (until - 1 - ch->next_refresh) / interval;  /* leave the last one */
    if (boundaries < 1) return;
    for (int64_t b = 0; b < s->banks; b++) {
        const bank_t *state = &ch->banks[b];
        int64_t at = ch->next_refresh + (staggered ? 0 : b / s->banks_per_rank);
        if (state->open_row >= 0 || state->ready[T_REF] > at) return;
    }
    int64_t saved = ch->clk;
    if (staggered) {
        /* each rank's last refresh before `until` is all its banks' timing remembers */
        for (int64_t j = boundaries > ranks ? boundaries - ranks : 0; j < boundaries; j++) {
            ch->clk = ch->next_refresh + j * interval;
            apply_rules(s, ch, C_REF, (ch->refresh_next_rank + j) % ranks * s->banks_per_rank);
        }
        ch->refresh_next_rank = (ch->refresh_next_rank + boundaries) % ranks;
        ch->counters[S_refreshes] += boundaries;
    } else {
        int64_t last = ch->next_refresh + (boundaries - 1) * interval;
        for (int64_t r = 0; r < ranks; r++) {
            ch->clk = last + r;
            apply_rules(s, ch, C_REF, r * s->banks_per_rank);
        }
        ch->counters[S_refreshes] += boundaries * ranks;
    }
    ch->clk = saved;
    ch->next_refresh += boundaries * interval;
}

/* Run channel `ch` on its requests order[*head .. end). With `offered_only`, stop on the clock
 * the last one is accepted (before that clock's command); otherwise run until every request
 * is served, draining the write buffer's rest once nothing else is queued and every channel
 * has been offered all of its requests (clock `all_offered`: the end of the batch, as a
 * trace driver ends it). Returns -1 past max_clock, else 0. */
static int64_t run_channel(state_t *s, channel_t *ch, const run_t *run, const int64_t *order,
                           int64_t *head, int64_t end, const int64_t *bank, const int64_t *row,
                           const int64_t *column, const int64_t *key, const uint8_t *is_write,
                           const int64_t *arrival, int offered_only, int64_t all_offered,
                           int64_t max_clock) {
    int64_t progress = ch->clk;  /* the last clock something issued, moved or arrived */
    while (*head < end || (!offered_only && channel_busy(s, ch))) {
        if (ch->clk > max_clock) return -1;
        /* every wait in a working controller is a few timing parameters long (tRFC, tRC,
         * a queue's worth of them): this long with nothing done is a stall, not a wait */
        if (ch->clk - progress > STALL_CLOCKS) return -3;
        if (ch->clk >= ch->next_refresh) {
            if (s->p.refresh_staggered) {
                ch->refresh_due[ch->refresh_next_rank] = 1;
                ch->refresh_next_rank = (ch->refresh_next_rank + 1) % s->p.ranks;
            } else {
                for (int64_t r = 0; r < s->p.ranks; r++) ch->refresh_due[r] = 1;
            }
            ch->next_refresh += s->refresh_interval;
        }
        while (*head < end && arrival[order[*head]] <= ch->clk) {
            int64_t x = order[*head];
            if (!offer(s, ch, run, x, bank[x], row[x], column[x], key[x], is_write[x])) break;
            (*head)++;
            progress = ch->clk;
        }
        if (offered_only && *head == end) return 0;
        if (!channel_busy(s, ch)) {
            if (*head == end) break;
            /* idle: on to the next arrival, stopping at a refresh */
            int64_t next = arrival[order[*head]];
            if (next > ch->next_refresh && !s->p.every_clock) skip_refreshes(s, ch, next);
            ch->clk = next < ch->next_refresh ? next : ch->next_refresh;
            progress = ch->clk;
            continue;
        }
        int drain_left = *head == end && ch->draining == 0 && ch->write_count > 0 &&
                         ch->read_count == 0 && command_queues_empty(s, ch);
        if (drain_left && ch->clk >= all_offered)
            ch->draining = ch->write_count;   /* nothing else to do: drain the rest */
        if (tick(s, ch, run)) {
            progress = ch->clk;
            ch->clk++;
        } else {
            int64_t wake = next_event(s, ch);
            if (*head < end && arrival[order[*head]] > ch->clk && arrival[order[*head]] < wake)
                wake = arrival[order[*head]];
            if (drain_left && all_offered > ch->clk && all_offered < wake) wake = all_offered;
            if (wake > ch->clk + 1) progress = wake - 1;  /* waiting for a known event */
            if (s->p.every_clock) wake = ch->clk + 1;
            ch->clk = wake > ch->clk + 1 ? wake : ch->clk + 1;
        }
    }
    return 0;
}

/* Time one batch. The requests of channel c are order[offsets[c] .. offsets[c+1]), in
 * arrival order; per request: bank (within the channel: rank, group, bank flattened), row,
 * column, key (the burst's address: equal keys are the same data), is_write, arrival clock.
 * Fills done[request] (the clock its data has left the bus; a merged write: its arrival);
 * next_read is scratch (one per request). counters gets each channel's running totals.
 * Returns 0; -1 if a channel ran past max_clock, -2 out of memory, -3 if a channel stalled
 * (busy for STALL_CLOCKS without doing anything: a bug). */
int64_t ctl_run(void *handle, const int64_t *order, const int64_t *offsets,
                const int64_t *bank, const int64_t *row, const int64_t *column,
                const int64_t *key, const uint8_t *is_write, const int64_t *arrival,
                double *done, int64_t *next_read, int64_t *counters, int64_t max_clock) {
    state_t *s = handle;
    run_t run = {done, next_read};
    int64_t channels = s->p.channels, all_offered = 0;
    int64_t *head = malloc((size_t)channels * sizeof *head);
    if (!head) return -2;
    /* first every channel until its last request is accepted: when the batch has been
     * offered whole; then every channel to the end */
    for (int phase = 0; phase < 2; phase++) {
        for (int64_t c = 0; c < channels; c++) {
            channel_t *ch = &s->channels[c];
            if (phase == 0) head[c] = offsets[c];
            else if (head[c] == offsets[c] && offsets[c] == offsets[c + 1]) continue;
            int64_t status = run_channel(s, ch, &run, order, &head[c], offsets[c + 1], bank,
                                         row, column, key, is_write, arrival, phase == 0,
                                         all_offered, max_clock);
            if (status) {
                free(head);
                return status;
            }
            if (phase == 0 && offsets[c] < offsets[c + 1] && ch->clk > all_offered)
                all_offered = ch->clk;
        }
    }
    for (int64_t c = 0; c < channels; c++)
        memcpy(&counters[c * S_COUNT], s->channels[c].counters, sizeof s->channels[c].counters);
    free(head);
    return 0;
}

/* log every command issued from now on into buffer (capacity commands of 5 values: clock,
 * channel, command (C_* order), bank, row); NULL stops logging. Returns the count so far. */
int64_t ctl_log(void *handle, int64_t *buffer, int64_t capacity) {
    state_t *s = handle;
    int64_t count = s->log_count;
    s->log = buffer;
    s->log_capacity = capacity;
    s->log_count = 0;
    return count;
}

/* the channels' clocks (the next clock each would simulate) */
void ctl_clocks(void *handle, int64_t *clocks) {
    state_t *s = handle;
    for (int64_t c = 0; c < s->p.channels; c++) clocks[c] = s->channels[c].clk;
}

int64_t ctl_open_banks(void *handle) {
    state_t *s = handle;
    int64_t open = 0;
    for (int64_t c = 0; c < s->p.channels; c++)
        for (int64_t b = 0; b < s->banks; b++) open += s->channels[c].banks[b].open_row >= 0;
    return open;
}
