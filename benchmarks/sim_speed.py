"""Speed of the simulator core: one ResNet-18 ImageNet training step (batch 32), dense and
DropBack at 1M tracked weights, on the default 32x32 accelerator, with its layers between the
GEMMs (and once without them); the forward pass alone; and how the wall time grows with the
number of weights and with the batch size.

Run: ``.venv/bin/python benchmarks/sim_speed.py`` (prints a table, writes
benchmarks/results/sim_speed.csv). Not a test. Torch is not needed: ResNet-18's layer table is
written out by hand below from torchvision's architecture (tests/trace/test_trace_layers.py
checks it against the table measured from the torch model).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accelsim.config import load_accelerator_config  # noqa: E402
from accelsim.io import atomic_path  # noqa: E402
from accelsim.sim.simulation import simulate  # noqa: E402
from accelsim.trace.geometry import (  # noqa: E402
    add_layer,
    batchnorm_layer,
    conv2d_layer,
    flatten_layer,
    layer_table,
    linear_layer,
    loss_layer,
    pool_layer,
    relu_layer,
)
from accelsim.trace.synthetic import synthetic_trace  # noqa: E402

GENERATOR = {"id": "benchmark", "version": 1}


def resnet18_layers(width: int = 64, image: int = 224, classes: int = 1000,
                    vector_layers: bool = True) -> pd.DataFrame:
    """accelsim.models' resnet18 (torchvision's) layers in execution order: the conv and fc
    layers (ids in registration order) and, with `vector_layers`, the BatchNorm, ReLU,
    pooling, residual-add, flatten and loss layers (ids after the GEMMs', as a trace holds
    them); `width` scales the channel counts (64 for the real network), for the growth
    study."""
    order: list[dict] = []  # rows in execution order
    registered: list[str] = []  # GEMM layer names in registration order (their ids)

    def conv(name, in_shape, out_c, k, s, p):
        order.append(conv2d_layer(-1, name, in_shape, out_c, k, stride=s, padding=p))
        return tuple(order[-1]["out_shape"])

    def vector(build, name, *args):
        if vector_layers:
            order.append(build(-1, name, *args))

    shape = conv("conv1", (3, image, image), width, 7, 2, 3)
    registered.append("conv1")
    vector(batchnorm_layer, "bn1", shape)
    vector(relu_layer, "relu", shape)
    pooled = pool_layer(-1, "maxpool", shape, "max", 3, 2, 1)
    vector(lambda *_: pooled, "maxpool")
    shape = tuple(pooled["out_shape"])
    for stage, (mult, stride) in enumerate(((1, 1), (2, 2), (4, 2), (8, 2)), start=1):
        out_c = width * mult
        for block in range(2):
            s = stride if block == 0 else 1
            prefix = f"layer{stage}.{block}"
            registered += [f"{prefix}.conv1", f"{prefix}.conv2"]
            # the shortcut runs first (accelsim.models.BasicBlock) but is registered last
            if block == 0 and (s != 1 or shape[0] != out_c):
                registered.append(f"{prefix}.downsample.0")
                down = conv(f"{prefix}.downsample.0", shape, out_c, 1, s, 0)
                vector(batchnorm_layer, f"{prefix}.downsample.1", down)
            mid = conv(f"{prefix}.conv1", shape, out_c, 3, s, 1)
            vector(batchnorm_layer, f"{prefix}.bn1", mid)
            vector(relu_layer, f"{prefix}.relu", mid)
            out = conv(f"{prefix}.conv2", mid, out_c, 3, 1, 1)
            vector(batchnorm_layer, f"{prefix}.bn2", out)
            vector(add_layer, f"{prefix}.add", out)
            vector(relu_layer, f"{prefix}.relu:1", out)
            shape = out
    vector(pool_layer, "avgpool", shape, "avg", shape[1:], shape[1:])
    vector(flatten_layer, "flatten", (shape[0], 1, 1))
    order.append(linear_layer(-1, "fc", shape[0], classes))
    registered.append("fc")
    vector(loss_layer, "loss", classes)
    ids = {name: i for i, name in enumerate(registered)}
    next_id = len(registered)
    for position, row in enumerate(order):
        row["exec_order"] = position
        if row["name"] in ids:
            row["layer_id"] = ids[row["name"]]
        else:
            row["layer_id"] = next_id
            next_id += 1
    return layer_table(order)


def _trace(layers, budget, batch, dense=False):
    return synthetic_trace(layers, budget, seed=0, batch_size=batch, dense=dense,
                           generator=GENERATOR, model={"name": "resnet18", "args": {}})


def _time(fn, repeat=1):
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - t
        best = elapsed if best is None else min(best, elapsed)
    return best, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="default")
    parser.add_argument("--quick", action="store_true", help="skip the growth study")
    parser.add_argument("--optimizer", default=None,
                        help="optimizer state to charge (default: the trace's, none)")
    args = parser.parse_args(argv)
    config = load_accelerator_config(args.config)
    layers = resnet18_layers()
    params = int(layers["param_count"].sum())
    rows = []

    def run(case, trace, mode="train", batch=32, **extra):
        state = {} if args.optimizer is None else {"optimizer": args.optimizer}
        wall, result = _time(lambda: simulate(trace, config, mode, baseline=False,
                                              batch_size=batch, **state))
        rec = result.records
        rows.append({"case": case, "mode": mode, "batch_size": batch,
                     "param_count": int(trace.param_count),
                     "tracked_count": int(trace.budget_tracked_count),
                     "wall_s": round(wall, 3),
                     "tiles": result.settings["simulated_tiles"],
                     "us_per_tile": round(wall / result.settings["simulated_tiles"] * 1e6, 1),
                     "total_cycles": int(rec["total_cycles"].sum()),
                     "weight_dram_bytes": int(rec["weight_dram_bytes_read"].sum()
                                              + rec["weight_dram_bytes_written"].sum()),
                     "energy_pj": float(rec["energy_pj"].sum()), **extra})
        print(f"{case:40s} {mode:9s} batch {batch:3d}  {wall:7.3f} s", flush=True)

    dense = _trace(layers, params, 32, dense=True)
    dropback = _trace(layers, 1_000_000, 32)
    run("resnet18 dense", dense)
    run("resnet18 dropback 1M", dropback)
    run("resnet18 dense", dense, mode="inference")
    run("resnet18 dropback 1M", dropback, mode="inference")
    run("resnet18 dense", dense, mode="inference", batch=1)
    gemm_only = resnet18_layers(vector_layers=False)
    run("resnet18 dropback 1M, GEMM layers only", _trace(gemm_only, 1_000_000, 32))
    if not args.quick:
        for batch in (1, 8, 128):
            run("resnet18 dropback 1M (batch)", dropback, batch=batch)
        for width in (16, 32, 96):
            scaled = resnet18_layers(width=width)
            n = int(scaled["param_count"].sum())
            run(f"resnet18 width {width} dropback n/11.7", _trace(scaled, n * 10 // 117, 32),
                width=width)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    out = ROOT / "benchmarks" / "results" / "sim_speed.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
