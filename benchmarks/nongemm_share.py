"""What the layers between the GEMMs (BatchNorm, ReLU, pooling, residual adds, the loss) add to
a ResNet-18 step: energy, cycles and DRAM bytes with and without them, dense and DropBack at 1M
tracked weights, batch 1 and 32, training and inference, on the default accelerator.

Run: ``.venv/bin/python benchmarks/nongemm_share.py`` (prints a table, writes
benchmarks/results/nongemm_share.csv). Not a test. The layer table is the one
`benchmarks/sim_speed.py` writes by hand (equal to the torch-measured one, a test checks), with
and without its vector layers; everything else is the same simulation.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sim_speed import _trace, resnet18_layers  # noqa: E402

from accelsim.config import load_accelerator_config  # noqa: E402
from accelsim.io import atomic_path  # noqa: E402
from accelsim.sim.results import vector_records  # noqa: E402
from accelsim.sim.simulation import simulate  # noqa: E402

TRACKED = 1_000_000


def _totals(records: pd.DataFrame) -> dict:
    return {"energy_pj": float(records["energy_pj"].sum()),
            "cycles": int(records["total_cycles"].sum()),
            "dram_bytes": int(records["dram_bytes_read"].sum()
                              + records["dram_bytes_written"].sum())}


def main(argv=None):
    config = load_accelerator_config("default")
    full, gemm = resnet18_layers(), resnet18_layers(vector_layers=False)
    rows = []
    for batch in (1, 32):
        for mode in ("train", "inference"):
            with_vector = simulate(_trace(full, TRACKED, batch), config, mode, batch_size=batch)
            without = simulate(_trace(gemm, TRACKED, batch), config, mode, batch_size=batch)
            for run in ("dense", "trace"):
                a, b = with_vector.run(run), without.run(run)
                total, gemm_only = _totals(a), _totals(b)
                share = _totals(a[vector_records(a)])
                row = {"batch_size": batch, "mode": mode,
                       "run": "DropBack 1M" if run == "trace" else run}
                for key in total:
                    row[f"{key}_gemm_only"] = gemm_only[key]
                    row[f"{key}_with_vector"] = total[key]
                    row[f"{key}_added_pct"] = round(100 * (total[key] / gemm_only[key] - 1), 1)
                    row[f"{key}_vector_share_pct"] = round(100 * share[key] / total[key], 1)
                rows.append(row)
                print(f"batch {batch:2d} {mode:9s} {row['run']:11s} "
                      + "  ".join(f"{k} +{row[f'{k}_added_pct']}% (share "
                                  f"{row[f'{k}_vector_share_pct']}%)" for k in total),
                      flush=True)
        # the dense/DropBack ratio with and without them
    table = pd.DataFrame(rows)
    ratios = []
    for (batch, mode), group in table.groupby(["batch_size", "mode"], sort=False):
        dense, trace = group.iloc[0], group.iloc[1]
        ratios.append({"batch_size": batch, "mode": mode, **{
            f"dense/DropBack {key} {which}": round(dense[f"{key}_{which}"]
                                                   / trace[f"{key}_{which}"], 3)
            for key in ("energy_pj", "dram_bytes") for which in ("gemm_only", "with_vector")}})
    print(table.to_string(index=False))
    print(pd.DataFrame(ratios).to_string(index=False))
    out = ROOT / "benchmarks" / "results" / "nongemm_share.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
