"""A compute unit as a SimPy server: the PE array, and the update unit beside it.

Both hold the unit busy for a tile's compute cycles, so one class serves both. The cycles are
worked out beforehand by the mapping (`accelsim.sim.mapping`): the array's from the dataflow's
folds, the update unit's from the weights it read-modify-writes and compares.
"""

from __future__ import annotations

from accelsim.sim.parts.server import TimedServer


class ComputeUnit(TimedServer):
    """Work: compute cycles of a tile. Info: the cycles."""

    def service(self, work, now):
        return int(work), int(work)
