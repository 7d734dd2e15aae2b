"""Off-chip DRAM in the simulator: one timing engine, the command-level controller
(`controller`, C, one DRAM clock at a time), the SimPy port the pipeline talks to (`port`,
which times requests in the `cached` or `exact` mode), a batch's counts (`batch`), trace replay
(`replay`), and request-trace export for external DRAM simulators (`export`,
`export_ramulator`).
The DRAM spec and its presets are `accelsim.config.dram`.

Names resolve on first use, so importing this package does not import SimPy.
"""

from accelsim._lazy import lazy_exports

_EXPORTS = {
    "DramBatch": "accelsim.sim.dram.batch",
    "CommandController": "accelsim.sim.dram.controller",
    "replay_trace": "accelsim.sim.dram.replay",
    "DramPort": "accelsim.sim.dram.port",
    "expand_streams": "accelsim.sim.dram.port",
    "TRACE_FORMATS": "accelsim.sim.dram.export",
    "export_dram_trace": "accelsim.sim.dram.export",
    "read_dram_trace": "accelsim.sim.dram.export",
}

__all__ = list(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
