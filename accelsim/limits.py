"""Every bound accelsim puts on what a user hands it, in one place.

Values read from a user (YAML, --set, command-line flags, trace manifests and tables, checkpoint
headers, dataset headers) are checked against these before they reach numpy or torch, so a huge
or hostile value ends in a one-line error instead of an overflow, a giant allocation or a hang.
The bounds are far above any real accelerator, model or run; they are there to stop the
impossible, not to limit the plausible.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from accelsim.errors import AccelsimError

# -- physical bounds of an accelerator config ------------------------------------------------
MAX_BYTES = 2 ** 50           # 1 PiB: any size in bytes (SRAM, DRAM rows, capacities)
MAX_COUNT = 2 ** 40           # any count in a config (banks, lanes, PE rows, cycles, bursts)
MAX_NUMBER = 1e15             # any energy, power, clock or time figure (pJ, mW, MHz, ns)
# the smallest such figure other than 0: a subnormal clock (5e-324 MHz) or energy would turn
# into an infinite period, then a NaN, deep inside the simulation
MIN_NUMBER = 1e-9

# -- models, traces and checkpoints ----------------------------------------------------------
MAX_PARAMS = 2 ** 36          # weights of one model (~69 G; GPT-3 has 175 G, none of ours 40 M)
MAX_DIMS = 8                  # rank of a weight or activation shape
MAX_LAYERS = 100_000          # layers of one model or trace
MAX_ITERATIONS = 10 ** 9      # iterations a trace may describe or a run may plan
MAX_BATCH_SIZE = 2 ** 20      # samples per batch
MAX_SEED = 2 ** 63 - 1        # seeds: torch's manual_seed takes a signed 64-bit integer
# model arguments of the zoo: beyond these a model does not fit any machine's memory
MODEL_ARG_MAX = {"num_classes": 100_000, "in_channels": 1024, "in_features": 2 ** 18,
                 "input_size": 512, "depth": 1000, "widen_factor": 64, "growth_rate": 1024}

# -- runs -------------------------------------------------------------------------------------
MAX_EPOCHS = 100_000          # epochs a training run (or the demo) may plan
MAX_THREADS = 1024            # torch threads (and never more than the machine's cores)
MAX_SWEEP_POINTS = 10_000     # points of one sweep (--sram-sizes x every --set axis)
MAX_JOBS = 1024               # local worker processes of a sweep

# -- files ------------------------------------------------------------------------------------
MAX_CONFIG_BYTES = 1 << 20    # an accelerator YAML file
MAX_YAML_DEPTH = 32           # nesting of mappings and lists in a config (ours use 3)
MAX_YAML_NODES = 100_000      # nodes a config may expand to, aliases counted in full
MAX_BASE_CHAIN = 32           # files in one chain of `base:` includes
MAX_TEXT_SHOWN = 80           # characters of a bad value quoted in an error message


def shown(value: object) -> str:
    """`repr(value)`, cut short: an error line quotes the value, never a megabyte of it."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int of over 4300 digits, a cyclic value
        text = f"<{type(value).__name__} too large to show>"
    if len(text) > MAX_TEXT_SHOWN:
        text = text[:MAX_TEXT_SHOWN - 15] + f"... ({len(text):,} chars)"
    return text.replace("\n", " ")


def only_regular_files(folder: str | os.PathLike[str], error: type[AccelsimError]) -> None:
    """Refuse a folder holding anything but folders and regular files (a FIFO would block
    whoever reads it) before a reader walks it."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            regular_file(Path(root) / name, error)


def regular_file(path: str | os.PathLike[str], error: type[AccelsimError],
                 what: str = "a regular file") -> Path:
    """`path`, checked to be a regular file (links followed) before anything opens it: a FIFO,
    a device or a socket would block a reader or never end."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc}); expected {what}") from None
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a device or socket")
        raise error(f"{path}: expected {what}, got {kind}")
    return path
