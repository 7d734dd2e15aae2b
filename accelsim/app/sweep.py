"""Sweeps: one trace simulated over many accelerator configs (SRAM sizes, DRAM presets, array
shapes...), dense baseline and trace at every point, as one table.

Points run on local worker processes by default, or on an existing Dask cluster. Each finished
point is written at once to `<out>/points/<id>.json` (atomically), so an interrupted sweep
resumes without recomputing them. The point id hashes what determines its result: the trace's
manifest, the base config and the overrides, and the mode. `handle` is `accelsim sweep`; the
folder is read back by `accelsim.analysis.folders.load_sweep`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from accelsim import __version__
from accelsim.analysis.figures import sweep_figures
from accelsim.analysis.folders import SRAM_FIELD
from accelsim.app import flags
from accelsim.app.key_values import parse_key_values
from accelsim.config import load_accelerator_config
from accelsim.errors import ConfigError
from accelsim.io import atomic_path, write_json_atomic
from accelsim.limits import MAX_SWEEP_POINTS
from accelsim.sim.accelerator import simulate
from accelsim.sim.placement import place_tracked
from accelsim.sim.results import COUNT_COLUMNS, ENERGY_COLUMNS, RUNS
from accelsim.trace.format import load_trace
from accelsim.units import parse_size_list

# the order of a point's totals (SimulationResult.totals), kept in the table
TOTALS = (*COUNT_COLUMNS, *ENERGY_COLUMNS, "dram_bytes", "weight_dram_bytes")

DASK_CONNECT_TIMEOUT = "10s"  # how long --dask waits for the scheduler to answer


def sweep_points(sram_sizes=None, fields: dict | None = None) -> list[dict]:
    """The cartesian product of the swept values: a list of dotted-override dicts."""
    axes = {}
    if sram_sizes:
        axes[SRAM_FIELD] = list(sram_sizes)
    for key, values in (fields or {}).items():
        if key in axes:
            raise ConfigError(f"sweep: field {key!r} given twice")
        if not values:
            raise ConfigError(f"sweep: field {key!r} has no values")
        axes[key] = list(values)
    if not axes:
        raise ConfigError("sweep: nothing to sweep; give --sram-sizes or --set FIELD=V1,V2")
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


def run_point(trace_path: str, accelerator, overrides: dict, mode: str) -> dict:
    """Simulate one point (dense and trace); return its totals per run. Runs in a worker."""
    config = load_accelerator_config(accelerator, overrides)
    result = simulate(trace_path, config, mode=mode, baseline=True)
    totals = result.totals()
    return {
        "overrides": overrides,
        "weight_sram_capacity_bytes": config.weight_sram.capacity_bytes,
        "totals": {run: {k: float(v) for k, v in totals.loc[run].items()} for run in totals.index},
    }


def _run_local(tasks, jobs, progress):
    if jobs == 1 or len(tasks) == 1:
        for pid, args in tasks:
            yield pid, run_point(*args)
            progress.update(1)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_point, *args): pid for pid, args in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result()
            progress.update(1)


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


def _run_dask(tasks, address, progress):
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
        futures = {client.submit(run_point, *args, pure=False): pid for pid, args in tasks}
        # the client is not the default one: as_completed must be given its loop
        for future in dask_completed(list(futures), loop=client.loop):
            yield futures[future], future.result()
            progress.update(1)
    finally:
        client.close()


def sweep(trace, accelerator="default", *, sram_sizes=None, fields=None, mode="train",
          out=None, jobs=None, dask_address=None, quiet=False) -> pd.DataFrame:
    """Simulate `trace` at every point; return one row per (point, run) and write the table.

    trace: a trace folder. accelerator: base config name or path. sram_sizes: weight SRAM
    capacities in bytes. fields: {dotted field: [values]} swept too (cartesian product).
    """
    loaded = load_trace(trace)
    if loaded.path is None:
        raise ConfigError("sweep needs a trace folder on disk (workers read it)")
    out = Path(out) if out else loaded.path.parent / f"{loaded.path.name}-sweep"
    points = sweep_points(sram_sizes, fields)
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
    for _, (_, ref, overrides, _) in tasks:
        load_accelerator_config(ref, overrides)
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
            rows.append({"point_id": pid, **overrides, "run": run,
                         "weight_sram_capacity_bytes": result["weight_sram_capacity_bytes"],
                         **{k: totals[k] for k in sorted(totals, key=_order(TOTALS))}})
    table = pd.DataFrame(rows)
    _write_table(out, table, {"trace": loaded.identity, "trace_path": str(loaded.path),
                              "accelerator": accel_ref, "mode": mode,
                              "swept": sorted({k for p in points for k in p}),
                              "points": len(points),
                              "tracked_footprint_bytes":
                                  tracked_footprint_bytes(loaded, accelerator)})
    return table


def _order(canonical):
    rank = {name: i for i, name in enumerate(canonical)}
    return lambda name: (rank.get(name, len(rank)), name)


def tracked_footprint_bytes(trace, accelerator="default") -> int:
    """SRAM bytes the trace's largest tracked set needs (values and index), on `accelerator`."""
    config = load_accelerator_config(accelerator)
    layers = trace.layers
    counts = trace.steps.groupby("layer_id")["tracked_after_count"].max().reindex(
        layers["layer_id"]).to_numpy()
    placement = place_tracked(layers["param_count"].to_numpy(), layers["exec_order"].to_numpy(),
                              counts, weight_bits=config.weight_bits, index_config=config.index,
                              capacity_bytes=2 ** 62, dense=trace.dense)
    return int(placement.pinned_bytes)


def _write_table(out: Path, table: pd.DataFrame, meta: dict):
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "sweep.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(out / "sweep.csv") as tmp:
        table.to_csv(tmp, index=False)
    write_json_atomic(out / "sweep.json", meta)


def handle(args) -> int:
    sizes = parse_size_list(args.sram_sizes) if args.sram_sizes else None
    if sizes and min(sizes) <= 0:
        raise ConfigError(f"--sram-sizes {args.sram_sizes!r}: sizes must be > 0 for a sweep "
                          "(its axis is logarithmic); simulate --set "
                          "weight_sram.capacity_bytes=0 gives the no-SRAM point")
    fields = parse_key_values(args.set, "--set", fields=True, multi=True)
    flags.jobs(args.jobs)
    out = Path(args.out) if args.out else Path(str(Path(args.trace)).rstrip("/") + "-sweep")
    table = sweep(args.trace, args.accelerator, sram_sizes=sizes, fields=fields,
                  mode=args.mode, out=out, jobs=args.jobs, dask_address=args.dask,
                  quiet=args.quiet or args.json)
    figures = sweep_figures(out, out / "figures")
    if args.json:
        print(json.dumps({"out": str(out), "points": int(table["point_id"].nunique()),
                          "figures": [str(f) for f in figures],
                          "table": json.loads(table.to_json(orient="records"))}, indent=2))
    elif not args.quiet:
        keys = [c for c in table.columns if "." in c] + ["run"]
        shown = table[keys + ["dram_bytes", "energy_pj", "total_cycles"]].copy()
        print(shown.to_string(index=False))
        print(f"\nsweep: {out}/sweep.csv; figures: {', '.join(str(f) for f in figures)}")
    return 0
