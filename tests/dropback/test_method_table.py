"""The method table is the one list of methods: every reader agrees with it."""

import argparse

import pytest

from accelsim.dropback import method_table
from accelsim.dropback.method_table import METHOD_TABLE, METHODS, OWN_SCHEDULE_METHODS


def test_the_factory_builds_every_method_of_the_table_with_its_untracked_values():
    torch = pytest.importorskip("torch")
    from accelsim.dropback.methods import METHODS as FACTORY_METHODS
    from accelsim.dropback.methods import build_method

    assert FACTORY_METHODS == METHODS
    for row in METHOD_TABLE:
        model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
        sgd = torch.optim.SGD(model.parameters(), lr=0.1)
        built = build_method(row.name, model, sgd, budget=10, total_steps=5)
        assert built.untracked_values == row.untracked_values, row.name


def test_defaults_study_cli_and_report_read_the_table():
    from accelsim.app import study
    from accelsim.cli import _parser as build_parser
    from accelsim.train.defaults import OWN_SCHEDULE_METHODS as DEFAULTS_OWN

    assert DEFAULTS_OWN == OWN_SCHEDULE_METHODS == ("gmp", "rigl")
    assert study.STUDY_METHODS == METHODS
    assert set(study.DEFAULT_METHODS) <= set(METHODS)
    parser = build_parser()
    train_parser = next(a for a in parser._subparsers._group_actions
                        if isinstance(a, argparse._SubParsersAction)).choices["train"]
    method_flag = next(a for a in train_parser._actions if "--method" in a.option_strings)
    assert tuple(method_flag.choices) == METHODS
    assert all(name in method_flag.help for name in METHODS)
    styles = method_table.styles()
    assert set(styles) == {"dense", *METHODS}


def test_the_report_labels_come_from_the_study_record():
    from accelsim.analysis.study import _label

    meta = {"method_styles": method_table.styles()}
    for row in METHOD_TABLE:
        assert _label(row.name, meta) == row.label
    assert _label("unknown-method", meta) == "unknown-method"


def test_an_unknown_name_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="expected one of"):
        method_table.method("magic")


def test_one_budget_rule_for_the_optimizer_and_the_trace_command(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    import json

    from accelsim.cli import main
    from accelsim.dropback.budget import tracked_count
    from accelsim.dropback.optimizer import DropBack
    from accelsim.models import build_model

    model = build_model("lenet-300-100")
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    dropback = DropBack(model, sgd, compression=25)
    assert dropback.budget == tracked_count(dropback.param_count, 25) == 10664
    assert main(["trace", "--synthetic", "--model", "lenet-300-100", "--budget", "25x",
                 "--out", str(tmp_path / "t"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["budget_tracked_count"] == dropback.budget
    with pytest.raises(ValueError, match=">= 1"):
        tracked_count(100, 0.5)


def test_fixed_budget_method_and_the_schedule_cost_in_summary_and_trace(tmp_path):
    pytest.importorskip("torch")
    from accelsim.trace.format import load_trace
    from accelsim.train.loop import TrainConfig, train

    fixed = TrainConfig(dataset="mnist", compression=25, method="dropback-fixed").resolved()
    assert fixed.warmup_epochs == fixed.budget_anneal_epochs == 0
    base = TrainConfig(model="lenet-300-100", dataset="digits", budget=2000, epochs=2,
                       batch_size=64, trace_every=1000)
    a = train(base, tmp_path / "fixed", method="dropback-fixed", quiet=True).summary
    assert a["peak_tracked_count"] == a["tracked_count"] == 2000
    # each step is charged the set it started from: none before the first selection
    total = load_trace(tmp_path / "fixed" / "trace").iterations
    assert a["mean_tracked_count"] == pytest.approx(2000 * (total - 1) / total)
    assert a["warmup_steps"] == 0
    b = train(base, tmp_path / "warm", warmup_epochs=1, quiet=True).summary
    n, steps = b["param_count"], b["warmup_steps"]
    assert b["peak_tracked_count"] == n and steps > 0
    # the warm-up steps and the first selection's step dense, the rest at the budget
    assert b["mean_tracked_count"] == pytest.approx(((steps + 1) * n + (total - steps - 1) * 2000)
                                                    / total)
    assert b["mean_compression"] == pytest.approx(n / b["mean_tracked_count"])
    # the paper's criterion, per epoch: weight diffusion ||w - w0|| in total and per layer
    import math

    import pandas as pd

    history = pd.read_csv(tmp_path / "fixed" / "history.csv")
    layers = [c for c in history.columns if c.startswith("weight_diffusion_")]
    assert len(layers) == 3 and (history[layers] > 0).all().all()
    last = history.iloc[-1]
    assert last["weight_diffusion"] == pytest.approx(math.sqrt(sum(last[c] ** 2 for c in layers)))
    trace = load_trace(tmp_path / "warm" / "trace")
    assert trace.budget_tracked_count == n and trace.target_tracked_count == 2000
    assert trace.mean_tracked_count == pytest.approx(b["mean_tracked_count"])
    assert trace.identity["mean_tracked_count"] == pytest.approx(b["mean_tracked_count"])
