"""Energy accounting: counts of events times energy per event, plus power times time, in pJ.

Components (each a column of the results, summing to ``energy_pj``), listed once in
`ENERGY_TABLE` with their formula, label, colour and sources; figures and reports take their
labels and colours from it:

- ``dram_energy_pj``: activates, read and write bursts and I/O as the DRAM model charged them
  (``dram_dynamic_energy_pj``), plus background power (standby and refresh) over the phase's
  time (``dram_background_energy_pj``); figures from the DRAM preset's sources.
- ``sram_dynamic_energy_pj``: bank-width accesses of the weight and activation SRAMs times
  their read / write energy per access.
- ``sram_leakage_energy_pj``: leakage power of the SRAMs over the phase's time (the activation
  SRAM only when activations are simulated).
- ``prng_energy_pj``: regenerated values times energy per value.
- ``mac_energy_pj``: multiply-accumulates times energy per MAC.
- ``pe_movement_energy_pj``: words moving in the PE array (Eyeriss-style costs): each weight
  entering the array (a hop across it and a register write), and every hop of a moving GEMM
  operand from one PE to the next, one per MAC, at a pipeline-register write (ws: inputs
  along the rows and partial sums down the columns; os: inputs and weights; is: weights and
  partial sums); plus the staging buffer's accesses for streamed and regenerated weights.
- ``update_energy_pj``: the update unit: read-modify-writes of weight values and the
  threshold/top-k comparisons.
- ``optimizer_energy_pj``: the update ALU's work on optimizer state (momentum, Nesterov,
  Adam's moments): its add- and multiply-class operations (`placement.OptimizerRule`) times
  the technology's adder and multiplier energy (`UpdateConfig.state_add_energy_pj`,
  ``state_mult_energy_pj``).
- ``vector_energy_pj``: the vector unit (BatchNorm, ReLU, pooling, residual adds, the loss):
  its add-class and multiply-class operations times their energy (`accelsim.sim.parts.vector`).

Power times time: P[mW] x cycles / f[MHz] gives nJ x 1e3 = pJ (1 mW for 1 us is 1000 pJ).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from accelsim.config.accelerator import AcceleratorConfig


def power_energy_pj(power_mw: float, cycles, clock_mhz: float):
    """Energy of `power_mw` drawn for `cycles` at `clock_mhz`, in pJ."""
    return power_mw * cycles * 1e3 / clock_mhz


def sram_leakage_power_mw(config: AcceleratorConfig) -> float:
    power = config.weight_sram.leakage_power_mw
    if config.simulate_activations:
        power += config.activation_sram.leakage_power_mw
    return power


@dataclass(frozen=True)
class EnergyComponent:
    column: str  # its column in the results, in pJ
    label: str  # in tables and figures
    colour: str  # kept across every figure
    formula: Callable[[pd.DataFrame, AcceleratorConfig], pd.Series]  # the column, from the
    # count columns
    sources: Callable[[AcceleratorConfig], dict]  # {parameter: where its figure comes from}


def _dram_energy_pj(r: pd.DataFrame, config: AcceleratorConfig):
    return r["dram_dynamic_energy_pj"] + r["dram_background_energy_pj"]


def _dram_sources(config: AcceleratorConfig) -> dict:
    dram_sources = config.dram.sources
    return {k: dram_sources.get(k, "") for k in (
        "activate_energy_pj", "read_energy_pj_per_bit", "write_energy_pj_per_bit",
        "io_energy_pj_per_bit", "background_power_mw")}


def pe_register_pj(config: AcceleratorConfig) -> float:
    """A PE register write (derived from the MAC energy where the config gives none)."""
    pj = config.pe.register_energy_pj
    if pj is None:  # PeArrayConfig derives it on construction
        raise ValueError("pe.register_energy_pj is not set")
    return pj


def pe_hop_pj(config: AcceleratorConfig) -> float:
    """A word's hop from one PE to its neighbour (derived like the register energy)."""
    pj = config.pe.array_hop_energy_pj
    if pj is None:
        raise ValueError("pe.array_hop_energy_pj is not set")
    return pj


def level_access_energy_pj(level: str, config: AcceleratorConfig) -> tuple[float, float]:
    """pJ per (read, write) access at `level` (weight_sram, activation_sram: a bank-width
    access; prng: a value; pe_array: a word entering the array (read; a hop across the array
    and a register write) or passed on to the next PE (write: its pipeline register);
    staging: a word). The
    one owner of these constants: the energy formulas below and the traffic breakdown use it."""
    if level == "weight_sram":
        return config.weight_sram.read_energy_pj, config.weight_sram.write_energy_pj
    if level == "activation_sram":
        return config.activation_sram.read_energy_pj, config.activation_sram.write_energy_pj
    if level == "prng":
        return config.prng.energy_pj_per_value, 0.0
    if level == "pe_array":
        return pe_register_pj(config) + pe_hop_pj(config), pe_register_pj(config)
    if level == "staging":
        return config.staging_energy_pj_per_word, 0.0
    raise ValueError(f"level {level!r} has no energy per access")


def _sram_dynamic_energy_pj(r: pd.DataFrame, config: AcceleratorConfig):
    w_read, w_write = level_access_energy_pj("weight_sram", config)
    a_read, a_write = level_access_energy_pj("activation_sram", config)
    return (r["weight_sram_reads_count"] * w_read + r["weight_sram_writes_count"] * w_write
            + r["activation_sram_reads_count"] * a_read
            + r["activation_sram_writes_count"] * a_write)


def _sram_dynamic_sources(config: AcceleratorConfig) -> dict:
    return {
        "weight_sram.read_energy_pj": config.weight_sram.sources.get("read_energy_pj", ""),
        "weight_sram.write_energy_pj": config.weight_sram.sources.get("write_energy_pj", ""),
        "activation_sram.read_energy_pj":
            config.activation_sram.sources.get("read_energy_pj", ""),
        "activation_sram.write_energy_pj":
            config.activation_sram.sources.get("write_energy_pj", ""),
    }


def _sram_leakage_energy_pj(r: pd.DataFrame, config: AcceleratorConfig):
    return power_energy_pj(sram_leakage_power_mw(config), r["total_cycles"], config.clock_mhz)


def _sram_leakage_sources(config: AcceleratorConfig) -> dict:
    return {
        "weight_sram.leakage_power_mw": config.weight_sram.sources.get("leakage_power_mw", ""),
        "activation_sram.leakage_power_mw":
            config.activation_sram.sources.get("leakage_power_mw", ""),
    }


def _prng_energy_pj(r: pd.DataFrame, config: AcceleratorConfig):
    return r["prng_values_count"] * level_access_energy_pj("prng", config)[0]


def _prng_sources(config: AcceleratorConfig) -> dict:
    return {"prng.energy_pj_per_value": config.prng.sources.get("energy_pj_per_value", "")}


def _mac_energy_pj(r: pd.DataFrame, config: AcceleratorConfig):
    return r["macs_count"] * config.pe.mac_energy_pj


def _mac_sources(config: AcceleratorConfig) -> dict:
    return {"pe.mac_energy_pj": config.pe.sources.get("mac_energy_pj", "")}


def _pe_movement_energy_pj(r: pd.DataFrame, config: AcceleratorConfig):
    entering, hop = level_access_energy_pj("pe_array", config)
    hops = r["pe_input_hops_count"] + r["pe_weight_hops_count"] + r["pe_partial_sum_hops_count"]
    return (r["pe_weight_loads_count"] * entering + hops * hop
            + r["staging_accesses_count"] * level_access_energy_pj("staging", config)[0])


def _pe_movement_sources(config: AcceleratorConfig) -> dict:
    return {"pe.register_energy_pj": config.pe.sources.get("register_energy_pj", ""),
            "pe.array_hop_energy_pj": config.pe.sources.get("array_hop_energy_pj", ""),
            "staging_energy_pj_per_word": config.staging_source}


def _update_energy_pj(r: pd.DataFrame, config: AcceleratorConfig):
    return (r["update_alu_weights_count"] * config.update.alu_energy_pj_per_weight
            + r["topk_compares_count"] * config.update.topk_energy_pj_per_weight)


def _update_sources(config: AcceleratorConfig) -> dict:
    return {
        "update.alu_energy_pj_per_weight":
            config.update.sources.get("alu_energy_pj_per_weight", ""),
        "update.topk_energy_pj_per_weight":
            config.update.sources.get("topk_energy_pj_per_weight", ""),
    }


def _optimizer_energy_pj(r: pd.DataFrame, config: AcceleratorConfig):
    update = config.update
    assert update.state_add_energy_pj is not None  # AcceleratorConfig fills in the default
    assert update.state_mult_energy_pj is not None
    return (r["optimizer_add_ops_count"] * update.state_add_energy_pj
            + r["optimizer_mult_ops_count"] * update.state_mult_energy_pj)


def _optimizer_sources(config: AcceleratorConfig) -> dict:
    return {f"update.{key}": config.update.sources.get(key, "")
            for key in ("state_add_energy_pj", "state_mult_energy_pj")}


def _vector_energy_pj(r: pd.DataFrame, config: AcceleratorConfig):
    vector = config.vector
    assert vector is not None  # AcceleratorConfig fills in the default
    return (r["vector_add_ops_count"] * vector.add_energy_pj
            + r["vector_mult_ops_count"] * vector.mult_energy_pj)


def _vector_sources(config: AcceleratorConfig) -> dict:
    sources = config.vector.sources if config.vector is not None else {}
    return {f"vector.{key}": sources.get(key, "") for key in ("add_energy_pj",
                                                              "mult_energy_pj")}


# in stacking order (figures) and column order (results)
ENERGY_TABLE = (
    EnergyComponent("dram_energy_pj", "DRAM", "#c0392b", _dram_energy_pj, _dram_sources),
    EnergyComponent("sram_dynamic_energy_pj", "SRAM dynamic", "#2980b9",
                    _sram_dynamic_energy_pj, _sram_dynamic_sources),
    EnergyComponent("sram_leakage_energy_pj", "SRAM leakage", "#7fb3d5",
                    _sram_leakage_energy_pj, _sram_leakage_sources),
    EnergyComponent("prng_energy_pj", "PRNG", "#27ae60", _prng_energy_pj, _prng_sources),
    EnergyComponent("mac_energy_pj", "MAC", "#f39c12", _mac_energy_pj, _mac_sources),
    EnergyComponent("pe_movement_energy_pj", "PE array and staging", "#d35400",
                    _pe_movement_energy_pj, _pe_movement_sources),
    EnergyComponent("update_energy_pj", "update (top-k, ALU)", "#8e44ad",
                    _update_energy_pj, _update_sources),
    EnergyComponent("optimizer_energy_pj", "update ALU on optimizer state", "#c39bd3",
                    _optimizer_energy_pj, _optimizer_sources),
    EnergyComponent("vector_energy_pj", "vector unit (BN, ReLU, pool, add, loss)", "#16a085",
                    _vector_energy_pj, _vector_sources),
)
ENERGY_COMPONENTS = tuple(c.column for c in ENERGY_TABLE)


def apply_energy(records: pd.DataFrame, config: AcceleratorConfig) -> pd.DataFrame:
    """Add the energy columns to a frame of counts (in place, and returned).

    Needs the count columns of `accelsim.sim.results` and the DRAM energy columns the simulator
    fills from the DRAM model (``dram_dynamic_energy_pj``, ``dram_background_energy_pj``)."""
    for component in ENERGY_TABLE:
        records[component.column] = component.formula(records, config)
    records["energy_pj"] = records[list(ENERGY_COMPONENTS)].sum(axis=1)
    return records


def energy_sources(config: AcceleratorConfig) -> dict:
    """Where each component's figures come from, for reports and result metadata."""
    return {c.column: c.sources(config) for c in ENERGY_TABLE}


# Energy of traffic at one level, per access, for the breakdown by operand and level
# (`accelsim.sim.results.traffic_table`): (read, write) pJ. DRAM is charged by the model per
# burst and row state, so it is shared out there in proportion to bytes instead.
# the energy columns the traffic breakdown shares out (the rest is time or compute, not
# traffic: DRAM background, SRAM leakage, MACs, the update unit)
TRAFFIC_ENERGY_COLUMNS = ("dram_dynamic_energy_pj", "sram_dynamic_energy_pj", "prng_energy_pj",
                          "pe_movement_energy_pj")
