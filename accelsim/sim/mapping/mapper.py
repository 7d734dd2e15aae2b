"""The mapper: how one phase's GEMM uses the buffers, operand by operand (closed form, numpy).

A phase of a layer is a GEMM ``C[M x N] = A[M x K] . B[K x N]`` (`accelsim.sim.mapping.gemm`):

- forward         A = X (im2col of the input),  B = W,   C = Y;
- backward_data   A = dY (im2col),              B = Wᵀ,  C = dX;
- backward_weight A = Xᵀ (the stashed input),   B = dY,  C = dW.

`map_gemm` says, for one such GEMM on an R x C array and the buffers of a config, how it is cut
into folds of the array (dataflow ws / os / is) and tiles of the buffers, and what each operand
reads and writes at each level: the on-chip buffer (SRAM) and DRAM, and the words that enter the
array. The result is an `OperandTraffic` per operand (A, B, C; C includes partial sums), in
words, plus the loop order and tile sizes chosen.

Two reuse policies:

``scalesim`` -- SCALE-Sim v3's fixed policy in its default (CALC) bandwidth mode, read from its
source (`scalesim/memory/read_buffer_estimate_bw.py`, `write_buffer.py`,
`compute/systolic_compute_{ws,os,is}.py`) and written here as closed forms:

- fold loops: ws column folds of N outer, row folds of K inner; os column folds of N outer, row
  folds of M inner; is column folds of M outer, row folds of K inner.
- array-side SRAM reads: ws A M·K·ceil(N/C), B K·N; os A M·K·ceil(N/C), B K·N·ceil(M/R);
  is A M·K, B K·N·ceil(M/C). Output SRAM writes: ws and is write a partial sum per row fold,
  M·N·ceil(K/R); os writes M·N (SCALE-Sim adds R + C idle slots per fold, counted apart).
- each read buffer remembers distinct addresses in blocks of 50·floor(words/100); when a block
  fills it starts afresh and everything earlier misses again. So an operand whose distinct
  words (its footprint) fit in one block is read from DRAM once. Otherwise, for an im2col A
  whose window geometry is known (`Gemm.a_window`: the forward phase at batch 1, what
  SCALE-Sim's conv form models), its request stream is replayed through that rule exactly
  (`accelsim.sim.mapping.scalesim`); otherwise (a plain matrix; the backward phases) a use whose
  reuse distance (distinct words between two uses) is at least a block always misses, and a
  shorter one misses with the chance that a block boundary falls between the two
  (distance / block).
- every output word written to the SRAM is written to DRAM (its write buffer drains all).

``mapper`` (the default) -- a small search, per GEMM, over the loop order at the buffer level
(which operand stays on chip across the other's tiles) and the tile sizes that fit the buffer
capacities, minimising DRAM words (or energy, `objective`). Partial sums stay on chip while
the output tile fits; otherwise they go to DRAM and come back once per reduction tile. The
`scalesim` schedule is one of the candidates, so the mapper never moves more DRAM words than
the `scalesim` policy on the same hardware; more buffer never adds DRAM words (the candidate
set only grows with capacity).

Array side (both policies): the operand held in the array (ws: B, os: C, is: A) enters it once
per fold; the streamed ones are read from the buffer once per fold that uses them.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

from accelsim.sim.mapping.folds import array_side, ceil_div
from accelsim.sim.mapping.gemm import Gemm, GemmMapping, OperandTraffic, scaled_to_groups
from accelsim.sim.mapping.scalesim import im2col_dram_reads, scalesim_mapping

POLICIES = ("mapper", "scalesim")
OBJECTIVES = ("dram", "energy")
OPERANDS = ("A", "B", "C")


def _candidates(extent: int, step: int) -> list[int]:
    """Tile sizes along one axis: multiples of the array side (powers of two of them) and the
    whole extent."""
    out, t = [], max(1, step)
    while t < extent:
        out.append(t)
        t *= 2
    out.append(extent)
    return out


def _mapper(g: Gemm, rows: int, cols: int, dataflow: str, *, a_words: int, b_words: int,
            c_words: int, shared_words: int | None, objective_costs) -> GemmMapping:
    """Search loop orders and tile sizes for the fewest DRAM words (or least energy)."""
    side = array_side(g, rows, cols, dataflow)
    m, n, k = g.m, g.n, g.k
    a_ratio = g.a_footprint_words / max(1, m * k)  # distinct A words per im2col entry
    sram_cost, dram_cost = objective_costs
    best = None

    def fits(a_tile, b_tile, c_tile):
        if shared_words is not None:
            return a_tile + b_tile + c_tile <= shared_words
        return b_tile <= b_words and a_tile + c_tile <= a_words + c_words

    for tm in _candidates(m, rows):
        for tn in _candidates(n, cols):
            for tk in _candidates(k, rows):
                a_tile = math.ceil(a_ratio * tm * tk)
                b_tile, c_tile = tk * tn, tm * tn
                if not fits(a_tile, b_tile, c_tile):
                    continue
                kt, mt, nt = ceil_div(k, tk), ceil_div(m, tm), ceil_div(n, tn)
                # whole-operand reuse: a tile held over the inner loop is fetched once
                a_once = g.a_footprint_words
                for order in ("n>m>k", "m>n>k", "n>k>m", "m>k>n"):
                    if order in ("n>m>k", "m>n>k"):
                        # k innermost: the output tile accumulates on chip
                        a_dram = a_once * (nt if kt > 1 or order == "n>m>k" else 1)
                        if order == "m>n>k" and kt == 1:
                            a_dram = a_once  # the A row tile stays while n moves
                        b_dram = k * n * (mt if kt > 1 or order == "m>n>k" else 1)
                        if order == "n>m>k" and kt == 1:
                            b_dram = k * n  # the B column tile stays while m moves
                        c_read, c_write = 0, m * n
                    elif order == "n>k>m":
                        # B tile stays while m moves; partial sums of a column tile stay on
                        # chip only if all M rows of it fit
                        b_dram = k * n
                        a_dram = a_once * nt
                        spill = kt > 1 and not fits(a_tile, b_tile, m * tn)
                        c_read = m * n * (kt - 1) if spill else 0
                        c_write = m * n * (kt if spill else 1)
                    else:  # m>k>n: A tile stays while n moves
                        a_dram = a_once
                        b_dram = k * n * mt
                        spill = kt > 1 and not fits(a_tile, b_tile, tm * n)
                        c_read = m * n * (kt - 1) if spill else 0
                        c_write = m * n * (kt if spill else 1)
                    dram = a_dram + b_dram + c_read + c_write
                    # buffer side: fills from DRAM, drains to DRAM, array traffic
                    sram = (side["a"] + side["b"] + a_dram + b_dram + c_read + c_write
                            + side["c_writes"] + max(0, side["c_writes"] - m * n))
                    cost = dram * dram_cost + sram * sram_cost
                    key = (cost, dram, tm * tn * tk)
                    if best is None or key < best[0]:
                        best = (key, order, tm, tn, tk, a_dram, b_dram, c_read, c_write)
    scalesim = scalesim_mapping(replace(g, groups=1), rows, cols, dataflow,
                         a_words if shared_words is None else shared_words // 2,
                         b_words if shared_words is None else shared_words // 2)
    ss_dram = scalesim.dram_words
    if best is None or best[0][1] > ss_dram:
        # nothing fits better than the fixed schedule: keep it (never more traffic)
        return scaled_to_groups(GemmMapping("mapper", dataflow, scalesim.loop_order, 0, 0, 0,
                                   scalesim.operands, scalesim.partial_sums_on_chip), g.groups)
    _, order, tm, tn, tk, a_dram, b_dram, c_read, c_write = best
    # array-side partial sums: the output tile accumulates in the buffer across row folds
    psum_reads = max(0, side["c_writes"] - m * n)
    ops = {
        "A": OperandTraffic(side["a"], a_dram, a_dram, 0, side["a_loads"]),
        "B": OperandTraffic(side["b"], b_dram, b_dram, 0, side["b_loads"]),
        "C": OperandTraffic(psum_reads + c_write, side["c_writes"] + c_read, c_read, c_write,
                            0),
    }
    return scaled_to_groups(GemmMapping("mapper", dataflow, order, tm, tn, tk, ops,
                               c_read == 0), g.groups)


def map_gemm(g: Gemm, rows: int, cols: int, dataflow: str, policy: str = "mapper", *,
             a_words: int, b_words: int, c_words: int = 0, shared_words: int | None = None,
             objective: str = "dram", sram_pj_per_word: float = 1.0,
             dram_pj_per_word: float = 100.0) -> GemmMapping:
    """The mapping of one GEMM (all its groups) on an R x C array with the given buffer words.

    a_words / b_words / c_words: the words of the buffer each operand lives in (split buffers;
    an operand sharing a buffer gets its share); shared_words: one global buffer for all
    three (then the others are ignored). objective: "dram" (fewest DRAM words) or "energy"
    (SRAM and DRAM words weighted by their energy per word).

    A mapping is a pure function of these arguments; it is remembered, so the same GEMM on the
    same hardware (a layer's phases in every iteration, snapshot and sweep point with the same
    buffers) is searched once per process."""
    shared = None if shared_words is None else int(shared_words)
    return _map_gemm(g, int(rows), int(cols), str(dataflow), str(policy), int(a_words),
                     int(b_words), int(c_words), shared, str(objective),
                     float(sram_pj_per_word), float(dram_pj_per_word))


@lru_cache(maxsize=4096)
def _map_gemm(g: Gemm, rows: int, cols: int, dataflow: str, policy: str, a_words: int,
              b_words: int, c_words: int, shared_words: int | None, objective: str,
              sram_pj_per_word: float, dram_pj_per_word: float) -> GemmMapping:
    if policy not in POLICIES:
        raise ValueError(f"policy {policy!r} not one of {POLICIES}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r} not one of {OBJECTIVES}")
    per_group = Gemm(g.m, g.n // g.groups if g.groups > 1 else g.n, g.k,
                          max(1, g.a_footprint_words // max(1, g.groups)), g.a_reuse_words_ws,
                          g.a_reuse_words_os, g.groups, g.a_window)
    if policy == "scalesim":
        a = a_words if shared_words is None else shared_words // 2
        b = b_words if shared_words is None else shared_words // 2
        return scalesim_mapping(per_group, rows, cols, dataflow, a, b)
    costs = (0.0, 1.0) if objective == "dram" else (sram_pj_per_word, dram_pj_per_word)
    return _mapper(per_group, rows, cols, dataflow, a_words=a_words, b_words=b_words,
                   c_words=c_words, shared_words=shared_words, objective_costs=costs)


def clear_cache() -> None:
    """Forget every remembered mapping and im2col replay (for timing them afresh)."""
    _map_gemm.cache_clear()
    im2col_dram_reads.cache_clear()
