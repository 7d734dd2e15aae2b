"""Silicon area per on-chip component and in total, in mm^2 (DRAM is off chip: no area).

One table, `AREA_TABLE`: each component's label, how its area follows from a config's resolved
figures (each figure derived from the config's technology, or given in the file, with its source
in the section's ``sources``), and where that figure's source is. Reads the config as a dict
(`AcceleratorConfig.to_dict()`, the form a result folder's ``summary.json`` holds), so a saved
result's area needs nothing else.

- ``pe_array``: rows x cols PEs (a MAC and its pipeline registers each)
- ``weight_sram``, ``activation_sram``: each SRAM's CACTI area (with one shared global buffer
  the weight view carries the whole buffer's area and the activation view none)
- ``staging_buffer``: the streamed weights' buffer (a one-bank SRAM, one word wide)
- ``prng``: the regeneration unit's lanes
- ``update_unit``: the update unit's ALU lanes and comparators

Every SRAM counts whether or not its activations are simulated: it is on the chip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class AreaComponent:
    name: str  # the key in results (``<name>`` in ``area_mm2``)
    label: str  # in tables and figures
    formula: Callable[[dict], float]  # config dict -> mm^2
    source: Callable[[dict], str]  # config dict -> where the figure comes from


def _section(config: dict, name: str) -> dict:
    value = config.get(name)
    return value if isinstance(value, dict) else {}


def _figure(config: dict, section: str, key: str) -> float:
    return float(_section(config, section).get(key, 0.0) or 0.0)


def _source(section: str, key: str) -> Callable[[dict], str]:
    return lambda config: str(_section(config, section).get("sources", {}).get(key, ""))


AREA_TABLE = (
    AreaComponent("pe_array", "PE array",
                  lambda c: (_figure(c, "pe", "rows") * _figure(c, "pe", "cols")
                             * _figure(c, "pe", "pe_area_mm2")),
                  _source("pe", "pe_area_mm2")),
    AreaComponent("weight_sram", "weight SRAM",
                  lambda c: _figure(c, "weight_sram", "area_mm2"),
                  _source("weight_sram", "area_mm2")),
    AreaComponent("activation_sram", "activation SRAM",
                  lambda c: _figure(c, "activation_sram", "area_mm2"),
                  _source("activation_sram", "area_mm2")),
    AreaComponent("staging_buffer", "staging buffer",
                  lambda c: float(c.get("staging_buffer_area_mm2", 0.0) or 0.0),
                  lambda c: "CACTI table: a one-bank SRAM of staging_buffer_bytes, one word wide"),
    AreaComponent("prng", "PRNG unit",
                  lambda c: _figure(c, "prng", "lanes") * _figure(c, "prng", "lane_area_mm2"),
                  _source("prng", "lane_area_mm2")),
    AreaComponent("update_unit", "update unit",
                  lambda c: _figure(c, "update", "area_mm2"),
                  _source("update", "area_mm2")),
)
AREA_COMPONENTS = tuple(c.name for c in AREA_TABLE)


def area_breakdown_mm2(config: dict) -> dict[str, float]:
    """Area per component and ``total`` (mm^2) of a config dict (`AcceleratorConfig.to_dict`)."""
    out = {c.name: c.formula(config) for c in AREA_TABLE}
    out["total"] = sum(out.values())
    return out


def area_sources(config: dict) -> dict[str, str]:
    """Where each component's area comes from."""
    return {c.name: c.source(config) for c in AREA_TABLE}


def config_area_mm2(config) -> dict[str, float]:
    """`area_breakdown_mm2` of an `AcceleratorConfig`."""
    return area_breakdown_mm2(config.to_dict())
