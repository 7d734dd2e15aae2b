"""The accelerator as a SimPy model, and `simulate`: a trace in, cycles, traffic and energy out.

The parts are SimPy servers (`accelsim.sim.server`): weight SRAM and activation SRAM banks,
the DRAM channels (burst-level `DramModel` behind `DramPort`), the PRNG regeneration unit, the PE
array and the update unit. A phase of a layer is a pipeline of three SimPy processes over its
tiles, with bounded buffers between them (`buffer_depth_tiles` slots, 2 = double buffering):

    fetch ──(input buffers)──► compute ──(output buffers)──► write-back

- fetch, for tile i: waits for a free input buffer, then asks, all at once, the weight SRAM for
  the pinned tracked values and index, the DRAM for the streamed tracked values, index and
  spilled activations, the PRNG for the regenerated weights, the activation SRAM for on-chip
  activations. The tile is ready when the slowest part is done; parts serve requests in order,
  so a part may already serve tile i+1 while another still serves tile i.
- compute: takes ready tiles in order and holds the PE array (or the update unit, in the update
  phase) for the tile's compute cycles; then frees the input buffer.
- write-back: the tile's outputs (activations, updated weights) to SRAM or DRAM, then frees the
  output buffer.

Memory stalls and overlap come out of this: a tile whose fetch takes longer than the previous
tile's compute stalls the array. Phases run one after the other (a barrier between phases), so
each (layer, phase) has its own span of cycles and the spans add up to the whole run.

Order of a training iteration: forward through the layers in execution order; then, for each
layer from the last to the first: backward_data, backward_weight, update. Inference: forward.
Before the first iteration, a one-time `load` phase brings the pinned tracked set into SRAM.

A trace is simulated as representative iterations (see `iteration_plans`), each on a fresh
machine (idle DRAM), and each record is multiplied by the number of iterations it stands for.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy

from accelsim import __version__
from accelsim.config import AcceleratorConfig, load_accelerator_config
from accelsim.sim.dram.port import ENERGY_FIELDS, DramPort
from accelsim.sim.energy import apply_energy, energy_sources
from accelsim.sim.pe_array import PeArray, UpdateUnit
from accelsim.sim.placement import place_tracked
from accelsim.sim.prng_unit import PrngUnit
from accelsim.sim.results import COLUMNS, COUNT_COLUMNS, SimulationResult
from accelsim.sim.sram import SramBanks
from accelsim.sim.workload import (
    LayerWork,
    PhaseTiles,
    gradient_tiles,
    layer_work,
    load_tiles,
    mask_tile_counts,
    pass_tiles,
    scale_counts,
    update_tiles,
)

MODES = ("train", "inference")


# ---------------------------------------------------------------------------------------------
# The SimPy model

class Accelerator:
    """One accelerator's parts on one SimPy environment, and the tile pipeline of a phase."""

    def __init__(self, config: AcceleratorConfig, works: list[LayerWork],
                 record_dram_requests: bool = False, dram_cache: dict | None = None):
        self.config = config
        env = self.env = simpy.Environment()
        self.weight_sram = SramBanks(env, config.weight_sram, "weight_sram")
        self.activation_sram = SramBanks(env, config.activation_sram, "activation_sram")
        self.dram = DramPort(env, config.dram, config.clock_mhz, config.dram_timing,
                             config.dram_sample_bursts, record_dram_requests, cache=dram_cache)
        self.prng = PrngUnit(env, config.prng)
        self.pe_array = PeArray(env, config.pe)
        self.update_unit = UpdateUnit(env, config.update)
        self._layout(works)

    def _layout(self, works: list[LayerWork]):
        """DRAM regions: each layer's weights (values + index, row-aligned), then its
        activations; SRAM streams start at bank 0 (values) and half-way round (index)."""
        c = self.config
        row = c.dram.row_size_bytes
        index_bits_per_weight = 1 if c.index.format == "bitmap" else c.index.index_bits
        self.weight_base, self.activation_base = {}, {}
        cursor = 0
        for w in works:
            self.weight_base[w.layer_id] = cursor
            size = -(-w.param_count * (c.weight_bits + index_bits_per_weight) // 8)
            cursor += -(-size // row) * row
        for w in works:
            self.activation_base[w.layer_id] = cursor
            size = max((r + wr + dr + dw for r, wr, dr, dw in w.activation_bytes.values()),
                       default=0)
            cursor += max(1, -(-size // row)) * row
        self.index_first_word = c.weight_sram.banks // 2

    # -- one phase ---------------------------------------------------------------------------
    def _join(self, events):
        events = [e for e in events if e is not None]
        if not events:
            return None
        if len(events) == 1:
            return events[0]
        return simpy.AllOf(self.env, events)

    def _phase(self, t: PhaseTiles):
        env, depth = self.env, self.config.buffer_depth_tiles
        n = t.n_tiles
        in_slots = simpy.Container(env, capacity=depth, init=depth)
        out_slots = simpy.Container(env, capacity=depth, init=depth)
        fetched, computed = simpy.Store(env), simpy.Store(env)
        w_base, a_base = self.weight_base[t.layer_id], self.activation_base[t.layer_id]
        act_write_base = a_base + sum(t.act_dram_read_bytes)
        unit = self.update_unit if t.on_update_unit else self.pe_array
        index_word0 = self.index_first_word

        def fetch():
            sv, si, sa, dw, da = 0, index_word0, 0, 0, 0  # SRAM word and DRAM byte cursors
            for i in range(n):
                yield in_slots.get(1)
                events = []
                values, index = t.weight_sram_read_words[i]
                if values or index:
                    events.append(self.weight_sram.submit(((sv, values), (si, index))))
                    sv, si = sv + values, si + index
                words = t.act_sram_read_words[i]
                if words:
                    events.append(self.activation_sram.submit(((sa, words),)))
                    sa += words
                wb, ab = t.weight_dram_read_bytes[i], t.act_dram_read_bytes[i]
                if wb or ab:
                    events.append(self.dram.submit(((w_base + dw, wb, False),
                                                    (a_base + da, ab, False))))
                    dw, da = dw + wb, da + ab
                values = t.prng_values[i]
                if values:
                    events.append(self.prng.submit(values))
                yield fetched.put(self._join(events))

        def compute():
            for i in range(n):
                ready = yield fetched.get()
                if ready is not None:
                    yield ready
                yield out_slots.get(1)
                cycles = t.compute_cycles[i]
                if cycles:
                    yield unit.submit(cycles)
                yield in_slots.put(1)
                yield computed.put(i)

        def write_back():
            sv, si, sa, dw, da = 0, index_word0, 0, 0, 0
            for _ in range(n):
                i = yield computed.get()
                events = []
                values, index = t.weight_sram_write_words[i]
                if values or index:
                    events.append(self.weight_sram.submit(((sv, values), (si, index))))
                    sv, si = sv + values, si + index
                words = t.act_sram_write_words[i]
                if words:
                    events.append(self.activation_sram.submit(((sa, words),)))
                    sa += words
                wb, ab = t.weight_dram_write_bytes[i], t.act_dram_write_bytes[i]
                if wb or ab:
                    events.append(self.dram.submit(((w_base + dw, wb, True),
                                                    (act_write_base + da, ab, True))))
                    dw, da = dw + wb, da + ab
                done = self._join(events)
                if done is not None:
                    yield done
                yield out_slots.put(1)

        env.process(fetch())
        env.process(compute())
        yield env.process(write_back())

    # -- a sequence of phases ----------------------------------------------------------------
    def run(self, phases: list[PhaseTiles]) -> list[dict]:
        """Run phases one after the other; per phase: its cycles and DRAM figures."""
        out = []

        def main():
            for tiles in phases:
                start, before = self.env.now, self.dram.snapshot()
                yield self.env.process(self._phase(tiles))
                after = self.dram.snapshot()
                out.append({"total_cycles": int(self.env.now - start),
                            "dram": {k: after[k] - before[k] for k in after}})

        self.env.process(main())
        self.env.run()
        return out


# ---------------------------------------------------------------------------------------------
# Which iterations to simulate

@dataclass(frozen=True)
class IterationPlan:
    """One simulated iteration standing for `weight` iterations of the trace."""

    weight: int
    snapshot_iteration: int  # whose mask says where the tracked weights are
    first_iteration: int
    tracked: np.ndarray  # per layer (layer_id order)
    entered: np.ndarray
    left: np.ndarray

    @property
    def tracked_after(self) -> np.ndarray:
        return self.tracked + self.entered - self.left


def iteration_plans(trace, every_iteration: bool = False) -> list[IterationPlan]:
    """Representative iterations of a trace.

    Default: one per snapshot interval [s_k, s_{k+1}), standing for its length, with the
    interval's mean counts (rounded to whole weights per layer) and the snapshot's mask.
    `every_iteration`: one per iteration with its exact counts (identical iterations under the
    same snapshot are simulated once and weighted)."""
    n_layers, iterations = len(trace.layers), trace.iterations
    steps = trace.steps
    shape = (iterations, n_layers)
    tracked = steps["tracked_count"].to_numpy().reshape(shape)
    entered = steps["entered_count"].to_numpy().reshape(shape)
    left = steps["left_count"].to_numpy().reshape(shape)
    sizes = steps["weight_count"].to_numpy().reshape(shape)[0]
    snaps = [s for s in trace.snapshot_iterations if s < iterations]
    plans: list[IterationPlan] = []
    if every_iteration:
        groups: OrderedDict = OrderedDict()
        snap_of = np.asarray(snaps)[np.searchsorted(snaps, np.arange(iterations), "right") - 1]
        for i in range(iterations):
            key = (int(snap_of[i]), tracked[i].tobytes(), entered[i].tobytes(), left[i].tobytes())
            if key in groups:
                groups[key][0] += 1
            else:
                groups[key] = [1, i]
        for (snap, *_), (weight, first) in groups.items():
            plans.append(IterationPlan(weight, snap, first, tracked[first].copy(),
                                       entered[first].copy(), left[first].copy()))
        return plans
    bounds = snaps + [iterations]
    for a, b in zip(bounds[:-1], bounds[1:]):
        t = np.clip(np.rint(tracked[a:b].mean(0)).astype(np.int64), 0, sizes)
        e = np.clip(np.rint(entered[a:b].mean(0)).astype(np.int64), 0, sizes - t)
        lft = np.clip(np.rint(left[a:b].mean(0)).astype(np.int64), 0, t)
        plans.append(IterationPlan(b - a, a, a, t, e, lft))
    return plans


# ---------------------------------------------------------------------------------------------
# One run (the trace, or its dense baseline)

def _placement(works, counts, config, dense):
    return place_tracked([w.param_count for w in works], [w.exec_order for w in works], counts,
                         weight_bits=config.weight_bits, index_config=config.index,
                         capacity_bytes=config.weight_sram.capacity_bytes, dense=dense)


def _record(run: str, work: LayerWork, tiles: PhaseTiles, timing: dict, port: DramPort) -> dict:
    rec = dict.fromkeys(COUNT_COLUMNS, 0)
    rec.update(tiles.totals)
    rec["iterations_count"] = 0 if tiles.phase == "load" else 1
    rec["total_cycles"] = timing["total_cycles"]
    rec["stall_cycles"] = rec["total_cycles"] - rec["compute_cycles"]
    rec["weight_dram_bytes_read"] = int(sum(tiles.weight_dram_read_bytes))
    rec["weight_dram_bytes_written"] = int(sum(tiles.weight_dram_write_bytes))
    rec["activation_dram_bytes_read"] = int(sum(tiles.act_dram_read_bytes))
    rec["activation_dram_bytes_written"] = int(sum(tiles.act_dram_write_bytes))
    rec["dram_bytes_read"] = rec["weight_dram_bytes_read"] + rec["activation_dram_bytes_read"]
    rec["dram_bytes_written"] = (rec["weight_dram_bytes_written"]
                                 + rec["activation_dram_bytes_written"])
    d = timing["dram"]
    for column, key in (("dram_bursts_count", "bursts"), ("dram_row_hits_count", "row_hits"),
                        ("dram_row_misses_count", "row_misses"),
                        ("dram_row_conflicts_count", "row_conflicts"),
                        ("dram_activates_count", "activates"),
                        ("dram_refreshes_count", "refreshes")):
        rec[column] = int(round(d[key]))
    rec["sram_reads_count"] = rec["weight_sram_reads_count"] + rec["activation_sram_reads_count"]
    rec["sram_writes_count"] = (rec["weight_sram_writes_count"]
                                + rec["activation_sram_writes_count"])
    rec["dram_dynamic_energy_pj"] = float(sum(d[k] for k in ENERGY_FIELDS))
    rec["dram_background_energy_pj"] = float(port.background_energy_pj(rec["total_cycles"]))
    rec.update(run=run, layer_id=work.layer_id, layer_name=work.name, phase=tiles.phase)
    return rec


def _iteration_phases(works, config, mode, plan, tile_counts, dense) -> list[PhaseTiles]:
    pl = _placement(works, plan.tracked, config, dense)
    pl_after = _placement(works, plan.tracked_after, config, dense)
    order = sorted(works, key=lambda w: (w.exec_order, w.layer_id))

    def tracked_tiles(w, phase):
        sizes = (w.update_tile_weights if phase == "update" else w.passes[phase].tile_weights)
        return scale_counts(tile_counts[w.layer_id][phase], sizes, int(plan.tracked[w.layer_id]))

    def weight_pass(w, phase):
        i = w.layer_id
        return pass_tiles(w, phase, config, tracked_tiles(w, phase), int(pl.pinned[i]),
                          int(pl.index_bits[i]), int(pl.pinned_index_bits[i]))

    phases = [weight_pass(w, "forward") for w in order]
    if mode == "train":
        for w in reversed(order):
            i = w.layer_id
            phases.append(weight_pass(w, "backward_data"))
            phases.append(gradient_tiles(w, config))
            phases.append(update_tiles(
                w, config, tracked_tiles(w, "update"), int(plan.entered[i]), int(plan.left[i]),
                int(pl.pinned[i]), int(pl.index_bits[i]), int(pl.pinned_index_bits[i]),
                int(pl_after.pinned[i]), int(pl_after.index_bits[i]),
                int(pl_after.pinned_index_bits[i]), dense))
    return phases


def _run_phases(run, works, config, phases, record, dram_cache):
    machine = Accelerator(config, works, record, dram_cache)
    timings = machine.run(phases)
    by_id = {w.layer_id: w for w in works}
    records = [_record(run, by_id[p.layer_id], p, t, machine.dram) for p, t in zip(phases, timings)]
    return records, machine.dram.log


def _simulate_run(run: str, trace, works, config, mode, every_iteration, record):
    dense = trace.dense
    plans = iteration_plans(trace, every_iteration)
    dram_cache: dict = {}
    counts_by_snapshot: dict = {}

    def tile_counts(snapshot_iteration):
        if snapshot_iteration not in counts_by_snapshot:
            if dense:
                masks = {w.layer_id: None for w in works}
            else:
                masks = trace.snapshot(snapshot_iteration).masks
            counts_by_snapshot.clear()  # one snapshot's counts at a time keeps memory small
            counts_by_snapshot[snapshot_iteration] = {
                w.layer_id: mask_tile_counts(w, masks[w.layer_id]) for w in works}
        return counts_by_snapshot[snapshot_iteration]

    # the one-time load of the first iteration's pinned set
    first = _placement(works, plans[0].tracked, config, dense)
    order = sorted(works, key=lambda w: (w.exec_order, w.layer_id))
    load = [load_tiles(w, config, int(first.pinned[w.layer_id]),
                       int(first.pinned_index_bits[w.layer_id])) for w in order]
    load_records, load_log = _run_phases(run, works, config, load, record, dram_cache)
    tiles = sum(p.n_tiles for p in load)
    totals = {(r["layer_id"], r["phase"]): dict(r) for r in load_records}
    keys = list(totals)
    # each simulated segment runs on its own clock from 0: keep its length, so the exported
    # request stream can lay the segments end to end
    logs = [("load", load_log, _segment_cycles(load_records))] if record else []
    memo: dict = {}
    for plan in plans:
        # a dense run never reads the masks: its identical iterations are simulated once
        key = (None if dense else plan.snapshot_iteration, plan.tracked.tobytes(),
               plan.entered.tobytes(), plan.left.tobytes())
        if key not in memo:
            phases = _iteration_phases(works, config, mode, plan, tile_counts(plan.snapshot_iteration),
                                       dense)
            memo[key], log = _run_phases(run, works, config, phases, record, dram_cache)
            tiles += sum(p.n_tiles for p in phases)
            if record:
                logs.append((f"iteration {plan.first_iteration}", log,
                             _segment_cycles(memo[key])))
        for rec in memo[key]:
            k = (rec["layer_id"], rec["phase"])
            if k not in totals:
                totals[k] = {c: (v * plan.weight if c in _SUMMED else v) for c, v in rec.items()}
                keys.append(k)
            else:
                acc = totals[k]
                for c in _SUMMED:
                    acc[c] += rec[c] * plan.weight
    rows = [totals[k] for k in keys]
    requests = None
    if record:
        frames, offset = [], 0
        for label, log, length in logs:
            frame = pd.DataFrame(log, columns=["base_byte_address", "n_bytes", "is_write",
                                               "issue_cycle"])
            frame = frame.astype({"base_byte_address": "int64", "n_bytes": "int64",
                                  "is_write": "bool", "issue_cycle": "int64"})
            frame["issue_cycle"] += offset
            offset += length
            frame["simulated"] = label  # "load" or "iteration N" (a representative iteration)
            frames.append(frame)
        requests = pd.concat(frames, ignore_index=True)
    return rows, requests, {"simulated_iterations": len(memo), "simulated_tiles": tiles}


def _segment_cycles(records) -> int:
    """Cycles of one simulated segment: its phases run one after another."""
    return int(sum(r["total_cycles"] for r in records))


_SUMMED = tuple(c for c in COUNT_COLUMNS) + ("dram_dynamic_energy_pj", "dram_background_energy_pj")


# ---------------------------------------------------------------------------------------------
# The API

def simulate(trace, accelerator_config, mode: str = "train", *, baseline: bool = True,
             every_iteration: bool = False, batch_size: int | None = None,
             record_dram_requests: bool = False) -> SimulationResult:
    """Replay a trace on an accelerator; return per (run, layer, phase) records.

    trace: a `Trace` or a trace folder. accelerator_config: an `AcceleratorConfig`, a YAML
    path or a config name (see `accelsim.config`). mode: "train" (forward, backward_data,
    backward_weight, update) or "inference" (forward). baseline: also simulate the trace's dense
    baseline (`trace.as_dense()`) through the same code. every_iteration: simulate every
    iteration rather than one per snapshot interval. batch_size: overrides the manifest's.
    record_dram_requests: keep the DRAM request streams (per run) in the result.
    Deterministic: the same inputs give the same records, bit for bit."""
    from accelsim.trace.format import load_trace  # torch-free

    if mode not in MODES:
        raise ValueError(f"mode {mode!r} not one of {MODES}")
    trace = load_trace(trace)
    config = (accelerator_config if isinstance(accelerator_config, AcceleratorConfig)
              else load_accelerator_config(accelerator_config))
    batch = int(batch_size) if batch_size is not None else trace.batch_size
    if batch < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch}")
    layers = trace.layers.to_dict("records")
    works = [layer_work(row, config, batch, mode) for row in layers]

    rows, requests, effort = _simulate_run("trace", trace, works, config, mode,
                                           every_iteration, record_dram_requests)
    all_requests = {"trace": requests} if record_dram_requests else None
    baseline_identity = None
    if baseline:
        if trace.dense:
            dense_rows = [dict(r, run="dense") for r in rows]
            baseline_identity = trace.identity
            if record_dram_requests:
                all_requests["dense"] = requests
        else:
            dense = trace.as_dense()
            dense_rows, dense_requests, dense_effort = _simulate_run(
                "dense", dense, works, config, mode, every_iteration, record_dram_requests)
            effort["simulated_tiles"] += dense_effort["simulated_tiles"]
            baseline_identity = dense.identity
            if record_dram_requests:
                all_requests["dense"] = dense_requests
        rows = rows + dense_rows
    records = pd.DataFrame(rows)
    records = apply_energy(records, config)[list(COLUMNS)]
    settings = {
        "mode": mode, "batch_size": batch, "every_iteration": bool(every_iteration),
        "baseline": bool(baseline), "iterations": trace.iterations,
        "simulated_iterations": effort["simulated_iterations"],
        "simulated_tiles": effort["simulated_tiles"], "accelsim_version": __version__,
        "energy_sources": energy_sources(config),
    }
    result = SimulationResult(records, config.to_dict(), trace.identity, settings,
                              baseline_identity, all_requests)
    result.check()  # conservation and accounting hold by construction; a failure is a bug
    return result
