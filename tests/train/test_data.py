"""Datasets: the embedded digits, tiny IDX and CIFAR files in the real formats, every malformed
case, and deterministic batching."""

import functools
import gzip
import operator
import os
import pickle
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.errors import ConfigError, DataError
from accelsim.train import data as data_module
from accelsim.train.data import (
    DATASET_NAMES,
    DIGITS_NUM_TEST,
    DIGITS_NUM_TRAIN,
    batches,
    load_dataset,
    read_idx,
    to_torch,
)

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# ------------------------------------------------------------------------------- writers

def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """IDX encoding: 0, 0, type code, ndim, big-endian uint32 sizes, then the bytes."""
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_file(path, payload: bytes, gz: bool = False):
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def make_idx_set(folder, n_train=5, n_test=3, side=4, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        IDX_NAMES[0]: rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        IDX_NAMES[1]: rng.integers(0, 10, n_train, dtype=np.uint8),
        IDX_NAMES[2]: rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        IDX_NAMES[3]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    paths = {name: write_file(folder / name, idx_bytes(a), gz) for name, a in arrays.items()}
    return arrays, paths


def cifar_batch(n, seed, label_list=True):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, n)
    return {b"batch_label": b"tiny", b"data": images,
            b"labels": [int(v) for v in labels] if label_list else labels}


def make_cifar_set(folder, n=2):
    folder.mkdir(parents=True, exist_ok=True)
    batches_written = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        batch = cifar_batch(n, i, label_list=i % 2 == 0)
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        batches_written[name] = batch
    return batches_written


# ------------------------------------------------------------------------------- digits

def test_digits_counts_and_scaling():
    d = load_dataset("digits")
    assert (len(d.train_x), len(d.test_x)) == (DIGITS_NUM_TRAIN, DIGITS_NUM_TEST) == (1442, 355)
    assert d.train_x.shape[1:] == d.input_shape == (1, 8, 8)
    assert d.train_x.dtype == np.float32 and d.train_y.dtype == np.int64
    assert d.train_x.min() == 0.0 and d.train_x.max() == 1.0
    assert d.num_classes == 10 and d.name == "digits"
    # stratified: every class gives floor(count / 5) samples to the test split
    assert np.bincount(d.test_y).tolist() == [35, 36, 35, 36, 36, 36, 36, 35, 34, 36]


def test_digits_split_is_deterministic_and_a_partition():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert np.array_equal(a.train_x, b.train_x) and np.array_equal(a.test_y, b.test_y)
    pixels, labels = data_module._load_digits_raw()
    train_idx, test_idx = data_module._digits_split(labels)
    assert len(np.intersect1d(train_idx, test_idx)) == 0
    assert len(train_idx) + len(test_idx) == len(labels) == 1797
    assert np.array_equal(a.test_x.reshape(-1, 64), (pixels[test_idx] / 16).astype(np.float32))
    # pinned: the split is part of the dataset's definition and must never drift
    assert test_idx[:8].tolist() == PINNED_DIGITS_TEST_HEAD


PINNED_DIGITS_TEST_HEAD = [0, 2, 8, 11, 14, 16, 18, 22]


def test_digits_flatten_and_standardize():
    d = load_dataset("digits", flatten=True, standardize=True)
    assert d.input_shape == (64,) and d.train_x.shape == (1442, 64)
    assert abs(float(d.train_x.mean())) < 1e-5 and abs(float(d.train_x.std()) - 1) < 1e-4
    assert len(d.mean) == len(d.std) == 1
    assert "mean" in d.normalization


def test_unknown_dataset_is_config_error():
    with pytest.raises(ConfigError, match=r"imagenet.*digits"):
        load_dataset("imagenet")
    assert DATASET_NAMES == ("digits", "mnist", "fashion-mnist", "cifar10")


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10"])
def test_folder_datasets_need_a_root(name):
    with pytest.raises(DataError, match="root"):
        load_dataset(name)


# ------------------------------------------------------------------------------- IDX

@pytest.mark.parametrize("gz", [False, True])
def test_mnist_loads_raw_and_gz(tmp_path, gz):
    arrays, _ = make_idx_set(tmp_path, gz=gz)
    d = load_dataset("mnist", tmp_path)
    assert d.train_x.shape == (5, 1, 4, 4) and d.test_x.shape == (3, 1, 4, 4)
    assert d.input_shape == (1, 4, 4)
    np.testing.assert_array_equal(d.train_x[:, 0], arrays[IDX_NAMES[0]] / np.float32(255))
    np.testing.assert_array_equal(d.train_y, arrays[IDX_NAMES[1]])
    np.testing.assert_array_equal(d.test_y, arrays[IDX_NAMES[3]])
    assert d.train_y.dtype == np.int64 and d.test_x.dtype == np.float32


def test_fashion_mnist_in_torchvision_layout_and_flatten(tmp_path):
    arrays, _ = make_idx_set(tmp_path / "FashionMNIST" / "raw", side=3)
    d = load_dataset("fashion-mnist", tmp_path, flatten=True)
    assert d.name == "fashion-mnist"
    assert d.input_shape == (9,) and d.train_x.shape == (5, 9)
    np.testing.assert_array_equal(d.test_x * 255, arrays[IDX_NAMES[2]].reshape(3, 9))


def test_read_idx_round_trip(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write_file(tmp_path / "x-idx3-ubyte", idx_bytes(array))
    np.testing.assert_array_equal(read_idx(path), array)


def corrupt(tmp_path, name, payload, gz=False):
    """Write a valid set, then overwrite one file with ``payload``."""
    make_idx_set(tmp_path, gz=gz)
    return write_file(tmp_path / name, payload, gz)


def test_wrong_magic(tmp_path):
    images = np.zeros((5, 4, 4), np.uint8)
    path = corrupt(tmp_path, IDX_NAMES[0], b"\x01\x02" + idx_bytes(images)[2:])
    with pytest.raises(DataError, match=f"{path.name}.*magic"):
        load_dataset("mnist", tmp_path)


def test_wrong_type_code(tmp_path):
    path = corrupt(tmp_path, IDX_NAMES[0], idx_bytes(np.zeros((5, 4, 4)), type_code=0x0D))
    with pytest.raises(DataError, match=f"{path.name}.*unsigned byte"):
        load_dataset("mnist", tmp_path)


def test_labels_file_with_image_dimensions(tmp_path):
    path = corrupt(tmp_path, IDX_NAMES[1], idx_bytes(np.zeros((5, 4, 4))))
    with pytest.raises(DataError, match=f"{path.name}.*3 dimensions, expected 1"):
        load_dataset("mnist", tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data(tmp_path, gz):
    payload = idx_bytes(np.zeros((5, 4, 4), np.uint8))[:-7]
    path = corrupt(tmp_path, IDX_NAMES[0], payload, gz=gz)
    with pytest.raises(DataError, match=f"{path.name}.*truncated.*80 bytes.*found 73"):
        load_dataset("mnist", tmp_path)


def test_truncated_header(tmp_path):
    path = corrupt(tmp_path, IDX_NAMES[2], bytes([0, 0, 8, 3]) + b"\x00\x00\x00\x03\x00")
    with pytest.raises(DataError, match=f"{path.name}.*truncated IDX header"):
        load_dataset("mnist", tmp_path)


def test_empty_file(tmp_path):
    path = corrupt(tmp_path, IDX_NAMES[3], b"")
    with pytest.raises(DataError, match=f"{path.name}.*truncated"):
        load_dataset("mnist", tmp_path)


def test_trailing_bytes(tmp_path):
    path = corrupt(tmp_path, IDX_NAMES[1], idx_bytes(np.zeros(5, np.uint8)) + b"\x00")
    with pytest.raises(DataError, match=f"{path.name}.*trailing"):
        load_dataset("mnist", tmp_path)


def test_label_image_count_mismatch(tmp_path):
    path = corrupt(tmp_path, IDX_NAMES[1], idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DataError, match=f"{path.name}.*4 labels.*5 images"):
        load_dataset("mnist", tmp_path)


def test_label_out_of_range(tmp_path):
    path = corrupt(tmp_path, IDX_NAMES[3], idx_bytes(np.array([1, 10, 2], np.uint8)))
    with pytest.raises(DataError, match=f"{path.name}.*label 10.*0..9"):
        load_dataset("mnist", tmp_path)


def test_train_and_test_image_sizes_differ(tmp_path):
    path = corrupt(tmp_path, IDX_NAMES[2], idx_bytes(np.zeros((3, 5, 5), np.uint8)))
    with pytest.raises(DataError, match=path.name):
        load_dataset("mnist", tmp_path)


def test_corrupt_gzip(tmp_path):
    make_idx_set(tmp_path, gz=True)
    path = tmp_path / (IDX_NAMES[0] + ".gz")
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match=f"{path.name}.*gzip"):
        load_dataset("mnist", tmp_path)


def test_missing_idx_file_names_path_and_expected_names(tmp_path):
    _, paths = make_idx_set(tmp_path)
    os.remove(paths[IDX_NAMES[3]])
    with pytest.raises(DataError) as info:
        load_dataset("mnist", tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "missing t10k-labels-idx1-ubyte" in message
    assert all(name in message for name in IDX_NAMES)


def test_missing_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as info:
        load_dataset("mnist", missing)
    assert str(missing) in str(info.value) and "train-images-idx3-ubyte" in str(info.value)


# ------------------------------------------------------------------------------- CIFAR-10

@pytest.mark.parametrize("subfolder", ["", "cifar-10-batches-py"])
def test_cifar10_loads(tmp_path, subfolder):
    written = make_cifar_set(tmp_path / subfolder if subfolder else tmp_path)
    d = load_dataset("cifar10", tmp_path)
    assert d.train_x.shape == (10, 3, 32, 32) and d.test_x.shape == (2, 3, 32, 32)
    assert d.input_shape == (3, 32, 32) and d.num_classes == 10
    first = written["data_batch_1"]
    # a row is 1024 red, then 1024 green, then 1024 blue values
    np.testing.assert_array_equal(d.train_x[0, 1].ravel() * 255, first[b"data"][0, 1024:2048])
    expected_train_y = np.concatenate([np.asarray(written[f"data_batch_{i}"][b"labels"])
                                       for i in range(1, 6)])
    np.testing.assert_array_equal(d.train_y, expected_train_y)
    np.testing.assert_array_equal(d.test_y, written["test_batch"][b"labels"])
    assert d.train_x.dtype == np.float32 and d.train_y.dtype == np.int64


def test_cifar10_flatten_standardize(tmp_path):
    make_cifar_set(tmp_path)
    d = load_dataset("cifar10", tmp_path, flatten=True, standardize=True)
    assert d.input_shape == (3072,) and d.train_x.shape == (10, 3072)
    assert len(d.mean) == 3


def rewrite_cifar(tmp_path, name, obj=None, raw=None):
    make_cifar_set(tmp_path)
    path = tmp_path / name
    path.write_bytes(raw if raw is not None else pickle.dumps(obj, protocol=2))
    return path


@pytest.mark.parametrize("mutate,expect", [
    (lambda b: b.pop(b"labels"), "keys"),
    (lambda b: b.pop(b"data"), "keys"),
    (lambda b: b.update({b"data": b[b"data"][:, :3000]}), "3072"),
    (lambda b: b.update({b"data": b[b"data"].astype(np.float32)}), "uint8"),
    (lambda b: b.update({b"labels": b[b"labels"][:1]}), "1 labels for 2 images"),
    (lambda b: b.update({b"labels": [0, 10]}), "label 10"),
    (lambda b: b.update({b"labels": [-1, 0]}), "label -1"),
    (lambda b: b.update({b"labels": ["a", "b"]}), "integers"),
])
def test_cifar_malformed_batch(tmp_path, mutate, expect):
    batch = cifar_batch(2, 0)
    mutate(batch)
    path = rewrite_cifar(tmp_path, "data_batch_3", batch)
    with pytest.raises(DataError) as info:
        load_dataset("cifar10", tmp_path)
    assert path.name in str(info.value) and expect in str(info.value)


def test_cifar_not_a_dict(tmp_path):
    path = rewrite_cifar(tmp_path, "test_batch", [1, 2, 3])
    with pytest.raises(DataError, match=f"{path.name}.*dict"):
        load_dataset("cifar10", tmp_path)


def test_cifar_garbage_and_truncated_pickles(tmp_path):
    path = rewrite_cifar(tmp_path, "data_batch_2", raw=b"not a pickle at all")
    with pytest.raises(DataError, match=path.name):
        load_dataset("cifar10", tmp_path)
    good = pickle.dumps(cifar_batch(2, 0), protocol=2)
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match=path.name):
        load_dataset("cifar10", tmp_path)


class _RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def test_cifar_pickle_may_not_call_functions(tmp_path):
    path = rewrite_cifar(tmp_path, "data_batch_1", {b"data": _RunsCode(), b"labels": []})
    with pytest.raises(DataError, match=f"{path.name}.*refusing"):
        load_dataset("cifar10", tmp_path)


def test_cifar_pickle_protocol_5_and_str_keys(tmp_path):
    make_cifar_set(tmp_path)
    batch = cifar_batch(2, 9)
    (tmp_path / "test_batch").write_bytes(
        pickle.dumps({"data": batch[b"data"], "labels": batch[b"labels"]}, protocol=5))
    d = load_dataset("cifar10", tmp_path)
    np.testing.assert_array_equal(d.test_y, batch[b"labels"])


def test_cifar_missing_file(tmp_path):
    make_cifar_set(tmp_path)
    os.remove(tmp_path / "data_batch_4")
    with pytest.raises(DataError) as info:
        load_dataset("cifar10", tmp_path)
    message = str(info.value)
    assert "data_batch_4" in message and str(tmp_path) in message and "test_batch" in message


# ------------------------------------------------------------------------------- batches

def test_batches_deterministic_per_seed_and_epoch():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    run = lambda **kw: [yb.tolist() for _, yb in batches(x, y, 4, **kw)]  # noqa: E731
    assert run(seed=1, epoch=0) == run(seed=1, epoch=0)
    assert run(seed=1, epoch=0) != run(seed=1, epoch=1)
    assert run(seed=1, epoch=0) != run(seed=2, epoch=0)
    assert [len(b) for b in run(seed=1, epoch=0)] == [4, 4, 2]
    assert run(shuffle=False) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert run(shuffle=False, drop_last=True) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    # pinned: the order is a hash permutation, independent of numpy's RNG streams
    assert functools.reduce(operator.iadd, run(seed=0, epoch=0), []) == PINNED_ORDER_SEED0_EPOCH0
    for xb, yb in batches(x, y, 3, seed=5, epoch=2):
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)  # rows stay with their labels


PINNED_ORDER_SEED0_EPOCH0 = [0, 9, 1, 6, 3, 5, 4, 2, 8, 7]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 200), batch_size=st.integers(1, 64), seed=st.integers(0, 2**64 - 1),
       epoch=st.integers(0, 10_000), drop_last=st.booleans())
def test_batches_visit_each_sample_at_most_once(n, batch_size, seed, epoch, drop_last):
    y = np.arange(n)
    got = [yb for _, yb in batches(y, y, batch_size, seed=seed, epoch=epoch,
                                   drop_last=drop_last)]
    assert all(len(b) == batch_size for b in got[:-1])
    seen = np.concatenate(got) if got else np.array([], dtype=int)
    assert len(np.unique(seen)) == len(seen)
    assert len(seen) == (n - n % batch_size if drop_last else n)


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"batch_size": 2.5},
                                    {"batch_size": 2, "seed": -1},
                                    {"batch_size": 2, "epoch": True}])
def test_batches_bad_arguments(kwargs):
    y = np.arange(4)
    with pytest.raises(ConfigError):
        list(batches(y, y, **kwargs))
    with pytest.raises(ConfigError, match="3"):
        list(batches(y, y[:3], 2))


def test_to_torch_dtypes():
    torch = pytest.importorskip("torch")
    xt, yt = to_torch(np.zeros((2, 3), np.float64), np.array([1, 2], np.uint8))
    assert xt.dtype == torch.float32 and yt.dtype == torch.int64
    assert to_torch(np.zeros(2)).shape == (2,)
