"""The examples in examples/ run as a user runs them (tiny settings)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_first_hour_example_trains_traces_simulates_and_plots(tmp_path):
    out = tmp_path / "first-hour"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "first_hour.py"),
                           "--epochs", "1", "--out", str(out)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "test accuracy after 1 epochs" in done.stdout
    assert (out / "trace" / "manifest.json").is_file()
    assert (out / "sweep" / "sweep.parquet").is_file()
    figure = out / "sweep" / "figures" / "sram_sweep.png"
    assert figure.is_file() and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "dense_over_trace" in done.stdout
