"""Which figures a results folder supports, and drawing them.

Folder kinds: a simulation (`records.parquet`), a sweep (`sweep.parquet`), a training run
(`history.csv`, maybe `trace/`), or a demo folder holding `runs/`, `sim/` and `sweep/`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from accelsim.analysis import plots
from accelsim.errors import AccelsimError


def folder_kind(folder: Path) -> str:
    folder = Path(folder)
    if not folder.is_dir():
        raise AccelsimError(f"{folder}: no such results folder")
    if (folder / "records.parquet").exists():
        return "simulation"
    if (folder / "sweep.parquet").exists():
        return "sweep"
    if (folder / "history.csv").exists():
        return "run"
    if (folder / "demo.json").exists():
        return "demo"
    raise AccelsimError(f"{folder}: not a results folder (expected records.parquet, "
                        "sweep.parquet, history.csv or demo.json in it)")


def check_readable(folder: Path, kind: str | None = None) -> str:
    """Read a results folder's tables once, so a damaged or foreign file ends in one line
    naming it (an AccelsimError), not a traceback from deep in the plotting. Returns the kind."""
    folder = Path(folder)
    kind = kind or folder_kind(folder)
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
            from accelsim.sim.results import SimulationResult

            result = SimulationResult.load(folder)
            columns, meta_ok = result.records.columns, isinstance(result.config, dict)
        elif kind == "sweep":
            from accelsim.analysis.sweep import load_sweep

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


def scope_words(iterations) -> str:
    """What a summed figure covers: one step, or the trace's N iterations."""
    if iterations in (None, 1):
        return "per training step"
    return f"over {iterations:,} iterations"


def simulation_figures(folder: Path, out: Path, title_suffix="") -> list[Path]:
    from accelsim.sim.results import SimulationResult

    result = SimulationResult.load(folder)
    scope = scope_words(result.trace_identity.get("iterations"))
    figures = [plots.energy_breakdown(result.totals(), out, name="energy_breakdown",
                                      title="Energy by component" + title_suffix, scope=scope)]
    figures.append(plots.per_layer(result.records, out, name="per_layer", scope=scope,
                                   title="Per-layer energy and DRAM traffic" + title_suffix))
    return figures


def sweep_figures(folder: Path, out: Path, title_suffix="") -> list[Path]:
    from accelsim.analysis.sweep import SRAM_FIELD, load_sweep

    table, meta = load_sweep(folder)
    others = [k for k in meta["swept"] if k != SRAM_FIELD and k in table.columns]
    figures = []
    groups = table.groupby(others, sort=False) if others else [((), table)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{k}={v}" for k, v in zip(others, key))
        name = "sram_sweep" + ("_" + "_".join(str(v) for v in key).replace("/", "-")
                               if others else "")
        title = "Energy and off-chip traffic against SRAM size" + (f" ({label})" if label else "")
        figures.append(plots.sram_sweep(group, out, fit_bytes=meta.get("tracked_footprint_bytes"),
                                        name=name, title=title + title_suffix,
                                        scope=scope_words(meta["trace"].get("iterations"))))
    return figures


def run_figures(folders: dict, out: Path) -> list[Path]:
    """Training figures for one or more run folders (label -> folder)."""
    from accelsim.trace.format import load_trace

    histories = {label: pd.read_csv(Path(f) / "history.csv") for label, f in folders.items()}
    figures = [plots.training_curves(histories, out)]
    for label, f in folders.items():
        trace_dir = Path(f) / "trace"
        if trace_dir.exists():
            trace = load_trace(trace_dir)
            if not trace.dense:
                shown = plots.RUN_STYLE.get(label, (label,))[0]
                figures.append(plots.churn(trace.steps, out, name="tracked_churn",
                                           title=f"Tracked-set churn ({shown})"))
    return figures


def figures_for(results, out=None) -> list[Path]:
    folder = Path(results)
    if not folder.is_dir():
        raise AccelsimError(f"{folder}: no such results folder")
    out = Path(out) if out else folder / "figures"
    kind = check_readable(folder)
    if kind == "simulation":
        return simulation_figures(folder, out)
    if kind == "sweep":
        return sweep_figures(folder, out)
    if kind == "run":
        return run_figures({folder.name: folder}, out)
    figures = run_figures({"dense": folder / "runs" / "dense",
                           "trace": folder / "runs" / "dropback"}, out)
    figures += simulation_figures(folder / "sim", out)
    figures += sweep_figures(folder / "sweep", out)
    return figures
