"""Sparse checkpoint: bit-exact rebuild, determinism, and refusal of bad files."""

import copy
import hashlib
import json
import struct

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from accelsim.dropback import checkpoint as ckpt
from accelsim.dropback.checkpoint import (
    checkpoint_sizes,
    load_checkpoint,
    read_checkpoint_header,
    restore_dropback,
    save_checkpoint,
)
from accelsim.dropback.optimizer import DropBack
from accelsim.errors import CheckpointError

torch.set_num_threads(1)


def make_mlp(width=16):
    return nn.Sequential(nn.Linear(12, width), nn.ReLU(), nn.Linear(width, 4))


def make_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), nn.ReLU(),
                         nn.Flatten(), nn.Linear(6 * 4 * 4, 4))


def make_bn_cnn(norm=True):
    norm_layer = nn.BatchNorm2d if norm else (lambda channels: nn.Identity())
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), norm_layer(4), nn.ReLU(),
                         nn.Conv2d(4, 4, 3, padding=1), norm_layer(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4))


BUILDERS = {"mlp": make_mlp, "cnn": make_cnn, "bn_cnn": make_bn_cnn}
INPUT_SHAPES = {"mlp": (12,), "cnn": (1, 8, 8), "bn_cnn": (1, 8, 8)}


def builder(name, **args):
    return BUILDERS[name](**args)


def train(name, steps=6, dense=False, seed=3, optimizer_cls=torch.optim.Adam, **args):
    torch.manual_seed(0)
    model = builder(name, **args)
    optimizer = optimizer_cls(model.parameters(), lr=0.01)
    dropback = None if dense else DropBack(model, optimizer, compression=5, seed=seed)
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        inputs = torch.randn(8, *INPUT_SHAPES[name], generator=generator)
        labels = torch.randint(0, 4, (8,), generator=generator)
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(inputs), labels).backward()
        dropback.step() if dropback else optimizer.step()
    return model, optimizer, dropback


def save(path, model, dropback, name="mlp", args=None, **kwargs):
    return save_checkpoint(path, model, dropback, model_name=name, model_args=args or {},
                           seed=3, **kwargs)


def states_equal(a, b):
    a, b = a.state_dict(), b.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


# ------------------------------------------------------------------ exact rebuild
@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("dense", [False, True])
def test_rebuild_is_bit_exact(tmp_path, name, dense):
    model, _, dropback = train(name, dense=dense)
    path = save(tmp_path / "model.ckpt", model, dropback, name=name)
    loaded = load_checkpoint(path, builder=builder)
    assert states_equal(loaded.model, model)
    model.eval()
    loaded.model.eval()
    inputs = torch.randn(5, *INPUT_SHAPES[name])
    assert torch.equal(loaded.model(inputs), model(inputs))
    if dense:
        assert all(mask.all() for mask in loaded.tracked_masks.values())
        assert loaded.meta["budget"]["mode"] == "dense"
    else:
        expected = dropback.tracked_masks()
        assert all(torch.equal(loaded.tracked_masks[i], expected[i]) for i in expected)
        assert loaded.meta["budget"] == {"tracked_count": dropback.budget,
                                         "param_count": dropback.param_count, "mode": "global"}
    assert loaded.optimizer_state is None
    assert loaded.meta["seed"] == 3 and loaded.meta["model"] == {"name": name, "args": {}}
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left nothing behind


def test_model_args_and_extra_travel(tmp_path):
    model, _, dropback = train("mlp", width=24)
    path = save(tmp_path / "w.ckpt", model, dropback, args={"width": 24},
                extra={"accuracy": 0.5, "epoch": 2})
    loaded = load_checkpoint(path, builder=builder)
    assert states_equal(loaded.model, model)
    assert loaded.extra == {"accuracy": 0.5, "epoch": 2}
    assert read_checkpoint_header(path)["model"]["args"] == {"width": 24}


def test_sparse_file_is_smaller_and_sizes_are_reported(tmp_path):
    model, _, dropback = train("cnn")
    sparse = save(tmp_path / "sparse.ckpt", model, dropback, name="cnn")
    dense = save(tmp_path / "dense.ckpt", model, None, name="cnn")
    sizes = checkpoint_sizes(sparse)
    assert sizes["sparse_bytes"] == sparse.stat().st_size
    assert sizes["dense_bytes"] == 4 * dropback.param_count  # no buffers in this model
    assert sparse.stat().st_size < dense.stat().st_size
    # tracked values (4 bytes) + int32 indices (4 bytes) + header
    assert sizes["sparse_bytes"] < 8 * dropback.budget + 8192


def test_bytes_are_deterministic(tmp_path):
    model, _, dropback = train("bn_cnn")
    first = save(tmp_path / "a.ckpt", model, dropback, name="bn_cnn", optimizer_state=True)
    second = save(tmp_path / "b.ckpt", model, dropback, name="bn_cnn", optimizer_state=True)
    assert first.read_bytes() == second.read_bytes()
    # and again from a rebuilt model, densely
    loaded = load_checkpoint(first, builder=builder)
    third = save(tmp_path / "c.ckpt", loaded.model, None, name="bn_cnn")
    fourth = save(tmp_path / "d.ckpt", model, None, name="bn_cnn")
    assert third.read_bytes() == fourth.read_bytes()


# ------------------------------------------------------------------ resume through a file
@pytest.mark.parametrize("optimizer_cls", [torch.optim.Adam, torch.optim.SGD])
def test_resume_from_checkpoint_is_bit_exact(tmp_path, optimizer_cls):
    reference, _, _ = train("bn_cnn", steps=8, optimizer_cls=optimizer_cls)

    model, _, dropback = train("bn_cnn", steps=4, optimizer_cls=optimizer_cls)
    path = save(tmp_path / "r.ckpt", model, dropback, name="bn_cnn", optimizer_state=True)
    loaded = load_checkpoint(path, builder=builder)
    optimizer = optimizer_cls(loaded.model.parameters(), lr=0.01)
    dropback = restore_dropback(loaded, optimizer)
    assert dropback.step_count == 4
    generator = torch.Generator().manual_seed(1)
    for step in range(8):
        inputs = torch.randn(8, 1, 8, 8, generator=generator)
        labels = torch.randint(0, 4, (8,), generator=generator)
        if step < 4:
            continue  # the first four batches were used before saving
        dropback.zero_grad()
        nn.functional.cross_entropy(loaded.model(inputs), labels).backward()
        dropback.step()
    assert states_equal(loaded.model, reference)


def test_restore_without_state_raises(tmp_path):
    model, _, dropback = train("mlp")
    loaded = load_checkpoint(save(tmp_path / "n.ckpt", model, dropback), builder=builder)
    with pytest.raises(CheckpointError, match="no DropBack state"):
        restore_dropback(loaded, torch.optim.SGD(loaded.model.parameters(), lr=0.1))


# ------------------------------------------------------------------ refusing bad files
def _assert_one_line_error(error_info, path, fragment):
    message = str(error_info.value)
    assert "\n" not in message and str(path) in message and fragment in message, message


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    model, _, dropback = train("bn_cnn", steps=3)
    path = tmp_path_factory.mktemp("good") / "good.ckpt"
    save(path, model, dropback, name="bn_cnn", optimizer_state=True)
    return path.read_bytes()


@pytest.mark.parametrize("keep", [0, 5, 16, 40, 64, 100, -1])
def test_truncated_file_raises(tmp_path, good_file, keep):
    path = tmp_path / "cut.ckpt"
    path.write_bytes(good_file[:keep if keep >= 0 else len(good_file) - 1])
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path, builder=builder)
    _assert_one_line_error(error, path, "truncated")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_flipped_byte_raises(tmp_path, good_file, data):
    position = data.draw(st.integers(0, len(good_file) - 1))
    flip = data.draw(st.integers(1, 255))
    corrupt = bytearray(good_file)
    corrupt[position] ^= flip
    path = tmp_path / "flipped.ckpt"
    path.write_bytes(bytes(corrupt))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path, builder=builder)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_flips_in_each_region_raise(tmp_path, good_file):
    header_size = struct.unpack_from("<Q", good_file, 24)[0]
    regions = [(3, "bad magic"), (20, "truncated"), (26, "checksum"), (40, "checksum"),
               (70, "checksum"), (64 + header_size + 3, "checksum"),
               (len(good_file) - 1, "checksum")]
    for position, fragment in regions:
        corrupt = bytearray(good_file)
        corrupt[position] ^= 0x10
        path = tmp_path / f"flip{position}.ckpt"
        path.write_bytes(bytes(corrupt))
        with pytest.raises(CheckpointError) as error:
            load_checkpoint(path, builder=builder)
        assert fragment in str(error.value) or "corrupt" in str(error.value), position


def test_trailing_bytes_raise(tmp_path, good_file):
    path = tmp_path / "long.ckpt"
    path.write_bytes(good_file + b"\x00")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path, builder=builder)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04" + b"\x00" * 100, b"{\"format\": 1}",
                                     torch.__name__.encode() * 50])
def test_wrong_format_raises(tmp_path, content):
    path = tmp_path / "other.bin"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path, builder=builder)
    assert str(path) in str(error.value)


def test_missing_file_raises(tmp_path):
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "absent.ckpt", builder=builder)


def _rewrite_header(data: bytes, change) -> bytes:
    """Edit a checkpoint's header and re-seal it, following the documented layout."""
    header_size = struct.unpack_from("<Q", data, 24)[0]
    header = json.loads(data[64:64 + header_size])
    change(header)
    payload = data[64 + header_size:]
    header_bytes = json.dumps(header, sort_keys=True).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)
    body = header_bytes + payload
    lengths = ckpt.MAGIC + struct.pack("<QQ", 64 + len(body), len(header_bytes))
    return lengths + hashlib.sha256(lengths + body).digest() + body


def test_documented_layout_reseals_to_a_valid_file(tmp_path, good_file):
    path = tmp_path / "resealed.ckpt"
    path.write_bytes(_rewrite_header(good_file, lambda header: None))
    load_checkpoint(path, builder=builder)


@pytest.mark.parametrize("change,fragment", [
    (lambda h: h["generator"].update(version=2), "unknown weight generator"),
    (lambda h: h["generator"].update(id="mt19937"), "unknown weight generator"),
    (lambda h: h.update(format_version=99), "format version 99"),
    (lambda h: h.update(format="something-else"), "not an accelsim checkpoint"),
    (lambda h: h["arrays"]["layer0.values"].update(nbytes=10**9), "does not fit"),
])
def test_header_problems_raise(tmp_path, good_file, change, fragment):
    path = tmp_path / "edited.ckpt"
    path.write_bytes(_rewrite_header(good_file, change))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path, builder=builder)
    _assert_one_line_error(error, path, fragment)


@pytest.mark.parametrize("wrong_builder,fragment", [
    (lambda name, **args: make_cnn(), "model mismatch"),  # different layers
    (lambda name, **args: make_bn_cnn(norm=False), "model mismatch"),  # BN missing
    (lambda name, **args: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False),
                                        nn.BatchNorm2d(4), nn.ReLU(),
                                        nn.Conv2d(4, 4, 5, padding=2), nn.BatchNorm2d(4),
                                        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                        nn.Linear(4, 4)),
     "model mismatch at layer 1"),  # one kernel shape differs
    (lambda name, **args: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False),
                                        nn.BatchNorm2d(4), nn.ReLU(),
                                        nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4),
                                        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                        nn.Linear(4, 4, bias=False)),
     "model mismatch at layer 2"),  # a bias is missing
])
def test_model_mismatch_raises(tmp_path, good_file, wrong_builder, fragment):
    path = tmp_path / "good.ckpt"
    path.write_bytes(good_file)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path, builder=wrong_builder)
    _assert_one_line_error(error, path, fragment)


def test_saving_a_model_whose_untracked_weights_moved_raises(tmp_path):
    model, _, dropback = train("mlp")
    with torch.no_grad():
        model[0].weight.add_(0.5)
    with pytest.raises(CheckpointError, match="untracked weights differ"):
        save(tmp_path / "bad.ckpt", model, dropback)


def test_optimizer_state_dict_round_trips(tmp_path):
    model, optimizer, dropback = train("cnn", optimizer_cls=torch.optim.Adam)
    state = dropback.state_dict()
    path = save(tmp_path / "s.ckpt", model, dropback, name="cnn", optimizer_state=True)
    restored = load_checkpoint(path, builder=builder).optimizer_state
    assert restored.keys() == state.keys()
    assert torch.equal(restored["tracked_index"], state["tracked_index"])
    inner, inner_restored = state["optimizer"], restored["optimizer"]
    assert inner_restored["param_groups"] == inner["param_groups"]
    for key, values in inner["state"].items():
        for name, value in values.items():
            assert torch.equal(inner_restored["state"][key][name], value)
    # a plain dict of a dense run is stored as given
    plain = copy.deepcopy(optimizer.state_dict())
    path = save(tmp_path / "d.ckpt", model, None, name="cnn", optimizer_state=plain)
    assert load_checkpoint(path, builder=builder).optimizer_state["param_groups"] == \
        plain["param_groups"]
