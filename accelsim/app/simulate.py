"""`accelsim simulate`: a trace (or a sparse checkpoint's) and its dense baseline on one
accelerator, written as a results folder; the DRAM request stream exported on demand."""

from __future__ import annotations

import time
from pathlib import Path

from accelsim.analysis.report import comparison_table
from accelsim.app import flags
from accelsim.app.key_values import parse_key_values
from accelsim.config import load_accelerator_config
from accelsim.errors import AccelsimError, ConfigError
from accelsim.io import json_text, replacing_folder
from accelsim.sim.dram.export import export_dram_trace
from accelsim.sim.dram.port import expand_streams
from accelsim.sim.simulation import simulate
from accelsim.trace.format import load_trace

EXPORT_MAX_BURSTS = 50_000_000  # ~1.5 GB of text; beyond that a trace is no use to a DRAM tool


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
    config = load_accelerator_config(args.accelerator,
                                     parse_key_values(args.set, "--set", fields=True))
    started = time.perf_counter()
    result = simulate(trace, config, mode=args.mode, baseline=True,
                      every_iteration=args.every_iteration, batch_size=args.batch_size,
                      record_dram_requests=bool(args.export_dram_trace))
    wall_s = time.perf_counter() - started
    result.check()
    out = Path(args.out or default_out)
    exported = save_result_folder(result, out, config=config, export=args.export_dram_trace)
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
        print(f"{ident['model']}: {ident['budget_tracked_count']:,} of {ident['param_count']:,} "
              f"weights tracked; accelerator {config.name}; mode {args.mode} "
              f"({wall_s:.2f} s)\n")
        if len(result.runs) == 2:
            print(comparison_table(totals, markdown=False).to_string(index=False))
        print(f"\nresults: {out}/records.parquet, records.csv, summary.json")
        for p in exported:
            print(f"DRAM trace: {p}")
        if exported:
            print("  (the stream the DRAM model timed: the one-time load, then each distinct "
                  "simulated iteration once, not repeated for the iterations it stands for)")
    return 0


RESULT_FILES = ("records.parquet", "records.csv", "summary.json")


def check_is_simulation(path: Path):
    """Only a simulation's results are replaced by a simulation's: a user's --out typo must
    never swap their files away."""
    if not any((path / name).exists() for name in RESULT_FILES):
        raise AccelsimError(f"{path}: exists and is not a simulation results folder (no "
                            f"{', '.join(RESULT_FILES)}); choose another --out or remove it")


def save_result_folder(result, out: Path, *, config=None, export: str | None = None) -> list[Path]:
    """Write the results folder whole and swap it in for `out` (accelsim.io.replacing_folder):
    `out` holds the old results or the new ones, never a mix. Returns the DRAM traces written."""
    with replacing_folder(out, check=check_is_simulation) as stage:
        result.save(stage)
        exported = _export_dram(result, config, stage, export) if export else []
    return [out / p.name for p in exported]


def _export_dram(result, config, out: Path, fmt: str) -> list[Path]:
    """Write each run's DRAM request stream, one burst a line, in DRAM clock cycles."""
    burst = config.dram.burst_bytes
    dram_per_accel_cycle = (1000.0 / config.clock_mhz) / config.dram.tck_ns
    paths = []
    for run, streams in (result.dram_requests or {}).items():
        if streams is None or len(streams) == 0:
            continue
        bursts = int(((streams["base_byte_address"] + streams["n_bytes"] - 1) // burst
                      - streams["base_byte_address"] // burst + 1).clip(lower=0).sum())
        if bursts > EXPORT_MAX_BURSTS:
            raise ConfigError(f"--export-dram-trace: the {run} run issues {bursts:,} bursts, more "
                              f"than {EXPORT_MAX_BURSTS:,}; export a smaller case (--mode "
                              "inference, --batch-size 1, or activations off)")
        addresses, is_write, cycles = expand_streams(streams, burst)
        path = out / f"dram_{run}.{fmt}.trace"
        export_dram_trace(addresses, is_write, cycles * dram_per_accel_cycle, path, fmt)
        paths.append(path)
    return paths
