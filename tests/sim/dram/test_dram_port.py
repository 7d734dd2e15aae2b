"""The DRAM port under `exact` timing with several requests outstanding (`outstanding_requests`
of the DRAM config): closed-form bounds on small cases, and one request at a time unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from accelsim.config.dram import dram_preset
from accelsim.sim.dram.port import DramPort

DDR4 = dram_preset("DDR4-3200")


def _serve(config, requests, gap=0, clock_mhz=800.0):
    """Submit `requests` (lists of streams), one every `gap` accelerator cycles; each
    request's finishing cycle, in order, and the port."""
    env = simpy.Environment()
    port = DramPort(env, config, clock_mhz, timing="exact")
    finishes = [None] * len(requests)

    def issue(index, streams):
        yield env.timeout(index * gap)
        finishes[index], _ = yield port.submit(streams)

    for index, streams in enumerate(requests):
        env.process(issue(index, streams))
    env.run()
    return finishes, port


def _one_read_per_bank(config, count):
    """`count` one-burst reads, each to its own bank (row 0)."""
    per_group = config.banks_per_group
    return [[(config.address_of(bank_group=i % config.bank_groups, bank=i // config.bank_groups
                                % per_group, row=1), config.burst_bytes, False)]
            for i in range(count)]


def test_reads_to_different_banks_finish_sooner_with_several_outstanding():
    requests = _one_read_per_bank(DDR4, 8)
    one, _ = _serve(dram_preset("DDR4-3200", outstanding_requests=1), requests)
    several, port = _serve(dram_preset("DDR4-3200", outstanding_requests=8), requests)
    # one at a time, each read pays its activate and CAS latency after the last is served;
    # eight outstanding, their activates overlap (tRRD, tFAW apart)
    assert max(several) < max(one)
    assert port.totals["bursts"] == 8 and port.totals["activates"] == 8
    # never sooner than the bus allows: the first activate, CAS latency, then eight bursts
    c = DDR4
    bound = (c.trcd_cycles + c.tcl_cycles + 8 * c.burst_cycles) / port.dram_cycles_per_accel_cycle
    assert max(several) >= bound
    # and each request is done once its own data is back, not at the batch's end
    assert min(several) < max(several)


def test_outstanding_limit_caps_a_batch():
    requests = _one_read_per_bank(DDR4, 8)
    two, _ = _serve(dram_preset("DDR4-3200", outstanding_requests=2), requests)
    eight, _ = _serve(dram_preset("DDR4-3200", outstanding_requests=8), requests)
    one, _ = _serve(dram_preset("DDR4-3200", outstanding_requests=1), requests)
    assert max(eight) <= max(two) < max(one)


def test_requests_that_never_wait_are_served_alike_under_any_limit():
    # a request every 1,000 cycles finds the port idle: nothing to take together
    requests = _one_read_per_bank(DDR4, 6) + [[(0, 4096, True), (1 << 20, 2048, False)]]
    one, port_one = _serve(dram_preset("DDR4-3200", outstanding_requests=1), requests, gap=1000)
    many, port_many = _serve(dram_preset("DDR4-3200", outstanding_requests=32), requests,
                             gap=1000)
    assert one == many
    assert port_one.totals == port_many.totals


def test_a_long_request_is_bounded_by_the_bus_with_several_outstanding():
    # four 4 KiB reads of one bank's consecutive rows: row conflicts in the same bank, nothing
    # to overlap but the bus; with them outstanding together they still take the bus's time
    c = dram_preset("HBM2")
    requests = [[(c.address_of(row=r), 4096, False)] for r in range(4)]
    finishes, port = _serve(dram_preset("HBM2", outstanding_requests=4), requests,
                            clock_mhz=500.0)
    bursts = 4 * 4096 // c.burst_bytes
    assert port.totals["bursts"] == bursts
    bus = bursts * c.burst_cycles / c.channels / port.dram_cycles_per_accel_cycle
    assert max(finishes) >= bus


# -- cached timing: activates from the rows a stream really touches ------------------------------

MAPPINGS = ("RoRaBaCoBgCh", "RoBaBgCoRaCh", "RoCoBaBgRaCh")


def _counts(config, timing, requests, gap=3000, clock_mhz=1000.0):
    env = simpy.Environment()
    port = DramPort(env, config, clock_mhz, timing=timing)

    def issue(index, streams):
        yield env.timeout(index * gap)
        yield port.submit(streams)

    for index, streams in enumerate(requests):
        env.process(issue(index, streams))
    env.run()
    return port.totals


def _pairs(config, streams):
    """(bank, row) pairs the streams' bursts touch, counted from the decoded addresses."""
    seen = set()
    for base, n_bytes, _ in streams:
        first, last = base // config.burst_bytes, (base + n_bytes - 1) // config.burst_bytes
        f = config.decode_bursts(np.arange(first, last + 1))
        seen |= set(zip(f["channel"].tolist(), f["rank"].tolist(), f["bank_group"].tolist(),
                        f["bank"].tolist(), f["row"].tolist(), strict=True))
    return len(seen)


@pytest.mark.parametrize("preset", ["DDR4-3200", "HBM2"])
@pytest.mark.parametrize("mapping", MAPPINGS)
def test_cached_activates_count_the_rows_a_stream_touches_where_it_lies(preset, mapping):
    # streams that start mid-row and share a burst at their seams (as a tile's bytes do), one
    # request each, well inside one refresh interval: every (bank, row) is opened once, the
    # rows the earlier streams left open are hits, as exact timing finds
    c = dram_preset(preset, address_mapping=mapping, trefi_cycles=10**7, trfc_cycles=100)
    requests = [[(0, 26000, False)], [(26000, 26000, False)], [(52000, 29000, False)],
                [(206848 * 3, 4040, False)]]
    cached = _counts(c, "cached", requests)
    exact = _counts(c, "exact", requests)
    want = _pairs(c, [s for r in requests for s in r])
    assert cached["activates"] == pytest.approx(want, abs=0.05)  # + refresh share
    assert exact["activates"] == want
    assert cached["bursts"] == exact["bursts"]


def test_cached_rows_left_open_are_closed_by_a_refresh_between_requests():
    # the same bytes read twice: the second read finds its rows open, unless a refresh
    # boundary passed between the two requests
    c = dram_preset("DDR4-3200", trefi_cycles=10**6, trfc_cycles=100)
    again = [[(4096, 8192, False)], [(4096, 8192, False)]]
    opened = _pairs(c, again[0])
    near = _counts(c, "cached", again, gap=100)
    # 1 GHz accelerator clock, DRAM clock 0.625 ns: 10^6 DRAM clocks = 625,000 cycles
    far = _counts(c, "cached", again, gap=700_000)
    assert near["activates"] == pytest.approx(opened, abs=0.05)
    assert far["activates"] == pytest.approx(2 * opened, abs=0.05)


@pytest.mark.parametrize("mapping", MAPPINGS)
def test_rows_touched_agree_with_every_burst_decoded(mapping):
    # the port reads a stream's rows from one stripe's bank order; decoding each burst of
    # the stream gives the same pairs, first rows and last rows
    c = dram_preset("HBM2", address_mapping=mapping)
    port = DramPort(simpy.Environment(), c, 1000.0)
    stripe = port._stripe_bursts
    rng = np.random.default_rng(5)
    for align, bursts in [(0, 1), (stripe - 1, 2), (3, stripe), (17, 3 * stripe + 5)] + [
            (int(rng.integers(0, stripe)), int(rng.integers(1, 4 * stripe))) for _ in range(20)]:
        pairs, first_bank, first_row, last_bank, last_row = port._rows_touched(align, bursts)
        f = c.decode_bursts(np.arange(align, align + bursts))
        bank = ((f["channel"] * c.ranks + f["rank"]) * c.bank_groups + f["bank_group"]) \
            * c.banks_per_group + f["bank"]
        rows = f["row"]
        assert pairs == len(set(zip(bank.tolist(), rows.tolist(), strict=True)))
        first, last = {}, {}
        for b, r in zip(bank.tolist(), rows.tolist(), strict=True):
            first.setdefault(b, r)
            last[b] = r
        assert dict(zip(first_bank.tolist(), first_row.tolist(), strict=True)) == first
        assert dict(zip(last_bank.tolist(), last_row.tolist(), strict=True)) == last
