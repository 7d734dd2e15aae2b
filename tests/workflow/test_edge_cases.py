"""Edge cases found in review: nothing of the user's is deleted, exported DRAM streams run
forward in time, summaries report what is tracked, damaged sweep points are recomputed, and
sizes may be written as 64KiB in config files."""

import json

import numpy as np
import pytest
from trace_helpers import tiny_trace

from accelsim.app.sweep import sweep
from accelsim.config import load_accelerator_config
from accelsim.errors import ConfigError, TraceError
from accelsim.sim.simulation import simulate
from accelsim.trace.format import save_trace


def test_saving_a_trace_never_replaces_a_folder_that_is_not_a_trace(tmp_path):
    precious = tmp_path / "run"
    precious.mkdir()
    (precious / "checkpoint.sparse").write_text("mine")
    with pytest.raises(TraceError, match="not a trace folder"):
        save_trace(tiny_trace(), precious)
    assert (precious / "checkpoint.sparse").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(TraceError):
        save_trace(tiny_trace(), tmp_path / "file")


def test_recorded_dram_stream_is_in_time_order():
    config = load_accelerator_config("default", {"weight_sram.capacity_bytes": 1024})
    result = simulate(tiny_trace(iterations=4), config, record_dram_requests=True)
    for run, frame in result.dram_requests.items():
        cycles = frame["issue_cycle"].to_numpy()
        assert len(cycles) and np.all(np.diff(cycles) >= 0), run
        assert frame["simulated"].iloc[0] == "load"


def test_summary_reports_the_tracked_set_not_the_budget(tmp_path):
    from accelsim.train.loop import TrainConfig, train

    result = train(TrainConfig(budget=60_000, epochs=1, batch_size=256), tmp_path / "r",
                   quiet=True, trace=False)
    # a budget above the model's 50,610 weights tracks every weight, no more
    assert result.summary["tracked_count"] == result.summary["param_count"] == 50_610


def test_damaged_point_files_are_recomputed(tmp_path):
    trace = save_trace(tiny_trace(), tmp_path / "t")
    first = sweep(trace, sram_sizes=[1024, 4096], out=tmp_path / "s", jobs=1, quiet=True)
    for f in (tmp_path / "s" / "points").iterdir():
        f.write_text(json.dumps({"overrides": {}}))  # valid JSON, missing keys
    again = sweep(trace, sram_sizes=[1024, 4096], out=tmp_path / "s", jobs=1, quiet=True)
    assert again.equals(first)


def test_config_sizes_may_be_written_with_units():
    config = load_accelerator_config("default", {"weight_sram.capacity_bytes": "64KiB",
                                                 "activation_sram.capacity_bytes": "1MiB"})
    assert config.weight_sram.capacity_bytes == 65536
    assert config.activation_sram.capacity_bytes == 1 << 20
    with pytest.raises(ConfigError, match=r"weight_sram\.capacity_bytes.*'lots'"):
        load_accelerator_config("default", {"weight_sram.capacity_bytes": "lots"})
