"""What one training iteration asks of the hardware, tile by tile (pure numpy, no SimPy).

`LayerWork` holds a layer's fixed geometry on a given accelerator (block grids, tiles, compute
cycles, activation traffic). `pass_tiles`, `gradient_tiles`, `update_tiles` and `load_tiles`
turn it, with the tracked set of one iteration and the SRAM placement, into a `PhaseTiles`: per
tile, how many weights each of SRAM, DRAM and PRNG serves, the bytes and words to move, and the
compute cycles. The SimPy model (`accelsim.sim.accelerator`) only replays these tiles through
the hardware parts.

Counting rules (a tile's figures are exact sums; only where inside a layer they fall is spread):
- a layer's tracked count comes from the trace's `steps`; the snapshot's mask says where the
  tracked weights lie. When the two differ (an interval's mean, or an iteration between
  snapshots) the mask's per-tile counts are scaled to the exact count.
- pinned (SRAM) and streamed (DRAM) shares of a tile follow the layer's placement, spread over
  its tiles in proportion to their tracked weights; entering weights in proportion to untracked
  ones, leaving weights to tracked ones.
- activations (when simulated): a phase reads its input operand(s) and writes its output once;
  if the phase's activation bytes fit in the activation SRAM they stay on chip, otherwise the
  excess share of reads and writes goes to DRAM instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accelsim.sim.dataflow import (
    fold_grid,
    flat_tile_starts,
    pe_weight_loads,
    phase_gemm,
    split_evenly,
    tile_starts,
    weight_block_grid,
)
from accelsim.sim.pe_array import update_cycles


def split_proportional(total: int, basis) -> np.ndarray:
    """Integers summing to `total`, proportional to `basis` (largest remainder). If `total` is
    at most `basis.sum()`, no share exceeds its basis (the caps used for tracked counts)."""
    basis = np.asarray(basis, dtype=np.int64)
    out = np.zeros(len(basis), dtype=np.int64)
    whole = int(basis.sum())
    total = int(total)
    if total <= 0 or len(basis) == 0:
        return out
    if whole <= 0:
        out[-1] = total
        return out
    ideal = basis * (total / whole)
    out = np.floor(ideal).astype(np.int64)
    short = total - int(out.sum())
    if short > 0:
        order = np.argsort(-(ideal - out), kind="stable")[:short]
        out[order] += 1
    elif short < 0:  # float rounding overshoot: take back from the largest shares
        order = np.argsort(-out, kind="stable")[:-short]
        out[order] -= 1
    return out


def scale_counts(mask_counts: np.ndarray, sizes: np.ndarray, target: int) -> np.ndarray:
    """Per-tile tracked counts summing to `target`, as close to the mask's as possible."""
    have = int(mask_counts.sum())
    if have == target:
        return mask_counts
    if target < have:
        return split_proportional(target, mask_counts)
    return mask_counts + split_proportional(target - have, sizes - mask_counts)


@dataclass
class PassGeometry:
    """A weight pass (forward or backward_data) of one layer."""

    tile_starts: np.ndarray  # first block of each tile
    tile_weights: np.ndarray  # weights per tile (bias elements in the last tile)
    tile_compute_cycles: np.ndarray
    grid: object  # BlockGrid
    macs: int
    pe_weight_loads: int


@dataclass
class LayerWork:
    layer_id: int
    name: str
    exec_order: int
    param_count: int
    weight_count: int
    bias_count: int
    cout: int
    kw: int
    passes: dict  # phase -> PassGeometry
    gradient_tile_weights: np.ndarray  # backward_weight tiles
    gradient_tile_cycles: np.ndarray
    gradient_macs: int
    update_starts: np.ndarray  # flat tiles over the layer's elements
    update_tile_weights: np.ndarray
    activation_bytes: dict  # phase -> (sram_read, sram_write, dram_read, dram_write)

    def mask_2d(self, mask: np.ndarray) -> np.ndarray:
        return mask[: self.weight_count].reshape(self.cout, self.kw)


def activation_traffic(layer, phase: str, batch: int, word_bytes: int, capacity_bytes: int):
    """(sram_read, sram_write, dram_read, dram_write) bytes of a phase's activations."""
    a_in = int(layer["in_activation_count"]) * batch * word_bytes
    a_out = int(layer["out_activation_count"]) * batch * word_bytes
    reads, writes = {
        "forward": (a_in, a_out),           # inputs in, outputs out
        "backward_data": (a_out, a_in),     # output gradients in, input gradients out
        "backward_weight": (a_in + a_out, 0),  # inputs and output gradients in
    }.get(phase, (0, 0))
    total = reads + writes
    if total <= capacity_bytes or total == 0:
        return reads, writes, 0, 0
    spill = (total - capacity_bytes) / total
    dram_read, dram_write = math.ceil(reads * spill), math.ceil(writes * spill)
    return reads - dram_read, writes - dram_write, dram_read, dram_write


def layer_work(layer, config, batch: int, mode: str) -> LayerWork:
    rows, cols, dataflow = config.pe.rows, config.pe.cols, config.pe.dataflow
    tile = config.tile_weights
    weight_count, bias_count = int(layer["weight_count"]), int(layer["bias_count"])
    param_count = weight_count + bias_count
    passes = {}
    phases = ("forward",) if mode == "inference" else ("forward", "backward_data")
    for phase in phases:
        grid = weight_block_grid(layer, phase, batch, rows, cols, dataflow, tile)
        sizes = grid.sizes()
        starts = tile_starts(sizes, tile)
        weights = np.add.reduceat(sizes, starts).astype(np.int64)
        weights[-1] += bias_count
        cycles = np.add.reduceat(grid.cycles, starts).astype(np.int64)
        gemm = phase_gemm(layer, phase, batch)
        passes[phase] = PassGeometry(starts, weights, cycles, grid, gemm.macs,
                                     pe_weight_loads(gemm, rows, dataflow, weight_count))
    update_starts = flat_tile_starts(param_count, tile)
    update_weights = np.diff(np.append(update_starts, param_count)).astype(np.int64)
    gemm_w = phase_gemm(layer, "backward_weight", batch)
    grad_cycles_total = fold_grid(gemm_w, rows, cols, dataflow).cycles
    activation = {}
    capacity = config.activation_sram.capacity_bytes
    for phase in ("forward", "backward_data", "backward_weight"):
        activation[phase] = (activation_traffic(layer, phase, batch, config.weight_bytes, capacity)
                             if config.simulate_activations else (0, 0, 0, 0))
    return LayerWork(
        layer_id=int(layer["layer_id"]), name=str(layer["name"]),
        exec_order=int(layer["exec_order"]), param_count=param_count,
        weight_count=weight_count, bias_count=bias_count,
        cout=int(layer["fwd_n"]), kw=int(layer["fwd_k"]), passes=passes,
        gradient_tile_weights=update_weights,
        gradient_tile_cycles=split_evenly(grad_cycles_total, update_weights),
        gradient_macs=gemm_w.macs, update_starts=update_starts,
        update_tile_weights=update_weights, activation_bytes=activation,
    )


# ---------------------------------------------------------------------------------------------
# Tracked counts per tile, from a mask (cached per snapshot by the caller)

def mask_tile_counts(work: LayerWork, mask: np.ndarray | None) -> dict:
    """Tracked weights per tile for each pass and for the update tiles; None = all tracked."""
    out = {}
    for phase, geo in work.passes.items():
        if mask is None:
            out[phase] = geo.tile_weights.copy()
            continue
        per_block = geo.grid.counts(work.mask_2d(mask))
        counts = np.add.reduceat(per_block, geo.tile_starts).astype(np.int64)
        counts[-1] += int(np.count_nonzero(mask[work.weight_count:]))
        out[phase] = counts
    if mask is None:
        out["update"] = work.update_tile_weights.copy()
    else:
        out["update"] = np.add.reduceat(mask, work.update_starts, dtype=np.int64)
    return out


# ---------------------------------------------------------------------------------------------
# One phase of one layer as tiles

@dataclass
class PhaseTiles:
    """Per-tile work of one (layer, phase), and the phase's totals for the record."""

    layer_id: int
    phase: str
    compute_cycles: list  # per tile; run on the PE array (or the update unit for "update")
    on_update_unit: bool
    weight_sram_read_words: list  # per tile: (value words, index words)
    weight_sram_write_words: list
    act_sram_read_words: list
    act_sram_write_words: list
    weight_dram_read_bytes: list
    weight_dram_write_bytes: list
    act_dram_read_bytes: list
    act_dram_write_bytes: list
    prng_values: list
    totals: dict  # count columns of the record (before timing and DRAM figures)

    @property
    def n_tiles(self) -> int:
        return len(self.compute_cycles)


def _bytes_for_bits(bits) -> np.ndarray:
    """Bytes per tile for per-tile bit counts, rounded up once for the whole layer's stream
    (so totals move monotonically with what is streamed) and spread over the tiles."""
    bits = np.asarray(bits, dtype=np.int64)
    return split_proportional(-(-int(bits.sum()) // 8), bits)


def _words(bits: np.ndarray, width: int) -> np.ndarray:
    return -(-np.asarray(bits, dtype=np.int64) // width)


def _activation_tiles(work: LayerWork, phase: str, cycles: np.ndarray, width: int):
    sram_r, sram_w, dram_r, dram_w = work.activation_bytes.get(phase, (0, 0, 0, 0))
    basis = cycles if cycles.sum() > 0 else np.ones(len(cycles), dtype=np.int64)
    split = [split_evenly(v, basis) for v in (sram_r, sram_w, dram_r, dram_w)]
    return (_words(split[0] * 8, width), _words(split[1] * 8, width), split[2], split[3],
            (sram_r, sram_w, dram_r, dram_w))


def _zeros(n):
    return np.zeros(n, dtype=np.int64)


def pass_tiles(work: LayerWork, phase: str, config, tracked_tiles: np.ndarray, pinned: int,
               index_bits: int, pinned_index_bits: int) -> PhaseTiles:
    """A weight pass (forward or backward_data): every weight read once, from SRAM if pinned,
    DRAM if tracked and not pinned, the PRNG if untracked."""
    geo = work.passes[phase]
    wbits, width = config.weight_bits, config.weight_sram.bank_width_bits
    weights = geo.tile_weights
    tracked = tracked_tiles
    pinned_t = split_proportional(pinned, tracked)
    streamed = tracked - pinned_t
    regenerated = weights - tracked
    index_basis = weights if config.index.format == "bitmap" else tracked
    index_t = split_proportional(index_bits, index_basis)
    index_pinned = split_proportional(pinned_index_bits, index_t)
    index_streamed = index_t - index_pinned
    value_words = _words(pinned_t * wbits, width)
    index_words = _words(index_pinned, width)
    dram_read = _bytes_for_bits(streamed * wbits + index_streamed)
    a_r, a_w, ad_r, ad_w, a_tot = _activation_tiles(work, phase, geo.tile_compute_cycles,
                                                    config.activation_sram.bank_width_bits)
    n = len(weights)
    totals = {
        "weight_accesses_count": int(weights.sum()),
        "served_sram_count": int(pinned_t.sum()),
        "served_dram_count": int(streamed.sum()),
        "served_prng_count": int(regenerated.sum()),
        "tracked_count": int(tracked.sum()),
        "regenerated_count": int(regenerated.sum()),
        "weight_sram_reads_count": int(value_words.sum() + index_words.sum()),
        "weight_sram_writes_count": 0,
        "activation_sram_reads_count": int(a_r.sum()),
        "activation_sram_writes_count": int(a_w.sum()),
        "prng_values_count": int(regenerated.sum()),
        "macs_count": geo.macs,
        "pe_weight_loads_count": geo.pe_weight_loads,
        "compute_cycles": int(geo.tile_compute_cycles.sum()),
    }
    return PhaseTiles(
        work.layer_id, phase, geo.tile_compute_cycles.tolist(), False,
        list(zip(value_words.tolist(), index_words.tolist())), [(0, 0)] * n,
        a_r.tolist(), a_w.tolist(), dram_read.tolist(), _zeros(n).tolist(),
        ad_r.tolist(), ad_w.tolist(), regenerated.tolist(), totals)


def gradient_tiles(work: LayerWork, config) -> PhaseTiles:
    """backward_weight: the array computes every weight's gradient; no weight is read. The
    gradients go straight to the update unit (not stored)."""
    cycles = work.gradient_tile_cycles
    n = len(cycles)
    a_r, a_w, ad_r, ad_w, _ = _activation_tiles(work, "backward_weight", cycles,
                                                config.activation_sram.bank_width_bits)
    totals = {
        "weight_accesses_count": 0, "served_sram_count": 0, "served_dram_count": 0,
        "served_prng_count": 0, "tracked_count": 0, "regenerated_count": 0,
        "weight_sram_reads_count": 0, "weight_sram_writes_count": 0,
        "activation_sram_reads_count": int(a_r.sum()),
        "activation_sram_writes_count": int(a_w.sum()),
        "prng_values_count": 0, "macs_count": work.gradient_macs, "pe_weight_loads_count": 0,
        "compute_cycles": int(cycles.sum()),
    }
    zeros = _zeros(n).tolist()
    return PhaseTiles(work.layer_id, "backward_weight", cycles.tolist(), False,
                      [(0, 0)] * n, [(0, 0)] * n, a_r.tolist(), a_w.tolist(), zeros, zeros,
                      ad_r.tolist(), ad_w.tolist(), zeros, totals)


def update_tiles(work: LayerWork, config, tracked_tiles: np.ndarray, entered: int, left: int,
                 pinned: int, index_bits: int, pinned_index_bits: int, pinned_after: int,
                 index_bits_after: int, pinned_index_bits_after: int, dense: bool) -> PhaseTiles:
    """The update: tracked weights read-modify-written (w <- w - lr*g), entering weights'
    w0 regenerated and written, the tracked-after set written where it will be read next
    iteration, and every weight's score compared (not in a dense run)."""
    wbits, width = config.weight_bits, config.weight_sram.bank_width_bits
    weights = work.update_tile_weights
    tracked = tracked_tiles
    pinned_t = split_proportional(pinned, tracked)
    streamed = tracked - pinned_t
    entered_t = split_proportional(entered, weights - tracked)
    left_t = split_proportional(left, tracked)
    after = tracked + entered_t - left_t
    pinned_after_t = split_proportional(pinned_after, after)
    streamed_after = after - pinned_after_t
    # index read (to know which weights are tracked) and rewritten where the set changed
    index_basis = weights if config.index.format == "bitmap" else tracked
    index_t = split_proportional(index_bits, index_basis)
    index_pinned = split_proportional(pinned_index_bits, index_t)
    changed = (entered_t + left_t) > 0
    after_basis = weights if config.index.format == "bitmap" else after
    index_after = split_proportional(index_bits_after, after_basis) * changed
    index_after_pinned = np.minimum(split_proportional(pinned_index_bits_after, after_basis),
                                    index_after)
    score_w0 = tracked if (config.update.score_regenerates_w0 and not dense) else _zeros(len(weights))
    prng = entered_t + score_w0
    rmw = tracked + entered_t
    compared = _zeros(len(weights)) if dense else weights
    cycles = update_cycles(config.update, rmw, compared)
    read_words = list(zip(_words(pinned_t * wbits, width).tolist(),
                          _words(index_pinned, width).tolist()))
    write_words = list(zip(_words(pinned_after_t * wbits, width).tolist(),
                           _words(index_after_pinned, width).tolist()))
    dram_read = _bytes_for_bits(streamed * wbits + (index_t - index_pinned))
    dram_write = _bytes_for_bits(streamed_after * wbits + (index_after - index_after_pinned))
    n = len(weights)
    zeros = _zeros(n).tolist()
    totals = {
        "weight_accesses_count": int((tracked + entered_t).sum()),
        "served_sram_count": int(pinned_t.sum()),
        "served_dram_count": int(streamed.sum()),
        "served_prng_count": int(entered_t.sum()),
        "tracked_count": int(tracked.sum()),
        "regenerated_count": int((weights - tracked).sum()),
        "entered_count": int(entered_t.sum()),
        "left_count": int(left_t.sum()),
        "weight_sram_reads_count": int(sum(a + b for a, b in read_words)),
        "weight_sram_writes_count": int(sum(a + b for a, b in write_words)),
        "activation_sram_reads_count": 0, "activation_sram_writes_count": 0,
        "prng_values_count": int(prng.sum()),
        "macs_count": 0, "pe_weight_loads_count": 0,
        "update_alu_weights_count": int(rmw.sum()),
        "topk_compares_count": int(compared.sum()),
        "compute_cycles": int(cycles.sum()),
    }
    return PhaseTiles(work.layer_id, "update", cycles.tolist(), True, read_words, write_words,
                      zeros, zeros, dram_read.tolist(), dram_write.tolist(), zeros, zeros,
                      prng.tolist(), totals)


def load_tiles(work: LayerWork, config, pinned: int, pinned_index_bits: int) -> PhaseTiles:
    """The one-time load: the pinned tracked values and index read from DRAM into the SRAM."""
    wbits, width = config.weight_bits, config.weight_sram.bank_width_bits
    n_tiles = max(1, math.ceil(pinned / config.tile_weights))
    values = split_evenly(pinned, np.ones(n_tiles, dtype=np.int64))
    index = split_evenly(pinned_index_bits, np.ones(n_tiles, dtype=np.int64))
    write_words = list(zip(_words(values * wbits, width).tolist(), _words(index, width).tolist()))
    dram_read = _bytes_for_bits(values * wbits + index)
    zeros = _zeros(n_tiles).tolist()
    totals = {
        "weight_accesses_count": int(pinned), "served_sram_count": 0,
        "served_dram_count": int(pinned), "served_prng_count": 0,
        "tracked_count": 0, "regenerated_count": 0,
        "weight_sram_reads_count": 0,
        "weight_sram_writes_count": int(sum(a + b for a, b in write_words)),
        "activation_sram_reads_count": 0, "activation_sram_writes_count": 0,
        "prng_values_count": 0, "macs_count": 0, "pe_weight_loads_count": 0,
        "compute_cycles": 0,
    }
    return PhaseTiles(work.layer_id, "load", zeros, False, [(0, 0)] * n_tiles, write_words,
                      zeros, zeros, dram_read.tolist(), zeros, zeros, zeros, zeros, totals)

