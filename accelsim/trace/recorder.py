"""Record a trace while training: attach to a model and a DropBack optimizer (or to nothing,
for a dense run), call `record_step` after every optimizer step, `write` at the end.

Cheap by design: per step it keeps a few integers per layer; a tracked-set snapshot (packed
bitmaps) is taken only every `snapshot_every` iterations, when the set freezes, and at the end.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from accelsim.dropback.prng import GENERATOR_ID, GENERATOR_VERSION
from accelsim.trace.format import (
    Snapshot,
    Trace,
    build_trace,
    new_manifest,
    save_trace,
    steps_frame,
)
from accelsim.trace.geometry import GEMM_KINDS
from accelsim.trace.torch_geometry import layer_table_from_model


class TraceRecorder:
    """Records which weights a training run touches, step by step, into a trace folder.

    model: the torch model being trained (its layer table is read once, from a forward pass of
    `input_shape`). dropback: the `DropBack` wrapping its optimizer, or None for a dense run.
    model_name, model_args: how to rebuild the model (the zoo name and its keyword arguments).
    seed: the seed of the initial weights (w0 is regenerated from it). input_shape: one
    sample's shape without the batch, e.g. (64,) or (1, 28, 28). batch_size: the training
    batch size, recorded for the simulator. dataset, optimizer: recorded as given.
    snapshot_every: iterations between tracked-set snapshots (None: only at the end).
    source: "training", or what else produced the steps.

    Call `record_step(dropback.step())` after every optimizer step (`record_step()` in a dense
    run) and `write(path)` at the end; `trace()` gives the same trace in memory.
    """

    def __init__(self, model, dropback=None, *, model_name: str, model_args: dict | None = None,
                 seed: int, input_shape, batch_size: int, dataset: str | None = None,
                 optimizer: dict | None = None, snapshot_every: int | None = 100,
                 source: str = "training"):
        self.model, self.dropback = model, dropback
        self.layers = layer_table_from_model(model, input_shape)  # every layer that moves data
        self._sizes = self.layers.loc[self.layers["kind"].isin(GEMM_KINDS),
                                      "param_count"].to_numpy()
        self._info: dict[str, Any] = dict(
            model_name=model_name, model_args=model_args or {}, seed=seed,
            input_shape=list(input_shape), batch_size=batch_size, dataset=dataset,
            optimizer=optimizer, snapshot_every=snapshot_every, source=source)
        self._tracked: list = []
        self._entered: list = []
        self._left: list = []
        self._snapshots: dict[int, tuple[str, dict]] = {}  # iteration -> (reason, packed masks)
        self._frozen_at: int | None = None
        self._snap(0, "first")

    @property
    def iterations(self) -> int:
        """Iterations recorded so far."""
        return len(self._tracked)

    def _current_masks(self) -> dict[int, np.ndarray]:
        if self.dropback is None:
            return {i: np.ones(int(n), bool) for i, n in enumerate(self._sizes)}
        return {int(i): m.detach().cpu().numpy() for i, m in self.dropback.tracked_masks().items()}

    def _snap(self, iteration: int, reason: str):
        packed = {i: np.packbits(m, bitorder="little") for i, m in self._current_masks().items()}
        self._snapshots[iteration] = (reason, packed)

    def record_step(self, stats=None):
        """Record one finished iteration (forward, backward, update). `stats` is the
        DropBackStepStats returned by DropBack.step; None for a dense run. Kept as given
        (tuples of ints): the conversion to arrays waits for `trace()`, off the training path."""
        if stats is None:
            self._tracked.append(None)
            self._entered.append(None)
            self._left.append(None)
        else:
            self._tracked.append(stats.tracked_before)
            self._entered.append(stats.entered)
            self._left.append(stats.left)
        nxt = len(self._tracked)
        if self._frozen_at is None and self.dropback is not None and self.dropback.frozen:
            self._frozen_at = nxt
            self._snap(nxt, "frozen")
        elif self._info["snapshot_every"] and nxt % self._info["snapshot_every"] == 0:
            self._snap(nxt, "periodic")

    @staticmethod
    def _counts(rows, dense_value) -> np.ndarray:
        """Per-step rows (None = dense step) as one flat array, iteration-major."""
        return np.concatenate([dense_value if r is None else np.asarray(r, dtype=np.int64)
                               for r in rows])

    def trace(self, accuracy: float | None = None) -> Trace:
        """The trace so far as an in-memory, validated object (the final set = the current one)."""
        n = self.iterations
        if n == 0:
            raise ValueError("no iteration recorded yet")
        snapshots = dict(self._snapshots)
        if n not in snapshots or snapshots[n][0] == "periodic":
            snapshots[n] = ("final", snapshots.get(n, (None, None))[1] or self._packed_now())
        snaps = [Snapshot(it, reason, {i: np.unpackbits(b, bitorder="little")[: int(self._sizes[i])]
                                        .astype(bool) for i, b in packed.items()})
                 for it, (reason, packed) in sorted(snapshots.items()) if it <= n]
        L = len(self._sizes)
        steps = steps_frame(np.repeat(np.arange(n), L), np.tile(np.arange(L), n),
                            np.tile(self._sizes, n), self._counts(self._tracked, self._sizes),
                            self._counts(self._entered, np.zeros_like(self._sizes)),
                            self._counts(self._left, np.zeros_like(self._sizes)))
        db, info = self.dropback, self._info
        total = int(self._sizes.sum())
        manifest = new_manifest(
            source=info["source"], model_name=info["model_name"], model_args=info["model_args"],
            seed=info["seed"], generator=_generator(),
            # the most the hardware must hold: the budget, or more during a warm-up or before
            # gradual pruning reaches it
            budget_tracked_count=total if db is None else int(
                getattr(db, "peak_tracked_count", db.budget)), param_count=total,
            budget_mode="dense" if db is None else db.mode, batch_size=info["batch_size"],
            input_shape=info["input_shape"], iterations=n, dense=db is None,
            unbudgeted_param_count=_unbudgeted(self.model, total), dataset=info["dataset"],
            optimizer=info["optimizer"], snapshot_every=info["snapshot_every"],
            frozen_at_iteration=self._frozen_at, accuracy=accuracy,
            untracked_values=getattr(db, "untracked_values", "w0"))
        # what the schedule costs: k (the budget it ends on) and the time-averaged count
        manifest["budget"].update(
            target_count=total if db is None else min(int(db.budget), total),
            mean_tracked_count=float(steps.groupby("iteration")["tracked_count"].sum().mean()))
        return build_trace(manifest, self.layers, steps, snaps)

    def _packed_now(self):
        return {i: np.packbits(m, bitorder="little") for i, m in self._current_masks().items()}

    def write(self, path, accuracy: float | None = None):
        """Write the trace so far as a trace folder at `path` (atomically); returns the path.
        `accuracy`: the run's test accuracy, recorded in the manifest."""
        return save_trace(self.trace(accuracy), path)

    # resume: the recorder's state travels with the training checkpoint
    def state_dict(self) -> dict:
        """The recorder's state as plain values (saved with a training checkpoint)."""
        def plain(rows):
            return [None if r is None else [int(v) for v in r] for r in rows]

        return {"tracked": plain(self._tracked), "entered": plain(self._entered),
                "left": plain(self._left),
                "snapshots": {it: (r, {i: b.tobytes() for i, b in p.items()})
                              for it, (r, p) in self._snapshots.items()},
                "frozen_at": self._frozen_at}

    def load_state_dict(self, state: dict):
        """Continue from a `state_dict` (an interrupted run resumed)."""
        self._tracked = [None if t is None else tuple(t) for t in state["tracked"]]
        self._entered = [None if t is None else tuple(t) for t in state["entered"]]
        self._left = [None if t is None else tuple(t) for t in state["left"]]
        self._snapshots = {int(it): (r, {int(i): np.frombuffer(b, np.uint8) for i, b in p.items()})
                           for it, (r, p) in state["snapshots"].items()}
        self._frozen_at = state["frozen_at"]


def _generator() -> dict:
    return {"id": GENERATOR_ID, "version": GENERATOR_VERSION}


def _unbudgeted(model, budgeted_total: int) -> int:
    return int(sum(p.numel() for p in model.parameters())) - budgeted_total

