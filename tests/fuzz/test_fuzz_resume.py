"""Hostile input, kind 'resume': see tests/fuzz_common.py and benchmarks/fuzz_cli.py."""

import pytest
from fuzz_common import check, params


@pytest.mark.parametrize("case", params("resume"))
def test_hostile_resume(case, fx, tmp_path, monkeypatch):
    check(case, fx, tmp_path, monkeypatch)
