"""The networks DropBack was evaluated on, written in plain ``torch.nn`` (no torchvision).

Every model takes ``num_classes`` and its input geometry as arguments; ``build_model`` checks
the name and the arguments and raises ``ConfigError`` with a one-line message otherwise.

Parameter counts at the default arguments (``model_param_count``: every parameter, BatchNorm
scale and shift included, buffers such as running statistics excluded):

================  =========================  ============  =====================================
name              defaults                   parameters    published as
================  =========================  ============  =====================================
lenet-300-100     784 inputs, 10 classes        266,610    LeCun et al. 1998 (count derived)
lenet-5           1x28x28, 10 classes            61,706    LeCun et al. 1998 (28x28 padded to 32)
vgg-s             3x32x32, 10 classes        14,986,698    "~15M", DropBack (Golub et al. 2019)
resnet18          3x224x224, 1000 classes    11,689,512    torchvision resnet18 (He et al. 2016)
wrn-28-10         3x32x32, 10 classes        36,479,194    "36.5M", Zagoruyko & Komodakis 2016
densenet-bc-100   3x32x32, 10 classes, k=12     769,162    "0.8M", Huang et al. 2017
================  =========================  ============  =====================================

The papers round; the exact WRN and DenseNet figures are those of the common PyTorch
reimplementations of the authors' nets at 10 classes (fc bias included), which these match.

All convolutional models end in adaptive average pooling (or, for LeNet-5, in a flattened size
computed from the input size), so they accept any input at least as large as ``min_input_size``
below; ``default_input_shape`` gives the per-sample shape a model was built for, which is what
a trace records.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from accelsim.errors import ConfigError
from accelsim.limits import MODEL_ARG_MAX, shown

__all__ = [
    "MODEL_NAMES",
    "VGGS",
    "DenseNetBC",
    "LeNet5",
    "LeNet300100",
    "ResNet18",
    "WideResNet",
    "build_model",
    "build_model_shapes",
    "default_input_shape",
    "model_param_count",
]


# --------------------------------------------------------------------------------------------
# LeNet-300-100 and LeNet-5
# --------------------------------------------------------------------------------------------


class LeNet300100(nn.Module):
    """Fully connected in -> 300 -> 100 -> classes with ReLU (LeCun et al. 1998).

    Accepts N x F or N x C x H x W input; images are flattened so that a loader's C x H x W
    samples can be fed as they are (C*H*W must equal ``in_features``).
    """

    def __init__(self, in_features: int = 784, num_classes: int = 10):
        super().__init__()
        self.input_shape = (in_features,)
        self.fc1 = nn.Linear(in_features, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, num_classes)

    def forward(self, x):
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def _lenet5_geometry(input_size: int) -> tuple[int, int]:
    """(conv2 padding, side of the last feature map) for a square input of ``input_size``.

    conv1 always pads by 2: a 28x28 digit then behaves as the 32x32 input of the original
    LeNet-5 (LeCun et al. padded MNIST to 32x32), giving 16x5x5 = 400 features and the
    well-known 61,706 parameters. After the first 2x2 pooling the map is ``input_size // 2``
    wide; conv2 (5x5) is unpadded ("valid", as in the paper) when that leaves at least one
    pixel after the second pooling (side >= 6), and padded by 2 ("same") on smaller inputs
    such as the 8x8 digits (8 -> 8 -> 4 -> 4 -> 2: 16x2x2 = 64 features).
    """
    side = input_size // 2  # after conv1 (same) and pool1
    if side >= 6:
        conv2_padding = 0
        side = side - 4  # conv2 valid
    else:
        conv2_padding = 2
    return conv2_padding, side // 2  # pool2


class LeNet5(nn.Module):
    """LeNet-5: conv 6@5x5, max-pool 2, conv 16@5x5, max-pool 2, fc 120, fc 84, fc classes.

    ReLU and max pooling replace the original's scaled tanh and trainable subsampling (the
    common modern form; the parameter count is the same as the classic figure at 28x28 with
    10 classes: 61,706). See ``_lenet5_geometry`` for how the padding adapts to the input size.
    """

    def __init__(self, in_channels: int = 1, input_size: int = 28, num_classes: int = 10):
        super().__init__()
        self.input_shape = (in_channels, input_size, input_size)
        conv2_padding, side = _lenet5_geometry(input_size)
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5, padding=conv2_padding)
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


# --------------------------------------------------------------------------------------------
# VGG-S
# --------------------------------------------------------------------------------------------

# VGG-16's convolution stack (configuration "D" of Simonyan & Zisserman 2015); "M" = 2x2 pool.
VGG16_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                512, 512, 512, "M", 512, 512, 512, "M")


class VGGS(nn.Module):
    """VGG-S: the CIFAR VGG used by DropBack (VGG-16 convolutions, a small classifier).

    Convolutions are 3x3, padding 1, no bias, each followed by BatchNorm and ReLU (the batch
    norm shift takes the place of the bias); the classifier is dropout, 512 -> 512, ReLU,
    dropout, 512 -> classes. 14,986,698 parameters at 10 classes, "an already 9x reduced
    VGG-16" in the DropBack paper's words (VGG-16 for ImageNet has 138M).

    Pooling uses ``ceil_mode`` so that inputs smaller than 32x32 never shrink to nothing (a
    1x1 map stays 1x1); on 32x32 it is the usual exact halving. The final map is averaged to
    1x1 (already 1x1 at 32x32).
    """

    def __init__(self, in_channels: int = 3, input_size: int = 32, num_classes: int = 10,
                 drop_rate: float = 0.5):
        super().__init__()
        self.input_shape = (in_channels, input_size, input_size)
        layers: list[nn.Module] = []
        channels = in_channels
        for item in VGG16_LAYERS:
            if item == "M":
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            else:
                width = int(item)
                layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False),
                           nn.BatchNorm2d(width), nn.ReLU()]
                channels = width
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(drop_rate), nn.Linear(512, 512), nn.ReLU(),
            nn.Dropout(drop_rate), nn.Linear(512, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.avgpool(self.features(x)).flatten(1)
        return self.classifier(x)


# --------------------------------------------------------------------------------------------
# ResNet-18
# --------------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or 1x1 conv + BN) shortcut, post-activation.

    Submodules are registered in torchvision's order (conv1, bn1, relu, conv2, bn2,
    downsample), so parameter order and state_dict keys match ``torchvision.models.resnet18``.
    """

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()  # not in-place: forward hooks may keep the BN output
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


RESNET_STEMS = ("imagenet", "cifar")


class ResNet18(nn.Module):
    """ResNet-18 (He et al. 2016) in torchvision's layout: conv1, bn1, relu, maxpool,
    layer1..layer4 (two BasicBlocks each, 64/128/256/512 channels), avgpool, fc.

    ``stem="imagenet"``: 7x7 stride-2 conv and 3x3 stride-2 max pool (11,689,512 parameters
    with 1000 classes, as torchvision). ``stem="cifar"``: 3x3 stride-1 conv and no max pool,
    the usual form for 32x32 inputs (``maxpool`` is then an identity, so the keys stay put).
    Initialisation follows torchvision: Kaiming-normal (fan-out) convolutions, BN scale 1 and
    shift 0, PyTorch's default for the final linear layer.
    """

    # stages made in a loop (setattr); declared here so type checkers know them
    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential
    maxpool: nn.Module

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, stem: str = "imagenet",
                 input_size: int | None = None):
        super().__init__()
        if input_size is None:
            input_size = 224 if stem == "imagenet" else 32
        self.input_shape = (in_channels, input_size, input_size)
        self.stem = stem
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        if stem == "imagenet":
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            self.maxpool = nn.Identity()
        in_planes = 64
        for index, (planes, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), 1):
            blocks = nn.Sequential(BasicBlock(in_planes, planes, stride),
                                   BasicBlock(planes, planes, 1))
            setattr(self, f"layer{index}", blocks)
            in_planes = planes
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


# --------------------------------------------------------------------------------------------
# Wide ResNet 28-10
# --------------------------------------------------------------------------------------------


def _init_conv_fan_out(model: nn.Module) -> None:
    """He-normal (fan-out) convolutions and zero classifier biases, as WRN and DenseNet's
    authors initialise them (DropBack replaces budgeted layers' values with PRNG ones anyway)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)


class WideBasicBlock(nn.Module):
    """Pre-activation block of Wide ResNet: BN-ReLU-conv3x3-BN-ReLU-(dropout)-conv3x3.

    The shortcut is the identity when the shape is unchanged, otherwise a 1x1 convolution
    applied to the pre-activated input (as in the authors' code).
    """

    def __init__(self, in_planes: int, planes: int, stride: int, drop_rate: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.drop_rate = drop_rate
        self.shortcut = None
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        identity = x if self.shortcut is None else self.shortcut(pre)
        out = self.conv1(pre)
        out = F.relu(self.bn2(out))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return self.conv2(out) + identity


class WideResNet(nn.Module):
    """Wide ResNet WRN-depth-widen (Zagoruyko & Komodakis 2016) for CIFAR.

    A 3x3 conv to 16 channels, three groups of (depth-4)/6 pre-activation blocks with
    16k/32k/64k channels (strides 1, 2, 2), then BN, ReLU, global average pooling, fc.
    WRN-28-10: 4 blocks per group, widths 160/320/640; 36,479,194 parameters at 10 classes.
    """

    # groups made in a loop (setattr); declared here so type checkers know them
    block1: nn.Sequential
    block2: nn.Sequential
    block3: nn.Sequential

    def __init__(self, depth: int = 28, widen_factor: int = 10, num_classes: int = 10,
                 in_channels: int = 3, input_size: int = 32, drop_rate: float = 0.0):
        super().__init__()
        if (depth - 4) % 6 != 0:
            raise ConfigError(f"Wide ResNet depth must be 6n+4, got {depth}")
        self.input_shape = (in_channels, input_size, input_size)
        blocks_per_group = (depth - 4) // 6
        widths = (16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor)
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        in_planes = widths[0]
        for index, (planes, stride) in enumerate(zip(widths[1:], (1, 2, 2)), 1):
            blocks = []
            for b in range(blocks_per_group):
                blocks.append(WideBasicBlock(in_planes, planes, stride if b == 0 else 1,
                                             drop_rate))
                in_planes = planes
            setattr(self, f"block{index}", nn.Sequential(*blocks))
        self.bn = nn.BatchNorm2d(in_planes)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)
        _init_conv_fan_out(self)

    def forward(self, x):
        x = self.conv1(x)
        x = self.block3(self.block2(self.block1(x)))
        x = F.relu(self.bn(x))
        return self.fc(self.avgpool(x).flatten(1))


# --------------------------------------------------------------------------------------------
# DenseNet-BC
# --------------------------------------------------------------------------------------------


class DenseBottleneck(nn.Module):
    """BN-ReLU-conv1x1 (4k channels)-BN-ReLU-conv3x3 (k channels); output is concatenated."""

    def __init__(self, in_planes: int, growth_rate: int):
        super().__init__()
        inter = 4 * growth_rate
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, inter, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(inter)
        self.conv2 = nn.Conv2d(inter, growth_rate, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return torch.cat([x, out], dim=1)


class DenseTransition(nn.Module):
    """BN-ReLU-conv1x1 (compression) then 2x2 average pooling between dense blocks."""

    def __init__(self, in_planes: int, out_planes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(in_planes)
        self.conv = nn.Conv2d(in_planes, out_planes, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class DenseNetBC(nn.Module):
    """DenseNet-BC (Huang et al. 2017) for CIFAR: bottleneck layers and compression.

    A 3x3 conv to 2k channels, three dense blocks of (depth-4)/6 bottleneck layers each,
    transitions halving channels (compression 0.5) and resolution, then BN, ReLU, global
    average pooling, fc. Depth 100, k=12: 16 layers per block, 342 final channels,
    769,162 parameters at 10 classes. Needs inputs of at least 4x4 (two 2x2 poolings).
    """

    # blocks made in a loop (setattr); declared here so type checkers know them
    block1: nn.Sequential
    block2: nn.Sequential
    block3: nn.Sequential
    trans1: nn.Module
    trans2: nn.Module

    def __init__(self, depth: int = 100, growth_rate: int = 12, compression: float = 0.5,
                 num_classes: int = 10, in_channels: int = 3, input_size: int = 32):
        super().__init__()
        if (depth - 4) % 6 != 0:
            raise ConfigError(f"DenseNet-BC depth must be 6n+4, got {depth}")
        self.input_shape = (in_channels, input_size, input_size)
        layers_per_block = (depth - 4) // 6
        planes = 2 * growth_rate
        self.conv1 = nn.Conv2d(in_channels, planes, 3, padding=1, bias=False)
        for index in (1, 2, 3):
            layers = []
            for _ in range(layers_per_block):
                layers.append(DenseBottleneck(planes, growth_rate))
                planes += growth_rate
            setattr(self, f"block{index}", nn.Sequential(*layers))
            if index < 3:
                out_planes = math.floor(planes * compression)
                setattr(self, f"trans{index}", DenseTransition(planes, out_planes))
                planes = out_planes
        self.bn = nn.BatchNorm2d(planes)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(planes, num_classes)
        _init_conv_fan_out(self)

    def forward(self, x):
        x = self.conv1(x)
        x = self.trans1(self.block1(x))
        x = self.trans2(self.block2(x))
        x = F.relu(self.bn(self.block3(x)))
        return self.fc(self.avgpool(x).flatten(1))


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    build: Callable[..., nn.Module]
    defaults: dict             # every accepted argument and its default
    min_input_size: int = 1    # smallest square input the geometry survives


_SPECS: dict[str, _Spec] = {
    "lenet-300-100": _Spec(
        lambda a: LeNet300100(a["in_features"], a["num_classes"]),
        {"in_features": 784, "num_classes": 10}),
    "lenet-5": _Spec(
        lambda a: LeNet5(a["in_channels"], a["input_size"], a["num_classes"]),
        {"in_channels": 1, "input_size": 28, "num_classes": 10}, min_input_size=4),
    "vgg-s": _Spec(
        lambda a: VGGS(a["in_channels"], a["input_size"], a["num_classes"], a["drop_rate"]),
        {"in_channels": 3, "input_size": 32, "num_classes": 10, "drop_rate": 0.5}),
    "resnet18": _Spec(
        lambda a: ResNet18(a["num_classes"], a["in_channels"], a["stem"], a["input_size"]),
        {"num_classes": 1000, "in_channels": 3, "stem": "imagenet", "input_size": None}),
    "wrn-28-10": _Spec(
        lambda a: WideResNet(28, 10, a["num_classes"], a["in_channels"], a["input_size"],
                             a["drop_rate"]),
        {"in_channels": 3, "input_size": 32, "num_classes": 10, "drop_rate": 0.0}),
    "densenet-bc-100": _Spec(
        lambda a: DenseNetBC(100, 12, 0.5, a["num_classes"], a["in_channels"],
                             a["input_size"]),
        {"in_channels": 3, "input_size": 32, "num_classes": 10}, min_input_size=4),
}

MODEL_NAMES: tuple[str, ...] = tuple(_SPECS)


def _canonical_name(name) -> str:
    if not isinstance(name, str):
        raise ConfigError(f"model name must be a string, got {name!r}; "
                          f"valid names: {', '.join(MODEL_NAMES)}")
    key = name.strip().lower().replace("_", "-")
    if key not in _SPECS:
        raise ConfigError(f"unknown model {name!r}; valid names: {', '.join(MODEL_NAMES)}")
    return key


def _positive_int(name: str, field: str, value, minimum: int = 1) -> int:
    # bool is an int subclass; True as a class count is a mistake, not a 1
    maximum = MODEL_ARG_MAX.get(field)  # beyond it, the model fits no machine's memory
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (
            maximum is not None and value > maximum):
        raise ConfigError(f"model {name!r}: {field} must be an integer from {minimum} to "
                          f"{maximum or 'any'}, got {shown(value)}")
    return value


def _resolve_args(name: str, args: dict) -> tuple[str, _Spec, dict]:
    """Check argument names and values; return the canonical name, spec and full arguments."""
    key = _canonical_name(name)
    spec = _SPECS[key]
    unknown = sorted(set(args) - set(spec.defaults))
    if unknown:
        raise ConfigError(f"model {key!r}: unknown argument(s) {', '.join(unknown)}; "
                          f"valid arguments: {', '.join(spec.defaults)}")
    full = {**spec.defaults, **args}
    for field in ("num_classes", "in_channels", "in_features", "depth", "widen_factor",
                  "growth_rate"):
        if field in full:
            _positive_int(key, field, full[field])
    if "compression" in full:
        rate = full["compression"]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
            raise ConfigError(f"model {key!r}: compression must be a number in (0, 1], "
                              f"got {shown(rate)}")
    if "stem" in full and full["stem"] not in RESNET_STEMS:
        raise ConfigError(f"model {key!r}: stem must be one of {', '.join(RESNET_STEMS)}, "
                          f"got {full['stem']!r}")
    if "input_size" in full:
        if full["input_size"] is None:  # resnet18: follows the stem
            full["input_size"] = 224 if full["stem"] == "imagenet" else 32
        _positive_int(key, "input_size", full["input_size"], spec.min_input_size)
    if "drop_rate" in full:
        rate = full["drop_rate"]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ConfigError(f"model {key!r}: drop_rate must be a number in [0, 1), "
                              f"got {rate!r}")
        full["drop_rate"] = float(rate)
    return key, spec, full


def build_model(name: str, *, seed: int | None = None, **args) -> nn.Module:
    """Build model ``name`` (one of ``MODEL_NAMES``; case and ``_``/``-`` are forgiven).

    ``args`` are the model's own arguments (see ``default_input_shape`` and the table in this
    module's docstring); anything else raises ``ConfigError``. With ``seed`` the initial
    weights come from ``torch.manual_seed(seed)`` inside a forked RNG, so the global torch RNG
    is left untouched and the same seed always gives the same weights.
    """
    _, spec, full = _resolve_args(name, args)
    if seed is None:
        return spec.build(full)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"model seed must be an integer, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.build(full)


# What fills a tensor with initial values: torch.nn.init's initialisers and the tensor methods
# a model may call itself. On the meta device they compute nothing, yet the first one imports
# torch's compiler (its meta kernels are Python references), about 1.5 s of a command's start.
_FILLS = frozenset({name for name in dir(nn.init) if name.endswith("_")
                    and not name.startswith("_")} | {
    "normal_", "uniform_", "fill_", "zero_", "random_", "exponential_", "bernoulli_",
    "cauchy_", "log_normal_", "geometric_"})


class _SkipFills(TorchFunctionMode):
    """Returns the tensor a fill was given, unfilled; every other call runs as it would."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", None) in _FILLS:
            return args[0] if args else kwargs["tensor"]
        return func(*args, **kwargs)


def build_model_shapes(name: str, **args) -> nn.Module:
    """Model ``name`` on torch's meta device, for its structure and shapes only: no memory is
    allocated and no initial value is drawn (the initialisers are skipped). Arguments and
    errors as ``build_model``."""
    with torch.device("meta"), _SkipFills():
        return build_model(name, **args)


def default_input_shape(name: str, **args) -> tuple[int, ...]:
    """Per-sample input shape (C, H, W), or (F,) for lenet-300-100, for these arguments."""
    key, _, full = _resolve_args(name, args)
    if key == "lenet-300-100":
        return (full["in_features"],)
    return (full["in_channels"], full["input_size"], full["input_size"])


def model_param_count(model: nn.Module) -> int:
    """Number of parameters (weights, biases, BatchNorm scale and shift); buffers excluded.

    Shared parameters are counted once, as ``model.parameters()`` yields them once.
    """
    return sum(p.numel() for p in model.parameters())
