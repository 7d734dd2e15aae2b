"""`accelsim simulate`: a trace (or a sparse checkpoint's) and its dense baseline on one
accelerator, written as a results folder; the DRAM request stream exported on demand."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from accelsim import output_folder
from accelsim.analysis.budget_words import identity_words
from accelsim.analysis.report import comparison_table
from accelsim.app import flags
from accelsim.app.key_values import parse_key_values
from accelsim.app.progress import Stages
from accelsim.config import load_accelerator_config
from accelsim.errors import AccelsimError, ConfigError
from accelsim.io import json_text, replacing_folder, write_text_atomic
from accelsim.sim.dram.export import export_dram_trace
from accelsim.sim.dram.export_ramulator import (
    ramulator2_addresses,
    ramulator2_config_script,
    ramulator2_rows,
)
from accelsim.sim.dram.port import expand_streams
from accelsim.sim.plan import iteration_plans
from accelsim.sim.simulation import simulate
from accelsim.trace.format import load_trace

EXPORT_MAX_BURSTS = 50_000_000  # ~1.5 GB of text; beyond that a trace is no use to a DRAM tool
EXPORT_ITERATIONS = ("all", "distinct")


def handle(args) -> int:
    if bool(args.trace) == bool(args.checkpoint):
        raise AccelsimError("simulate takes a trace folder or --checkpoint PATH (one of them)")
    flags.batch_size(args.batch_size)
    if args.checkpoint:
        # rebuilding the model needs torch; a trace folder does not
        from accelsim.trace.from_model import trace_from_checkpoint

        trace = trace_from_checkpoint(args.checkpoint, batch_size=args.batch_size or 1)
        default_out = Path(args.checkpoint).with_suffix("").as_posix() + "-sim"
    else:
        trace = load_trace(args.trace)
        default_out = str(Path(args.trace)).rstrip("/") + "-sim"
    output_folder.check(args.out or default_out, "simulation")
    config = load_accelerator_config(args.accelerator,
                                     parse_key_values(args.set, "--set", fields=True))
    stages = Stages("simulate", 2, args.quiet or args.json)
    stages(f"simulating {trace.identity.get('model')} ({len(trace.layers)} layers, "
           f"{args.mode}) on {config.name}: the trace, then its dense baseline")
    started = time.perf_counter()
    result = simulate(trace, config, mode=args.mode, baseline=True,
                      every_iteration=args.every_iteration, batch_size=args.batch_size,
                      record_dram_requests=bool(args.export_dram_trace))
    wall_s = time.perf_counter() - started
    result.check()
    out = Path(args.out or default_out)
    stages(f"writing {out}" + (f" and the {args.export_dram_trace} DRAM traces"
                               if args.export_dram_trace else ""))
    exported = save_result_folder(result, out, config=config, export=args.export_dram_trace,
                                  trace=trace,
                                  export_iterations=getattr(args, "export_iterations", "all"))
    stages.done()
    totals = result.totals()
    if args.json:
        cmp = result.comparison() if len(result.runs) == 2 else None
        print(json_text({
            "out": str(out), "wall_s": round(wall_s, 3), "trace": result.trace_identity,
            "accelerator": config.name, "mode": args.mode,
            "totals": {run: {k: float(v) for k, v in totals.loc[run].items()}
                       for run in totals.index},
            "dense_over_trace": None if cmp is None else
            {m: float(r) for m, r in cmp["dense_over_trace"].items()},
            "dram_traces": [str(p) for p in exported]}, indent=2))
    elif not args.quiet:
        ident = result.trace_identity
        print(f"{ident['model']}: {identity_words(ident)}; accelerator {config.name}; mode "
              f"{args.mode} ({wall_s:.2f} s)\n")
        if len(result.runs) == 2:
            print(comparison_table(totals, markdown=False).to_string(index=False))
        print(f"\nresults: {out}/records.parquet, records.csv, summary.json")
        for p in exported:
            print(f"DRAM trace: {p}")
        if exported and getattr(args, "export_iterations", "all") == "distinct":
            print("  (the stream the DRAM model timed: the one-time load, then each distinct "
                  "simulated iteration once, not repeated for the iterations it stands for)")
        elif exported:
            print("  (the whole run: the one-time load, then every iteration, each simulated "
                  "iteration repeated for the iterations it stands for, end to end)")
    return 0


RESULT_FILES = ("records.parquet", "records.csv", "summary.json")


def check_is_simulation(path: Path):
    """Only a simulation's results are replaced by a simulation's: a user's --out typo must
    never swap their files away."""
    if not any((path / name).exists() for name in RESULT_FILES):
        raise AccelsimError(f"{path}: exists and is not a simulation results folder (no "
                            f"{', '.join(RESULT_FILES)}); choose another --out or remove it")


def save_result_folder(result, out: Path, *, config=None, export: str | None = None,
                       trace=None, export_iterations: str = "all") -> list[Path]:
    """Write the results folder whole and swap it in for `out` (accelsim.io.replacing_folder):
    `out` holds the old results or the new ones, never a mix. Returns the DRAM traces written.
    A whole-run export (`export_iterations` "all") needs the simulated `trace`."""
    with replacing_folder(out, check=check_is_simulation) as stage:
        result.save(stage)
        exported = (_export_dram(result, config, stage, export, trace, export_iterations,
                                 final=out) if export else [])
    return [out / p.name for p in exported]


def _distinct_iterations(result, trace, run: str) -> list[tuple[str, int]]:
    """(label, weight) of each distinct simulated iteration of `run`, in simulation order: the
    label the request log gives it ("iteration N") and the trace iterations it stands for.
    Follows `accelsim.sim.simulation` (one simulation per distinct iteration plan; a dense run's
    alike iterations are one)."""
    every = bool(result.settings.get("every_iteration", False))
    source = trace if run == "trace" or trace.dense else trace.as_dense()
    weights: dict = {}
    for plan in iteration_plans(source, every):
        key = (None if source.dense else plan.snapshot_iteration, plan.tracked.tobytes(),
               plan.entered.tobytes(), plan.left.tobytes())
        entry = weights.setdefault(key, [f"iteration {plan.first_iteration}", 0])
        entry[1] += int(plan.weight)
    return [(label, weight) for label, weight in weights.values()]


def _whole_run(result, trace, run: str, streams, burst: int):
    """The run's request stream over every iteration (accelerator cycles): the load, then each
    distinct simulated iteration repeated by its weight, repetitions end to end.

    A repetition lasts the run's mean iteration (the records' non-load cycles over the
    iterations): exact when the iterations are alike (dense runs), within the spread of the
    iteration lengths otherwise (DropBack: tracked-set changes, 0.03 % on the LeNet sample).
    Requests keep their cycle within their iteration; lines never go back in time. With
    --every-iteration, alike iterations are one simulated iteration and its repetitions are
    laid out together (in order of first appearance), not interleaved as in the run."""
    records = result.run(run)
    load_cycles = int(records.loc[records["phase"] == "load", "total_cycles"].sum())
    distinct = _distinct_iterations(result, trace, run)
    iterations = sum(weight for _, weight in distinct)
    mean = float(records.loc[records["phase"] != "load", "total_cycles"].sum()) / iterations
    labels = streams["simulated"].to_numpy()
    known = {"load"} | {label for label, _ in distinct}
    if not set(labels.tolist()) <= known:
        raise ConfigError("--export-dram-trace: the request log names iterations this trace's "
                          "plans do not (simulation and export disagree); use "
                          "--export-iterations distinct")
    parts = [expand_streams(streams[labels == "load"], burst)]
    done = 0
    for index, (label, weight) in enumerate(distinct):
        addresses, writes, cycles = expand_streams(streams[labels == label], burst)
        # the log lays the distinct iterations end to end once: this one began after the load
        # and `index` iterations (mean length; the first one exactly)
        local = np.maximum(cycles - (load_cycles + index * mean), 0.0)
        starts = load_cycles + (done + np.arange(weight)) * mean
        parts.append((np.tile(addresses, weight), np.tile(writes, weight),
                      np.tile(local, weight) + np.repeat(starts, addresses.size)))
        done += weight
    addresses, writes, cycles = (np.concatenate(column) for column in zip(*parts))
    return addresses, writes, np.maximum.accumulate(cycles) if cycles.size else cycles


def _run_bursts(streams, burst: int) -> np.ndarray:
    """Bursts per logged stream."""
    base, size = streams["base_byte_address"], streams["n_bytes"]
    return ((base + size - 1) // burst - base // burst + 1).clip(lower=0).to_numpy()


def _export_ramulator2(dram, addresses, is_write, path: Path, final_path: Path) -> None:
    """The trace in Ramulator's address mapping (its LoadStoreTrace has no time column) and
    `<trace>_config.py`, a Ramulator 2.1 script that replays it (`python -m ramulator run`)."""
    try:
        export_dram_trace(ramulator2_addresses(dram, addresses), is_write, 0, path, "ramulator2")
        script = ramulator2_config_script(dram, trace_path=final_path,
                                          rows=ramulator2_rows(dram, addresses))
    except ValueError as exc:  # a DRAM Ramulator 2.1 cannot model (LPDDR4, odd sizes)
        raise ConfigError(f"--export-dram-trace ramulator2: {exc}") from None
    write_text_atomic(path.with_name(path.name.removesuffix(".trace") + "_config.py"), script)


def _export_dram(result, config, out: Path, fmt: str, trace=None,
                 iterations: str = "all", final: Path | None = None) -> list[Path]:
    """Write each run's DRAM request stream, one burst a line, in DRAM clock cycles: the whole
    run ("all": the load, then every iteration) or the stream the DRAM model timed
    ("distinct": the load, then each distinct simulated iteration once). For Ramulator 2 the
    addresses are rewritten for its mapper and a config script that replays the trace from
    `final` (the folder `out` becomes) is written beside it."""
    if iterations not in EXPORT_ITERATIONS:
        raise ConfigError(f"--export-iterations {iterations!r}: expected one of "
                          f"{', '.join(EXPORT_ITERATIONS)}")
    if iterations == "all" and trace is None:
        raise ConfigError("a whole-run DRAM export needs the simulated trace")
    burst = config.dram.burst_bytes
    dram_per_accel_cycle = (1000.0 / config.clock_mhz) / config.dram.tck_ns
    paths = []
    for run, streams in (result.dram_requests or {}).items():
        if streams is None or len(streams) == 0:
            continue
        per_stream = _run_bursts(streams, burst)
        if iterations == "all":
            weight = {"load": 1} | dict(_distinct_iterations(result, trace, run))
            repeats = streams["simulated"].map(weight).fillna(1).to_numpy()
            bursts = int((per_stream * repeats).sum())
        else:
            bursts = int(per_stream.sum())
        if bursts > EXPORT_MAX_BURSTS:
            hint = ("; --export-iterations distinct writes each distinct simulated iteration "
                    "once" if iterations == "all" else "")
            raise ConfigError(f"--export-dram-trace: the {run} run issues {bursts:,} bursts, more "
                              f"than {EXPORT_MAX_BURSTS:,}; export a smaller case (--mode "
                              f"inference, --batch-size 1, or activations off){hint}")
        if iterations == "all":
            addresses, is_write, cycles = _whole_run(result, trace, run, streams, burst)
        else:
            addresses, is_write, cycles = expand_streams(streams, burst)
        path = out / f"dram_{run}.{fmt}.trace"
        if fmt == "ramulator2":
            _export_ramulator2(config.dram, addresses, is_write, path,
                               (final or out).resolve() / path.name)
        else:
            export_dram_trace(addresses, is_write, cycles * dram_per_accel_cycle, path, fmt)
        paths.append(path)
    return paths
