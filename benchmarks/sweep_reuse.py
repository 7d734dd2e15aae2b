"""What a sweep spends besides simulating: reading and checking the trace and the base config
for every point (before) against once per worker process (now), measured in one process on
the same points, alternating the order per repeat.

Run: ``python benchmarks/sweep_reuse.py [--repeats N] [--points P]`` (prints a table, writes
benchmarks/results/sweep_reuse.csv). One local worker (`jobs=1`, so the points run in this
process and the cache is the one a worker holds), the sample LeNet-300-100 trace, P weight
SRAM sizes, a fresh sweep folder each time (no point reused). Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import accelsim.app.sweep as sweep_module  # noqa: E402
from accelsim.config import load_accelerator_config  # noqa: E402
from accelsim.trace.format import load_trace  # noqa: E402

TRACE = ROOT / "traces" / "sample-lenet-300-100"


def _once(reuse: bool, sizes: list[int], scratch: Path) -> float:
    real_trace, real_config = sweep_module._trace_once, sweep_module._config_once
    if not reuse:  # as before: every point reads and checks both again
        sweep_module._trace_once = load_trace
        sweep_module._config_once = load_accelerator_config
    sweep_module._worker_traces.clear()
    sweep_module._worker_configs.clear()
    try:
        started = time.process_time()
        sweep_module.sweep(str(TRACE), "default", sram_sizes=sizes, jobs=1, quiet=True,
                           out=scratch / f"sweep-{reuse}-{time.perf_counter_ns()}")
        return time.process_time() - started
    finally:
        sweep_module._trace_once, sweep_module._config_once = real_trace, real_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--points", type=int, default=8)
    args = parser.parse_args()
    sizes = [4096 * 2 ** i for i in range(args.points)]
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as scratch:
        _once(True, sizes[:1], Path(scratch))  # warm: imports, the C parts
        for repeat in range(args.repeats):
            for reuse in ((True, False) if repeat % 2 == 0 else (False, True)):
                times[reuse].append(_once(reuse, sizes, Path(scratch)))
    rows = [{"case": "read per point (before)" if not reuse else "read once per worker (now)",
             "points": args.points, "repeats": args.repeats,
             "cpu_median_s": statistics.median(times[reuse]), "cpu_min_s": min(times[reuse]),
             "cpu_per_point_ms": statistics.median(times[reuse]) / args.points * 1e3}
            for reuse in (False, True)]
    table = pd.DataFrame(rows)
    saved = 1 - table.loc[1, "cpu_median_s"] / table.loc[0, "cpu_median_s"]
    print(f"machine: {os.cpu_count()} cores, shared and noisy; {args.repeats} repeats, "
          "CPU seconds of this process\n")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nreading once saves {saved * 100:.0f}% of the sweep's CPU time")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "sweep_reuse.csv", index=False)


if __name__ == "__main__":
    main()
