"""A layer's phase as GEMM folds on an R x C systolic array, grouped into simulation tiles.

Conventions (SCALE-Sim v3, `scalesim/compute/systolic_compute_{ws,os}.py`, read for this):
a GEMM ``C[M x N] = A[M x K] . B[K x N]`` on an R-row, C-column array.

- weight-stationary (ws): B is held in the array, ``ceil(K/R) * ceil(N/C)`` folds, each taking
  ``2R + C + M - 2`` cycles (R to load the fold's weights, M streamed rows, R + C - 2 of skew
  fill and drain); folds in column-major order (column fold outer, row fold inner).
- output-stationary (os): the outputs are held, ``ceil(M/R) * ceil(N/C)`` folds, each taking
  ``R + C + K - 2`` cycles (K reduction steps, R + C - 2 of skew fill and drain); the operand B
  of a column fold is the same for all its row folds.

SCALE-Sim's COMPUTE_REPORT "Total Cycles" is this sum minus one per layer (it reports the index
of the last cycle, counted from 0). ResNet-18 ImageNet, batch 1, 32x32: this module gives
2,855,052 (ws) and 2,133,336 (os) against SCALE-Sim's 2,855,031 and 2,133,315 (21 layers).

Groups: a grouped convolution is `groups` independent GEMMs with N/groups columns each.

Which weights a fold touches. A layer's weights are the matrix W[Cout, Kw] (the weight tensor
flattened row-major, as the trace orders elements; biases follow). Per phase:

- forward      (K = Kw,     N = Cout): ws fold = W[C channels, R of Kw];   order channel-major.
                                       os column fold = W[C channels, all Kw].
- backward_data(K = Cout/g, N = Kw*g): ws fold = W[R channels, C of Kw];   order Kw-major.
                                       os column fold = W[all channels, C of Kw].
- backward_weight produces the gradient of every weight and reads no weight.

Tiles: consecutive blocks (ws folds, or os column folds cut into chunks along the reduction)
are grouped until a tile holds about `tile_weights` weights; a tile is one simulation event.
Under os each column fold's weights are fetched once per pass and reused by its row folds
(counted as array weight loads, `pe_weight_loads`), never fetched again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accelsim.sim.mapping.apportion import split_evenly
from accelsim.sim.mapping.gemm import Gemm


def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for integers (b below 1 counts as 1)."""
    return -(-int(a) // max(1, int(b)))


@dataclass(frozen=True)
class FoldGrid:
    row_folds: int  # per group
    col_folds: int  # per group
    cycles_per_fold: int
    groups: int

    @property
    def folds(self) -> int:
        return self.groups * self.row_folds * self.col_folds

    @property
    def cycles(self) -> int:
        """Cycles of the array for the whole GEMM, fill and drain of every fold included."""
        return self.folds * self.cycles_per_fold


def fold_grid(gemm: Gemm, rows: int, cols: int, dataflow: str) -> FoldGrid:
    col_folds = math.ceil(gemm.n_per_group / cols)
    if dataflow == "ws":
        return FoldGrid(math.ceil(gemm.k / rows), col_folds, 2 * rows + cols + gemm.m - 2,
                        gemm.groups)
    if dataflow == "os":
        return FoldGrid(math.ceil(gemm.m / rows), col_folds, rows + cols + gemm.k - 2,
                        gemm.groups)
    if dataflow == "is":
        # A held in the array: K on its rows, M on its columns; B's N columns stream through
        # (SCALE-Sim v3, systolic_compute_is.py: 2R + C + N - 2 cycles per fold)
        return FoldGrid(math.ceil(gemm.k / rows), math.ceil(gemm.m / cols),
                        2 * rows + cols + gemm.n_per_group - 2, gemm.groups)
    raise ValueError(f"dataflow {dataflow!r} not one of ('ws', 'os', 'is')")


def pe_weight_loads(gemm: Gemm, rows: int, dataflow: str, weight_elements: int,
                    cols: int | None = None) -> int:
    """Weights entering the array in a weight pass: once under ws, once per row fold under os,
    once per column fold of M under is."""
    if dataflow == "ws":
        return weight_elements
    if dataflow == "is":
        return weight_elements * math.ceil(gemm.m / (cols or rows))
    return weight_elements * math.ceil(gemm.m / rows)


# ---------------------------------------------------------------------------------------------
# Block grids over W[Cout, Kw]

@dataclass(frozen=True)
class BlockGrid:
    """A phase's weight blocks over W[Cout, Kw], listed in the order the array uses them.

    `channel_starts` / `k_starts` cut the channel and Kw axes (channel cuts never straddle a
    group); `k_major` orders blocks with the Kw chunk outer within each group.
    """

    cout: int
    kw: int
    groups: int
    channel_starts: np.ndarray
    k_starts: np.ndarray
    k_major: bool
    cycles: np.ndarray  # per block, in block order

    @property
    def channel_sizes(self) -> np.ndarray:
        return np.diff(np.append(self.channel_starts, self.cout))

    @property
    def k_sizes(self) -> np.ndarray:
        return np.diff(np.append(self.k_starts, self.kw))

    def order(self, per_block_2d: np.ndarray) -> np.ndarray:
        """A [channel chunk, k chunk] array flattened into block order."""
        if not self.k_major:
            return per_block_2d.ravel()
        g = self.groups
        per_group = per_block_2d.reshape(g, -1, per_block_2d.shape[1])
        return per_group.transpose(0, 2, 1).ravel()

    def sizes(self) -> np.ndarray:
        return self.order(np.outer(self.channel_sizes, self.k_sizes))

    def counts(self, weight_mask_2d: np.ndarray) -> np.ndarray:
        """Set bits of a [Cout, Kw] mask in each block, in block order (bulk numpy)."""
        return self.order(self.block_counts(weight_mask_2d))

    def block_counts(self, weight_mask_2d: np.ndarray) -> np.ndarray:
        """Set bits of a [Cout, Kw] mask in each [channel chunk, k chunk] block. Summed along
        Kw first, where the mask's rows are contiguous, and in int32 where no sum can reach
        2^31 (SIMD-wide): a few times faster than channels first in int64, the same counts."""
        exact = np.int32 if weight_mask_2d.size < 2**31 else np.int64
        by_k = np.add.reduceat(weight_mask_2d, self.k_starts, axis=1, dtype=exact)
        return np.add.reduceat(by_k, self.channel_starts, axis=0, dtype=np.int64)


def _cuts(length: int, chunk: int) -> np.ndarray:
    return np.arange(0, length, max(1, chunk), dtype=np.int64)


def _grouped_cuts(cout: int, groups: int, chunk: int) -> np.ndarray:
    per_group = cout // groups
    return (np.arange(groups, dtype=np.int64)[:, None] * per_group
            + _cuts(per_group, chunk)[None, :]).ravel()


def weight_block_grid(gemm: Gemm, phase: str, cout: int, kw: int, rows: int, cols: int,
                      dataflow: str, tile_weights: int) -> BlockGrid:
    """The blocks of W[cout, kw] that `phase` (forward or backward_data, whose GEMM is `gemm`)
    feeds the array, in order."""
    grid = fold_grid(gemm, rows, cols, dataflow)
    groups = gemm.groups if cout % gemm.groups == 0 else 1
    forward = phase == "forward"
    if dataflow == "ws":
        # forward: array rows hold Kw, columns Cout; backward_data the other way round
        channel_chunk, k_chunk = (cols, rows) if forward else (rows, cols)
        ch, ks = _grouped_cuts(cout, groups, channel_chunk), _cuts(kw, k_chunk)
        cycles = np.full(len(ch) * len(ks), grid.cycles_per_fold, dtype=np.int64)
        return BlockGrid(cout, kw, groups, ch, ks, not forward, cycles)
    if dataflow == "is":
        # every column fold of M streams all of B: a block is a chunk of R along the reduction
        # (over all N), and carries the cycles of all column folds for that chunk
        per_block = grid.col_folds * grid.cycles_per_fold
        if forward:
            ch, ks = _grouped_cuts(cout, groups, cout // groups), _cuts(kw, rows)
        else:
            ch, ks = _grouped_cuts(cout, groups, rows), _cuts(kw, kw)
        cycles = np.full(len(ch) * len(ks), per_block, dtype=np.int64)
        return BlockGrid(cout, kw, groups, ch, ks, not forward, cycles)
    # os: a column fold is C channels x all Kw (forward) or C of Kw x all channels (backward
    # data); it is cut along its reduction axis into chunks of about tile_weights weights
    column_cycles = grid.row_folds * grid.cycles_per_fold
    if forward:
        ch = _grouped_cuts(cout, groups, cols)
        ks = _cuts(kw, max(1, tile_weights // cols))
        per_column_sizes = np.diff(np.append(ks, kw))
        n_columns = len(ch)
    else:
        ks = _cuts(kw, cols)
        ch = _grouped_cuts(cout, groups, max(1, tile_weights // cols))
        per_column_sizes = np.diff(np.append(ch[: len(ch) // groups], cout // groups))
        n_columns = len(ks) * groups
    chunk_cycles = split_evenly(column_cycles, per_column_sizes)
    cycles = np.tile(chunk_cycles, n_columns)
    return BlockGrid(cout, kw, groups, ch, ks, not forward, cycles)


def tile_starts(block_sizes: np.ndarray, tile_weights: int) -> np.ndarray:
    """Indices of the first block of each tile: blocks are grouped in order until a tile holds
    at least `tile_weights` weights (a block is never cut)."""
    sizes = np.asarray(block_sizes, dtype=np.int64)
    if len(sizes) == 0:
        return np.zeros(0, dtype=np.int64)
    before = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    tile_of_block = before // max(1, tile_weights)
    return np.flatnonzero(np.diff(np.concatenate(([-1], tile_of_block)))).astype(np.int64)


def flat_tile_starts(n_elements: int, tile_weights: int) -> np.ndarray:
    """Contiguous tiles over a layer's elements (update phase; backward-weight gradients)."""
    return np.arange(0, max(n_elements, 1), tile_weights, dtype=np.int64)


def array_side(g: Gemm, rows: int, cols: int, dataflow: str) -> dict[str, int]:
    """Array-side buffer words of one group: reads of A and B, the output's writes (a partial
    sum per row fold under ws and is), and the words of A and B entering the array."""
    m, n, k = g.m, g.n, g.k
    if dataflow == "ws":
        return dict(a=m * k * ceil_div(n, cols), b=k * n, c_writes=m * n * ceil_div(k, rows),
                    b_loads=k * n, a_loads=m * k * ceil_div(n, cols))
    if dataflow == "os":
        return dict(a=m * k * ceil_div(n, cols), b=k * n * ceil_div(m, rows), c_writes=m * n,
                    b_loads=k * n * ceil_div(m, rows), a_loads=m * k * ceil_div(n, cols))
    if dataflow == "is":
        return dict(a=m * k, b=k * n * ceil_div(m, cols), c_writes=m * n * ceil_div(k, rows),
                    b_loads=k * n * ceil_div(m, cols), a_loads=m * k)
    raise ValueError(f"dataflow {dataflow!r} not one of ('ws', 'os', 'is')")


# which operands hop from PE to PE, one hop per MAC, under each dataflow (the third stays)
_MOVING = {"ws": ("A", "C"), "os": ("A", "B"), "is": ("B", "C")}


def array_hops(macs: int, dataflow: str) -> dict[str, int]:
    """Words passed from a PE to its neighbour, per GEMM operand, for `macs` MACs.

    In a systolic array every MAC takes its streamed operands from the neighbouring PE's
    pipeline registers and passes them on: ws holds B (the weights) and moves A along the rows
    and the partial sums C down the columns; os holds C and moves A along the rows and B down
    the columns; is holds A and moves B and C. So each moving operand makes one hop per MAC.
    (Words entering the array at its edge are counted apart: `pe_weight_loads`.)"""
    moving = _MOVING[dataflow]
    return {name: (int(macs) if name in moving else 0) for name in ("A", "B", "C")}
