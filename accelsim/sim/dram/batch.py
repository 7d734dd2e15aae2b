"""One batch of DRAM bursts as the simulator counts it: `DramBatch` (counts, energies, span)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["DramBatch"]


@dataclass
class DramBatch:
    """Totals for one batch of bursts. Cycles are accelerator clock cycles.

    For a single batch busy_cycles == end_cycle - start_cycle. Adding batches sums the counts,
    energies and busy_cycles and spans start..end, so for batches separated by idle time
    busy_cycles < end_cycle - start_cycle.
    """

    bursts: int
    bytes_read: int
    bytes_written: int
    row_hits: int
    row_misses: int
    row_conflicts: int
    activates: int
    refreshes: int
    start_cycle: float
    end_cycle: float
    busy_cycles: float
    activate_energy_pj: float
    read_energy_pj: float
    write_energy_pj: float
    io_energy_pj: float

    @classmethod
    def empty(cls, now_cycle: float = 0.0) -> DramBatch:
        return cls(0, 0, 0, 0, 0, 0, 0, 0, float(now_cycle), float(now_cycle), 0.0,
                   0.0, 0.0, 0.0, 0.0)

    @property
    def energy_pj(self) -> float:
        """Dynamic energy: activates + reads + writes + I/O (background power not included)."""
        return (self.activate_energy_pj + self.read_energy_pj + self.write_energy_pj
                + self.io_energy_pj)

    @property
    def bytes_total(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def row_hit_rate(self) -> float:
        return self.row_hits / self.bursts if self.bursts else 0.0

    def __add__(self, other: DramBatch) -> DramBatch:
        if not isinstance(other, DramBatch):
            return NotImplemented
        if self.bursts == 0 and self.busy_cycles == 0:
            return dataclasses.replace(other)
        if other.bursts == 0 and other.busy_cycles == 0:
            return dataclasses.replace(self)
        return DramBatch(
            bursts=self.bursts + other.bursts,
            bytes_read=self.bytes_read + other.bytes_read,
            bytes_written=self.bytes_written + other.bytes_written,
            row_hits=self.row_hits + other.row_hits,
            row_misses=self.row_misses + other.row_misses,
            row_conflicts=self.row_conflicts + other.row_conflicts,
            activates=self.activates + other.activates,
            refreshes=self.refreshes + other.refreshes,
            start_cycle=min(self.start_cycle, other.start_cycle),
            end_cycle=max(self.end_cycle, other.end_cycle),
            busy_cycles=self.busy_cycles + other.busy_cycles,
            activate_energy_pj=self.activate_energy_pj + other.activate_energy_pj,
            read_energy_pj=self.read_energy_pj + other.read_energy_pj,
            write_energy_pj=self.write_energy_pj + other.write_energy_pj,
            io_energy_pj=self.io_energy_pj + other.io_energy_pj,
        )

    def __radd__(self, other):
        # lets sum(batches) start from 0
        if other == 0:
            return dataclasses.replace(self)
        return NotImplemented
