"""Replay a per-burst DRAM request trace through accelsim's command-level controller, open
loop: the same input an external simulator replays (`accelsim.sim.dram.export`): byte
addresses, read/write, and the DRAM clock cycle each request arrives at the controller, each
request offered at its own arrival (in trace order; a full queue holds the later ones back).
Used by `accelsim dram`, the parity benchmark (benchmarks/dram_parity.py) and tests.
"""

from __future__ import annotations

import numpy as np

from accelsim.sim.dram import controller

__all__ = ["replay_trace"]


def replay_trace(config, addresses, is_write, arrival_dram_cycle) -> dict:
    """Time the trace from an idle DRAM; returns the finishing DRAM cycle (the cycle the last
    read data or write data left the bus), the counts and the dynamic energies (pJ)."""
    return _replay_command(config, addresses, is_write, arrival_dram_cycle)


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
