"""Where each tracked weight lives: pinned in the weight SRAM, or streamed from DRAM.

Policy: tracked weights, with their index metadata, are pinned in the weight SRAM layer by layer
in execution order as long as whole layers fit; the first layer that does not fit gets what is
left (the largest number of its tracked weights whose values and share of the index fit), and
every later layer stays in DRAM. What is not pinned is read from DRAM on every pass. Untracked
weights are stored nowhere: the PRNG regenerates them.

Index metadata (none in a dense run, where every weight is stored), by the rule of
`IndexConfig.bits_for`:
- bitmap: one bit per weight of the layer, whatever the tracked count;
- relative: `index_bits` per tracked weight.
A partly pinned layer pins the same fraction of its index as of its values.

Optimizer state (`optimizer_state_words`: words per tracked weight, by the trace's optimizer:
none / plain SGD 0, momentum 1, Nesterov 1, Adam 2, AdamW 2) lives beside the weights it
belongs to and competes with them for the weight SRAM: the weights are placed first (every
forward and backward pass reads them; the state only the update), then the state, layer by
layer in execution order in the room left, the first layer that does not fit getting part of
it; the rest streams from DRAM. Which weights carry state is each method's own rule
(`accelsim.dropback.method_table.Method.optimizer_state`, worked out there from each algorithm):
``all`` for the dense baseline, ``tracked`` for DropBack, its fixed-budget and decayed variants,
gmp and RigL -- every one of them zeroes an untracked weight's state -- so state is charged
for the tracked set the trace records (an entering weight's state starts at zero, a leaving
weight's is dropped); tests/sim/test_sim_optimizer_work.py holds the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from accelsim.config.accelerator import AcceleratorConfig, IndexConfig


@dataclass(frozen=True)
class OptimizerRule:
    """What an optimizer keeps and computes per weight that carries state, each step, beyond
    plain SGD's w <- w - lr*g (the update ALU's `alu_energy_pj_per_weight`, charged apart).

    state_words: state words per weight; add_ops: add-class operations (add, subtract);
    mult_ops: multiply-class operations (multiply, divide, square root: one operation each, at
    a multiplier's energy -- the technology's tables have no divider or square root, so Adam's
    two are a lower bound). Counted from each algorithm as PyTorch writes it (torch.optim SGD,
    Adam, AdamW documentation; dampening 0, bias corrections folded into per-step scalars):
    - momentum: b <- mu*b + g (1 multiply, 1 add); the step then uses b for g;
    - Nesterov: b <- mu*b + g, then g <- g + mu*b (2 multiplies, 2 adds);
    - Adam: m <- b1*m + (1-b1)*g (2 multiplies, 1 add); v <- b2*v + (1-b2)*g*g (3 multiplies,
      1 add); denominator sqrt(v) * (1/sqrt(1 - b2^t)) + eps (a square root, a multiply, an
      add); m / denominator (a divide): 8 multiply-class, 3 add-class;
    - AdamW: Adam and the decoupled decay w <- w * (1 - lr*lambda) (one more multiply)."""

    state_words: int
    add_ops: int
    mult_ops: int


# by the optimizer's kind (`optimizer_kind`): the one list
OPTIMIZER_RULES = {
    "none": OptimizerRule(0, 0, 0),
    "sgd": OptimizerRule(0, 0, 0),
    "momentum": OptimizerRule(1, 1, 1),
    "nesterov": OptimizerRule(1, 2, 2),
    "adam": OptimizerRule(2, 3, 8),
    "adamw": OptimizerRule(2, 3, 9),
}
# optimizer state words per weight, by the optimizer's kind
OPTIMIZER_STATE_WORDS = {kind: rule.state_words for kind, rule in OPTIMIZER_RULES.items()}

if TYPE_CHECKING:  # the layer works are only read here, never built
    from accelsim.sim.mapping.layer import LayerWork


@dataclass(frozen=True)
class LayerPlacement:
    """One layer's share: tracked weights pinned in SRAM, and its index bits (all, pinned)."""

    pinned: int
    index_bits: int
    pinned_index_bits: int
    state_words: int = 0  # optimizer state words of the tracked weights
    pinned_state_words: int = 0


@dataclass(frozen=True)
class Placement:
    """Per layer (indexed by layer_id): tracked, pinned and index figures."""

    tracked: np.ndarray
    pinned: np.ndarray
    index_bits: np.ndarray
    pinned_index_bits: np.ndarray
    pinned_bytes: int
    capacity_bytes: int
    state_words: np.ndarray | None = None  # per layer; None: no optimizer state
    pinned_state_words: np.ndarray | None = None

    def layer(self, layer_id: int) -> LayerPlacement:
        state = pinned_state = 0
        if self.state_words is not None and self.pinned_state_words is not None:
            state = int(self.state_words[layer_id])
            pinned_state = int(self.pinned_state_words[layer_id])
        return LayerPlacement(pinned=int(self.pinned[layer_id]),
                              index_bits=int(self.index_bits[layer_id]),
                              pinned_index_bits=int(self.pinned_index_bits[layer_id]),
                              state_words=state, pinned_state_words=pinned_state)


def optimizer_kind(optimizer: Mapping[str, Any] | str | None) -> str:
    """The kind of optimizer (a key of `OPTIMIZER_STATE_WORDS`) from a trace manifest's
    record ``{"name": ..., "settings": {...}}`` (None: not recorded, no state) or a kind."""
    if optimizer is None:
        return "none"
    settings: Mapping[str, Any] = {}
    if isinstance(optimizer, str):
        name = optimizer.lower()
    else:
        name, settings = str(optimizer.get("name", "")).lower(), optimizer.get("settings") or {}
    if name == "sgd":
        if settings.get("nesterov"):
            return "nesterov"
        return "momentum" if float(settings.get("momentum") or 0.0) > 0 else "sgd"
    if name not in OPTIMIZER_STATE_WORDS:
        raise ValueError(f"optimizer {name!r} not one of {', '.join(OPTIMIZER_STATE_WORDS)}")
    return name


def optimizer_state_words(optimizer: Mapping[str, Any] | str | None) -> int:
    """Optimizer state words per weight (see the module docstring)."""
    return OPTIMIZER_STATE_WORDS[optimizer_kind(optimizer)]


def index_bits(index_config: IndexConfig, weight_count: int, tracked_count: int,
               dense: bool) -> int:
    """A layer's index bits (`IndexConfig.bits_for`); none where nothing needs indexing."""
    if dense or tracked_count <= 0:
        return 0
    return index_config.bits_for(weight_count, tracked_count)


def place_tracked(param_counts: ArrayLike, exec_order: ArrayLike, tracked_counts: ArrayLike, *,
                  weight_bits: int, index_config: IndexConfig, capacity_bytes: int,
                  dense: bool, state_words_per_weight: ArrayLike | None = None,
                  state_bits: int = 0) -> Placement:
    """Pin tracked weights in execution order until the SRAM is full (see module docstring)."""
    sizes = np.asarray(param_counts, dtype=np.int64)
    tracked = np.asarray(tracked_counts, dtype=np.int64)
    n = len(sizes)
    idx = np.array([index_bits(index_config, sizes[i], tracked[i], dense) for i in range(n)],
                   dtype=np.int64)
    pinned = np.zeros(n, dtype=np.int64)
    pinned_idx = np.zeros(n, dtype=np.int64)
    free_bits = int(capacity_bytes) * 8
    for i in np.argsort(np.asarray(exec_order), kind="stable"):
        if tracked[i] == 0:
            continue
        need = int(tracked[i]) * weight_bits + int(idx[i])
        if need <= free_bits:
            pinned[i], pinned_idx[i] = tracked[i], idx[i]
            free_bits -= need
            continue
        # the first layer that does not fit takes what is left, then the SRAM is full
        per_weight = need / int(tracked[i])
        p = int(free_bits // per_weight)
        while p > 0 and p * weight_bits + -(-int(idx[i]) * p // int(tracked[i])) > free_bits:
            p -= 1  # guard the rounding of the index share
        pinned[i] = p
        pinned_idx[i] = -(-int(idx[i]) * p // int(tracked[i])) if p else 0
        break
    used_bits = int((pinned * weight_bits + pinned_idx).sum())
    if state_words_per_weight is None or not np.any(state_words_per_weight):
        return Placement(tracked, pinned, idx, pinned_idx, -(-used_bits // 8),
                         int(capacity_bytes))
    state = tracked * np.asarray(state_words_per_weight, dtype=np.int64)
    pinned_state = np.zeros(n, dtype=np.int64)
    free_bits = int(capacity_bytes) * 8 - used_bits
    for i in np.argsort(np.asarray(exec_order), kind="stable"):
        take = min(int(state[i]), free_bits // max(1, int(state_bits)))
        pinned_state[i] = take
        free_bits -= take * int(state_bits)
        if take < state[i]:
            break  # the SRAM is full
    used_bits += int(pinned_state.sum()) * int(state_bits)
    return Placement(tracked, pinned, idx, pinned_idx, -(-used_bits // 8), int(capacity_bytes),
                     state, pinned_state)


def place_run(works: Sequence[LayerWork], tracked_counts: ArrayLike, config: AcceleratorConfig,
              dense: bool) -> Placement:
    """Where a run's tracked set (counts per layer, layer_id order) lives on `config`'s
    accelerator. Under the `scalesim` policy nothing is pinned: the weight SRAM is SCALE-Sim's
    filter SRAM, a read buffer that keeps nothing from one layer to the next."""
    capacity = 0 if config.reuse_policy == "scalesim" else config.weight_sram.capacity_bytes
    return place_tracked([w.param_count for w in works], [w.exec_order for w in works],
                         tracked_counts, weight_bits=config.weight_bits, index_config=config.index,
                         capacity_bytes=capacity, dense=dense,
                         state_words_per_weight=[w.optimizer_state_words for w in works],
                         state_bits=optimizer_state_bits(config))


def optimizer_state_bits(config: AcceleratorConfig) -> int:
    """Bits of one optimizer state word (`update.optimizer_state_bits`, else a weight's)."""
    bits = config.update.optimizer_state_bits
    return config.weight_bits if bits is None else int(bits)
