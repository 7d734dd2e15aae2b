"""The memory hierarchy of one phase's GEMM, operand by operand (pure Python/numpy, closed form).

A phase of a layer is a GEMM ``C[M x N] = A[M x K] . B[K x N]`` (`accelsim.sim.dataflow`):

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
  whose window geometry is known (`GemmShape.a_window`: the forward phase at batch 1, what
  SCALE-Sim's conv form models), its request stream is replayed through that rule exactly
  (`accelsim.sim.scalesim_buffer`); otherwise (a plain matrix; the backward phases) a use whose
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
from dataclasses import dataclass, replace
from functools import lru_cache

from accelsim.sim.scalesim_buffer import Im2col, ifmap_dram_reads

POLICIES = ("mapper", "scalesim")
OBJECTIVES = ("dram", "energy")
OPERANDS = ("A", "B", "C")


def _ceil(a, b) -> int:
    return -(-int(a) // max(1, int(b)))


def scalesim_block_words(buffer_words: int) -> int:
    """Distinct words SCALE-Sim's CALC-mode read buffer keeps before starting afresh."""
    return 50 * (int(buffer_words) // 100)


@dataclass(frozen=True)
class GemmShape:
    """One group's GEMM and what its A operand is made of.

    a_footprint_words: distinct words of A (an im2col matrix holds fewer distinct words than
    M·K: the input's size); a_reuse_words_ws / a_reuse_words_os: distinct words between two
    uses of one A word under the ws and the os/is fold orders (M·K when A has no reuse);
    a_window: A's im2col geometry per group (None: a plain matrix, or not known), which lets
    the `scalesim` policy replay A's requests exactly."""

    m: int
    n: int
    k: int
    a_footprint_words: int
    a_reuse_words_ws: int
    a_reuse_words_os: int
    groups: int = 1
    a_window: Im2col | None = None


@dataclass(frozen=True)
class OperandTraffic:
    """One operand's words at each level (for all groups of the GEMM)."""

    sram_reads: int  # buffer -> array (and buffer -> DRAM for spilled outputs)
    sram_writes: int  # array -> buffer, and DRAM -> buffer fills
    dram_reads: int
    dram_writes: int
    array_loads: int  # words entering the PE array (its registers)


@dataclass(frozen=True)
class GemmMapping:
    policy: str
    dataflow: str
    loop_order: str  # buffer level, outer to inner, e.g. "n>m>k"
    tile_m: int
    tile_n: int
    tile_k: int
    operands: dict  # "A" | "B" | "C" -> OperandTraffic (shared by cached mappings: read only)
    partial_sums_on_chip: bool

    @property
    def dram_words(self) -> int:
        return sum(o.dram_reads + o.dram_writes for o in self.operands.values())


def conv_shape(m, n, k, groups, footprint, *, kernel_hw=(1, 1), in_channels=None,
               in_width=None, stride=1, out_width=None, window: Im2col | None = None
               ) -> GemmShape:
    """A GEMM shape with the reuse distances of an im2col A operand (HWC layout, K ordered
    kernel row, kernel column, channel -- SCALE-Sim's order). For a plain matrix (no window)
    A has no reuse inside one pass. `window` (per group) is kept for the exact replay."""
    kh, kw = kernel_hw
    if kh * kw == 1 or in_channels is None:
        plain = m * k
        return GemmShape(m, n, k, min(footprint, plain), plain, plain, groups, window)
    cin = int(in_channels)
    # ws: a word of channel c comes back with the next kernel column that holds c, after
    # every row fold in between has streamed all M rows; os/is: with the next output row,
    # after a band of `kh` input rows (all columns, all channels) has gone by
    ws = m * max(cin, 1)
    os_ = (kh * int(in_width or 1) + kw) * cin
    return GemmShape(m, n, k, footprint, max(1, ws), max(1, os_), groups, window)


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


def _os_filter_reads(k: int, n: int, row_passes: int, cols: int, block: int) -> int:
    """os: column folds of K x (<= cols) weights, each read `row_passes` times in a row. A fold
    that straddles a block boundary refetches the part read before the boundary; a fold
    larger than a block misses on every pass."""
    if block <= 0:  # a buffer under 100 words keeps nothing: every request misses
        return k * n * row_passes
    filled = reads = 0
    for fold in range(_ceil(n, cols)):
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


def _array_side(g: GemmShape, rows: int, cols: int, dataflow: str) -> dict:
    """Array-side buffer reads per operand and output writes (one group)."""
    m, n, k = g.m, g.n, g.k
    if dataflow == "ws":
        return dict(a=m * k * _ceil(n, cols), b=k * n, c_writes=m * n * _ceil(k, rows),
                    b_loads=k * n, a_loads=m * k * _ceil(n, cols))
    if dataflow == "os":
        return dict(a=m * k * _ceil(n, cols), b=k * n * _ceil(m, rows), c_writes=m * n,
                    b_loads=k * n * _ceil(m, rows), a_loads=m * k * _ceil(n, cols))
    if dataflow == "is":
        return dict(a=m * k, b=k * n * _ceil(m, cols), c_writes=m * n * _ceil(k, rows),
                    b_loads=k * n * _ceil(m, cols), a_loads=m * k)
    raise ValueError(f"dataflow {dataflow!r} not one of ('ws', 'os', 'is')")


def _scalesim(g: GemmShape, rows: int, cols: int, dataflow: str, a_words: int,
              b_words: int) -> GemmMapping:
    side = _array_side(g, rows, cols, dataflow)
    m, n, k = g.m, g.n, g.k
    block_a, block_b = scalesim_block_words(a_words), scalesim_block_words(b_words)
    window = g.a_window
    if window is not None and (window.m, window.k) != (m, k):
        window = None  # a geometry that is not this GEMM's A: fall back on the estimate
    if dataflow == "ws":
        reuse, passes = g.a_reuse_words_ws, _ceil(n, cols)
        b_dram = k * n  # each weight is used once
        order = "n>k>m"
    elif dataflow == "os":
        reuse, passes = g.a_reuse_words_os, _ceil(n, cols)
        b_dram = _os_filter_reads(k, n, _ceil(m, rows), cols, block_b)
        order = "n>m>k"
    else:  # is: A once in M-chunk order; B once per column fold of M
        reuse, passes = g.a_reuse_words_os, 1
        b_dram = _stream_reads(_ceil(m, cols), k * n, k * n, k * n, block_b)
        order = "m>k>n"
    if window is not None:
        # A's requests through the block-forgetting buffer, word for word
        a_dram = _im2col_reads(window, n, dataflow, rows, cols, block_a)
    else:
        a_dram = _stream_reads(passes, g.a_footprint_words, m * k, reuse, block_a)
    c_writes = side["c_writes"]
    ops = {
        "A": OperandTraffic(side["a"], 0, a_dram, 0, side["a_loads"]),
        "B": OperandTraffic(side["b"], 0, b_dram, 0, side["b_loads"]),
        # every output word the array writes goes on to DRAM (partial sums included)
        "C": OperandTraffic(0, c_writes, 0, c_writes, 0),
    }
    return _scaled(GemmMapping("scalesim", dataflow, order, 0, 0, 0, ops,
                               dataflow == "os"), g.groups)


@lru_cache(maxsize=1024)
def _im2col_reads(window: Im2col, n: int, dataflow: str, rows: int, cols: int,
                  block: int) -> int:
    # shared by the scalesim policy and the mapper's scalesim candidate
    return ifmap_dram_reads(window, n, dataflow, rows, cols, block)


def _scaled(mapping: GemmMapping, groups: int) -> GemmMapping:
    if groups == 1:
        return mapping
    ops = {name: OperandTraffic(*(groups * v for v in (o.sram_reads, o.sram_writes,
                                                       o.dram_reads, o.dram_writes,
                                                       o.array_loads)))
           for name, o in mapping.operands.items()}
    return GemmMapping(mapping.policy, mapping.dataflow, mapping.loop_order, mapping.tile_m,
                       mapping.tile_n, mapping.tile_k, ops, mapping.partial_sums_on_chip)


def _candidates(extent: int, step: int) -> list[int]:
    """Tile sizes along one axis: multiples of the array side (powers of two of them) and the
    whole extent."""
    out, t = [], max(1, step)
    while t < extent:
        out.append(t)
        t *= 2
    out.append(extent)
    return out


def _mapper(g: GemmShape, rows: int, cols: int, dataflow: str, *, a_words: int, b_words: int,
            c_words: int, shared_words: int | None, objective_costs) -> GemmMapping:
    """Search loop orders and tile sizes for the fewest DRAM words (or least energy)."""
    side = _array_side(g, rows, cols, dataflow)
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
                kt, mt, nt = _ceil(k, tk), _ceil(m, tm), _ceil(n, tn)
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
    scalesim = _scalesim(replace(g, groups=1), rows, cols, dataflow,
                         a_words if shared_words is None else shared_words // 2,
                         b_words if shared_words is None else shared_words // 2)
    ss_dram = scalesim.dram_words
    if best is None or best[0][1] > ss_dram:
        # nothing fits better than the fixed schedule: keep it (never more traffic)
        return _scaled(GemmMapping("mapper", dataflow, scalesim.loop_order, 0, 0, 0,
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
    return _scaled(GemmMapping("mapper", dataflow, order, tm, tn, tk, ops,
                               c_read == 0), g.groups)


def map_gemm(g: GemmShape, rows: int, cols: int, dataflow: str, policy: str = "mapper", *,
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
def _map_gemm(g: GemmShape, rows: int, cols: int, dataflow: str, policy: str, a_words: int,
              b_words: int, c_words: int, shared_words: int | None, objective: str,
              sram_pj_per_word: float, dram_pj_per_word: float) -> GemmMapping:
    if policy not in POLICIES:
        raise ValueError(f"policy {policy!r} not one of {POLICIES}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r} not one of {OBJECTIVES}")
    per_group = GemmShape(g.m, g.n // g.groups if g.groups > 1 else g.n, g.k,
                          max(1, g.a_footprint_words // max(1, g.groups)), g.a_reuse_words_ws,
                          g.a_reuse_words_os, g.groups, g.a_window)
    if policy == "scalesim":
        a = a_words if shared_words is None else shared_words // 2
        b = b_words if shared_words is None else shared_words // 2
        return _scalesim(per_group, rows, cols, dataflow, a, b)
    costs = (0.0, 1.0) if objective == "dram" else (sram_pj_per_word, dram_pj_per_word)
    return _mapper(per_group, rows, cols, dataflow, a_words=a_words, b_words=b_words,
                   c_words=c_words, shared_words=shared_words, objective_costs=costs)


# ---------------------------------------------------------------------------------------------
# A layer's phases as GEMM shapes

def _ints(value) -> list[int]:
    if isinstance(value, str):
        value = value.strip("[]() ").replace(",", " ").split()
    return [int(v) for v in value]


def phase_shape(layer, phase: str, batch_size: int) -> GemmShape:
    """The GEMM of `phase` for a layer-table row, with A's footprint and reuse distances.

    forward: A = im2col(X), footprint = the input; backward_data: A = im2col(dY) of the
    transposed convolution, footprint = the output gradient; backward_weight: A = Xᵀ (the
    stashed input), footprint = the input, B = dY (a plain matrix)."""
    from accelsim.sim.dataflow import phase_gemm

    gemm = phase_gemm(layer, phase, batch_size)
    b = int(batch_size)
    in_count, out_count = int(layer["in_activation_count"]), int(layer["out_activation_count"])
    conv = str(layer.get("kind", "")) == "conv2d"
    if conv:
        weight_shape = _ints(layer["weight_shape"])
        kh, kw = weight_shape[2], weight_shape[3]
        cin, win = _ints(layer["in_shape"])[0], _ints(layer["in_shape"])[-1]
        cout, wout = _ints(layer["out_shape"])[0], _ints(layer["out_shape"])[-1]
        stride = _ints(layer["stride"])[-1]
    if phase == "forward":
        footprint = in_count * b
        if conv:
            # the input words the windows touch (SCALE-Sim stores padding as words too; with
            # a stride above the kernel, some input is never read)
            hout = _ints(layer["out_shape"])[1]
            touched = [(o - 1) * stride + k if stride <= k else o * k
                       for o, k in ((hout, kh), (wout, kw))]
            footprint = cin * touched[0] * touched[1] * b
            win = touched[1]
            # SCALE-Sim's input: the padded rows and columns the windows reach. Its conv form
            # has no batch (a batch runs as a plain GEMM), so a batch keeps the estimate
            # (and the replay's cost, linear in the batch, stays out of batched runs)
            window = None if b != 1 else Im2col(
                1, hout, wout, kh, kw, cin // max(1, gemm.groups), stride,
                (hout - 1) * stride + kh, (wout - 1) * stride + kw)
            return conv_shape(gemm.m, gemm.n, gemm.k, gemm.groups, footprint, kernel_hw=(kh, kw),
                              in_channels=cin // max(1, gemm.groups), in_width=win, stride=stride,
                              window=window)
    elif phase == "backward_data":
        footprint = out_count * b
        if conv:
            return conv_shape(gemm.m, gemm.n, gemm.k, gemm.groups, footprint, kernel_hw=(kh, kw),
                              in_channels=cout // max(1, gemm.groups), in_width=wout, stride=1)
    else:
        footprint = in_count * b
    return conv_shape(gemm.m, gemm.n, gemm.k, gemm.groups, footprint)
