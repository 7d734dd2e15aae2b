"""The command-level DRAM controller (accelsim.sim.dram.controller): timing tests with exact
cycles in Ramulator's style, its queues' rules, state carried between batches, bad input."""

import numpy as np
import pytest

from accelsim.config.dram import dram_preset
from accelsim.sim.dram.controller import CommandController
from accelsim.sim.dram.replay import replay_trace

DDR4 = dram_preset("DDR4-3200")
BURST = DDR4.burst_length // 2
CL, CWL, RCD, RP, RAS = (DDR4.tcl_cycles, DDR4.tcwl_cycles, DDR4.trcd_cycles, DDR4.trp_cycles,
                         DDR4.tras_cycles)
CCD_L = max(BURST, DDR4.tccd_l_cycles)


def addr(config=DDR4, **fields):
    return config.address_of(**fields)


def run(requests, config=DDR4, ctl=None):
    """requests: (address, is_write, arrival) tuples -> (done cycles, counts)."""
    ctl = ctl or CommandController(config)
    a, w, t = (np.array(x) for x in zip(*requests, strict=True))
    result = ctl.run(a, w, t)
    return result.done_cycle, result.counts


def test_a_read_to_a_closed_bank():
    # enters the queue at its arrival clock, activate the clock after, column tRCD later
    for arrival in (0, 37):
        ctl = CommandController(DDR4)
        ctl.record_commands()
        done, counts = run([(addr(row=5), False, arrival)], ctl=ctl)
        assert done[0] == arrival + 1 + RCD + CL + BURST
        assert counts["activates"] == 1 and counts["row_hits"] == 0
        log = ctl.recorded_commands()
        assert list(log["command"]) == ["ACT", "RD"]
        assert list(log["clock"]) == [arrival + 1, arrival + 1 + RCD]
        assert list(log["row"]) == [5, 5]


@pytest.mark.parametrize("late", [-1, 0, 1])
def test_a_second_bank_group_read_arriving_around_trcd(late):
    # first read: activate at 1, column at 1 + tRCD. A read to another bank group whose
    # activate goes tRCD - 1, tRCD or tRCD + 1 after the first activate: its column command
    # waits for its own tRCD and for tCCD_S after the first column command. One command per
    # clock: when the activate falls on the first read's column clock, the bank queues are
    # searched round robin from the one after bank 0 (the last served), so the activate goes
    # first and the column command one clock later.
    first, second = addr(row=5, bank_group=0), addr(row=9, bank_group=1)
    arrival = RCD + late - 1  # activate one clock after arrival
    done, _ = run([(first, False, 0), (second, False, arrival)])
    activate_2 = max(arrival + 1, 1 + DDR4.trrd_s_cycles)
    column_1 = 1 + RCD + (activate_2 == 1 + RCD)
    column_2 = max(activate_2 + RCD, column_1 + max(BURST, DDR4.tccd_s_cycles))
    assert done[0] == column_1 + CL + BURST
    assert done[1] == column_2 + CL + BURST


@pytest.mark.parametrize("offset", [-2, -1, 0])
def test_write_then_read_same_bank_group_waits_twtr_l(offset):
    # nine writes to one row drain at once (more than 8 buffered, bank queues empty): moved
    # one per clock, activate at 1, column commands tCCD_L apart from 1 + tRCD. A read of
    # another column of that row arrives so that it could issue at bound + offset + 1, where
    # bound = last write + tCWL + BL/2 + tWTR_L is the first legal read.
    writes = [(addr(row=3, column=i), True, 0) for i in range(9)]
    last_write = 1 + RCD + 8 * CCD_L
    bound = last_write + CWL + BURST + DDR4.twtr_l_cycles
    arrival = bound + offset
    done, counts = run(writes + [(addr(row=3, column=20), False, arrival)])
    assert done[8] == last_write + CWL + BURST
    assert done[9] == max(bound, arrival + 1) + CL + BURST
    assert counts["row_hits"] == 9 and counts["writes"] == 9


def test_refresh_precharges_and_the_next_read_reopens():
    c = DDR4
    first = (addr(row=5), False, 0)
    late = c.trefi_cycles + RP + 5
    for batches in ([[first, (addr(row=5, column=1), False, late)]],
                    [[first], [(addr(row=5, column=1), False, late)]]):
        ctl = CommandController(c)
        results = [run(batch, ctl=ctl) for batch in batches]
        done = np.concatenate([r[0] for r in results])
        counts = {k: sum(r[1][k] for r in results) for k in results[0][1]}
        # precharge at tREFI, refresh tRP later, the activate tRFC after the refresh
        activate = c.trefi_cycles + RP + c.trfc_cycles
        assert done[1] == activate + RCD + CL + BURST
        assert counts["refreshes"] == 1 and counts["activates"] == 2
        assert counts["row_hits"] == 0


def test_fr_fcfs_serves_a_later_row_hit_before_an_earlier_conflict():
    a0, b, a1 = addr(row=1, column=0), addr(row=2, column=0), addr(row=1, column=1)
    done, counts = run([(a0, False, 0), (b, False, 1), (a1, False, 2)])
    column_a1 = 1 + RCD + CCD_L
    assert done[0] == 1 + RCD + CL + BURST
    assert done[2] == column_a1 + CL + BURST
    precharge = max(1 + RAS, column_a1 + DDR4.trtp_cycles)
    assert done[1] == precharge + RP + RCD + CL + BURST
    assert counts["row_hits"] == 1 and counts["activates"] == 2


def test_four_hits_then_the_older_conflict_goes():
    # the oldest request (row 2) waits while younger hits to the open row (row 1) issue, but
    # only until 4 hits were served since the activate: then its precharge goes as soon as
    # the timing allows. With tRTP = 2 the precharge is ready at the activate + tRAS, after
    # the 4th hit (each column command pushes the precharge tRTP later; with DDR4's 12 the
    # hits, tCCD_L = 8 apart, would hold it back until they run out).
    c = dram_preset("DDR4-3200", trtp_cycles=2)
    reqs = [(addr(c, row=1, column=0), False, 0), (addr(c, row=2, column=0), False, 0)]
    reqs += [(addr(c, row=1, column=i), False, 0) for i in range(1, 7)]
    done, counts = run(reqs, config=c)
    columns = [1 + RCD + i * CCD_L for i in range(4)]   # requests 0, 2, 3, 4
    assert [done[i] for i in (0, 2, 3, 4)] == [x + CL + BURST for x in columns]
    precharge = 1 + RAS
    assert columns[-1] < precharge < columns[-1] + CCD_L
    assert done[1] == precharge + RP + RCD + CL + BURST
    assert done[5:].min() > done[1] and counts["activates"] == 3


def test_closed_page_activates_every_burst():
    c = dram_preset("DDR4-3200", page_policy="closed")
    done, counts = run([(addr(c, row=1, column=i), False, 0) for i in range(4)], config=c)
    assert counts["activates"] == 4 and counts["row_hits"] == 0
    # read with auto-precharge: the bank's next activate BL/2 + tRTP + tRP after it, and tRC
    # after its previous activate
    column_1 = 1 + RCD
    activate_2 = max(column_1 + BURST + c.trtp_cycles + RP, 1 + RAS + RP)
    assert done[0] == column_1 + CL + BURST
    assert done[1] == activate_2 + RCD + CL + BURST


def test_write_buffer_forwards_and_merges():
    a = addr(row=4)
    done, counts = run([(a, True, 0), (a, True, 0), (a, False, 3)])
    assert counts["merged_writes"] == 1 and counts["forwarded_reads"] == 1
    assert counts["writes"] == 1 and counts["reads"] == 0
    assert done[2] == 3 + 1  # answered from the buffer


def test_reads_of_one_address_share_the_read():
    a = addr(row=4)
    done, counts = run([(a, False, 0), (a, False, 0)])
    assert counts["reads"] == 1 and done[0] == done[1]


def test_hbm_issues_a_row_and_a_column_command_in_one_clock():
    # read A: activate at 1, column at 1 + tRCD; read B (another bank group) arrives so that
    # its activate falls on that same clock. HBM's separate row and column buses take both;
    # one command bus delays one of them by a clock.
    hbm = dram_preset("HBM2")
    rcd, tail = hbm.trcd_cycles, hbm.tcl_cycles + hbm.burst_length // 2
    reqs = [(addr(hbm, row=1, bank_group=0), False, 0),
            (addr(hbm, row=1, bank_group=1), False, rcd)]
    done, _ = run(reqs, config=hbm)
    assert list(done) == [1 + rcd + tail, 1 + rcd + rcd + tail]
    single, _ = run(reqs, config=dram_preset("HBM2", dual_command_bus=False))
    assert single.sum() == done.sum() + 1


@pytest.mark.parametrize("preset", ["DDR4-3200", "LPDDR4-3200", "HBM2"])
def test_no_faster_than_the_bus_and_deterministic(preset):
    c = dram_preset(preset)
    rng = np.random.default_rng(11)
    n = 3000
    a = rng.integers(0, 1 << 24, n) * c.burst_bytes
    w = rng.random(n) < 0.3
    t = np.sort(rng.integers(0, 4 * n, n))
    first = CommandController(c).run(a, w, t)
    second = CommandController(c).run(a, w, t)
    assert np.array_equal(first.done_cycle, second.done_cycle)
    assert first.counts == second.counts
    served = first.counts["reads"] + first.counts["writes"]
    assert first.finish_cycle >= served * c.burst_length / 2 / c.channels
    # every request after its arrival, every read at least a column latency after it
    assert (first.done_cycle >= np.ceil(t)).all()
    fresh = ~w
    assert (first.done_cycle[fresh] >= t[fresh] + 1).all()


def test_state_carries_between_batches():
    # a row left open by one batch is a hit for the next
    ctl = CommandController(DDR4)
    run([(addr(row=7), False, 0)], ctl=ctl)
    done, counts = run([(addr(row=7, column=3), False, 500)], ctl=ctl)
    assert counts["activates"] == 0 and counts["row_hits"] == 1
    assert done[0] == 500 + 1 + CL + BURST
    assert ctl.clocks()[0] == 502  # the next clock to simulate: after the column command


def test_bad_input_is_refused():
    ctl = CommandController(DDR4)
    with pytest.raises(ValueError, match="arrival_dram_cycle"):
        ctl.run([0, 64], False, [0, np.nan])
    with pytest.raises(ValueError, match="arrival_dram_cycle"):
        ctl.run([0], False, [-1])
    with pytest.raises(ValueError, match="byte_addresses"):
        ctl.run([-64], False, 0)


def test_empty_batch():
    result = CommandController(DDR4).run(np.zeros(0, np.int64), False, np.zeros(0))
    assert result.finish_cycle == 0.0 and result.counts["reads"] == 0


def test_a_full_write_buffer_behind_an_older_read_does_not_deadlock():
    # read X, write X, 31 more writes, all at once: the full buffer starts a drain whose first
    # write waits for the older read of X, which waits in the read queue. DRAMsim3's rule as
    # written restarts the drain every clock and never moves the read (its replay of this
    # trace does not finish); here the reads move while that happens.
    x = addr(row=5)
    reqs = [(x, False, 0), (x, True, 0)] + [(addr(row=9, column=i), True, 0) for i in range(31)]
    done, counts = run(reqs)
    assert counts["reads"] == 1 and counts["writes"] == 32
    assert counts["drain_deadlocks_broken"] == 1
    assert done[0] == 1 + RCD + CL + BURST   # the read goes first, as soon as it can
    assert done[1] > done[0]


def _reference_streams():
    import json
    from pathlib import Path

    path = Path(__file__).parents[2] / "data" / "dramsim3_reference.npz"
    data = np.load(path)
    meta = json.loads(str(data["meta"]))
    return [(m, data[f"{m['key']}_address"], data[f"{m['key']}_write"],
             data[f"{m['key']}_arrival"]) for m in meta["streams"]]


@pytest.mark.parametrize("preset", ["DDR4-3200", "LPDDR4-3200", "HBM2"])
def test_every_reference_stream_matches_dramsim3_cycle_for_cycle(preset):
    # DRAMsim3's own results (benchmarks/dram_parity.py --write-reference) for the first 1,024
    # requests of each synthetic pattern: sequential, random, tiles, copy, closed page, mixed
    # reads and writes, paced and interleaved streams; two ranks under each refresh policy
    # (simultaneous: DRAMsim3 refreshes only the first rank, so those are checked apart), tPPD
    checked = 0
    for meta, a, w, t in _reference_streams():
        if meta["preset"] != preset:
            continue
        config = dram_preset(preset, **meta.get("overrides",
                                                {"page_policy": meta["page_policy"]}))
        ours = replay_trace(config, a, w, t)
        got = (ours["finish_cycle"], ours["activates"], ours["row_hits"])
        want = (meta["finish_cycle"], meta["activates"], meta["row_hits"])
        assert got == want, f"{meta['stream']}: {got} != DRAMsim3 {want}"
        checked += 1
    assert checked >= 15


# -- `accelsim dram`: a user's trace through the controller --------------------------------------

def _cli(capsys, *args):
    from accelsim.cli import main

    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_the_dram_command_replays_a_trace(tmp_path, capsys):
    import json

    from accelsim.sim.dram.export import export_dram_trace

    a = np.arange(4096) * DDR4.burst_bytes
    w = np.arange(4096) % 4 == 3
    path = export_dram_trace(a, w, np.zeros(4096), tmp_path / "t.trace", "dramsim3")
    code, out, err = _cli(capsys, "dram", path, "--json")
    assert code == 0, err
    summary = json.loads(out)
    want = replay_trace(DDR4, a, w, np.zeros(4096))
    assert summary["finish_dram_cycle"] == want["finish_cycle"]
    assert summary["bursts"] == 4096 and summary["writes"] == 1024
    # the same stream at full speed cannot beat the bus
    assert summary["bandwidth_gb_per_s"] <= DDR4.peak_bandwidth_bytes_per_ns
    code, out, _ = _cli(capsys, "dram", path, "--dram", "HBM2", "--set", "page_policy=closed")
    assert code == 0 and "HBM2" in out


@pytest.mark.parametrize("content, args, needle", [
    (b"0x0 READ 0\nzz\n", [], ":2: expected a dramsim3 trace line"),
    (b"", [], "expected at least one request"),
    (b"\xff\xfe\x00garbage", [], "not ASCII"),
    (b"-0x40 READ 0\n", [], "expected an address >= 0"),
    (b"0x0 READ -3\n", [], "expected a cycle >= 0"),
    (b"0x0 READ 9000000000000000000\n", [], "arrival_dram_cycle"),
    (b"0xffffffffffffffffffff READ 0\n", [], "does not fit"),
    (b"0x0 READ 0\n", ["--set", "channels=0"], "--dram/--set: channels"),
    (b"0x0 READ 0\n", ["--dram", "DDR5"], "--dram/--set: preset"),
    (b"0x0 READ 0\n", ["--set", "queue_depth=100000000"], "queue_depth: expected at most"),
])
def test_the_dram_command_refuses_bad_input_in_one_line(tmp_path, capsys, content, args,
                                                        needle):
    path = tmp_path / "bad.trace"
    path.write_bytes(content)
    code, _out, err = _cli(capsys, "dram", path, *args)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("accelsim: error:"), err
    assert needle in lines[0], lines[0]
    assert "Traceback" not in err


def test_the_dram_command_refuses_a_folder_and_a_missing_file(tmp_path, capsys):
    for path in (tmp_path, tmp_path / "missing.trace"):
        code, _, err = _cli(capsys, "dram", path)
        assert code == 2 and "expected a DRAM trace file" in err


@pytest.mark.parametrize("seed", range(6))
def test_skipping_idle_clocks_changes_nothing(seed):
    # the same batches stepped clock by clock (-DACCELSIM_EVERY_CLOCK): the same bits
    rng = np.random.default_rng(seed)
    preset = ["DDR4-3200", "LPDDR4-3200", "HBM2"][seed % 3]
    over = {"page_policy": "closed"} if seed >= 3 else {"trefi_cycles": 900}
    c = dram_preset(preset, **over)
    n = 1500
    hot = rng.integers(0, 1 << 14, 16)
    a = np.where(rng.random(n) < 0.5, hot[rng.integers(0, 16, n)],
                 rng.integers(0, 1 << 20, n)) * c.burst_bytes
    w = rng.random(n) < 0.4
    t = np.floor(np.cumsum(rng.exponential([0.5, 4.0, 400.0][seed % 3], n)))
    results = []
    for every_clock in (False, True):
        ctl = CommandController(c, every_clock=every_clock)
        first, second = ctl.run(a[:700], w[:700], t[:700]), ctl.run(a[700:], w[700:], t[700:])
        results.append((first.done_cycle.tolist(), second.done_cycle.tolist(), first.counts,
                        second.counts, ctl.clocks().tolist()))
    assert results[0] == results[1]


def test_a_channel_waits_for_the_batch_end_however_far():
    # channel 0 holds two writes (too few to drain) until the last request of the batch, on
    # another channel, arrives 10^9 clocks later; then it drains them
    c = dram_preset("HBM2")
    reqs = [(addr(c, channel=0, column=0), True, 0), (addr(c, channel=0, column=1), True, 0),
            (addr(c, channel=1), False, 10**9)]
    done, counts = run(reqs, config=c)
    assert counts["writes"] == 2 and done[0] > 10**9 and done[2] > 10**9


# -- refresh policy and tPPD ---------------------------------------------------------------------

def _refresh_clocks(config, until):
    """(clock, rank) of every refresh an idle controller of `config` issues before `until`
    (stepped clock by clock: a skipped idle stretch applies its refreshes without a log)."""
    ctl = CommandController(config, every_clock=True)
    ctl.record_commands()
    ctl.run(np.array([addr(config, row=1)]), np.array([False]), np.array([until]))
    log = ctl.recorded_commands()
    refresh = log["command"] == "REF"
    return list(zip(log["clock"][refresh].tolist(),
                    (log["bank"][refresh] // config.banks_per_rank).tolist(), strict=True))


def test_staggered_refresh_takes_one_rank_every_trefi_over_ranks():
    c = dram_preset("DDR4-3200", ranks=2, refresh_policy="staggered")
    half = c.trefi_cycles // 2
    # the read arrives just after the fourth boundary: every refresh before it is logged
    assert _refresh_clocks(c, 4 * half + 1) == [(half, 0), (2 * half, 1), (3 * half, 0),
                                                (4 * half, 1)]


def test_simultaneous_refresh_takes_every_rank_at_each_trefi():
    c = dram_preset("DDR4-3200", ranks=2, refresh_policy="simultaneous")
    t = c.trefi_cycles
    # both ranks due at once, refreshed one clock apart (one command per clock)
    assert _refresh_clocks(c, 2 * t + 1) == [(t, 0), (t + 1, 1), (2 * t, 0), (2 * t + 1, 1)]


def test_with_one_rank_both_refresh_policies_are_one():
    a = np.arange(3000) * 4099 % (1 << 20) * DDR4.burst_bytes
    w = np.arange(3000) % 3 == 0
    t = np.floor(np.arange(3000) * 7.0)
    got = [replay_trace(dram_preset("DDR4-3200", refresh_policy=p), a, w, t)
           for p in ("staggered", "simultaneous")]
    assert got[0] == got[1] and got[0]["refreshes"] > 0


@pytest.mark.parametrize("policy", ["staggered", "simultaneous"])
def test_skipping_refreshes_over_an_idle_gap_changes_nothing_with_two_ranks(policy):
    # a long idle gap is crossed at once (the refresh boundaries applied together); stepped
    # clock by clock, the same bits, and the refresh count is one per rank per tREFI
    c = dram_preset("HBM2", ranks=2, refresh_policy=policy, trefi_cycles=900)
    rng = np.random.default_rng(3)
    a = rng.integers(0, 1 << 20, 400) * c.burst_bytes
    w = rng.random(400) < 0.3
    t = np.concatenate([np.zeros(200), np.full(200, 50_000.0)])
    results = []
    for every_clock in (False, True):
        ctl = CommandController(c, every_clock=every_clock)
        result = ctl.run(a, w, t)
        results.append((result.done_cycle.tolist(), result.counts, ctl.clocks().tolist()))
    assert results[0] == results[1]
    finish = max(results[0][0])
    assert abs(results[0][1]["refreshes"] - c.channels * 2 * finish / 900) <= 2 * c.channels * 2


def test_tppd_spaces_precharges_to_other_banks_of_a_rank():
    # two banks with rows open, then a request for another row in each: their precharges go
    # at least tPPD apart with it, as soon as each is ready without
    c0 = dram_preset("LPDDR4-3200")
    reqs = [(addr(c0, bank=0, row=1), False, 0), (addr(c0, bank=1, row=1), False, 0),
            (addr(c0, bank=0, row=2), False, 200), (addr(c0, bank=1, row=2), False, 200)]
    clocks = {}
    for tppd in (0, 7):
        ctl = CommandController(dram_preset("LPDDR4-3200", tppd_cycles=tppd))
        ctl.record_commands()
        run(reqs, config=ctl.config, ctl=ctl)
        log = ctl.recorded_commands()
        clocks[tppd] = log["clock"][log["command"] == "PRE"].tolist()
    assert len(clocks[0]) == len(clocks[7]) == 2
    assert clocks[0][1] - clocks[0][0] < 7
    assert clocks[7][1] - clocks[7][0] >= 7
