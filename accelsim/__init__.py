"""accelsim: DropBack training on a pruned weight budget, weight-access traces, and a
cycle-level accelerator model that turns them into cycles, off-chip traffic and energy.

The public API is re-exported lazily, so that `import accelsim` (and the simulator) never
imports torch unless a training entry point is used.
"""

from accelsim._lazy import lazy_exports
from accelsim.startup_interrupt import install as _one_line_interrupts

_one_line_interrupts()  # first thing: a Ctrl-C while the `accelsim` command loads is one line

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "DropBack": "accelsim.dropback.optimizer",
    "train": "accelsim.train.loop",
    "TraceRecorder": "accelsim.trace.recorder",
    "load_trace": "accelsim.trace.format",
    "simulate": "accelsim.sim.simulation",
    "load_accelerator_config": "accelsim.config",
    "sweep": "accelsim.app.sweep",
    "plot": "accelsim.analysis.figures",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__ = lazy_exports(__name__, _EXPORTS)
