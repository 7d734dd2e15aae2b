"""One shared global buffer (`buffer_organisation: shared`): the config and its views, the
per-run weight share (`accelsim.sim.shared_buffer`), and the invariants of its results."""

from __future__ import annotations

import itertools
import textwrap

import pytest
from trace_helpers import tiny_trace

from accelsim.config import load_accelerator_config
from accelsim.errors import ConfigError
from accelsim.sim.energy import TRAFFIC_ENERGY_COLUMNS
from accelsim.sim.simulation import simulate

ROW = 4 * 64 // 8  # four banks of 64 bits


def shared(capacity, **overrides):
    base = {"tile_weights": 256, "global_buffer.capacity_bytes": capacity,
            "global_buffer.banks": 4}
    base.update(overrides)
    return load_accelerator_config("shared-ws-32x32", base)


def dram_bytes(result, run):
    frame = result.run(run)
    return int((frame["dram_bytes_read"] + frame["dram_bytes_written"]).sum())


# -- the config --------------------------------------------------------------------------------

def test_views_split_the_buffer_and_carry_its_energy_and_leakage():
    config = shared(16384, weight_share_bytes=1024)
    buffer, w, a = config.global_buffer, config.weight_sram, config.activation_sram
    assert (w.capacity_bytes, a.capacity_bytes) == (1024, 15360)
    assert w.banks + a.banks == buffer.banks
    for view in (w, a):
        assert view.read_energy_pj == buffer.read_energy_pj
        assert view.write_energy_pj == buffer.write_energy_pj
    assert w.leakage_power_mw + a.leakage_power_mw == buffer.leakage_power_mw
    # the default share is left to the runs; a split config's dict is as it was
    assert shared(16384).weight_share_bytes is None
    split = load_accelerator_config("default")
    assert "global_buffer" not in split.to_dict() and "weight_share_bytes" not in split.to_dict()
    assert config.to_dict()["global_buffer"]["capacity_bytes"] == 16384


@pytest.mark.parametrize(("overrides", "pattern"), [
    ({"buffer_organisation": "unified"},
     r"buffer_organisation: expected one of .*'split'.*'shared'.*got 'unified'"),
    ({"global_buffer.banks": 3, "global_buffer.capacity_bytes": 24 * 171},
     r"global_buffer\.banks: expected an even number >= 2.*got 3"),
    ({"weight_share_bytes": 100}, r"weight_share_bytes: expected a multiple of 32 bytes.*100"),
    ({"weight_share_bytes": 65536},
     r"weight_share_bytes: expected .* from 0 to 57344 .*8192 bytes kept.*65536"),
    ({"global_buffer.capacity_bytes": 4096},
     r"global_buffer\.capacity_bytes: expected at least 8192 bytes.*4096"),
    ({"weight_sram.capacity_bytes": 1024},
     r"weight_sram: expected no section with buffer_organisation shared"),
])
def test_bad_shared_values_give_a_one_line_error(overrides, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        shared(65536, **overrides)
    message = str(info.value)
    assert "\n" not in message and "shared-ws-32x32.yaml" in message


def test_split_refuses_a_global_buffer_and_shared_needs_one(tmp_path):
    with pytest.raises(ConfigError, match=r"global_buffer: expected nothing with "
                                          r"buffer_organisation split"):
        load_accelerator_config("default", {"global_buffer.capacity_bytes": 4096,
                                            "global_buffer.banks": 4,
                                            "global_buffer.bank_width_bits": 64,
                                            "global_buffer.latency_cycles": 1})
    file = tmp_path / "bad.yaml"
    file.write_text(textwrap.dedent("""\
        base: default
        name: bad
        buffer_organisation: shared
        weight_sram: null
        activation_sram: null
        """))
    with pytest.raises(ConfigError, match=r"bad\.yaml.*global_buffer: expected a value"):
        load_accelerator_config(str(file))


# -- results ---------------------------------------------------------------------------------

CASES = [
    (8192, {}),
    (12288, {"pe.dataflow": "os"}),
    (32768, {"pe.dataflow": "is", "index.format": "relative", "index.index_bits": 8}),
    (16384, {"reuse_policy": "scalesim"}),
]


@pytest.mark.parametrize("mode", ["train", "inference"])
@pytest.mark.parametrize(("capacity", "overrides"), CASES)
def test_records_and_breakdown_conserve_and_charge_the_buffer(mode, capacity, overrides):
    config = shared(capacity, **overrides)
    result = simulate(tiny_trace(), config, mode)  # check() runs inside
    r, t = result.records, result.traffic
    served = r["served_sram_count"] + r["served_dram_count"] + r["served_prng_count"]
    assert (served == r["weight_accesses_count"]).all()
    buffer = config.global_buffer
    accesses_pj = ((r["weight_sram_reads_count"] + r["activation_sram_reads_count"])
                   * buffer.read_energy_pj
                   + (r["weight_sram_writes_count"] + r["activation_sram_writes_count"])
                   * buffer.write_energy_pj)
    assert r["sram_dynamic_energy_pj"].to_numpy() == pytest.approx(accesses_pj.to_numpy())
    for run in ("trace", "dense"):
        rt, tt = result.run(run), t[t["run"] == run]
        dram = tt[tt["level"] == "dram"]
        assert int(dram["bytes"].sum()) == dram_bytes(result, run)
        for level in ("weight_sram", "activation_sram"):
            got = tt[tt["level"] == level][["reads", "writes"]].sum()
            assert int(got["reads"]) == int(rt[f"{level}_reads_count"].sum())
            assert int(got["writes"]) == int(rt[f"{level}_writes_count"].sum())
        want = float(rt[list(TRAFFIC_ENERGY_COLUMNS)].to_numpy().sum())
        assert tt["energy_pj"].sum() == pytest.approx(want, rel=1e-9)
        share = result.settings["global_buffer"][run]
        assert share["weight_share_bytes"] + share["activation_bytes"] == capacity
        # the pinned values (what the load brings in) never exceed the share they were given
        load = rt[rt["phase"] == "load"]
        pinned_bytes = int(load["weight_accesses_count"].sum()) * config.weight_bytes
        assert pinned_bytes <= share["weight_share_bytes"]


@pytest.mark.parametrize("mode", ["train", "inference"])
def test_a_buffer_large_enough_for_everything_pins_all_and_keeps_activations_on_chip(mode):
    result = simulate(tiny_trace(), shared(1 << 20), mode)
    r = result.records
    assert int(r["activation_dram_bytes_read"].sum()) == 0
    assert int(r["activation_dram_bytes_written"].sum()) == 0
    passes = r[r["phase"] != "load"]
    assert int(passes["served_dram_count"].sum()) == 0  # every tracked weight pinned
    assert (passes[passes["phase"] != "backward_weight"]["tracked_count"] > 0).any()
    # what moves to and from DRAM is the one-time load of the pinned set, and nothing else
    assert dram_bytes(result, "trace") == int(r[(r["run"] == "trace")
                                               & (r["phase"] == "load")]["dram_bytes_read"].sum())


@pytest.mark.parametrize("mode", ["train", "inference"])
@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_a_larger_shared_buffer_never_increases_dram_traffic(mode, dataflow):
    trace = tiny_trace()
    last = None
    for capacity in (8192, 8192 + ROW, 9216, 12288, 16384, 24576, 32768, 65536, 1 << 20):
        result = simulate(trace, shared(capacity, **{"pe.dataflow": dataflow}), mode)
        now = {run: dram_bytes(result, run) for run in ("trace", "dense")}
        if last is not None:
            for run in now:
                assert now[run] <= last[run], (run, capacity, now, last)
        last = now
    assert last["trace"] < last["dense"]


def test_the_chosen_share_moves_the_fewest_dram_bytes_of_its_candidates():
    """Every candidate share, fixed in the config, against the one the run chose: the dense
    run's closed-form count is exact (no index), so its choice is the best of them; the trace
    run's bounds its simulated bytes from above (the update's index rewrite)."""
    trace = tiny_trace()
    config = shared(16384)
    chosen = simulate(trace, config, "train")
    weighed = {run: {c[0]: c[1] + c[2] for c in chosen.settings["global_buffer"][run]
                     ["candidates"]} for run in ("trace", "dense")}
    assert len(weighed["dense"]) > 2 and 0 in weighed["dense"]
    assert all(share % ROW == 0 and share <= 16384 - 8192 for share in weighed["dense"])
    best = dram_bytes(chosen, "dense")
    for share, count in weighed["dense"].items():
        fixed = simulate(trace, config.with_weight_share(share), "train")
        assert fixed.settings["global_buffer"]["dense"]["chosen"] is False
        assert dram_bytes(fixed, "dense") == count
        assert best <= count
        if share in weighed["trace"]:
            assert dram_bytes(fixed, "trace") <= weighed["trace"][share]


def test_shared_results_are_deterministic():
    a = simulate(tiny_trace(), shared(12288), "train")
    b = simulate(tiny_trace(), shared(12288), "train")
    assert a.records.equals(b.records) and a.traffic.equals(b.traffic)


def test_a_larger_buffer_keeps_every_weight_share_a_smaller_one_could_choose():
    """The grid behind the monotonicity: every candidate below the tracked set at one capacity
    is a candidate at any larger one, and the largest grows with the capacity."""
    from accelsim.sim.plan import iteration_plans
    from accelsim.sim.shared_buffer import share_candidates
    from accelsim.sim.simulation import RunOptions, _works

    trace = tiny_trace()
    plans = iteration_plans(trace)
    layers = trace.layers.to_dict("records")
    grids = []
    for capacity in (8192, 9216, 12288, 65536):
        config = shared(capacity)
        works = _works(layers, config, trace.batch_size, "train", RunOptions())
        grids.append(share_candidates(config, works, plans, trace.dense))
    for small, large in itertools.pairwise(grids):
        assert set(small[:-1]) <= set(large) and small[-1] <= large[-1]
        assert all(share % ROW == 0 for share in large)
