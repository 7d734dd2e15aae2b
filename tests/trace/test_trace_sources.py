"""Traces from every source: a training recorder, a checkpoint of every zoo model, synthetic."""

import json

import numpy as np
import pytest
import torch

from accelsim.dropback.checkpoint import save_checkpoint
from accelsim.dropback.init import budgeted_layers
from accelsim.dropback.optimizer import DropBack
from accelsim.models import MODEL_NAMES, build_model, default_input_shape
from accelsim.trace.format import load_trace, save_trace
from accelsim.trace.from_model import synthetic_model_trace, trace_from_checkpoint
from accelsim.trace.recorder import TraceRecorder
from accelsim.trace.torch_geometry import budgeted_param_count, layers_from_model

# small inputs keep the zoo cheap; geometry still comes from a real forward pass
SMALL_ARGS = {
    "lenet-300-100": {"in_features": 64},
    "lenet-5": {"input_size": 8},
    "vgg-s": {"input_size": 8},
    "resnet18": {"stem": "cifar", "input_size": 8, "num_classes": 10},
    "wrn-28-10": {"input_size": 8},
    "densenet-bc-100": {"input_size": 8},
}


def _one_step_checkpoint(name, path, budget_ratio=20):
    args = SMALL_ARGS[name]
    model = build_model(name, seed=0, **args)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    db = DropBack(model, opt, compression=budget_ratio, seed=3)
    x = torch.randn(2, *default_input_shape(name, **args),
                    generator=torch.Generator().manual_seed(0))
    loss = model(x).logsumexp(1).sum()
    loss.backward()
    db.step()
    save_checkpoint(path, model, db, model_name=name, model_args=args, seed=3)
    return model, db


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_checkpoint_trace_for_every_zoo_model(tmp_path, name):
    _model, db = _one_step_checkpoint(name, tmp_path / "c.sparse")
    trace = trace_from_checkpoint(tmp_path / "c.sparse", batch_size=4)
    trace = load_trace(save_trace(trace, tmp_path / "t"))
    assert trace.manifest["source"] == "checkpoint" and not trace.dense
    assert trace.param_count == db.param_count
    final = trace.snapshot(trace.iterations)
    for layer_id, mask in db.tracked_masks().items():
        assert np.array_equal(final.masks[layer_id], mask.numpy())
    assert final.tracked_count == db.budget


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_synthetic_trace_for_every_zoo_model(tmp_path, name):
    args = SMALL_ARGS[name]
    total = budgeted_param_count(build_model(name, **args))
    budget = total // 10
    trace = synthetic_model_trace(name, budget, seed=1, batch_size=2, **args)
    trace = load_trace(save_trace(trace, tmp_path / "t"))
    assert trace.manifest["synthetic"] and trace.manifest["synthetic_rule"]["layout"] == "uniform"
    assert trace.snapshot(0).tracked_count == budget
    assert trace.param_count == total


def test_layer_geometry_of_resnet18_imagenet():
    layers = layers_from_model(build_model("resnet18"), (3, 224, 224))
    assert int(layers["param_count"].sum()) == 11_689_512 - 9_600  # all but BatchNorm
    conv1 = layers.iloc[0]
    assert list(conv1["out_shape"]) == [64, 112, 112] and conv1["fwd_k"] == 3 * 7 * 7
    assert layers["macs_per_sample"].sum() == pytest.approx(1.81e9, rel=0.01)  # ~1.8 GMAC
    fc = layers.iloc[-1]
    assert fc["kind"] == "linear" and fc["exec_order"] == len(layers) - 1


def test_trace_and_optimizer_budget_the_same_layers():
    model = build_model("resnet18", **SMALL_ARGS["resnet18"])
    layers = layers_from_model(model, default_input_shape("resnet18", **SMALL_ARGS["resnet18"]))
    budgeted = budgeted_layers(model)
    assert layers["name"].tolist() == [layer.name for layer in budgeted]
    assert layers["param_count"].tolist() == [layer.param_count for layer in budgeted]
    assert budgeted_param_count(model) == sum(layer.param_count for layer in budgeted)


def test_tied_weights_refused_by_trace_and_optimizer():
    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encode = torch.nn.Linear(4, 4)
            self.decode = torch.nn.Linear(4, 4)
            self.decode.weight = self.encode.weight  # one tensor in two layers

        def forward(self, x):
            return self.decode(self.encode(x))

    model = Tied()
    for refuses in (lambda: budgeted_layers(model), lambda: budgeted_param_count(model),
                    lambda: layers_from_model(model, (4,)),
                    lambda: DropBack(model, torch.optim.SGD(model.parameters(), lr=0.1),
                                     budget=4, seed=0)):
        with pytest.raises(ValueError, match="tied weights"):
            refuses()


def test_recorder_snapshots_every_s_and_at_freeze(tmp_path):
    model = build_model("lenet-300-100", seed=0, in_features=16, num_classes=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    db = DropBack(model, opt, budget=500, seed=0, freeze_at_step=7)
    rec = TraceRecorder(model, db, model_name="lenet-300-100",
                        model_args={"in_features": 16, "num_classes": 4}, seed=0,
                        input_shape=(16,), batch_size=8, snapshot_every=4)
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        db.zero_grad()
        model(torch.randn(8, 16, generator=gen)).logsumexp(1).sum().backward()
        rec.record_step(db.step())
    trace = load_trace(rec.write(tmp_path / "t"))
    table = trace.snapshot_table.drop_duplicates("iteration").set_index("iteration")["reason"]
    assert table.to_dict() == {0: "first", 4: "periodic", 7: "frozen", 8: "periodic",
                               10: "final"}
    assert trace.manifest["frozen_at_iteration"] == 7
    assert trace.snapshot(0).tracked_count == 0
    churn = trace.steps.groupby("iteration")[["entered_count", "left_count"]].sum()
    assert (churn.loc[7:] == 0).all().all()  # frozen: nothing enters or leaves



def test_cli_trace_synthetic_and_checkpoint(tmp_path, cli):
    proc = cli("trace", "--model", "lenet-5", "--synthetic", "--budget", "10x",
                "--out", tmp_path / "s", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["synthetic"] and summary["budget_tracked_count"] == round(61706 / 10)
    _one_step_checkpoint("lenet-300-100", tmp_path / "c.sparse")
    proc = cli("trace", "--checkpoint", tmp_path / "c.sparse", "--out", tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert load_trace(tmp_path / "c").manifest["source"] == "checkpoint"


@pytest.mark.parametrize("args, needle", [
    (["--model", "lenet-5"], "needs --synthetic"),
    (["--model", "lenet-5", "--synthetic"], "needs --budget"),
    (["--checkpoint", "missing.sparse"], "missing.sparse"),
])
def test_cli_trace_bad_input(tmp_path, cli, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    proc = cli("trace", *args, "--out", tmp_path / "x")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
