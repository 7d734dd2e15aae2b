"""The vector unit's closed-form counts on small layers, against tensors torch computes for the
same layers (element counts, window sizes, argmax ranges), and its config section."""

import itertools
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from accelsim.config.accelerator import config_from_dict
from accelsim.config.loader import load_accelerator_config as load_config
from accelsim.errors import ConfigError
from accelsim.sim.parts.vector import vector_phases, vector_work
from accelsim.trace.torch_geometry import layer_table_from_model

BATCH, W = 3, 32


class Small(nn.Module):
    """conv, bn, relu, max pool, conv, bn, add (residual), relu, avg pool, flatten, fc."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(4)
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = F.relu(self.bn2(self.conv2(x)) + x)
        return self.fc(self.avg(x).flatten(1))


@pytest.fixture(scope="module")
def small():
    model = Small()
    table = layer_table_from_model(model, (2, 7, 7))
    rows = {r["name"]: r for r in table.to_dict("records")}
    # the tensors each layer sees, for a batch, from torch itself
    x = torch.randn(BATCH, 2, 7, 7)
    tensors = {}
    with torch.no_grad():
        y1 = model.bn1(model.conv1(x))
        tensors["bn1"] = (y1, y1)
        r1 = F.relu(y1)
        tensors["relu"] = (y1, r1)
        p, idx = F.max_pool2d(r1, 3, 2, 1, return_indices=True)
        tensors["pool"] = (r1, p, idx)
        s = model.bn2(model.conv2(p)) + p
        tensors["add"] = (p, s)
        logits = model(x)
        tensors["loss"] = (logits,)
    return rows, tensors


def work(rows, name, phase, training=True):
    return vector_work(rows[name], phase, batch_size=BATCH, word_bits=W, training=training)


def test_relu_stashes_one_mask_bit_per_element(small):
    rows, tensors = small
    x, y = tensors["relu"]
    fwd, bwd = work(rows, "relu", "forward"), work(rows, "relu", "backward_data")
    assert fwd.activation_read_words == x.numel() and fwd.activation_write_words == y.numel()
    assert fwd.stash_write_bits == x.numel() == bwd.stash_read_bits  # one bit, not a word
    assert bwd.activation_read_words == y.numel() and bwd.activation_write_words == x.numel()
    assert fwd.add_ops == x.numel() and fwd.mult_ops == 0
    assert work(rows, "relu", "forward", training=False).stash_write_bits == 0


def test_max_pool_stashes_its_argmax(small):
    rows, tensors = small
    x, y, idx = tensors["pool"]
    window = 3 * 3
    fwd, bwd = work(rows, "pool", "forward"), work(rows, "pool", "backward_data")
    assert fwd.activation_read_words == x.numel() and fwd.activation_write_words == y.numel()
    assert fwd.add_ops == y.numel() * (window - 1)  # k - 1 comparisons per output
    # one index per output (torch keeps one too), into the window: enough bits for k positions
    assert fwd.stash_write_bits == idx.numel() * math.ceil(math.log2(window))
    assert bwd.stash_read_bits == fwd.stash_write_bits
    assert bwd.activation_read_words == y.numel() and bwd.activation_write_words == x.numel()


def test_avg_pool_stashes_nothing(small):
    rows, _ = small
    row = rows["avg"]
    e, e_out = BATCH * row["in_activation_count"], BATCH * row["out_activation_count"]
    fwd = work(rows, "avg", "forward")
    assert (fwd.activation_read_words, fwd.activation_write_words) == (e, e_out)
    assert fwd.stash_write_bits == 0
    assert fwd.add_ops + fwd.mult_ops == e_out * (math.prod(row["in_shape"][1:]) - 1) + e_out


def test_batchnorm_reads_writes_stash_and_parameters(small):
    rows, tensors = small
    x, y = tensors["bn1"]
    channels = x.shape[1]
    fwd = work(rows, "bn1", "forward")
    # two passes over x (statistics, then normalisation), one write of y
    assert fwd.activation_read_words == 2 * x.numel()
    assert fwd.activation_write_words == y.numel()
    # backward needs x and the batch mean and 1/sigma per channel
    assert fwd.stash_write_bits == (x.numel() + 2 * channels) * W
    # gamma, beta and the running mean and variance read; the running statistics written
    bn = Small().bn1
    params = sum(p.numel() for p in bn.parameters())
    stats = bn.running_mean.numel() + bn.running_var.numel()
    assert fwd.parameter_read_words == params + stats and fwd.parameter_write_words == stats
    bwd = work(rows, "bn1", "backward_data")
    assert bwd.activation_write_words == x.numel()
    assert bwd.stash_read_bits == 2 * x.numel() * W + 2 * channels * W
    assert bwd.parameter_write_words == params  # d gamma, d beta
    update = work(rows, "bn1", "update")
    assert (update.parameter_read_words, update.parameter_write_words) == (2 * params, params)
    assert update.activation_read_words == update.activation_write_words == 0
    infer = work(rows, "bn1", "forward", training=False)
    assert infer.activation_read_words == x.numel() and infer.stash_write_bits == 0
    assert (infer.parameter_read_words, infer.parameter_write_words) == (params + stats, 0)


def test_residual_add_reads_both_inputs(small):
    rows, tensors = small
    x, y = tensors["add"]
    name = next(n for n in rows if rows[n]["kind"] == "add")
    for phase in ("forward", "backward_data"):
        w = work(rows, name, phase)
        assert w.activation_read_words == 2 * x.numel()
        assert w.activation_write_words == y.numel() and w.add_ops == y.numel()
        assert w.stash_write_bits == w.stash_read_bits == 0


def test_loss_softmax_cross_entropy(small):
    rows, tensors = small
    (logits,) = tensors["loss"]
    fwd, bwd = work(rows, "loss", "forward"), work(rows, "loss", "backward_data")
    assert fwd.activation_read_words == logits.numel() + BATCH  # logits and labels
    assert fwd.activation_write_words == BATCH  # one loss value per sample
    assert fwd.stash_write_bits == (logits.numel() + BATCH) * W  # softmax and labels
    assert bwd.stash_read_bits == fwd.stash_write_bits
    assert bwd.activation_write_words == logits.numel()
    assert vector_phases("loss", training=False) == ()


def test_flatten_moves_nothing(small):
    rows, _ = small
    name = next(n for n in rows if rows[n]["kind"] == "flatten")
    w = work(rows, name, "forward")
    assert (w.ops, w.activation_read_words, w.activation_write_words) == (0, 0, 0)
    assert w.cycles(8, 4) == 0


def test_phases_and_cycles(small):
    rows, _ = small
    assert vector_phases("batchnorm", True) == ("forward", "backward_data", "update")
    assert vector_phases("relu", True) == ("forward", "backward_data")
    assert vector_phases("relu", False) == ("forward",)
    with pytest.raises(ValueError, match="no update phase"):
        work(rows, "relu", "update")
    w = work(rows, "bn1", "forward")
    for lanes in (1, 7, 32):
        assert w.cycles(lanes, 4) == math.ceil(w.ops / lanes) + 4
    assert w.energy_pj(0.9, 3.7) == pytest.approx(w.add_ops * 0.9 + w.mult_ops * 3.7)


def test_config_vector_section_defaults_sources_and_errors():
    config = load_config("default")
    vector = config.vector
    assert vector.add_energy_pj == 0.9 and vector.mult_energy_pj == 3.7
    assert "Horowitz" in vector.sources["add_energy_pj"]
    assert set(vector.sources) >= {"lanes", "latency_cycles", "add_energy_pj", "mult_energy_pj"}
    spec = dict(config.spec)
    spec["vector"] = {"lanes": 8, "sources": {"lanes": "a test"}}
    changed = config_from_dict(spec)
    assert changed.vector.lanes == 8 and changed.vector.sources["lanes"] == "a test"
    assert changed.vector.add_energy_pj == 0.9
    spec["weight_bits"] = 16
    spec["vector"] = {}
    # fp16 at the same node: Horowitz's fp16 multiply (1.1 pJ at 45 nm)
    assert config_from_dict(spec).vector.mult_energy_pj == pytest.approx(1.1)
    spec["vector"] = {"lanes": 0}
    with pytest.raises(ConfigError, match=r"vector\.lanes") as err:
        config_from_dict(spec, "x.yaml")
    assert "\n" not in str(err.value)


# -- in the simulation ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_trace():
    """A synthetic trace of the small model above: every vector kind, a budget of a third."""
    from accelsim.trace.synthetic import synthetic_trace

    table = layer_table_from_model(Small(), (2, 7, 7))
    gemm = table[table["kind"].isin(("conv2d", "linear"))]
    return synthetic_trace(table, int(gemm["param_count"].sum()) // 3, 0, batch_size=BATCH)


def _vector_rows(records):
    from accelsim.sim.results import vector_records

    return records[vector_records(records)]


def test_simulate_charges_every_vector_layer_and_phase(small_trace):
    from accelsim.sim.simulation import simulate

    config = load_config("default")
    result = simulate(small_trace, config, "train")  # checks conservation itself
    table = small_trace.layer_table.to_dict("records")
    expected = {(r["layer_id"], phase): vector_work(r, phase, batch_size=BATCH, word_bits=32,
                                                      training=True)
                for r in table if r["kind"] not in ("conv2d", "linear", "flatten")
                for phase in vector_phases(r["kind"], True)}
    for run in ("trace", "dense"):
        got = _vector_rows(result.run(run)).set_index(["layer_id", "phase"])
        assert set(got.index) == set(expected)
        for key, w in expected.items():
            row = got.loc[key]
            assert (row["vector_add_ops_count"], row["vector_mult_ops_count"]) == \
                (w.add_ops, w.mult_ops)
            assert row["vector_energy_pj"] == pytest.approx(
                w.add_ops * config.vector.add_energy_pj + w.mult_ops * config.vector.mult_energy_pj)
            assert row["compute_cycles"] == w.cycles(config.vector.lanes,
                                                     config.vector.latency_cycles)
            assert row["macs_count"] == row["weight_accesses_count"] == 0
    # the GEMM records carry no vector work
    gemm = result.records[~result.records["layer_id"].isin([k[0] for k in expected])]
    assert (gemm["vector_energy_pj"] == 0).all()
    # BatchNorm's state moves in both runs alike (it is outside the budget)
    state = result.traffic[result.traffic["operand"] == "batchnorm_state"]
    per_run = state.groupby("run")["bytes"].sum()
    bn_bytes = sum((w.parameter_read_words + w.parameter_write_words) * 4
                   for (i, _), w in expected.items())
    assert per_run["trace"] == per_run["dense"] == bn_bytes > 0


def test_vector_traffic_goes_on_chip_when_it_fits_and_to_dram_when_not(small_trace):
    from accelsim.config.loader import with_overrides
    from accelsim.sim.simulation import simulate

    table = {r["layer_id"]: r for r in small_trace.layer_table.to_dict("records")}
    for capacity in (2 * 1024 * 1024, 512):
        config = with_overrides(load_config("default"),
                                {"activation_sram.capacity_bytes": capacity})
        result = simulate(small_trace, config, "train", baseline=False)
        vector = _vector_rows(result.records)
        works = {(i, p): vector_work(table[i], p, batch_size=BATCH, word_bits=32, training=True)
                 for i, p in zip(vector["layer_id"], vector["phase"])}
        stash_bytes = sum(-(-w.stash_write_bits // 8) for w in works.values())
        t = result.traffic[result.traffic["layer_id"].isin(set(vector["layer_id"]))]
        for (layer_id, phase), w in works.items():
            row = table[layer_id]
            working = (row["input_count"] * row["in_activation_count"]
                       + row["out_activation_count"]) * BATCH * 4
            mine = t[(t["layer_id"] == layer_id) & (t["phase"] == phase)]
            flow = mine[mine["operand"].isin(("activations", "gradients"))]
            stash = mine[mine["operand"] == "stash"]
            # SRAM counts bank-width (8-byte) accesses; DRAM counts bytes
            for part, level, reads, writes in (
                    (flow, "activation_sram" if working <= capacity else "dram",
                     w.activation_read_words * 4, w.activation_write_words * 4),
                    (stash, "activation_sram" if stash_bytes <= capacity else "dram",
                     -(-w.stash_read_bits // 8), -(-w.stash_write_bits // 8))):
                assert set(part["level"]) <= {level}
                if level == "dram":
                    assert (part["reads"].sum(), part["writes"].sum()) == (reads, writes)
                else:  # whole 8-byte accesses: each of at most 16 tiles rounds up, and the
                    # traffic table shares a record's accesses out over its operands
                    for got, want in ((part["reads"].sum(), reads),
                                      (part["writes"].sum(), writes)):
                        assert want // 8 - 1 <= got <= -(-want // 8) + 16
        if capacity < 1024:
            assert (t["level"] == "dram").any() and stash_bytes > capacity


def test_inference_runs_forward_only_and_stashes_nothing(small_trace):
    from accelsim.sim.simulation import simulate

    result = simulate(small_trace, "default", "inference", baseline=False)
    vector = _vector_rows(result.records)
    assert set(vector["phase"]) == {"forward"}
    names = set(vector["layer_name"])
    assert "loss" not in names and "bn1" in names
    assert not (result.traffic["operand"] == "stash").any()


def test_gemm_traffic_is_unchanged_by_the_vector_layers(small_trace):
    """The GEMM layers' counts are the same with and without the vector layers in the table."""
    from accelsim.sim.simulation import simulate
    from accelsim.trace.format import Trace

    gemm_only = Trace(small_trace.manifest, small_trace.layers, small_trace.steps,
                      small_trace._snapshot_rows)
    with_vector = simulate(small_trace, "default", "train")
    without = simulate(gemm_only, "default", "train")
    columns = ["macs_count", "dram_bytes_read", "dram_bytes_written",
               "weight_sram_reads_count", "activation_sram_reads_count",
               "activation_sram_writes_count", "prng_values_count"]
    keys = ["run", "layer_id", "phase"]
    a = with_vector.records[with_vector.records["layer_id"] < len(small_trace.layers)]
    assert a.set_index(keys)[columns].sort_index().equals(
        without.records.set_index(keys)[columns].sort_index())
    assert len(without.records) < len(with_vector.records)


def test_report_shows_gemm_and_non_gemm_shares(small_trace, tmp_path):
    from accelsim.analysis.report import gemm_shares_table, report
    from accelsim.sim.simulation import simulate

    result = simulate(small_trace, "default", "train")
    shares = gemm_shares_table(result.records)
    assert list(shares["run"]) == ["dense", "DropBack"]
    for gemm, other in (("cycles GEMM", "cycles non-GEMM"), ("energy GEMM", "energy non-GEMM")):
        total = shares[gemm].str.rstrip(" %").astype(float) + \
            shares[other].str.rstrip(" %").astype(float)
        assert ((total - 100).abs() < 0.11).all()
        assert (shares[other].str.rstrip(" %").astype(float) > 0).all()
    folder = result.save(tmp_path / "sim")
    text = Path(report(folder)).read_text()
    assert "### GEMM and non-GEMM layers" in text and "stash (for backward)" in text


def test_gemm_share_figure_and_its_shares(small_trace, tmp_path):
    """The shares drawn are the vector records' fraction of each measure, per run, and the
    simulation's figures and report include the figure."""
    from accelsim.analysis.figures import gemm_shares
    from accelsim.analysis.report import report
    from accelsim.sim.results import vector_records
    from accelsim.sim.simulation import simulate

    result = simulate(small_trace, "default", "train")
    shares = gemm_shares(result.records).set_index(["run", "measure"])["non_gemm_share"]
    records, vector = result.records, vector_records(result.records)
    for run in ("dense", "trace"):
        mine = records["run"] == run
        expected = records.loc[mine & vector, "energy_pj"].sum() / records.loc[mine,
                                                                                "energy_pj"].sum()
        assert shares[(run, "energy")] == pytest.approx(expected)
        assert 0 < shares[(run, "cycles")] < 1
    folder = result.save(tmp_path / "sim")
    # the report draws the simulation's figures (figures_for) and links each
    text = Path(report(folder)).read_text()
    assert (folder / "figures" / "gemm_shares.png").is_file()
    assert "figures/gemm_shares.png" in text


# -- fusing a ReLU (and an inference BatchNorm) into the output write before it ---------------

def test_fusion_picks_each_relu_after_its_producer_and_inference_batchnorms(small_trace):
    from accelsim.sim.parts.vector import fused_into_output_write

    rows = small_trace.layer_table.to_dict("records")
    ordered = sorted(rows, key=lambda r: r["exec_order"])
    before = {b["layer_id"]: a for a, b in itertools.pairwise(ordered)}
    relus = {r["layer_id"] for r in rows if r["kind"] == "relu"}
    batchnorms = {r["layer_id"] for r in rows if r["kind"] == "batchnorm"}
    assert len(relus) == 2 and len(batchnorms) == 2
    # Small: conv, bn, relu, ... bn, add, relu -- each ReLU follows a BatchNorm or an add,
    # each BatchNorm a convolution
    assert {before[i]["kind"] for i in relus} == {"batchnorm", "add"}
    assert {before[i]["kind"] for i in batchnorms} == {"conv2d"}
    assert fused_into_output_write(rows, training=True) == relus
    assert fused_into_output_write(rows, training=False) == relus | batchnorms


@pytest.mark.parametrize("mode", ["train", "inference"])
def test_fused_layers_move_no_forward_activations_and_nothing_else_changes(small_trace, mode):
    from accelsim.config.loader import with_overrides
    from accelsim.sim.parts.vector import fused_into_output_write
    from accelsim.sim.simulation import simulate

    rows = {r["layer_id"]: r for r in small_trace.layer_table.to_dict("records")}
    fused = fused_into_output_write(list(rows.values()), training=mode == "train")
    base = with_overrides(load_config("default"), {"activation_sram.capacity_bytes": 512})
    on = with_overrides(base, {"vector.fuse_into_output_write": True})
    assert not base.vector.fuse_into_output_write and on.vector.fuse_into_output_write
    plain = simulate(small_trace, base, mode, baseline=False).records
    joined = simulate(small_trace, on, mode, baseline=False).records
    key = ["layer_id", "phase"]
    plain, joined = plain.set_index(key).sort_index(), joined.set_index(key).sort_index()
    assert list(plain.index) == list(joined.index)
    moved = ["activation_dram_bytes_read", "activation_dram_bytes_written"]
    for (layer_id, phase), row in joined.iterrows():
        was = plain.loc[(layer_id, phase)]
        if layer_id in fused and phase == "forward":
            w = vector_work(rows[layer_id], phase, batch_size=BATCH, word_bits=W,
                            training=mode == "train")
            # the DRAM-bound unfused layer read its input and wrote its output ...
            stash = -(-w.stash_write_bits // 8)
            params = (w.parameter_read_words * 4, w.parameter_write_words * 4)
            assert (was[moved[0]], was[moved[1]]) == (
                w.activation_read_words * 4 + params[0],
                w.activation_write_words * 4 + stash + params[1])
            # ... fused, only a ReLU's mask (the stash) and BatchNorm's parameters move; its
            # ops stay
            assert (row[moved[0]], row[moved[1]]) == (params[0], stash + params[1])
            assert row["vector_add_ops_count"] == was["vector_add_ops_count"]
            assert row["compute_cycles"] == 0 < was["compute_cycles"]
        else:  # every other layer and phase alike, bit for bit
            assert row["activation_dram_bytes_read"] == was["activation_dram_bytes_read"]
            assert row["activation_dram_bytes_written"] == was["activation_dram_bytes_written"]
            # except what the DRAM's open rows decide: a fused layer's missing requests leave
            # other rows open for the requests after it (activates, so DRAM dynamic energy)
            assert row["energy_pj"] - row["dram_dynamic_energy_pj"] == pytest.approx(
                was["energy_pj"] - was["dram_dynamic_energy_pj"], rel=1e-12)
