"""What a training step costs, dense against DropBack: the README's headline cases on the
synthetic ResNet-18 (ImageNet) trace at 1M tracked weights, default accelerator, batch 1 and
32, training (plain SGD, momentum, Adam) and inference.

    python benchmarks/sim_training_step.py [--config default] [--optimizers sgd momentum adam]
        [--set KEY=VALUE ...] [--out CSV]

Prints one row per (case, run) with energy, DRAM traffic by operand, cycles and the
dense / DropBack ratios, and writes benchmarks/results/sim_training_step.csv. Not a test. On a
tree whose `simulate` has no ``optimizer`` argument (before issue 20) every training case is
the same run (no optimizer state); the rows say so (optimizer "n/a").
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from sim_speed import _trace, resnet18_layers  # noqa: E402

from accelsim.config import load_accelerator_config  # noqa: E402
from accelsim.io import atomic_path  # noqa: E402
from accelsim.sim.simulation import simulate  # noqa: E402

SUMMED = ("energy_pj", "total_cycles", "dram_bytes_read", "dram_bytes_written",
          "weight_dram_bytes_read", "weight_dram_bytes_written", "activation_dram_bytes_read",
          "activation_dram_bytes_written", "optimizer_state_dram_bytes_read",
          "optimizer_state_dram_bytes_written", "pe_movement_energy_pj", "dram_energy_pj",
          "sram_dynamic_energy_pj", "optimizer_energy_pj", "vector_energy_pj")


def _totals(result) -> dict:
    out = {}
    for run, frame in result.records.groupby("run"):
        out[run] = {c: float(frame[c].sum()) for c in SUMMED if c in frame}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="default")
    parser.add_argument("--optimizers", nargs="+", default=["sgd", "momentum", "adam"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"
                                             / "sim_training_step.csv"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override, e.g. vector.fuse_into_output_write=true")
    args = parser.parse_args(argv)
    overrides = {key: yaml.safe_load(value)
                 for key, value in (item.split("=", 1) for item in args.set)}
    config = load_accelerator_config(args.config, overrides or None)
    has_optimizer = "optimizer" in inspect.signature(simulate).parameters
    trace = _trace(resnet18_layers(), 1_000_000, 1)
    rows = []
    for batch in (1, 32):
        cases = [("train", o) for o in args.optimizers] + [("inference", None)]
        for mode, optimizer in cases:
            extra = {"optimizer": optimizer} if (has_optimizer and optimizer) else {}
            t = time.perf_counter()
            result = simulate(trace, config, mode, batch_size=batch, **extra)
            wall = time.perf_counter() - t
            totals = _totals(result)
            for run in ("dense", "trace"):
                row = {"batch_size": batch, "mode": mode,
                       "optimizer": optimizer if has_optimizer else "n/a", "run": run,
                       "wall_s": round(wall, 2), **totals[run]}
                row["dram_bytes"] = row["dram_bytes_read"] + row["dram_bytes_written"]
                rows.append(row)
            d, tr = totals["dense"], totals["trace"]
            dram = [t_["dram_bytes_read"] + t_["dram_bytes_written"] for t_ in (d, tr)]
            print(f"batch {batch:2d} {mode:9s} {optimizer!s:8s} energy dense "
                  f"{d['energy_pj'] / 1e12:.4f} J DropBack {tr['energy_pj'] / 1e12:.4f} J "
                  f"(x{d['energy_pj'] / tr['energy_pj']:.4f}); DRAM {dram[0] / 1e6:.1f} / "
                  f"{dram[1] / 1e6:.1f} MB (x{dram[0] / dram[1]:.3f}); {wall:.1f} s",
                  flush=True)
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
