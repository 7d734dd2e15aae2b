"""The vector unit: the layers between the GEMMs (BatchNorm, ReLU, pooling, residual add, the
loss, flatten), counted in closed form per layer and phase (torch-free), and their phases as
tiles for the machine.

Per (layer, phase) for the whole batch (`vector_work`): add-class operations (add, subtract,
compare, max, select) and multiply-class operations (multiply, divide, exp, log, square root);
activation words read and written; the stash (what backward needs of the forward, written in
forward and read in backward, in bits: a ReLU mask is one bit per element); and BatchNorm's
parameter and running-statistic words, charged in every run (they are outside the budget).

Phases, named as the GEMM phases are: `forward`; in training, `backward_data` (the gradient of
the layer's input; BatchNorm's dγ and dβ in the same pass) and, for BatchNorm, `update`
(γ and β by SGD). In inference BatchNorm uses its running statistics and nothing is stashed;
the loss runs only in training.

The counts, with E = input elements of the batch, E' = output elements, C = channels,
N = batch, w = word bits, k = pool window (kh·kw):

| kind | phase | reads | writes | adds | mults | stash |
|---|---|---|---|---|---|---|
| batchnorm | forward (training) | 2E (2 passes) | E | 4E + 3C | 2E + 9C | x, μ, 1/σ: (E+2C)·w |
| batchnorm | forward (inference) | E | E | E + C | E + 3C | — |
| batchnorm | backward_data | 2E dY + stash 2E + 2C | E | 5E | 5E + C | reads x twice, stats |
| batchnorm | update | 2C γ,β + 2C gradients | 2C | 2C | 2C | — |
| relu | forward | E | E | E | 0 | E bits (mask) |
| relu | backward_data | E dY + mask | E | E | 0 | reads the mask |
| pool max | forward | E | E' | E'(k−1) | 0 | E'·⌈log2 k⌉ bits (argmax) |
| pool max | backward_data | E' dY + argmax | E | E' | 0 | reads the argmax |
| pool avg | forward | E | E' | E'(k−1) | E' | — |
| pool avg | backward_data | E' dY | E | E | E' | — |
| add (n inputs) | forward | nE | E | (n−1)E | 0 | — |
| add (n inputs) | backward_data | nE | E | (n−1)E | 0 | — |
| loss | forward | E logits + N labels | N | 3E + N | 2E + N | softmax p: E·w, labels N·w |
| loss | backward_data | stash | E | N | E | reads p and labels |
| flatten | any | 0 | 0 | 0 | 0 | — (a view) |

Why these: BatchNorm is two passes over its input (the batch statistics need every element
before the first output), as is its backward (dγ, dβ before dX); the ReLU stashes a mask bit
rather than its output; max pooling its argmax, an index into the window. A residual add costs
its sum in forward; in backward its gradient fans out unchanged, and the sum happens where the
two branches met (the fork), charged here as the add's backward. The stash is charged as a
write and a read: by backward the activation buffer has been reused for later layers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

from accelsim.config.accelerator import AcceleratorConfig
from accelsim.sim.mapping.apportion import split_evenly
from accelsim.sim.mapping.tiles import PhaseTiles, Traffic
from accelsim.trace.geometry import VECTOR_KINDS

FORWARD, BACKWARD, UPDATE = "forward", "backward_data", "update"


@dataclass(frozen=True)
class VectorWork:
    """One non-GEMM layer's work in one phase, for the whole batch."""

    layer_id: int
    name: str
    kind: str
    phase: str
    add_ops: int
    mult_ops: int
    activation_read_words: int
    activation_write_words: int
    stash_write_bits: int
    stash_read_bits: int
    parameter_read_words: int  # BatchNorm γ, β and running statistics (outside the budget)
    parameter_write_words: int

    @property
    def ops(self) -> int:
        return self.add_ops + self.mult_ops

    def cycles(self, lanes: int, latency_cycles: int) -> int:
        """Compute cycles on `lanes` lanes, the pipeline filled once; memory stalls are the
        simulation's."""
        return 0 if self.ops == 0 else -(-self.ops // lanes) + latency_cycles

    def energy_pj(self, add_energy_pj: float, mult_energy_pj: float) -> float:
        return self.add_ops * add_energy_pj + self.mult_ops * mult_energy_pj


def vector_phases(kind: str, training: bool) -> tuple[str, ...]:
    """The phases a layer of `kind` runs in, in the order of a step."""
    if kind not in VECTOR_KINDS:
        raise ValueError(f"kind {kind!r} is not a vector-unit layer ({VECTOR_KINDS})")
    if not training:
        return () if kind == "loss" else (FORWARD,)
    return (FORWARD, BACKWARD, UPDATE) if kind == "batchnorm" else (FORWARD, BACKWARD)


def vector_work(layer: Mapping, phase: str, *, batch_size: int, word_bits: int,
                training: bool) -> VectorWork:
    """The closed-form counts of `layer` (a row of the trace's layer table) in `phase`."""
    kind = str(layer["kind"])
    if phase not in vector_phases(kind, training):
        raise ValueError(f"layer {layer['name']}: a {kind} layer has no {phase} phase "
                         f"({'training' if training else 'inference'})")
    n = int(batch_size)
    e = int(layer["in_activation_count"]) * n
    e_out = int(layer["out_activation_count"]) * n
    counts = _COUNTS[kind](layer, phase, n, e, e_out, word_bits, training)
    return VectorWork(int(layer["layer_id"]), str(layer["name"]), kind, phase, *counts)


# each returns (adds, mults, reads, writes, stash writes bits, stash reads bits,
#               parameter reads, parameter writes)
def _batchnorm(layer, phase, n, e, e_out, w, training):
    c = int(layer["in_shape"][0])
    params = int(layer["unbudgeted_param_count"])  # γ, β: 2C (0 without affine)
    stats = int(layer["running_stat_count"])  # running mean, variance: 2C (0 if not tracked)
    if phase == UPDATE:  # SGD on γ and β: read each and its gradient, write it back
        return params, params, 0, 0, 0, 0, 2 * params, params
    if phase == FORWARD and not training:
        # y = x·a + b with a = γ/√(var+ε), b = β − mean·a folded per channel
        return e + c, e + 3 * c, e, e_out, 0, 0, params + stats, 0
    stash_bits = (e + 2 * c) * w  # the input x, and the batch mean and 1/σ per channel
    if phase == FORWARD:
        # pass 1: Σx, Σx² (2E adds, E mults); per channel mean, var, 1/√(var+ε) and the
        # running update (2 stats × 2 mults + 1 add); pass 2: (x − μ)·(γ/σ) + β
        adds = 2 * e + 2 * e + c * (2 + 1)
        mults = e + e + c * (3 + 2 + 4)
        return adds, mults, 2 * e, e_out, stash_bits, 0, params + stats, stats
    # backward: pass 1 x̂ = (x − μ)/σ, Σdy, Σdy·x̂; pass 2 dx = γ/(Nσ)·(N·dy − Σdy − x̂·Σdy·x̂)
    adds, mults = 5 * e, 5 * e + c
    stash_read = 2 * e * w + 2 * c * w
    return adds, mults, 2 * e_out, e, 0, stash_read, params // 2, params


def _relu(layer, phase, n, e, e_out, w, training):
    mask_bits = e if training else 0
    if phase == FORWARD:
        return e, 0, e, e_out, mask_bits, 0, 0, 0
    return e, 0, e_out, e, 0, mask_bits, 0, 0


def _pool(layer, phase, n, e, e_out, w, training):
    window = math.prod(int(v) for v in layer["kernel"])
    is_max = layer["mode"] == "max"
    index_bits = e_out * max(1, math.ceil(math.log2(window))) if is_max and training else 0
    if phase == FORWARD:
        return e_out * (window - 1), 0 if is_max else e_out, e, e_out, index_bits, 0, 0, 0
    if is_max:  # each output gradient goes to its argmax (summed where windows overlap)
        return e_out, 0, e_out, e, 0, index_bits, 0, 0
    return e, e_out, e_out, e, 0, 0, 0, 0  # dy/k spread over each window, summed per input


def _add(layer, phase, n, e, e_out, w, training):
    inputs = int(layer["input_count"])
    return (inputs - 1) * e, 0, inputs * e, e_out, 0, 0, 0, 0


def _loss(layer, phase, n, e, e_out, w, training):
    probs_bits, labels_bits = e * w, n * w
    if phase == FORWARD:
        # per sample: max over the logits, subtract it, exp, sum, p = exp/sum, log of the sum,
        # the loss = log Σ − (logit[label] − max)
        classes = e // n
        adds = n * (classes - 1) + e + e + 2 * n
        mults = e + e + n
        return adds, mults, e + n, e_out, probs_bits + labels_bits, 0, 0, 0
    # dlogits = (p − onehot(label)) / N
    return n, e, 0, e, 0, probs_bits + labels_bits, 0, 0


def _flatten(layer, phase, n, e, e_out, w, training):
    return 0, 0, 0, 0, 0, 0, 0, 0  # a view: the same words, read by the next layer


_COUNTS = {"batchnorm": _batchnorm, "relu": _relu, "pool": _pool, "add": _add, "loss": _loss,
           "flatten": _flatten}


# -- the vector layers in a simulation ----------------------------------------------------------
# Where their words go (the GEMM phases' rule, `accelsim.sim.mapping.layer`): a phase whose
# inputs and output fit in the activation SRAM together keeps them on chip; otherwise they come
# from and go to DRAM. The stash stays on chip if the whole step's stash fits in the activation
# SRAM, else it goes to DRAM and back. BatchNorm's parameters and running statistics are read
# from and written back to DRAM each step (they are not held on chip between steps). With
# `simulate_activations` off only BatchNorm's state moves. Each phase is a few equal tiles, so
# the machine overlaps their traffic with the vector unit's cycles; it times them on its
# compute server (phases run one after another, so which server is immaterial). Four tiles:
# on a ResNet-18 batch-32 step the vector layers' cycles are within 1.2 % of 16 tiles' (0.5 %
# of the step's) at a quarter of the simulated tiles.
MAX_VECTOR_TILES = 4
FLOW_ROLE = {FORWARD: "activations", BACKWARD: "gradients", UPDATE: "batchnorm_state"}


@dataclass
class VectorLayerWork:
    """A vector layer's work in one run: per phase, its counts and its traffic by operand role
    in bytes, (sram_read, sram_write, dram_read, dram_write), as `LayerWork` holds it."""

    layer_id: int
    name: str
    exec_order: int
    kind: str
    phases: dict[str, VectorWork]
    activation_operand_bytes: dict[str, dict[str, tuple[int, int, int, int]]]
    param_count: int = 0  # no budgeted weights (the machine's DRAM layout reads it)
    optimizer_state_words: int = 0  # BatchNorm's state travels as batchnorm_state
    # applied as the layer before it writes its output (`fused_into_output_write`): its
    # forward moves no activation words and takes no cycles of its own
    fused: bool = False

    @property
    def activation_bytes(self) -> dict[str, tuple[int, ...]]:
        """Phase -> the four byte counts summed over roles (the machine sizes its region)."""
        return {phase: tuple(sum(v[i] for v in roles.values()) for i in range(4))
                for phase, roles in self.activation_operand_bytes.items()}


def vector_layer_works(layers: list[Mapping], config: AcceleratorConfig, batch_size: int,
                       mode: str) -> list[VectorLayerWork]:
    """The vector layers of a layer table (rows of `Trace.layer_table`) on `config` for a run of
    `mode` ("train" or "inference"); a flatten, which moves nothing, is left out."""
    training = mode == "train"
    word_bits, word_bytes = config.weight_bits, config.weight_bytes
    capacity = config.activation_sram.capacity_bytes
    rows = [r for r in layers if r["kind"] in VECTOR_KINDS and r["kind"] != "flatten"]
    counted = [(row, {phase: vector_work(row, phase, batch_size=batch_size, word_bits=word_bits,
                                         training=training)
                      for phase in vector_phases(str(row["kind"]), training)})
               for row in rows]
    stash_bytes = sum(-(-w.stash_write_bits // 8) for _, ws in counted for w in ws.values())
    stash_on_chip = stash_bytes <= capacity
    fused_ids = fused_into_output_write(layers, training) \
        if config.vector is not None and config.vector.fuse_into_output_write else set()
    works = []
    for row, phases in counted:
        fused = int(row["layer_id"]) in fused_ids
        # one pass's working set: every input and the output
        n = batch_size
        working_bytes = (int(row["input_count"]) * int(row["in_activation_count"])
                         + int(row["out_activation_count"])) * n * word_bytes
        on_chip = working_bytes <= capacity
        roles: dict[str, dict[str, tuple[int, int, int, int]]] = {}
        for phase, w in phases.items():
            by_role: dict[str, tuple[int, int, int, int]] = {}
            if config.simulate_activations:
                read = w.activation_read_words * word_bytes
                write = w.activation_write_words * word_bytes
                if fused and phase == FORWARD:
                    read = write = 0  # the producer's output write carries the result
                by_role[FLOW_ROLE[phase]] = _level(read, write, on_chip)
                stash = (-(-w.stash_read_bits // 8), -(-w.stash_write_bits // 8))
                by_role["stash"] = _level(*stash, stash_on_chip)
            state = (w.parameter_read_words * word_bytes, w.parameter_write_words * word_bytes)
            by_role["batchnorm_state"] = _add4(by_role.get("batchnorm_state"),
                                               _level(*state, False))
            roles[phase] = {k: v for k, v in by_role.items() if any(v)}
        works.append(VectorLayerWork(int(row["layer_id"]), str(row["name"]),
                                     int(row["exec_order"]), str(row["kind"]), phases, roles,
                                     fused=fused))
    return works


# what a layer may be applied in: the kinds whose output write can carry it
_FUSES_INTO: dict[str, tuple[str, ...]] = {"relu": ("conv2d", "linear", "batchnorm", "add")}
# inference BatchNorm: a per-channel scale and shift from its running statistics
_FUSES_INTO_INFERENCE: dict[str, tuple[str, ...]] = {"batchnorm": ("conv2d", "linear")}


def fused_into_output_write(layers: list[Mapping], training: bool) -> set[int]:
    """The layer_ids of the vector layers applied as the layer run just before them writes its
    output (`vector.fuse_into_output_write`): a ReLU after a convolution, linear layer,
    BatchNorm or residual add; in inference also a BatchNorm after a convolution or linear
    layer (a per-channel scale and shift; in training its batch statistics need every output
    first). The layer before is the previous in execution order, and must write exactly the
    elements this one reads. Their ops are still counted (and a ReLU still stashes its mask)."""
    ordered = sorted(layers, key=lambda r: (int(r["exec_order"]), int(r["layer_id"])))
    fused = set()
    for before, row in itertools.pairwise(ordered):
        producers: tuple[str, ...] = _FUSES_INTO.get(str(row["kind"]), ())
        if not training:
            producers += _FUSES_INTO_INFERENCE.get(str(row["kind"]), ())
        if (str(before["kind"]) in producers
                and int(before["out_activation_count"]) == int(row["in_activation_count"])):
            fused.add(int(row["layer_id"]))
    return fused


def _level(read: int, write: int, on_chip: bool) -> tuple[int, int, int, int]:
    return (read, write, 0, 0) if on_chip else (0, 0, read, write)


def _add4(a, b) -> tuple[int, int, int, int]:
    if a is None:
        return b
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])


def vector_phase_tiles(work: VectorLayerWork, phase: str, config: AcceleratorConfig
                       ) -> PhaseTiles:
    """One phase of a vector layer as tiles for the machine (`accelsim.sim.mapping.tiles`)."""
    w = work.phases[phase]
    vector = config.vector
    assert vector is not None  # AcceleratorConfig fills in the default
    # a fused forward runs in the producer's output stream (lanes match the array's columns)
    cycles = 0 if (work.fused and phase == FORWARD) else w.cycles(vector.lanes,
                                                                   vector.latency_cycles)
    sram_read, sram_write, dram_read, dram_write = work.activation_bytes.get(phase, (0, 0, 0, 0))
    n = max(1, min(MAX_VECTOR_TILES, -(-max(w.ops, 1) // config.tile_weights)))
    basis = [1] * n
    width = config.activation_sram.bank_width_bits

    def words(total_bytes):
        return -(-split_evenly(total_bytes, basis) * 8 // width)

    read = Traffic.of(n, activation_sram_words=words(sram_read),
                      activation_dram_bytes=split_evenly(dram_read, basis))
    write = Traffic.of(n, activation_sram_words=words(sram_write),
                       activation_dram_bytes=split_evenly(dram_write, basis))
    work_counts = dict(
        iterations_count=1, weight_accesses_count=0, served_sram_count=0, served_dram_count=0,
        served_prng_count=0, tracked_count=0, regenerated_count=0, entered_count=0,
        left_count=0, macs_count=0, pe_weight_loads_count=0, staging_accesses_count=0,
        update_alu_weights_count=0, topk_compares_count=0, vector_add_ops_count=w.add_ops,
        vector_mult_ops_count=w.mult_ops)
    return PhaseTiles(work.layer_id, phase, False, split_evenly(cycles, basis).tolist(),
                      [0] * n, read, write, work_counts)


def vector_layer_phases(vector_works: list[VectorLayerWork], config: AcceleratorConfig
                        ) -> list[PhaseTiles]:
    """Every phase of the vector layers as tiles. They do not depend on the tracked set, so a
    run builds them once for all its iterations."""
    return [vector_phase_tiles(w, phase, config) for w in vector_works for phase in w.phases]


def with_vector_phases(phases: list[PhaseTiles], gemm_works: list,
                       vector_works: list[VectorLayerWork], config: AcceleratorConfig,
                       vector_tiles: list[PhaseTiles] | None = None) -> list[PhaseTiles]:
    """An iteration's GEMM phases (in the order they run) with the vector layers' phases
    placed among them by execution order: forward in order, then backward in reverse order,
    each layer's phases (backward_data, backward_weight, update) together. `vector_tiles`:
    `vector_layer_phases` of `vector_works`, when already built."""
    if not vector_works:
        return phases
    order = {w.layer_id: w.exec_order for w in gemm_works}
    order.update({w.layer_id: w.exec_order for w in vector_works})
    rank = {FORWARD: 0, BACKWARD: 1, "backward_weight": 2, UPDATE: 3}

    def key(tiles):
        at = order[tiles.layer_id]
        if tiles.phase == FORWARD:
            return (0, at, 0)
        return (1, -at, rank[tiles.phase])

    extra = (vector_layer_phases(vector_works, config) if vector_tiles is None
             else vector_tiles)
    return sorted(phases + extra, key=key)
