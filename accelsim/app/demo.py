"""`accelsim demo`: the whole flow on the embedded dataset, in a few minutes on a laptop CPU.

1. train LeNet-300-100 on the 8x8 digits dense, and with DropBack at ~10x fewer weights,
   recording both traces;
2. simulate the DropBack trace and its dense baseline on the default accelerator;
3. sweep the weight SRAM size, dense and DropBack at every point;
4. a paper-scale point: a synthetic ResNet-18 (ImageNet) trace at 1M tracked weights, the
   budget of the paper's 11.7x result, one training step on the default accelerator;
5. figures and a Markdown report in the demo folder.

Finished steps are kept: running the demo again after an interruption redoes only what is
missing (a training run resumes from its last epoch). `handle` is the command; `run_demo` the
same from Python.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from accelsim import output_folder
from accelsim.analysis.budget_words import tracked_words
from accelsim.analysis.report import _ratio, report
from accelsim.app import flags
from accelsim.app.simulate import save_result_folder
from accelsim.app.sweep import sweep
from accelsim.io import json_text, write_json_atomic
from accelsim.sim.results import SimulationResult
from accelsim.sim.simulation import simulate
from accelsim.trace.format import load_trace, save_trace
from accelsim.units import format_bytes, format_energy, parse_size_list

DEMO_BUDGET = 5000          # of LeNet-300-100's 50,610 weights at 8x8 input: 10.1x fewer
DEMO_SRAM_SIZES = "4KiB..1MiB x2"
RESNET_BUDGET = 1_000_000   # 11,679,912 budgeted weights / 1M = 11.7x (paper's ResNet-18 figure)
RESNET_BATCH = 32


def _train_config(budget, epochs):
    from accelsim.train.loop import TrainConfig  # torch: imported when the demo runs

    # cosine schedule with momentum: both runs converge, so accuracies compare fairly
    return TrainConfig(model="lenet-300-100", dataset="digits", budget=budget, epochs=epochs,
                       seed=0, batch_size=32, lr=0.1, momentum=0.9, lr_schedule="cosine",
                       trace_every=100)


def _train_once(config, out: Path, quiet: bool):
    from accelsim.train.loop import train  # torch: imported when the demo runs

    done = out / "summary.json"
    saved = out / "config.json"
    if done.exists() and saved.exists():
        previous = json.loads(saved.read_text())
        wanted = json.loads(json.dumps(asdict(config.resolved())))  # as the run saved it
        # the run resolves model_args (e.g. the dataset's in_features) and its thread count:
        # compare the settings asked for
        for key in ("model_args", "threads_used"):
            previous.pop(key, None)
            wanted.pop(key, None)
        if previous == wanted:
            return json.loads(done.read_text())
    # continue an interrupted run; a run never started (or started over) trains from scratch
    return train(config, out, resume=(out / "resume.pt").exists(), quiet=quiet).summary


def handle(args) -> int:
    flags.epochs(args.epochs)  # before the first progress line, not after it
    import torch  # noqa: F401  the demo trains: a missing torch is said before any work starts
    output_folder.claim(args.out, "demo", force=args.force)
    summary = run_demo(args.out, epochs=args.epochs, quiet=args.quiet or args.json)
    if args.json:
        print(json_text(summary))
    return 0


def run_demo(out="reports/demo", *, epochs: int = 40, quiet: bool = False) -> dict:
    out = Path(out)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    started, started_cpu = time.perf_counter(), time.process_time()
    timings: dict[str, float] = {}  # wall seconds per step
    cpu_timings: dict[str, float] = {}  # this process's CPU seconds per step (load-independent)

    def step(name, fn):
        t, c = time.perf_counter(), time.process_time()
        value = fn()
        timings[name] = round(time.perf_counter() - t, 2)
        cpu_timings[name] = round(time.process_time() - c, 2)
        return value

    say(f"[1/5] training LeNet-300-100 on the embedded digits, dense and DropBack "
        f"({DEMO_BUDGET:,} tracked), {epochs} epochs each")
    dense = step("train_dense", lambda: _train_once(_train_config(None, epochs),
                                                    out / "runs" / "dense", quiet))
    dropback = step("train_dropback", lambda: _train_once(_train_config(DEMO_BUDGET, epochs),
                                                          out / "runs" / "dropback", quiet))
    say(f"      dense {dense['test_accuracy'] * 100:.2f}%  |  DropBack "
        f"{dropback['test_accuracy'] * 100:.2f}%, "
        + tracked_words(dropback["param_count"], dropback["tracked_count"],
                        dropback["peak_tracked_count"], dropback["mean_tracked_count"]))

    trace_dir = out / "runs" / "dropback" / "trace"
    say("[2/5] simulating the DropBack trace and its dense baseline on the default accelerator")
    result = step("simulate", lambda: simulate(trace_dir, "default", mode="train"))
    result.check()
    save_result_folder(result, out / "sim")

    say(f"[3/5] sweeping the weight SRAM size ({DEMO_SRAM_SIZES})")
    step("sweep", lambda: sweep(trace_dir, "default", sram_sizes=parse_size_list(DEMO_SRAM_SIZES),
                                out=out / "sweep", quiet=quiet))

    say(f"[4/5] paper scale: synthetic ResNet-18 (ImageNet) trace, {RESNET_BUDGET:,} tracked, "
        f"batch {RESNET_BATCH}, one training step")
    resnet = step("resnet18", lambda: _resnet18_point(out / "resnet18"))

    say("[5/5] figures and report")
    extra = _resnet_section(resnet)
    write_json_atomic(out / "demo.json", {"dense": dense, "dropback": dropback,
                                          "resnet18": resnet, "timings_s": timings})
    path = step("report", lambda: report(out, extra_sections=extra))
    totals = result.totals()
    summary = {
        "report": str(path), "figures": str(out / "figures"),
        "dense_accuracy": dense["test_accuracy"], "dropback_accuracy": dropback["test_accuracy"],
        "compression": dropback["compression"],
        "mean_compression": dropback["mean_compression"],
        "peak_compression": dropback["peak_compression"],
        "energy_dense_over_dropback": float(totals.loc["dense", "energy_pj"]
                                            / totals.loc["trace", "energy_pj"]),
        "resnet18_dram_dense_over_dropback": resnet["dram_ratio"],
        "resnet18_energy_dense_over_dropback": resnet["energy_ratio"],
        "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s": round(time.process_time() - started_cpu, 1), "timings_s": timings,
        "cpu_timings_s": cpu_timings,
    }
    write_json_atomic(out / "demo.json", {"dense": dense, "dropback": dropback,
                                          "resnet18": resnet, "timings_s": timings,
                                          "cpu_timings_s": cpu_timings, "summary": summary})
    say(f"\nreport:  {path}\nfigures: {out / 'figures'}  ({summary['wall_s']} s in all, "
        f"{summary['cpu_s']} s of CPU)")
    return summary


def _resnet18_point(folder: Path) -> dict:
    trace_dir = folder / "trace"
    if not (trace_dir / "manifest.json").exists():
        from accelsim.trace.from_model import synthetic_model_trace  # builds a torch model

        save_trace(synthetic_model_trace("resnet18", RESNET_BUDGET, seed=0,
                                         batch_size=RESNET_BATCH), trace_dir)
    sim_dir = folder / "sim"
    if (sim_dir / "summary.json").exists():
        result = SimulationResult.load(sim_dir)
    else:
        result = simulate(load_trace(trace_dir), "default", mode="train")
        result.check()
        save_result_folder(result, sim_dir)
    t = result.totals()
    return {
        "trace": str(trace_dir), "sim": str(sim_dir),
        "param_count": int(result.trace_identity["param_count"]),
        "tracked_count": int(result.trace_identity["budget_tracked_count"]),
        "weight_dram_bytes_dense": float(t.loc["dense", "weight_dram_bytes"]),
        "weight_dram_bytes_dropback": float(t.loc["trace", "weight_dram_bytes"]),
        "dram_bytes_dense": float(t.loc["dense", "dram_bytes"]),
        "dram_bytes_dropback": float(t.loc["trace", "dram_bytes"]),
        "energy_pj_dense": float(t.loc["dense", "energy_pj"]),
        "energy_pj_dropback": float(t.loc["trace", "energy_pj"]),
        "cycles_dense": float(t.loc["dense", "total_cycles"]),
        "cycles_dropback": float(t.loc["trace", "total_cycles"]),
        "dram_ratio": float(t.loc["dense", "dram_bytes"] / max(t.loc["trace", "dram_bytes"], 1)),
        "energy_ratio": float(t.loc["dense", "energy_pj"] / t.loc["trace", "energy_pj"]),
    }


def _resnet_section(r: dict) -> list[str]:
    return [
        "## Paper scale: ResNet-18 (ImageNet), one training step",
        "",
        f"A synthetic trace (tracked positions drawn uniformly, per-layer shares proportional to "
        f"layer size) with {r['tracked_count']:,} of {r['param_count']:,} weights tracked "
        f"({r['param_count'] / r['tracked_count']:.1f}x, the paper's no-loss budget), batch "
        f"{RESNET_BATCH}, on the default accelerator.",
        "",
        "| | dense | DropBack | dense / DropBack |",
        "|---|---|---|---|",
        f"| off-chip DRAM traffic, weights | {format_bytes(r['weight_dram_bytes_dense'])} | "
        f"{format_bytes(r['weight_dram_bytes_dropback'])} | "
        f"{_ratio(r['weight_dram_bytes_dense'], r['weight_dram_bytes_dropback'])} |",
        f"| off-chip DRAM traffic, all (activations too) | {format_bytes(r['dram_bytes_dense'])} | "
        f"{format_bytes(r['dram_bytes_dropback'])} | {r['dram_ratio']:.1f}× |",
        f"| energy | {format_energy(r['energy_pj_dense'])} | "
        f"{format_energy(r['energy_pj_dropback'])} | {r['energy_ratio']:.2f}× |",
        f"| cycles | {r['cycles_dense']:,.0f} | {r['cycles_dropback']:,.0f} | "
        f"{r['cycles_dense'] / r['cycles_dropback']:.2f}× |",
        "",
        "At batch 32 the activations' traffic (2 MiB activation SRAM) dwarfs the weights'; "
        "DropBack removes the weight traffic, which dominates at small batches and in "
        "inference. See the simulator's notes in the README for what is and is not modelled.",
        "",
    ]
