"""Small traces built through the real format, shared by trace and simulator tests."""

from accelsim.trace.geometry import conv2d_layer, layer_table, linear_layer
from accelsim.trace.synthetic import synthetic_trace

GENERATOR = {"id": "test-generator", "version": 1}


def tiny_layers():
    return layer_table([
        conv2d_layer(0, "conv1", (1, 8, 8), 4, 3, padding=1, bias=True),
        linear_layer(1, "fc1", 256, 32),
        linear_layer(2, "fc2", 32, 10),
    ])


def tiny_trace(budget=500, iterations=3, seed=0, layout="uniform", dense=False):
    return synthetic_trace(tiny_layers(), budget, seed, iterations=iterations, layout=layout,
                           generator=GENERATOR, dense=dense, batch_size=4,
                           model={"name": "tiny", "args": {}})
