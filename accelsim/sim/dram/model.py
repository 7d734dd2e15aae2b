"""Off-chip DRAM: a bulk (numpy) burst-level timing and energy model.

The simulator core hands this model a batch of burst requests (one tile's weight fetches, from
one burst to about a million) and gets back one `DramBatch`: when the batch finished, how many
row hits, misses and conflicts it caused, and its dynamic energy. The cost of a call grows with
the number of bursts through a fixed number of numpy passes, never through a Python loop per
burst (the closed-page policy excepted, see step 2). The DRAM it models, presets and address
mapping included, is an `accelsim.config.dram.DramConfig`.

Time
----
The caller counts accelerator clock cycles (`accel_clock_mhz`); inside, everything is in DRAM
clock cycles (`tck_ns`), converted at the edges. DRAM cycles per accelerator cycle =
(1000 / accel_clock_mhz) / tck_ns.

The timing model (what is computed per batch)
---------------------------------------------
1. Decode each burst to (channel, rank, bank group, bank, row, column).
2. Issue order: writes wait in a per-channel write buffer drained when full. A call with a
   drain inside is timed phase by phase (a run of reads, a drained batch of writes, ...), each
   phase after the state the one before left, because reads are held while the buffer drains
   (DRAMsim3 controller.cc moves no read to the bank queues until the drain's writes are
   queued); within a drained batch of writes each channel's bus takes the bursts as their
   data is ready (a bank that finishes its part of the phase early starts its switch early,
   as DRAMsim3's per-bank command queues do); a run of reads between drains is timed both in
   issue order and in data-ready order on the bus and keeps whichever ends the run first
   (DRAMsim3 serves its bank queues round robin, taking any bank with a ready command: a
   work-conserving order that neither fixed order is; issue order lets a bank switching rows
   hold the others' data, ready order can drift into runs of one bank group that pay
   tCCD_L). Each phase is one or two sets of numpy passes, so mixed calls cost per phase: a
   burst-interleaved copy of 2^18 bursts takes about 5 s against 0.45 s timed in one pass
   (2 shared cores); single-direction calls (every stream the simulator sends) take the one
   pass as before. With `hold_writes` (the trace replay, open page) the buffer carries
   over between calls: a channel's writes past its last full buffer stay held, untimed and
   uncounted, until later writes fill it, its bus idles with more than `idle_drain_writes`
   held, or `flush`; a call's reads never wait for them. Otherwise each call drains its own
   remainder after its reads (one call = one self-contained job). Requests may carry their
   own arrival cycles (`access(..., arrival_cycles=...)`, the trace replay's calls): no command
   of a request goes before it arrives (its activate, or for a row hit its column command),
   and FR-FCFS only reorders requests that were queued together (below). Then FR-FCFS
   within the request queue (`queue_depth` requests per channel, see `_first_ready_order`):
   in each queue window a bank serves its open row's requests first, then its other rows
   oldest first. Per bank, in that order: a burst is a row *hit* if the bank's open row is its
   row, a *miss*
   if the bank is closed (only after construction or reset), a *conflict* otherwise (another
   row is open: precharge, then activate). Open-row state persists across calls (open-page
   policy). With `page_policy = "closed"` (strict closed page, DRAMsim3's CLOSE_PAGE: every
   column command auto-precharges, tRTP after a read, tCWL + BL/2 + tWR after a write) every
   burst is a miss with its own activate, FR-FCFS has nothing to reorder, and how far ahead
   a bank may prepare decides the time; such a call is timed by `_schedule_closed` instead of
   steps 3-5: per-bank command queues (`command_queue_depth`) fed from a `queue_depth`
   transaction queue per channel bound which requests a bank may activate for, and the
   activates are list-scheduled in time order (a Python loop per burst, 0.1-0.3 s per 2^15
   bursts on 2 shared cores). A run of hits after
   an activate is one "episode" of that bank.
3. Bank timeline (per bank, vectorized with a segmented cumulative sum): an episode that opens
   a row activates at A; its j-th burst issues its column command at A + tRCD + j*tCCD_L.
   The bank's next activate is at least A + max(tRC, tRCD + (h-1)*tCCD_L + tRP) for h bursts
   in the episode (tRC = tRAS + tRP: the precharge waits for tRAS and for the last column
   command). The first activate of a bank in a call also waits for the request
   (now, or now + tRP when a row must first be closed) and for the bank's state from earlier
   calls.
4. Activate limits per rank: consecutive activates at least tRRD_S apart (tRRD_L within one
   bank group) and at most four in any tFAW window. The activates are taken in a priority
   order: by their bank-timeline time, ties by the bank's first use in the call, then issue
   order (a first-ready controller with an unbounded request queue; the tie rule makes equal-
   time rounds visit the banks in one fixed order, so a bank recurs a whole round later). The
   rank limits and the bank timeline are applied alternately, each one vectorized pass, until
   neither moves an activate; every constraint points backwards in the priority order, so the
   result is the earliest schedule for that order (tests check it against a per-burst loop).
5. Data bus, per channel, in issue order: burst i finishes at
   t_i = max(t_(i-1) + gap_i, col_i + tCL + BL/2), with gap_i = max(BL/2, tCCD_L) after a burst
   to the same rank and bank group, max(BL/2, tCCD_S) within the rank, BL/2 across ranks.
   Solved in bulk as t_i = G_i + cummax(ready_j - G_j) with G the running sum of gaps.
6. Refresh: every tREFI the whole channel stops for tRFC (all ranks at once). The model works
   on a refresh-free time axis and maps it onto real time by inserting a tRFC gap after every
   tREFI - tRFC cycles of work, so long runs lose exactly tRFC/tREFI of their time and short
   batches between refreshes see none. `refreshes` counts the REF windows (x channels x ranks)
   that fall inside a batch; refresh energy is part of `background_power_mw`.
   A refresh precharges every bank (DRAMsim3 and JEDEC: REF needs all banks idle): a row left
   open before a refresh boundary is closed when a call starts after it, and a row hit whose
   column command would fall after a boundary that its bank's previous column command came
   before becomes a miss that activates at the end of the window (found by timing the call,
   marking those bursts and timing it again, once: closings that the second timing's own delays
   would move are not looked for again). The refresh's own precharge-all stands in for the
   bank's precharge (inside tRFC).

Approximations (deliberate; the closed-form benchmark checks the aggregate behaviour)
------------------------------------------------------------------------------------
- A bank's precharge after a drain phase follows its last column command as the data bus
  placed it, not the bank timeline's earlier one; inside one phase (and between calls) the
  bank timeline still assumes its column commands tCCD_L apart. Against DRAMsim3 the
  burst-interleaved copy is then -4.1 % (DDR4), +1.8 % (LPDDR4), -5.7 % (HBM2): DRAMsim3's
  phase lengths and bank interleaving come from its read queue, per-bank command queues (8,
  served round robin) and the driver's back-pressure, which this model does not follow
  (reports/validation/dram_parity.md).
- The queue bounds the FR-FCFS reordering but not the bank preparation: a bank prepares
  (precharge/activate) for a request as early as its own timing allows, however far down the
  batch the request is; the data bus returns bursts in (reordered) issue order. A real
  controller sees 32-64 requests, so this model hides row-switch
  costs a little better than hardware when the next row lives in another bank.
- tFAW and tRRD are met exactly within the priority order, but the order is fixed from the
  bank-only times before the rank limits are applied (a list scheduler would re-decide it as
  it goes). The alternation stops after 24 rounds and keeps the bank-valid times if it has not
  settled; on streaming and random traffic it settles in two or three.
- Calls are ordered: a call's activates never go before the previous call's last activate on
  the same rank (tRRD) or its fourth-last (tFAW), and its bursts follow the previous call's on
  the data bus. Overlapping calls (issued before the previous one finished) therefore cannot
  interleave: each call ends with its busiest bank's tail. Splitting a 6000-burst random batch
  into overlapping calls of 1000 bursts measured +1 % (DDR4), +5 % (LPDDR4), +9 % (HBM2) in
  time; calls of 100 bursts +18 to +30 %. Streams are unaffected. The trace replay
  (`accelsim.sim.dram.replay`) therefore times a group of requests that arrives while an
  earlier one still waits in the queue in the same call as it.
- Refresh windows are aligned across channels and ranks (DRAMsim3's RANK_LEVEL_SIMULTANEOUS
  policy, the one the exported configs use). A row conflict across a refresh boundary is still
  charged its own precharge (the refresh made it a miss): rare, and at most tRP.
- The command bus is never a bottleneck; no power-down states; activate energy is charged per
  activate (misses + conflicts), read/write energy per bit moved, background power per channel.
- Large calls are processed in chunks of 2**20 bursts with state carried between them, so the
  call-ordering rule above applies between chunks (negligible at that size).
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import heapq
import itertools
import math
from dataclasses import dataclass

import numpy as np

from accelsim.config import checks
from accelsim.config.dram import DramConfig

__all__ = ["DramBatch", "DramModel"]

# Bursts per internal chunk: bounds the memory of one numpy pass (~20 arrays of this length).
_CHUNK_BURSTS = 1 << 20
# Rounds of (rank limits, bank timeline) alternation before giving up on a fixed point.
_MAX_SCHEDULE_ROUNDS = 24
# Rounds of (tRRD chain, tFAW chain) alternation inside the rank limits.
_MAX_RANK_ROUNDS = 16
# Timings of a call: the first finds the row hits a refresh closes, the second times them as
# misses (closings that the second timing's own delays would add are not looked for again).
_MAX_REFRESH_ROUNDS = 2


# What `DramModel.reset` sets up: the state a call reads and changes.
_STATE = ("_open_row", "_bank_activate", "_bank_column", "_bank_precharge_ready",
          "_rank_recent_activate", "_rank_recent_group", "_bus_end", "_bus_last_rank",
          "_bus_last_group", "_bus_last_write", "_closed_activates", "_closed_admitted",
          "_closed_columns", "_held_writes", "_held_since")


# ---------------------------------------------------------------------------------------------
# Batch results


@dataclass
class DramBatch:
    """Totals for one batch of bursts. Cycles are accelerator clock cycles.

    For a single batch busy_cycles == end_cycle - start_cycle. Adding batches sums the counts,
    energies and busy_cycles and spans start..end, so for batches separated by idle time
    busy_cycles < end_cycle - start_cycle.
    """

    bursts: int
    bytes_read: int
    bytes_written: int
    row_hits: int
    row_misses: int
    row_conflicts: int
    activates: int
    refreshes: int
    start_cycle: float
    end_cycle: float
    busy_cycles: float
    activate_energy_pj: float
    read_energy_pj: float
    write_energy_pj: float
    io_energy_pj: float

    @classmethod
    def empty(cls, now_cycle: float = 0.0) -> DramBatch:
        return cls(0, 0, 0, 0, 0, 0, 0, 0, float(now_cycle), float(now_cycle), 0.0,
                   0.0, 0.0, 0.0, 0.0)

    @property
    def energy_pj(self) -> float:
        """Dynamic energy: activates + reads + writes + I/O (background power not included)."""
        return (self.activate_energy_pj + self.read_energy_pj + self.write_energy_pj
                + self.io_energy_pj)

    @property
    def bytes_total(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def row_hit_rate(self) -> float:
        return self.row_hits / self.bursts if self.bursts else 0.0

    def __add__(self, other: DramBatch) -> DramBatch:
        if not isinstance(other, DramBatch):
            return NotImplemented
        if self.bursts == 0 and self.busy_cycles == 0:
            return dataclasses.replace(other)
        if other.bursts == 0 and other.busy_cycles == 0:
            return dataclasses.replace(self)
        return DramBatch(
            bursts=self.bursts + other.bursts,
            bytes_read=self.bytes_read + other.bytes_read,
            bytes_written=self.bytes_written + other.bytes_written,
            row_hits=self.row_hits + other.row_hits,
            row_misses=self.row_misses + other.row_misses,
            row_conflicts=self.row_conflicts + other.row_conflicts,
            activates=self.activates + other.activates,
            refreshes=self.refreshes + other.refreshes,
            start_cycle=min(self.start_cycle, other.start_cycle),
            end_cycle=max(self.end_cycle, other.end_cycle),
            busy_cycles=self.busy_cycles + other.busy_cycles,
            activate_energy_pj=self.activate_energy_pj + other.activate_energy_pj,
            read_energy_pj=self.read_energy_pj + other.read_energy_pj,
            write_energy_pj=self.write_energy_pj + other.write_energy_pj,
            io_energy_pj=self.io_energy_pj + other.io_energy_pj,
        )

    def __radd__(self, other):
        # lets sum(batches) start from 0
        if other == 0:
            return dataclasses.replace(self)
        return NotImplemented


# ---------------------------------------------------------------------------------------------
# Vectorized building blocks


def _segment_starts(keys: np.ndarray) -> np.ndarray:
    """True where a run of equal keys begins (keys already grouped)."""
    starts = np.empty(len(keys), dtype=bool)
    starts[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=starts[1:])
    return starts


def _segmented_cummax(values: np.ndarray, segment_of: np.ndarray) -> np.ndarray:
    """Running maximum restarted at every segment (segments contiguous, numbered 0, 1, ...).

    Each segment's first value must be finite; -inf elsewhere is allowed.
    """
    if len(values) == 0:
        return values.copy()
    finite = np.isfinite(values)
    if not finite.all():
        # -inf never wins against a segment's finite first value, so any lower finite number will do
        values = np.where(finite, values, values[finite].min() - 1.0)
    segment_count = int(segment_of[-1]) + 1
    if segment_count == 1:
        return np.maximum.accumulate(values)
    low = values.min()
    shifted = values - low
    span = float(shifted.max()) + 1.0
    if segment_count * span < 2.0 ** 42:
        # Offset each segment above all earlier ones so one running max never crosses segments;
        # keys stay below 2**42, so the round trip keeps ~1e-3-cycle precision.
        offset = segment_of * span
        return np.maximum.accumulate(shifted + offset) - offset + low
    out = np.empty_like(values)  # rare: huge spans; loop over segments, not elements
    bounds = np.flatnonzero(_segment_starts(segment_of)).tolist() + [len(values)]
    for begin, end in itertools.pairwise(bounds):
        out[begin:end] = np.maximum.accumulate(values[begin:end])
    return out


class _Chain:
    """Solver for x_k = max(lower_k, x_(k-1) + gap_k) inside each segment, for fixed gaps.

    Closed form: x_k = G_k + max_(j<=k, same segment) (lower_j - G_j), G the running sum of
    gaps restarted at each segment. G and the segment layout are computed once, so repeated
    solves (the alternating rounds of the scheduler) cost a handful of numpy passes each.
    """

    # Up to this many segments, a running max per segment slice beats the offset trick.
    _SLICE_LIMIT = 512

    def __init__(self, gap: np.ndarray, starts: np.ndarray):
        step = np.where(starts, 0.0, gap)
        running = np.cumsum(step)
        first = np.flatnonzero(starts)
        self.segment_of = np.cumsum(starts, dtype=np.int64) - 1
        self.gap_sum = running - running[first][self.segment_of]
        self.bounds = None
        if first.size <= self._SLICE_LIMIT:
            self.bounds = list(zip(first.tolist(), first[1:].tolist() + [len(starts)]))

    def solve(self, lower: np.ndarray) -> np.ndarray:
        """`lower` must be finite at every segment start; -inf elsewhere is allowed."""
        if len(lower) == 0:
            return np.asarray(lower, dtype=float)
        relative = lower - self.gap_sum
        if self.bounds is None:
            return self.gap_sum + _segmented_cummax(relative, self.segment_of)
        accumulate = np.maximum.accumulate
        for begin, end in self.bounds:
            accumulate(relative[begin:end], out=relative[begin:end])
        relative += self.gap_sum
        return relative


def _close_enough(pushed: np.ndarray, before: np.ndarray) -> bool:
    """True when a closure pass moved nothing (passes only ever push times later)."""
    return len(pushed) == 0 or float((pushed - before).max()) < 1e-6


# ---------------------------------------------------------------------------------------------
# The model


class DramModel:
    """Bulk burst-level DRAM timing and energy; state (open rows, bank/bus/activate history)
    persists across calls. See the module docstring for the model and its approximations.

    >>> from accelsim.config import dram_preset
    >>> model = DramModel(dram_preset("DDR4-3200"), accel_clock_mhz=1000.0)
    >>> batch = model.stream(0, 1 << 20, is_write=False, now_cycle=0.0)   # 1 MiB read
    >>> batch.bursts, batch.row_hits + batch.row_misses + batch.row_conflicts
    (16384, 16384)
    >>> batch.end_cycle > batch.start_cycle
    True
    """

    # hold_writes: an idle channel drains its write buffer once it holds more than this many
    # writes (DRAMsim3 controller.cc ScheduleTransaction: buffer full, or > 8 writes and the
    # command queues empty)
    idle_drain_writes = 8

    def __init__(self, config: DramConfig, accel_clock_mhz: float, hold_writes: bool = False,
                 track_last_start: bool = False):
        if not isinstance(config, DramConfig):
            checks.fail("config", "a DramConfig", config)
        self.config = config
        self.accel_clock_mhz = checks.number("accel_clock_mhz", accel_clock_mhz, positive=True)
        # closed page: every column command auto-precharges its row (see the module docstring)
        self._close_page = config.page_policy == "closed"
        # DRAM clock cycles per accelerator clock cycle
        self.dram_cycles_per_accel_cycle = (1000.0 / self.accel_clock_mhz) / config.tck_ns
        c = config
        self._burst_cycles = c.burst_cycles
        self._gap_same_group = max(c.burst_cycles, c.tccd_l_cycles)
        self._gap_same_rank = max(c.burst_cycles, c.tccd_s_cycles)
        self._hit_spacing = float(c.tccd_l_cycles)  # same bank => same bank group
        self._refresh_period = float(c.trefi_cycles)
        self._refresh_work = float(c.trefi_cycles - c.trfc_cycles)  # usable cycles per period
        # Posted writes: a channel's writes that do not fill its write buffer stay buffered
        # (untimed, uncounted) into later calls until it fills, or until `flush`, as a
        # controller's write buffer keeps them (DRAMsim3 drains at `write_buffer_depth`). Off,
        # every call drains its own remainder at its end (one call = one self-contained job).
        self.hold_writes = bool(hold_writes)
        # `last_start_cycle` after each call (a driver that queues arrivals reads it; the
        # simulator does not, and skips its passes)
        self.track_last_start = bool(track_last_start)
        self.reset()

    # ---- state ----
    def reset(self) -> None:
        """Close every bank and forget all timing history."""
        c = self.config
        n_banks, n_ranks = c.total_banks, c.channels * c.ranks
        self._open_row = np.full(n_banks, -1, dtype=np.int64)
        self._bank_activate = np.full(n_banks, -np.inf)   # last activate (work-time axis)
        self._bank_column = np.full(n_banks, -np.inf)     # last column command
        self._bank_precharge_ready = np.full(n_banks, -np.inf)  # after tRTP / write recovery
        self._rank_recent_activate = np.full((n_ranks, 4), -np.inf)  # oldest..newest
        self._rank_recent_group = np.full((n_ranks, 4), -1, dtype=np.int64)
        self._bus_end = np.full(c.channels, -np.inf)
        self._bus_last_rank = np.full(c.channels, -1, dtype=np.int64)
        self._bus_last_group = np.full(c.channels, -1, dtype=np.int64)
        self._bus_last_write = np.zeros(c.channels, dtype=bool)
        # closed page: per rank, the activates placed so far that a later call's may still
        # fall between (sorted times, their bank groups; see `_schedule_closed`)
        self._closed_activates: dict = {}
        # closed page: per channel the admission times of its last `queue_depth` bursts, per
        # bank the column times of its last `command_queue_depth` (the queues a call finds)
        self._closed_admitted: dict = {}
        self._closed_columns: dict = {}
        # hold_writes: the buffered writes' burst indices, oldest first (all channels), and
        # the real DRAM cycle of the last call that left some
        self._held_writes = np.empty(0, dtype=np.int64)
        self._held_since = -np.inf
        # the last call: the latest work-time cycle a request got its first command
        self._call_last_start = -np.inf
        # with track_last_start: the accelerator cycle the last call's latest request got its
        # first command (precharge, activate, or a row hit's column command); NaN otherwise
        self.last_start_cycle = math.nan

    def snapshot(self) -> dict:
        """A copy of the state (open rows, bank/rank/bus history, queues, held writes), for
        `restore`: a driver can time a call, look at it, and take it back."""
        return copy.deepcopy({key: value for key, value in vars(self).items()
                              if key in _STATE})

    def restore(self, state: dict) -> None:
        """Return to a `snapshot` (which stays usable)."""
        for key, value in copy.deepcopy(state).items():
            setattr(self, key, value)

    @property
    def held_writes(self) -> int:
        """Writes waiting in the write buffers (always 0 unless `hold_writes`)."""
        return int(self._held_writes.size)

    def flush(self, now_cycle: float) -> DramBatch:
        """Drain the write buffers at accelerator cycle `now_cycle` (the end of a trace, or a
        fence): times and counts every held write; an empty batch when none is held."""
        held, self._held_writes = self._held_writes, np.empty(0, dtype=np.int64)
        if held.size == 0:
            return DramBatch.empty(now_cycle)
        return self._run(iter([(held, np.ones(held.size, dtype=bool), None)]), now_cycle,
                         drain=True)

    def _drain_idle_channels(self, now_real: float) -> DramBatch | None:
        """hold_writes: the channels whose data bus went idle before `now_real` with more than
        `idle_drain_writes` writes held drain them, from when the bus went idle (or from the
        previous call's arrival, if later: the count can only have passed the threshold then),
        before this call's bursts; None when no channel does. The returned batch then starts
        before `now_real`."""
        held = self._held_writes
        channel = self.config.decode_bursts(held)["channel"]
        counts = np.bincount(channel, minlength=self.config.channels)
        idle_work = self._bus_end
        idle = (counts > self.idle_drain_writes) & (idle_work <= self._real_to_work(now_real))
        if not idle.any():
            return None
        going = idle[channel]
        self._held_writes = held[~going]
        since = max(float(idle_work[idle].max()), self._real_to_work(self._held_since))
        start_real = min(self._work_to_real(since), now_real)
        return self._run(iter([(held[going], np.ones(int(going.sum()), dtype=bool), None)]),
                         start_real / self.dram_cycles_per_accel_cycle, drain=True)

    def _with_held_writes(self, chunks):
        """hold_writes: each chunk after the writes still buffered (they arrived first), less
        each channel's writes past its last full buffer, which stay buffered for later."""
        depth = self.config.write_buffer_depth
        for burst_index, writes, arrival in chunks:
            if self._held_writes.size:
                if arrival is not None:   # held writes arrived before the call: no bound
                    arrival = np.concatenate((np.full(self._held_writes.size, -np.inf), arrival))
                burst_index = np.concatenate((self._held_writes, burst_index))
                writes = np.concatenate((np.ones(self._held_writes.size, dtype=bool), writes))
            write_at = np.flatnonzero(writes)
            if write_at.size == 0:
                self._held_writes = np.empty(0, dtype=np.int64)
                yield burst_index, writes, arrival
                continue
            channel = self.config.decode_bursts(burst_index[write_at])["channel"]
            by_channel = np.argsort(_small_int_key(channel, self.config.channels), kind="stable")
            starts = _segment_starts(channel[by_channel])
            first = np.flatnonzero(starts)
            segment_of = np.cumsum(starts, dtype=np.int64) - 1
            k = np.arange(write_at.size) - first[segment_of]            # k-th write of its channel
            size = np.diff(np.append(first, write_at.size))[segment_of]
            held = np.zeros(writes.size, dtype=bool)
            held[write_at[by_channel]] = k >= (size // depth) * depth
            self._held_writes = burst_index[held]
            yield (burst_index[~held], writes[~held],
                   None if arrival is None else arrival[~held])

    # ---- energy ----
    def background_energy_pj(self, cycles: float) -> float:
        """Standby + refresh energy of all channels over `cycles` accelerator cycles."""
        nanoseconds = float(cycles) * 1000.0 / self.accel_clock_mhz
        return self.config.background_power_mw * self.config.channels * nanoseconds  # mW*ns = pJ

    # ---- time axes ----
    def _real_to_work(self, real_dram_cycle: float) -> float:
        """Real DRAM time -> refresh-free work time (refresh windows removed)."""
        period, work = self._refresh_period, self._refresh_work
        k = math.floor(real_dram_cycle / period)
        return k * work + min(real_dram_cycle - k * period, work)

    def _real_to_work_array(self, real_dram_cycle: np.ndarray) -> np.ndarray:
        """`_real_to_work` for an array."""
        period, work = self._refresh_period, self._refresh_work
        k = np.floor(real_dram_cycle / period)
        return k * work + np.minimum(real_dram_cycle - k * period, work)

    def _work_to_real(self, work_cycle: float) -> float:
        """Work time -> real DRAM time: a tRFC window follows every tREFI - tRFC work cycles."""
        period, work = self._refresh_period, self._refresh_work
        k = math.floor(work_cycle / work)
        return k * period + (work_cycle - k * work)

    def _refresh_windows(self, real_start: float, real_end: float) -> int:
        """REF windows starting in [real_start, real_end); they start at k*tREFI + tREFI - tRFC."""
        period, work = self._refresh_period, self._refresh_work
        count = math.ceil((real_end - work) / period) - math.ceil((real_start - work) / period)
        return max(count, 0)

    # ---- public access ----
    def access(self, byte_addresses, is_write, now_cycle: float,
               arrival_cycles=None) -> DramBatch:
        """Issue one burst per address, in the given order, at accelerator cycle `now_cycle`.

        Addresses are aligned down to the burst size. `is_write` is one bool or one per address.
        `arrival_cycles` (optional, one per address, each >= `now_cycle`, non-decreasing not
        required): the accelerator cycle each request reaches the controller; a request's
        commands never go before it. Without it every request arrives at `now_cycle`.
        """
        addresses = np.asarray(byte_addresses)
        if addresses.ndim != 1:
            addresses = addresses.reshape(-1)
        if addresses.size and not np.issubdtype(addresses.dtype, np.integer):
            raise ValueError(f"byte_addresses must be integers, got dtype {addresses.dtype}")
        addresses = addresses.astype(np.int64, copy=False)
        if addresses.size and addresses.min() < 0:
            raise ValueError("byte_addresses must be non-negative")
        writes = np.asarray(is_write, dtype=bool)
        if writes.ndim == 0:
            writes = np.full(addresses.size, bool(writes))
        elif writes.shape != addresses.shape:
            raise ValueError(
                f"is_write has shape {writes.shape}; expected one bool or shape {addresses.shape}"
            )
        bursts = addresses // self.config.burst_bytes
        arrival = None
        if arrival_cycles is not None:
            arrival = np.asarray(arrival_cycles, dtype=float).reshape(-1)
            if arrival.shape != addresses.shape:
                raise ValueError(f"arrival_cycles has shape {arrival.shape}; expected "
                                 f"{addresses.shape}")
            if arrival.size and not (np.isfinite(arrival).all()
                                     and arrival.min() >= float(now_cycle)):
                raise ValueError(f"arrival_cycles must be finite and >= now_cycle "
                                 f"({float(now_cycle)}), got minimum {arrival.min()}")
            arrival = self._real_to_work_array(arrival * self.dram_cycles_per_accel_cycle)

        def chunks():
            for begin in range(0, bursts.size, _CHUNK_BURSTS):
                end = begin + _CHUNK_BURSTS
                yield (bursts[begin:end], writes[begin:end],
                       None if arrival is None else arrival[begin:end])

        return self._run(chunks(), now_cycle)

    def stream(self, base_byte_address: int, n_bytes: int, is_write: bool,
               now_cycle: float) -> DramBatch:
        """Read or write the contiguous region [base, base + n_bytes), one burst at a time."""
        if base_byte_address < 0 or n_bytes < 0:
            raise ValueError(
                f"stream needs base_byte_address >= 0 and n_bytes >= 0, got {base_byte_address}, "
                f"{n_bytes}"
            )
        burst_bytes = self.config.burst_bytes
        if n_bytes == 0:
            return self._run(iter(()), now_cycle)
        first = int(base_byte_address) // burst_bytes
        stop = (int(base_byte_address) + int(n_bytes) - 1) // burst_bytes + 1
        write = bool(is_write)

        def chunks():
            for begin in range(first, stop, _CHUNK_BURSTS):
                end = min(begin + _CHUNK_BURSTS, stop)
                yield np.arange(begin, end, dtype=np.int64), np.full(end - begin, write), None

        return self._run(chunks(), now_cycle)

    # ---- batch driver ----
    def _run(self, chunks, now_cycle: float, drain: bool = False) -> DramBatch:
        c = self.config
        now_cycle = float(now_cycle)
        now_real = now_cycle * self.dram_cycles_per_accel_cycle
        now_work = self._real_to_work(now_real)
        totals = np.zeros(5, dtype=np.int64)  # hits, misses, conflicts, bytes_read, bytes_written
        end_work = -np.inf
        bursts = 0
        early = None
        if self.hold_writes and not drain:
            if self._held_writes.size:
                early = self._drain_idle_channels(now_real)
            chunks = self._with_held_writes(chunks)
        self._call_last_start = -np.inf
        for burst_index, writes, arrival in chunks:
            if burst_index.size == 0:
                continue
            hits, misses, conflicts, chunk_end = self._schedule(burst_index, writes, now_work,
                                                                arrival)
            n_written = int(np.count_nonzero(writes))
            totals += (hits, misses, conflicts, (burst_index.size - n_written) * c.burst_bytes,
                       n_written * c.burst_bytes)
            bursts += burst_index.size
            end_work = max(end_work, chunk_end)
        if self.hold_writes and not drain and self._held_writes.size:
            self._held_since = now_real
        if self.track_last_start:
            started = (self._work_to_real(self._call_last_start)
                       if math.isfinite(self._call_last_start) else now_real)
            self.last_start_cycle = max(started, now_real) / self.dram_cycles_per_accel_cycle
        if bursts == 0:
            empty = DramBatch.empty(now_cycle)
            return empty if early is None else early + empty
        end_real = max(self._work_to_real(end_work), now_real)
        end_cycle = end_real / self.dram_cycles_per_accel_cycle
        hits, misses, conflicts, bytes_read, bytes_written = (int(v) for v in totals)
        activates = misses + conflicts
        batch = DramBatch(
            bursts=bursts,
            bytes_read=bytes_read,
            bytes_written=bytes_written,
            row_hits=hits,
            row_misses=misses,
            row_conflicts=conflicts,
            activates=activates,
            refreshes=self._refresh_windows(now_real, end_real) * c.channels * c.ranks,
            start_cycle=now_cycle,
            end_cycle=end_cycle,
            busy_cycles=end_cycle - now_cycle,
            activate_energy_pj=activates * c.activate_energy_pj,
            read_energy_pj=bytes_read * 8 * c.read_energy_pj_per_bit,
            write_energy_pj=bytes_written * 8 * c.write_energy_pj_per_bit,
            io_energy_pj=(bytes_read + bytes_written) * 8 * c.io_energy_pj_per_bit,
        )
        return batch if early is None else early + batch

    # ---- the timeline (work-time axis, DRAM cycles) ----
    def _drain_order(self, channel: np.ndarray, writes: np.ndarray):
        """The order a controller with a write buffer serves a call's bursts in (None: as
        given). Reads go in arrival order; each channel's writes wait in its buffer of
        `write_buffer_depth` and go out all at once when it fills (DRAMsim3 drains the whole
        buffer), the remainder when the call's reads are done (the controller is idle)."""
        n = writes.size
        if n == 0 or writes.all() or not writes.any():
            return None
        depth = self.config.write_buffer_depth
        write_at = np.flatnonzero(writes)
        by_channel = np.argsort(_small_int_key(channel[write_at], self.config.channels),
                                kind="stable")
        starts = _segment_starts(channel[write_at][by_channel])
        first = np.flatnonzero(starts)
        segment_of = np.cumsum(starts, dtype=np.int64) - 1
        k = np.arange(write_at.size) - first[segment_of]                # k-th write of its channel
        size = np.diff(np.append(first, write_at.size))[segment_of]
        trigger = (k // depth + 1) * depth - 1                           # the write that fills it
        released_at = np.where(trigger < size,
                               write_at[by_channel][first[segment_of]
                                                    + np.minimum(trigger, size - 1)],
                               n)
        key = np.arange(n)
        key[write_at[by_channel]] = released_at
        return np.lexsort((np.arange(n), key))

    def _may_reorder(self, row: np.ndarray) -> bool:
        """False when FR-FCFS cannot change the order: rows never go down in issue order and
        none is below a row left open, so every bank meets its rows in ascending order, each
        row in one run, its open row (the lowest) first (streams take this exit)."""
        return row.size >= 2 and not ((self._open_row.max() <= row[0])
                                      and not (row[1:] < row[:-1]).any())

    def _rows_by_bank(self, bank: np.ndarray, row: np.ndarray):
        """Bursts grouped by bank (banks in order of first use, issue order inside): the
        permutation, banks, rows, where each bank starts, and the row open before each."""
        by_bank = _group_by_first_use(bank, self.config.total_banks)
        bank_s, row_s = bank[by_bank], row[by_bank]
        first_of_bank = _segment_starts(bank_s)
        previous_row = np.empty(bank.size, dtype=np.int64)
        previous_row[1:] = row_s[:-1]
        previous_row[first_of_bank] = self._open_row[bank_s[first_of_bank]]
        return by_bank, bank_s, row_s, first_of_bank, previous_row

    def _in_order_columns(self, n, now, writes, channel, rank, group, row, bank, arrival,
                          bus_by_ready) -> np.ndarray:
        """Column-command times (issue order) of the bursts served in arrival order, without
        refresh closings; changes no state."""
        c = self.config
        by_bank, bank_s, row_s, first_of_bank, previous_row = self._rows_by_bank(bank, row)
        timed = self._timeline(c, n, now, writes, channel, rank, group, by_bank, bank_s,
                               first_of_bank, previous_row == row_s, previous_row < 0,
                               np.zeros(n), {}, arrival[by_bank], bus_by_ready)
        column = np.empty(n)
        column[by_bank] = timed["column_s"]
        return column

    def _queue_windows(self, channel_sorted: np.ndarray, arrival: np.ndarray,
                       head_column: np.ndarray | None) -> np.ndarray:
        """Window number of each burst (channel-grouped order, issue order inside a channel).

        A window holds up to `queue_depth` consecutive requests of a channel; with
        `head_column` (requests arriving over time) it also ends before the first request that
        arrives after the window's oldest request was issued (its column command, served in
        arrival order): the two were never in the queue together."""
        depth = self.config.queue_depth
        n = channel_sorted.size
        starts = _segment_starts(channel_sorted)
        first = np.flatnonzero(starts)
        segment_of = np.cumsum(starts, dtype=np.int64) - 1
        position = np.arange(n) - first[segment_of]
        if head_column is None:
            return (segment_of * n + position // depth).astype(np.int64)
        bounds = np.append(first, n)
        window_start = np.zeros(n, dtype=bool)
        for begin, stop in itertools.pairwise(bounds.tolist()):
            arrived = np.maximum.accumulate(arrival[begin:stop])
            here = np.arange(begin, stop)
            reach = begin + np.searchsorted(arrived, head_column[begin:stop], side="right")
            reach_list = np.clip(reach, here + 1, np.minimum(here + depth, stop)).tolist()
            k = begin
            while k < stop:
                window_start[k] = True
                k = reach_list[k - begin]
        return np.cumsum(window_start, dtype=np.int64) - 1

    def _first_ready_order(self, channel: np.ndarray, bank: np.ndarray, row: np.ndarray,
                           arrival: np.ndarray, head_column: np.ndarray | None):
        """The order an FR-FCFS controller with a queue of `queue_depth` requests per channel
        issues a call's bursts in (None: as given).

        Each channel's requests are cut into windows of `queue_depth` consecutive requests (what
        the queue holds together; with `head_column`, requests arriving over time, a window
        also ends before a request that arrives after the window's oldest request was issued,
        see `_queue_windows`). Within a window, each bank serves first the requests to the
        row it has open (a row hit goes ahead of an older conflict), then the other rows, oldest
        row first, each row's requests together; the bank's requests keep the window's slots of
        that bank, so the other banks' order and the channel's interleaving do not change. The
        open row of a window is the bank's open row for its first window, else the row of the
        bank's last request in the window before (approximation: a controller that reordered
        that window may have left another row open). Cost: a few passes; a sort only over
        the (window, bank) groups whose order changes.
        """
        n = bank.size
        if not self._may_reorder(row):
            return None
        by_bank = np.argsort(_small_int_key(bank, self.config.total_banks), kind="stable")
        by_channel = (np.argsort(_small_int_key(channel, self.config.channels), kind="stable")
                      if self.config.channels > 1 else np.arange(n))
        window = np.empty(n, dtype=np.int64)
        window[by_channel] = self._queue_windows(
            channel[by_channel], arrival[by_channel],
            None if head_column is None else head_column[by_channel])
        window = window[by_bank]
        bank_b, row_b = bank[by_bank], row[by_bank]
        new_bank = _segment_starts(bank_b)
        group_start = new_bank.copy()
        group_start[1:] |= window[1:] != window[:-1]
        # the row open when the window starts (see above)
        preferred = np.empty(n, dtype=np.int64)
        preferred[1:] = row_b[:-1]
        preferred[new_bank] = self._open_row[bank_b[new_bank]]
        group_of = np.cumsum(group_start) - 1
        group_first = np.flatnonzero(group_start)
        preferred = preferred[group_first][group_of]
        # runs of one row inside a group; a group is already in FR-FCFS order when it is one run,
        # or two runs of which the second is not the open row
        run_start = group_start.copy()
        run_start[1:] |= row_b[1:] != row_b[:-1]
        runs = np.bincount(group_of, weights=run_start, minlength=group_first.size)
        second_run = np.flatnonzero(run_start & ~group_start)
        second_is_open = np.zeros(group_first.size, dtype=bool)
        second_is_open[group_of[second_run]] = row_b[second_run] == preferred[second_run]
        reorder = (runs >= 3) | ((runs == 2) & second_is_open)
        if not reorder.any():
            return None
        members = np.flatnonzero(reorder[group_of])                      # by-bank positions
        g, r = group_of[members], row_b[members]
        # first appearance of each (group, row) among the members: rows served oldest first
        # (stable sorts of one integer key each; members are ascending, so ties stay in order)
        by_row = np.argsort(g * (int(r.max()) + 1) + r, kind="stable")
        row_first = _segment_starts(g[by_row]) | _segment_starts(r[by_row])
        first_member = np.empty(members.size, dtype=np.int64)
        first_seen = np.flatnonzero(row_first)                           # index into members
        first_member[by_row] = by_row[first_seen][np.cumsum(row_first) - 1]
        not_open = r != preferred[members]
        # (group, open row first, row's first appearance); first_member < members.size
        key = (g * 2 + not_open) * members.size + first_member
        served = members[np.argsort(key, kind="stable")]
        if np.array_equal(served, members):
            return None
        permuted = by_bank.copy()
        permuted[members] = by_bank[served]          # each group keeps its slots, in new order
        order = np.arange(n)
        order[by_bank] = permuted
        return order

    def _schedule(self, burst_index: np.ndarray, writes: np.ndarray, now: float,
                  arrival: np.ndarray | None = None):
        """Time one chunk of bursts (arrival order); update state. Returns counts and last end.

        With a write drain inside the chunk, the bursts are timed phase by phase (a run of
        reads, then a drained batch of writes, ...), each phase after the state the one before
        left: while the write buffer drains the reads wait in their queue (DRAMsim3's
        controller moves no read to the bank queues until the drain's writes are all queued),
        so a bank's switch from one phase's row to the next starts after its last column
        command of the phase on the data bus, not earlier. Closed-page calls go to
        `_schedule_closed` (one pass, in write-buffer order).
        """
        fields = self.config.decode_bursts(burst_index)
        # each request's arrival (work time), never before the call
        fields["arrival"] = (np.full(writes.size, now) if arrival is None
                             else np.maximum(arrival, now))
        order = self._drain_order(fields["channel"], writes)
        if order is None and not self._close_page:
            return self._schedule_phase(fields, writes, now)
        if order is not None:
            writes = writes[order]
            fields = {key: value[order] for key, value in fields.items()}
        if self._close_page:
            return self._schedule_closed(fields, writes, now)
        cuts = set((np.flatnonzero(writes[1:] != writes[:-1]) + 1).tolist())
        bounds = [0, *sorted(cuts), writes.size]
        hits = misses = conflicts = 0
        end = -np.inf
        for begin, stop in itertools.pairwise(bounds):
            phase = {key: value[begin:stop] for key, value in fields.items()}
            if writes[begin]:
                h, m, k, phase_end = self._schedule_phase(phase, writes[begin:stop], now, True)
            else:
                # a run of reads: the data bus takes the order, of issue order and data-ready
                # order, that ends the run first (see the module docstring)
                before = self.snapshot()
                ready = self._schedule_phase(phase, writes[begin:stop], now, True)
                after_ready = self.snapshot()
                self.restore(before)
                h, m, k, phase_end = self._schedule_phase(phase, writes[begin:stop], now, False)
                if ready[3] < phase_end:
                    self.restore(after_ready)
                    h, m, k, phase_end = ready
            hits, misses, conflicts, end = hits + h, misses + m, conflicts + k, max(end, phase_end)
        return hits, misses, conflicts, end

    def _schedule_closed(self, fields: dict, writes: np.ndarray, now: float):
        """Closed page: time bursts (in write-buffer release order) that each activate a row.

        Every burst is ACT + column-with-auto-precharge, so the time is set by how many banks
        work at once, i.e. which requests the controller lets a bank prepare for. DRAMsim3
        (controller.cc ScheduleTransaction, command_queue.cc) holds `queue_depth` transactions
        per channel and moves the oldest one whose bank's command queue (PER_BANK, depth
        `command_queue_depth`) has room into that queue; a command leaves its queue when its
        column command issues. So burst i may activate once it is in its bank's command
        queue: the burst `command_queue_depth` before it in its bank has issued its column
        command, and it has entered the transaction queue, which takes bursts in arrival order
        while fewer than `queue_depth` wait there (later bursts pass one that waits for its
        bank). A bank serves its own requests in order; the bank that can activate earliest
        goes next (`_list_schedule`), under tRC, the auto-precharge (tRTP after a read,
        tCWL + BL/2 + tWR after a write, then tRP), tRRD and tFAW. The queues and the rank's
        activates carry over between calls, so a later call's activates may go between an
        earlier call's. The data bus then takes the bursts as their data is ready
        (vectorized); a bus delay does not feed back into the bank's precharge within the
        call, and a call's data does not wait for an earlier call's (closed page never fills
        the bus: four activates per tFAW bring fewer bursts than it carries).

        Approximations: reads and writes share the one transaction queue (DRAMsim3 keeps a
        read queue and a write buffer and holds the reads while the buffer drains; separate
        queues without that hold measured -20 % DDR4, -29 % LPDDR4, +4 % HBM2 on the tile
        parity rows); DRAMsim3's one command per cycle is not modelled.
        """
        c = self.config
        n = writes.size
        channel, group = fields["channel"], fields["bank_group"]
        rank = channel * c.ranks + fields["rank"]
        bank = (rank * c.bank_groups + group) * c.banks_per_group + fields["bank"]
        # (the config fills these in; the fallbacks only satisfy the optional types)
        tcwl = c.tcwl_cycles if c.tcwl_cycles is not None else c.tcl_cycles
        twr = c.twr_cycles if c.twr_cycles is not None else 0
        post_column = np.where(writes, tcwl + self._burst_cycles + twr, float(c.trtp_cycles))
        trc, trcd, trp = float(c.trc_cycles), float(c.trcd_cycles), float(c.trp_cycles)
        trrd_s, trrd_l, tfaw = float(c.trrd_s_cycles), float(c.trrd_l_cycles), float(c.tfaw_cycles)
        queue_depth, command_depth = c.queue_depth, c.command_queue_depth
        # per rank: the activates of earlier calls that this call's may still fall between
        # (those from tFAW before now on), sorted, with their bank groups
        rank_times: dict = {}
        rank_groups: dict = {}
        for r in np.unique(rank).tolist():
            times, groups = self._closed_activates.get(r, ([], []))
            keep = bisect.bisect_left(times, now - tfaw)
            rank_times[r], rank_groups[r] = times[keep:], groups[keep:]
        activate = _list_schedule(
            channel.tolist(), bank.tolist(), rank.tolist(), group.tolist(),
            post_column.tolist(), fields["arrival"].tolist(), now, self._bank_activate,
            self._bank_precharge_ready,
            rank_times, rank_groups, self._closed_admitted, self._closed_columns,
            dict(queue=queue_depth, command=command_depth, trc=trc, trcd=trcd, trp=trp,
                 trrd_s=trrd_s, trrd_l=trrd_l, tfaw=tfaw))
        column = activate + trcd
        latency = np.where(writes, tcwl, c.tcl_cycles) + self._burst_cycles
        data_ready = column + latency
        bus = self._bus_parts(c, n, writes, channel, rank, group,
                              np.lexsort((data_ready, channel)))
        by_channel, first_of_channel = bus["by_channel"], bus["first_of_channel"]
        # Calls overlap: a call's data may go between an earlier call's (its activates do), so
        # its first burst does not wait for the earlier call's last. The bus is never the
        # bottleneck here (four activates per tFAW bring fewer bursts than the bus carries),
        # so the overlaps this allows are rare and short.
        bus_end = bus["bus_chain"].solve(data_ready[by_channel])

        # carry the state: banks (the precharge after the last column command as the bus
        # placed it), each rank's last four activates, each channel's bus
        bus_column = np.empty(n)
        bus_column[by_channel] = bus_end - latency[by_channel]
        last_of_bank = np.zeros(n, dtype=bool)
        last_of_bank[n - 1 - np.unique(bank[::-1], return_index=True)[1]] = True
        last_banks = bank[last_of_bank]
        self._open_row[last_banks] = -1
        self._bank_activate[last_banks] = activate[last_of_bank]
        self._bank_column[last_banks] = np.maximum(column, bus_column)[last_of_bank]
        self._bank_precharge_ready[last_banks] = (self._bank_column[last_banks]
                                                  + post_column[last_of_bank])
        for r, times in rank_times.items():
            self._closed_activates[r] = (times, rank_groups[r])
            self._rank_recent_activate[r] = -np.inf
            self._rank_recent_group[r] = -1
            recent = times[-4:]
            self._rank_recent_activate[r, 4 - len(recent):] = recent
            self._rank_recent_group[r, 4 - len(recent):] = rank_groups[r][-4:]
        ch_b = bus["ch_b"]
        last_of_channel = np.append(first_of_channel[1:], True)
        ch_last = ch_b[last_of_channel]
        self._bus_end[ch_last] = bus_end[last_of_channel]
        self._bus_last_rank[ch_last] = bus["rank_b"][last_of_channel]
        self._bus_last_group[ch_last] = bus["group_b"][last_of_channel]
        self._bus_last_write[ch_last] = bus["write_b"][last_of_channel]
        self._call_last_start = max(self._call_last_start, float(activate.max()))
        return 0, n, 0, float(bus_end.max())

    def _schedule_phase(self, fields: dict, writes: np.ndarray, now: float,
                        bus_by_ready: bool = False):
        """Time bursts in the order the write buffer releases them (decoded `fields`)."""
        c = self.config
        n = writes.size
        channel, group, row = fields["channel"], fields["bank_group"], fields["row"]
        arrival = fields["arrival"]
        rank = channel * c.ranks + fields["rank"]                        # global rank id
        bank = (rank * c.bank_groups + group) * c.banks_per_group + fields["bank"]

        # -- 0. refresh precharges every bank: a row left open before the last refresh window
        # (work-time boundaries k * (tREFI - tRFC)) is closed when this call starts --
        work = self._refresh_work
        refreshed = np.floor(self._bank_column / work) < math.floor(now / work)
        self._open_row[refreshed] = -1

        # -- 0b. FR-FCFS within the request queue: row hits first, then oldest first --
        order = None
        if not self._close_page:
            head_column = None
            if arrival.max() > now and self._may_reorder(row):
                # requests that arrive over time share the queue only while the older ones
                # wait: their column times in arrival order bound the FR-FCFS windows
                head_column = self._in_order_columns(n, now, writes, channel, rank, group,
                                                     row, bank, arrival, bus_by_ready)
            order = self._first_ready_order(channel, bank, row, arrival, head_column)
        if order is not None:
            channel, group, row, rank, bank, writes, arrival = (
                a[order] for a in (channel, group, row, rank, bank, writes, arrival))

        # -- 1. row-buffer outcome per bank, in issue order --
        by_bank, bank_s, row_s, first_of_bank, previous_row = self._rows_by_bank(bank, row)
        if self._close_page:
            # every burst finds its bank closed (the previous column command precharged it)
            row_hit = np.zeros(n, dtype=bool)
            row_closed = np.ones(n, dtype=bool)
        else:
            row_hit = previous_row == row_s
            row_closed = previous_row < 0
        # bursts whose row a refresh closed inside this call (found by timing, see below), and
        # the work time of that refresh boundary (the new activate goes after it)
        refresh_closed = np.zeros(n, dtype=bool)
        refresh_boundary = np.zeros(n)
        # the parts of the timeline that do not depend on the outcomes (both rounds)
        fixed: dict = {}
        for round_ in range(_MAX_REFRESH_ROUNDS):
            timed = self._timeline(c, n, now, writes, channel, rank, group, by_bank, bank_s,
                                   first_of_bank, row_hit & ~refresh_closed,
                                   row_closed | refresh_closed, refresh_boundary, fixed,
                                   arrival[by_bank], bus_by_ready)
            if round_ == _MAX_REFRESH_ROUNDS - 1:
                break
            column_s = timed["column_s"]
            # a hit whose column command falls after a refresh boundary that the previous
            # column command of its bank came before finds its row closed
            previous_column = np.empty(n)
            previous_column[1:] = column_s[:-1]
            previous_column[first_of_bank] = self._bank_column[bank_s[first_of_bank]]
            before = np.floor(previous_column / work)
            crossed = row_hit & (np.floor(column_s / work) > before)
            if not crossed.any():
                break
            refresh_closed = crossed
            refresh_boundary = np.where(crossed, (before + 1.0) * work, 0.0)
        hit = row_hit & ~refresh_closed
        n_hits = int(np.count_nonzero(hit))
        n_misses = int(np.count_nonzero(row_closed | refresh_closed))
        n_conflicts = n - n_hits - n_misses
        self._commit(timed, n, writes, by_bank, bank_s, row_s, first_of_bank, bus_by_ready)
        if not self.track_last_start:
            return n_hits, n_misses, n_conflicts, float(timed["bus_end"].max())
        # when each request got its first command (precharge, activate, or a hit's column
        # command as the data bus placed it): the call's queue is empty after the latest
        by_channel = timed["by_channel"]
        bus_column = timed["bus_end"] - (timed["latency"] if by_channel is None
                                         else timed["latency"][by_channel])
        column = np.empty(n)
        if by_channel is None:
            column[:] = bus_column
        else:
            column[by_channel] = bus_column
        lead = np.where(hit, 0.0, c.trcd_cycles + np.where(row_closed | refresh_closed, 0.0,
                                                           c.trp_cycles))
        started = column[by_bank] - lead
        self._call_last_start = max(self._call_last_start, float(started.max()))
        return n_hits, n_misses, n_conflicts, float(timed["bus_end"].max())

    def _fixed_parts(self, c, n, writes, channel, rank, group, by_bank, fixed) -> None:
        """Fill `fixed` (see `_timeline`): the per-burst waits and the data bus's gap chain."""
        # the precharge after an episode waits tRTP after a read, write recovery after a write
        post_column = np.where(writes, c.tcwl_cycles + self._burst_cycles + c.twr_cycles,
                               float(c.trtp_cycles))
        fixed["post_column"] = post_column
        fixed["post_by_bank"] = post_column[by_bank]
        fixed["latency"] = np.where(writes, c.tcwl_cycles, c.tcl_cycles) + self._burst_cycles
        by_channel = (np.argsort(_small_int_key(channel, c.channels), kind="stable")
                      if c.channels > 1 else None)
        fixed.update(self._bus_parts(c, n, writes, channel, rank, group, by_channel))

    def _bus_parts(self, c, n, writes, channel, rank, group, by_channel) -> dict:
        """The data bus's order (`by_channel`: a permutation grouping the channels, None for
        issue order on one channel), its gaps (as a `_Chain`) and each channel's start."""
        if by_channel is not None:
            ch_b, rank_b, group_b = channel[by_channel], rank[by_channel], group[by_channel]
            write_b = writes[by_channel]
        else:
            ch_b, rank_b, group_b, write_b = channel, rank, group, writes
        first_of_channel = _segment_starts(ch_b)
        previous_rank = np.empty(n, dtype=np.int64)
        previous_group = np.empty(n, dtype=np.int64)
        previous_rank[1:], previous_group[1:] = rank_b[:-1], group_b[:-1]
        previous_rank[first_of_channel] = self._bus_last_rank[ch_b[first_of_channel]]
        previous_group[first_of_channel] = self._bus_last_group[ch_b[first_of_channel]]
        previous_write = np.empty(n, dtype=bool)
        previous_write[1:] = write_b[:-1]
        previous_write[first_of_channel] = self._bus_last_write[ch_b[first_of_channel]]
        same_rank = previous_rank == rank_b
        same_group = same_rank & (previous_group == group_b)
        bus_gap = np.where(same_group, self._gap_same_group,
                           np.where(same_rank, self._gap_same_rank, self._burst_cycles))
        # Turnarounds, as gaps between the ends of data on the bus (DRAMsim3 timing.cc's
        # command gaps plus the two latencies): read -> write BL/2 + tRTRS; write -> read
        # tWTR (L in the same bank group) + tCL + BL/2; across ranks BL/2 + tRTRS.
        turn = previous_write != write_b
        write_to_read = turn & ~write_b
        bus_gap = np.where(turn, self._burst_cycles + c.trtrs_cycles, bus_gap)
        bus_gap = np.where(write_to_read & same_rank,
                           np.where(same_group, c.twtr_l_cycles, c.twtr_s_cycles)
                           + c.tcl_cycles + self._burst_cycles, bus_gap)
        return dict(
            by_channel=by_channel, first_of_channel=first_of_channel, ch_b=ch_b, rank_b=rank_b,
            group_b=group_b, write_b=write_b, bus_chain=_Chain(bus_gap, first_of_channel),
            bus_start=self._bus_end[ch_b[first_of_channel]] + bus_gap[first_of_channel])

    def _timeline(self, c, n, now, writes, channel, rank, group, by_bank, bank_s,
                  first_of_bank, hit, miss, refresh_boundary, fixed, arrival_s,
                  bus_by_ready=False):
        """Steps 2-5 for one outcome per burst (by-bank order); changes no state.

        `fixed` (a dict, empty on the first call) keeps what depends only on the issue order and
        the read/write mix (the data bus's gaps, the latencies, the precharge waits), so a second
        timing of the same call (refresh closings) recomputes only what the outcomes change.
        """
        if not fixed:
            self._fixed_parts(c, n, writes, channel, rank, group, by_bank, fixed)

        # -- 2. episodes: an activate (or the continuation of a row left open) plus its hits --
        episode_start = first_of_bank | ~hit
        episode_first = np.flatnonzero(episode_start)                    # index in by-bank order
        episode_of = np.cumsum(episode_start, dtype=np.int64) - 1
        position = np.arange(n) - episode_first[episode_of]             # j-th burst of its episode
        episode_size = np.diff(np.append(episode_first, n))
        episode_bank = bank_s[episode_first]
        episode_opens = ~hit[episode_first]                              # has its own activate

        # continuation episodes: hits on the row an earlier call left open
        continuation = np.flatnonzero(~episode_opens)
        # a request's commands never go before it arrives (arrival_s: work time, >= now)
        uniform = bool(arrival_s.size == 0 or arrival_s.max() <= now)
        continuation_column = np.maximum(
            self._bank_column[episode_bank[continuation]] + self._hit_spacing,
            arrival_s[episode_first[continuation]])
        continuation_last = (continuation_column
                             + (episode_size[continuation] - 1) * self._hit_spacing)
        post_column = fixed["post_column"]
        last_in_episode = np.append(episode_first[1:] - 1, n - 1)          # by-bank order
        episode_post = fixed["post_by_bank"][last_in_episode]
        if not uniform:
            continuation_last = np.maximum(continuation_last,
                                           arrival_s[last_in_episode[continuation]])

        # -- 3. bank timeline for the episodes that activate (grouped by bank, issue order) --
        opens = np.flatnonzero(episode_opens)
        plan = priority = None
        activate_time = np.empty(0)
        if opens.size:
            o_bank = episode_bank[opens]
            o_size = episode_size[opens]
            o_first = _segment_starts(o_bank)
            # the bank's state before its first activate here: earlier calls, or a continuation
            prior_activate = self._bank_activate[o_bank]
            prior_precharge = self._bank_precharge_ready[o_bank]
            after_continuation = o_first & ~first_of_bank[episode_first[opens]]
            if continuation.size:
                # a continuation is always its bank's first episode, so it sits just before
                where_cont = np.searchsorted(continuation, opens[after_continuation] - 1)
                prior_precharge[after_continuation] = (
                    continuation_last[where_cont] + episode_post[continuation[where_cont]])
            request_arrival = arrival_s[episode_first[opens]]
            request_ready = request_arrival + np.where(miss[episode_first[opens]], 0.0,
                                                       c.trp_cycles)
            # an activate after a refresh closed the row goes after that refresh
            o_boundary = refresh_boundary[episode_first[opens]]
            earliest = np.maximum(np.maximum(request_ready, prior_activate + c.trc_cycles),
                                  prior_precharge + c.trp_cycles)
            # Every new activate of a rank follows that rank's activates from earlier calls
            # (tRRD after the last, tFAW after the fourth-last). Putting this bound in now
            # changes no final time, but keeps the bank-only times, and so the priority order
            # below, realistic when calls overlap.
            o_burst = by_bank[episode_first[opens]]                      # issue index
            o_rank, o_group = rank[o_burst], group[o_burst]
            recent = self._rank_recent_activate[o_rank]
            rank_bound = np.maximum(recent[:, 3] + c.trrd_s_cycles, recent[:, 0] + c.tfaw_cycles)
            earliest = np.maximum(earliest, rank_bound)
            # A row that a refresh closed: the refresh's precharge-all (inside its tRFC window,
            # which the work axis leaves out) replaces this bank's own precharge, so the activate
            # waits only for the request, the rank limits and the end of that refresh.
            o_refresh = o_boundary > 0.0
            earliest = np.where(o_refresh & o_first,
                                np.maximum(np.maximum(request_arrival, rank_bound), o_boundary),
                                earliest)
            # later episodes are bound by the chain, by their request (activate after it
            # arrives and the open row is closed) and, as the chain assumes its hits back to
            # back, by the previous episode's last request (its precharge follows that request)
            if uniform:
                earliest[~o_first] = now - 1.0       # the chain alone binds (all arrived at now)
            else:
                later = np.flatnonzero(~o_first)
                previous = opens[later] - 1                              # same bank, by-bank order
                earliest[later] = np.maximum(
                    request_ready[later],
                    arrival_s[last_in_episode[previous]] + episode_post[previous] + c.trp_cycles)
            # the priority order below comes from the times without the refresh bounds: in
            # busy traffic the rank limits, not the bank, set when an activate goes, so a bound
            # in bank-only time would move the activate far down the order
            unbounded = earliest
            earliest = np.maximum(earliest, o_boundary)
            # activate-to-next-activate of one bank, carried to its following episode
            occupancy = np.maximum(c.trc_cycles,
                                   c.trcd_cycles + (o_size - 1) * self._hit_spacing
                                   + episode_post[opens] + c.trp_cycles)
            gap_from_previous = np.empty(opens.size)
            gap_from_previous[0] = 0.0
            gap_from_previous[1:] = occupancy[:-1]
            if o_refresh.any():
                activate_time = _Chain(gap_from_previous, o_first).solve(unbounded)
                gap_from_previous[o_refresh] = 0.0
                bank_chain = _Chain(gap_from_previous, o_first)
            else:
                bank_chain = _Chain(gap_from_previous, o_first)
                activate_time = bank_chain.solve(earliest)

            # -- 4. rank activate limits (tRRD, tFAW), alternating with the bank timeline --
            # Priority: rank, then bank-only time; ties keep the by-bank order (banks in order of
            # first use, then issue order), so equal-time rounds list the banks in the same order
            # and a bank recurs a whole round later: bank stalls, and rounds, stay rare.
            low = activate_time.min()
            span = float(activate_time.max() - low) + 1.0
            priority = np.argsort(o_rank * span + (activate_time - low), kind="stable")
            if o_refresh.any():
                activate_time = bank_chain.solve(earliest)
            plan = self._rank_plan(o_rank[priority], o_group[priority])
            for _ in range(_MAX_SCHEDULE_ROUNDS):
                in_order = activate_time[priority]
                limited_in_order = self._rank_limits(in_order, plan)
                if _close_enough(limited_in_order, in_order):
                    break                                # the rank limits moved nothing
                limited = np.empty(opens.size)
                limited[priority] = limited_in_order
                activate_time = bank_chain.solve(np.maximum(earliest, limited))
                if _close_enough(activate_time, limited):
                    break                                # and the bank timeline moved nothing

        # -- 5. column commands and the data bus (issue order per channel) --
        episode_base = np.empty(len(episode_first))
        episode_base[opens] = activate_time + c.trcd_cycles
        episode_base[continuation] = continuation_column
        column_s = episode_base[episode_of] + position * self._hit_spacing
        if not uniform:
            # a hit that arrives late waits for itself; the hits after it follow it
            column_s = _Chain(np.full(n, self._hit_spacing), episode_start).solve(
                np.where(episode_start, column_s, arrival_s))
        data_ready = np.empty(n)
        data_ready[by_bank] = column_s
        data_ready += fixed["latency"]
        bus = fixed
        if bus_by_ready:
            # each channel's bus takes the bursts as their data is ready (ties in issue order)
            bus = self._bus_parts(c, n, writes, channel, rank, group,
                                  np.lexsort((data_ready, channel)))
        by_channel, first_of_channel = bus["by_channel"], bus["first_of_channel"]
        lower = data_ready if by_channel is None else data_ready[by_channel]
        lower[first_of_channel] = np.maximum(lower[first_of_channel], bus["bus_start"])
        bus_end = bus["bus_chain"].solve(lower)
        ch_b, rank_b, group_b, write_b = (bus["ch_b"], bus["rank_b"], bus["group_b"],
                                          bus["write_b"])

        return {"column_s": column_s, "bus_end": bus_end, "plan": plan, "priority": priority,
                "activate_time": activate_time, "post_column": post_column,
                "o_bank": o_bank if opens.size else None,
                "o_first": o_first if opens.size else None,
                "ch_b": ch_b, "rank_b": rank_b, "group_b": group_b, "write_b": write_b,
                "first_of_channel": first_of_channel, "latency": fixed["latency"],
                "by_channel": by_channel}

    def _commit(self, timed, n, writes, by_bank, bank_s, row_s, first_of_bank, bus_bound):
        """Step 6: carry a call's final state (open rows, bank, rank and bus history) forward."""
        column_s, bus_end, plan = timed["column_s"], timed["bus_end"], timed["plan"]
        activate_time, post_column = timed["activate_time"], timed["post_column"]
        o_bank, o_first = timed["o_bank"], timed["o_first"]
        ch_b, rank_b, group_b, write_b = (timed["ch_b"], timed["rank_b"], timed["group_b"],
                                          timed["write_b"])
        first_of_channel = timed["first_of_channel"]
        if plan is not None:
            self._store_rank_history(plan, activate_time[timed["priority"]])

        # -- 6. carry state to the next call --
        last_of_bank = np.append(first_of_bank[1:], True)
        self._open_row[bank_s[last_of_bank]] = -1 if self._close_page else row_s[last_of_bank]
        self._bank_column[bank_s[last_of_bank]] = column_s[last_of_bank]
        # Between drain phases the precharge follows the bank's last column command as the data
        # bus placed it (its data end minus its latency), which the bank timeline's own column
        # time may precede when the bus is the bottleneck: the next phase, opening another row,
        # waits for it as a controller must. (Between calls this changed no parity row, so the
        # cheaper bank-timeline time stays there.)
        last_column = column_s[last_of_bank]
        if bus_bound:
            by_channel = timed["by_channel"]
            if by_channel is None:
                bus_column = bus_end - timed["latency"]
            else:
                bus_column = np.empty(n)
                bus_column[by_channel] = bus_end - timed["latency"][by_channel]
            last_column = np.maximum(last_column, bus_column[by_bank][last_of_bank])
        self._bank_precharge_ready[bank_s[last_of_bank]] = (
            last_column + post_column[by_bank][last_of_bank])
        if o_bank is not None:
            last_open_of_bank = np.append(o_first[1:], True)
            self._bank_activate[o_bank[last_open_of_bank]] = activate_time[last_open_of_bank]
        last_of_channel = np.append(first_of_channel[1:], True)
        ch_last = ch_b[last_of_channel]
        self._bus_end[ch_last] = bus_end[last_of_channel]
        self._bus_last_rank[ch_last] = rank_b[last_of_channel]
        self._bus_last_group[ch_last] = group_b[last_of_channel]
        self._bus_last_write[ch_last] = write_b[last_of_channel]

    # ---- rank activate limits ----
    def _rank_plan(self, ranks_in_order: np.ndarray, groups_in_order: np.ndarray) -> dict:
        """Per-rank activate sequence (the last four activates of earlier calls, then the new
        ones in priority order) with its tRRD and tFAW chains precomputed.

        `ranks_in_order` must be sorted (the priority order is rank-major).
        """
        n_new = ranks_in_order.size
        present = np.unique(ranks_in_order)
        history = self._rank_recent_activate[present]
        keep = np.isfinite(history)
        h_time = history[keep]
        h_rank = np.repeat(present, 4).reshape(-1, 4)[keep]
        h_group = self._rank_recent_group[present][keep]
        # history goes in front of its rank's new activates (np.insert keeps the given order)
        insert_at = np.searchsorted(ranks_in_order, h_rank, side="left")
        s_rank = np.insert(ranks_in_order, insert_at, h_rank)
        s_group = np.insert(groups_in_order, insert_at, h_group)
        new_positions = (np.arange(n_new)
                         + np.searchsorted(insert_at, np.arange(n_new), side="right"))
        total = s_rank.size
        starts = _segment_starts(s_rank)
        segment_first = np.flatnonzero(starts)
        segment_of = np.cumsum(starts, dtype=np.int64) - 1
        index_in_segment = np.arange(total) - segment_first[segment_of]
        previous_group = np.empty_like(s_group)
        previous_group[1:] = s_group[:-1]
        previous_group[starts] = -1
        rrd_gap = np.where(previous_group == s_group, float(self.config.trrd_l_cycles),
                           float(self.config.trrd_s_cycles))
        # tFAW: activates k, k+4, k+8, ... of a rank form a chain spaced tFAW. Lay each rank's
        # sequence out as its four residue classes one after another (no sort needed).
        length = np.diff(np.append(segment_first, total))[segment_of]
        residue = index_in_segment % 4
        class_size = [(length - r + 3) // 4 for r in range(3)]
        before = np.where(residue == 0, 0, class_size[0])
        before = np.where(residue >= 2, before + class_size[1], before)
        before = np.where(residue == 3, before + class_size[2], before)
        faw_position = segment_first[segment_of] + before + index_in_segment // 4
        faw_order = np.empty(total, dtype=np.int64)
        faw_order[faw_position] = np.arange(total)
        faw_starts = np.zeros(total, dtype=bool)
        faw_starts[faw_position[index_in_segment < 4]] = True
        return {
            "insert_at": insert_at, "history_time": h_time, "new_positions": new_positions,
            "rrd": _Chain(rrd_gap, starts),
            "faw": _Chain(np.full(total, float(self.config.tfaw_cycles)), faw_starts),
            "faw_order": faw_order,
            "starts": starts, "segment_of": segment_of, "rank": s_rank, "group": s_group,
        }

    def _rank_limits(self, times_in_order: np.ndarray, plan: dict) -> np.ndarray:
        """Push activates (given in priority order) later until tRRD and tFAW hold per rank."""
        x = self._with_history(times_in_order, plan)
        rrd, faw, faw_order = plan["rrd"], plan["faw"], plan["faw_order"]
        x = rrd.solve(x)
        for _ in range(_MAX_RANK_ROUNDS):
            x[faw_order] = faw.solve(x[faw_order])                       # now tFAW holds
            x_rrd = rrd.solve(x)
            if _close_enough(x_rrd, x):                                  # and tRRD still holds
                break
            x = x_rrd
        return x[plan["new_positions"]]

    @staticmethod
    def _with_history(times_in_order: np.ndarray, plan: dict) -> np.ndarray:
        if plan["history_time"].size == 0:
            return times_in_order.copy()
        return np.insert(times_in_order, plan["insert_at"], plan["history_time"])

    def _store_rank_history(self, plan: dict, times_in_order: np.ndarray) -> None:
        """Remember each rank's last four activates (for tRRD/tFAW in the next call)."""
        x = self._with_history(times_in_order, plan)
        starts = plan["starts"]
        ends = np.append(np.flatnonzero(starts)[1:], x.size)             # one past each segment
        from_end = ends[plan["segment_of"]] - 1 - np.arange(x.size)
        keep = from_end < 4
        ranks_here = plan["rank"][starts]
        self._rank_recent_activate[ranks_here] = -np.inf
        self._rank_recent_group[ranks_here] = -1
        slot = 3 - from_end[keep]
        self._rank_recent_activate[plan["rank"][keep], slot] = x[keep]
        self._rank_recent_group[plan["rank"][keep], slot] = plan["group"][keep]


def _small_int_key(values: np.ndarray, bound: int) -> np.ndarray:
    """Values in [0, bound) as uint16 when they fit: numpy's stable argsort is a radix sort then."""
    return values.astype(np.uint16) if bound <= 1 << 16 else values


def _group_by_first_use(keys: np.ndarray, bound: int) -> np.ndarray:
    """Permutation grouping equal keys; groups in order of first appearance, members in order.

    One radix argsort by key, then the groups are laid out by first use (index arithmetic).
    """
    by_key = np.argsort(_small_int_key(keys, bound), kind="stable")
    starts = _segment_starts(keys[by_key])
    group_first = np.flatnonzero(starts)
    group_size = np.diff(np.append(group_first, keys.size))
    first_use = by_key[group_first]                                     # issue index of each group
    group_rank = np.argsort(first_use)                                  # groups: few, any sort
    new_start = np.empty(group_first.size, dtype=np.int64)
    new_start[group_rank] = np.concatenate([[0], np.cumsum(group_size[group_rank])[:-1]])
    group_of = np.cumsum(starts, dtype=np.int64) - 1
    destination = new_start[group_of] + (np.arange(keys.size) - group_first[group_of])
    out = np.empty(keys.size, dtype=np.int64)
    out[destination] = by_key
    return out



def _list_schedule(channel: list, bank: list, rank: list, group: list, post_column: list,
                   arrival: list, now: float, bank_activate: np.ndarray, bank_precharge: np.ndarray,
                   rank_times: dict, rank_groups: dict, admitted_before: dict,
                   columns_before: dict, t: dict) -> np.ndarray:
    """Closed-page activates in time order (see `DramModel._schedule_closed`).

    Each bank serves its bursts in arrival order. The bank whose next burst can activate
    earliest goes next (ties: the bank that has waited longest, as DRAMsim3's round robin over
    its bank queues), so a call's activates are placed in time order; tRRD and tFAW hold
    against every activate of the rank (`rank_times`, earlier calls' included). A burst can
    activate once admitted (`admission`); a bank whose next burst is not yet admissible
    waits until a burst of its channel issues.
    The queues carry over from earlier calls: `admitted_before` (per channel, its last
    admissions) and `columns_before` (per bank, its last column commands), updated in place.
    Returns the activate times (issue order); updates `rank_times` / `rank_groups` in place.
    """
    n = len(bank)
    queue_depth, command_depth = t["queue"], t["command"]
    trc, trcd, trp = t["trc"], t["trcd"], t["trp"]
    trrd_s, trrd_l, tfaw = t["trrd_s"], t["trrd_l"], t["tfaw"]
    channel_list: dict = {}
    bank_list: dict = {}
    channel_pos = [0] * n
    bank_pos = [0] * n
    for i in range(n):
        members = channel_list.setdefault(channel[i], [])
        channel_pos[i] = len(members)
        members.append(i)
        members = bank_list.setdefault(bank[i], [])
        bank_pos[i] = len(members)
        members.append(i)
    column: list = [None] * n
    admitted: list = [None] * n
    activate = np.empty(n)
    ready_activate = {b: float(bank_activate[b]) + trc for b in bank_list}
    ready_precharge = {b: float(bank_precharge[b]) + trp for b in bank_list}
    head = dict.fromkeys(bank_list, 0)
    blocked: dict = {ch: set() for ch in channel_list}
    heap: list = []
    order = itertools.count()

    # The transaction queue (per channel) takes bursts in arrival order while it holds fewer
    # than `queue_depth`; a burst leaves it (is admitted) once its bank's command queue has a
    # slot: the burst `command_depth` before it in its bank has issued its column command. So
    # burst k enters when at most queue_depth - 1 earlier bursts are still waiting: at the
    # queue_depth-th latest admission among them (those not known yet count as latest).
    entered: list = [None] * n
    top = {ch: sorted(admitted_before.get(ch, ()))[-queue_depth:] for ch in channel_list}
    waiting = dict.fromkeys(channel_list, 0)      # entered, admission not known yet
    next_entry = dict.fromkeys(channel_list, 0)
    last_entry = dict.fromkeys(channel_list, now)

    def slot_freed(x):
        """When burst x's command-queue slot is free (None: not known yet)."""
        k = bank_pos[x]
        if k >= command_depth:
            return column[bank_list[bank[x]][k - command_depth]]
        before = columns_before.get(bank[x], ())
        back = len(before) + k - command_depth
        return before[back] if back >= 0 else now

    def admit(x, time):
        admitted[x] = time
        latest = top[channel[x]]
        bisect.insort(latest, time)
        if len(latest) > queue_depth:
            del latest[0]

    def advance(ch):
        members, k = channel_list[ch], next_entry[ch]
        latest = top[ch]
        while k < len(members) and waiting[ch] < queue_depth:
            x = members[k]
            need = queue_depth - waiting[ch]
            enter = last_entry[ch] if len(latest) < need else max(last_entry[ch], latest[-need])
            enter = max(enter, arrival[x])
            entered[x] = last_entry[ch] = enter
            freed = slot_freed(x)
            if freed is None:
                waiting[ch] += 1
            else:
                admit(x, max(enter, freed))
            k += 1
        next_entry[ch] = k

    def offer(b):
        i = bank_list[b][head[b]]
        if admitted[i] is None:
            blocked[channel[i]].add(b)
            return
        key = max(admitted[i], ready_activate[b], ready_precharge[b])
        heapq.heappush(heap, (key, next(order), b))

    for ch in channel_list:
        advance(ch)
    for b in bank_list:
        offer(b)
    while heap:
        key, tie, b = heapq.heappop(heap)
        i = bank_list[b][head[b]]
        r, g = rank[i], group[i]
        times, groups = rank_times[r], rank_groups[r]
        at, slot = _earliest_activate(times, groups, g, key, trrd_s, trrd_l, tfaw)
        if at > key:
            heapq.heappush(heap, (at, tie, b))      # the rank holds it back: keep its turn
            continue
        activate[i] = at
        column[i] = at + trcd
        ready_activate[b] = at + trc
        ready_precharge[b] = at + trcd + post_column[i] + trp
        times.insert(slot, at)
        groups.insert(slot, g)
        ch = channel[i]
        behind = bank_pos[i] + command_depth              # the burst whose slot this frees
        if behind < len(bank_list[b]):
            x = bank_list[b][behind]
            if entered[x] is not None and admitted[x] is None:
                admit(x, max(entered[x], at + trcd))
                waiting[ch] -= 1
        advance(ch)
        head[b] += 1
        if head[b] < len(bank_list[b]):
            offer(b)
        held = blocked[ch]
        if held:
            blocked[ch] = set()
            for other in sorted(held):
                offer(other)
    for ch, members in channel_list.items():
        admitted_before[ch] = (list(admitted_before.get(ch, ()))
                               + [admitted[i] for i in members])[-queue_depth:]
    for b, members in bank_list.items():
        columns_before[b] = (list(columns_before.get(b, ()))
                             + [column[i] for i in members])[-command_depth:]
    return activate


def _earliest_activate(times: list, groups: list, group: int, lower: float, trrd_s: float,
                       trrd_l: float, tfaw: float) -> tuple[float, int]:
    """Earliest activate time >= `lower` in bank group `group` for a rank whose activates are
    `times` (sorted; bank `groups`): tRRD (L within a bank group) from the neighbours on both
    sides, at most four activates in any tFAW. Returns (time, where it goes in `times`)."""
    t = lower
    while True:
        at = bisect.bisect_right(times, t)
        push = t
        if at > 0:
            push = max(push, times[at - 1] + (trrd_l if groups[at - 1] == group else trrd_s))
        if (push == t and at < len(times)
                and times[at] - t < (trrd_l if groups[at] == group else trrd_s)):
            push = times[at]                              # no room before the next one
        if push == t:
            # the windows of five consecutive activates that would hold t
            window = times[max(at - 4, 0):at] + [t] + times[at:at + 4]
            mine = min(at, 4)                             # t's index in `window`
            for k in range(max(mine - 4, 0), min(mine, len(window) - 5) + 1):
                if window[k + 4] - window[k] < tfaw:
                    # t last in the window: wait for the window's first to age out; else no
                    # room here, try after the next activate
                    push = window[k] + tfaw if k + 4 == mine else window[mine + 1]
                    break
        if push == t:
            return t, at
        t = push
