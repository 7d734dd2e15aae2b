"""How a run divides a shared global buffer between its pinned tracked weights and activations.

With ``buffer_organisation: shared`` one buffer holds both. The rule: a run (the trace, or its
dense baseline) reserves a weight share of the buffer for its pinned tracked set, for the whole
run, and leaves the rest to activation tiles.

- Inside the share, tracked weights are pinned as with a weight SRAM of that size
  (`accelsim.sim.mapping.placement`: whole layers in execution order, then part of one, then none).
- In the rest, each phase's GEMM is mapped with its A, B and C tiles fitting together
  (`mapping.layer.phase_mapping`, `mapping.mapper.map_gemm(shared_words=...)`).
- The share is chosen to minimise the run's DRAM bytes (`choose_weight_share`). A config may
  fix it instead (`AcceleratorConfig.weight_share_bytes`).

The DRAM bytes of a share are counted in closed form, without simulating:

- Weights: per representative iteration, times the iterations it stands for, each layer's
  streamed (unpinned) tracked values and index bits. They are fetched ``fetches`` times per
  weight pass (forward, backward_data; `LayerWork.weight_factors`), and read and written once by
  the update. To that is added the one-time load of the pinned set. The update's index rewrite
  is counted as if every tile changed, an upper bound on what the simulation charges; the rest
  is exact.
- Activations: every phase's activation DRAM bytes under the mapping that the remaining room
  allows (`mapping.layer.activation_operands`), once per iteration.

Candidates are 0, every power-of-two number of buffer rows and 1.5 times each (half-octave
steps), and the run's largest tracked set rounded up to a row. None of them is larger than that
tracked set (a share beyond it pins nothing more and only takes room from activations) or than
the buffer less the room kept for activations (`AcceleratorConfig.min_activation_room_bytes`:
an array's worth of inputs and outputs).

The grid does not depend on the buffer's capacity, so a larger buffer keeps every candidate of
a smaller one, each with more room for activations. Its tracked-set candidate pins at least as
much. So the chosen count never rises with capacity. Ties go to the larger share: it streams
fewer weights through the staging buffer.
"""

from __future__ import annotations

import numpy as np

from accelsim.config.accelerator import AcceleratorConfig, shared_buffer_row_bytes
from accelsim.sim.mapping.layer import LayerWork, activation_operands, layer_phases, phase_mapping
from accelsim.sim.mapping.placement import Placement, place_run
from accelsim.sim.plan import IterationPlan


def _ceil_bytes(bits) -> np.ndarray:
    return -(-np.asarray(bits, dtype=np.int64) // 8)


def _streamed_bits(placed: Placement, weight_bits: int) -> np.ndarray:
    """Per layer: bits of tracked values and index that live in DRAM, not the share."""
    return ((placed.tracked - placed.pinned) * weight_bits
            + placed.index_bits - placed.pinned_index_bits)


def weight_dram_bytes(works: list[LayerWork], config: AcceleratorConfig,
                      plans: list[IterationPlan], mode: str, dense: bool) -> int:
    """DRAM bytes of the run's weights with `config`'s weight share (see the module
    docstring): the one-time load, then every iteration's passes and update."""
    bits = config.weight_bits
    first = place_run(works, plans[0].tracked, config, dense)
    total = int(_ceil_bytes(first.pinned * bits + first.pinned_index_bits).sum())
    passes = ("forward",) if mode == "inference" else ("forward", "backward_data")
    for plan in plans:
        placed = place_run(works, plan.tracked, config, dense)
        streamed = _streamed_bits(placed, bits)
        per_iteration = 0
        for w in works:
            i = w.layer_id
            per_iteration += sum(int(_ceil_bytes(streamed[i] * w.weight_factors[p][1]))
                                 for p in passes)
        if mode == "train":
            after = place_run(works, plan.tracked_after, config, dense)
            per_iteration += int(_ceil_bytes(streamed).sum())
            per_iteration += int(_ceil_bytes(_streamed_bits(after, bits)).sum())
        total += per_iteration * plan.weight
    return total


def activation_dram_bytes(works: list[LayerWork], config: AcceleratorConfig, mode: str) -> int:
    """DRAM bytes of one iteration's activations, gradients and partial sums with the room
    `config`'s weight share leaves (0 when activations are not simulated). `works`: the run's
    layer works on any share (only their GEMMs are read)."""
    if not config.simulate_activations:
        return 0
    total = 0
    for w in works:
        for phase in layer_phases(mode):
            gemm = w.gemms[phase]
            mapping = phase_mapping(gemm, phase, config)
            for _, _, dram_read, dram_write in activation_operands(
                    gemm, phase, config, mapping).values():
                total += int(dram_read) + int(dram_write)
    return total


def share_candidates(config: AcceleratorConfig, works: list[LayerWork],
                     plans: list[IterationPlan], dense: bool) -> list[int]:
    """The weight shares tried (bytes, ascending; see the module docstring)."""
    buffer = config.global_buffer
    if buffer is None:
        raise ValueError("weight shares need buffer_organisation: shared")
    row = shared_buffer_row_bytes(buffer)
    # the largest tracked set of the run, values and index (a placement's tracked and index
    # figures do not depend on the capacity it places into)
    need = 0
    for plan in plans:
        for counts in (plan.tracked, plan.tracked_after):
            placed = place_run(works, counts, config, dense)
            need = max(need, int((placed.tracked * config.weight_bits + placed.index_bits).sum()))
    need_bytes = -(-need // 8)
    top = min(buffer.capacity_bytes - config.min_activation_room_bytes,
              -(-need_bytes // row) * row)
    out = {0, top}
    step = row
    while step < top:
        out.add(step)
        if step >= 2 * row and step * 3 // 2 < top:
            out.add(step * 3 // 2)
        step *= 2
    return sorted(out)


def choose_weight_share(config: AcceleratorConfig, works: list[LayerWork],
                        plans: list[IterationPlan], mode: str,
                        dense: bool) -> tuple[int, dict]:
    """The weight share (bytes) that gives the run the fewest DRAM bytes, and what was
    weighed: {"candidates": [[share, weight DRAM bytes, activation DRAM bytes], ...]}.
    `works`: the run's layer works on any share (only their GEMMs, weight factors and order
    are read, which do not depend on it); `plans`: its representative iterations."""
    iterations = sum(plan.weight for plan in plans)
    best: tuple[int, int] | None = None
    weighed = []
    for share in share_candidates(config, works, plans, dense):
        candidate = config.with_weight_share(share)
        weights = weight_dram_bytes(works, candidate, plans, mode, dense)
        activations = activation_dram_bytes(works, candidate, mode) * iterations
        weighed.append([share, weights, activations])
        key = (weights + activations, -share)
        if best is None or key < best:
            best = key
    assert best is not None  # 0 is always a candidate
    return -best[1], {"candidates": weighed}
