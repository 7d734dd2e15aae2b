"""Budgeted layers and their initial values w0."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from accelsim.dropback import prng
from accelsim.dropback.init import (
    LayerInfo,
    _initial_values_torch_ops,
    budgeted_layers,
    init_bound,
    initial_values_numpy,
    initial_values_torch,
    initialize_model,
)


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, groups=2)
        self.norm = nn.BatchNorm2d(6)
        self.block = nn.Sequential(nn.Conv2d(6, 8, (1, 2), bias=False), nn.ReLU())
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        x = self.block(self.norm(self.conv(x)))
        return self.head(x.mean((2, 3)))


def test_budgeted_layers_order_kinds_and_counts():
    layers = budgeted_layers(Mixed())
    assert [layer.name for layer in layers] == ["conv", "block.0", "head"]
    assert [layer.layer_id for layer in layers] == [0, 1, 2]
    assert [layer.kind for layer in layers] == ["conv2d", "conv2d", "linear"]
    assert [layer.weight_count for layer in layers] == [6 * 2 * 9, 8 * 6 * 2, 24]
    assert [layer.bias_count for layer in layers] == [6, 0, 3]
    assert [layer.param_count for layer in layers] == [114, 96, 27]
    assert [layer.fan_in for layer in layers] == [2 * 9, 6 * 2, 8]
    assert layers[0].weight_shape == (6, 2, 3, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        layers[0].layer_id = 5
    assert isinstance(layers[0], LayerInfo) and layers[0] == budgeted_layers(Mixed())[0]


def test_tied_parameters_are_refused():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.Linear(4, 4))
    model[1].weight = shared.weight
    with pytest.raises(ValueError, match="shares a parameter"):
        budgeted_layers(model)


@pytest.mark.parametrize("bias_init", ["zero", "uniform"])
def test_numpy_and_torch_initial_values_are_identical(bias_init):
    for layer in budgeted_layers(Mixed()):
        for seed in (0, 99):
            values_np = initial_values_numpy(seed, layer.layer_id, layer.weight_count,
                                             layer.bias_count, layer.fan_in, bias_init)
            # the public function (numpy's arithmetic on the CPU) and torch's own arithmetic
            # (a GPU's path, run here on the CPU)
            for values_t in (initial_values_torch(seed, layer, "cpu", bias_init),
                             _initial_values_torch_ops(seed, layer, "cpu", bias_init)):
                assert values_t.dtype == torch.float32 and values_t.shape == (layer.param_count,)
                assert values_t.device.type == "cpu"
                assert np.array_equal(values_t.numpy().view(np.int32), values_np.view(np.int32))
            bias = values_np[layer.weight_count:]
            assert (bias == 0).all() if bias_init == "zero" else bias.size == 0 or bias.any()


def test_values_follow_the_prng_and_the_pytorch_bound():
    layer = budgeted_layers(Mixed())[2]  # Linear(8, 3): fan_in 8
    values = initial_values_numpy(4, 2, layer.weight_count, layer.bias_count, 8, "uniform")
    bound = 1 / math.sqrt(8)
    assert init_bound(8) == bound
    expected = prng.uniform_numpy(4, 2, np.arange(layer.param_count), bound)
    assert np.array_equal(values, expected)  # bias continues the element numbering
    assert np.abs(values).max() <= np.float32(bound)


def test_bound_matches_pytorch_default_init():
    torch.manual_seed(0)
    for module in (nn.Linear(300, 200), nn.Conv2d(16, 32, 3)):
        default_max = module.weight.detach().abs().max().item()
        layer = budgeted_layers(nn.Sequential(module))[0]
        ours = initial_values_torch(0, layer)[:layer.weight_count].abs().max().item()
        assert ours <= init_bound(layer.fan_in) and default_max <= init_bound(layer.fan_in)
        assert ours == pytest.approx(default_max, rel=0.01)


def test_initialize_model_writes_w0_and_returns_layers():
    model = Mixed()
    norm_before = model.norm.weight.detach().clone()
    layers = initialize_model(model, seed=3)
    for layer in layers:
        values = initial_values_torch(3, layer)
        parts = [layer.module.weight.detach().reshape(-1)]
        if layer.module.bias is not None:
            parts.append(layer.module.bias.detach())
        assert torch.equal(torch.cat(parts), values)
    assert torch.equal(model.norm.weight.detach(), norm_before)  # outside the budget
    assert model.conv.weight.requires_grad


def test_bad_bias_init_raises():
    with pytest.raises(ValueError, match="bias_init"):
        initial_values_numpy(0, 0, 4, 1, 2, "normal")
