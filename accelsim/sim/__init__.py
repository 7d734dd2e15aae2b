"""The accelerator simulator: a SimPy, tile-level model of SRAM, DRAM, the PRNG regeneration
unit and the PE array, replaying a trace for cycles, off-chip traffic and energy. Never imports
torch.

Public names are loaded lazily (importing `accelsim.sim.dram` alone stays light):
`simulate`, `SimulationResult`, `iteration_plans` (accelsim.sim.accelerator / .results).
"""

from accelsim._lazy import lazy_exports

_EXPORTS = {
    "simulate": "accelsim.sim.accelerator",
    "iteration_plans": "accelsim.sim.accelerator",
    "Accelerator": "accelsim.sim.accelerator",
    "SimulationResult": "accelsim.sim.results",
}

__all__ = list(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
