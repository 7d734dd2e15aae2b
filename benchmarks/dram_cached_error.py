"""The error of `cached` DRAM timing against `exact` (every request through the one live
controller), for every DRAM preset and several address mappings, on whole simulations.

Run:  .venv/bin/python benchmarks/dram_cached_error.py [--skip-resnet] [--report]
Prints a table and writes benchmarks/results/dram_cached_error.csv (with --report also
reports/validation/dram_cached_error.md). Not a test. The figures are deterministic (the same
on any machine); error = cached / exact - 1 on the whole run, against `exact` with the
preset's `outstanding_requests` (32: requests waiting at the port served together) and with
one request at a time (`exact1`: each request served before the next, as cached timing
strings its streams).
Cases: the LeNet-300-100 sample trace (DropBack run and dense baseline) and a ResNet-18
ImageNet training step, batch 1, DropBack at 1M tracked weights (synthetic trace).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from accelsim.config import load_accelerator_config  # noqa: E402
from accelsim.config.dram import DRAM_PRESETS, dram_preset  # noqa: E402
from accelsim.io import atomic_path, write_text_atomic  # noqa: E402
from accelsim.sim.simulation import simulate  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "dram_cached_error.csv"
REPORT = ROOT / "reports" / "validation" / "dram_cached_error.md"
SHORT = {"total_cycles": "cycles", "dram_dynamic_energy_pj": "DRAM energy",
         "dram_activates_count": "activates", "dram_row_hits_count": "row hits"}
FIGURES = ("total_cycles", "dram_dynamic_energy_pj", "dram_activates_count",
           "dram_row_hits_count")
# the presets' own (column above bank group) and DRAMsim3's stock column-low style
MAPPINGS = ("RoRaBaCoBgCh", "RoBaBgCoRaCh", "RoCoBaBgRaCh")


def cases(skip_resnet: bool):
    yield "LeNet sample", ROOT / "traces" / "sample-lenet-300-100", True, None
    if skip_resnet:
        return
    from sim_speed import _trace, resnet18_layers
    yield "ResNet-18 b1", _trace(resnet18_layers(), 1_000_000, 1), False, 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-resnet", action="store_true")
    parser.add_argument("--report", action="store_true", help=f"also write {REPORT.name}")
    args = parser.parse_args(argv)
    base = load_accelerator_config("default")
    rows = []
    for case, trace, baseline, batch in cases(args.skip_resnet):
        for preset in DRAM_PRESETS:
            for mapping in MAPPINGS:
                dram = dram_preset(preset, address_mapping=mapping)
                figures = {}
                for timing in ("cached", "exact", "exact1"):
                    config = dataclasses.replace(
                        base, dram_timing=timing.rstrip("1"),
                        dram=dataclasses.replace(dram, outstanding_requests=1)
                        if timing == "exact1" else dram)
                    result = simulate(trace, config, "train", baseline=baseline,
                                      batch_size=batch)
                    figures[timing] = result.records.groupby("run")[list(FIGURES)].sum()
                for run in figures["exact"].index:
                    row = {"case": case, "run": run, "preset": preset, "mapping": mapping}
                    for reference in ("exact", "exact1"):
                        for f in FIGURES:
                            e = figures[reference].loc[run, f]
                            c = figures["cached"].loc[run, f]
                            row[f"{f}_vs_{reference}_pct"] = 100.0 * (c / e - 1.0) if e else 0.0
                    rows.append(row)
                    print(" ".join(f"{v:+.2f}" if isinstance(v, float) else str(v)
                                   for v in row.values()), flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format="%+.2f"))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(RESULTS) as tmp:
        table.to_csv(tmp, index=False)
    if args.report:
        write_text_atomic(REPORT, with_table(REPORT, markdown(table)))
    return 0


def markdown(table) -> str:
    """The table as markdown: error against `exact`, each figure; activates also against one
    request at a time; a last row with the largest error of each column."""
    columns = [f"{f}_vs_exact_pct" for f in FIGURES] + ["dram_activates_count_vs_exact1_pct"]
    header = (["case", "run", "DRAM", "mapping"] + [SHORT[f] for f in FIGURES]
              + ["activates vs one at a time"])
    lines = ["| " + " | ".join(header) + " |", "|---|---|---|---|" + "---:|" * len(columns)]
    for _, r in table.iterrows():
        lines.append("| " + " | ".join([r["case"], r["run"], r["preset"], r["mapping"]]
                                       + [f"{r[c]:+.2f}%" for c in columns]) + " |")
    worst = [table[c][table[c].abs().idxmax()] for c in columns]
    lines.append("| **worst** | | | | " + " | ".join(f"**{w:+.2f}%**" for w in worst) + " |")
    return "\n".join(lines) + "\n"


def with_table(report: Path, table: str) -> str:
    """The report's text with its table (from the line starting "| case |" to the one
    starting "| **worst**") replaced, the prose kept; without one, the table appended."""
    text = report.read_text() if report.exists() else ""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("| case |")), None)
    end = next((i for i, line in enumerate(lines) if line.startswith("| **worst**")), None)
    if start is None or end is None or end < start:
        return text + ("\n" if text else "") + table
    return "".join(lines[:start]) + table + "".join(lines[end + 1:])


if __name__ == "__main__":
    raise SystemExit(main())
