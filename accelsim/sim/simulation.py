"""`simulate`: a trace and an accelerator config in, cycles, traffic and energy out.

A run (the trace, or its dense baseline) is simulated as representative iterations
(`accelsim.sim.plan`), each on a fresh machine (`accelsim.sim.machine`, idle DRAM), after the
one-time load on a machine of its own. Identical representative iterations are simulated once.
Each phase's record holds the counts of its work and traffic (`accelsim.sim.mapping.tiles`), its
cycles and the DRAM model's figures, and is multiplied by the number of iterations it stands
for; energy is added last (`accelsim.sim.energy`), over the columns `accelsim.sim.results`
owns.

A shared global buffer (``buffer_organisation: shared``): each run gets its own weight share of
the buffer (`accelsim.sim.shared_buffer`), so its own layer works (mappings) and placement; the
records and the traffic table name the buffer's accesses by weights ``weight_sram`` and by
activations ``activation_sram`` (the config's two views of it, charged at the buffer's energy
per access), and ``settings["global_buffer"]`` says what each run chose.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

from accelsim import __version__
from accelsim.config import AcceleratorConfig, load_accelerator_config
from accelsim.sim.dram.port import ENERGY_FIELDS, DramPort
from accelsim.sim.energy import apply_energy, energy_sources
from accelsim.sim.machine import Accelerator
from accelsim.sim.mapping.layer import LayerWork, layer_work
from accelsim.sim.mapping.placement import (
    OPTIMIZER_RULES,
    optimizer_kind,
    optimizer_state_bits,
)
from accelsim.sim.mapping.tiles import PhaseTiles, mask_tile_counts
from accelsim.sim.parts.vector import (
    VectorLayerWork,
    vector_layer_phases,
    vector_layer_works,
    with_vector_phases,
)
from accelsim.sim.plan import IterationPlan, iteration_phases, iteration_plans, load_phases
from accelsim.sim.results import (
    COLUMNS,
    COUNT_COLUMNS,
    SimulationResult,
    mapping_table,
    traffic_table,
)
from accelsim.sim.shared_buffer import choose_weight_share
from accelsim.trace.format import Trace, load_trace  # torch-free

MODES = ("train", "inference")

# column -> the DRAM model's figure it reports
_DRAM_MODEL_COUNTS = (("dram_bursts_count", "bursts"), ("dram_row_hits_count", "row_hits"),
                      ("dram_row_misses_count", "row_misses"),
                      ("dram_row_conflicts_count", "row_conflicts"),
                      ("dram_activates_count", "activates"),
                      ("dram_refreshes_count", "refreshes"))
# what a representative iteration's weight multiplies
_SUMMED = COUNT_COLUMNS + ("dram_dynamic_energy_pj", "dram_background_energy_pj")


def _record(run: str, work: LayerWork | VectorLayerWork, tiles: PhaseTiles, timing: dict,
            port: DramPort) -> dict:
    dram = timing["dram"]
    counts = tiles.counts(total_cycles=timing["total_cycles"],
                          **{column: round(float(dram[key])) for column, key in _DRAM_MODEL_COUNTS})
    return {
        **counts.as_columns(),
        "dram_dynamic_energy_pj": float(sum(dram[k] for k in ENERGY_FIELDS)),
        "dram_background_energy_pj": float(port.background_energy_pj(counts.total_cycles)),
        "run": run, "layer_id": work.layer_id, "layer_name": work.name, "phase": tiles.phase,
    }


def _run_phases(run: str, works: Sequence[LayerWork | VectorLayerWork],
                config: AcceleratorConfig,
                phases: list[PhaseTiles], record: bool, dram_cache: dict
                ) -> tuple[list[dict], list]:
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


@dataclass(frozen=True)
class RunOptions:
    """What a run's layer works take from the trace and from `simulate`'s switches."""

    untracked_zero: bool = False  # untracked weights are zeros (`Trace.untracked_values`)
    optimizer_state_words: int = 0  # per tracked weight (`placement.optimizer_state_words`)
    # the update ALU's operations per weight with state (`placement.OptimizerRule`)
    optimizer_add_ops: int = 0
    optimizer_mult_ops: int = 0
    input_layer_backward_data: bool = False  # the input layer computes its input's gradient


def _works(layers: list[dict], config: AcceleratorConfig, batch: int, mode: str,
           options: RunOptions, like: list[LayerWork] | None = None) -> list[LayerWork]:
    """Each layer's work on `config`; `like`: works of the same layers and batch on another
    config, whose GEMMs are handed on rather than derived again."""
    gemms = [None] * len(layers) if like is None else [w.gemms for w in like]
    # the input layer: the first to run (nobody needs the gradient of the input)
    first = min(range(len(layers)), key=lambda i: (int(layers[i]["exec_order"]),
                                                   int(layers[i]["layer_id"])), default=None)
    works = [layer_work(row, config, batch, mode, g,
                        backward_data=options.input_layer_backward_data or i != first)
             for i, (row, g) in enumerate(zip(layers, gemms))]
    return [replace(w, untracked_zero=options.untracked_zero,
                    optimizer_state_words=options.optimizer_state_words,
                    optimizer_add_ops=options.optimizer_add_ops,
                    optimizer_mult_ops=options.optimizer_mult_ops) for w in works]


def _shared_run(trace: Trace, layers: list[dict], works: list[LayerWork],
                config: AcceleratorConfig, batch: int, mode: str, plans: list[IterationPlan],
                options: RunOptions) -> tuple[AcceleratorConfig, list[LayerWork], dict | None]:
    """A run's config and layer works on a shared global buffer: its weight share (the
    config's, or the one `shared_buffer.choose_weight_share` picks) and the mappings the rest
    of the buffer allows. With split buffers, `config` and `works` as they are."""
    buffer = config.global_buffer
    if config.buffer_organisation != "shared" or buffer is None:
        return config, works, None
    share, weighed = config.weight_share_bytes, None
    if share is None:
        share, weighed = choose_weight_share(config, works, plans, mode, trace.dense)
    run_config = config.with_weight_share(share)
    run_works = _works(layers, run_config, batch, mode, options, like=works)
    chosen = {"weight_share_bytes": share,
              "activation_bytes": buffer.capacity_bytes - share,
              "chosen": weighed is not None, **(weighed or {})}
    return run_config, run_works, chosen


def _simulate_run(run: str, trace: Trace, works: list[LayerWork], config: AcceleratorConfig,
                  mode: str, every_iteration: bool, record: bool,
                  plans: list[IterationPlan] | None = None,
                  vector_works: list[VectorLayerWork] | None = None
                  ) -> tuple[list[dict], pd.DataFrame | None, dict]:
    dense = trace.dense
    plans = plans if plans is not None else iteration_plans(trace, every_iteration)
    vector_works = vector_works or []
    machine_works: list[LayerWork | VectorLayerWork] = [*works, *vector_works]
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
    # the tiles that do not depend on the tracked set, built once for every iteration
    gradients: dict = {}
    vector_tiles = vector_layer_phases(vector_works, config)
    for plan in plans:
        # a dense run never reads the masks: its identical iterations are simulated once
        key = (None if dense else plan.snapshot_iteration, plan.tracked.tobytes(),
               plan.entered.tobytes(), plan.left.tobytes())
        if key not in memo:
            phases = with_vector_phases(
                iteration_phases(works, config, mode, plan, tile_counts(plan.snapshot_iteration),
                                 dense, gradients), works, vector_works, config, vector_tiles)
            memo[key], log = _run_phases(run, machine_works, config, phases, record, dram_cache)
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


def _operand_bytes(works: list[LayerWork] | list[VectorLayerWork]) -> dict:
    return {(w.layer_id, phase): roles
            for w in works for phase, roles in w.activation_operand_bytes.items()}


def simulate(trace: Trace | str | os.PathLike[str],
             accelerator_config: AcceleratorConfig | str | os.PathLike[str],
             mode: str = "train", *, baseline: bool = True,
             every_iteration: bool = False, batch_size: int | None = None,
             record_dram_requests: bool = False, optimizer: str | None = None,
             input_layer_backward_data: bool = False) -> SimulationResult:
    """Replay a trace on an accelerator; return per (run, layer, phase) records.

    trace: a `Trace` or a trace folder. accelerator_config: an `AcceleratorConfig`, a YAML
    path or a config name (see `accelsim.config`). mode: "train" (forward, backward_data,
    backward_weight, update) or "inference" (forward). baseline: also simulate the trace's dense
    baseline (`trace.as_dense()`) through the same code. every_iteration: simulate every
    iteration rather than one per snapshot interval. batch_size: overrides the manifest's.
    record_dram_requests: keep the DRAM request streams (per run) in the result.
    optimizer: the optimizer whose state the update reads and writes, one of
    `placement.OPTIMIZER_RULES` ("none", "sgd", "momentum", "nesterov", "adam",
    "adamw"); None: the trace's (its manifest's ``optimizer``; none recorded: no state).
    input_layer_backward_data: also compute the input layer's backward_data (the gradient of
    the network's input, which training does not need).
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
    kind = optimizer_kind(trace.manifest.get("optimizer") if optimizer is None else optimizer)
    rule = OPTIMIZER_RULES[kind if mode == "train" else "none"]
    options = RunOptions(untracked_zero=trace.untracked_values == "zero",
                         optimizer_state_words=rule.state_words,
                         optimizer_add_ops=rule.add_ops, optimizer_mult_ops=rule.mult_ops,
                         input_layer_backward_data=bool(input_layer_backward_data))
    works = _works(layers, config, batch, mode, options)
    # the layers between the GEMMs, on the vector unit (each run's config: a shared buffer's
    # activation share differs by run)
    table = trace.layer_table.to_dict("records")
    vector_works_by_run = {}

    # with a shared buffer each run has its own weight share, so its own mappings (works)
    plans = iteration_plans(trace, every_iteration)
    run_config, run_works, shares = _shared_run(trace, layers, works, config, batch, mode,
                                                plans, options)
    works_by_run = {"trace": run_works}
    shares_by_run = {"trace": shares}
    vector_works_by_run["trace"] = vector_layer_works(table, run_config, batch, mode)
    rows, requests, effort = _simulate_run("trace", trace, run_works, run_config, mode,
                                           every_iteration, record_dram_requests, plans,
                                           vector_works_by_run["trace"])
    all_requests: dict | None = {"trace": requests} if record_dram_requests else None
    baseline_identity = None
    if baseline:
        if trace.dense:
            dense_rows = [dict(r, run="dense") for r in rows]
            baseline_identity = trace.identity
            works_by_run["dense"], shares_by_run["dense"] = run_works, shares
            vector_works_by_run["dense"] = vector_works_by_run["trace"]
            if all_requests is not None:
                all_requests["dense"] = requests
        else:
            dense = trace.as_dense()
            dense_plans = iteration_plans(dense, every_iteration)
            dense_config, dense_works, dense_shares = _shared_run(
                dense, layers, works, config, batch, mode, dense_plans, options)
            works_by_run["dense"], shares_by_run["dense"] = dense_works, dense_shares
            vector_works_by_run["dense"] = vector_layer_works(table, dense_config, batch, mode)
            dense_rows, dense_requests, dense_effort = _simulate_run(
                "dense", dense, dense_works, dense_config, mode, every_iteration,
                record_dram_requests, dense_plans, vector_works_by_run["dense"])
            effort["simulated_tiles"] += dense_effort["simulated_tiles"]
            baseline_identity = dense.identity
            if all_requests is not None:
                all_requests["dense"] = dense_requests
        rows = rows + dense_rows
    records = pd.DataFrame(rows)
    # a shared buffer's energies and leakage do not depend on the weight share: one config
    records = apply_energy(records, config)[list(COLUMNS)]
    settings = {
        "mode": mode, "batch_size": batch, "every_iteration": bool(every_iteration),
        "baseline": bool(baseline), "iterations": trace.iterations,
        "simulated_iterations": effort["simulated_iterations"],
        "simulated_tiles": effort["simulated_tiles"], "accelsim_version": __version__,
        "energy_sources": energy_sources(config),
        "optimizer": kind, "optimizer_state_words": options.optimizer_state_words,
        "optimizer_state_bits": optimizer_state_bits(config),
        "input_layer_backward_data": options.input_layer_backward_data,
    }
    if config.buffer_organisation == "shared":
        settings["global_buffer"] = shares_by_run
        traffic = pd.concat(
            [traffic_table(records[records["run"] == run],
                           _operand_bytes(run_works_) | _operand_bytes(vector_works_by_run[run]),
                           config)
             for run, run_works_ in works_by_run.items()], ignore_index=True)
    else:
        traffic = traffic_table(records, _operand_bytes(works)
                                | _operand_bytes(vector_works_by_run["trace"]), config)
    result = SimulationResult(records, config.to_dict(), trace.identity, settings,
                              baseline_identity, all_requests, traffic=traffic,
                              mappings=mapping_table(works_by_run))
    result.check()  # conservation and accounting hold by construction; a failure is a bug
    return result
