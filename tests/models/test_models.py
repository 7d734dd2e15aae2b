"""Model zoo: published parameter counts, forward shapes, torchvision layout, argument checks."""

import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from accelsim.errors import ConfigError
from accelsim.models import (
    MODEL_NAMES,
    build_model,
    build_model_shapes,
    default_input_shape,
    model_param_count,
)

# Published figures (see the module docstring for sources); VGG-S is checked separately.
PUBLISHED_COUNTS = [
    ("resnet18", {"num_classes": 1000}, 11_689_512),
    ("lenet-300-100", {}, 266_610),
    ("lenet-5", {}, 61_706),
    ("wrn-28-10", {"num_classes": 10}, 36_479_194),
    ("densenet-bc-100", {"num_classes": 10}, 769_162),
]


@pytest.mark.parametrize("name,args,count", PUBLISHED_COUNTS)
def test_published_parameter_counts(name, args, count):
    assert model_param_count(build_model(name, **args)) == count


def test_vgg_s_is_about_15_million():
    count = model_param_count(build_model("vgg-s"))
    assert abs(count - 15_000_000) <= 500_000
    assert count == 14_986_698  # the figure in the module docstring


def test_resnet18_cifar_stem_count():
    # the usual CIFAR ResNet-18 (3x3 stem, no max pool) has 11,173,962 parameters
    model = build_model("resnet18", stem="cifar", num_classes=10)
    assert model_param_count(model) == 11_173_962
    assert isinstance(model.maxpool, nn.Identity)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)


def test_param_count_counts_batchnorm_but_not_buffers():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    assert model_param_count(model) == 3 * 2 + 2 + 2 + 2


@pytest.mark.parametrize("name,args,batch_shape,classes", [
    ("lenet-300-100", {}, (3, 784), 10),
    ("lenet-300-100", {}, (3, 1, 28, 28), 10),          # images are flattened inside
    ("lenet-300-100", {"in_features": 64, "num_classes": 4}, (2, 1, 8, 8), 4),
    ("lenet-5", {}, (2, 1, 28, 28), 10),
    ("lenet-5", {"input_size": 8}, (2, 1, 8, 8), 10),
    ("lenet-5", {"input_size": 4}, (2, 1, 4, 4), 10),
    ("lenet-5", {"in_channels": 3, "input_size": 32}, (2, 3, 32, 32), 10),
    ("vgg-s", {}, (1, 3, 32, 32), 10),
    ("vgg-s", {"input_size": 8, "in_channels": 1}, (2, 1, 8, 8), 10),
    ("resnet18", {}, (1, 3, 64, 64), 1000),
    ("resnet18", {"stem": "cifar", "num_classes": 10}, (1, 3, 32, 32), 10),
    ("resnet18", {"stem": "cifar", "in_channels": 1, "input_size": 8}, (2, 1, 8, 8), 1000),
    ("wrn-28-10", {}, (1, 3, 32, 32), 10),
    ("densenet-bc-100", {}, (1, 3, 32, 32), 10),
    ("densenet-bc-100", {"input_size": 8, "in_channels": 1, "num_classes": 7},
     (2, 1, 8, 8), 7),
])
def test_forward_shape(name, args, batch_shape, classes):
    model = build_model(name, **args).eval()
    with torch.no_grad():
        out = model(torch.rand(batch_shape))
    assert out.shape == (batch_shape[0], classes)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("input_size,features", [(28, 400), (32, 576), (12, 16), (8, 64)])
def test_lenet5_geometry_adapts_to_input_size(input_size, features):
    assert build_model("lenet-5", input_size=input_size).fc1.in_features == features


def test_lenet5_trains_on_8x8():
    torch.manual_seed(0)
    model = build_model("lenet-5", input_size=8, seed=0)
    x, y = torch.rand(16, 1, 8, 8), torch.randint(0, 10, (16,))
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_resnet18_matches_torchvision_layout():
    model = build_model("resnet18")
    keys = list(model.state_dict())
    assert len(keys) == 122  # torchvision resnet18: 62 parameters + 60 BN buffers
    assert keys[:2] == ["conv1.weight", "bn1.weight"]
    assert keys[-2:] == ["fc.weight", "fc.bias"]
    params = [n for n, _ in model.named_parameters()]
    block = [n for n in params if n.startswith("layer2.0.")]
    assert block == [
        "layer2.0.conv1.weight", "layer2.0.bn1.weight", "layer2.0.bn1.bias",
        "layer2.0.conv2.weight", "layer2.0.bn2.weight", "layer2.0.bn2.bias",
        "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight",
        "layer2.0.downsample.1.bias",
    ]
    assert "layer1.0.downsample.0.weight" not in params  # no projection where shapes agree
    assert all(not isinstance(m, nn.Conv2d) or m.bias is None for m in model.modules())
    assert model.conv1.weight.shape == (64, 3, 7, 7)
    assert model.layer4[1].conv2.weight.shape == (512, 512, 3, 3)


def test_wrn_widths():
    model = build_model("wrn-28-10")
    assert model.conv1.out_channels == 16
    assert [len(getattr(model, f"block{i}")) for i in (1, 2, 3)] == [4, 4, 4]
    assert [getattr(model, f"block{i}")[0].conv1.out_channels for i in (1, 2, 3)] == \
        [160, 320, 640]
    assert model.fc.in_features == 640


def test_densenet_channels():
    model = build_model("densenet-bc-100")
    assert len(model.block1) == 16
    assert model.trans1.conv.out_channels == 108 and model.trans2.conv.out_channels == 150
    assert model.fc.in_features == 342


@pytest.mark.parametrize("name,args,shape", [
    ("lenet-300-100", {}, (784,)),
    ("lenet-300-100", {"in_features": 64}, (64,)),
    ("lenet-5", {}, (1, 28, 28)),
    ("lenet-5", {"input_size": 8}, (1, 8, 8)),
    ("vgg-s", {}, (3, 32, 32)),
    ("resnet18", {}, (3, 224, 224)),
    ("resnet18", {"stem": "cifar"}, (3, 32, 32)),
    ("resnet18", {"stem": "cifar", "input_size": 64}, (3, 64, 64)),
    ("wrn-28-10", {"in_channels": 1}, (1, 32, 32)),
    ("densenet-bc-100", {}, (3, 32, 32)),
])
def test_default_input_shape(name, args, shape):
    assert default_input_shape(name, **args) == shape


@pytest.mark.parametrize("name", ["lenet-300-100", "lenet-5", "resnet18"])
def test_model_records_its_input_shape(name):
    assert build_model(name).input_shape == default_input_shape(name)


def test_names_are_forgiving_about_case_and_underscores():
    assert set(MODEL_NAMES) == {"lenet-300-100", "lenet-5", "vgg-s", "resnet18", "wrn-28-10",
                                "densenet-bc-100"}
    assert model_param_count(build_model("LeNet_300_100")) == 266_610


def test_unknown_model_lists_valid_names():
    with pytest.raises(ConfigError) as info:
        build_model("alexnet")
    message = str(info.value)
    assert "alexnet" in message and "\n" not in message
    assert all(name in message for name in MODEL_NAMES)


def test_unknown_argument_lists_valid_arguments():
    with pytest.raises(ConfigError) as info:
        build_model("lenet-5", depth=3)
    message = str(info.value)
    assert "depth" in message and "in_channels" in message and "num_classes" in message


@pytest.mark.parametrize("name,args", [
    ("lenet-300-100", {"num_classes": 0}),
    ("lenet-300-100", {"num_classes": True}),
    ("lenet-300-100", {"in_features": 7.5}),
    ("lenet-5", {"input_size": 3}),
    ("densenet-bc-100", {"input_size": 2}),
    ("resnet18", {"stem": "tiny"}),
    ("resnet18", {"in_channels": -1}),
    ("vgg-s", {"drop_rate": 1.0}),
    ("wrn-28-10", {"drop_rate": "0.3"}),
])
def test_bad_argument_values(name, args):
    with pytest.raises(ConfigError) as info:
        build_model(name, **args)
    assert next(iter(args)) in str(info.value)
    with pytest.raises(ConfigError):
        default_input_shape(name, **args)


def test_seed_gives_same_weights_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = build_model("lenet-5", seed=7)
    b = build_model("lenet-5", seed=7)
    c = build_model("lenet-5", seed=8)
    assert torch.rand(1).item() == expected_next.item()
    for pa, pb, _pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)
    with pytest.raises(ConfigError):
        build_model("lenet-5", seed="7")


def test_lenet_300_100_learns_the_embedded_digits():
    # end to end with the data module: a few epochs of plain SGD must clearly learn
    from accelsim.train.data import batches, load_dataset, to_torch

    data = load_dataset("digits", flatten=True)
    model = build_model("lenet-300-100", in_features=64, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for epoch in range(5):
        for xb, yb in batches(data.train_x, data.train_y, 32, seed=0, epoch=epoch):
            xb, yb = to_torch(xb, yb)
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
    with torch.no_grad():
        predicted = model(to_torch(data.test_x)).argmax(1).numpy()
    assert (predicted == data.test_y).mean() > 0.85  # 0.94 here


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shapes_only_build_has_the_models_parameters_and_buffers(name):
    """The same names, shapes and dtypes as the real model, all on the meta device."""
    real, shapes = build_model(name, seed=0), build_model_shapes(name)
    for kind in ("named_parameters", "named_buffers"):
        got = {k: (tuple(t.shape), t.dtype, t.device.type) for k, t in getattr(shapes, kind)()}
        want = {k: (tuple(t.shape), t.dtype, "meta") for k, t in getattr(real, kind)()}
        assert got == want, kind
    assert model_param_count(shapes) == model_param_count(real)


def test_shapes_only_build_skips_only_the_fills():
    """An initialiser is skipped (nothing to fill on meta); other in-place ops still run, so a
    shape-changing call keeps its effect."""
    with torch.device("meta"):
        from accelsim.models import _SkipFills

        with _SkipFills():
            t = torch.empty(2, 3)
            assert nn.init.kaiming_uniform_(t) is t
            assert t.normal_() is t and nn.init.zeros_(tensor=t) is t
            t.resize_(4, 5)
    assert tuple(t.shape) == (4, 5) and t.device.type == "meta"


def test_shapes_only_build_does_not_import_torchs_compiler():
    """Why it exists: on meta, torch's fills import torch._dynamo (seconds of a command's
    start, e.g. `accelsim trace --synthetic`)."""
    code = ("import sys; from accelsim.models import MODEL_NAMES, build_model_shapes\n"
            "for name in MODEL_NAMES: build_model_shapes(name)\n"
            "print('torch._dynamo' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
