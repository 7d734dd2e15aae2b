"""accelsim beside AccelForge: ResNet-18 inference mapped by AccelForge on accelsim's default
accelerator, per component, and the component models AccelForge prices with, part by part.

AccelForge (pip `accelforge`, the Accelergy project) prices every component through
`hwcomponents`: SRAMs with `hwcomponents-cacti` (CACTI 7, its own configuration), adders,
multipliers and registers with `hwcomponents-library`'s Aladdin models.

- Mapped: the default accelerator written as an AccelForge architecture (`ARCH_YAML`, the shape
  of its `tpu_v4i` example), ResNet-18 (its example workload) at batch 1 and the config's word
  size, mapped by its FFM mapper one layer at a time (`--run-mapper`, minutes; the per-layer
  results are stored in reports/validation/accelforge/ so the comparison is regenerated
  without AccelForge), beside accelsim's `simulate` of the same network in inference: energy,
  traffic and area per component. Writes reports/validation/accelforge.csv.
- Parts: the hwcomponents models for the default accelerator's parts (the 8 MiB and 2 MiB
  SRAMs on 32 banks of 64 bits, the 64 KiB staging buffer one 32-bit word wide, a 32-bit adder,
  multiplier and register) beside accelsim's figures for the same parts (its default,
  `itrs-lop` cells, and `itrs-lstp` cells, the cell type `hwcomponents-cacti` uses). Writes
  benchmarks/results/vs_accelforge.csv.

AccelForge needs Python >= 3.12: give a virtual environment with it installed
(`--accelforge-venv`, or ACCELFORGE_VENV, or benchmarks/.build/accelforge-venv); without one the
parts are skipped (said so) and the mapped comparison uses the stored results; without those
too it says so and exits 0. `hwcomponents-cacti`'s bundled CACTI binary needs rebuilding on
glibc < 2.38: `make` in its `cacti/` folder after removing `obj_*`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accelsim.config import load_accelerator_config  # noqa: E402  (the repository's copy)

DEFAULT_VENV = ROOT / "benchmarks" / ".build" / "accelforge-venv"
RESULTS = ROOT / "benchmarks" / "results" / "vs_accelforge.csv"
RECORD = ROOT / "reports" / "validation" / "accelforge" / "resnet18_accelforge_layers.jsonl"
MAPPED_CSV = ROOT / "reports" / "validation" / "accelforge.csv"
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


# The default accelerator as an AccelForge architecture (its tpu_v4i example's shape: DRAM,
# global buffers, a 2-D PE array of weight-holding registers feeding MACs), for its mapper:
# DRAM at accelsim's per-bit figures, the weight SRAM holding the weights and the activation
# SRAM the inputs and outputs (each CACTI-priced by hwcomponents-cacti at the same capacity,
# bank count, bank width and node), a rows x cols array whose inputs are shared along a row
# and outputs reduced down a column (weight-stationary), a register per PE keeping its weight
# and a MAC per PE (hwcomponents-library's Aladdin register and integer MAC, word-wide).
ARCH_YAML = """\
arch:
  nodes:
  - !Memory
    name: MainMemory
    size: inf
    leak_power: 0
    area: 0
    actions:
    - {{name: read, energy: {dram_read_j_per_bit}, throughput: inf}}
    - {{name: write, energy: {dram_write_j_per_bit}, throughput: inf}}
    tensors: {{keep: ~Intermediates, may_keep: All}}
  - !Memory
    name: WeightSRAM
    component_class: SRAM
    size: {weight_bits_total}
    extra_attributes_for_component_model:
      width: {weight_width}
      n_banks: {weight_banks}
      tech_node: {node_m}
    actions:
    - {{name: read, bits_per_action: {weight_width}}}
    - {{name: write, bits_per_action: {weight_width}}}
    tensors: {{keep: weight}}
  - !Memory
    name: ActivationSRAM
    component_class: SRAM
    size: {activation_bits_total}
    extra_attributes_for_component_model:
      width: {activation_width}
      n_banks: {activation_banks}
      tech_node: {node_m}
    actions:
    - {{name: read, bits_per_action: {activation_width}}}
    - {{name: write, bits_per_action: {activation_width}}}
    tensors: {{keep: input | output}}
  - !Container
    name: ProcessingElement
    spatial:
    - {{name: reuse_input, fanout: {cols}, reuse: input, min_usage: 1}}
    - {{name: reuse_output, fanout: {rows}, reuse: output, min_usage: 1}}
  - !Memory
    name: Register
    component_class: AladdinRegister
    size: weight.bits_per_value if weight else 0
    extra_attributes_for_component_model:
      width: {word_bits}
      tech_node: {node_m}
    actions:
    - {{name: read, bits_per_action: {word_bits}}}
    - {{name: write, bits_per_action: {word_bits}}}
    tensors: {{keep: weight}}
  - !Compute
    name: MAC
    component_class: AladdinIntMAC
    extra_attributes_for_component_model:
      adder_width: {word_bits}
      multiplier_width: {word_bits}
      tech_node: {node_m}
    actions:
    - {{name: compute}}
"""

# run inside AccelForge's venv: map each ResNet-18 layer of its example workload (batch 1, at
# the config's word size) onto ARCH_YAML, one layer at a time, and append per layer its energy
# per component and action, and its action counts, to a JSON-lines file (a rerun resumes)
_MAPPED = r"""
import json, sys, time
from pathlib import Path
import accelforge as af
import accelforge.frontend.mapping.mapping as mapping_module
from accelforge.examples import examples
arch, out, word_bits = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
mapping_module.Mapping.render = lambda self, **kwargs: ""  # no graphviz here; not needed
af.set_n_parallel_jobs(1)
text = Path(examples.workloads.compute_in_memory.resnet18).read_text()
workload = out.parent / "resnet18.yaml"
workload.write_text(text.replace("bits_per_value: {All: 8}",
                                 "bits_per_value: {All: %d}" % word_bits))
spec = af.Spec.from_yaml(str(arch), str(workload), jinja_parse_data={"BATCH_SIZE": 1})
spec.mapper.explore_loop_orders = False  # the weight-stationary order needs no search
done = set()
if out.exists():
    done = {json.loads(line)["layer"] for line in out.read_text().splitlines()}
costs = spec.calculate_component_costs()
area = {k: v * 1e6 for k, v in costs.arch.per_component_total_area.items()}
for einsum in spec.workload.einsums:
    if einsum.name in done:
        continue
    start = time.time()
    row = spec.map_workload_to_arch(einsum_names=[einsum.name], print_progress=False).data.iloc[0]
    values = {}
    for k, v in row.items():  # numbers of every kind (numpy, sympy); mappings left out
        try:
            values[k] = float(v)
        except (TypeError, ValueError):
            pass
    with out.open("a") as handle:
        handle.write(json.dumps({"layer": einsum.name, "seconds": time.time() - start,
                                 "area_mm2": area, "values": values}) + "\n")
    print(einsum.name, round(time.time() - start, 1), flush=True)
"""


def arch_yaml(config) -> str:
    """ARCH_YAML for `config` (its DRAM read and write energy per bit: the array's and the
    interface's; activates and background are left out, AccelForge has no such action)."""
    dram = config.dram
    return ARCH_YAML.format(
        dram_read_j_per_bit=(dram.read_energy_pj_per_bit + dram.io_energy_pj_per_bit) * 1e-12,
        dram_write_j_per_bit=(dram.write_energy_pj_per_bit + dram.io_energy_pj_per_bit) * 1e-12,
        weight_bits_total=config.weight_sram.capacity_bytes * 8,
        weight_width=config.weight_sram.bank_width_bits, weight_banks=config.weight_sram.banks,
        activation_bits_total=config.activation_sram.capacity_bytes * 8,
        activation_width=config.activation_sram.bank_width_bits,
        activation_banks=config.activation_sram.banks,
        node_m=config.technology.node_nm * 1e-9, rows=config.pe.rows, cols=config.pe.cols,
        word_bits=config.weight_bits)


def run_mapped(venv: Path, config, out: Path) -> None:
    """AccelForge's mapper on ResNet-18, layer by layer, into `out` (JSON lines)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    arch = out.parent / "accelsim_default_arch.yaml"
    arch.write_text(arch_yaml(config), encoding="utf-8")
    with tempfile.TemporaryDirectory() as scratch:  # AccelForge writes a mapping.svg there
        subprocess.run([str(venv / "bin" / "python"), "-c", _MAPPED, str(arch.resolve()),
                        str(out.resolve()), str(config.weight_bits)], check=True, cwd=scratch)


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


def _sep(key: str) -> list[str]:
    return key.split("<SEP>")


def accelforge_totals(record: Path) -> dict[str, float]:
    """AccelForge's mapped ResNet-18 from its stored per-layer record: energy per component
    (pJ; dynamic, and leakage apart), action counts, latency (s) and area per component
    (mm^2)."""
    lines = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    out: dict[str, float] = {"layers": float(len(lines))}
    for line in lines:
        for key, value in line["values"].items():
            parts = _sep(key)
            if key == "Total<SEP>latency":
                out["latency_s"] = out.get("latency_s", 0.0) + value
            elif len(parts) >= 4 and parts[1] in ("energy", "action"):
                component, action = parts[2], parts[-1]
                name = (f"{parts[1]}:{component}:leak" if action == "leak" else
                        f"{parts[1]}:{component}:{action}")
                out[name] = out.get(name, 0.0) + value * (1e12 if parts[1] == "energy" else 1)
    for component, mm2 in lines[0]["area_mm2"].items():
        out[f"area:{component}"] = mm2
    return out


def accelsim_totals(config) -> dict[str, float]:
    """accelsim's ResNet-18 inference at batch 1 (the synthetic trace of the README's headline
    cases, the dense run): energy per component (pJ), access counts, cycles, area (mm^2)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from sim_speed import _trace, resnet18_layers

    from accelsim.sim.area import config_area_mm2
    from accelsim.sim.simulation import simulate

    result = simulate(_trace(resnet18_layers(), 1_000_000, 1), config, "inference",
                      batch_size=1)
    records = result.records[result.records["run"] == "dense"]
    out = {c: float(records[c].sum()) for c in records.columns
           if c.endswith(("_energy_pj", "_count", "_bytes_read", "_bytes_written"))
           or c in ("energy_pj", "total_cycles")}
    for sram in ("weight_sram", "activation_sram"):
        figures = getattr(config, sram)
        out[f"{sram}_dynamic_energy_pj"] = (out[f"{sram}_reads_count"] * figures.read_energy_pj
                                            + out[f"{sram}_writes_count"]
                                            * figures.write_energy_pj)
    out.update({f"area:{k}": v for k, v in config_area_mm2(config).items()})
    return out


def mapped_rows(theirs: dict[str, float], ours: dict[str, float], config) -> list[dict]:
    """The side-by-side rows: (component, quantity, AccelForge, accelsim)."""
    def t(*names: str) -> float:
        return sum(theirs.get(n, 0.0) for n in names)

    word_bits = config.weight_bits
    rows = [
        ("DRAM", "energy, dynamic (mJ)", t("energy:MainMemory:read", "energy:MainMemory:write"),
         ours["dram_dynamic_energy_pj"]),
        ("DRAM", "energy, background (mJ)", 0.0, ours["dram_background_energy_pj"]),
        ("DRAM", "bytes read (MB)", t("action:MainMemory:read") / 8,
         ours["dram_bytes_read"]),
        ("DRAM", "bytes written (MB)", t("action:MainMemory:write") / 8,
         ours["dram_bytes_written"]),
        ("weight SRAM", "energy, dynamic (mJ)",
         t("energy:WeightSRAM:read", "energy:WeightSRAM:write"),
         ours["weight_sram_dynamic_energy_pj"]),
        ("weight SRAM", "accesses (M)", t("action:WeightSRAM:read", "action:WeightSRAM:write"),
         ours["weight_sram_reads_count"] + ours["weight_sram_writes_count"]),
        ("activation SRAM", "energy, dynamic (mJ)",
         t("energy:ActivationSRAM:read", "energy:ActivationSRAM:write"),
         ours["activation_sram_dynamic_energy_pj"]),
        ("activation SRAM", "accesses (M)",
         t("action:ActivationSRAM:read", "action:ActivationSRAM:write"),
         ours["activation_sram_reads_count"] + ours["activation_sram_writes_count"]),
        ("SRAMs", "energy, leakage (mJ)",
         t("energy:WeightSRAM:leak", "energy:ActivationSRAM:leak"),
         ours["sram_leakage_energy_pj"]),
        ("MACs", "energy (mJ)", t("energy:MAC:compute"), ours["mac_energy_pj"]),
        ("MACs", "count (M)", t("action:MAC:compute"), ours["macs_count"]),
        ("MACs", "energy, leakage (mJ)", t("energy:MAC:leak"), 0.0),
        ("PE registers and hops", "energy (mJ)",
         t("energy:Register:read", "energy:Register:write"), ours["pe_movement_energy_pj"]),
        (f"PE registers ({word_bits}-bit writes)", "count (M)", t("action:Register:write"),
         ours["pe_weight_loads_count"] + ours["pe_input_hops_count"]
         + ours["pe_weight_hops_count"] + ours["pe_partial_sum_hops_count"]),
        ("vector unit", "energy (mJ)", 0.0, ours["vector_energy_pj"]),
        ("all", "energy (mJ)", sum(v for k, v in theirs.items() if k.startswith("energy:")),
         ours["energy_pj"]),
        ("all", "run time (ms)", theirs.get("latency_s", 0.0) * 1e3,
         ours["total_cycles"] / config.clock_mhz / 1e3),
        ("PE array", "area (mm2)", t("area:Register", "area:MAC"), ours["area:pe_array"]),
        ("weight SRAM", "area (mm2)", t("area:WeightSRAM"), ours["area:weight_sram"]),
        ("activation SRAM", "area (mm2)", t("area:ActivationSRAM"), ours["area:activation_sram"]),
        ("staging buffer", "area (mm2)", 0.0, ours["area:staging_buffer"]),
        ("PRNG and update unit", "area (mm2)", 0.0,
         ours["area:prng"] + ours["area:update_unit"]),
        ("all", "area (mm2)", sum(v for k, v in theirs.items() if k.startswith("area:")),
         ours["area:total"]),
    ]
    scale = {"(mJ)": 1e-9, "(MB)": 1e-6, "(M)": 1e-6}
    out = []
    for component, quantity, accelforge, accelsim in rows:
        unit = quantity[quantity.rfind("("):]
        # AccelForge's energies are already in pJ, its counts plain: the same scale for both
        k = scale.get(unit, 1.0)
        a, b = accelforge * k, accelsim * k
        out.append({"component": component, "quantity": quantity, "accelforge": round(a, 6),
                    "accelsim": round(b, 6),
                    "accelsim_over_accelforge": round(b / a, 3) if a else ""})
    return out


def _write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def compare_parts(venv: Path) -> None:
    """Part by part: hwcomponents' models beside accelsim's figures."""
    theirs = probe(venv, load_accelerator_config("default"))
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
    _write_csv(RESULTS, rows)
    print(f"-> {RESULTS.relative_to(ROOT)}")


def compare_mapped(record: Path, out: Path) -> None:
    """ResNet-18 inference at batch 1: AccelForge's mapped result (from `record`) beside
    accelsim's `simulate`, per component."""
    config = load_accelerator_config("default")
    rows = mapped_rows(accelforge_totals(record), accelsim_totals(config), config)
    print(f"{'component':34} {'quantity':24} {'AccelForge':>11} {'accelsim':>11} {'ratio':>7}")
    for row in rows:
        ratio = row["accelsim_over_accelforge"]
        print(f"{row['component']:34} {row['quantity']:24} {row['accelforge']:11.4g} "
              f"{row['accelsim']:11.4g} {ratio if ratio == '' else f'{ratio:7.3g}':>7}")
    _write_csv(out, rows)
    print(f"-> {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accelforge-venv", type=Path,
                        default=Path(os.environ.get("ACCELFORGE_VENV", DEFAULT_VENV)))
    parser.add_argument("--record", type=Path, default=RECORD,
                        help="AccelForge's stored per-layer ResNet-18 result (JSON lines)")
    parser.add_argument("--run-mapper", action="store_true",
                        help="run AccelForge's mapper into --record first (minutes)")
    parser.add_argument("--out", type=Path, default=MAPPED_CSV)
    args = parser.parse_args(argv)
    python = args.accelforge_venv / "bin" / "python"
    have_venv = python.exists() and not subprocess.run(
        [str(python), "-c", "import accelforge"], capture_output=True, check=False).returncode
    if have_venv:
        if args.run_mapper:
            run_mapped(args.accelforge_venv, load_accelerator_config("default"), args.record)
        compare_parts(args.accelforge_venv)
    else:
        print(f"no AccelForge venv at {args.accelforge_venv}: its part models skipped")
    if args.record.exists():
        compare_mapped(args.record, args.out)
    else:
        print(f"no stored AccelForge result at {args.record}: mapped comparison skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
