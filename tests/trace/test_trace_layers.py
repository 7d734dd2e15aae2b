"""The layer table holds every layer that moves data (format version 2): measured from the
torch model's forward, in the synthetic traces of zoo models, checked on reading, and version-1
traces still read."""

import hashlib
import io
import json
import operator
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch import fx, nn

from accelsim.cli import main
from accelsim.errors import TraceError
from accelsim.models import build_model, default_input_shape
from accelsim.trace.format import (
    FORMAT_VERSION,
    LAYERS_SCHEMA,
    load_trace,
    save_trace,
)
from accelsim.trace.from_model import synthetic_model_trace
from accelsim.trace.geometry import GEMM_KINDS, VECTOR_KINDS
from accelsim.trace.torch_geometry import layer_table_from_model, layers_from_model

SAMPLE = Path(__file__).resolve().parents[2] / "traces" / "sample-lenet-300-100"


def graph_counts(model: nn.Module) -> dict[str, int]:
    """Layer calls by kind, counted on the model's torch.fx graph (independent of the hooks)."""
    graph = fx.symbolic_trace(model).graph
    modules = dict(model.named_modules())
    counts = {"batchnorm": 0, "relu": 0, "pool": 0, "add": 0}
    for node in graph.nodes:
        if node.op == "call_module":
            module = modules[node.target]
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                counts["batchnorm"] += 1
            elif isinstance(module, nn.ReLU):
                counts["relu"] += 1
            elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
                counts["pool"] += 1
        elif node.op == "call_function" and node.target in (operator.add, operator.iadd,
                                                            torch.add):
            counts["add"] += 1
        elif node.op == "call_function" and node.target is torch.nn.functional.relu:
            counts["relu"] += 1
    return counts


@pytest.fixture(scope="module")
def resnet18_table():
    model = build_model("resnet18")
    return model, layer_table_from_model(model, default_input_shape("resnet18"))


def test_resnet18_table_has_every_layer_of_the_graph(resnet18_table):
    model, table = resnet18_table
    expected = graph_counts(model)
    got = table["kind"].value_counts().to_dict()
    assert {kind: got.get(kind, 0) for kind in expected} == expected
    # the figures, as the graph counts them
    assert expected == {"batchnorm": 20, "relu": 17, "pool": 2, "add": 8}
    convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    assert got["conv2d"] == convs and got["linear"] == 1
    assert got["flatten"] == 1 and got["loss"] == 1


def test_layer_ids_and_execution_order(resnet18_table):
    model, table = resnet18_table
    gemm = table[table["kind"].isin(GEMM_KINDS)]
    # the GEMM layers keep the ids and rows the budget gives them (their PRNG ids)
    assert gemm.reset_index(drop=True).drop(columns="exec_order").equals(
        layers_from_model(model, default_input_shape("resnet18")).drop(columns="exec_order"))
    assert list(gemm["layer_id"]) == list(range(len(gemm)))
    ordered = table.sort_values("exec_order")
    assert ordered["exec_order"].tolist() == list(range(len(table)))
    assert ordered["name"].iloc[0] == "conv1" and ordered["kind"].iloc[-1] == "loss"
    # each layer reads a tensor some earlier layer (or the input) produced
    produced = [tuple(default_input_shape("resnet18"))]
    for row in ordered.itertuples():
        assert tuple(row.in_shape) in produced, row.name
        produced.append(tuple(row.out_shape))
    # a block: conv, bn, relu, conv, bn, add, relu (the shared ReLU module called twice)
    block = ordered[ordered["name"].str.startswith("layer1.0.")]
    assert block["kind"].tolist() == ["conv2d", "batchnorm", "relu", "conv2d", "batchnorm",
                                      "add", "relu"]
    assert block["name"].tolist()[-1] == "layer1.0.relu:1"


def test_shapes_match_the_tensors(resnet18_table):
    model, table = resnet18_table
    by_name = table.set_index("name")
    seen = {}

    def hook_for(name):
        def hook(_module, inputs, output):
            seen.setdefault(name, (inputs[0].shape[1:], output.shape[1:]))
        return hook

    hooks = [m.register_forward_hook(hook_for(name)) for name, m in model.named_modules()
             if isinstance(m, (nn.BatchNorm2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d))]
    with torch.no_grad():
        model.eval()(torch.zeros(1, *default_input_shape("resnet18")))
    for h in hooks:
        h.remove()
    for name, (in_shape, out_shape) in seen.items():
        assert list(by_name.loc[name, "in_shape"]) == list(in_shape)
        assert list(by_name.loc[name, "out_shape"]) == list(out_shape)
    pool = by_name.loc["maxpool"]
    assert (pool["mode"], list(pool["kernel"]), list(pool["stride"]), list(pool["padding"])) == \
        ("max", [3, 3], [2, 2], [1, 1])
    avg = by_name.loc["avgpool"]
    assert avg["mode"] == "avg" and list(avg["kernel"]) == list(avg["in_shape"][1:])
    bn = by_name.loc["bn1"]
    assert bn["unbudgeted_param_count"] == bn["running_stat_count"] == 2 * 64


def test_functional_layers_of_lenet5():
    model = build_model("lenet-5")
    table = layer_table_from_model(model, default_input_shape("lenet-5"))
    kinds = table.sort_values("exec_order")["kind"].tolist()
    assert kinds == ["conv2d", "relu", "pool", "conv2d", "relu", "pool", "flatten", "linear",
                     "relu", "linear", "relu", "linear", "loss"]


def test_synthetic_zoo_trace_round_trips_every_layer(tmp_path):
    trace = synthetic_model_trace("resnet18", 10_000, seed=1)
    table = trace.layer_table
    assert set(table["kind"]) == set(GEMM_KINDS) | set(VECTOR_KINDS)
    assert set(trace.layers["kind"]) <= set(GEMM_KINDS)
    assert len(trace.steps) == len(trace.layers)  # steps and snapshots are per GEMM layer
    assert trace.manifest["unbudgeted_param_count"] == int(table["unbudgeted_param_count"].sum())
    path = save_trace(trace, tmp_path / "t")
    assert json.loads((path / "manifest.json").read_text())["format_version"] == FORMAT_VERSION
    loaded = load_trace(path)
    def plain(frame):
        return [{k: list(map(int, v)) if hasattr(v, "__len__") and not isinstance(v, str)
                 else v for k, v in row.items()} for row in frame.to_dict("records")]

    assert plain(loaded.layer_table) == plain(table)


def test_version_1_traces_still_read(tmp_path):
    assert json.loads((SAMPLE / "manifest.json").read_text())["format_version"] == 1
    old = load_trace(SAMPLE)
    assert old.layer_table["kind"].isin(GEMM_KINDS).all()
    assert len(old.layers) == len(old.layer_table)
    assert (old.layer_table["input_count"] == 1).all() and (old.layer_table["mode"] == "").all()
    # re-saved, it is a version-2 trace with the same content
    again = load_trace(save_trace(old, tmp_path / "v2"))
    assert again.manifest["format_version"] == FORMAT_VERSION
    assert again.steps.equals(old.steps)


# -- checks on reading ----------------------------------------------------------------------------

def _rewrite_layers(path: Path, edit) -> None:
    """Change one cell of layers.parquet and fix the manifest's checksum (a file a user made)."""
    table = pq.read_table(path / "layers.parquet").to_pandas()
    edit(table)
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(table, schema=LAYERS_SCHEMA, preserve_index=False),
                   sink)
    data = sink.getvalue()
    (path / "layers.parquet").write_bytes(data)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["layers.parquet"] = hashlib.sha256(data).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))


def _row_of(table, name):
    return table.index[table["name"] == name][0]


CASES = [
    ("bn1", "groups", 0, "groups"),
    ("conv1", "groups", 0, "groups"),
    ("relu", "out_shape", [64, 112, 111], "out_shape"),
    ("relu", "out_activation_count", 7, "out_activation_count"),
    ("maxpool", "out_shape", [64, 58, 58], "out_shape"),
    ("maxpool", "kernel", [0, 3], "kernel"),
    ("layer1.0.add", "input_count", 1, "input_count"),
    ("maxpool", "mode", "median", "mode"),
    ("bn1", "in_shape", [64, 0, 112], "in_shape"),
    ("bn1", "running_stat_count", -3, "running_stat_count"),
    ("bn1", "kind", "dropout", "kind"),
    ("loss", "out_shape", [10], "out_shape"),
    ("layer4.1.bn2", "weight_shape", [512], "weight_shape"),
]


@pytest.fixture(scope="module")
def resnet_trace_folder(tmp_path_factory):
    return save_trace(synthetic_model_trace("resnet18", 10_000, seed=1),
                      tmp_path_factory.mktemp("r") / "trace")


@pytest.mark.parametrize("name,field,value,needle", CASES)
def test_impossible_layers_are_one_line_errors(resnet_trace_folder, tmp_path, name, field,
                                               value, needle):
    path = Path(shutil.copytree(resnet_trace_folder, tmp_path / "bad"))

    def edit(table):
        row = _row_of(table, name)
        table.at[row, field] = value
        if field in ("in_shape", "out_shape"):  # the count agrees: only the kind's rule fails
            count = field.replace("shape", "activation_count")
            table.at[row, count] = max(0, int(np.prod(value)))

    _rewrite_layers(path, edit)
    with pytest.raises(TraceError) as err:
        load_trace(path)
    message = str(err.value)
    assert "\n" not in message
    assert "layers.parquet" in message and needle in message
    assert f"({name!r})" in message


def test_bad_layer_through_simulate_is_exit_2(resnet_trace_folder, tmp_path, capsys):
    path = Path(shutil.copytree(resnet_trace_folder, tmp_path / "bad"))
    _rewrite_layers(path, lambda t: t.__setitem__("groups", t["groups"].where(
        t["name"] != "layer2.0.bn1", 0)))
    code = main(["simulate", str(path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "layers.parquet" in err and "layer2.0.bn1" in err and "groups" in err


def test_the_speed_benchmarks_hand_written_resnet18_is_the_measured_one(resnet18_table):
    """benchmarks/sim_speed.py writes ResNet-18's table by hand (torch-free): it must be the
    table the torch model gives."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from sim_speed import resnet18_layers

    def plain(frame):
        return [{k: list(map(int, v)) if hasattr(v, "__len__") and not isinstance(v, str)
                 else v for k, v in row.items()} for row in frame.to_dict("records")]

    assert plain(resnet18_layers()) == plain(resnet18_table[1])
