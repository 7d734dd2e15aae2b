"""Does a model take a dataset's samples? Answered before training starts, on torch's meta
device (shapes only: nothing is allocated or computed), so a model, stem or `--model-arg`
that cannot take the data is refused in one line instead of after minutes of set-up."""

from __future__ import annotations

import torch

from accelsim.errors import ConfigError
from accelsim.models import build_model_shapes

# the first sample batch: two samples, so a BatchNorm that needs more than one value per
# channel in training mode sees a legitimate batch
_PROBE_BATCH = 2


def _shape(shape) -> str:
    return "x".join(str(int(d)) for d in shape)


def check_model_takes(model_name: str, model_args: dict, dataset: str,
                      sample_shape: tuple[int, ...], num_classes: int) -> None:
    """Raise ConfigError naming the model, the dataset and both shapes unless the model built
    with `model_args` was built for `sample_shape` and its forward pass maps a batch of them to
    `num_classes` scores."""
    args = ", ".join(f"{k}={v}" for k, v in sorted(model_args.items()))
    model_label = f"model {model_name} ({args})" if args else f"model {model_name}"
    data_label = f"dataset {dataset}'s {_shape(sample_shape)} samples"
    with torch.device("meta"):
        model = build_model_shapes(model_name, **model_args)
        declared = tuple(getattr(model, "input_shape", sample_shape))
        if declared != tuple(sample_shape):
            square = len(sample_shape) != 3 or sample_shape[1] == sample_shape[2]
            expected = ("no --model-arg that changes the input: its shape comes from the "
                        "dataset" if square else "square images: the zoo's image models take "
                        "HxH inputs")
            raise ConfigError(f"train: {model_label} takes {_shape(declared)} inputs, not "
                              f"{data_label} (expected {expected})")
        try:
            with torch.no_grad():
                scores = model(torch.empty((_PROBE_BATCH, *sample_shape)))
        except (RuntimeError, ValueError, IndexError, TypeError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"train: {model_label} cannot take {data_label}: its first "
                              f"forward pass fails ({reason[:200]})") from None
    if tuple(scores.shape) != (_PROBE_BATCH, num_classes):
        raise ConfigError(f"train: {model_label} gives {_shape(scores.shape[1:])} outputs per "
                          f"sample on {data_label} (expected {num_classes} class scores)")
