"""Ramulator 2 export: a config script and a trace that Ramulator 2.1 accepts, matched to a
`DramConfig` (organisation, timing, controller, address mapping).

The target is the current release, Ramulator 2.1 (github CMU-SAFARI/ramulator2: CMakeLists
``project(Ramulator VERSION 2.1)``, tag v2.1.0; read at commit c5b1c3a, 2026-06-29). Its
configuration is a Python script (``import ramulator``; README section 3 and
``examples/example_config.py``), run with ``python -m ramulator run <script>`` on a build
with its Python bindings, or turned into the fully expanded YAML its C++ side parses with
``python -m ramulator export <script> -o config.yaml`` (pure Python, no build needed).

What `ramulator2_config_script` writes
--------------------------------------
- front end: ``ramulator.frontend.LoadStoreTrace(clock_ratio=k, path=<trace>)`` when a trace
  path is given (``src/ramulator/frontend/impl/memory_trace/loadstore_trace.cpp``: lines
  ``LD|ST <address>``; k = ceil(channels / burst cycles) front-end ticks per DRAM cycle,
  because it offers one line per tick to the whole memory system: at k = 1 HBM2's eight
  channels get one burst per cycle, 3.8x the cycles on a sequential stream), else
  ``ramulator.frontend.External(clock_ratio=1)``, the front end a C++ driver feeds through
  ``receive_external_requests`` (``frontend/impl/external.cpp``;
  benchmarks/ramulator2_driver/ does that);
- DRAM: ``ramulator.dram.DDR4(org_preset="DDR4_8Gb_x8", timing_preset="DDR4_3200AA", ...)``
  or ``ramulator.dram.HBM2(org_preset="HBM2_8Gb", timing_preset="HBM2_2000Mbps", ...)``, with
  every level count and every timing accelsim has given as an override (``python/ramulator/
  dram/spec.py`` ``resolve``: level names and ``channel_width`` override the organisation,
  any name in the standard's ``timing_params`` overrides the timing, applied *after* the
  JEDEC-table secondary timings, so nRRDS/nRRDL/nFAW/nRFC/nREFI can be set too);
- controller: ``GenericDDR`` (DDR4) or ``HBM12`` (HBM2) with ``read_buffer_size =
  queue_depth``, ``write_buffer_size = write_buffer_depth``, write watermarks that drain the
  whole write buffer once it is full as accelsim does (Ramulator's defaults, 0.8 and 0.2,
  switch at 80 % full and stop at 20 %), ``FRFCFS`` scheduler,
  ``AllBank`` refresh, ``Open`` row policy (``ClosedCAP(cap=1)`` for a closed page) and the
  ``RoBaRaCoCh`` address mapper;
- two things Ramulator 2.1 cannot be told, said in the script's header when they apply:
  ``AllBank`` (``refresh/all_bank_refresh.cpp``) refreshes every rank of a channel at the same
  tREFI tick, which is accelsim's ``refresh_policy: simultaneous``; with the default
  ``staggered`` and more than one rank the two refresh at different times. Its DDR4 and HBM2
  timings have no precharge-to-precharge delay, so a ``tppd_cycles`` above 0 is not modelled;
- memory system: ``GenericDRAM(clock_ratio=1, controllers=[controller] * channels,
  channel_mapper=CacheLineInterleave(interleave_bits=k))``.

Address mapping (which accelsim mapping is which Ramulator mapper)
-----------------------------------------------------------------
Ramulator splits an address in two steps. ``CacheLineInterleave`` (``memory_system/
channel_mapper/impl/cache_line_interleave.cpp``) takes the channel bits starting at bit
log2(tx bytes) + ``interleave_bits`` and squeezes them out; the controller's mapper then
splits the rest. ``RoBaRaCoCh`` (``controller/addr_mapper/impl/ro_ba_ra_co_ch.cpp``) takes
the column first (LSB) and then the levels from the rank upwards, so within a channel it is,
MSB..LSB, row, bank, bank group, rank (HBM2: pseudo channel), column. In accelsim's tokens
(`DramConfig.address_mapping`) Ramulator's ``RoBaRaCoCh`` with ``interleave_bits = k`` is
``RoBaBgRaCo`` with ``Ch`` inserted above the lowest k bits:

    accelsim mapping   Ramulator 2.1
    RoBaBgRaCoCh       RoBaRaCoCh + CacheLineInterleave(interleave_bits=0)
    RoBaBgRaChCo       RoBaRaCoCh + CacheLineInterleave(interleave_bits=log2 columns)
    RoRaBaCoBgCh       none (accelsim's default: bank group below the column)

Fields of size 1 carry no bits and may sit anywhere (one rank: ``RoBaBgCoCh`` is the same
as the first row). The other mappers cannot be written in accelsim's tokens: ``ChRaBaRoCo``
puts rank, bank group and bank above the row (accelsim's row must be the most significant
field), ``MOP4CLXOR`` and ``RITAddrMapper`` XOR or permute bits. So for accelsim's default
mapping, and any other that ``RoBaRaCoCh`` cannot express, `ramulator2_addresses` rewrites
each address: it decodes it with accelsim's mapping and encodes the same (channel, rank,
bank group, bank, row, column) in ``RoBaRaCoCh`` with ``interleave_bits = 0`` — a bijection,
so every request reaches the bank and row it reaches in accelsim, and repeated addresses stay
repeated. `ramulator2_mapping` says which case applies. A raw replay of a default-mapped trace
through ``RoBaRaCoCh`` sees other banks and rows: 1.55x the DRAM cycles on a DDR4 sequential
stream (the bank group stops alternating, so bursts are tCCD_L apart), no change on HBM2
(tCCD_L equals its burst); benchmarks/ramulator_parity.py measures both.

Traps (each read from the 2.1 source)
-------------------------------------
- The YAML layout of Ramulator 2.0 (``Frontend:``/``MemorySystem:`` with capitalised keys,
  the ``ramulator2`` executable) is gone; 2.1 builds ``libramulator.so`` and a Python module,
  and its YAML is only the expanded export of a script (``"impl"`` keys in lower case,
  ``timing`` as a list in ``timing_params`` order), not meant to be written by hand.
- The trace front ends have no time column: each front-end tick offers the next line and
  retries until the memory system accepts it; one line per tick for all channels together.
  ``Simulation.run`` stops as soon as the front end ``is_finished``, which for
  ``LoadStoreTrace`` means the last line was *accepted*, not served: its ``cycles`` stat
  leaves out the requests still queued. Time a trace to its end with the External front end
  (the parity driver ticks until every request completed).
- Writes complete when their WR command issues (``controller_base.cpp`` ``retire_request``);
  the data leaves the bus nCWL + nBL later. Reads complete at issue + nCL + nBL.
- The controller coalesces a write to an address already in its write buffer (no DRAM
  write) and serves a read of such an address from the buffer one cycle later (no DRAM
  read); neither counts as a row hit, miss or conflict. Streams that write the same address
  twice close together show fewer DRAM commands than bursts.
- A request sent at cycle t can issue its first command at t + 1 (the controller's tick
  advances its clock first).
- The channel count is the number of controllers; overriding ``channel`` on the DRAM raises.
  ``CacheLineInterleave`` needs a power-of-two channel count and the mapper splits by bits,
  so every field size must be a power of two. The row takes only log2(rows) bits: higher
  bits are dropped, so rows alias unless the row count covers the trace (this module sizes
  it to the trace).
- ``column`` counts device columns: bursts per row = column / internal prefetch (8 for DDR4,
  4 for HBM2), and the access size is channel_width x prefetch / 8 bytes.
- No LPDDR4 model (LPDDR5/LPDDR6 only), so accelsim's LPDDR4-3200 cannot be exported.
- HBM2 is modelled in pseudo-channel mode (64-bit pseudo channels, 32 B accesses); accelsim's
  preset is legacy mode (128-bit channels, 64 B bursts), exported as ``pseudochannel=1,
  channel_width=128``. Its ACT takes 2 command-bus cycles and row and column commands have
  separate buses (``python/ramulator/dram/hbm2.py`` ``command_cycles``, fixed in the class).
- DDR4's ``nCS`` is the rank-switch gap (accelsim's tRTRS); read-to-write is
  nCL + nBL + 2 - nCWL, write-to-read nCWL + nBL + nWTR_S/L (``dram/ddr4.py``), not settable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accelsim.io import write_text_atomic
from accelsim.sim.dram.export import export_dram_trace

__all__ = [
    "RAMULATOR2_RELEASE",
    "Ramulator2Mapping",
    "export_ramulator2",
    "ramulator2_addresses",
    "ramulator2_config_script",
    "ramulator2_mapping",
    "ramulator2_rows",
]

RAMULATOR2_RELEASE = "2.1"


@dataclass(frozen=True)
class _Standard:
    """How one accelsim preset is written as a Ramulator 2.1 DRAM standard."""
    name: str                 # class in ramulator.dram
    org_preset: str
    timing_preset: str
    controller: str           # class in ramulator.controller
    internal_prefetch: int    # the standard's internal_prefetch_size
    rank_level: str           # the level between channel and bank group
    preset_rows: int          # rows in org_preset


# DDR4_8Gb_x8 (x8 devices: DRAMsim3's DDR4_8Gb_x8_3200.ini, the preset's source) and
# DDR4_3200AA (22-22-22, the preset's tCL/tRCD/tRP source); HBM2_8Gb and the 2 Gb/s pin speed
# (tCK 1 ns, DRAMsim3's HBM2_8Gb_x128.ini). Values from python/ramulator/dram/{ddr4,hbm2}.py.
_STANDARDS = {
    "DDR4-3200": _Standard("DDR4", "DDR4_8Gb_x8", "DDR4_3200AA", "GenericDDR", 8, "rank",
                           1 << 16),
    "HBM2": _Standard("HBM2", "HBM2_8Gb", "HBM2_2000Mbps", "HBM12", 4, "pseudochannel",
                      1 << 16),
}

# RoBaRaCoCh within a channel, MSB..LSB, in accelsim's tokens (Ra = rank or pseudo channel).
_RAMULATOR_ORDER = ("Ro", "Ba", "Bg", "Ra", "Co")
_MAPPER = "RoBaRaCoCh"


def _standard(config) -> _Standard:
    standard = _STANDARDS.get(config.preset)
    if standard is None:
        raise ValueError(f"dram.preset: expected one of {sorted(_STANDARDS)} for a Ramulator "
                         f"{RAMULATOR2_RELEASE} export (it has no LPDDR4 model), got "
                         f"{config.preset!r}")
    return standard


def _log2_exact(field: str, value: int) -> int:
    bits = int(value).bit_length() - 1
    if value <= 0 or 1 << bits != value:
        raise ValueError(f"dram.{field}: expected a power of two (Ramulator splits addresses "
                         f"by bit fields), got {value}")
    return bits


def _field_bits(config) -> dict:
    names = {"Ch": "channels", "Ra": "ranks", "Bg": "bank_groups", "Ba": "banks_per_group",
             "Co": "columns_per_row"}
    return {token: _log2_exact(names[token], size)
            for token, size in config.field_sizes().items()}


@dataclass(frozen=True)
class Ramulator2Mapping:
    """The Ramulator address mapper, the channel mapper's ``interleave_bits``, and whether the
    trace's addresses must be rewritten (`ramulator2_addresses`) for it to see accelsim's
    banks and rows."""
    addr_mapper: str
    interleave_bits: int
    remapped: bool


def ramulator2_mapping(config) -> Ramulator2Mapping:
    """Ramulator's equivalent of `config.address_mapping` (see the module docstring)."""
    bits = _field_bits(config)
    # fields without bits may sit anywhere, so compare only the others
    tokens = [t for t in config.mapping_tokens if t == "Ro" or bits[t] > 0]
    others = [t for t in tokens if t != "Ch"]
    wanted = [t for t in _RAMULATOR_ORDER if t == "Ro" or bits[t] > 0]
    if others == wanted:
        below = tokens[tokens.index("Ch") + 1:] if "Ch" in tokens else []
        return Ramulator2Mapping(_MAPPER, sum(bits[t] for t in below), remapped=False)
    return Ramulator2Mapping(_MAPPER, 0, remapped=True)


def ramulator2_addresses(config, addresses) -> np.ndarray:
    """Byte addresses that Ramulator, configured by `ramulator2_config_script`, decodes into
    the channel, rank, bank group, bank, row and column accelsim decodes `addresses` into.
    Unchanged when `ramulator2_mapping(config)` needs no rewrite."""
    addresses = np.asarray(addresses, dtype=np.int64).reshape(-1)
    mapping = ramulator2_mapping(config)
    if not mapping.remapped:
        return addresses.copy()
    bits = _field_bits(config)
    fields = config.decode(addresses)
    given = {"Ba": fields["bank"], "Bg": fields["bank_group"], "Ra": fields["rank"],
             "Co": fields["column"]}
    burst = fields["row"]
    for token in _RAMULATOR_ORDER[1:]:  # MSB..LSB below the row
        burst = (burst << bits[token]) | given[token]
    # interleave_bits = 0: the channel sits just above the burst offset
    burst = (burst << bits["Ch"]) | fields["channel"]
    byte_offset = addresses % config.burst_bytes
    return burst * config.burst_bytes + byte_offset


def ramulator2_rows(config, addresses=()) -> int:
    """Rows per bank to configure: the standard's org preset count, or the next power of two
    that holds the highest row `addresses` reach (Ramulator drops higher row bits)."""
    rows = _standard(config).preset_rows
    addresses = np.asarray(addresses, dtype=np.int64).reshape(-1)
    if addresses.size:
        highest = int(config.decode(addresses)["row"].max())
        while rows <= highest:
            rows *= 2
    return rows


def _timing_overrides(config, standard: _Standard) -> dict:
    c = config
    burst_cycles = c.burst_cycles
    if burst_cycles != int(burst_cycles):
        raise ValueError(f"dram.burst_length: expected an even burst length for Ramulator's "
                         f"nBL (clock cycles), got {c.burst_length}")
    shared = {
        "nBL": int(burst_cycles), "nCL": c.tcl_cycles, "nRP": c.trp_cycles,
        "nRAS": c.tras_cycles, "nRC": c.trc_cycles, "nWR": c.twr_cycles,
        "nCWL": c.tcwl_cycles, "nCCDS": c.tccd_s_cycles, "nCCDL": c.tccd_l_cycles,
        "nRRDS": c.trrd_s_cycles, "nRRDL": c.trrd_l_cycles, "nWTRS": c.twtr_s_cycles,
        "nWTRL": c.twtr_l_cycles, "nFAW": c.tfaw_cycles, "nRFC": c.trfc_cycles,
        "nREFI": c.trefi_cycles, "tCK_ps": round(c.tck_ns * 1000),
    }
    if standard.name == "DDR4":
        return {**shared, "nRCD": c.trcd_cycles, "nRTP": c.trtp_cycles, "nCS": c.trtrs_cycles}
    # HBM2: one tRCD for reads and writes (accelsim has one), the long tRTP
    return {**shared, "nRCDRD": c.trcd_cycles, "nRCDWR": c.trcd_cycles, "nRTPL": c.trtp_cycles}


def _org_overrides(config, standard: _Standard, rows: int) -> dict:
    if config.burst_length != standard.internal_prefetch:
        raise ValueError(f"dram.burst_length: expected {standard.internal_prefetch} (Ramulator "
                         f"{standard.name}'s internal prefetch), got {config.burst_length}")
    _log2_exact("rows", rows)
    _field_bits(config)
    return {
        standard.rank_level: config.ranks,
        "bankgroup": config.bank_groups,
        "bank": config.banks_per_group,
        "row": rows,
        "column": config.columns_per_row * standard.internal_prefetch,
        "channel_width": config.bus_width_bits,
    }


def _watermarks(depth: int) -> tuple[float, float]:
    """(high, low) write-buffer watermarks that give accelsim's policy, drain the whole buffer
    once it is full: Ramulator enters write mode when more than high x depth writes wait (or no
    read does) and leaves it when fewer than low x depth wait and a read does
    (controller_base.cpp ``set_write_mode``), so high = (depth - 1/2) / depth, low =
    1/2 / depth."""
    return (depth - 0.5) / depth, 0.5 / depth


def _call(name: str, arguments: dict, indent: str) -> str:
    inner = indent + "    "
    lines = [f"{name}("] + [f"{inner}{key}={value!r}," for key, value in arguments.items()]
    return "\n".join(lines) + f"\n{indent})"


def ramulator2_config_script(config, *, trace_path=None, rows: int | None = None) -> str:
    """A Ramulator 2.1 Python config script matched to `config`.

    With `trace_path` the front end replays that ``LD|ST`` trace (write it with
    `export_ramulator2`, whose addresses are already rewritten for the mapping) and the
    script runs the simulation and prints the controller counters; without it the front end
    is ``External`` and the script only builds the ``Simulation`` (for ``python -m ramulator
    export``). `rows`: rows per bank (default: the org preset's).
    """
    standard = _standard(config)
    mapping = ramulator2_mapping(config)
    _log2_exact("channels", config.channels)
    rows = rows if rows is not None else standard.preset_rows
    dram_args = {"org_preset": standard.org_preset, "timing_preset": standard.timing_preset,
                 **_org_overrides(config, standard, rows),
                 **_timing_overrides(config, standard)}
    high, low = _watermarks(config.write_buffer_depth)
    row_policy = ("ramulator.row_policy.Open()" if config.page_policy == "open"
                  else "ramulator.row_policy.ClosedCAP(cap=1)")
    if trace_path is None:
        frontend = "ramulator.frontend.External(clock_ratio=1)"
    else:
        # one line per front-end tick for the whole memory system: tick the front end as
        # often as the channels can take bursts, so it does not throttle them
        ticks = max(1, math.ceil(config.channels / config.burst_cycles))
        frontend = (f"ramulator.frontend.LoadStoreTrace(clock_ratio={ticks}, "
                    f"path={str(trace_path)!r})")
    rewritten = ("addresses rewritten by accelsim.sim.dram.export_ramulator.ramulator2_addresses"
                 if mapping.remapped else "addresses as accelsim issued them")
    differences = []
    if config.refresh_policy != "simultaneous" and config.ranks > 1:
        differences.append(
            f"# differs: refresh. Ramulator's AllBank refreshes all {config.ranks} ranks at each "
            f"tREFI; accelsim's refresh_policy {config.refresh_policy!r} does not (set "
            "dram.refresh_policy=simultaneous in accelsim to compare like with like)")
    if config.tppd_cycles > 0:
        differences.append(
            f"# differs: tPPD. Ramulator {RAMULATOR2_RELEASE} {standard.name} has no "
            f"precharge-to-precharge delay; accelsim's tppd_cycles = {config.tppd_cycles} is "
            "not modelled here")
    lines = [
        f"# Ramulator {RAMULATOR2_RELEASE} config written by accelsim from DramConfig preset "
        f"{config.preset!r}",
        f"# address mapping {config.address_mapping} -> {mapping.addr_mapper} + "
        f"CacheLineInterleave(interleave_bits={mapping.interleave_bits}); trace {rewritten}",
        *differences,
        "# run:    python -m ramulator run <this file>     (a build with its Python bindings)",
        "# export: python -m ramulator export <this file> -o config.yaml   (for a C++ driver)",
        "import ramulator",
        "",
        f"frontend = {frontend}",
        "dram = " + _call(f"ramulator.dram.{standard.name}", dram_args, ""),
        "controller = ramulator.controller." + standard.controller + "(",
        "    dram=dram,",
        f"    read_buffer_size={config.queue_depth},",
        f"    write_buffer_size={config.write_buffer_depth},",
        f"    wr_high_watermark={high!r},",
        f"    wr_low_watermark={low!r},",
        "    scheduler=ramulator.scheduler.FRFCFS(),",
        "    refresh_manager=ramulator.refresh_manager.AllBank(),",
        f"    row_policy={row_policy},",
        f"    addr_mapper=ramulator.addr_mapper.{mapping.addr_mapper}(),",
        ")",
        "memory = ramulator.memory_system.GenericDRAM(",
        "    clock_ratio=1,  # front-end ticks per memory tick = the two clock_ratios' ratio",
        f"    controllers=[controller] * {config.channels},",
        "    channel_mapper=ramulator.channel_mapper.CacheLineInterleave("
        f"interleave_bits={mapping.interleave_bits}),",
        ")",
        "sim = ramulator.Simulation(frontend, memory)",
    ]
    if trace_path is not None:
        lines += [
            "sim.run()",
            "stats = sim.stats",
            "if stats:  # empty under `python -m ramulator export`",
            "    controllers = stats['memory_system']['controller']",
            "    for channel in controllers if isinstance(controllers, list) else [controllers]:",
            "        print({key: channel[key] for key in ('cycles', 'num_read_reqs', "
            "'num_write_reqs', 'row_hits', 'row_misses', 'row_conflicts')})",
        ]
    return "\n".join(lines) + "\n"


def export_ramulator2(config, addresses, is_write, folder) -> tuple[Path, Path]:
    """Write ``ramulator2.trace`` (``LD|ST 0x<address>``, addresses rewritten for Ramulator's
    mapper when needed) and ``ramulator2_config.py`` (its config, replaying that trace) into
    `folder`; returns (script path, trace path). Run: ``python -m ramulator run <script>``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    addresses = np.asarray(addresses, dtype=np.int64).reshape(-1)
    trace = export_dram_trace(ramulator2_addresses(config, addresses), is_write, 0,
                              folder / "ramulator2.trace", "ramulator2")
    script = folder / "ramulator2_config.py"
    write_text_atomic(script, ramulator2_config_script(
        config, trace_path=trace.resolve(), rows=ramulator2_rows(config, addresses)))
    return script, trace
