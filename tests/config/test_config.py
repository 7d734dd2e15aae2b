"""Accelerator configs: shipped files load, derived figures follow their rules, overrides work,
and bad input is refused with one line naming the file, the field and the value."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from accelsim.config import (
    CONFIG_DIR,
    AcceleratorConfig,
    IndexConfig,
    PeArrayConfig,
    PrngConfig,
    SramConfig,
    UpdateConfig,
    available_configs,
    load_accelerator_config,
    sram_access_energy_pj,
    with_overrides,
)
from accelsim.config.energy_tables import DEFAULT_NUMBER_FORMAT, OPERATIONS_45NM
from accelsim.errors import ConfigError


def test_shipped_configs_all_load():
    names = available_configs()
    for required in ("default", "ddr4-ws-32x32", "lpddr4-ws-32x32", "hbm2-ws-32x32"):
        assert required in names
    presets = set()
    for name in names:
        cfg = load_accelerator_config(name)
        assert isinstance(cfg, AcceleratorConfig) and cfg.name == name
        presets.add(cfg.dram.preset)
    assert {"DDR4-3200", "LPDDR4-3200", "HBM2"} <= presets


def test_config_dir_is_the_repository_folder():
    assert Path(__file__).resolve().parents[2] / "configs" / "accelerators" == CONFIG_DIR


def test_default_values_and_sources():
    cfg = load_accelerator_config("default")
    assert (cfg.pe.rows, cfg.pe.cols, cfg.pe.dataflow) == (32, 32, "ws")
    assert cfg.pe.mac_energy_pj == pytest.approx(3.7 + 0.9)
    assert "Horowitz" in cfg.pe.sources["mac_energy_pj"]
    for sram in (cfg.weight_sram, cfg.activation_sram):
        for key in ("read_energy_pj", "write_energy_pj", "leakage_power_mw"):
            assert sram.sources[key]
    assert cfg.prng.sources["energy_pj_per_value"].startswith("derived: PRNG value, the "
                                                              "generator training uses")
    assert cfg.prng.energy_pj_per_value == pytest.approx(17.8)  # 45 nm: Horowitz's own node
    assert cfg.dram.preset == "DDR4-3200" and cfg.dram.sources["tcl_cycles"]
    d = cfg.to_dict()
    assert d["weight_sram"]["capacity_bytes"] == 8 * 2**20 and d["dram"]["preset"] == "DDR4-3200"


def test_sram_rule_hits_the_horowitz_anchors():
    assert sram_access_energy_pj(8 * 1024, 64) == pytest.approx(10.0)
    assert sram_access_energy_pj(32 * 1024, 64) == pytest.approx(20.0)
    assert sram_access_energy_pj(1024 * 1024, 64) == pytest.approx(100.0)
    assert sram_access_energy_pj(32 * 1024, 32) == pytest.approx(10.0)  # linear in width
    # monotone in capacity, beyond the anchors too
    caps = [2**k for k in range(10, 27)]
    energies = [sram_access_energy_pj(c, 64) for c in caps]
    assert energies == sorted(energies)


@pytest.mark.parametrize("bits", [32, 16, 8])
def test_mac_energy_follows_word_size(bits):
    cfg = load_accelerator_config("default", {"weight_bits": bits})
    fmt = DEFAULT_NUMBER_FORMAT[bits]
    want = OPERATIONS_45NM[f"{fmt}_mult"][0] + OPERATIONS_45NM[f"{fmt}_add"][0]
    assert cfg.pe.mac_energy_pj == pytest.approx(want)  # the default node is 45 nm


def test_overrides_and_rederivation():
    cfg = load_accelerator_config("default", {"weight_sram.capacity_bytes": 1048576,
                                              "dram.preset": "HBM2", "pe.rows": 16})
    assert cfg.weight_sram.capacity_bytes == 1048576 and cfg.pe.rows == 16
    assert cfg.dram.preset == "HBM2"
    tech = cfg.technology
    # CACTI's figure for the new organisation: 1 MiB on the default's 32 banks of 64 bits
    assert cfg.weight_sram.read_energy_pj == tech.sram(1048576, 64, 32).read_energy_pj
    again = with_overrides(cfg, {"weight_sram.capacity_bytes": 32768})
    assert again.weight_sram.read_energy_pj == tech.sram(32768, 64, 32).read_energy_pj
    assert again.weight_sram.read_energy_pj < cfg.weight_sram.read_energy_pj
    assert again.dram.preset == "HBM2" and again.pe.rows == 16
    # a DRAM field override keeps the preset's other fields
    ch = load_accelerator_config("default", {"dram.channels": 2})
    assert ch.dram.channels == 2 and ch.dram.tcl_cycles == 22
    assert ch.dram.sources["channels"] == "user"
    # given energies win over the rule and are sourced "user"
    given = load_accelerator_config("default", {"weight_sram.read_energy_pj": 5.0})
    assert given.weight_sram.read_energy_pj == 5.0
    assert given.weight_sram.sources["read_energy_pj"] == "user"


def test_zero_weight_sram_is_allowed():
    cfg = load_accelerator_config("default", {"weight_sram.capacity_bytes": 0})
    assert cfg.weight_sram.capacity_bytes == 0 and cfg.weight_sram.leakage_power_mw == 0


def test_configs_are_frozen():
    cfg = load_accelerator_config("default")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.clock_mhz = 2.0


def _write(tmp_path, text, name="accel.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("override, field, value", [
    ({"weight_sram.banks": 0}, "weight_sram.banks", "0"),
    ({"pe.rows": -4}, "pe.rows", "-4"),
    ({"pe.dataflow": "xs"}, "pe.dataflow", "'xs'"),
    ({"weight_bits": 12}, "weight_bits", "12"),
    ({"clock_mhz": "fast"}, "clock_mhz", "'fast'"),
    ({"pe.cols": 2.5}, "pe.cols", "2.5"),
    ({"simulate_activations": "yes"}, "simulate_activations", "'yes'"),
    ({"pe.colour": 3}, "pe.colour", "3"),
    ({"weight_sram.bank_width_bits": 12}, "weight_sram.bank_width_bits", "12"),
    ({"weight_sram.capacity_bytes": 1000}, "weight_sram.capacity_bytes", "1000"),
    ({"activation_sram.capacity_bytes": -1}, "activation_sram.capacity_bytes", "-1"),
    ({"index.format": "relative", "index.index_bits": 0}, "index.index_bits", "0"),
    ({"index.index_bits": 8}, "index.index_bits", "8"),  # bitmap has no index width
    ({"tile_weights": 0}, "tile_weights", "0"),
    ({"buffer_depth_tiles": 0}, "buffer_depth_tiles", "0"),
    ({"prng.lanes": 0}, "prng.lanes", "0"),
    ({"update.topk_energy_pj_per_weight": -1.0}, "update.topk_energy_pj_per_weight", "-1.0"),
    ({"dram_timing": "fuzzy"}, "dram_timing", "'fuzzy'"),
])
def test_bad_values_name_file_field_and_value(tmp_path, override, field, value):
    path = _write(tmp_path, "base: default\nname: bad\n")
    with pytest.raises(ConfigError) as info:
        load_accelerator_config(path, override)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message and field in message and value in message


def test_bad_file_content(tmp_path):
    path = _write(tmp_path, "base: default\nname: bad\nweight_sram:\n  banks: 0\n")
    with pytest.raises(ConfigError,
                       match=r"accel\.yaml: weight_sram\.banks: expected an integer >= 1, got 0$"):
        load_accelerator_config(path)
    path = _write(tmp_path, "base: default\nname: bad\nwarp_drive: true\n", "b.yaml")
    with pytest.raises(ConfigError, match=r"b\.yaml.*warp_drive.*unknown key"):
        load_accelerator_config(path)
    path = _write(tmp_path, "name: [unclosed\n", "c.yaml")
    with pytest.raises(ConfigError, match=r"c\.yaml"):
        load_accelerator_config(path)
    path = _write(tmp_path, "base: default\nname: x\ndram:\n  preset: DDR9\n", "d.yaml")
    with pytest.raises(ConfigError, match=r"d\.yaml.*dram.*DDR9"):
        load_accelerator_config(path)
    path = _write(tmp_path, "base: default\nname: x\ndram:\n  channels: 0\n", "e.yaml")
    with pytest.raises(ConfigError, match=r"e\.yaml.*channels.*0"):
        load_accelerator_config(path)
    path = _write(tmp_path, "name: incomplete\nclock_mhz: 100\n", "f.yaml")
    with pytest.raises(ConfigError, match=r"f\.yaml.*weight_bits.*missing"):
        load_accelerator_config(path)


def test_a_file_edited_between_loads_is_read_again_and_loads_do_not_share_state(tmp_path):
    """Parsed files are remembered by their text, so an edit is always seen; a bad file is
    refused on every load, and no load's data leaks into the next."""
    path = _write(tmp_path, "base: default\nname: mine\nclock_mhz: 500\n")
    first = load_accelerator_config(path)
    again = load_accelerator_config(path)
    assert first.clock_mhz == again.clock_mhz == 500
    path.write_text("base: default\nname: mine\nclock_mhz: 700\n")  # same size, same second
    assert load_accelerator_config(path).clock_mhz == 700
    path.write_text("base: default\nname: mine\nclock_mhz: [\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"accel\.yaml.*YAML"):
            load_accelerator_config(path)
    path.write_text("base: default\nname: mine\nweight_sram:\n  banks: 8\n")
    from accelsim.config.loader import _read_yaml

    given = _read_yaml(path)
    given["weight_sram"]["banks"] = 0  # a caller changing what it was given
    assert _read_yaml(path)["weight_sram"] == {"banks": 8}
    assert load_accelerator_config(path).weight_sram.banks == 8


def test_unknown_name_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match="default"):
        load_accelerator_config("no-such-accelerator")


def test_config_import_does_not_import_torch():
    code = ("import accelsim.config, accelsim.sim.simulation, sys; "
            "accelsim.config.load_accelerator_config('default'); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_derived_leakage_scales_with_capacity():
    small = load_accelerator_config("default", {"weight_sram.capacity_bytes": 2**20})
    big = load_accelerator_config("default", {"weight_sram.capacity_bytes": 2**22})
    tech = big.technology  # CACTI's figures for each organisation, growing with capacity
    assert big.weight_sram.leakage_power_mw == tech.sram(2**22, 64, 32).leakage_power_mw
    assert big.weight_sram.leakage_power_mw > 3 * small.weight_sram.leakage_power_mw


@pytest.mark.parametrize("build, message", [
    (lambda: SramConfig(1024, 0, 64, 1, 1.0, 1.0, 0.0), "banks: expected an integer >= 1, got 0"),
    (lambda: SramConfig(1000, 4, 64, 1, 1.0, 1.0, 0.0), "capacity_bytes: expected a multiple"),
    (lambda: PeArrayConfig(32, 32, "xs", 1.0),
     "dataflow: expected one of ['ws', 'os', 'is'], got 'xs'"),
    (lambda: PrngConfig(0, 1, 0, 1.0), "lanes: expected an integer >= 1, got 0"),
    (lambda: IndexConfig("relative", 40), "index_bits: expected an integer from 1 to 32, got 40"),
    (lambda: UpdateConfig(1, -1.0, 0.0, 0.0, True), "alu_energy_pj_per_weight: expected a number"),
    (lambda: dataclasses.replace(load_accelerator_config("default"), tile_weights=8),
     "tile_weights: expected an integer >= 64"),
    (lambda: dataclasses.replace(load_accelerator_config("default"), dram={"preset": "HBM2"}),
     "dram: expected a DramConfig, got"),
])
def test_configs_built_in_code_are_checked_too(build, message):
    with pytest.raises(ConfigError) as info:
        build()
    assert str(info.value).startswith(message)


def test_config_does_not_import_the_simulator():
    code = ("import accelsim.config, sys; accelsim.config.load_accelerator_config('default'); "
            "assert not [m for m in sys.modules if m.startswith('accelsim.sim')]")
    subprocess.run([sys.executable, "-c", code], check=True)
