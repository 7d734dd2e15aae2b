"""Fixtures shared by the test folders.

The helper modules beside this file (trace_helpers, kill_helpers, method_helpers, fuzz_common)
are importable from every folder: pyproject.toml puts tests/ on pytest's `pythonpath`.
Session-scoped fixtures are built once per pytest worker, not once per file.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory) -> Path:
    """trace_helpers.tiny_trace() saved: read-only input for commands and loaders."""
    from trace_helpers import tiny_trace

    from accelsim.trace.format import save_trace

    return save_trace(tiny_trace(), tmp_path_factory.mktemp("trace") / "tiny")


@pytest.fixture(scope="session")
def fx(tmp_path_factory):
    """The fuzz cases' valid inputs (a trace, a run, a study...), each made on first use and
    shared by every fuzz kind, as benchmarks/fuzz_cli.py shares them."""
    from fuzz_common import fixtures

    return fixtures(tmp_path_factory)


@pytest.fixture(scope="module")
def runner():
    """One kill_zygote process per kill-test file: it forks a child for each accelsim command,
    so a command starts without importing torch again."""
    from kill_helpers import Runner

    runner = Runner()
    yield runner
    runner.close()
