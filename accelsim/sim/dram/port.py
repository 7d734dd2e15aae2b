"""The DRAM as the SimPy pipeline sees it, in front of the command-level controller.

A request is a list of streams ``(base_byte_address, n_bytes, is_write)`` (a tile's weight
bytes, its activation bytes). The port takes a request as soon as the controller's queue has
room (``queue_depth`` bursts per channel): it is held until the request's bursts, all but the
last queue-full of each channel, have been issued, so the next request's row activates and
bursts overlap with this one's tail (CAS latency, the last bursts); the request's event fires
when its last data is back.

One engine, the command-level controller (`accelsim.sim.dram.controller`, C, one DRAM clock
at a time, equal to DRAMsim3 cycle for cycle on the parity streams), and two timing modes
(``dram_timing`` in the accelerator config, `accelsim.config.accelerator.DRAM_TIMINGS`):

- ``exact``: every burst of every request goes through one controller whose state (open rows,
  queues, timing, refresh) carries from request to request. When the port takes work it takes
  every request waiting for it, up to ``outstanding_requests`` of the DRAM config (a DMA
  engine's transactions in flight), and their bursts arrive together, in request order, so
  the controller serves them together (one request's row activates under another's bursts);
  each request is done when its own last data is back. A channel still busy with earlier
  requests takes them when it is done with those: the controller runs each such batch until
  it is served, so a request that reaches the port while a batch is in service waits for the
  next batch (it does not join the one in flight). With ``outstanding_requests = 1`` the
  requests go one at a time.
- ``cached`` (default): a stream is timed once on a controller that starts idle (all rows
  closed) with refresh off, and the result reused for every stream of the same length in
  bursts, direction and position in the burst rotation of the address mapping (channel, bank
  group); streams longer than ``dram_sample_bursts`` are timed on that many bursts and scaled;
  refresh is charged as its average share (time stretched by tREFI / (tREFI - tRFC), refreshes
  counted at one per rank per tREFI). The streams of one request follow each other; only the
  first activate and CAS latency of a stream may overlap the next request. Its activates (and
  row hits, misses, conflicts) are not the timed sample's but counted where the stream really
  lies: one per (bank, row) it touches, less the banks whose row an earlier request left open
  (the port keeps each bank's open row; a refresh boundary between requests closes them),
  plus refresh's share. What it leaves out against ``exact``: the time an open row saves or a
  conflict costs at a stream's start, rows that a request's streams close for each other in
  the controller's queues, refresh at its boundaries (measured for every preset and address
  mapping in reports/validation/dram_cached_error.md).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from accelsim.sim.dram import controller
from accelsim.sim.dram.batch import DramBatch
from accelsim.sim.parts.server import Server

STAT_FIELDS = ("bursts", "row_hits", "row_misses", "row_conflicts", "activates", "refreshes")
ENERGY_FIELDS = ("activate_energy_pj", "read_energy_pj", "write_energy_pj", "io_energy_pj")


class DramPort(Server):
    def __init__(self, env, dram_config, clock_mhz: float, timing: str = "cached",
                 sample_bursts: int = 4096, record_requests: bool = False, name: str = "dram",
                 cache: dict | None = None):
        # `timing` is checked with the rest of the config (AcceleratorConfig: DRAM_TIMINGS)
        super().__init__(env, name)
        self.config = dram_config
        self.timing = timing
        self.clock_mhz = float(clock_mhz)
        self.sample_bursts = int(sample_bursts)
        self.dram_cycles_per_accel_cycle = (1000.0 / self.clock_mhz) / dram_config.tck_ns
        self.controller = (controller.CommandController(dram_config) if timing == "exact"
                           else None)
        self.record = record_requests
        self.log: list[tuple] = []  # (base_byte_address, n_bytes, is_write, issue_cycle) per stream
        self.totals = dict.fromkeys(STAT_FIELDS + ENERGY_FIELDS, 0)
        # cached timing: streams timed from an idle, refresh-free DRAM, keyed by length,
        # direction and position in the burst rotation below the column; shareable.
        self._cache = {} if cache is None else cache
        self._refresh_free = dataclasses.replace(dram_config, trefi_cycles=2**40)
        self._refresh_stretch = 1.0 / dram_config.refresh_efficiency
        self._ranks = dram_config.channels * dram_config.ranks
        self._refreshes_per_cycle = (dram_config.channels * dram_config.ranks
                                     * self.dram_cycles_per_accel_cycle
                                     / dram_config.trefi_cycles)
        tokens = dram_config.mapping_tokens
        sizes = dram_config.field_sizes()
        self._period_bursts = math.prod(sizes[t] for t in tokens[tokens.index("Co") + 1:])
        self._mid_row = sizes["Co"] // 2
        self._next_burst = -1  # the burst after the last stream's (cached timing)
        # cached timing: the row each bank (channel, rank, bank group, bank flattened) was
        # left with by the streams so far (-1: closed), and the refresh interval they were
        # ended in (a refresh closes every row)
        self._open_rows = np.full(dram_config.channels * dram_config.banks_per_channel, -1,
                                  dtype=np.int64)
        self._refresh_period = -1
        self._stripe_bursts = math.prod(sizes[t] for t in tokens[1:])  # bursts per row index
        # the rows a stream touches (_rows_touched) depend only on the config and where the
        # stream lies in its row stripe: kept in the shared cache, so every machine of a run
        # (a fresh one per simulated iteration) finds those worked out before
        self._touches: dict = self._cache.setdefault("rows touched", {})
        # one row stripe's bank order, learnt at the first stream (_learn_stripe)
        self._bank_at = self._before = self._after = np.empty(0, dtype=np.int64)
        # The last queue_depth bursts of a channel are still in the controller when the port
        # takes the next request: their bus time plus the read latency (accelerator cycles).
        c = dram_config
        self._queue_tail = ((c.queue_depth * c.burst_cycles + c.tcl_cycles)
                            / self.dram_cycles_per_accel_cycle)
        self._latency = ((c.trcd_cycles + c.tcl_cycles + c.burst_cycles)
                         / self.dram_cycles_per_accel_cycle)

    def snapshot(self) -> dict:
        return dict(self.totals)

    def background_energy_pj(self, cycles) -> float:
        """Standby + refresh energy of all channels over `cycles` accelerator cycles."""
        nanoseconds = float(cycles) * 1000.0 / self.clock_mhz
        return self.config.background_power_mw * self.config.channels * nanoseconds  # mW*ns=pJ

    # -- timing ------------------------------------------------------------------------------
    def _add(self, batch_like: dict, scale: float = 1.0):
        for key in STAT_FIELDS + ENERGY_FIELDS:
            self.totals[key] += batch_like[key] * scale

    def _taken(self, streams, now):
        """A request's non-empty streams as (base, n_bytes, is_write), logged if recording."""
        for base, n_bytes, is_write in streams:
            if n_bytes <= 0:
                continue
            base, n_bytes, is_write = int(base), int(n_bytes), bool(is_write)
            if self.record:
                self.log.append((base, n_bytes, is_write, int(now)))
            yield base, n_bytes, is_write

    def _serve(self, streams, now):
        """(cycles the port is held, cycles until the request is done) from cycle `now`."""
        if self.controller is not None:
            return self._serve_exact(streams, now)
        finish = 0.0
        hold = 0.0
        bb = self.config.burst_bytes
        # a refresh between the last request's end and this one closed every row (one
        # during a stream is charged in its timing: `_cached`)
        if self._refresh_interval_of(now) != self._refresh_period:
            self._open_rows.fill(-1)
        # the streams of a request share the controller's queues under exact timing, so one's
        # rows need not stay open for the next: each finds the rows the earlier requests left
        left = self._open_rows.copy()
        for base, n_bytes, is_write in self._taken(streams, now):
            bursts = (base + n_bytes - 1) // bb - base // bb + 1
            continues = base // bb == self._next_burst
            result = self._cached(base, bursts, is_write)
            self._open_rows_left(result, left, base // bb, bursts, continues)
            self._add(result)
            took = finish + result["cycles"]       # streams of a request in sequence
            # No bus state is shared between cached streams, so only the latency (first
            # activate and CAS) may overlap the next request, never the bus time.
            bus = bursts * self.config.burst_cycles / self.config.channels
            hidden = min(self._latency, result["cycles"]
                         - bus / self.dram_cycles_per_accel_cycle)
            hold = max(hold, took - max(hidden, 0.0))
            finish = max(finish, took)
        self._refresh_period = self._refresh_interval_of(now + finish)
        return hold, finish

    def _refresh_interval_of(self, cycle: float) -> int:
        """Which tREFI interval accelerator cycle `cycle` falls in."""
        return int(cycle * self.dram_cycles_per_accel_cycle // self.config.trefi_cycles)

    def _serve_exact(self, streams, now):
        """`exact` timing: the request's bursts, every stream's, arrive together at the
        controller (each channel takes them once it has served the requests before them)."""
        bb = self.config.burst_bytes
        addresses, writes = [], []
        for base, n_bytes, is_write in self._taken(streams, now):
            first, last = base // bb, (base + n_bytes - 1) // bb
            addresses.append(np.arange(first, last + 1, dtype=np.int64) * bb)
            writes.append(np.full(last - first + 1, is_write))
        if not addresses:
            return 0.0, 0.0
        assert self.controller is not None
        batch = self.controller.access(np.concatenate(addresses), np.concatenate(writes), now,
                                       self.dram_cycles_per_accel_cycle)
        self._add(_as_dict(batch))
        took = batch.end_cycle - now
        return max(took - self._queue_tail, 0.0), took

    def _open_rows_left(self, result: dict, left: np.ndarray, first_burst: int, bursts: int,
                        continues: bool) -> None:
        """Count the stream's activates from the rows it opens where it really lies, not
        where its cached timing placed it (at the start of a row stripe, from closed rows):
        one per (bank, row) it touches, less the banks whose first burst here finds that row
        still open, plus the timing's share of rows refresh closed. A bank found with another
        row open is a conflict. Then record the rows this stream leaves open. `left`: the rows
        open when the request was taken (a request's streams share the controller's queues
        under exact timing, so one need not find another's rows open), or, for a stream that
        continues the last one, the rows open now."""
        stripe = self._stripe_bursts
        key = (first_burst % stripe, bursts)
        touched = self._touches.get(key)
        if touched is None:
            touched = self._touches[key] = self._rows_touched(*key)
        pairs, first_bank, first_row, last_bank, last_row = touched
        row0 = first_burst // stripe
        found = (self._open_rows if continues else left)[first_bank]
        same = int(np.count_nonzero(found == first_row + row0))
        other = int(np.count_nonzero(found >= 0)) - same
        activates = pairs - same + result["reopened"]
        change = activates - result["activates"]
        result["activates"] = activates
        result["activate_energy_pj"] += change * self.config.activate_energy_pj
        result["row_hits"] = max(result["row_hits"] - change, 0.0)
        result["row_conflicts"] = float(other)
        result["row_misses"] = max(result["bursts"] - result["row_hits"] - other, 0.0)
        self._open_rows[last_bank] = last_row + row0

    def _rows_touched(self, align: int, bursts: int):
        """A stream `align` bursts into a row stripe (the bursts of one row index over every
        bank): the (bank, row) pairs it touches; the banks it touches with the row (counted
        from the stripe's) of its first burst in each; the same for its last. Every stripe
        visits the banks in the same order, so a partial first and last stripe are read from
        that order and each full stripe between touches every bank once."""
        if not self._bank_at.size:
            self._learn_stripe()
        bank_at, before, after = self._bank_at, self._before, self._after
        stripe, banks = self._stripe_bursts, len(self._open_rows)
        end = align + bursts
        last_stripe = (end - 1) // stripe
        head_end = min(end, stripe)
        # a position is a bank's first in [a, e) if its previous visit lies before a
        head = np.arange(align, head_end)
        head_first = head[before[align:head_end] < align]
        head_last = head[after[align:head_end] >= head_end]
        first_row = np.full(banks, -1, dtype=np.int64)
        last_row = np.full(banks, -1, dtype=np.int64)
        if last_stripe == 0:
            pairs = head_first.size
            first_row[bank_at[head_first]] = 0
            last_row[bank_at[head_last]] = 0
        else:
            tail_end = end - last_stripe * stripe
            tail_first = np.flatnonzero(before[:tail_end] < 0)
            tail_last = np.flatnonzero(after[:tail_end] >= tail_end)
            full = last_stripe - 1
            pairs = head_first.size + full * banks + tail_first.size
            # later stripes first, so that the earlier touch of a bank overrides
            first_row[bank_at[tail_first]] = last_stripe
            if full:
                first_row[:] = 1
            first_row[bank_at[head_first]] = 0
            last_row[bank_at[head_last]] = 0
            if full:
                last_row[:] = last_stripe - 1
            last_row[bank_at[tail_last]] = last_stripe
        first_bank = np.flatnonzero(first_row >= 0)
        last_bank = np.flatnonzero(last_row >= 0)
        return pairs, first_bank, first_row[first_bank], last_bank, last_row[last_bank]

    def _learn_stripe(self) -> None:
        """The bank (flattened) at each position of a row stripe, and for each position the
        bank's previous and next position in the stripe (-1 / the stripe's length: none)."""
        c, stripe = self.config, self._stripe_bursts
        f = c.decode_bursts(np.arange(stripe, dtype=np.int64))
        bank = (((f["channel"] * c.ranks + f["rank"]) * c.bank_groups + f["bank_group"])
                * c.banks_per_group + f["bank"]).astype(np.int64)
        order = np.argsort(bank, kind="stable")       # positions grouped by bank, in order
        same = bank[order][1:] == bank[order][:-1]
        before = np.full(stripe, -1, dtype=np.int64)
        after = np.full(stripe, stripe, dtype=np.int64)
        before[order[1:][same]] = order[:-1][same]
        after[order[:-1][same]] = order[1:][same]
        self._bank_at, self._before, self._after = bank, before, after

    def _cached(self, base: int, bursts: int, is_write: bool) -> dict:
        bb = self.config.burst_bytes
        timed = min(bursts, self.sample_bursts)
        align = (base // bb) % self._period_bursts
        # a stream that starts where the last one ended finds that one's rows open
        continues = base // bb == self._next_burst
        self._next_burst = (base + bursts * bb - 1) // bb + 1 if bursts else self._next_burst
        key = (is_write, align, timed, continues)
        hit = self._cache.get(key)
        if hit is None:
            # A stream that continues the last one starts mid-row at its place in the
            # rotation, after the bursts just before it (one rotation): the rows the last one
            # left open. Any other starts at a row's start on an idle DRAM (rows closed).
            ctl = controller.CommandController(self._refresh_free)
            start = align + (self._period_bursts * self._mid_row if continues else 0)
            warm = self._period_bursts if continues else 0
            ctl.run((start - warm + np.arange(warm, dtype=np.int64)) * bb, is_write, 0)
            began = float(ctl.clocks().max()) / self.dram_cycles_per_accel_cycle
            addresses = (start + np.arange(timed, dtype=np.int64)) * bb
            batch = ctl.access(addresses, is_write, began, self.dram_cycles_per_accel_cycle)
            hit = _as_dict(batch)
            hit["cycles"] *= self._refresh_stretch
            hit["refreshes"] = hit["cycles"] * self._refreshes_per_cycle
            # a refresh closes the rows open in its rank (of one channel); the stream reopens
            # those it is still reading: the banks it works on at once (one rotation below
            # the column), per channel and rank, once per refresh (their share of the
            # activates)
            working = min(ctl.open_banks(), self._period_bursts) / self._ranks
            reopened = min(hit["refreshes"] * working, hit["row_hits"])
            hit["activates"] += reopened
            hit["row_hits"] -= reopened    # those bursts find their row closed
            hit["row_misses"] += reopened
            hit["activate_energy_pj"] += reopened * self.config.activate_energy_pj
            hit["reopened"] = reopened
            self._cache[key] = hit
        scale = bursts / timed
        return {k: v * scale for k, v in hit.items()}

    def _run(self):
        outstanding = self.config.outstanding_requests if self.controller is not None else 1
        while True:
            work, done = yield self._queue.get()
            if outstanding > 1 and self._queue.items:
                yield from self._run_together([(work, done)], outstanding)
                continue
            now = self.env.now
            hold, finish = self._serve(work, now)
            hold = math.ceil(max(hold, 0.0) - 1e-9)
            finish = max(math.ceil(finish - 1e-9), hold)
            if finish > hold:
                self.env.process(self._complete(done, finish))
            if hold > 0:
                yield self.env.timeout(hold)
                self.busy_cycles += hold
            self.requests_served += 1
            if finish <= hold:
                done.succeed((self.env.now, None))

    def _run_together(self, taken, outstanding):
        """`exact`: the requests waiting at the port (up to `outstanding`) to the controller at
        once; each one's event fires when its own bursts are served."""
        while self._queue.items and len(taken) < outstanding:
            taken.append(self._queue.items.popleft())
        now = self.env.now
        hold, finishes = self._serve_exact_together([work for work, _ in taken], now)
        hold = math.ceil(max(hold, 0.0) - 1e-9)
        for (_, done), finish in zip(taken, finishes, strict=True):
            self.env.process(self._complete(done, max(math.ceil(finish - 1e-9), 0)))
        if hold > 0:
            yield self.env.timeout(hold)
            self.busy_cycles += hold
        self.requests_served += len(taken)

    def _serve_exact_together(self, requests, now):
        """(cycles the port is held, per request the cycles until it is done) from `now`."""
        bb = self.config.burst_bytes
        addresses, writes, owner = [], [], []
        for index, streams in enumerate(requests):
            for base, n_bytes, is_write in self._taken(streams, now):
                first, last = base // bb, (base + n_bytes - 1) // bb
                addresses.append(np.arange(first, last + 1, dtype=np.int64) * bb)
                writes.append(np.full(last - first + 1, is_write))
                owner.append(np.full(last - first + 1, index))
        if not addresses:
            return 0.0, [0.0] * len(requests)
        assert self.controller is not None
        batch, done = self.controller.access_each(
            np.concatenate(addresses), np.concatenate(writes), now,
            self.dram_cycles_per_accel_cycle)
        self._add(_as_dict(batch))
        # a request's end: its last burst's; a request without bursts is done at once
        ends = np.full(len(requests), now, dtype=float)
        np.maximum.at(ends, np.concatenate(owner), done)
        took = batch.end_cycle - now
        return max(took - self._queue_tail, 0.0), list(ends - now)

    def _complete(self, done, cycles):
        yield self.env.timeout(cycles)
        done.succeed((self.env.now, None))


def _as_dict(batch: DramBatch) -> dict:
    out = {k: getattr(batch, k) for k in STAT_FIELDS + ENERGY_FIELDS}
    out["cycles"] = batch.end_cycle - batch.start_cycle
    return out


def expand_streams(streams, burst_bytes: int):
    """A recorded stream log (a DataFrame or rows of base_byte_address, n_bytes, is_write,
    issue_cycle) as one request per burst: (byte addresses, is_write, issue_cycle) arrays, the
    form `accelsim.sim.dram.export.export_dram_trace` and `replay_trace` take."""
    if hasattr(streams, "to_numpy"):
        rows = streams[["base_byte_address", "n_bytes", "is_write", "issue_cycle"]].to_numpy()
    else:
        rows = np.asarray(list(streams), dtype=object).reshape(-1, 4)
    addresses, writes, cycles = [], [], []
    for base, n_bytes, is_write, cycle in rows:
        base, n_bytes = int(base), int(n_bytes)
        if n_bytes <= 0:
            continue
        first = base // burst_bytes
        last = (base + n_bytes - 1) // burst_bytes
        bursts = np.arange(first, last + 1, dtype=np.int64) * burst_bytes
        addresses.append(bursts)
        writes.append(np.full(bursts.size, bool(is_write)))
        cycles.append(np.full(bursts.size, float(cycle)))
    if not addresses:
        return np.empty(0, np.int64), np.empty(0, bool), np.empty(0, float)
    return np.concatenate(addresses), np.concatenate(writes), np.concatenate(cycles)
