"""Sparse checkpoint: only what cannot be regenerated, and an exact rebuild of the model.

A DropBack model is its seed (every untracked element equals its PRNG initial value w0) plus
the tracked (index, value) pairs of each budgeted layer, plus whatever lies outside the budget
(BatchNorm parameters, buffers such as running statistics). That is what this file stores.

Size: each tracked element costs its value (4 bytes in float32) plus its share of the layer's
index, which is stored in whichever of three encodings is smallest for that layer (ties to the
first named; `index_encodings` computes the three sizes):

* ``bitmap``: one bit per element of the layer (tracked or not), ceil(param_count / 8) bytes;
  bit j of byte i is element 8i + j (least significant bit first). The hardware model's
  ``bitmap`` format (`accelsim.config.IndexConfig`) charges the same one bit per weight.
* ``gap8`` / ``gap16``: per tracked element in ascending order, the gap g = p_i - p_(i-1) - 1
  (p_(-1) = -1) as floor(g / E) escape words of value E = 2**bits - 1, then one word g mod E.
  This is the hardware model's ``relative`` format (index_bits per tracked weight) with the
  escape words a relative index needs when a gap exceeds its range.

The index costs at most about one byte per tracked value (a bitmap wins in layers denser than
about 1/8), so the file is at least about param_count / (1.25 * budget) times smaller than a
dense one: measured on LeNet-300-100 trained on MNIST at a 25x budget (the fixed budget, 20
epochs, seeds 0-2, reports/accuracy.md "Round 5"), 55,000-55,120 bytes against a dense run's
1,067,688: 19.4x; 37.4x at 50x (28,560); 8.6x at 10x. Format version 1
stored a raw int32 (int64 past 2**31 elements) index per tracked element, as many bytes as the
values (12.5x and 5x there); version 1 files still load. `checkpoint_sizes` reports both sizes of a
file.

Container (written by this module, little-endian, deterministic: same state -> same bytes)::

    offset  size  field
    0       16    magic  b"ACCELSIM-CKPT\\0\\0\\0"
    16      8     total file size in bytes (uint64)
    24      8     header size in bytes (uint64, a multiple of 8)
    32      32    sha256 of every other byte of the file (bytes 0..31, then 64..end)
    64      H     header: UTF-8 JSON (sorted keys), space-padded to a multiple of 8
    64+H    ...   payload: raw arrays, each starting at a multiple of 8

The header's "arrays" maps each array name to {dtype (torch name), shape, offset, nbytes}
(offset from the payload start). Layer entries name their "index" array (absent in a dense
checkpoint) with its "index_encoding" (bitmap: uint8; gap8: uint8; gap16: int16 holding the
16-bit words; version 1 files: positions, int32 or int64) and their "values" array (the
parameter dtype).
A DropBack/optimizer state is stored as tagged JSON whose tensors are arrays of the payload.

Reading checks, in this order, each failure a one-line `CheckpointError` naming the file:
size (truncated or trailing bytes), magic, checksum, header JSON, format and version,
generator id and version, array table; then, against the model the builder returns, every
layer's name, kind and shape, and every unbudgeted parameter and buffer.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch

from accelsim.dropback import prng
from accelsim.dropback.init import (
    BIAS_INITS,
    budgeted_layers,
    initial_values_torch,
    layer_parameters,
    write_layer_values,
)
from accelsim.dropback.optimizer import STATE_FORMAT, DropBack
from accelsim.dropback.sparse_index import (
    ENCODINGS,
    IndexFormatError,
    decode_index,
    encode_index,
)
from accelsim.errors import CheckpointError
from accelsim.io import atomic_path
from accelsim.limits import MAX_DIMS, MAX_LAYERS, MAX_PARAMS, regular_file, shown
from accelsim.models import build_model

FORMAT = "accelsim-checkpoint"
FORMAT_VERSION = 2  # 2: compact index (bitmap or gap words); 1: int32 positions
MAGIC = b"ACCELSIM-CKPT\x00\x00\x00"
_PREFIX = struct.Struct("<16sQQ32s")  # magic, total bytes, header bytes, sha256
PREFIX_BYTES = _PREFIX.size  # 64
ALIGN_BYTES = 8
MAX_STATE_DEPTH = 32  # nesting of a saved optimizer state (DropBack's is 4 deep)

_DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32,
    torch.int16, torch.int8, torch.uint8, torch.bool, torch.complex64, torch.complex128)}


@dataclass
class LoadedCheckpoint:
    """A rebuilt model and what came with it."""

    model: Any
    meta: dict  # the header, less the array table
    tracked_masks: dict  # {layer_id: flat bool tensor of param_count}; all True when dense
    optimizer_state: Any = None  # the DropBack (or user) state saved for resume, else None
    extra: dict = field(default_factory=dict)


# ============================================================================ writing
class _PayloadWriter:
    """Collects named arrays into one aligned byte payload and an array table."""

    def __init__(self):
        self.chunks: list[bytes] = []
        self.table: dict = {}
        self.size = 0

    def add(self, name: str, tensor) -> str:
        if name in self.table:
            raise ValueError(f"duplicate array name {name!r}")
        tensor = tensor.detach().cpu().contiguous()
        dtype_name = str(tensor.dtype).removeprefix("torch.")
        if dtype_name not in _DTYPES:
            raise ValueError(f"cannot store a tensor of dtype {tensor.dtype} ({name})")
        data = tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        self.table[name] = {"dtype": dtype_name, "shape": list(tensor.shape),
                            "offset": self.size, "nbytes": len(data)}
        padding = (-len(data)) % ALIGN_BYTES
        self.chunks.append(data + b"\x00" * padding)
        self.size += len(data) + padding
        return name


def _encode_state(obj, payload: _PayloadWriter, prefix: str):
    """Nested optimizer/DropBack state -> tagged JSON; tensors go to the payload."""
    if torch.is_tensor(obj):
        return {"__tensor__": payload.add(f"{prefix}{len(payload.table)}", obj)}
    if isinstance(obj, dict):
        return {"__dict__": [[_encode_state(k, payload, prefix), _encode_state(v, payload, prefix)]
                             for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode_state(v, payload, prefix) for v in obj]}
    if isinstance(obj, list):
        return [_encode_state(v, payload, prefix) for v in obj]
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return {"__float__": repr(obj)} if not math.isfinite(obj) else obj
    raise TypeError(f"cannot store an object of type {type(obj).__name__} in a checkpoint")


def _budget_meta(dropback, param_count: int) -> dict:
    if dropback is None:
        return {"tracked_count": param_count, "param_count": param_count, "mode": "dense"}
    return {"tracked_count": min(dropback.budget, param_count), "param_count": param_count,
            "mode": dropback.mode}


def _layer_entries(layers, dropback, payload: _PayloadWriter) -> list[dict]:
    """One header entry per budgeted layer; its tracked values (and indices) into the payload."""
    masks = None if dropback is None else dropback.tracked_masks()
    entries = []
    for layer in layers:
        values = torch.cat([p.detach().reshape(-1) for p in layer_parameters(layer)])
        entry = {"layer_id": layer.layer_id, "name": layer.name, "kind": layer.kind,
                 "weight_shape": list(layer.weight_shape), "bias_count": layer.bias_count,
                 "param_count": layer.param_count}
        if masks is None:
            entry["tracked_count"] = layer.param_count
            entry["index"] = None
        else:
            index = torch.nonzero(masks[layer.layer_id].cpu()).squeeze(1)
            encoding, words = encode_index(index.numpy(), layer.param_count)
            entry["tracked_count"] = int(index.numel())
            entry["index_encoding"] = encoding
            entry["index"] = payload.add(f"layer{layer.layer_id}.index", torch.from_numpy(words))
            values = values.cpu()[index]
        entry["values"] = payload.add(f"layer{layer.layer_id}.values", values)
        entries.append(entry)
    return entries


def _unbudgeted_entries(model, layers, payload: _PayloadWriter):
    """(parameters outside the budget, persistent buffers) of the model's state_dict."""
    budgeted = {id(p) for layer in layers for p in layer_parameters(layer)}
    param_names = {name for name, p in model.named_parameters()}
    budgeted_names = {name for name, p in model.named_parameters() if id(p) in budgeted}
    params: list[dict] = []
    buffers: list[dict] = []
    for name, tensor in model.state_dict().items():
        if name in budgeted_names:
            continue
        if not torch.is_tensor(tensor):
            raise ValueError(f"save_checkpoint: state entry {name!r} is not a tensor "
                             f"({type(tensor).__name__}); it cannot be stored")
        target = params if name in param_names else buffers
        prefix = "param" if target is params else "buffer"
        target.append({"name": name, "array": payload.add(f"{prefix}.{name}", tensor)})
    return params, buffers


def _check_dropback_consistent(path, model, dropback, seed: int) -> None:
    if dropback.model is not model:
        raise ValueError("save_checkpoint: the DropBack wraps a different model")
    if dropback.seed != seed:
        raise ValueError(f"save_checkpoint: seed={seed} but the DropBack uses {dropback.seed}")
    if not dropback.untracked_at_initial():
        raise CheckpointError(f"{path}: cannot save: some untracked weights differ from w0 "
                              "(save right after DropBack.step(), not mid-update)")


def _json_or_error(obj, what: str) -> Any:
    try:
        json.dumps(obj, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"save_checkpoint: {what} must be plain JSON data ({error})") from None
    return obj


def save_checkpoint(path, model, dropback, *, model_name: str, model_args: dict, seed: int,
                    extra: dict | None = None, optimizer_state=False) -> Path:
    """Write a sparse checkpoint of `model` (dense when `dropback` is None), atomically.

    optimizer_state: False (nothing), True (the DropBack's `state_dict()`, for resume), or any
    nested dict of tensors and plain values to store as is (e.g. a dense optimizer's)."""
    path = Path(path)
    if dropback is not None:
        _check_dropback_consistent(path, model, dropback, seed)
    prng.layer_keys(seed, 0)
    layers = budgeted_layers(model) if dropback is None else dropback.layers
    payload = _PayloadWriter()
    layer_entries = _layer_entries(layers, dropback, payload)
    unbudgeted, buffers = _unbudgeted_entries(model, layers, payload)
    if optimizer_state is True:
        if dropback is None:
            raise ValueError("optimizer_state=True needs a DropBack; pass the state dict itself")
        optimizer_state = dropback.state_dict()
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "generator": {"id": prng.GENERATOR_ID, "version": prng.GENERATOR_VERSION},
        "seed": int(seed),
        "bias_init": "zero" if dropback is None else dropback.bias_init,
        "model": {"name": str(model_name), "args": _json_or_error(dict(model_args), "model_args")},
        "dense": dropback is None,
        "budget": _budget_meta(dropback, sum(layer.param_count for layer in layers)),
        "layers": layer_entries,
        "unbudgeted_parameters": unbudgeted,
        "buffers": buffers,
        "optimizer_state": (None if optimizer_state in (False, None)
                            else _encode_state(optimizer_state, payload, "state.")),
        "extra": _json_or_error(dict(extra or {}), "extra"),
        "arrays": payload.table,
    }
    data = _assemble(header, payload)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def _assemble(header: dict, payload: _PayloadWriter) -> bytes:
    header_bytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * ((-len(header_bytes)) % ALIGN_BYTES)
    body = header_bytes + b"".join(payload.chunks)
    total = PREFIX_BYTES + len(body)
    lengths = _PREFIX.pack(MAGIC, total, len(header_bytes), b"\x00" * 32)[:32]
    digest = hashlib.sha256(lengths + body).digest()
    return lengths + digest + body


# ============================================================================ reading
def _read_verified(path: Path) -> tuple[dict, bytearray, int]:
    """(header, file bytes, payload start) after the size, magic and checksum checks."""
    regular_file(path, CheckpointError, "a checkpoint file")
    try:
        data = bytearray(path.read_bytes())
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read ({error.strerror or error})") from None
    if len(data) < PREFIX_BYTES:
        if MAGIC.startswith(bytes(data[:16])):
            raise CheckpointError(f"{path}: truncated ({len(data)} bytes, shorter than the "
                                  f"{PREFIX_BYTES}-byte prefix)")
        raise CheckpointError(f"{path}: not an accelsim checkpoint (too short, no magic)")
    magic, total, header_size, digest = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise CheckpointError(f"{path}: not an accelsim checkpoint (bad magic bytes)")
    if len(data) < total:
        raise CheckpointError(f"{path}: truncated ({len(data)} of {total} bytes)")
    if len(data) > total:
        raise CheckpointError(f"{path}: corrupt ({len(data)} bytes, header says {total})")
    if hashlib.sha256(bytes(data[:32]) + bytes(data[PREFIX_BYTES:])).digest() != digest:
        raise CheckpointError(f"{path}: corrupt (sha256 checksum mismatch)")
    payload_start = PREFIX_BYTES + header_size
    if payload_start > total:
        raise CheckpointError(f"{path}: corrupt (header size beyond the end of the file)")
    try:
        header = json.loads(bytes(data[PREFIX_BYTES:payload_start]).decode("utf-8"))
    except (ValueError, RecursionError) as error:  # bad UTF-8 or JSON, 5,000-digit ints
        raise CheckpointError(f"{path}: corrupt header ({type(error).__name__})") from None
    _check_header(path, header, total - payload_start)
    return header, data, payload_start


def _check_header(path: Path, header, payload_size: int) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise CheckpointError(f"{path}: not an accelsim checkpoint (format is {shown(found)})")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or not (
            1 <= version <= FORMAT_VERSION):
        raise CheckpointError(f"{path}: checkpoint format version {shown(version)} is not "
                              f"supported (this accelsim reads 1 to {FORMAT_VERSION})")
    generator = header.get("generator")
    generator = generator if isinstance(generator, dict) else {}
    known = (prng.GENERATOR_ID, prng.GENERATOR_VERSION)
    if (generator.get("id"), generator.get("version")) != known:
        raise CheckpointError(
            f"{path}: unknown weight generator {shown(generator.get('id'))} version "
            f"{shown(generator.get('version'))} (this accelsim has {prng.GENERATOR_ID!r} "
            f"version {prng.GENERATOR_VERSION}): the initial weights cannot be regenerated")
    if sys.byteorder != "little":
        raise CheckpointError(f"{path}: checkpoints are little-endian; this machine is not")
    _check_header_fields(path, header)
    arrays = header["arrays"]
    for name, spec in arrays.items():
        _check_array_spec(path, name, spec, payload_size)
    # arrays may not share bytes: an edited offset would make two tensors alias one another
    spans = sorted((spec["offset"], spec["offset"] + spec["nbytes"], name)
                   for name, spec in arrays.items() if spec["nbytes"])
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        if start < end:
            raise CheckpointError(f"{path}: arrays {first!r} and {second!r} overlap in the "
                                  "payload (expected disjoint byte ranges)")
    for entry in header["layers"]:
        names = [entry["values"]] + ([] if entry["index"] is None else [entry["index"]])
        for name in names:
            _known_array(path, arrays, name)
    for entry in header["unbudgeted_parameters"] + header["buffers"]:
        _known_array(path, arrays, entry["array"])


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _header_field(path: Path, field: str, value, what: str, ok: bool) -> None:
    if not ok:
        raise CheckpointError(f"{path}: {field}: expected {what}, got {shown(value)}")


def _count(value, maximum: int = MAX_PARAMS) -> bool:
    return _is_int(value) and 0 <= value <= maximum


def _check_header_fields(path: Path, h: dict) -> None:
    """Every field the reader uses, by type and range, before any of them is used."""
    field = partial(_header_field, path)
    field("seed", h.get("seed"), "an integer from 0 to 2**64 - 1",
          _is_int(h.get("seed")) and 0 <= h["seed"] < 2 ** 64)
    field("bias_init", h.get("bias_init"), f"one of {list(BIAS_INITS)}",
          h.get("bias_init") in BIAS_INITS)
    model = h.get("model")
    field("model", model, "a mapping with a string name and a mapping of args",
          isinstance(model, dict) and isinstance(model.get("name"), str)
          and isinstance(model.get("args"), dict))
    field("dense", h.get("dense"), "true or false", isinstance(h.get("dense"), bool))
    budget = h.get("budget")
    field("budget", budget, "a mapping of tracked_count, param_count and mode",
          isinstance(budget, dict) and _count(budget.get("tracked_count"))
          and _count(budget.get("param_count"))
          and budget.get("mode") in ("global", "per_layer", "dense"))
    field("arrays", h.get("arrays"), "a mapping of array names to specs",
          isinstance(h.get("arrays"), dict))
    layers = h.get("layers")
    field("layers", layers, f"a list of at most {MAX_LAYERS:,} layer entries",
          isinstance(layers, list) and len(layers) <= MAX_LAYERS)
    for i, entry in enumerate(layers or []):
        field(f"layers[{i}]", entry, "a mapping of name, kind, weight_shape, bias_count, "
              "param_count, tracked_count, index and values", isinstance(entry, dict)
              and entry.get("layer_id") == i and _is_int(entry["layer_id"])
              and isinstance(entry.get("name"), str) and isinstance(entry.get("kind"), str)
              and isinstance(entry.get("weight_shape"), list)
              and len(entry["weight_shape"]) <= MAX_DIMS
              and all(_count(d) for d in entry["weight_shape"])
              and _count(entry.get("bias_count")) and _count(entry.get("param_count"))
              and _count(entry.get("tracked_count"))
              and "index" in entry
              and (entry["index"] is None or isinstance(entry["index"], str))
              and isinstance(entry.get("values"), str))
    if h.get("format_version", 1) >= 2:  # version 1 stored raw positions
        for i, entry in enumerate(layers or []):
            if entry["index"] is not None:
                field(f"layers[{i}].index_encoding", entry.get("index_encoding"),
                      f"one of {list(ENCODINGS)}", entry.get("index_encoding") in ENCODINGS)
    for key in ("unbudgeted_parameters", "buffers"):
        entries = h.get(key)
        field(key, entries, "a list of {name, array} entries", isinstance(entries, list) and all(
            isinstance(e, dict) and isinstance(e.get("name"), str)
            and isinstance(e.get("array"), str) for e in entries))
    extra = h.get("extra", {})
    field("extra", extra, "a mapping (accuracy a number from 0 to 1, or null)",
          isinstance(extra, dict) and (extra.get("accuracy") is None or (
              isinstance(extra["accuracy"], (int, float)) and not isinstance(extra["accuracy"],
                                                                             bool)
              and 0 <= extra["accuracy"] <= 1)))  # NaN fails; no float() of a huge int
    state = h.get("optimizer_state")
    field("optimizer_state", state, "null or a saved state (a tagged __dict__)",
          state is None or (isinstance(state, dict) and "__dict__" in state))
    _check_state_json(path, state, 0)


def _check_state_json(path: Path, obj, depth: int) -> None:
    """The tagged JSON of a saved optimizer state: known tags only, bounded depth."""
    if depth > MAX_STATE_DEPTH:
        raise CheckpointError(f"{path}: optimizer_state: expected nesting at most "
                              f"{MAX_STATE_DEPTH} deep, got deeper")
    if isinstance(obj, list):
        for v in obj:
            _check_state_json(path, v, depth + 1)
        return
    if not isinstance(obj, dict):
        return
    tags = {"__tensor__": str, "__tuple__": list, "__float__": str, "__dict__": list}
    tag = next(iter(obj), None)
    ok = len(obj) == 1 and tag in tags and isinstance(obj[tag], tags[tag])
    if ok and tag == "__float__":
        ok = obj[tag].lower().lstrip("+-") in ("inf", "nan")
    if ok and tag == "__dict__":
        ok = all(isinstance(pair, list) and len(pair) == 2 for pair in obj[tag])
    if not ok:
        raise CheckpointError(f"{path}: optimizer_state: expected a tagged value (__tensor__, "
                              f"__tuple__, __float__ or __dict__), got {shown(obj)}")
    if tag in ("__tuple__", "__dict__"):
        for v in obj[tag]:
            _check_state_json(path, v, depth + 1)
        if tag == "__dict__":
            for key, _ in obj[tag]:
                if isinstance(key, (dict, list)) and not (isinstance(key, dict)
                                                          and "__tuple__" in key):
                    raise CheckpointError(f"{path}: optimizer_state: expected plain dict "
                                          f"keys, got {shown(key)}")


def _known_array(path: Path, arrays: dict, name: str) -> None:
    if name not in arrays:
        raise CheckpointError(f"{path}: corrupt header (array {shown(name)} missing)")


def _check_array_spec(path: Path, name: str, spec, payload_size: int) -> None:
    if not isinstance(spec, dict):
        raise CheckpointError(f"{path}: array {shown(name)}: expected a mapping of dtype, "
                              f"shape, offset and nbytes, got {shown(spec)}")
    dtype_name = spec.get("dtype")
    dtype = _DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
    if dtype is None:
        raise CheckpointError(f"{path}: array {shown(name)} has unknown dtype "
                              f"{shown(spec.get('dtype'))}")
    shape, offset, nbytes = spec.get("shape"), spec.get("offset"), spec.get("nbytes")
    if not (isinstance(shape, list) and len(shape) <= MAX_DIMS
            and all(_count(d) for d in shape) and _count(offset, payload_size)
            and _count(nbytes, payload_size)):
        raise CheckpointError(f"{path}: array {shown(name)} does not fit: expected a shape of "
                              f"at most {MAX_DIMS} sizes, offset and nbytes within the "
                              f"{payload_size:,}-byte payload, got {shown(spec)}")
    count = math.prod(shape)
    item_bytes = torch.empty(0, dtype=dtype).element_size()
    if nbytes != count * item_bytes or offset + nbytes > payload_size:
        raise CheckpointError(f"{path}: array {shown(name)} does not fit its shape or the "
                              "payload")


def _array(data: bytearray, payload_start: int, spec: dict):
    dtype = _DTYPES[spec["dtype"]]
    if spec["nbytes"] == 0:
        return torch.empty(spec["shape"], dtype=dtype)
    start = payload_start + spec["offset"]
    raw = torch.frombuffer(data, dtype=torch.uint8, count=spec["nbytes"], offset=start)
    return raw.clone().view(dtype).reshape(spec["shape"])


def _decode_state(obj, arrays: Callable):
    if isinstance(obj, list):
        return [_decode_state(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return arrays(obj["__tensor__"])
    if "__tuple__" in obj:
        return tuple(_decode_state(v, arrays) for v in obj["__tuple__"])
    if "__float__" in obj:
        return float(obj["__float__"])
    return {_hashable(_decode_state(k, arrays)): _decode_state(v, arrays)
            for k, v in obj["__dict__"]}


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def _check_layers_match(path: Path, layers, entries) -> None:
    if len(layers) != len(entries):
        raise CheckpointError(f"{path}: model mismatch: the builder's model has {len(layers)} "
                              f"budgeted layers, the checkpoint {len(entries)}")
    for layer, entry in zip(layers, entries):
        built = (layer.name, layer.kind, list(layer.weight_shape), layer.bias_count)
        saved = (entry["name"], entry["kind"], entry["weight_shape"], entry["bias_count"])
        if built != saved:
            raise CheckpointError(
                f"{path}: model mismatch at layer {layer.layer_id}: checkpoint has {saved[0]} "
                f"{saved[1]} {saved[2]} bias {saved[3]}, the model {built[0]} {built[1]} "
                f"{built[2]} bias {built[3]}")


def _tracked_positions(path, layer, entry, arrays, version: int):
    """The layer's tracked positions (int64, ascending), from either index format."""
    words = arrays(entry["index"])
    if version == 1:  # raw positions
        index = words.to(torch.int64)
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= layer.param_count
                              or not bool((index[1:] > index[:-1]).all())):
            raise CheckpointError(f"{path}: layer {layer.name}: tracked indices are out of "
                                  "range or unsorted")
        return index
    try:
        positions = decode_index(entry["index_encoding"], words.numpy(), layer.param_count)
    except IndexFormatError as error:
        raise CheckpointError(f"{path}: layer {layer.name}: index: {error}") from None
    return torch.from_numpy(positions)


def _scatter_layer(path, layer, entry, arrays, header: dict):
    """The layer's full flat values: w0, overwritten at the tracked indices."""
    values = arrays(entry["values"])
    if header["dense"]:
        if values.numel() != layer.param_count:
            raise CheckpointError(f"{path}: layer {layer.name}: {values.numel()} values for "
                                  f"{layer.param_count} elements")
        return values, torch.ones(layer.param_count, dtype=torch.bool)
    index = _tracked_positions(path, layer, entry, arrays, header["format_version"])
    if index.numel() != values.numel() or index.numel() != entry["tracked_count"]:
        raise CheckpointError(f"{path}: layer {layer.name}: {index.numel()} tracked indices, "
                              f"{values.numel()} values, tracked_count "
                              f"{entry['tracked_count']} (expected all equal)")
    flat = initial_values_torch(header["seed"], layer, "cpu", header["bias_init"])
    flat = flat.to(values.dtype)
    flat[index] = values
    mask = torch.zeros(layer.param_count, dtype=torch.bool)
    mask[index] = True
    return flat, mask


def _load_unbudgeted(path: Path, model, layers, header: dict, arrays) -> None:
    """Copy the saved non-budgeted parameters and buffers into the model, checking names."""
    budgeted = {id(p) for layer in layers for p in layer_parameters(layer)}
    budgeted_names = {n for n, p in model.named_parameters() if id(p) in budgeted}
    targets = {n: t for n, t in model.state_dict().items() if n not in budgeted_names}
    saved = {e["name"]: e["array"] for e in header["unbudgeted_parameters"] + header["buffers"]}
    if set(saved) != set(targets):
        missing, unexpected = sorted(set(targets) - set(saved)), sorted(set(saved) - set(targets))
        raise CheckpointError(f"{path}: model mismatch: missing {missing}, unexpected "
                              f"{unexpected} (parameters outside the budget and buffers)")
    with torch.no_grad():
        for name, target in targets.items():
            value = arrays(saved[name])
            if value.shape != target.shape or value.dtype != target.dtype:
                raise CheckpointError(
                    f"{path}: model mismatch at {name}: checkpoint {value.dtype} "
                    f"{list(value.shape)}, model {target.dtype} {list(target.shape)}")
            target.copy_(value)


def load_checkpoint(path, builder: Callable | None = None) -> LoadedCheckpoint:
    """Rebuild the model of a checkpoint: builder(name, **args), w0 from the seed, tracked
    values scattered in, then parameters outside the budget and buffers.

    builder defaults to `accelsim.models.build_model` (same signature)."""
    path = Path(path)
    header, data, payload_start = _read_verified(path)
    table = header["arrays"]

    def arrays(name):
        if name not in table:
            raise CheckpointError(f"{path}: corrupt header (array {name!r} missing)")
        return _array(data, payload_start, table[name])

    model = (builder or build_model)(header["model"]["name"], **header["model"]["args"])
    layers = budgeted_layers(model)
    _check_layers_match(path, layers, header["layers"])
    masks = {}  # every budgeted layer is rewritten whole below (w0 with tracked values on top)
    with torch.no_grad():
        for layer, entry in zip(layers, header["layers"]):
            flat, masks[layer.layer_id] = _scatter_layer(path, layer, entry, arrays, header)
            write_layer_values(layer, flat)
    _load_unbudgeted(path, model, layers, header, arrays)
    state = header.get("optimizer_state")
    meta = {k: v for k, v in header.items() if k not in ("arrays", "optimizer_state")}
    return LoadedCheckpoint(model=model, meta=meta, tracked_masks=masks,
                            optimizer_state=None if state is None else _decode_state(state, arrays),
                            extra=header.get("extra", {}))


def read_checkpoint_header(path) -> dict:
    """The verified header of a checkpoint (no model is built, no builder needed)."""
    header, _, _ = _read_verified(Path(path))
    return header


def checkpoint_sizes(path) -> dict:
    """{sparse_bytes: the file's size, dense_bytes: every value of the model stored densely
    (all budgeted elements, parameters outside the budget, buffers; no header)}."""
    path = Path(path)
    header, data, _ = _read_verified(path)
    table = header["arrays"]

    def item_bytes(name):
        return torch.empty(0, dtype=_DTYPES[table[name]["dtype"]]).element_size()

    dense = sum(entry["param_count"] * item_bytes(entry["values"]) for entry in header["layers"])
    dense += sum(table[e["array"]]["nbytes"]
                 for e in header["unbudgeted_parameters"] + header["buffers"])
    return {"sparse_bytes": len(data), "dense_bytes": dense}


def restore_dropback(loaded: LoadedCheckpoint, optimizer, cache_initial: bool = True):
    """A DropBack over `loaded.model` in the saved state (checkpoint saved with
    optimizer_state=True). `optimizer` must be freshly built over `loaded.model`."""
    state = loaded.optimizer_state
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError("the checkpoint holds no DropBack state (saved without "
                              "optimizer_state=True?)")
    layers = budgeted_layers(loaded.model)
    trained = [p.detach().clone() for layer in layers for p in layer_parameters(layer)]
    dropback = DropBack(loaded.model, optimizer, budget=state["budget"], seed=state["seed"],
                        mode=state["mode"], freeze_at_step=state["freeze_at_step"],
                        bias_init=state["bias_init"], initialize=True,
                        cache_initial=cache_initial)
    with torch.no_grad():
        for param, value in zip(dropback.budgeted_parameters(), trained):
            param.copy_(value)
    dropback.load_state_dict(state)
    return dropback
