"""The training step charged operand by operand (issue 20, GEMM side): dX folded back from the
im2col-shaped gradient, no backward_data for the input layer, partial dW per row fold, every
operand's hops in the PE array, and the optimizer's state. Closed forms on small layers, and
through `simulate` (conservation and the traffic table)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from trace_helpers import tiny_layers, tiny_trace

from accelsim.config import load_accelerator_config
from accelsim.sim.mapping.layer import layer_work
from accelsim.sim.mapping.placement import (
    OPTIMIZER_STATE_WORDS,
    optimizer_kind,
    optimizer_state_words,
)
from accelsim.sim.simulation import simulate

BATCH = 4


def config(**overrides):
    # one-word banks, so a buffer can be as small as a test needs and a word is an access
    base = {"tile_weights": 256, "weight_sram.banks": 1, "weight_sram.bank_width_bits": 32,
            "activation_sram.banks": 1, "activation_sram.bank_width_bits": 32}
    base.update(overrides)
    return load_accelerator_config("default", base)


def conv_layer():
    return tiny_layers().to_dict("records")[0]  # 3x3 conv, stride 1, padding 1, 1 -> 4


# -- backward_data produces dX ------------------------------------------------------------------

@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_backward_data_sends_dx_not_the_im2col_gradient_to_dram(dataflow):
    layer = conv_layer()
    # an activation buffer far too small for dX: it is drained to DRAM
    cfg = config(**{"pe.dataflow": dataflow, "activation_sram.capacity_bytes": 64})
    work = layer_work(layer, cfg, BATCH, "train")
    gemm = work.gemms["backward_data"]
    dx_words = int(layer["in_activation_count"]) * BATCH
    assert gemm.m * gemm.n == 9 * dx_words  # the im2col-shaped dY·Wᵀ: 9x dX for 3x3
    sram_read, sram_write, _, dram_write = work.activation_operand_bytes["backward_data"][
        "gradients"]
    word = cfg.weight_bytes
    assert dram_write == dx_words * word  # dX, the layer's input size
    # col2im: every im2col word is written into dX, each but the first into a dX word read
    # first; the drain reads dX once where the schedule counts drain reads (SCALE-Sim's, the
    # mapper's fallback on so small a buffer, does not) (dY, operand A, is a gradient too)
    ops = work.mappings["backward_data"].operands
    dy, drain = ops["A"], min(dx_words, ops["C"].sram_reads)
    assert sram_write - dy.sram_writes * word == gemm.m * gemm.n * word
    assert sram_read - dy.sram_reads * word == (gemm.m * gemm.n - dx_words + drain) * word


def test_col2im_accumulates_on_chip_when_dx_fits():
    layer = conv_layer()
    cfg = config(**{"activation_sram.capacity_bytes": 1 << 20})
    work = layer_work(layer, cfg, BATCH, "train")
    gemm = work.gemms["backward_data"]
    dx_words = int(layer["in_activation_count"]) * BATCH
    sram_read, sram_write, dram_read, dram_write = work.activation_operand_bytes[
        "backward_data"]["gradients"]
    word = cfg.weight_bytes
    assert (dram_read, dram_write) == (0, 0)  # it stays for the layer before
    dy = work.mappings["backward_data"].operands["A"]  # dY: on chip too, no fill
    assert sram_write == gemm.m * gemm.n * word
    # a read-add-write into dX for every word but the first of each, no drain
    assert sram_read - dy.sram_reads * word == (gemm.m * gemm.n - dx_words) * word


def test_a_linear_layers_gradient_is_dx_already():
    layer = tiny_layers().to_dict("records")[1]  # fc1: 256 -> 32
    cfg = config(**{"activation_sram.capacity_bytes": 64})
    work = layer_work(layer, cfg, BATCH, "train")
    _, sram_write, _, dram_write = work.activation_operand_bytes["backward_data"]["gradients"]
    dy = work.mappings["backward_data"].operands["A"]
    assert dram_write == sram_write - dy.sram_writes * cfg.weight_bytes == (
        256 * BATCH * cfg.weight_bytes)


def test_simulated_dx_writes_in_the_traffic_table_equal_the_input_sizes():
    trace = tiny_trace()
    cfg = config(**{"activation_sram.capacity_bytes": 64})
    result = simulate(trace, cfg, "train", baseline=False)
    t = result.traffic
    rows = t[(t["phase"] == "backward_data") & (t["operand"] == "gradients")
             & (t["level"] == "dram")]
    layers = trace.layers.set_index("layer_id")
    for layer_id, writes in rows.groupby("layer_id")["writes"].sum().items():
        want = int(layers.loc[layer_id, "in_activation_count"]) * BATCH * cfg.weight_bytes
        assert writes == want * trace.iterations


# -- the input layer ----------------------------------------------------------------------------

def test_the_input_layer_skips_backward_data_unless_asked():
    trace = tiny_trace()
    r = simulate(trace, config(), "train", baseline=False).records
    first = int(trace.layers.sort_values("exec_order")["layer_id"].iloc[0])
    bd = r[r["phase"] == "backward_data"]
    assert first not in set(bd["layer_id"]) and len(bd) == len(trace.layers) - 1
    asked = simulate(trace, config(), "train", baseline=False,
                     input_layer_backward_data=True)
    r2 = asked.records
    assert first in set(r2[r2["phase"] == "backward_data"]["layer_id"])
    assert asked.settings["input_layer_backward_data"] is True
    assert r2["macs_count"].sum() > r["macs_count"].sum()


# -- partial dW per row fold --------------------------------------------------------------------

@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_partial_weight_gradients_per_row_fold(dataflow):
    layer = conv_layer()
    cfg = config(**{"pe.dataflow": dataflow, "pe.rows": 8, "pe.cols": 8,
                    "activation_sram.capacity_bytes": 1 << 20, "reuse_policy": "scalesim"})
    work = layer_work(layer, cfg, BATCH, "train")
    g = work.gemms["backward_weight"]
    psums = work.activation_operand_bytes["backward_weight"]["partial_sums"]
    if dataflow == "os":
        expected = 0  # dW accumulates in the PE registers over the whole reduction
    else:
        expected = g.m * g.n * (math.ceil(g.k / 8) - 1)  # one per row fold but the last
    word = cfg.weight_bytes
    assert psums == (expected * word, expected * word, 0, 0)


# -- hops in the PE array -----------------------------------------------------------------------

@pytest.mark.parametrize("dataflow,moving", [("ws", ("input", "partial_sum")),
                                             ("os", ("input", "weight")),
                                             ("is", ("weight", "partial_sum"))])
def test_every_moving_operand_hops_once_per_mac(dataflow, moving):
    cfg = config(**{"pe.dataflow": dataflow})
    result = simulate(tiny_trace(), cfg, "train", baseline=False)
    r = result.records
    gemm_phases = r[r["phase"].isin(["forward", "backward_data", "backward_weight"])]
    for operand in ("input", "weight", "partial_sum"):
        hops = gemm_phases[f"pe_{operand}_hops_count"]
        want = gemm_phases["macs_count"] if operand in moving else 0 * hops
        assert (hops == want).all(), operand
    assert (r[r["phase"].isin(["update", "load"])][
        ["pe_input_hops_count", "pe_weight_hops_count", "pe_partial_sum_hops_count"]] == 0
    ).all().all()
    # a hop is a pipeline-register write; a weight entering the array also crosses it
    hops = r["pe_input_hops_count"] + r["pe_weight_hops_count"] + r["pe_partial_sum_hops_count"]
    staging = r["staging_accesses_count"] * cfg.staging_energy_pj_per_word
    assert np.allclose(r["pe_movement_energy_pj"],
                       hops * cfg.pe.register_energy_pj + staging + r["pe_weight_loads_count"]
                       * (cfg.pe.register_energy_pj + cfg.pe.array_hop_energy_pj))
    t = result.traffic
    array = t[t["level"] == "pe_array"].groupby("operand")[["reads", "writes"]].sum()
    assert int(array["reads"].sum()) == int(r["pe_weight_loads_count"].sum())
    assert int(array["writes"].sum()) == int(hops.sum())
    if "partial_sum" in moving:
        assert array.loc["partial_sums", "writes"] == int(r["pe_partial_sum_hops_count"].sum())


# -- optimizer state ----------------------------------------------------------------------------

@pytest.mark.parametrize("record,kind", [
    (None, "none"), ({"name": "sgd", "settings": {"momentum": 0.0}}, "sgd"),
    ({"name": "sgd", "settings": {"momentum": 0.9}}, "momentum"),
    ({"name": "sgd", "settings": {"momentum": 0.9, "nesterov": True}}, "nesterov"),
    ({"name": "adam", "settings": {}}, "adam"), ({"name": "AdamW", "settings": {}}, "adamw"),
    ("adam", "adam")])
def test_optimizer_kinds_and_their_state_words(record, kind):
    assert optimizer_kind(record) == kind
    assert optimizer_state_words(record) == {"none": 0, "sgd": 0, "momentum": 1,
                                             "nesterov": 1, "adam": 2, "adamw": 2}[kind]
    with pytest.raises(ValueError, match="lbfgs"):
        optimizer_kind({"name": "lbfgs"})


def _update(result, run):
    r = result.records
    return r[(r["run"] == run) & (r["phase"] == "update")]


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZER_STATE_WORDS))
def test_state_words_per_weight_dense_and_tracked(optimizer):
    trace = tiny_trace(iterations=1)
    # a weight SRAM of one word: the dense run's state all streams
    cfg = config(**{"weight_sram.capacity_bytes": 4})
    result = simulate(trace, cfg, "train", optimizer=optimizer)
    words = OPTIMIZER_STATE_WORDS[optimizer]
    assert result.settings["optimizer_state_words"] == words
    word = cfg.weight_bytes
    dense = _update(result, "dense")
    params = int(trace.layers["param_count"].sum())
    assert int(dense["optimizer_state_dram_bytes_read"].sum()) == params * words * word
    assert int(dense["optimizer_state_dram_bytes_written"].sum()) == params * words * word
    sparse = _update(result, "trace")
    tracked = int(trace.steps["tracked_count"].sum())
    # the tracked weights' state: what the SRAM's last bits hold, the rest from DRAM
    assert (int(sparse["optimizer_state_dram_bytes_read"].sum()) // word
            + int(sparse["optimizer_state_sram_reads_count"].sum())) == tracked * words
    t = result.traffic
    state = t[(t["operand"] == "optimizer_state") & (t["level"] == "dram")]
    assert set(state["phase"]) <= {"update"}
    assert int(state["bytes"].sum()) == int(
        (result.records["optimizer_state_dram_bytes_read"]
         + result.records["optimizer_state_dram_bytes_written"]).sum())


def test_state_is_reset_for_entering_weights_and_dropped_for_leaving_ones():
    trace = tiny_trace(iterations=1)
    steps = trace.steps.copy()
    steps["entered_count"] = np.minimum(7, steps["weight_count"] - steps["tracked_count"])
    steps["left_count"] = np.minimum(3, steps["tracked_count"])
    trace.steps = steps
    cfg = config(**{"weight_sram.capacity_bytes": 4})
    up = _update(simulate(trace, cfg, "train", baseline=False, optimizer="adam"), "trace")
    word = cfg.weight_bytes
    tracked = int(steps["tracked_count"].sum())
    after = tracked + int(steps["entered_count"].sum()) - int(steps["left_count"].sum())
    assert after != tracked
    read = (int(up["optimizer_state_dram_bytes_read"].sum()) // word
            + int(up["optimizer_state_sram_reads_count"].sum()))
    written = (int(up["optimizer_state_dram_bytes_written"].sum()) // word
               + int(up["optimizer_state_sram_writes_count"].sum()))
    assert (read, written) == (2 * tracked, 2 * after)


def test_state_competes_with_weights_for_the_sram_and_what_does_not_fit_streams():
    trace = tiny_trace(iterations=1, dense=True)
    params = int(trace.layers["param_count"].sum())
    word = 4
    # room for every weight and one of its two Adam words: weights first, then state
    cfg = config(**{"weight_sram.capacity_bytes": params * word * 2})
    r = simulate(trace, cfg, "train", optimizer="adam").records
    up = r[(r["run"] == "trace") & (r["phase"] == "update")]
    assert int(up["weight_dram_bytes_read"].sum()) == 0  # all weights pinned
    streamed = int(up["optimizer_state_dram_bytes_read"].sum()) // word
    pinned = int(up["optimizer_state_sram_reads_count"].sum())  # 32-bit banks: a word each
    assert streamed + pinned == 2 * params and streamed == params
    # without state the same run pins the same weights and moves no state
    plain = simulate(trace, cfg, "train", optimizer="sgd").records
    assert int(plain["optimizer_state_dram_bytes_read"].sum()) == 0
    assert int(plain["optimizer_state_sram_reads_count"].sum()) == 0


def test_state_width_is_configurable_and_inference_has_none():
    trace = tiny_trace(iterations=1)
    narrow = config(**{"weight_sram.capacity_bytes": 4, "update.optimizer_state_bits": 16})
    up = _update(simulate(trace, narrow, "train", optimizer="momentum"), "dense")
    params = int(trace.layers["param_count"].sum())
    assert int(up["optimizer_state_dram_bytes_read"].sum()) == params * 2
    inference = simulate(trace, narrow, "inference", optimizer="adam")
    assert inference.settings["optimizer_state_words"] == 0


def test_the_traces_recorded_optimizer_is_used_by_default():
    trace = tiny_trace(iterations=1)
    trace.manifest["optimizer"] = {"name": "sgd", "settings": {"momentum": 0.9}}
    result = simulate(trace, config(), "train", baseline=False)
    assert result.settings["optimizer"] == "momentum"
    assert result.settings["optimizer_state_words"] == 1
