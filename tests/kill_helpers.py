"""Helpers of the kill tests: the forking command runner, folder fingerprints, leftovers and
the live processes of a killed command's group."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_TRACE = ROOT / "traces" / "sample-lenet-300-100"
SIGKILL = int(signal.SIGKILL)
ORPHAN_WAIT_S = 30  # an upper bound on how long the kernel takes to end a dead parent's workers


class Runner:
    """One kill_zygote process; `run` forks a child running one accelsim command."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "kill_zygote.py")],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        cwd=ROOT)
        self.trials = 0

    def run(self, argv, cwd, *, kill_at=0, env=None) -> dict:
        self.trials += 1
        logs = Path(cwd).parent / "logs" / f"{self.trials}"
        request = {"argv": [str(a) for a in argv], "cwd": str(cwd), "logs": str(logs),
                   "kill_at": kill_at, "env": env or {}}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        answer["stdout"] = (logs / "stdout").read_text()
        answer["stderr"] = (logs / "stderr").read_text()
        return answer

    def ok(self, argv, cwd, env=None) -> dict:
        answer = self.run(argv, cwd, env=env)
        assert answer["rc"] == 0, answer["stderr"][-3000:]
        return answer

    def killed(self, argv, cwd, step, env=None) -> dict:
        answer = self.run(argv, cwd, kill_at=step, env=env)
        assert answer["signal"] == SIGKILL, (step, answer["rc"], answer["stderr"][-3000:])
        return answer

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def kill_points(total: int, count: int, seed: int, *, tail: int = 1) -> list[int]:
    """`count` write steps out of 1..total, seeded: the first and the last `tail` steps (where
    a finished folder swaps into place) always among them, the rest drawn in between."""
    tail = min(tail, total)
    if total <= count:
        return list(range(1, total + 1))
    always = {1, *range(total - tail + 1, total + 1)}
    between = [s for s in range(2, total - tail + 1) if s not in always]
    inner = random.Random(seed).sample(between, max(0, min(len(between), count - len(always))))
    return sorted(always | set(inner))


def fingerprint(folder: Path, skip=()) -> dict | None:
    """relative path -> sha256 of every file under `folder` (None if absent)."""
    folder = Path(folder)
    if not folder.exists():
        return None
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not any(rel == s or rel.startswith(s + "/") for s in skip):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def leftovers(root: Path) -> list[str]:
    """Every temporary or journal of accelsim's naming under `root`."""
    return sorted(p.relative_to(root).as_posix() for p in Path(root).rglob("*")
                  if ".accelsim-" in p.name)


def live_members(group: int) -> list[int]:
    """Processes of process group `group` that are still running (zombies are dead)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == group and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def wait_for_no_members(group: int) -> list[int]:
    """Wait (up to ORPHAN_WAIT_S) for the group to empty; return who is left."""
    deadline = time.monotonic() + ORPHAN_WAIT_S
    while (left := live_members(group)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:  # never leave them behind, whatever the test says
        os.kill(pid, signal.SIGKILL)
    return left
