"""Start-up cost of the `accelsim` command: `--help`, `simulate --help` and a small `simulate`
(the sample LeNet-300-100 trace), each against `python -c pass` measured in the same run, and
what importing every command's handler up front (the CLI before handlers were imported
lazily) would cost. Goal: `accelsim --help` within 0.2 s.

Run: ``python benchmarks/cli_startup.py [--repeats N]`` (prints a table, writes
benchmarks/results/cli_startup.csv). Wall and CPU seconds per run of a fresh interpreter
(CPU: user + system of the child); median and minimum over the repeats. Not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
TRACE = ROOT / "traces" / "sample-lenet-300-100"
HANDLERS = ("train", "trace", "simulate", "sweep", "study", "plot", "report", "dram", "demo")


def _cases(scratch: Path) -> list[tuple[str, list[str]]]:
    py = [sys.executable]
    every_handler = "; ".join(f"import accelsim.app.{name}" for name in HANDLERS)
    return [
        ("python -c pass (reference)", py + ["-c", "pass"]),
        ("accelsim --help", py + ["-m", "accelsim.cli", "--help"]),
        ("accelsim simulate --help", py + ["-m", "accelsim.cli", "simulate", "--help"]),
        ("every handler imported (the eager CLI)", py + ["-c", every_handler]),
        ("accelsim simulate <sample trace>",
         py + ["-m", "accelsim.cli", "simulate", str(TRACE), "--quiet",
               "--out", str(scratch / "sim")]),
    ]


def _run_once(argv, env) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        cases = _cases(Path(scratch))
        _run_once(cases[-1][1], env)  # warm the file cache and build the C parts once
        for name, argv in cases:
            walls, cpus = zip(*(_run_once(argv, env) for _ in range(args.repeats)))
            rows.append({"case": name, "repeats": args.repeats,
                         "wall_median_s": statistics.median(walls), "wall_min_s": min(walls),
                         "cpu_median_s": statistics.median(cpus), "cpu_min_s": min(cpus)})
    table = pd.DataFrame(rows)
    reference = table.loc[0, "cpu_median_s"]
    table["cpu_over_reference_s"] = table["cpu_median_s"] - reference
    print(f"machine: {os.cpu_count()} cores, shared and noisy; {args.repeats} repeats each\n")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "cli_startup.csv", index=False)
    print(f"\n{out / 'cli_startup.csv'}")


if __name__ == "__main__":
    main()
