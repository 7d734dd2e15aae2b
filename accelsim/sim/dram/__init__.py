"""Off-chip DRAM in the simulator: the burst-level timing model (`model`), the SimPy port the
pipeline talks to (`port`), and request-trace export for external DRAM simulators (`export`).
The DRAM spec and its presets are `accelsim.config.dram`.

Names resolve on first use, so importing this package does not import SimPy.
"""

from accelsim._lazy import lazy_exports

_EXPORTS = {
    "DramBatch": "accelsim.sim.dram.model",
    "DramModel": "accelsim.sim.dram.model",
    "DramPort": "accelsim.sim.dram.port",
    "expand_streams": "accelsim.sim.dram.port",
    "TRACE_FORMATS": "accelsim.sim.dram.export",
    "export_dram_trace": "accelsim.sim.dram.export",
    "read_dram_trace": "accelsim.sim.dram.export",
}

__all__ = list(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
