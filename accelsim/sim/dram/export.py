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

"ramulator2"
    ``LD 0x<hex byte address>`` or ``ST 0x<hex byte address>`` e.g. ``LD 0x1f40``.
    Read by Ramulator 2's ``LoadStoreTrace`` front end
    (``src/frontend/impl/memory_trace/loadstore_trace.cpp``; YAML ``Frontend: impl:
    LoadStoreTrace, path: <trace>, clock_ratio: <n>``). That front end has no time column: it
    offers the next request every front-end tick and retries until the memory system accepts
    it, so the issue cycles are not written. (An early version of that file swapped reads and
    writes when sending; use a current Ramulator 2.)

Both formats carry byte addresses of 64-bit range; each simulator applies its own address
mapping, so configure it to match `DramConfig.address_mapping` for comparable row-hit rates.
Files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from accelsim.config import checks
from accelsim.errors import TraceError
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
