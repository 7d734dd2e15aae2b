"""Studies: where a pruned budget pays. Train a model at several budgets, seeds and methods,
simulate every run's trace on one or more accelerators, and tabulate accuracy against energy.

A study folder::

    study.json          the settings (model, dataset, budgets, seeds, methods, configs, axes)
    runs/<run id>/      one training run folder per (method, budget, seed); dense once per seed
    points/<id>.json    one simulated point (a run's trace on a config), written as it finishes
    study.parquet/.csv  one row per (run, config, axis point): method, budget, seed, accuracy,
                        DRAM traffic by operand, energy by component, cycles
    figures/, report.md by `accelsim report` (or at the end of `accelsim study`)

Both kinds of point are resumable: a training run whose folder holds its `summary.json` with
the same settings is not trained again (an interrupted one continues from its `resume.pt`),
and a simulated point whose file exists is not simulated again; the point id hashes the trace,
the resolved config and the settings, as a sweep's does. Points run on local worker processes
or a Dask cluster (`accelsim.app.sweep`'s runners); training uses the GPU when one is present
(`--device auto`).

Axes: every run is simulated on every config at its training batch size (axis "main"); the
runs of one budget (`focus_budget`) and the first seed are also simulated at each of
`batch_sizes` (axis "batch") and each weight SRAM size of `sram_sizes` (axis "sram"), on the
first config. Figures and report: `accelsim.analysis.study`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from accelsim import output_folder
from accelsim.analysis.folders import SRAM_FIELD
from accelsim.app import flags, study_resume
from accelsim.app.sweep import TOTALS, _config_digest, _run_dask, _run_local
from accelsim.config import load_accelerator_config
from accelsim.dropback.method_table import (
    METHODS,
    NO_SCHEDULE_METHODS,
    OWN_SCHEDULE_METHODS,
    STUDY_DEFAULT_METHODS,
)
from accelsim.dropback.method_table import styles as method_styles
from accelsim.errors import ConfigError
from accelsim.io import atomic_path, json_text, write_json_atomic
from accelsim.trace.format import load_trace

STUDY_FORMAT = "accelsim-study"
STUDY_METHODS = METHODS  # accepted by --methods (accelsim.dropback.method_table)
DEFAULT_METHODS = STUDY_DEFAULT_METHODS  # run when none are named
DEFAULT_BUDGETS = "dense,4x,10x,25x"
DEFAULT_BATCH_SIZES = (1, 8, 64, 512)
DEFAULT_SRAM_SIZES = "64KiB,256KiB,1MiB,4MiB"
# the totals a saved simulation point must hold to be reused (else it is simulated again)
SAVED_TOTALS = ("activation_dram_bytes_read", "activation_dram_bytes_written")


# ------------------------------------------------------------------------- the plan
def budget_label(budget: str) -> str:
    """A budget as the table shows it: 'dense', '25x' or a count (parsed by the one budget
    parser, so a bad one is refused in its words)."""
    from accelsim.train.loop import parse_budget  # torch: only the commands that train

    count, ratio = parse_budget(budget)
    if count is None and ratio is None:
        return "dense"
    return f"{ratio:g}x" if ratio is not None else str(count)


def run_id(method: str, budget: str, seed: int) -> str:
    return f"dense-s{seed}" if budget == "dense" else f"{method}-{budget}-s{seed}"


def training_runs(budgets, seeds, methods) -> list[dict]:
    """Every (method, budget, seed) to train; the dense run once per seed."""
    runs = []
    for seed in seeds:
        if "dense" in budgets:
            runs.append({"method": "dense", "budget": "dense", "seed": seed})
        for budget in budgets:
            if budget != "dense":
                runs += [{"method": m, "budget": budget, "seed": seed} for m in methods]
    for run in runs:
        run["id"] = run_id(run["method"], run["budget"], run["seed"])
    return runs


def _train_config(base: dict, run: dict) -> dict:
    """The TrainConfig fields (as a dict) of one run of the study."""
    from accelsim.train.loop import TrainConfig, parse_budget

    budget, compression = parse_budget(run["budget"])
    method = "dropback" if run["method"] == "dense" else run["method"]
    if method in NO_SCHEDULE_METHODS:  # no warm-up, no gradual budget (own schedule: no
        # pinned biases either): the settings the study gives the others do not apply
        dropped = ("budget_anneal_epochs", "warmup_epochs") + (
            ("bias_tracking",) if method in OWN_SCHEDULE_METHODS else ())
        base = {k: v for k, v in base.items() if k not in dropped}
    config = TrainConfig(**{**base, "budget": budget, "compression": compression,
                            "method": method, "seed": run["seed"]}).resolved()
    return asdict(config)


# ------------------------------------------------------------------------- the points
def train_point(config: dict, out: str) -> dict:
    """Train one run into `out` (continuing an interrupted one); return its summary.
    Runs in a worker process."""
    from accelsim.train.loop import TrainConfig, train

    resume = (Path(out) / "resume.pt").is_file()  # `resume` refuses a run with nothing to resume
    result = train(TrainConfig(**config), out, resume=resume, quiet=True)
    return result.summary


def simulate_point(trace_path: str, accelerator: str, overrides: dict, mode: str,
                   batch_size: int | None) -> dict:
    """Simulate one run's trace on one config (no baseline: the dense run is a run of its
    own); return its totals. Runs in a worker process."""
    from accelsim.sim.simulation import simulate

    config = load_accelerator_config(accelerator, overrides)
    result = simulate(trace_path, config, mode=mode, baseline=False, batch_size=batch_size)
    totals = result.totals().loc["trace"]
    return {"weight_sram_capacity_bytes": config.weight_sram.capacity_bytes,
            "batch_size": int(result.settings["batch_size"]),
            "totals": {k: float(v) for k, v in totals.items()}}


def _point_id(*parts) -> str:
    text = json.dumps(list(parts), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _run_points(tasks, fn, jobs, dask_address, desc, quiet):
    progress = tqdm(total=len(tasks), desc=desc, unit="point",
                    disable=quiet or not os.isatty(2))
    try:
        runner = (_run_dask(tasks, dask_address, progress, fn) if dask_address else
                  _run_local(tasks, jobs or min(len(tasks), os.cpu_count() or 1) or 1,
                             progress, fn))
        yield from runner
    finally:
        progress.close()


def _finished_run(folder: Path, config: dict) -> dict | None:
    """The summary of a finished run in `folder` trained with `config`, else None (a damaged
    one is refused: accelsim.app.study_resume)."""
    return study_resume.finished_run(folder, config)


# ------------------------------------------------------------------------- the study
def study(out, *, model="lenet-300-100", dataset="digits", data_dir=None,
          budgets=DEFAULT_BUDGETS, seeds=(0, 1, 2), methods=DEFAULT_METHODS,
          accelerators=("default",), batch_sizes=DEFAULT_BATCH_SIZES,
          sram_sizes=None, focus_budget=None, mode="train", train_settings=None,
          jobs=None, dask_address=None, quiet=False) -> pd.DataFrame:
    """Run (or finish) a study in `out`; return its table (also written there).

    budgets: "dense,10x,25x" or a list; train_settings: further TrainConfig fields (epochs,
    lr, device, ...); unset ones take the dataset's defaults."""
    from accelsim.units import parse_size_list

    out = Path(out)
    budgets = [budget_label(b) for b in (budgets.split(",") if isinstance(budgets, str)
                                         else budgets)]
    if len(set(budgets)) != len(budgets) or not budgets:
        raise ConfigError(f"study: budgets {budgets} must be distinct and not empty")
    if "dense" not in budgets:
        budgets.insert(0, "dense")  # every ratio needs it
    seeds = [int(s) for s in seeds]
    methods = list(methods)
    for m in methods:
        if m not in STUDY_METHODS:
            raise ConfigError(f"study: method {m!r} not one of {STUDY_METHODS}")
    pruned = [b for b in budgets if b != "dense"]
    if not pruned or not methods:
        raise ConfigError("study: give at least one budget besides dense, and one method")
    focus = budget_label(focus_budget) if focus_budget else pruned[-1]
    if focus not in pruned:
        raise ConfigError(f"study: focus budget {focus} is not one of the budgets {pruned}")
    sram_sizes = (parse_size_list(sram_sizes) if isinstance(sram_sizes, str)
                  else list(sram_sizes or parse_size_list(DEFAULT_SRAM_SIZES)))
    batch_sizes = [int(b) for b in batch_sizes]
    if min(batch_sizes, default=1) < 1 or min(sram_sizes, default=1) <= 0:
        raise ConfigError("study: batch sizes must be >= 1 and SRAM sizes > 0")
    accelerators = [str(a) for a in accelerators]
    digests = {a: _config_digest(a) for a in accelerators}  # a bad config fails here, first
    base = {"model": model, "dataset": dataset, "data_dir": data_dir, "trace": True,
            **(train_settings or {})}
    runs = training_runs(budgets, seeds, methods)
    for run in runs:
        run["config"] = _train_config(base, run)
    # the settings line: a budgeted run's (a dense run applies no warm-up or gradual budget)
    budgeted_run = next(r for r in runs if r["method"] != "dense")
    meta = {"format": STUDY_FORMAT, "model": model, "dataset": dataset, "budgets": budgets,
            "seeds": seeds, "methods": methods, "method_styles": method_styles(),
            "accelerators": accelerators,
            "batch_sizes": batch_sizes, "sram_sizes": sram_sizes, "focus_budget": focus,
            "mode": mode, "train": {k: v for k, v in budgeted_run["config"].items()
                                    if k not in ("budget", "compression", "seed", "method")}}
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "study.json", meta)

    # 1. training points
    summaries: dict = {}
    tasks: list[tuple] = []
    for run in runs:
        folder = out / "runs" / run["id"]
        done = _finished_run(folder, run["config"])
        if done is not None:
            summaries[run["id"]] = done
        else:
            tasks.append((run["id"], (run["config"], str(folder))))
    for rid, summary in _run_points(tasks, train_point, jobs, dask_address, "train", quiet):
        summaries[rid] = summary

    # 2. simulation points
    first_seed = seeds[0]
    sims: list[tuple] = []  # (run, accelerator, axis, overrides, batch_size)
    for run in runs:
        for accel in accelerators:
            sims.append((run, accel, "main", {}, None))
        if run["seed"] == first_seed and run["budget"] in ("dense", focus):
            sims += [(run, accelerators[0], "batch", {}, b) for b in batch_sizes]
            sims += [(run, accelerators[0], "sram", {SRAM_FIELD: s}, None) for s in sram_sizes]
    results, tasks, ids = {}, [], []
    queued: set[str] = set()
    trace_sha: dict[str, str] = {}  # run id -> its trace's manifest sha256 (read once)
    for run, accel, _axis, overrides, batch in sims:
        trace = out / "runs" / run["id"] / "trace"
        if run["id"] not in trace_sha:
            trace_sha[run["id"]] = load_trace(trace).identity["manifest_sha256"]
        pid = _point_id(trace_sha[run["id"]], digests[accel], overrides, mode, batch)
        ids.append(pid)
        file = out / "points" / f"{pid}.json"
        if pid in results or pid in queued:
            continue
        saved = study_resume.saved_point(file, SAVED_TOTALS)  # None: simulated (again)
        if saved is not None:
            results[pid] = saved
            continue
        tasks.append((pid, (str(trace), accel, overrides, mode, batch)))
        queued.add(pid)
    for pid, result in _run_points(tasks, simulate_point, jobs, dask_address, "simulate",
                                   quiet):
        write_json_atomic(out / "points" / f"{pid}.json", result)
        results[pid] = result

    # 3. the table
    rows = []
    for (run, accel, axis_name, _, _), pid in zip(sims, ids):
        summary, point = summaries[run["id"]], results[pid]
        totals = point["totals"]
        rows.append({
            "method": run["method"], "budget": run["budget"], "seed": run["seed"],
            "tracked_count": summary["tracked_count"], "param_count": summary["param_count"],
            # what the budget schedule cost (summaries of older runs: the final count)
            "mean_tracked_count": summary.get("mean_tracked_count", summary["tracked_count"]),
            "peak_tracked_count": summary.get("peak_tracked_count", summary["tracked_count"]),
            "test_accuracy": summary["test_accuracy"],
            "train_seconds": summary.get("train_seconds"),
            "accelerator": accel, "axis": axis_name, "batch_size": point["batch_size"],
            "weight_sram_capacity_bytes": point["weight_sram_capacity_bytes"],
            # the simulator's tracked_count is summed over iterations; the run's is k
            **{k: totals[k] for k in TOTALS if k in totals and k != "tracked_count"},
            "activation_dram_bytes": (totals["activation_dram_bytes_read"]
                                      + totals["activation_dram_bytes_written"]),
            "run_id": run["id"], "point_id": pid})
    table = pd.DataFrame(rows)
    with atomic_path(out / "study.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(out / "study.csv") as tmp:
        table.to_csv(tmp, index=False)
    return table


def _int_list(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: expected integers separated by commas") from None
    if not values:
        raise ConfigError(f"{flag} {text!r}: expected at least one value")
    return values


def handle(args) -> int:
    from accelsim.analysis.report import report

    flags.jobs(args.jobs)
    flags.epochs(args.epochs)
    flags.batch_size(args.batch_size)
    for flag, value in (("--lr", args.lr), ("--momentum", args.momentum),
                        ("--weight-decay", args.weight_decay)):
        flags.number(flag, value, positive=flag == "--lr")
    flags.integer("--warmup-epochs", args.warmup_epochs, 0, flags.MAX_EPOCHS)
    flags.integer("--budget-anneal-epochs", args.budget_anneal_epochs, 0, flags.MAX_EPOCHS)
    flags.device(args.device)
    seeds = _int_list(args.seeds, "--seeds")
    for seed in seeds:
        flags.seed(seed)
    batch_sizes = _int_list(args.batch_sizes, "--batch-sizes")
    for batch in batch_sizes:
        flags.batch_size(batch)
    settings = {k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "momentum",
                                               "weight_decay", "lr_schedule", "warmup_epochs",
                                               "budget_anneal_epochs", "bias_tracking")
                if getattr(args, k) is not None}
    settings["device"] = args.device
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    output_folder.claim(args.out, "study", force=args.force)
    table = study(args.out, model=args.model, dataset=args.dataset, data_dir=args.data_dir,
                  budgets=args.budgets, seeds=seeds,
                  methods=methods,
                  accelerators=[a for a in args.accelerators.split(",") if a],
                  batch_sizes=batch_sizes,
                  sram_sizes=args.sram_sizes, focus_budget=args.focus_budget, mode=args.mode,
                  train_settings=settings, jobs=args.jobs, dask_address=args.dask,
                  quiet=args.quiet or args.json)
    path = report(args.out)
    if args.json:
        print(json_text({"out": str(args.out), "report": str(path), "rows": len(table)}))
    elif not args.quiet:
        main = table[table["axis"] == "main"]
        shown = (main.groupby(["accelerator", "method", "budget"], sort=False)
                 .agg(seeds=("seed", "nunique"), test_accuracy=("test_accuracy", "mean"),
                      energy_pj=("energy_pj", "mean"), dram_bytes=("dram_bytes", "mean"),
                      total_cycles=("total_cycles", "mean")).reset_index())
        print(shown.to_string(index=False))
        print(f"\nstudy: {Path(args.out) / 'study.csv'}; report: {path}")
    return 0
