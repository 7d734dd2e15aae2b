"""The technology: the committed CACTI table and its interpolation, the datapath at the config's
node, sources on every derived figure, area in results and the sweep's Pareto points."""

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from accelsim.analysis.figures import pareto_mask
from accelsim.cli import main
from accelsim.config import load_accelerator_config
from accelsim.config.technology import (
    CELL_TYPES,
    FIGURES,
    HELD_OUT_MAX_ERROR,
    HELD_OUT_MEDIAN_ERROR,
    HELD_OUT_PATH,
    NODES_NM,
    TABLE_PATH,
    TechnologyConfig,
    sram_table,
)
from accelsim.errors import ConfigError
from accelsim.sim.area import AREA_COMPONENTS, area_breakdown_mm2, config_area_mm2
from accelsim.sim.simulation import simulate
from accelsim.trace.format import save_trace
from tests.trace_helpers import tiny_trace

ROOT = Path(__file__).resolve().parents[2]


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _lookup(row):
    return sram_table().lookup(int(row["node_nm"]), row["cell_type"], int(row["capacity_bytes"]),
                               int(row["width_bits"]), int(row["banks"]), int(row["ports"]))


def test_table_reproduces_every_cacti_output_it_was_built_from():
    rows = _rows(TABLE_PATH)
    assert len(rows) > 1000
    for row in rows:
        got = _lookup(row)
        assert [getattr(got, f) for f in FIGURES] == [float(row[f]) for f in FIGURES]
        assert got.source.endswith("table point")


def test_interpolation_within_its_stated_error_on_held_out_cacti_points():
    rows = _rows(HELD_OUT_PATH)
    assert len(rows) >= 100
    table = sram_table()
    worst = table.worst_error(rows)
    for figure, (error, where) in worst.items():
        assert error <= HELD_OUT_MAX_ERROR[figure], (figure, error, where)
    for figure, errors in table.errors(rows).items():
        assert np.median(errors) <= HELD_OUT_MEDIAN_ERROR[figure], figure
    # the held-out points are not in the table: each answer is interpolated or extrapolated
    assert all(not _lookup(row).source.endswith("table point") for row in rows)


def test_the_grid_holds_quarter_octaves_where_the_metadata_says():
    """The default node's bank lines hold every quarter octave of capacity (so the 10 MiB
    shared buffer is a point CACTI gave, not an interpolation); the other nodes' powers of two."""
    table = sram_table()
    grid = table.metadata["grid"]
    for node in NODES_NM:
        held = sorted(c for (n, cell, c, w, b, p) in table.rows
                      if (n, cell, w, b, p) == (node, "itrs-lop", 64, 1, 1))
        quarter = node in grid["quarter_octave_nodes_nm"]
        assert (10 * 2 ** 20 in held) == quarter and (2 ** 20 in held)
    shared = load_accelerator_config("shared-ws-32x32").global_buffer
    assert shared.sources["read_energy_pj"].endswith("table point")


def test_held_out_report_replays_without_cacti():
    out = subprocess.run([sys.executable, "benchmarks/cacti_table.py", "--report"],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line.split() for line in out.stdout.splitlines()[2:]}
    errors = sram_table().errors(_rows(HELD_OUT_PATH))
    for figure in FIGURES:
        median, worst = (float(v.rstrip("%")) for v in lines[figure][1:3])
        assert median == pytest.approx(100 * np.median(errors[figure]), abs=0.06)
        assert worst == pytest.approx(100 * errors[figure].max(), abs=0.06)


@pytest.mark.parametrize("node", NODES_NM)
@pytest.mark.parametrize("cell", CELL_TYPES)
def test_energy_leakage_area_grow_with_capacity(node, cell):
    tech = TechnologyConfig(node, cell)
    for banks in (1, 32):
        capacities = [2 ** k for k in range(16, 26)]  # 64 KiB .. 32 MiB
        figures = [tech.sram(c, 64, banks) for c in capacities]
        for name in ("read_energy_pj", "leakage_power_mw", "area_mm2"):
            values = [getattr(f, name) for f in figures]
            assert values == sorted(values), (name, banks, values)
        assert figures[-1].read_energy_pj > 2 * figures[0].read_energy_pj


@pytest.mark.parametrize("banks", [16, 32, 64])
def test_more_banks_lower_energy_per_access(banks):
    """CACTI already divides a one-bank array into sub-arrays, so banking does not lower every
    organisation's access energy; over every node, cell type and capacity from 1 MiB it lowers
    it on average."""
    ratios = []
    for node in NODES_NM:
        for cell in CELL_TYPES:
            tech = TechnologyConfig(node, cell)
            for k in range(20, 26):
                one, many = tech.sram(2 ** k, 64, 1), tech.sram(2 ** k, 64, banks)
                ratios.append(many.read_energy_pj / one.read_energy_pj)
    assert float(np.exp(np.mean(np.log(ratios)))) < 1.0


@pytest.mark.parametrize("node", NODES_NM)
def test_cell_types_order_leakage_as_cacti_does(node):
    """Between the table's capacities the reader keeps CACTI's order of the cell types'
    leakage (CACTI's own order: hp > lop > lstp at 32-65 nm; at 22 nm its lop device leaks
    more than its hp one); low-standby-power cells leak least, by over 10x, at every node."""
    def order(capacity):
        leak = {c: TechnologyConfig(node, c).sram(capacity, 64, 32).leakage_power_mw
                for c in CELL_TYPES}
        assert min(leak, key=leak.get) == "itrs-lstp"
        assert min(leak.values()) * 10 < sorted(leak.values())[1]
        return sorted(leak, key=leak.get)

    for k in range(16, 25):
        below, above = order(2 ** k), order(2 ** (k + 1))
        if below == above:
            assert order(3 * 2 ** k // 2) == below
    if node != 22:
        assert order(2 ** 23) == ["itrs-lstp", "itrs-lop", "itrs-hp"]


def test_references_cacti_figures_reproduced():
    """REFERENCES.md's CACTI 7 runs (45 nm, one 64-bit port, one bank): 8 MiB read energy
    194 / 114 / 296 pJ (hp / lop / lstp)."""
    for cell, pj in (("itrs-hp", 194), ("itrs-lop", 114), ("itrs-lstp", 296)):
        got = TechnologyConfig(45, cell).sram(8 * 2 ** 20, 64).read_energy_pj
        assert got == pytest.approx(pj, rel=0.01)


def test_a_banked_access_costs_the_banked_organisation_not_the_whole_capacity():
    cfg = load_accelerator_config("default")
    sram = cfg.weight_sram
    tech = cfg.technology
    assert sram.read_energy_pj == tech.sram(sram.capacity_bytes, 64, sram.banks).read_energy_pj
    assert sram.read_energy_pj < tech.sram(sram.capacity_bytes, 64, 1).read_energy_pj


def test_every_derived_figure_carries_a_source():
    for name in ("default", "shared-ws-32x32", "xorshift-prng-ws-32x32"):
        d = load_accelerator_config(name).to_dict()
        for section in ("pe", "weight_sram", "activation_sram", "prng", "update", "technology"):
            values = d[section]
            for key in values:
                if key.endswith(("_pj", "_mw", "_mm2", "_ns", "_pj_per_value",
                                 "_pj_per_weight", "latency_cycles", "_v")):
                    source = values["sources"].get(key, "")
                    assert source, (name, section, key)
                    assert "unconfirmed" not in source and "estimate" not in source
        assert d["technology"]["node_nm"] == 45


def test_datapath_scales_with_the_node_and_says_how():
    macs = {n: load_accelerator_config("default", {"technology.node_nm": n}).pe
            for n in NODES_NM}
    energies = [macs[n].mac_energy_pj for n in sorted(NODES_NM)]
    areas = [macs[n].pe_area_mm2 for n in sorted(NODES_NM)]
    assert energies == sorted(energies) and areas == sorted(areas)
    assert "scaled from 45 nm to 22 nm" in macs[22].sources["mac_energy_pj"]
    prng = load_accelerator_config("default", {"technology.node_nm": 22}).prng
    assert prng.energy_pj_per_value < 17.8 and "PRNG value" in prng.sources["energy_pj_per_value"]


def test_a_given_figure_still_overrides_the_technology():
    cfg = load_accelerator_config("default", {"weight_sram.leakage_power_mw": 3.0,
                                              "weight_sram.latency_cycles": 7,
                                              "pe.mac_energy_pj": 1.0})
    assert cfg.weight_sram.leakage_power_mw == 3.0 and cfg.weight_sram.latency_cycles == 7
    assert cfg.weight_sram.sources["leakage_power_mw"] == "user"
    assert cfg.pe.mac_energy_pj == 1.0 and cfg.pe.sources["mac_energy_pj"] == "user"


def test_sram_latency_follows_the_access_time_and_the_clock():
    slow = load_accelerator_config("default", {"clock_mhz": 250})
    fast = load_accelerator_config("default", {"clock_mhz": 2000})
    access_ns = fast.weight_sram.access_time_ns
    assert fast.weight_sram.latency_cycles == math.ceil(access_ns * 2)
    assert slow.weight_sram.latency_cycles == max(1, math.ceil(access_ns / 4))
    assert fast.weight_sram.latency_cycles > slow.weight_sram.latency_cycles


@pytest.mark.parametrize("override, field", [
    ({"technology.node_nm": 28}, "technology.node_nm"),
    ({"technology.sram_cell_type": "finfet"}, "technology.sram_cell_type"),
    ({"technology.logic_device": "itrs-xx"}, "technology.logic_device"),
])
def test_unknown_node_or_cell_type_is_a_one_line_error(override, field):
    with pytest.raises(ConfigError) as err:
        load_accelerator_config("default", override)
    assert "\n" not in str(err.value) and field in str(err.value)


def test_unknown_node_from_the_cli_is_one_line_and_exit_2(tmp_path, capsys):
    save_trace(tiny_trace(), tmp_path / "trace")
    capsys.readouterr()
    code = main(["simulate", str(tmp_path / "trace"), "--set", "technology.node_nm=7",
                 "--out", str(tmp_path / "sim")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "technology.node_nm" in err


def test_area_in_the_result_summary_per_component_and_in_total(tmp_path):
    config = load_accelerator_config("default", {"weight_sram.capacity_bytes": 4096,
                                                 "activation_sram.capacity_bytes": 65536})
    result = simulate(tiny_trace(), config)
    result.save(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    area = summary["area_mm2"]
    assert set(AREA_COMPONENTS) | {"total"} == set(area)
    assert area["total"] == pytest.approx(sum(area[c] for c in AREA_COMPONENTS))
    assert all(area[c] > 0 for c in AREA_COMPONENTS)
    assert area == config_area_mm2(config)


def test_a_bigger_sram_costs_area():
    small = area_breakdown_mm2(load_accelerator_config(
        "default", {"weight_sram.capacity_bytes": 2 ** 20}).to_dict())
    big = area_breakdown_mm2(load_accelerator_config("default").to_dict())
    assert big["weight_sram"] > 4 * small["weight_sram"]
    assert big["pe_array"] == small["pe_array"]


def test_shared_buffer_area_counted_once():
    cfg = load_accelerator_config("shared-ws-32x32")
    area = config_area_mm2(cfg)
    assert area["weight_sram"] == cfg.global_buffer.area_mm2 and area["activation_sram"] == 0


def test_pareto_mask():
    area = np.array([1.0, 2.0, 3.0, 2.5])
    energy = np.array([5.0, 3.0, 1.0, 4.0])
    assert pareto_mask(area, energy).tolist() == [True, True, True, False]


def test_generator_skips_cleanly_without_cacti(tmp_path):
    out = subprocess.run([sys.executable, "benchmarks/cacti_table.py", "--cacti",
                          str(tmp_path / "no-cacti")], capture_output=True, text=True, cwd=ROOT,
                         check=False)
    assert out.returncode == 0 and "skipped" in out.stdout


def test_accelforge_comparison_skips_cleanly_without_it(tmp_path):
    out = subprocess.run([sys.executable, "benchmarks/vs_accelforge.py", "--accelforge-venv",
                          str(tmp_path / "no-venv"), "--record", str(tmp_path / "no-record")],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0 and out.stdout.count("skipped") == 2


def test_accelforge_mapped_comparison_replays_from_its_stored_result(tmp_path):
    """Without AccelForge, from its stored per-layer ResNet-18 result: the same MAC count on
    both sides, and the activation SRAM's accesses within 1 % (reports/validation/accelforge.md
    says where the two differ and why)."""
    out = tmp_path / "accelforge.csv"
    done = subprocess.run([sys.executable, "benchmarks/vs_accelforge.py", "--accelforge-venv",
                           str(tmp_path / "no-venv"), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    rows = {(r["component"], r["quantity"]): r for r in _rows(out)}
    macs = rows[("MACs", "count (M)")]
    assert float(macs["accelsim"]) == pytest.approx(float(macs["accelforge"]), rel=1e-9)
    sram = rows[("activation SRAM", "accesses (M)")]
    assert float(sram["accelsim"]) == pytest.approx(float(sram["accelforge"]), rel=0.01)
