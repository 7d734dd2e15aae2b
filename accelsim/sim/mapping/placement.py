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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from accelsim.config.accelerator import AcceleratorConfig, IndexConfig

if TYPE_CHECKING:  # the layer works are only read here, never built
    from accelsim.sim.mapping.layer import LayerWork


@dataclass(frozen=True)
class LayerPlacement:
    """One layer's share: tracked weights pinned in SRAM, and its index bits (all, pinned)."""

    pinned: int
    index_bits: int
    pinned_index_bits: int


@dataclass(frozen=True)
class Placement:
    """Per layer (indexed by layer_id): tracked, pinned and index figures."""

    tracked: np.ndarray
    pinned: np.ndarray
    index_bits: np.ndarray
    pinned_index_bits: np.ndarray
    pinned_bytes: int
    capacity_bytes: int

    def layer(self, layer_id: int) -> LayerPlacement:
        return LayerPlacement(pinned=int(self.pinned[layer_id]),
                              index_bits=int(self.index_bits[layer_id]),
                              pinned_index_bits=int(self.pinned_index_bits[layer_id]))


def index_bits(index_config: IndexConfig, weight_count: int, tracked_count: int,
               dense: bool) -> int:
    """A layer's index bits (`IndexConfig.bits_for`); none where nothing needs indexing."""
    if dense or tracked_count <= 0:
        return 0
    return index_config.bits_for(weight_count, tracked_count)


def place_tracked(param_counts: ArrayLike, exec_order: ArrayLike, tracked_counts: ArrayLike, *,
                  weight_bits: int, index_config: IndexConfig, capacity_bytes: int,
                  dense: bool) -> Placement:
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
    return Placement(tracked, pinned, idx, pinned_idx, -(-used_bits // 8), int(capacity_bytes))


def place_run(works: Sequence[LayerWork], tracked_counts: ArrayLike, config: AcceleratorConfig,
              dense: bool) -> Placement:
    """Where a run's tracked set (counts per layer, layer_id order) lives on `config`'s
    accelerator."""
    return place_tracked([w.param_count for w in works], [w.exec_order for w in works],
                         tracked_counts, weight_bits=config.weight_bits, index_config=config.index,
                         capacity_bytes=config.weight_sram.capacity_bytes, dense=dense)
