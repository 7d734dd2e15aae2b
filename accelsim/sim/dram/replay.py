"""Replay a per-burst DRAM request trace through one of accelsim's DRAM models, open loop.

Two engines: ``"command"`` (the default where a C compiler is present), the command-level
controller of `accelsim.sim.dram.controller`, which steps the DRAM clock and takes each
request at its own arrival; and ``"burst"``, the bulk burst model the simulator's ``exact``
and ``cached`` timing use (`accelsim.sim.dram.model.DramModel`), timed call by call as below.
The parity benchmark (benchmarks/dram_parity.py) runs both against DRAMsim3.

For the burst engine:

The same input an external simulator replays (`accelsim.sim.dram.export`): byte addresses,
read/write, and the DRAM clock cycle each request arrives at the controller. Requests that
arrive on the same cycle, one after the other in the trace, form one group (a tile's stream
arrives as one such group).

A controller holds the requests that arrive while it is still busy with earlier ones in its
queue and serves them together (row hits first, other banks while one waits): so a group that
arrives before the DRAM has finished the groups timed with it joins them, and they are timed as
one call of the model, each request bound by its own arrival. A group arriving after that
starts a new call. (Timing each group as its own call made a backlogged stream first come
first served across groups: random reads arriving one every 3 DRAM cycles took 2.1x
DRAMsim3's cycles on DDR4, two interleaved streams 9x; reports/validation/dram_parity.md.)
Used by the parity benchmark (benchmarks/dram_parity.py) and by tests.
"""

from __future__ import annotations

import numpy as np

from accelsim.sim.dram import controller
from accelsim.sim.dram.model import DramBatch, DramModel

__all__ = ["ENGINES", "replay_trace"]

ENGINES = ("command", "burst")

# A call grows by whole groups up to about this many requests; the next group then starts a
# new one (bounds the cost of re-timing a growing call).
_MAX_CALL_REQUESTS = 1 << 16


def replay_trace(config, addresses, is_write, arrival_dram_cycle,
                 engine: str | None = None) -> dict:
    """Time the trace from an idle DRAM; returns the finishing DRAM cycle (the cycle the last
    read data or write data left the bus), the counts and the dynamic energies (pJ).
    `engine`: "command" (the default) or "burst"."""
    if engine is None:
        engine = "command"
    if engine not in ENGINES:
        raise ValueError(f"engine: expected one of {list(ENGINES)}, got {engine!r}")
    if engine == "command":
        return _replay_command(config, addresses, is_write, arrival_dram_cycle)
    return _replay_burst(config, addresses, is_write, arrival_dram_cycle)


def _replay_command(config, addresses, is_write, arrival_dram_cycle) -> dict:
    addresses = np.asarray(addresses, dtype=np.int64).reshape(-1)
    writes = np.broadcast_to(np.asarray(is_write, dtype=bool), addresses.shape)
    result = controller.CommandController(config).run(addresses, writes, arrival_dram_cycle)
    counts = result.counts
    bits = config.burst_bytes * 8
    energies = {
        "activate_energy_pj": counts["activates"] * config.activate_energy_pj,
        "read_energy_pj": counts["reads"] * bits * config.read_energy_pj_per_bit,
        "write_energy_pj": counts["writes"] * bits * config.write_energy_pj_per_bit,
    }
    return {
        "finish_cycle": result.finish_cycle,
        "bursts": counts["reads"] + counts["writes"],
        "requests": int(addresses.size),
        "row_hits": counts["row_hits"],
        "activates": counts["activates"],
        "refreshes": counts["refreshes"],
        "forwarded_reads": counts["forwarded_reads"],
        "merged_writes": counts["merged_writes"],
        "drain_deadlocks_broken": counts["drain_deadlocks_broken"],
        **energies,
        "energy_pj": sum(energies.values()),
    }


def _replay_burst(config, addresses, is_write, arrival_dram_cycle) -> dict:
    addresses = np.asarray(addresses, dtype=np.int64).reshape(-1)
    writes = np.broadcast_to(np.asarray(is_write, dtype=bool), addresses.shape)
    arrival = np.broadcast_to(np.asarray(arrival_dram_cycle, dtype=float), addresses.shape)
    if arrival.size and not (np.isfinite(arrival).all() and arrival.min() >= 0):
        raise ValueError("arrival_dram_cycle must be finite and >= 0")
    # an open-loop driver offers the requests in trace order: one listed after a later cycle
    # arrives when the one before it does
    arrival = np.maximum.accumulate(arrival) if arrival.size else arrival
    # one model cycle = one DRAM cycle
    # Open page: writes stay in the write buffer across calls until it fills (a controller's
    # buffer does not drain at the end of each call); the flush after the last call times the
    # rest. Closed page keeps each call's drain: its one shared transaction queue does not
    # hold the reads while a buffer drains (DRAMsim3 does), and holding the writes without
    # that hold moved the HBM2 closed-page tiles from +13.1 % to +16.6 % against DRAMsim3
    # (reports/validation/dram_parity.md).
    model = DramModel(config, accel_clock_mhz=1000.0 / config.tck_ns,
                      hold_writes=config.page_policy != "closed", track_last_start=True)
    starts = np.flatnonzero(np.r_[True, arrival[1:] != arrival[:-1]])
    ends = np.r_[starts[1:], addresses.size]
    group_arrival = arrival[starts]
    total = DramBatch.empty()
    first = 0
    while first < starts.size:
        last = first + 1                                  # groups [first, last) in this call
        before = model.snapshot()
        while True:
            begin, end = int(starts[first]), int(ends[last - 1])
            batch = model.access(addresses[begin:end], writes[begin:end],
                                 float(group_arrival[first]), arrival[begin:end])
            # the groups that arrive while a request of this call still waits for its first
            # command (the queue holds it) join it; growing the call at
            # least twofold each time bounds the re-timing (a group that joins early is still
            # bound by its arrival, and FR-FCFS only reorders requests queued together)
            joining = int(np.searchsorted(group_arrival, model.last_start_cycle, side="left"))
            if joining <= last:
                break
            cap = int(np.searchsorted(ends, begin + _MAX_CALL_REQUESTS, side="right"))
            grown = min(max(joining, first + 2 * (last - first)), cap, starts.size)
            if grown <= last:
                break
            model.restore(before)
            last = grown
        total = total + batch
        first = last
    if addresses.size:
        total = total + model.flush(float(arrival[-1]))
    return {
        "finish_cycle": total.end_cycle,
        "bursts": total.bursts,
        "requests": int(addresses.size),
        "row_hits": total.row_hits,
        "activates": total.activates,
        "refreshes": total.refreshes,
        "activate_energy_pj": total.activate_energy_pj,
        "read_energy_pj": total.read_energy_pj,
        "write_energy_pj": total.write_energy_pj,
        "energy_pj": total.activate_energy_pj + total.read_energy_pj + total.write_energy_pj,
    }
