"""The technology: one node and SRAM cell type from which every on-chip figure is derived.

- **SRAMs** from CACTI 7: read and write energy per access, leakage power, area, access and
  cycle time for an organisation (capacity, access width, banks, ports) at a node and cell type,
  read from the committed table ``tables/cacti_sram.csv`` (built by
  ``benchmarks/cacti_table.py``; CACTI's version and configuration in ``tables/cacti_sram.json``).
  Between the table's points: interpolation linear in log(value) against log(capacity),
  log(width) and log(banks) (`SramTable.lookup`); outside them the same lines extended, and the
  source string says "extrapolated". A banked SRAM costs, per access, what CACTI gives for that
  banked organisation (one bank's access plus the routing to it), not the whole capacity's
  figure.
- **Datapath** (MACs, registers, adders and comparators of the update unit, the PRNG): the
  published 45 nm figures of `accelsim.config.energy_tables` scaled to the node. Energy by
  switched capacitance x Vdd^2: (C_g_ideal + C_fringe) x feature size x Vdd^2 of the logic
  device at the node over the same at 45 nm itrs-hp, device parameters from CACTI 7's
  ``tech_params`` (recorded in the table's metadata); area by feature size squared.

A config names its technology in a ``technology`` section (`TechnologyConfig`); an unknown
node or cell type is a one-line error.
"""

from __future__ import annotations

import csv
import functools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from accelsim.config import checks, energy_tables
from accelsim.config.energy_tables import HOROWITZ, HOROWITZ_NODE_NM
from accelsim.errors import ConfigError

NODES_NM = (22, 32, 45, 65)
CELL_TYPES = ("itrs-hp", "itrs-lop", "itrs-lstp")
TABLES = Path(__file__).resolve().parent / "tables"
TABLE_PATH = TABLES / "cacti_sram.csv"
TABLE_METADATA_PATH = TABLES / "cacti_sram.json"
HELD_OUT_PATH = Path(__file__).resolve().parents[2] / "tests" / "data" / "cacti_held_out.csv"
KEY_COLUMNS = ("node_nm", "cell_type", "capacity_bytes", "width_bits", "banks", "ports")
FIGURES = ("read_energy_pj", "write_energy_pj", "leakage_power_mw", "area_mm2",
           "access_time_ns", "cycle_time_ns")
TABLE_COLUMNS = KEY_COLUMNS + FIGURES
# The reader's worst relative error against live CACTI at 144 held-out organisations
# (tests/data/cacti_held_out.csv, written by `benchmarks/cacti_table.py --held-out`: capacities
# between powers of two, widths and bank counts between the lines, off-line combinations, at
# every node and cell type), per figure, as measured; the tests hold the reader to it. Medians:
# read energy 7.4 %, write 3.4 %, leakage 3.3 %, area 3.7 %, access time 4.4 %. Not the 3 %
# aimed at: CACTI picks a different array organisation for a capacity between two powers of
# two, and its figures there are not between its neighbours' (45 nm itrs-hp, 64-bit, one
# bank: 48 KiB costs 22.4 pJ per read, 64 KiB 21.2 pJ). At the table's own points (every
# power-of-two capacity on its lines, which every shipped config uses except the 10 MiB shared
# buffer) the figures are CACTI's exactly.
HELD_OUT_MAX_ERROR = {"read_energy_pj": 0.32, "write_energy_pj": 0.22, "leakage_power_mw": 0.21,
                      "area_mm2": 0.19, "access_time_ns": 0.22, "cycle_time_ns": 0.66}
CACTI = "CACTI 7.0 (github HewlettPackard/cacti)"


def _table_source(node_nm: int, cell_type: str) -> str:
    return (f"{CACTI} via accelsim/config/tables/cacti_sram.csv, {node_nm} nm, {cell_type} "
            "cells and periphery, 350 K, scratch RAM")


@dataclass(frozen=True)
class SramFigures:
    """CACTI's figures for one SRAM organisation (energies per access of its width)."""
    read_energy_pj: float
    write_energy_pj: float
    leakage_power_mw: float  # all banks, subthreshold + gate leakage
    area_mm2: float
    access_time_ns: float
    cycle_time_ns: float
    source: str

    @classmethod
    def of(cls, values: Iterable[float], source: str) -> SramFigures:
        """From the figures in `FIGURES` order."""
        v = [float(x) for x in values]
        return cls(v[0], v[1], v[2], v[3], v[4], v[5], source)

    @classmethod
    def nothing(cls, source: str) -> SramFigures:
        """A capacity of 0: nothing on chip costs nothing."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, source)


def _bracket(axis: np.ndarray, x: float) -> tuple[list[tuple[int, float]], str]:
    """Indices into the sorted `axis` and their weights in log space for `x`, and what was done
    ("" exact, "interpolated", "extrapolated")."""
    hit = np.flatnonzero(axis == x)
    if len(hit):
        return [(int(hit[0]), 1.0)], ""
    if len(axis) == 1:
        return [(0, 1.0)], "extrapolated"
    i = int(np.clip(np.searchsorted(axis, x) - 1, 0, len(axis) - 2))
    lo, hi = math.log(axis[i]), math.log(axis[i + 1])
    t = (math.log(x) - lo) / (hi - lo)
    how = "interpolated" if 0.0 < t < 1.0 else "extrapolated"
    return [(i, 1.0 - t), (i + 1, t)], how


class SramTable:
    """The committed CACTI table, and lookups between its points.

    The table holds capacities on three lines through a reference organisation (64-bit, one
    bank, one port): one varying the bank count (every capacity), one the width and one the
    port count (up to `line_max_capacity_bytes`). A point the table holds is returned as CACTI
    gave it. Any other organisation is the bank line's figure at its capacity and bank count,
    times the width line's and the port line's factor over the reference organisation, each
    factor taken at the capacity (held constant beyond its line's last capacity):
    f(C, w, b, p) = f(C, 64, b, 1) x f(C', w, 1, 1) / f(C', 64, 1, 1) x f(C', 64, 1, p) /
    f(C', 64, 1, 1). Along a line log(value) is linear in log(capacity) and in log(banks) or
    log(width) between held points, the same lines extended outside them (said so); ports
    take the nearest held count (said so).
    """

    def __init__(self, rows: list[dict], metadata: dict) -> None:
        self.metadata = metadata
        reference = metadata.get("grid", {}).get("reference", {})
        self.reference = (int(reference.get("width_bits", 64)), int(reference.get("banks", 1)),
                          int(reference.get("ports", 1)))
        self.rows: dict[tuple, tuple[float, ...]] = {}
        lines: dict[tuple, list[tuple[int, tuple[float, ...]]]] = {}
        for row in rows:
            figures = tuple(float(row[f]) for f in FIGURES)
            organisation = (int(row["width_bits"]), int(row["banks"]), int(row["ports"]))
            node, cell, capacity = int(row["node_nm"]), str(row["cell_type"]), int(
                row["capacity_bytes"])
            self.rows[(node, cell, capacity, *organisation)] = figures
            lines.setdefault((node, cell, *organisation), []).append((capacity, figures))
        # per (node, cell, width, banks, ports): capacities (sorted) and their figures
        self.lines = {key: (np.array([c for c, _ in sorted(v)], dtype=float),
                            np.log(np.array([f for _, f in sorted(v)], dtype=float)))
                      for key, v in lines.items()}

    @classmethod
    def load(cls, path: Path = TABLE_PATH, metadata_path: Path = TABLE_METADATA_PATH
             ) -> SramTable:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        metadata = json.loads(Path(metadata_path).read_text(encoding="utf-8"))
        return cls(rows, metadata)

    def _axis(self, node_nm: int, cell_type: str, position: int) -> np.ndarray:
        """The values held on the line varying organisation field `position` (0 width, 1 banks,
        2 ports) at this node and cell type."""
        held = set()
        for key in self.lines:
            if key[:2] != (node_nm, cell_type):
                continue
            organisation = key[2:]
            if all(organisation[i] == self.reference[i] for i in range(3) if i != position):
                held.add(organisation[position])
        return np.array(sorted(held), dtype=float)

    def _line(self, node_nm: int, cell_type: str, position: int, value: int
              ) -> tuple[list[tuple[np.ndarray, np.ndarray, float]], str]:
        """The held lines around `value` on the line varying `position`: (capacities,
        log figures, weight) each, and what was done."""
        axis = self._axis(node_nm, cell_type, position)
        if position == 2:  # ports: a count held, or the nearest one
            nearest = axis[np.argmin(np.abs(axis - value))]
            at = [(int(np.flatnonzero(axis == nearest)[0]), 1.0)]
            how = "" if nearest == value else f"{value} ports taken as {int(nearest)}"
        else:
            at, how = _bracket(axis, value)
        out = []
        for i, weight in at:
            organisation = list(self.reference)
            organisation[position] = int(axis[i])
            caps, logs = self.lines[(node_nm, cell_type, *organisation)]
            out.append((caps, logs, weight))
        return out, how

    @staticmethod
    def _at(line: list[tuple[np.ndarray, np.ndarray, float]], capacity: float
            ) -> tuple[np.ndarray, str]:
        total, hows = np.zeros(len(FIGURES)), set()
        for caps, logs, weight in line:
            at, how = _bracket(caps, capacity)
            hows.add(how)
            for j, w in at:
                total = total + weight * w * logs[j]
        return total, ("extrapolated" if "extrapolated" in hows else
                       "interpolated" if "interpolated" in hows else "")

    def lookup(self, node_nm: int, cell_type: str, capacity_bytes: int, width_bits: int,
               banks: int = 1, ports: int = 1) -> SramFigures:
        """CACTI's figures for this organisation; `capacity_bytes` 0 gives zeros."""
        check_node(node_nm)
        check_cell_type(cell_type)
        source = _table_source(node_nm, cell_type)
        if capacity_bytes == 0:
            return SramFigures.nothing(f"{source}: capacity 0, nothing on chip")
        where = f"{capacity_bytes} B, {width_bits}-bit, {banks} bank(s), {ports} port(s)"
        held = self.rows.get((node_nm, cell_type, capacity_bytes, width_bits, banks, ports))
        if held is not None:  # a point the table holds: CACTI's own figures
            return SramFigures.of(held, f"{source}; {where}: table point")
        if not any(key[:2] == (node_nm, cell_type) for key in self.lines):
            raise ConfigError(f"technology: the CACTI table holds nothing for {node_nm} nm "
                              f"{cell_type}")
        bank_line, how_b = self._line(node_nm, cell_type, 1, banks)
        logs, how_c = self._at(bank_line, capacity_bytes)
        hows = {how_b, how_c}
        organisation = (width_bits, banks, ports)
        reference_line, _ = self._line(node_nm, cell_type, 1, self.reference[1])
        for position in (0, 2):
            if organisation[position] == self.reference[position]:
                continue
            line, how = self._line(node_nm, cell_type, position, organisation[position])
            top = min(caps.max() for caps, _, _ in line)
            at = min(float(capacity_bytes), top)  # the factor held constant beyond the line
            factor_logs, how_f = self._at(line, at)
            reference_logs, _ = self._at(reference_line, at)
            logs = logs + factor_logs - reference_logs
            hows |= {how, how_f, "interpolated"}
        hows.discard("")
        kind = ("extrapolated" if any("extrapolated" in h for h in hows) else "interpolated")
        notes = "; ".join(sorted(h for h in hows if h not in ("interpolated", "extrapolated")))
        how = (f"{kind} (log-log along capacity and the bank, width and port lines"
               f"{'; ' + notes if notes else ''})")
        return SramFigures.of(np.exp(logs), f"{source}; {where}: {how}")

    def worst_error(self, rows: list[dict]) -> dict[str, tuple[float, dict]]:
        """The largest relative error of `lookup` against CACTI results `rows`, per figure."""
        worst: dict[str, tuple[float, dict]] = {f: (0.0, {}) for f in FIGURES}
        for row in rows:
            got = self.lookup(int(row["node_nm"]), str(row["cell_type"]),
                              int(row["capacity_bytes"]), int(row["width_bits"]),
                              int(row["banks"]), int(row["ports"]))
            for f in FIGURES:
                want = float(row[f])
                error = abs(getattr(got, f) - want) / want
                if error > worst[f][0]:
                    worst[f] = (error, {k: row[k] for k in KEY_COLUMNS})
        return worst


@functools.cache
def sram_table() -> SramTable:
    """The committed table (read once)."""
    return SramTable.load()


def check_node(node_nm: object) -> int:
    if not checks.is_integer(node_nm) or int(node_nm) not in NODES_NM:
        checks.fail("node_nm", f"one of {', '.join(map(str, NODES_NM))} (the CACTI table's "
                    "nodes, in nm)", node_nm)
    return int(node_nm)


def check_cell_type(cell_type: object) -> str:
    checks.one_of("sram_cell_type", cell_type, CELL_TYPES)
    return str(cell_type)


def _device(node_nm: int, device: str) -> dict:
    return sram_table().metadata["device_params"][str(node_nm)][device]


def _switching(node_nm: int, device: str) -> float:
    """(C_g_ideal + C_fringe) x feature size x Vdd^2: a gate's switching energy, to scale by."""
    d = _device(node_nm, device)
    return (d["C_g_ideal_F_per_um"] + d["C_fringe_F_per_um"]) * node_nm * d["Vdd_V"] ** 2


@dataclass(frozen=True)
class TechnologyConfig:
    """The node and cell types every on-chip figure is derived from."""
    node_nm: int = 45
    # the SRAMs' cells and periphery (CACTI's data-array cell and peripheral type)
    sram_cell_type: str = "itrs-lop"
    # the datapath's transistors (MACs, registers, update unit, PRNG): a CACTI device type
    logic_device: str = "itrs-hp"
    sources: dict[str, str] = field(default_factory=dict)
    # the supply voltages of the two device types at this node (CACTI's tech_params): derived
    sram_supply_voltage_v: float = field(default=0.0, init=False)
    logic_supply_voltage_v: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "node_nm", check_node(self.node_nm))
        check_cell_type(self.sram_cell_type)
        checks.one_of("logic_device", self.logic_device, CELL_TYPES)
        sources = checks.source_map("sources", self.sources)
        for name, device in (("sram_supply_voltage_v", self.sram_cell_type),
                             ("logic_supply_voltage_v", self.logic_device)):
            object.__setattr__(self, name, float(_device(self.node_nm, device)["Vdd_V"]))
            sources[name] = (f"CACTI 7 tech_params/{self.node_nm}nm.dat, {device} Vdd "
                             "(recorded in accelsim/config/tables/cacti_sram.json)")
        for name in ("node_nm", "sram_cell_type", "logic_device"):
            sources.setdefault(name, "user" if self.sources.get(name) is None else
                               self.sources[name])
        object.__setattr__(self, "sources", sources)

    # -- SRAMs ---------------------------------------------------------------------------------
    def sram(self, capacity_bytes: int, width_bits: int, banks: int = 1, ports: int = 1
             ) -> SramFigures:
        return sram_table().lookup(self.node_nm, self.sram_cell_type, capacity_bytes,
                                   width_bits, banks, ports)

    # -- datapath ------------------------------------------------------------------------------
    @property
    def energy_scale(self) -> float:
        """Datapath energy at this node and device over Horowitz's 45 nm figures."""
        return _switching(self.node_nm, self.logic_device) / _switching(HOROWITZ_NODE_NM,
                                                                         "itrs-hp")

    @property
    def area_scale(self) -> float:
        """Datapath area at this node over 45 nm: feature size squared."""
        return (self.node_nm / HOROWITZ_NODE_NM) ** 2

    @property
    def scaling_rule(self) -> str:
        return (f"scaled from 45 nm to {self.node_nm} nm {self.logic_device}: energy "
                f"x{self.energy_scale:.3f} (switched capacitance (C_g_ideal + C_fringe) x "
                "feature size x Vdd^2 from CACTI 7 tech_params, against 45 nm itrs-hp), area "
                f"x{self.area_scale:.3f} (feature size squared)")

    def operations(self, operations: energy_tables.Operations, what: str
                   ) -> tuple[float, float, str]:
        """(energy pJ, area mm^2, source) of a list of (operation, count) at this node."""
        operations = list(operations)
        energy, area_um2 = energy_tables.operations_45nm(operations)
        ops = " + ".join(f"{n} x {op}" for op, n in operations)
        source = (f"derived: {what} = {ops} ({HOROWITZ} energy and area tables: "
                  f"{energy:.4g} pJ, {area_um2:.4g} um^2), {self.scaling_rule}")
        return energy * self.energy_scale, area_um2 * 1e-6 * self.area_scale, source

    def mac(self, number_format: str) -> tuple[float, float, str]:
        """One multiply-accumulate: (energy pJ, area mm^2, source)."""
        return self.operations(energy_tables.mac_operations(number_format),
                               f"{number_format} MAC")

    def register_area_mm2(self, bits: int) -> tuple[float, str]:
        area = bits * energy_tables.DFF_AREA_UM2_45NM * 1e-6 * self.area_scale
        return area, (f"derived: {bits} flip-flops, {energy_tables.NANGATE}, area "
                      f"x{self.area_scale:.3f} (feature size squared)")

    def prng(self, generator: str = "hash") -> tuple[float, float, str]:
        """One generator lane's value: (energy pJ per value, area mm^2 per lane, source)."""
        checks.one_of("generator", generator, tuple(energy_tables.PRNG_GENERATORS))
        operations, what = energy_tables.PRNG_GENERATORS[generator]
        return self.operations(operations, f"PRNG value, {what}")


def check_number_format(weight_bits: int, number_format: object) -> str:
    allowed = energy_tables.NUMBER_FORMATS[weight_bits]
    checks.one_of("number_format", number_format, allowed)
    return str(number_format)
