"""`simulate`: a trace and an accelerator config in, cycles, traffic and energy out.

A run (the trace, or its dense baseline) is simulated as representative iterations
(`accelsim.sim.plan`), each on a fresh machine (`accelsim.sim.machine`, idle DRAM), after the
one-time load on a machine of its own. Identical representative iterations are simulated once.
Each phase's record holds the counts of its work and traffic (`accelsim.sim.mapping`), its
cycles and the DRAM model's figures, and is multiplied by the number of iterations it stands
for; energy is added last (`accelsim.sim.energy`), over the columns `accelsim.sim.results`
owns.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from accelsim import __version__
from accelsim.config import AcceleratorConfig, load_accelerator_config
from accelsim.sim.dram.port import ENERGY_FIELDS, DramPort
from accelsim.sim.energy import apply_energy, energy_sources
from accelsim.sim.machine import Accelerator
from accelsim.sim.mapping import LayerWork, PhaseTiles, layer_work, mask_tile_counts
from accelsim.sim.plan import iteration_phases, iteration_plans, load_phases
from accelsim.sim.results import COLUMNS, COUNT_COLUMNS, SimulationResult, traffic_table
from accelsim.trace.format import load_trace  # torch-free

MODES = ("train", "inference")

# column -> the DRAM model's figure it reports
_DRAM_MODEL_COUNTS = (("dram_bursts_count", "bursts"), ("dram_row_hits_count", "row_hits"),
                      ("dram_row_misses_count", "row_misses"),
                      ("dram_row_conflicts_count", "row_conflicts"),
                      ("dram_activates_count", "activates"),
                      ("dram_refreshes_count", "refreshes"))
# what a representative iteration's weight multiplies
_SUMMED = COUNT_COLUMNS + ("dram_dynamic_energy_pj", "dram_background_energy_pj")


def _record(run: str, work: LayerWork, tiles: PhaseTiles, timing: dict, port: DramPort) -> dict:
    dram = timing["dram"]
    counts = tiles.counts(total_cycles=timing["total_cycles"],
                          **{column: round(float(dram[key])) for column, key in _DRAM_MODEL_COUNTS})
    return {
        **counts.as_columns(),
        "dram_dynamic_energy_pj": float(sum(dram[k] for k in ENERGY_FIELDS)),
        "dram_background_energy_pj": float(port.background_energy_pj(counts.total_cycles)),
        "run": run, "layer_id": work.layer_id, "layer_name": work.name, "phase": tiles.phase,
    }


def _run_phases(run, works, config, phases, record, dram_cache):
    machine = Accelerator(config, works, record, dram_cache)
    timings = machine.run(phases)
    by_id = {w.layer_id: w for w in works}
    records = [_record(run, by_id[p.layer_id], p, t, machine.dram) for p, t in zip(phases, timings)]
    return records, machine.dram.log


def _segment_cycles(records) -> int:
    """Cycles of one simulated segment: its phases run one after another."""
    return int(sum(r["total_cycles"] for r in records))


def _request_frame(logs) -> pd.DataFrame:
    """The segments' DRAM request logs laid end to end on one clock."""
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
    return pd.concat(frames, ignore_index=True)


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
    load = load_phases(works, config, plans[0], dense)
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
            phases = iteration_phases(works, config, mode, plan,
                                      tile_counts(plan.snapshot_iteration), dense)
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
    requests = _request_frame(logs) if record else None
    return rows, requests, {"simulated_iterations": len(memo), "simulated_tiles": tiles}


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
    if trace.untracked_values == "zero":  # zeros are neither stored nor regenerated
        works = [replace(w, untracked_zero=True) for w in works]

    rows, requests, effort = _simulate_run("trace", trace, works, config, mode,
                                           every_iteration, record_dram_requests)
    all_requests: dict | None = {"trace": requests} if record_dram_requests else None
    baseline_identity = None
    if baseline:
        if trace.dense:
            dense_rows = [dict(r, run="dense") for r in rows]
            baseline_identity = trace.identity
            if all_requests is not None:
                all_requests["dense"] = requests
        else:
            dense = trace.as_dense()
            dense_rows, dense_requests, dense_effort = _simulate_run(
                "dense", dense, works, config, mode, every_iteration, record_dram_requests)
            effort["simulated_tiles"] += dense_effort["simulated_tiles"]
            baseline_identity = dense.identity
            if all_requests is not None:
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
    operand_bytes = {(w.layer_id, phase): roles
                     for w in works for phase, roles in w.activation_operand_bytes.items()}
    result = SimulationResult(records, config.to_dict(), trace.identity, settings,
                              baseline_identity, all_requests,
                              traffic=traffic_table(records, operand_bytes, config))
    result.check()  # conservation and accounting hold by construction; a failure is a bug
    return result
