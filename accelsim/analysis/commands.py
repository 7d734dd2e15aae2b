"""The workflow subcommands of the `accelsim` CLI: simulate, sweep, plot, report, demo."""

from __future__ import annotations

import json
import time
from pathlib import Path

from accelsim.errors import AccelsimError, ConfigError
from accelsim.units import parse_size, parse_size_list


def parse_value(key: str, text: str):
    """A --set value: sizes for `*_bytes` fields, JSON numbers and booleans, else a string."""
    if key.endswith("_bytes"):
        return parse_size(text, f"--set {key}")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(items, multi: bool) -> dict:
    """`--set a.b=1` (or `a.b=1,2,3` for sweeps) to {dotted: value or [values]}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise ConfigError(f"--set {item!r}: expected FIELD=VALUE, e.g. "
                              "weight_sram.capacity_bytes=1MiB")
        if multi:
            out[key] = [parse_value(key, v.strip()) for v in value.split(",") if v.strip()]
        else:
            out[key] = parse_value(key, value.strip())
    return out


def _print_table(frame):
    print(frame.to_string(index=False))


# -- simulate ------------------------------------------------------------------------------------

def simulate(args) -> int:
    from accelsim.analysis.report import comparison_table
    from accelsim.config import load_accelerator_config
    from accelsim.sim.simulation import simulate as run_simulation
    from accelsim.trace.format import load_trace

    if bool(args.trace) == bool(args.checkpoint):
        raise AccelsimError("simulate takes a trace folder or --checkpoint PATH (one of them)")
    if args.batch_size is not None and args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size}: expected a positive number of samples")
    if args.checkpoint:
        from accelsim.trace.from_model import trace_from_checkpoint  # needs torch

        trace = trace_from_checkpoint(args.checkpoint, batch_size=args.batch_size or 1)
        default_out = Path(args.checkpoint).with_suffix("").as_posix() + "-sim"
    else:
        trace = load_trace(args.trace)
        default_out = str(Path(args.trace)).rstrip("/") + "-sim"
    config = load_accelerator_config(args.accelerator, parse_sets(args.set, multi=False))
    started = time.perf_counter()
    result = run_simulation(trace, config, mode=args.mode, baseline=True,
                            every_iteration=args.every_iteration, batch_size=args.batch_size,
                            record_dram_requests=bool(args.export_dram_trace))
    wall_s = time.perf_counter() - started
    result.check()
    out = Path(args.out or default_out)
    result.save(out)
    exported = _export_dram(result, config, out, args.export_dram_trace) if args.export_dram_trace else []
    totals = result.totals()
    if args.json:
        cmp = result.comparison() if len(result.runs) == 2 else None
        print(json.dumps({
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
            _print_table(comparison_table(totals, markdown=False))
        print(f"\nresults: {out}/records.parquet, records.csv, summary.json")
        for p in exported:
            print(f"DRAM trace: {p}")
        if exported:
            print("  (the stream the DRAM model timed: the one-time load, then each distinct "
                  "simulated iteration once, not repeated for the iterations it stands for)")
    return 0


EXPORT_MAX_BURSTS = 50_000_000  # ~1.5 GB of text; beyond that a trace is no use to a DRAM tool


def _export_dram(result, config, out: Path, fmt: str) -> list[Path]:
    """Write each run's DRAM request stream, one burst a line, in DRAM clock cycles."""
    from accelsim.sim.dram_export import export_dram_trace
    from accelsim.sim.dram_port import expand_streams

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


# -- sweep ---------------------------------------------------------------------------------------

def sweep(args) -> int:
    from accelsim.analysis.figures import sweep_figures
    from accelsim.analysis.sweep import sweep as run_sweep

    sizes = parse_size_list(args.sram_sizes) if args.sram_sizes else None
    if sizes and min(sizes) <= 0:
        raise ConfigError(f"--sram-sizes {args.sram_sizes!r}: sizes must be > 0 for a sweep "
                          "(its axis is logarithmic); simulate --set "
                          "weight_sram.capacity_bytes=0 gives the no-SRAM point")
    fields = parse_sets(args.set, multi=True)
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: expected a positive number of processes")
    out = Path(args.out) if args.out else Path(str(Path(args.trace)).rstrip("/") + "-sweep")
    table = run_sweep(args.trace, args.accelerator, sram_sizes=sizes, fields=fields,
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


# -- plot and report -----------------------------------------------------------------------------

def plot(args) -> int:
    from accelsim.analysis.figures import figures_for

    figures = figures_for(args.results, args.out)
    if args.json:
        print(json.dumps({"figures": [str(f) for f in figures]}, indent=2))
    elif not args.quiet:
        for f in figures:
            print(f"{f} (and .svg)")
    return 0


def report(args) -> int:
    from accelsim.analysis.report import report as write_report

    path = write_report(args.results, args.out)
    if args.json:
        print(json.dumps({"report": str(path)}))
    elif not args.quiet:
        print(f"report: {path}")
    return 0


# -- demo ----------------------------------------------------------------------------------------

def demo(args) -> int:
    from accelsim.analysis.demo import run_demo

    if args.epochs < 1:  # before the first progress line, not after it
        raise ConfigError(f"--epochs {args.epochs}: expected a positive number of epochs")
    summary = run_demo(args.out, epochs=args.epochs, quiet=args.quiet or args.json)
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0

