"""accelsim, imported once, forking one child per command: the kill tests' process factory.

A trial then costs the command's own work, not an interpreter start and the torch import, so
a test can kill a command at every write step within CI time. Each child is a real process in
its own process group, killed for real by SIGKILL (accelsim.io's test hook,
ACCELSIM_TEST_KILL_AT). Nothing runs before a fork but imports and one throwaway figure (no
accelsim command, no thread), so the children are as clean as a fresh interpreter.

Protocol, one JSON object a line. In: {"argv": [...], "cwd": dir, "logs": dir,
"kill_at": N or 0, "env": {...}}. Out: {"pid", "rc" (exit status or null), "signal" (or null),
"steps" (write steps taken, when the command ended by itself)}. stdout and stderr of the
command are in logs/stdout and logs/stderr.
"""

import contextlib
import json
import os
import sys
import traceback

# imported before the forks, so each child skips them: torch, the optimizers' compile
# machinery, pyplot's backend, the parquet and CSV writers and accelsim's commands
import matplotlib
import pandas.io.formats.csvs
import pyarrow.dataset
import torch
import torch._dynamo

import accelsim.analysis.figures
import accelsim.analysis.report
import accelsim.app.report
import accelsim.app.simulate
import accelsim.app.sweep
import accelsim.app.trace
import accelsim.app.train
import accelsim.cli
import accelsim.io
import accelsim.trace.from_model
import accelsim.train.loop

PRELOADED = (torch, torch._dynamo, pandas.io.formats.csvs, pyarrow.dataset,
             accelsim.analysis.figures, accelsim.analysis.report, accelsim.app.report,
             accelsim.app.simulate, accelsim.app.sweep, accelsim.app.trace, accelsim.app.train,
             accelsim.trace.from_model, accelsim.train.loop)
matplotlib.use("Agg")


def _warm_matplotlib():
    """Draw and save one throwaway figure, so that each child finds the fonts and the PNG
    and SVG writers loaded (about a fifth of an `accelsim report`'s time otherwise)."""
    import io

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [1, 2], label="a")
    ax.set(xlabel="x (KiB)", ylabel="y", title="t")
    ax.legend()
    fig.tight_layout()
    for fmt in ("png", "svg"):
        fig.savefig(io.BytesIO(), format=fmt)
    plt.close(fig)


_warm_matplotlib()


def _child(request: dict):
    os.setpgid(0, 0)  # the command and its workers: one group, found again by the test
    os.chdir(request["cwd"])
    os.environ.update(request.get("env") or {})
    os.environ[accelsim.io.KILL_AT_ENV] = str(request.get("kill_at") or 0)
    logs = request["logs"]
    for fd, name in ((1, "stdout"), (2, "stderr")):
        file = os.open(os.path.join(logs, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(file, fd)
        os.close(file)
    try:
        rc = accelsim.cli.main(request["argv"])
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except BaseException:
        traceback.print_exc()
        rc = 1
    sys.stdout.flush()
    sys.stderr.flush()
    with open(os.path.join(logs, "steps"), "w") as f:
        f.write(str(accelsim.io.steps_taken()))
    os._exit(rc)


def main():
    for line in sys.stdin:
        request = json.loads(line)
        os.makedirs(request["logs"], exist_ok=True)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _, status = os.waitpid(pid, 0)
        steps_file, steps = os.path.join(request["logs"], "steps"), None
        with contextlib.suppress(FileNotFoundError), open(steps_file) as f:
            steps = int(f.read())
        answer = {"pid": pid, "steps": steps,
                  "rc": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                  "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    os._exit(0)  # stdin closed: the test is done; skip torch's second-long interpreter teardown


if __name__ == "__main__":
    main()
