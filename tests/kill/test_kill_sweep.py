"""Kill -9 of `accelsim sweep` at seeded write steps, first write and overwrite: no worker
outlives the sweep, `<out>` shows the old sweep's results or the new one's (or, on a first
write, nothing or a sweep in progress: points only), and a rerun finishes it, leaving no
temporaries."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from kill_helpers import (
    ROOT,
    SAMPLE_TRACE,
    fingerprint,
    kill_points,
    leftovers,
    live_members,
    wait_for_no_members,
)

from accelsim.analysis.folders import check_readable

pytestmark = pytest.mark.slow  # kill and rerun, many times: scheduled first

SWEEP = ["sweep", str(SAMPLE_TRACE), "--jobs", "2", "--quiet", "--out", "W"]
NEW = ["--sram-sizes", "64KiB,1MiB"]
OLD = ["--sram-sizes", "32KiB,256KiB"]
KILLS_PER_CASE = 5


@pytest.fixture(scope="module")
def refs(runner, tmp_path_factory):
    base = tmp_path_factory.mktemp("refs")
    made = {}
    for name, extra in (("old", OLD), ("new", NEW)):
        work = base / name / "work"
        work.mkdir(parents=True)
        runner.ok(SWEEP + extra, work)
        made[name] = work / "W"
    return made


def _results(folder):
    """The sweep's results: everything but the points, which only ever grow."""
    return fingerprint(folder, skip=("points",))


@pytest.mark.parametrize("case", ["first", "overwrite"])
def test_sweep_killed_at_seeded_steps(runner, refs, tmp_path, case):
    def setup(name):
        work = tmp_path / name / "work"
        work.mkdir(parents=True)
        if case == "overwrite":
            shutil.copytree(refs["old"], work / "W")
        return work

    total = runner.ok(SWEEP + NEW, setup("count"))["steps"]
    new, old = _results(refs["new"]), _results(refs["old"])
    new_points = {p.name for p in (refs["new"] / "points").iterdir()}
    steps = kill_points(total, KILLS_PER_CASE, seed=14 + (case == "overwrite"))
    for step in steps:
        work = setup(f"kill-{step}")
        answer = runner.killed(SWEEP + NEW, work, step)
        assert wait_for_no_members(answer["pid"]) == [], f"step {step}: workers outlived the sweep"
        found = _results(work / "W")
        if case == "overwrite":
            assert found in (old, new), f"step {step}: neither the old results nor the new"
        else:
            # nothing yet, a sweep in progress (only points), or the whole new sweep
            assert found in (None, {}, new), f"step {step}: a partial sweep folder"
        if found:
            check_readable(work / "W")
        runner.ok(SWEEP + NEW, work)
        assert _results(work / "W") == new, f"step {step}: the rerun differs"
        assert new_points <= {p.name for p in (work / "W" / "points").iterdir()}
        assert leftovers(work) == [], f"step {step}"
    print(f"sweep {case}: kill points {steps} of {total}")


def test_killed_sweep_command_leaves_no_workers(tmp_path):
    """The real command, started from its own interpreter, killed while its pool is busy."""
    env = dict(os.environ, ACCELSIM_TEST_KILL_AT="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "accelsim.cli", *SWEEP, "--sram-sizes", "16KiB..1MiB x2"],
        cwd=tmp_path, env=env, start_new_session=True, stderr=subprocess.PIPE)
    _, stderr = process.communicate()
    assert process.returncode == -9, stderr.decode()[-2000:]
    assert wait_for_no_members(process.pid) == []
    assert live_members(process.pid) == []
    rerun = subprocess.run([sys.executable, "-m", "accelsim.cli", *SWEEP, "--sram-sizes",
                            "16KiB..1MiB x2"], cwd=tmp_path, capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items()
                                if k != "ACCELSIM_TEST_KILL_AT"})
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert leftovers(tmp_path) == []
    assert ROOT.exists()
