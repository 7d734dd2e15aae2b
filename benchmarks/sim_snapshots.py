"""Speed of simulating a long trace: ResNet-18 (ImageNet) with DropBack at 1M tracked weights
and 100 snapshots of the tracked set (one every 10 iterations, each drawn afresh, so no two
intervals share a mask), one simulated iteration per snapshot interval, training, default
accelerator, no dense baseline.

    python benchmarks/sim_snapshots.py [--snapshots 100] [--batch-size 1]

Prints the wall time, the simulated tiles, the time per snapshot and the peak resident memory
(run it with --snapshots 25, 50 and 100 to see both stay flat per snapshot). Not a test.
Goal (issues 10, 20): <= 30 s. --optimizer charges an optimizer's state (e.g. momentum).
Measured (2-core AMD EPYC, shared and noisy, load 1-2): 22.2 s, median of 3 (best 21.9 s),
against 30.3 s for the tree before issue 20's last speed round (e274b2b) in the same command
(`benchmarks/sim_versus.py --old TREE` runs both alternately): 0.73x; 0.70x-0.80x in earlier
runs of the round at load 1-3.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim_speed import GENERATOR, resnet18_layers  # noqa: E402

from accelsim.config import load_accelerator_config  # noqa: E402
from accelsim.sim.simulation import simulate  # noqa: E402
from accelsim.trace.format import Snapshot, build_trace, steps_frame  # noqa: E402
from accelsim.trace.geometry import GEMM_KINDS  # noqa: E402
from accelsim.trace.synthetic import draw_mask, layer_shares, synthetic_trace  # noqa: E402


def snapshot_trace(snapshots: int, every: int, budget: int, batch: int):
    table = resnet18_layers()  # with its layers between the GEMMs
    layers = table[table["kind"].isin(GEMM_KINDS)]  # the ones with tracked sets
    base = synthetic_trace(table, budget, seed=0, batch_size=batch, generator=GENERATOR,
                           model={"name": "resnet18", "args": {}})
    sizes = layers["param_count"].to_numpy()
    counts = layer_shares(sizes, budget)
    iterations = snapshots * every
    snaps = []
    for s in range(snapshots):
        masks = {int(i): draw_mask(int(n), int(k), s, int(i))
                 for i, n, k in zip(layers["layer_id"], sizes, counts)}
        snaps.append(Snapshot(s * every, "periodic" if s else "first", masks))
    snaps.append(Snapshot(iterations, "final", snaps[-1].masks))
    n_layers = len(layers)
    steps = steps_frame(np.repeat(np.arange(iterations), n_layers),
                        np.tile(layers["layer_id"].to_numpy(), iterations),
                        np.tile(sizes, iterations), np.tile(counts, iterations), 0, 0)
    manifest = dict(base.manifest, iterations=iterations)
    return build_trace(manifest, table, steps, snaps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=100)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--budget", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--config", default="default")
    parser.add_argument("--optimizer", default=None,
                        help="optimizer state to charge (default: the trace's, none)")
    args = parser.parse_args(argv)
    t = time.perf_counter()
    trace = snapshot_trace(args.snapshots, args.every, args.budget, args.batch_size)
    built = time.perf_counter() - t
    # the in-memory trace holds every snapshot's masks (a byte per weight): its share of the peak
    built_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    config = load_accelerator_config(args.config)
    t = time.perf_counter()
    extra = {} if args.optimizer is None else {"optimizer": args.optimizer}
    result = simulate(trace, config, "train", baseline=False, **extra)
    wall = time.perf_counter() - t
    s = result.settings
    print(f"resnet18 {args.snapshots} snapshots x {args.every} iterations, batch "
          f"{args.batch_size}: trace built in {built:.2f} s, simulated in {wall:.2f} s "
          f"({s['simulated_iterations']} iterations, {s['simulated_tiles']} tiles; "
          f"{wall / args.snapshots * 1e3:.0f} ms per snapshot; peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB, of which "
          f"{built_rss_mib:.0f} MiB once the trace was built)")



if __name__ == "__main__":
    main()
