"""Timeline tests of each hardware part on its own, in the style of SimPy's tests: a known
sequence of requests gives a known sequence of completion cycles."""

import math

import numpy as np
import pytest
import simpy

from accelsim.config import PrngConfig, SramConfig, UpdateConfig
from accelsim.config.dram import dram_preset
from accelsim.sim.dram.controller import CommandController
from accelsim.sim.dram.port import DramPort
from accelsim.sim.mapping.tiles import update_cycles
from accelsim.sim.parts.compute import ComputeUnit
from accelsim.sim.parts.prng_unit import PrngUnit, regeneration_cycles
from accelsim.sim.parts.sram import SramBanks, address_bank_loads, stream_bank_loads


def _finish_times(env, events):
    env.run()
    return [e.value[0] for e in events]


def sram(banks=4, latency=1):
    return SramConfig(capacity_bytes=1024, banks=banks, bank_width_bits=64, latency_cycles=latency,
                      read_energy_pj=1.0, write_energy_pj=1.0, leakage_power_mw=0.0)


def test_prng_unit_timeline():
    env = simpy.Environment()
    cfg = PrngConfig(lanes=4, values_per_cycle=1, latency_cycles=3, energy_pj_per_value=1.0)
    unit = PrngUnit(env, cfg)
    events = [unit.submit(8), unit.submit(1), unit.submit(0), unit.submit(9)]
    # 3 + 8/4 = 5; then 3 + 1 = 4 more; nothing; then 3 + ceil(9/4) = 6 more
    assert _finish_times(env, events) == [5, 9, 9, 15]
    assert unit.values == 18 and unit.busy_cycles == 15
    assert regeneration_cycles(cfg, 0) == 0


def test_prng_unit_requests_arriving_later():
    env = simpy.Environment()
    unit = PrngUnit(env, PrngConfig(lanes=2, values_per_cycle=2, latency_cycles=0,
                                    energy_pj_per_value=1.0))
    done = []

    def source():
        yield env.timeout(10)
        done.append((yield unit.submit(8))[0])  # 8 / 4 per cycle = 2 cycles
        yield env.timeout(5)
        done.append((yield unit.submit(4))[0])

    env.process(source())
    env.run()
    assert done == [12, 18]


def test_sram_bank_conflicts():
    assert stream_bank_loads([(0, 8)], 4).tolist() == [2, 2, 2, 2]
    assert stream_bank_loads([(1, 3)], 4).tolist() == [0, 1, 1, 1]
    assert stream_bank_loads([(3, 2)], 4).tolist() == [1, 0, 0, 1]
    assert stream_bank_loads([(0, 1), (4, 1)], 4).tolist() == [2, 0, 0, 0]
    assert address_bank_loads(np.array([0, 4, 8, 1]), 4).tolist() == [3, 1, 0, 0]

    env = simpy.Environment()
    banks = SramBanks(env, sram(banks=4, latency=1))
    events = [
        banks.submit([(0, 8)]),             # 2 per bank: 2 + 1
        banks.submit([(0, 1), (4, 1)]),     # both in bank 0: a conflict, 2 + 1
        banks.submit([(0, 1), (1, 1)]),     # two banks in parallel: 1 + 1
        banks.submit(np.array([0, 4, 8])),  # three accesses to bank 0: 3 + 1
        banks.submit([(0, 0)]),             # nothing to do
    ]
    assert _finish_times(env, events) == [3, 6, 8, 12, 12]
    assert banks.accesses == 8 + 2 + 2 + 3


def test_pe_array_serves_in_order():
    env = simpy.Environment()
    array = ComputeUnit(env, "pe_array")
    done = []

    def late():
        yield env.timeout(3)
        done.append((yield array.submit(5))[0])

    first = array.submit(10)
    env.process(late())
    env.run()
    assert first.value[0] == 10 and done == [15]
    assert array.busy_cycles == 15


def test_update_unit_cycles():
    cfg = UpdateConfig(alu_lanes=4, alu_energy_pj_per_weight=1.0, topk_cycles_per_weight=0.25,
                       topk_energy_pj_per_weight=1.0, score_regenerates_w0=True)
    assert update_cycles(cfg, 8, 0) == 2
    assert update_cycles(cfg, 8, 8) == 4
    assert update_cycles(cfg, 0, 0) == 0
    env = simpy.Environment()
    unit = ComputeUnit(env, "update_unit")
    assert _finish_times(env, [unit.submit(4), unit.submit(6)]) == [4, 10]


def test_dram_port_exact_matches_the_controller():
    # Physics changed (issue 11): the controller takes the next request once all but its last
    # queue-full of bursts are issued, so the second request starts queue_tail cycles before
    # the first one's data is back, not after it.
    dram = dram_preset("DDR4-3200")
    ctl = CommandController(dram)
    per_accel = 1.0 / dram.tck_ns  # DRAM clocks per accelerator clock at 1000 MHz
    tail = (dram.queue_depth * dram.burst_cycles + dram.tcl_cycles) / per_accel
    first = ctl.access(np.arange(512) * 64, False, 0, per_accel)
    second = ctl.access(32768 + np.arange(64) * 64, True, math.ceil(first.end_cycle - tail),
                        per_accel)

    env = simpy.Environment()
    # one request at a time (several outstanding: tests/sim/dram/test_dram_port.py)
    port = DramPort(env, dram_preset("DDR4-3200", outstanding_requests=1), 1000.0,
                    timing="exact")
    events = [port.submit([(0, 32768, False)]), port.submit([(32768, 4096, True)])]
    finish = _finish_times(env, events)
    assert finish[0] == math.ceil(first.end_cycle)
    assert finish[1] == math.ceil(second.end_cycle)
    assert finish[1] < math.ceil(first.end_cycle) + math.ceil(second.end_cycle - second.start_cycle)
    assert port.totals["bursts"] == 512 + 64
    assert port.totals["row_hits"] == first.row_hits + second.row_hits


def test_dram_port_cached_reuses_and_overlaps_requests():
    dram = dram_preset("DDR4-3200")
    env = simpy.Environment()
    port = DramPort(env, dram, 1000.0, timing="cached")
    events = [port.submit([(0, 32768, False)]), port.submit([(32768, 32768, False)]),
              port.submit([])]
    t = _finish_times(env, events)
    # Physics changed (issue 11): the second request starts while the first one's last
    # queue-full of bursts is in flight, so it ends before 2 x t[0].
    assert 0 < t[0] < t[1] < 2 * t[0]
    # 32 KB at 25.6 B/ns peak is 1280 ns: within the latency of one request and refresh
    assert 1280 <= t[0] <= 1280 * 1.12
    # one timing for the first stream, one for the second, which continues it (rows open);
    # beside them the cache keeps the rows each stream touched
    assert len(port._cache) - 1 == 2 and len(port._cache["rows touched"]) == 2
    assert port.totals["bursts"] == 1024


def test_dram_port_long_streams_are_sampled():
    dram = dram_preset("DDR4-3200")
    env = simpy.Environment()
    port = DramPort(env, dram, 1000.0, timing="cached", sample_bursts=256)
    done = port.submit([(0, 64 * 4096, False)])
    env.run()
    peak_cycles = 64 * 4096 / 25.6
    assert peak_cycles <= done.value[0] <= peak_cycles * 1.12
    assert port.totals["bursts"] == 4096


@pytest.mark.parametrize("timing", ["cached", "exact"])
def test_dram_port_records_streams(timing):
    env = simpy.Environment()
    port = DramPort(env, dram_preset("HBM2"), 1000.0, timing=timing, record_requests=True)
    port.submit([(0, 1000, False), (1 << 20, 0, False), (2 << 20, 64, True)])
    env.run()
    assert port.log == [(0, 1000, False, 0), (2 << 20, 64, True, 0)]


# ------------------------------------------------------------------ the tile pipeline of a phase

def _prng_tiles(values, cycles):
    from accelsim.sim.mapping.tiles import PhaseTiles, Traffic

    n = len(values)
    return PhaseTiles(layer_id=0, phase="forward", on_update_unit=False,
                      compute_cycles=list(cycles), prng_values=list(values),
                      read=Traffic.of(n), write=Traffic.of(n), work_counts={})


def _machine(depth):
    from accelsim.config import load_accelerator_config
    from accelsim.sim.machine import Accelerator
    from accelsim.sim.mapping.layer import layer_work
    from accelsim.trace.geometry import linear_layer

    cfg = load_accelerator_config("default", {"prng.lanes": 4, "prng.latency_cycles": 0,
                                              "buffer_depth_tiles": depth})
    work = layer_work(linear_layer(0, "fc", 8, 8), cfg, 1, "inference")
    return Accelerator(cfg, [work])


@pytest.mark.parametrize("depth, values, cycles, total", [
    # fetch-bound: 400 values = 100 cycles per tile, compute 50: fetches back to back
    (2, [400] * 3, [50] * 3, 350),
    # one buffer: fetch and compute of a tile never overlap
    (1, [400] * 3, [50] * 3, 450),
    # compute-bound: 10-cycle fetches hide behind 100-cycle computes
    (2, [40] * 3, [100] * 3, 310),
    (1, [40] * 3, [100] * 3, 330),
])
def test_phase_pipeline_timeline(depth, values, cycles, total):
    machine = _machine(depth)
    (timing,) = machine.run([_prng_tiles(values, cycles)])
    assert timing["total_cycles"] == total
    assert machine.pe_array.busy_cycles == sum(cycles)


def test_phases_run_one_after_the_other():
    machine = _machine(2)
    timings = machine.run([_prng_tiles([400] * 3, [50] * 3), _prng_tiles([40] * 3, [100] * 3)])
    assert [t["total_cycles"] for t in timings] == [350, 310]
    assert machine.env.now == 660


def test_recorded_streams_expand_to_bursts():
    from accelsim.sim.dram.port import expand_streams

    addresses, writes, cycles = expand_streams([(0, 100, False, 5), (256, 64, True, 9),
                                                (1000, 0, False, 9)], 64)
    assert addresses.tolist() == [0, 64, 256]
    assert writes.tolist() == [False, False, True] and cycles.tolist() == [5, 5, 9]


def test_busiest_bank_shortcut_matches_numpy():
    from accelsim.sim.parts.sram import _busiest_bank_of_two

    rng = np.random.default_rng(1)
    for _ in range(500):
        banks = int(rng.integers(1, 9))
        streams = [(int(rng.integers(0, 50)), int(rng.integers(0, 20))) for _ in range(2)]
        loads = stream_bank_loads(streams, banks)
        assert _busiest_bank_of_two(streams, banks) == (int(loads.sum()), int(loads.max()))
        assert _busiest_bank_of_two(streams[:1], banks) == (
            int(stream_bank_loads(streams[:1], banks).sum()),
            int(stream_bank_loads(streams[:1], banks).max()))


def test_a_missing_count_is_an_error():
    from accelsim.sim.results import COUNT_COLUMNS

    tiles = _prng_tiles([4, 4], [10, 10])
    with pytest.raises(TypeError, match="missing"):
        tiles.counts(total_cycles=30)  # neither the work's counts nor the DRAM model's
    columns = list(COUNT_COLUMNS)
    assert columns[:4] == ["iterations_count", "total_cycles", "compute_cycles", "stall_cycles"]
    assert len(set(columns)) == len(columns)


def test_traffic_names_its_kinds():
    from accelsim.sim.mapping.tiles import Traffic

    moved = Traffic.of(2, weight_dram_bytes=np.array([3, 5]))
    assert moved.weight_dram_bytes == [3, 5] and moved.activation_sram_words == [0, 0]
    with pytest.raises(TypeError):
        Traffic.of(2, weight_bytes=[1, 1])  # not a kind of traffic


def test_package_exports_the_functions_not_modules():
    import accelsim
    import accelsim.sim
    import accelsim.sim.plan
    import accelsim.sim.simulation

    assert callable(accelsim.sim.simulate) and accelsim.sim.simulate is accelsim.simulate
    assert callable(accelsim.sim.iteration_plans)
