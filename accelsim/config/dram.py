"""The DRAM spec: `DramConfig` (organisation, timing, energy, address mapping), its checks, and
the two ways to build one: `dram_preset` (a named preset, fields overridden) and
`dram_config_from_dict` (the ``dram:`` section of an accelerator file). Both go through one
preset merge, `_merge_with_preset`. The simulator's DRAM timing model reads these configs;
nothing here depends on it.

Units: timing in DRAM clock cycles (``tck_ns`` is one cycle), energies in pJ (per activate, or
per bit moved), background power in mW per channel.

Address mapping
---------------
`address_mapping` lists the six fields MSB..LSB as two-letter tokens: Ro (row), Ra (rank),
Bg (bank group), Ba (bank within its group), Co (column, counted in bursts), Ch (channel), e.g.
"RoRaBaCoBgCh" (the preset default) or "RoBaBgRaCoCh". Every token appears exactly once and Ro
must come first (the row takes whatever address bits remain, so the capacity is unbounded).
Tokens are case-insensitive, so DRAMsim3-style strings such as "rochrababgco" work. Any of the
5! = 120 orders below Ro is supported. The byte offset inside a burst sits below all fields.
Field sizes need not be powers of two: the address is split by mixed-radix division on the
burst index (burst index = byte address // burst_bytes), LSB field first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accelsim.config import checks
from accelsim.config.dram_presets import PRESETS, STANDARDS
from accelsim.errors import ConfigError

__all__ = [
    "DRAM_PRESETS",
    "DramConfig",
    "dram_config_from_dict",
    "dram_preset",
]

DRAM_PRESETS: tuple[str, ...] = tuple(PRESETS)
# "custom": no preset behind the values, every field given
_PRESET_CHOICES = DRAM_PRESETS + ("custom",)

# Field kinds for validation: positive integers, positive floats, non-negative floats.
_POSITIVE_INT_FIELDS = (
    "channels", "ranks", "bank_groups", "banks_per_group", "row_size_bytes", "bus_width_bits",
    "burst_length", "tcl_cycles", "trcd_cycles", "trp_cycles", "tras_cycles", "tccd_s_cycles",
    "tccd_l_cycles", "trrd_s_cycles", "trrd_l_cycles", "tfaw_cycles", "trefi_cycles",
    "trfc_cycles",
)
_NONNEGATIVE_INT_FIELDS = (
    "twtr_s_cycles", "twtr_l_cycles", "twr_cycles", "trtp_cycles", "trtrs_cycles", "tppd_cycles",
)
# Fields with a default: a "custom" config may leave them out.
_OPTIONAL_FIELDS = _NONNEGATIVE_INT_FIELDS + (
    "tcwl_cycles", "queue_depth", "command_queue_depth", "write_buffer_depth",
    "page_policy", "dual_command_bus", "standard", "device_width_bits", "refresh_policy",
    "outstanding_requests",
)
PAGE_POLICIES = ("open", "closed")
# DRAMsim3's two all-bank refresh styles (its refresh_policy): "staggered" refreshes one rank
# every tREFI / ranks clocks, in turn (RANK_LEVEL_STAGGERED); "simultaneous" makes every rank
# due at once every tREFI, refreshed one after another (what RANK_LEVEL_SIMULTANEOUS is meant
# to do; see accelsim.sim.dram.export for where DRAMsim3's own differs)
REFRESH_POLICIES = ("staggered", "simultaneous")
_POSITIVE_FLOAT_FIELDS = ("tck_ns",)
_NONNEGATIVE_FLOAT_FIELDS = (
    "activate_energy_pj", "read_energy_pj_per_bit", "write_energy_pj_per_bit",
    "io_energy_pj_per_bit", "background_power_mw",
)
_MAPPING_TOKENS = ("Ro", "Ra", "Bg", "Ba", "Co", "Ch")
_MAPPING_EXPECTED = (
    "six two-letter tokens Ro, Ra, Bg, Ba, Co, Ch, each once, MSB first, starting with Ro "
    "(e.g. 'RoRaBaCoBgCh')"
)


def _parse_mapping(mapping) -> tuple[str, ...]:
    """'RoRaBaCoBgCh' -> ('Ro','Ra','Ba','Co','Bg','Ch'), MSB first; ConfigError if malformed."""
    name = "address_mapping"
    if not isinstance(mapping, str) or len(mapping) != 12:
        checks.fail(name, _MAPPING_EXPECTED, mapping)
    canonical = {token.lower(): token for token in _MAPPING_TOKENS}
    tokens = []
    for i in range(0, 12, 2):
        token = canonical.get(mapping[i:i + 2].lower())
        if token is None:
            checks.fail(name, f"{_MAPPING_EXPECTED} (unknown token {mapping[i:i + 2]!r})",
                        mapping)
        tokens.append(token)
    if len(set(tokens)) != 6:
        repeated = sorted({t for t in tokens if tokens.count(t) > 1})
        checks.fail(name, f"{_MAPPING_EXPECTED} (token(s) {repeated} repeated)", mapping)
    if tokens[0] != "Ro":
        checks.fail(name, f"{_MAPPING_EXPECTED} (the row, Ro, must be the most significant "
                          "field because it takes all remaining address bits)", mapping)
    return tuple(tokens)


def _validate_values(values: Mapping) -> None:
    """Check every field's type and range, then the cross-field rules."""
    for name in _POSITIVE_INT_FIELDS:
        checks.integer(name, values[name], minimum=1)
    for name in _NONNEGATIVE_INT_FIELDS:
        checks.integer(name, values[name], minimum=0)
    checks.integer("tcwl_cycles", values["tcwl_cycles"], minimum=1)
    checks.integer("queue_depth", values["queue_depth"], minimum=1)
    checks.integer("command_queue_depth", values["command_queue_depth"], minimum=1)
    checks.integer("write_buffer_depth", values["write_buffer_depth"], minimum=1)
    checks.integer("outstanding_requests", values["outstanding_requests"], minimum=1)
    checks.one_of("refresh_policy", values["refresh_policy"], REFRESH_POLICIES)
    checks.one_of("page_policy", values["page_policy"], PAGE_POLICIES)
    checks.boolean("dual_command_bus", values["dual_command_bus"])
    if values["standard"] is not None:
        checks.one_of("standard", values["standard"], STANDARDS)
    width = values["device_width_bits"]
    if width is not None:
        checks.integer("device_width_bits", width, minimum=1)
        if values["bus_width_bits"] % width:
            checks.fail("device_width_bits", f"a divisor of bus_width_bits "
                        f"({values['bus_width_bits']})", width)
    for name in _POSITIVE_FLOAT_FIELDS:
        checks.number(name, values[name], positive=True)
    for name in _NONNEGATIVE_FLOAT_FIELDS:
        checks.number(name, values[name], minimum=0.0)
    if values["bus_width_bits"] % 8:
        checks.fail("bus_width_bits", "a multiple of 8", values["bus_width_bits"])
    if values["burst_length"] % 2:
        checks.fail("burst_length", "an even number of beats (double data rate: two beats per "
                    "DRAM clock)", values["burst_length"])
    burst_bytes = values["bus_width_bits"] // 8 * values["burst_length"]
    if values["row_size_bytes"] % burst_bytes:
        checks.fail("row_size_bytes", f"a multiple of the burst size {burst_bytes} B "
                    "(bus_width_bits/8 x burst_length)", values["row_size_bytes"])
    if values["tccd_l_cycles"] < values["tccd_s_cycles"]:
        checks.fail("tccd_l_cycles", f"a value >= tccd_s_cycles ({values['tccd_s_cycles']})",
                    values["tccd_l_cycles"])
    if values["trrd_l_cycles"] < values["trrd_s_cycles"]:
        checks.fail("trrd_l_cycles", f"a value >= trrd_s_cycles ({values['trrd_s_cycles']})",
                    values["trrd_l_cycles"])
    if values["trfc_cycles"] >= values["trefi_cycles"]:
        checks.fail("trfc_cycles", f"a value < trefi_cycles ({values['trefi_cycles']}), or the "
                    "channel would only refresh", values["trfc_cycles"])
    _parse_mapping(values["address_mapping"])
    sources = values["sources"]
    if not isinstance(sources, Mapping):
        checks.fail("sources", "a mapping of field name to source", sources)
    known = {f.name for f in dataclasses.fields(DramConfig)}
    for key, source in sources.items():
        if key not in known or not isinstance(source, str):
            checks.fail(f"sources.{key}", "a DramConfig field name mapped to a source string",
                        source)


@dataclass(frozen=True)
class DramConfig:
    """One DRAM system: organisation, timing (DRAM clock cycles), energy, address mapping.

    Build one with `dram_preset("DDR4-3200", channels=2)` or `dram_config_from_dict(...)`;
    construction validates every field (ConfigError names the field, expectation and value).
    """

    preset: str
    channels: int
    ranks: int
    bank_groups: int
    banks_per_group: int
    row_size_bytes: int
    bus_width_bits: int
    burst_length: int
    tck_ns: float
    tcl_cycles: int
    trcd_cycles: int
    trp_cycles: int
    tras_cycles: int
    tccd_s_cycles: int
    tccd_l_cycles: int
    trrd_s_cycles: int
    trrd_l_cycles: int
    tfaw_cycles: int
    trefi_cycles: int
    trfc_cycles: int
    activate_energy_pj: float
    read_energy_pj_per_bit: float
    write_energy_pj_per_bit: float
    io_energy_pj_per_bit: float
    background_power_mw: float
    address_mapping: str
    # Write timing (DRAM cycles). Optional so custom configs written before they existed still
    # load: a missing tCWL means tCL, missing turnaround/recovery figures mean 0 (not modelled).
    tcwl_cycles: int | None = None
    twtr_s_cycles: int = 0
    twtr_l_cycles: int = 0
    twr_cycles: int = 0
    trtp_cycles: int = 0
    trtrs_cycles: int = 0
    # precharge to precharge of another bank of the rank (LPDDR4, GDDR); 0: no such rule
    tppd_cycles: int = 0
    # The controller in front of the channels (per channel): request queue, write buffer,
    # page policy. Defaults follow DRAMsim3's configs (trans_queue_size = 32, OPEN_PAGE).
    # page_policy "open" leaves a row open until a request needs another row of its bank (or a
    # refresh); "closed" is strict closed page: every column command auto-precharges its row
    # (DRAMsim3 row_buf_policy = CLOSE_PAGE, which issues READ_PRECHARGE / WRITE_PRECHARGE for
    # every transaction), so every burst pays an activate and tRCD, even when the queue holds
    # another request to the same row.
    queue_depth: int = 32
    # per bank: the requests a bank may prepare for (activate ahead) under closed page
    command_queue_depth: int = 8
    write_buffer_depth: int = 32
    page_policy: str = "open"
    # a row command and a column command may issue in the same clock (HBM's separate row and
    # column buses); used by the command-level controller (accelsim.sim.dram.controller)
    dual_command_bus: bool = False
    # how the ranks of a channel are refreshed (REFRESH_POLICIES)
    refresh_policy: str = "staggered"
    # requests (a tile's streams) the port may hand the controller at once under `exact`
    # timing, as a DMA engine keeps several transactions in flight; 1: one at a time
    outstanding_requests: int = 32
    # What the device is: its standard (one of STANDARDS) and the data width of one die
    # (bits; the bus is bus_width_bits / device_width_bits dies wide). Every preset names
    # them; a custom config that leaves them out cannot be exported to another simulator.
    standard: str | None = None
    device_width_bits: int | None = None
    # Excluded from the hash so configs stay usable as dict keys; a plain dict so they pickle.
    sources: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self):
        checks.one_of("preset", self.preset, _PRESET_CHOICES)
        if self.tcwl_cycles is None:
            object.__setattr__(self, "tcwl_cycles", self.tcl_cycles)
        _validate_values(dataclasses.asdict(self))
        object.__setattr__(self, "sources", dict(self.sources))

    # ---- derived sizes and rates ----
    @property
    def burst_bytes(self) -> int:
        return self.bus_width_bits // 8 * self.burst_length

    @property
    def burst_cycles(self) -> float:
        """DRAM clocks one burst holds the data bus (double data rate: two beats per clock)."""
        return self.burst_length / 2

    @property
    def banks_per_rank(self) -> int:
        return self.bank_groups * self.banks_per_group

    @property
    def banks_per_channel(self) -> int:
        return self.ranks * self.banks_per_rank

    @property
    def total_banks(self) -> int:
        return self.channels * self.banks_per_channel

    @property
    def columns_per_row(self) -> int:
        """Bursts per row (the Co field's size)."""
        return self.row_size_bytes // self.burst_bytes

    @property
    def trc_cycles(self) -> int:
        """Activate-to-activate time of one bank."""
        return self.tras_cycles + self.trp_cycles

    @property
    def peak_bandwidth_bytes_per_ns(self) -> float:
        """All channels streaming back-to-back bursts (GB/s numerically)."""
        return self.channels * self.burst_bytes / (self.burst_cycles * self.tck_ns)

    @property
    def refresh_efficiency(self) -> float:
        """Fraction of time not lost to refresh: 1 - tRFC/tREFI."""
        return 1.0 - self.trfc_cycles / self.trefi_cycles

    @property
    def mapping_tokens(self) -> tuple[str, ...]:
        """The address mapping as tokens, MSB first."""
        return _parse_mapping(self.address_mapping)

    def field_sizes(self) -> dict:
        """How many values each mapping field below the row takes, by token."""
        return {
            "Ch": self.channels, "Ra": self.ranks, "Bg": self.bank_groups,
            "Ba": self.banks_per_group, "Co": self.columns_per_row,
        }

    # ---- address mapping ----
    def decode(self, byte_addresses) -> dict:
        """Byte addresses -> dict of int64 arrays: channel, rank, bank_group, bank, row, column."""
        return self.decode_bursts(np.asarray(byte_addresses, dtype=np.int64) // self.burst_bytes)

    def decode_bursts(self, burst_index: np.ndarray) -> dict:
        """Burst indices (byte address // burst_bytes) -> the fields, as `decode` gives them."""
        sizes = self.field_sizes()
        parts = {}
        rest = burst_index
        for token in reversed(self.mapping_tokens[1:]):  # LSB first; Ro takes the rest
            rest, parts[token] = np.divmod(rest, sizes[token])
        parts["Ro"] = rest
        return {
            "channel": parts["Ch"], "rank": parts["Ra"], "bank_group": parts["Bg"],
            "bank": parts["Ba"], "row": parts["Ro"], "column": parts["Co"],
        }

    def address_of(self, *, channel=0, rank=0, bank_group=0, bank=0, row=0, column=0):
        """Inverse of `decode`: the byte address of a burst (column counted in bursts)."""
        sizes = self.field_sizes()
        given = {"Ch": channel, "Ra": rank, "Bg": bank_group, "Ba": bank, "Co": column}
        burst_index = np.asarray(row, dtype=np.int64)
        for token in self.mapping_tokens[1:]:  # MSB..LSB after the row
            burst_index = burst_index * sizes[token] + np.asarray(given[token], dtype=np.int64)
        address = burst_index * self.burst_bytes
        return int(address) if address.ndim == 0 else address


# ---------------------------------------------------------------------------------------------
# Presets and dict configs


def _settable_fields() -> list[str]:
    """The fields a preset's values can be overridden in (all but `preset` itself)."""
    return sorted(f.name for f in dataclasses.fields(DramConfig) if f.name != "preset")


def _merge_with_preset(name, given: Mapping) -> DramConfig:
    """The one preset merge: preset `name`'s values and sources, then the `given` fields on top
    (their source becomes "user"), then any given ``sources`` on top of those. With preset
    "custom" there is nothing underneath, so every field must be given."""
    checks.one_of("preset", name, _PRESET_CHOICES)
    allowed = _settable_fields()
    for key, value in given.items():
        if key not in allowed:
            checks.fail(key, f"a DRAM field (one of {allowed})", value)
    given = dict(given)
    user_sources = given.pop("sources", None)
    if user_sources is not None:
        user_sources = checks.source_map("sources", user_sources)
    if name == "custom":
        missing = [key for key in allowed
                   if key not in ("sources",) + _OPTIONAL_FIELDS and key not in given]
        if missing:
            raise ConfigError(f"preset: expected every DRAM field given for 'custom', got "
                              f"{missing} missing")
        values: dict[str, Any] = {}  # checked by DramConfig itself
        sources: dict[str, str] = {}
    else:
        values = dict(PRESETS[name]["values"])
        sources = dict(PRESETS[name]["sources"])
    values.update(given)
    sources.update(dict.fromkeys(given, "user"))
    if user_sources:
        sources.update(user_sources)
    return DramConfig(preset=name, sources=sources, **values)


def dram_preset(name: str, **overrides) -> DramConfig:
    """A preset's config, with any field overridden (its source becomes "user").

    Unknown preset, unknown field or an invalid value raise ConfigError.
    """
    return _merge_with_preset(name, overrides)


def dram_config_from_dict(d: Mapping, where: str = "", section: str = "") -> DramConfig:
    """{"preset": name, field: value, ...} -> DramConfig.

    With a named preset, the given fields override it. With preset "custom", every field must be
    given. Errors name `where` (a file) and then the field under `section` (e.g. "dram"):
    ``accel.yaml: dram.channels: expected an integer >= 1, got 0``.
    """
    if not isinstance(d, Mapping):
        raise ConfigError(checks.locate(
            f"{section or 'dram'}: expected a mapping with a 'preset' key, got {d!r}", where))
    with checks.located(where, section):
        given = dict(d)
        if "preset" not in given:
            raise ConfigError(f"preset: expected one of {list(_PRESET_CHOICES)}, got nothing "
                              "(missing)")
        return _merge_with_preset(given.pop("preset"), given)
