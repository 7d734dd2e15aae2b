"""Range checks of the command-line flags, shared by the handlers: every number a user types
is checked against `accelsim.limits` before it reaches numpy or torch, in the grammar of
`accelsim.config.checks` (``--epochs: expected an integer from 1 to 100,000, got 0``)."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager

from accelsim.config import checks
from accelsim.errors import AccelsimError, ConfigError
from accelsim.limits import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_ITERATIONS,
    MAX_JOBS,
    MAX_PARAMS,
    MAX_SEED,
    MAX_THREADS,
    shown,
)


def integer(flag: str, value, minimum: int, maximum: int) -> None:
    """An optional integer flag (None: not given) within [minimum, maximum]."""
    if value is not None:
        checks.integer(flag, value, minimum=minimum, maximum=maximum)


def number(flag: str, value, minimum: float = 0.0, positive: bool = False) -> None:
    """An optional number flag (None: not given, the dataset's default applies)."""
    if value is not None:
        checks.number(flag, value, minimum=minimum, positive=positive)


def seed(value) -> None:
    integer("--seed", value, 0, MAX_SEED)


def batch_size(value) -> None:
    integer("--batch-size", value, 1, MAX_BATCH_SIZE)


def epochs(value) -> None:
    integer("--epochs", value, 1, MAX_EPOCHS)


def jobs(value) -> None:
    integer("--jobs", value, 1, MAX_JOBS)


def threads(value) -> None:
    """More torch threads than cores only thrash; past MAX_THREADS torch itself fails."""
    integer("--threads", value, 1, min(MAX_THREADS, os.cpu_count() or 1))


def device(name: str) -> None:
    """cpu, auto, cuda or cuda:N, and a CUDA device only where there is one."""
    if not re.fullmatch(r"cpu|auto|cuda(:\d{1,3})?", name):
        checks.fail("--device", "cpu, cuda, cuda:N or auto", name)
    if name.startswith("cuda"):
        import torch  # only the commands that train ask, and they import torch anyway

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name.partition(":")[2] or 0)
        if index >= count:
            checks.fail("--device", f"a CUDA device present on this machine ({count} found)",
                        name)


def train_iterations(value, flag: str) -> None:
    integer(flag, value, 1, MAX_ITERATIONS)


def budget(text, param_count_of) -> None:
    """`--budget` checked against a model of `param_count_of()` budgeted weights. A count
    above the model, or a ratio that leaves no weight, is refused: clamping it would run
    something else than what was asked for."""
    from accelsim.dropback.budget import tracked_count
    from accelsim.train.loop import parse_budget  # torch: only the commands that train

    count, ratio = parse_budget(text)
    if count is None and ratio is None:
        return
    if ratio is not None and not ratio <= MAX_PARAMS:  # also catches inf and nan
        raise ConfigError(f"--budget {shown(text)}: expected a ratio from 1x to "
                          f"{MAX_PARAMS:,}x")
    if count is not None and count > MAX_PARAMS:
        raise ConfigError(f"--budget {shown(text)}: expected a count up to {MAX_PARAMS:,}")
    total = param_count_of()
    if count is not None:
        resolved = count
    else:
        assert ratio is not None  # parse_budget gives a count, a ratio, or neither (returned)
        resolved = tracked_count(total, ratio)
    if resolved > total:
        raise ConfigError(f"--budget {shown(text)}: expected at most the model's {total:,} "
                          "budgeted weights (or 'dense')")
    if resolved < 1:
        raise ConfigError(f"--budget {shown(text)}: expected a ratio leaving at least one of "
                          f"the model's {total:,} weights tracked")


@contextmanager
def reading_results(folder):
    """Around plot and report: a results folder whose files were edited by hand (a field of
    the wrong type, a key gone) ends in one line naming the folder. The readers check the
    tables they need (`accelsim.analysis.folders.check_readable`); this catches what a damaged
    value breaks past them."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise AccelsimError(f"{folder}: expected a results folder as accelsim wrote it, got a "
                            f"damaged one ({type(exc).__name__}: {shown(str(exc))})") from None
