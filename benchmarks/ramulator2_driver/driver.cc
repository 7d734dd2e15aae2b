// Replays a DRAM request trace through Ramulator 2.1 and reports when it finished.
//
// Why not `python -m ramulator run` with a LoadStoreTrace front end: that front end has no
// arrival times (it offers a line every tick) and the run stops once the last line was
// accepted, not served. This driver uses the External front end: it offers each request at
// its arrival cycle (as many per cycle as the controllers accept, one in-order FIFO per
// channel so a full channel does not block the others; with "split", one for the reads and
// one for the writes of each channel, so a read may pass a write the full write buffer
// refused), ticks the memory system once per
// DRAM cycle until every request has completed, and prints one JSON line. Written for
// accelsim's benchmarks/ramulator_parity.py.
//
// Trace format: accelsim's "dramsim3" export, one request a line, addresses already in
// Ramulator's mapping (accelsim.sim.dram.export_ramulator.ramulator2_addresses):
//   0x<hex byte address> READ|WRITE <arrival DRAM cycle>
//
// Usage: ramulator2_driver <config.yaml> <trace> <channels> <channel shift bits>
//                          <write data cycles> <stats.yaml> [split]
//   config.yaml: `python -m ramulator export` of a script with the External front end;
//   channel shift bits: log2(access bytes) + the channel mapper's interleave_bits;
//   write data cycles: nCWL + nBL (Ramulator completes a write when WR issues, its data
//   leaves the bus this much later).

#include <cstdint>
#include <deque>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "ramulator/base/config.h"
#include "ramulator/base/factory.h"
#include "ramulator/base/request.h"
#include "ramulator/frontend/i_frontend.h"
#include "ramulator/memory_system/i_memory_system.h"

struct TraceRequest {
  int64_t address;
  bool is_write;
  int64_t arrival;
};

int main(int argc, char** argv) {
  if (argc != 7 && !(argc == 8 && std::string(argv[7]) == "split")) {
    std::cerr << "usage: " << argv[0]
              << " <config.yaml> <trace> <channels> <channel shift bits> <write data cycles>"
                 " <stats.yaml> [split]\n";
    return 2;
  }
  const bool split = argc == 8;
  std::vector<TraceRequest> trace;
  {
    std::ifstream in(argv[2]);
    if (!in) {
      std::cerr << "cannot open " << argv[2] << "\n";
      return 2;
    }
    std::string address, kind;
    int64_t cycle;
    while (in >> address >> kind >> cycle) {
      trace.push_back({static_cast<int64_t>(std::stoull(address, nullptr, 16)), kind == "WRITE",
                       cycle});
    }
  }
  const int64_t channels = std::stoll(argv[3]);
  const int channel_shift = std::stoi(argv[4]);
  const int64_t write_data_cycles = std::stoll(argv[5]);

  auto config = Ramulator::Config::parse_config_file(argv[1]);
  auto* frontend = Ramulator::Factory::create_frontend(config);
  auto* memory = Ramulator::Factory::create_memory_system(config);
  frontend->connect_memory_system(memory);
  memory->connect_frontend(frontend);
  const int tx_bytes = memory->get_tx_bytes();

  // `now` is the controller clock during the tick in progress: a command issued in it
  // issues at cycle `now`.
  int64_t clk = 0, now = 0;
  int64_t last_read_depart = 0, last_write_issue = -1;
  size_t completed = 0;
  auto on_read = [&](Ramulator::Request& req) {
    completed += 1;
    last_read_depart = std::max<int64_t>(last_read_depart, req.depart);
  };
  auto on_write = [&](Ramulator::Request&) {
    completed += 1;
    last_write_issue = std::max(last_write_issue, now);
  };

  std::vector<std::deque<size_t>> waiting(split ? 2 * channels : channels);
  size_t next = 0;
  const int64_t limit = 4000000000LL;
  while (completed < trace.size() && clk < limit) {
    while (next < trace.size() && trace[next].arrival <= clk) {
      const int64_t channel = (trace[next].address >> channel_shift) & (channels - 1);
      waiting[split ? 2 * channel + trace[next].is_write : channel].push_back(next);
      next += 1;
    }
    for (auto& queue : waiting) {
      while (!queue.empty()) {
        const auto& r = trace[queue.front()];
        bool accepted = frontend->receive_external_requests(
            r.is_write ? Ramulator::Request::Type::Write : Ramulator::Request::Type::Read,
            r.address, 0,
            r.is_write ? std::function<void(Ramulator::Request&)>(on_write)
                       : std::function<void(Ramulator::Request&)>(on_read),
            tx_bytes);
        if (!accepted) break;
        queue.pop_front();
      }
    }
    now = clk + 1;
    memory->tick();
    clk += 1;
  }
  int64_t finish = last_read_depart;
  if (last_write_issue >= 0) finish = std::max(finish, last_write_issue + write_data_cycles);

  memory->update_stats_recursive();
  {
    std::ofstream stats(argv[6]);
    memory->print_stats(stats);
  }
  std::cout << "{\"finish_cycle\": " << finish << ", \"ticks\": " << clk
            << ", \"requests\": " << trace.size() << ", \"completed\": " << completed
            << ", \"tx_bytes\": " << tx_bytes << "}" << std::endl;
  return completed == trace.size() ? 0 : 1;
}
