"""accelsim against SCALE-Sim v3 on the same dense inference forward pass.

Both simulators get the same network (a model-zoo one at its default input, batch 1), the same
R x C array and dataflow, and 512 kB SRAMs; the word is one byte in both (SCALE-Sim's word is
fixed at one byte, so accelsim runs with 8-bit words). Per layer and in total it prints and
writes:

- compute cycles: SCALE-Sim's "Total Cycles" (stall-free in its CALC bandwidth mode) against
  accelsim's forward-phase `compute_cycles`;
- filter SRAM reads: weights entering the array (SCALE-Sim's "SRAM Filter Reads", accelsim's
  `pe_weight_loads_count`);
- weight DRAM reads in words (SCALE-Sim's "DRAM Filter Reads", accelsim's weight DRAM bytes
  read in every phase of the inference, the one-time load included, over the word size);
- wall time, CPU time and peak memory of each simulator, and accelsim's speed-up. With
  `--rerun-scalesim` SCALE-Sim runs in this process's child just before accelsim, so the
  ratio is measured in one run on one machine at one load; without it SCALE-Sim's time is the
  cached run's, and the report names that run's machine, date and load beside the ratio.

Differences by design, and how they are compared like with like (also written into the
Markdown note):

- SCALE-Sim reports the index of a layer's last cycle (counted from 0), one less than the
  number of cycles: its count is taken as reported + 1.
- SCALE-Sim has no bias operand; accelsim's trace counts biases as weights (bias elements
  follow the weight tensor). Bias words are taken out of accelsim's figures before comparing.
- SCALE-Sim's CALC-mode read buffer forgets its contents in blocks of 50 x floor(words/100)
  distinct addresses; under os a column fold that straddles a block boundary is partly fetched
  twice (see `scalesim_runner.os_filter_dram_reads`), although it fits in the SRAM. accelsim's
  `scalesim` policy does the same (its weights are the memory model's operand B), so the raw
  reads are compared; the refetch is shown on its own column.

Run (project venv)::

    .venv/bin/python benchmarks/vs_scalesim.py                    # resnet18, ws and os
    .venv/bin/python benchmarks/vs_scalesim.py --network lenet-5 --rerun-scalesim
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import pandas as pd

from accelsim.io import atomic_path, write_text_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scalesim_runner as ssr

REPORT_DIR = ssr.REPO_ROOT / "reports" / "validation"
CYCLE_TOLERANCE_PCT = 2.0  # the goal of issue 6: compute cycles within 2% per layer


# ---------------------------------------------------------------- accelsim side

def accelsim_config(dataflow: str, rows: int = 32, cols: int = 32, sram_kb: int = 512):
    """The default accelerator with SCALE-Sim's array, dataflow, SRAM sizes and 1-byte word
    (`scalesim_runner.accelsim_config`, the translation every comparison uses)."""
    return ssr.accelsim_config(ssr.ScaleSimSetup(dataflow, rows, cols, sram_kb, sram_kb,
                                                 sram_kb))


def dense_trace(network: str, batch_size: int = 1, layers: pd.DataFrame | None = None):
    """A dense one-step trace: of a zoo network, or of a given layer table."""
    if layers is None:
        from accelsim.trace.from_model import synthetic_model_trace
        return synthetic_model_trace(network, None, batch_size=batch_size)
    from accelsim.trace.synthetic import synthetic_trace
    return synthetic_trace(layers, 0, 0, batch_size=batch_size, dense=True,
                           model={"name": network, "args": {}})


def simulate_inference(trace, config):
    from accelsim.sim.simulation import simulate
    # a dense trace needs no separate dense baseline run
    return simulate(trace, config, mode="inference", baseline=False)


def time_accelsim(trace, config, repeats: int = 3, *, heap: bool = True) -> tuple[object, dict]:
    """Run accelsim `repeats` times for the wall time and, with `heap`, once more under
    tracemalloc for the peak Python heap of the simulation (numpy's buffers included; None
    without `heap`: a check of the results alone skips that slow run)."""
    walls, cpus = [], []
    result = None
    for _ in range(max(1, repeats)):
        start, cpu = time.perf_counter(), time.process_time()
        result = simulate_inference(trace, config)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    heap_peak = None
    if heap:
        tracemalloc.start()
        try:
            simulate_inference(trace, config)
            _, heap_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    facts = {
        "wall_time_s": statistics.median(walls),
        "wall_times_s": [round(w, 4) for w in walls],
        "cpu_time_s": statistics.median(cpus),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "peak_heap_bytes": None if heap_peak is None else int(heap_peak),
        # the whole process (torch, pandas and the trace included): an upper bound
        "process_peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    return result, facts


def accelsim_per_layer(result, layers: pd.DataFrame, weight_bytes: int) -> pd.DataFrame:
    """accelsim's figures per layer: forward compute cycles, weights into the array, and
    weight DRAM reads in words over every phase of the run (load + forward)."""
    records = result.records
    if "run" in records.columns and (records["run"] == "trace").any():
        records = records[records["run"] == "trace"]
    forward = records[records["phase"] == "forward"].groupby("layer_id")
    every_phase = records.groupby("layer_id")
    out = pd.DataFrame({"layer_id": layers["layer_id"].astype(int)})
    out["accelsim_compute_cycles"] = out["layer_id"].map(forward["compute_cycles"].sum())
    out["accelsim_total_cycles"] = out["layer_id"].map(forward["total_cycles"].sum())
    out["accelsim_pe_weight_loads_words"] = out["layer_id"].map(
        forward["pe_weight_loads_count"].sum())
    dram_bytes = out["layer_id"].map(every_phase["weight_dram_bytes_read"].sum())
    out["accelsim_weight_dram_reads_words"] = dram_bytes // weight_bytes
    return out.fillna(0).astype("int64")


# ---------------------------------------------------------------- the comparison

def _error_pct(ours, theirs) -> pd.Series:
    theirs = theirs.astype(float)
    return (ours.astype(float) - theirs) / theirs.where(theirs != 0) * 100.0


def compare_layers(layers: pd.DataFrame, scalesim: pd.DataFrame, accelsim: pd.DataFrame,
                   setup: ssr.ScaleSimSetup, batch_size: int = 1) -> pd.DataFrame:
    """Side by side per layer, in execution order, like with like (see the module doc)."""
    table = layers.sort_values("exec_order", kind="stable")[
        ["layer_id", "name", "kind", "fwd_m", "fwd_n", "fwd_k", "bias_count"]].rename(
        columns={"name": "layer", "fwd_m": "m", "fwd_n": "n", "fwd_k": "k"})
    table["m"] = table["m"] * batch_size
    s = scalesim.set_index("layer")
    table["scalesim_compute_cycles_reported"] = table["layer"].map(s["compute_cycles"])
    table["scalesim_compute_cycles"] = table["scalesim_compute_cycles_reported"] + 1
    table = table.merge(accelsim, on="layer_id", how="left")
    table["compute_cycles_error_pct"] = _error_pct(table["accelsim_compute_cycles"],
                                                   table["scalesim_compute_cycles"])

    # accelsim's PE weight loads count weight-tensor elements only (biases are added after
    # the array), like SCALE-Sim's filter SRAM reads
    table["scalesim_filter_sram_reads_words"] = table["layer"].map(s["filter_sram_reads_words"])
    table["filter_sram_reads_error_pct"] = _error_pct(
        table["accelsim_pe_weight_loads_words"], table["scalesim_filter_sram_reads_words"])

    table["scalesim_filter_dram_reads_words"] = table["layer"].map(s["filter_dram_reads_words"])
    weights_no_bias = table["k"] * table["n"]
    if setup.dataflow == "os":
        refetch = [ssr.os_filter_dram_reads(k, n, m, setup.rows, setup.cols,
                                            setup.filter_sram_kb) - k * n
                   for k, n, m in zip(table["k"], table["n"], table["m"])]
    else:
        refetch = [0] * len(table)
    table["scalesim_block_refetch_words"] = refetch
    table["accelsim_weight_dram_reads_no_bias_words"] = (
        table["accelsim_weight_dram_reads_words"] - table["bias_count"])
    table["weight_dram_reads_equal"] = (table["accelsim_weight_dram_reads_no_bias_words"]
                                        == table["scalesim_filter_dram_reads_words"])
    table["dense_weight_words"] = weights_no_bias
    return table


def totals_row(table: pd.DataFrame) -> dict:
    sums = {c: int(table[c].sum()) for c in table.columns
            if c.endswith(("_cycles", "_words", "_reported")) and c not in ("m", "n", "k")}
    sums["compute_cycles_error_pct"] = float(_error_pct(
        pd.Series([sums["accelsim_compute_cycles"]]),
        pd.Series([sums["scalesim_compute_cycles"]]))[0])
    sums["filter_sram_reads_error_pct"] = float(_error_pct(
        pd.Series([sums["accelsim_pe_weight_loads_words"]]),
        pd.Series([sums["scalesim_filter_sram_reads_words"]]))[0])
    sums["max_abs_layer_compute_cycles_error_pct"] = float(
        table["compute_cycles_error_pct"].abs().max())
    sums["weight_dram_reads_equal_layers"] = int(table["weight_dram_reads_equal"].sum())
    sums["layers"] = len(table)
    return sums


def run_comparison(network: str = "resnet18", dataflows=("ws", "os"), *, rows: int = 32,
                   cols: int = 32, sram_kb: int = 512, batch_size: int = 1,
                   layers: pd.DataFrame | None = None, rerun_scalesim: bool = False,
                   repeats: int = 3, cache_dir: Path = ssr.CACHE_DIR,
                   work_dir: Path = ssr.WORK_DIR, verbose: bool = True,
                   heap: bool = True) -> dict:
    """Everything the report needs: per-dataflow layer tables, totals and timings (`heap`:
    accelsim's peak heap too, see `time_accelsim`)."""
    zoo = layers is None
    if zoo:
        layers = ssr.network_layers(network)
    build_start = time.perf_counter()
    trace = dense_trace(network, batch_size, None if zoo else layers)
    trace_build_s = time.perf_counter() - build_start
    out = {"network": network, "batch_size": batch_size, "rows": rows, "cols": cols,
           "sram_kb": sram_kb, "trace_build_s": trace_build_s, "dataflows": {},
           "repeats": repeats, "load_avg_1min": round(os.getloadavg()[0], 2),
           "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"}
    for dataflow in dataflows:
        setup = ssr.ScaleSimSetup(dataflow, rows, cols, sram_kb, sram_kb, sram_kb)
        scalesim, scalesim_facts = ssr.run_scalesim(
            network, setup, layers=None if zoo else layers, batch_size=batch_size,
            rerun=rerun_scalesim, cache_dir=cache_dir, work_dir=work_dir, verbose=verbose)
        config = accelsim_config(dataflow, rows, cols, sram_kb)
        result, accelsim_facts = time_accelsim(trace, config, repeats, heap=heap)
        accelsim = accelsim_per_layer(result, layers, config.weight_bytes)
        table = compare_layers(layers, scalesim, accelsim, setup, batch_size)
        out["dataflows"][dataflow] = {
            "table": table, "totals": totals_row(table), "scalesim": scalesim_facts,
            "accelsim": accelsim_facts,
            "speedup": scalesim_facts["wall_time_s"] / accelsim_facts["wall_time_s"],
            "cpu_speedup": (scalesim_facts["cpu_time_s"] / accelsim_facts["cpu_time_s"]
                            if scalesim_facts.get("cpu_time_s") else None),
            "side_by_side": bool(rerun_scalesim),
            "reference": reference_note(scalesim_facts, rerun_scalesim),
        }
    return out


def reference_note(facts: dict, measured_now: bool) -> str:
    """Where SCALE-Sim's time comes from: this run, or a cached run on a named machine."""
    if measured_now:
        return (f"measured in this run, just before accelsim ({platform.node()}, "
                f"{os.cpu_count()} CPUs, load {facts.get('load_avg_1min', 'n/a')})")
    load = facts.get("load_avg_1min")
    return (f"cached run of {facts.get('finished_at', '?')} on {facts.get('host', '?')} "
            f"({facts.get('cpu_count', '?')} CPUs, load "
            f"{'not recorded' if load is None else load}): not measured beside accelsim, "
            "so the ratio moves with both machines' load")


# ---------------------------------------------------------------- output

_PRINTED = [("layer", "layer"),
            ("scalesim_compute_cycles", "SCALE-Sim cycles"),
            ("accelsim_compute_cycles", "accelsim cycles"),
            ("compute_cycles_error_pct", "err %"),
            ("scalesim_filter_sram_reads_words", "SCALE-Sim filter SRAM rd"),
            ("accelsim_pe_weight_loads_words", "accelsim PE weight loads"),
            ("scalesim_filter_dram_reads_words", "SCALE-Sim filter DRAM rd"),
            ("scalesim_block_refetch_words", "of which block refetch"),
            ("accelsim_weight_dram_reads_no_bias_words", "accelsim weight DRAM rd (no bias)"),
            ("weight_dram_reads_equal", "DRAM equal (like with like)")]


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:+.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _rows_for_print(table: pd.DataFrame, totals: dict) -> list[list[str]]:
    rows = []
    for _, r in table.iterrows():
        rows.append([_fmt(r[c].item() if hasattr(r[c], "item") else r[c]) for c, _ in _PRINTED])
    total = ["TOTAL"]
    for c, _ in _PRINTED[1:]:
        if c == "weight_dram_reads_equal":
            total.append(f"{totals['weight_dram_reads_equal_layers']}/{totals['layers']}")
        else:
            total.append(_fmt(totals.get(c, "")))
    rows.append(total)
    return rows


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _gib(n: int) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.2f} GiB"
    return f"{n / 2**20:.0f} MiB" if n >= 10 * 2**20 else f"{n / 2**20:.2f} MiB"


def timing_rows(report: dict) -> list[list[str]]:
    rows = []
    for dataflow, d in report["dataflows"].items():
        s, a = d["scalesim"], d["accelsim"]
        cpu = "n/a" if d["cpu_speedup"] is None else f"{d['cpu_speedup']:,.0f}x"
        rows.append([dataflow, f"{s['wall_time_s']:.1f} s", _gib(s["peak_memory_bytes"]),
                     f"{a['wall_time_s']:.3f} s", _gib(a["peak_heap_bytes"]),
                     _gib(a["process_peak_rss_bytes"]), f"{d['speedup']:,.0f}x", cpu,
                     "this run" if d["side_by_side"] else "cached (see below)"])
    return rows


TIMING_HEADERS = ["dataflow", "SCALE-Sim wall", "SCALE-Sim peak RSS", "accelsim wall (median)",
                  "accelsim peak heap", "accelsim process peak RSS", "speed-up (wall)",
                  "speed-up (CPU)", "SCALE-Sim timed"]


def _raw_dram_lines(report: dict) -> list[str]:
    """Say plainly where the raw weight DRAM reads differ before the like-with-like step."""
    lines = []
    for dataflow, d in report["dataflows"].items():
        t = d["totals"]
        raw, ours = t["scalesim_filter_dram_reads_words"], t["accelsim_weight_dram_reads_words"]
        bias = ours - t["accelsim_weight_dram_reads_no_bias_words"]
        refetch = t["scalesim_block_refetch_words"]
        lines.append(f"- {dataflow}: SCALE-Sim reads {raw:,} filter words from DRAM "
                     f"({refetch:,} of them its buffer-block refetch, below) and accelsim "
                     f"{ours:,} weight words ({bias:,} of them biases): equal on "
                     f"{t['weight_dram_reads_equal_layers']}/{t['layers']} layers.")
    return lines


def write_reports(report: dict, report_dir: Path = REPORT_DIR) -> tuple[Path, Path]:
    network = report["network"]
    frames = []
    for dataflow, d in report["dataflows"].items():
        frame = d["table"].copy()
        frame.insert(0, "dataflow", dataflow)
        total = {"dataflow": dataflow, "layer": "TOTAL", **{
            k: v for k, v in d["totals"].items() if k in frame.columns}}
        total["weight_dram_reads_equal"] = (d["totals"]["weight_dram_reads_equal_layers"]
                                            == d["totals"]["layers"])
        frames += [frame, pd.DataFrame([total])]
    csv_path = report_dir / f"vs_scalesim_{network}.csv"
    report_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(csv_path) as tmp:
        pd.concat(frames, ignore_index=True).to_csv(tmp, index=False, float_format="%.6g")

    lines = [f"# accelsim vs SCALE-Sim v3: {network}",
             "",
             f"Dense inference forward pass, batch {report['batch_size']}, "
             f"{report['rows']}x{report['cols']} array, {report['sram_kb']} kB SRAMs "
             f"(SCALE-Sim: ifmap, filter, ofmap each; accelsim: weight SRAM "
             f"{report['sram_kb']} KiB), 1-byte words. SCALE-Sim {ssr.SCALESIM_VERSION} in "
             "CALC bandwidth mode (stall-free). Written by `benchmarks/vs_scalesim.py`; "
             "SCALE-Sim's raw per-layer figures are in `reports/validation/scalesim/`.",
             "",
             "## Totals and speed", "",
             markdown_table(["dataflow", "SCALE-Sim cycles", "accelsim cycles", "err %",
                             "max layer err %", "SCALE-Sim filter DRAM rd",
                             "accelsim weight DRAM rd (no bias)",
                             "layers with DRAM equal (like with like)"],
                            [[df, _fmt(d["totals"]["scalesim_compute_cycles"]),
                              _fmt(d["totals"]["accelsim_compute_cycles"]),
                              _fmt(d["totals"]["compute_cycles_error_pct"]),
                              _fmt(d["totals"]["max_abs_layer_compute_cycles_error_pct"]),
                              _fmt(d["totals"]["scalesim_filter_dram_reads_words"]),
                              _fmt(d["totals"]["accelsim_weight_dram_reads_no_bias_words"]),
                              f"{d['totals']['weight_dram_reads_equal_layers']}/"
                              f"{d['totals']['layers']}"]
                             for df, d in report["dataflows"].items()]),
             "",
             markdown_table(TIMING_HEADERS, timing_rows(report)),
             "",
             *_raw_dram_lines(report),
             "",
             f"accelsim wall and CPU time are the medians of its `simulate` calls (trace built "
             f"once beforehand in {report['trace_build_s']:.2f} s, torch model included; "
             f"{report['repeats']} repeats; load {report['load_avg_1min']} on "
             f"{report['machine']}); its peak heap is tracemalloc's peak during one "
             "`simulate` call; the process peak RSS includes torch. SCALE-Sim's figures are "
             "its child process's wall time, CPU time (user + system) and peak RSS. The "
             "speed-up is SCALE-Sim's time over accelsim's; on a shared machine the wall-time "
             "ratio moves with the load, the CPU-time ratio much less. SCALE-Sim's time per "
             "dataflow:",
             "",
             *[f"- {df}: {d['reference']}." for df, d in report["dataflows"].items()],
             ""]
    for dataflow, d in report["dataflows"].items():
        lines += [f"## Per layer, {dataflow}", "",
                  markdown_table([h for _, h in _PRINTED], _rows_for_print(d["table"],
                                                                           d["totals"])),
                  ""]
    lines += ["## Compared like with like", "",
              "- Cycles: SCALE-Sim's \"Total Cycles\" is the index of a layer's last cycle; "
              "its cycle count is that + 1, used above (the reported value is in the CSV).",
              "- Biases: SCALE-Sim has no bias operand; accelsim counts bias elements as "
              "weights in its DRAM traffic (not in its PE weight loads). Bias words are "
              "subtracted from accelsim's weight DRAM reads.",
              "- Filter SRAM reads = words entering the array: each weight once under ws, once "
              "per row fold (ceil(M/R)) under os.",
              "- os filter DRAM reads: SCALE-Sim's CALC-mode read buffer swaps its active half "
              "in blocks of 50 x floor(SRAM words / 100) distinct addresses, at boundaries not "
              "aligned with folds; a column fold (K x C weights, reused by ceil(M/R) row "
              "folds) that straddles a block boundary has its part before the boundary "
              "fetched again by its second row fold, although the fold alone fits in the "
              "SRAM. accelsim's `scalesim` policy reproduces it (the weights take the memory "
              "model's operand B, `accelsim.sim.mapping.scalesim`); the refetch (closed form: "
              "`scalesim_runner.os_filter_dram_reads`) is shown on its own column. Under ws "
              "every weight enters the array once, so there is none.",
              "- Input size: SCALE-Sim has no padding field and sizes its output as "
              "ceil((H - k + s) / s); the topology gives it the part of the padded input the "
              "windows cover, (out - 1) * s + k, so its output size is PyTorch's (the full "
              "padded size would add a phantom output row and column to every stride-2 layer "
              "with an odd remainder: +35,290 ws cycles on ResNet-18).",
              "- SCALE-Sim's os ofmap SRAM writes include R + C extra per fold and its ofmap "
              "DRAM writes a small write-buffer artefact; ofmap traffic is not compared here.",
              ""]
    md_path = report_dir / f"vs_scalesim_{network}.md"
    write_text_atomic(md_path, "\n".join(lines))
    return csv_path, md_path


def print_report(report: dict) -> None:
    for dataflow, d in report["dataflows"].items():
        rows = _rows_for_print(d["table"], d["totals"])
        headers = [h for _, h in _PRINTED]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        print(f"\n{report['network']} {dataflow}, {report['rows']}x{report['cols']}, "
              f"{report['sram_kb']} kB SRAMs, batch {report['batch_size']}")
        print("  ".join(h.rjust(w) for h, w in zip(headers, widths)))
        for r in rows:
            print("  ".join(v.rjust(w) for v, w in zip(r, widths)))
    print()
    widths = [max(len(h), *(len(r[i]) for r in timing_rows(report)))
              for i, h in enumerate(TIMING_HEADERS)]
    print("  ".join(h.rjust(w) for h, w in zip(TIMING_HEADERS, widths)))
    for r in timing_rows(report):
        print("  ".join(v.rjust(w) for v, w in zip(r, widths)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", default="resnet18")
    parser.add_argument("--dataflow", nargs="+", default=["ws", "os"], choices=("ws", "os"))
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--cols", type=int, default=32)
    parser.add_argument("--sram-kb", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3, help="accelsim timing runs")
    parser.add_argument("--rerun-scalesim", action="store_true",
                        help="run SCALE-Sim again, just before accelsim, instead of using its "
                             "cached result: both timed side by side in this run")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    report = run_comparison(args.network, tuple(args.dataflow), rows=args.rows, cols=args.cols,
                            sram_kb=args.sram_kb, rerun_scalesim=args.rerun_scalesim,
                            repeats=args.repeats)
    print_report(report)
    if not args.no_write:
        csv_path, md_path = write_reports(report)
        print(f"\nwrote {csv_path.relative_to(ssr.REPO_ROOT)} and "
              f"{md_path.relative_to(ssr.REPO_ROOT)}")
    ok = all(d["totals"]["max_abs_layer_compute_cycles_error_pct"] <= CYCLE_TOLERANCE_PCT
             and d["totals"]["weight_dram_reads_equal_layers"] == d["totals"]["layers"]
             for d in report["dataflows"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
