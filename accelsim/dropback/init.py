"""A layer's initial values w0, regenerated from the PRNG, and the list of budgeted layers.

Budgeted layers are the `nn.Linear` and `nn.Conv2d` modules of a model, in the order of
`model.named_modules()` (registration order); `layer_id` is the position in that list and is
also the PRNG's layer id. This is the one owner of that rule: the optimizer, the checkpoint and
the trace's layer table (`accelsim.trace.torch_geometry`) all take their layers from here.
Element j of a layer is the j-th element of the row-major flattened weight, then the bias
elements (`traces/README.md`, "Element order and bitmaps").

Initial values follow PyTorch's default for Linear and Conv2d (kaiming_uniform with a=sqrt(5),
which is uniform(-b, b) with b = 1/sqrt(fan_in)), drawn from `accelsim.dropback.prng` instead
of torch's generator, so any element can be regenerated on its own:

    weight element j  = uniform(seed, layer_id, j, b)
    bias element i    = 0                                       (bias_init="zero", default)
                      = uniform(seed, layer_id, weight_count + i, b)   (bias_init="uniform")

The numpy half (`initial_values_numpy`) needs no torch; torch is imported lazily.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accelsim.dropback import prng

BIAS_INITS = ("zero", "uniform")


@dataclass(frozen=True)
class LayerInfo:
    """One budgeted layer. `module` is the live nn.Module (left out of ==, hash and repr)."""

    layer_id: int
    name: str
    module: Any = field(compare=False, repr=False)
    kind: str  # "linear" | "conv2d"
    weight_count: int
    bias_count: int
    param_count: int
    fan_in: int
    weight_shape: tuple = ()


def init_bound(fan_in: int) -> float:
    """b = 1/sqrt(fan_in): PyTorch's default weight (and bias) bound for Linear/Conv2d."""
    if fan_in <= 0:
        raise ValueError(f"fan_in must be > 0, got {fan_in}")
    return 1.0 / math.sqrt(fan_in)


def _layer_kind(module) -> str | None:
    from torch import nn

    # subclasses count too (they keep `weight` and `bias` in the same layout)
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, nn.Conv2d):
        return "conv2d"
    return None


def _fan_in(module, kind: str) -> int:
    if kind == "linear":
        return int(module.in_features)
    kernel_h, kernel_w = module.kernel_size
    return int(module.in_channels // module.groups * kernel_h * kernel_w)


def budgeted_layers(model) -> list[LayerInfo]:
    """The budgeted layers of `model` (nn.Linear, nn.Conv2d), in registration order."""
    layers: list[LayerInfo] = []
    seen_params: set[int] = set()
    for name, module in model.named_modules():
        kind = _layer_kind(module)
        if kind is None:
            continue
        weight, bias = module.weight, module.bias
        for param in (weight, bias):
            if param is None:
                continue
            if id(param) in seen_params:
                raise ValueError(f"layer {name!r} shares a parameter with an earlier layer; "
                                 "tied weights are not supported under a DropBack budget")
            seen_params.add(id(param))
        weight_count = weight.numel()
        bias_count = 0 if bias is None else bias.numel()
        layers.append(LayerInfo(
            layer_id=len(layers), name=name, module=module, kind=kind,
            weight_count=int(weight_count), bias_count=int(bias_count),
            param_count=int(weight_count + bias_count), fan_in=_fan_in(module, kind),
            weight_shape=tuple(int(d) for d in weight.shape)))
    return layers


def _check_bias_init(bias_init: str) -> None:
    if bias_init not in BIAS_INITS:
        raise ValueError(f"bias_init must be one of {BIAS_INITS}, got {bias_init!r}")


def initial_values_numpy(seed: int, layer_id: int, weight_count: int, bias_count: int,
                         fan_in: int, bias_init: str = "zero") -> np.ndarray:
    """w0 of one layer as a flat float32 array of weight_count + bias_count (no torch)."""
    _check_bias_init(bias_init)
    bound = init_bound(fan_in)
    values = np.zeros(weight_count + bias_count, dtype=np.float32)
    drawn_count = weight_count + (bias_count if bias_init == "uniform" else 0)
    index = np.arange(drawn_count, dtype=np.int64)
    values[:drawn_count] = prng.uniform_numpy(seed, layer_id, index, bound)
    return values


def initial_values_torch(seed: int, layer: LayerInfo, device=None, bias_init: str = "zero"):
    """w0 of one layer as a flat float32 tensor of `layer.param_count` on `device`."""
    import torch

    _check_bias_init(bias_init)
    where = torch.device(device) if device is not None else torch.get_default_device()
    if where.type == "cpu":
        # numpy's uint32 arithmetic wraps by itself where torch's emulates it in int64 (split
        # multiplies): the same bits (prng's two versions are tested equal), in about half
        # the time, which counts at a large model's start and checkpoint load
        return torch.from_numpy(initial_values_numpy(seed, layer.layer_id, layer.weight_count,
                                                     layer.bias_count, layer.fan_in, bias_init))
    return _initial_values_torch_ops(seed, layer, device, bias_init)


def _initial_values_torch_ops(seed: int, layer: LayerInfo, device, bias_init: str):
    """`initial_values_torch` in torch's own arithmetic, on `device` (a GPU's path)."""
    import torch

    bound = init_bound(layer.fan_in)
    values = torch.zeros(layer.param_count, dtype=torch.float32, device=device)
    drawn_count = layer.weight_count + (layer.bias_count if bias_init == "uniform" else 0)
    index = torch.arange(drawn_count, dtype=torch.int64, device=device)
    values[:drawn_count] = prng.uniform_torch(seed, layer.layer_id, index, bound)
    return values


def layer_parameters(layer: LayerInfo) -> list:
    """[weight] or [weight, bias] of a layer, in element order."""
    module = layer.module
    return [module.weight] if module.bias is None else [module.weight, module.bias]


def write_layer_values(layer: LayerInfo, flat_values) -> None:
    """Copy a flat tensor of param_count values into the layer's weight and bias, in place."""
    offset = 0
    for param in layer_parameters(layer):
        count = param.numel()
        chunk = flat_values[offset:offset + count].view(param.shape)
        param.data.copy_(chunk.to(dtype=param.dtype, device=param.device))
        offset += count


def initialize_model(model, seed: int, bias_init: str = "zero") -> list[LayerInfo]:
    """Write w0 into every budgeted layer of `model` (in place) and return the layers."""
    import torch

    layers = budgeted_layers(model)
    with torch.no_grad():
        for layer in layers:
            device = layer.module.weight.device
            write_layer_values(layer, initial_values_torch(seed, layer, device, bias_init))
    return layers
