"""The update ALU's work on optimizer state (issue 20): each optimizer's add- and
multiply-class operations per weight that carries state, charged in the update phase at the
technology's adder and multiplier energy, in a column of its own. Closed forms through
`simulate`."""

from __future__ import annotations

import numpy as np
import pytest
from trace_helpers import tiny_trace

from accelsim.config import load_accelerator_config
from accelsim.dropback.method_table import METHODS, OPTIMIZER_STATE_HOLDERS, method
from accelsim.sim.energy import ENERGY_COMPONENTS
from accelsim.sim.mapping.placement import OPTIMIZER_RULES
from accelsim.sim.simulation import simulate


def config(**overrides):
    return load_accelerator_config("default", {"tile_weights": 256, **overrides})


def _phase(result, run, phase):
    r = result.records
    return r[(r["run"] == run) & (r["phase"] == phase)]


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZER_RULES))
def test_state_operations_per_updated_weight_dense_and_tracked(optimizer):
    trace = tiny_trace(iterations=1)
    steps = trace.steps.copy()
    steps["entered_count"] = np.minimum(5, steps["weight_count"] - steps["tracked_count"])
    trace.steps = steps
    cfg = config()
    result = simulate(trace, cfg, "train", optimizer=optimizer)
    rule = OPTIMIZER_RULES[optimizer]
    stateful = int(rule.state_words > 0)
    params = int(trace.layers["param_count"].sum())
    # dense: every weight updated; the trace: its tracked weights and those entering
    updated = {"dense": params,
               "trace": int(steps["tracked_count"].sum() + steps["entered_count"].sum())}
    for run, weights in updated.items():
        up = _phase(result, run, "update")
        assert int(up["optimizer_add_ops_count"].sum()) == weights * rule.add_ops * stateful
        assert int(up["optimizer_mult_ops_count"].sum()) == weights * rule.mult_ops * stateful
        assert int(up["update_alu_weights_count"].sum()) == weights  # w <- w - lr*g, apart
        energy = (weights * stateful * (rule.add_ops * cfg.update.state_add_energy_pj
                                        + rule.mult_ops * cfg.update.state_mult_energy_pj))
        assert float(up["optimizer_energy_pj"].sum()) == pytest.approx(energy, rel=1e-12)
    # only the update computes state; the column is part of the total
    r = result.records
    assert float(r.loc[r["phase"] != "update", "optimizer_energy_pj"].abs().sum()) == 0
    assert np.allclose(r["energy_pj"], r[list(ENERGY_COMPONENTS)].sum(axis=1))


def test_rules_follow_the_algorithms_order():
    # more state, more work: plain SGD nothing; Nesterov adds a look-ahead to momentum; Adam
    # two moments, a square root and a divide; AdamW one decay multiply more
    r = OPTIMIZER_RULES
    assert r["sgd"] == r["none"] and (r["sgd"].add_ops, r["sgd"].mult_ops) == (0, 0)
    assert r["nesterov"].add_ops > r["momentum"].add_ops > 0
    assert r["adam"].mult_ops > r["nesterov"].mult_ops
    assert (r["adamw"].add_ops, r["adamw"].mult_ops) == (r["adam"].add_ops,
                                                         r["adam"].mult_ops + 1)


def test_energies_come_from_the_technology_and_can_be_given():
    cfg = config()
    mac_format = cfg.pe.number_format
    assert mac_format in cfg.update.sources["state_mult_energy_pj"]
    assert cfg.update.state_mult_energy_pj > cfg.update.state_add_energy_pj > 0
    given = config(**{"update.state_add_energy_pj": 2.0, "update.state_mult_energy_pj": 5.0})
    assert (given.update.state_add_energy_pj, given.update.state_mult_energy_pj) == (2.0, 5.0)
    assert given.update.sources["state_add_energy_pj"] == "user"
    trace = tiny_trace(iterations=1, dense=True)
    up = _phase(simulate(trace, given, "train", optimizer="adam", baseline=False),
                "trace", "update")
    params = int(trace.layers["param_count"].sum())
    assert float(up["optimizer_energy_pj"].sum()) == pytest.approx(params * (3 * 2.0 + 8 * 5.0))


def test_inference_and_plain_sgd_do_no_state_work():
    trace = tiny_trace(iterations=1)
    for mode, optimizer in (("inference", "adam"), ("train", "sgd")):
        r = simulate(trace, config(), mode, optimizer=optimizer).records
        assert int((r["optimizer_add_ops_count"] + r["optimizer_mult_ops_count"]).sum()) == 0
        assert float(r["optimizer_energy_pj"].sum()) == 0


# -- which weights carry state: each method's own rule (the method table) ----------------------

@pytest.mark.parametrize("name", [*METHODS, "dense"])
def test_each_methods_state_rule_is_what_the_simulator_charges(name):
    row = method(name)
    assert row.optimizer_state in OPTIMIZER_STATE_HOLDERS
    dense = row.optimizer_state == "all"
    trace = tiny_trace(iterations=1, dense=dense)
    trace.manifest["budget"]["untracked_values"] = row.untracked_values
    # a weight SRAM of one one-word bank: the state streams, an access is a word
    cfg = config(**{"weight_sram.capacity_bytes": 4, "weight_sram.banks": 1,
                    "weight_sram.bank_width_bits": 32})
    up = _phase(simulate(trace, cfg, "train", optimizer="adam", baseline=False), "trace",
                "update")
    holders = (int(trace.layers["param_count"].sum()) if dense
               else int(trace.steps["tracked_count"].sum()))
    word = cfg.weight_bytes
    read = (int(up["optimizer_state_dram_bytes_read"].sum()) // word
            + int(up["optimizer_state_sram_reads_count"].sum()))
    assert read == 2 * holders


@pytest.mark.parametrize("name", METHODS)
def test_each_method_keeps_state_only_where_its_rule_says(name):
    # train the method a few steps with Adam and look at torch's own state: nonzero only on
    # the weights the rule names (so charging the rest would overcount)
    torch = pytest.importorskip("torch")
    from method_helpers import run_steps, small_model

    from accelsim.dropback.init import layer_parameters
    from accelsim.dropback.methods import RigL, build_method

    model = small_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    if name == "rigl":  # drop and grow every 4 steps, so some weights enter and leave
        wrapped = RigL(model, optimizer, budget=60, total_steps=15, delta_t=4)
    else:  # gmp prunes at steps 1 and 9..15
        wrapped = build_method(name, model, optimizer, budget=60, total_steps=15)
    for _ in range(3):
        run_steps(wrapped, model, 5)
        masks = wrapped.tracked_masks()
        for layer in wrapped.layers:
            state = torch.cat([torch.stack([optimizer.state[p][key].reshape(-1)
                                            for key in ("exp_avg", "exp_avg_sq")]).abs()
                               for p in layer_parameters(layer)], dim=1).sum(0)
            held = state != 0
            if method(name).optimizer_state == "tracked":
                assert not bool((held & ~masks[layer.layer_id].to(held.device)).any())
            assert int(held.sum()) <= int(masks[layer.layer_id].sum())
