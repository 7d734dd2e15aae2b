"""The DRAM controller as the SimPy pipeline sees it, in front of the burst-level `DramModel`.

A request is a list of streams ``(base_byte_address, n_bytes, is_write)`` (a tile's weight
bytes, its activation bytes). The controller takes a request as soon as its queue has room
(``queue_depth`` bursts per channel): the port is held only until the request's bursts, all
but the last queue-full of each channel, have been issued, so the next request's row activates
and bursts overlap with this one's tail (CAS latency, the last bursts) as in a queued
controller; the request's event fires when its last data is back. Bank, bus and open-row state
carries from request to request in the one model (see `accelsim.sim.dram.model`).

Three timing modes (``dram_timing`` in the accelerator config):

- ``command``: every burst goes through the command-level controller
  (`accelsim.sim.dram.controller`, C, one DRAM clock at a time; it matches DRAMsim3 cycle for
  cycle on the parity streams). A request's bursts arrive together when the port takes it; a
  channel still busy with earlier requests takes them when it is done with those (the
  controller runs each request to completion, so two requests' bursts do not mix in its
  queues). Needs a C compiler.

- ``exact``: every burst of every stream goes through the stateful model. Cost grows with the
  number of bursts (a few numpy passes per request; about 0.2-0.8 us per burst).
- ``cached`` (default): a stream is timed by the model from an idle DRAM (all rows closed) and
  the result reused for every stream of the same length in bursts, direction and position in
  the burst rotation of the address mapping (channel, bank group); streams longer than
  ``dram_sample_bursts`` are timed on that many bursts and scaled; refresh is charged as its
  average share. The streams of one request follow each other; requests overlap as above.
  Still timed from an idle DRAM (all rows closed, no refresh closings): a stateful cached mode
  (the live model on each stream's first bursts) was measured at 47 s for a ResNet-18 batch-32
  step against the 1 s budget, so it was not kept. Carrying the open rows between cached
  streams cannot matter much, measured (benchmarks/dram_timing_modes.py, default DDR4 config,
  cached against exact): total cycles +0.001 % (LeNet-300-100 demo trace), +0.05 % (ResNet-18
  step dense), +0.06 % (DropBack 1M); DRAM dynamic energy -0.62 %, -0.06 %, -0.05 %; the open
  row a stream finds changes one activate per bank it touches, against thousands of bursts
  (ResNet-18 DropBack: cached counts 447,687 activates, exact without refresh 442,236). The
  activate counts themselves are 9-10 % low on ResNet-18 (25 % on the 16 of the LeNet run)
  because cached leaves out the rows that refreshes close (exact with refresh 490,625): about
  0.06 % of the DRAM energy. `exact` cost 37-87 s per ResNet-18 step against 1.7-3.2 s cached
  in the same runs (2 shared cores at load 10), so ``cached`` stays the default. Against
  ``command`` (sixth session, benchmarks/dram_timing_modes.py): ``cached`` within 0.18 % in
  cycles and 0.14 % in DRAM energy on a ResNet-18 batch-32 step, ``exact`` within 0.22 % /
  0.08 %; ``command`` took 18.5-20.7 s per step, so it is the validation path.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from accelsim.config import checks
from accelsim.config.accelerator import DRAM_TIMINGS
from accelsim.sim.dram import controller
from accelsim.sim.dram.model import DramBatch, DramModel
from accelsim.sim.parts.server import Server

STAT_FIELDS = ("bursts", "row_hits", "row_misses", "row_conflicts", "activates", "refreshes")
ENERGY_FIELDS = ("activate_energy_pj", "read_energy_pj", "write_energy_pj", "io_energy_pj")


class DramPort(Server):
    def __init__(self, env, dram_config, clock_mhz: float, timing: str = "cached",
                 sample_bursts: int = 4096, record_requests: bool = False, name: str = "dram",
                 cache: dict | None = None):
        super().__init__(env, name)
        checks.one_of("dram_timing", timing, DRAM_TIMINGS)
        self.config = dram_config
        self.timing = timing
        self.sample_bursts = int(sample_bursts)
        self.model = DramModel(dram_config, clock_mhz)
        self.controller = None
        if timing == "command":
            self.controller = controller.CommandController(dram_config)
        self.record = record_requests
        self.log: list[tuple] = []  # (base_byte_address, n_bytes, is_write, issue_cycle) per stream
        self.totals = dict.fromkeys(STAT_FIELDS + ENERGY_FIELDS, 0)
        # cached timing: streams timed from an idle, refresh-free DRAM, keyed by length,
        # direction and position in the burst rotation below the column; shareable.
        self._cache = {} if cache is None else cache
        self._free_model = DramModel(
            dataclasses.replace(dram_config, trefi_cycles=2**40), clock_mhz)
        self._refresh_stretch = 1.0 / dram_config.refresh_efficiency
        self._refreshes_per_cycle = (dram_config.channels * dram_config.ranks
                                     * self.model.dram_cycles_per_accel_cycle
                                     / dram_config.trefi_cycles)
        tokens = dram_config.mapping_tokens
        sizes = dram_config.field_sizes()
        self._period_bursts = math.prod(sizes[t] for t in tokens[tokens.index("Co") + 1:])
        # The last queue_depth bursts of a channel are still in the controller when the port
        # takes the next request: their bus time plus the read latency (accelerator cycles).
        c = dram_config
        self._queue_tail = ((c.queue_depth * c.burst_cycles + c.tcl_cycles)
                            / self.model.dram_cycles_per_accel_cycle)
        self._latency = ((c.trcd_cycles + c.tcl_cycles + c.burst_cycles)
                         / self.model.dram_cycles_per_accel_cycle)

    def snapshot(self) -> dict:
        return dict(self.totals)

    def background_energy_pj(self, cycles) -> float:
        return self.model.background_energy_pj(cycles)

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
            return self._serve_commands(streams, now)
        finish = 0.0
        hold = 0.0
        bb = self.config.burst_bytes
        for base, n_bytes, is_write in self._taken(streams, now):
            bursts = (base + n_bytes - 1) // bb - base // bb + 1
            if self.timing == "cached":
                result = self._cached(base, bursts, is_write)
                self._add(result)
                took = finish + result["cycles"]       # streams of a request in sequence
                # No bus state is shared between cached streams, so only the latency (first
                # activate and CAS) may overlap the next request, never the bus time.
                bus = bursts * self.config.burst_cycles / self.config.channels
                hidden = min(self._latency, result["cycles"]
                             - bus / self.model.dram_cycles_per_accel_cycle)
                hold = max(hold, took - max(hidden, 0.0))
            else:
                batch = self.model.stream(base, n_bytes, is_write, now)
                self._add(_as_dict(batch))
                took = batch.end_cycle - now
                hold = max(hold, took - self._queue_tail)
            finish = max(finish, took)
        return hold, finish

    def _serve_commands(self, streams, now):
        """`command` timing: the request's bursts, every stream's, arrive together at the
        command-level controller (each channel takes them once it has served the requests
        before them)."""
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
                                       self.model.dram_cycles_per_accel_cycle)
        self._add(_as_dict(batch))
        took = batch.end_cycle - now
        return max(took - self._queue_tail, 0.0), took

    def _cached(self, base: int, bursts: int, is_write: bool) -> dict:
        bb = self.config.burst_bytes
        timed = min(bursts, self.sample_bursts)
        align = (base // bb) % self._period_bursts
        key = (is_write, align, timed)
        hit = self._cache.get(key)
        if hit is None:
            self._free_model.reset()
            hit = _as_dict(self._free_model.stream(align * bb, timed * bb, is_write, 0.0))
            hit["cycles"] *= self._refresh_stretch
            hit["refreshes"] = hit["cycles"] * self._refreshes_per_cycle
            self._cache[key] = hit
        scale = bursts / timed
        return {k: v * scale for k, v in hit.items()}

    def _run(self):
        while True:
            work, done = yield self._queue.get()
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
    form `accelsim.sim.dram.export.export_dram_trace` and `DramModel.access` take."""
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
