"""The vector unit's closed-form counts on small layers, against tensors torch computes for the
same layers (element counts, window sizes, argmax ranges), and its config section."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from accelsim.config.accelerator import VECTOR_OP_ENERGY_PJ, config_from_dict
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
    add, mult, _ = VECTOR_OP_ENERGY_PJ[32]
    assert w.energy_pj(add, mult) == pytest.approx(w.add_ops * 0.9 + w.mult_ops * 3.7)


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
    assert config_from_dict(spec).vector.mult_energy_pj == VECTOR_OP_ENERGY_PJ[16][1]
    spec["vector"] = {"lanes": 0}
    with pytest.raises(ConfigError, match=r"vector\.lanes") as err:
        config_from_dict(spec, "x.yaml")
    assert "\n" not in str(err.value)
