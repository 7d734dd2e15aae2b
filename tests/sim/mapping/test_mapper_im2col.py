"""The mapper's im2col input count: the distinct input words of every tile of A, against a
brute-force count (every address of a tile listed, the distinct ones counted)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sim.mapping.gemm import Im2col, conv_gemm
from accelsim.sim.mapping.mapper import im2col_tile_words, map_gemm


def addresses(g: Im2col) -> np.ndarray:
    """A[m, k] as input word addresses (HWC per image, K = kernel row, column, channel)."""
    m = np.arange(g.m)
    image, pixel = np.divmod(m, g.out_height * g.out_width)
    y, x = np.divmod(pixel, g.out_width)
    k = np.arange(g.k)
    i, rest = np.divmod(k, g.kw * g.channels)
    j, c = np.divmod(rest, g.channels)
    row = (image * g.in_height + y * g.stride)[:, None] + i[None, :]
    column = (x * g.stride)[:, None] + j[None, :]
    return (row * g.in_width + column) * g.channels + c[None, :]


def brute_force(g: Im2col, tile_m: int, tile_k: int) -> tuple[int, int]:
    a = addresses(g)
    per_tile = [len(np.unique(a[m0:m0 + tile_m, k0:k0 + tile_k]))
                for m0 in range(0, g.m, tile_m) for k0 in range(0, g.k, tile_k)]
    return sum(per_tile), max(per_tile)


def window(images, out_hw, kernel, channels, stride) -> Im2col:
    (ho, wo), (kh, kw) = out_hw, kernel
    return Im2col(images, ho, wo, kh, kw, channels, stride, (ho - 1) * stride + kh,
                  (wo - 1) * stride + kw)


@settings(max_examples=60, deadline=None)
@given(images=st.integers(1, 3), ho=st.integers(1, 6), wo=st.integers(1, 6),
       kh=st.sampled_from([1, 2, 3, 5]), kw=st.sampled_from([1, 2, 3, 5]),
       channels=st.sampled_from([1, 2, 3, 4, 7]), stride=st.sampled_from([1, 2, 3]),
       data=st.data())
def test_tile_words_equal_a_brute_force_count(images, ho, wo, kh, kw, channels, stride, data):
    g = window(images, (ho, wo), (kh, kw), channels, stride)
    tile_m = data.draw(st.integers(1, g.m), label="tile_m")
    tile_k = data.draw(st.integers(1, g.k), label="tile_k")
    assert im2col_tile_words(g, tile_m, tile_k) == brute_force(g, tile_m, tile_k)


def test_k_tiles_that_share_input_words_read_them_again():
    # a 3x3 stride-1 convolution, one channel per kernel position per K tile: every tile
    # reads a shifted copy of (nearly) the whole input, 9 in all
    g = window(1, (8, 8), (3, 3), 4, 1)
    whole, _ = im2col_tile_words(g, g.m, g.k)
    assert whole == g.distinct_words == 10 * 10 * 4
    per_position, most = im2col_tile_words(g, g.m, 4)
    assert (per_position, most) == brute_force(g, g.m, 4) == (9 * 64 * 4, 64 * 4)
    assert per_position > 5 * whole  # what counting distinct words once per pass missed


@pytest.mark.parametrize("buffer_words", [256, 1024, 4096])
def test_the_mappers_input_dram_reads_are_the_chosen_tiles_exact_words(buffer_words):
    """Through `map_gemm`: the A DRAM reads of the mapping chosen are the brute-force words
    of its tiles, once or once per column tile of N."""
    g = window(1, (10, 10), (3, 3), 6, 1)
    gemm = conv_gemm(g.m, 20, g.k, 1, g.distinct_words, kernel_hw=(3, 3), in_channels=6,
                     in_width=g.in_width, window=g)
    mapping = map_gemm(gemm, 4, 4, "ws", a_words=buffer_words, b_words=buffer_words,
                       c_words=buffer_words)
    if mapping.tile_m == 0:
        pytest.skip("no tiling fits: the fixed SCALE-Sim schedule was kept")
    words, most = brute_force(g, mapping.tile_m, mapping.tile_k)
    n_tiles = -(-20 // mapping.tile_n)
    assert mapping.operands["A"].dram_reads in (words, words * n_tiles)
    assert most <= 2 * buffer_words  # the tile had to fit (A and C share the two buffers)


def _conv_row(images_hw, channels, out_channels, kernel, stride, padding):
    """A layer-table row of a small convolution (what `phase_gemm` reads)."""
    (h, w), (kh, kw) = images_hw, kernel
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    fan_in = kh * kw * channels
    return {"kind": "conv2d", "groups": 1, "weight_shape": [out_channels, channels, kh, kw],
            "in_shape": [channels, h, w], "out_shape": [out_channels, ho, wo],
            "stride": [stride, stride], "in_activation_count": channels * h * w,
            "out_activation_count": out_channels * ho * wo,
            "fwd_m": ho * wo, "fwd_n": out_channels, "fwd_k": fan_in,
            "bwd_data_m": ho * wo, "bwd_data_n": fan_in, "bwd_data_k": out_channels,
            "bwd_weight_m": fan_in, "bwd_weight_n": out_channels, "bwd_weight_k": ho * wo}


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 4), hw=st.integers(3, 8), channels=st.sampled_from([1, 2, 3, 5]),
       kernel=st.sampled_from([1, 2, 3, 5]), stride=st.sampled_from([1, 2, 3]),
       padding=st.integers(0, 2), buffer_words=st.sampled_from([64, 256, 1024]),
       dataflow=st.sampled_from(["ws", "os", "is"]),
       phase=st.sampled_from(["forward", "backward_data", "backward_weight"]))
def test_every_phase_and_batch_reads_its_tiles_exact_words(batch, hw, channels, kernel, stride,
                                                          padding, buffer_words, dataflow,
                                                          phase):
    """Through `phase_gemm` and `map_gemm`, every phase at every batch: the A DRAM reads of
    the mapping chosen are the brute-force distinct words of its tiles (forward: im2col(X);
    backward_weight: im2col(X)ᵀ; backward_data: dY, a plain matrix), once or once per column
    tile of N, and the largest tile fitted the buffer."""
    from accelsim.sim.mapping.gemm import phase_gemm

    if hw + 2 * padding < kernel:
        return
    row = _conv_row((hw, hw), channels, 6, (kernel, kernel), stride, padding)
    gemm = phase_gemm(row, phase, batch)
    mapping = map_gemm(gemm, 4, 4, dataflow, a_words=buffer_words, b_words=buffer_words,
                       c_words=buffer_words)
    if mapping.tile_m == 0:
        return  # no tiling fits: the fixed SCALE-Sim schedule was kept
    ho, wo = row["out_shape"][1:]
    g = window(batch, (ho, wo), (kernel, kernel), channels, stride)
    if phase == "forward":
        a = addresses(g)
    elif phase == "backward_weight":
        a = addresses(g).T
    else:  # dY: every word its own address
        a = np.arange(gemm.m * gemm.k).reshape(gemm.m, gemm.k)
    assert a.shape == (gemm.m, gemm.k)
    tm, tk = mapping.tile_m, mapping.tile_k
    per_tile = [len(np.unique(a[m0:m0 + tm, k0:k0 + tk]))
                for m0 in range(0, gemm.m, tm) for k0 in range(0, gemm.k, tk)]
    n_tiles = -(-gemm.n // mapping.tile_n)
    assert mapping.operands["A"].dram_reads in (sum(per_tile), sum(per_tile) * n_tiles)
    assert max(per_tile) <= 2 * buffer_words


def test_a_batch_splits_tiles_at_image_boundaries():
    # two images side by side in M share no words: a tile spanning both reads each image's
    # windows apart, so the batch's count is twice one image's when tiles align with images
    one = window(1, (6, 6), (3, 3), 2, 1)
    two = window(2, (6, 6), (3, 3), 2, 1)
    for tile_k in (2, 6, 18):
        words_one, most_one = im2col_tile_words(one, 36, tile_k)
        assert im2col_tile_words(two, 36, tile_k) == (2 * words_one, most_one)
        # a tile of both whole images holds both images' words
        assert im2col_tile_words(two, 72, tile_k)[1] == 2 * most_one
