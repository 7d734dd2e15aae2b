"""The DRAM channels as one SimPy server in front of the burst-level `DramModel`.

A request is a list of streams ``(base_byte_address, n_bytes, is_write)`` (a tile's weight
bytes, its activation bytes); the port holds the DRAM busy until the model says the last burst
is done, and adds the model's counts and energies to its running totals.

Two timing modes (``dram_timing`` in the accelerator config):

- ``exact``: every request goes through one stateful model (open rows, bank and bus history
  carry from request to request). Cost grows with the number of bursts (~1 us per burst here).
- ``cached`` (default): a stream is timed by the model from an idle DRAM (all rows closed) and
  the result is reused for every stream of the same length in bursts, direction and position
  in the burst-by-burst rotation of the address mapping (the fields below the column: channel,
  bank group), shifted to the current cycle; refresh is charged as its average share of time. Streams longer than
  ``dram_sample_bursts`` are timed on their first that-many bursts and scaled linearly. What this
  gives up: row hits on rows left open by the previous request (each request pays its own
  activates, a few per 32 KB tile) and interleaving of bursts across requests (requests are
  served one after the other). What it keeps: burst-level timing, row hits and misses within a
  request, bank parallelism and bus occupancy, at a cost independent of the bytes moved.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from accelsim.config import checks
from accelsim.config.accelerator import DRAM_TIMINGS
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
        # cached timing works refresh-free and charges refresh as its average share of time
        self._free_model = DramModel(
            dataclasses.replace(dram_config, trefi_cycles=2**40), clock_mhz)
        self._refresh_stretch = 1.0 / dram_config.refresh_efficiency
        self._refreshes_per_cycle = (dram_config.channels * dram_config.ranks
                                     * self.model.dram_cycles_per_accel_cycle
                                     / dram_config.trefi_cycles)
        self.record = record_requests
        self.log = []  # (base_byte_address, n_bytes, is_write, issue_cycle) per stream
        self.totals = dict.fromkeys(STAT_FIELDS + ENERGY_FIELDS, 0)
        self._cache = {} if cache is None else cache  # shareable between ports of one config
        # The fields below the column in the address mapping rotate burst by burst (channel,
        # bank group); a stream's timing from an idle DRAM depends on where in that rotation it
        # starts and on its length, hardly on where row boundaries fall: the cache key.
        tokens = dram_config.mapping_tokens
        sizes = dram_config.field_sizes()
        period = 1
        for token in tokens[tokens.index("Co") + 1:]:
            period *= sizes[token]
        self._period_bursts = period

    def snapshot(self) -> dict:
        return dict(self.totals)

    def background_energy_pj(self, cycles) -> float:
        return self.model.background_energy_pj(cycles)

    # -- timing ------------------------------------------------------------------------------
    def _add(self, batch_like: dict):
        for key in STAT_FIELDS + ENERGY_FIELDS:
            self.totals[key] += batch_like[key]

    def _cached(self, base: int, n_bytes: int, is_write: bool) -> dict:
        bb = self.config.burst_bytes
        first = base // bb
        bursts = (base + n_bytes - 1) // bb - first + 1
        timed = min(bursts, self.sample_bursts)
        align = first % self._period_bursts
        key = (bool(is_write), align, timed)
        hit = self._cache.get(key)
        if hit is None:
            self._free_model.reset()
            start = align * bb
            batch = self._free_model.stream(start, timed * bb, is_write, 0.0)
            hit = _as_dict(batch)
            hit["cycles"] *= self._refresh_stretch
            hit["refreshes"] = hit["cycles"] * self._refreshes_per_cycle
            self._cache[key] = hit
        if timed == bursts:
            return hit
        scale = bursts / timed
        out = {k: hit[k] * scale for k in STAT_FIELDS}
        out["bursts"] = bursts
        out.update({k: hit[k] * scale for k in ENERGY_FIELDS})
        out["cycles"] = hit["cycles"] * scale
        return out

    def service(self, streams, now):
        cycles = 0.0
        for base, n_bytes, is_write in streams:
            if n_bytes <= 0:
                continue
            if self.record:
                self.log.append((int(base), int(n_bytes), bool(is_write), int(now)))
            if self.timing == "exact":
                batch = self.model.stream(int(base), int(n_bytes), bool(is_write), now)
                result = _as_dict(batch)
                cycles = max(cycles, batch.end_cycle - now)
            else:
                result = self._cached(int(base), int(n_bytes), bool(is_write))
                cycles += result["cycles"]
            self._add(result)
        return int(math.ceil(cycles - 1e-9)), None


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
