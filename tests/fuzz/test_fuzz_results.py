"""Hostile input, kind 'results': see tests/fuzz_common.py and benchmarks/fuzz_cli.py."""

import pytest
from fuzz_common import check, fixtures, params


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return fixtures(tmp_path_factory)


@pytest.mark.parametrize("case", params("results"))
def test_hostile_results(case, fx, tmp_path, monkeypatch):
    check(case, fx, tmp_path, monkeypatch)
