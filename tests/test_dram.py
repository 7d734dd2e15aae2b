"""Tests of the DRAM config, presets, timing model, closed-form agreement and trace export.

Timeline tests run the DDR4-3200 preset with a 1600 MHz accelerator clock, so one accelerator
cycle is one DRAM clock (tCK 0.625 ns) and the expected cycles are the timing parameters added
by hand: tCL = tRCD = tRP = 22, tRAS = 52 (tRC = 74), BL8 = 4 bus cycles, tCCD_S/L = 4/8,
tRRD_S/L = 4/8, tFAW = 34, tREFI = 12480, tRFC = 560.
"""

import functools
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.config.dram import DRAM_PRESETS, DramConfig, dram_config_from_dict, dram_preset
from accelsim.errors import ConfigError, TraceError
from accelsim.sim.dram.export import TRACE_FORMATS, export_dram_trace, read_dram_trace
from accelsim.sim.dram.model import DramBatch, DramModel
from accelsim.sim.dram.port import DramPort, expand_streams

DDR4 = dram_preset("DDR4-3200")
ONE_TO_ONE_MHZ = 1600.0  # accelerator clock equal to the DDR4-3200 DRAM clock

# DDR4-3200 hand arithmetic
TCL, TRCD, TRP, TRC, BURST = 22, 22, 22, 74, 4
TCCD_L, TRRD_S, TRRD_L, TFAW = 8, 4, 8, 34
TREFI, TRFC = 12480, 560
FIRST_READ = TRCD + TCL + BURST  # 48: read to a closed bank


def _load_closed_form():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "dram_closed_form.py"
    spec = importlib.util.spec_from_file_location("dram_closed_form", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


closed_form = _load_closed_form()


def ddr4_model(**overrides):
    config = dram_preset("DDR4-3200", **overrides) if overrides else DDR4
    return DramModel(config, ONE_TO_ONE_MHZ)


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


def test_bad_accelerator_clock_and_sources():
    with pytest.raises(ConfigError, match=r"^accel_clock_mhz: expected .*, got 0$"):
        DramModel(DDR4, 0)
    with pytest.raises(ConfigError, match="sources"):
        dram_config_from_dict({"preset": "DDR4-3200", "sources": ["x"]}, "f.yaml")


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


def test_single_read_to_closed_bank():
    batch = ddr4_model().access(at(), False, 0)
    assert batch.end_cycle == pytest.approx(TRCD + TCL + BURST)
    assert (batch.row_misses, batch.row_hits, batch.row_conflicts, batch.activates) == (1, 0, 0, 1)
    assert batch.busy_cycles == pytest.approx(batch.end_cycle - batch.start_cycle)


def test_second_read_to_same_row_adds_one_column_gap():
    both = addresses(DDR4, dict(row=0, column=0), dict(row=0, column=1))
    # same bank means same bank group: column commands tCCD_L apart
    assert ddr4_model().access(both, False, 0).end_cycle == pytest.approx(FIRST_READ + TCCD_L)
    # with tCCD_L equal to the burst, the second read adds exactly one burst
    end = ddr4_model(tccd_l_cycles=4).access(both, False, 0).end_cycle
    assert end == pytest.approx(FIRST_READ + BURST)


def test_conflict_in_one_call_waits_for_trc():
    pair = addresses(DDR4, dict(row=0), dict(row=1))
    batch = ddr4_model().access(pair, False, 0)
    # second activate at max(tRC, tRCD + tRP) = 74, then tRCD + tCL + burst
    assert batch.end_cycle == pytest.approx(TRC + TRCD + TCL + BURST)
    assert (batch.row_misses, batch.row_conflicts) == (1, 1)


def test_conflict_hit_and_miss_in_a_later_call():
    model = ddr4_model()
    model.access(at(row=0), False, 0)
    now = 1000
    conflict = model.access(at(row=1), False, now)
    assert conflict.row_conflicts == 1
    assert conflict.busy_cycles == pytest.approx(TRP + TRCD + TCL + BURST)
    hit = model.access(at(row=1, column=3), False, 2000)
    assert hit.row_hits == 1 and hit.busy_cycles == pytest.approx(TCL + BURST)
    miss = model.access(at(bank=2), False, 3000)
    assert miss.row_misses == 1 and miss.busy_cycles == pytest.approx(FIRST_READ)


def test_two_banks_overlap_their_activates_trrd_apart():
    other_group = addresses(DDR4, dict(bank_group=0), dict(bank_group=1))
    end = ddr4_model().access(other_group, False, 0).end_cycle
    assert end == pytest.approx(FIRST_READ + TRRD_S)
    same_group = addresses(DDR4, dict(bank_group=0, bank=0), dict(bank_group=0, bank=1))
    # tRRD_L = 8 moves the second activate; its data then follows tCCD_L after the first
    assert ddr4_model().access(same_group, False, 0).end_cycle == pytest.approx(FIRST_READ + TRRD_L)


def test_fifth_activate_waits_for_tfaw():
    five = addresses(DDR4, *[dict(bank_group=g, bank=b)
                             for b, g in [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]])
    batch = ddr4_model().access(five, False, 0)
    # activates at 0, 4, 8, 12, then 34 (not 16): the fifth ends at 34 + 48
    assert batch.end_cycle == pytest.approx(TFAW + FIRST_READ)
    assert batch.activates == 5


def test_tfaw_window_carries_across_calls():
    model = ddr4_model()
    model.access(addresses(DDR4, *[dict(bank_group=g) for g in range(4)]), False, 0)
    batch = model.access(at(bank_group=0, bank=1), False, 13)
    assert batch.end_cycle == pytest.approx(TFAW + FIRST_READ)


def test_bus_busy_from_earlier_call_delays_next():
    model = ddr4_model()
    first = model.access(addresses(DDR4, *[dict(row=0, column=j) for j in range(10)]), False, 0)
    second = model.access(at(bank_group=1), False, 0)
    # activate at 0, data ready at 48, but the bus is busy until the first batch ends
    assert second.end_cycle == pytest.approx(first.end_cycle + BURST)


def test_accelerator_clock_conversion():
    # 800 MHz accelerator: one accelerator cycle is two DRAM clocks
    batch = DramModel(DDR4, 800.0).access(at(), False, 100)
    assert batch.start_cycle == 100
    assert batch.end_cycle == pytest.approx(100 + FIRST_READ / 2)


def test_refresh_window_inserts_trfc():
    model = ddr4_model()
    now = TREFI - TRFC - 10  # 10 cycles of work left before the refresh window
    batch = model.access(at(), False, now)
    assert batch.end_cycle == pytest.approx(now + FIRST_READ + TRFC)
    assert batch.refreshes == 1
    assert ddr4_model().access(at(), False, 0).refreshes == 0


def test_request_during_refresh_starts_after_it():
    now = TREFI - TRFC + 100  # inside the window
    batch = ddr4_model().access(at(), False, now)
    assert batch.end_cycle == pytest.approx(TREFI + FIRST_READ)


TCWL, TWTR_S, TWTR_L, TWR, TRTP, TRTRS = 16, 4, 12, 24, 12, 1   # DRAMsim3 DDR4_8Gb_x8_3200


def test_write_buffer_lets_a_read_pass_a_write_of_the_same_call():
    # Physics changed with the write buffer: a read arriving with a write goes first; the
    # write follows its data after the read-to-write turnaround BL/2 + tRTRS (was: in issue
    # order, writes timed like reads).
    model = ddr4_model()
    batch = model.access(addresses(DDR4, dict(row=0), dict(row=0, column=1)), [True, False], 0)
    assert batch.end_cycle == pytest.approx(FIRST_READ + BURST + TRTRS)
    assert (batch.bytes_written, batch.bytes_read) == (64, 64)


def test_a_write_alone_uses_the_write_latency():
    batch = ddr4_model().access(addresses(DDR4, dict(row=0)), True, 0)
    assert batch.end_cycle == pytest.approx(TRCD + TCWL + BURST)


@pytest.mark.parametrize("gap, expected_end", [
    # a read queued right behind a write to the same bank group
    (0, TRCD + TCWL + BURST + TWTR_L + TCL + BURST),
])
def test_write_then_read_same_bank_group_waits_twtr_l(gap, expected_end):
    model = ddr4_model()
    model.access(addresses(DDR4, dict(row=0)), True, 0)
    batch = model.access(addresses(DDR4, dict(row=0, column=1)), False, gap)
    assert batch.end_cycle == pytest.approx(expected_end)


def test_write_then_read_read_issued_at_twtr_l_boundary():
    # Write data ends at W = tRCD + tCWL + BL/2. A read arriving late enough that its column
    # command (arrival) is at W + tWTR_L is not delayed; one cycle earlier it is (by one).
    write_end = TRCD + TCWL + BURST
    ends = []
    for arrival in (write_end + TWTR_L - 1, write_end + TWTR_L):
        model = ddr4_model()
        model.access(addresses(DDR4, dict(row=0)), True, 0)
        ends.append(model.access(addresses(DDR4, dict(row=0, column=1)), False, arrival).end_cycle)
    assert ends == [write_end + TWTR_L + TCL + BURST, write_end + TWTR_L + TCL + BURST]
    # other bank group: tWTR_S
    model = ddr4_model()
    model.access(addresses(DDR4, dict(row=0)), True, 0)
    other = model.access(addresses(DDR4, dict(row=0, bank_group=1)), False, 0).end_cycle
    assert other == write_end + TWTR_S + TCL + BURST


@pytest.mark.parametrize("arrival_offset", [-1, 0])
def test_a_read_after_an_activate_at_trcd_minus_one_and_at_trcd(arrival_offset):
    # The row opens at 0; a second read to it arrives at tRCD - 1 or tRCD: both are row hits
    # issued at tRCD + tCCD_L (the column spacing), not before.
    model = ddr4_model()
    model.access(addresses(DDR4, dict(row=0)), False, 0)
    batch = model.access(addresses(DDR4, dict(row=0, column=1)), False, TRCD + arrival_offset)
    assert batch.row_hits == 1
    assert batch.end_cycle == pytest.approx(TRCD + TCCD_L + TCL + BURST)


def test_write_recovery_holds_the_precharge_of_a_written_row():
    # A write, then a read to another row of the same bank: precharge waits for the write
    # data + tWR, then tRP and tRCD; the activate also waits tRC after the first one.
    model = ddr4_model()
    model.access(addresses(DDR4, dict(row=0)), True, 0)
    batch = model.access(addresses(DDR4, dict(row=1)), False, 0)
    precharge = TRCD + TCWL + BURST + TWR
    activate = max(precharge + TRP, TRC)
    assert batch.row_conflicts == 1
    assert batch.end_cycle == pytest.approx(activate + TRCD + TCL + BURST)


def test_copy_traffic_batches_writes_so_rows_stay_open():
    # Reads and writes interleaved burst by burst over two regions that share banks: the
    # write buffer (32 deep) batches writes, so rows are hit within each batch.
    n = 4096
    model = ddr4_model()
    reads = np.arange(n) * 64
    writes = (1 << 28) + np.arange(n) * 64
    both = np.empty(2 * n, np.int64)
    both[0::2], both[1::2] = reads, writes
    batch = model.access(both, np.tile([False, True], n), 0)
    assert batch.row_hit_rate > 0.8


# ---------------------------------------------------------------------------------------------
# row-buffer counts, state, conservation


def test_crafted_sequence_counts():
    seq = addresses(
        DDR4,
        dict(row=5), dict(row=5, column=1),        # miss, hit
        dict(row=6),                                # conflict
        dict(bank_group=1, row=5),                  # miss (other bank)
        dict(row=6, column=2),                      # hit (row 6 still open in bank 0)
        dict(row=5, column=3),                      # conflict
    )
    batch = ddr4_model(queue_depth=1).access(seq, False, 0)           # in issue order
    assert (batch.row_misses, batch.row_hits, batch.row_conflicts) == (2, 2, 2)
    assert batch.activates == 4
    # FR-FCFS (queue 32, issue 11): bank 0 serves rows 5, 5, 5 then 6, 6
    batch = ddr4_model().access(seq, False, 0)
    assert (batch.row_misses, batch.row_hits, batch.row_conflicts) == (2, 3, 1)


def test_open_rows_persist_across_calls_and_reset_closes_them():
    model = ddr4_model()
    model.access(at(bank_group=2, row=9), False, 0)
    assert model.access(at(bank_group=2, row=9, column=4), False, 500).row_hits == 1
    assert model.access(at(bank_group=2, row=3), False, 1000).row_conflicts == 1
    model.reset()
    assert model.access(at(bank_group=2, row=3), False, 0).row_misses == 1


def test_stream_equals_access_of_the_same_bursts():
    a, b = ddr4_model(), ddr4_model()
    start, length = 1000, 64 * 700 + 5  # unaligned: bytes 1000..45804 = bursts 15..715
    streamed = a.stream(start, length, False, 0)
    first, last = start // 64, (start + length - 1) // 64
    accessed = b.access(np.arange(first, last + 1) * 64 + 3, False, 0)  # unaligned on purpose
    assert streamed == accessed
    assert streamed.bursts == 701


def test_empty_calls():
    model = ddr4_model()
    assert model.stream(0, 0, False, 7).busy_cycles == 0
    batch = model.access(np.array([], dtype=np.int64), False, 7)
    assert (batch.bursts, batch.start_cycle, batch.end_cycle) == (0, 7, 7)


def test_bad_access_arguments():
    model = ddr4_model()
    with pytest.raises(ValueError):
        model.access(np.array([-64]), False, 0)
    with pytest.raises(ValueError):
        model.access(np.array([0, 64]), [True], 0)
    with pytest.raises(ValueError):
        model.access(np.array([0.5]), False, 0)


def test_deterministic():
    rng = np.random.default_rng(3)
    seq = rng.integers(0, 1 << 24, 5000) // 64 * 64
    a, b = ddr4_model(), ddr4_model()
    assert a.access(seq, False, 0) == b.access(seq, False, 0)


@settings(max_examples=40, deadline=None)
@given(
    preset=st.sampled_from(DRAM_PRESETS),
    bursts=st.lists(st.integers(0, 1 << 16), min_size=1, max_size=200),
    writes=st.booleans(),
    split=st.integers(0, 200),
)
def test_conservation_and_energy(preset, bursts, writes, split):
    config = dram_preset(preset)
    model = DramModel(config, 1000.0)
    seq = np.array(bursts, dtype=np.int64) * 97  # odd stride: unaligned and scattered
    total = model.access(seq[:split], writes, 0) + model.access(seq[split:], writes, 50)
    n = len(bursts)
    assert total.bursts == n == total.row_hits + total.row_misses + total.row_conflicts
    assert total.activates == total.row_misses + total.row_conflicts
    assert total.bytes_total == n * config.burst_bytes
    assert (total.bytes_written if writes else total.bytes_read) == n * config.burst_bytes
    bits = n * config.burst_bytes * 8
    per_bit = config.write_energy_pj_per_bit if writes else config.read_energy_pj_per_bit
    expected = (total.activates * config.activate_energy_pj + bits * per_bit
                + bits * config.io_energy_pj_per_bit)
    assert total.energy_pj == pytest.approx(expected)
    assert total.end_cycle > total.start_cycle and total.busy_cycles > 0


@settings(max_examples=30, deadline=None)
@given(bursts=st.lists(st.integers(0, 1 << 14), min_size=1, max_size=300))
def test_never_faster_than_peak(bursts):
    model = DramModel(DDR4, 1000.0)
    batch = model.access(np.array(bursts) * 64, False, 0)
    latency_ns = (TRCD + TCL) * DDR4.tck_ns
    min_ns = latency_ns + len(bursts) * DDR4.burst_bytes / DDR4.peak_bandwidth_bytes_per_ns
    assert batch.busy_cycles >= min_ns - 1e-6  # 1000 MHz: one cycle per ns


def test_batch_addition_and_sum():
    a = DramBatch(1, 64, 0, 0, 1, 0, 1, 0, 10.0, 58.0, 48.0, 4200.0, 2764.8, 0.0, 0.0)
    b = DramBatch(2, 64, 64, 1, 0, 1, 1, 1, 100.0, 130.0, 30.0, 4200.0, 2764.8, 2355.2, 0.0)
    total = sum([a, b])
    assert total == a + b
    assert (total.bursts, total.row_hits, total.activates, total.refreshes) == (3, 1, 2, 1)
    assert (total.start_cycle, total.end_cycle, total.busy_cycles) == (10.0, 130.0, 78.0)
    assert total.energy_pj == pytest.approx(a.energy_pj + b.energy_pj)
    assert DramBatch.empty(5) + a == a


def test_background_energy():
    model = DramModel(DDR4, 1000.0)  # 1 ns per accelerator cycle
    assert model.background_energy_pj(1000) == pytest.approx(584.5 * 1000)
    hbm = DramModel(dram_preset("HBM2"), 500.0)  # 2 ns per cycle, 8 channels
    assert hbm.background_energy_pj(10) == pytest.approx(81.6 * 8 * 20)


# ---------------------------------------------------------------------------------------------
# closed forms (benchmarks/dram_closed_form.py derives them; the benchmark runs 2**20 bursts)


@pytest.mark.parametrize("preset", DRAM_PRESETS)
@pytest.mark.parametrize("pattern", ["stream", "stream-column-major", "stream-one-bank"])
def test_streaming_matches_closed_form(preset, pattern):
    result = closed_form.run_pattern(preset, pattern, n_bursts=1 << 16)
    assert abs(result["error_pct"]) < 10.0, result
    assert result["row_hit_rate"] > 0.9


@pytest.mark.parametrize("preset", DRAM_PRESETS)
def test_random_matches_closed_form(preset):
    result = closed_form.run_pattern(preset, "random", n_bursts=1 << 15)
    assert abs(result["error_pct"]) < 15.0, result
    assert result["row_hit_rate"] < 0.01


def test_stream_closed_form_ingredients():
    # DDR4: peak x refresh; the column-major mapping halves it (tCCD_L = 2 bursts)
    stream = closed_form.closed_form_gb_per_s(DDR4, "stream")
    assert stream == pytest.approx(25.6 * (1 - 560 / 12480))
    column_major = closed_form.closed_form_gb_per_s(
        closed_form.pattern_config("DDR4-3200", "stream-column-major"), "stream-column-major")
    assert column_major / stream == pytest.approx(128 * 4 / (127 * 8 + 4))
    # random DDR4: tFAW-bound, one burst per 8.5 cycles
    assert closed_form.closed_form_gb_per_s(DDR4, "random") == pytest.approx(
        64 / (8.5 * 0.625) * (1 - 560 / 12480))


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
    dram_per_accel_cycle = port.model.dram_cycles_per_accel_cycle
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

    code = ("import sys, accelsim.sim.dram.model, accelsim.sim.dram.export; "
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


def reference_end_cycle(config, byte_addresses):
    """Per-burst Python version of DramModel's rules for one call at cycle 0 on a fresh model.

    Written independently of the numpy code: the FR-FCFS order (above), outcomes and episodes
    by walking the bursts, the
    bank-only activate times, then one pass over activates in priority order (every constraint
    points backwards in that order, so a single pass gives the earliest schedule), then the
    data bus burst by burst. Returns the last burst's end, in DRAM cycles.
    """
    c = config
    byte_addresses = reference_first_ready(config, byte_addresses)
    f = c.decode(byte_addresses)
    n = len(byte_addresses)
    channel = f["channel"].tolist()
    rank = (f["channel"] * c.ranks + f["rank"]).tolist()
    group = f["bank_group"].tolist()
    bank = [((r * c.bank_groups + g) * c.banks_per_group + b)
            for r, g, b in zip(rank, group, f["bank"].tolist())]
    row = f["row"].tolist()

    open_row, current, episodes, bank_first_use = {}, {}, [], {}
    for i in range(n):
        b = bank[i]
        bank_first_use.setdefault(b, i)
        if open_row.get(b) == row[i]:
            episodes[current[b]]["bursts"].append(i)
        else:
            current[b] = len(episodes)
            episodes.append({"bank": b, "rank": rank[i], "group": group[i], "issue": i,
                             "bursts": [i]})
            open_row[b] = row[i]
    for e in episodes:
        h = len(e["bursts"])
        # reads only: the precharge waits tRTP after the last column (issue 11)
        e["occupancy"] = max(c.trc_cycles, c.trcd_cycles + (h - 1) * c.tccd_l_cycles
                             + c.trtp_cycles + c.trp_cycles)

    previous_of_bank, bank_only = {}, {}
    for k, e in enumerate(episodes):  # issue order of first bursts keeps each bank's order
        p = previous_of_bank.get(e["bank"])
        bank_only[k] = 0.0 if p is None else bank_only[p] + episodes[p]["occupancy"]
        e["previous"] = p
        previous_of_bank[e["bank"]] = k
    priority = sorted(range(len(episodes)), key=lambda k: (
        episodes[k]["rank"], bank_only[k], bank_first_use[episodes[k]["bank"]],
        episodes[k]["issue"]))

    activate, rank_history = {}, {}
    for k in priority:
        e = episodes[k]
        t = 0.0
        if e["previous"] is not None:
            t = max(t, activate[e["previous"]] + episodes[e["previous"]]["occupancy"])
        history = rank_history.setdefault(e["rank"], [])
        if history:
            last_time, last_group = history[-1]
            rrd = c.trrd_l_cycles if last_group == e["group"] else c.trrd_s_cycles
            t = max(t, last_time + rrd)
        if len(history) >= 4:
            t = max(t, history[-4][0] + c.tfaw_cycles)
        activate[k] = t
        history.append((t, e["group"]))

    ready = [0.0] * n
    for k, e in enumerate(episodes):
        for j, i in enumerate(e["bursts"]):
            ready[i] = (activate[k] + c.trcd_cycles + j * c.tccd_l_cycles + c.tcl_cycles
                        + c.burst_cycles)
    bus = {}
    end = 0.0
    for i in range(n):
        ch = channel[i]
        if ch in bus:
            t_prev, r_prev, g_prev = bus[ch]
            if r_prev == rank[i] and g_prev == group[i]:
                gap = max(c.burst_cycles, c.tccd_l_cycles)
            elif r_prev == rank[i]:
                gap = max(c.burst_cycles, c.tccd_s_cycles)
            else:
                gap = c.burst_cycles
            t = max(ready[i], t_prev + gap)
        else:
            t = ready[i]
        bus[ch] = (t, rank[i], group[i])
        end = max(end, t)
    return end


REFERENCE_CONFIGS = {
    "DDR4": DDR4,
    "DDR4 2 ranks 2 channels": dram_preset("DDR4-3200", ranks=2, channels=2),
    "LPDDR4": dram_preset("LPDDR4-3200"),
    "HBM2": dram_preset("HBM2"),
    "DDR4 row-major mapping": dram_preset("DDR4-3200", address_mapping="RoBaBgRaCoCh"),
}


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(REFERENCE_CONFIGS)),
    places=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 3), st.integers(0, 31)),
                    min_size=1, max_size=60),
    slice_limit=st.sampled_from([0, 512]),  # 0 forces the offset-trick running max
)
def test_schedule_matches_per_burst_reference(name, places, slice_limit):
    import accelsim.sim.dram.model as dram_module

    config = REFERENCE_CONFIGS[name]
    # few rows and columns over many banks: plenty of hits, misses and conflicts
    burst_index = np.array([(row * 64 + column) * 97 + spread for row, column, spread in places])
    byte_addresses = burst_index * config.burst_bytes
    model = DramModel(config, 1000.0 / config.tck_ns)  # one accelerator cycle per DRAM clock
    saved = dram_module._Chain._SLICE_LIMIT
    dram_module._Chain._SLICE_LIMIT = slice_limit
    try:
        batch = model.access(byte_addresses, False, 0)
    finally:
        dram_module._Chain._SLICE_LIMIT = saved
    assert batch.end_cycle == pytest.approx(reference_end_cycle(config, byte_addresses), abs=1e-6)


def test_reference_agrees_on_a_long_random_run():
    rng = np.random.default_rng(11)
    byte_addresses = rng.integers(0, 1 << 22, 3000) // 64 * 64
    batch = DramModel(DDR4, ONE_TO_ONE_MHZ).access(byte_addresses, False, 0)
    expected = reference_end_cycle(DDR4, byte_addresses)  # no refresh in the reference
    assert expected > TREFI  # long enough to cross refresh windows: add them back by hand
    windows = 0
    while (windows + 1) * (TREFI - TRFC) <= expected:
        windows += 1
    # the reference leaves rows open across a refresh; the model closes them (issue 11), so a
    # row hit just after a window pays an activate: here one hit, 10 cycles
    assert expected + windows * TRFC <= batch.end_cycle <= expected + windows * (TRFC + TRCD)
    assert batch.end_cycle == pytest.approx(expected + windows * TRFC + 10, abs=1e-6)
    assert batch.refreshes == windows


@pytest.mark.parametrize("preset", DRAM_PRESETS)
def test_chunked_calls_match_one_call(monkeypatch, preset):
    import accelsim.sim.dram.model as dram_module

    config = dram_preset(preset)
    rng = np.random.default_rng(5)
    random_addresses = rng.integers(0, 1 << 26, 6000) // 64 * 64
    whole_stream = DramModel(config, 1000.0).stream(0, 6000 * 64, False, 0)
    whole_random = DramModel(config, 1000.0).access(random_addresses, False, 0)
    monkeypatch.setattr(dram_module, "_CHUNK_BURSTS", 1000)
    chunked_stream = DramModel(config, 1000.0).stream(0, 6000 * 64, False, 0)
    chunked_random = DramModel(config, 1000.0).access(random_addresses, False, 0)
    # streams: chunk boundaries change nothing (continuations carry the open rows)
    assert chunked_stream == whole_stream
    # random: activates of a later chunk cannot go before an earlier chunk's, so each chunk
    # ends with a tail of its busiest bank (measured: +1 % DDR4, +5 % LPDDR4, +9 % HBM2)
    # FR-FCFS queue windows restart at a chunk boundary, so a few row hits may differ
    assert abs(chunked_random.row_hits - whole_random.row_hits) <= 6
    assert chunked_random.bursts == whole_random.bursts
    assert whole_random.busy_cycles <= chunked_random.busy_cycles * 1.01
    assert chunked_random.busy_cycles == pytest.approx(whole_random.busy_cycles, rel=0.12)


def test_many_banks_and_ranks_take_the_offset_path_and_still_match_the_reference():
    # 64 channels x 4 ranks: 256 ranks (1024 tFAW chains) and 4096 banks, more segments than
    # the per-slice path handles, so the offset-trick running max is exercised
    config = dram_preset("DDR4-3200", channels=64, ranks=4)
    rng = np.random.default_rng(2)
    byte_addresses = rng.integers(0, 1 << 30, 4000) // 64 * 64
    batch = DramModel(config, 1600.0).access(byte_addresses, False, 0)
    assert batch.end_cycle == pytest.approx(reference_end_cycle(config, byte_addresses), abs=1e-3)


# ---------------------------------------------------------------------------------------------
# refresh closes rows (issue 11): the refresh precharges every bank, so the next access to a
# row that was open before it is a miss (activate, no precharge) that waits for the window


def test_a_refresh_between_two_calls_closes_the_open_row():
    model = ddr4_model()
    model.access(at(row=0), False, 0)
    same_row_before = model.access(at(row=0, column=1), False, 1000)
    assert same_row_before.row_hits == 1                   # no refresh yet: hit, tCL + BL/2
    assert same_row_before.busy_cycles == pytest.approx(TCL + BURST)
    now = TREFI + 100                                      # the first window (ending TREFI) is past
    after = model.access(at(row=0, column=2), False, now)
    assert (after.row_hits, after.row_misses, after.row_conflicts) == (0, 1, 0)
    assert after.busy_cycles == pytest.approx(TRCD + TCL + BURST)   # closed: no tRP


def test_a_refresh_inside_a_stream_closes_its_row_and_the_next_burst_activates_after_it():
    # 16 reads of one row, column commands tCCD_L apart from tRCD, starting 100 work cycles
    # before the first refresh window: burst 10's column command would be at work time W + 2
    # (W = tREFI - tRFC), after the refresh, so it activates again at the window's end (real
    # time tREFI) and the last burst (j = 15) issues at tREFI + tRCD + 5 tCCD_L.
    now = TREFI - TRFC - 100
    places = [dict(row=0, column=j) for j in range(16)]
    batch = ddr4_model().access(addresses(DDR4, *places), False, now)
    assert (batch.row_hits, batch.row_misses, batch.row_conflicts) == (14, 2, 0)
    assert batch.end_cycle == pytest.approx(TREFI + TRCD + 5 * TCCD_L + TCL + BURST)
    # without the refresh closing the row it would be a hit 20 cycles earlier
    assert batch.end_cycle - (TREFI + 2 + 5 * TCCD_L + TCL + BURST) == pytest.approx(TRCD - 2)


# ---------------------------------------------------------------------------------------------
# FR-FCFS within the request queue (issue 11)


def _open_row_zero_then(later, **overrides):
    model = ddr4_model(**overrides)
    model.access(at(row=0), False, 0)                 # row 0 of bank 0 open, activated at 0
    return model.access(addresses(DDR4, *later), False, 1000)


def test_fr_fcfs_serves_a_later_row_hit_before_an_earlier_conflict():
    # Queue: [row 1 (conflict), row 0 column 1 (hit)], same bank. The hit goes first: column at
    # 1000, data at 1000 + tCL + BL/2. Then row 1: precharge tRTP after that column, tRP,
    # activate, tRCD, tCL, BL/2.
    batch = _open_row_zero_then([dict(row=1), dict(row=0, column=1)])
    assert (batch.row_hits, batch.row_conflicts) == (1, 1)
    activate = 1000 + TRTP + TRP
    assert batch.end_cycle == pytest.approx(activate + TRCD + TCL + BURST)


def test_fr_fcfs_cannot_reach_a_hit_beyond_the_queue():
    # With a queue of one request the hit is not in the queue yet: in order, row 1 then row 0
    # again, two conflicts; row 0 reopens after tRC from row 1's activate.
    batch = _open_row_zero_then([dict(row=1), dict(row=0, column=1)], queue_depth=1)
    assert (batch.row_hits, batch.row_conflicts) == (0, 2)
    first_activate = 1000 + TRP                       # row 0's precharge: tRTP long past
    second_activate = first_activate + TRC
    assert batch.end_cycle == pytest.approx(second_activate + TRCD + TCL + BURST)


def test_fr_fcfs_groups_rows_oldest_first_within_the_queue():
    # bank closed; queue [row 5, row 6, row 5, row 6]: rows 5, 5 then 6, 6 (2 activates)
    seq = addresses(DDR4, dict(row=5), dict(row=6), dict(row=5, column=1), dict(row=6, column=1))
    batch = ddr4_model().access(seq, False, 0)
    assert (batch.row_misses, batch.row_conflicts, batch.row_hits) == (1, 1, 2)
    in_order = ddr4_model(queue_depth=1).access(seq, False, 0)
    assert (in_order.row_misses, in_order.row_conflicts, in_order.row_hits) == (1, 3, 0)


def test_whole_run_export_repeats_each_simulated_iteration_by_its_weight(tmp_path):
    """The default export covers the whole run: the load, then every iteration (the DropBack
    sample has several distinct simulated iterations, each standing for several)."""
    from accelsim.app.simulate import _distinct_iterations, save_result_folder
    from accelsim.config import load_accelerator_config
    from accelsim.sim.simulation import simulate
    from accelsim.trace.format import load_trace

    trace = load_trace(Path(__file__).resolve().parents[1] / "traces" / "sample-lenet-300-100")
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

    trace = load_trace(Path(__file__).resolve().parents[1] / "traces" / "sample-lenet-300-100")
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


def test_reads_wait_while_a_write_drain_switches_their_bank():
    # Write buffer of 1: the write drains at once, ahead of the read that arrived after it,
    # and the read (another row of the same bank) is timed after the drain: its precharge waits
    # for the write's data on the bus plus write recovery, then tRP and tRCD (issue 11).
    model = ddr4_model(write_buffer_depth=1)
    pair = addresses(DDR4, dict(row=1), dict(row=0))
    batch = model.access(pair, [True, False], 0)
    write_end = TRCD + TCWL + BURST                      # 42: the write's data leaves the bus
    activate = max(write_end + TWR + TRP, TRC)           # 88: precharge at 66, activate at 88
    assert (batch.row_misses, batch.row_conflicts) == (1, 1)
    assert batch.end_cycle == pytest.approx(activate + TRCD + TCL + BURST)


def test_reads_held_during_a_drain_wait_for_the_writes_on_the_bus():
    # Arrival: 4 reads to bank group 1 (row 0), 4 writes to bank group 0 (row 1), one read to
    # bank group 0 row 0. Write buffer 4: the drain is the writes as one batch after the first
    # reads, and the last read is held until the drain is done. Reads: activate 0, data ends
    # 48, 56, 64, 72. Writes: activate tRRD_S = 4, but the bus takes them after the reads
    # (+ BL/2 + tRTRS) tCCD_L apart: data ends 77, 85, 93, 101, so the last write's column
    # command is at 101 - tCWL - BL/2 = 81 (the bank alone would allow 4 + tRCD + 3 tCCD_L =
    # 50). The held read's precharge waits for that command + tCWL + BL/2 + tWR: 125; activate
    # 147; data 147 + tRCD + tCL + BL/2 = 195. (Before issue 11's drain phases: 164.)
    places = ([dict(bank_group=1, column=k) for k in range(4)]
              + [dict(bank_group=0, row=1, column=k) for k in range(4)] + [dict(bank_group=0)])
    model = ddr4_model(write_buffer_depth=4)
    batch = model.access(addresses(DDR4, *places), [False] * 4 + [True] * 4 + [False], 0)
    last_read_end = TRCD + TCL + BURST + 3 * TCCD_L                          # 72
    last_write_column = last_read_end + BURST + TRTRS + 3 * TCCD_L - TCWL - BURST  # 81
    activate = last_write_column + TCWL + BURST + TWR + TRP
    assert batch.end_cycle == pytest.approx(activate + TRCD + TCL + BURST)
    assert (batch.row_misses, batch.row_conflicts, batch.row_hits) == (2, 1, 6)


# ---------------------------------------------------------------------------------------------
# closed-page policy: every column command precharges its row (DRAMsim3 CLOSE_PAGE)


def test_closed_page_second_read_to_the_same_row_pays_trcd_again():
    both = addresses(DDR4, dict(row=0, column=0), dict(row=0, column=1))
    batch = ddr4_model(page_policy="closed").access(both, False, 0)
    # read auto-precharge at tRCD + tRTP = 34, so the next activate waits for tRC (74) > 56
    second_activate = max(TRC, TRCD + TRTP + TRP)
    assert batch.end_cycle == pytest.approx(second_activate + TRCD + TCL + BURST)
    assert (batch.row_hits, batch.row_misses, batch.row_conflicts, batch.activates) == (0, 2, 0, 2)
    # open page: the same pair is one activate and a hit tCCD_L later
    opened = ddr4_model().access(both, False, 0)
    assert (opened.row_hits, opened.end_cycle) == (1, FIRST_READ + TCCD_L)


@pytest.mark.parametrize("arrival_offset", [-1, 0])
def test_closed_page_read_after_a_write_waits_for_the_write_recovery_precharge(arrival_offset):
    # Write at 0: column tRCD, auto-precharge at tRCD + tCWL + BL/2 + tWR = 66, bank ready for
    # an activate tRP later (88). A read to the same row arriving at 87 waits to 88; at 88 it
    # activates at once. Either way it pays tRCD: no row stays open.
    model = ddr4_model(page_policy="closed")
    model.access(at(row=0), True, 0)
    ready = TRCD + TCWL + BURST + TWR + TRP
    batch = model.access(at(row=0, column=1), False, ready + arrival_offset)
    assert (batch.row_hits, batch.row_misses) == (0, 1)
    assert batch.end_cycle == pytest.approx(ready + TRCD + TCL + BURST)


def test_closed_page_streams_are_bounded_by_activates_not_the_bus():
    # A long sequential read with every burst its own activate: four activates per tFAW, so
    # at least tFAW / 4 cycles per burst instead of the bus's BL/2 (and no row hits).
    n = 4096
    closed = ddr4_model(page_policy="closed").stream(0, n * 64, False, 0)
    opened = ddr4_model().stream(0, n * 64, False, 0)
    assert closed.row_hits == 0 and closed.activates == n
    assert closed.busy_cycles >= n * TFAW / 4
    assert opened.busy_cycles < closed.busy_cycles


@pytest.mark.parametrize("queue_depth, command_queue_depth, expected_end", [
    # Bank A (group 0) gets two reads, then bank B (group 1) two. With one-deep command
    # queues A's second read stays in the transaction queue until A's first column command
    # (tRCD = 22); with a transaction queue of one it blocks B's first read until then, so B
    # activates at 22 and again a tRC later: 22 + 74 + tRCD + tCL + BL/2 = 144.
    (1, 1, TRCD + TRC + FIRST_READ),
    # a two-deep command queue takes A's second read at once: B activates at tRRD_S (4) and
    # again at 78; the end is B's second read, 78 + 48 = 126
    (1, 2, TRRD_S + TRC + FIRST_READ),
    # a transaction queue of 32 holds B's reads past A's stuck one: the same 126
    (32, 1, TRRD_S + TRC + FIRST_READ),
])
def test_closed_page_banks_prepare_only_for_requests_in_their_command_queues(
        queue_depth, command_queue_depth, expected_end):
    places = [dict(row=0, column=0), dict(row=0, column=1),
              dict(bank_group=1), dict(bank_group=1, column=1)]
    model = ddr4_model(page_policy="closed", queue_depth=queue_depth,
                       command_queue_depth=command_queue_depth)
    batch = model.access(addresses(DDR4, *places), False, 0)
    assert batch.end_cycle == pytest.approx(expected_end)
    assert (batch.row_hits, batch.activates) == (0, 4)


def test_closed_page_activates_keep_trrd_and_tfaw_on_both_sides():
    # 16 banks, one read each, all at once: activates tRRD_S apart (alternating bank groups)
    # and at most four in any tFAW, so the fifth waits for the first + tFAW.
    places = [dict(bank_group=i % 4, bank=i // 4) for i in range(16)]
    model = ddr4_model(page_policy="closed")
    model.access(addresses(DDR4, *places), False, 0)
    times = np.sort(model._rank_recent_activate[0])
    assert np.all(np.diff(times) >= TRRD_S)
    # 16 activates: the last four of them end the schedule, the 13th at 3 * tFAW
    assert times[0] == pytest.approx(3 * TFAW)


def test_closed_page_a_later_call_activates_between_an_earlier_calls():
    # Call 1 at 0: two reads to bank A (activates at 0 and tRC = 74). Call 2 at 1: one read to
    # bank group 1, which activates tRRD_S after A's first (4), before A's second, and ends
    # 4 + tRCD + tCL + BL/2 = 52, long before call 1 (74 + 48 = 122).
    model = ddr4_model(page_policy="closed")
    first = model.access(addresses(DDR4, dict(row=0, column=0), dict(row=0, column=1)), False, 0)
    second = model.access(at(bank_group=1), False, 1)
    assert first.end_cycle == pytest.approx(TRC + FIRST_READ)
    assert second.end_cycle == pytest.approx(TRRD_S + FIRST_READ)


# ---------------------------------------------------------------------------------------------
# posted writes: the write buffer carries over between calls (hold_writes, the trace replay)


def test_held_writes_wait_across_calls_until_the_buffer_fills():
    # Write buffer of 4. Call 1 (cycle 0): two writes to bank group 0 row 1 -- not enough to
    # fill the buffer, so nothing is timed and they stay buffered. Call 2 (cycle 100): a read
    # to bank group 1 is not held by them: activate 100, data 100 + tRCD + tCL + BL/2. Call 3
    # (cycle 300): two more writes fill the buffer and the four drain as one batch: one
    # activate at 300 (the bank was never opened), columns tCCD_L apart, the last one's data
    # ends at 300 + tRCD + 3 tCCD_L + tCWL + BL/2.
    model = DramModel(dram_preset("DDR4-3200", write_buffer_depth=4), ONE_TO_ONE_MHZ,
                      hold_writes=True)
    first = model.access(addresses(DDR4, dict(row=1, column=0), dict(row=1, column=1)), True, 0)
    assert (first.bursts, first.end_cycle, model.held_writes) == (0, 0.0, 2)
    read = model.access(at(bank_group=1), False, 100)
    assert read.bursts == 1 and read.end_cycle == pytest.approx(100 + FIRST_READ)
    assert model.held_writes == 2
    drained = model.access(addresses(DDR4, dict(row=1, column=2), dict(row=1, column=3)),
                           True, 300)
    assert model.held_writes == 0
    assert (drained.bursts, drained.bytes_written, drained.row_misses, drained.row_hits) == (
        4, 4 * DDR4.burst_bytes, 1, 3)
    assert drained.end_cycle == pytest.approx(300 + TRCD + 3 * TCCD_L + TCWL + BURST)


def test_flush_times_the_held_writes_and_the_replay_counts_every_write():
    from accelsim.sim.dram.replay import replay_trace

    config = dram_preset("DDR4-3200", write_buffer_depth=4)
    model = DramModel(config, ONE_TO_ONE_MHZ, hold_writes=True)
    model.access(addresses(DDR4, dict(row=1, column=0), dict(row=1, column=1)), True, 0)
    flushed = model.flush(500)
    assert (flushed.bursts, model.held_writes) == (2, 0)
    assert flushed.end_cycle == pytest.approx(500 + TRCD + TCCD_L + TCWL + BURST)
    assert model.flush(600).bursts == 0
    # without hold_writes a call drains its own writes at its end
    plain = DramModel(config, ONE_TO_ONE_MHZ)
    alone = plain.access(addresses(DDR4, dict(row=1, column=0), dict(row=1, column=1)), True, 0)
    assert alone.end_cycle == pytest.approx(TRCD + TCCD_L + TCWL + BURST)
    # the replay flushes after its last arrival group: all 7 writes are counted and timed
    places = [dict(row=1, column=k) for k in range(7)] + [dict(bank_group=1)]
    result = replay_trace(config, addresses(config, *places), [True] * 7 + [False],
                          [0, 0, 0, 10, 10, 20, 20, 30], engine="burst")
    assert result["bursts"] == 8
    assert result["write_energy_pj"] == pytest.approx(
        7 * config.burst_bytes * 8 * config.write_energy_pj_per_bit)
    # the last three writes drain at the flush (cycle 30), after the read issued at 30
    assert result["finish_cycle"] > 30 + FIRST_READ


@pytest.mark.parametrize("held, drained", [(8, False), (9, True)])
def test_an_idle_channel_drains_more_than_eight_held_writes(held, drained):
    # Buffer of 32: the writes of call 1 (cycle 0) stay held. When call 2 (a read at cycle
    # 1000) arrives the bus has been idle since: with 9 held (more than DRAMsim3's 8) they drain
    # from cycle 0, before the read -- one activate, columns tCCD_L apart, the last one's data at
    # tRCD + 8 tCCD_L + tCWL + BL/2; with 8 they stay held.
    model = DramModel(dram_preset("DDR4-3200", write_buffer_depth=32), ONE_TO_ONE_MHZ,
                      hold_writes=True)
    model.access(addresses(DDR4, *[dict(row=1, column=k) for k in range(held)]), True, 0)
    batch = model.access(at(bank_group=1), False, 1000)
    assert model.held_writes == (0 if drained else held)
    assert batch.bursts == 1 + (held if drained else 0)
    assert batch.end_cycle == pytest.approx(1000 + FIRST_READ)
    if drained:
        assert batch.start_cycle == 0.0
        assert model._bank_column[0] == pytest.approx(TRCD + 8 * TCCD_L)


# ---------------------------------------------------------------------------------------------
# requests that arrive over time: per-request arrival bounds and the replay's queue


def test_a_request_never_starts_before_it_arrives():
    # One call, two reads to different bank groups, the second arriving at cycle 100: its
    # activate waits for it (100 + tRCD + tCL + BL/2), the first is untouched (tRCD + tCL +
    # BL/2). A row hit arriving late waits too: its column command at its arrival.
    model = ddr4_model()
    batch = model.access(addresses(DDR4, dict(bank_group=0), dict(bank_group=1)), False, 0,
                         arrival_cycles=[0, 100])
    assert batch.end_cycle == pytest.approx(100 + FIRST_READ)
    assert model._bank_column[0] == pytest.approx(TRCD)
    hit = ddr4_model().access(addresses(DDR4, dict(column=0), dict(column=1)), False, 0,
                              arrival_cycles=[0, 200])
    assert (hit.row_hits, hit.end_cycle) == (1, pytest.approx(200 + TCL + BURST))
    # all arriving at the call's cycle is the call without arrivals, bit for bit
    places = addresses(DDR4, *[dict(bank_group=k % 4, row=k, column=k) for k in range(40)])
    assert (ddr4_model().access(places, False, 7, arrival_cycles=np.full(40, 7.0))
            == ddr4_model().access(places, False, 7))


@pytest.mark.parametrize("arrival, problem", [([0.0], "shape"), ([0.0, -1.0], ">= now_cycle"),
                                              ([0.0, np.nan], "finite")])
def test_bad_arrival_cycles_are_refused(arrival, problem):
    with pytest.raises(ValueError, match=problem):
        ddr4_model().access(addresses(DDR4, dict(column=0), dict(column=1)), False, 0,
                            arrival_cycles=arrival)


def test_first_ready_goes_only_among_requests_queued_together():
    # Bank 0: row 1 (cycle 0), row 2 (cycle 1), row 1 again. Arriving at cycle 2, the third is
    # queued while the second waits for row 1 to close, so FR-FCFS serves it first: a hit.
    # Arriving at cycle 300, after the second was served (row 2 open), it is a conflict.
    places = addresses(DDR4, dict(row=1, column=0), dict(row=2), dict(row=1, column=1))
    early = ddr4_model().access(places, False, 0, arrival_cycles=[0, 1, 2])
    late = ddr4_model().access(places, False, 0, arrival_cycles=[0, 1, 300])
    assert (early.row_hits, early.row_conflicts) == (1, 1)
    assert (late.row_hits, late.row_conflicts) == (0, 2)
    # conflict: precharge at tRAS after the first activate, then each row switch tRC apart
    assert late.end_cycle == pytest.approx(300 + TRP + TRCD + TCL + BURST)


def test_snapshot_and_restore_give_back_the_state():
    model = DramModel(DDR4, ONE_TO_ONE_MHZ, track_last_start=True)
    rng = np.random.default_rng(3)
    first = rng.integers(0, 1 << 26, 300) // 64 * 64
    second = rng.integers(0, 1 << 26, 300) // 64 * 64
    model.access(first, False, 0)
    state = model.snapshot()
    once = model.access(second, True, 500)
    model.access(first, False, 9000)                      # changes every kind of state
    model.restore(state)
    assert model.access(second, True, 500) == once
    assert model.last_start_cycle <= once.end_cycle


@pytest.mark.parametrize("engine", ["burst", "command"])
def test_the_replay_queues_a_backlog_and_keeps_sparse_requests_apart(engine):
    from accelsim.sim.dram.replay import replay_trace

    replay_trace = functools.partial(replay_trace, engine=engine)
    rng = np.random.default_rng(4)
    config = DDR4
    random_reads = rng.integers(0, 1 << 28, 2000) // 64 * 64
    # one read every DRAM cycle: far more than the DRAM serves, so they queue; the replay
    # times them together, like the whole trace given at cycle 0 plus the arrival spread,
    # not one after another (which was 2.1x DRAMsim3 on this pattern)
    backlog = replay_trace(config, random_reads, False, np.arange(2000.0))
    at_once = replay_trace(config, random_reads, False, np.zeros(2000))
    assert backlog["finish_cycle"] <= at_once["finish_cycle"] * 1.03
    # one read every 1000 cycles: each is alone; the time is the last arrival plus one access
    sparse = replay_trace(config, random_reads[:50], False, np.arange(50) * 1000.0)
    assert sparse["finish_cycle"] <= 49_000 + TRP + FIRST_READ
    assert sparse["finish_cycle"] >= 49_000 + FIRST_READ


@pytest.mark.parametrize("engine", ["burst", "command"])
def test_the_replay_offers_requests_in_trace_order_and_refuses_bad_cycles(engine):
    from accelsim.sim.dram.replay import replay_trace

    replay_trace = functools.partial(replay_trace, engine=engine)
    places = addresses(DDR4, dict(bank_group=0), dict(bank_group=1))
    # the second request is listed after one arriving at 100: it arrives with it
    assert (replay_trace(DDR4, places, False, [100, 5])["finish_cycle"]
            == replay_trace(DDR4, places, False, [100, 100])["finish_cycle"])
    for bad in ([0, np.nan], [-1, 0]):
        with pytest.raises(ValueError, match="arrival_dram_cycle"):
            replay_trace(DDR4, places, False, bad)


def test_last_start_is_when_the_latest_request_got_its_first_command():
    # two reads to bank 0, rows 1 and 2, at cycle 0: the second's first command is the
    # precharge of row 1 at tRAS (52), its activate at tRC (74)
    model = DramModel(DDR4, ONE_TO_ONE_MHZ, track_last_start=True)
    model.access(addresses(DDR4, dict(row=1), dict(row=2)), False, 0)
    assert model.last_start_cycle == pytest.approx(TRC - TRP)
    assert np.isnan(ddr4_model().last_start_cycle)          # not tracked unless asked
