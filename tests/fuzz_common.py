"""The CI slice of benchmarks/fuzz_cli.py: the same seeded cases, a few dozen per kind, each a
test. A case must end refused (exit 2, one `accelsim: error:` line) or, where its input may be
legitimate, accepted; never a traceback, an unclear message, a hang (an alarm fails it), a
marker file written by a pickle, or a half-written file."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz_cli.py"
_spec = importlib.util.spec_from_file_location("fuzz_cli", _PATH)
fuzz = importlib.util.module_from_spec(_spec)
sys.modules["fuzz_cli"] = fuzz  # dataclasses look their module up by name
_spec.loader.exec_module(fuzz)

CI_CASES = 240  # over all kinds; every listed mutation of a kind is always among its cases
CI_SEED = 1


def cases_of(kind: str) -> list:
    return [c for c in fuzz.make_cases(CI_CASES, CI_SEED) if c.kind == kind and c.ci]


def params(kind: str):
    return [pytest.param(c, id=f"{i:03d}-{c.mutation}") for i, c in enumerate(cases_of(kind))]


def fixtures(tmp_path_factory):
    return fuzz.Fixtures(tmp_path_factory.mktemp("fuzz-fixtures"))


def check(case, fx, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a pickle writing a relative marker lands here
    outcome = fuzz.run_case(case, fx, tmp_path / "case")
    allowed = {"refused", "accepted"} if case.allow_accept else {"refused"}
    assert outcome.cls in allowed, (outcome.cls, outcome.exit_code, outcome.stderr,
                                    " ".join(outcome.extra["argv"])[:300])
    assert not (Path(os.getcwd()) / fuzz.MARKER).exists()
