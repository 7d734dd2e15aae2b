"""The `accelsim` command: train | trace | simulate | sweep | study | plot | report | demo.

Argparse only: the parser is built here and each command handed to its handler in
`accelsim.app`. Bad input ends in a one-line `accelsim: error: ...` on stderr and exit status
2, never a traceback; anything else is a bug, reported in one line with exit status 70 and
its traceback saved to a file under the system temp folder. torch is imported only by the
handlers that train or build a model.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import traceback
import warnings

from accelsim import __version__
from accelsim.app import demo, dram, plot, report, simulate, study, sweep, trace, train
from accelsim.errors import AccelsimError

EXIT_BAD_INPUT = 2
EXIT_INTERNAL_ERROR = 70  # EX_SOFTWARE of sysexits.h: a bug of accelsim, not the user's input


class _Parser(argparse.ArgumentParser):
    """argparse, with bad usage reported in one line like every other bad input."""

    def error(self, message):
        command = self.prog.partition(" ")[2]  # "" for the top-level parser
        self.exit(EXIT_BAD_INPUT, f"accelsim: error: {command + ': ' if command else ''}"
                                  f"{message} (see '{self.prog} --help')\n")


def _add_output_flags(p):
    p.add_argument("--json", action="store_true", help="print a machine-readable summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars or tables")


def _add_dataset_defaulted(p):
    """The training settings whose default depends on the dataset (accelsim.train.defaults)."""
    h = {k: train.defaults_help(k) for k in train.DEFAULTED}
    p.add_argument("--epochs", type=int, help=f"(default: {h['epochs']})")
    p.add_argument("--batch-size", type=int, help=f"(default: {h['batch_size']})")
    p.add_argument("--lr", type=float, help=f"learning rate (default: {h['lr']})")
    p.add_argument("--momentum", type=float, help=f"SGD momentum (default: {h['momentum']})")
    p.add_argument("--weight-decay", type=float,
                   help=f"(default: {h['weight_decay']})")
    p.add_argument("--lr-schedule", choices=["none", "step", "cosine"],
                   help=f"(default: {h['lr_schedule']})")
    p.add_argument("--warmup-epochs", type=int,
                   help="dense epochs before DropBack's selection starts (default: "
                        f"{h['warmup_epochs']})")
    p.add_argument("--budget-anneal-epochs", type=int,
                   help="epochs after the warm-up over which DropBack's tracked count falls "
                        "from every weight to the budget, 0 for the budget from the start "
                        f"(default: {h['budget_anneal_epochs']})")
    p.add_argument("--bias-tracking", choices=["ranked", "always"],
                   help="ranked: biases compete with weights for the budget; always: every "
                        f"bias is tracked, inside the budget (default: {h['bias_tracking']})")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="accelsim",
        description="DropBack training on a pruned weight budget, weight-access traces, and a "
                    "cycle-level accelerator model (cycles, DRAM traffic, energy).")
    parser.add_argument("--version", action="version", version=f"accelsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train a model with DropBack (or dense) and record a trace")
    p.add_argument("--model", default="lenet-300-100", help="zoo model (default lenet-300-100)")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="model argument, e.g. stem=cifar (repeatable)")
    p.add_argument("--dataset", default="digits",
                   help="digits (embedded), mnist, fashion-mnist or cifar10")
    p.add_argument("--data-dir", help="folder holding the dataset's standard files")
    p.add_argument("--budget", default="dense",
                   help="tracked weights: a count (5000), a ratio (25x) or 'dense' (default)")
    p.add_argument("--budget-mode", choices=["global", "per_layer"], default="global",
                   help="rank all layers together (default) or give each layer its share")
    p.add_argument("--method", choices=["dropback", "dropback-decay", "gmp", "rigl"],
                   default="dropback", help="dropback (default): untracked weights reset to "
                   "their regenerated w0; dropback-decay: w0 decays x0.9 a step (Procrustes), "
                   "untracked weights become zeros; gmp: gradual magnitude pruning; rigl: "
                   "fixed sparse budget, drop by |w| and grow by |gradient| (Evci et al. 2020)")
    _add_dataset_defaulted(p)
    p.add_argument("--seed", type=int, default=0, help="(default 0)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd", help="(default sgd)")
    p.add_argument("--lr-step-epochs", type=int, default=30,
                   help="step schedule: epochs between decays (default 30)")
    p.add_argument("--lr-gamma", type=float, default=0.8,
                   help="step schedule: factor per decay (default 0.8)")
    p.add_argument("--freeze-at-epoch", type=int,
                   help="freeze the tracked set from this epoch (default: never)")
    p.add_argument("--freeze-at-step", type=int,
                   help="freeze the tracked set after this step (default: never)")
    p.add_argument("--trace-every", type=int, default=100,
                   help="snapshot the tracked set every S iterations (default 100)")
    p.add_argument("--no-trace", action="store_true", help="do not record a trace")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--threads", type=int,
                   help="torch threads (default: 1 for models under 1M weights, else torch's)")
    p.add_argument("--out", default="runs/latest", help="run folder (default runs/latest)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    _add_output_flags(p)

    p = sub.add_parser("trace", help="write a trace from a checkpoint, or a synthetic one")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="sparse checkpoint of a trained model")
    src.add_argument("--model", help="zoo model, with --synthetic")
    p.add_argument("--synthetic", action="store_true",
                   help="draw the tracked set by a seeded rule (needs --model and --budget)")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--budget", default=None, help="tracked weights: count, ratio (10x) or dense")
    p.add_argument("--layout", choices=["uniform", "clustered"], default="uniform")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--out", required=True, help="trace folder to write")
    _add_output_flags(p)

    p = sub.add_parser("simulate", help="simulate a trace (and its dense baseline)")
    p.add_argument("trace", nargs="?", help="trace folder")
    p.add_argument("--checkpoint", help="derive the trace from a sparse checkpoint instead")
    p.add_argument("--accelerator", default="default", help="config name or YAML path")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a config field, e.g. weight_sram.capacity_bytes=1MiB")
    p.add_argument("--mode", choices=["train", "inference"], default="train")
    p.add_argument("--batch-size", type=int, help="override the trace's batch size")
    p.add_argument("--every-iteration", action="store_true",
                   help="simulate every iteration instead of snapshots weighted by iterations")
    p.add_argument("--export-dram-trace", choices=["dramsim3", "ramulator2"],
                   help="also write each run's DRAM request stream in this tool's trace format "
                        "(one burst a line, DRAM clock cycles), over the whole run by default "
                        "(see --export-iterations); configs to replay it: "
                        "accelsim.sim.dram.export")
    p.add_argument("--export-iterations", choices=["all", "distinct"], default="all",
                   help="what --export-dram-trace covers: 'all' (default) the one-time load, "
                        "then every iteration (each simulated iteration repeated for the "
                        "iterations it stands for, end to end; refused above 50M bursts, "
                        "naming the size); 'distinct' the load, then each distinct simulated "
                        "iteration once (the stream the DRAM model timed)")
    p.add_argument("--out", help="results folder (default: <trace>-sim beside the trace)")
    _add_output_flags(p)

    p = sub.add_parser("sweep", help="sweep SRAM sizes and other fields, dense and trace")
    p.add_argument("trace", help="trace folder")
    p.add_argument("--accelerator", default="default")
    p.add_argument("--sram-sizes", help="weight SRAM sizes (the global buffer's with "
                   "buffer_organisation shared), e.g. 64KiB,256KiB,1MiB or 64KiB..32MiB x2")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=V1,V2",
                   help="sweep a field over values, e.g. dram.preset=HBM2,LPDDR4-3200")
    p.add_argument("--batch-sizes", metavar="B1,B2",
                   help="sweep the batch size too (overrides the trace's), e.g. 1,8,32")
    p.add_argument("--mode", choices=["train", "inference"], default="train")
    p.add_argument("--jobs", type=int, help="local worker processes (default: cores)")
    p.add_argument("--dask", metavar="ADDRESS", help="run the points on this Dask scheduler")
    p.add_argument("--out", help="sweep folder (default: <trace>-sweep beside the trace)")
    _add_output_flags(p)

    p = sub.add_parser("study", help="accuracy against energy: train budgets x seeds x "
                                     "methods, simulate each run, tabulate, plot, report")
    p.add_argument("--model", default="lenet-300-100", help="zoo model (default lenet-300-100)")
    p.add_argument("--dataset", default="digits",
                   help="digits (embedded, default), mnist, fashion-mnist or cifar10")
    p.add_argument("--data-dir", help="folder holding the dataset's standard files")
    p.add_argument("--budgets", default=study.DEFAULT_BUDGETS,
                   help=f"budgets, dense always included (default {study.DEFAULT_BUDGETS})")
    p.add_argument("--seeds", default="0,1,2", help="(default 0,1,2)")
    p.add_argument("--methods", default=",".join(study.DEFAULT_METHODS),
                   help=f"any of {','.join(study.STUDY_METHODS)} (default "
                   f"{','.join(study.DEFAULT_METHODS)})")
    p.add_argument("--accelerators", default="default",
                   help="config names or YAML paths, comma-separated (default: default)")
    p.add_argument("--batch-sizes", default=",".join(map(str, study.DEFAULT_BATCH_SIZES)),
                   help="batch sizes of the energy-ratio figure (default "
                        f"{','.join(map(str, study.DEFAULT_BATCH_SIZES))})")
    p.add_argument("--sram-sizes", default=study.DEFAULT_SRAM_SIZES,
                   help="weight SRAM sizes of the SRAM figure (default "
                        f"{study.DEFAULT_SRAM_SIZES})")
    p.add_argument("--focus-budget", help="budget of the batch, SRAM and sensitivity figures "
                                          "(default: the last of --budgets)")
    _add_dataset_defaulted(p)
    p.add_argument("--device", default="auto", help="training device (default auto: the GPU "
                                                    "when one is present)")
    p.add_argument("--mode", choices=["train", "inference"], default="train",
                   help="what is simulated (default train)")
    p.add_argument("--jobs", type=int, help="local worker processes (default: cores)")
    p.add_argument("--dask", metavar="ADDRESS", help="run the points on this Dask scheduler")
    p.add_argument("--out", default="studies/latest", help="study folder (default "
                                                           "studies/latest); rerun to resume")
    _add_output_flags(p)

    p = sub.add_parser("plot", help="figures from simulation or sweep results")
    p.add_argument("results", help="a simulate or sweep output folder, or a run folder")
    p.add_argument("--out", help="figure folder (default: <results>/figures)")
    _add_output_flags(p)

    p = sub.add_parser("report", help="Markdown report of a run, simulation or sweep")
    p.add_argument("results", help="a run, simulate or sweep folder")
    p.add_argument("--out", help="folder for report.md (default: the results folder; "
                                 "figures stay in <results>/figures)")
    _add_output_flags(p)

    p = sub.add_parser("dram", help="replay a per-burst DRAM trace through accelsim's DRAM "
                                    "controller (cycles, row hits, energy)")
    p.add_argument("trace", help="trace file: 'ADDRESS READ|WRITE CYCLE' lines (dramsim3, the "
                                 "default) or 'LD|ST ADDRESS' (ramulator2); hex addresses")
    p.add_argument("--format", default="dramsim3", choices=["dramsim3", "ramulator2"])
    p.add_argument("--dram", default="DDR4-3200",
                   help=f"DRAM preset ({', '.join(dram.PRESET_NAMES)}; default DDR4-3200)")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="override a DRAM field, e.g. channels=2 or page_policy=closed")
    _add_output_flags(p)

    p = sub.add_parser("demo", help="train dense and DropBack, simulate, sweep, report")
    p.add_argument("--out", default="reports/demo", help="demo folder (default reports/demo)")
    p.add_argument("--epochs", type=int, default=40)
    _add_output_flags(p)
    return parser


COMMANDS = {"train": train.handle, "trace": trace.handle, "simulate": simulate.handle,
            "sweep": sweep.handle, "study": study.handle, "plot": plot.handle,
            "report": report.handle, "dram": dram.handle,
            "demo": demo.handle}


def _one_line(text: object) -> str:
    """A message on one line: whatever it quotes (a parser's complaint, a file name) may not
    break it."""
    return " ".join(str(text).split())


def _warning_line(message, category, filename, lineno, file=None, line=None):
    # a library's warning (tqdm's thread monitor, torch's) in one line, not with its source
    print(f"accelsim: warning: {_one_line(message)}", file=sys.stderr)


def _internal_error(exc: BaseException) -> int:
    """Anything that escapes other than an AccelsimError is a bug of accelsim: one line on the
    terminal, the traceback in a file to attach to a report."""
    try:
        fd, name = tempfile.mkstemp(prefix="accelsim-traceback-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write(f"accelsim {__version__}\nargv: {sys.argv!r}\n\n")
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=f)
        where = f"traceback saved to {name}"
    except OSError:
        where = "the traceback could not be saved"
    print(f"accelsim: internal error ({type(exc).__name__}); please report it; {where}",
          file=sys.stderr)
    return EXIT_INTERNAL_ERROR


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_line
            return COMMANDS[args.command](args)
    except AccelsimError as exc:
        print(f"accelsim: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader of our output left (`accelsim ... --json | head`)
        return 0
    except OSError as exc:  # missing files, a file where a folder should be, a full disk...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"accelsim: error: {_one_line(f'{where}{exc.strerror or exc}')}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("accelsim: interrupted (rerun with --resume where the command has it)",
              file=sys.stderr)
        return 130
    except Exception as exc:  # the one place a bug meets the user
        return _internal_error(exc)


def entry() -> None:
    """The `accelsim` console script: `main`, then leave at once with its status. Every
    output is complete by then (written to a temporary file and renamed, pools and clients
    closed inside `main`); skipping the interpreter's teardown keeps a native library's
    exit-time destructors (a C++ thread pool) from turning a finished run's status into an
    abort, which was seen, rarely, on a busy machine."""
    try:
        code = main()
    except SystemExit as exc:  # argparse: --help, --version and usage errors
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing left to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
