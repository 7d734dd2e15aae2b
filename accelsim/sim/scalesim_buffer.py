"""SCALE-Sim v3's CALC-mode read buffer, replayed over an im2col operand's address stream.

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

The replay is exact (it reproduces SCALE-Sim's count word for word) and vectorised: the
stream is scanned in chunks with a "seen in this window" mask over the address space, the
window's end found by a cumulative count of first sightings; identical column-fold passes are
not replayed again once the window phase at a pass start repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DATAFLOWS = ("ws", "os", "is")


@dataclass(frozen=True)
class Im2col:
    """The window geometry of an im2col operand A[M x K]: `images` images of an
    in_height x in_width x channels input (padding included), kernel kh x kw, stride, and an
    out_height x out_width output grid per image (M = images * out_height * out_width,
    K = kh * kw * channels)."""

    images: int
    out_height: int
    out_width: int
    kh: int
    kw: int
    channels: int
    stride: int
    in_height: int
    in_width: int

    @property
    def m(self) -> int:
        return self.images * self.out_height * self.out_width

    @property
    def k(self) -> int:
        return self.kh * self.kw * self.channels


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
    return base, offset


def _skewed(lead: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """Addresses lead[t - c] + cross[c] in skewed order (cycle t outer, column c inner),
    skipping the idle slots (t - c outside lead)."""
    t = np.arange(len(lead) + len(cross) - 1)[:, None]
    c = np.arange(len(cross))[None, :]
    row = t - c
    valid = (row >= 0) & (row < len(lead))
    return (lead[np.clip(row, 0, len(lead) - 1)] + cross[c])[valid]


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


def window_misses(stream: np.ndarray, passes: int, block: int) -> int:
    """DRAM reads of `passes` repeats of `stream` through a buffer that forgets everything
    each time `block` distinct addresses have been missed since it last did."""
    size = len(stream)
    if size == 0 or passes <= 0:
        return 0
    if block <= 0:
        return size * passes
    seen = np.zeros(int(stream.max()) + 1, dtype=bool)
    first_at = np.zeros(len(seen), dtype=np.int64)
    distinct = int(np.count_nonzero(np.bincount(stream, minlength=1)))
    if distinct < block:  # no window ever fills: each distinct word once
        return distinct
    misses = count = 0
    chunk = max(4096, 2 * block)
    phase_at_pass: dict[int, tuple[int, int]] = {}
    window_start = size  # offset, in the previous pass, where the open window began
    p = 0
    while p < passes:
        # a window never spans a whole pass (the pass alone holds >= block distinct words),
        # so the state at a pass start is fixed by where the open window began
        if window_start in phase_at_pass:
            p0, misses0 = phase_at_pass[window_start]
            period, gained = p - p0, misses - misses0
            skip = (passes - p) // period
            misses += skip * gained
            p += skip * period
            phase_at_pass.clear()
            if p >= passes:
                break
        phase_at_pass[window_start] = (p, misses)
        lo = 0
        window_start_next = window_start if count else size
        while lo < size:
            hi = min(size, lo + chunk)
            a = stream[lo:hi]
            index = np.arange(hi - lo)
            first_at[a[::-1]] = index[::-1]
            new = (first_at[a] == index) & ~seen[a]
            total = np.cumsum(new)
            need = block - count
            if total[-1] < need:
                seen[a[new]] = True
                count += int(total[-1])
                misses += int(total[-1])
                lo = hi
                continue
            end = int(np.searchsorted(total, need))  # the miss that fills the window
            misses += need
            seen[:] = False
            count = 0
            lo += end + 1
            window_start_next = lo
            chunk = max(4096, 2 * (end + 1))
        window_start = window_start_next if count else size
        p += 1
    return misses


def ifmap_dram_reads(g: Im2col, n: int, dataflow: str, rows: int, cols: int,
                     block: int) -> int:
    """SCALE-Sim's ifmap DRAM reads for the GEMM A . B with A = im2col(g), B K x n."""
    passes = 1 if dataflow == "is" else -(-int(n) // int(cols))
    return window_misses(pass_stream(g, dataflow, rows, cols), passes, block)
