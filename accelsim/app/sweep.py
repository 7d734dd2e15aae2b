"""Sweeps: one trace simulated over many accelerator configs (SRAM sizes, DRAM presets, array
shapes...), dense baseline and trace at every point, as one table.

Points run on local worker processes by default, or on an existing Dask cluster. Each finished
point is written at once to `<out>/points/<id>.json` (atomically), so an interrupted sweep
resumes without recomputing them: the points folder grows, a folder holding only `points/` is
a sweep in progress. The point id hashes what determines its result: the trace's manifest, the
base config and the overrides, and the mode. The table, its metadata and the figures are then
written whole beside the folder and swapped in with the points (accelsim.io.replacing_folder):
`<out>` shows the old sweep's results or the new one's, never a mix. Local workers die with the
sweep, however it ends (see `_die_with_parent`). `handle` is `accelsim sweep`; the folder is
read back by `accelsim.analysis.folders.load_sweep`.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import itertools
import json
import math
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from accelsim import __version__, output_folder
from accelsim.analysis.figures import sweep_figures
from accelsim.analysis.folders import SRAM_FIELD
from accelsim.app import flags
from accelsim.app.key_values import parse_key_values
from accelsim.config import load_accelerator_config
from accelsim.errors import ConfigError
from accelsim.io import (
    atomic_path,
    clean_stale,
    json_text,
    link_tree,
    replacing_folder,
    write_json_atomic,
)
from accelsim.limits import MAX_BATCH_SIZE, MAX_SWEEP_POINTS
from accelsim.sim.area import config_area_mm2
from accelsim.sim.mapping.placement import (
    OPTIMIZER_STATE_WORDS,
    optimizer_kind,
    optimizer_state_bits,
    place_tracked,
)
from accelsim.sim.results import COUNT_COLUMNS, ENERGY_COLUMNS, RUNS
from accelsim.sim.simulation import simulate
from accelsim.trace.format import load_trace
from accelsim.units import format_bytes, format_energy, format_ratio, parse_size_list

# the order of a point's totals (SimulationResult.totals), kept in the table
TOTALS = (*COUNT_COLUMNS, *ENERGY_COLUMNS, "dram_bytes", "weight_dram_bytes")

DASK_CONNECT_TIMEOUT = "10s"  # how long --dask waits for the scheduler to answer


BATCH_KEY = "batch_size"  # the batch-size axis: a simulation setting, not a config field
GLOBAL_BUFFER_FIELD = "global_buffer.capacity_bytes"
CAPACITY_FIELDS = (SRAM_FIELD, GLOBAL_BUFFER_FIELD)


def capacity_field(accelerator) -> str:
    """The field `--sram-sizes` sweeps on `accelerator`: the weight SRAM's capacity, or the
    global buffer's when the config has one shared buffer."""
    shared = load_accelerator_config(accelerator).buffer_organisation == "shared"
    return GLOBAL_BUFFER_FIELD if shared else SRAM_FIELD


def sweep_points(sram_sizes=None, fields: dict | None = None, batch_sizes=None, *,
                 sram_field: str = SRAM_FIELD) -> list[dict]:
    """The cartesian product of the swept values: a list of dotted-override dicts, with the
    batch size (when swept) under `BATCH_KEY`. A sweep without batch sizes has points (and
    so ids) as before the axis existed."""
    axes = {}
    if sram_sizes:
        axes[sram_field] = list(sram_sizes)
    for key, values in (fields or {}).items():
        if key in axes:
            raise ConfigError(f"sweep: field {key!r} given twice")
        if not values:
            raise ConfigError(f"sweep: field {key!r} has no values")
        axes[key] = list(values)
    if batch_sizes:
        if BATCH_KEY in axes:
            raise ConfigError(f"sweep: {BATCH_KEY} is not a config field; give --batch-sizes")
        for value in batch_sizes:
            flags.integer("--batch-sizes", value, 1, MAX_BATCH_SIZE)
        axes[BATCH_KEY] = [int(value) for value in batch_sizes]
    if not axes:
        raise ConfigError("sweep: nothing to sweep; give --sram-sizes, --batch-sizes or --set "
                          "FIELD=V1,V2")
    count = math.prod(len(v) for v in axes.values())
    if count > MAX_SWEEP_POINTS:
        raise ConfigError(f"sweep: expected at most {MAX_SWEEP_POINTS:,} points, got {count:,} "
                          f"({' x '.join(str(len(v)) for v in axes.values())})")
    keys = list(axes)
    return [dict(zip(keys, combo)) for combo in itertools.product(*axes.values())]


def _config_digest(accelerator) -> str:
    """Identity of the base config as resolved (derived energies included) by this version of
    accelsim: a code or default change makes old point files stale, not silently reused."""
    resolved = load_accelerator_config(accelerator).to_dict()
    resolved.pop("path", None)
    return hashlib.sha256(json.dumps([__version__, resolved], sort_keys=True, default=str)
                          .encode()).hexdigest()


POINT_KEYS = ("overrides", "weight_sram_capacity_bytes", "totals")


def point_id(trace_sha: str, config_sha: str, overrides: dict, mode: str) -> str:
    text = json.dumps([trace_sha, config_sha, overrides, mode], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _config_overrides(overrides: dict) -> dict:
    return {k: v for k, v in overrides.items() if k != BATCH_KEY}


# per process: the trace a worker simulates, read and checked once for all its points (a
# sweep's points share one trace; reading and checking it was 16 % of a sweep's time)
_worker_traces: dict[tuple, object] = {}


def _trace_once(trace_path: str):
    """`load_trace(trace_path)`, once per process while the trace's manifest is unchanged."""
    manifest = Path(trace_path) / "manifest.json"
    try:
        stat = manifest.stat()
        key: tuple | None = (str(Path(trace_path).resolve()), stat.st_mtime_ns, stat.st_size,
                             stat.st_ino)
    except OSError:
        key = None  # load_trace says what is wrong with the folder
    if key is not None and key in _worker_traces:
        return _worker_traces[key]
    trace = load_trace(trace_path)
    if key is not None:
        _worker_traces.clear()  # one trace at a time: a worker's memory stays one trace's
        _worker_traces[key] = trace
    return trace


_worker_configs: dict[str, object] = {}  # per process: the base config, read once


def _config_once(accelerator):
    """The base config `accelerator` names, read and checked once per process (its points
    differ only by overrides, applied to it in memory)."""
    if not isinstance(accelerator, str):
        return load_accelerator_config(accelerator)
    if accelerator not in _worker_configs:
        _worker_configs.clear()
        _worker_configs[accelerator] = load_accelerator_config(accelerator)
    return _worker_configs[accelerator]


def run_point(trace_path: str, accelerator, overrides: dict, mode: str) -> dict:
    """Simulate one point (dense and trace); return its totals per run. Runs in a worker."""
    config = load_accelerator_config(_config_once(accelerator), _config_overrides(overrides))
    result = simulate(_trace_once(trace_path), config, mode=mode, baseline=True,
                      batch_size=overrides.get(BATCH_KEY))
    totals = result.totals()
    point = {
        "overrides": overrides,
        "weight_sram_capacity_bytes": config.weight_sram.capacity_bytes,
        "area_mm2": config_area_mm2(config),  # the chip's silicon per component and in total
        "totals": {run: {k: float(v) for k, v in totals.loc[run].items()} for run in totals.index},
    }
    if config.global_buffer is not None:  # and what each run gave its pinned weights
        point["global_buffer"] = {
            "capacity_bytes": config.global_buffer.capacity_bytes,
            "weight_share_bytes": {run: chosen["weight_share_bytes"] for run, chosen in
                                   result.settings["global_buffer"].items()}}
    return point


PARENT_POLL_S = 1.0  # how often a worker checks its parent where the kernel cannot tell it


def _die_with_parent(parent_pid: int):
    """Worker initializer: end this worker when the sweep process ends, even by SIGKILL, so no
    worker outlives it. Linux: the kernel sends SIGKILL on the parent's death
    (prctl PR_SET_PDEATHSIG); elsewhere a thread polls the parent's pid."""
    watched = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            pr_set_pdeathsig = 1
            libc = ctypes.CDLL(None, use_errno=True)
            watched = libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) == 0
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)
    if not watched:
        def watch():
            while os.getppid() == parent_pid:
                time.sleep(PARENT_POLL_S)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()


def _run_local(tasks, jobs, progress, fn=None):
    """Run `fn(*args)` (default `run_point`) for each (point id, args) task on local processes;
    yield (point id, result) as each finishes. Studies run their points here too."""
    fn = fn or run_point
    if jobs == 1 or len(tasks) == 1:
        for pid, args in tasks:
            yield pid, fn(*args)
            progress.update(1)
        return
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_die_with_parent,
                               initargs=(os.getpid(),))
    try:
        futures = {pool.submit(fn, *args): pid for pid, args in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result()
            progress.update(1)
    except BaseException:
        # Ctrl-C, SIGTERM turned into an exception, or a failed point: stop the workers now
        # rather than wait for every queued point
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _check_dask_address(address: str):
    """Refuse a malformed address before a Client is made: a half-made Client hangs for twice
    its timeout when it is garbage-collected."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    try:
        scheme, location = parse_address(address)
        if scheme not in backends:
            raise ValueError(f"unknown scheme {scheme!r}, known: {sorted(backends)}")
        if scheme != "inproc":
            parse_host_port(location)
    except ValueError as exc:
        raise ConfigError(f"--dask {address!r}: not a scheduler address ({exc}); expected "
                          "e.g. tcp://127.0.0.1:8786") from None


def _run_dask(tasks, address, progress, fn=None):
    try:
        from dask.distributed import Client
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise ConfigError("--dask needs dask.distributed: pip install 'accelsim[dask]'") from None
    _check_dask_address(address)
    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"--dask {address}: no scheduler answered ({exc})") from None
    try:
        futures = {client.submit(fn or run_point, *args, pure=False): pid for pid, args in tasks}
        # the client is not the default one: as_completed must be given its loop
        for future in dask_completed(list(futures), loop=client.loop):
            yield futures[future], future.result()
            progress.update(1)
    finally:
        client.close()


SWEEP_FILES = ("sweep.parquet", "sweep.csv", "sweep.json")


def check_is_sweep(path: Path):
    """Only a sweep folder (or one in progress) is written into or replaced by a sweep: a
    user's --out typo must never swap their files away."""
    if not any((path / name).exists() for name in (*SWEEP_FILES, "points")):
        raise ConfigError(f"{path}: exists and is not a sweep folder (no sweep.json or "
                          "points/); choose another --out or remove it")


def sweep(trace, accelerator="default", *, sram_sizes=None, fields=None, batch_sizes=None,
          mode="train", out=None, jobs=None, dask_address=None, quiet=False,
          on_publish=None) -> pd.DataFrame:
    """Simulate `trace` at every point; return one row per (point, run) and write the table.

    trace: a trace folder. accelerator: base config name or path. sram_sizes: weight SRAM
    capacities in bytes (the global buffer's, on a config with one shared buffer). fields:
    {dotted field: [values]} swept too (cartesian product). batch_sizes: batch sizes swept too
    (the simulation's override of the trace's; column `batch_size`).
    on_publish(folder, table, meta): called with the finished folder, its table and metadata
    before it is swapped in for `out`, to add files to it (the command draws its figures
    there, from the table in memory: nothing is read back).
    """
    loaded = load_trace(trace)
    if loaded.path is None:
        raise ConfigError("sweep needs a trace folder on disk (workers read it)")
    out = Path(out) if out else loaded.path.parent / f"{loaded.path.name}-sweep"
    if out.is_dir() and any(out.iterdir()):
        check_is_sweep(out)
    # a killed earlier sweep may have left temporaries; finished points are kept
    clean_stale(out)
    clean_stale(out / "points")
    sram_field = capacity_field(accelerator)
    points = sweep_points(sram_sizes, fields, batch_sizes, sram_field=sram_field)
    trace_sha = loaded.identity["manifest_sha256"]
    config_sha = _config_digest(accelerator)
    accel_ref = str(accelerator)
    done, tasks = {}, []
    for overrides in points:
        pid = point_id(trace_sha, config_sha, overrides, mode)
        file = out / "points" / f"{pid}.json"
        if file.exists():
            try:
                saved = json.loads(file.read_text())
                if isinstance(saved, dict) and all(k in saved for k in POINT_KEYS):
                    done[pid] = saved
                    continue
            except (json.JSONDecodeError, UnicodeDecodeError):
                pass  # a damaged point is recomputed
        tasks.append((pid, (str(loaded.path), accel_ref, overrides, mode)))
    # validate every point's config up front: a bad value fails before any work starts
    base_config = _config_once(accel_ref)
    for _, (_, _, overrides, _) in tasks:
        load_accelerator_config(base_config, _config_overrides(overrides))
    progress = tqdm(total=len(points), initial=len(done), desc="sweep", unit="point",
                    disable=quiet or not os.isatty(2))
    runner = (_run_dask(tasks, dask_address, progress) if dask_address else
              _run_local(tasks, jobs or min(len(tasks), os.cpu_count() or 1) or 1, progress))
    for pid, result in runner:
        write_json_atomic(out / "points" / f"{pid}.json", result)
        done[pid] = result
    progress.close()
    rows = []
    for overrides in points:
        pid = point_id(trace_sha, config_sha, overrides, mode)
        result = done[pid]
        # a point read back from its file has its keys sorted: order runs and columns the way
        # a fresh point has them, so a resumed sweep's table equals an uninterrupted one's
        for run in sorted(result["totals"], key=_order(RUNS)):
            totals = result["totals"][run]
            shared = result.get("global_buffer")
            rows.append({"point_id": pid, **overrides, "run": run,
                         "weight_sram_capacity_bytes": result["weight_sram_capacity_bytes"],
                         "area_mm2": result.get("area_mm2", {}).get("total", float("nan")),
                         **({"global_buffer_capacity_bytes": shared["capacity_bytes"],
                             "weight_share_bytes": shared["weight_share_bytes"][run]}
                            if shared else {}),
                         **{k: totals[k] for k in sorted(totals, key=_order(TOTALS))}})
    table = pd.DataFrame(rows)
    meta = {"trace": loaded.identity, "trace_path": str(loaded.path), "accelerator": accel_ref,
            "mode": mode, "swept": sorted({k for p in points for k in p}),
            "points": len(points),
            "tracked_footprint_bytes": tracked_footprint_bytes(loaded, accelerator, mode)}
    if sram_field != SRAM_FIELD:
        # the capacity axis, and the buffer from which the tracked set fits beside the room
        # kept for activations (a split sweep's metadata is as it was)
        base = load_accelerator_config(accelerator)
        meta["capacity_field"] = sram_field
        meta["fits_capacity_bytes"] = (meta["tracked_footprint_bytes"]
                                       + base.min_activation_room_bytes)
    _publish(out, table, meta, on_publish)
    return table


def _order(canonical):
    rank = {name: i for i, name in enumerate(canonical)}
    return lambda name: (rank.get(name, len(rank)), name)


def tracked_footprint_bytes(trace, accelerator="default", mode: str = "train") -> int:
    """SRAM bytes the trace's largest tracked set needs (values and index, and in training the
    state its optimizer keeps per tracked weight, which the simulator places beside it), on
    `accelerator`."""
    config = load_accelerator_config(accelerator)
    layers = trace.layers
    counts = trace.steps.groupby("layer_id")["tracked_after_count"].max().reindex(
        layers["layer_id"]).to_numpy()
    words = (OPTIMIZER_STATE_WORDS[optimizer_kind(trace.manifest.get("optimizer"))]
             if mode == "train" else 0)
    placement = place_tracked(layers["param_count"].to_numpy(), layers["exec_order"].to_numpy(),
                              counts, weight_bits=config.weight_bits, index_config=config.index,
                              capacity_bytes=2 ** 62, dense=trace.dense,
                              state_words_per_weight=[words] * len(layers),
                              state_bits=optimizer_state_bits(config))
    return int(placement.pinned_bytes)


def _publish(out: Path, table: pd.DataFrame, meta: dict, on_publish=None):
    """The new sweep folder, whole: every point file (linked, not copied), the table, its
    metadata and what `on_publish` adds, swapped in for `out` in one step. Results of an
    earlier sweep into `out` (its table, figures, report) are replaced, not mixed in."""
    with replacing_folder(out, check=check_is_sweep) as stage:
        (stage / "points").mkdir()
        if (out / "points").is_dir():
            link_tree(out / "points", stage / "points")
        with atomic_path(stage / "sweep.parquet") as tmp:
            table.to_parquet(tmp, index=False)
        with atomic_path(stage / "sweep.csv") as tmp:
            table.to_csv(tmp, index=False)
        write_json_atomic(stage / "sweep.json", meta)
        if on_publish is not None:
            on_publish(stage, table, meta)


def _batch_sizes(text: str) -> list[int]:
    """--batch-sizes 1,8,32: whole numbers, each checked like --batch-size."""
    values = []
    for part in text.split(","):
        try:
            values.append(int(part.strip()))
        except ValueError:
            raise ConfigError(f"--batch-sizes: expected whole numbers such as 1,8,32, got "
                              f"{text!r}") from None
    if len(set(values)) != len(values):
        raise ConfigError(f"--batch-sizes: expected distinct values, got {text!r}")
    return values


def console_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per point for the terminal: the swept values, then DRAM traffic, energy and
    cycles of dense and DropBack with units, each with its ratio dense / DropBack (above 1:
    DropBack saves)."""
    keys = [c for c in table.columns if "." in c or c == BATCH_KEY]
    rows = []
    for _, point in table.groupby("point_id", sort=False):
        runs = point.set_index("run")
        row = {k: (format_bytes(point[k].iloc[0]) if k.endswith("_bytes") else point[k].iloc[0])
               for k in keys}
        for column, label, shown in (("dram_bytes", "DRAM", format_bytes),
                                     ("energy_pj", "energy", format_energy),
                                     ("total_cycles", "cycles", "{:,.0f}".format)):
            for run, name in (("dense", "dense"), ("trace", "DropBack")):
                if run in runs.index:
                    row[f"{label} {name}"] = shown(runs.loc[run, column])
            if {"dense", "trace"} <= set(runs.index):
                row[f"{label} ratio"] = format_ratio(runs.loc["dense", column],
                                                     runs.loc["trace", column])
        rows.append(row)
    return pd.DataFrame(rows)


def handle(args) -> int:
    sizes = parse_size_list(args.sram_sizes) if args.sram_sizes else None
    if sizes and min(sizes) <= 0:
        raise ConfigError(f"--sram-sizes {args.sram_sizes!r}: sizes must be > 0 for a sweep "
                          "(its axis is logarithmic); simulate --set "
                          "weight_sram.capacity_bytes=0 gives the no-SRAM point")
    fields = parse_key_values(args.set, "--set", fields=True, multi=True)
    batch_sizes = _batch_sizes(args.batch_sizes) if args.batch_sizes else None
    flags.jobs(args.jobs)
    out = Path(args.out) if args.out else Path(str(Path(args.trace)).rstrip("/") + "-sweep")
    output_folder.check(out, "sweep")
    figures: list[Path] = []

    def draw(stage: Path, table, meta):  # into the new folder: figures arrive with the table
        # JSON-typed metadata, as a reader of the folder sees it
        meta = json.loads(json_text(meta))
        figures.extend(out / "figures" / Path(f).name
                       for f in sweep_figures(stage, stage / "figures", table=table, meta=meta))

    table = sweep(args.trace, args.accelerator, sram_sizes=sizes, fields=fields,
                  batch_sizes=batch_sizes, mode=args.mode, out=out, jobs=args.jobs,
                  dask_address=args.dask,
                  quiet=args.quiet or args.json, on_publish=draw)
    if args.json:
        print(json_text({"out": str(out), "points": int(table["point_id"].nunique()),
                          "figures": [str(f) for f in figures],
                          "table": json.loads(table.to_json(orient="records"))}))
    elif not args.quiet:
        print(console_table(table).to_string(index=False))
        print(f"\nsweep: {out}/sweep.csv; figures: {', '.join(str(f) for f in figures)}")
    return 0
