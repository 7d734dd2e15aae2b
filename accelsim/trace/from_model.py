"""Traces without a training run: from a trained model's sparse checkpoint, or synthetic for a
zoo model too large to train here. Both describe one training step (or inference) with the
given tracked set; neither needs a dataset."""

from __future__ import annotations

import numpy as np

from accelsim.dropback.checkpoint import load_checkpoint
from accelsim.dropback.prng import GENERATOR_ID, GENERATOR_VERSION
from accelsim.models import build_model, default_input_shape
from accelsim.trace.format import Snapshot, Trace, build_trace, new_manifest, steps_frame
from accelsim.trace.geometry import GEMM_KINDS
from accelsim.trace.synthetic import synthetic_trace
from accelsim.trace.torch_geometry import layer_table_from_model


def trace_from_checkpoint(path, *, batch_size: int = 1, input_shape=None) -> Trace:
    """The trace of a trained model: its final tracked set, held for one step (no churn)."""
    loaded = load_checkpoint(path)
    meta = loaded.meta
    name, args = meta["model"]["name"], meta["model"]["args"]
    shape = tuple(input_shape or default_input_shape(name, **args))
    layers = layer_table_from_model(loaded.model, shape)
    sizes = layers.loc[layers["kind"].isin(GEMM_KINDS), "param_count"].to_numpy()
    dense = bool(meta["dense"])
    masks = {int(i): np.asarray(m.cpu().numpy(), bool) for i, m in loaded.tracked_masks.items()}
    counts = np.array([int(masks[i].sum()) for i in range(len(sizes))], dtype=np.int64)
    total = int(sizes.sum())
    manifest = new_manifest(
        source="checkpoint", model_name=name, model_args=args, seed=meta["seed"],
        generator=meta["generator"], budget_tracked_count=int(meta["budget"]["tracked_count"]),
        param_count=total, budget_mode=meta["budget"]["mode"], batch_size=batch_size,
        input_shape=list(shape), iterations=1, dense=dense,
        unbudgeted_param_count=sum(p.numel() for p in loaded.model.parameters()) - total,
        accuracy=meta.get("extra", {}).get("accuracy"))
    steps = steps_frame(np.zeros(len(sizes)), np.arange(len(sizes)), sizes, counts, 0, 0)
    return build_trace(manifest, layers, steps,
                       [Snapshot(0, "first", masks), Snapshot(1, "final", masks)])


def synthetic_model_trace(model_name: str, budget: int | None, *, seed: int = 0,
                          batch_size: int = 1, layout: str = "uniform", iterations: int = 1,
                          shares=None, **model_args) -> Trace:
    """A synthetic trace for a zoo model (`budget` None = dense), geometry from the real model."""
    model = build_model(model_name, **model_args)
    shape = default_input_shape(model_name, **model_args)
    layers = layer_table_from_model(model, shape)
    return synthetic_trace(
        layers, budget or 0, seed, iterations=iterations, layout=layout, shares=shares,
        batch_size=batch_size, input_shape=list(shape), dense=budget is None,
        model={"name": model_name, "args": model_args},
        generator={"id": GENERATOR_ID, "version": GENERATOR_VERSION})
