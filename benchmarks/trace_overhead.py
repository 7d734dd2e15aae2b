"""Cost of trace recording: a whole `accelsim train` run (DropBack, embedded digits) with the
trace recorder on and off, in the same process, interleaved repeats; the ratio of medians.

    python benchmarks/trace_overhead.py [--repeats 5] [--epochs 10]

Prints a table and writes benchmarks/results/trace_overhead.csv. Goal: <= 1.05x.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from accelsim.io import atomic_path
from accelsim.train.loop import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results"


def _time_run(config: TrainConfig, trace: bool, root: Path) -> float:
    out = Path(tempfile.mkdtemp(dir=root))
    started = time.perf_counter()
    train(config, out, quiet=True, trace=trace)
    return time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--trace-every", type=int, default=100)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    cases = [
        ("lenet-300-100", TrainConfig(model="lenet-300-100", budget=5000, epochs=args.epochs,
                                      batch_size=32, lr=0.1, momentum=0.9,
                                      trace_every=args.trace_every)),
        ("lenet-5", TrainConfig(model="lenet-5", budget=2000, epochs=max(1, args.epochs // 5),
                                batch_size=32, lr=0.05, momentum=0.9,
                                trace_every=args.trace_every)),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, config in cases:
            _time_run(config, True, root)  # warm-up: imports, allocator, caches
            on, off = [], []
            for _ in range(args.repeats):  # interleaved, so drift hits both alike
                off.append(_time_run(config, False, root))
                on.append(_time_run(config, True, root))
            rows.append({"model": name, "epochs": config.epochs, "repeats": args.repeats,
                         "median_s_without_trace": statistics.median(off),
                         "median_s_with_trace": statistics.median(on),
                         "ratio_with_over_without": statistics.median(on) / statistics.median(off)})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    RESULTS.mkdir(exist_ok=True)
    with atomic_path(RESULTS / "trace_overhead.csv") as tmp:
        table.to_csv(tmp, index=False)
    print(f"\nwritten: {RESULTS / 'trace_overhead.csv'}")


if __name__ == "__main__":
    main()
