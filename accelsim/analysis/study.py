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
  re-pricing is exact arithmetic on the stored component columns); and the same ratio under
  other technologies (each SRAM cell type, each node, the old SRAM rule), re-priced from the
  stored counts with that technology's figures (`technology_sensitivity`; the cycles, and so the
  leakage time, stay those simulated).
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
from accelsim.config import energy_tables
from accelsim.config.accelerator import AcceleratorConfig
from accelsim.config.loader import load_accelerator_config
from accelsim.config.technology import CELL_TYPES, NODES_NM
from accelsim.errors import AccelsimError
from accelsim.sim.energy import ENERGY_TABLE
from accelsim.units import energy_scale, format_bytes, format_energy

UNKNOWN_STYLE = ("#000000", "x")  # a method the study did not record a style for


def _style(method: str, meta: dict) -> tuple:
    """(label, colour, marker) of a method, as the study recorded them from the method table
    (accelsim.dropback.method_table, read by app/study); the name itself for an unknown one."""
    recorded = (meta.get("method_styles") or {}).get(method)
    if isinstance(recorded, (list, tuple)) and len(recorded) == 3:
        return tuple(str(v) for v in recorded)
    return (method, *UNKNOWN_STYLE)
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


def _label(method: str, meta: dict) -> str:
    return _style(method, meta)[0]


def summary_table(table: pd.DataFrame, accelerator: str) -> pd.DataFrame:
    """Mean over seeds per (method, budget) on one config (axis main), with the dense ratios."""
    main = table[(table["axis"] == "main") & (table["accelerator"] == accelerator)]
    columns = ["test_accuracy", "energy_pj", "dram_bytes", "weight_dram_bytes",
               "activation_dram_bytes", "total_cycles", "tracked_count", "param_count"]
    # the schedule's cost (a study written before they were recorded: the final count)
    for column in ("mean_tracked_count", "peak_tracked_count"):
        if column not in main.columns:
            main = main.assign(**{column: main["tracked_count"]})
        columns.append(column)
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
        label, colour, marker = _style(method, meta)
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
    _zoom_on_cluster(ax, summary, energy, accuracy, meta)
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


def _zoom_on_cluster(ax, summary, energy, accuracy, meta):
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
        colour = _style(method, meta)[1]
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
        label, colour, marker = _style(method, meta)
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
        label, colour, marker = _style(method, meta)
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


def _old_rule_overrides(config) -> dict:
    """Dotted overrides pricing the SRAMs by the rule used before the CACTI table."""
    sections = (("global_buffer",) if config.buffer_organisation == "shared"
                else ("weight_sram", "activation_sram"))
    out: dict = {}
    for name in sections:
        sram = getattr(config, name)
        energy = energy_tables.sram_access_energy_pj(sram.capacity_bytes, sram.bank_width_bits)
        out |= {f"{name}.read_energy_pj": energy, f"{name}.write_energy_pj": energy,
                f"{name}.leakage_power_mw": (energy_tables.OLD_SRAM_LEAKAGE_MW_PER_KIB
                                             * sram.capacity_bytes / 1024)}
    return out


def technology_cases(accelerator) -> list[tuple[str, AcceleratorConfig]]:
    """(label, config) for each technology case beside the config's own: the other SRAM cell
    types, the other nodes, and the old SRAM rule."""
    base = load_accelerator_config(accelerator)
    tech = base.technology
    cases: list[tuple[str, AcceleratorConfig]] = [(f"SRAM cells {cell}", load_accelerator_config(
        accelerator, {"technology.sram_cell_type": cell}))
        for cell in CELL_TYPES if cell != tech.sram_cell_type]
    cases += [(f"node {node} nm", load_accelerator_config(
        accelerator, {"technology.node_nm": node})) for node in NODES_NM if node != tech.node_nm]
    cases.append(("old SRAM rule (Horowitz power law, 0.05 mW/KiB)",
                  load_accelerator_config(accelerator, _old_rule_overrides(base))))
    return cases


def technology_sensitivity(table, meta, *, method="dropback", accelerator=None
                           ) -> pd.DataFrame:
    """The dense / method energy ratio (means as in `sensitivity`; above 1: the method saves)
    re-priced under each of `technology_cases`, from the stored counts; one row per case."""
    accelerator = accelerator or meta["accelerators"][0]
    main = table[(table["axis"] == "main") & (table["accelerator"] == accelerator)]
    ours = main[(main["method"] == method) & (main["budget"] == meta["focus_budget"])]
    dense = main[main["method"] == "dense"]
    needed = {"weight_sram_reads_count", "dram_dynamic_energy_pj", "total_cycles"}
    if ours.empty or dense.empty or not needed <= set(table.columns):
        return pd.DataFrame()
    try:
        cases = technology_cases(accelerator)
    except AccelsimError:  # a config this version cannot read (renamed, or from elsewhere)
        return pd.DataFrame()
    rows = []
    for label, config in cases:
        energy = {name: float(np.mean(sum(np.asarray(c.formula(part, config), dtype=float)
                                          for c in ENERGY_TABLE)))
                  for name, part in (("ours", ours), ("dense", dense))}
        rows.append({"case": label, "ratio": energy["dense"] / energy["ours"],
                     "dense_energy_pj": energy["dense"]})
    return pd.DataFrame(rows)


def conclusion_line(frame: pd.DataFrame, tech: pd.DataFrame) -> str:
    """Which conclusion about the ratio holds in every case of both charts."""
    ratios = [*frame[[f"ratio_at_x{f:g}" for f in SENSITIVITY_FACTORS]].to_numpy().ravel(),
              *(tech["ratio"] if not tech.empty else [])]
    low, high = min(ratios), max(ratios)
    cases = len(ratios)
    if low > 1:
        return (f"DropBack needs less energy than dense in all {cases} cases (ratio "
                f"{low:.3f}–{high:.3f}): that conclusion survives every constant halved or "
                "doubled and every technology tried; how much less does not.")
    if high < 1:
        return (f"DropBack needs more energy than dense in all {cases} cases (ratio "
                f"{low:.3f}–{high:.3f}).")
    return (f"No direction survives every case: the ratio spans {low:.3f}–{high:.3f} over "
            f"{cases} cases, so whether DropBack saves energy depends on the constants.")


def sensitivity_chart(table, meta, out_dir, *, name="sensitivity"):
    plt = _pyplot()
    frame = sensitivity(table, meta)
    if frame.empty:
        return None
    tech = technology_sensitivity(table, meta)
    fig, ax = plt.subplots(figsize=(7, 3.8 + 0.25 * len(tech)))
    y = np.arange(len(frame))
    half, double = frame["ratio_at_x0.5"], frame["ratio_at_x2"]
    nominal = float(frame["nominal_ratio"].iloc[0])
    ax.barh(y, half - nominal, left=nominal, color="#7fb3d5", label="constants × 0.5")
    ax.barh(y, double - nominal, left=nominal, color="#c0392b", alpha=0.7,
            label="constants × 2")
    labels = list(frame["component"])
    if not tech.empty:
        y_tech = len(frame) + np.arange(len(tech))
        ax.barh(y_tech, tech["ratio"] - nominal, left=nominal, color="#27ae60", alpha=0.8,
                label="technology")
        labels += list(tech["case"])
        y = np.arange(len(labels))
    ax.axvline(nominal, color="#333333", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel(f"energy, dense / DropBack, at {meta['focus_budget']} (nominal "
                  f"{nominal:.3f}; above 1: DropBack saves)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Sensitivity of the energy ratio to each component's constants and to the "
                 "technology", fontsize=9)
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
             f"Methods {', '.join(_label(m, meta) for m in meta['methods'])}; budgets "
             f"{', '.join(meta['budgets'])}; seeds {', '.join(map(str, meta['seeds']))}; "
             f"{train.get('epochs')} epochs, batch {train.get('batch_size')}, SGD lr "
             f"{train.get('lr')}, momentum {train.get('momentum')}, {train.get('lr_schedule')} "
             f"schedule, weight decay {train.get('weight_decay')}, dense warm-up "
             f"{train.get('warmup_epochs')} epoch(s), gradual budget "
             f"{train.get('budget_anneal_epochs', 0)} epoch(s), biases "
             f"{train.get('bias_tracking', 'ranked')} (for {_label(meta['methods'][0], meta)}; "
             "gmp, RigL and the fixed budget take no warm-up or gradual budget). Energy and "
             "traffic are summed over every "
             f"iteration of each run's training ({meta['mode']} mode).", ""]
    for accelerator in meta["accelerators"]:
        summary = summary_table(table, accelerator)
        shown = pd.DataFrame({
            "method": summary["method"].map(lambda m: _label(m, meta)),
            "budget": summary["budget"],
            "seeds": summary["seeds"],
            "accuracy": (summary["test_accuracy"] * 100).map("{:.2f}%".format),
            "gap to dense": summary["accuracy_gap_points"].map("{:+.2f} pt".format),
            "compression: k / time-averaged / peak": [
                " / ".join(f"{r.param_count / c:.1f}×" for c in
                           (r.tracked_count, r.mean_tracked_count, r.peak_tracked_count))
                for r in summary.itertuples()],
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
        lines += ["### Sensitivity to the energy constants and the technology", "",
                  f"Energy, dense / DropBack, at {meta['focus_budget']} (above 1 is a saving): "
                  "nominal "
                  f"{float(frame['nominal_ratio'].iloc[0]):.3f}; with any one component's "
                  f"constants halved or doubled it stays within {low:.3f}–{high:.3f}.", "",
                  *markdown_table(shown), ""]
        tech = technology_sensitivity(table, meta)
        if not tech.empty:
            lines += ["Under other technologies (re-priced from the stored counts):", "",
                      *markdown_table(pd.DataFrame({
                          "technology": tech["case"],
                          "ratio": tech["ratio"].map("{:.3f}".format),
                          "dense energy": tech["dense_energy_pj"].map(format_energy)})), ""]
        lines += [conclusion_line(frame, tech), ""]
        if "sensitivity.png" in names:
            lines += [f"![sensitivity]({rel / 'figures' / 'sensitivity.png'})", ""]
    return lines
