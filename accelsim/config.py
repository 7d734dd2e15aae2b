"""Typed accelerator configuration: frozen dataclasses, YAML in, one-line `ConfigError`s out.

A configuration file (``configs/accelerators/*.yaml``) describes one accelerator: clock, word
size, PE array, weight and activation SRAMs, DRAM (a preset plus field overrides), the PRNG
regeneration unit, the index format of tracked weights, the update unit and the simulation's
tile size. A file may start with ``base: NAME`` to take another file's values and change a few.

Every energy or timing constant has its unit in its name and a source string in the section's
``sources`` mapping: a datasheet or paper, ``derived: ...`` (arithmetic on sourced figures, with
the rule), or ``user`` (a value given in a file or override without a source of its own).

Errors name the file, the field path and the value, on one line::

    configs/accelerators/x.yaml: weight_sram.banks: must be an integer >= 1, got 0
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from accelsim.errors import ConfigError

# ---------------------------------------------------------------------------------------------
# Where the shipped configurations live: the repository's configs/accelerators, or the copy
# packaged inside accelsim (accelsim/configs/accelerators) in an installed wheel.
_REPO_CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs" / "accelerators"
_PACKAGE_CONFIG_DIR = Path(__file__).resolve().parent / "configs" / "accelerators"


def _config_dir() -> Path:
    if _REPO_CONFIG_DIR.is_dir():
        return _REPO_CONFIG_DIR
    return _PACKAGE_CONFIG_DIR


CONFIG_DIR = _config_dir()

WEIGHT_BITS = (32, 16, 8)
DATAFLOWS = ("ws", "os")
INDEX_FORMATS = ("bitmap", "relative")
DRAM_TIMINGS = ("cached", "exact")

HOROWITZ = "Horowitz, 'Computing's energy problem', ISSCC 2014, 45 nm"

# MAC = one multiply + one add at the word size (Horowitz ISSCC 2014, 45 nm).
# 32 and 16 bits are floating point, 8 bits integer, as in the table.
MAC_ENERGY_PJ = {
    32: (3.7 + 0.9, f"{HOROWITZ}: fp32 mult 3.7 + fp32 add 0.9 pJ"),
    16: (1.1 + 0.4, f"{HOROWITZ}: fp16 mult 1.1 + fp16 add 0.4 pJ"),
    8: (0.2 + 0.03, f"{HOROWITZ}: int8 mult 0.2 + int8 add 0.03 pJ"),
}

# SRAM energy per 64-bit access at three capacities (Horowitz ISSCC 2014, 45 nm cache figures).
SRAM_ANCHORS_PJ = ((8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0))
SRAM_RULE = (f"derived: {HOROWITZ} 8 KB/32 KB/1 MB -> 10/20/100 pJ per 64-bit access, "
             "power law in capacity between anchors (nearest segment beyond them), "
             "linear in access width")
# No primary figure was found for SRAM leakage; an order-of-magnitude estimate, linear in
# capacity (Accelergy's CACTI plug-in scales leakage with capacity). Set your own from CACTI.
SRAM_LEAKAGE_MW_PER_KIB = 0.05
SRAM_LEAKAGE_RULE = ("estimate (unconfirmed): 0.05 mW per KiB, linear in capacity "
                     "(CACTI-style scaling as in Accelergy's plug-in); replace with a CACTI figure")


def sram_access_energy_pj(capacity_bytes: int, width_bits: int) -> float:
    """Energy of one access of `width_bits` to an SRAM of `capacity_bytes` (rule: SRAM_RULE)."""
    caps = [math.log(c) for c, _ in SRAM_ANCHORS_PJ]
    pjs = [math.log(e) for _, e in SRAM_ANCHORS_PJ]
    x = math.log(max(int(capacity_bytes), 1024))  # below 1 KiB the rule means nothing
    # pick the segment: the first for small SRAMs, the last for large ones
    i = 0 if x <= caps[1] else 1
    slope = (pjs[i + 1] - pjs[i]) / (caps[i + 1] - caps[i])
    per_64_bits = math.exp(pjs[i] + slope * (x - caps[i]))
    return per_64_bits * width_bits / 64.0


def sram_leakage_power_mw(capacity_bytes: int) -> float:
    return SRAM_LEAKAGE_MW_PER_KIB * capacity_bytes / 1024.0


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeArrayConfig:
    rows: int
    cols: int
    dataflow: str  # "ws" weight-stationary | "os" output-stationary
    mac_energy_pj: float
    sources: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SramConfig:
    capacity_bytes: int  # 0 allowed for the weight SRAM: nothing pinned on chip
    banks: int
    bank_width_bits: int  # bits per bank per access (one access per bank per cycle)
    latency_cycles: int
    read_energy_pj: float  # per bank-width access
    write_energy_pj: float  # per bank-width access
    leakage_power_mw: float
    sources: dict = field(default_factory=dict)

    @property
    def bytes_per_cycle(self) -> int:
        return self.banks * self.bank_width_bits // 8


@dataclass(frozen=True)
class PrngConfig:
    lanes: int
    values_per_cycle: int  # per lane, once the pipeline is full
    latency_cycles: int  # pipeline depth: first value after this many cycles
    energy_pj_per_value: float
    sources: dict = field(default_factory=dict)

    @property
    def throughput_values_per_cycle(self) -> int:
        return self.lanes * self.values_per_cycle


@dataclass(frozen=True)
class IndexConfig:
    format: str  # "bitmap": one bit per weight of the layer; "relative": index_bits per tracked
    index_bits: int  # bits per indexed weight: a relative index's width; 1 for bitmap

    def indexed_weights(self, weight_count, tracked_count):
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
    sources: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AcceleratorConfig:
    name: str
    clock_mhz: float
    weight_bits: int  # word size of weights, gradients and activations
    pe: PeArrayConfig
    weight_sram: SramConfig
    activation_sram: SramConfig
    dram: Any  # accelsim.sim.dram.DramConfig
    prng: PrngConfig
    index: IndexConfig
    update: UpdateConfig
    simulate_activations: bool
    tile_weights: int  # weights per simulation event (a tile groups whole folds)
    buffer_depth_tiles: int  # on-chip tile buffers between stages (2 = double buffering)
    dram_timing: str = "cached"  # "cached" | "exact": see accelsim.sim.dram_port
    dram_sample_bursts: int = 4096  # cached timing: longer streams are timed on this many
    path: str | None = None  # the file it came from
    spec: dict = field(default_factory=dict, repr=False, compare=False)  # raw merged YAML

    @property
    def weight_bytes(self) -> int:
        return self.weight_bits // 8

    def __hash__(self):  # the sections hold source dicts; hash the resolved values instead
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=str))

    def to_dict(self) -> dict:
        """Every resolved value (derived energies included) with its sources; JSON-ready."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "spec":
                continue
            value = getattr(self, f.name)
            out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
        return _plain(out)


def _plain(value):
    """Tuples to lists, numpy scalars to Python, so the dict survives JSON round trips."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


# ---------------------------------------------------------------------------------------------
# Reading: a small typed reader over one YAML mapping that remembers where it is.

_MISSING = object()


class _Section:
    """Typed access to one mapping of a config file; unknown keys are refused at `done()`."""

    def __init__(self, data, where: str, prefix: str):
        self.where, self.prefix = where, prefix
        if not isinstance(data, dict):
            self.fail("", data, "must be a mapping")
        self.data, self.used = data, set()

    def path(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix and key else (self.prefix or key)

    def fail(self, key: str, value, message: str):
        raise ConfigError(f"{self.where}: {self.path(key) or '<top>'}: {message}, got {value!r}")

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default=_MISSING):
        self.used.add(key)
        if key not in self.data:
            if default is _MISSING:
                raise ConfigError(f"{self.where}: {self.path(key)}: missing (required field)")
            return default
        return self.data[key]

    def int(self, key: str, minimum: int = 1, default=_MISSING, choices=None) -> int:
        v = self.raw(key, default)
        if key.endswith("_bytes") and isinstance(v, str):  # sizes may be written as 64KiB
            from accelsim.units import parse_size

            try:
                v = parse_size(v)
            except ConfigError:
                self.fail(key, v, "must be a size such as 4096, 64KiB or 1MiB")
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(key, v, "must be an integer")
        if choices is not None and v not in choices:
            self.fail(key, v, f"must be one of {list(choices)}")
        if v < minimum:
            self.fail(key, v, f"must be an integer >= {minimum}")
        return int(v)

    def float(self, key: str, minimum: float = 0.0, default=_MISSING, positive=False) -> float:
        v = self.raw(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            self.fail(key, v, "must be a finite number")
        if positive and v <= 0:
            self.fail(key, v, "must be > 0")
        if v < minimum:
            self.fail(key, v, f"must be >= {minimum}")
        return float(v)

    def str(self, key: str, choices=None, default=_MISSING) -> str:
        v = self.raw(key, default)
        if not isinstance(v, str):
            self.fail(key, v, "must be a string")
        if choices is not None and v not in choices:
            self.fail(key, v, f"must be one of {list(choices)}")
        return v

    def bool(self, key: str, default=_MISSING) -> bool:
        v = self.raw(key, default)
        if not isinstance(v, bool):
            self.fail(key, v, "must be true or false")
        return v

    def section(self, key: str) -> "_Section":
        return _Section(self.raw(key), self.where, self.path(key))

    def sources(self) -> dict:
        v = self.raw("sources", {})
        if not isinstance(v, dict) or not all(isinstance(k, str) and isinstance(s, str)
                                              for k, s in v.items()):
            self.fail("sources", v, "must map field names to source strings")
        return dict(v)

    def done(self, allowed_extra=()):
        unknown = sorted(set(self.data) - self.used - set(allowed_extra))
        if unknown:
            key = unknown[0]
            self.fail(key, self.data[key], "unknown key")


def _given_source(sources: dict, key: str, fallback: str) -> str:
    return sources.get(key, fallback)


def _read_pe(s: _Section, weight_bits: int) -> PeArrayConfig:
    sources = s.sources()
    rows, cols = s.int("rows"), s.int("cols")
    dataflow = s.str("dataflow", DATAFLOWS)
    if s.has("mac_energy_pj"):
        mac = s.float("mac_energy_pj")
        sources["mac_energy_pj"] = _given_source(sources, "mac_energy_pj", "user")
    else:  # by word size, from the same table
        mac, src = MAC_ENERGY_PJ[weight_bits]
        sources["mac_energy_pj"] = src
    s.done()
    return PeArrayConfig(rows, cols, dataflow, mac, sources)


def _read_sram(s: _Section, weight_bits: int, allow_zero_capacity: bool) -> SramConfig:
    sources = s.sources()
    capacity = s.int("capacity_bytes", minimum=0 if allow_zero_capacity else 1)
    banks = s.int("banks")
    width = s.int("bank_width_bits", minimum=8)
    if width % 8:
        s.fail("bank_width_bits", width, "must be a multiple of 8")
    if width < weight_bits:
        s.fail("bank_width_bits", width, f"must hold at least one {weight_bits}-bit word")
    if capacity and capacity % (banks * width // 8):
        s.fail("capacity_bytes", capacity,
               f"must be a multiple of banks x bank width = {banks * width // 8} bytes")
    latency = s.int("latency_cycles", minimum=0)
    derived = sram_access_energy_pj(capacity, width)
    values = {}
    for key in ("read_energy_pj", "write_energy_pj"):
        if s.has(key):
            values[key] = s.float(key)
            sources[key] = _given_source(sources, key, "user")
        else:  # writes cost as much as reads: the anchors give one figure per access
            values[key] = derived
            sources[key] = SRAM_RULE
    if s.has("leakage_power_mw"):
        leakage = s.float("leakage_power_mw")
        sources["leakage_power_mw"] = _given_source(sources, "leakage_power_mw", "user")
    else:
        leakage = sram_leakage_power_mw(capacity)
        sources["leakage_power_mw"] = SRAM_LEAKAGE_RULE
    s.done()
    return SramConfig(capacity, banks, width, latency, values["read_energy_pj"],
                      values["write_energy_pj"], leakage, sources)


def _read_prng(s: _Section) -> PrngConfig:
    sources = s.sources()
    cfg = PrngConfig(s.int("lanes"), s.int("values_per_cycle"), s.int("latency_cycles", 0),
                     s.float("energy_pj_per_value"), sources)
    for key in ("energy_pj_per_value", "latency_cycles"):
        sources.setdefault(key, "user")
    s.done()
    return cfg


def _read_index(s: _Section) -> IndexConfig:
    fmt = s.str("format", INDEX_FORMATS)
    if fmt == "relative":
        bits = s.int("index_bits", minimum=1)
        if bits > 32:
            s.fail("index_bits", bits, "must be at most 32")
    else:
        if s.has("index_bits") and s.raw("index_bits") not in (None, 1):
            s.fail("index_bits", s.raw("index_bits"),
                   "has no meaning for format bitmap (one bit per weight); remove it")
        s.raw("index_bits", None)
        bits = 1
    s.done()
    return IndexConfig(fmt, bits)


def _read_update(s: _Section) -> UpdateConfig:
    sources = s.sources()
    cfg = UpdateConfig(s.int("alu_lanes"), s.float("alu_energy_pj_per_weight"),
                       s.float("topk_cycles_per_weight"), s.float("topk_energy_pj_per_weight"),
                       s.bool("score_regenerates_w0"), sources)
    for key in ("alu_energy_pj_per_weight", "topk_cycles_per_weight", "topk_energy_pj_per_weight"):
        sources.setdefault(key, "user")
    s.done()
    return cfg


def _read_dram(s: _Section):
    from accelsim.sim.dram import dram_config_from_dict  # torch-free; kept lazy for import time

    return dram_config_from_dict(dict(s.data), f"{s.where}: {s.prefix}")


def config_from_dict(data: dict, where: str = "<dict>", path: str | None = None
                     ) -> AcceleratorConfig:
    """Build and check a config from a (merged) mapping; errors name `where`."""
    top = _Section(data, where, "")
    top.raw("base", None)  # already resolved by the loader
    top.raw("description", None)
    top.raw("sources", None)
    name = top.str("name")
    clock = top.float("clock_mhz", positive=True)
    weight_bits = top.int("weight_bits", choices=WEIGHT_BITS)
    pe = _read_pe(top.section("pe"), weight_bits)
    weight_sram = _read_sram(top.section("weight_sram"), weight_bits, allow_zero_capacity=True)
    activation_sram = _read_sram(top.section("activation_sram"), weight_bits,
                                 allow_zero_capacity=True)
    dram = _read_dram(top.section("dram"))
    prng = _read_prng(top.section("prng"))
    index = _read_index(top.section("index"))
    update = _read_update(top.section("update"))
    simulate_activations = top.bool("simulate_activations")
    tile_weights = top.int("tile_weights", minimum=1)
    if tile_weights < 64:
        top.fail("tile_weights", tile_weights, "must be >= 64 (a tile is a bulk event)")
    depth = top.int("buffer_depth_tiles", minimum=1)
    dram_timing = top.str("dram_timing", DRAM_TIMINGS, default="cached")
    sample = top.int("dram_sample_bursts", minimum=64, default=4096)
    top.done()
    return AcceleratorConfig(name, clock, weight_bits, pe, weight_sram, activation_sram, dram,
                             prng, index, update, simulate_activations, tile_weights, depth,
                             dram_timing, sample, path, copy.deepcopy(data))


# ---------------------------------------------------------------------------------------------
# Files, names and overrides

def available_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _resolve_file(path_or_name) -> Path:
    p = Path(path_or_name)
    if p.is_file():
        return p
    stem = p.name[:-5] if p.name.endswith(".yaml") else p.name
    candidate = CONFIG_DIR / f"{stem}.yaml"
    if p.parent == Path(".") and candidate.is_file():
        return candidate
    raise ConfigError(f"{path_or_name}: no such config file or name "
                      f"(names: {', '.join(available_configs()) or 'none found'} in {CONFIG_DIR})")


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{at} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: <top>: must be a mapping, got {data!r}")
    return data


def _deep_merge(base: dict, top: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _load_merged(path: Path, seen=()) -> dict:
    data = _read_yaml(path)
    base = data.get("base")
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base: must be a config name or path, got {base!r}")
    # a name or relative path is looked up beside the including file first, then in CONFIG_DIR
    beside = path.parent / (base if base.endswith(".yaml") else f"{base}.yaml")
    base_path = beside if beside.is_file() else _resolve_file(base)
    if base_path.resolve() in seen or base_path.resolve() == path.resolve():
        raise ConfigError(f"{path}: base: {base!r} includes itself")
    merged = _deep_merge(_load_merged(base_path, seen + (path.resolve(),)), data)
    merged.pop("base", None)
    return merged


def _apply_dotted(data: dict, overrides: dict, where: str) -> dict:
    out = copy.deepcopy(data)
    for dotted, value in (overrides or {}).items():
        if not isinstance(dotted, str) or not dotted or any(not p for p in dotted.split(".")):
            raise ConfigError(f"{where}: {dotted!r}: override keys are dotted field paths, "
                              f"got {dotted!r}")
        parts = dotted.split(".")
        node = out
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"{where}: {'.'.join(parts[:i + 1])}: not a section, "
                                  f"cannot set {dotted}, got {nxt!r}")
            node = nxt
        node[parts[-1]] = copy.deepcopy(value)
    return out


def load_accelerator_config(path_or_name, overrides: dict | None = None) -> AcceleratorConfig:
    """A config from a file path or a name in CONFIG_DIR (or an AcceleratorConfig), with
    optional dotted overrides, e.g. ``{"weight_sram.capacity_bytes": 1048576,
    "dram.preset": "HBM2", "pe.rows": 16}``."""
    if isinstance(path_or_name, AcceleratorConfig):
        return with_overrides(path_or_name, overrides or {})
    path = _resolve_file(path_or_name)
    data = _load_merged(path)
    where = str(path)
    if overrides:
        data = _apply_dotted(data, overrides, f"{path} (overrides)")
        where = f"{path} (with overrides)"
    return config_from_dict(data, where, str(path))


def with_overrides(config: AcceleratorConfig, dotted_overrides: dict) -> AcceleratorConfig:
    """A copy of `config` with dotted fields changed; derived values are derived again."""
    if not dotted_overrides:
        return config
    origin = config.path or "<config>"
    data = _apply_dotted(config.spec, dotted_overrides, f"{origin} (overrides)")
    return config_from_dict(data, f"{origin} (with overrides)", config.path)
