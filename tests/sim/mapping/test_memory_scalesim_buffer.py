"""SCALE-Sim's CALC-mode ifmap read buffer (`accelsim.sim.mapping.scalesim`): the vectorised
replay against a request-by-request model written from the mechanism, closed forms on small
layers, and how the `scalesim` policy and the mapper use it."""

from __future__ import annotations

import pytest

from accelsim.sim.mapping.gemm import Im2col, conv_gemm, phase_gemm
from accelsim.sim.mapping.mapper import map_gemm
from accelsim.sim.mapping.scalesim import (
    ifmap_dram_reads,
    pass_stream,
    scalesim_block_words,
    window_misses,
)
from accelsim.trace.geometry import conv2d_layer, layer_table


def _address(g: Im2col, m: int, k: int) -> int:
    image, pixel = divmod(m, g.out_height * g.out_width)
    y, x = divmod(pixel, g.out_width)
    i, rest = divmod(k, g.kw * g.channels)
    j, c = divmod(rest, g.channels)
    row = image * g.in_height + y * g.stride + i
    return (row * g.in_width + x * g.stride + j) * g.channels + c


def _requests(g: Im2col, dataflow: str, rows: int, cols: int, n: int) -> list[int]:
    """The demand order, one request at a time (cycle by cycle, column by column)."""
    m_all, k_all = g.m, g.k
    one_pass = []
    if dataflow == "ws":  # row folds of K; column c holds k0 + c, m streams, skewed by c
        for k0 in range(0, k_all, rows):
            width = min(rows, k_all - k0)
            for t in range(m_all + width - 1):
                for c in range(width):
                    if 0 <= t - c < m_all:
                        one_pass.append(_address(g, t - c, k0 + c))
    elif dataflow == "os":  # row folds of M; column c holds m0 + c, k streams, skewed by c
        for m0 in range(0, m_all, rows):
            width = min(rows, m_all - m0)
            for t in range(k_all + width - 1):
                for c in range(width):
                    if 0 <= t - c < k_all:
                        one_pass.append(_address(g, m0 + c, t - c))
    else:  # is: M chunks of C outer, K chunks of R inner, K descending, M ascending
        for m0 in range(0, m_all, cols):
            for k0 in range(0, k_all, rows):
                for k in reversed(range(k0, min(k_all, k0 + rows))):
                    for m in range(m0, min(m_all, m0 + cols)):
                        one_pass.append(_address(g, m, k))
        return one_pass
    return one_pass * -(-n // cols)


def _misses(requests: list[int], block: int) -> int:
    """A miss adds the address to the window; the block-th miss empties it."""
    window: set[int] = set()
    misses = 0
    for address in requests:
        if address not in window:
            misses += 1
            window.add(address)
            if len(window) == block:
                window = set()
    return misses


def _window(out_hw, kernel, channels, stride, images=1) -> Im2col:
    (oh, ow), (kh, kw) = out_hw, kernel
    return Im2col(images, oh, ow, kh, kw, channels, stride, (oh - 1) * stride + kh,
                  (ow - 1) * stride + kw)


CASES = [
    # (window, dataflow, rows, cols, n, block)
    (_window((6, 7), (3, 3), 2, 1), "ws", 8, 4, 9, 60),  # K folds span kernel positions
    (_window((6, 7), (3, 3), 2, 1), "ws", 8, 4, 40, 150),  # many passes: sort and skip
    (_window((9, 9), (3, 3), 8, 1), "ws", 8, 8, 64, 300),  # channels fill a fold: all miss
    (_window((5, 6), (5, 5), 3, 2), "os", 8, 16, 20, 200),
    (_window((7, 7), (3, 3), 4, 1), "os", 4, 4, 30, 90),
    (_window((4, 9), (2, 3), 5, 1, images=2), "os", 16, 8, 3, 500),
    (_window((8, 8), (3, 3), 3, 2), "is", 8, 16, 10, 100),
    (_window((6, 6), (5, 5), 1, 1), "is", 4, 8, 10, 40),
    (_window((10, 10), (3, 3), 1, 1), "ws", 4, 4, 4, 7),  # tiny block
]


@pytest.mark.parametrize("window,dataflow,rows,cols,n,block", CASES)
def test_replay_equals_the_request_by_request_model(window, dataflow, rows, cols, n, block):
    requests = _requests(window, dataflow, rows, cols, n)
    passes = 1 if dataflow == "is" else -(-n // cols)
    assert list(pass_stream(window, dataflow, rows, cols)) * passes == requests
    expected = _misses(requests, block)
    assert ifmap_dram_reads(window, n, dataflow, rows, cols, block) == expected
    # the chunked scan, the sorted replay and the closed forms agree with each other too
    assert window_misses(pass_stream(window, dataflow, rows, cols), passes, block) == expected


def test_a_one_dimensional_window_rereads_what_follows_a_full_block():
    # is, one fold: rows k = 2, 1, 0 ask for words k .. k + 9 (12 distinct words). With a
    # 12-word block, row 2 misses 10, row 1 misses word 1 only, row 0's word 0 fills the block
    # and the buffer forgets: words 1..9 miss again -> 10 + 1 + 1 + 9
    g = Im2col(1, 1, 10, 1, 3, 1, 1, 1, 12)
    assert g.distinct_words == 12
    assert ifmap_dram_reads(g, 1, "is", 4, 16, 12) == 21
    assert ifmap_dram_reads(g, 1, "is", 4, 16, 13) == 12  # a block larger than the input


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_no_repeated_word_means_once_if_it_fits_else_every_request(dataflow):
    g = _window((8, 8), (1, 1), 16, 1)  # 1x1: 1024 distinct words, each used once a pass
    passes = 1 if dataflow == "is" else 3
    assert ifmap_dram_reads(g, 24, dataflow, 8, 8, 1025) == 1024
    assert ifmap_dram_reads(g, 24, dataflow, 8, 8, 1024) == passes * 1024
    assert ifmap_dram_reads(g, 24, dataflow, 8, 8, 256) == passes * 1024


def test_input_k_blocks_larger_rereads_across_column_folds():
    # ws, channels filling each fold: a word comes back only with a later kernel position,
    # a fold (M x R requests) later; once the input is several blocks, nothing survives
    g = _window((12, 12), (3, 3), 8, 1)
    n, rows, cols = 32, 8, 8
    passes = n // cols
    fits = ifmap_dram_reads(g, n, "ws", rows, cols, g.distinct_words + 1)
    assert fits == g.distinct_words
    for k in (2, 4):
        block = g.distinct_words // k
        reads = ifmap_dram_reads(g, n, "ws", rows, cols, block)
        assert reads == _misses(_requests(g, "ws", rows, cols, n), block)
        assert fits < reads <= passes * g.m * g.k


def _conv_layer(cin=8, cout=24, hw=12, kernel=3, stride=1, padding=1):
    return layer_table([conv2d_layer(0, "conv", (cin, hw, hw), cout, kernel, stride,
                                     padding)]).to_dict("records")[0]


def test_phase_shapes_carry_the_window_the_replay_needs():
    layer = _conv_layer()
    forward = phase_gemm(layer, "forward", 1)
    assert forward.a_window is not None
    assert (forward.a_window.m, forward.a_window.k) == (forward.m, forward.k)
    # SCALE-Sim's conv form has no batch: a batch keeps the estimate
    assert phase_gemm(layer, "forward", 2).a_window is None
    # backward_data multiplies dY (a plain matrix) by W's transpose: no window to replay
    assert phase_gemm(layer, "backward_data", 1).a_window is None
    assert phase_gemm(layer, "backward_weight", 1).a_window is None


def test_scalesim_policy_uses_the_replay_and_ignores_a_window_of_another_gemm():
    layer = _conv_layer(cin=16, hw=14)
    shape = phase_gemm(layer, "forward", 1)
    words = 2048
    mapping = map_gemm(shape, 8, 8, "ws", "scalesim", a_words=words, b_words=words)
    expected = _misses(_requests(shape.a_window, "ws", 8, 8, shape.n),
                       scalesim_block_words(words))
    assert mapping.operands["A"].dram_reads == expected
    # a window whose M x K is not the GEMM's is not replayed: the estimate answers
    stray = conv_gemm(shape.m, shape.n, shape.k + 1, 1, shape.a_footprint_words,
                       window=shape.a_window)
    plain = conv_gemm(shape.m, shape.n, shape.k + 1, 1, shape.a_footprint_words)
    assert (map_gemm(stray, 8, 8, "ws", "scalesim", a_words=words, b_words=words).operands
            == map_gemm(plain, 8, 8, "ws", "scalesim", a_words=words, b_words=words).operands)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_mapper_never_moves_more_than_the_replayed_scalesim_schedule(dataflow):
    for layer in (_conv_layer(cin=16, hw=14), _conv_layer(cin=3, cout=16, hw=20, kernel=5,
                                                          stride=2, padding=2)):
        for phase in ("forward", "backward_weight"):
            shape = phase_gemm(layer, phase, 1)
            for kb in (1, 2, 4, 16, 64):
                words = kb * 1024
                mapper = map_gemm(shape, 8, 16, dataflow, a_words=words, b_words=words)
                scalesim = map_gemm(shape, 8, 16, dataflow, "scalesim", a_words=words,
                                    b_words=words)
                assert mapper.dram_words <= scalesim.dram_words
