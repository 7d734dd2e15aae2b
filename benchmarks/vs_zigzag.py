"""accelsim beside ZigZag: ResNet-18 ImageNet inference, batch 1, on matched hardware.

The hardware is accelsim's default accelerator (`configs/accelerators/default.yaml`): a 32x32
weight-stationary array, a weight SRAM, an activation SRAM and DRAM, fp32 words. ZigZag
(`zigzag-dse`, run in its own venv as a child process; never a dependency of accelsim) gets the
same hierarchy written as its YAML inputs, with accelsim's energies per bit at every level:

- register/array: a one-word weight register per PE; writing a weight into it costs accelsim's
  charge for a weight entering the array (register + one array hop, `pe.register_energy_pj +
  pe.array_hop_energy_pj`); reading it for a MAC is free (in the MAC energy on both sides).
  Inputs and partial sums have no register of their own in accelsim's array: in ZigZag their
  lowest level is the activation SRAM too.
- weight SRAM (weights) and activation SRAM (inputs and outputs, partial sums included): their
  capacity, their banks x bank width as the port width per cycle, and accelsim's energy per
  bank-width access as energy per bit (accelsim charges ceil(bits / bank width) accesses per
  tile, so per bit is its convention in bulk).
- DRAM: accelsim's preset per-bit core energy + I/O energy, plus one activate per row of
  `row_size_bytes` (a streamed read or write opens each row once; accelsim's DRAM model charges
  activates per row miss), and the preset's peak bandwidth per accelerator cycle as ZigZag's
  port width.
- MAC: `pe.mac_energy_pj`.

Spatial mapping in ZigZag: output channels K over the 32 columns (D1) and input channels C over
the 32 rows (D2), as accelsim's ws array holds a 32 (reduction) x 32 (output channel) weight
block; conv1 (C = 3) gets C 3 x FX 7 on the rows. The temporal loops are ZigZag's own choice
(LOMA, minimal energy), which is the point of the comparison.

accelsim runs `simulate(..., mode="inference")` on a dense trace of the same layer table with
its default `mapper` reuse policy and, for a second column, the `scalesim` policy. Its static
energy (SRAM leakage, DRAM background) has no counterpart in ZigZag and is listed apart.

Writes reports/validation/zigzag.csv (per layer and total, per level, both simulators) and
reports/validation/zigzag.md; ZigZag's per-layer results are cached in
reports/validation/zigzag/ so that the table is regenerated without ZigZag (`--use-cache`, or
automatically when the venv is missing). With neither the venv nor the cache it prints why and
exits 0.

    .venv/bin/python benchmarks/vs_zigzag.py --zigzag-venv /path/to/zigzag-venv
    ZIGZAG_VENV=/path/to/venv .venv/bin/python benchmarks/vs_zigzag.py
    .venv/bin/python benchmarks/vs_zigzag.py --use-cache
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import yaml

from accelsim.io import atomic_path, write_text_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scalesim_runner as ssr

REPO_ROOT = ssr.REPO_ROOT
REPORT_DIR = REPO_ROOT / "reports" / "validation"
CACHE_DIR = REPORT_DIR / "zigzag"
CACHE_LAYERS = CACHE_DIR / "resnet18_zigzag_layers.csv"
CACHE_HARDWARE = CACHE_DIR / "resnet18_hardware.json"
NETWORK = "resnet18"
DIFF_THRESHOLD_PCT = 10.0  # differences above this get an explanation in the report
LEVELS = ("register_array", "weight_sram", "activation_sram", "dram")
POLICIES = ("mapper", "scalesim")
# Where the default mapper agrees with ZigZag in total, and how closely (%): the levels whose
# counts follow the same rules on both sides (reports/validation/zigzag_explanations.md says
# why the others differ); tests/benchmarks/test_vs_zigzag_cache.py holds accelsim to these
# against the cached ZigZag run.
AGREEMENT_PCT = {"register_array": 1.0, "activation_sram": 10.0, "mac": 1e-6}

# ZigZag's memory names (its YAML keys): which accelsim level each one is
ZZ_MEMORIES = {"weight_reg": "register_array", "weight_sram": "weight_sram",
               "activation_sram": "activation_sram", "dram": "dram"}
ZZ_DIRECTIONS = ("rd_out_to_low", "wr_in_by_low", "rd_out_to_high", "wr_in_by_high")


# ---------------------------------------------------------------- the matched hardware

@dataclass(frozen=True)
class MatchedHardware:
    """What both simulators are given, from accelsim's config (energies per bit, in pJ)."""

    word_bits: int
    rows: int
    cols: int
    dataflow: str
    weight_sram_bytes: int
    activation_sram_bytes: int
    weight_sram_port_bits: int
    activation_sram_port_bits: int
    weight_sram_read_pj_per_bit: float
    weight_sram_write_pj_per_bit: float
    activation_sram_read_pj_per_bit: float
    activation_sram_write_pj_per_bit: float
    register_write_pj: float  # one weight entering the array
    dram_read_pj_per_bit: float
    dram_write_pj_per_bit: float
    dram_port_bits: int  # per accelerator cycle
    mac_pj: float


def matched_hardware(config) -> MatchedHardware:
    """accelsim's default config as per-bit energies and port widths (see the module doc)."""
    w, a, d, pe = config.weight_sram, config.activation_sram, config.dram, config.pe
    activate_pj_per_bit = d.activate_energy_pj / (d.row_size_bytes * 8)
    return MatchedHardware(
        word_bits=config.weight_bits, rows=pe.rows, cols=pe.cols, dataflow=pe.dataflow,
        weight_sram_bytes=w.capacity_bytes, activation_sram_bytes=a.capacity_bytes,
        weight_sram_port_bits=w.banks * w.bank_width_bits,
        activation_sram_port_bits=a.banks * a.bank_width_bits,
        weight_sram_read_pj_per_bit=w.read_energy_pj / w.bank_width_bits,
        weight_sram_write_pj_per_bit=w.write_energy_pj / w.bank_width_bits,
        activation_sram_read_pj_per_bit=a.read_energy_pj / a.bank_width_bits,
        activation_sram_write_pj_per_bit=a.write_energy_pj / a.bank_width_bits,
        register_write_pj=pe.register_energy_pj + pe.array_hop_energy_pj,
        dram_read_pj_per_bit=d.read_energy_pj_per_bit + d.io_energy_pj_per_bit
        + activate_pj_per_bit,
        dram_write_pj_per_bit=d.write_energy_pj_per_bit + d.io_energy_pj_per_bit
        + activate_pj_per_bit,
        dram_port_bits=int(d.peak_bandwidth_bytes_per_ns * 8 * 1000 / config.clock_mhz),
        mac_pj=pe.mac_energy_pj)


def default_config(policy: str = "mapper"):
    from accelsim.config import load_accelerator_config

    return load_accelerator_config("default", overrides={"reuse_policy": policy})


# ---------------------------------------------------------------- ZigZag's inputs

def _port(name: str, kind: str, min_bits: int, max_bits: int, allocation: list[str]) -> dict:
    return {"name": name, "type": kind, "bandwidth_min": int(min_bits),
            "bandwidth_max": int(max_bits), "allocation": allocation}


def zigzag_accelerator(hw: MatchedHardware) -> dict:
    """ZigZag's hardware description. Energies are per access of `bandwidth_max` bits (ZigZag
    charges ceil(bits / min) x min / max accesses per transfer), so each is per bit x max; the
    minimum width is one word, so a transfer is charged for its words."""
    word = hw.word_bits

    def sram(size_bytes, port_bits, read_pj_bit, write_pj_bit, operands, reads, writes):
        return {"size": size_bytes * 8, "r_cost": read_pj_bit * port_bits,
                "w_cost": write_pj_bit * port_bits, "area": 0, "latency": 1,
                "operands": operands,
                # accelsim's SRAM banks serve reads and writes alike: one port
                "ports": [_port("rw_port_1", "read_write", word, port_bits, reads + writes)],
                "served_dimensions": ["D1", "D2"]}

    dram_bits = hw.dram_port_bits
    return {
        "name": "accelsim_default_matched",
        "memories": {
            "weight_reg": {
                "size": word, "r_cost": 0.0, "w_cost": hw.register_write_pj, "area": 0,
                "latency": 1, "operands": ["I2"],
                "ports": [_port("r_port_1", "read", word, word, ["I2, tl"]),
                          _port("w_port_1", "write", word, word, ["I2, fh"])],
                "served_dimensions": []},
            "weight_sram": sram(hw.weight_sram_bytes, hw.weight_sram_port_bits,
                                hw.weight_sram_read_pj_per_bit, hw.weight_sram_write_pj_per_bit,
                                ["I2"], ["I2, tl"], ["I2, fh"]),
            "activation_sram": sram(hw.activation_sram_bytes, hw.activation_sram_port_bits,
                                    hw.activation_sram_read_pj_per_bit,
                                    hw.activation_sram_write_pj_per_bit, ["I1", "O"],
                                    ["I1, tl", "O, tl", "O, th"], ["I1, fh", "O, fh", "O, fl"]),
            "dram": {
                "size": 10**12, "r_cost": hw.dram_read_pj_per_bit * dram_bits,
                "w_cost": hw.dram_write_pj_per_bit * dram_bits, "area": 0, "latency": 1,
                "operands": ["I1", "I2", "O"],
                "ports": [_port("rw_port_1", "read_write", word, dram_bits,
                                ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl",
                                 "O, fl", "O, th"])],
                "served_dimensions": ["D1", "D2"]},
        },
        "operational_array": {
            "unit_energy": hw.mac_pj, "unit_area": 1, "dimensions": ["D1", "D2"],
            "sizes": [hw.cols, hw.rows],
            # inputs move along the rows and partial sums down the columns, a hop a cycle
            "systolic_dimensions": ["D1", "D2"]},
    }


def _ints(value) -> list[int]:
    if isinstance(value, str):
        value = value.strip("[]() ").replace(",", " ").split()
    return [int(v) for v in value]


def zigzag_workload(layers: pd.DataFrame, hw: MatchedHardware, *,
                    linked: bool = False) -> list[dict]:
    """accelsim's layer table as ZigZag layers (a linear layer is a 1x1 convolution on a 1x1
    input), in execution order. By default each layer's input is its own (a network input in
    DRAM). linked: the input comes from the latest earlier layer whose output has this layer's
    input shape, else the layer before it (the table holds no graph; residual adds and pooling
    are not in it, and ZigZag's locality search needs a successor for every layer but the
    last: a downsample layer, whose output only feeds an add, gets the next layer), for
    ZigZag's inter-layer locality search."""
    out = []
    word = hw.word_bits
    rows = layers.sort_values("exec_order", kind="stable").to_dict("records")
    for i, row in enumerate(rows):
        source = i
        if linked and i:
            source = next((j for j in range(i - 1, -1, -1)
                           if _ints(rows[j]["out_shape"]) == _ints(row["in_shape"])), i - 1)
            if "downsample" in str(rows[i - 1]["name"]):
                source = i - 1
        cout, cin = _ints(row["weight_shape"])[:2]
        if row["kind"] == "conv2d":
            kh, kw = _ints(row["weight_shape"])[2:4]
            _, ih, iw = _ints(row["in_shape"])
            _, oh, ow = _ints(row["out_shape"])
            sh, sw = _ints(row["stride"])
            ph, pw = _ints(row["padding"])
        else:  # linear
            kh = kw = ih = iw = oh = ow = sh = sw = 1
            ph = pw = 0
        out.append({
            "id": i, "name": str(row["name"]), "operator_type": "Conv",
            "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
            "dimension_relations": [f"ix={sw}*ox+1*fx", f"iy={sh}*oy+1*fy"],
            "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
            "loop_sizes": [1, cout, cin, oh, ow, kh, kw],
            "operand_precision": {"W": word, "I": word, "O": word, "O_final": word},
            "operand_source": {"W": i, "I": source},
            "pr_loop_dims": ["IX", "IY"], "pr_loop_sizes": [iw, ih],
            "padding": [[pw, pw], [ph, ph]],
        })
    return out


def spatial_rows(cin: int, kw: int, rows: int) -> list[str]:
    """What the array's rows (the reduction side) hold: 32 input channels, or, for a layer
    with fewer, its channels times as many kernel columns as fit."""
    if cin >= rows:
        return [f"C, {rows}"]
    fx = max(d for d in range(1, kw + 1) if kw % d == 0 and cin * d <= rows)
    return [f"C, {cin}"] + ([f"FX, {fx}"] if fx > 1 else [])


def zigzag_mapping(workload: list[dict], hw: MatchedHardware) -> list[dict]:
    links = {"O": "O", "W": "I2", "I": "I1"}
    out = [{"name": "default", "spatial_mapping": {"D1": [f"K, {hw.cols}"],
                                                   "D2": [f"C, {hw.rows}"]},
            "memory_operand_links": links}]
    for layer in workload:
        sizes = dict(zip(layer["loop_dims"], layer["loop_sizes"]))
        out.append({"name": layer["name"],
                    "spatial_mapping": {"D1": [f"K, {min(hw.cols, sizes['K'])}"],
                                        "D2": spatial_rows(sizes["C"], sizes["FX"], hw.rows)},
                    "memory_operand_links": links})
    return out


# The child process: runs in ZigZag's venv, reads three YAML paths and writes one JSON file of
# per-layer results. Kept as text so that nothing of ZigZag is imported here.
CHILD = r'''
import json, logging, sys
from importlib.metadata import version
logging.basicConfig(level=logging.WARNING)
from zigzag.api import get_hardware_performance_zigzag
args = json.loads(sys.argv[1])
_, _, cmes = get_hardware_performance_zigzag(
    workload=args["workload"], accelerator=args["accelerator"], mapping=args["mapping"],
    opt=args["opt"], dump_folder=args["dump"], lpf_limit=args["lpf_limit"],
    exploit_data_locality=args["locality"], loma_show_progress_bar=False)
rows = []
for cme, (layer, _) in cmes[0][1]:
    rec = {"layer": layer.name, "mac_energy_pj": cme.mac_energy,
           "latency_cycles": cme.latency_total2, "ideal_cycles": cme.ideal_cycle,
           "ideal_temporal_cycles": cme.ideal_temporal_cycle,
           "stall_slack_cycles": cme.stall_slack_comb,
           "onloading_cycles": cme.data_onloading_cycle,
           "offloading_cycles": cme.data_offloading_cycle,
           "temporal_mapping": " ".join(str(cme.temporal_mapping).split()),
           "spatial_mapping": " ".join(str(cme.layer.spatial_mapping).split())}
    hierarchy = cme.accelerator.memory_hierarchy
    for layer_op, energies in cme.mem_energy_breakdown.items():
        mem_op = cme.memory_operand_links.layer_to_mem_op(layer_op)
        levels = hierarchy.get_memory_levels(mem_op=mem_op)
        for energy, level, accesses in zip(energies, levels, cme.memory_word_access[layer_op]):
            key = f"{layer_op}_{level.name}"
            rec[key + "_energy_pj"] = energy
            for direction, count in accesses.data.items():
                # a count is of accesses `max` bits wide (ZigZag's cost model)
                port_bits = level.get_max_bandwidth(mem_op, direction) or 0
                rec[f"{key}_{direction}_bits"] = count * port_bits
    rows.append(rec)
with open(args["out"], "w") as f:
    json.dump({"version": version("zigzag-dse"), "layers": rows}, f)
'''


def venv_python(venv: str | os.PathLike | None) -> Path | None:
    if not venv:
        return None
    python = Path(venv) / "bin" / "python"
    return python if python.exists() else None


def run_zigzag(python: Path, layers: pd.DataFrame, hw: MatchedHardware, *, opt: str = "energy",
               lpf_limit: int = 6, locality: bool = False,
               verbose: bool = True) -> tuple[pd.DataFrame, dict]:
    """ZigZag's per-layer results on the matched hardware (a child process in its venv).
    locality: ZigZag's inter-layer locality search (`exploit_data_locality`) on linked layers."""
    workload = zigzag_workload(layers, hw, linked=locality)
    with tempfile.TemporaryDirectory(prefix="accelsim-zigzag-") as tmp:
        folder = Path(tmp)
        files = {"workload": folder / "workload.yaml", "accelerator": folder / "hardware.yaml",
                 "mapping": folder / "mapping.yaml"}
        files["workload"].write_text(yaml.safe_dump(workload, sort_keys=False))
        files["accelerator"].write_text(yaml.safe_dump(zigzag_accelerator(hw), sort_keys=False))
        files["mapping"].write_text(yaml.safe_dump(zigzag_mapping(workload, hw),
                                                   sort_keys=False))
        out = folder / "result.json"
        args = {k: str(v) for k, v in files.items()}
        args.update(opt=opt, dump=str(folder / "dump"), lpf_limit=lpf_limit, out=str(out),
                    locality=locality)
        start = time.perf_counter()
        proc = subprocess.run([str(python), "-c", CHILD, json.dumps(args)], cwd=folder,
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"ZigZag failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        result = json.loads(out.read_text())
    if verbose:
        print(f"ZigZag {result['version']}: {len(result['layers'])} layers in {wall:.1f} s")
    frame = pd.DataFrame(result["layers"])
    facts = {"zigzag_version": result["version"], "wall_time_s": round(wall, 1), "opt": opt,
             "lpf_limit": lpf_limit, "exploit_data_locality": locality}
    return frame, facts


def zigzag_levels(raw: pd.DataFrame) -> pd.DataFrame:
    """ZigZag's per-layer energy by accelsim level (summed over operands), MAC energy and
    latency, plus each operand's share for the explanations."""
    out = pd.DataFrame({"layer": raw["layer"]})
    for level in LEVELS:
        out[f"zigzag_{level}_pj"] = 0.0
    for memory, level in ZZ_MEMORIES.items():
        for operand in ("W", "I", "O"):
            col = f"{operand}_{memory}_energy_pj"
            if col in raw.columns:
                values = raw[col].fillna(0.0)
                out[f"zigzag_{level}_pj"] += values
                out[f"zigzag_{operand}_{level}_pj"] = values
    out["zigzag_mac_pj"] = raw["mac_energy_pj"]
    out["zigzag_latency_cycles"] = raw["latency_cycles"]
    out["zigzag_ideal_temporal_cycles"] = raw["ideal_temporal_cycles"]
    out["zigzag_temporal_mapping"] = raw["temporal_mapping"]
    return out


# ---------------------------------------------------------------- accelsim's side

def accelsim_levels(layers: pd.DataFrame, policy: str) -> pd.DataFrame:
    """accelsim's per-layer dynamic energy by level (the one-time load of pinned weights
    included: ZigZag reads every weight from DRAM in its layer), MAC energy, static energy and
    forward latency."""
    from accelsim.sim.simulation import simulate
    from accelsim.trace.from_model import synthetic_model_trace

    config = default_config(policy)
    trace = synthetic_model_trace(NETWORK, None, batch_size=1)
    result = simulate(trace, config, mode="inference", baseline=False)
    records = result.run("trace")
    pe = config.pe
    by_layer = records.groupby("layer_name", sort=False)
    forward = records[records["phase"] == "forward"].set_index("layer_name")
    load = records[records["phase"] == "load"].groupby("layer_name")["total_cycles"].sum()
    w, a = config.weight_sram, config.activation_sram
    sums = by_layer[[
        "pe_weight_loads_count", "staging_accesses_count", "weight_sram_reads_count",
        "weight_sram_writes_count", "activation_sram_reads_count",
        "activation_sram_writes_count", "dram_dynamic_energy_pj", "mac_energy_pj",
        "sram_leakage_energy_pj", "dram_background_energy_pj", "dram_bytes_read",
        "dram_bytes_written", "weight_dram_bytes_read", "activation_dram_bytes_read",
        "activation_dram_bytes_written"]].sum()
    out = pd.DataFrame({"layer": sums.index})
    s = sums.reset_index(drop=True)
    p = f"accelsim_{policy}"
    out[f"{p}_register_array_pj"] = s["pe_weight_loads_count"] * (
        pe.register_energy_pj + pe.array_hop_energy_pj)
    staging = s["staging_accesses_count"] * config.staging_energy_pj_per_word
    out[f"{p}_weight_sram_pj"] = (s["weight_sram_reads_count"] * w.read_energy_pj
                                  + s["weight_sram_writes_count"] * w.write_energy_pj + staging)
    out[f"{p}_staging_pj"] = staging
    out[f"{p}_activation_sram_pj"] = (s["activation_sram_reads_count"] * a.read_energy_pj
                                      + s["activation_sram_writes_count"] * a.write_energy_pj)
    out[f"{p}_dram_pj"] = s["dram_dynamic_energy_pj"]
    out[f"{p}_mac_pj"] = s["mac_energy_pj"]
    out[f"{p}_static_pj"] = s["sram_leakage_energy_pj"] + s["dram_background_energy_pj"]
    out[f"{p}_latency_cycles"] = out["layer"].map(forward["total_cycles"])
    out[f"{p}_load_cycles"] = out["layer"].map(load).fillna(0).astype("int64")
    word = config.weight_bytes
    out[f"{p}_weight_dram_read_words"] = s["weight_dram_bytes_read"] // word
    out[f"{p}_activation_dram_read_words"] = s["activation_dram_bytes_read"] // word
    out[f"{p}_activation_dram_write_words"] = s["activation_dram_bytes_written"] // word
    # the traffic breakdown's activation-SRAM energy by operand role
    traffic = result.traffic_totals(by=("run", "layer_name", "operand", "level"))
    t = traffic.loc["trace"].reset_index()
    t = t[t["level"] == "activation_sram"].pivot_table(
        index="layer_name", columns="operand", values="energy_pj", aggfunc="sum").fillna(0.0)
    for role in t.columns:
        out[f"{p}_{role}_activation_sram_pj"] = out["layer"].map(t[role]).fillna(0.0)
    return out


# ---------------------------------------------------------------- the comparison

def _pct(ours: float, theirs: float) -> float:
    return float("nan") if theirs == 0 else 100.0 * (ours - theirs) / theirs


def compare(zz: pd.DataFrame, accel: dict[str, pd.DataFrame], order: list[str]) -> pd.DataFrame:
    """One row per layer (in execution order) and a TOTAL row: per level, ZigZag's and each
    accelsim policy's energy, and accelsim's difference in %."""
    table = pd.DataFrame({"layer": order}).merge(zz, on="layer", how="left")
    for frame in accel.values():
        table = table.merge(frame, on="layer", how="left")
    numeric = [c for c in table.columns if c != "layer" and pd.api.types.is_numeric_dtype(
        table[c])]
    total = {"layer": "TOTAL", **{c: table[c].sum() for c in numeric}}
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    parts = list(LEVELS) + ["mac"]
    table["zigzag_dynamic_pj"] = table[[f"zigzag_{lv}_pj" for lv in parts]].sum(axis=1)
    for policy in accel:
        p = f"accelsim_{policy}"
        table[f"{p}_dynamic_pj"] = table[[f"{p}_{lv}_pj" for lv in parts]].sum(axis=1)
        for lv in parts + ["dynamic", "latency"]:
            unit = "cycles" if lv == "latency" else "pj"
            table[f"{p}_{lv}_diff_pct"] = [
                _pct(a, z) for a, z in zip(table[f"{p}_{lv}_{unit}"],
                                           table[f"zigzag_{lv}_{unit}"])]
    return table


# ---------------------------------------------------------------- output

LABELS = {"register_array": "register/array", "weight_sram": "weight SRAM",
          "activation_sram": "activation SRAM", "dram": "DRAM", "mac": "MAC",
          "dynamic": "total (dynamic)", "latency": "latency (cycles)"}


def _uj(pj: float) -> str:
    return f"{pj / 1e6:,.1f}"


def totals_rows(table: pd.DataFrame, policies) -> list[list[str]]:
    t = table[table["layer"] == "TOTAL"].iloc[0]
    rows = []
    for lv, label in LABELS.items():
        unit = "cycles" if lv == "latency" else "pj"
        fmt = (lambda v: f"{v:,.0f}") if lv == "latency" else _uj
        row = [label, fmt(t[f"zigzag_{lv}_{unit}"])]
        for policy in policies:
            p = f"accelsim_{policy}"
            row += [fmt(t[f"{p}_{lv}_{unit}"]), f"{t[f'{p}_{lv}_diff_pct']:+.1f}"]
        rows.append(row)
    return rows


def layer_rows(table: pd.DataFrame, policy: str) -> list[list[str]]:
    p = f"accelsim_{policy}"
    rows = []
    for _, r in table.iterrows():
        row = [str(r["layer"])]
        for lv in list(LEVELS) + ["dynamic"]:
            row += [_uj(r[f"zigzag_{lv}_pj"]), _uj(r[f"{p}_{lv}_pj"])]
        row += [f"{r['zigzag_latency_cycles']:,.0f}", f"{r[f'{p}_latency_cycles']:,.0f}"]
        rows.append(row)
    return rows


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths)))
    for r in rows:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths)))


def headers_totals(policies) -> list[str]:
    head = ["level", "ZigZag (uJ)"]
    for policy in policies:
        head += [f"accelsim {policy} (uJ)", f"{policy} vs ZigZag %"]
    return head


HEADERS_LAYERS = ["layer"] + [f"{who} {LABELS[lv]}" for lv in list(LEVELS) + ["dynamic"]
                              for who in ("ZZ", "acc")] + ["ZZ cycles", "acc cycles"]


def large_differences(table: pd.DataFrame, policies) -> list[str]:
    """Every per-level total difference above the threshold, by policy (for the report)."""
    t = table[table["layer"] == "TOTAL"].iloc[0]
    out = []
    for policy in policies:
        for lv in list(LABELS):
            diff = t[f"accelsim_{policy}_{lv}_diff_pct"]
            if abs(diff) > DIFF_THRESHOLD_PCT:
                out.append(f"{policy} {LABELS[lv]}: {diff:+.1f}%")
    return out


def write_reports(table: pd.DataFrame, hw: MatchedHardware, facts: dict, policies,
                  explanation: str) -> tuple[Path, Path]:
    csv_path, md_path = REPORT_DIR / "zigzag.csv", REPORT_DIR / "zigzag.md"
    total = table[table["layer"] == "TOTAL"].iloc[0]
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    lines = ["# accelsim beside ZigZag: ResNet-18 inference, batch 1", "",
             f"Written by `benchmarks/vs_zigzag.py` (ZigZag {facts['zigzag_version']}, "
             f"LOMA temporal mapping search, `opt={facts['opt']}`, "
             f"`lpf_limit={facts['lpf_limit']}`; its per-layer results are cached in "
             "`reports/validation/zigzag/`). Hardware: accelsim's default accelerator, "
             "matched in ZigZag (energies per bit below). Dynamic energy in uJ; accelsim's "
             "static energy (SRAM leakage, DRAM background), which ZigZag does not model, is "
             "left out and listed below.", "",
             "## Totals", "",
             markdown_table(headers_totals(policies), totals_rows(table, policies)), "",
             "accelsim static energy (not in the totals): " + ", ".join(
                 f"{policy} {_uj(total[f'accelsim_{policy}_static_pj'])} uJ"
                 for policy in policies), "",
             "Agreement held by `tests/benchmarks/test_vs_zigzag_cache.py` "
             "(default mapper, totals): "
             + ", ".join(f"{LABELS[lv]} within {tol:g} %" for lv, tol in AGREEMENT_PCT.items())
             + ".", "",
             "Differences above 10 %: " + ("; ".join(large_differences(table, policies))
                                            or "none"), "",
             explanation, "",
             "## Matched hardware", "",
             "```", json.dumps(asdict(hw), indent=1), "```", ""]
    for policy in policies:
        lines += [f"## Per layer, accelsim `{policy}` (ZZ = ZigZag, acc = accelsim; uJ)", "",
                  markdown_table(HEADERS_LAYERS, layer_rows(table, policy)), ""]
    write_text_atomic(md_path, "\n".join(lines))
    return csv_path, md_path


def load_cache() -> tuple[pd.DataFrame, dict] | None:
    if not (CACHE_LAYERS.exists() and CACHE_HARDWARE.exists()):
        return None
    meta = json.loads(CACHE_HARDWARE.read_text())
    return pd.read_csv(CACHE_LAYERS), meta


def save_cache(raw: pd.DataFrame, hw: MatchedHardware, facts: dict) -> None:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with atomic_path(CACHE_LAYERS) as tmp:
        raw.to_csv(tmp, index=False, float_format="%.10g")
    write_text_atomic(CACHE_HARDWARE, json.dumps({"hardware": asdict(hw), **facts}, indent=1)
                      + "\n")


EXPLANATION_FILE = REPORT_DIR / "zigzag_explanations.md"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zigzag-venv", default=os.environ.get("ZIGZAG_VENV"),
                        help="ZigZag's venv (or env ZIGZAG_VENV)")
    parser.add_argument("--use-cache", action="store_true",
                        help="use the cached ZigZag results, do not run ZigZag")
    parser.add_argument("--policy", nargs="+", default=list(POLICIES), choices=POLICIES)
    parser.add_argument("--lpf-limit", type=int, default=6,
                        help="ZigZag LOMA's loop prime factor limit")
    parser.add_argument("--zigzag-locality", action="store_true",
                        help="a check, printed only: ZigZag with its inter-layer locality "
                             "search (layers linked by shape), which keeps activations and "
                             "weights that fit on chip as accelsim's mapper does")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.zigzag_locality:
        args.no_write = True  # the cache and the report hold the layer-by-layer run
        if venv_python(args.zigzag_venv) is None:
            print("vs_zigzag: skipped: --zigzag-locality needs a ZigZag venv")
            return 0

    hw = matched_hardware(default_config())
    python = None if args.use_cache else venv_python(args.zigzag_venv)
    if python is None:
        cached = load_cache()
        if cached is None:
            print(f"vs_zigzag: skipped: no ZigZag venv (--zigzag-venv / ZIGZAG_VENV: "
                  f"{args.zigzag_venv!r}) and no cache in {CACHE_DIR.relative_to(REPO_ROOT)}")
            return 0
        raw, meta = cached
        if meta["hardware"] != asdict(hw):
            print("vs_zigzag: warning: the cached ZigZag run used other hardware figures than "
                  "accelsim's default config has now; rerun with --zigzag-venv")
        facts = {k: v for k, v in meta.items() if k != "hardware"}
        print(f"vs_zigzag: ZigZag results from the cache ({facts['zigzag_version']})")
    layers = ssr.network_layers(NETWORK)
    if python is not None:
        raw, facts = run_zigzag(python, layers, hw, lpf_limit=args.lpf_limit,
                                locality=args.zigzag_locality)
        if not args.no_write:
            save_cache(raw, hw, facts)
    order = layers.sort_values("exec_order", kind="stable")["name"].astype(str).tolist()
    accel = {policy: accelsim_levels(layers, policy) for policy in args.policy}
    table = compare(zigzag_levels(raw), accel, order)
    print_table(headers_totals(args.policy), totals_rows(table, args.policy))
    print("\ndifferences above 10 %: " + ("; ".join(large_differences(table, args.policy))
                                           or "none"))
    if not args.no_write:
        explanation = (EXPLANATION_FILE.read_text() if EXPLANATION_FILE.exists() else "")
        csv_path, md_path = write_reports(table, hw, facts, args.policy, explanation)
        print(f"wrote {csv_path.relative_to(REPO_ROOT)} and {md_path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
