"""SCALE-Sim v3's buffer rule: its fixed schedule for a GEMM (`scalesim_mapping`, the
`scalesim` reuse policy and the mapper's fallback candidate) and its CALC-mode read buffer,
replayed over an im2col operand's address stream (`ifmap_dram_reads`).

The schedule's closed forms are listed in `accelsim.sim.mapping.mapper`'s docstring.

What SCALE-Sim does (read from `scalesim/memory/read_buffer_estimate_bw.py` and the demand
matrices of `scalesim/compute/systolic_compute_{ws,os,is}.py`; written here from scratch):

- the buffer groups the distinct addresses it misses on into sets of floor(words / 100); the
  active half holds 50 sets. An address is a hit only if it was missed since the active half
  last moved on; when the 50th set of a half fills, the half moves on and all of it is
  forgotten. So the request stream is cut greedily into windows of `block = 50 * floor(words
  / 100)` distinct addresses, each address is fetched from DRAM once per window that uses it,
  and the DRAM reads are B per full window plus the distinct addresses of the last one.
- the requests come in the order of the demand matrix, cycle by cycle, array row (or column)
  by row, skipping idle slots:
  ws: column folds of N outer (each repeats the same pass), row folds of K inner; a fold is
      the M x r slice of A, skewed: at cycle t column c asks for A[t - c, k0 + c];
  os: column folds of N outer (each repeats the pass), row folds of M inner; a fold is the
      r x K slice of A, skewed: at cycle t column c asks for A[m0 + c, t - c];
  is: one pass; column folds of M (C wide) outer, row folds of K (R) inner; a fold is asked
      for row by row, K descending, M ascending (no skew).
- im2col addresses (HWC, K ordered kernel row, kernel column, channel; no padding field, the
  input is the padded one): ((y * s + i) * W + x * s + j) * channels + c.

The count is exact (SCALE-Sim's, word for word) and needs no per-request loop:
- closed forms where the input fits one block (each word once), where no word is used twice
  (every request misses once the input outgrows a block), and under ws where two uses of a
  word are provably a block of requests apart (`_ws_reuse_gap`: every request misses);
- otherwise a vectorised replay: one or two passes are scanned chunk by chunk with a "seen in
  this window" stamp per address, the window's end found by a cumulative count of first
  sightings; with more passes each request's previous use is found once (one sort), a request
  misses when that use precedes the open window, and a pass that opens a window where an
  earlier pass did (or ends where one ended) is not replayed again: it repeats that pass.
"""

from __future__ import annotations

import math
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

DATAFLOWS = ("ws", "os", "is")


def scalesim_block_words(buffer_words: int) -> int:
    """Distinct words SCALE-Sim's CALC-mode read buffer keeps before starting afresh."""
    return 50 * (int(buffer_words) // 100)


def _stream_reads(passes: int, footprint: int, pass_words: int, reuse_words: int,
                  block: int) -> int:
    """DRAM reads of a stream of `passes` identical passes of `pass_words` uses over
    `footprint` distinct words, through SCALE-Sim's block-forgetting read buffer."""
    if pass_words <= 0:
        return 0
    if footprint < block:
        return footprint  # the block never fills: each distinct word is fetched once
    if reuse_words >= block:
        return passes * pass_words  # a block boundary always falls between two uses
    reused = pass_words - footprint
    return passes * (footprint + math.ceil(reused * reuse_words / block))


def os_filter_reads(k: int, n: int, row_passes: int, cols: int, block: int) -> int:
    """os: column folds of K x (<= cols) weights, each read `row_passes` times in a row. A fold
    that straddles a block boundary refetches the part read before the boundary; a fold
    larger than a block misses on every pass."""
    if block <= 0:  # a buffer under 100 words keeps nothing: every request misses
        return k * n * row_passes
    filled = reads = 0
    for fold in range(ceil_div(n, cols)):
        slice_words = k * min(cols, n - fold * cols)
        if slice_words >= block:
            reads += slice_words * row_passes
            filled = (filled + slice_words * row_passes) % block
            continue
        if filled + slice_words < block:
            filled += slice_words
            reads += slice_words
        else:
            before = block - filled
            refetched = before if row_passes >= 2 else 0
            reads += slice_words + refetched
            filled = slice_words if row_passes >= 2 else slice_words - before
    return reads


def scalesim_mapping(g: Gemm, rows: int, cols: int, dataflow: str, a_words: int,
              b_words: int) -> GemmMapping:
    side = array_side(g, rows, cols, dataflow)
    m, n, k = g.m, g.n, g.k
    block_a, block_b = scalesim_block_words(a_words), scalesim_block_words(b_words)
    window = g.a_window
    if window is not None and (window.m, window.k) != (m, k):
        window = None  # a geometry that is not this GEMM's A: fall back on the estimate
    if dataflow == "ws":
        reuse, passes = g.a_reuse_words_ws, ceil_div(n, cols)
        b_dram = k * n  # each weight is used once
        order = "n>k>m"
    elif dataflow == "os":
        reuse, passes = g.a_reuse_words_os, ceil_div(n, cols)
        b_dram = os_filter_reads(k, n, ceil_div(m, rows), cols, block_b)
        order = "n>m>k"
    else:  # is: A once in M-chunk order; B once per column fold of M
        reuse, passes = g.a_reuse_words_os, 1
        b_dram = _stream_reads(ceil_div(m, cols), k * n, k * n, k * n, block_b)
        order = "m>k>n"
    if window is not None:
        # A's requests through the block-forgetting buffer, word for word
        a_dram = im2col_dram_reads(window, n, dataflow, rows, cols, block_a)
    else:
        a_dram = _stream_reads(passes, g.a_footprint_words, m * k, reuse, block_a)
    c_writes = side["c_writes"]
    ops = {
        "A": OperandTraffic(side["a"], 0, a_dram, 0, side["a_loads"]),
        "B": OperandTraffic(side["b"], 0, b_dram, 0, side["b_loads"]),
        # every output word the array writes goes on to DRAM (partial sums included)
        "C": OperandTraffic(0, c_writes, 0, c_writes, 0),
    }
    return scaled_to_groups(GemmMapping("scalesim", dataflow, order, 0, 0, 0, ops,
                               dataflow == "os"), g.groups)


@lru_cache(maxsize=1024)
def im2col_dram_reads(window: Im2col, n: int, dataflow: str, rows: int, cols: int,
                  block: int) -> int:
    # shared by the scalesim policy and the mapper's scalesim candidate
    return ifmap_dram_reads(window, n, dataflow, rows, cols, block)




def _row_and_column_addresses(g: Im2col) -> tuple[np.ndarray, np.ndarray]:
    """A[m, k] = base[m] + offset[k]."""
    m = np.arange(g.m, dtype=np.int64)
    image, pixel = np.divmod(m, g.out_height * g.out_width)
    y, x = np.divmod(pixel, g.out_width)
    base = ((image * g.in_height + y * g.stride) * g.in_width + x * g.stride) * g.channels
    k = np.arange(g.k, dtype=np.int64)
    i, rest = np.divmod(k, g.kw * g.channels)
    j, c = np.divmod(rest, g.channels)
    offset = (i * g.in_width + j) * g.channels + c
    # int32 halves the replay's memory traffic where the addresses allow it
    kind = np.int32 if base[-1] + offset[-1] < 2**31 else np.int64
    return base.astype(kind), offset.astype(kind)


def _skewed(lead: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """Addresses lead[t - c] + cross[c] in skewed order (cycle t outer, column c inner),
    skipping the idle slots (t - c outside lead)."""
    t = np.arange(len(lead) + len(cross) - 1)[:, None]
    c = np.arange(len(cross))[None, :]
    row = t - c
    valid = (row >= 0) & (row < len(lead))
    return (lead[np.clip(row, 0, len(lead) - 1)] + cross[c])[valid]


def _ws_reuse_gap(g: Im2col, rows: int) -> int:
    """A lower bound on the requests between two uses of one word under ws (0 if none known).

    With channels >= R no fold holds two kernel positions of one channel, so a word comes
    back only in another fold (or pass), at least `channels` K indices on: at least
    channels // R - 1 whole folds lie between, each >= r_min * M requests (r_min the
    narrowest fold). Of the two folds holding the uses, at (m1, column c1) and at (m2, c2),
    every column of the first still asks for >= M - 1 - m1 - c1 rows after it and every
    column of the second has asked for >= m2 - R + 1 rows before it; m2 - m1 >= -D, D the
    most output positions apart two windows sharing a word lie. Hence the bound
    r_min * ((channels // R - 1) * M + max(0, M - 2R + 1 - D))."""
    if g.channels < rows:
        return 0
    narrowest = min(rows, g.k - rows * ((g.k - 1) // rows))
    spread = ((g.kh - 1) // g.stride) * g.out_width + (g.kw - 1) // g.stride
    between = (g.channels // rows - 1) * g.m
    return narrowest * (between + max(0, g.m - 2 * rows + 1 - spread))


def pass_stream(g: Im2col, dataflow: str, rows: int, cols: int) -> np.ndarray:
    """The addresses of A one pass asks for, in SCALE-Sim's order (ws/os repeat this pass
    once per column fold of N)."""
    base, offset = _row_and_column_addresses(g)
    if dataflow == "ws":  # row folds of K; in a fold, column c holds k0 + c and m streams
        return np.concatenate([_skewed(base, offset[k0:k0 + rows])
                               for k0 in range(0, g.k, rows)])
    if dataflow == "os":  # row folds of M; column c holds m0 + c and k streams
        return np.concatenate([_skewed(offset, base[m0:m0 + rows])
                               for m0 in range(0, g.m, rows)])
    if dataflow == "is":
        parts = []
        for m0 in range(0, g.m, cols):
            for k0 in range(0, g.k, rows):
                block = offset[k0:k0 + rows][::-1, None] + base[None, m0:m0 + cols]
                parts.append(block.ravel())
        return np.concatenate(parts)
    raise ValueError(f"dataflow: expected one of {DATAFLOWS}, got {dataflow!r}")


def window_misses(stream: np.ndarray, passes: int, block: int,
                  distinct: int | None = None) -> int:
    """DRAM reads of `passes` repeats of `stream` (addresses >= 0; `distinct` of them, counted
    if not given) through a buffer that forgets everything each time `block` distinct
    addresses have been missed since it last did."""
    size = len(stream)
    if size == 0 or passes <= 0:
        return 0
    if block <= 0:
        return size * passes
    if distinct is None:
        distinct = int(np.count_nonzero(np.bincount(stream, minlength=1)))
    if distinct < block:  # no window ever fills: each distinct word once
        return distinct
    if passes <= 2:
        return _scan(stream, passes, block)  # too few passes to repay a sort
    last_use = _last_use(stream)
    if int((np.arange(size) - last_use).min()) >= block:
        # two uses of a word are always >= block requests apart, and a window holding no
        # repeat is exactly `block` requests long: a window's end falls between every two
        # uses, so every request misses
        return passes * size
    # A window never spans a whole pass (a pass holds >= block distinct words), so the state
    # at any window start is fixed by that start's offset in its pass: where a pass opens a
    # window at an offset where an earlier pass did, the rest of it repeats that pass; once
    # a pass ends where an earlier one did, the passes between repeat.
    opened: dict[int, tuple[int, int]] = {}  # window start offset -> (pass, misses before)
    per_pass: list[int] = []
    ended: list[int] = []  # per pass: offset where the window open at its end began
    ended_at: dict[int, int] = {}
    # where the window open now began, in this pass's offsets (negative: in the previous
    # pass); the first pass opens one at its start
    start, count = 0, 0
    p = 0
    while p < passes:
        misses, lo = 0, 0
        while lo < size:
            if count == 0 and lo in opened and opened[lo][0] < p:
                q, before = opened[lo]
                misses += per_pass[q] - before
                start, count = ended[q], _held(last_use, ended[q])
                break
            if count == 0:
                opened.setdefault(lo, (p, misses))
            hi = min(size, lo + max(4096, 2 * block))
            new = last_use[lo:hi] < start  # not used since the open window began
            total = np.cumsum(new, dtype=np.int64)
            need = block - count
            if total[-1] < need:
                count += int(total[-1])
                misses += int(total[-1])
                lo = hi
                continue
            end = int(np.searchsorted(total, need))  # the miss that fills the window
            misses += need
            lo = start = lo + end + 1
            count = 0
        per_pass.append(misses)
        ended.append(start)
        if start in ended_at:
            first = ended_at[start] + 1
            cycle = per_pass[first:]
            rest = passes - p - 1
            return (sum(per_pass) + (rest // len(cycle)) * sum(cycle)
                    + sum(cycle[:rest % len(cycle)]))
        ended_at[start] = p
        start -= size  # the next pass sees it as begun in the previous one
        p += 1
    return sum(per_pass)


def _scan(stream: np.ndarray, passes: int, block: int) -> int:
    """The replay without a sort: a chunk at a time, an address is new to the window if the
    window's number is not stamped on it and it is its first sighting in the chunk."""
    window_of = np.full(int(stream.max()) + 1, -1, dtype=np.int32)
    first_at = np.zeros(len(window_of), dtype=np.int32)
    index = np.arange(min(len(stream), max(4096, 2 * block)), dtype=np.int32)
    window = misses = count = 0
    for _ in range(passes):
        lo = 0
        while lo < len(stream):
            a = stream[lo:lo + len(index)]
            at = index[:len(a)]
            first_at[a[::-1]] = at[::-1]  # a reversed scatter leaves the first sighting
            new = (first_at[a] == at) & (window_of[a] != window)
            total = np.cumsum(new, dtype=np.int64)
            need = block - count
            if total[-1] < need:
                window_of[a[new]] = window
                count += int(total[-1])
                misses += int(total[-1])
                lo += len(a)
                continue
            end = int(np.searchsorted(total, need))  # the miss that fills the window
            misses += need
            window += 1  # forget everything
            count = 0
            lo += end + 1
    return misses


def _last_use(stream: np.ndarray) -> np.ndarray:
    """Per request, the offset of the previous use of its address, the passes repeating
    back to back: in this pass (>= 0), else its last use in the previous pass (< 0)."""
    size = len(stream)
    # one sort of address * size + offset (unique keys) groups each address's uses in order
    key = stream.astype(np.int64) * size + np.arange(size)
    key.sort()
    address, offset = np.divmod(key, size)
    same = address[1:] == address[:-1]
    last = np.empty(size, dtype=np.int64)
    last[offset[1:][same]] = offset[:-1][same]
    firsts = np.flatnonzero(np.concatenate(([True], ~same)))
    lasts = np.concatenate((firsts[1:], [size])) - 1
    last[offset[firsts]] = offset[lasts] - size
    return last


def _held(last_use: np.ndarray, offset: int) -> int:
    """Distinct addresses requested from `offset` to the pass end."""
    return int(np.count_nonzero(last_use[offset:] < offset))


def ifmap_dram_reads(g: Im2col, n: int, dataflow: str, rows: int, cols: int,
                     block: int) -> int:
    """SCALE-Sim's ifmap DRAM reads for the GEMM A . B with A = im2col(g), B K x n."""
    passes = 1 if dataflow == "is" else -(-int(n) // int(cols))
    distinct = g.distinct_words
    if distinct < block:
        return distinct  # the buffer never forgets: each word once
    if not g.windows_overlap or (dataflow == "ws" and _ws_reuse_gap(g, rows) >= block):
        # no word is used twice in a pass (and a pass, >= block words, always crosses a
        # window's end before coming back to one), or two uses of a word are always >= block
        # requests apart (then a window holds no repeat, is exactly block requests long and
        # ends between any two uses): every request misses
        return passes * g.m * g.k
    return window_misses(pass_stream(g, dataflow, rows, cols), passes, block, distinct)
