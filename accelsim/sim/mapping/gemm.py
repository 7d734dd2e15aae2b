"""Each (layer, phase) GEMM, derived once from the layer table, and what a mapping of it is.

A phase of a layer is a GEMM ``C[M x N] = A[M x K] . B[K x N]`` for the whole batch:

- forward         A = X (im2col of the input),  B = W,   C = Y;       batch folded into M;
- backward_data   A = dY,                       B = Wᵀ,  C = dX;      batch folded into M;
- backward_weight A = im2col(X)ᵀ (stashed X),   B = dY,  C = dW;      batch folded into K.

`phase_gemm` builds a `Gemm` once per (layer, phase) (`accelsim.sim.mapping.layer.layer_work`
keeps them); the folds (`folds`), the memory mapping (`mapper`, `scalesim`) and the tile traffic
(`tiles`) all read that one object. A `Gemm` carries what its A operand is made of (an im2col
matrix holds fewer distinct words than M·K) so the buffer rules need nothing else.

Groups: a grouped convolution is `groups` independent GEMMs with N/groups columns each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

# the layer-table columns holding each phase's (M, N, K) for one sample
_GEMM_COLUMNS = {
    "forward": ("fwd_m", "fwd_n", "fwd_k"),
    "backward_data": ("bwd_data_m", "bwd_data_n", "bwd_data_k"),
    "backward_weight": ("bwd_weight_m", "bwd_weight_n", "bwd_weight_k"),
}
GEMM_PHASES = tuple(_GEMM_COLUMNS)
# what each operand of a phase's GEMM is, in the traffic table's operand names
OPERAND_ROLES = {
    "forward": {"A": "activations", "B": "weights", "C": "activations"},
    "backward_data": {"A": "gradients", "B": "weights", "C": "gradients"},
    "backward_weight": {"A": "activations", "B": "gradients", "C": "gradients"},
}


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

    @property
    def distinct_words(self) -> int:
        """Input words the windows touch (rows and columns reached by some window)."""
        rows = ((self.out_height - 1) * self.stride + self.kh if self.stride <= self.kh
                else self.out_height * self.kh)
        columns = ((self.out_width - 1) * self.stride + self.kw if self.stride <= self.kw
                   else self.out_width * self.kw)
        return self.images * rows * columns * self.channels

    @property
    def windows_overlap(self) -> bool:
        """Whether two outputs share an input word (else no address repeats in a pass)."""
        return ((self.stride < self.kh and self.out_height > 1)
                or (self.stride < self.kw and self.out_width > 1))


@dataclass(frozen=True)
class Gemm:
    """One phase's GEMM for the whole batch (`n` counts all groups' columns together) and
    what its A operand is made of.

    a_footprint_words: distinct words of A (all groups); c_stored_words: the words of the
    output once stored (None: M·N; backward_data: dX, the layer's input size, into which the
    im2col-shaped M·N words are folded); a_reuse_words_ws / a_reuse_words_os:
    distinct words between two uses of one A word under the ws and the os/is fold orders (M·K
    when A has no reuse); a_window: A's im2col geometry per group (None: a plain matrix, or not
    known), which lets the `scalesim` policy replay A's requests exactly; a_im2col: the same for
the `mapper`'s exact count of the words its tiles read, in every phase and batch whose A is an
im2col (forward: im2col(X); backward_weight: its transpose)."""

    m: int
    n: int
    k: int
    a_footprint_words: int
    a_reuse_words_ws: int
    a_reuse_words_os: int
    groups: int = 1
    a_window: Im2col | None = None
    c_stored_words: int | None = None
    # A's im2col geometry per group for the mapper's exact tile count, at any batch (a_window
    # stays what SCALE-Sim models: batch-1 forward); transposed: A = im2col(X)ᵀ, M the kernel
    # positions and channels, K the windows (backward_weight)
    a_im2col: Im2col | None = None
    a_im2col_transposed: bool = False

    @property
    def output_words(self) -> int:
        """Words of the output once stored (dX for backward_data, else M·N)."""
        return self.m * self.n if self.c_stored_words is None else self.c_stored_words

    @property
    def n_per_group(self) -> int:
        return self.n // self.groups

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k


def plain_gemm(m: int, n: int, k: int, groups: int = 1) -> Gemm:
    """A GEMM whose A is a plain matrix: every entry its own word, no reuse inside a pass."""
    return conv_gemm(m, n, k, groups, m * k)


def conv_gemm(m: int, n: int, k: int, groups: int, footprint: int, *,
              kernel_hw: tuple[int, int] = (1, 1), in_channels: int | None = None,
              in_width: int | None = None, stride: int = 1,
              window: Im2col | None = None, im2col: Im2col | None = None,
              im2col_transposed: bool = False) -> Gemm:
    """A GEMM with the reuse distances of an im2col A operand (HWC layout, K ordered kernel
    row, kernel column, channel -- SCALE-Sim's order). For a plain matrix (no window) A has no
    reuse inside one pass. `window` (per group) is kept for the exact replay; `im2col` (per
    group; default `window`) for the mapper's exact count."""
    kh, kw = kernel_hw
    exact = window if im2col is None else im2col
    flipped = bool(im2col_transposed)
    if kh * kw == 1 or in_channels is None:
        plain = m * k
        return Gemm(m, n, k, min(footprint, plain), plain, plain, groups, window,
                    a_im2col=exact, a_im2col_transposed=flipped)
    cin = int(in_channels)
    # ws: a word of channel c comes back with the next kernel column that holds c, after
    # every row fold in between has streamed all M rows; os/is: with the next output row,
    # after a band of `kh` input rows (all columns, all channels) has gone by
    ws = m * max(cin, 1)
    os_ = (kh * int(in_width or 1) + kw) * cin
    return Gemm(m, n, k, footprint, max(1, ws), max(1, os_), groups, window, a_im2col=exact,
                a_im2col_transposed=flipped)


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
    """How a GEMM uses the buffers (`accelsim.sim.mapping.mapper.map_gemm`)."""

    policy: str
    dataflow: str
    loop_order: str  # buffer level, outer to inner, e.g. "n>m>k"
    tile_m: int
    tile_n: int
    tile_k: int
    operands: dict[str, OperandTraffic]  # "A" | "B" | "C" (shared by cached mappings: read only)
    partial_sums_on_chip: bool

    @property
    def dram_words(self) -> int:
        return sum(o.dram_reads + o.dram_writes for o in self.operands.values())


def scaled_to_groups(mapping: GemmMapping, groups: int) -> GemmMapping:
    """A one-group mapping's traffic for `groups` identical groups."""
    if groups == 1:
        return mapping
    ops = {name: OperandTraffic(*(groups * v for v in (o.sram_reads, o.sram_writes,
                                                       o.dram_reads, o.dram_writes,
                                                       o.array_loads)))
           for name, o in mapping.operands.items()}
    return GemmMapping(mapping.policy, mapping.dataflow, mapping.loop_order, mapping.tile_m,
                       mapping.tile_n, mapping.tile_k, ops, mapping.partial_sums_on_chip)


# ---------------------------------------------------------------------------------------------
# A layer's phases as GEMMs

def _ints(value: Any) -> list[int]:
    if isinstance(value, str):
        value = value.strip("[]() ").replace(",", " ").split()
    return [int(v) for v in value]


def phase_gemm(layer: Mapping[str, Any], phase: str, batch_size: int) -> Gemm:
    """The GEMM of `phase` for a layer-table row, batch folded into M (K for
    backward_weight), with A's footprint and reuse distances.

    forward: A = im2col(X), footprint = the input words the windows touch; backward_data:
    A = dY (a plain matrix; its product, the im2col-shaped gradient, folds into dX),
    footprint = the output gradient; backward_weight: A = im2col(X)ᵀ (the stashed input),
    footprint = the input, B = dY (a plain matrix). Forward and backward_weight carry A's
    window geometry (`Gemm.a_im2col`) for the mapper's exact count."""
    m_col, n_col, k_col = _GEMM_COLUMNS[phase]
    m, n, k, groups = int(layer[m_col]), int(layer[n_col]), int(layer[k_col]), int(layer["groups"])
    if n % groups:  # a table that does not split N by groups: treat it as one GEMM
        groups = 1
    b = int(batch_size)
    if phase == "backward_weight":
        k *= b  # the reduction runs over every output position of every sample
    else:
        m *= b
    in_count, out_count = int(layer["in_activation_count"]), int(layer["out_activation_count"])
    conv = str(layer.get("kind", "")) == "conv2d"
    if not conv:
        footprint = (out_count if phase == "backward_data" else in_count) * b
        return conv_gemm(m, n, k, groups, footprint)
    weight_shape = _ints(layer["weight_shape"])
    kh, kw = weight_shape[2], weight_shape[3]
    cin = _ints(layer["in_shape"])[0]
    cout, wout = _ints(layer["out_shape"])[0], _ints(layer["out_shape"])[-1]
    hout = _ints(layer["out_shape"])[1]
    stride = _ints(layer["stride"])[-1]
    per_group = max(1, groups)
    # the input windows of the whole batch (padding included, as SCALE-Sim stores it), per
    # group: what the mapper counts its tiles' words from
    im2col = Im2col(b, hout, wout, kh, kw, cin // per_group, stride,
                    (hout - 1) * stride + kh, (wout - 1) * stride + kw)
    if phase == "backward_weight":
        # A = im2col(X)ᵀ: kernel positions and channels down M, the batch's windows along K
        exact = (im2col.k, im2col.m) == (m, k)
        return conv_gemm(m, n, k, groups, in_count * b, im2col=im2col if exact else None,
                         im2col_transposed=exact)
    if phase == "backward_data":
        gemm = conv_gemm(m, n, k, groups, out_count * b, kernel_hw=(kh, kw),
                         in_channels=cout // per_group, in_width=wout, stride=1)
        # the im2col-shaped dY·Wᵀ folds back into dX, the size of the input
        return replace(gemm, c_stored_words=in_count * b)
    # forward: the input words the windows touch (SCALE-Sim stores padding as words too; with
    # a stride above the kernel, some input is never read)
    touched = [(o - 1) * stride + kk if stride <= kk else o * kk
               for o, kk in ((hout, kh), (wout, kw))]
    footprint = cin * touched[0] * touched[1] * b
    # SCALE-Sim's input: the padded rows and columns the windows reach. Its conv form has no
    # batch (a batch runs as a plain GEMM), so only batch 1 carries the window for its replay
    # (linear in the batch); the mapper's exact count (`im2col`) serves every batch
    window = im2col if b == 1 else None
    return conv_gemm(m, n, k, groups, footprint, kernel_hw=(kh, kw),
                     in_channels=cin // per_group, in_width=touched[1], stride=stride,
                     window=window, im2col=im2col if (im2col.m, im2col.k) == (m, k) else None)
