"""Kill -9 at the write steps of `accelsim trace` and `accelsim simulate --out`, first write and
overwrite: the output path holds the whole old folder or the whole new one, a rerun finishes
the new one, and nothing of accelsim's temporaries is left behind. `trace`, and `simulate`
overwriting with the exchange swap, are killed at every step; the other `simulate` cases at
their first step, every step of the final swap and seeded steps between (the steps between
write the same kind of file over and over)."""

from __future__ import annotations

import shutil

import pytest
from kill_helpers import SAMPLE_TRACE, fingerprint, kill_points, leftovers

from accelsim.io import recover
from accelsim.sim.results import SimulationResult
from accelsim.trace.format import load_trace

pytestmark = pytest.mark.slow  # kill and rerun, many times: scheduled first

TRACE = ["trace", "--model", "lenet-300-100", "--synthetic", "--budget", "5000", "--quiet",
         "--out", "T"]
SIMULATE = ["simulate", str(SAMPLE_TRACE), "--quiet", "--out", "S"]
SWAPS = {"exchange": {}, "rename": {"ACCELSIM_SWAP": "rename"}}
SEEDED_KILLS, SWAP_STEPS = 10, 7  # the journaled rename swap takes the last 6 steps


@pytest.fixture(scope="module")
def refs(runner, tmp_path_factory):
    """The old and the new output of each command, written undisturbed."""
    base = tmp_path_factory.mktemp("refs")
    made = {}
    for name, argv in (("trace_old", TRACE + ["--seed", "1"]),
                       ("trace_new", TRACE + ["--seed", "2"]),
                       ("sim_old", SIMULATE + ["--set", "weight_sram.capacity_bytes=64KiB"]),
                       ("sim_new", SIMULATE)):
        work = base / name / "work"
        work.mkdir(parents=True)
        runner.ok(argv, work)
        made[name] = work / ("T" if name.startswith("trace") else "S")
    assert fingerprint(made["trace_old"]) != fingerprint(made["trace_new"])
    assert fingerprint(made["sim_old"]) != fingerprint(made["sim_new"])
    return made


def _kill_everywhere(runner, tmp_path, argv, out, old, new, env, loader, choose=None):
    """Count the command's write steps in this setting, then kill it at each one (or at the
    ones `choose(total)` picks)."""
    def setup(name):
        work = tmp_path / name / "work"
        work.mkdir(parents=True)
        if old is not None:
            shutil.copytree(old, work / out)
        return work

    total = runner.ok(argv, setup("count"), env)["steps"]
    assert total >= 3
    allowed = [fingerprint(new), fingerprint(old) if old is not None else None]  # None: absent
    absent_before_recovery = 0
    steps = choose(total) if choose else range(1, total + 1)
    for step in steps:
        work = setup(f"kill-{step}")
        runner.killed(argv, work, step, env)
        if not (work / out).exists():
            absent_before_recovery += 1
            recover(work / out)  # what the next command does first (journaled swap only)
        found = fingerprint(work / out)
        assert found in allowed, f"step {step}: {out} is neither the old nor the new folder"
        if found is not None:
            loader(work / out)
        runner.ok(argv, work, env)
        assert fingerprint(work / out) == allowed[0], f"step {step}: the rerun differs"
        assert leftovers(work) == [], f"step {step}"
    if old is not None and not env:
        assert absent_before_recovery == 0  # the exchange leaves no moment without a folder
    return list(steps), total


@pytest.mark.parametrize("swap", SWAPS)
@pytest.mark.parametrize("case", ["first", "overwrite"])
def test_trace_killed_at_every_step(runner, refs, tmp_path, swap, case):
    old = refs["trace_old"] if case == "overwrite" else None
    _, total = _kill_everywhere(runner, tmp_path, TRACE + ["--seed", "2"], "T", old,
                                refs["trace_new"], SWAPS[swap], load_trace)
    print(f"trace {case} {swap}: {total} kill points")


def test_simulate_killed_at_every_step(runner, refs, tmp_path):
    """Overwriting with the exchange swap, the default where the kernel has it."""
    _, total = _kill_everywhere(runner, tmp_path, SIMULATE, "S", refs["sim_old"],
                                refs["sim_new"], SWAPS["exchange"], SimulationResult.load)
    print(f"simulate overwrite exchange: {total} kill points")


@pytest.mark.parametrize(("case", "swap"), [("first", "exchange"), ("overwrite", "rename")])
def test_simulate_killed_at_seeded_steps(runner, refs, tmp_path, case, swap):
    old = refs["sim_old"] if case == "overwrite" else None

    def choose(total):
        points = kill_points(total, SEEDED_KILLS, seed=20 + len(case), tail=SWAP_STEPS)
        assert total - SWAP_STEPS + 1 in points and total in points
        return points

    steps, total = _kill_everywhere(runner, tmp_path, SIMULATE, "S", old, refs["sim_new"],
                                    SWAPS[swap], SimulationResult.load, choose)
    print(f"simulate {case} {swap}: kill points {steps} of {total}")


def test_simulate_never_replaces_a_folder_it_did_not_write(runner, tmp_path):
    work = tmp_path / "work"
    (work / "S").mkdir(parents=True)
    (work / "S" / "notes.txt").write_text("mine")
    answer = runner.run(SIMULATE, work)
    assert answer["rc"] == 2
    assert answer["stderr"].startswith("accelsim: error: ") and answer["stderr"].count("\n") == 1
    assert "not a simulation results folder" in answer["stderr"]
    assert (work / "S" / "notes.txt").read_text() == "mine"
    assert leftovers(work) == []
