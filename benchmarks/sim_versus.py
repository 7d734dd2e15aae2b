"""The 100-snapshot simulation (benchmarks/sim_snapshots.py) in an older source tree and in
this one, alternately, so that both see the same machine load: the ratio is the figure to
trust on a shared, noisy machine; the wall times are what each run took.

    python benchmarks/sim_versus.py --old ../older-tree [--repeats 3] [--snapshots 100]

Each run is a fresh process (the tree's folder first on PYTHONPATH) that builds the trace with
the tree's own benchmarks/sim_snapshots.py and times `simulate` as that script does (default
accelerator, training, no dense baseline), in wall and CPU seconds; the trace build is not
timed. Prints every run, then per tree the best and the median, and the new/old ratios of the
medians; writes benchmarks/results/sim_versus.csv. Not a test. On the project's shared 2-core
AMD EPYC one run's time moves by up to a third with the other jobs (CPU time with it: they
share the cores' caches), so compare the trees only within one command; figures measured with
it are in sim_snapshots.py's docstring.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from results_csv import write_results  # noqa: E402

# the child: sim_snapshots.py's simulation, timed in wall and CPU seconds (the CPU time is
# less sensitive to the other jobs on a shared machine)
_CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
import sim_snapshots
from accelsim.config import load_accelerator_config
from accelsim.sim.simulation import simulate
trace = sim_snapshots.snapshot_trace(int(sys.argv[2]), 10, 1_000_000, 1)
config = load_accelerator_config("default")
wall, cpu = time.perf_counter(), time.process_time()
simulate(trace, config, "train", baseline=False)
print(time.perf_counter() - wall, time.process_time() - cpu)
"""


def run_once(tree: Path, snapshots: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the 100-snapshot simulation of sim_snapshots.py in `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", _CHILD, str(tree / "benchmarks"),
                          str(snapshots)], env=env, check=True, capture_output=True,
                         text=True).stdout
    wall, cpu = out.split()[-2:]
    return float(wall), float(cpu)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="the older source tree (its root folder)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--snapshots", type=int, default=100)
    args = parser.parse_args(argv)
    trees = {"old": Path(args.old).resolve(), "new": ROOT}
    rows = []
    for repeat in range(args.repeats):
        for label, tree in trees.items():
            wall, cpu = run_once(tree, args.snapshots)
            rows.append({"tree": label, "repeat": repeat, "wall_s": wall, "cpu_s": cpu})
            print(f"{label} repeat {repeat}: {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    table = pd.DataFrame(rows)
    by_tree = table.groupby("tree")[["wall_s", "cpu_s"]]
    summary = pd.concat({"best": by_tree.min(), "median": by_tree.median()}, axis=1)
    print(summary.to_string())
    for column in ("wall_s", "cpu_s"):
        median = summary["median"][column]
        print(f"new / old, median {column}: {median['new'] / median['old']:.3f} "
              f"({args.repeats} repeats each, alternating, {args.snapshots} snapshots)")
    write_results(table, ROOT / "benchmarks" / "results" / "sim_versus.csv", ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
