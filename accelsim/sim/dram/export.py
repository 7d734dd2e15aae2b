"""Write (and read back) DRAM request traces that external DRAM simulators replay.

So a run's off-chip traffic can be checked against a cycle-accurate simulator, the streams the
DRAM port logged (`DramPort(record_requests=True)`, or `simulate(record_dram_requests=True)`),
expanded to one request per burst by `accelsim.sim.dram.port.expand_streams`, are written one
request per line in one of two text formats:

"dramsim3"
    ``0x<hex byte address> READ|WRITE <cycle>`` e.g. ``0x1f40 READ 120``.
    Read by DRAMsim3's trace-driven front end (``dramsim3main <config.ini> -t <trace>``, class
    ``TraceBasedCPU`` in ``src/cpu.cc``; the line is parsed by ``operator>>`` in
    ``src/common.cc``: a hex address, the access type, a decimal cycle). The cycle is the DRAM
    clock cycle (the memory controller's tCK) at which the request may enter the controller;
    DRAMsim3 holds a request until its clock reaches that cycle. Cycles are rounded up to
    integers, so a request is never offered before it was issued.
    Livelock: DRAMsim3 can stop making progress on a trace where one address is read and
    written at the same cycle (a read of X, then a write of X, with the write buffer filling
    behind them: 5 of 20 of the simulator's own exports as issued). Its write buffer, once
    full, starts a drain; the drain's first write waits for the older read of X; that read
    still waits in the transaction queue, which a drain does not move; so the drain stops and
    starts again on every clock and the replay never ends. accelsim's controller moves the
    reads on that clock instead (its `drain_deadlocks_broken` counter) and so finishes. Before
    replaying such a trace in DRAMsim3, offer the write a cycle later, or raise its
    ``trans_queue_size``.
    Traps of ``dramsim3main -t`` (``TraceBasedCPU::ClockTick``): it tests ``eof()`` before
    reading, so after the last line the failed read leaves that request in place and it is
    offered a second time (one extra request per replay: subtract it, or replay through a
    driver as ``benchmarks/dramsim3_driver/`` does); and it offers at most one request per
    cycle to the whole memory system, so traffic that arrives faster (several channels, or
    bursts issued together) is spread out by the front end, not by the DRAM.

"ramulator2"
    ``LD 0x<hex byte address>`` or ``ST 0x<hex byte address>`` e.g. ``LD 0x1f40``.
    Read by Ramulator 2's ``LoadStoreTrace`` front end
    (``src/ramulator/frontend/impl/memory_trace/loadstore_trace.cpp`` in Ramulator 2.1). That
    front end has no time column: it offers the next request every front-end tick and retries
    until the memory system accepts it, so the issue cycles are not written.

Ramulator 2.1 (github CMU-SAFARI/ramulator2, the current release) is configured by a Python
script, not by Ramulator 2.0's YAML, and none of its address mappers is accelsim's default
``RoRaBaCoBgCh``: `accelsim.sim.dram.export_ramulator` writes the matched config script and the
trace with its addresses rewritten for Ramulator's ``RoBaRaCoCh`` mapper, and lists the traps.
A raw ``ramulator2`` trace from here keeps accelsim's addresses, so only a config whose
mapping `export_ramulator.ramulator2_mapping` reports as not remapped replays it as accelsim
mapped it.

Both formats carry byte addresses of 64-bit range; each simulator applies its own address
mapping, so configure it to match `DramConfig.address_mapping` for comparable row-hit rates.
Files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from accelsim.config import checks
from accelsim.errors import ConfigError, TraceError
from accelsim.io import atomic_path

__all__ = ["TRACE_FORMATS", "export_dram_trace", "read_dram_trace"]

TRACE_FORMATS = ("dramsim3", "ramulator2")

# Lines formatted per write call: bounds memory on multi-million-request traces.
_LINES_PER_BLOCK = 1 << 16


def _check_format(fmt) -> str:
    checks.one_of("fmt", fmt, TRACE_FORMATS)
    return fmt


def export_dram_trace(addresses, is_write, issue_cycle, path, fmt: str) -> Path:
    """Write one request per line to `path` in `fmt` ("dramsim3" or "ramulator2").

    `addresses`: byte addresses (non-negative integers); `is_write`: one bool or one per
    address; `issue_cycle`: one number or one per address, in DRAM clock cycles (only the
    "dramsim3" format uses it). Returns the path written.
    """
    fmt = _check_format(fmt)
    addresses = np.asarray(addresses).reshape(-1)
    if addresses.size and not np.issubdtype(addresses.dtype, np.integer):
        raise ValueError(f"addresses must be integers, got dtype {addresses.dtype}")
    addresses = addresses.astype(np.int64, copy=False)
    if addresses.size and addresses.min() < 0:
        raise ValueError("addresses must be non-negative")
    n = addresses.size
    writes = np.broadcast_to(np.asarray(is_write, dtype=bool), (n,)) if n else np.empty(0, bool)
    cycles = np.asarray(issue_cycle, dtype=float)
    if cycles.ndim and cycles.shape != (n,):
        raise ValueError(f"issue_cycle has shape {cycles.shape}; expected one number or ({n},)")
    cycles = np.broadcast_to(cycles, (n,)) if n else np.empty(0)
    if n and not (np.all(np.isfinite(cycles)) and cycles.min() >= 0):
        raise ValueError("issue_cycle must be finite and non-negative")

    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="ascii", newline="\n") as out:
        for begin in range(0, n, _LINES_PER_BLOCK):
            block = slice(begin, begin + _LINES_PER_BLOCK)
            hex_addresses = [f"0x{a:x}" for a in addresses[block].tolist()]
            if fmt == "dramsim3":
                kinds = np.where(writes[block], "WRITE", "READ").tolist()
                whole_cycles = np.ceil(cycles[block]).astype(np.int64).tolist()
                lines = [f"{a} {k} {t}\n" for a, k, t in zip(hex_addresses, kinds, whole_cycles)]
            else:
                kinds = np.where(writes[block], "ST", "LD").tolist()
                lines = [f"{k} {a}\n" for k, a in zip(kinds, hex_addresses)]
            out.writelines(lines)
    return path


def read_dram_trace(path, fmt: str):
    """Parse a trace written by `export_dram_trace` (or by hand in the same format).

    Returns (addresses int64, is_write bool, issue_cycle int64); for "ramulator2" the cycles are
    all zero (the format has none). Raises TraceError naming the line of a malformed entry.
    """
    fmt = _check_format(fmt)
    addresses, writes, cycles = [], [], []
    with open(path, encoding="ascii") as trace:
        for number, line in enumerate(trace, start=1):
            tokens = line.split()
            if not tokens:
                continue
            try:
                if fmt == "dramsim3":
                    address, kind, cycle = tokens
                    if kind not in ("READ", "WRITE"):
                        raise ValueError(kind)
                    writes.append(kind == "WRITE")
                    cycles.append(int(cycle))
                else:
                    kind, address = tokens
                    if kind not in ("LD", "ST"):
                        raise ValueError(kind)
                    writes.append(kind == "ST")
                    cycles.append(0)
                addresses.append(int(address, 16))
            except ValueError:
                raise TraceError(f"{path}:{number}: expected a {fmt} trace line, "
                                 f"got {line.rstrip()!r}") from None
    return (np.asarray(addresses, dtype=np.int64), np.asarray(writes, dtype=bool),
            np.asarray(cycles, dtype=np.int64))


# ---------------------------------------------------------------------------------------------
# Simulator configs matched to a DramConfig

# DRAMsim3's protocol name for each DRAM standard (DramConfig.standard)
_DRAMSIM3_PROTOCOL = {"DDR4": "DDR4", "LPDDR4": "LPDDR4", "HBM2": "HBM"}


def _log2_exact(name: str, value: int) -> int:
    bits = int(value).bit_length() - 1
    if value <= 0 or 1 << bits != value:
        raise ValueError(f"{name} = {value}: DRAMsim3 splits addresses by bit fields, so it must "
                         "be a power of two")
    return bits


def dramsim3_config(config, rows: int = 1 << 17) -> str:
    """A DRAMsim3 ``.ini`` matched to `config`: the same organisation, timing, address mapping,
    queue depth and page policy, and currents chosen so that DRAMsim3's per-command energies
    (its V·mA·cycles counters times tCK) equal `config`'s activate, read and write energies
    (I/O, background and refresh energy excluded: accelsim charges those separately).

    Traps this writer handles: DRAMsim3 doubles an HBM ``columns`` entry (2n prefetch), so the
    column count is halved for HBM; its address mapping is by bit fields, so every field size
    must be a power of two; it reads ``tRCDRD``/``tRCDWR`` for HBM and ``tRCD`` otherwise, and
    one ``tRTP`` for every protocol (HBM2_8Gb_x128.ini's tRTP_L/S are never read, so it runs
    with its default 5). Where DRAMsim3 does not time what `config` asks: it applies tPPD
    only to LPDDR4 and GDDR (a DDR4 or HBM2 config's ``tppd_cycles`` is ignored there), and
    its RANK_LEVEL_SIMULTANEOUS makes only the first rank due every tREFI (its refresh.cc
    leaves the loop over ranks after one), so ``refresh_policy = "simultaneous"`` with several
    ranks refreshes less there than here; "staggered" (one rank every tREFI / ranks, DRAMsim3's
    default) is timed alike. Written for DRAMsim3 as of github umd-memsys/DRAMsim3 master (2020).
    """
    c = config
    for name in ("standard", "device_width_bits"):
        if getattr(c, name) is None:
            raise ConfigError(f"dram.{name}: the DRAMsim3 export needs it (preset {c.preset!r} "
                              "does not set it); give it in the config")
    protocol = _DRAMSIM3_PROTOCOL[c.standard]
    # DRAMsim3 multiplies every per-command current by bus_width / device_width devices
    device_width = c.device_width_bits
    devices = c.bus_width_bits // device_width
    columns = c.row_size_bytes * 8 // c.bus_width_bits       # physical columns per device
    if protocol == "HBM":
        columns //= 2
    for name, value in (("channels", c.channels), ("ranks", c.ranks),
                        ("bank_groups", c.bank_groups), ("banks_per_group", c.banks_per_group),
                        ("columns", columns), ("rows", rows)):
        _log2_exact(name, value)
    tck = c.tck_ns
    burst_bits = c.burst_bytes * 8
    # Currents (mA, VDD = 1 V, standby currents 0) that make DRAMsim3's increments match:
    # act = VDD*IDD0*tRC*devices, read = VDD*IDD4R*burst_cycles*devices, all x tCK = pJ.
    idd0 = c.activate_energy_pj / (tck * c.trc_cycles * devices)
    idd4r = c.read_energy_pj_per_bit * burst_bits / (tck * c.burst_cycles * devices)
    idd4w = c.write_energy_pj_per_bit * burst_bits / (tck * c.burst_cycles * devices)
    page_bytes = columns * (2 if protocol == "HBM" else 1) * device_width // 8
    megs_per_rank = page_bytes * (rows // 1024) // 1024 * c.banks_per_rank * devices
    twtr_l = c.twtr_l_cycles if c.bank_groups > 1 else c.twtr_s_cycles
    mapping = "".join(token.lower() for token in c.mapping_tokens)
    lines = [
        f"; DRAMsim3 config written by accelsim from DramConfig preset {c.preset!r}",
        "[dram_structure]",
        f"protocol = {protocol}",
        f"bankgroups = {c.bank_groups}",
        f"banks_per_group = {c.banks_per_group}",
        f"rows = {rows}",
        f"columns = {columns}",
        f"device_width = {device_width}",
        f"BL = {c.burst_length}",
        "[timing]",
        f"tCK = {tck!r}",
        "AL = 0",
        f"CL = {c.tcl_cycles}",
        f"CWL = {c.tcwl_cycles}",
        f"tRCD = {c.trcd_cycles}",
        f"tRCDRD = {c.trcd_cycles}",
        f"tRCDWR = {c.trcd_cycles}",
        f"tRP = {c.trp_cycles}",
        f"tRAS = {c.tras_cycles}",
        f"tRFC = {c.trfc_cycles}",
        f"tREFI = {c.trefi_cycles}",
        "tRPRE = 1",
        "tWPRE = 1",
        f"tRRD_S = {c.trrd_s_cycles}",
        f"tRRD_L = {c.trrd_l_cycles}",
        f"tWTR_S = {c.twtr_s_cycles}",
        f"tWTR_L = {twtr_l}",
        f"tFAW = {c.tfaw_cycles}",
        f"tWR = {c.twr_cycles}",
        f"tRTP = {c.trtp_cycles}",
        f"tCCD_S = {c.tccd_s_cycles}",
        f"tCCD_L = {c.tccd_l_cycles}",
        f"tRTRS = {c.trtrs_cycles}",
        f"tPPD = {c.tppd_cycles}",
        "[power]",
        "VDD = 1.0",
        f"IDD0 = {idd0!r}",
        "IDD2P = 0",
        "IDD2N = 0",
        "IDD3P = 0",
        "IDD3N = 0",
        f"IDD4W = {idd4w!r}",
        f"IDD4R = {idd4r!r}",
        "IDD5AB = 0",
        "IDD6x = 0",
        "[system]",
        f"channel_size = {megs_per_rank * c.ranks}",
        f"channels = {c.channels}",
        f"bus_width = {c.bus_width_bits}",
        f"address_mapping = {mapping}",
        "queue_structure = PER_BANK",
        "refresh_policy = " + ("RANK_LEVEL_STAGGERED" if c.refresh_policy == "staggered"
                               else "RANK_LEVEL_SIMULTANEOUS"),
        f"row_buf_policy = {'OPEN_PAGE' if c.page_policy == 'open' else 'CLOSE_PAGE'}",
        f"cmd_queue_size = {c.command_queue_depth}",
        f"trans_queue_size = {c.queue_depth}",
        "unified_queue = False",
        "[other]",
        "epoch_period = 4000000000",
        "output_level = 0",
    ]
    return "\n".join(lines) + "\n"
