"""The command-level DRAM controller, accelsim's one DRAM engine: every command on every clock,
in C (accelsim/native/dram_controller.c, its interface dram_controller.h).

`CommandController(config)` keeps one controller per channel (read queue, write buffer,
per-bank command queues, open rows, timing, refresh; what it models is in dram_controller.c's
header) and times batches of requests: `run(addresses, is_write, arrival_dram_cycle)` offers
each request at its arrival clock (in the order given; a full queue holds the channel's later
requests back) and runs every channel until the batch is served. State carries over to the
next batch. It steps the clock (skipping clocks where nothing can happen), about 0.3-1.3 us
per burst (benchmarks/dram_engines.py), exact to its policy on any request pattern
(reports/validation/dram_parity.md compares it with DRAMsim3).

The C library is built at install (`accelsim.native`; a source tree compiles it at first use);
where it cannot be built, `library()` raises a one-line `accelsim.native.NativeError`.
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from accelsim import native
from accelsim.errors import ConfigError
from accelsim.sim.dram.batch import DramBatch

__all__ = ["COMMANDS", "COUNTERS", "PARAMETERS", "CommandController", "ControllerResult",
           "Parameters", "library"]

# The C side's parameter struct (ctl_parameters_t in accelsim/native/dram_controller.h), declared
# again for ctypes and checked against the library's own description of it at load.
class Parameters(ctypes.Structure):
    _fields_: ClassVar[list[tuple[str, type]]] = [(name, ctypes.c_int64) for name in (
        "channels", "ranks", "bank_groups", "banks_per_group", "burst_cycles", "tcl_cycles",
        "tcwl_cycles", "trcd_cycles", "trp_cycles", "tras_cycles", "tccd_s_cycles",
        "tccd_l_cycles", "trrd_s_cycles", "trrd_l_cycles", "tfaw_cycles", "trefi_cycles",
        "trfc_cycles", "twtr_s_cycles", "twtr_l_cycles", "twr_cycles", "trtp_cycles",
        "trtrs_cycles", "tppd_cycles", "queue_depth", "command_queue_depth",
        "write_buffer_depth", "closed_page", "dual_command_bus", "refresh_staggered",
        "every_clock")]


PARAMETERS = tuple(name for name, _ in Parameters._fields_)
# the C side's commands, in its order (enum C_* in dram_controller.c)
COMMANDS = ("ACT", "RD", "WR", "RDA", "WRA", "PRE", "REF")
# the C side's counters, in its order (CTL_COUNTERS in dram_controller.h; checked at load)
COUNTERS = ("reads", "writes", "row_hits", "activates", "precharges", "row_conflicts",
            "refreshes", "forwarded_reads", "merged_writes", "drain_deadlocks_broken")
# a channel that has not finished by this clock is stuck (a bug, or a config that cannot
# serve a request): stop rather than spin
_MAX_CLOCK = 1 << 60


def layout(lib) -> tuple[list[tuple[str, int]], int, list[str]]:
    """What `lib` says of its interface: the parameter struct's (field, byte offset) list, its
    size, and the counters' names."""
    lib.ctl_parameter_field.restype = ctypes.c_char_p
    lib.ctl_parameter_field.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_int64)]
    lib.ctl_parameter_size.restype = ctypes.c_int64
    lib.ctl_counter_name.restype = ctypes.c_char_p
    lib.ctl_counter_name.argtypes = [ctypes.c_int64]
    fields: list[tuple[str, int]] = []
    offset = ctypes.c_int64()
    while (name := lib.ctl_parameter_field(len(fields), ctypes.byref(offset))) is not None:
        fields.append((name.decode(), offset.value))
    counters: list[str] = []
    while (name := lib.ctl_counter_name(len(counters))) is not None:
        counters.append(name.decode())
    return fields, int(lib.ctl_parameter_size()), counters


def check(lib, structure=Parameters, counters=COUNTERS) -> None:
    """NativeError unless `lib`'s parameter struct and counters are `structure` and
    `counters` (names, order, offsets, size)."""
    fields, size, c_counters = layout(lib)
    native.check_layout("DRAM controller", structure, fields, size)
    if tuple(c_counters) != tuple(counters):
        raise native.NativeError(f"the DRAM controller library counts {c_counters}, Python "
                                 f"expects {list(counters)}: rebuild it (pip install -e .)")


def _library():
    lib = native.load("dram_controller")
    check(lib)
    pointer, size = ctypes.c_void_p, ctypes.c_int64
    lib.ctl_new.argtypes = [ctypes.POINTER(Parameters)]
    lib.ctl_new.restype = pointer
    lib.ctl_free.argtypes = [pointer]
    lib.ctl_free.restype = None
    lib.ctl_run.argtypes = [pointer] * 12 + [size]
    lib.ctl_run.restype = size
    lib.ctl_clocks.argtypes = [pointer, pointer]
    lib.ctl_clocks.restype = None
    lib.ctl_open_banks.argtypes = [pointer]
    lib.ctl_open_banks.restype = size
    lib.ctl_log.argtypes = [pointer, pointer, size]
    lib.ctl_log.restype = size
    return lib


_lib_cache: list = []


def library():
    """The compiled controller (ctypes.CDLL), checked against this module's declarations;
    raises `accelsim.native.NativeError` (one line) where it cannot be built."""
    if not _lib_cache:
        _lib_cache.append(_library())
    return _lib_cache[0]


@dataclass(frozen=True)
class ControllerResult:
    """One batch: per request the DRAM clock its data left the bus (reads: the last beat
    returned; writes: the last beat written; a write merged into a buffered one: its arrival;
    a read answered from the write buffer: its arrival + 1), and the batch's command counts
    (`COUNTERS`, summed over channels)."""

    done_cycle: np.ndarray
    counts: dict

    @property
    def finish_cycle(self) -> float:
        return float(self.done_cycle.max()) if self.done_cycle.size else 0.0


# the controller's queues live in memory it allocates up front: bound them
_MAX_QUEUE = 1 << 16
_MAX_QUEUED_ENTRIES = 1 << 24


def _parameters(config, every_clock: bool) -> Parameters:
    if config.burst_length % 2:
        raise ConfigError(f"burst_length: expected an even number of beats, got "
                          f"{config.burst_length}")
    for name in ("queue_depth", "command_queue_depth", "write_buffer_depth"):
        if getattr(config, name) > _MAX_QUEUE:
            raise ConfigError(f"{name}: expected at most {_MAX_QUEUE:,} for the command-level "
                              f"controller, got {getattr(config, name):,}")
    entries = config.channels * config.banks_per_channel * config.command_queue_depth
    if entries > _MAX_QUEUED_ENTRIES:
        raise ConfigError(f"channels x banks x command_queue_depth: expected at most "
                          f"{_MAX_QUEUED_ENTRIES:,} bank-queue entries for the command-level "
                          f"controller, got {entries:,}")
    derived = {"burst_cycles": config.burst_length // 2,
               "closed_page": int(config.page_policy == "closed"),
               "dual_command_bus": int(config.dual_command_bus),
               "refresh_staggered": int(config.refresh_policy == "staggered"),
               "every_clock": int(every_clock)}
    return Parameters(**{name: int(derived[name] if name in derived else getattr(config, name))
                         for name in PARAMETERS})


class CommandController:
    """Stateful command-level timing of `config` (a DramConfig); one clock = one DRAM clock."""

    def __init__(self, config, every_clock: bool = False):
        lib = library()
        self.config = config
        self._lib = lib
        self._parameters = _parameters(config, every_clock)
        self._handle = lib.ctl_new(ctypes.byref(self._parameters))
        if not self._handle:
            raise MemoryError("could not allocate the DRAM controller state")
        self._counters = np.zeros((config.channels, len(COUNTERS)), dtype=np.int64)

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            self._lib.ctl_free(handle)
            self._handle = None

    def record_commands(self, capacity: int = 1 << 20) -> None:
        """Log the commands issued from now on (up to `capacity`; later ones are not kept)."""
        self._log: np.ndarray | None = np.zeros((int(capacity), 5), dtype=np.int64)
        self._lib.ctl_log(self._handle, self._log.ctypes.data, len(self._log))

    def recorded_commands(self) -> dict:
        """The commands logged since `record_commands`, as columns: clock, channel, command
        (one of COMMANDS), bank (rank, bank group and bank flattened), row; logging stops."""
        log = getattr(self, "_log", None)
        if log is None:
            raise ValueError("recorded_commands: call record_commands first")
        count = int(self._lib.ctl_log(self._handle, None, 0))
        self._log = None
        rows = log[:count]
        return {"clock": rows[:, 0], "channel": rows[:, 1],
                "command": np.array(COMMANDS, dtype=object)[rows[:, 2]],
                "bank": rows[:, 3], "row": rows[:, 4]}

    def clocks(self) -> np.ndarray:
        """Each channel's clock: the first clock it has not simulated yet."""
        out = np.zeros(self.config.channels, dtype=np.int64)
        self._lib.ctl_clocks(self._handle, out.ctypes.data)
        return out

    def open_banks(self) -> int:
        """Banks with a row open now, over every channel."""
        return int(self._lib.ctl_open_banks(self._handle))

    def run(self, byte_addresses, is_write, arrival_dram_cycle) -> ControllerResult:
        """Time one batch (see the module docstring). Arrivals are DRAM clocks (a fraction
        rounds up: a request is seen on the first clock edge at or after it); a request
        listed after a later one arrives with it (the controller takes them in order)."""
        addresses = np.asarray(byte_addresses, dtype=np.int64).reshape(-1)
        n = addresses.size
        writes = np.ascontiguousarray(np.broadcast_to(np.asarray(is_write, dtype=bool), (n,)),
                                      dtype=np.uint8)
        arrival = np.broadcast_to(np.asarray(arrival_dram_cycle, dtype=float), (n,))
        if n and not (np.isfinite(arrival).all() and arrival.min() >= 0):
            raise ValueError("arrival_dram_cycle: expected finite values >= 0")
        if n and addresses.min() < 0:
            raise ValueError(f"byte_addresses: expected values >= 0, got {addresses.min()}")
        if n and arrival.max() >= _MAX_CLOCK / 2:
            raise ValueError(f"arrival_dram_cycle: expected values < 2^59, got "
                             f"{math.ceil(arrival.max())}")
        clocks = np.ceil(arrival)
        np.maximum.accumulate(clocks, out=clocks)
        clocks = clocks.astype(np.int64)
        c = self.config
        fields = c.decode(addresses)
        bank = fields["rank"] * c.bank_groups
        bank += fields["bank_group"]
        bank *= c.banks_per_group
        bank += fields["bank"]
        bank = bank.astype(np.int64, copy=False)
        channel = fields["channel"]
        if c.channels == 1:  # one channel: the requests in their order
            order = np.arange(n, dtype=np.int64)
            offsets = np.array([0, n], dtype=np.int64)
        else:
            order = np.argsort(channel, kind="stable").astype(np.int64)
            offsets = np.searchsorted(channel[order],
                                      np.arange(c.channels + 1)).astype(np.int64)
        row = np.ascontiguousarray(fields["row"], dtype=np.int64)
        column = np.ascontiguousarray(fields["column"], dtype=np.int64)
        key = addresses // c.burst_bytes
        done = np.full(n, np.nan)
        next_read = np.full(n, -1, dtype=np.int64)
        counters = np.zeros((c.channels, len(COUNTERS)), dtype=np.int64)
        status = self._lib.ctl_run(
            self._handle, order.ctypes.data, offsets.ctypes.data, bank.ctypes.data,
            row.ctypes.data, column.ctypes.data, key.ctypes.data, writes.ctypes.data,
            clocks.ctypes.data, done.ctypes.data, next_read.ctypes.data, counters.ctypes.data,
            _MAX_CLOCK)
        if status == -2:
            raise MemoryError("the DRAM controller could not allocate its batch state")
        if status != 0 or (n and np.isnan(done).any()):
            why = {-1: "ran past its clock limit", -3: "stalled (a bug: please report it)"}
            raise RuntimeError(f"the DRAM controller did not serve every request: "
                               f"{why.get(int(status), 'requests left unserved')}")
        delta = counters - self._counters
        self._counters = counters
        return ControllerResult(done, dict(zip(COUNTERS, (int(v) for v in delta.sum(axis=0)),
                                               strict=True)))

    def access(self, byte_addresses, is_write, now_cycle: float,
               dram_cycles_per_accel_cycle: float) -> DramBatch:
        """The simulator's view: the bursts all arrive at accelerator cycle `now_cycle`; the
        batch's counts and energies (`DramBatch`), its end in accelerator cycles."""
        return self.access_each(byte_addresses, is_write, now_cycle,
                                dram_cycles_per_accel_cycle)[0]

    def access_each(self, byte_addresses, is_write, now_cycle: float,
                    dram_cycles_per_accel_cycle: float) -> tuple[DramBatch, np.ndarray]:
        """`access`, and each burst's end (accelerator cycles: its data off the bus, never
        before `now_cycle`)."""
        addresses = np.asarray(byte_addresses, dtype=np.int64).reshape(-1)
        if not addresses.size:
            return DramBatch.empty(now_cycle), np.empty(0)
        result = self.run(addresses, is_write, now_cycle * dram_cycles_per_accel_cycle)
        done = np.maximum(result.done_cycle / dram_cycles_per_accel_cycle, now_cycle)
        c, counts = self.config, result.counts
        bits = c.burst_bytes * 8
        end_cycle = max(result.finish_cycle / dram_cycles_per_accel_cycle, now_cycle)
        bursts = counts["reads"] + counts["writes"]
        batch = DramBatch(
            bursts=bursts,
            bytes_read=counts["reads"] * c.burst_bytes,
            bytes_written=counts["writes"] * c.burst_bytes,
            row_hits=counts["row_hits"],
            row_misses=bursts - counts["row_hits"] - counts["row_conflicts"],
            row_conflicts=counts["row_conflicts"],
            activates=counts["activates"],
            refreshes=counts["refreshes"],
            start_cycle=now_cycle,
            end_cycle=end_cycle,
            busy_cycles=end_cycle - now_cycle,
            activate_energy_pj=counts["activates"] * c.activate_energy_pj,
            read_energy_pj=counts["reads"] * bits * c.read_energy_pj_per_bit,
            write_energy_pj=counts["writes"] * bits * c.write_energy_pj_per_bit,
            io_energy_pj=bursts * bits * c.io_energy_pj_per_bit,
        )
        return batch, done
