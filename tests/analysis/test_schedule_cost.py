"""Every report that prints a compression prints the time-averaged one and the peak too."""

import json

import pytest

from accelsim.analysis.budget_words import identity_words, tracked_words


def test_words_state_k_time_average_and_peak_only_when_a_schedule_differs():
    assert tracked_words(1000, 40) == "40 of 1,000 weights tracked (25.0×)"
    assert tracked_words(1000, 40, 40, 40.0) == "40 of 1,000 weights tracked (25.0×)"
    text = tracked_words(1000, 40, 1000, 125.0)
    assert text == ("40 of 1,000 weights tracked (25.0×); time-averaged 125 (8.0×), "
                    "peak 1,000 (1.0×)")
    # an identity from before the target and mean were recorded: the peak alone
    assert identity_words({"param_count": 1000, "budget_tracked_count": 50}) == \
        "50 of 1,000 weights tracked (20.0×)"


def test_simulate_prints_the_schedule_cost_of_a_warmed_up_run(tmp_path, capsys):
    pytest.importorskip("torch")
    from accelsim.cli import main
    from accelsim.trace.format import load_trace
    from accelsim.train.loop import TrainConfig, train

    run = train(TrainConfig(model="lenet-300-100", dataset="digits", budget=2000, epochs=2,
                            batch_size=256, warmup_epochs=1, trace_every=1000),
                tmp_path / "run", quiet=True)
    trace = load_trace(run.out / "trace")
    assert main(["simulate", str(run.out / "trace"), "--out", str(tmp_path / "sim")]) == 0
    printed = capsys.readouterr().out
    assert f"2,000 of {trace.param_count:,} weights tracked" in printed
    assert f"time-averaged {trace.mean_tracked_count:,.0f}" in printed
    assert f"peak {trace.param_count:,} (1.0×)" in printed
    summary = json.loads((run.out / "summary.json").read_text())
    assert summary["peak_compression"] == 1.0
    assert summary["mean_compression"] == pytest.approx(trace.param_count /
                                                        trace.mean_tracked_count)
