"""accelsim's technology beside AccelForge's component models, per component: energy per action
and area at 45 nm, for the default accelerator's parts.

AccelForge (pip `accelforge`, the Accelergy project) prices every component through
`hwcomponents`: SRAMs with `hwcomponents-cacti` (CACTI 7, its own configuration), adders,
multipliers and registers with `hwcomponents-library`'s Aladdin models. This script asks those
models for the default accelerator's parts (the 8 MiB and 2 MiB SRAMs on 32 banks of 64 bits,
the 64 KiB staging buffer one 32-bit word wide, a 32-bit adder, multiplier and register) and
prints them beside accelsim's figures for the same parts (its default, `itrs-lop` cells, and
`itrs-lstp` cells, the cell type `hwcomponents-cacti` uses). A mapped ResNet-18 comparison
through AccelForge's mapper is not part of it (see reports/validation/accelforge.md).

AccelForge needs Python >= 3.12: give a virtual environment with it installed
(`--accelforge-venv`, or ACCELFORGE_VENV, or benchmarks/.build/accelforge-venv); without one the
script says so and exits 0. `hwcomponents-cacti`'s bundled CACTI binary needs rebuilding on
glibc < 2.38: `make` in its `cacti/` folder after removing `obj_*`.

Writes benchmarks/results/vs_accelforge.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accelsim.config import load_accelerator_config  # noqa: E402  (the repository's copy)

DEFAULT_VENV = ROOT / "benchmarks" / ".build" / "accelforge-venv"
RESULTS = ROOT / "benchmarks" / "results" / "vs_accelforge.csv"
NODE_M = 45e-9

# run inside AccelForge's venv: the hwcomponents models for the default accelerator's parts
_PROBE = r"""
import json, sys
from hwcomponents_cacti import SRAM
from hwcomponents_library.library.aladdin import AladdinAdder, AladdinMultiplier, AladdinRegister
parts = json.loads(sys.argv[1])
out = {}
for name, p in parts["srams"].items():
    m = SRAM(tech_node=p["node_m"], width=p["width_bits"], size=p["capacity_bytes"] * 8,
             n_banks=p["banks"])
    out[name] = {"read_energy_pj": m.read().energy * 1e12,
                 "write_energy_pj": m.write().energy * 1e12,
                 "leakage_power_mw": m.leak_power * 1e3, "area_mm2": m.area * 1e6}
for name, cls, action in (("int32 adder", AladdinAdder, "add"),
                          ("int32 multiplier", AladdinMultiplier, "multiply"),
                          ("32-bit register", AladdinRegister, "write")):
    m = cls(parts["node_m"], 32)
    out[name] = {"energy_pj": getattr(m, action)().energy * 1e12, "area_mm2": m.area * 1e6}
print(json.dumps(out))
"""


def accelsim_parts(cell_type: str) -> dict:
    """accelsim's figures for the same parts at 45 nm with `cell_type` SRAM cells."""
    config = load_accelerator_config("default", {"technology.sram_cell_type": cell_type})
    tech = config.technology
    out = {}
    for name, sram in (("weight SRAM 8 MiB", config.weight_sram),
                       ("activation SRAM 2 MiB", config.activation_sram)):
        out[name] = {"read_energy_pj": sram.read_energy_pj, "write_energy_pj": sram.write_energy_pj,
                     "leakage_power_mw": sram.leakage_power_mw, "area_mm2": sram.area_mm2}
    staging = tech.sram(config.staging_buffer_bytes, config.weight_bits, 1)
    out["staging buffer 64 KiB"] = {"read_energy_pj": staging.read_energy_pj,
                                    "write_energy_pj": staging.write_energy_pj,
                                    "leakage_power_mw": staging.leakage_power_mw,
                                    "area_mm2": staging.area_mm2}
    for name, op in (("int32 adder", "int32_add"), ("int32 multiplier", "int32_mult")):
        energy, area, _ = tech.operations(((op, 1),), name)
        out[name] = {"energy_pj": energy, "area_mm2": area}
    register_mm2, _ = tech.register_area_mm2(32)
    out["32-bit register"] = {"energy_pj": config.pe.register_energy_pj, "area_mm2": register_mm2}
    return out


def probe(venv: Path, config) -> dict:
    srams = {name: {"node_m": NODE_M, "capacity_bytes": s.capacity_bytes,
                    "width_bits": s.bank_width_bits, "banks": s.banks}
             for name, s in (("weight SRAM 8 MiB", config.weight_sram),
                             ("activation SRAM 2 MiB", config.activation_sram))}
    srams["staging buffer 64 KiB"] = {"node_m": NODE_M, "capacity_bytes":
                                      config.staging_buffer_bytes,
                                      "width_bits": config.weight_bits, "banks": 1}
    done = subprocess.run([str(venv / "bin" / "python"), "-c", _PROBE,
                           json.dumps({"srams": srams, "node_m": NODE_M})],
                          capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode:
        raise SystemExit(f"vs_accelforge: the hwcomponents probe failed: "
                         f"{done.stderr.strip().splitlines()[-1] if done.stderr else ''}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accelforge-venv", type=Path,
                        default=Path(os.environ.get("ACCELFORGE_VENV", DEFAULT_VENV)))
    args = parser.parse_args(argv)
    python = args.accelforge_venv / "bin" / "python"
    if not python.exists() or subprocess.run([str(python), "-c", "import accelforge"],
                                             capture_output=True, check=False).returncode:
        print(f"no AccelForge venv at {args.accelforge_venv}: skipped")
        return 0
    theirs = probe(args.accelforge_venv, load_accelerator_config("default"))
    ours = {cell: accelsim_parts(cell) for cell in ("itrs-lop", "itrs-lstp")}
    rows = []
    print(f"{'part':24} {'figure':18} {'AccelForge':>12} {'accelsim lop':>13} "
          f"{'accelsim lstp':>14}")
    for part, figures in theirs.items():
        for figure, value in figures.items():
            row = {"part": part, "figure": figure, "accelforge": value,
                   "accelsim_lop": ours["itrs-lop"][part][figure],
                   "accelsim_lstp": ours["itrs-lstp"][part][figure]}
            rows.append(row)
            print(f"{part:24} {figure:18} {value:12.4g} {row['accelsim_lop']:13.4g} "
                  f"{row['accelsim_lstp']:14.4g}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(RESULTS)
    print(f"-> {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
