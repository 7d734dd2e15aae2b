"""The Ramulator 2.1 export: the config script has the structure and names Ramulator 2.1's
loader takes, and the rewritten addresses decode, the way Ramulator decodes them, into the
banks and rows accelsim decodes the originals into.

The schema below was read from Ramulator 2.1's source (github CMU-SAFARI/ramulator2 at
c5b1c3a), not from this exporter's output; no Ramulator build is needed. With RAMULATOR2_DIR
set to a Ramulator 2.1 tree, one more test runs its own `python -m ramulator export`.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from accelsim.config import dram_preset
from accelsim.sim.dram.export import read_dram_trace
from accelsim.sim.dram.export_ramulator import (
    export_ramulator2,
    ramulator2_addresses,
    ramulator2_config_script,
    ramulator2_mapping,
    ramulator2_rows,
)

# ---- Ramulator 2.1's schema, from its source --------------------------------------------------
# python/ramulator/frontend/{external,load_store_trace}.py (Param(..., required=True))
FRONTENDS = {"External": {"clock_ratio"}, "LoadStoreTrace": {"clock_ratio", "path"}}
# python/ramulator/memory_system/generic_dram.py
GENERIC_DRAM = {"clock_ratio", "channel_mapper", "controllers"}
# python/ramulator/controller/{generic_ddr,hbm12}.py (both the same parameters)
CONTROLLER_PARAMS = {"wr_low_watermark", "wr_high_watermark", "read_buffer_size",
                     "write_buffer_size", "priority_buffer_size", "scheduler",
                     "refresh_manager", "row_policy", "addr_mapper", "dram",
                     "controller_plugins"}
# controller_base.cpp init_base: RAMULATOR_CREATE_CHILD for these (no defaults), and "dram"
CONTROLLER_REQUIRED = {"scheduler", "refresh_manager", "row_policy", "addr_mapper", "dram"}
# RAMULATOR_REGISTER_IMPLEMENTATION names in controller/{scheduler,refresh,rowpolicy}/impl
SCHEDULERS = {"FRFCFS"}
REFRESH_MANAGERS = {"AllBank"}
ROW_POLICIES = {"Open": set(), "ClosedCAP": {"cap"}}
# controller/addr_mapper/impl and memory_system/channel_mapper/impl
ADDR_MAPPERS = {"RoBaRaCoCh", "ChRaBaRoCo", "MOP4CLXOR", "PassThroughAddrMapper"}
CHANNEL_MAPPERS = {"CacheLineInterleave": {"interleave_bits"}}
# python/ramulator/dram/ddr4.py and hbm2.py: levels (after Channel), timing_params, presets,
# internal_prefetch_size, and the controller README section 4.2 pairs with each standard
STANDARDS = {
    "DDR4": {
        "levels": ["rank", "bankgroup", "bank", "row", "column"],
        "timing": {"rate", "nBL", "nCL", "nRCD", "nRP", "nRAS", "nRC", "nWR", "nRTP", "nCWL",
                   "nCCDS", "nCCDL", "nRRDS", "nRRDL", "nWTRS", "nWTRL", "nFAW", "nRFC",
                   "nREFI", "nCS", "tCK_ps"},
        "org_presets": {"DDR4_8Gb_x8", "DDR4_16Gb_x8", "DDR4_8Gb_x16"},
        "timing_presets": {"DDR4_3200W", "DDR4_3200AA", "DDR4_3200AC"},
        "prefetch": 8,
        "controller": "GenericDDR",
    },
    "HBM2": {
        "levels": ["pseudochannel", "bankgroup", "bank", "row", "column"],
        "timing": {"rate", "nBL", "nCL", "nRCDRD", "nRCDWR", "nRP", "nRAS", "nRC", "nWR",
                   "nRTPL", "nCWL", "nCCDS", "nCCDL", "nRRDS", "nRRDL", "nWTRS", "nWTRL",
                   "nFAW", "nRFC", "nRFCpb", "nRREFD", "nREFI", "nREFIpb", "tCK_ps"},
        "org_presets": {"HBM2_1Gb", "HBM2_2Gb", "HBM2_4Gb", "HBM2_8Gb"},
        "timing_presets": {"HBM2_1600Mbps", "HBM2_2000Mbps", "HBM2_2400Mbps"},
        "prefetch": 4,
        "controller": "HBM12",
    },
}
PRESET_STANDARD = {"DDR4-3200": "DDR4", "HBM2": "HBM2"}


# ---- reading the script -----------------------------------------------------------------------
def _dotted(node) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    assert isinstance(node, ast.Name)
    return node.id


class Call:
    """One `ramulator.<namespace>.<Class>(...)` call of the script, arguments resolved."""

    def __init__(self, node: ast.Call, names: dict):
        self.name = _dotted(node.func)
        self.args = [self._value(a, names) for a in node.args]
        self.kwargs = {k.arg: self._value(k.value, names) for k in node.keywords}

    @staticmethod
    def _value(node, names):
        if isinstance(node, ast.Call):
            return Call(node, names)
        if isinstance(node, ast.Name):
            return names[node.id]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):  # [controller] * n
            items = Call._value(node.left, names)
            return items * ast.literal_eval(node.right)
        if isinstance(node, ast.List):
            return [Call._value(e, names) for e in node.elts]
        return ast.literal_eval(node)

    def component(self, namespace: str) -> str:
        prefix = f"ramulator.{namespace}."
        assert self.name.startswith(prefix), (self.name, namespace)
        return self.name[len(prefix):]


def read_script(text: str) -> dict:
    """Execute nothing: walk the assignments, return name -> Call, plus the imports."""
    tree = ast.parse(text)
    names: dict = {}
    imports = []
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            imports += [alias.name for alias in statement.names]
        elif isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
            names[statement.targets[0].id] = Call(statement.value, names)
    names["__imports__"] = imports
    return names


def _sim(script: dict) -> Call:
    sims = [c for c in script.values() if isinstance(c, Call) and c.name == "ramulator.Simulation"]
    assert len(sims) == 1
    return sims[0]


# ---- structure -------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", sorted(PRESET_STANDARD))
@pytest.mark.parametrize("trace_path", [None, "/data/run.trace"])
def test_script_has_the_structure_ramulator_2_1_loads(preset, trace_path):
    config = dram_preset(preset)
    script = read_script(ramulator2_config_script(config, trace_path=trace_path))
    assert script["__imports__"] == ["ramulator"]
    sim = _sim(script)
    frontend, memory = sim.args
    # front end
    kind = frontend.component("frontend")
    assert kind == ("External" if trace_path is None else "LoadStoreTrace")
    assert set(frontend.kwargs) == FRONTENDS[kind]
    if trace_path is not None:
        assert frontend.kwargs["path"] == trace_path
        # Simulation.run ticks the front end clock_ratio(front end) / clock_ratio(memory)
        # times per memory tick, and LoadStoreTrace offers one line per tick: that must keep
        # up with every channel taking a burst per burst time
        per_dram_cycle = frontend.kwargs["clock_ratio"] / memory.kwargs["clock_ratio"]
        assert per_dram_cycle >= config.channels / config.burst_cycles
    # memory system
    assert memory.component("memory_system") == "GenericDRAM"
    assert set(memory.kwargs) <= GENERIC_DRAM and "clock_ratio" in memory.kwargs
    channel_mapper = memory.kwargs["channel_mapper"]
    assert set(channel_mapper.kwargs) <= CHANNEL_MAPPERS[channel_mapper.component(
        "channel_mapper")]
    controllers = memory.kwargs["controllers"]
    assert len(controllers) == config.channels
    standard = STANDARDS[PRESET_STANDARD[preset]]
    for controller in controllers:
        assert controller.component("controller") == standard["controller"]
        assert set(controller.kwargs) <= CONTROLLER_PARAMS
        assert set(controller.kwargs) >= CONTROLLER_REQUIRED
        assert controller.kwargs["scheduler"].component("scheduler") in SCHEDULERS
        assert controller.kwargs["refresh_manager"].component(
            "refresh_manager") in REFRESH_MANAGERS
        policy = controller.kwargs["row_policy"]
        assert set(policy.kwargs) <= ROW_POLICIES[policy.component("row_policy")]
        assert controller.kwargs["addr_mapper"].component("addr_mapper") in ADDR_MAPPERS
        assert controller.kwargs["read_buffer_size"] == config.queue_depth
        assert controller.kwargs["write_buffer_size"] == config.write_buffer_depth
        # set_write_mode: write mode when size > high x depth, back when size < low x depth;
        # accelsim drains only a full buffer, and all of it
        depth = config.write_buffer_depth
        high = controller.kwargs["wr_high_watermark"] * depth
        low = controller.kwargs["wr_low_watermark"] * depth
        assert depth - 1 <= high < depth and 0 <= low < 1


@pytest.mark.parametrize("preset", sorted(PRESET_STANDARD))
def test_dram_overrides_are_names_the_standard_accepts_with_accelsims_values(preset):
    """spec.py `resolve`: a keyword is a level name (not channel), channel_width, or one of
    the standard's timing_params; anything else raises "Unknown override"."""
    config = dram_preset(preset)
    standard = STANDARDS[PRESET_STANDARD[preset]]
    dram = read_script(ramulator2_config_script(config))["dram"]
    assert dram.component("dram") == PRESET_STANDARD[preset]
    kwargs = dict(dram.kwargs)
    assert kwargs.pop("org_preset") in standard["org_presets"]
    assert kwargs.pop("timing_preset") in standard["timing_presets"]
    allowed = set(standard["levels"]) | {"channel_width"} | standard["timing"]
    assert set(kwargs) <= allowed and "channel" not in kwargs
    # the organisation: one access = one accelsim burst, bursts per row as accelsim's
    prefetch = standard["prefetch"]
    assert kwargs["channel_width"] * prefetch // 8 == config.burst_bytes
    assert kwargs["column"] // prefetch == config.row_size_bytes // config.burst_bytes
    assert kwargs["bankgroup"] == config.bank_groups
    assert kwargs["bank"] == config.banks_per_group
    assert kwargs[standard["levels"][0]] == config.ranks
    # the timing, cycle for cycle
    assert kwargs["tCK_ps"] == round(config.tck_ns * 1000)
    assert kwargs["nBL"] * 2 == config.burst_length
    for ours, theirs in (("tcl_cycles", "nCL"), ("trp_cycles", "nRP"), ("tras_cycles", "nRAS"),
                         ("tcwl_cycles", "nCWL"), ("twr_cycles", "nWR"),
                         ("tccd_s_cycles", "nCCDS"), ("tccd_l_cycles", "nCCDL"),
                         ("trrd_s_cycles", "nRRDS"), ("trrd_l_cycles", "nRRDL"),
                         ("twtr_s_cycles", "nWTRS"), ("twtr_l_cycles", "nWTRL"),
                         ("tfaw_cycles", "nFAW"), ("trfc_cycles", "nRFC"),
                         ("trefi_cycles", "nREFI")):
        assert kwargs[theirs] == getattr(config, ours), theirs
    assert kwargs["nRC"] == config.tras_cycles + config.trp_cycles
    rcd = ("nRCD",) if "nRCD" in standard["timing"] else ("nRCDRD", "nRCDWR")
    assert all(kwargs[name] == config.trcd_cycles for name in rcd)


def test_closed_page_uses_the_closed_row_policy():
    config = dram_preset("DDR4-3200")
    closed = dataclasses.replace(config, page_policy="closed")
    controller = read_script(ramulator2_config_script(closed))["controller"]
    assert controller.kwargs["row_policy"].component("row_policy") == "ClosedCAP"


@pytest.mark.parametrize(("ranks", "policy", "tppd", "said"), [
    (1, "staggered", 0, []),                 # one rank: staggered is simultaneous
    (2, "simultaneous", 0, []),              # Ramulator's AllBank, exactly
    (2, "staggered", 0, ["refresh"]),
    (1, "staggered", 4, ["tPPD"]),
    (4, "staggered", 2, ["refresh", "tPPD"]),
])
def test_what_ramulator_cannot_be_told_is_said_in_the_script(ranks, policy, tppd, said):
    """AllBank refreshes every rank at each tREFI, and Ramulator's DDR4 has no tPPD: where
    the config differs, the header says so (and the script still loads)."""
    config = dataclasses.replace(dram_preset("DDR4-3200"), ranks=ranks, refresh_policy=policy,
                                 tppd_cycles=tppd)
    text = ramulator2_config_script(config)
    header = [line for line in text.splitlines() if line.startswith("# differs: ")]
    assert [line.split(".")[0].removeprefix("# differs: ") for line in header] == said
    if "refresh" in said:
        assert f"all {ranks} ranks" in header[0] and "refresh_policy=simultaneous" in header[0]
    if "tPPD" in said:
        assert f"tppd_cycles = {tppd}" in header[-1]
    controller = read_script(text)["controller"]
    assert controller.kwargs["refresh_manager"].component("refresh_manager") == "AllBank"


def test_lpddr4_and_non_power_of_two_sizes_are_refused():
    with pytest.raises(ValueError, match="preset"):
        ramulator2_config_script(dram_preset("LPDDR4-3200"))
    with pytest.raises(ValueError, match="channels"):
        ramulator2_config_script(dram_preset("DDR4-3200", channels=3))


# ---- address mapping ---------------------------------------------------------------------------
def ramulator_decode(script: dict, addresses: np.ndarray, rows: int) -> dict:
    """Ramulator 2.1's decode, written from cache_line_interleave.cpp and ro_ba_ra_co_ch.cpp
    (addr_mapper_base.cpp for the bit widths) and the script's numbers."""
    memory = _sim(script).args[1]
    dram = script["dram"]
    standard = STANDARDS[dram.component("dram")]
    assert memory.kwargs["controllers"][0].kwargs["addr_mapper"].component(
        "addr_mapper") == "RoBaRaCoCh"
    channels = len(memory.kwargs["controllers"])
    interleave = memory.kwargs["channel_mapper"].kwargs.get("interleave_bits", 0)
    prefetch = standard["prefetch"]
    tx_offset = int(math.log2(dram.kwargs["channel_width"] * prefetch // 8))
    ch_shift = tx_offset + interleave
    ch_width = int(math.log2(channels))
    channel = (addresses >> ch_shift) & (channels - 1)
    intra = ((addresses >> (ch_shift + ch_width)) << ch_shift) | (addresses & ((1 << ch_shift) - 1))
    rest = intra >> tx_offset
    sizes = {level: dram.kwargs[level] for level in standard["levels"]}
    sizes["row"] = rows
    column_bits = int(math.log2(sizes["column"])) - int(math.log2(prefetch))
    column = rest & ((1 << column_bits) - 1)
    rest = rest >> column_bits
    fields = {"channel": channel, "column": column}
    for level in standard["levels"][:-1]:  # rank (or pseudo channel) up to the row
        bits = int(math.log2(sizes[level]))
        fields[level] = rest & ((1 << bits) - 1)
        rest = rest >> bits
    return {"channel": fields["channel"], "rank": fields[standard["levels"][0]],
            "bank_group": fields["bankgroup"], "bank": fields["bank"], "row": fields["row"],
            "column": fields["column"]}


@pytest.mark.parametrize("preset, overrides", [
    ("DDR4-3200", {}),                                               # default RoRaBaCoBgCh
    ("DDR4-3200", {"channels": 2, "ranks": 2}),
    ("DDR4-3200", {"channels": 4, "address_mapping": "RoBaBgRaCoCh"}),
    ("DDR4-3200", {"channels": 2, "ranks": 2, "address_mapping": "RoBaBgRaChCo"}),
    ("DDR4-3200", {"address_mapping": "RoChCoBaBgRa", "channels": 2}),
    ("HBM2", {}),
    ("HBM2", {"address_mapping": "RoBaBgRaChCo"}),
])
def test_rewritten_addresses_reach_accelsims_bank_and_row_in_ramulator(preset, overrides):
    config = dram_preset(preset, **overrides)
    rng = np.random.default_rng(7)
    addresses = rng.integers(0, 1 << 31, 4000) // config.burst_bytes * config.burst_bytes
    rows = ramulator2_rows(config, addresses)
    script = read_script(ramulator2_config_script(config, rows=rows))
    theirs = ramulator_decode(script, ramulator2_addresses(config, addresses), rows)
    ours = config.decode(addresses)
    for field in ours:
        np.testing.assert_array_equal(theirs[field], ours[field], err_msg=field)


def test_mapping_names_translate_as_documented():
    ddr4 = dram_preset("DDR4-3200", channels=2, ranks=2)
    assert ramulator2_mapping(ddr4).remapped  # the default RoRaBaCoBgCh has no equivalent
    same = ramulator2_mapping(dram_preset("DDR4-3200", channels=2, ranks=2,
                                          address_mapping="RoBaBgRaCoCh"))
    assert (same.addr_mapper, same.interleave_bits, same.remapped) == ("RoBaRaCoCh", 0, False)
    above_column = ramulator2_mapping(dram_preset("DDR4-3200", channels=2, ranks=2,
                                                  address_mapping="RoBaBgRaChCo"))
    assert above_column.interleave_bits == int(math.log2(ddr4.columns_per_row))
    assert not above_column.remapped
    # one rank: the rank has no bits, so it may sit anywhere
    assert not ramulator2_mapping(dram_preset("DDR4-3200", channels=2,
                                              address_mapping="RoRaBaBgCoCh")).remapped
    # a direct match leaves the addresses alone
    addresses = np.arange(0, 1 << 20, 64)
    np.testing.assert_array_equal(
        ramulator2_addresses(dram_preset("DDR4-3200", address_mapping="RoBaBgRaCoCh"),
                             addresses), addresses)


def test_rows_cover_the_trace():
    config = dram_preset("DDR4-3200")
    high = config.address_of(row=(1 << 17) + 5)
    assert ramulator2_rows(config, [0, high]) == 1 << 18
    assert ramulator2_rows(config, [0]) == 1 << 16


def test_export_writes_the_rewritten_trace_the_script_names(tmp_path):
    config = dram_preset("DDR4-3200")
    addresses = np.arange(64) * config.burst_bytes
    writes = np.arange(64) % 2 == 1
    script_path, trace_path = export_ramulator2(config, addresses, writes, tmp_path)
    read_back, read_writes, _ = read_dram_trace(trace_path, "ramulator2")
    np.testing.assert_array_equal(read_back, ramulator2_addresses(config, addresses))
    np.testing.assert_array_equal(read_writes, writes)
    frontend = _sim(read_script(script_path.read_text())).args[0]
    assert frontend.kwargs["path"] == str(trace_path.resolve())


@pytest.mark.skipif(not os.environ.get("RAMULATOR2_DIR"),
                    reason="RAMULATOR2_DIR (a Ramulator 2.1 tree) not set")
@pytest.mark.parametrize("preset", sorted(PRESET_STANDARD))
def test_ramulators_own_export_accepts_the_script(tmp_path, preset):
    script = tmp_path / "config.py"
    script.write_text(ramulator2_config_script(dram_preset(preset)))
    python = Path(os.environ["RAMULATOR2_DIR"]) / "python"
    result = subprocess.run([sys.executable, "-m", "ramulator", "export", str(script)],
                            env={**os.environ, "PYTHONPATH": str(python)}, cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"impl: {PRESET_STANDARD[preset]}" in result.stdout
