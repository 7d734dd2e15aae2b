"""Synthetic traces: a tracked set drawn by a documented, seeded rule, for models too large to
train here. Torch-free. The layer table may hold every layer (a zoo model's, from
`layer_table_from_model`); the tracked sets are drawn for its GEMM (budgeted) layers.

Rule (recorded in the manifest's `synthetic_rule`):
- per-layer shares: proportional to `param_count` (default) or given fractions (e.g. from a real
  trace's final snapshot); integer counts by largest remainder so they sum exactly to the budget,
  each capped at the layer's size;
- positions within a layer: `uniform` (every subset of the right size equally likely) or
  `clustered` (whole runs of `cluster_size` consecutive elements, as training tends to keep
  whole output rows), drawn from numpy's PCG64 seeded by (seed, layer_id);
- the set is the same in every iteration (no churn): entered = left = 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from accelsim.dropback.prng import GENERATOR_ID, GENERATOR_VERSION  # torch-free constants
from accelsim.trace.format import Snapshot, Trace, build_trace, new_manifest, steps_frame
from accelsim.trace.geometry import GEMM_KINDS

LAYOUTS = ("uniform", "clustered")


def layer_shares(param_counts, budget: int, shares=None) -> np.ndarray:
    """Tracked count per layer: exact sum `min(budget, total)`, each ≤ its layer's size."""
    sizes = np.asarray(param_counts, dtype=np.int64)
    budget = int(min(budget, sizes.sum()))
    weights = sizes.astype(float) if shares is None else np.asarray(shares, dtype=float)
    if weights.shape != sizes.shape or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError("shares must be non-negative, one per layer, not all zero")
    counts = np.zeros_like(sizes)
    remaining = budget
    # Largest remainder, repeated while caps bind (a capped layer hands its excess on).
    open_ = sizes > counts
    while remaining > 0 and open_.any():
        ideal = weights * open_ / (weights * open_).sum() * remaining
        add = np.minimum(np.floor(ideal).astype(np.int64), sizes - counts)
        short = remaining - int(add.sum())
        if short > 0:
            order = np.lexsort((np.arange(len(sizes)), -(ideal - np.floor(ideal))))
            for i in order:
                if short == 0:
                    break
                if open_[i] and counts[i] + add[i] < sizes[i]:
                    add[i] += 1
                    short -= 1
        counts += add
        remaining = budget - int(counts.sum())
        open_ = (sizes > counts) & (weights > 0) if remaining else open_
        if not add.any():
            weights = np.where(weights > 0, weights, 1.0)  # only zero-share layers have room left
    return counts


def draw_mask(n: int, k: int, seed: int, layer_id: int, layout="uniform", cluster_size=64):
    rng = np.random.default_rng([int(seed), int(layer_id)])
    mask = np.zeros(n, dtype=bool)
    if k <= 0:
        return mask
    if layout == "uniform":
        mask[rng.choice(n, size=k, replace=False)] = True
        return mask
    if layout != "clustered":
        raise ValueError(f"layout {layout!r} not one of {LAYOUTS}")
    blocks = -(-n // cluster_size)
    order = rng.permutation(blocks)
    starts = order * cluster_size
    lengths = np.minimum(starts + cluster_size, n) - starts
    take = np.searchsorted(np.cumsum(lengths), k)  # blocks fully taken before the last one
    for s, length in zip(starts[:take], lengths[:take]):
        mask[s:s + length] = True
    rest = k - int(mask.sum())
    if rest:
        s = starts[take]
        mask[s:s + rest] = True
    return mask


def synthetic_trace(layers: pd.DataFrame, budget: int, seed: int, *, iterations: int = 1,
                    model: dict | None = None, layout: str = "uniform", shares=None,
                    cluster_size: int = 64, batch_size: int = 1, input_shape=None,
                    generator: dict | None = None, dense: bool = False) -> Trace:
    """An in-memory trace whose tracked set is drawn by the rule above (or all, if dense)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r} not one of {LAYOUTS}")
    table = layers
    if "kind" in layers.columns:  # the budgeted (GEMM) layers carry the tracked sets
        layers = layers[layers["kind"].isin(GEMM_KINDS)].reset_index(drop=True)
    sizes = layers["param_count"].to_numpy()
    total = int(sizes.sum())
    counts = sizes.copy() if dense else layer_shares(sizes, budget, shares)
    masks = {int(i): (np.ones(int(n), bool) if dense else
                      draw_mask(int(n), int(k), seed, int(i), layout, cluster_size))
             for i, n, k in zip(layers["layer_id"], sizes, counts)}
    n_layers = len(layers)
    steps = steps_frame(np.repeat(np.arange(iterations), n_layers),
                        np.tile(layers["layer_id"].to_numpy(), iterations),
                        np.tile(sizes, iterations), np.tile(counts, iterations), 0, 0)
    rule = None if dense else {"shares": "given" if shares is not None else "proportional",
                               "layout": layout, "cluster_size": cluster_size, "seed": int(seed)}
    model = model or {"name": "custom", "args": {}}
    if input_shape is None:
        input_shape = table.sort_values("exec_order")["in_shape"].iloc[0]
    # the parameters outside the budget that the table shows (BatchNorm's scale and shift)
    unbudgeted = int(table["unbudgeted_param_count"].sum()) \
        if "unbudgeted_param_count" in table.columns else 0
    manifest = new_manifest(
        source="synthetic", model_name=model["name"], model_args=model.get("args", {}),
        seed=seed, generator=generator or _default_generator(),
        budget_tracked_count=total if dense else int(counts.sum()), param_count=total,
        budget_mode="dense" if dense else "global", batch_size=batch_size,
        input_shape=list(input_shape), iterations=iterations, dense=dense, synthetic_rule=rule,
        unbudgeted_param_count=unbudgeted)
    manifest["synthetic"] = True
    snaps = [Snapshot(0, "first", masks), Snapshot(iterations, "final", masks)]
    return build_trace(manifest, table, steps, snaps)


def _default_generator() -> dict:
    return {"id": GENERATOR_ID, "version": GENERATOR_VERSION}
