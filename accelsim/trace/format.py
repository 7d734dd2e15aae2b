"""The trace format (`accelsim-trace`, version 2): writer, reader and validation.

Version 2 adds the layers between the GEMMs (BatchNorm, ReLU, pooling, residual add, flatten,
the loss) to the layer table, with five columns they need; version 1 traces still read (their
layer table holds the GEMM layers only, and the new columns take their neutral values).

The specification is `traces/README.md`; this module is its only implementation. It must stay
free of torch: the simulator reads traces on machines without it.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from accelsim import __version__
from accelsim.errors import TraceError
from accelsim.io import finite, json_text, replacing_folder
from accelsim.limits import (
    MAX_BATCH_SIZE,
    MAX_COUNT,
    MAX_DIMS,
    MAX_ITERATIONS,
    MAX_LAYERS,
    MAX_PARAMS,
    regular_file,
    shown,
)
from accelsim.trace.geometry import GEMM_KINDS, KINDS, POOL_MODES, pool_output_hw

FORMAT_NAME = "accelsim-trace"
FORMAT_VERSION = 2  # 2: every layer that moves data in the layer table; 1: GEMM layers only

MANIFEST_FILE = "manifest.json"
LAYERS_FILE = "layers.parquet"
STEPS_FILE = "steps.parquet"
SNAPSHOTS_FILE = "snapshots.parquet"
DATA_FILES = (LAYERS_FILE, STEPS_FILE, SNAPSHOTS_FILE)

SOURCES = ("training", "checkpoint", "synthetic", "user")
SNAPSHOT_REASONS = ("first", "frozen", "final", "periodic")  # precedence order
BUDGET_MODES = ("global", "per_layer", "dense")
UNTRACKED_VALUES = ("w0", "zero")  # manifest budget.untracked_values (absent: "w0")

_I32, _I64 = pa.int32(), pa.int64()
_SHAPE = pa.list_(pa.int32())

LAYERS_SCHEMA = pa.schema(
    [
        ("layer_id", _I32), ("exec_order", _I32), ("name", pa.string()), ("kind", pa.string()),
        ("weight_shape", _SHAPE), ("weight_count", _I64), ("bias_count", _I64),
        ("param_count", _I64), ("in_shape", _SHAPE), ("out_shape", _SHAPE),
        ("stride", _SHAPE), ("padding", _SHAPE), ("groups", _I32),
        ("in_activation_count", _I64), ("out_activation_count", _I64), ("macs_per_sample", _I64),
        ("fwd_m", _I64), ("fwd_n", _I64), ("fwd_k", _I64),
        ("bwd_data_m", _I64), ("bwd_data_n", _I64), ("bwd_data_k", _I64),
        ("bwd_weight_m", _I64), ("bwd_weight_n", _I64), ("bwd_weight_k", _I64),
        # version 2
        ("kernel", _SHAPE), ("mode", pa.string()), ("input_count", _I32),
        ("unbudgeted_param_count", _I64), ("running_stat_count", _I64),
    ]
)
_LAYERS_V2_COLUMNS = ("kernel", "mode", "input_count", "unbudgeted_param_count",
                      "running_stat_count")
LAYERS_SCHEMA_V1 = pa.schema([f for f in LAYERS_SCHEMA if f.name not in _LAYERS_V2_COLUMNS])

STEPS_SCHEMA = pa.schema(
    [
        ("iteration", _I64), ("layer_id", _I32), ("weight_count", _I64),
        ("tracked_count", _I64), ("regenerated_count", _I64), ("entered_count", _I64),
        ("left_count", _I64), ("tracked_after_count", _I64), ("forward_read_count", _I64),
        ("backward_data_read_count", _I64), ("backward_weight_gradient_count", _I64),
        ("update_read_count", _I64), ("update_regenerated_count", _I64),
        ("update_write_count", _I64),
    ]
)

SNAPSHOTS_SCHEMA = pa.schema(
    [
        ("iteration", _I64), ("reason", pa.string()), ("layer_id", _I32),
        ("tracked_count", _I64), ("bitmap", pa.binary()),
    ]
)

# manifest key -> accepted Python types (None allowed where listed)
_MANIFEST_TYPES = {
    "format": (str,), "format_version": (int,), "accelsim_version": (str,), "source": (str,),
    "synthetic": (bool,), "synthetic_rule": (dict, type(None)), "dense": (bool,),
    "model": (dict,), "seed": (int,), "generator": (dict,), "budget": (dict,),
    "unbudgeted_param_count": (int,), "dataset": (str, type(None)), "batch_size": (int,),
    "input_shape": (list,), "optimizer": (dict, type(None)), "iterations": (int,),
    "snapshot_every": (int, type(None)), "frozen_at_iteration": (int, type(None)),
    "accuracy": (float, int, type(None)), "files": (dict,),
}


@dataclass(frozen=True)
class Snapshot:
    """The tracked set in use during `iteration` (`iterations` for the final set)."""

    iteration: int
    reason: str
    masks: dict  # layer_id -> np.ndarray[bool] of the layer's param_count

    @property
    def tracked_count(self) -> int:
        return int(sum(int(m.sum()) for m in self.masks.values()))


def pack_mask(mask: np.ndarray) -> bytes:
    return np.packbits(np.asarray(mask, dtype=bool), bitorder="little").tobytes()


def unpack_mask(bitmap: bytes, param_count: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
    return bits[:param_count].astype(bool)


def steps_frame(iteration, layer_id, weight_count, tracked_count, entered_count, left_count):
    """Build a `steps` table from the primary counts; every derived column follows the spec."""
    it = np.asarray(iteration, dtype=np.int64)
    weights = np.asarray(weight_count, dtype=np.int64)
    tracked = np.asarray(tracked_count, dtype=np.int64)
    entered = np.asarray(entered_count, dtype=np.int64)
    left = np.asarray(left_count, dtype=np.int64)
    after = tracked + entered - left
    frame = pd.DataFrame(
        {
            "iteration": it,
            "layer_id": np.asarray(layer_id, dtype=np.int32),
            "weight_count": weights,
            "tracked_count": tracked,
            "regenerated_count": weights - tracked,
            "entered_count": entered,
            "left_count": left,
            "tracked_after_count": after,
            "forward_read_count": weights,
            "backward_data_read_count": weights,
            "backward_weight_gradient_count": weights,
            "update_read_count": tracked,
            "update_regenerated_count": entered,
            "update_write_count": after,
        }
    )
    return frame.sort_values(["iteration", "layer_id"], kind="stable").reset_index(drop=True)


class Trace:
    """A loaded (or in-memory) trace: manifest, layer table, per-iteration counts, snapshots."""

    def __init__(self, manifest: dict, layers: pd.DataFrame, steps: pd.DataFrame,
                 snapshot_rows: pd.DataFrame, path: Path | None = None):
        self.manifest = manifest
        # every layer that moves data, as in the file; `layers` is its GEMM part (the budgeted
        # layers, ids 0..B-1, the rows `steps` and `snapshots` refer to)
        self.layer_table = layers
        self.layers = layers[layers["kind"].isin(GEMM_KINDS)].reset_index(drop=True)
        self.steps = steps
        self._snapshot_rows = snapshot_rows
        self.path = path
        self._param_count = dict(zip(self.layers["layer_id"].tolist(),
                                     self.layers["param_count"].tolist()))

    # -- identity and settings --------------------------------------------------------------
    @property
    def iterations(self) -> int:
        return int(self.manifest["iterations"])

    @property
    def dense(self) -> bool:
        return bool(self.manifest["dense"])

    @property
    def budget_tracked_count(self) -> int:
        return int(self.manifest["budget"]["tracked_count"])

    @property
    def target_tracked_count(self) -> int:
        """k, the budget the method ends on (below the peak `budget_tracked_count` when a
        warm-up or a gradual budget held more early on)."""
        budget = self.manifest["budget"]
        return int(budget.get("target_count", budget["tracked_count"]))

    @property
    def mean_tracked_count(self) -> float:
        """The tracked count averaged over the iterations: what a schedule costs on time."""
        budget = self.manifest["budget"]
        if "mean_tracked_count" in budget:
            return float(budget["mean_tracked_count"])
        return float(self.steps.groupby("iteration")["tracked_count"].sum().mean())

    @property
    def untracked_values(self) -> str:
        """What an untracked weight holds: "w0" (regenerated) or "zero" (neither stored nor
        regenerated)."""
        return self.manifest["budget"].get("untracked_values", "w0")

    @property
    def param_count(self) -> int:
        return int(self.layers["param_count"].sum())

    @property
    def batch_size(self) -> int:
        return int(self.manifest["batch_size"])

    @property
    def identity(self) -> dict:
        """What produced this trace, small enough to carry in every result."""
        digest = hashlib.sha256(
            json.dumps(self.manifest, sort_keys=True).encode("utf-8")
        ).hexdigest()
        return {
            "path": str(self.path) if self.path else None,
            "model": self.manifest["model"].get("name"),
            "source": self.manifest["source"],
            "synthetic": self.manifest["synthetic"],
            "dense": self.dense,
            "budget_tracked_count": self.budget_tracked_count,
            "target_tracked_count": self.target_tracked_count,
            "mean_tracked_count": self.mean_tracked_count,
            "param_count": self.param_count,
            "iterations": self.iterations,
            "manifest_sha256": digest,
        }

    # -- snapshots ----------------------------------------------------------------------------
    @property
    def snapshot_table(self) -> pd.DataFrame:
        return self._snapshot_rows[["iteration", "reason", "layer_id", "tracked_count"]].copy()

    @property
    def snapshot_iterations(self) -> list[int]:
        return sorted(set(self._snapshot_rows["iteration"].tolist()))

    def snapshot(self, iteration: int) -> Snapshot:
        rows = self._snapshot_rows[self._snapshot_rows["iteration"] == iteration]
        if rows.empty:
            raise TraceError(f"{self._where(SNAPSHOTS_FILE)}: no snapshot at iteration {iteration}")
        masks = {
            int(r.layer_id): unpack_mask(r.bitmap, self._param_count[int(r.layer_id)])
            for r in rows.itertuples(index=False)
        }
        return Snapshot(int(iteration), str(rows["reason"].iloc[0]), masks)

    def snapshots(self) -> Iterator[Snapshot]:
        for iteration in self.snapshot_iterations:
            yield self.snapshot(iteration)

    def as_dense(self) -> Trace:
        """The dense baseline of this trace: same layers and iterations, every weight tracked."""
        manifest = dict(self.manifest)
        manifest.update(dense=True, budget={"tracked_count": self.param_count,
                                            "param_count": self.param_count, "mode": "dense"})
        steps = steps_frame(self.steps["iteration"], self.steps["layer_id"],
                            self.steps["weight_count"], self.steps["weight_count"], 0, 0)
        rows = self._snapshot_rows.copy()
        rows["tracked_count"] = rows["layer_id"].map(self._param_count).astype(np.int64)
        rows["bitmap"] = [pack_mask(np.ones(self._param_count[int(i)], bool))
                          for i in rows["layer_id"]]
        return Trace(manifest, self.layer_table, steps, rows, path=None)

    def _where(self, name: str) -> str:
        return str(self.path / name) if self.path else f"<in-memory trace>/{name}"


def new_manifest(*, source, model_name, model_args, seed, generator, budget_tracked_count,
                 param_count, budget_mode, batch_size, input_shape, iterations, dense=False,
                 synthetic_rule=None, unbudgeted_param_count=0, dataset=None, optimizer=None,
                 snapshot_every=None, frozen_at_iteration=None, accuracy=None,
                 untracked_values="w0") -> dict:
    """A manifest with every key of the spec; `files` is filled in by `write_trace`.

    untracked_values: what an untracked weight holds, "w0" (regenerated by the PRNG; the
    default, and what a manifest without the key means) or "zero" (neither stored nor
    regenerated: the decayed-DropBack and gradual-pruning methods)."""
    if untracked_values not in UNTRACKED_VALUES:
        raise TraceError(f"untracked_values {untracked_values!r} not one of {UNTRACKED_VALUES}")
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "accelsim_version": __version__,
        "source": source,
        "synthetic": synthetic_rule is not None,
        "synthetic_rule": synthetic_rule,
        "dense": bool(dense),
        "model": {"name": model_name, "args": dict(model_args or {})},
        "seed": int(seed),
        "generator": dict(generator),
        "budget": {"tracked_count": int(budget_tracked_count), "param_count": int(param_count),
                   "mode": budget_mode,
                   **({} if untracked_values == "w0" else {"untracked_values": untracked_values})},
        "unbudgeted_param_count": int(unbudgeted_param_count),
        "dataset": dataset,
        "batch_size": int(batch_size),
        "input_shape": [int(v) for v in input_shape],
        "optimizer": optimizer,
        "iterations": int(iterations),
        "snapshot_every": snapshot_every,
        "frozen_at_iteration": frozen_at_iteration,
        "accuracy": None if accuracy is None else float(accuracy),
        "files": {},
    }


def build_trace(manifest: dict, layers: pd.DataFrame | list, steps: pd.DataFrame,
                snapshots: Iterable[Snapshot]) -> Trace:
    """An in-memory trace, validated exactly as a file would be."""
    layers_df = pd.DataFrame(layers) if not isinstance(layers, pd.DataFrame) else layers
    if not any(c in layers_df.columns for c in _LAYERS_V2_COLUMNS):
        layers_df = _upgrade_layers_v1(_conform(layers_df, LAYERS_SCHEMA_V1))
    layers_df = _conform(layers_df, LAYERS_SCHEMA)
    steps_df = _conform(steps, STEPS_SCHEMA)
    rows = []
    for snap in snapshots:
        for layer_id, mask in sorted(snap.masks.items()):
            rows.append({"iteration": snap.iteration, "reason": snap.reason, "layer_id": layer_id,
                         "tracked_count": int(np.count_nonzero(mask)), "bitmap": pack_mask(mask)})
    snap_df = _conform(pd.DataFrame(rows, columns=SNAPSHOTS_SCHEMA.names), SNAPSHOTS_SCHEMA)
    trace = Trace(dict(manifest), layers_df, steps_df, snap_df, path=None)
    _validate(trace)
    return trace


def write_trace(path, manifest: dict, layers, steps: pd.DataFrame,
                snapshots: Iterable[Snapshot]) -> Path:
    """Validate and write a trace folder atomically; returns its path."""
    trace = build_trace(manifest, layers, steps, snapshots)
    return save_trace(trace, path)


def save_trace(trace: Trace, path) -> Path:
    """Write an (already validated) trace folder: written whole under a temporary name, then
    swapped in (accelsim.io.replacing_folder), so `path` is always a whole trace, old or new."""
    path = Path(path)
    with replacing_folder(path, check=_check_is_trace) as tmp:
        tables = {LAYERS_FILE: (trace.layer_table, LAYERS_SCHEMA),
                  STEPS_FILE: (trace.steps, STEPS_SCHEMA),
                  SNAPSHOTS_FILE: (trace._snapshot_rows, SNAPSHOTS_SCHEMA)}
        files = {}
        for name, (frame, schema) in tables.items():
            data = _parquet_bytes(frame, schema)
            (tmp / name).write_bytes(data)
            files[name] = hashlib.sha256(data).hexdigest()
        # as it reads back from the file: the identity digest is the same before and after
        # written in this version's schema, whatever version it was read from
        manifest = finite(dict(trace.manifest, files=files, format_version=FORMAT_VERSION))
        (tmp / MANIFEST_FILE).write_text(json_text(manifest, sort_keys=True) + "\n")
    trace.manifest = manifest
    trace.path = path
    return path


def load_trace(path) -> Trace:
    """Read and validate a trace folder; a failed check raises TraceError naming file and check."""
    if isinstance(path, Trace):
        return path
    path = Path(path)
    if not path.is_dir():
        raise TraceError(f"{path}: not a trace folder (expected a folder holding {MANIFEST_FILE})")
    manifest = _read_manifest(path)
    frames = {}
    for name, schema in ((LAYERS_FILE, LAYERS_SCHEMA), (STEPS_FILE, STEPS_SCHEMA),
                         (SNAPSHOTS_FILE, SNAPSHOTS_SCHEMA)):
        file = path / name
        if not file.exists():
            raise TraceError(f"{file}: missing (every trace holds {', '.join(DATA_FILES)})")
        data = regular_file(file, TraceError, "a Parquet file").read_bytes()
        expected = manifest["files"].get(name)
        if hashlib.sha256(data).hexdigest() != expected:
            raise TraceError(f"{file}: sha256 does not match the manifest (file changed or "
                             "corrupt)")
        if name == LAYERS_FILE and manifest["format_version"] == 1:
            frames[name] = _upgrade_layers_v1(_read_parquet(data, LAYERS_SCHEMA_V1, file))
        else:
            frames[name] = _read_parquet(data, schema, file)
    trace = Trace(manifest, frames[LAYERS_FILE], frames[STEPS_FILE], frames[SNAPSHOTS_FILE], path)
    _validate(trace)
    return trace


# -- internals ------------------------------------------------------------------------------------

def _check_is_trace(path: Path):
    """Only a trace is replaced by a trace: a user's --out typo must never swap their files away."""
    if not (path / MANIFEST_FILE).is_file():
        raise TraceError(f"{path}: exists and is not a trace folder; choose another --out "
                         "or remove it")


def _upgrade_layers_v1(frame: pd.DataFrame) -> pd.DataFrame:
    """A version-1 layer table (GEMM layers only) with the version-2 columns at their neutral
    values: a convolution's kernel from its weight shape, one input, no unbudgeted state."""
    frame = frame.copy()
    frame["kernel"] = [[int(v) for v in shape[2:]] if kind == "conv2d" and len(shape) == 4
                       else [1, 1] for kind, shape in zip(frame["kind"], frame["weight_shape"])]
    frame["mode"] = ""
    frame["input_count"] = np.int32(1)
    frame["unbudgeted_param_count"] = np.int64(0)
    frame["running_stat_count"] = np.int64(0)
    return frame[LAYERS_SCHEMA.names]


def _conform(frame: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    missing = [n for n in schema.names if n not in frame.columns]
    if missing:
        raise TraceError(f"trace table lacks columns {missing}")
    return frame[schema.names].reset_index(drop=True)


def _parquet_bytes(frame: pd.DataFrame, schema: pa.Schema) -> bytes:
    # no pandas metadata: the schema above is the whole contract, and readers need nothing else
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    table = table.replace_schema_metadata(None)
    sink = io.BytesIO()
    # zstd: bitmaps of dense or clustered sets compress well; no statistics keeps bytes stable
    pq.write_table(table, sink, compression="zstd", write_statistics=False)
    return sink.getvalue()


def _read_parquet(data: bytes, schema: pa.Schema, file: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(io.BytesIO(data))
        # column names are decoded lazily: a damaged footer fails here, not below
        types = {f.name: f.type for f in table.schema}
    except Exception as exc:  # pyarrow raises several types for corrupt input
        raise TraceError(f"{file}: not a readable Parquet file ({type(exc).__name__})") from None
    for field in schema:
        if field.name not in types:
            raise TraceError(f"{file}: missing column {field.name!r}")
        if not types[field.name].equals(field.type):
            raise TraceError(f"{file}: column {field.name!r} has type "
                             f"{types[field.name]}, expected {field.type}")
    try:
        frame = table.select(schema.names).to_pandas(ignore_metadata=True)
    except Exception as exc:  # damaged column data can fail in many ways inside pyarrow
        raise TraceError(f"{file}: column data cannot be read ({type(exc).__name__})") from None
    if frame.isna().any().any():
        raise TraceError(f"{file}: null values present")
    return frame


def _read_manifest(path: Path) -> dict:
    file = path / MANIFEST_FILE
    if not file.exists():
        raise TraceError(f"{file}: missing (not a trace folder?)")
    regular_file(file, TraceError, "a JSON manifest file")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, 5,000-digit ints
        raise TraceError(f"{file}: not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(manifest, dict):
        raise TraceError(f"{file}: expected a JSON object")
    if manifest.get("format") != FORMAT_NAME:
        raise TraceError(f"{file}: format is {manifest.get('format')!r}, expected {FORMAT_NAME!r}")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TraceError(f"{file}: format_version: expected an integer >= 1, got "
                         f"{shown(version)}")
    if version > FORMAT_VERSION:
        raise TraceError(f"{file}: format_version {version} is newer than this accelsim reads "
                         f"(up to {FORMAT_VERSION}); upgrade accelsim")
    _check_manifest(manifest, str(file))
    return manifest


def _check_manifest(m: dict, where: str):
    for key, types in _MANIFEST_TYPES.items():
        if key not in m:
            raise TraceError(f"{where}: manifest lacks key {key!r}")
        value = m[key]
        if isinstance(value, bool) and bool not in types:
            raise TraceError(f"{where}: manifest key {key!r} is {shown(value)}, expected "
                             f"{types[0].__name__}")
        if not isinstance(value, types):
            raise TraceError(f"{where}: manifest key {key!r} is {shown(value)}, "
                             f"expected {' or '.join(t.__name__ for t in types)}")
    if m["source"] not in SOURCES:
        raise TraceError(f"{where}: source {shown(m['source'])} not one of {SOURCES}")
    budget = m["budget"]
    for key in ("tracked_count", "param_count"):
        _manifest_int(where, f"budget.{key}", budget.get(key), 0, MAX_PARAMS)
    if budget.get("untracked_values", "w0") not in UNTRACKED_VALUES:
        raise TraceError(f"{where}: budget.untracked_values {shown(budget.get('untracked_values'))}"
                         f" not one of {UNTRACKED_VALUES}")
    if budget.get("mode") not in BUDGET_MODES:
        raise TraceError(f"{where}: budget.mode {shown(budget.get('mode'))} not one of "
                         f"{BUDGET_MODES}")
    if not isinstance(m["model"].get("name"), str):
        raise TraceError(f"{where}: model.name missing or not a string")
    _manifest_int(where, "iterations", m["iterations"], 1, MAX_ITERATIONS)
    _manifest_int(where, "batch_size", m["batch_size"], 1, MAX_BATCH_SIZE)
    _manifest_int(where, "seed", m["seed"], 0, 2 ** 64 - 1)
    _manifest_int(where, "unbudgeted_param_count", m["unbudgeted_param_count"], 0, MAX_PARAMS)
    for key in ("snapshot_every", "frozen_at_iteration"):
        if m[key] is not None:
            _manifest_int(where, key, m[key], 0, MAX_ITERATIONS)
    shape = m["input_shape"]
    if len(shape) > MAX_DIMS or not all(isinstance(v, int) and not isinstance(v, bool)
                                        and 1 <= v <= MAX_COUNT for v in shape):
        raise TraceError(f"{where}: input_shape: expected at most {MAX_DIMS} sizes >= 1, got "
                         f"{shown(shape)}")
    if m["accuracy"] is not None and not (isinstance(m["accuracy"], (int, float))
                                          and 0 <= m["accuracy"] <= 1):
        raise TraceError(f"{where}: accuracy: expected a number from 0 to 1 or null, got "
                         f"{shown(m['accuracy'])}")
    if not all(isinstance(v, str) for v in m["files"].values()):
        raise TraceError(f"{where}: files must map names to sha256 strings")


def _manifest_int(where: str, key: str, value, minimum: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise TraceError(f"{where}: {key}: expected an integer from {minimum} to {maximum:,}, "
                         f"got {shown(value)}")


def _fail(trace: Trace, name: str, message: str):
    raise TraceError(f"{trace._where(name)}: {message}")


def _validate(trace: Trace):
    _check_manifest(trace.manifest, trace._where(MANIFEST_FILE))
    _validate_layers(trace)
    _validate_steps(trace)
    _validate_snapshots(trace)


def _validate_layers(trace: Trace):
    layers = trace.layer_table
    ids = layers["layer_id"].to_numpy()
    if len(ids) == 0:
        _fail(trace, LAYERS_FILE, "no layers")
    if len(ids) > MAX_LAYERS:
        _fail(trace, LAYERS_FILE, f"expected at most {MAX_LAYERS:,} layers, got {len(ids):,}")
    if not np.array_equal(ids, np.arange(len(ids))):
        _fail(trace, LAYERS_FILE, "layer_id must be 0..L-1 in order")
    if not np.array_equal(np.sort(layers["exec_order"].to_numpy()), np.arange(len(ids))):
        _fail(trace, LAYERS_FILE, "exec_order: expected a permutation of 0..L-1 (each layer "
                                  "runs once), got duplicates or gaps")
    counts = layers[[c for c in LAYERS_SCHEMA.names if c.endswith(("_count", "_m", "_n", "_k"))
                     or c in ("groups", "macs_per_sample")]]
    out_of_bounds = ((counts < 0) | (counts > MAX_COUNT * MAX_COUNT)).to_numpy()
    if out_of_bounds.any():
        row, column = (int(v[0]) for v in np.nonzero(out_of_bounds))
        _fail(trace, LAYERS_FILE, f"layer {row} ({shown(layers['name'].iloc[row])}): "
                                  f"{counts.columns[column]}: expected counts and GEMM dimensions "
                                  f">= 0 and within physical bounds, got "
                                  f"{int(counts.iat[row, column])}")
    gemm = layers["kind"].isin(GEMM_KINDS).to_numpy()
    if gemm.sum() == 0:
        _fail(trace, LAYERS_FILE, "no GEMM layer (linear or conv2d)")
    if not gemm[:int(gemm.sum())].all():
        _fail(trace, LAYERS_FILE, "kind: the GEMM layers (linear, conv2d) must come first, "
                                  "layer_id 0..B-1 (their PRNG ids), then the other layers")
    for row in layers.itertuples(index=False):
        where = f"layer {row.layer_id} ({shown(row.name)})"
        if row.kind not in KINDS:
            _fail(trace, LAYERS_FILE, f"{where}: kind {shown(row.kind)} not one of {KINDS}")
        if row.groups < 1:
            _fail(trace, LAYERS_FILE, f"{where}: groups: expected >= 1, got {row.groups}")
        if row.kind in GEMM_KINDS:
            _check_gemm_layer(trace, row, where)
        else:
            _check_vector_layer(trace, row, where)
    if int(layers["param_count"].sum()) != trace.manifest["budget"]["param_count"]:
        _fail(trace, LAYERS_FILE, "sum of param_count differs from the manifest's "
                                  "budget.param_count")
    if trace.manifest["format_version"] >= 2 and int(layers["unbudgeted_param_count"].sum()) \
            > trace.manifest["unbudgeted_param_count"]:
        _fail(trace, LAYERS_FILE, "unbudgeted_param_count: the layers' sum exceeds the "
                                  "manifest's unbudgeted_param_count")


def _check_gemm_layer(trace: Trace, row, where: str) -> None:
    shape = [int(v) for v in row.weight_shape]
    if not shape or len(shape) > MAX_DIMS or min(shape) < 1 \
            or math.prod(shape) != row.weight_count or row.weight_count > MAX_PARAMS:
        _fail(trace, LAYERS_FILE, f"layer {row.layer_id}: weight_count {row.weight_count} is "
                                  f"not the product of weight_shape {shown(shape)} (at most "
                                  f"{MAX_DIMS} sizes >= 1, {MAX_PARAMS:,} weights)")
    _check_geometry(trace, row)
    if row.bias_count < 0 or row.param_count != row.weight_count + row.bias_count:
        _fail(trace, LAYERS_FILE, f"layer {row.layer_id}: param_count != weight + bias count")
    dims = [row.fwd_m, row.fwd_n, row.fwd_k, row.bwd_data_m, row.bwd_data_n, row.bwd_data_k,
            row.bwd_weight_m, row.bwd_weight_n, row.bwd_weight_k, row.groups]
    if min(dims) < 1 or row.macs_per_sample < 1:
        _fail(trace, LAYERS_FILE, f"layer {row.layer_id}: GEMM dimensions must be >= 1")
    if (row.mode, row.input_count, row.unbudgeted_param_count, row.running_stat_count) \
            != ("", 1, 0, 0):
        _fail(trace, LAYERS_FILE, f"{where}: a {row.kind} layer has mode '', input_count 1 and "
                                  "no unbudgeted parameters or running statistics")


def _check_vector_layer(trace: Trace, row, where: str) -> None:
    """A layer between the GEMMs: no budgeted weights, and shapes its kind can produce."""
    def fail(field: str, expected: str, got) -> None:
        _fail(trace, LAYERS_FILE, f"{where}: {field}: expected {expected} for kind "
                                  f"{row.kind!r}, got {shown(got)}")

    in_shape = [int(v) for v in row.in_shape]
    out_shape = [int(v) for v in row.out_shape]
    for name, shape in (("in_shape", in_shape), ("out_shape", out_shape)):
        if not shape or len(shape) > MAX_DIMS or min(shape) < 1:
            fail(name, f"1 to {MAX_DIMS} sizes >= 1", shape)
    if row.in_activation_count != math.prod(in_shape):
        fail("in_activation_count", "the product of in_shape", int(row.in_activation_count))
    if row.out_activation_count != math.prod(out_shape):
        fail("out_activation_count", "the product of out_shape", int(row.out_activation_count))
    if len(row.weight_shape) or row.weight_count or row.bias_count or row.param_count:
        fail("weight_shape", "[] and weight, bias and param counts 0 (no budgeted weights)",
             {"weight_shape": [int(v) for v in row.weight_shape],
              "param_count": int(row.param_count)})
    gemm = [row.macs_per_sample, row.fwd_m, row.fwd_n, row.fwd_k, row.bwd_data_m, row.bwd_data_n,
            row.bwd_data_k, row.bwd_weight_m, row.bwd_weight_n, row.bwd_weight_k]
    if any(gemm):
        fail("macs_per_sample", "no MACs and GEMM dimensions 0", [int(v) for v in gemm])
    if row.groups != 1:
        fail("groups", "1", int(row.groups))
    kernel = [int(v) for v in row.kernel]
    stride = [int(v) for v in row.stride]
    padding = [int(v) for v in row.padding]
    if len(kernel) != 2 or min(kernel) < 1:
        fail("kernel", "two sizes >= 1", kernel)
    if len(stride) != 2 or min(stride) < 1:
        fail("stride", "two sizes >= 1", stride)
    if len(padding) != 2 or min(padding) < 0:
        fail("padding", "two sizes >= 0", padding)
    if (row.input_count < 2) if row.kind == "add" else (row.input_count != 1):
        fail("input_count", "2 or more" if row.kind == "add" else "1", int(row.input_count))
    if (row.mode not in POOL_MODES) if row.kind == "pool" else (row.mode != ""):
        fail("mode", f"one of {POOL_MODES}" if row.kind == "pool" else "''", row.mode)
    channels = in_shape[0]
    if row.kind != "batchnorm" and (row.unbudgeted_param_count or row.running_stat_count):
        fail("unbudgeted_param_count", "no parameters or running statistics",
             int(row.unbudgeted_param_count))
    if row.kind == "batchnorm":
        for field in ("unbudgeted_param_count", "running_stat_count"):
            if getattr(row, field) not in (0, 2 * channels):
                fail(field, f"0 or 2 x channels ({2 * channels})", int(getattr(row, field)))
    if row.kind in ("batchnorm", "relu", "add") and out_shape != in_shape:
        fail("out_shape", f"in_shape {in_shape}", out_shape)
    if row.kind == "flatten" and (len(out_shape) != 1 or out_shape[0] != math.prod(in_shape)):
        fail("out_shape", f"[{math.prod(in_shape)}] (in_shape flattened)", out_shape)
    if row.kind == "loss" and (len(in_shape) != 1 or out_shape != [1]):
        fail("out_shape", "one loss value per sample from [classes] logits",
             [in_shape, out_shape])
    if row.kind == "pool":
        if len(in_shape) != 3:
            fail("in_shape", "[C, H, W]", in_shape)
        shapes = [[channels, *pool_output_hw(in_shape[1:], kernel, stride, padding, ceil)]
                  for ceil in (False, True)]
        if out_shape not in shapes:
            fail("out_shape", f"{shapes[0]} (from in_shape, kernel, stride, padding; "
                              f"{shapes[1]} in ceil mode)", out_shape)


def _check_geometry(trace: Trace, row) -> None:
    """The layer row's shapes and GEMM dimensions agree with one another, as
    `accelsim.trace.geometry` writes them (traces/README.md)."""
    shapes = {"in_shape": [int(v) for v in row.in_shape],
              "out_shape": [int(v) for v in row.out_shape]}
    for name, shape in shapes.items():
        if not shape or len(shape) > MAX_DIMS or min(shape) < 1:
            _fail(trace, LAYERS_FILE, f"layer {row.layer_id}: {name}: expected 1 to {MAX_DIMS} "
                                      f"sizes >= 1, got {shown(shape)}")
    pairs = {"stride": [int(v) for v in row.stride], "padding": [int(v) for v in row.padding]}
    if len(pairs["stride"]) != 2 or min(pairs["stride"]) < 1 or len(pairs["padding"]) != 2 \
            or min(pairs["padding"]) < 0:
        _fail(trace, LAYERS_FILE, f"layer {row.layer_id}: expected stride of two sizes >= 1 and "
                                  f"padding of two sizes >= 0, got {pairs}")
    m, n, k, groups = int(row.fwd_m), int(row.fwd_n), int(row.fwd_k), int(row.groups)
    rules = {
        "in_activation_count = product of in_shape":
            row.in_activation_count == math.prod(shapes["in_shape"]),
        "out_activation_count = product of out_shape":
            row.out_activation_count == math.prod(shapes["out_shape"]),
        "macs_per_sample = fwd_m x fwd_n x fwd_k": row.macs_per_sample == m * n * k,
        "weight_count = fwd_n x fwd_k": row.weight_count == n * k,
        "bwd_data = (fwd_m, fwd_k x groups, fwd_n / groups)":
            (row.bwd_data_m, row.bwd_data_n, row.bwd_data_k) == (m, k * groups, n // groups),
        "bwd_weight = (fwd_k, fwd_n, fwd_m)":
            (row.bwd_weight_m, row.bwd_weight_n, row.bwd_weight_k) == (k, n, m),
    }
    for rule, holds in rules.items():
        if not holds:
            _fail(trace, LAYERS_FILE, f"layer {row.layer_id}: expected {rule}")


def _validate_steps(trace: Trace):
    s, layers = trace.steps, trace.layers  # the GEMM (budgeted) layers
    n_layers, iterations = len(layers), trace.iterations
    if len(s) != n_layers * iterations:
        _fail(trace, STEPS_FILE, f"{len(s)} rows, expected {n_layers} layers x {iterations} "
                                 "iterations")
    it = s["iteration"].to_numpy().reshape(iterations, n_layers)
    lid = s["layer_id"].to_numpy().reshape(iterations, n_layers)
    if not (np.array_equal(it, np.repeat(np.arange(iterations)[:, None], n_layers, 1))
            and np.array_equal(lid, np.tile(np.arange(n_layers), (iterations, 1)))):
        _fail(trace, STEPS_FILE, "rows must be one per (iteration, layer), sorted by both")
    expected = steps_frame(s["iteration"], s["layer_id"], s["weight_count"], s["tracked_count"],
                           s["entered_count"], s["left_count"])
    weights = np.tile(layers["param_count"].to_numpy(), iterations)
    if not np.array_equal(s["weight_count"].to_numpy(), weights):
        _fail(trace, STEPS_FILE, "weight_count differs from the layers' param_count")
    for col in STEPS_SCHEMA.names:
        if not np.array_equal(s[col].to_numpy(), expected[col].to_numpy()):
            _fail(trace, STEPS_FILE, f"column {col} breaks its definition "
                                     "(tracked + regenerated = weights, after = tracked + "
                                     "entered - left, ...)")
    for col in ("tracked_count", "entered_count", "left_count", "tracked_after_count"):
        v = s[col].to_numpy()
        if v.min() < 0 or (v > weights).any():
            _fail(trace, STEPS_FILE, f"{col} outside 0..weight_count")
    if (s["left_count"].to_numpy() > s["tracked_count"].to_numpy()).any():
        _fail(trace, STEPS_FILE, "left_count exceeds tracked_count")
    if not trace.dense:
        per_iteration = s["tracked_after_count"].to_numpy().reshape(iterations, n_layers).sum(1)
        if per_iteration.max() > trace.budget_tracked_count:
            _fail(trace, STEPS_FILE, f"total tracked {int(per_iteration.max())} exceeds the budget "
                                     f"{trace.budget_tracked_count}")
    elif (s["tracked_count"].to_numpy() != weights).any():
        _fail(trace, STEPS_FILE, "a dense trace must track every weight")


def _validate_snapshots(trace: Trace):
    rows, n_layers, iterations = trace._snapshot_rows, len(trace.layers), trace.iterations
    if rows.empty:
        _fail(trace, SNAPSHOTS_FILE, "no snapshots")
    its = rows["iteration"].to_numpy()
    if its.min() < 0 or its.max() > iterations:
        _fail(trace, SNAPSHOTS_FILE, f"snapshot iteration outside 0..{iterations}")
    if 0 not in its or iterations not in its:
        _fail(trace, SNAPSHOTS_FILE, "a trace needs a snapshot at iteration 0 and a final one")
    if not rows["reason"].isin(SNAPSHOT_REASONS).all():
        _fail(trace, SNAPSHOTS_FILE, f"reason not one of {SNAPSHOT_REASONS}")
    steps = trace.steps
    tracked = steps["tracked_count"].to_numpy().reshape(iterations, n_layers)
    last_after = steps["tracked_after_count"].to_numpy().reshape(iterations, n_layers)[-1]
    for iteration, group in rows.groupby("iteration", sort=True):
        if sorted(group["layer_id"].tolist()) != list(range(n_layers)):
            _fail(trace, SNAPSHOTS_FILE, f"snapshot {iteration}: needs one row per layer")
        if group["reason"].nunique() != 1:
            _fail(trace, SNAPSHOTS_FILE, f"snapshot {iteration}: rows disagree on the reason")
        expected = last_after if iteration == iterations else tracked[iteration]
        for r in group.itertuples(index=False):
            n = trace._param_count[int(r.layer_id)]
            bitmap = r.bitmap
            if len(bitmap) != (n + 7) // 8:
                _fail(trace, SNAPSHOTS_FILE, f"snapshot {iteration} layer {r.layer_id}: bitmap of "
                                             f"{len(bitmap)} bytes, expected {(n + 7) // 8}")
            bits = np.unpackbits(np.frombuffer(bitmap, np.uint8), bitorder="little")
            if bits[n:].any():
                _fail(trace, SNAPSHOTS_FILE, f"snapshot {iteration} layer {r.layer_id}: "
                                             "padding bits set")
            count = int(bits.sum())
            if count != r.tracked_count or count != expected[int(r.layer_id)]:
                _fail(trace, SNAPSHOTS_FILE, f"snapshot {iteration} layer {r.layer_id}: "
                                             f"{count} bits set, counts say "
                                             f"{expected[int(r.layer_id)]}")
