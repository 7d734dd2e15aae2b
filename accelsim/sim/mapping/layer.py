"""A layer's fixed mapping on an accelerator, built once per run: `LayerWork`.

`layer_work` derives each phase's GEMM once (`gemm.phase_gemm`) and hands that one object to
everything that needs it: the folds and weight blocks on the array (`folds`), the mapping of
the GEMM on the buffers (`mapper.map_gemm`), the activation-side traffic by operand role
(`activation_operands`) and the weight pass's entry and fetch factors (`weight_factors`). The
tiles of one iteration (`tiles`) read only the `LayerWork`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from accelsim.config.accelerator import AcceleratorConfig
from accelsim.sim.mapping.apportion import split_evenly
from accelsim.sim.mapping.folds import (
    BlockGrid,
    array_hops,
    ceil_div,
    flat_tile_starts,
    fold_grid,
    pe_weight_loads,
    tile_starts,
    weight_block_grid,
)
from accelsim.sim.mapping.gemm import (
    GEMM_PHASES,
    OPERAND_ROLES,
    Gemm,
    GemmMapping,
    phase_gemm,
)
from accelsim.sim.mapping.mapper import map_gemm
from accelsim.sim.mapping.scalesim import scalesim_operand_words

# the phases that read weights through the array
WEIGHT_PASSES = ("forward", "backward_data")


@dataclass
class PassGeometry:
    """A weight pass (forward or backward_data) of one layer."""

    tile_starts: np.ndarray  # first block of each tile
    tile_weights: np.ndarray  # weights per tile (bias elements in the last tile)
    tile_compute_cycles: np.ndarray
    grid: BlockGrid
    macs: int
    pe_weight_loads: int


@dataclass
class LayerWork:
    layer_id: int
    name: str
    exec_order: int
    param_count: int
    weight_count: int
    bias_count: int
    cout: int
    kw: int
    gemms: dict[str, Gemm]  # phase -> its GEMM, derived once (`gemm.phase_gemm`)
    passes: dict[str, PassGeometry]  # weight pass -> its blocks and tiles
    gradient_tile_weights: np.ndarray  # backward_weight tiles
    gradient_tile_cycles: np.ndarray
    gradient_macs: int
    update_starts: np.ndarray  # flat tiles over the layer's elements
    update_tile_weights: np.ndarray
    activation_bytes: dict[str, tuple[int, ...]]  # phase -> (sram_read,
    # sram_write, dram_read, dram_write) bytes
    activation_operand_bytes: dict[str, dict[str, tuple[int, ...]]]  # phase -> role -> the
    # same four, by operand role
    mappings: dict[str, GemmMapping]  # phase -> how its GEMM uses the buffers
    weight_factors: dict[str, tuple[int, int]]  # weight pass -> (array entries, staged
    # fetches) per weight
    hops: dict[str, dict[str, int]]  # phase -> GEMM operand -> words hopping between PEs
    # untracked weights are zeros (not w0): neither stored nor regenerated; set by the
    # simulation from the trace (`Trace.untracked_values`)
    untracked_zero: bool = False
    # optimizer state words kept per tracked weight (`placement.optimizer_state_words`); set
    # by the simulation from the trace's optimizer
    optimizer_state_words: int = 0
    # the update ALU's operations per weight with state (`placement.OptimizerRule`)
    optimizer_add_ops: int = 0
    optimizer_mult_ops: int = 0

    @property
    def phases(self) -> tuple[str, ...]:
        """The GEMM phases this layer runs (the input layer has no backward_data)."""
        return tuple(self.mappings)

    def mask_2d(self, mask: np.ndarray) -> np.ndarray:
        return mask[: self.weight_count].reshape(self.cout, self.kw)


def phase_mapping(gemm: Gemm, phase: str, config: AcceleratorConfig) -> GemmMapping:
    """The phase's GEMM on the array and buffers (`mapper.map_gemm`): A and C
    in the activation SRAM, B in the weight SRAM (forward, backward_data) or, being dY, in the
    activation SRAM beside A (backward_weight). A shared global buffer: the tiles of A, B and C
    must fit together in the part not held by pinned weights (its activation view). Under the
    `scalesim` policy A gets SCALE-Sim's ifmap half of the activation SRAM
    (`scalesim.scalesim_operand_words`)."""
    word = config.weight_bytes
    act_words = config.activation_sram.capacity_bytes // word
    weight_words = config.weight_sram.capacity_bytes // word
    shared_words = act_words if config.buffer_organisation == "shared" else None
    if config.reuse_policy == "scalesim":  # SCALE-Sim's ifmap / filter / ofmap SRAMs
        a_words, b_words = scalesim_operand_words(phase, act_words, weight_words)
    elif phase == "backward_weight":
        a_words, b_words = act_words // 2, act_words - act_words // 2
    else:
        a_words, b_words = act_words, weight_words
    act = config.activation_sram
    sram_pj = act.read_energy_pj * 8 * word / act.bank_width_bits
    return map_gemm(gemm, config.pe.rows, config.pe.cols,
                    config.pe.dataflow, config.reuse_policy, a_words=a_words, b_words=b_words,
                    shared_words=shared_words, objective=config.mapper_objective,
                    sram_pj_per_word=sram_pj,
                    dram_pj_per_word=config.dram.read_energy_pj_per_bit * 8 * word)


def activation_operands(gemm: Gemm, phase: str, config: AcceleratorConfig,
                        mapping: GemmMapping) -> dict[str, tuple[int, ...]]:
    """The activation-side traffic of a phase, by operand role (``activations``,
    ``gradients``, ``partial_sums``): role -> (sram_read, sram_write, dram_read, dram_write)
    in bytes. `layer_work` sums them per phase.

    Outputs (C): forward's Y words are written, drained and stored once each. backward_data's
    GEMM gives the im2col-shaped dY·Wᵀ (M x kh·kw·Cin); each of its words is added into dX
    where it is produced (col2im): the first word into a dX position is a write, every later
    one a read-add-write in the buffer, and only dX (`Gemm.c_footprint_words`, the layer's
    input size) is drained to DRAM when it does not stay on chip (the windows of a band of
    output rows touch a band of kh input rows, so the accumulation itself stays on chip).
    backward_weight's dW goes to the update unit as each word is finished (never stored);
    its partial sums, one per row fold under ws and is (none under os: dW accumulates in the
    PE registers), are written to the buffer and read back, and those that spill go to DRAM
    and back."""
    ops = mapping.operands
    word = config.weight_bytes
    roles = OPERAND_ROLES[phase]
    # operand role -> [sram_read, sram_write, dram_read, dram_write] words
    parts: dict[str, list[int]] = {}

    def add(role: str, values: tuple[int, ...]) -> None:
        acc = parts.setdefault(role, [0, 0, 0, 0])
        for i, v in enumerate(values):
            acc[i] += int(v)

    for name in ("A", "B"):
        if roles[name] != "weights":  # weights are counted by the tiles (placement)
            o = ops[name]
            add(roles[name], (o.sram_reads, o.sram_writes, o.dram_reads, o.dram_writes))
    c = ops["C"]
    final = gemm.m * gemm.n  # words the GEMM produces, each finished once
    if phase == "backward_weight":
        spilled = c.dram_reads
        # array-side partial sums: every output word written per row fold but the last
        # (that one goes to the update unit), each read back for the next fold
        folded = max(0, c.sram_writes - spilled - final)
        add("partial_sums", (folded + spilled, folded + spilled, spilled, spilled))
    else:
        stored = gemm.output_words  # forward: M·N; backward_data: dX
        written = min(final, c.sram_writes)
        drained = min(final, c.dram_writes)  # output words the mapping sends to DRAM
        out_dram = stored * drained // final if final else 0
        # col2im: a read before each add but the first into a dX word
        accumulate = written - min(written, stored)
        add(roles["C"], (accumulate + min(stored, c.sram_reads), written, 0, out_dram))
        add("partial_sums", (c.sram_reads - min(final, c.sram_reads), c.sram_writes - written,
                             c.dram_reads, c.dram_writes - drained))
    if config.reuse_policy == "mapper":
        # inputs and output fit on chip together: they stay there, from layer to layer (and
        # the forward input stays on chip as the stash backward_weight reads)
        if phase == "backward_weight":
            second = gemm.k * gemm.n
        else:
            second = parts[roles["C"]][3] + parts["partial_sums"][3]
        if (gemm.a_footprint_words + second) * word <= config.activation_sram.capacity_bytes:
            # no fill from DRAM (and no buffer write for it, where the mapping counted one:
            # a fixed SCALE-Sim schedule does not)
            for name in (["A", "B"] if phase == "backward_weight" else ["A"]):
                acc = parts[roles[name]]
                fills = min(ops[name].dram_reads, acc[2])
                acc[1] -= min(fills, ops[name].sram_writes)
                acc[2] -= fills
            if phase != "backward_weight":
                # no drain to DRAM: the output's DRAM writes and the buffer reads that fed
                # them go, the output's first, then the partial sums'
                for role in (roles["C"], "partial_sums"):
                    acc = parts[role]
                    acc[0] -= min(acc[3], acc[0])
                    acc[3] = 0
    return {role: tuple(v * word for v in values) for role, values in parts.items()}


def weight_factors(gemm: Gemm, config: AcceleratorConfig) -> tuple[int, int]:
    """(entries, fetches) per weight in a weight pass: how often it enters the array, and how
    often a streamed or regenerated weight must be brought in (once when its fold fits the
    staging buffer, else at every entry)."""
    rows, cols, dataflow = config.pe.rows, config.pe.cols, config.pe.dataflow
    if dataflow == "ws":
        return 1, 1
    staging_words = config.staging_buffer_bytes // config.weight_bytes
    if dataflow == "os":
        entries = ceil_div(gemm.m, rows)
        fold_words = gemm.k * min(cols, gemm.n_per_group)
    else:
        entries = ceil_div(gemm.m, cols)
        fold_words = gemm.k * gemm.n_per_group
    return entries, (1 if fold_words <= staging_words else entries)


def layer_phases(mode: str) -> tuple[str, ...]:
    """The GEMM phases a run of `mode` ("train" or "inference") maps."""
    return ("forward",) if mode == "inference" else GEMM_PHASES


def layer_work(layer: Mapping[str, Any], config: AcceleratorConfig, batch: int, mode: str,
               gemms: dict[str, Gemm] | None = None, *,
               backward_data: bool = True) -> LayerWork:
    """A layer's work on `config`'s accelerator (a layer-table row, the batch, the mode).
    `gemms`: the layer's phase GEMMs at this batch where already derived (another config's
    `LayerWork.gemms`), else derived here. backward_data: False for a layer whose input
    gradient nobody needs (the input layer): the phase is left out."""
    rows, cols, dataflow = config.pe.rows, config.pe.cols, config.pe.dataflow
    tile = config.tile_weights
    weight_count, bias_count = int(layer["weight_count"]), int(layer["bias_count"])
    param_count = weight_count + bias_count
    cout, kw = int(layer["fwd_n"]), int(layer["fwd_k"])
    # each phase's GEMM, once; backward_weight's also in inference (its cycles are kept)
    if gemms is None:
        gemms = {phase: phase_gemm(layer, phase, batch) for phase in GEMM_PHASES}
    phases = tuple(p for p in layer_phases(mode) if backward_data or p != "backward_data")
    passes = {}
    for phase in (p for p in WEIGHT_PASSES if p in phases):
        gemm = gemms[phase]
        grid = weight_block_grid(gemm, phase, cout, kw, rows, cols, dataflow, tile)
        sizes = grid.sizes()
        starts = tile_starts(sizes, tile)
        weights = np.add.reduceat(sizes, starts).astype(np.int64)
        weights[-1] += bias_count
        cycles = np.add.reduceat(grid.cycles, starts).astype(np.int64)
        passes[phase] = PassGeometry(starts, weights, cycles, grid, gemm.macs,
                                     pe_weight_loads(gemm, rows, dataflow, weight_count, cols))
    update_starts = flat_tile_starts(param_count, tile)
    update_weights = np.diff(np.append(update_starts, param_count)).astype(np.int64)
    gemm_w = gemms["backward_weight"]
    grad_cycles_total = fold_grid(gemm_w, rows, cols, dataflow).cycles
    activation, mappings, factors, roles, hops = {}, {}, {}, {}, {}
    for phase in phases:
        gemm = gemms[phase]
        mappings[phase] = phase_mapping(gemm, phase, config)
        roles[phase] = (activation_operands(gemm, phase, config, mappings[phase])
                        if config.simulate_activations else {})
        activation[phase] = tuple(sum(p[i] for p in roles[phase].values()) for i in range(4))
        if phase in WEIGHT_PASSES:
            factors[phase] = weight_factors(gemm, config)
        hops[phase] = array_hops(gemm.macs, dataflow)
    return LayerWork(
        layer_id=int(layer["layer_id"]), name=str(layer["name"]),
        exec_order=int(layer["exec_order"]), param_count=param_count,
        weight_count=weight_count, bias_count=bias_count, cout=cout, kw=kw, gemms=gemms,
        passes=passes, gradient_tile_weights=update_weights,
        gradient_tile_cycles=split_evenly(grad_cycles_total, update_weights),
        gradient_macs=gemm_w.macs, update_starts=update_starts,
        update_tile_weights=update_weights, activation_bytes=activation,
        activation_operand_bytes=roles, mappings=mappings,
        weight_factors=factors, hops=hops,
    )
