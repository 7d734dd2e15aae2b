"""How long `accelsim study` takes on LeNet-300-100 / MNIST, and how it scales with processes.

The full study (budgets dense,4x,10x,25x x methods dropback,dropback-decay,gmp x 3 seeds,
20 epochs: 30 training runs) takes hours on a small machine, so this measures a reduced one
(--epochs, --seeds) once per --jobs value, in a fresh folder each, and extrapolates: each
run's training time per epoch (history.csv wall_seconds) times the full epochs, plus its
fixed part (everything else of that run: loading, evaluation, trace, simulation), times the
seeds; divided by the measured speed-up of the jobs. The reduced runs record a snapshot
every 100 * epochs / 20 steps, as many snapshots as a full run, so the tracing and
simulation part is measured at full size. An estimate, stated as one.

Data: the real MNIST files from --data-dir, or, without one, random images of MNIST's shapes
(60,000 + 10,000 of 28x28): the time of a step does not depend on the pixel values, but the
accuracies of such a run mean nothing.

    python benchmarks/study_time.py --jobs 1,2 --epochs 1 --seeds 0
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from accelsim.io import atomic_path

RESULTS_CSV = Path(__file__).parent / "results" / "study_time.csv"
FULL_EPOCHS, FULL_SEEDS = 20, 3
TRACE_EVERY = 100  # accelsim train's default snapshot interval, in steps
STUDY_TIMEOUT_S = 3600


def write_random_mnist(folder: Path) -> Path:
    """IDX files of MNIST's shapes with random pixels and labels (see the module docstring)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for name, shape, high in (("train-images-idx3-ubyte", (60_000, 28, 28), 256),
                              ("train-labels-idx1-ubyte", (60_000,), 10),
                              ("t10k-images-idx3-ubyte", (10_000, 28, 28), 256),
                              ("t10k-labels-idx1-ubyte", (10_000,), 10)):
        array = rng.integers(0, high, shape).astype(np.uint8)
        header = bytes([0, 0, 8, array.ndim]) + b"".join(
            int(d).to_bytes(4, "big") for d in array.shape)
        (folder / name).write_bytes(header + array.tobytes())
    return folder


def run_study(out: Path, data_dir: Path, epochs: int, seeds: list[int], jobs: int) -> dict:
    """One `accelsim study` in its own process, as a user runs it; its wall time and the
    training seconds its runs' histories record."""
    # as many trace snapshots as a full run records (one per TRACE_EVERY steps), so that the
    # tracing and simulation part is that of the full study, not a twentieth of it
    trace_every = max(1, TRACE_EVERY * epochs // FULL_EPOCHS)
    # `accelsim study` has no --trace-every, so the same call through its Python function
    settings = {"dataset": "mnist", "data_dir": str(data_dir), "seeds": seeds, "jobs": jobs,
                "quiet": True, "train_settings": {"epochs": epochs, "device": "cpu",
                                                  "trace_every": trace_every}}
    command = [sys.executable, "-c", "import json, sys; from accelsim.app.study import study; "
               "study(sys.argv[1], **json.loads(sys.argv[2]))", str(out), json.dumps(settings)]
    start = time.perf_counter()
    subprocess.run(command, check=True, timeout=STUDY_TIMEOUT_S)
    wall = time.perf_counter() - start
    runs = sorted((out / "runs").iterdir())
    train_epoch_s = [pd.read_csv(r / "history.csv")["wall_seconds"].sum() / epochs
                     for r in runs]
    return {"wall_s": wall, "runs": len(runs), "train_s": sum(train_epoch_s) * epochs,
            "train_per_epoch_s": sum(train_epoch_s)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="1,2", help="comma-separated process counts")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--data-dir", type=Path, help="real MNIST files (default: random)")
    parser.add_argument("--out", type=Path, default=RESULTS_CSV)
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        data_dir = args.data_dir or write_random_mnist(Path(work) / "mnist")
        for jobs in (int(j) for j in args.jobs.split(",")):
            measured = run_study(Path(work) / f"study-j{jobs}", data_dir, args.epochs, seeds,
                                 jobs)
            # per process-second: training scales with epochs, the rest does not
            fixed_s = measured["wall_s"] * jobs - measured["train_s"] if jobs == 1 else None
            rows.append({"jobs": jobs, "epochs": args.epochs, "seeds": len(seeds),
                         "runs": measured["runs"], "wall_s": round(measured["wall_s"], 1),
                         "train_s_all_runs": round(measured["train_s"], 1),
                         "train_per_epoch_s_all_runs": round(measured["train_per_epoch_s"], 1),
                         "fixed_s_all_runs": None if fixed_s is None else round(fixed_s, 1),
                         "data": "real" if args.data_dir else "random",
                         "load_1min": round(os.getloadavg()[0], 2), "cores": os.cpu_count()})
    one = rows[0]
    scale = FULL_SEEDS / one["seeds"]
    full_one_s = scale * (one["train_per_epoch_s_all_runs"] * FULL_EPOCHS
                          + one["fixed_s_all_runs"])
    for row in rows:
        speedup = one["wall_s"] / row["wall_s"]
        row["speedup_vs_1"] = round(speedup, 2)
        row["full_study_estimate_min"] = round(full_one_s / speedup / 60, 1)
    header = (f"{'jobs':>4s} {'runs':>4s} {'epochs':>6s} {'wall s':>8s} {'train s':>8s} "
              f"{'speed-up':>8s} {'full study, est. min':>20s}")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['jobs']:4d} {row['runs']:4d} {row['epochs']:6d} {row['wall_s']:8.1f} "
              f"{row['train_s_all_runs']:8.1f} {row['speedup_vs_1']:8.2f} "
              f"{row['full_study_estimate_min']:20.1f}")
    print(f"full study: {FULL_SEEDS} seeds x {FULL_EPOCHS} epochs, {one['runs'] * scale:.0f} "
          f"runs; data {rows[0]['data']}; load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} cores")
    with atomic_path(args.out) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
