"""What a study reuses when it resumes, checked: a finished run's summary and a saved
simulation point are read only if they are regular files holding what the table needs.

A damaged or edited run (config.json or summary.json that is not the JSON a run writes) is
refused in one line naming the file: training it again silently would take minutes without a
word. A damaged point file is simulated again (seconds). Nothing here opens a FIFO or a device
(a read would block forever)."""

from __future__ import annotations

import json
import math
import stat
from pathlib import Path
from typing import TypeGuard

from accelsim.errors import AccelsimError

_MISSING = object()


class _Damaged(Exception):
    pass


def _read_json(path: Path):
    """The JSON in `path`; _MISSING where there is no file; _Damaged where it is not a regular
    file of JSON text."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return _MISSING
    except OSError as exc:
        raise _Damaged(f"cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise _Damaged("is not a regular file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise _Damaged(f"is not readable JSON ({type(exc).__name__})") from None


def _number(value, *, integer=False) -> TypeGuard[int | float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if integer:
        return isinstance(value, int) and value >= 0
    return math.isfinite(value)


# summary.json fields the study's table reads, and what each must be
_SUMMARY_FIELDS = {"tracked_count": "a count", "param_count": "a count",
                   "test_accuracy": "a number from 0 to 1"}


def _summary_problem(summary) -> str | None:
    if not isinstance(summary, dict):
        return "is not a JSON object"
    for key, what in _SUMMARY_FIELDS.items():
        value = summary.get(key)
        ok = (_number(value, integer=True) if what == "a count"
              else _number(value) and 0 <= float(value) <= 1)
        if not ok:
            return f"{key}: expected {what}, got {json.dumps(value)[:40]}"
    seconds = summary.get("train_seconds")
    if seconds is not None and not (_number(seconds) and float(seconds) >= 0):
        return f"train_seconds: expected a number >= 0 or null, got {json.dumps(seconds)[:40]}"
    return None


def finished_run(folder: Path, config: dict) -> dict | None:
    """The summary of a finished run in `folder` trained with `config`; None where the run is
    to be trained (not started, interrupted, or trained with other settings)."""
    folder = Path(folder)
    read = {}
    for name in ("config.json", "summary.json"):
        try:
            read[name] = _read_json(folder / name)
        except _Damaged as exc:
            raise AccelsimError(f"{folder / name}: {exc}; remove {folder} to train that run "
                                "again") from None
    saved, summary = read["config.json"], read["summary.json"]
    if summary is _MISSING:
        return None  # not finished: trained (or resumed) by the study
    problem: str | None
    if not isinstance(saved, dict):
        where, problem = folder / "config.json", ("is missing" if saved is _MISSING
                                                  else "is not a JSON object")
    else:
        where, problem = folder / "summary.json", _summary_problem(summary)
    if problem:
        raise AccelsimError(f"{where}: {problem} (edited or damaged); remove {folder} to train "
                            "that run again")
    # model_args are saved as resolved (num_classes filled in): the rest must match
    keys = [k for k in config if k != "model_args"]
    same = (json.dumps([saved.get(k) for k in keys], default=str)
            == json.dumps([config[k] for k in keys], default=str))
    return summary if same and (folder / "trace").is_dir() else None


def saved_point(path: Path, total_keys) -> dict | None:
    """A saved simulation point holding `total_keys`, every total a finite number (else None:
    simulated again)."""
    try:
        point = _read_json(path)
    except _Damaged:
        return None
    if not isinstance(point, dict):
        return None
    totals = point.get("totals")
    if not (isinstance(totals, dict) and all(k in totals for k in total_keys)
            and all(_number(v) for v in totals.values())
            and _number(point.get("batch_size"), integer=True) and point["batch_size"] >= 1
            and _number(point.get("weight_sram_capacity_bytes"), integer=True)):
        return None
    return point
