"""The committed sample trace reads, validates and simulates (and stays small)."""

from pathlib import Path

from accelsim.sim.simulation import simulate
from accelsim.trace.format import load_trace

SAMPLE = Path(__file__).resolve().parents[2] / "traces" / "sample-lenet-300-100"


def test_sample_trace_is_small_and_valid():
    size = sum(p.stat().st_size for p in SAMPLE.iterdir())
    assert size < 1_000_000
    trace = load_trace(SAMPLE)
    assert trace.manifest["source"] == "training" and not trace.dense
    assert trace.budget_tracked_count == 5000 and trace.param_count == 50_610
    assert trace.snapshot_iterations[0] == 0 and trace.snapshot_iterations[-1] == trace.iterations


def test_sample_trace_simulates_with_conserved_accesses():
    result = simulate(SAMPLE, "default", mode="train")
    result.check()
    totals = result.totals()
    assert totals.loc["trace", "prng_values_count"] > 0
    assert totals.loc["dense", "prng_values_count"] == 0
    assert totals.loc["trace", "energy_pj"] < totals.loc["dense", "energy_pj"]
