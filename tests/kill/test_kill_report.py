"""Kill -9 of `accelsim report` at seeded write steps: the results folder holds its old
contents or the whole new report with its figures, a separate --out holds no or the whole
report, and a rerun leaves no temporaries."""

from __future__ import annotations

import shutil

import pytest
from kill_helpers import SAMPLE_TRACE, fingerprint, kill_points, leftovers

from accelsim.analysis.folders import check_readable

pytestmark = pytest.mark.slow  # kill and rerun, many times: scheduled first

KILLS_PER_CASE = 4


@pytest.fixture(scope="module")
def sim(runner, tmp_path_factory):
    """A simulation folder without a report, one with a stale report, and one reported."""
    base = tmp_path_factory.mktemp("refs")
    work = base / "work"
    work.mkdir()
    runner.ok(["simulate", str(SAMPLE_TRACE), "--quiet", "--out", "S"], work)
    stale = base / "stale"
    shutil.copytree(work / "S", stale)
    (stale / "report.md").write_text("an older report\n")
    reported = base / "reported" / "work"
    shutil.copytree(work / "S", reported / "S")
    runner.ok(["report", "S", "--quiet"], reported)
    return {"plain": work / "S", "stale": stale, "reported": reported / "S"}


@pytest.mark.parametrize("case", ["first", "overwrite", "elsewhere"])
def test_report_killed_at_seeded_steps(runner, sim, tmp_path, case):
    argv = ["report", "S", "--quiet"] + (["--out", "R"] if case == "elsewhere" else [])
    before = sim["stale"] if case == "overwrite" else sim["plain"]

    def setup(name):
        work = tmp_path / name / "work"
        work.mkdir(parents=True)
        shutil.copytree(before, work / "S")
        return work

    count = setup("count")
    total = runner.ok(argv, count)["steps"]
    after = fingerprint(count / "S")
    report_md = (count / "R" / "report.md").read_text() if case == "elsewhere" else None
    if case != "elsewhere":
        assert after == fingerprint(sim["reported"])
    steps = kill_points(total, KILLS_PER_CASE, seed=140 + len(case))
    for step in steps:
        work = setup(f"kill-{step}")
        runner.killed(argv, work, step)
        assert fingerprint(work / "S") in (fingerprint(before), after), f"step {step}"
        check_readable(work / "S")
        if case == "elsewhere" and (work / "R" / "report.md").exists():
            # the report names the results folder by its absolute path
            assert (work / "R" / "report.md").read_text() == report_md.replace(str(count),
                                                                               str(work))
        runner.ok(argv, work)
        assert fingerprint(work / "S") == after, f"step {step}: the rerun differs"
        assert leftovers(work) == [], f"step {step}"
    print(f"report {case}: kill points {steps} of {total}")
