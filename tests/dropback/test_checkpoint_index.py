"""The sparse checkpoint's compact index: encodings, old files, size, malformed words."""

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_checkpoint import builder, save, states_equal
from torch import nn

from accelsim.dropback import checkpoint as ckpt
from accelsim.dropback.checkpoint import (
    checkpoint_sizes,
    load_checkpoint,
    read_checkpoint_header,
    restore_dropback,
)
from accelsim.dropback.optimizer import DropBack
from accelsim.dropback.sparse_index import (
    ENCODINGS,
    IndexFormatError,
    decode_index,
    encode_index,
    encoded_bytes,
)
from accelsim.errors import CheckpointError

DATA = Path(__file__).parents[1] / "data"


# ------------------------------------------------------------------ the encodings
@st.composite
def position_sets(draw):
    """(ascending distinct positions, n), with gaps from 0 to past 2**16."""
    gaps = draw(st.lists(st.one_of(st.integers(0, 3), st.integers(0, 300),
                                   st.integers(65_000, 140_000)), max_size=40))
    positions = np.cumsum(np.array(gaps, dtype=np.int64) + 1) - 1
    n = int(positions[-1]) + 1 + draw(st.integers(0, 20)) if len(gaps) else draw(
        st.integers(0, 50))
    return positions, n


@settings(max_examples=150, deadline=None)
@given(position_sets())
def test_every_encoding_round_trips_and_the_smallest_is_chosen(case):
    positions, n = case
    sizes = encoded_bytes(positions, n)
    for name in ENCODINGS:
        words = ckpt_words(positions, n, name)
        assert words.nbytes == sizes[name]
        assert np.array_equal(decode_index(name, words, n), positions)
    chosen, words = encode_index(positions, n)
    assert words.nbytes == min(sizes.values())
    assert sizes[chosen] == min(sizes.values())
    assert np.array_equal(decode_index(chosen, words, n), positions)


def ckpt_words(positions, n, name):
    chosen, words = encode_index(positions, n, name)
    assert chosen == name
    return words


def test_gap_escapes_are_counted_and_decoded():
    # gaps 0, 254, 255, 509, 510: 1, 1, 2, 2, 3 words of 8 bits
    positions = np.cumsum(np.array([0, 254, 255, 509, 510]) + 1) - 1
    n = int(positions[-1]) + 1
    assert encoded_bytes(positions, n)["gap8"] == 9
    words = ckpt_words(positions, n, "gap8")
    assert words.tolist() == [0, 254, 255, 0, 255, 254, 255, 255, 0]
    assert np.array_equal(decode_index("gap8", words, n), positions)


def test_dense_sets_choose_the_bitmap_sparse_ones_the_gaps():
    n = 10_000
    assert encode_index(np.arange(0, n, 2), n)[0] == "bitmap"
    assert encode_index(np.arange(0, n, 40), n)[0] == "gap8"
    assert encode_index(np.arange(0, 10 * n, 1000), 10 * n)[0] == "gap16"


@pytest.mark.parametrize("name,words,n,fragment", [
    ("gap8", np.array([3, 255], dtype=np.uint8), 600, "escape word"),
    ("gap8", np.array([3, 9], dtype=np.uint8), 10, "below 10"),
    ("gap8", np.array([3], dtype=np.int16), 10, "uint8 words"),
    ("gap16", np.array([-1], dtype=np.int16), 10**6, "escape word"),
    ("bitmap", np.array([0xFF, 0x04], dtype=np.uint8), 10, "padding bits"),
    ("bitmap", np.array([0xFF], dtype=np.uint8), 10, "2 uint8 bytes"),
    ("runs", np.array([1], dtype=np.uint8), 10, "index_encoding"),
])
def test_malformed_words_raise_one_line(name, words, n, fragment):
    with pytest.raises(IndexFormatError) as error:
        decode_index(name, words, n)
    assert fragment in str(error.value) and "\n" not in str(error.value)


# ------------------------------------------------------------------ in the checkpoint
def test_version_1_files_still_load():
    """Files written by format version 1 (raw int32 positions; saved before this change)
    rebuild the same model as the dense file saved with them, and resume."""
    sparse, dense = DATA / "checkpoint_v1_cnn.ckpt", DATA / "checkpoint_v1_cnn_dense.ckpt"
    assert read_checkpoint_header(sparse)["format_version"] == 1
    loaded = load_checkpoint(sparse, builder=builder)
    assert states_equal(loaded.model, load_checkpoint(dense, builder=builder).model)
    budget = loaded.meta["budget"]["tracked_count"]
    assert sum(int(mask.sum()) for mask in loaded.tracked_masks.values()) == budget
    dropback = restore_dropback(loaded, torch.optim.Adam(loaded.model.parameters(), lr=0.01))
    assert dropback.untracked_at_initial()


def test_new_files_are_smaller_than_version_1_and_rebuild_the_same_model(tmp_path):
    """The version-1 file's training state, saved again now: same model, fewer bytes.

    Re-saved from the loaded file rather than retrained: retraining on another CPU can pick
    other top-k sets (float rounding differs between processor families)."""
    old = DATA / "checkpoint_v1_cnn.ckpt"
    loaded = load_checkpoint(old, builder=builder)
    dropback = restore_dropback(loaded, torch.optim.Adam(loaded.model.parameters(), lr=0.01))
    path = save(tmp_path / "v2.ckpt", loaded.model, dropback, name="cnn", optimizer_state=True)
    assert states_equal(load_checkpoint(path, builder=builder).model,
                        load_checkpoint(old, builder=builder).model)
    header = read_checkpoint_header(path)
    assert header["format_version"] == ckpt.FORMAT_VERSION == 2
    assert path.stat().st_size < old.stat().st_size


@pytest.mark.parametrize("compression,encoding", [(25, "gap8"), (1.5, "bitmap")])
def test_typical_budget_index_costs_about_a_byte(tmp_path, compression, encoding):
    """A LeNet-300-100-sized first layer at 25x: the index is about a byte per tracked value
    (version 1: 4), and the whole file under 5.5 bytes per tracked value plus the header."""
    model, dropback = lenet_like(compression)
    path = save_model(tmp_path / "lenet.ckpt", model, dropback)
    header = read_checkpoint_header(path)
    assert header["layers"][0]["index_encoding"] == encoding
    index_bytes = sum(header["arrays"][entry["index"]]["nbytes"] for entry in header["layers"])
    tracked = dropback.budget
    v1_index_bytes = 4 * tracked
    assert index_bytes < v1_index_bytes / 2
    if encoding == "gap8":
        assert index_bytes < 1.2 * tracked
        assert checkpoint_sizes(path)["sparse_bytes"] < 5.5 * tracked + 4096
    loaded = load_checkpoint(path, builder=lambda name, **args: make_lenet_like())
    assert states_equal(loaded.model, model)


def make_lenet_like():
    return nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 10))


def lenet_like(compression):
    torch.manual_seed(0)
    model = make_lenet_like()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    dropback = DropBack(model, optimizer, compression=compression)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(16, 784)).square().mean().backward()
        dropback.step()
    return model, dropback


def save_model(path, model, dropback):
    return ckpt.save_checkpoint(path, model, dropback, model_name="mlp", model_args={}, seed=0)


def _reseal(data: bytes, change_header=None, change_payload=None) -> bytes:
    """Edit a checkpoint's header or payload and re-seal it (documented layout)."""
    header_size = struct.unpack_from("<Q", data, 24)[0]
    header = json.loads(data[64:64 + header_size])
    payload = bytearray(data[64 + header_size:])
    if change_header:
        change_header(header)
    if change_payload:
        change_payload(header, payload)
    header_bytes = json.dumps(header, sort_keys=True).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)
    body = header_bytes + bytes(payload)
    lengths = ckpt.MAGIC + struct.pack("<QQ", 64 + len(body), len(header_bytes))
    return lengths + hashlib.sha256(lengths + body).digest() + body


def _set_last_index_word(value):
    def change(header, payload):
        spec = header["arrays"][header["layers"][0]["index"]]
        payload[spec["offset"] + spec["nbytes"] - 1] = value
    return change


@pytest.mark.parametrize("change_header,change_payload,fragment", [
    (lambda h: h["layers"][0].update(index_encoding="runs"), None, "index_encoding"),
    (lambda h: h["layers"][0].pop("index_encoding"), None, "index_encoding"),
    (lambda h: h["layers"][0].update(index_encoding="gap16"), None, "words"),
    (None, _set_last_index_word(255), "escape word"),
    (lambda h: h["layers"][0].update(tracked_count=h["layers"][0]["tracked_count"] + 1), None,
     "expected all equal"),
])
def test_malformed_index_in_a_file_raises_one_line(tmp_path, change_header, change_payload,
                                                   fragment):
    model, dropback = lenet_like(25)
    good = save_model(tmp_path / "good.ckpt", model, dropback).read_bytes()
    assert read_checkpoint_header(tmp_path / "good.ckpt")["layers"][0]["index_encoding"] == \
        "gap8"
    path = tmp_path / "bad.ckpt"
    path.write_bytes(_reseal(good, change_header, change_payload))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path, builder=lambda name, **args: make_lenet_like())
    message = str(error.value)
    assert "\n" not in message and str(path) in message and fragment in message, message
