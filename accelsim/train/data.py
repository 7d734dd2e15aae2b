"""Datasets as plain numpy arrays: one embedded default, three read from a folder the user names.

Nothing is ever downloaded. ``digits`` ships inside accelsim (``accelsim/data/digits.npz``);
``mnist``, ``fashion-mnist`` and ``cifar10`` are read from their standard distribution files
in ``root``:

===============  =================================================================  ==========
name             files in ``root``                                                  scaling
===============  =================================================================  ==========
digits           none (embedded ``digits.npz``: UCI optdigits, 8x8, 0..16)            x / 16
mnist            train-images-idx3-ubyte, train-labels-idx1-ubyte,                   x / 255
                 t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (raw or ``.gz``, and
                 the ``train-images.idx3-ubyte`` spelling too;
                 also found under ``MNIST/raw/``)
fashion-mnist    the same four IDX names (also under ``FashionMNIST/raw/``)          x / 255
cifar10          data_batch_1 .. data_batch_5, test_batch (python pickles; also      x / 255
                 found under ``cifar-10-batches-py/``)
===============  =================================================================  ==========

With ``standardize=True`` every channel is then shifted and scaled by the mean and standard
deviation of the training split (the same numbers applied to the test split; they are kept on
the ``Dataset``). Images are float32 N x C x H x W; labels are int64.

Any missing or malformed file raises ``DataError`` naming the file and what was expected.
"""

from __future__ import annotations

import gzip
import io
import math
import pickle
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module
from importlib.resources import files
from pathlib import Path

import numpy as np

from accelsim.errors import ConfigError, DataError
from accelsim.limits import regular_file

__all__ = [
    "DATASET_NAMES",
    "DIGITS_NUM_TEST",
    "DIGITS_NUM_TRAIN",
    "Dataset",
    "batches",
    "load_dataset",
    "read_idx",
    "to_torch",
]

DATASET_NAMES: tuple[str, ...] = ("digits", "mnist", "fashion-mnist", "cifar10")


@dataclass(frozen=True, repr=False)
class Dataset:
    """A dataset's two splits as numpy arrays (no torch), plus what a model needs to know.

    ``input_shape`` is per sample: (C, H, W), or (C*H*W,) when loaded with ``flatten=True``.
    ``mean``/``std`` are the per-channel statistics used by ``standardize`` (else None).
    """

    name: str
    train_x: np.ndarray  # float32, N x C x H x W (or N x F when flattened)
    train_y: np.ndarray  # int64, N
    test_x: np.ndarray
    test_y: np.ndarray
    num_classes: int
    input_shape: tuple[int, ...]
    normalization: str
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __repr__(self):
        return (f"Dataset({self.name!r}, train={len(self.train_y)}, test={len(self.test_y)}, "
                f"input_shape={self.input_shape}, num_classes={self.num_classes}, "
                f"normalization={self.normalization!r})")


# --------------------------------------------------------------------------------------------
# Deterministic permutations (independent of numpy's RNG streams, which may change between
# numpy versions): sort indices by a splitmix64 hash of (index, seed, stream).
# --------------------------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """Steele, Lea & Flood's splitmix64 finaliser, elementwise on uint64 (wraps mod 2**64)."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hash_permutation(n: int, seed: int, stream: int) -> np.ndarray:
    """A permutation of range(n) that depends only on (seed, stream)."""
    with np.errstate(over="ignore"):
        key = _splitmix64(np.array([seed & _MASK64], dtype=np.uint64))
        key = _splitmix64(key ^ np.uint64(stream & _MASK64))
        scores = _splitmix64(np.arange(n, dtype=np.uint64) ^ key)
    return np.argsort(scores, kind="stable")


# --------------------------------------------------------------------------------------------
# digits (embedded)
# --------------------------------------------------------------------------------------------

_DIGITS_SPLIT_SEED = 2018  # fixed: the split is part of the dataset's definition
_DIGITS_TEST_FRACTION_DENOMINATOR = 5  # every class gives floor(count / 5) samples to test

DIGITS_FILE = "digits.npz"  # inside the package: accelsim/data/

# Counts of the split below (class sizes 178,182,177,183,181,182,181,179,174,180).
DIGITS_NUM_TRAIN = 1442
DIGITS_NUM_TEST = 355


def _load_digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """The UCI optdigits test set (Alpaydin & Kaynak 1998, UCI ML repository "Optical
    Recognition of Handwritten Digits"), 1797 rows of 64 pixels (0..16) and a label, shipped
    as ``accelsim/data/digits.npz`` (uint8 arrays ``pixels`` and ``labels``, converted once
    from scikit-learn's copy, ``sklearn/datasets/data/digits.csv.gz``; see
    ``accelsim/data/README.md``)."""
    try:
        with (files("accelsim") / "data" / DIGITS_FILE).open("rb") as f, \
                np.load(f, allow_pickle=False) as saved:
            pixels, labels = saved["pixels"], saved["labels"]
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise DataError(f"cannot read the embedded accelsim/data/{DIGITS_FILE}: {exc} "
                        "(reinstall accelsim)") from exc
    if pixels.shape != (1797, 64) or labels.shape != (1797,):
        raise DataError(f"the embedded accelsim/data/{DIGITS_FILE}: expected 1797 rows of 64 "
                        f"pixels and a label, got {pixels.shape} and {labels.shape}")
    return pixels.astype(np.float64), labels.astype(np.int64)


def _digits_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded split: per class, the first floor(count/5) samples of a hash
    permutation go to test. Returns sorted (train_indices, test_indices)."""
    order = _hash_permutation(len(labels), _DIGITS_SPLIT_SEED, 0)
    test = []
    for c in np.unique(labels):
        in_class = order[labels[order] == c]
        test.append(in_class[: len(in_class) // _DIGITS_TEST_FRACTION_DENOMINATOR])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
    return train_idx, test_idx


def _load_digits():
    pixels, labels = _load_digits_raw()
    images = (pixels / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    train_idx, test_idx = _digits_split(labels)
    return (images[train_idx], labels[train_idx], images[test_idx], labels[test_idx],
            "x/16")


# --------------------------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST)
# --------------------------------------------------------------------------------------------

# IDX type codes (LeCun's MNIST page); the datasets here use only unsigned bytes.
_IDX_TYPES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int",
              0x0D: "float", 0x0E: "double"}

_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _read_bytes(path: Path) -> bytes:
    """A file's bytes, gunzipped when its name ends in .gz."""
    regular_file(path, DataError, "a dataset file")  # a FIFO would block the read forever
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: not a valid gzip file ({exc})") from exc
    return data


def read_idx(path, *, expected_ndim: int | None = None) -> np.ndarray:
    """Parse an IDX file (raw or .gz): the magic number (0, 0, type, ndim), ndim big-endian
    uint32 sizes, then the data. Only unsigned-byte data is accepted (as in MNIST); the
    data must be exactly as long as the sizes say."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: truncated IDX header (expected a 4-byte magic number, "
                        f"got {len(data)} bytes)")
    zero1, zero2, type_code, ndim = data[0], data[1], data[2], data[3]
    if zero1 != 0 or zero2 != 0 or type_code not in _IDX_TYPES:
        raise DataError(f"{path}: bad IDX magic number 0x{data[:4].hex()} (expected "
                        f"0x0000080N: two zero bytes, a type code, the number of dimensions)")
    if type_code != 0x08:
        raise DataError(f"{path}: IDX data type is {_IDX_TYPES[type_code]} (0x{type_code:02x});"
                        f" expected unsigned byte (0x08)")
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataError(f"{path}: IDX file has {ndim} dimensions, expected {expected_ndim} "
                        f"(magic 0x0000080{expected_ndim})")
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise DataError(f"{path}: truncated IDX header (expected {header_bytes} bytes for "
                        f"{ndim} dimension sizes, got {len(data)})")
    shape = struct.unpack(f">{ndim}I", data[4:header_bytes])
    expected = math.prod(shape)  # exact: an int64 product of edited sizes can wrap to 0
    actual = len(data) - header_bytes
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        raise DataError(f"{path}: IDX data {what}: sizes {'x'.join(map(str, shape))} need "
                        f"{expected} bytes after the header, found {actual}")
    return np.frombuffer(data, dtype=np.uint8, offset=header_bytes).reshape(shape)


def _find_files(root: Path, names: tuple[str, ...], subfolders: tuple[str, ...],
                dataset: str, allow_gz: bool) -> list[Path]:
    """Locate every file of ``names`` in ``root`` or one of its ``subfolders``."""
    if not root.is_dir():
        raise DataError(f"{dataset}: folder {root} does not exist (expected it to hold "
                        f"{', '.join(names)})")
    folders = [root] + [root / s for s in subfolders]

    def candidates(folder, name):
        # both spellings in use: train-images-idx3-ubyte and train-images.idx3-ubyte
        spellings = [name]
        stem, dash, tail = name.rpartition("-idx")
        if dash:
            spellings.append(f"{stem}.idx{tail}")
        names = [s + ext for s in spellings for ext in (("", ".gz") if allow_gz else ("",))]
        return [folder / n for n in names]

    # the folder holding the first file decides; mixing folders would hide a stale copy
    for folder in folders:
        if any(p.is_file() for p in candidates(folder, names[0])):
            break
    else:
        folder = root
    found, missing = [], []
    for name in names:
        hits = [p for p in candidates(folder, name) if p.is_file()]
        if hits:
            found.append(hits[0])
        else:
            missing.append(name + (" (or .gz)" if allow_gz else ""))
    if missing:
        searched = ", ".join(str(f) for f in folders)
        raise DataError(f"{dataset}: missing {', '.join(missing)} in {folder} (expected "
                        f"{', '.join(names)}; searched {searched})")
    return found


def _load_idx_pair(images_path: Path, labels_path: Path, num_classes: int):
    images = read_idx(images_path, expected_ndim=3)
    labels = read_idx(labels_path, expected_ndim=1)
    if min(images.shape) < 1:
        raise DataError(f"{images_path}: holds {'x'.join(map(str, images.shape))} images "
                        "(expected at least one image of at least 1x1 pixels)")
    if len(images) != len(labels):
        raise DataError(f"{labels_path}: {len(labels)} labels but {images_path.name} holds "
                        f"{len(images)} images (expected equal counts)")
    if len(labels) and labels.max() >= num_classes:
        raise DataError(f"{labels_path}: label {int(labels.max())} out of range (expected "
                        f"0..{num_classes - 1})")
    return images, labels.astype(np.int64)


def _load_idx_dataset(name: str, root: Path, subfolder: str):
    paths = _find_files(root, _IDX_FILES, (subfolder,), name, allow_gz=True)
    train_images, train_labels = _load_idx_pair(paths[0], paths[1], 10)
    test_images, test_labels = _load_idx_pair(paths[2], paths[3], 10)
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(f"{paths[2]}: images are {test_images.shape[1:]} but the training "
                        f"images are {train_images.shape[1:]} (expected the same size)")

    def scale(images):  # N x H x W bytes -> N x 1 x H x W in [0, 1]
        return (images.astype(np.float32) / 255.0)[:, None, :, :]

    return scale(train_images), train_labels, scale(test_images), test_labels, "x/255"


# --------------------------------------------------------------------------------------------
# CIFAR-10 (python pickle batches)
# --------------------------------------------------------------------------------------------

_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
_CIFAR_PIXELS = 3 * 32 * 32

# What a CIFAR batch pickle may refer to: numpy array reconstruction and nothing else, so a
# hostile file cannot run code (plain pickle.load would call any importable function).
_CIFAR_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _CIFAR_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        # numpy 2 renamed numpy.core to numpy._core; accept pickles written by either
        for candidate in (module, module.replace("numpy._core", "numpy.core"),
                          module.replace("numpy.core", "numpy._core")):
            try:
                return getattr(import_module(candidate), name)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(f"cannot find {module}.{name}")


def _load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = _read_bytes(path)
    try:
        # encoding="bytes": the batches were pickled by Python 2; their keys come back as bytes
        batch = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # any failure inside unpickling means a malformed file
        raise DataError(f"{path}: not a readable CIFAR-10 pickle batch ({exc})") from exc
    if not isinstance(batch, dict):
        raise DataError(f"{path}: expected a pickled dict with b'data' and b'labels', got "
                        f"{type(batch).__name__}")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        keys = ", ".join(repr(k) for k in batch)
        raise DataError(f"{path}: expected keys b'data' and b'labels', found {keys}")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != _CIFAR_PIXELS:
        shape = getattr(data, "shape", None)
        dtype = getattr(data, "dtype", type(data).__name__)
        raise DataError(f"{path}: b'data' must be a uint8 array of shape N x {_CIFAR_PIXELS} "
                        f"(3x32x32), got {dtype} {shape}")
    try:
        labels = np.asarray(labels)
    except Exception as exc:
        raise DataError(f"{path}: b'labels' is not a list of integers ({exc})") from exc
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(f"{path}: b'labels' must be a flat list of integers, got "
                        f"{labels.dtype} {labels.shape}")
    if len(labels) != len(data):
        raise DataError(f"{path}: {len(labels)} labels for {len(data)} images (expected "
                        f"equal counts)")
    if len(labels) and (labels.min() < 0 or labels.max() >= 10):
        bad = int(labels.min() if labels.min() < 0 else labels.max())
        raise DataError(f"{path}: label {bad} out of range (expected 0..9)")
    # rows are 1024 red, 1024 green, 1024 blue values, each plane row-major: N x 3 x 32 x 32
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _load_cifar10(root: Path):
    paths = _find_files(root, _CIFAR_FILES, ("cifar-10-batches-py",), "cifar10",
                        allow_gz=False)
    parts = [_load_cifar_batch(p) for p in paths]
    train_x = np.concatenate([x for x, _ in parts[:5]])
    train_y = np.concatenate([y for _, y in parts[:5]])
    test_x, test_y = parts[5]
    for path, images in ((paths[0].parent / "data_batch_1..5", train_x), (paths[5], test_x)):
        if not len(images):
            raise DataError(f"{path}: holds no images (expected at least one)")

    def scale(images):
        return images.astype(np.float32) / 255.0

    return scale(train_x), train_y, scale(test_x), test_y, "x/255"


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _canonical_dataset(name) -> str:
    key = name.strip().lower().replace("_", "-") if isinstance(name, str) else None
    aliases = {"fashion": "fashion-mnist", "fashionmnist": "fashion-mnist",
               "cifar-10": "cifar10"}
    key = aliases.get(key, key) if key is not None else None
    if key not in DATASET_NAMES:
        raise ConfigError(f"unknown dataset {name!r}; valid names: {', '.join(DATASET_NAMES)}")
    return key


def load_dataset(name: str, root=None, *, flatten: bool = False,
                 standardize: bool = False) -> Dataset:
    """Load dataset ``name`` (one of ``DATASET_NAMES``) as numpy arrays.

    ``root`` is the folder holding the files (ignored for ``digits``; required otherwise).
    ``flatten`` reshapes samples to vectors (for LeNet-300-100); ``standardize`` applies the
    training split's per-channel mean and std after the [0, 1] scaling.
    Raises ``ConfigError`` for an unknown name and ``DataError`` for missing or bad files.
    """
    key = _canonical_dataset(name)
    if key == "digits":
        train_x, train_y, test_x, test_y, normalization = _load_digits()
    else:
        if root is None:
            expected = _CIFAR_FILES if key == "cifar10" else _IDX_FILES
            raise DataError(f"--dataset {key} is read from a local folder: give --data-dir "
                            f"FOLDER (from Python, root=FOLDER) holding {', '.join(expected)} "
                            "(nothing is downloaded)")
        root = Path(root).expanduser()
        if key == "cifar10":
            train_x, train_y, test_x, test_y, normalization = _load_cifar10(root)
        else:
            subfolder = "MNIST/raw" if key == "mnist" else "FashionMNIST/raw"
            train_x, train_y, test_x, test_y, normalization = _load_idx_dataset(
                key, root, subfolder)

    mean = std = None
    if standardize:
        # statistics of the training split only, so nothing of the test split leaks in
        mean64 = train_x.mean(axis=(0, 2, 3), dtype=np.float64)
        std64 = train_x.std(axis=(0, 2, 3), dtype=np.float64)
        std64 = np.where(std64 > 0, std64, 1.0)  # a constant channel stays as it is
        shift = mean64.astype(np.float32)[None, :, None, None]
        scale = std64.astype(np.float32)[None, :, None, None]
        train_x = (train_x - shift) / scale
        test_x = (test_x - shift) / scale
        mean, std = tuple(float(m) for m in mean64), tuple(float(s) for s in std64)
        normalization += ", then (x - mean_c) / std_c with training-split statistics"

    input_shape = tuple(int(d) for d in train_x.shape[1:])
    if flatten:
        input_shape = (int(np.prod(input_shape)),)
        train_x = train_x.reshape(len(train_x), -1)
        test_x = test_x.reshape(len(test_x), -1)
    return Dataset(
        name=key,
        train_x=np.ascontiguousarray(train_x, dtype=np.float32),
        train_y=np.ascontiguousarray(train_y, dtype=np.int64),
        test_x=np.ascontiguousarray(test_x, dtype=np.float32),
        test_y=np.ascontiguousarray(test_y, dtype=np.int64),
        num_classes=10,
        input_shape=input_shape,
        normalization=normalization,
        mean=mean,
        std=std,
    )


def _non_negative_int(field: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"batches: {field} must be a non-negative integer, got {value!r}")
    return int(value)


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool = True,
            seed: int = 0, epoch: int = 0,
            drop_last: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (xb, yb) mini-batches of ``x`` and ``y`` (copies, in the order given by
    (seed, epoch) when ``shuffle``, else in index order).

    The order depends only on ``seed`` and ``epoch`` (a hash permutation, not numpy's RNG), so
    a resumed run sees exactly the batches it would have seen. The last batch is shorter
    unless ``drop_last``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ConfigError(f"batches: batch_size must be a positive integer, got "
                          f"{batch_size!r}")
    if len(x) != len(y):
        raise ConfigError(f"batches: x has {len(x)} samples but y has {len(y)}")
    n = len(x)
    if shuffle:
        order = _hash_permutation(n, _non_negative_int("seed", seed),
                                  _non_negative_int("epoch", epoch))
    else:
        order = np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        index = order[start:start + batch_size]
        yield x[index], y[index]


def to_torch(x: np.ndarray, y: np.ndarray | None = None, device=None):
    """numpy batch -> torch tensors (float32 inputs, int64 labels); torch imported lazily."""
    import torch

    xt = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=device)
    if y is None:
        return xt
    return xt, torch.as_tensor(np.ascontiguousarray(y, dtype=np.int64), device=device)
