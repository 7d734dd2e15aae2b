"""How the simulator's cost grows with the network: LeNet-300-100 -> ResNet-18 (ImageNet) ->
WRN-28-10 (CIFAR), one training step at batch 32, dense and DropBack (1/10 of the weights
tracked; ResNet-18 at the paper's 1M), and a 12-point weight-SRAM sweep of ResNet-18.

    python benchmarks/sim_scale.py [--repeats 3] [--skip-sweep]

Reports wall time (median of repeats, same process), simulated tiles, time per tile, and peak
memory: the Python heap during the simulation (tracemalloc) and the process's peak RSS.
Prints a table and writes benchmarks/results/sim_scale.csv. Goal (issue 6): linear in tiles or
better; WRN-28-10 <= 3.5x ResNet-18's time per step.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import pandas as pd

from accelsim.app.sweep import sweep
from accelsim.io import atomic_path
from accelsim.sim.simulation import simulate
from accelsim.trace.format import save_trace
from accelsim.trace.from_model import synthetic_model_trace

RESULTS = Path(__file__).resolve().parent / "results"
CASES = [  # (label, zoo name, model args, tracked budget)
    ("LeNet-300-100", "lenet-300-100", {}, 26_661),
    ("ResNet-18 (ImageNet)", "resnet18", {}, 1_000_000),
    ("WRN-28-10 (CIFAR)", "wrn-28-10", {}, 3_647_919),
]


def _timed(fn, repeats):
    walls, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - started)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(walls), peak, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--skip-sweep", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        resnet_dir = None
        for label, name, model_args, budget in CASES:
            trace = synthetic_model_trace(name, budget, batch_size=args.batch_size, **model_args)
            path = save_trace(trace, Path(tmp) / name)
            resnet_dir = path if name == "resnet18" else resnet_dir
            for run, t in (("dense", trace.as_dense()), ("DropBack", trace)):
                wall, heap, result = _timed(
                    lambda t=t: simulate(t, "default", mode="train", baseline=False), args.repeats)
                tiles = int(result.settings.get("simulated_tiles", 0))
                rows.append({"case": f"{label} train step", "run": run,
                             "weights": trace.param_count, "tiles": tiles,
                             "wall_s": wall, "us_per_tile": 1e6 * wall / max(tiles, 1),
                             "peak_heap_mib": heap / 2 ** 20})
            if name == "resnet18":
                wall, heap, result = _timed(
                    lambda trace=trace: simulate(trace, "default", mode="inference",
                                                 baseline=True),
                    args.repeats)
                rows.append({"case": f"{label} forward (dense + DropBack)", "run": "both",
                             "weights": trace.param_count,
                             "tiles": int(result.settings.get("simulated_tiles", 0)),
                             "wall_s": wall, "us_per_tile": float("nan"),
                             "peak_heap_mib": heap / 2 ** 20})
        if not args.skip_sweep:
            sizes = [2 ** i * 64 * 1024 for i in range(12)]  # 64 KiB .. 128 MiB
            started = time.perf_counter()
            sweep(resnet_dir, "default", sram_sizes=sizes, out=Path(tmp) / "sweep", quiet=True)
            rows.append({"case": "ResNet-18 12-point SRAM sweep (train step, 2 processes)",
                         "run": "both", "weights": 11_679_912, "tiles": float("nan"),
                         "wall_s": time.perf_counter() - started, "us_per_tile": float("nan"),
                         "peak_heap_mib": float("nan")})
    table = pd.DataFrame(rows)
    step = table[table["case"].str.endswith("train step") & (table["run"] == "DropBack")]
    by_case = dict(zip(step["case"], step["wall_s"]))
    resnet = by_case.get("ResNet-18 (ImageNet) train step")
    wrn = by_case.get("WRN-28-10 (CIFAR) train step")
    pd.set_option("display.width", 160)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    if resnet and wrn:
        print(f"\nWRN-28-10 / ResNet-18 time per DropBack step: {wrn / resnet:.2f}x (goal <= 3.5x)")
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS (torch and model building included): {peak_rss:,.0f} MiB")
    RESULTS.mkdir(exist_ok=True)
    with atomic_path(RESULTS / "sim_scale.csv") as tmp:
        table.to_csv(tmp, index=False)
    print(f"written: {RESULTS / 'sim_scale.csv'}")


if __name__ == "__main__":
    main()
