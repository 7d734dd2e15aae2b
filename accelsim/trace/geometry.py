"""Layer geometry as rows of the trace's layer table: shapes, MACs and the GEMM dimensions of
each training phase, and the layers between the GEMMs (BatchNorm, ReLU, pooling, residual add,
flatten, the loss) with their shapes (conventions in traces/README.md). Pure arithmetic, no
torch, so synthetic traces and tests can build layer tables by hand."""

from __future__ import annotations

import math

import pandas as pd

GEMM_KINDS = ("linear", "conv2d")  # budgeted layers: weights, steps and snapshots rows
VECTOR_KINDS = ("batchnorm", "relu", "pool", "add", "loss", "flatten")  # run on the vector unit
KINDS = GEMM_KINDS + VECTOR_KINDS
POOL_MODES = ("max", "avg")


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _row(layer_id, name, kind, weight_shape, bias_count, in_shape, out_shape, stride, padding,
         groups, positions, fan_in, out_channels, exec_order, kernel=(1, 1)):
    weight_count = math.prod(weight_shape)
    return {
        "layer_id": int(layer_id),
        "exec_order": int(layer_id if exec_order is None else exec_order),
        "name": str(name),
        "kind": kind,
        "weight_shape": [int(v) for v in weight_shape],
        "weight_count": int(weight_count),
        "bias_count": int(bias_count),
        "param_count": int(weight_count + bias_count),
        "in_shape": [int(v) for v in in_shape],
        "out_shape": [int(v) for v in out_shape],
        "stride": list(stride),
        "padding": list(padding),
        "groups": int(groups),
        "in_activation_count": int(math.prod(in_shape)),
        "out_activation_count": int(math.prod(out_shape)),
        "macs_per_sample": int(positions * fan_in * out_channels),
        # forward: activations (P x Kw) times weights (Kw x Cout)
        "fwd_m": int(positions), "fwd_n": int(out_channels), "fwd_k": int(fan_in),
        # backward-data: output gradients (P x Cout/g) times weights^T, Kw*g input columns
        "bwd_data_m": int(positions), "bwd_data_n": int(fan_in * groups),
        "bwd_data_k": int(out_channels // groups),
        # backward-weight: inputs^T (Kw x P) times output gradients (P x Cout)
        "bwd_weight_m": int(fan_in), "bwd_weight_n": int(out_channels),
        "bwd_weight_k": int(positions),
        # format version 2: the fields of the layers between the GEMMs (neutral for a GEMM)
        "kernel": [int(v) for v in kernel],
        "mode": "",
        "input_count": 1,
        "unbudgeted_param_count": 0,
        "running_stat_count": 0,
    }


def linear_layer(layer_id, name, in_features, out_features, bias=True, exec_order=None) -> dict:
    return _row(layer_id, name, "linear", (out_features, in_features), out_features if bias else 0,
                (in_features,), (out_features,), [1, 1], [0, 0], 1, 1, in_features, out_features,
                exec_order)


def conv2d_output_hw(in_hw, kernel_size, stride=1, padding=0) -> tuple[int, int]:
    (h, w), (kh, kw), (sh, sw), (ph, pw) = (_pair(in_hw), _pair(kernel_size), _pair(stride),
                                            _pair(padding))
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def conv2d_layer(layer_id, name, in_shape, out_channels, kernel_size, stride=1, padding=0,
                 groups=1, bias=False, exec_order=None) -> dict:
    c, h, w = (int(v) for v in in_shape)
    kh, kw = _pair(kernel_size)
    if c % groups or out_channels % groups:
        raise ValueError(f"{name}: channels {c}->{out_channels} not divisible by groups {groups}")
    oh, ow = conv2d_output_hw((h, w), (kh, kw), stride, padding)
    if oh < 1 or ow < 1:
        raise ValueError(f"{name}: input {h}x{w} too small for a {kh}x{kw} kernel")
    fan_in = c // groups * kh * kw
    return _row(layer_id, name, "conv2d", (out_channels, c // groups, kh, kw),
                out_channels if bias else 0, (c, h, w), (out_channels, oh, ow), list(_pair(stride)),
                list(_pair(padding)), groups, oh * ow, fan_in, out_channels, exec_order,
                (kh, kw))


def _vector_row(layer_id, name, kind, in_shape, out_shape, exec_order, *, kernel=(1, 1),
                stride=(1, 1), padding=(0, 0), mode="", input_count=1, unbudgeted_param_count=0,
                running_stat_count=0) -> dict:
    """A layer that is not a GEMM: no budgeted weights, no MACs, GEMM dimensions 0."""
    if min(in_shape, default=0) < 1 or min(out_shape, default=0) < 1:
        raise ValueError(f"{name}: shapes {list(in_shape)} -> {list(out_shape)} need sizes >= 1")
    row = _row(layer_id, name, kind, (), 0, in_shape, out_shape, list(_pair(stride)),
               list(_pair(padding)), 1, 0, 0, 0, exec_order, _pair(kernel))
    row.update(weight_shape=[], weight_count=0, param_count=0, mode=mode,
               input_count=int(input_count), unbudgeted_param_count=int(unbudgeted_param_count),
               running_stat_count=int(running_stat_count))
    for key in ("macs_per_sample", "fwd_m", "fwd_n", "fwd_k", "bwd_data_m", "bwd_data_n",
                "bwd_data_k", "bwd_weight_m", "bwd_weight_n", "bwd_weight_k"):
        row[key] = 0
    return row


def batchnorm_layer(layer_id, name, shape, exec_order=None, *, affine=True,
                    running_stats=True) -> dict:
    """BatchNorm over channel dimension 0 of `shape`: scale and shift (2 per channel, outside
    the budget) and running mean and variance (2 per channel)."""
    channels = int(shape[0])
    return _vector_row(layer_id, name, "batchnorm", shape, shape, exec_order,
                       unbudgeted_param_count=2 * channels if affine else 0,
                       running_stat_count=2 * channels if running_stats else 0)


def relu_layer(layer_id, name, shape, exec_order=None) -> dict:
    return _vector_row(layer_id, name, "relu", shape, shape, exec_order)


def add_layer(layer_id, name, shape, exec_order=None, input_count=2) -> dict:
    """An element-wise sum of `input_count` tensors of one shape (a residual add)."""
    return _vector_row(layer_id, name, "add", shape, shape, exec_order, input_count=input_count)


def flatten_layer(layer_id, name, in_shape, exec_order=None) -> dict:
    return _vector_row(layer_id, name, "flatten", in_shape, (math.prod(in_shape),), exec_order)


def loss_layer(layer_id, name, classes, exec_order=None) -> dict:
    """Softmax and cross-entropy over `classes` logits per sample; one loss value out."""
    return _vector_row(layer_id, name, "loss", (classes,), (1,), exec_order)


def pool_output_hw(in_hw, kernel_size, stride, padding=0, ceil_mode=False) -> tuple[int, int]:
    """Output size of a pooling window walk; `ceil_mode` keeps a last, partial window when it
    starts inside the input or its left padding (torch's rule)."""
    if not ceil_mode:
        return conv2d_output_hw(in_hw, kernel_size, stride, padding)
    out = []
    for size, k, s, p in zip(_pair(in_hw), _pair(kernel_size), _pair(stride), _pair(padding)):
        n = -(-(size + 2 * p - k) // s) + 1
        out.append(n - 1 if (n - 1) * s >= size + p else n)
    return out[0], out[1]


def pool_layer(layer_id, name, in_shape, mode, kernel_size, stride=None, padding=0,
               exec_order=None, ceil_mode=False) -> dict:
    """Max or average pooling over each channel's H x W (stride defaults to the kernel)."""
    if mode not in POOL_MODES:
        raise ValueError(f"{name}: pool mode {mode!r} not one of {POOL_MODES}")
    c, h, w = (int(v) for v in in_shape)
    kernel = _pair(kernel_size)
    stride = kernel if stride is None else _pair(stride)
    oh, ow = pool_output_hw((h, w), kernel, stride, padding, ceil_mode)
    if oh < 1 or ow < 1:
        raise ValueError(f"{name}: input {h}x{w} too small for a {kernel} pool")
    return _vector_row(layer_id, name, "pool", (c, h, w), (c, oh, ow), exec_order, kernel=kernel,
                       stride=stride, padding=_pair(padding), mode=mode)


def layer_table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).sort_values("layer_id", kind="stable").reset_index(drop=True)
