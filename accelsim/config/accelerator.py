"""The accelerator spec: frozen dataclasses that check themselves, and their reading from YAML.

A configuration file (``configs/accelerators/*.yaml``) describes one accelerator: clock, word
size, PE array, weight and activation SRAMs (or one shared global buffer), DRAM (a preset plus
field overrides, see `accelsim.config.dram`), the PRNG regeneration unit, the index format of
tracked weights, the update unit and the simulation's tile size. Finding files, ``base:`` and
overrides are `accelsim.config.loader`; this module turns one merged mapping into an
`AcceleratorConfig`.

With ``buffer_organisation: shared`` a ``global_buffer`` section (an SRAM section) replaces the
two SRAM sections; the config then derives ``weight_sram`` and ``activation_sram`` as its two
views (`shared_buffer_views`), so the simulator, the energy model and the traffic table read
shared-buffer accesses under the same names, charged at the global buffer's energy per access.

Every on-chip energy, leakage, area and SRAM latency not given in the file is derived from the
``technology`` section (node, SRAM cell type, logic device; `accelsim.config.technology`): SRAMs
from the committed CACTI table, the datapath from published 45 nm figures scaled to the node.
Every energy or timing constant has its unit in its name and a source string in the section's
``sources`` mapping: a datasheet or paper, ``derived: ...`` (arithmetic on sourced figures, with
the rule; the technology's rules are `accelsim.config.technology`), or ``user`` (a value given
in a file or override without a source of its own).

Every dataclass checks its fields in ``__post_init__`` (`accelsim.config.checks`), so a config
built in code is checked as one read from a file. Errors name the file, the field path and the
value, on one line::

    configs/accelerators/x.yaml: weight_sram.banks: expected an integer >= 1, got 0
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, TypeVarTuple

from accelsim.config import checks
from accelsim.config.dram import DramConfig, dram_config_from_dict
from accelsim.config.energy_tables import (
    ARRAY_HOP_ENERGY_PER_MAC,
    DEFAULT_NUMBER_FORMAT,
    EYERISS,
    REGISTER_ENERGY_PER_MAC,
    REGISTERS_PER_PE,
)
from accelsim.config.technology import SramFigures, TechnologyConfig, check_number_format
from accelsim.errors import ConfigError
from accelsim.units import parse_size

WEIGHT_BITS = (32, 16, 8)
DATAFLOWS = ("ws", "os", "is")
REUSE_POLICIES = ("mapper", "scalesim")
MAPPER_OBJECTIVES = ("dram", "energy")
# "split": a weight SRAM and an activation SRAM; "shared": one global buffer for both
BUFFER_ORGANISATIONS = ("split", "shared")
INDEX_FORMATS = ("bitmap", "relative")
DRAM_TIMINGS = ("cached", "exact")  # accelsim.sim.dram.port: what each means
MIN_TILE_WEIGHTS = 64  # a tile is a bulk event: smaller ones only slow the simulation down
MIN_DRAM_SAMPLE_BURSTS = 64
MAX_INDEX_BITS = 32
MIN_ACTIVATION_ROOM_WORDS = 256  # a shared buffer's least room for activations (see its use)

_T = TypeVar("_T")
_Args = TypeVarTuple("_Args")


def _set(config: object, name: str, value: object) -> None:
    """Store a checked (normalized) value on a frozen dataclass."""
    object.__setattr__(config, name, value)


def check_weight_bits(value: object) -> int:
    """The word size rule (also needed by the reader before it can pick the MAC energy)."""
    bits = checks.integer("weight_bits", value)
    checks.one_of("weight_bits", value, WEIGHT_BITS)
    return bits


def check_sram_geometry(capacity_bytes: object, banks: object, bank_width_bits: object
                        ) -> tuple[int, int, int]:
    """The SRAM size rules (also needed by the reader before it derives energies from them).

    A capacity of 0 is allowed: nothing is held on chip.
    """
    capacity_bytes = checks.integer("capacity_bytes", capacity_bytes, minimum=0)
    banks = checks.integer("banks", banks, minimum=1)
    bank_width_bits = checks.integer("bank_width_bits", bank_width_bits, minimum=8)
    if bank_width_bits % 8:
        checks.fail("bank_width_bits", "a multiple of 8", bank_width_bits)
    row_bytes = banks * bank_width_bits // 8
    if capacity_bytes % row_bytes:
        checks.fail("capacity_bytes", f"a multiple of banks x bank width = {row_bytes} bytes",
                    capacity_bytes)
    return capacity_bytes, banks, bank_width_bits


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeArrayConfig:
    rows: int
    cols: int
    dataflow: str  # "ws" weight-, "os" output-, "is" input-stationary
    mac_energy_pj: float
    sources: dict[str, str] = field(default_factory=dict)
    # a word moved into a PE's register, and one hop across the array (weight loads, partial
    # sums); None: derived from the MAC energy (Eyeriss ratios, energy_tables.EYERISS)
    register_energy_pj: float | None = None
    array_hop_energy_pj: float | None = None
    # zero weights (a trace whose untracked weights are zeros) skip their multiplications:
    # no MAC energy, and each weight tile's compute cycles shrink to its nonzero share
    skip_zero_macs: bool = False
    # one PE's silicon (its MAC and its pipeline registers); 0: not known
    pe_area_mm2: float = 0.0
    number_format: str = ""  # the MAC's ("fp32", "int8", ...); "" in a config built in code

    def __post_init__(self) -> None:
        checks.boolean("skip_zero_macs", self.skip_zero_macs)
        _set(self, "pe_area_mm2", checks.number("pe_area_mm2", self.pe_area_mm2))
        _set(self, "rows", checks.integer("rows", self.rows, minimum=1))
        _set(self, "cols", checks.integer("cols", self.cols, minimum=1))
        checks.one_of("dataflow", self.dataflow, DATAFLOWS)
        _set(self, "mac_energy_pj", checks.number("mac_energy_pj", self.mac_energy_pj))
        sources = dict(self.sources)
        for name, ratio in (("register_energy_pj", REGISTER_ENERGY_PER_MAC),
                            ("array_hop_energy_pj", ARRAY_HOP_ENERGY_PER_MAC)):
            if getattr(self, name) is None:
                _set(self, name, ratio * self.mac_energy_pj)
                sources.setdefault(name, f"derived: {EYERISS}: {ratio:g}x this config's "
                                   "pe.mac_energy_pj (a ratio at one node, so at this node)")
            else:
                _set(self, name, checks.number(name, getattr(self, name)))
                sources.setdefault(name, "user")
        _set(self, "sources", sources)
        _set(self, "sources", checks.source_map("sources", self.sources))


@dataclass(frozen=True)
class SramConfig:
    capacity_bytes: int  # 0 allowed: nothing held on chip
    banks: int
    bank_width_bits: int  # bits per bank per access (one access per bank per cycle)
    latency_cycles: int
    read_energy_pj: float  # per bank-width access
    write_energy_pj: float  # per bank-width access
    leakage_power_mw: float
    sources: dict[str, str] = field(default_factory=dict)
    area_mm2: float = 0.0  # the whole array; 0: not known
    access_time_ns: float = 0.0  # 0: not known

    def __post_init__(self) -> None:
        for name in ("area_mm2", "access_time_ns"):
            _set(self, name, checks.number(name, getattr(self, name)))
        capacity, banks, width = check_sram_geometry(self.capacity_bytes, self.banks,
                                                     self.bank_width_bits)
        _set(self, "capacity_bytes", capacity)
        _set(self, "banks", banks)
        _set(self, "bank_width_bits", width)
        _set(self, "latency_cycles", checks.integer("latency_cycles", self.latency_cycles,
                                                    minimum=0))
        for name in ("read_energy_pj", "write_energy_pj", "leakage_power_mw"):
            _set(self, name, checks.number(name, getattr(self, name)))
        _set(self, "sources", checks.source_map("sources", self.sources))

    @property
    def bytes_per_cycle(self) -> int:
        return self.banks * self.bank_width_bits // 8


def shared_buffer_row_bytes(buffer: SramConfig) -> int:
    """The step of a shared buffer's weight share: one row of all its banks, so both views
    hold whole rows of their half of the banks."""
    return buffer.bytes_per_cycle


def shared_buffer_views(buffer: SramConfig, weight_share_bytes: int
                        ) -> tuple[SramConfig, SramConfig]:
    """The two views of one global buffer that the rest of the simulator reads as
    ``weight_sram`` and ``activation_sram``: `weight_share_bytes` for pinned tracked weights,
    the rest for activation tiles. Each view has half the banks (a static bank split: weights
    and activations do not take each other's bandwidth), the buffer's energy per access, and
    the weight view carries the whole buffer's leakage and area (one buffer leaks once, whether
    activations are simulated or not)."""
    if buffer.banks < 2 or buffer.banks % 2:
        checks.fail("global_buffer.banks", "an even number >= 2 (half serve weights, half "
                    "activations)", buffer.banks)
    half = buffer.banks // 2

    def view(capacity: int, banks: int, leakage_mw: float, area_mm2: float) -> SramConfig:
        sources = {key: f"global_buffer: {text}" for key, text in buffer.sources.items()}
        return SramConfig(capacity, banks, buffer.bank_width_bits, buffer.latency_cycles,
                          buffer.read_energy_pj, buffer.write_energy_pj, leakage_mw, sources,
                          area_mm2, buffer.access_time_ns)

    return (view(weight_share_bytes, half, buffer.leakage_power_mw, buffer.area_mm2),
            view(buffer.capacity_bytes - weight_share_bytes, buffer.banks - half, 0.0, 0.0))


@dataclass(frozen=True)
class PrngConfig:
    lanes: int
    values_per_cycle: int  # per lane, once the pipeline is full
    latency_cycles: int  # pipeline depth: first value after this many cycles
    energy_pj_per_value: float
    sources: dict[str, str] = field(default_factory=dict)
    lane_area_mm2: float = 0.0  # one generator lane's silicon; 0: not known

    def __post_init__(self) -> None:
        _set(self, "lane_area_mm2", checks.number("lane_area_mm2", self.lane_area_mm2))
        _set(self, "lanes", checks.integer("lanes", self.lanes, minimum=1))
        _set(self, "values_per_cycle", checks.integer("values_per_cycle", self.values_per_cycle,
                                                      minimum=1))
        _set(self, "latency_cycles", checks.integer("latency_cycles", self.latency_cycles,
                                                    minimum=0))
        _set(self, "energy_pj_per_value", checks.number("energy_pj_per_value",
                                                        self.energy_pj_per_value))
        _set(self, "sources", checks.source_map("sources", self.sources))

    @property
    def throughput_values_per_cycle(self) -> int:
        return self.lanes * self.values_per_cycle


@dataclass(frozen=True)
class IndexConfig:
    format: str  # "bitmap": one bit per weight of the layer; "relative": index_bits per tracked
    index_bits: int  # width of a relative index (1 for bitmap: one bit per weight)

    def __post_init__(self) -> None:
        checks.one_of("format", self.format, INDEX_FORMATS)
        if self.format == "relative":
            bits = self.index_bits
            if not isinstance(bits, int) or isinstance(bits, bool) or not (
                    1 <= bits <= MAX_INDEX_BITS):
                checks.fail("index_bits", f"an integer from 1 to {MAX_INDEX_BITS}", bits)
        elif not checks.is_integer(self.index_bits) or self.index_bits != 1:
            checks.fail("index_bits", "1 for format bitmap (one bit per weight; leave it out "
                        "of a file)", self.index_bits)
        _set(self, "index_bits", int(self.index_bits))

    def indexed_weights(self, weight_count: _T, tracked_count: _T) -> _T:
        """The weights of a run that carry `index_bits` each: all of them (bitmap) or the
        tracked ones (relative). Ints, or numpy arrays of per-tile counts."""
        return weight_count if self.format == "bitmap" else tracked_count

    def bits_for(self, weight_count: int, tracked_count: int) -> int:
        """Index metadata bits of a run of weights holding `tracked_count` tracked ones."""
        return int(self.indexed_weights(weight_count, tracked_count)) * self.index_bits


@dataclass(frozen=True)
class UpdateConfig:
    alu_lanes: int  # weights read-modify-written per cycle (w <- w - lr*g)
    alu_energy_pj_per_weight: float
    topk_cycles_per_weight: float  # threshold / top-k maintenance, per weight compared
    topk_energy_pj_per_weight: float
    score_regenerates_w0: bool  # a tracked weight's score |w - w0| needs w0 from the PRNG
    sources: dict[str, str] = field(default_factory=dict)
    # bits of one optimizer state word (momentum, Adam's moments); None: a weight's width
    optimizer_state_bits: int | None = None
    area_mm2: float = 0.0  # the ALU lanes and comparators; 0: not known
    # the ALU's add- and multiply-class operations on optimizer state (momentum, Adam's
    # moments), per operation; None: the technology's adder / multiplier in the MAC's format
    # (`update_operation_energies`, filled in by `AcceleratorConfig`)
    state_add_energy_pj: float | None = None
    state_mult_energy_pj: float | None = None

    def __post_init__(self) -> None:
        _set(self, "area_mm2", checks.number("area_mm2", self.area_mm2))
        for name in ("state_add_energy_pj", "state_mult_energy_pj"):
            if getattr(self, name) is not None:
                _set(self, name, checks.number(name, getattr(self, name)))
        _set(self, "alu_lanes", checks.integer("alu_lanes", self.alu_lanes, minimum=1))
        for name in ("alu_energy_pj_per_weight", "topk_cycles_per_weight",
                     "topk_energy_pj_per_weight"):
            _set(self, name, checks.number(name, getattr(self, name)))
        checks.boolean("score_regenerates_w0", self.score_regenerates_w0)
        _set(self, "sources", checks.source_map("sources", self.sources))
        if self.optimizer_state_bits is not None:
            _set(self, "optimizer_state_bits", checks.integer(
                "optimizer_state_bits", self.optimizer_state_bits, minimum=1))


def update_operation_energies(technology: TechnologyConfig, number_format: str
                              ) -> dict[str, tuple[float, str]]:
    """The update ALU's energy per add-class and multiply-class operation on optimizer state:
    {field: (pJ, source)} from `technology` in `number_format`."""
    out = {}
    for name, op in (("state_add_energy_pj", "add"), ("state_mult_energy_pj", "mult")):
        energy, _, source = technology.operations(
            ((f"{number_format}_{op}", 1),), f"update ALU optimizer-state {op} ({number_format})")
        out[name] = (energy, source)
    return out


# -- the vector unit (the layers between the GEMMs: BatchNorm, ReLU, pooling, add, loss) ------
# One lane does one add-class (add, subtract, compare, max) or one multiply-class (multiply,
# divide, exp, square root) operation per cycle, on words of `weight_bits`, in the MAC's number
# format; its energies come from the config's technology, as the MAC's do (one node).
VECTOR_LANES_DEFAULT = (32, "user: one lane per column of the default 32-column array (as the "
                            "PRNG and update lanes), so the unit takes an output row per cycle")
VECTOR_LATENCY_DEFAULT = (4, "Jia, Maggioni, Staiger, Scarpazza, 'Dissecting the NVIDIA Volta "
                              "GPU Architecture via Microbenchmarking', arXiv 1804.06826, 2018: "
                              "an fp32 fused multiply-add's dependent-issue latency on Volta, "
                              "4 cycles")
VECTOR_FUSE_DEFAULT = (False, "user: every layer between the GEMMs reads and writes its own "
                              "activations (an upper bound on their traffic)")


@dataclass(frozen=True)
class VectorUnitConfig:
    lanes: int  # element operations per cycle
    latency_cycles: int  # pipeline depth: paid once per layer and phase
    add_energy_pj: float  # per add-class operation
    mult_energy_pj: float  # per multiply-class operation
    sources: dict[str, str] = field(default_factory=dict)
    # apply a ReLU (and, in inference, a BatchNorm) as the layer before it writes its output:
    # its forward pass then moves no activation words of its own (`accelsim.sim.parts.vector`)
    fuse_into_output_write: bool = False

    def __post_init__(self) -> None:
        _set(self, "lanes", checks.integer("lanes", self.lanes, minimum=1))
        _set(self, "latency_cycles", checks.integer("latency_cycles", self.latency_cycles,
                                                    minimum=0))
        for name in ("add_energy_pj", "mult_energy_pj"):
            _set(self, name, checks.number(name, getattr(self, name)))
        checks.boolean("fuse_into_output_write", self.fuse_into_output_write)
        _set(self, "sources", checks.source_map("sources", self.sources))


def default_vector_unit(technology: TechnologyConfig, number_format: str) -> VectorUnitConfig:
    """The vector unit an accelerator has when its file names none: lanes and latency by
    design, energies per operation from `technology` in `number_format`."""
    add, _, add_source = technology.operations(((f"{number_format}_add", 1),),
                                               f"vector lane add-class op ({number_format})")
    mult, _, mult_source = technology.operations(
        ((f"{number_format}_mult", 1),), f"vector lane multiply-class op ({number_format})")
    return VectorUnitConfig(VECTOR_LANES_DEFAULT[0], VECTOR_LATENCY_DEFAULT[0], add, mult,
                            {"lanes": VECTOR_LANES_DEFAULT[1],
                             "latency_cycles": VECTOR_LATENCY_DEFAULT[1],
                             "add_energy_pj": add_source, "mult_energy_pj": mult_source,
                             "fuse_into_output_write": VECTOR_FUSE_DEFAULT[1]},
                            fuse_into_output_write=VECTOR_FUSE_DEFAULT[0])


def _read_vector(s: _Section, technology: TechnologyConfig, number_format: str
                 ) -> VectorUnitConfig:
    """The `vector` section; every key optional (the defaults above)."""
    default = default_vector_unit(technology, number_format)
    sources = s.sources()
    values = {}
    for key in ("lanes", "latency_cycles", "add_energy_pj", "mult_energy_pj",
                "fuse_into_output_write"):
        if s.has(key):
            values[key] = s.raw(key)
            sources[key] = _given_source(sources, key, "user")
        else:
            values[key] = getattr(default, key)
            sources[key] = default.sources[key]
    s.done()
    return VectorUnitConfig(**values, sources=sources)
# -- end of the vector unit ------------------------------------------------------------------


# the sections of an AcceleratorConfig and their types, in file order
_SECTIONS = (("pe", PeArrayConfig), ("weight_sram", SramConfig), ("activation_sram", SramConfig),
             ("dram", DramConfig), ("prng", PrngConfig), ("index", IndexConfig),
             ("update", UpdateConfig))


@dataclass(frozen=True)
class AcceleratorConfig:
    name: str
    clock_mhz: float
    weight_bits: int  # word size of weights, gradients and activations
    pe: PeArrayConfig
    weight_sram: SramConfig
    activation_sram: SramConfig
    dram: DramConfig
    prng: PrngConfig
    index: IndexConfig
    update: UpdateConfig
    simulate_activations: bool
    tile_weights: int  # weights per simulation event (a tile groups whole folds)
    buffer_depth_tiles: int  # on-chip tile buffers between stages (2 = double buffering)
    dram_timing: str = "cached"  # "cached" | "exact": the simulator's DRAM timing
    dram_sample_bursts: int = 4096  # cached timing: longer streams are timed on this many
    # the memory hierarchy (accelsim.sim.mapping.mapper): how a phase's GEMM uses the buffers
    reuse_policy: str = "mapper"  # "mapper" (search) | "scalesim" (SCALE-Sim v3's fixed policy)
    mapper_objective: str = "dram"  # "dram" (fewest DRAM words) | "energy"
    buffer_organisation: str = "split"  # weight and activation SRAMs apart, or "shared"
    staging_buffer_bytes: int = 65536  # streamed (and regenerated) weights on their way in
    # buffer_organisation "shared" only (None otherwise): the one global buffer, and how many of
    # its bytes hold pinned tracked weights (None: each run chooses, `accelsim.sim.shared_buffer`).
    # weight_sram and activation_sram are then its two views (`shared_buffer_views`), derived
    # here whatever was passed for them.
    global_buffer: SramConfig | None = None
    weight_share_bytes: int | None = None
    # the node and cell types the on-chip figures were derived from
    technology: TechnologyConfig = field(default_factory=TechnologyConfig)
    staging_buffer_area_mm2: float = 0.0  # derived from the technology when not given
    path: str | None = None  # the file it came from
    vector: VectorUnitConfig | None = None  # None: default_vector_unit(technology, format)
    # the raw merged YAML
    spec: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        checks.text("name", self.name)
        _set(self, "clock_mhz", checks.number("clock_mhz", self.clock_mhz, positive=True))
        _set(self, "weight_bits", check_weight_bits(self.weight_bits))
        checks.one_of("buffer_organisation", self.buffer_organisation, BUFFER_ORGANISATIONS)
        if self.buffer_organisation == "shared":
            self._derive_shared_views()
        else:
            for name in ("global_buffer", "weight_share_bytes"):
                if getattr(self, name) is not None:
                    checks.fail(name, "nothing with buffer_organisation split (set "
                                "buffer_organisation: shared for one global buffer)",
                                getattr(self, name))
        for name, kind in _SECTIONS:
            if not isinstance(getattr(self, name), kind):
                checks.fail(name, f"a {kind.__name__}", getattr(self, name))
        for name in ("weight_sram", "activation_sram"):
            width = getattr(self, name).bank_width_bits
            if width < self.weight_bits:
                checks.fail(f"{name}.bank_width_bits",
                            f"at least one {self.weight_bits}-bit word", width)
        if self.update.state_add_energy_pj is None or self.update.state_mult_energy_pj is None:
            derived = update_operation_energies(
                self.technology, self.pe.number_format or DEFAULT_NUMBER_FORMAT[self.weight_bits])
            add, mult = self.update.state_add_energy_pj, self.update.state_mult_energy_pj
            sources = {name: source for name, (_, source) in derived.items()
                       if getattr(self.update, name) is None}
            _set(self, "update", dataclasses.replace(
                self.update,
                state_add_energy_pj=derived["state_add_energy_pj"][0] if add is None else add,
                state_mult_energy_pj=derived["state_mult_energy_pj"][0] if mult is None else mult,
                sources={**sources, **self.update.sources}))
        if self.vector is None:
            _set(self, "vector", default_vector_unit(
                self.technology,
                self.pe.number_format or DEFAULT_NUMBER_FORMAT[self.weight_bits]))
        elif not isinstance(self.vector, VectorUnitConfig):
            checks.fail("vector", "a VectorUnitConfig", self.vector)
        checks.boolean("simulate_activations", self.simulate_activations)
        _set(self, "tile_weights", checks.integer(
            "tile_weights", self.tile_weights, minimum=MIN_TILE_WEIGHTS,
            why=" (a tile is a bulk event)"))
        _set(self, "buffer_depth_tiles", checks.integer("buffer_depth_tiles",
                                                        self.buffer_depth_tiles, minimum=1))
        checks.one_of("dram_timing", self.dram_timing, DRAM_TIMINGS)
        _set(self, "dram_sample_bursts", checks.integer(
            "dram_sample_bursts", self.dram_sample_bursts, minimum=MIN_DRAM_SAMPLE_BURSTS))
        checks.one_of("reuse_policy", self.reuse_policy, REUSE_POLICIES)
        checks.one_of("mapper_objective", self.mapper_objective, MAPPER_OBJECTIVES)
        _set(self, "staging_buffer_bytes", checks.integer(
            "staging_buffer_bytes", self.staging_buffer_bytes, minimum=0))
        if not isinstance(self.technology, TechnologyConfig):
            checks.fail("technology", "a TechnologyConfig", self.technology)
        _set(self, "staging_buffer_area_mm2", checks.number(
            "staging_buffer_area_mm2", self.staging_buffer_area_mm2))
        if self.path is not None:
            checks.text("path", self.path)

    def _derive_shared_views(self) -> None:
        buffer = self.global_buffer
        if not isinstance(buffer, SramConfig):
            checks.fail("global_buffer", "a section (capacity_bytes, banks, bank_width_bits, "
                        "latency_cycles) with buffer_organisation shared", buffer)
        if buffer.bank_width_bits < self.weight_bits:
            checks.fail("global_buffer.bank_width_bits", f"at least one {self.weight_bits}-bit "
                        "word", buffer.bank_width_bits)
        room = self.min_activation_room_bytes
        if buffer.capacity_bytes < room:
            checks.fail("global_buffer.capacity_bytes", f"at least {room} bytes (the room kept "
                        "for activation tiles: AcceleratorConfig.min_activation_room_bytes)",
                        buffer.capacity_bytes)
        share = self.weight_share_bytes
        if share is not None:
            row = shared_buffer_row_bytes(buffer)
            share = checks.integer("weight_share_bytes", share, minimum=0)
            if share > buffer.capacity_bytes - room or share % row:
                checks.fail("weight_share_bytes", f"a multiple of {row} bytes (one row of the "
                            f"global buffer) from 0 to {buffer.capacity_bytes - room} (the "
                            f"buffer less {room} bytes kept for activations)", share)
            _set(self, "weight_share_bytes", share)
        weight_view, activation_view = shared_buffer_views(buffer, share or 0)
        _set(self, "weight_sram", weight_view)
        _set(self, "activation_sram", activation_view)

    @property
    def min_activation_room_bytes(self) -> int:
        """A shared buffer's room that weights never take, in whole rows: one array's worth of
        input and output words (2 x rows x cols), and at least 256 words (below 100 words per
        operand, SCALE-Sim's read-buffer model, which the mapper falls back to, has no block:
        `accelsim.sim.mapping.scalesim.scalesim_block_words`). 0 with split buffers."""
        if self.global_buffer is None:
            return 0
        words = max(2 * self.pe.rows * self.pe.cols, MIN_ACTIVATION_ROOM_WORDS)
        row = shared_buffer_row_bytes(self.global_buffer)
        return -(-words * self.weight_bytes // row) * row

    def with_weight_share(self, weight_share_bytes: int) -> AcceleratorConfig:
        """This shared-buffer config with `weight_share_bytes` of the buffer for pinned weights
        (and the rest for activations)."""
        return dataclasses.replace(self, weight_share_bytes=weight_share_bytes)

    @property
    def weight_bytes(self) -> int:
        return self.weight_bits // 8

    @property
    def staging_energy_pj_per_word(self) -> float:
        """One word written into or read out of the staging buffer: CACTI's read energy of a
        one-bank SRAM of its capacity, one word wide (`staging_source`)."""
        return staging_buffer(self.technology, self.staging_buffer_bytes,
                              self.weight_bits).read_energy_pj

    @property
    def staging_source(self) -> str:
        return staging_buffer(self.technology, self.staging_buffer_bytes,
                              self.weight_bits).source

    def __hash__(self) -> int:  # the sections hold source dicts; hash the resolved values instead
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=str))

    def to_dict(self) -> dict[str, object]:
        """Every resolved value (derived energies included) with its sources; JSON-ready."""
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):
            if f.name == "spec":
                continue
            if f.name in _SHARED_ONLY and self.buffer_organisation != "shared":
                continue  # a split config's dict (and sweep ids hashed from it) as before
            value = getattr(self, f.name)
            is_section = dataclasses.is_dataclass(value) and not isinstance(value, type)
            out[f.name] = _plain(dataclasses.asdict(value) if is_section else value)
        return out


_SHARED_ONLY = ("global_buffer", "weight_share_bytes")


def staging_buffer(technology: TechnologyConfig, capacity_bytes: int, weight_bits: int
                   ) -> SramFigures:
    """The staging buffer's CACTI figures: one bank of its capacity, one word wide."""
    return _staging_figures(technology.node_nm, technology.sram_cell_type, capacity_bytes,
                            weight_bits)


@functools.lru_cache(maxsize=256)
def _staging_figures(node_nm: int, cell_type: str, capacity_bytes: int, weight_bits: int
                     ) -> SramFigures:
    return TechnologyConfig(node_nm, cell_type).sram(capacity_bytes, weight_bits, banks=1)


def _plain(value: object) -> object:
    """Tuples to lists, numpy scalars to Python, so the dict survives JSON round trips."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


# ---------------------------------------------------------------------------------------------
# Reading: one YAML mapping -> the dataclasses. The reader only finds the keys (missing,
# unknown, defaults, sizes written as 64KiB) and fills derived figures; the dataclasses check
# the values. Each section is read inside `checks.located`, so errors get the section path.

_MISSING = object()


class _Section:
    """Key access to one mapping of a config file; unknown keys are refused at `done()`."""

    def __init__(self, data: dict[str, object]) -> None:
        self.data = data
        self.used: set[str] = set()

    def has(self, key: str) -> bool:
        self.used.add(key)  # an optional key asked for is a known key
        return key in self.data

    def raw(self, key: str, default: object = _MISSING) -> Any:
        """The value of `key` as written, unchecked (Any: the dataclass it is handed to checks
        it in ``__post_init__``, whatever its type)."""
        self.used.add(key)
        if key not in self.data:
            if default is _MISSING:
                raise ConfigError(f"{key}: expected a value (required field), got nothing "
                                  "(missing)")
            return default
        return self.data[key]

    def size(self, key: str) -> object:
        """A byte count, which a file may write as 64KiB or 1MiB."""
        value = self.raw(key)
        if isinstance(value, str):
            try:
                return parse_size(value)
            except ConfigError:
                checks.fail(key, "a size such as 4096, 64KiB or 1MiB", value)
        return value

    def raw_size(self, key: str) -> Any:
        """`size`, unchecked like `raw` (the dataclass checks it)."""
        return self.size(key)

    def sources(self) -> dict[str, str]:
        return checks.source_map("sources", self.raw("sources", {}))

    def section(self, key: str) -> _Section:
        data = self.raw(key)
        if not isinstance(data, dict):
            checks.fail(key, "a mapping", data)
        return _Section(data)

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            key = unknown[0]
            raise ConfigError(f"{key}: expected one of the known keys "
                              f"({', '.join(sorted(self.used))}), got an unknown key set to "
                              f"{self.data[key]!r}")


def _given_source(sources: dict[str, str], key: str, fallback: str) -> str:
    return sources.get(key, fallback)


def _derived(s: _Section, sources: dict[str, str], key: str, value: float, source: str
             ) -> Any:
    """`key` as the file gives it (its source: the file's, or ``user``), else `value` from the
    technology with its `source`."""
    if s.has(key):
        sources[key] = _given_source(sources, key, "user")
        return s.raw(key)
    sources[key] = source
    return value


def _read_pe(s: _Section, weight_bits: int, technology: TechnologyConfig) -> PeArrayConfig:
    sources = s.sources()
    rows, cols, dataflow = s.raw("rows"), s.raw("cols"), s.raw("dataflow")
    hop = s.raw("array_hop_energy_pj", None)
    number_format = check_number_format(
        weight_bits, s.raw("number_format", DEFAULT_NUMBER_FORMAT[weight_bits]))
    register = _derived(s, sources, "register_energy_pj", *technology.register_write(weight_bits))
    mac_pj, mac_mm2, mac_source = technology.mac(number_format)
    mac = _derived(s, sources, "mac_energy_pj", mac_pj, mac_source)
    registers_mm2, register_source = technology.register_area_mm2(REGISTERS_PER_PE * weight_bits)
    area = _derived(s, sources, "pe_area_mm2", mac_mm2 + registers_mm2,
                    f"{mac_source}; plus {REGISTERS_PER_PE} {weight_bits}-bit pipeline "
                    f"registers: {register_source}")
    skip_zero_macs = s.raw("skip_zero_macs", False)
    s.done()
    return PeArrayConfig(rows, cols, dataflow, mac, sources, register_energy_pj=register,
                         array_hop_energy_pj=hop, skip_zero_macs=skip_zero_macs,
                         pe_area_mm2=area, number_format=number_format)


def _read_sram(s: _Section, technology: TechnologyConfig, clock_mhz: float) -> SramConfig:
    sources = s.sources()
    capacity, banks, width = check_sram_geometry(s.size("capacity_bytes"), s.raw("banks"),
                                                 s.raw("bank_width_bits"))
    cacti = technology.sram(capacity, width, banks)
    values = {key: _derived(s, sources, key, getattr(cacti, key), cacti.source)
              for key in ("read_energy_pj", "write_energy_pj", "leakage_power_mw", "area_mm2",
                          "access_time_ns")}
    # an access slower than the clock takes as many cycles as it needs (at least one)
    period_ns = 1e3 / clock_mhz
    cycles = max(1, math.ceil(cacti.access_time_ns / period_ns - 1e-9))
    latency = _derived(s, sources, "latency_cycles", cycles,
                       f"derived: CACTI access time {cacti.access_time_ns:.3g} ns over the "
                       f"{period_ns:.3g} ns clock period, rounded up ({cacti.source})")
    s.done()
    return SramConfig(capacity, banks, width, latency, values["read_energy_pj"],
                      values["write_energy_pj"], values["leakage_power_mw"], sources,
                      values["area_mm2"], values["access_time_ns"])


def _read_prng(s: _Section, technology: TechnologyConfig) -> PrngConfig:
    sources = s.sources()
    lanes, per_cycle = s.raw("lanes"), s.raw("values_per_cycle")
    latency = s.raw("latency_cycles")
    sources.setdefault("latency_cycles", "user")
    energy_pj, area_mm2, source = technology.prng(s.raw("generator", "hash"))
    energy = _derived(s, sources, "energy_pj_per_value", energy_pj, source)
    area = _derived(s, sources, "lane_area_mm2", area_mm2, source)
    s.done()
    return PrngConfig(lanes, per_cycle, latency, energy, sources, lane_area_mm2=area)


def _read_index(s: _Section) -> IndexConfig:
    fmt = s.raw("format")
    # a relative index needs its width; bitmap has one bit per weight and may leave it out
    # (an explicit `index_bits: null` is a value, and a wrong one: IndexConfig refuses it)
    bits = s.raw("index_bits") if s.has("index_bits") or fmt == "relative" else 1
    s.done()
    return IndexConfig(fmt, bits)


def _read_update(s: _Section, technology: TechnologyConfig, number_format: str
                 ) -> UpdateConfig:
    sources = s.sources()
    values = {key: s.raw(key) for key in ("alu_lanes", "topk_cycles_per_weight",
                                          "score_regenerates_w0")}
    for key in ("topk_cycles_per_weight", "alu_lanes"):
        sources.setdefault(key, "user")
    state_bits = s.raw("optimizer_state_bits", None)
    # w <- w - lr*g: a multiply and an add per weight; a comparison costs an add
    alu_pj, alu_mm2, alu_source = technology.operations(
        ((f"{number_format}_mult", 1), (f"{number_format}_add", 1)),
        f"update ALU lane ({number_format} multiply and add)")
    compare_pj, compare_mm2, compare_source = technology.operations(
        ((f"{number_format}_add", 1),), f"comparator ({number_format} compare as an add)")
    values["alu_energy_pj_per_weight"] = _derived(s, sources, "alu_energy_pj_per_weight",
                                                  alu_pj, alu_source)
    values["topk_energy_pj_per_weight"] = _derived(s, sources, "topk_energy_pj_per_weight",
                                                   compare_pj, compare_source)
    for key, (energy, source) in update_operation_energies(technology, number_format).items():
        values[key] = _derived(s, sources, key, energy, source)
    lanes = checks.integer("alu_lanes", values["alu_lanes"], minimum=1)
    values["area_mm2"] = _derived(
        s, sources, "area_mm2", lanes * (alu_mm2 + compare_mm2),
        f"derived: alu_lanes ALU lanes and as many comparators; {alu_source}; {compare_source}")
    s.done()
    return UpdateConfig(**values, sources=sources, optimizer_state_bits=state_bits)


def _read_technology(s: _Section) -> TechnologyConfig:
    sources = s.sources()
    defaults = TechnologyConfig()
    node = s.raw("node_nm", defaults.node_nm)
    cell = s.raw("sram_cell_type", defaults.sram_cell_type)
    logic = s.raw("logic_device", defaults.logic_device)
    s.done()
    return TechnologyConfig(node, cell, logic, sources)


def _read_section(top: _Section, key: str, read: Callable[[_Section, *_Args], _T],
                  *args: *_Args) -> _T:
    """Read section `key` with `read`; its errors get `key.` in front of the field."""
    section = top.section(key)
    with checks.located(section=key):
        return read(section, *args)


def config_from_dict(data: object, where: str = "<dict>", path: str | None = None
                     ) -> AcceleratorConfig:
    """Build and check a config from a (merged) mapping; errors name `where`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of config fields, got {data!r}")
    with checks.located(where):
        top = _Section(data)
        top.raw("base", None)  # already resolved by the loader
        description = top.raw("description", None)
        if description is not None:
            checks.text("description", description)
        top.raw("sources", None)
        name = top.raw("name")
        clock = top.raw("clock_mhz")
        weight_bits = check_weight_bits(top.raw("weight_bits"))
        technology = (_read_section(top, "technology", _read_technology)
                      if top.has("technology") else TechnologyConfig())
        pe = _read_section(top, "pe", _read_pe, weight_bits, technology)
        clock_mhz = checks.number("clock_mhz", clock, positive=True)
        organisation = top.raw("buffer_organisation", "split")
        checks.one_of("buffer_organisation", organisation, BUFFER_ORGANISATIONS)
        global_buffer = weight_share = None
        if organisation == "shared":
            for key in ("weight_sram", "activation_sram"):
                # null clears a section inherited through `base:`
                if top.has(key) and top.raw(key) is not None:
                    checks.fail(key, "no section with buffer_organisation shared (global_buffer "
                                "holds weights and activations)", top.raw(key))
            global_buffer = _read_section(top, "global_buffer", _read_sram, technology,
                                          clock_mhz)
            weight_share = top.raw("weight_share_bytes", None)
            if isinstance(weight_share, str):
                weight_share = top.raw_size("weight_share_bytes")
            # placeholders: the config derives both views from the global buffer
            weight_sram, activation_sram = shared_buffer_views(global_buffer, 0)
        else:
            weight_sram = _read_section(top, "weight_sram", _read_sram, technology, clock_mhz)
            activation_sram = _read_section(top, "activation_sram", _read_sram, technology,
                                            clock_mhz)
            if top.has("global_buffer"):
                global_buffer = _read_section(top, "global_buffer", _read_sram, technology,
                                          clock_mhz)
            weight_share = top.raw("weight_share_bytes", None)
        dram = dram_config_from_dict(top.raw("dram"), section="dram")
        prng = _read_section(top, "prng", _read_prng, technology)
        index = _read_section(top, "index", _read_index)
        update = _read_section(top, "update", _read_update, technology, pe.number_format)
        simulate_activations = top.raw("simulate_activations")
        tile_weights = top.raw("tile_weights")
        depth = top.raw("buffer_depth_tiles")
        dram_timing = top.raw("dram_timing", "cached")
        sample = top.raw("dram_sample_bursts", 4096)
        policy = top.raw("reuse_policy", "mapper")
        objective = top.raw("mapper_objective", "dram")
        staging = top.raw("staging_buffer_bytes", 65536)
        vector = _read_section(top, "vector", _read_vector, technology, pe.number_format) \
            if top.has("vector") else None
        if isinstance(staging, str):
            staging = top.size("staging_buffer_bytes")
        staging = checks.integer("staging_buffer_bytes", staging, minimum=0)
        staging_area = top.raw("staging_buffer_area_mm2", staging_buffer(
            technology, staging, weight_bits).area_mm2)
        top.done()
        return AcceleratorConfig(name, clock, weight_bits, pe, weight_sram, activation_sram,
                                 dram, prng, index, update, simulate_activations, tile_weights,
                                 depth, dram_timing, sample, policy, objective, organisation,
                                 staging, global_buffer=global_buffer,
                                 weight_share_bytes=weight_share, technology=technology,
                                 staging_buffer_area_mm2=staging_area, path=path,
                                 vector=vector, spec=copy.deepcopy(data))
