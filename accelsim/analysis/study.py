"""A study folder's figures and report section (the folder is written by `accelsim study`).

Figures, each from `study.parquet` alone (nothing is trained or simulated here):

- ``accuracy_energy``: test accuracy against the energy of the whole training run, one point
  per (method, budget) as the mean over seeds (bars: the seeds' range), the dense point, and
  the Pareto front (no other point is both cheaper and more accurate) marked;
- ``energy_ratio_batch``: dense energy over each method's at the focus budget (above 1: the
  method saves, the direction of every ratio accelsim shows) against the batch size, beside
  the dense run's DRAM traffic by operand (where activations overtake weights);
- ``energy_ratio_sram``: the same ratio against the weight SRAM size, per method;
- ``sensitivity``: each energy component's constants halved and doubled, and the range of the
  dense / DropBack energy ratio that results (components are linear in their constants, so the
  re-pricing is exact arithmetic on the stored component columns).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd

from accelsim.analysis.drawing import pyplot as _pyplot
from accelsim.analysis.drawing import save as _save
from accelsim.analysis.markdown import markdown_table
from accelsim.errors import AccelsimError
from accelsim.sim.energy import ENERGY_TABLE
from accelsim.units import energy_scale, format_bytes, format_energy

METHOD_STYLE = {  # label, colour, marker
    "dense": ("dense", "#555555", "*"),
    "dropback": ("DropBack", "#c0392b", "s"),
    "dropback-decay": ("DropBack, decayed w0 (Procrustes)", "#2980b9", "D"),
    "gmp": ("gradual magnitude pruning", "#27ae60", "o"),
    "rigl": ("RigL", "#8e44ad", "^"),
}
SENSITIVITY_FACTORS = (0.5, 2.0)


# the report checks, plots and writes one study folder: read its table once, not three times
_last_loaded: dict[tuple, tuple[pd.DataFrame, dict]] = {}


def _file_stamp(folder: Path) -> tuple | None:
    try:
        stats = [(folder / name).stat() for name in ("study.parquet", "study.json")]
    except OSError:
        return None  # load_study reports the missing file
    return (str(folder.resolve()), *((s.st_mtime_ns, s.st_size, s.st_ino) for s in stats))


def load_study(folder) -> tuple[pd.DataFrame, dict]:
    folder = Path(folder)
    stamp = _file_stamp(folder)
    if stamp is not None and stamp in _last_loaded:
        table, meta = _last_loaded[stamp]
        return table.copy(), copy.deepcopy(meta)
    table, meta = _read_study(folder)
    _last_loaded.clear()
    if stamp is not None:
        _last_loaded[stamp] = (table.copy(), copy.deepcopy(meta))
    return table, meta


def _read_study(folder: Path) -> tuple[pd.DataFrame, dict]:
    try:
        table = pd.read_parquet(folder / "study.parquet")
        meta = json.loads((folder / "study.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AccelsimError(f"{folder}: damaged study results ({type(exc).__name__}: "
                            f"{exc})") from None
    needed = {"method", "budget", "seed", "test_accuracy", "axis", "energy_pj", "accelerator"}
    if not needed <= set(table.columns) or not isinstance(meta, dict):
        raise AccelsimError(f"{folder}: damaged study results: study.parquet lacks "
                            f"{', '.join(sorted(needed - set(table.columns)))}")
    return table, meta


def _label(method: str) -> str:
    return METHOD_STYLE.get(method, (method,))[0]


def summary_table(table: pd.DataFrame, accelerator: str) -> pd.DataFrame:
    """Mean over seeds per (method, budget) on one config (axis main), with the dense ratios."""
    main = table[(table["axis"] == "main") & (table["accelerator"] == accelerator)]
    columns = ["test_accuracy", "energy_pj", "dram_bytes", "weight_dram_bytes",
               "activation_dram_bytes", "total_cycles", "tracked_count"]
    grouped = main.groupby(["method", "budget"], sort=False)
    mean = grouped[columns].mean()
    mean["accuracy_min"] = grouped["test_accuracy"].min()
    mean["accuracy_max"] = grouped["test_accuracy"].max()
    mean["seeds"] = grouped["seed"].nunique()
    mean = mean.reset_index()
    dense = mean[mean["method"] == "dense"].iloc[0]
    mean["energy_over_dense"] = mean["energy_pj"] / dense["energy_pj"]
    mean["dense_over_energy"] = dense["energy_pj"] / mean["energy_pj"]  # above 1: a saving
    mean["accuracy_gap_points"] = (dense["test_accuracy"] - mean["test_accuracy"]) * 100
    return mean


def pareto_front(energy, accuracy) -> np.ndarray:
    """Indices of the points no other point beats on both (lower energy, higher accuracy),
    in order of energy."""
    order = np.lexsort((-np.asarray(accuracy), np.asarray(energy)))
    front, best = [], -np.inf
    for i in order:
        if accuracy[i] > best:
            front.append(int(i))
            best = accuracy[i]
    return np.asarray(front, dtype=int)


def accuracy_energy(table, meta, out_dir, *, accelerator=None, name="accuracy_energy"):
    plt = _pyplot()
    accelerator = accelerator or meta["accelerators"][0]
    summary = summary_table(table, accelerator)
    scale, unit = energy_scale(summary["energy_pj"])
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    energy = summary["energy_pj"].to_numpy() / scale
    accuracy = summary["test_accuracy"].to_numpy() * 100
    front = pareto_front(energy, accuracy)
    ax.plot(energy[front], accuracy[front], "-", color="#999999", lw=1.2, zorder=1,
            label="Pareto front")
    for method, group in summary.groupby("method", sort=False):
        label, colour, marker = METHOD_STYLE.get(method, (method, "#000000", "x"))
        e = group["energy_pj"].to_numpy() / scale
        acc = group["test_accuracy"].to_numpy() * 100
        err = np.vstack([acc - group["accuracy_min"].to_numpy() * 100,
                         group["accuracy_max"].to_numpy() * 100 - acc])
        ax.errorbar(e, acc, yerr=err, fmt=marker, color=colour, label=label, capsize=3,
                    markersize=11 if method == "dense" else 7, zorder=3)
        for xi, yi, budget in zip(e, acc, group["budget"]):
            if method != "dense":
                ax.annotate(budget, (xi, yi), textcoords="offset points", xytext=(5, -11),
                            fontsize=7, color=colour)
    on_front = set(front.tolist())
    ax.scatter(energy[list(on_front)], accuracy[list(on_front)], s=160, facecolors="none",
               edgecolors="#333333", lw=1, zorder=2)
    _zoom_on_cluster(ax, summary, energy, accuracy)
    ax.set_xlabel(f"energy of the training run ({unit})")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    seeds = len(meta["seeds"])
    ax.set_title(f"Accuracy against energy: {meta['model']} on {meta['dataset']}, "
                 f"{accelerator} ({seeds} seed{'s' if seeds > 1 else ''}; ringed: Pareto)",
                 fontsize=9)
    return _save(fig, out_dir, name)


CLUSTER_POINTS = 10.0  # runs this far (accuracy points) below the best are drawn at the edge


def _zoom_on_cluster(ax, summary, energy, accuracy):
    """A run that collapsed (near chance) would squash every useful point into the top of the
    y axis: the axis spans the runs within CLUSTER_POINTS of the best, and each run below
    it is drawn as an arrow on the bottom edge, labelled with its accuracy."""
    best = float(np.max(accuracy))
    low = accuracy < best - CLUSTER_POINTS
    if not low.any():
        return
    kept = summary[~low]
    bottom = float(kept["accuracy_min"].min() * 100)
    top = float(kept["accuracy_max"].max() * 100)
    margin = max(0.25, 0.12 * (top - bottom))
    floor = bottom - 2 * margin
    ax.set_ylim(floor, top + margin)
    for xi, yi, method, budget in zip(energy[low], accuracy[low], summary["method"][low],
                                      summary["budget"][low]):
        colour = METHOD_STYLE.get(method, (method, "#000000"))[1]
        ax.plot([xi], [floor + 0.25 * margin], marker="v", color=colour, markersize=8,
                zorder=4, clip_on=False)
        ax.annotate(f"{budget}: {yi:.1f}%", (xi, floor + 0.25 * margin),
                    textcoords="offset points", xytext=(6, -3), fontsize=7, color=colour)
    ax.plot([], [], "v", color="#555555", linestyle="none",
            label=f"off the axis: over {CLUSTER_POINTS:g} points below the best")


def _axis_ratio(table, meta, axis: str, key: str) -> pd.DataFrame:
    """Dense energy over each method's at each value of `key` on an axis (first seed, focus
    budget; above 1: the method saves); one column per method."""
    part = table[table["axis"] == axis]
    part = part[(part["budget"] == meta["focus_budget"]) | (part["method"] == "dense")]
    pivot = part.pivot_table(index=key, columns="method", values="energy_pj", aggfunc="mean")
    return 1.0 / pivot.drop(columns="dense").div(pivot["dense"], axis=0)


def _ratio_axis_label(meta) -> str:
    return f"energy, dense / method, at {meta['focus_budget']}\n(above 1: the method saves)"


def energy_ratio_batch(table, meta, out_dir, *, name="energy_ratio_batch"):
    plt = _pyplot()
    ratio = _axis_ratio(table, meta, "batch", "batch_size")
    dense = table[(table["axis"] == "batch") & (table["method"] == "dense")].sort_values(
        "batch_size")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for method in ratio.columns:
        label, colour, marker = METHOD_STYLE.get(method, (method, "#000000", "x"))
        left.plot(ratio.index, ratio[method], marker=marker, color=colour, label=label)
    left.axhline(1.0, color="#555555", ls=":", lw=1)
    left.set_xscale("log", base=2)
    left.set_xlabel("batch size")
    left.set_ylabel(_ratio_axis_label(meta))
    left.grid(True, alpha=0.3)
    left.legend(fontsize=7)
    left.set_title("Energy saving against batch size", fontsize=9)
    per_sample = dense["batch_size"].to_numpy()
    # a log axis has no zero: an operand that never reaches DRAM is said in words instead
    absent = []
    for column, label, colour, marker in (
            ("weight_dram_bytes", "weights (values and index)", "#c0392b", "s"),
            ("activation_dram_bytes", "activations", "#2980b9", "o")):
        values = dense[column].to_numpy(dtype=float)
        if (values > 0).any():
            right.plot(per_sample[values > 0], values[values > 0], marker=marker, color=colour,
                       label=label)
        else:
            absent.append(label)
    if absent:
        right.text(0.02, 0.04, f"no DRAM traffic at any batch size: {', '.join(absent)} "
                   "(held on chip)", transform=right.transAxes, fontsize=7, color="#333333")
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xlabel("batch size")
    right.set_ylabel("DRAM traffic of the dense run (bytes)")
    right.grid(True, alpha=0.3)
    if len(absent) < 2:
        right.legend(fontsize=7)
    right.set_title("Dense DRAM traffic by operand", fontsize=9)
    return _save(fig, out_dir, name)


def energy_ratio_sram(table, meta, out_dir, *, name="energy_ratio_sram"):
    plt = _pyplot()
    ratio = _axis_ratio(table, meta, "sram", "weight_sram_capacity_bytes")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method in ratio.columns:
        label, colour, marker = METHOD_STYLE.get(method, (method, "#000000", "x"))
        ax.plot(ratio.index, ratio[method], marker=marker, color=colour, label=label)
    ax.axhline(1.0, color="#555555", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(ratio.index))
    ax.set_xticklabels([format_bytes(v) for v in ratio.index], fontsize=7)
    ax.set_xlabel("weight SRAM capacity")
    ax.set_ylabel(_ratio_axis_label(meta))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Energy saving against SRAM size", fontsize=9)
    return _save(fig, out_dir, name)


def sensitivity(table, meta, *, method="dropback", accelerator=None) -> pd.DataFrame:
    """The dense / method energy ratio (mean over seeds, focus budget, axis main; above 1: the
    method saves) with each energy component's constants scaled by each factor; one row per
    component."""
    accelerator = accelerator or meta["accelerators"][0]
    main = table[(table["axis"] == "main") & (table["accelerator"] == accelerator)]
    ours = main[(main["method"] == method) & (main["budget"] == meta["focus_budget"])]
    dense = main[main["method"] == "dense"]
    if ours.empty or dense.empty:
        return pd.DataFrame()
    columns = [c.column for c in ENERGY_TABLE]
    a, d = ours[columns].mean(), dense[columns].mean()
    nominal = d.sum() / a.sum()
    rows = []
    for component in ENERGY_TABLE:
        c = component.column
        ratios = [(d.sum() + (f - 1) * d[c]) / (a.sum() + (f - 1) * a[c])
                  for f in SENSITIVITY_FACTORS]
        rows.append({"component": component.label, "column": c, "nominal_ratio": nominal,
                     **{f"ratio_at_x{f:g}": r for f, r in zip(SENSITIVITY_FACTORS, ratios)},
                     "share_of_dense_energy": d[c] / d.sum()})
    frame = pd.DataFrame(rows)
    low = frame[[f"ratio_at_x{f:g}" for f in SENSITIVITY_FACTORS]].min(axis=1)
    high = frame[[f"ratio_at_x{f:g}" for f in SENSITIVITY_FACTORS]].max(axis=1)
    frame["swing"] = high - low
    return frame.sort_values("swing", ascending=True).reset_index(drop=True)


def sensitivity_chart(table, meta, out_dir, *, name="sensitivity"):
    plt = _pyplot()
    frame = sensitivity(table, meta)
    if frame.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.8))
    y = np.arange(len(frame))
    half, double = frame["ratio_at_x0.5"], frame["ratio_at_x2"]
    nominal = float(frame["nominal_ratio"].iloc[0])
    ax.barh(y, half - nominal, left=nominal, color="#7fb3d5", label="constants × 0.5")
    ax.barh(y, double - nominal, left=nominal, color="#c0392b", alpha=0.7,
            label="constants × 2")
    ax.axvline(nominal, color="#333333", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels(frame["component"], fontsize=8)
    ax.set_xlabel(f"energy, dense / DropBack, at {meta['focus_budget']} (nominal "
                  f"{nominal:.3f}; above 1: DropBack saves)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Sensitivity of the energy ratio to each component's constants", fontsize=9)
    return _save(fig, out_dir, name)


def study_figures(folder, out) -> list[Path]:
    table, meta = load_study(folder)
    figures = [accuracy_energy(table, meta, out)]
    if (table["axis"] == "batch").any():
        figures.append(energy_ratio_batch(table, meta, out))
    if (table["axis"] == "sram").any():
        figures.append(energy_ratio_sram(table, meta, out))
    chart = sensitivity_chart(table, meta, out)
    if chart is not None:
        figures.append(chart)
    return figures


def study_section(folder, rel: Path, figures) -> list[str]:
    """The report's Markdown for a study folder."""
    table, meta = load_study(folder)
    names = {Path(f).name for f in figures}
    train = meta.get("train", {})
    lines = [f"## Study: {meta['model']} on {meta['dataset']}", "",
             f"Methods {', '.join(_label(m) for m in meta['methods'])}; budgets "
             f"{', '.join(meta['budgets'])}; seeds {', '.join(map(str, meta['seeds']))}; "
             f"{train.get('epochs')} epochs, batch {train.get('batch_size')}, SGD lr "
             f"{train.get('lr')}, momentum {train.get('momentum')}, {train.get('lr_schedule')} "
             f"schedule, weight decay {train.get('weight_decay')}, dense warm-up "
             f"{train.get('warmup_epochs')} epoch(s). Energy and traffic are summed over every "
             f"iteration of each run's training ({meta['mode']} mode).", ""]
    for accelerator in meta["accelerators"]:
        summary = summary_table(table, accelerator)
        shown = pd.DataFrame({
            "method": summary["method"].map(_label), "budget": summary["budget"],
            "seeds": summary["seeds"],
            "accuracy": (summary["test_accuracy"] * 100).map("{:.2f}%".format),
            "gap to dense": summary["accuracy_gap_points"].map("{:+.2f} pt".format),
            "DRAM weights": summary["weight_dram_bytes"].map(format_bytes),
            "DRAM activations": summary["activation_dram_bytes"].map(format_bytes),
            "energy": summary["energy_pj"].map(format_energy),
            "energy, dense / method": summary["dense_over_energy"].map("{:.3f}×".format),
            "cycles": summary["total_cycles"].map("{:,.0f}".format)})
        lines += [f"### On `{accelerator}` (means over seeds)", "", *markdown_table(shown), ""]
    if "accuracy_energy.png" in names:
        lines += [f"![accuracy against energy]({rel / 'figures' / 'accuracy_energy.png'})", ""]
    if "energy_ratio_batch.png" in names:
        lines += ["### Batch size", "",
                  "Dense energy over each method's at the focus budget "
                  f"({meta['focus_budget']}, first seed), and the dense run's DRAM traffic by "
                  "operand: a method that cuts weight traffic pays where weights dominate.", "",
                  f"![energy ratio against batch size]"
                  f"({rel / 'figures' / 'energy_ratio_batch.png'})", ""]
    if "energy_ratio_sram.png" in names:
        lines += ["### SRAM size", "",
                  f"![energy ratio against SRAM size]({rel / 'figures' / 'energy_ratio_sram.png'})",
                  ""]
    frame = sensitivity(table, meta)
    if not frame.empty:
        shown = pd.DataFrame({
            "component": frame["component"],
            "share of dense energy": (frame["share_of_dense_energy"] * 100).map(
                "{:.1f}%".format),
            "ratio, constants × 0.5": frame["ratio_at_x0.5"].map("{:.3f}".format),
            "ratio, constants × 2": frame["ratio_at_x2"].map("{:.3f}".format)})
        low = float(frame[["ratio_at_x0.5", "ratio_at_x2"]].min().min())
        high = float(frame[["ratio_at_x0.5", "ratio_at_x2"]].max().max())
        lines += ["### Sensitivity to the energy constants", "",
                  f"Energy, dense / DropBack, at {meta['focus_budget']} (above 1 is a saving): "
                  "nominal "
                  f"{float(frame['nominal_ratio'].iloc[0]):.3f}; with any one component's "
                  f"constants halved or doubled it stays within {low:.3f}–{high:.3f}.", "",
                  *markdown_table(shown), ""]
        if "sensitivity.png" in names:
            lines += [f"![sensitivity]({rel / 'figures' / 'sensitivity.png'})", ""]
    return lines
