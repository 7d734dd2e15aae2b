"""The mapper: how one phase's GEMM uses the buffers, operand by operand (closed form, numpy).

A phase of a layer is a GEMM ``C[M x N] = A[M x K] . B[K x N]`` (`accelsim.sim.mapping.gemm`):

- forward         A = X (im2col of the input),  B = W,   C = Y;
- backward_data   A = dY,                       B = Wᵀ,  C = dX;
- backward_weight A = im2col(X)ᵀ (stashed X),   B = dY,  C = dW.

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
im2col A (`Gemm.a_im2col`: forward's im2col(X) and backward_weight's im2col(X)ᵀ, at any
batch) is counted exactly (`im2col_tile_words`): each tile fetched reads the distinct input
words of its windows and kernel positions, so words that two tiles share (neighbouring
windows in M, kernel positions in K) are read once per tile, and a tile's buffer room is its
distinct words; windows of different images share nothing, so a tile spanning images splits
into per-image pieces, and the count is a closed form over the tiles (prefix sums of what a
window repeats, corrected for each tile's first windows), not a pass over the windows.
backward_data's A is dY itself (the im2col-shaped product is its output, folded by col2im):
a plain matrix, every word in one tile. Other A operands spread their footprint evenly over
the tiles (exact for a plain matrix). The
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


def _earlier_reads(g: Im2col, q0: int, q1: int) -> tuple[np.ndarray, np.ndarray]:
    """Within kernel positions q0..q1-1 (one channel, one image): `backs`, ascending, the
    distances (in output positions) from a window back to an earlier window that reads one
    of its pixels through another position of the run; and `table[v, m]`, how many of window
    m's reads (one per position) an earlier window at most backs[v] positions back made.
    (The same for every batch and channel count, and for the run moved whole kernel rows up
    or down: only the positions' differences matter. Remembered by the window grid alone.)"""
    shift = (q0 // g.kw) * g.kw
    return _earlier_reads_on(g.out_height, g.out_width, g.kw, g.stride, q0 - shift, q1 - shift)


@lru_cache(maxsize=256)
def _earlier_reads_on(ho: int, wo: int, kw: int, s: int, q0: int, q1: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    never = np.iinfo(np.int64).max
    shares = []  # (position, back, rows, columns): window (y, x) at the position reads the
    # pixel the window `back` earlier reads through another position
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
            shares.append((p - q0, back, slice(max(0, -dy), ho - max(0, dy)),
                           slice(max(0, -dx), wo - max(0, dx))))
    backs = np.array(sorted({never} | {share[1] for share in shares}), dtype=np.int64)
    rank = {int(b): v for v, b in enumerate(backs)}
    # each read's nearest earlier window, as its rank among the backs (the last: none)
    nearest = np.full((q1 - q0, ho, wo), len(backs) - 1, dtype=np.int32)
    for position, back, ys, xs in shares:
        np.minimum(nearest[position, ys, xs], rank[back], out=nearest[position, ys, xs])
    which = nearest.reshape(q1 - q0, ho * wo).astype(np.int64)
    counts = np.bincount((which * (ho * wo) + np.arange(ho * wo)).ravel(),
                         minlength=len(backs) * ho * wo).reshape(len(backs), ho * wo)
    return backs, np.cumsum(counts, axis=0)


@lru_cache(maxsize=1024)
def _k_tile_kinds(g: Im2col, tile_k: int) -> tuple[tuple[tuple[tuple[int, int, int], ...], int],
                                                   ...]:
    """The K tiles of width tile_k, grouped by their channel classes (`_k_classes`): ((the
    classes, how many K tiles have them), ...). Many K tiles read alike (one kernel position
    each, or the same run of positions), so each kind is counted once."""
    kinds: dict[tuple[tuple[int, int, int], ...], int] = {}
    for k0 in range(0, g.k, tile_k):
        key = tuple(_k_classes(g, k0, min(g.k, k0 + tile_k)))
        kinds[key] = kinds.get(key, 0) + 1
    return tuple(kinds.items())


@lru_cache(maxsize=1024)
def _repeat_profile(g: Im2col, q0: int, q1: int) -> tuple[np.ndarray, int, np.ndarray,
                                                          np.ndarray]:
    """For one channel and kernel positions q0..q1-1, what `_tile_again` needs: `prefix`, the
    running sum over an image's windows of `full` (the reads a window repeats when every
    earlier window of its image is within reach); `reach`, the longest sharing distance (0:
    nothing is ever shared); `rows`, `_earlier_reads`' table with a row of zeros in front and
    `full` last; and `row_of[j]` (j < reach), the row of `rows` that says how many reads
    each window repeats when only its j nearest earlier windows are within reach."""
    backs, table = _earlier_reads(g, q0, q1)
    per_image = g.out_height * g.out_width
    if len(backs) < 2:  # no window repeats another's read
        return np.zeros(per_image + 1, dtype=np.int64), 0, table, np.zeros(0, np.int64)
    full = table[-2]
    reach = int(backs[-2])
    v = np.searchsorted(backs, np.arange(reach), side="right") - 1  # -1: nothing in reach
    # a row of zeros in front, for "nothing in reach"
    rows = np.vstack([np.zeros((1, per_image), np.int64), table[:-1]])
    return np.concatenate(([0], np.cumsum(full))), reach, rows, v + 1


@lru_cache(maxsize=4096)
def _tile_again(g: Im2col, q0: int, q1: int, tile_m: int) -> np.ndarray:
    """Per M tile of tile_m windows (all images in order), for one channel and kernel positions
    q0..q1-1: the reads of a window that an earlier window of the same tile already made.

    Closed form, not a pass over every window: a window whose earlier neighbours in its tile
    reach back at least the longest sharing distance repeats all it can (`full`, a function
    of its place in its image only; an earlier image shares nothing), so a tile's sum is the
    prefix sums of `full` over the images it spans, less what its first few windows cannot
    repeat. Those depend only on where in an image the tile starts, which cycles with period
    (windows per image) / gcd(tile_m, windows per image); each start is counted once."""
    prefix, reach, table, row_of = _repeat_profile(g, q0, q1)
    per_image = g.out_height * g.out_width
    starts = np.arange(0, g.m, tile_m, dtype=np.int64)
    ends = np.minimum(starts + tile_m, g.m)
    if reach == 0:
        return np.zeros(len(starts), dtype=np.int64)

    def summed(x: np.ndarray) -> np.ndarray:  # sum of full over windows 0..x-1
        return (x // per_image) * prefix[-1] + prefix[x % per_image]

    again = summed(ends) - summed(starts)
    # the first min(tile_m, reach) windows of each tile repeat only what is within reach
    period = min(len(starts), per_image // math.gcd(tile_m, per_image))
    first = min(tile_m, reach)
    rows = np.arange(first, dtype=np.int64)
    local = (starts[:period, None] + rows[None, :]) % per_image
    full = table[-1]
    short = full[local] - table[row_of[rows][None, :], local]  # (period, first)
    missing = short.sum(axis=1)
    again -= missing[np.arange(len(starts)) % period]
    last = int(ends[-1] - starts[-1])
    if last < first:  # a short last tile: only its own windows
        again[-1] += int(short[(len(starts) - 1) % period, last:].sum())
    return again


@lru_cache(maxsize=8192)
def im2col_tile_words(g: Im2col, tile_m: int, tile_k: int) -> tuple[int, int]:
    """(the distinct input words of every tile_m x tile_k tile of A = im2col(input), summed
    over the tiles; the most any one tile holds). Tiles cut M (windows, image after image)
    and K (kernel position, channel) in order; a word two windows of one tile read, or a
    window reads through two positions of one tile, counts once in that tile, and once in
    every tile that reads it. Exact at any batch (windows of two images share nothing), in
    time that grows with the number of tiles, not of windows (`_tile_again`)."""
    m_total, k_total = g.m, g.k
    tm, tk = max(1, min(tile_m, m_total)), max(1, min(tile_k, k_total))
    starts = np.arange(0, m_total, tm, dtype=np.int64)
    sizes = np.minimum(tm, m_total - starts)
    total = most = 0
    for classes, count in _k_tile_kinds(g, tk):
        words = np.zeros(len(starts), dtype=np.int64)
        for q0, q1, channels in classes:
            words += channels * (q1 - q0) * sizes
            if q1 - q0 > 1:  # one position: every window reads its own pixels
                words -= channels * _tile_again(g, q0, q1, tm)
        total += count * int(words.sum())
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

    window, transposed = g.a_im2col, g.a_im2col_transposed
    if window is not None and ((window.k, window.m) if transposed else (window.m, window.k)) \
            != (m, k):
        window = None  # geometry that does not describe this A: spread its footprint
    for tm in _candidates(m, rows):
        for tn in _candidates(n, cols):
            for tk in _candidates(k, rows):
                b_tile, c_tile = tk * tn, tm * tn
                # a tile of A holds at least a window's tk words, and tm windows' words through
                # one kernel position: skip what cannot fit before counting it
                if window is not None and not fits(max(min(tm, m), min(tk, k)), b_tile,
                                                   c_tile):
                    continue
                if window is not None:
                    # an im2col A: the words its tiles read, those two tiles share counted in
                    # each (a tile fetched once reads its distinct words, nothing more)
                    a_once, a_tile = (im2col_tile_words(window, tk, tm) if transposed
                                      else im2col_tile_words(window, tm, tk))
                else:
                    # a plain matrix (or an im2col of unknown geometry: its footprint spread
                    # evenly), read once across its tiles
                    a_once, a_tile = g.a_footprint_words, math.ceil(a_ratio * tm * tk)
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
    per_group = replace(g, n=g.n // g.groups if g.groups > 1 else g.n,
                        a_footprint_words=max(1, g.a_footprint_words // max(1, g.groups)))
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
    _tile_again.cache_clear()
    _repeat_profile.cache_clear()
    _k_tile_kinds.cache_clear()
    _earlier_reads_on.cache_clear()
