"""The accelerator simulator: a SimPy, tile-level model of SRAM, DRAM, the PRNG regeneration
unit and the PE array, replaying a trace for cycles, off-chip traffic and energy. Never imports
torch.

The flow inside: `simulation` (the API `simulate`, run assembly, weighting of representative
iterations; not named simulate.py, since importing a submodule of that name would replace the
exported function on this package) → `plan` (which iterations; per iteration the phases of
every layer) → `mapping` (the room: each layer-phase GEMM built once, its folds, the mapper and
SCALE-Sim's buffer rule, the placement of weights, and a phase's tiles with their typed
traffic; pure numpy) →
`machine` (the SimPy pipeline fetch → compute → write-back over the `parts`) → `results`
(the columns, one typed `Counts`) with `energy` (one table of components).

Public names are loaded lazily (importing `accelsim.sim.dram` alone stays light):
`simulate`, `SimulationResult`, `iteration_plans`, `IterationPlan`, `Accelerator`, `Counts`.
"""

from accelsim._lazy import lazy_exports

_EXPORTS = {
    "simulate": "accelsim.sim.simulation",
    "iteration_plans": "accelsim.sim.plan",
    "IterationPlan": "accelsim.sim.plan",
    "Accelerator": "accelsim.sim.machine",
    "SimulationResult": "accelsim.sim.results",
    "Counts": "accelsim.sim.results",
}

__all__ = list(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
