"""The simulator's DRAM timing modes against each other: `cached` (the default) and `exact`.

Run:  .venv/bin/python benchmarks/dram_timing_modes.py [--config NAME] [--skip-resnet]
                                                       [--modes cached exact]
Prints a table and writes benchmarks/results/dram_timing_modes.csv. Not a test.

Both time DRAM with the command-level controller (accelsim.sim.dram.controller, which matches
DRAMsim3 cycle for cycle on the parity streams): `exact` sends every burst through one live
controller; `cached` times each stream once per (length, direction, position in the burst
rotation, whether it continues the last stream) and reuses it (see accelsim/sim/dram/port.py).
The reference is `exact`.
The cases: the LeNet-300-100 sample trace (trained with DropBack; its dense baseline too), and
one ResNet-18 ImageNet training step at batch 32, dense and DropBack at 1M tracked weights.
Errors are mode / reference - 1 on the whole run's cycles and DRAM figures; the wall time is
one run each, in this process (so the ratios between modes are what to read).
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

from results_csv import write_results  # noqa: E402

from accelsim.config import load_accelerator_config  # noqa: E402
from accelsim.sim.simulation import simulate  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "dram_timing_modes.csv"
FIGURES = ("total_cycles", "dram_dynamic_energy_pj", "dram_row_hits_count",
           "dram_activates_count")


def cases(skip_resnet: bool):
    yield "LeNet-300-100 sample", ROOT / "traces" / "sample-lenet-300-100", True, None
    if skip_resnet:
        return
    from sim_speed import _trace, resnet18_layers
    layers = resnet18_layers()
    params = int(layers["param_count"].sum())
    yield "ResNet-18 step dense", _trace(layers, params, 32, dense=True), False, 32
    yield "ResNet-18 step DropBack 1M", _trace(layers, 1_000_000, 32), False, 32


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="default")
    parser.add_argument("--skip-resnet", action="store_true")
    parser.add_argument("--modes", nargs="+", default=["cached", "exact"],
                        choices=["cached", "exact"])
    args = parser.parse_args(argv)
    modes = list(args.modes)
    reference = "exact"
    if reference not in modes:
        print("skipped: `exact` (the reference) is not among the modes")
        return 0
    base = load_accelerator_config(args.config)
    rows = []
    for case, trace, baseline, batch in cases(args.skip_resnet):
        for timing in modes:
            config = dataclasses.replace(base, dram_timing=timing)
            started = time.perf_counter()
            result = simulate(trace, config, "train", baseline=baseline, batch_size=batch)
            wall = time.perf_counter() - started
            for run, rec in result.records.groupby("run", sort=True):
                row = {"case": case, "run": run, "timing": timing, "wall_s": round(wall, 3)}
                row.update({f: float(rec[f].sum()) for f in FIGURES})
                rows.append(row)
            print(f"{case:28s} {timing:7s} {wall:8.2f} s", flush=True)
    table = pd.DataFrame(rows)
    ref = table[table["timing"] == reference].set_index(["case", "run"])
    for mode in modes:
        if mode == reference:
            continue
        other = table[table["timing"] == mode].set_index(["case", "run"])
        for f in FIGURES:
            other[f"{f}_error_pct"] = 100.0 * (other[f] / ref[f] - 1.0)
        other[f"{reference}_wall_s"] = ref["wall_s"]
        print(f"\n{mode} against {reference}")
        print(other.reset_index()[["case", "run", "wall_s", f"{reference}_wall_s"]
                                  + [f"{f}_error_pct" for f in FIGURES]].to_string(
                                      index=False, float_format="%.2f"))
    write_results(table, RESULTS, ROOT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
