"""The PRNG regeneration unit: recomputes untracked weights' initial values on demand.

`lanes` generators, each a pipeline giving `values_per_cycle` values per cycle once full, after
`latency_cycles` to fill. A request for n values takes ``latency + ceil(n / (lanes *
values_per_cycle))`` cycles; it is the unit's throughput that can stall the PE array when a tile
has many regenerated weights.
"""

from __future__ import annotations

import math

import simpy

from accelsim.config.accelerator import PrngConfig
from accelsim.sim.parts.server import TimedServer


def regeneration_cycles(config: PrngConfig, values: int) -> int:
    if values <= 0:
        return 0
    return config.latency_cycles + math.ceil(values / config.throughput_values_per_cycle)


class PrngUnit(TimedServer):
    """Work: a number of values. Info: that number."""

    def __init__(self, env: simpy.Environment, config: PrngConfig, name: str = "prng"):
        super().__init__(env, name)
        self.config = config
        self.values = 0

    def service(self, work, now):
        values = int(work)
        self.values += values
        return regeneration_cycles(self.config, values), values
