"""Which folder a command may write its output into: the one rule every handler that writes an
output folder asks before any work (train, trace, simulate, sweep, study, demo, plot, report).

`--out` may name a folder that is absent, empty, or accelsim's own output of the same kind.
A folder proves its kind by the marker `.accelsim_output` (`{"kind": "run"}`) that the
commands writing into a folder in place (train, study, demo, plot --out, report --out) put
there first, or by its kind's defining file (`DEFINING_FILES`): the folders written whole and
swapped in (trace, simulation, sweep) always hold theirs, and so do runs, studies and demos
written before the marker existed. Figures and reports have no such file (a user's folder may
hold a report.md), so only the marker proves them; the default places, `<results>/figures` and
the results folder itself, belong to the results folder and are not asked about, and a report
may go into a folder that holds its results if no report.md of someone else's is there.

Anything else — a folder of the user's own files, another kind of output, a symlink to either,
a file — is refused in one line before any work. `--force` writes into it
anyway (files of the same names are replaced, no other file is touched); a folder written
whole (trace, simulate, sweep) is only ever replaced by one of its own kind, forced or not,
since replacing it would remove the user's other files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from accelsim.errors import AccelsimError
from accelsim.io import clean_stale, is_temporary, write_text_atomic

MARKER = ".accelsim_output"

# files whose presence proves a folder's kind without the marker
# (first match wins: a study also holds points/, as a sweep does)
DEFINING_FILES: dict[str, tuple[str, ...]] = {
    "study": ("study.json", "study.parquet"),
    "demo": ("demo.json",),
    "run": ("history.csv", "resume.pt", "checkpoint.sparse"),
    "trace": ("manifest.json",),
    "simulation": ("records.parquet", "records.csv"),
    "sweep": ("sweep.parquet", "sweep.csv", "sweep.json", "points"),
    # no file proves these: a user's own folder may well hold report.md or a PNG
    "figures": (),
    "report": (),
}
# the kinds written whole under a temporary name and swapped in (accelsim.io.replacing_folder)
SWAPPED = frozenset({"trace", "simulation", "sweep"})
_WHAT = {"run": "a training run folder", "trace": "a trace folder",
         "simulation": "a simulation results folder", "sweep": "a sweep folder",
         "study": "a study folder", "demo": "a demo folder", "figures": "a figure folder",
         "report": "a report folder"}


def kind_of(folder: Path) -> str | None:
    """The kind of accelsim output `folder` holds, by its marker or defining files (None:
    not one, or unknown)."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("kind") in DEFINING_FILES:
            return str(data["kind"])
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    for kind, names in DEFINING_FILES.items():
        if any(os.path.lexists(folder / name) for name in names):
            return kind
    return None


def _refuse(out, why: str, force_offered: bool) -> AccelsimError:
    fix = "choose another --out or remove it" + (", or pass --force to write into it anyway"
                                                 if force_offered else "")
    return AccelsimError(f"{out}: {why}; {fix}")


def check(out, kind: str, *, force: bool | None = None) -> Path:
    """Raise AccelsimError unless the folder `out` may take an output of `kind` (see the module
    docstring). force: None where the command has no --force (the folder kinds written whole).
    Returns `out` as a Path."""
    if kind not in DEFINING_FILES:
        raise ValueError(f"unknown output kind {kind!r}")
    out = Path(out)
    if not os.path.lexists(out):
        return out
    offered = force is not None and kind not in SWAPPED
    if out.is_symlink() and (kind in SWAPPED or not out.is_dir()):
        # swapping would replace the link, not the folder it points to
        raise _refuse(out, "is a symbolic link (expected a real folder: the output is "
                           "swapped in whole, which would replace the link)", False)
    if not out.is_dir():
        raise _refuse(out, f"exists and is not a folder (expected {_WHAT[kind]})", False)
    try:
        # accelsim's own temporaries (a killed run's) do not make a folder anyone's
        if all(is_temporary(entry.name) for entry in os.scandir(out)):
            return out
        found = kind_of(out)
    except OSError as exc:
        raise _refuse(out, f"cannot be read ({exc.strerror or exc})", False) from None
    if found == kind or (force and offered):
        return out
    link = " (a symbolic link)" if out.is_symlink() else ""
    holds = (f"holds {_WHAT[found]}" if found else "holds files accelsim did not write")
    raise _refuse(out, f"exists{link} and {holds}, not {_WHAT[kind]}", offered)


def claim(out, kind: str, *, force: bool | None = None, create: bool = True) -> Path:
    """`check`, then, for a kind written in place, create the folder and mark it as accelsim's
    output of `kind` (the marker goes in first, so an interrupted run is still recognised).
    create=False: check only (`train --resume` writes nothing into a folder it refuses)."""
    out = check(out, kind, force=force)
    if create and kind not in SWAPPED:
        out.mkdir(parents=True, exist_ok=True)
        clean_stale(out)  # a killed writer's temporaries (a rerun leaves none behind)
        write_text_atomic(out / MARKER, json.dumps({"kind": kind}) + "\n")
    return out


def claim_report(out, results, *, force: bool = False) -> Path:
    """`claim` for `report --out`: also a folder that holds the results folder (the report
    beside its results), as long as it has no report.md accelsim did not write there."""
    out, results = Path(out), Path(results)
    holder = out.is_dir() and not out.is_symlink() and out.resolve() in results.resolve().parents
    if holder and not os.path.lexists(out / "report.md"):
        force = True
    return claim(out, "report", force=force)
