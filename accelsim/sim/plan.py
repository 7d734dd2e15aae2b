"""What to simulate: which iterations of a trace, and per iteration the phases of every layer.

A trace is simulated as representative iterations (`iteration_plans`), each standing for a
number of the trace's iterations (its `weight`). Order of a training iteration: forward through
the layers in execution order; then, for each layer from the last to the first:
backward_data (not for the input layer, unless asked for), backward_weight, update.
Inference: forward. Before the first iteration, a one-time `load` phase brings the pinned
tracked set into SRAM (`load_phases`).

Each phase comes out as a `PhaseTiles` (`accelsim.sim.mapping.tiles`), with the tracked set placed
in the weight SRAM (`accelsim.sim.mapping.placement`) before the iteration and, for the update's
write-back, after it.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from accelsim.config.accelerator import AcceleratorConfig
from accelsim.sim.mapping.layer import LayerWork
from accelsim.sim.mapping.placement import place_run
from accelsim.sim.mapping.tiles import (
    PhaseTiles,
    gradient_tiles,
    load_tiles,
    pass_tiles,
    scale_counts,
    update_tiles,
)


@dataclass(frozen=True)
class IterationPlan:
    """One simulated iteration standing for `weight` iterations of the trace."""

    weight: int
    snapshot_iteration: int  # whose mask says where the tracked weights are
    first_iteration: int
    tracked: np.ndarray  # per layer (layer_id order)
    entered: np.ndarray
    left: np.ndarray

    @property
    def tracked_after(self) -> np.ndarray:
        return self.tracked + self.entered - self.left


def iteration_plans(trace, every_iteration: bool = False) -> list[IterationPlan]:
    """Representative iterations of a trace.

    Default: one per snapshot interval [s_k, s_{k+1}), standing for its length, with the
    interval's mean counts (rounded to whole weights per layer) and the snapshot's mask.
    `every_iteration`: one per iteration with its exact counts (identical iterations under the
    same snapshot are simulated once and weighted)."""
    n_layers, iterations = len(trace.layers), trace.iterations
    steps = trace.steps
    shape = (iterations, n_layers)
    tracked = steps["tracked_count"].to_numpy().reshape(shape)
    entered = steps["entered_count"].to_numpy().reshape(shape)
    left = steps["left_count"].to_numpy().reshape(shape)
    sizes = steps["weight_count"].to_numpy().reshape(shape)[0]
    snaps = [s for s in trace.snapshot_iterations if s < iterations]
    plans: list[IterationPlan] = []
    if every_iteration:
        groups: OrderedDict = OrderedDict()
        snap_of = np.asarray(snaps)[np.searchsorted(snaps, np.arange(iterations), "right") - 1]
        for i in range(iterations):
            key = (int(snap_of[i]), tracked[i].tobytes(), entered[i].tobytes(), left[i].tobytes())
            if key in groups:
                groups[key][0] += 1
            else:
                groups[key] = [1, i]
        for (snap, *_), (weight, first) in groups.items():
            plans.append(IterationPlan(weight, snap, first, tracked[first].copy(),
                                       entered[first].copy(), left[first].copy()))
        return plans
    bounds = snaps + [iterations]
    for a, b in itertools.pairwise(bounds):
        t = np.clip(np.rint(tracked[a:b].mean(0)).astype(np.int64), 0, sizes)
        e = np.clip(np.rint(entered[a:b].mean(0)).astype(np.int64), 0, sizes - t)
        lft = np.clip(np.rint(left[a:b].mean(0)).astype(np.int64), 0, t)
        plans.append(IterationPlan(b - a, a, a, t, e, lft))
    return plans


def _execution_order(works: list[LayerWork]) -> list[LayerWork]:
    return sorted(works, key=lambda w: (w.exec_order, w.layer_id))


def load_phases(works: list[LayerWork], config: AcceleratorConfig, plan: IterationPlan,
                dense: bool) -> list[PhaseTiles]:
    """The one-time load of `plan`'s pinned set, layer by layer in execution order."""
    placed = place_run(works, plan.tracked, config, dense)
    return [load_tiles(w, config, placed.layer(w.layer_id)) for w in _execution_order(works)]


def iteration_phases(works: list[LayerWork], config: AcceleratorConfig, mode: str,
                     plan: IterationPlan, tile_counts: dict, dense: bool,
                     gradients: dict | None = None) -> list[PhaseTiles]:
    """The phases of one iteration in the order they run. `tile_counts`: per layer and phase,
    the snapshot mask's tracked weights per tile (`mapping.tiles.mask_tile_counts`).
    `gradients`: a run's backward_weight tiles by layer id, filled here as they are built and
    reused by its later iterations (they do not depend on the tracked set)."""
    gradients = {} if gradients is None else gradients
    placed = place_run(works, plan.tracked, config, dense)
    placed_after = place_run(works, plan.tracked_after, config, dense)
    order = _execution_order(works)

    def tracked_tiles(w, phase):
        sizes = (w.update_tile_weights if phase == "update" else w.passes[phase].tile_weights)
        return scale_counts(tile_counts[w.layer_id][phase], sizes, int(plan.tracked[w.layer_id]))

    def weight_pass(w, phase):
        return pass_tiles(w, phase, config, tracked_tiles(w, phase), placed.layer(w.layer_id))

    phases = [weight_pass(w, "forward") for w in order]
    if mode == "train":
        for w in reversed(order):
            i = w.layer_id
            if "backward_data" in w.passes:  # not for the input layer (`simulate`)
                phases.append(weight_pass(w, "backward_data"))
            if i not in gradients:
                gradients[i] = gradient_tiles(w, config)
            phases.append(gradients[i])
            phases.append(update_tiles(w, config, tracked_tiles(w, "update"),
                                       int(plan.entered[i]), int(plan.left[i]), placed.layer(i),
                                       placed_after.layer(i), dense))
    return phases
