"""The technology: one node and SRAM cell type from which every on-chip figure is derived.

- **SRAMs** from CACTI 7: read and write energy per access, leakage power, area, access and
  cycle time for an organisation (capacity, access width, banks, ports) at a node and cell type,
  read from the committed table ``tables/cacti_sram.csv`` (built by
  ``benchmarks/cacti_table.py``; CACTI's version and configuration in ``tables/cacti_sram.json``).
  Between the table's points: linear in the capacity along a line (quarter octaves apart at
  45 nm, octaves elsewhere), log(value) linear in log(width) and log(banks) across lines
  (`SramTable.lookup`); outside them log-log, the end lines extended, and the source string
  says "extrapolated". A banked SRAM costs, per access, what CACTI gives for that
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
# The reader's median and worst relative error against live CACTI at 144 held-out
# organisations (tests/data/cacti_held_out.csv, written by `benchmarks/cacti_table.py
# --held-out`; `--report` replays them without CACTI): capacities at odd eighths of an octave
# (two of them where CACTI switches array organisation), widths and bank counts between the
# lines, off-line combinations, at every node and cell type; the tests hold the reader to
# them. With the 45 nm bank lines at quarter octaves and the capacity interpolated linearly
# (CACTI's figures are affine in the capacity while one organisation holds) the read energy's
# median fell from 7.4 % (powers of two, log-log) to 3.8 %; the worst cases are CACTI's own
# jumps: at the worst read energy (65 nm itrs-hp, 88 KiB, 32-bit, 16 banks) CACTI's figure
# lies 28.7 % outside every answer of the table at the point's neighbours, which no
# interpolation between them can reach (14 % of the held-out points lie outside their
# neighbours for the read energy). At the table's own points (every power-of-two capacity,
# and at 45 nm every quarter octave, so the 10 MiB shared buffer too) the figures are CACTI's
# exactly.
HELD_OUT_MEDIAN_ERROR = {"read_energy_pj": 0.039, "write_energy_pj": 0.027,
                         "leakage_power_mw": 0.026, "area_mm2": 0.027, "access_time_ns": 0.036,
                         "cycle_time_ns": 0.16}
HELD_OUT_MAX_ERROR = {"read_energy_pj": 0.30, "write_energy_pj": 0.16, "leakage_power_mw": 0.22,
                      "area_mm2": 0.17, "access_time_ns": 0.22, "cycle_time_ns": 1.82}
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


def _bracket(axis: np.ndarray, x: float, log: bool = True
             ) -> tuple[list[tuple[int, float]], str]:
    """Indices into the sorted `axis` and their weights for `x` (linear in log(x), or in x with
    `log` False), and what was done ("" exact, "interpolated", "extrapolated")."""
    hit = np.flatnonzero(axis == x)
    if len(hit):
        return [(int(hit[0]), 1.0)], ""
    if len(axis) == 1:
        return [(0, 1.0)], "extrapolated"
    i = int(np.clip(np.searchsorted(axis, x) - 1, 0, len(axis) - 2))
    lo, hi, at = ((math.log(axis[i]), math.log(axis[i + 1]), math.log(x)) if log else
                  (float(axis[i]), float(axis[i + 1]), float(x)))
    t = (at - lo) / (hi - lo)
    how = "interpolated" if 0.0 < t < 1.0 else "extrapolated"
    return [(i, 1.0 - t), (i + 1, t)], how


def _along_capacity(caps: np.ndarray, logs: np.ndarray, capacity: float
                    ) -> tuple[np.ndarray, str]:
    """The log figures at `capacity` on one line: between held capacities linear in the
    capacity (CACTI's figures are affine in it while its array organisation holds, and the
    table's quarter octaves mostly stay within one organisation); beyond them log-log, the
    end segment extended (a power law, which stays positive)."""
    at, how = _bracket(caps, capacity, log=False)
    if how == "interpolated":
        (i, wi), (j, wj) = at
        return np.log(wi * np.exp(logs[i]) + wj * np.exp(logs[j])), how
    if how == "extrapolated":
        at, how = _bracket(caps, capacity)
    return sum(w * logs[i] for i, w in at), how


class SramTable:
    """The committed CACTI table, and lookups between its points.

    The table holds capacities on three lines through a reference organisation (64-bit, one
    bank, one port): one varying the bank count (every quarter octave of capacity), one the
    width and one the port count (powers of two up to `line_max_capacity_bytes`). A point the
    table holds is returned as CACTI gave it. Any other organisation is the bank line's figure
    at its capacity and bank count, times the width line's and the port line's factor over the
    reference organisation: f(C, w, b, p) = f(C, 64, b, 1) x r_w(C') x r_p(C'), with
    r_w(c) = f(c, w, 1, 1) / f(c, 64, 1, 1) at the width line's own capacities, log(r) linear
    in log(c) between them and held constant beyond the line's last capacity. Along a bank
    line the figures are linear in the capacity between held capacities, log-log beyond them
    (said so); between bank counts and widths log(value) is linear in log(banks) or
    log(width); ports take the nearest held count (said so).
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
        # per (node, cell, width, banks, ports): capacities (sorted) and their log figures
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
              ) -> tuple[list[tuple[tuple, float]], str]:
        """The held lines around `value` on the line varying `position`: (line key, weight)
        each, and what was done."""
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
            out.append(((node_nm, cell_type, *organisation), weight))
        return out, how

    def _on_banks(self, node_nm: int, cell_type: str, banks: int, capacity: float
                  ) -> tuple[np.ndarray, set[str]]:
        """Log figures of the reference width and ports at this capacity and bank count."""
        line, how = self._line(node_nm, cell_type, 1, banks)
        total, hows = np.zeros(len(FIGURES)), {how}
        for key, weight in line:
            logs, how_c = _along_capacity(*self.lines[key], capacity)
            total = total + weight * logs
            hows.add(how_c)
        return total, hows

    def _factor(self, node_nm: int, cell_type: str, position: int, value: int,
                capacity: float) -> tuple[np.ndarray, set[str]]:
        """Log of the width (position 0) or port (2) factor over the reference organisation at
        this capacity, from the factor line's own capacities."""
        line, how = self._line(node_nm, cell_type, position, value)
        reference = self.lines[(node_nm, cell_type, *self.reference)]
        total, hows = np.zeros(len(FIGURES)), {how, "interpolated"}
        for key, weight in line:
            caps, logs = self.lines[key]
            ratios = logs - np.array([_along_capacity(*reference, c)[0] for c in caps])
            at, how_c = _bracket(caps, min(capacity, float(caps.max())))
            total = total + weight * sum(w * ratios[i] for i, w in at)
            hows.add(how_c)
        return total, hows

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
        logs, hows = self._on_banks(node_nm, cell_type, banks, capacity_bytes)
        organisation = (width_bits, banks, ports)
        for position in (0, 2):
            if organisation[position] != self.reference[position]:
                factor, how_f = self._factor(node_nm, cell_type, position,
                                             organisation[position], capacity_bytes)
                logs = logs + factor
                hows |= how_f
        hows.discard("")
        kind = ("extrapolated" if any("extrapolated" in h for h in hows) else "interpolated")
        notes = "; ".join(sorted(h for h in hows if h not in ("interpolated", "extrapolated")))
        how = (f"{kind} (along capacity and the bank, width and port lines"
               f"{'; ' + notes if notes else ''})")
        return SramFigures.of(np.exp(logs), f"{source}; {where}: {how}")

    def errors(self, rows: list[dict]) -> dict[str, np.ndarray]:
        """The relative error of `lookup` against CACTI results `rows`, per figure (in the
        rows' order)."""
        got = [self.lookup(int(row["node_nm"]), str(row["cell_type"]),
                           int(row["capacity_bytes"]), int(row["width_bits"]),
                           int(row["banks"]), int(row["ports"])) for row in rows]
        return {f: np.array([abs(getattr(g, f) - float(row[f])) / float(row[f])
                             for g, row in zip(got, rows, strict=True)]) for f in FIGURES}

    def worst_error(self, rows: list[dict]) -> dict[str, tuple[float, dict]]:
        """The largest relative error of `lookup` against CACTI results `rows`, per figure,
        and where."""
        out: dict[str, tuple[float, dict]] = {}
        for f, errors in self.errors(rows).items():
            i = int(np.argmax(errors))
            out[f] = (float(errors[i]), {k: rows[i][k] for k in KEY_COLUMNS})
        return out


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

    def register_write(self, bits: int) -> tuple[float, str]:
        """A `bits`-wide pipeline register's write: (energy pJ, source)."""
        energy = bits * energy_tables.REGISTER_PJ_PER_BIT_45NM * self.energy_scale
        return energy, (f"derived: {bits} register bits, {energy_tables.ALADDIN}, x45/40 to "
                        "45 nm (switched capacitance ~ feature size, same 0.9 V supply), then "
                        f"x{self.energy_scale:.3f} to {self.node_nm} nm {self.logic_device} "
                        "(switched capacitance (C_g_ideal + C_fringe) x feature size x Vdd^2 "
                        "from CACTI 7 tech_params, against 45 nm itrs-hp)")

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
