"""Reading results folders: which kind a folder is, a check that its tables read, and a
sweep's table.

Folder kinds: a simulation (`records.parquet`), a sweep (`sweep.parquet`), a training run
(`history.csv`, maybe `trace/`), or a demo folder holding `runs/`, `sim/` and `sweep/`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from accelsim.analysis.study import load_study
from accelsim.errors import AccelsimError
from accelsim.sim.results import SimulationResult

SRAM_FIELD = "weight_sram.capacity_bytes"  # the swept field drawn as a sweep's x axis


def folder_kind(folder: Path) -> str:
    folder = Path(folder)
    if not folder.is_dir():
        raise AccelsimError(f"{folder}: no such results folder")
    if (folder / "study.parquet").exists():
        return "study"
    if (folder / "records.parquet").exists():
        return "simulation"
    if (folder / "sweep.parquet").exists():
        return "sweep"
    if (folder / "history.csv").exists():
        return "run"
    if (folder / "demo.json").exists():
        return "demo"
    raise AccelsimError(f"{folder}: not a results folder (expected study.parquet, "
                        "records.parquet, sweep.parquet, history.csv or demo.json in it)")


def check_readable(folder: Path, kind: str | None = None) -> str:
    """Read a results folder's tables once, so a damaged or foreign file ends in one line
    naming it (an AccelsimError), not a traceback from deep in the plotting. Returns the kind."""
    folder = Path(folder)
    kind = kind or folder_kind(folder)
    if kind == "study":
        load_study(folder)  # reads and checks the table
        return kind
    if kind == "demo":
        for sub, sub_kind in (("runs/dense", "run"), ("runs/dropback", "run"),
                              ("sim", "simulation"), ("sweep", "sweep")):
            check_readable(folder / sub, sub_kind)
        return kind
    files = {"simulation": ("records.parquet", "summary.json"),
             "sweep": ("sweep.parquet", "sweep.json"), "run": ("history.csv",)}[kind]
    needed = {"simulation": {"run", "layer_name", "phase", "energy_pj", "dram_bytes_read",
                             "dram_bytes_written"},
              "sweep": {"run", "weight_sram_capacity_bytes", "energy_pj", "dram_bytes_read",
                        "dram_bytes_written"},
              "run": {"epoch", "test_accuracy"}}[kind]
    try:
        if kind == "simulation":
            result = SimulationResult.load(folder)
            columns, meta_ok = result.records.columns, isinstance(result.config, dict)
        elif kind == "sweep":
            table, meta = load_sweep(folder)
            columns, meta_ok = table.columns, isinstance(meta, dict) and {
                "swept", "trace", "points"} <= set(meta)
        else:
            columns, meta_ok = pd.read_csv(folder / "history.csv").columns, True
    except (ValueError, KeyError, TypeError) as exc:  # pyarrow's and json's errors are ValueErrors
        raise AccelsimError(f"{folder}: damaged {kind} results, cannot read "
                            f"{' or '.join(files)} ({type(exc).__name__}: {exc})") from None
    missing = sorted(needed - set(columns))
    if missing or not meta_ok:
        raise AccelsimError(f"{folder}: damaged {kind} results: {files[0]} lacks "
                            f"{', '.join(missing) or 'its metadata'}")
    return kind


def load_sweep(folder) -> tuple[pd.DataFrame, dict]:
    folder = Path(folder)
    return (pd.read_parquet(folder / "sweep.parquet"),
            json.loads((folder / "sweep.json").read_text(encoding="utf-8")))
