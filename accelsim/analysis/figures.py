"""Figures (matplotlib, PNG and SVG): energy breakdown, energy and traffic against SRAM size,
per-layer energy and traffic, traffic by memory level and operand, training accuracy and
tracked-set churn; and which of them a results folder supports (`figures_for`, the API twin `plot`).

Every drawing function takes plain tables (pandas) and a folder, writes `<name>.png` and
`<name>.svg` there, and returns the PNG path. Nothing here imports torch or runs a simulation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from accelsim.analysis.drawing import RATIO_LABEL, RUN_STYLE
from accelsim.analysis.drawing import pyplot as _pyplot
from accelsim.analysis.drawing import save as _save
from accelsim.analysis.folders import SRAM_FIELD, check_readable, load_sweep
from accelsim.analysis.study import study_figures
from accelsim.errors import AccelsimError
from accelsim.sim.energy import ENERGY_TABLE
from accelsim.sim.results import SimulationResult, vector_records
from accelsim.trace.format import load_trace
from accelsim.units import format_bytes, format_ratio

# energy components in stacking order, with the colours kept across every figure
ENERGY_COMPONENTS = [(c.column, c.label, c.colour) for c in ENERGY_TABLE]


def _components(frame: pd.DataFrame):
    return [(c, label, color) for c, label, color in ENERGY_COMPONENTS if c in frame.columns]


def _energy_scale(values) -> tuple[float, str]:
    top = float(np.nanmax(values)) if len(values) else 0.0
    for scale, unit in ((1e12, "J"), (1e9, "mJ"), (1e6, "µJ"), (1e3, "nJ")):
        if top >= scale:
            return scale, unit
    return 1.0, "pJ"


def _ordered_runs(frame: pd.DataFrame) -> pd.DataFrame:
    order = [r for r in ("dense", "trace") if r in frame.index]
    return frame.loc[order + [r for r in frame.index if r not in order]]


def _bytes_ticks(ax, values):
    ticks = sorted(set(values))
    ax.set_xticks(ticks, [format_bytes(v).replace(" ", "\u2009") for v in ticks], rotation=45,
                  ha="right", fontsize=8)
    ax.minorticks_off()


def energy_breakdown(totals: pd.DataFrame, out_dir, *, title=None, name="energy_breakdown",
                     scope="over the whole trace"):
    """Stacked bars per energy component, one bar per run (index: run names)."""
    plt = _pyplot()
    totals = _ordered_runs(totals)
    comps = _components(totals)
    scale, unit = _energy_scale(totals[[c for c, _, _ in comps]].sum(axis=1).to_numpy())
    fig, ax = plt.subplots(figsize=(7, 4.2))
    labels = [RUN_STYLE.get(r, (r,))[0] for r in totals.index]
    bottom = np.zeros(len(totals))
    for column, label, color in comps:
        values = totals[column].to_numpy(dtype=float) / scale
        ax.bar(labels, values, bottom=bottom, label=label, color=color, width=0.55)
        bottom += values
    for x, total in enumerate(bottom):
        ax.annotate(f"{total:.3g} {unit}", (x, total), ha="center", va="bottom", fontsize=9)
    ax.set_ylabel(f"energy {scope} ({unit})")
    ax.set_title(title or "Energy by component")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    ax.set_ylim(0, bottom.max() * 1.12 if len(bottom) else 1)
    return _save(fig, out_dir, name)


GROUP_LINESTYLES = ("-", "--", ":", "-.")


def sram_sweep(table: pd.DataFrame, out_dir, *, fit_bytes: int | None = None,
               x="weight_sram_capacity_bytes", name="sram_sweep", title=None,
               scope="over the whole trace", xlabel="weight SRAM capacity",
               group_by: tuple[str, ...] = ()):
    """Energy and DRAM traffic against weight SRAM size (log axes), dense vs DropBack; with an
    ``area_mm2`` column also the chip's area against size (on the energy panel's right axis)
    and a third panel of energy against area, its energy-area Pareto points marked.

    `table` has one row per (point, run) with columns `run`, `x`, `energy_pj` and
    `dram_bytes_read` + `dram_bytes_written`. `fit_bytes` marks where the tracked set fits.
    `group_by`: other swept columns (a DRAM preset, say): each value is a line style of its own,
    in the same two panels, so that the settings compare in one figure.
    """
    plt = _pyplot()
    has_area = "area_mm2" in table.columns and table["area_mm2"].notna().all()
    fig, axes = plt.subplots(1, 3 if has_area else 2, figsize=(15.5 if has_area else 10.5, 4.4))
    ax_e, ax_t = axes[0], axes[1]
    table = table.sort_values(x)
    escale, eunit = _energy_scale(table["energy_pj"].to_numpy())
    traffic_all = table["dram_bytes_read"] + table["dram_bytes_written"]
    # log axis: a point with no traffic at all is drawn at the floor, and said so
    floor = (max(1.0, float(traffic_all[traffic_all > 0].min()) / 4)
             if (traffic_all > 0).any() else 1)
    groups = (list(table.groupby(list(group_by), sort=False)) if group_by
              else [((), table)])
    for g, (key, part) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        suffix = ", ".join(str(v) for v in key)
        style = GROUP_LINESTYLES[g % len(GROUP_LINESTYLES)]
        for run in [r for r in ("dense", "trace") if r in set(part["run"])]:
            group = part[part["run"] == run]
            label, color, marker = RUN_STYLE.get(run, (run, None, "o"))
            label = f"{label}, {suffix}" if suffix else label
            ax_e.plot(group[x], group["energy_pj"] / escale, marker=marker, color=color,
                      label=label, linestyle=style, fillstyle="full" if g == 0 else "none")
            traffic = (group["dram_bytes_read"] + group["dram_bytes_written"]).clip(lower=floor)
            ax_t.plot(group[x], traffic, marker=marker, color=color, label=label,
                      linestyle=style, fillstyle="full" if g == 0 else "none")
    for ax in (ax_e, ax_t):
        ax.set_xscale("log", base=2)
        _bytes_ticks(ax, table[x].tolist())
        ax.set_xlabel(xlabel)
        ax.grid(True, which="major", alpha=0.3)
        if fit_bytes:
            ax.axvline(fit_bytes, color="#27ae60", linestyle="--", linewidth=1)
            ax.annotate("tracked set fits", (fit_bytes, 0.97), xycoords=("data", "axes fraction"),
                        rotation=90, ha="right", va="top", fontsize=8, color="#27ae60")
        ax.legend(fontsize=7)
    ax_e.set_ylabel(f"energy {scope} ({eunit})")
    ax_t.set_yscale("log")
    ax_t.set_ylabel(f"off-chip DRAM traffic {scope} (bytes)")
    if has_area:
        _area_panels(table, x, ax_e, axes[2], escale, eunit, scope)
    fig.suptitle(title or ("Energy, area and off-chip traffic against SRAM size" if has_area
                           else "Energy and off-chip traffic against SRAM size"))
    return _save(fig, out_dir, name)


def pareto_mask(area, energy) -> np.ndarray:
    """True where no other point has both less-or-equal area and energy (one strictly less)."""
    area, energy = np.asarray(area, dtype=float), np.asarray(energy, dtype=float)
    better_or_equal = (area[None, :] <= area[:, None]) & (energy[None, :] <= energy[:, None])
    strictly = (area[None, :] < area[:, None]) | (energy[None, :] < energy[:, None])
    return ~(better_or_equal & strictly).any(axis=1)


def _area_panels(table, x, ax_e, ax_p, escale, eunit, scope) -> None:
    """The chip's area on the energy panel's right axis, and energy against area."""
    area = table.drop_duplicates(x)
    ax_a = ax_e.twinx()
    ax_a.plot(area[x], area["area_mm2"], color="#7f8c8d", linestyle=":", marker=".",
              label="chip area")
    ax_a.set_ylabel("chip area (mm²)", color="#7f8c8d")
    ax_a.legend(fontsize=8, loc="center right")
    for run in [r for r in ("dense", "trace") if r in set(table["run"])]:
        group = table[table["run"] == run]
        label, color, marker = RUN_STYLE.get(run, (run, None, "o"))
        ax_p.plot(group["area_mm2"], group["energy_pj"] / escale, marker=marker, color=color,
                  label=label, alpha=0.5)
        best = pareto_mask(group["area_mm2"], group["energy_pj"])
        ax_p.scatter(group["area_mm2"][best], group["energy_pj"][best] / escale, s=80,
                     facecolors="none", edgecolors=color, linewidths=1.5)
        for _, row in group[best].iterrows():
            ax_p.annotate(format_bytes(row[x]), (row["area_mm2"], row["energy_pj"] / escale),
                          fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax_p.set_xlabel("chip area (mm²)")
    ax_p.set_ylabel(f"energy {scope} ({eunit})")
    ax_p.set_title("energy against area (circled: Pareto points)", fontsize=9)
    ax_p.grid(True, alpha=0.3)
    ax_p.legend(fontsize=8)


def _size_label(field: str, value) -> str:
    return format_bytes(value) if field.endswith("_bytes") else f"{value:g}"


def _field_label(field: str) -> str:
    return field.replace(".capacity_bytes", " capacity").replace("_", " ").replace("sram", "SRAM")


# the swept fields drawn as a capacity axis, where "the tracked set fits" can be marked
CAPACITY_FIELDS = (SRAM_FIELD, "global_buffer.capacity_bytes")


def sweep_heatmap(table: pd.DataFrame, out_dir, *, x: str, y: str, fit_bytes: int | None = None,
                  name="sram_sweep_heatmap", title=None):
    """The energy ratio dense / DropBack over a 2-D sweep (x across, y up), each cell labelled,
    with the capacity from which the tracked set fits marked (when x is a capacity: the weight
    SRAM's or the shared buffer's; y may be another capacity, the batch size or any number).

    `table`: one row per (point, run) with columns `run`, `x`, `y` and `energy_pj`."""
    plt = _pyplot()
    wide = table.pivot_table(index=y, columns=[x, "run"], values="energy_pj", aggfunc="first")
    xs = sorted(set(table[x]))
    ys = sorted(set(table[y]))
    ratio = np.array([[float(wide.loc[yv, (xv, "dense")]) / float(wide.loc[yv, (xv, "trace")])
                       for xv in xs] for yv in ys])
    fig, ax = plt.subplots(figsize=(1.1 * len(xs) + 3, 0.6 * len(ys) + 2.2))
    image = ax.imshow(ratio, origin="lower", cmap="RdYlGn", aspect="auto",
                      vmin=min(1.0, float(ratio.min())), vmax=max(1.0, float(ratio.max())))
    for i in range(len(ys)):
        for j in range(len(xs)):
            ax.text(j, i, format_ratio(ratio[i, j], 1.0), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(xs)), [_size_label(x, v) for v in xs], rotation=45, ha="right",
                  fontsize=8)
    ax.set_yticks(range(len(ys)), [_size_label(y, v) for v in ys], fontsize=8)
    ax.set_xlabel(_field_label(x))
    ax.set_ylabel(_field_label(y))
    if fit_bytes and x in CAPACITY_FIELDS:
        fits = [j for j, v in enumerate(xs) if v >= fit_bytes]
        if fits:
            edge = fits[0] - 0.5
            ax.axvline(edge, color="black", linestyle="--", linewidth=1.2)
            ax.annotate("tracked set fits →", (edge, 1.01), xycoords=("data", "axes fraction"),
                        ha="left", va="bottom", fontsize=8)
    fig.colorbar(image, ax=ax, label=f"energy, {RATIO_LABEL}")
    ax.set_title(title or "Energy saving over a 2-D sweep", fontsize=10, pad=16)
    return _save(fig, out_dir, name)


def per_layer(records: pd.DataFrame, out_dir, *, name="per_layer", title=None,
              scope="over the whole trace"):
    """Per-layer energy and DRAM traffic, dense vs DropBack (records: run, layer, ... per phase)."""
    plt = _pyplot()
    key = "layer_name" if "layer_name" in records.columns else "layer"
    agg = records.groupby(["run", key], sort=False)[["energy_pj", "dram_bytes_read",
                                                     "dram_bytes_written"]].sum().reset_index()
    layers = list(dict.fromkeys(agg[key]))
    fig, (ax_e, ax_t) = plt.subplots(2, 1, figsize=(max(6, 0.35 * len(layers) + 3), 7), sharex=True)
    width = 0.4
    xs = np.arange(len(layers))
    escale, eunit = _energy_scale(agg["energy_pj"].to_numpy())
    runs = [r for r in ("dense", "trace") if r in set(agg["run"])]
    for i, run in enumerate(runs):
        label, color, _ = RUN_STYLE.get(run, (run, None, None))
        group = agg[agg["run"] == run].set_index(key).reindex(layers)
        ax_e.bar(xs + (i - 0.5) * width, group["energy_pj"] / escale, width, label=label,
                 color=color)
        ax_t.bar(xs + (i - 0.5) * width,
                 (group["dram_bytes_read"] + group["dram_bytes_written"]) / 2 ** 10, width,
                 label=label, color=color)
    ax_e.set_ylabel(f"energy {scope} ({eunit})")
    ax_t.set_ylabel(f"DRAM traffic {scope} (KiB)")
    ax_t.set_xticks(xs, [str(v) for v in layers], rotation=60, ha="right", fontsize=7)
    for ax in (ax_e, ax_t):
        ax.legend(fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    ax_e.set_title(title or "Per-layer energy and off-chip traffic")
    return _save(fig, out_dir, name)


def training_curves(histories: dict, out_dir, *, name="training_accuracy", title=None):
    """Test accuracy against epoch for each run (label -> history DataFrame). With a dense and
    a DropBack run, a second panel draws the gap between them in accuracy points: a gap of a
    fraction of a point is invisible on an axis that spans the first epochs' climb."""
    plt = _pyplot()
    pair = {"dense", "trace"} <= set(histories)
    if pair:
        fig, (ax, gap_ax) = plt.subplots(1, 2, figsize=(10.5, 4.2))
    else:
        fig, ax = plt.subplots(figsize=(6, 4.2))
    for label, history in histories.items():
        style = RUN_STYLE.get(label, (label, None, "o"))
        ax.plot(history["epoch"], history["test_accuracy"] * 100, marker=style[2], markersize=3,
                color=style[1], label=style[0])
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "Test accuracy against epoch")
    if pair:
        both = histories["dense"][["epoch", "test_accuracy"]].merge(
            histories["trace"][["epoch", "test_accuracy"]], on="epoch",
            suffixes=("_dense", "_trace"))
        gap = (both["test_accuracy_dense"] - both["test_accuracy_trace"]) * 100
        gap_ax.axhline(0.0, color="#555555", lw=1, ls=":")
        gap_ax.plot(both["epoch"], gap, marker="o", markersize=3, color=RUN_STYLE["trace"][1])
        if len(gap):
            gap_ax.annotate(f"last epoch: {gap.iloc[-1]:+.2f}", (both["epoch"].iloc[-1],
                            gap.iloc[-1]), textcoords="offset points", xytext=(-8, 8),
                            ha="right", fontsize=8)
        gap_ax.set_xlabel("epoch")
        gap_ax.set_ylabel("dense − DropBack test accuracy (points)")
        gap_ax.grid(True, alpha=0.3)
        gap_ax.set_title("Accuracy gap (above 0: dense ahead)")
    return _save(fig, out_dir, name)


def churn(steps: pd.DataFrame, out_dir, *, name="tracked_churn", title=None):
    """Weights entering the tracked set per iteration (from a trace's steps): the raw counts
    faint, a rolling mean on top; `left` is drawn only where it differs from `entered`."""
    plt = _pyplot()
    per_it = steps.groupby("iteration")[["entered_count", "left_count", "tracked_count"]].sum()
    # iteration 0 fills the empty set: plot from 1 on so the churn itself stays visible
    shown = per_it.iloc[1:] if len(per_it) > 1 else per_it
    window = max(1, len(shown) // 50)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(shown.index, shown["entered_count"], color="#27ae60", linewidth=0.5, alpha=0.35)
    ax.plot(shown.index, shown["entered_count"].rolling(window, min_periods=1).mean(),
            color="#27ae60", linewidth=1.6, label=f"entered (mean of {window} iterations)")
    if not shown["left_count"].equals(shown["entered_count"]):
        ax.plot(shown.index, shown["left_count"].rolling(window, min_periods=1).mean(),
                color="#c0392b", linewidth=1.2, linestyle="--", label="left (mean)")
    else:
        ax.plot([], [], " ", label="left = entered (constant budget)")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("iteration")
    ax.set_ylabel("weights entering the tracked set (count)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "Tracked-set churn")
    return _save(fig, out_dir, name)


# operands of the traffic breakdown (`accelsim.sim.results.OPERANDS`), with their colours
OPERAND_STYLE = {"weights": ("weights", "#8e44ad"), "activations": ("activations", "#2980b9"),
                 "gradients": ("gradients", "#27ae60"),
                 "partial_sums": ("partial sums", "#f39c12"),
                 "optimizer_state": ("optimizer state", "#7f8c8d"),
                 "stash": ("stash (for backward)", "#c0392b"),
                 "batchnorm_state": ("BatchNorm state", "#16a085")}
LEVEL_LABELS = {"dram": "DRAM", "weight_sram": "weight SRAM",
                "activation_sram": "activation SRAM", "global_buffer": "global buffer",
                "staging": "staging", "pe_array": "PE array", "prng": "PRNG"}


def traffic_breakdown(traffic: pd.DataFrame, out_dir, *, name="traffic_breakdown", title=None,
                      scope="over the whole trace"):
    """Energy (left) and bytes (right) of the traffic at each level, one bar per operand in each
    (run, level) group, on log axes. `traffic`: the breakdown table
    (`accelsim.sim.results.traffic_table`)."""
    plt = _pyplot()
    sums = traffic.groupby(["run", "level", "operand"], sort=False)[["bytes", "energy_pj"]].sum()
    runs = [r for r in ("dense", "trace") if r in sums.index.get_level_values(0)]
    levels = [lv for lv in LEVEL_LABELS if lv in sums.index.get_level_values(1)]
    bars = [(run, lv) for lv in levels for run in runs]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, column, what in ((axes[0], "energy_pj", "energy"), (axes[1], "bytes", "bytes")):
        per_bar = traffic.groupby(["run", "level"])[column].sum()
        top = max((float(per_bar.get(b, 0.0)) for b in bars), default=0.0)
        if column == "energy_pj":
            scale, unit = _energy_scale([top])
        else:
            scale, unit = next(((s, u) for s, u in ((2**40, "TiB"), (2**30, "GiB"),
                                                    (2**20, "MiB"), (2**10, "KiB"))
                                if top >= s), (1, "B"))
        x = np.arange(len(bars))
        # operands side by side in each level's group, on a log axis: DRAM's bytes are orders
        # of magnitude below the array's and would vanish from a linear stack
        shown = [op for op in OPERAND_STYLE
                 if any(float(sums[column].get((run, lv, op), 0.0)) > 0 for run, lv in bars)]
        width = 0.8 / max(1, len(shown))
        for i, operand in enumerate(shown):
            label, colour = OPERAND_STYLE[operand]
            values = np.array([float(sums[column].get((run, lv, operand), 0.0))
                               for run, lv in bars]) / scale
            # a bar only where there is traffic: a log axis cannot show a zero, and most
            # (level, operand) pairs move nothing (a patch each would still be laid out)
            moved = values > 0
            ax.bar((x + (i - (len(shown) - 1) / 2) * width)[moved], values[moved],
                   width=width, color=colour, label=label if ax is axes[1] else None)
        ax.set_yscale("log")
        # decades only: the axis spans up to ten of them, where minor ticks are a comb that
        # says nothing the gridlines do not (and a third of the figure's drawing time)
        ax.minorticks_off()
        ax.set_xticks(x, [f"{LEVEL_LABELS[lv]} ({RUN_STYLE.get(run, (run,))[0]})"
                          for run, lv in bars], fontsize=7, rotation=45, ha="right")
        ax.set_ylabel(f"{what} {scope} ({unit}, log scale)")
        ax.grid(True, axis="y", which="major", alpha=0.3)
    axes[0].set_title("Traffic energy by level and operand", fontsize=10)
    axes[1].set_title("Bytes moved by level and operand", fontsize=10)
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    if title:
        fig.suptitle(title)
    return _save(fig, out_dir, name)


def scope_words(iterations, mode: str = "train") -> str:
    """What a summed figure covers: one training step (or one inference batch), or the
    trace's N iterations."""
    if iterations in (None, 1):
        return "per inference batch" if mode == "inference" else "per training step"
    return f"over {iterations:,} {'inference batches' if mode == 'inference' else 'iterations'}"


# the measures the GEMM / non-GEMM split is shown for: (label, how a record's value is read)
SHARE_MEASURES = (("cycles", lambda r: r["total_cycles"]), ("energy", lambda r: r["energy_pj"]),
                  ("DRAM bytes", lambda r: r["dram_bytes_read"] + r["dram_bytes_written"]))


def gemm_shares(records: pd.DataFrame) -> pd.DataFrame:
    """Per run and measure (cycles, energy, DRAM bytes): the fraction taken by the layers
    between the GEMMs on the vector unit (BatchNorm, ReLU, pooling, adds, the loss); the GEMM
    layers take the rest. Columns `run`, `measure`, `non_gemm_share` (0 where the run has none
    of that measure)."""
    vector = vector_records(records)
    rows = []
    for run in [r for r in ("dense", "trace") if (records["run"] == r).any()]:
        mine = records["run"] == run
        for label, read in SHARE_MEASURES:
            values = read(records)
            total = float(values[mine].sum())
            share = float(values[mine & vector].sum()) / total if total else 0.0
            rows.append({"run": run, "measure": label, "non_gemm_share": share})
    return pd.DataFrame(rows, columns=["run", "measure", "non_gemm_share"])


def gemm_share_figure(records: pd.DataFrame, out_dir, *, name="gemm_shares", scope=""):
    """Stacked bars, one per (run, measure): the GEMM layers' share and the vector unit's."""
    plt = _pyplot()
    shares = gemm_shares(records)
    labels = [f"{RUN_STYLE.get(r, (r,))[0]}: {m}" for r, m in
              zip(shares["run"], shares["measure"])]
    other = shares["non_gemm_share"].to_numpy() * 100
    y = np.arange(len(shares))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(shares) + 2.0))
    ax.barh(y, 100 - other, color="#2980b9", label="GEMM layers (convolutions, linear)")
    ax.barh(y, other, left=100 - other, color="#e67e22",
            label="layers between the GEMMs (vector unit)")
    for yi, share in zip(y, other):
        ax.annotate(f"{share:.1f} %", (100, yi), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xlabel(f"share {scope} (%)".replace("  ", " "))
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    ax.set_title("GEMM and non-GEMM layers: shares of cycles, energy and DRAM traffic",
                 fontsize=9)
    return _save(fig, out_dir, name)


def simulation_figures(folder: Path, out: Path, title_suffix="") -> list[Path]:
    result = SimulationResult.load(folder)
    scope = scope_words(result.trace_identity.get("iterations"),
                        result.settings.get("mode", "train"))
    figures = [energy_breakdown(result.totals(), out, name="energy_breakdown",
                                title="Energy by component" + title_suffix, scope=scope)]
    figures.append(per_layer(result.records, out, name="per_layer", scope=scope,
                             title="Per-layer energy and DRAM traffic" + title_suffix))
    if vector_records(result.records).any():
        figures.append(gemm_share_figure(result.records, out, scope=scope))
    if result.traffic is not None and len(result.traffic):
        figures.append(traffic_breakdown(result.traffic, out, name="traffic_breakdown",
                                         scope=scope, title=title_suffix.strip(" —") or None))
    return figures


def sweep_figures(folder: Path, out: Path, title_suffix="", *, table=None,
                  meta=None) -> list[Path]:
    """The figures of a sweep folder: energy and traffic against the capacity axis (every
    other swept setting, a DRAM preset say, as line styles in the same figure), and a heatmap
    of the saving when exactly one other numeric field varies. `table`/`meta`: the sweep's,
    when the caller has them already (not read again)."""
    if table is None or meta is None:
        table, meta = load_sweep(folder)
    # the capacity axis: the weight SRAM's, or the shared buffer's (`accelsim sweep`)
    x_field = meta.get("capacity_field", SRAM_FIELD)
    x_column = ("weight_sram_capacity_bytes" if x_field == SRAM_FIELD
                else x_field.replace(".", "_"))  # global_buffer_capacity_bytes
    fit = meta.get("fits_capacity_bytes", meta.get("tracked_footprint_bytes"))
    others = [k for k in meta["swept"] if k != x_field and k in table.columns]
    varying = [k for k in others if table[k].nunique() > 1]
    numeric = [k for k in varying if pd.api.types.is_numeric_dtype(table[k])]
    scope = scope_words(meta["trace"].get("iterations"), meta.get("mode", "train"))
    figures = []
    if x_column in table.columns:  # something swept along a capacity: curves against it
        label = ", ".join(varying)
        title = ("Energy and off-chip traffic against SRAM size"
                 + (f" (by {label})" if label else ""))
        figures.append(sram_sweep(table, out, fit_bytes=fit, x=x_column, name="sram_sweep",
                                  title=title + title_suffix, scope=scope,
                                  xlabel=_field_label(x_field), group_by=tuple(varying)))
    if x_field in meta["swept"] and len(varying) == 1 and numeric:
        # a 2-D sweep: the capacity against one more numeric field (another capacity, the
        # batch size), as one heatmap
        figures.append(sweep_heatmap(table, out, x=x_field, y=numeric[0], fit_bytes=fit,
                                     title="Energy dense / DropBack" + title_suffix))
    return figures


def run_figures(folders: dict, out: Path) -> list[Path]:
    """Training figures for one or more run folders (label -> folder)."""
    histories = {label: pd.read_csv(Path(f) / "history.csv") for label, f in folders.items()}
    figures = [training_curves(histories, out)]
    for label, f in folders.items():
        trace_dir = Path(f) / "trace"
        if trace_dir.exists():
            trace = load_trace(trace_dir)
            if not trace.dense:
                shown = RUN_STYLE.get(label, (label,))[0]
                figures.append(churn(trace.steps, out, name="tracked_churn",
                                     title=f"Tracked-set churn ({shown})"))
    return figures


def figures_for(results, out=None) -> list[Path]:
    folder = Path(results)
    if not folder.is_dir():
        raise AccelsimError(f"{folder}: no such results folder")
    out = Path(out) if out else folder / "figures"
    kind = check_readable(folder)
    if kind == "study":
        return study_figures(folder, out)
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


def plot(results, out=None) -> list[Path]:
    """Every figure that the given results folder supports (the API twin of `accelsim plot`)."""
    return figures_for(results, out)
