"""accelsim against SCALE-Sim v3 (benchmarks/scalesim_runner.py, benchmarks/vs_scalesim.py).

Three kinds of test:
- the inputs written for SCALE-Sim (topology rows, config keys): always;
- the closed forms of SCALE-Sim's per-layer figures against its cached results committed under
  reports/validation/scalesim/: always (no SCALE-Sim needed);
- accelsim against SCALE-Sim: LeNet-5 and a 2-layer MLP run through both simulators when
  `.scalesim-venv` holds SCALE-Sim (skipped otherwise: CI does not install it), and ResNet-18
  against its cached SCALE-Sim results.
"""

from __future__ import annotations

import configparser
import functools
import importlib.util
import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

from accelsim.trace.geometry import conv2d_layer, layer_table, linear_layer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import scalesim_runner as ssr
import vs_scalesim as vs

HAVE_SIM = importlib.util.find_spec("accelsim.sim.simulation") is not None
needs_sim = pytest.mark.skipif(not HAVE_SIM, reason="accelsim.sim.simulation not written yet")
needs_scalesim = pytest.mark.skipif(
    not ssr.scalesim_available(),
    reason="SCALE-Sim v3 is not installed in .scalesim-venv (optional; "
           "`.venv/bin/python benchmarks/scalesim_runner.py --network lenet-5` creates it)")

EXACT_FIGURES = ("compute_cycles", "filter_sram_reads_words", "filter_dram_reads_words",
                 "ifmap_sram_reads_words", "ofmap_sram_writes_words")


def mlp_layers() -> pd.DataFrame:
    return layer_table([linear_layer(0, "fc1", 784, 100, True),
                        linear_layer(1, "fc2", 100, 10, True)])


# ---------------------------------------------------------------- inputs for SCALE-Sim

def _scalesim_output_size(size, kernel, stride):
    return math.ceil((size - kernel + stride) / stride)  # SCALE-Sim's own rule


@pytest.mark.parametrize("in_hw,k,s,p", [(224, 7, 2, 3), (56, 3, 2, 1), (56, 1, 2, 0),
                                         (14, 3, 1, 1), (9, 5, 2, 2), (7, 3, 3, 0)])
def test_conv_rows_give_pytorchs_output_size(in_hw, k, s, p):
    layer = layer_table([conv2d_layer(0, "c", (4, in_hw, in_hw), 8, k, s, p)])
    (row,) = ssr.topology_rows(layer)
    _name, h, w, kh, kw, cin, cout, stride = row
    out_h = layer["out_shape"][0][1]
    assert (kh, kw, cin, cout, stride) == (k, k, 4, 8, s)
    assert h <= in_hw + 2 * p  # never more than the padded input
    assert _scalesim_output_size(h, kh, stride) == out_h
    assert _scalesim_output_size(w, kw, stride) == out_h


def test_linear_rows_are_one_by_one_convolutions_and_gemm_form_folds_batch():
    layers = mlp_layers()
    assert ssr.topology_rows(layers) == [["fc1", 1, 1, 1, 1, 784, 100, 1],
                                         ["fc2", 1, 1, 1, 1, 100, 10, 1]]
    conv = layer_table([conv2d_layer(0, "c", (3, 8, 8), 4, 3, 1, 1)])
    assert ssr.topology_rows(conv, 4, gemm=True) == [["c", 64 * 4, 4, 27]]
    with pytest.raises(ValueError, match="no batch"):
        ssr.topology_rows(conv, 2)
    grouped = layer_table([conv2d_layer(0, "g", (4, 8, 8), 4, 3, 1, 1, groups=2)])
    with pytest.raises(NotImplementedError):
        ssr.topology_rows(grouped)


def test_topology_csv_ends_every_row_with_the_dropped_comma():
    text = ssr.topology_csv([["a", 1, 1, 1, 1, 3, 2, 1]])
    assert text.splitlines()[1] == "a,1,1,1,1,3,2,1,"
    assert ssr.topology_csv([["a", 5, 6, 7]], gemm=True).splitlines() == ["Layer,M,N,K,",
                                                                         "a,5,6,7,"]


def test_config_has_every_key_scalesim_reads():
    parser = configparser.ConfigParser()
    parser.read_string(ssr.config_cfg(ssr.ScaleSimSetup("os", 16, 8, 64, 32, 16), "run"))
    required = {
        "general": ["run_name"],
        "architecture_presets": ["ArrayHeight", "ArrayWidth", "IfmapSramSzkB", "FilterSramSzkB",
                                 "OfmapSramSzkB", "IfmapOffset", "FilterOffset", "OfmapOffset",
                                 "Dataflow", "ReadRequestBuffer", "WriteRequestBuffer"],
        "layout": ["IfmapCustomLayout", "FilterCustomLayout", "IfmapSRAMBankBandwidth",
                   "IfmapSRAMBankNum", "IfmapSRAMBankPort", "FilterSRAMBankBandwidth",
                   "FilterSRAMBankNum", "FilterSRAMBankPort"],
        "sparsity": ["SparsitySupport"],
        "run_presets": ["InterfaceBandwidth", "UseRamulatorTrace"],
    }
    for section, keys in required.items():
        for key in keys:
            assert parser.has_option(section, key), (section, key)
    arch = parser["architecture_presets"]
    assert (arch["ArrayHeight"], arch["ArrayWidth"], arch["Dataflow"]) == ("16", "8", "os")
    assert (arch["IfmapSramSzkB"], arch["FilterSramSzkB"], arch["OfmapSramSzkB"]) == \
        ("64", "32", "16")
    assert parser["run_presets"]["InterfaceBandwidth"] == "CALC"


# ---------------------------------------------------------------- closed forms

def test_os_filter_dram_reads_worked_example():
    # SCALE-Sim 3.0.0, 16x8 array, 64 kB filter SRAM: K=825, N=70, M=144 read 64,100 words
    # (57,750 weights + 6,350 refetched where the fifth column fold closed a buffer block)
    assert ssr.filter_buffer_window_words(64) == 32_750
    assert ssr.os_filter_dram_reads(825, 70, 144, 16, 8, 64) == 64_100
    assert ssr.os_filter_dram_reads(825, 70, 144, 8, 16, 64) == 64_100
    # it fits: every weight once; one row fold: nothing read twice
    assert ssr.os_filter_dram_reads(100, 70, 144, 16, 8, 64) == 7_000
    assert ssr.os_filter_dram_reads(825, 70, 16, 16, 8, 64) == 57_750


def _cached_results():
    found = []
    for json_path in sorted(ssr.CACHE_DIR.glob("*.json")):
        facts = json.loads(json_path.read_text())
        if facts["batch_size"] != 1 or facts["dataflow"] not in ("ws", "os"):
            continue
        found.append(pytest.param(json_path.stem, facts, id=json_path.stem))
    return found or [pytest.param(None, None, marks=pytest.mark.skip(
        reason="no cached SCALE-Sim results in reports/validation/scalesim"))]


@pytest.mark.parametrize("key,facts", _cached_results())
def test_closed_forms_reproduce_cached_scalesim_results(key, facts):
    setup = ssr.ScaleSimSetup(facts["dataflow"], facts["rows"], facts["cols"],
                              facts["ifmap_sram_kb"], facts["filter_sram_kb"],
                              facts["ofmap_sram_kb"])
    custom = ssr.CUSTOM_NETWORKS.get(facts["network"])
    layers = custom() if custom else ssr.network_layers(facts["network"])
    measured = pd.read_csv(ssr.CACHE_DIR / f"{key}.csv")
    errors = ssr.closed_form_errors(measured, ssr.closed_form_figures(layers, setup))
    for figure in EXACT_FIGURES:
        bad = errors[errors[figure] != 0]
        assert bad.empty, f"{key} {figure}: {bad[['layer', figure]].to_dict('records')}"
    # ofmap DRAM writes: exact up to SCALE-Sim's small write-buffer artefact
    assert (errors["ofmap_dram_writes_words"].abs() < 64).all()


# ---------------------------------------------------------------- accelsim against SCALE-Sim

def _assert_agree(report):
    for dataflow, d in report["dataflows"].items():
        table = d["table"]
        worst = table["compute_cycles_error_pct"].abs().max()
        assert worst <= vs.CYCLE_TOLERANCE_PCT, (
            f"{report['network']} {dataflow}: compute cycles differ by {worst:.3f}% "
            f"({table.loc[table['compute_cycles_error_pct'].abs().idxmax(), 'layer']})")
        unequal = table[~table["weight_dram_reads_equal"]]
        shown = ["layer", "accelsim_weight_dram_reads_no_bias_words",
                 "scalesim_filter_dram_reads_words"]
        assert unequal.empty, (f"{report['network']} {dataflow}: weight DRAM reads differ: "
                               f"{unequal[shown].to_dict('records')}")
        assert (table["accelsim_pe_weight_loads_words"]
                == table["scalesim_filter_sram_reads_words"]).all()


@needs_scalesim
@needs_sim
@pytest.mark.parametrize("network", ["lenet-5", "mlp-2"])
def test_lenet5_and_mlp_agree_with_a_fresh_scalesim_run(network, tmp_path):
    layers = mlp_layers() if network == "mlp-2" else ssr.network_layers(network)
    report = vs.run_comparison(network, ("ws", "os"), layers=layers, rerun_scalesim=True,
                               repeats=1, cache_dir=tmp_path / "cache",
                               work_dir=tmp_path / "work", verbose=False)
    _assert_agree(report)
    for d in report["dataflows"].values():  # SCALE-Sim ran and was timed
        assert d["scalesim"]["wall_time_s"] > 0 and d["scalesim"]["peak_memory_bytes"] > 0


@needs_sim
@pytest.mark.slow
def test_resnet18_agrees_with_cached_scalesim_results():
    for dataflow in ("ws", "os"):
        key = ssr.ScaleSimSetup(dataflow).key("resnet18")
        if not ssr.cache_paths(key)[0].exists():
            pytest.skip(f"no cached SCALE-Sim result {key} in reports/validation/scalesim")
    # the agreement only: no timing repeats and no heap measurement (the benchmark has both)
    report = vs.run_comparison("resnet18", ("ws", "os"), repeats=1, verbose=False, heap=False)
    _assert_agree(report)


# ---------------------------------------------------------------- `simulate` against SCALE-Sim

import vs_scalesim_memory as vsm  # noqa: E402

# every cached run but ResNet-18's at three of its four SRAM sizes (1-2 s each; the
# benchmark, benchmarks/vs_scalesim_memory.py, simulates all of them): its smallest SRAM, where
# most is refetched, stays
_CACHED_KEYS = [key for key in vsm.cached_keys()
                if not key.startswith("resnet18_") or "_32kB" in key]
SIMULATION_TOLERANCE = 0.001  # 0.1 % per column and layer


@functools.cache
def _layers_of(network: str) -> pd.DataFrame:
    custom = ssr.CUSTOM_NETWORKS.get(network)
    if custom is None:
        pytest.importorskip("torch")  # a zoo network's layer table comes from its torch model
        return ssr.network_layers(network)
    return custom()


@needs_sim
@pytest.mark.parametrize("key", _CACHED_KEYS)
def test_simulate_under_the_scalesim_policy_matches_every_cached_run(key):
    """`simulate --set reuse_policy=scalesim` on the hardware of `accelsim_config` reproduces
    SCALE-Sim's six per-layer columns (like with like: its two artefacts out) within 0.1 %."""
    layers = _layers_of(vsm.parse_key(key)["network"])
    measured = pd.read_csv(ssr.CACHE_DIR / f"{key}.csv")
    table = vsm.simulate_run(key, layers, measured)
    for column, *_ in vsm.COLUMNS:
        ours, theirs = table[f"simulate_{column}"], table[f"scalesim_{column}"]
        off = (ours - theirs).abs() > SIMULATION_TOLERANCE * theirs.clip(lower=1)
        assert not off.any(), (f"{key} {column}: " + ", ".join(
            f"{layer} {o:,} vs {t:,}" for layer, o, t in
            zip(table["layer"][off], ours[off], theirs[off])))


def test_the_config_helper_gives_scalesims_buffers_and_one_word_banks():
    config = ssr.accelsim_config(ssr.ScaleSimSetup("os", 16, 8, 64, 32, 64))
    assert (config.pe.rows, config.pe.cols, config.pe.dataflow) == (16, 8, "os")
    assert config.weight_bytes == 1 and config.reuse_policy == "scalesim"
    assert config.weight_sram.capacity_bytes == 32 * 1024
    assert config.activation_sram.capacity_bytes == 2 * 64 * 1024  # ifmap + ofmap
    assert config.weight_sram.bank_width_bits == config.activation_sram.bank_width_bits == 8
    with pytest.raises(ValueError, match="same size"):
        ssr.accelsim_config(ssr.ScaleSimSetup("ws", 8, 8, 64, 64, 32))


def test_the_cli_under_the_scalesim_policy_matches_a_cached_run(tmp_path):
    """What a user runs: `accelsim simulate TRACE --mode inference --set reuse_policy=scalesim`
    with the run's hardware as `--set` flags, read back from the result folder."""
    from accelsim.cli import main
    from accelsim.sim.results import SimulationResult
    from accelsim.trace.format import save_trace
    from accelsim.trace.synthetic import synthetic_trace

    key = "strided_os_4kB_12x20"
    setup = vsm.parse_key(key)
    layers = ssr.CUSTOM_NETWORKS[setup["network"]]()
    trace = synthetic_trace(layers, 0, 0, batch_size=1, dense=True,
                            model={"name": setup["network"], "args": {}})
    save_trace(trace, tmp_path / "trace")
    kb = setup["sram_kb"]
    overrides = ssr.accelsim_overrides(ssr.ScaleSimSetup(
        setup["dataflow"], setup["rows"], setup["cols"], kb, kb, kb))
    flags = [arg for field, value in overrides.items() for arg in ("--set", f"{field}={value}")]
    assert main(["simulate", str(tmp_path / "trace"), "--mode", "inference", *flags,
                 "--out", str(tmp_path / "sim"), "--quiet"]) == 0
    result = SimulationResult.load(tmp_path / "sim")
    table = vsm.compare_simulated(key, layers, pd.read_csv(ssr.CACHE_DIR / f"{key}.csv"),
                                  result)
    for column, *_ in vsm.COLUMNS:
        assert (table[f"simulate_{column}"] == table[f"scalesim_{column}"]).all(), column
