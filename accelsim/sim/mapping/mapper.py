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
the output tile fits; otherwise they go to DRAM and come back once per reduction tile. An
im2col A of known geometry (`Gemm.a_window`: the forward phase at batch 1) is counted exactly
(`im2col_tile_words`): each tile fetched reads the distinct input words of its windows and
kernel positions, so words that two tiles share (neighbouring windows in M, kernel positions
in K) are read once per tile, and a tile's buffer room is its distinct words; other A operands
spread their footprint evenly over the tiles (an estimate for the backward phases and
batches above 1). The
`scalesim` schedule is one of the candidates, so the mapper never moves more DRAM words than
the `scalesim` policy on the same hardware; more buffer never adds DRAM words (the candidate
set only grows with capacity).

Array side (both policies): the operand held in the array (ws: B, os: C, is: A) enters it once
per fold; the streamed ones are read from the buffer once per fold that uses them.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from functools import lru_cache

import numpy as np

from accelsim.sim.mapping.folds import array_side, ceil_div
from accelsim.sim.mapping.gemm import (
    Gemm,
    GemmMapping,
    Im2col,
    OperandTraffic,
    scaled_to_groups,
)
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


# ---------------------------------------------------------------------------------------------
# The distinct input words of im2col tiles (exact)

def _k_classes(g: Im2col, k0: int, k1: int) -> list[tuple[int, int, int]]:
    """Columns k0..k1-1 of an im2col A (K ordered kernel position, then channel) as classes
    of channels that share the same run of kernel positions: (first position, end position,
    channels)."""
    c = g.channels
    first, last = k0 // c, (k1 - 1) // c
    if first == last:
        return [(first, first + 1, k1 - k0)]
    c0, c1 = k0 - first * c, k1 - last * c  # the first position from c0, the last below c1
    cuts = sorted({0, c0, c1, c})
    out = []
    for low, high in itertools.pairwise(cuts):
        q0 = first if low >= c0 else first + 1
        q1 = last + 1 if low < c1 else last
        if q1 > q0:
            out.append((q0, q1, high - low))
    return out


@lru_cache(maxsize=256)
def _earlier_reads(g: Im2col, q0: int, q1: int) -> tuple[np.ndarray, np.ndarray]:
    """Within kernel positions q0..q1-1 (one channel, one image): `backs`, ascending, the
    distances (in output positions) from a window back to an earlier window that reads one
    of its pixels through another position of the run; and `table[v, m]`, how many of window
    m's reads (one per position) an earlier window at most backs[v] positions back made."""
    ho, wo, kw, s = g.out_height, g.out_width, g.kw, g.stride
    never = np.iinfo(np.int64).max
    nearest = np.full((q1 - q0, ho, wo), never, dtype=np.int64)
    found = {never}
    for p in range(q0, q1):
        i, j = divmod(p, kw)
        for q in range(q0, q1):
            qi, qj = divmod(q, kw)
            if q == p or (i - qi) % s or (j - qj) % s:
                continue
            # window (y, x) at p reads the pixel window (y + dy, x + dx) reads at q
            dy, dx = (i - qi) // s, (j - qj) // s
            back = -(dy * wo + dx)
            if back <= 0 or abs(dx) >= wo or abs(dy) >= ho:
                continue  # that window comes later, or does not exist
            ys = slice(max(0, -dy), ho - max(0, dy))
            xs = slice(max(0, -dx), wo - max(0, dx))
            np.minimum(nearest[p - q0, ys, xs], back, out=nearest[p - q0, ys, xs])
            found.add(back)
    backs = np.array(sorted(found), dtype=np.int64)
    which = np.searchsorted(backs, nearest.reshape(q1 - q0, ho * wo))
    counts = np.bincount((which * (ho * wo) + np.arange(ho * wo)).ravel(),
                         minlength=len(backs) * ho * wo).reshape(len(backs), ho * wo)
    return backs, np.cumsum(counts, axis=0)


@lru_cache(maxsize=4096)
def im2col_tile_words(g: Im2col, tile_m: int, tile_k: int) -> tuple[int, int]:
    """(the distinct input words of every tile_m x tile_k tile of A = im2col(input), summed
    over the tiles; the most any one tile holds). Tiles cut M (windows) and K (kernel
    position, channel) in order; a word two windows of one tile read, or a window reads
    through two positions of one tile, counts once in that tile, and once in every tile
    that reads it."""
    m_total, k_total = g.m, g.k
    tm, tk = max(1, min(tile_m, m_total)), max(1, min(tile_k, k_total))
    m = np.arange(m_total, dtype=np.int64)
    within = m % tm  # windows before this one in its tile
    local = m % (g.out_height * g.out_width)
    starts = np.arange(0, m_total, tm)
    sizes = np.minimum(tm, m_total - starts)
    total = most = 0
    for k0 in range(0, k_total, tk):
        words = np.zeros(len(starts), dtype=np.int64)
        for q0, q1, channels in _k_classes(g, k0, min(k_total, k0 + tk)):
            words += channels * (q1 - q0) * sizes
            if q1 - q0 > 1:  # one position: every window reads its own pixels
                backs, table = _earlier_reads(g, q0, q1)
                v = np.searchsorted(backs, within, side="right") - 1
                again = np.where(v >= 0, table[np.maximum(v, 0), local], 0)
                words -= channels * np.add.reduceat(again, starts)
        total += int(words.sum())
        most = max(most, int(words.max()))
    return total, most


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

    window = g.a_window if g.a_window is not None and (g.a_window.m, g.a_window.k) == (m, k) \
        else None
    for tm in _candidates(m, rows):
        for tn in _candidates(n, cols):
            for tk in _candidates(k, rows):
                if window is not None:
                    # an im2col A: the words its tiles read, those two tiles share counted in
                    # each (a tile fetched once reads its distinct words, nothing more)
                    a_once, a_tile = im2col_tile_words(window, tm, tk)
                else:
                    # a plain matrix (or an im2col of unknown geometry: its footprint spread
                    # evenly), read once across its tiles
                    a_once, a_tile = g.a_footprint_words, math.ceil(a_ratio * tm * tk)
                b_tile, c_tile = tk * tn, tm * tn
                if not fits(a_tile, b_tile, c_tile):
                    continue
                kt, mt, nt = ceil_div(k, tk), ceil_div(m, tm), ceil_div(n, tn)
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
    im2col_tile_words.cache_clear()
    _earlier_reads.cache_clear()
