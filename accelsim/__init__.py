"""accelsim: DropBack training on a pruned weight budget, weight-access traces, and a
cycle-level accelerator model that turns them into cycles, off-chip traffic and energy.

The public API, each name documented where it is defined:

- `DropBack`: wraps a torch optimizer; keeps only the k weights with the largest accumulated
  gradient, regenerating every other one from its seed.
- `train`: the training loop behind `accelsim train` (a `TrainConfig` in, a run folder out).
- `TraceRecorder`: records which weights each step touches into a trace folder.
- `load_trace`: reads and checks a trace folder.
- `simulate`: a trace (and its dense baseline) on an accelerator config, torch-free.
- `load_accelerator_config`: a config by name or YAML path, with dotted overrides.
- `sweep`: a trace over many configs (SRAM sizes, DRAM presets, batch sizes), as one table.
- `plot`: every figure a results folder supports.

The names are re-exported lazily, so that `import accelsim` (and the simulator) never imports
torch unless a training entry point is used. Training in a script: torch uses every core by
default, which for the zoo's small models is slower than one thread (the CLI sets one for
models under 1M weights); call `torch.set_num_threads(1)` for them.
"""

from accelsim._lazy import lazy_dir as _lazy_dir
from accelsim._lazy import lazy_exports as _lazy_exports
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


__getattr__ = _lazy_exports(__name__, _EXPORTS)
__dir__ = _lazy_dir(globals(), _EXPORTS)
