"""The PE array and the update unit beside it, as SimPy servers of compute work.

The array's cycles for a tile come from the dataflow's folds (`accelsim.sim.dataflow`); the
update unit's from the weights it read-modify-writes and compares (`update_cycles`).
"""

from __future__ import annotations

import numpy as np

from accelsim.sim.server import Server


class PeArray(Server):
    """Work: compute cycles of a tile (fill, stream and drain of its folds). Info: the cycles."""

    def __init__(self, env, config, name: str = "pe_array"):
        super().__init__(env, name)
        self.config = config

    def service(self, work, now):
        return int(work), int(work)


def update_cycles(update_config, rmw_weights, compared_weights):
    """Update unit cycles: the read-modify-write of values on `alu_lanes` lanes, then the
    threshold/top-k maintenance at `topk_cycles_per_weight` per weight compared. Takes ints
    (returns an int) or numpy arrays of per-tile counts (returns int64 cycles per tile)."""
    total = (np.asarray(rmw_weights) / update_config.alu_lanes
             + np.asarray(compared_weights) * update_config.topk_cycles_per_weight)
    cycles = np.ceil(total).astype(np.int64)
    return int(cycles) if cycles.ndim == 0 else cycles


class UpdateUnit(Server):
    """Work: update cycles of a tile. Info: the cycles."""

    def __init__(self, env, config, name: str = "update_unit"):
        super().__init__(env, name)
        self.config = config

    def service(self, work, now):
        return int(work), int(work)
