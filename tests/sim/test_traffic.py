"""The traffic breakdown by (run, layer, phase, operand, level) (`accelsim.sim.results`): it
conserves the records, splits activation-side traffic by the mapping's operands, and is saved
and loaded with the result."""

from __future__ import annotations

import pytest
from trace_helpers import tiny_trace

from accelsim.config import load_accelerator_config
from accelsim.sim.energy import TRAFFIC_ENERGY_COLUMNS
from accelsim.sim.results import (
    COUNT_COLUMNS,
    LEVELS,
    OPERANDS,
    TRAFFIC_COLUMNS,
    SimulationResult,
)
from accelsim.sim.simulation import simulate


def config(**overrides):
    base = {"tile_weights": 256}
    base.update(overrides)
    return load_accelerator_config("default", base)


CASES = [
    {},
    {"pe.dataflow": "os"},
    {"pe.dataflow": "is", "reuse_policy": "scalesim"},
    {"weight_sram.capacity_bytes": 2048, "activation_sram.capacity_bytes": 1024},
    {"activation_sram.capacity_bytes": 256, "reuse_policy": "scalesim"},
]


@pytest.mark.parametrize("mode", ["train", "inference"])
@pytest.mark.parametrize("overrides", CASES)
def test_breakdown_conserves_dram_bytes_sram_accesses_and_energy(mode, overrides):
    result = simulate(tiny_trace(), config(**overrides), mode)
    t, r = result.traffic, result.records
    assert list(t.columns) == list(TRAFFIC_COLUMNS)
    assert set(t["operand"]) <= set(OPERANDS) and set(t["level"]) <= set(LEVELS)
    dram = t[t["level"] == "dram"]
    assert int(dram["bytes"].sum()) == int((r["dram_bytes_read"] + r["dram_bytes_written"]).sum())
    assert int(dram["reads"].sum()) == int(r["dram_bytes_read"].sum())
    weights = dram[dram["operand"] == "weights"]
    assert int(weights["bytes"].sum()) == int(
        (r["weight_dram_bytes_read"] + r["weight_dram_bytes_written"]).sum())
    act = t[t["level"] == "activation_sram"]
    assert int(act["reads"].sum()) == int(r["activation_sram_reads_count"].sum())
    assert int(act["writes"].sum()) == int(r["activation_sram_writes_count"].sum())
    prng = t[t["level"] == "prng"]
    assert int(prng["reads"].sum()) == int(r["prng_values_count"].sum())
    want = float(r[list(TRAFFIC_ENERGY_COLUMNS)].to_numpy().sum())
    assert t["energy_pj"].sum() == pytest.approx(want, rel=1e-9)
    # per record too
    per = t.groupby(["run", "layer_id", "phase"])["energy_pj"].sum()
    for rec in r.itertuples(index=False):
        want = sum(getattr(rec, c) for c in TRAFFIC_ENERGY_COLUMNS)
        got = per.get((rec.run, rec.layer_id, rec.phase), 0.0)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-6)
    assert (t[["reads", "writes", "bytes"]] >= 0).all().all()
    # a phase kept on chip under a fixed schedule never counts negative buffer writes
    assert (r[list(COUNT_COLUMNS)] >= 0).all().all()


def test_training_moves_gradients_and_partial_sums_and_inference_does_not_move_gradients():
    small = {"activation_sram.capacity_bytes": 256, "reuse_policy": "scalesim"}
    train = simulate(tiny_trace(), config(**small), "train").traffic
    assert {"weights", "activations", "gradients", "partial_sums"} <= set(train["operand"])
    infer = simulate(tiny_trace(), config(**small), "inference").traffic
    assert "gradients" not in set(infer["operand"])
    # the trace's weights come partly from the PRNG; the dense baseline's never do
    assert (train[(train["run"] == "dense")]["level"] != "prng").all()
    assert (train[(train["run"] == "trace")]["level"] == "prng").any()


@pytest.mark.parametrize(("level", "column", "message"), [
    ("dram", "bytes", "DRAM bytes differ"),
    ("weight_sram", "reads", "weight_sram accesses differ"),
    ("activation_sram", "writes", "activation_sram accesses differ"),
])
def test_the_check_finds_one_record_off_by_one_at_each_level(level, column, message):
    """`check` compares the breakdown with the records key by key: one unit moved from one
    record's row to another's keeps every total, and is still found."""
    result = simulate(tiny_trace(), config(), "train")
    result.check()
    t = result.traffic
    rows = t.index[(t["level"] == level) & (t[column] > 0)]
    keys = t.loc[rows, ["run", "layer_id", "phase"]].drop_duplicates()
    assert len(keys) >= 2
    first = rows[(t.loc[rows, ["run", "layer_id", "phase"]] == keys.iloc[0]).all(axis=1)][0]
    second = rows[(t.loc[rows, ["run", "layer_id", "phase"]] == keys.iloc[1]).all(axis=1)][0]
    t.loc[first, column] -= 1
    t.loc[second, column] += 1
    with pytest.raises(AssertionError, match=message):
        result.check()


def test_breakdown_is_saved_and_loaded_with_the_result(tmp_path):
    result = simulate(tiny_trace(), config(), "train")
    result.save(tmp_path / "r")
    back = SimulationResult.load(tmp_path / "r")
    assert back.traffic.equals(result.traffic)
    back.check()
    totals = back.traffic_totals(("run", "operand"))
    assert totals.loc[("trace", "weights"), "bytes"] > 0


def test_same_inputs_same_breakdown():
    a = simulate(tiny_trace(), config(), "train").traffic
    b = simulate(tiny_trace(), config(), "train").traffic
    assert a.equals(b)


@pytest.mark.parametrize("overrides", [{}, {"pe.dataflow": "os", "reuse_policy": "scalesim"}])
def test_the_mapper_choice_is_kept_per_run_layer_and_phase(tmp_path, overrides):
    from accelsim.sim.mapping.gemm import phase_gemm
    from accelsim.sim.mapping.mapper import map_gemm

    trace = tiny_trace()
    cfg = config(**overrides)
    result = simulate(trace, cfg, "train")
    maps = result.mappings
    layers = trace.layers.to_dict("records")
    # dense and DropBack, three GEMM phases each, but the input layer has no backward_data
    assert len(maps) == 2 * (len(layers) * 3 - 1)
    first = min(layers, key=lambda x: x["exec_order"])["layer_id"]
    assert not ((maps["layer_id"] == first) & (maps["phase"] == "backward_data")).any()
    assert set(maps["policy"]) == {cfg.reuse_policy} and set(maps["dataflow"]) == {
        cfg.pe.dataflow}
    # each row is the mapping of that phase's GEMM on the activation and weight buffers
    row = maps[(maps["run"] == "trace") & (maps["phase"] == "forward")].iloc[0]
    layer = next(x for x in layers if x["layer_id"] == row["layer_id"])
    word = cfg.weight_bytes
    expected = map_gemm(phase_gemm(layer, "forward", trace.batch_size), cfg.pe.rows,
                        cfg.pe.cols, cfg.pe.dataflow, cfg.reuse_policy,
                        a_words=cfg.activation_sram.capacity_bytes // word,
                        b_words=cfg.weight_sram.capacity_bytes // word,
                        objective=cfg.mapper_objective,
                        sram_pj_per_word=cfg.activation_sram.read_energy_pj * 8 * word
                        / cfg.activation_sram.bank_width_bits,
                        dram_pj_per_word=cfg.dram.read_energy_pj_per_bit * 8 * word)
    assert (row["loop_order"], row["tile_m"], row["tile_n"], row["tile_k"],
            row["gemm_dram_words"]) == (expected.loop_order, expected.tile_m, expected.tile_n,
                                        expected.tile_k, expected.dram_words)
    result.save(tmp_path / "r")
    back = SimulationResult.load(tmp_path / "r")
    assert back.mappings.equals(maps)


def test_a_damaged_mapping_table_is_one_line(tmp_path, capsys):
    from accelsim.cli import main

    simulate(tiny_trace(), config(), "train").save(tmp_path / "r")
    (tmp_path / "r" / "mappings.csv").write_text("run,layer\n1,2\n")
    assert main(["report", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mappings.csv" in err[0] and "expected the columns" in err[0]
