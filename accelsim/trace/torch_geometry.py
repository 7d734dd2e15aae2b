"""The layer table of a torch model, measured with forward hooks (never typed by hand).

Which layers carry a budget, and their layer ids, is the rule of
`accelsim.dropback.init.budgeted_layers`: a trace and the optimizer cannot disagree on them.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from accelsim.dropback.init import budgeted_layers
from accelsim.trace.geometry import conv2d_layer, layer_table, linear_layer


def budgeted_param_count(model: nn.Module) -> int:
    """Elements under the budget: weights and biases of the budgeted layers."""
    return sum(layer.param_count for layer in budgeted_layers(model))


def layers_from_model(model: nn.Module, input_shape) -> pd.DataFrame:
    """Run one sample through `model` and describe every budgeted layer as a trace row."""
    layers = budgeted_layers(model)
    seen: dict[int, tuple[int, tuple]] = {}  # layer_id -> (exec order, input shape per sample)

    def hook_for(layer_id):
        def hook(_module, inputs, _output):
            if layer_id not in seen:
                seen[layer_id] = (len(seen), tuple(inputs[0].shape[1:]))
        return hook

    handles = [layer.module.register_forward_hook(hook_for(layer.layer_id)) for layer in layers]
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
    for layer in layers:
        layer_id, name, m = layer.layer_id, layer.name, layer.module
        if layer_id not in seen:
            raise ValueError(f"layer {name} was not executed by a forward pass")
        order, in_shape = seen[layer_id]
        has_bias = m.bias is not None
        if layer.kind == "linear":
            rows.append(linear_layer(layer_id, name, m.in_features, m.out_features, has_bias,
                                     order))
        else:
            if m.dilation != (1, 1) or not isinstance(m.padding, tuple):
                raise ValueError(f"layer {name}: dilation and string padding are not modelled")
            rows.append(conv2d_layer(layer_id, name, in_shape, m.out_channels, m.kernel_size,
                                     m.stride, m.padding, m.groups, has_bias, order))
    return layer_table(rows)
