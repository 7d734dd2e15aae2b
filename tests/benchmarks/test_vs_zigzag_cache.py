"""accelsim beside the cached ZigZag run (reports/validation/zigzag/, written by
benchmarks/vs_zigzag.py): ZigZag itself is not needed.

The cache is only worth keeping while it describes accelsim's default hardware, so the first
test fails when the default config's energies or sizes move away from the cached run's (rerun
the benchmark with ZigZag then). The others hold accelsim's default mapper to what
reports/validation/zigzag.md says agrees with ZigZag: the per-level totals within
`vs_zigzag.AGREEMENT_PCT`, and, layer by layer, the counts both sides derive by the same rule.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import vs_zigzag as vz

needs_cache = pytest.mark.skipif(vz.load_cache() is None, reason="no cached ZigZag run")


def test_skips_cleanly_without_zigzag_or_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(vz, "CACHE_LAYERS", tmp_path / "layers.csv")
    monkeypatch.setattr(vz, "CACHE_HARDWARE", tmp_path / "hardware.json")
    assert vz.main(["--zigzag-venv", str(tmp_path / "no-venv")]) == 0
    assert "skipped" in capsys.readouterr().out
    assert not (tmp_path / "layers.csv").exists()


@pytest.fixture(scope="module")
def cached():
    raw, meta = vz.load_cache()
    return raw, meta


@pytest.fixture(scope="module")
def layers():
    import scalesim_runner as ssr

    return ssr.network_layers(vz.NETWORK)


@pytest.fixture(scope="module")
def table(cached, layers):
    raw, _ = cached
    order = layers.sort_values("exec_order", kind="stable")["name"].astype(str).tolist()
    mapper = vz.accelsim_levels(layers, "mapper")
    return vz.compare(vz.zigzag_levels(raw), {"mapper": mapper}, order)


@needs_cache
def test_cache_describes_the_default_hardware(cached, layers):
    raw, meta = cached
    assert meta["hardware"] == asdict(vz.matched_hardware(vz.default_config()))
    assert sorted(raw["layer"]) == sorted(layers["name"].astype(str))


@needs_cache
def test_mapper_totals_within_documented_tolerance(table):
    total = table[table["layer"] == "TOTAL"].iloc[0]
    for level, tolerance in vz.AGREEMENT_PCT.items():
        diff = total[f"accelsim_mapper_{level}_diff_pct"]
        assert abs(diff) <= tolerance, f"{level}: {diff:+.3f} % against ZigZag"


@needs_cache
def test_counts_with_one_rule_agree_per_layer(cached, table, layers):
    raw, meta = cached
    word_bits = meta["hardware"]["word_bits"]
    per_layer = table[table["layer"] != "TOTAL"].set_index("layer")
    # the same MACs: strides and padding carried over into ZigZag's workload
    assert (per_layer["accelsim_mapper_mac_pj"] - per_layer["zigzag_mac_pj"]).abs().max() < 1.0
    # every weight read from DRAM once on both sides (ZigZag rounds its counts to its DRAM
    # port, a few words per layer); accelsim's figure includes the biases
    zz_words = raw.set_index("layer")["W_dram_rd_out_to_low_bits"] / word_bits
    bias = layers.set_index("name")["bias_count"]
    ours = per_layer["accelsim_mapper_weight_dram_read_words"] - bias.reindex(per_layer.index)
    assert (ours - zz_words.reindex(per_layer.index)).abs().max() <= 8


@needs_cache
def test_pinned_weights_cost_the_same_in_the_weight_sram(table):
    """Where accelsim holds a layer's weights in the weight SRAM (nothing staged) and both
    enter each weight into the array once, both write and read each weight there once."""
    rows = table[(table["layer"] != "TOTAL") & (table["accelsim_mapper_staging_pj"] == 0)
                 & ((table["accelsim_mapper_register_array_pj"]
                     - table["zigzag_register_array_pj"]).abs() < 1e-3)]
    assert len(rows) >= 10
    rel = ((rows["accelsim_mapper_weight_sram_pj"] - rows["zigzag_weight_sram_pj"]).abs()
           / rows["zigzag_weight_sram_pj"])
    assert rel.max() < 1e-4
