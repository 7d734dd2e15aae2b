"""Whole-run figures of the simulator under each DRAM timing mode, for comparing one version of
the DRAM engine with another: total cycles, DRAM dynamic energy, activates and row hits.

Run:  .venv/bin/python benchmarks/dram_engine_figures.py [--modes cached exact] [--out F.json]
Prints a table and writes benchmarks/results/dram_engine_figures.json (or --out). Not a test.
The cases: the LeNet-300-100 sample trace (the one `accelsim demo` writes; DropBack and its
dense baseline), ResNet-18 ImageNet synthetic traces (DropBack 1M tracked weights) at batch 1
and 32, on the default accelerator. Deterministic: the figures do not depend on the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from accelsim.config import load_accelerator_config  # noqa: E402
from accelsim.io import atomic_path  # noqa: E402
from accelsim.sim.simulation import simulate  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "dram_engine_figures.json"
FIGURES = ("total_cycles", "dram_dynamic_energy_pj", "dram_activates_count",
           "dram_row_hits_count", "dram_bursts_count")


def cases():
    yield "LeNet-300-100 sample", ROOT / "traces" / "sample-lenet-300-100", True, None
    from sim_speed import _trace, resnet18_layers
    layers = resnet18_layers()
    for batch in (1, 32):
        yield f"ResNet-18 DropBack 1M b{batch}", _trace(layers, 1_000_000, batch), False, batch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["cached", "exact"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    base = load_accelerator_config("default")
    rows = []
    for case, trace, baseline, batch in cases():
        for timing in args.modes:
            config = dataclasses.replace(base, dram_timing=timing)
            started = time.perf_counter()
            result = simulate(trace, config, "train", baseline=baseline, batch_size=batch)
            wall = time.perf_counter() - started
            for run, rec in result.records.groupby("run", sort=True):
                row = {"case": case, "run": run, "timing": timing, "wall_s": round(wall, 3)}
                row.update({f: float(rec[f].sum()) for f in FIGURES})
                rows.append(row)
                print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        Path(tmp).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
