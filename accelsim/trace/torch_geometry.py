"""The layer table of a torch model, measured with forward hooks (never typed by hand)."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from accelsim.trace.geometry import conv2d_layer, layer_table, linear_layer

BUDGETED_TYPES = (nn.Linear, nn.Conv2d)


def budgeted_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Linear and Conv2d modules in registration order: index = layer_id (and PRNG layer id)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, BUDGETED_TYPES)]


def budgeted_param_count(model: nn.Module) -> int:
    """Elements under the budget: weights and biases of the budgeted layers."""
    return sum(p.numel() for _, m in budgeted_modules(model) for p in m.parameters(recurse=False))


def layers_from_model(model: nn.Module, input_shape) -> pd.DataFrame:
    """Run one sample through `model` and describe every budgeted layer as a trace row."""
    modules = budgeted_modules(model)
    seen: dict[int, tuple[int, tuple]] = {}  # layer_id -> (exec order, input shape per sample)

    def hook_for(layer_id):
        def hook(_module, inputs, _output):
            if layer_id not in seen:
                seen[layer_id] = (len(seen), tuple(inputs[0].shape[1:]))
        return hook

    handles = [m.register_forward_hook(hook_for(i)) for i, (_, m) in enumerate(modules)]
    was_training = model.training
    try:
        model.eval()
        param = next(model.parameters())
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), dtype=param.dtype, device=param.device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    rows = []
    for layer_id, (name, m) in enumerate(modules):
        if layer_id not in seen:
            raise ValueError(f"layer {name} was not executed by a forward pass")
        order, in_shape = seen[layer_id]
        has_bias = m.bias is not None
        if isinstance(m, nn.Linear):
            rows.append(linear_layer(layer_id, name, m.in_features, m.out_features, has_bias, order))
        else:
            if m.dilation != (1, 1) or not isinstance(m.padding, tuple):
                raise ValueError(f"layer {name}: dilation and string padding are not modelled")
            rows.append(conv2d_layer(layer_id, name, in_shape, m.out_channels, m.kernel_size,
                                     m.stride, m.padding, m.groups, has_bias, order))
    return layer_table(rows)
