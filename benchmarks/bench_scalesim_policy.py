"""Time of the `scalesim` policy's mappings for every ResNet-18 layer and phase.

The exact replay of the input's requests (`accelsim.sim.mapping.scalesim`) against the
reuse-distance estimate it replaced (the same shapes with their window geometry dropped), in
the same process, caches cleared before each repeat; the best of `--repeats`. Writes
reports/validation/scalesim_policy_speed.csv and prints the table. Needs torch (ResNet-18's
layer table).

    .venv/bin/python benchmarks/bench_scalesim_policy.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from accelsim.io import atomic_path
from accelsim.sim.mapping import gemm, mapper

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scalesim_runner as ssr

PHASES = ("forward", "backward_data", "backward_weight")


def _shapes(exact: bool) -> list:
    layers = ssr.network_layers("resnet18")
    out = []
    for layer in layers.to_dict("records"):
        for phase in PHASES:
            shape = gemm.phase_gemm(layer, phase, 1)
            out.append(shape if exact else replace(shape, a_window=None))
    return out


def _time(shapes, dataflow: str, words: int, repeats: int) -> tuple[float, float]:
    """Best wall and CPU seconds (CPU time is less disturbed by other processes)."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        mapper.clear_cache()
        wall, cpu = time.perf_counter(), time.process_time()
        for shape in shapes:
            mapper.map_gemm(shape, 32, 32, dataflow, "scalesim", a_words=words, b_words=words)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    exact, estimate = _shapes(True), _shapes(False)
    rows = []
    for kb in (32, 128, 512):
        for dataflow in ("ws", "os", "is"):
            wall, cpu = _time(exact, dataflow, kb * 1024, args.repeats)
            wall_estimate, cpu_estimate = _time(estimate, dataflow, kb * 1024, args.repeats)
            rows.append({"sram_kb": kb, "dataflow": dataflow, "gemms": len(exact),
                         "replay_wall_s": round(wall, 4), "replay_cpu_s": round(cpu, 4),
                         "estimate_wall_s": round(wall_estimate, 4),
                         "estimate_cpu_s": round(cpu_estimate, 4),
                         "extra_cpu_s": round(cpu - cpu_estimate, 4),
                         "ratio_cpu": round(cpu / max(cpu_estimate, 1e-9), 1)})
    table = pd.DataFrame(rows)
    out = ssr.REPO_ROOT / "reports" / "validation" / "scalesim_policy_speed.csv"
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}, best of {args.repeats}; ResNet-18, 32x32 array, all phases")
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
