"""The memory model (`accelsim.sim.mapping.mapper`): closed forms on small layers, the `scalesim`
policy against cached SCALE-Sim v3 runs, and the mapper's guarantees."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from accelsim.sim.mapping.gemm import Gemm, conv_gemm
from accelsim.sim.mapping.mapper import map_gemm
from accelsim.sim.mapping.scalesim import scalesim_block_words

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
import vs_scalesim_memory as vsm  # noqa: E402


def test_ws_small_buffer_rereads_the_input_once_per_filter_column_fold():
    # a 1x1 "conv" with no reuse inside a pass: every column fold streams A again
    g = conv_gemm(m=500, n=100, k=64, groups=1, footprint=500 * 64)
    small = map_gemm(g, 32, 32, "ws", "scalesim", a_words=1000, b_words=10**6)
    assert small.operands["A"].dram_reads == 500 * 64 * 4  # ceil(100/32) = 4 folds
    big = map_gemm(g, 32, 32, "ws", "scalesim", a_words=10**6, b_words=10**6)
    assert big.operands["A"].dram_reads == 500 * 64
    # ws writes a partial sum per row fold (ceil(64/32) = 2), all of it to DRAM
    assert small.operands["C"].dram_writes == 500 * 100 * 2


def test_os_refetches_the_filter_per_row_fold_when_it_does_not_fit():
    g = conv_gemm(m=320, n=32, k=400, groups=1, footprint=320 * 400)
    block = scalesim_block_words(100 * 100)  # 5000 words < one fold's 400 x 32
    tight = map_gemm(g, 32, 32, "os", "scalesim", a_words=10**6, b_words=100 * 100)
    assert block < 400 * 32
    assert tight.operands["B"].dram_reads == 400 * 32 * 10  # ceil(320/32) row folds
    roomy = map_gemm(g, 32, 32, "os", "scalesim", a_words=10**6, b_words=10**6)
    assert roomy.operands["B"].dram_reads == 400 * 32


def test_is_reads_the_input_once_and_the_filter_per_column_fold_of_m():
    g = conv_gemm(m=96, n=40, k=50, groups=1, footprint=96 * 50)
    m = map_gemm(g, 16, 32, "is", "scalesim", a_words=10**6, b_words=100)
    assert m.operands["A"].sram_reads == 96 * 50
    assert m.operands["B"].sram_reads == 50 * 40 * 3  # ceil(96/32)
    assert m.operands["B"].dram_reads == 50 * 40 * 3  # B larger than a block: every pass misses


def test_partial_sums_never_leave_the_chip_when_the_output_tile_fits():
    g = conv_gemm(m=200, n=64, k=300, groups=1, footprint=200 * 300)
    m = map_gemm(g, 32, 32, "ws", "mapper", a_words=10**6, b_words=10**6)
    assert m.partial_sums_on_chip
    assert m.operands["C"].dram_reads == 0 and m.operands["C"].dram_writes == 200 * 64


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_mapper_never_moves_more_than_scalesim_and_more_buffer_never_adds_traffic(dataflow):
    g = conv_gemm(m=784, n=128, k=576, groups=1, footprint=64 * 30 * 30,
                   kernel_hw=(3, 3), in_channels=64, in_width=30, stride=1)
    last = None
    for kb in (1, 4, 16, 64, 256, 1024):
        words = kb * 1024
        mapper = map_gemm(g, 32, 32, dataflow, a_words=words, b_words=words)
        scalesim = map_gemm(g, 32, 32, dataflow, "scalesim", a_words=words, b_words=words)
        assert mapper.dram_words <= scalesim.dram_words
        if last is not None:
            assert mapper.dram_words <= last
        last = mapper.dram_words


def test_groups_scale_every_count():
    one = Gemm(64, 16, 27, 64 * 27, 64 * 27, 64 * 27)
    four = Gemm(64, 64, 27, 4 * 64 * 27, 64 * 27, 64 * 27, groups=4)
    a = map_gemm(one, 8, 8, "ws", "scalesim", a_words=10**5, b_words=10**5)
    b = map_gemm(four, 8, 8, "ws", "scalesim", a_words=10**5, b_words=10**5)
    assert b.operands["A"].sram_reads == 4 * a.operands["A"].sram_reads
    assert b.dram_words == 4 * a.dram_words


# ResNet-18 needs torch for its layer table (skipped without it)
_CACHED = sorted(p.stem for p in (ROOT / "reports" / "validation" / "scalesim").glob("*.csv"))


@pytest.mark.parametrize("key", _CACHED)
def test_scalesim_policy_matches_cached_scalesim_runs(key):
    """SRAM and filter/ofmap DRAM columns equal on every layer; the input's DRAM reads (the
    replayed read buffer) within 1% on every layer -- equal on all of today's runs."""
    network = vsm.parse_key(key)["network"]
    if network in vsm.ssr.CUSTOM_NETWORKS:
        layers = vsm.ssr.CUSTOM_NETWORKS[network]()
    else:
        pytest.importorskip("torch")
        layers = vsm.ssr.network_layers(network)
    measured = pd.read_csv(ROOT / "reports" / "validation" / "scalesim" / f"{key}.csv")
    table = vsm.compare_run(key, layers, measured)
    for column, *_ in vsm.COLUMNS:
        ours, theirs = table[f"accelsim_{column}"], table[f"scalesim_{column}"]
        if column == "ifmap_dram_reads_words":
            assert ((ours - theirs).abs() <= 0.01 * theirs).all(), column
        else:
            assert (ours == theirs).all(), column


def test_scalesim_policy_with_a_buffer_under_100_words_refetches_every_request():
    # SCALE-Sim's read buffer keeps sets of floor(words / 100): none at all below 100 words

    shape = Gemm(64, 48, 40, 64 * 40, 64 * 40, 64 * 40)
    tiny = map_gemm(shape, 8, 8, "os", "scalesim", a_words=4096, b_words=64)
    assert tiny.operands["B"].dram_reads == 40 * 48 * 8  # every weight, once per row fold
