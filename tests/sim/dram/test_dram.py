"""Tests of the DRAM config, presets, timing model, closed-form agreement and trace export.

Timeline tests run the DDR4-3200 preset with a 1600 MHz accelerator clock, so one accelerator
cycle is one DRAM clock (tCK 0.625 ns) and the expected cycles are the timing parameters added
by hand: tCL = tRCD = tRP = 22, tRAS = 52 (tRC = 74), BL8 = 4 bus cycles, tCCD_S/L = 4/8,
tRRD_S/L = 4/8, tFAW = 34, tREFI = 12480, tRFC = 560.
"""

import dataclasses
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.config.dram import DRAM_PRESETS, DramConfig, dram_config_from_dict, dram_preset
from accelsim.errors import ConfigError, TraceError
from accelsim.sim.dram.batch import DramBatch
from accelsim.sim.dram.export import TRACE_FORMATS, export_dram_trace, read_dram_trace
from accelsim.sim.dram.port import DramPort, expand_streams

DDR4 = dram_preset("DDR4-3200")
ONE_TO_ONE_MHZ = 1600.0  # accelerator clock equal to the DDR4-3200 DRAM clock

# DDR4-3200 hand arithmetic
TCL, TRCD, TRP, TRC, BURST = 22, 22, 22, 74, 4
TCCD_L, TRRD_S, TRRD_L, TFAW = 8, 4, 8, 34
TREFI, TRFC = 12480, 560
FIRST_READ = TRCD + TCL + BURST  # 48: read to a closed bank


def _load_closed_form():
    path = Path(__file__).resolve().parents[3] / "benchmarks" / "dram_closed_form.py"
    spec = importlib.util.spec_from_file_location("dram_closed_form", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


closed_form = _load_closed_form()




def at(config=DDR4, **where):
    return np.array([config.address_of(**where)], dtype=np.int64)


def addresses(config, *places):
    return np.array([config.address_of(**p) for p in places], dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# presets and derived values


@pytest.mark.parametrize("name", DRAM_PRESETS)
def test_every_preset_builds_and_cites_every_field(name):
    config = dram_preset(name)
    assert config.preset == name
    value_fields = set(DramConfig.__dataclass_fields__) - {"preset", "sources"}
    assert value_fields <= set(config.sources), value_fields - set(config.sources)
    assert all(isinstance(text, str) and text for text in config.sources.values())


def test_preset_list_has_the_three_required():
    assert {"DDR4-3200", "LPDDR4-3200", "HBM2"} <= set(DRAM_PRESETS)


@pytest.mark.parametrize(
    "name, burst_bytes, banks_per_channel, peak_gb_per_s",
    [("DDR4-3200", 64, 16, 25.6), ("LPDDR4-3200", 64, 8, 12.8), ("HBM2", 64, 16, 256.0)],
)
def test_derived_sizes_and_peak_bandwidth(name, burst_bytes, banks_per_channel, peak_gb_per_s):
    config = dram_preset(name)
    assert config.burst_bytes == burst_bytes
    assert config.banks_per_channel == banks_per_channel
    assert config.peak_bandwidth_bytes_per_ns == pytest.approx(peak_gb_per_s)
    assert config.row_size_bytes % config.burst_bytes == 0


def test_ddr4_values_follow_references():
    c = DDR4
    assert ((c.tck_ns, c.tcl_cycles, c.trcd_cycles, c.trp_cycles, c.tras_cycles)
            == (0.625, 22, 22, 22, 52))
    assert (c.bank_groups, c.banks_per_group, c.row_size_bytes, c.burst_length) == (4, 4, 8192, 8)
    assert c.trefi_cycles * c.tck_ns == pytest.approx(7800)
    assert c.trfc_cycles * c.tck_ns == pytest.approx(350)
    assert c.activate_energy_pj == 4200 and c.read_energy_pj_per_bit == 5.4
    assert c.trc_cycles == 74


def test_override_marks_source_as_user():
    config = dram_preset("DDR4-3200", channels=2, tcl_cycles=20)
    assert config.channels == 2 and config.tcl_cycles == 20
    assert config.sources["channels"] == "user" and config.sources["tcl_cycles"] == "user"
    assert config.sources["trcd_cycles"] != "user"


def test_configs_hash_and_pickle():
    import pickle

    assert hash(DDR4) == hash(dram_preset("DDR4-3200"))
    assert pickle.loads(pickle.dumps(DDR4)) == DDR4


def test_from_dict_uses_preset_and_overrides():
    config = dram_config_from_dict({"preset": "HBM2", "channels": 4}, "accel.yaml: dram")
    assert config.channels == 4 and config.tcl_cycles == 14
    assert config.sources["channels"] == "user"


def test_dramsim3_config_carries_the_controllers_queue_depths():
    from accelsim.sim.dram.export import dramsim3_config

    config = dram_preset("HBM2", command_queue_depth=3, queue_depth=17)
    lines = dramsim3_config(config).splitlines()
    assert "cmd_queue_size = 3" in lines and "trans_queue_size = 17" in lines
    assert dram_preset("HBM2").sources["command_queue_depth"].startswith("DRAMsim3")


def test_from_dict_custom_needs_every_field():
    values = dict(DDR4.__dict__)
    values.pop("sources")
    values["preset"] = "custom"
    config = dram_config_from_dict(values, "x.yaml")
    assert config.preset == "custom" and config.sources["tcl_cycles"] == "user"
    del values["tfaw_cycles"]
    with pytest.raises(ConfigError, match=r"x\.yaml.*tfaw_cycles"):
        dram_config_from_dict(values, "x.yaml")


# ---------------------------------------------------------------------------------------------
# config errors: the message names the field and the value


def test_unknown_preset():
    with pytest.raises(ConfigError,
                       match=r"^preset: expected one of .*DDR4-3200.*, got 'DDR5-9999'"):
        dram_preset("DDR5-9999")
    with pytest.raises(ConfigError, match=r"^cfg\.yaml: preset: expected one of .*, got 'DDR5'"):
        dram_config_from_dict({"preset": "DDR5"}, "cfg.yaml")
    with pytest.raises(ConfigError, match=r"^cfg\.yaml: dram\.preset: expected .*missing"):
        dram_config_from_dict({"channels": 2}, "cfg.yaml", "dram")


def test_unknown_field():
    with pytest.raises(ConfigError, match=r"^tcas: expected a DRAM field .*, got 3$"):
        dram_preset("DDR4-3200", tcas=3)
    with pytest.raises(ConfigError,
                       match=r"^a\.yaml: dram\.tcas: expected a DRAM field .*, got 3$"):
        dram_config_from_dict({"preset": "DDR4-3200", "tcas": 3}, "a.yaml", "dram")


@pytest.mark.parametrize(
    "field, value",
    [("channels", 0), ("ranks", -1), ("bank_groups", 0), ("tcl_cycles", 0), ("trcd_cycles", -5),
     ("tfaw_cycles", 0), ("trefi_cycles", -1), ("burst_length", 0), ("channels", 2.5),
     ("channels", True), ("tck_ns", 0.0), ("tck_ns", -0.625), ("tck_ns", float("nan")),
     ("activate_energy_pj", -1.0), ("background_power_mw", -3), ("read_energy_pj_per_bit", "5"),
     ("command_queue_depth", 0), ("queue_depth", 1.5)],
)
def test_zero_negative_and_wrong_type_values(field, value):
    with pytest.raises(ConfigError) as caught:
        dram_preset("DDR4-3200", **{field: value})
    assert str(caught.value).startswith(f"{field}: expected ")
    assert str(caught.value).endswith(f", got {value!r}")
    with pytest.raises(ConfigError) as caught:
        dram_config_from_dict({"preset": "DDR4-3200", field: value}, "run.yaml", "dram")
    assert str(caught.value).startswith(f"run.yaml: dram.{field}: expected ")


@pytest.mark.parametrize(
    "mapping, complaint",
    [("RoRaBaCoBg", "expected six"), ("RoRaBaCoBgBg", "repeated"),
     ("ChRaBaCoBgRo", "most significant"), ("RoRaBaCoBgXx", "unknown token"),
     (42, "expected six")],
)
def test_inconsistent_address_mapping(mapping, complaint):
    with pytest.raises(ConfigError, match=complaint) as caught:
        dram_preset("DDR4-3200", address_mapping=mapping)
    assert "address_mapping" in str(caught.value) and repr(mapping) in str(caught.value)


@pytest.mark.parametrize(
    "overrides, field",
    [({"row_size_bytes": 100}, "row_size_bytes"), ({"bus_width_bits": 12}, "bus_width_bits"),
     ({"burst_length": 7}, "burst_length"), ({"tccd_l_cycles": 2}, "tccd_l_cycles"),
     ({"trrd_l_cycles": 2}, "trrd_l_cycles"), ({"trfc_cycles": 20000}, "trfc_cycles")],
)
def test_inconsistent_values(overrides, field):
    with pytest.raises(ConfigError, match=field):
        dram_preset("DDR4-3200", **overrides)




# ---------------------------------------------------------------------------------------------
# address mapping


def test_default_mapping_rotates_bank_groups_then_columns():
    fields = DDR4.decode(np.arange(6) * 64)
    assert fields["bank_group"].tolist() == [0, 1, 2, 3, 0, 1]
    assert fields["column"].tolist() == [0, 0, 0, 0, 1, 1]
    assert DDR4.decode([4 * 128 * 64])["bank"].tolist() == [1]  # after 4 rows' worth of bursts


def test_dramsim3_style_lowercase_mapping_and_non_power_of_two_sizes():
    config = dram_preset("DDR4-3200", address_mapping="rochrababgco", channels=3)
    assert config.mapping_tokens == ("Ro", "Ch", "Ra", "Ba", "Bg", "Co")
    fields = config.decode([config.address_of(channel=2, bank_group=3, bank=1, row=7, column=5)])
    names = ("channel", "bank_group", "bank", "row", "column")
    assert [int(fields[k][0]) for k in names] == [2, 3, 1, 7, 5]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["RoRaBaCoBgCh", "RoBaBgRaCoCh", "RoCoChRaBgBa", "RoChRaBaBgCo"]),
       st.integers(1, 3), st.integers(1, 2), st.integers(0, 10**7))
def test_address_round_trip(mapping, channels, ranks, burst):
    config = dram_preset("DDR4-3200", address_mapping=mapping, channels=channels, ranks=ranks)
    byte_address = burst * config.burst_bytes
    fields = {k: int(v[0]) for k, v in config.decode([byte_address]).items()}
    assert config.address_of(**fields) == byte_address
    assert 0 <= fields["column"] < config.columns_per_row


# ---------------------------------------------------------------------------------------------
# timelines computed by hand
























TCWL, TWTR_S, TWTR_L, TWR, TRTP, TRTRS = 16, 4, 12, 24, 12, 1   # DRAMsim3 DDR4_8Gb_x8_3200
















# ---------------------------------------------------------------------------------------------
# row-buffer counts, state, conservation


















def test_batch_addition_and_sum():
    a = DramBatch(1, 64, 0, 0, 1, 0, 1, 0, 10.0, 58.0, 48.0, 4200.0, 2764.8, 0.0, 0.0)
    b = DramBatch(2, 64, 64, 1, 0, 1, 1, 1, 100.0, 130.0, 30.0, 4200.0, 2764.8, 2355.2, 0.0)
    total = sum([a, b])
    assert total == a + b
    assert (total.bursts, total.row_hits, total.activates, total.refreshes) == (3, 1, 2, 1)
    assert (total.start_cycle, total.end_cycle, total.busy_cycles) == (10.0, 130.0, 78.0)
    assert total.energy_pj == pytest.approx(a.energy_pj + b.energy_pj)
    assert DramBatch.empty(5) + a == a




# ---------------------------------------------------------------------------------------------
# closed forms (benchmarks/dram_closed_form.py derives them; the benchmark runs 2**20 bursts)








# ---------------------------------------------------------------------------------------------
# trace export


@pytest.mark.parametrize("fmt", TRACE_FORMATS)
def test_export_parses_back(tmp_path, fmt):
    rng = np.random.default_rng(1)
    addrs = rng.integers(0, 1 << 40, 1000) // 64 * 64
    writes = rng.random(1000) < 0.3
    cycles = np.sort(rng.random(1000) * 1e6)
    path = export_dram_trace(addrs, writes, cycles, tmp_path / f"t.{fmt}", fmt)
    lines = path.read_text().splitlines()
    assert len(lines) == 1000
    got_addrs, got_writes, got_cycles = read_dram_trace(path, fmt)
    assert np.array_equal(got_addrs, addrs) and np.array_equal(got_writes, writes)
    if fmt == "dramsim3":
        assert lines[0].split()[1] in ("READ", "WRITE") and lines[0].startswith("0x")
        assert np.array_equal(got_cycles, np.ceil(cycles).astype(np.int64))
    else:
        assert lines[0].split()[0] in ("LD", "ST") and lines[0].split()[1].startswith("0x")
    assert sorted(os.listdir(tmp_path)) == [f"t.{fmt}"]  # no temporary file left behind


def test_export_from_the_port_log(tmp_path):
    import simpy

    # the route a simulation takes: the DRAM port logs its streams, the log is expanded to one
    # request per burst and written in DRAM clock cycles
    env = simpy.Environment()
    port = DramPort(env, DDR4, 800.0, timing="exact", record_requests=True)

    def issue(cycle, streams):
        yield env.timeout(cycle)
        yield port.submit(streams)

    env.process(issue(10, [(0, 64, False), (64, 64, True), (8192 * 16, 64, False)]))
    env.process(issue(1000, [(4096, 256, True)]))
    env.run()
    recorded_addrs, recorded_writes, recorded_cycles = expand_streams(port.log, DDR4.burst_bytes)
    assert recorded_addrs.tolist() == [0, 64, 131072, 4096, 4160, 4224, 4288]
    assert recorded_writes.tolist() == [False, True, False, True, True, True, True]
    assert recorded_cycles.tolist() == [10, 10, 10, 1000, 1000, 1000, 1000]
    dram_per_accel_cycle = port.dram_cycles_per_accel_cycle
    path = export_dram_trace(recorded_addrs, recorded_writes,
                             recorded_cycles * dram_per_accel_cycle,
                             tmp_path / "dramsim3.trace", "dramsim3")
    got_addrs, _, cycles = read_dram_trace(path, "dramsim3")
    assert got_addrs.tolist() == recorded_addrs.tolist()
    assert cycles.tolist() == [20, 20, 20, 2000, 2000, 2000, 2000]  # 800 MHz -> 1600 MHz DRAM


def test_export_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"^fmt: expected one of .*, got 'gem5'$"):
        export_dram_trace([0], False, 0, tmp_path / "x", "gem5")
    with pytest.raises(ValueError):
        export_dram_trace([-1], False, 0, tmp_path / "x", "dramsim3")
    bad = tmp_path / "bad.trace"
    bad.write_text("0x40 READ 1\nLD 0x40\n")
    with pytest.raises(TraceError, match=r"bad\.trace:2"):
        read_dram_trace(bad, "dramsim3")


def test_sim_package_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, accelsim.sim.dram.port, accelsim.sim.dram.export; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# the vectorized schedule equals a plain per-burst computation of the same rules


def reference_first_ready(config, byte_addresses):
    """FR-FCFS order, per burst: each channel's requests in windows of queue_depth; in each
    window each bank serves the row open at the window's start first (the bank's last
    request before the window: an approximation the model documents), then its other rows,
    oldest first, in the bank's own slots of the window."""
    c = config
    f = c.decode(byte_addresses)
    bank = ((f["channel"] * c.ranks + f["rank"]) * c.bank_groups + f["bank_group"]) \
        * c.banks_per_group + f["bank"]
    bank, row, channel = bank.tolist(), f["row"].tolist(), f["channel"].tolist()
    order = list(range(len(bank)))
    last_row = {}
    for ch in sorted(set(channel)):
        mine = [i for i in range(len(bank)) if channel[i] == ch]
        for w in range(0, len(mine), c.queue_depth):
            window = mine[w:w + c.queue_depth]
            for b in dict.fromkeys(bank[i] for i in window):
                slots = [i for i in window if bank[i] == b]
                preferred = last_row.get(b, -1)
                served = [i for i in slots if row[i] == preferred]
                for r in dict.fromkeys(row[i] for i in slots if row[i] != preferred):
                    served += [i for i in slots if row[i] == r]
                for slot, i in zip(slots, served):
                    order[slot] = i
                last_row[b] = row[slots[-1]]
    return np.asarray(byte_addresses)[order]




REFERENCE_CONFIGS = {
    "DDR4": DDR4,
    "DDR4 2 ranks 2 channels": dram_preset("DDR4-3200", ranks=2, channels=2),
    "LPDDR4": dram_preset("LPDDR4-3200"),
    "HBM2": dram_preset("HBM2"),
    "DDR4 row-major mapping": dram_preset("DDR4-3200", address_mapping="RoBaBgRaCoCh"),
}










# ---------------------------------------------------------------------------------------------
# refresh closes rows (issue 11): the refresh precharges every bank, so the next access to a
# row that was open before it is a miss (activate, no precharge) that waits for the window






# ---------------------------------------------------------------------------------------------
# FR-FCFS within the request queue (issue 11)










def test_whole_run_export_repeats_each_simulated_iteration_by_its_weight(tmp_path):
    """The default export covers the whole run: the load, then every iteration (the DropBack
    sample has several distinct simulated iterations, each standing for several)."""
    from accelsim.app.simulate import _distinct_iterations, save_result_folder
    from accelsim.config import load_accelerator_config
    from accelsim.sim.simulation import simulate
    from accelsim.trace.format import load_trace

    trace = load_trace(Path(__file__).resolve().parents[3] / "traces" / "sample-lenet-300-100")
    config = load_accelerator_config("default", {"weight_sram.capacity_bytes": 0})
    result = simulate(trace, config, baseline=False, record_dram_requests=True)
    assert result.settings["simulated_iterations"] > 1
    out = tmp_path / "sim"
    written = save_result_folder(result, out, config=config, export="dramsim3", trace=trace)
    addresses, is_write, cycles = read_dram_trace(written[0], "dramsim3")
    records = result.run("trace")
    assert len(addresses) == records["dram_bursts_count"].sum()
    assert (np.diff(cycles) >= 0).all()
    dram_per_accel = (1000.0 / config.clock_mhz) / config.dram.tck_ns
    assert cycles.max() <= np.ceil(records["total_cycles"].sum() * dram_per_accel)
    # the requests of each distinct simulated iteration, repeated back to back
    log = result.dram_requests["trace"]
    plans = dict(_distinct_iterations(result, trace, "trace"))
    position = expand_streams(log[log["simulated"] == "load"], config.dram.burst_bytes)[0].size
    for label, weight in plans.items():
        one, one_writes, _ = expand_streams(log[log["simulated"] == label],
                                            config.dram.burst_bytes)
        for _ in range(weight):
            np.testing.assert_array_equal(addresses[position:position + one.size], one)
            np.testing.assert_array_equal(is_write[position:position + one.size], one_writes)
            position += one.size
    assert position == len(addresses)
    # "distinct": the stream the DRAM model timed, once
    again = save_result_folder(result, tmp_path / "distinct", config=config, export="dramsim3",
                               trace=trace, export_iterations="distinct")
    assert len(read_dram_trace(again[0], "dramsim3")[0]) == expand_streams(
        log, config.dram.burst_bytes)[0].size


def test_whole_run_export_size_guard_names_the_size(tmp_path, monkeypatch):
    import accelsim.app.simulate as app
    from accelsim.config import load_accelerator_config
    from accelsim.sim.simulation import simulate
    from accelsim.trace.format import load_trace

    trace = load_trace(Path(__file__).resolve().parents[3] / "traces" / "sample-lenet-300-100")
    config = load_accelerator_config("default", {"weight_sram.capacity_bytes": 0})
    result = simulate(trace, config, baseline=False, record_dram_requests=True)
    whole = int(result.run("trace")["dram_bursts_count"].sum())
    monkeypatch.setattr(app, "EXPORT_MAX_BURSTS", whole - 1)
    with pytest.raises(ConfigError, match=rf"issues {whole:,} bursts.*--export-iterations "
                                          r"distinct"):
        app.save_result_folder(result, tmp_path / "a", config=config, export="ramulator2",
                               trace=trace)
    # the distinct stream is smaller and still fits
    written = app.save_result_folder(result, tmp_path / "b", config=config,
                                     export="ramulator2", trace=trace,
                                     export_iterations="distinct")
    assert len(read_dram_trace(written[0], "ramulator2")[0]) < whole






# ---------------------------------------------------------------------------------------------
# closed-page policy: every column command precharges its row (DRAMsim3 CLOSE_PAGE)














# ---------------------------------------------------------------------------------------------
# posted writes: the write buffer carries over between calls (hold_writes, the trace replay)








# ---------------------------------------------------------------------------------------------
# requests that arrive over time: per-request arrival bounds and the replay's queue


def test_sources_are_checked():
    with pytest.raises(ConfigError, match="sources"):
        dram_config_from_dict({"preset": "DDR4-3200", "sources": ["x"]}, "f.yaml")


def test_background_energy():
    import simpy

    port = DramPort(simpy.Environment(), DDR4, 1000.0)  # 1 ns per accelerator cycle
    assert port.background_energy_pj(1000) == pytest.approx(584.5 * 1000)
    hbm = DramPort(simpy.Environment(), dram_preset("HBM2"), 500.0)  # 2 ns, 8 channels
    assert hbm.background_energy_pj(10) == pytest.approx(81.6 * 8 * 20)


def test_the_replay_queues_a_backlog_and_keeps_sparse_requests_apart():
    from accelsim.sim.dram.replay import replay_trace

    rng = np.random.default_rng(4)
    config = DDR4
    random_reads = rng.integers(0, 1 << 28, 2000) // 64 * 64
    # one read every DRAM cycle: far more than the DRAM serves, so they queue; the replay
    # times them together, like the whole trace given at cycle 0 plus the arrival spread
    backlog = replay_trace(config, random_reads, False, np.arange(2000.0))
    at_once = replay_trace(config, random_reads, False, np.zeros(2000))
    assert backlog["finish_cycle"] <= at_once["finish_cycle"] * 1.03
    # one read every 1000 cycles: each is alone; the time is the last arrival plus one access
    sparse = replay_trace(config, random_reads[:50], False, np.arange(50) * 1000.0)
    assert sparse["finish_cycle"] <= 49_000 + TRP + FIRST_READ
    assert sparse["finish_cycle"] >= 49_000 + FIRST_READ


def test_the_replay_offers_requests_in_trace_order_and_refuses_bad_cycles():
    from accelsim.sim.dram.replay import replay_trace

    places = addresses(DDR4, dict(bank_group=0), dict(bank_group=1))
    # the second request is listed after one arriving at 100: it arrives with it
    assert (replay_trace(DDR4, places, False, [100, 5])["finish_cycle"]
            == replay_trace(DDR4, places, False, [100, 100])["finish_cycle"])
    for bad in ([0, np.nan], [-1, 0]):
        with pytest.raises(ValueError, match="arrival_dram_cycle"):
            replay_trace(DDR4, places, False, bad)


def test_the_export_reads_the_standard_and_device_width_from_the_config():
    from accelsim.sim.dram.export import dramsim3_config

    for name, protocol, width in (("DDR4-3200", "DDR4", 8), ("LPDDR4-3200", "LPDDR4", 16),
                                  ("HBM2", "HBM", 128)):
        text = dramsim3_config(dram_preset(name))
        assert f"protocol = {protocol}\n" in text and f"device_width = {width}\n" in text
    # a custom config is not exported as DDR4 by default: it must say what it is
    values = {k: v for k, v in dataclasses.asdict(DDR4).items()
              if k not in ("preset", "sources", "standard", "device_width_bits")}
    custom = dram_config_from_dict({"preset": "custom", **values}, "f.yaml")
    with pytest.raises(ConfigError, match=r"^dram.standard: the DRAMsim3 export needs it"):
        dramsim3_config(custom)
    told = dram_config_from_dict({"preset": "custom", **values, "standard": "LPDDR4",
                                  "device_width_bits": 16}, "f.yaml")
    assert "protocol = LPDDR4\n" in dramsim3_config(told)
    with pytest.raises(ConfigError, match="standard"):
        dram_preset("DDR4-3200", standard="DDR5")
    with pytest.raises(ConfigError, match="device_width_bits"):
        dram_preset("DDR4-3200", device_width_bits=48)

