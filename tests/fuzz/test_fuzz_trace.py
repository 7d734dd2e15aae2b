"""Hostile input, kind 'trace': see tests/fuzz_common.py and benchmarks/fuzz_cli.py."""

import pytest
from fuzz_common import check, params


@pytest.mark.parametrize("case", params("trace"))
def test_hostile_trace(case, fx, tmp_path, monkeypatch):
    check(case, fx, tmp_path, monkeypatch)
