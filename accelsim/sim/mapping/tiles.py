"""Operand traffic per tile and level: what one iteration asks of the hardware (pure numpy).

A layer's fixed mapping (`accelsim.sim.mapping.layer.LayerWork`: its phases' GEMMs folded onto
the array and grouped into tiles, their compute cycles and activation traffic) is turned here
into tiles. `pass_tiles`, `gradient_tiles`, `update_tiles` and `load_tiles` turn it, with the
tracked set of one iteration and the SRAM placement, into a `PhaseTiles`: per tile, the compute
cycles, the values the PRNG regenerates, and the `Traffic` each way (read into the array, written
back), every side of one shape: weight SRAM words (values, index), activation SRAM words, weight
DRAM bytes, activation DRAM bytes, optimizer state (weight SRAM words, DRAM bytes).
`PhaseTiles.counts` turns it into the record's `Counts`. The SimPy machine
(`accelsim.sim.machine`) only replays these tiles through the hardware parts.

Counting rules (a tile's figures are exact sums; only where inside a layer they fall is spread):
- a layer's tracked count comes from the trace's `steps`; the snapshot's mask says where the
  tracked weights lie. When the two differ (an interval's mean, or an iteration between
  snapshots) the mask's per-tile counts are scaled to the exact count.
- pinned (SRAM) and streamed (DRAM) shares of a tile follow the layer's placement, spread over
  its tiles in proportion to their tracked weights; entering weights in proportion to untracked
  ones, leaving weights to tracked ones; index bits in proportion to the weights that carry
  them (`IndexConfig.indexed_weights`).
- activations (when simulated) follow the phase's GEMM mapping (`accelsim.sim.mapping.mapper`): the
  im2col input re-read per filter fold when the buffer is too small, partial sums to the buffer
  and, when the output tile does not fit, to DRAM and back. Under the default `mapper` policy a
  phase whose input and output fit in the activation SRAM together keeps them on chip (layers
  hand activations to each other there); otherwise its input comes from DRAM and its output
  goes there (the forward output is the stash backward_weight reads back). backward_data's
  im2col-shaped output is folded into dX where it is produced (col2im; only dX reaches DRAM).
  backward_weight's output, the weight gradient, is consumed on the fly by the update (never
  materialised); its partial sums (one per row fold under ws and is, none under os) go
  through the buffer, and only those that spill reach DRAM
  (`accelsim.sim.mapping.layer.activation_operands`).
- every GEMM phase counts the words hopping between PEs, one per MAC for each operand the
  dataflow moves (`folds.array_hops`).
- the update reads the optimizer state of the tracked weights and writes that of the tracked
  set after, from and to where the placement keeps it (weight SRAM or DRAM); its ALU does the
  optimizer's add- and multiply-class operations (`placement.OptimizerRule`) for every weight
  it updates (tracked and entering), beside the w <- w - lr*g it always does.
- weights (forward, backward_data) enter the array as often as the dataflow says
  (`pe_weight_loads_count`: ws once, os once per row fold, is once per column fold of M); pinned
  weights are read from the weight SRAM each time; streamed and regenerated weights pass a
  staging buffer: if a fold's weights fit in it they are fetched (or regenerated) once per
  pass, otherwise each time they re-enter the array.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from accelsim.config.accelerator import AcceleratorConfig, UpdateConfig
from accelsim.sim.mapping.apportion import split_evenly, split_proportional
from accelsim.sim.mapping.layer import LayerWork
from accelsim.sim.mapping.placement import LayerPlacement, optimizer_state_bits
from accelsim.sim.mapping.scalesim import scalesim_weight_fetches
from accelsim.sim.results import Counts


def scale_counts(mask_counts: np.ndarray, sizes: np.ndarray, target: int) -> np.ndarray:
    """Per-tile tracked counts summing to `target`, as close to the mask's as possible."""
    have = int(mask_counts.sum())
    if have == target:
        return mask_counts
    if target < have:
        return split_proportional(target, mask_counts)
    return mask_counts + split_proportional(target - have, sizes - mask_counts)


def update_cycles(update_config: UpdateConfig, rmw_weights: Any, compared_weights: Any) -> Any:
    """Update unit cycles: the read-modify-write of values on `alu_lanes` lanes, then the
    threshold/top-k maintenance at `topk_cycles_per_weight` per weight compared. Takes ints
    (returns an int) or numpy arrays of per-tile counts (returns int64 cycles per tile)."""
    total = (np.asarray(rmw_weights) / update_config.alu_lanes
             + np.asarray(compared_weights) * update_config.topk_cycles_per_weight)
    cycles = np.ceil(total).astype(np.int64)
    return int(cycles) if cycles.ndim == 0 else cycles


# ---------------------------------------------------------------------------------------------
# Tracked counts per tile, from a mask (cached per snapshot by the caller)

def mask_tile_counts(work: LayerWork, mask: np.ndarray | None) -> dict:
    """Tracked weights per tile for each pass and for the update tiles; None = all tracked."""
    out = {}
    # a pass's blocks are often another's (ws on a square array: forward and backward_data cut
    # W into the same blocks, in other orders): count each grid once
    blocks: dict = {}
    for phase, geo in work.passes.items():
        if mask is None:
            out[phase] = geo.tile_weights.copy()
            continue
        grid = geo.grid
        cuts = (grid.channel_starts.tobytes(), grid.k_starts.tobytes())
        if cuts not in blocks:
            blocks[cuts] = grid.block_counts(work.mask_2d(mask))
        per_block = grid.order(blocks[cuts])
        counts = np.add.reduceat(per_block, geo.tile_starts).astype(np.int64)
        counts[-1] += int(np.count_nonzero(mask[work.weight_count:]))
        out[phase] = counts
    if mask is None:
        out["update"] = work.update_tile_weights.copy()
    else:
        # int32 (SIMD-wide) is exact below 2^31 weights
        exact = np.int32 if mask.size < 2**31 else np.int64
        out["update"] = np.add.reduceat(mask, work.update_starts,
                                        dtype=exact).astype(np.int64)
    return out


# ---------------------------------------------------------------------------------------------
# One phase of one layer as tiles

@dataclass(frozen=True)
class Traffic:
    """One way of a phase's traffic, per tile: what fetch reads for the array, or what
    write-back writes after it. Both ways have this one shape; the machine moves either with
    one routine. Lists of ints (the SimPy loop indexes them tile by tile)."""

    weight_sram_value_words: list
    weight_sram_index_words: list
    activation_sram_words: list
    weight_dram_bytes: list
    activation_dram_bytes: list
    # optimizer state (the update only): words of the weight SRAM, bytes of DRAM
    state_sram_words: list
    state_dram_bytes: list

    @classmethod
    def of(cls, n_tiles: int, **per_tile) -> Traffic:
        """Traffic from per-tile arrays named by field; a kind not named moves nothing."""
        moved = {f.name: [0] * n_tiles for f in fields(cls)}
        moved.update((kind, np.asarray(values, dtype=np.int64).tolist())
                     for kind, values in per_tile.items())
        return cls(**moved)  # a name that is not a field is a TypeError

    @property
    def weight_sram_words(self) -> int:
        """Accesses of the weight SRAM: values, index and optimizer state."""
        return int(sum(self.weight_sram_value_words) + sum(self.weight_sram_index_words)
                   + sum(self.state_sram_words))


@dataclass(frozen=True)
class PhaseTiles:
    """Per-tile work of one (layer, phase), and the counts of that work for the record."""

    layer_id: int
    phase: str
    on_update_unit: bool  # computed on the update unit (the update phase), else the PE array
    compute_cycles: list  # per tile
    prng_values: list  # per tile: values regenerated by the PRNG for fetch
    read: Traffic  # fetched for each tile before its compute
    write: Traffic  # written back after it
    work_counts: dict  # `Counts` fields the work gives, by name (traffic and timing aside)

    @property
    def n_tiles(self) -> int:
        return len(self.compute_cycles)

    def counts(self, *, total_cycles: int, **dram_model_counts) -> Counts:
        """The record's counts once the machine has timed the phase; `dram_model_counts` are
        the DRAM model's figures by column name. A count left out is a TypeError."""
        read, write = self.read, self.write
        compute_cycles = int(sum(self.compute_cycles))
        weight_dram_read = int(sum(read.weight_dram_bytes))
        weight_dram_written = int(sum(write.weight_dram_bytes))
        activation_dram_read = int(sum(read.activation_dram_bytes))
        activation_dram_written = int(sum(write.activation_dram_bytes))
        state_dram_read = int(sum(read.state_dram_bytes))
        state_dram_written = int(sum(write.state_dram_bytes))
        weight_sram_reads, weight_sram_writes = read.weight_sram_words, write.weight_sram_words
        activation_sram_reads = int(sum(read.activation_sram_words))
        activation_sram_writes = int(sum(write.activation_sram_words))
        return Counts(
            total_cycles=total_cycles, compute_cycles=compute_cycles,
            stall_cycles=total_cycles - compute_cycles,
            dram_bytes_read=weight_dram_read + activation_dram_read + state_dram_read,
            dram_bytes_written=weight_dram_written + activation_dram_written + state_dram_written,
            optimizer_state_dram_bytes_read=state_dram_read,
            optimizer_state_dram_bytes_written=state_dram_written,
            optimizer_state_sram_reads_count=int(sum(read.state_sram_words)),
            optimizer_state_sram_writes_count=int(sum(write.state_sram_words)),
            weight_dram_bytes_read=weight_dram_read, weight_dram_bytes_written=weight_dram_written,
            activation_dram_bytes_read=activation_dram_read,
            activation_dram_bytes_written=activation_dram_written,
            weight_sram_reads_count=weight_sram_reads, weight_sram_writes_count=weight_sram_writes,
            activation_sram_reads_count=activation_sram_reads,
            activation_sram_writes_count=activation_sram_writes,
            sram_reads_count=weight_sram_reads + activation_sram_reads,
            sram_writes_count=weight_sram_writes + activation_sram_writes,
            prng_values_count=int(sum(self.prng_values)),
            # a GEMM phase does no vector-unit work, a vector phase no array hops
            **({"vector_add_ops_count": 0, "vector_mult_ops_count": 0,
                "optimizer_add_ops_count": 0, "optimizer_mult_ops_count": 0} | _NO_HOPS
               | self.work_counts),
            **dram_model_counts)


def _bytes_for_bits(bits) -> np.ndarray:
    """Bytes per tile for per-tile bit counts, rounded up once for the whole layer's stream
    (so totals move monotonically with what is streamed) and spread over the tiles."""
    bits = np.asarray(bits, dtype=np.int64)
    return split_proportional(-(-int(bits.sum()) // 8), bits)


def _words(bits: np.ndarray, width: int) -> np.ndarray:
    return -(-np.asarray(bits, dtype=np.int64) // width)


def _zeros(n):
    return np.zeros(n, dtype=np.int64)


def _weight_traffic(config: AcceleratorConfig, *, sram_values, sram_index_bits, dram_values,
                    dram_index_bits) -> dict:
    """Per-tile traffic of weight values and their index bits (`Traffic` fields): words of
    the weight SRAM, and bytes of DRAM."""
    wbits, width = config.weight_bits, config.weight_sram.bank_width_bits
    return dict(weight_sram_value_words=_words(sram_values * wbits, width),
                weight_sram_index_words=_words(sram_index_bits, width),
                weight_dram_bytes=_bytes_for_bits(dram_values * wbits + dram_index_bits))


def _state_traffic(config: AcceleratorConfig, sram_words: np.ndarray,
                   dram_words: np.ndarray) -> dict:
    """Per-tile traffic of optimizer state words (`Traffic` fields): accesses of the weight
    SRAM where it is pinned, bytes of DRAM where it streams."""
    bits = optimizer_state_bits(config)
    if not np.any(sram_words) and not np.any(dram_words):
        return {}
    return dict(state_sram_words=_words(sram_words * bits, config.weight_sram.bank_width_bits),
                state_dram_bytes=_bytes_for_bits(dram_words * bits))


def _activation_traffic(work: LayerWork, phase: str, cycles: np.ndarray,
                        width: int) -> tuple[dict, dict]:
    """Per-tile activation traffic of a phase (`Traffic` fields), read and written, spread
    over the tiles by their compute cycles."""
    sram_read, sram_write, dram_read, dram_write = work.activation_bytes.get(phase, (0, 0, 0, 0))
    basis = cycles if cycles.sum() > 0 else np.ones(len(cycles), dtype=np.int64)

    def one_way(sram_bytes, dram_bytes):
        return dict(activation_sram_words=_words(split_evenly(sram_bytes, basis) * 8, width),
                    activation_dram_bytes=split_evenly(dram_bytes, basis))

    return one_way(sram_read, dram_read), one_way(sram_write, dram_write)


_NO_HOPS = dict(pe_input_hops_count=0, pe_weight_hops_count=0, pe_partial_sum_hops_count=0)


def _hop_counts(work: LayerWork, phase: str, macs: int) -> dict[str, int]:
    """The phase's words hopping between PEs (`folds.array_hops`), by `Counts` column; with
    zero MACs skipped, in proportion to the MACs kept."""
    hops, full = work.hops[phase], work.gemms[phase].macs
    def kept(words: int) -> int:
        return words if macs == full or not full else -(-words * int(macs) // full)
    return dict(pe_input_hops_count=kept(hops["A"]), pe_weight_hops_count=kept(hops["B"]),
                pe_partial_sum_hops_count=kept(hops["C"]))


def pass_tiles(work: LayerWork, phase: str, config: AcceleratorConfig, tracked_tiles: np.ndarray,
               placed: LayerPlacement) -> PhaseTiles:
    """A weight pass (forward or backward_data): every weight enters the array `entries` times
    (the dataflow); a pinned one is read from the SRAM each time, a streamed one comes from
    DRAM and an untracked one from the PRNG `fetches` times (once if its fold fits the staging
    buffer). Under the `scalesim` policy the weights are the mapping's operand B instead
    (SCALE-Sim's filter SRAM and its DRAM reads)."""
    geo = work.passes[phase]
    entries, fetches = work.weight_factors[phase]
    weights, tracked = geo.tile_weights, tracked_tiles
    n = len(weights)
    pinned = split_proportional(placed.pinned, tracked)
    streamed = tracked - pinned
    regenerated = weights - tracked
    macs, cycles = geo.macs, geo.tile_compute_cycles
    if work.untracked_zero:  # zeros: the index says so, nothing is fetched or regenerated
        zero, regenerated = regenerated, _zeros(n)
        macs, cycles = _skip_zero_macs(config, macs, cycles, weights, zero)
    index = split_proportional(placed.index_bits, config.index.indexed_weights(weights, tracked))
    index_pinned = split_proportional(placed.pinned_index_bits, index)
    activation_read, activation_write = _activation_traffic(
        work, phase, cycles, config.activation_sram.bank_width_bits)
    sram_values, dram_values, prng_values = (pinned * entries, streamed * fetches,
                                             regenerated * fetches)
    staged = (streamed + regenerated) * (fetches + entries) if config.staging_buffer_bytes else 0
    if config.reuse_policy == "scalesim":
        # the weights are the memory model's operand B: every entry into the array is a read
        # of the weight SRAM (SCALE-Sim's filter SRAM, no staging buffer beside it), and they
        # come from DRAM (or the PRNG) as often as B does, block refetches included
        b_dram = work.mappings[phase].operands["B"].dram_reads
        bias_streamed = min(work.bias_count, int(streamed[-1]))
        bias_regenerated = min(work.bias_count - bias_streamed, int(regenerated[-1]))
        sram_values, staged = (tracked + regenerated) * entries, 0
        dram_values = scalesim_weight_fetches(streamed, bias_streamed, work.weight_count,
                                              b_dram)
        prng_values = scalesim_weight_fetches(regenerated, bias_regenerated, work.weight_count,
                                              b_dram)
    # the index moves with the values: read as often as they are
    read = Traffic.of(n, **_weight_traffic(config, sram_values=sram_values,
                                           sram_index_bits=index_pinned * entries,
                                           dram_values=dram_values,
                                           dram_index_bits=(index - index_pinned) * fetches),
                      **activation_read)
    work_counts = dict(
        iterations_count=1, weight_accesses_count=int((tracked + regenerated).sum()) * entries,
        served_sram_count=int(pinned.sum()) * entries,
        served_dram_count=int(streamed.sum()) * entries,
        served_prng_count=int(regenerated.sum()) * entries, tracked_count=int(tracked.sum()),
        regenerated_count=int(regenerated.sum()), entered_count=0, left_count=0,
        macs_count=macs, pe_weight_loads_count=geo.pe_weight_loads,
        **_hop_counts(work, phase, macs), staging_accesses_count=int(np.sum(staged)),
        update_alu_weights_count=0, topk_compares_count=0)
    return PhaseTiles(layer_id=work.layer_id, phase=phase, on_update_unit=False,
                      compute_cycles=cycles.tolist(),
                      prng_values=np.asarray(prng_values).tolist(), read=read,
                      write=Traffic.of(n, **activation_write), work_counts=work_counts)


def _skip_zero_macs(config: AcceleratorConfig, macs: int, cycles: np.ndarray, weights: np.ndarray,
                    zero: np.ndarray) -> tuple[int, np.ndarray]:
    """With `pe.skip_zero_macs`, a pass's MACs and tile cycles without the zero weights'
    multiplications: MACs in proportion to the nonzero weights, and each tile's cycles to its
    nonzero share, rounded up (an idealised array that compacts nonzero weights; the fill and
    drain of each fold are not kept apart). Without it, the zeros are multiplied as usual."""
    if not config.pe.skip_zero_macs or not zero.any():
        return macs, cycles
    total = int(weights.sum())
    nonzero = np.maximum(weights - zero, 0)
    kept_macs = -(-int(macs) * int(nonzero.sum()) // total) if total else int(macs)
    safe = np.maximum(weights, 1)
    kept_cycles = -(-np.asarray(cycles, dtype=np.int64) * nonzero // safe)
    return kept_macs, kept_cycles


def gradient_tiles(work: LayerWork, config: AcceleratorConfig) -> PhaseTiles:
    """backward_weight: the array computes every weight's gradient; no weight is read. The
    gradients go straight to the update unit (not stored)."""
    cycles = work.gradient_tile_cycles
    n = len(cycles)
    activation_read, activation_write = _activation_traffic(
        work, "backward_weight", cycles, config.activation_sram.bank_width_bits)
    work_counts = dict(
        iterations_count=1, weight_accesses_count=0, served_sram_count=0, served_dram_count=0,
        served_prng_count=0, tracked_count=0, regenerated_count=0, entered_count=0,
        left_count=0, macs_count=work.gradient_macs, pe_weight_loads_count=0,
        **_hop_counts(work, "backward_weight", work.gradient_macs),
        staging_accesses_count=0, update_alu_weights_count=0, topk_compares_count=0)
    return PhaseTiles(layer_id=work.layer_id, phase="backward_weight", on_update_unit=False,
                      compute_cycles=cycles.tolist(), prng_values=[0] * n,
                      read=Traffic.of(n, **activation_read),
                      write=Traffic.of(n, **activation_write), work_counts=work_counts)


def update_tiles(work: LayerWork, config: AcceleratorConfig, tracked_tiles: np.ndarray,
                 entered: int, left: int, placed: LayerPlacement,
                 placed_after: LayerPlacement, dense: bool) -> PhaseTiles:
    """The update: tracked weights read-modify-written (w <- w - lr*g), entering weights'
    w0 regenerated and written, the tracked-after set written where it will be read next
    iteration (`placed_after`), and every weight's score compared (not in a dense run)."""
    weights, tracked = work.update_tile_weights, tracked_tiles
    n = len(weights)
    pinned = split_proportional(placed.pinned, tracked)
    streamed = tracked - pinned
    entered_t = split_proportional(entered, weights - tracked)
    left_t = split_proportional(left, tracked)
    after = tracked + entered_t - left_t
    pinned_after = split_proportional(placed_after.pinned, after)
    streamed_after = after - pinned_after
    # index read (to know which weights are tracked) and rewritten where the set changed
    index = split_proportional(placed.index_bits, config.index.indexed_weights(weights, tracked))
    index_pinned = split_proportional(placed.pinned_index_bits, index)
    changed = (entered_t + left_t) > 0
    indexed_after = config.index.indexed_weights(weights, after)
    index_after = split_proportional(placed_after.index_bits, indexed_after) * changed
    index_after_pinned = np.minimum(
        split_proportional(placed_after.pinned_index_bits, indexed_after), index_after)
    score_w0 = tracked if (config.update.score_regenerates_w0 and not dense) else _zeros(n)
    # zeros as initial values: an entering weight starts at 0 and a score |w - 0| needs no w0
    entering_w0 = _zeros(n) if work.untracked_zero else entered_t
    if work.untracked_zero:
        score_w0 = _zeros(n)
    prng = entering_w0 + score_w0
    rmw = tracked + entered_t
    compared = _zeros(n) if dense else weights
    cycles = update_cycles(config.update, rmw, compared)
    # optimizer state: read for every tracked weight, written for every weight tracked after
    # (an entering weight's state starts at zero: written, not read; a leaving one's dropped)
    state, state_after = tracked * work.optimizer_state_words, after * work.optimizer_state_words
    stateful = int(work.optimizer_state_words > 0)
    state_pinned = split_proportional(placed.pinned_state_words, state)
    state_after_pinned = split_proportional(placed_after.pinned_state_words, state_after)
    read = Traffic.of(n, **_weight_traffic(config, sram_values=pinned, sram_index_bits=index_pinned,
                                           dram_values=streamed,
                                           dram_index_bits=index - index_pinned),
                      **_state_traffic(config, state_pinned, state - state_pinned))
    write = Traffic.of(n, **_weight_traffic(config, sram_values=pinned_after,
                                            sram_index_bits=index_after_pinned,
                                            dram_values=streamed_after,
                                            dram_index_bits=index_after - index_after_pinned),
                       **_state_traffic(config, state_after_pinned,
                                        state_after - state_after_pinned))
    work_counts = dict(
        iterations_count=1, weight_accesses_count=int((tracked + entering_w0).sum()),
        served_sram_count=int(pinned.sum()), served_dram_count=int(streamed.sum()),
        served_prng_count=int(entering_w0.sum()), tracked_count=int(tracked.sum()),
        regenerated_count=0 if work.untracked_zero else int((weights - tracked).sum()),
        entered_count=int(entered_t.sum()),
        left_count=int(left_t.sum()), macs_count=0, pe_weight_loads_count=0, **_NO_HOPS,
        staging_accesses_count=0, update_alu_weights_count=int(rmw.sum()),
        topk_compares_count=int(compared.sum()),
        # every weight updated with state computes it (an entering weight's from zero)
        optimizer_add_ops_count=int(rmw.sum()) * stateful * work.optimizer_add_ops,
        optimizer_mult_ops_count=int(rmw.sum()) * stateful * work.optimizer_mult_ops)
    return PhaseTiles(layer_id=work.layer_id, phase="update", on_update_unit=True,
                      compute_cycles=cycles.tolist(), prng_values=prng.tolist(), read=read,
                      write=write, work_counts=work_counts)


def load_tiles(work: LayerWork, config: AcceleratorConfig, placed: LayerPlacement) -> PhaseTiles:
    """The one-time load: the pinned tracked values and index read from DRAM into the SRAM.
    It belongs to no iteration."""
    n = max(1, math.ceil(placed.pinned / config.tile_weights))
    values = split_evenly(placed.pinned, np.ones(n, dtype=np.int64))
    index = split_evenly(placed.pinned_index_bits, np.ones(n, dtype=np.int64))
    read = Traffic.of(n, **_weight_traffic(config, sram_values=_zeros(n),
                                           sram_index_bits=_zeros(n), dram_values=values,
                                           dram_index_bits=index))
    write = Traffic.of(n, **_weight_traffic(config, sram_values=values, sram_index_bits=index,
                                            dram_values=_zeros(n), dram_index_bits=_zeros(n)))
    work_counts = dict(
        iterations_count=0, weight_accesses_count=int(placed.pinned), served_sram_count=0,
        served_dram_count=int(placed.pinned), served_prng_count=0, tracked_count=0,
        regenerated_count=0, entered_count=0, left_count=0, macs_count=0,
        pe_weight_loads_count=0, **_NO_HOPS, staging_accesses_count=0, update_alu_weights_count=0,
        topk_compares_count=0)
    return PhaseTiles(layer_id=work.layer_id, phase="load", on_update_unit=False,
                      compute_cycles=[0] * n, prng_values=[0] * n, read=read, write=write,
                      work_counts=work_counts)
