"""The layer table of a torch model, measured from one forward pass (never typed by hand).

Module hooks give each call its module path; a `TorchFunctionMode` sees the functional calls
the forward makes (F.relu, F.max_pool2d, `out + identity`, `x.flatten(1)`), so a module used
twice (ResNet's shared ReLU) gives two rows and a residual add written as `+` is found.

Which layers carry a budget, and their layer ids, is the rule of
`accelsim.dropback.init.budgeted_layers`: a trace and the optimizer cannot disagree on them.
The layers between the GEMMs follow them, ids B..L-1 in execution order.
"""

from __future__ import annotations

import math

import pandas as pd
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from accelsim.dropback.init import budgeted_layers
from accelsim.trace.geometry import (
    GEMM_KINDS,
    add_layer,
    batchnorm_layer,
    conv2d_layer,
    flatten_layer,
    layer_table,
    linear_layer,
    loss_layer,
    pool_layer,
    pool_output_hw,
    relu_layer,
)

# functional op name (as torch reports it to a function mode) -> layer kind
_OPS = {"batch_norm": "batchnorm", "relu": "relu", "relu_": "relu",
        "max_pool2d": "pool", "avg_pool2d": "pool", "adaptive_avg_pool2d": "pool",
        "adaptive_max_pool2d": "pool", "add": "add", "add_": "add", "__add__": "add",
        "__iadd__": "add", "__radd__": "add", "flatten": "flatten"}


def budgeted_param_count(model: nn.Module) -> int:
    """Elements under the budget: weights and biases of the budgeted layers."""
    return sum(layer.param_count for layer in budgeted_layers(model))


def layers_from_model(model: nn.Module, input_shape) -> pd.DataFrame:
    """The GEMM (budgeted) layers of `model` as trace rows, ids 0..B-1, `exec_order` their
    order among themselves (a table of GEMM layers only, as format version 1 held)."""
    table = layer_table_from_model(model, input_shape)
    gemm = table[table["kind"].isin(GEMM_KINDS)].reset_index(drop=True)
    gemm["exec_order"] = gemm["exec_order"].rank(method="first").astype("int32") - 1
    return gemm


class _Recorder(TorchFunctionMode):
    """Records the non-GEMM calls of one forward pass, in order, with their module path."""

    def __init__(self, path_stack: list[str], order: list):
        super().__init__()
        self.path_stack, self.order = path_stack, order

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        kind = _OPS.get(getattr(func, "__name__", ""))
        if kind is None or not args or not isinstance(args[0], torch.Tensor):
            return out
        x = args[0]
        if kind == "add" and not (len(args) > 1 and isinstance(args[1], torch.Tensor)
                                  and args[1].shape == x.shape):
            return out  # a bias or a scalar added: part of another layer, not a residual add
        if kind == "flatten" and out.dim() != 2:
            return out  # only the classifier's per-sample flatten is a layer
        self.order.append(("op", kind, self.path_stack[-1], func.__name__, x, args[1:], kwargs,
                           out))
        return out


def layer_table_from_model(model: nn.Module, input_shape, *, loss: bool = True) -> pd.DataFrame:
    """Run one sample through `model` and describe every layer that moves data as a trace row:
    the budgeted GEMM layers (ids 0..B-1, as `budgeted_layers`), then BatchNorm, ReLU,
    pooling, residual adds, flatten and (with `loss`) softmax + cross-entropy on the output."""
    layers = budgeted_layers(model)
    gemm_by_module = {id(layer.module): layer for layer in layers}
    path_stack: list[str] = [""]
    order: list = []  # ("gemm", layer, input shape) or ("op", kind, path, op, x, args, kwargs, out)
    seen_gemm: set[int] = set()
    handles = []

    def pre_hook_for(path):
        def pre_hook(module, inputs):
            path_stack.append(path)
            layer = gemm_by_module.get(id(module))
            if layer is not None and layer.layer_id not in seen_gemm:
                seen_gemm.add(layer.layer_id)
                order.append(("gemm", layer, tuple(inputs[0].shape[1:])))
        return pre_hook

    def post_hook(_module, _inputs, _output):
        path_stack.pop()

    for path, module in model.named_modules():
        if path:
            handles.append(module.register_forward_pre_hook(pre_hook_for(path)))
            handles.append(module.register_forward_hook(post_hook))
    was_training = model.training
    try:
        model.eval()
        param = next(model.parameters())
        with torch.no_grad(), _Recorder(path_stack, order):
            output = model(torch.zeros((1, *input_shape), dtype=param.dtype,
                                       device=param.device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    modules = dict(model.named_modules())
    rows: list[dict] = []
    names: dict[str, int] = {}
    next_id = len(layers)
    for position, entry in enumerate(order):
        if entry[0] == "gemm":
            rows.append(_gemm_row(entry[1], entry[2], position))
            continue
        _, kind, path, op, x, args, kwargs, out = entry
        # a leaf module's call takes its path; a functional call, its caller's path and kind
        leaf = bool(path) and next(modules[path].children(), None) is None
        base = path if leaf else ".".join(p for p in (path, kind) if p)
        count = names.get(base, 0)
        names[base] = count + 1
        name = base if count == 0 else f"{base}:{count}"
        rows.append(_vector_row(kind, next_id, name, op, x, args, kwargs, out, position))
        next_id += 1
    if set(seen_gemm) != {layer.layer_id for layer in layers}:
        missing = [layer.name for layer in layers if layer.layer_id not in seen_gemm]
        raise ValueError(f"layer {missing[0]} was not executed by a forward pass")
    if loss and output.dim() == 2:
        rows.append(loss_layer(next_id, "loss", output.shape[1], len(order)))
    return layer_table(rows)


def _gemm_row(layer, in_shape, order: int) -> dict:
    layer_id, name, m = layer.layer_id, layer.name, layer.module
    has_bias = m.bias is not None
    if layer.kind == "linear":
        return linear_layer(layer_id, name, m.in_features, m.out_features, has_bias, order)
    if m.dilation != (1, 1) or not isinstance(m.padding, tuple):
        raise ValueError(f"layer {name}: dilation and string padding are not modelled")
    return conv2d_layer(layer_id, name, in_shape, m.out_channels, m.kernel_size, m.stride,
                        m.padding, m.groups, has_bias, order)


def _arg(args, kwargs, index: int, key: str, default):
    """Argument `index` after the input (positional) or `key` (keyword) of a functional call."""
    if key in kwargs:
        return kwargs[key]
    return args[index] if len(args) > index else default


def _vector_row(kind, layer_id, name, op, x, args, kwargs, out, order) -> dict:
    in_shape = tuple(int(v) for v in x.shape[1:])
    if kind == "batchnorm":
        running = _arg(args, kwargs, 0, "running_mean", None) is not None
        affine = _arg(args, kwargs, 2, "weight", None) is not None
        return batchnorm_layer(layer_id, name, in_shape, order, affine=affine,
                               running_stats=running)
    if kind == "relu":
        return relu_layer(layer_id, name, in_shape, order)
    if kind == "add":
        return add_layer(layer_id, name, in_shape, order)
    if kind == "flatten":
        return flatten_layer(layer_id, name, in_shape, order)
    out_shape = tuple(int(v) for v in out.shape[1:])
    mode = "max" if "max" in op else "avg"
    if op.startswith("adaptive"):
        # equal windows when the output divides the input (ResNet's global average pool)
        stride = tuple(i // o for i, o in zip(in_shape[1:], out_shape[1:]))
        kernel = tuple(i - (o - 1) * s for i, o, s in zip(in_shape[1:], out_shape[1:], stride))
        padding: object = 0
    else:
        kernel = _arg(args, kwargs, 0, "kernel_size", None)
        stride = _arg(args, kwargs, 1, "stride", None) or kernel
        padding = _arg(args, kwargs, 2, "padding", 0)
    # ceil_mode=True keeps a last, partial window: the output size tells which rule ran
    ceil = pool_output_hw(in_shape[1:], kernel, stride, padding) != tuple(out_shape[1:])
    row = pool_layer(layer_id, name, in_shape, mode, kernel, stride, padding, order, ceil)
    if tuple(row["out_shape"]) != out_shape or math.prod(out_shape) == 0:
        raise ValueError(f"layer {name}: {op} with dilation or uneven adaptive "
                         f"windows is not modelled (output {list(out_shape)})")
    return row
