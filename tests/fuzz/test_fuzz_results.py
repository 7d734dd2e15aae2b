"""Hostile input, kind 'results': see tests/fuzz_common.py and benchmarks/fuzz_cli.py."""

import pytest
from fuzz_common import check, params


@pytest.mark.parametrize("case", params("results"))
def test_hostile_results(case, fx, tmp_path, monkeypatch):
    check(case, fx, tmp_path, monkeypatch)
