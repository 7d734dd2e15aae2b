// Replays a DRAM request trace through DRAMsim3 and reports when it finished.
//
// Why not dramsim3main -t: its trace front end offers one request per cycle for the whole
// memory system, offers the last line twice, and cannot say when the last request was served.
// This driver feeds requests at their arrival cycle (as many per cycle as the controllers
// accept, one in-order FIFO per channel, so a full channel does not block the others), ticks
// until every read has returned and every write command has been issued, and prints one JSON
// line of counts. Written for accelsim's parity benchmark (benchmarks/dram_parity.py).
//
// Trace format: accelsim's "dramsim3" export, one request a line:
//   0x<hex byte address> READ|WRITE <arrival DRAM cycle>
//
// Usage: dramsim3_driver <config.ini> <trace> <output dir>

// The controller's queues and counters are private in DRAMsim3; this driver only reads them
// (and starts the final write drain, see below).
#define private public
#define protected public
#include "memory_system.h"
#include "controller.h"
#undef private
#undef protected

#include <cinttypes>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

struct Request {
    uint64_t address;
    bool is_write;
    uint64_t arrival;
};

int main(int argc, char **argv) {
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " <config.ini> <trace> <output dir>\n";
        return 2;
    }
    std::vector<Request> trace;
    {
        std::ifstream in(argv[2]);
        if (!in) {
            std::cerr << "cannot open " << argv[2] << "\n";
            return 2;
        }
        std::string address, kind;
        uint64_t cycle;
        while (in >> address >> kind >> cycle) {
            trace.push_back({std::stoull(address, nullptr, 16), kind == "WRITE", cycle});
        }
    }
    uint64_t reads_left = 0;
    for (const auto &r : trace) reads_left += r.is_write ? 0 : 1;

    uint64_t clk = 0, last_read_return = 0;
    dramsim3::MemorySystem memory(
        argv[1], argv[3],
        [&](uint64_t) { reads_left -= 1; last_read_return = clk; },
        [&](uint64_t) {});
    auto &controllers = memory.dram_system_->ctrls_;
    const auto &config = *memory.config_;
    const size_t channels = controllers.size();

    std::vector<std::deque<size_t>> waiting(channels);
    size_t next = 0;
    std::vector<size_t> writes_pending_before(channels, 0);
    uint64_t last_write_issue = 0;
    bool any_write = false;
    const uint64_t limit = 4000000000ULL;

    while (true) {
        while (next < trace.size() && trace[next].arrival <= clk) {
            waiting[memory.dram_system_->GetChannel(trace[next].address)].push_back(next);
            next += 1;
        }
        for (size_t ch = 0; ch < channels; ch++) {
            while (!waiting[ch].empty()) {
                const auto &r = trace[waiting[ch].front()];
                if (!memory.WillAcceptTransaction(r.address, r.is_write)) break;
                memory.AddTransaction(r.address, r.is_write);
                any_write |= r.is_write;
                waiting[ch].pop_front();
            }
        }
        bool all_offered = next == trace.size();
        for (size_t ch = 0; ch < channels; ch++) all_offered &= waiting[ch].empty();
        for (size_t ch = 0; ch < channels; ch++) {
            auto *c = controllers[ch];
            // DRAMsim3 drains its write buffer only when it is full or holds more than 8
            // writes with an empty command queue; at the end of a trace the last few would
            // wait forever, so drain them once nothing else is left (as a controller does
            // when idle).
            if (all_offered && c->write_draining_ == 0 && !c->write_buffer_.empty() &&
                c->cmd_queue_.QueueEmpty() && c->read_queue_.empty()) {
                c->write_draining_ = c->write_buffer_.size();
            }
            writes_pending_before[ch] = c->pending_wr_q_.size();
        }
        memory.ClockTick();
        for (size_t ch = 0; ch < channels; ch++) {
            if (controllers[ch]->pending_wr_q_.size() < writes_pending_before[ch]) {
                last_write_issue = clk;  // a write command went out this cycle
            }
        }
        clk += 1;
        bool idle = all_offered && reads_left == 0;
        for (size_t ch = 0; ch < channels && idle; ch++) {
            auto *c = controllers[ch];
            idle = c->pending_wr_q_.empty() && c->write_buffer_.empty() &&
                   c->read_queue_.empty() && c->cmd_queue_.QueueEmpty();
        }
        if (idle || clk > limit) break;
    }
    uint64_t finish = last_read_return;
    if (any_write) finish = std::max(finish, last_write_issue + config.write_delay);

    auto count = [&](const char *name) {
        uint64_t total = 0;
        for (auto *c : controllers) {
            total += c->simple_stats_.epoch_counters_[name] + c->simple_stats_.counters_[name];
        }
        return total;
    };
    std::printf(
        "{\"finish_cycle\": %" PRIu64 ", \"requests\": %zu, \"read_cmds\": %" PRIu64
        ", \"write_cmds\": %" PRIu64 ", \"read_row_hits\": %" PRIu64
        ", \"write_row_hits\": %" PRIu64 ", \"activates\": %" PRIu64 ", \"refreshes\": %" PRIu64
        ", \"tck_ns\": %.6f, \"act_energy_inc\": %.6f, \"read_energy_inc\": %.6f"
        ", \"write_energy_inc\": %.6f, \"timed_out\": %s}\n",
        finish, trace.size(), count("num_read_cmds"), count("num_write_cmds"),
        count("num_read_row_hits"), count("num_write_row_hits"), count("num_act_cmds"),
        count("num_ref_cmds"), config.tCK, config.act_energy_inc, config.read_energy_inc,
        config.write_energy_inc, clk > limit ? "true" : "false");
    return 0;
}
