"""Speed of accelsim's DRAM engine, the command-level controller (C, clock by clock), on
streams given in one call, and against DRAMsim3 when a build is given (its own process,
through the parity benchmark's driver).

Run:  .venv/bin/python benchmarks/dram_engines.py [--bursts 262144] [--repeats 3]
                                                  [--dramsim3 PATH or DRAMSIM3_DIR]
Prints a table and writes benchmarks/results/dram_engines.csv. Not a test. The time is the
best of `repeats` runs (the machine is shared).

Before the burst model was removed (issue 22) this benchmark timed both engines in one process
at 2^20 bursts, one repeat, 2-core AMD EPYC at load ~25: controller / burst model seconds,
sequential read 1.81 / 2.00 (DDR4), 1.22 / 1.05 (LPDDR4), 3.09 / 1.97 (HBM2); random with 30 %
writes 9.7 / 176, 3.8 / 141, 5.1 / 134; copy 2.9 / 179, 2.1 / 171, 1.9 / 142. Best of 3 on
sequential reads alone, one process (old model.py loaded by path): 0.75-0.81x the burst
model's speed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from results_csv import write_results  # noqa: E402

from accelsim.config import dram_preset  # noqa: E402
from accelsim.sim.dram import controller  # noqa: E402
from accelsim.sim.dram.replay import replay_trace  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "dram_engines.csv"


def patterns(config, n: int):
    bb = config.burst_bytes
    rng = np.random.default_rng(0)
    yield "sequential read", np.arange(n, dtype=np.int64) * bb, np.zeros(n, bool)
    yield "random, 30 % writes", rng.integers(0, 1 << 24, n) * bb, rng.random(n) < 0.3
    copy = np.empty(n, np.int64)
    copy[0::2] = np.arange(n // 2) * bb
    copy[1::2] = (1 << 28) + np.arange(n // 2) * bb
    yield "copy (burst-interleaved)", copy, np.tile([False, True], n // 2)


def best_of(repeats: int, run, *args, **kwargs) -> tuple[float, dict]:
    best, result = float("inf"), {}
    for _ in range(repeats):
        started = time.perf_counter()
        result = run(*args, **kwargs)
        best = min(best, time.perf_counter() - started)
    return best, result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=1 << 18)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dramsim3", help="DRAMsim3 source folder (default $DRAMSIM3_DIR)")
    args = parser.parse_args(argv)
    controller.library()  # where it cannot be built: say so (NativeError) and stop
    driver = None
    from dram_parity import build_driver, find_dramsim3, run_dramsim3
    folder = find_dramsim3(args.dramsim3)
    if folder is not None:
        driver = build_driver(folder)
    rows = []
    for preset in ("DDR4-3200", "LPDDR4-3200", "HBM2"):
        config = dram_preset(preset)
        for name, addresses, writes in patterns(config, args.bursts):
            arrival = np.zeros(addresses.size)
            row = {"preset": preset, "pattern": name, "bursts": int(addresses.size)}
            seconds, result = best_of(args.repeats, replay_trace, config, addresses, writes,
                                      arrival)
            row["command_s"] = round(seconds, 4)
            row["command_cycles"] = result["finish_cycle"]
            row["command_us_per_burst"] = round(1e6 * row["command_s"] / addresses.size, 3)
            if driver is not None:
                seconds, _ = best_of(1, run_dramsim3, driver, config, addresses, writes,
                                     arrival)
                row["dramsim3_s"] = round(seconds, 3)
            rows.append(row)
            print(row, flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    write_results(table, RESULTS, ROOT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
