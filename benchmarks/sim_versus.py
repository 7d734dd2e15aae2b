"""The 100-snapshot simulation (benchmarks/sim_snapshots.py) in an older source tree and in
this one, alternately, so that both see the same machine load: the ratio is the figure to
trust on a shared, noisy machine; the wall times are what each run took.

    python benchmarks/sim_versus.py --old ../older-tree [--repeats 3] [--snapshots 100]

Each run is a fresh process running the tree's own benchmarks/sim_snapshots.py (its folder
first on PYTHONPATH); the simulation's wall time is read from its output (the trace build is
not timed). Prints a table (every run, then per tree the best and the median) and the
new/old ratio of the medians; writes benchmarks/results/sim_versus.csv. Not a test.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from results_csv import write_results  # noqa: E402

_WALL = re.compile(r"simulated in ([0-9.]+) s")


def run_once(tree: Path, snapshots: int) -> float:
    """Simulation seconds of one sim_snapshots.py run in `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, str(tree / "benchmarks" / "sim_snapshots.py"),
                          "--snapshots", str(snapshots)], env=env, check=True,
                         capture_output=True, text=True).stdout
    found = _WALL.search(out)
    if found is None:
        raise SystemExit(f"{tree}: no 'simulated in ... s' in sim_snapshots.py's output: {out}")
    return float(found.group(1))


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
            wall = run_once(tree, args.snapshots)
            rows.append({"tree": label, "repeat": repeat, "wall_s": wall})
            print(f"{label} repeat {repeat}: {wall:.2f} s", flush=True)
    table = pd.DataFrame(rows)
    medians = table.groupby("tree")["wall_s"].median()
    best = table.groupby("tree")["wall_s"].min()
    print(pd.DataFrame({"best_s": best, "median_s": medians}).to_string())
    print(f"new / old (medians): {medians['new'] / medians['old']:.3f} "
          f"({args.repeats} repeats each, alternating, {args.snapshots} snapshots)")
    write_results(table, ROOT / "benchmarks" / "results" / "sim_versus.csv", ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
