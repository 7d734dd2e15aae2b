"""Fixtures shared by the test folders.

The helper modules beside this file (trace_helpers, kill_helpers, method_helpers, fuzz_common)
are importable from every folder: pyproject.toml puts tests/ on pytest's `pythonpath`.
Session-scoped fixtures are built once per pytest worker, not once per file.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

# `make test` runs one pytest worker per core: a second thread in a worker (torch's OpenMP
# pool, numpy's OpenBLAS) only spins against the other worker. Set before torch or numpy is
# imported, and inherited by every command a test starts; a value already set is kept.
for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

# A worker holds torch, pandas and matplotlib: each full garbage collection walks millions of
# objects (0.2-0.5 s), and with Python's default (every 10th middle-generation collection) a
# worker ran 20-30 of them, 5-6 s of CPU. Every 100th: 4-5, for about a tenth more memory at
# the peak. Young objects are collected as often as before.
gc.set_threshold(*gc.get_threshold()[:2], 100)


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


@pytest.fixture(scope="session")
def runner():
    """One kill_zygote process per pytest worker, shared by the kill-test files: it forks a
    child for each accelsim command, so a command starts without importing torch again (the
    zygote itself takes seconds to start; its state never changes, only its children run)."""
    from kill_helpers import Runner

    runner = Runner()
    yield runner
    runner.close()


@pytest.fixture
def cli(capsys):
    """`accelsim ARGS` in this process (the console script's own behaviour is tested in
    tests/workflow): exit code and output as a finished process would give them."""
    from types import SimpleNamespace

    from accelsim.cli import main

    def run(*args):
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)
    return run


def pytest_configure(config):
    # `-n 2 --dist loadfile`: pytest-xdist hands each worker whole files, by default the files
    # with the most tests first. Here the longest files are those with few, long tests (the
    # kill and end-to-end tests), so xdist keeps the order below: longest files first, the
    # short ones fill in behind them, and no worker is left with a long file at the end.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(session, config, items):
    """Files with `slow` tests first (most slow tests first), then the rest as collected."""
    slow: dict[str, int] = {}
    for item in items:
        path = str(item.path)
        slow[path] = slow.get(path, 0) + (item.get_closest_marker("slow") is not None)
    first_seen = {}
    for index, item in enumerate(items):
        first_seen.setdefault(str(item.path), index)
    items.sort(key=lambda item: (-slow[str(item.path)], first_seen[str(item.path)]))
