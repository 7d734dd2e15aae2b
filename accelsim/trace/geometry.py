"""Layer geometry as rows of the trace's layer table: shapes, MACs and the GEMM dimensions of
each training phase (conventions in traces/README.md). Pure arithmetic, no torch, so synthetic
traces and tests can build layer tables by hand."""

from __future__ import annotations

import math

import pandas as pd


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _row(layer_id, name, kind, weight_shape, bias_count, in_shape, out_shape, stride, padding,
         groups, positions, fan_in, out_channels, exec_order):
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
                list(_pair(padding)), groups, oh * ow, fan_in, out_channels, exec_order)


def layer_table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).sort_values("layer_id", kind="stable").reset_index(drop=True)
