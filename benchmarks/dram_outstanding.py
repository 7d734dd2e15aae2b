"""`exact` DRAM timing with several requests outstanding at the port, against one at a time.

Run:  .venv/bin/python benchmarks/dram_outstanding.py [--skip-resnet]
Prints a table and writes benchmarks/results/dram_outstanding.csv. Not a test; the figures
are deterministic (the same on any machine), the wall times one run each in this process.

Whole simulations (`simulate`, `dram_timing: exact`) with the DRAM config's
`outstanding_requests` = 1 (one request at a time, each served before the next is taken),
4 and 32 (the presets' default): every request waiting at the port when it takes work goes to
the controller with it, up to that many (accelsim.sim.dram.port). Change = N / (N = 1) - 1 on
the whole run. Cases: the LeNet-300-100 sample trace (DropBack run and dense baseline) and a
ResNet-18 ImageNet training step at batch 1 (DropBack, 1M tracked weights, synthetic trace),
for every DRAM preset (its accelerator config, as benchmarks/dram_parity.py uses).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from dram_cached_error import cases  # noqa: E402  (the same LeNet and ResNet-18 runs)
from dram_parity import ACCEL_CONFIG  # noqa: E402
from results_csv import write_results  # noqa: E402

from accelsim.config import load_accelerator_config  # noqa: E402
from accelsim.config.dram import DRAM_PRESETS  # noqa: E402
from accelsim.sim.simulation import simulate  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "dram_outstanding.csv"
LIMITS = (1, 4, 32)
FIGURES = ("total_cycles", "dram_activates_count", "dram_row_hits_count")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-resnet", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for case, trace, baseline, batch in cases(args.skip_resnet):
        for preset in DRAM_PRESETS:
            base = load_accelerator_config(ACCEL_CONFIG[preset])
            figures, walls = {}, {}
            for limit in LIMITS:
                config = dataclasses.replace(
                    base, dram_timing="exact",
                    dram=dataclasses.replace(base.dram, outstanding_requests=limit))
                started = time.perf_counter()
                result = simulate(trace, config, "train", baseline=baseline, batch_size=batch)
                walls[limit] = time.perf_counter() - started
                figures[limit] = result.records.groupby("run")[list(FIGURES)].sum()
            for run in figures[1].index:
                row = {"case": case, "run": run, "preset": preset}
                for limit in LIMITS:
                    row[f"n{limit}_wall_s"] = round(walls[limit], 2)
                    for f in FIGURES:
                        value = float(figures[limit].loc[run, f])
                        row[f"n{limit}_{f}"] = value
                        if limit > 1:
                            one = float(figures[1].loc[run, f])
                            row[f"n{limit}_{f}_change_pct"] = (100.0 * (value / one - 1.0)
                                                               if one else 0.0)
                rows.append(row)
                print(case, run, preset, " ".join(
                    f"{k}={v:+.3f}" for k, v in row.items() if k.endswith("_pct")), flush=True)
    table = pd.DataFrame(rows)
    shown = ["case", "run", "preset"] + [c for c in table.columns if c.endswith("_pct")]
    print(table[shown].to_string(index=False, float_format="%+.3f"))
    write_results(table, RESULTS, ROOT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
