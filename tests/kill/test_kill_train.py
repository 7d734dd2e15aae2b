"""Kill -9 of `accelsim train` at seeded write steps, into a new folder and over a finished
run: `--resume` then continues to the bytes of an undisturbed run, or refuses in one line when
there is nothing to resume, and never trains from scratch on its own. Also: a diverged run
stops with an error, and --json never prints NaN."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from kill_helpers import fingerprint, kill_points, leftovers

TRAIN = ["train", "--epochs", "2", "--budget", "2000", "--batch-size", "128", "--quiet",
         "--out", "R"]
KILLS_PER_CASE = 8
# what an undisturbed run and a resumed one must agree on, byte for byte
# history.csv and summary.json are compared without their wall-clock fields (below)
COMPARED = ("checkpoint.sparse", "config.json",
            "trace/manifest.json", "trace/layers.parquet", "trace/steps.parquet",
            "trace/snapshots.parquet")


@pytest.fixture(scope="module")
def refs(runner, tmp_path_factory):
    base = tmp_path_factory.mktemp("refs")
    made = {}
    for name, seed in (("old", "1"), ("new", "0")):
        work = base / name / "work"
        work.mkdir(parents=True)
        answer = runner.ok(TRAIN + ["--seed", seed], work)
        made[name], made[f"{name}_steps"] = work / "R", answer["steps"]
    return made


def _one_line_error(answer, *words):
    assert answer["rc"] == 2, answer["stderr"][-2000:]
    assert answer["stderr"].startswith("accelsim: error: "), answer["stderr"]
    assert answer["stderr"].count("\n") == 1 and "Traceback" not in answer["stderr"]
    assert all(w in answer["stderr"] for w in words), answer["stderr"]


def _same_run(folder, reference):
    found, wanted = fingerprint(folder), fingerprint(reference)
    for name in COMPARED:
        assert found.get(name) == wanted[name], name
    history, expected = (pd.read_csv(f / "history.csv").drop(columns="wall_seconds")
                         for f in (folder, reference))
    pd.testing.assert_frame_equal(history, expected, check_exact=True)
    summary, expected_summary = (
        {k: v for k, v in json.loads((f / "summary.json").read_text()).items()
         if k != "train_seconds"} for f in (folder, reference))
    assert summary == expected_summary
    assert not (folder / "resume.pt").exists()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["first", "overwrite"])
def test_train_killed_then_resumed_or_refused(runner, refs, tmp_path, case):
    argv = TRAIN + ["--seed", "0"]
    total = refs["new_steps"]
    steps = kill_points(total, KILLS_PER_CASE, seed=1400 + (case == "overwrite"))
    resumed = refused = 0
    for step in steps:
        work = tmp_path / f"kill-{step}" / "work"
        work.mkdir(parents=True)
        if case == "overwrite":
            shutil.copytree(refs["old"], work / "R")
        runner.killed(argv, work, step)
        if (work / "R" / "resume.pt").exists():
            runner.ok(argv + ["--resume"], work)
            resumed += 1
        else:
            before = fingerprint(work / "R")
            answer = runner.run(argv + ["--resume"], work)
            _one_line_error(answer, "nothing to resume")
            assert fingerprint(work / "R") == before  # refused: the folder is untouched
            runner.ok(argv, work)  # the user starts it again, explicitly
            refused += 1
        _same_run(work / "R", refs["new"])
        assert leftovers(work) == [], f"step {step}"
    assert resumed and refused
    print(f"train {case}: kill points {steps} of {total}; {resumed} resumed, {refused} refused")


def test_resume_refuses_a_missing_or_finished_run(runner, refs, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    _one_line_error(runner.run(TRAIN + ["--resume"], work), "nothing to resume")
    assert not (work / "R").exists()
    shutil.copytree(refs["new"], work / "R")
    _one_line_error(runner.run(TRAIN + ["--resume"], work), "already finished")
    assert fingerprint(work / "R") == fingerprint(refs["new"])


def test_diverged_run_stops_with_an_error_and_no_nan(runner, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    # a huge but finite rate: an infinite one is refused before training starts
    answer = runner.run(["train", "--epochs", "1", "--lr", "1e12", "--json", "--out", "R"], work)
    _one_line_error(answer, "diverged", "--lr")
    assert answer["stdout"] == ""
    assert not (work / "R" / "summary.json").exists()


def test_json_output_is_strict(runner, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    answer = runner.ok(["train", "--epochs", "1", "--json", "--out", "R"], work)

    def refuse(constant):
        raise AssertionError(f"{constant} in JSON output")

    summary = json.loads(answer["stdout"], parse_constant=refuse)
    assert summary["test_accuracy"] > 0
