"""Build accelsim's SRAM technology table by running CACTI 7 over a grid of organisations.

Runs CACTI (github HewlettPackard/cacti, version 7.0) on every organisation of the grid below
(capacity lines through a reference organisation, varying banks, width or ports, at every node
and cell type), and writes ``accelsim/config/tables/cacti_sram.csv`` (one row per organisation
CACTI could build) and ``cacti_sram.json`` (CACTI's version, the commit it was built from, the
fixed part of the CACTI configuration and the grid). `accelsim.config.technology` reads both;
nothing else is needed at run time.

``--held-out`` instead runs CACTI at points the table does not hold (capacities at odd eighths
of an octave, widths and bank counts between its values, off-line combinations) and writes
``tests/data/cacti_held_out.csv``, against which the tests check the table's interpolation
without CACTI, and prints the reader's median and worst error per figure and how much of it
CACTI's own jumps account for; ``--report`` prints the same from the stored file (no CACTI).
``--reuse-table`` takes the points the committed table already holds from it (the same CACTI
commit and configuration) and runs only the new ones.

CACTI is not part of accelsim: build it outside the package, e.g.

    git clone https://github.com/HewlettPackard/cacti benchmarks/.build/cacti
    make -C benchmarks/.build/cacti -f cacti.mk TAG=opt OPT="-O2 -DNTHREADS=2"

(``mkdir obj_opt`` first) and pass ``--cacti benchmarks/.build/cacti/cacti`` (the default).
Without it the script says so and exits 0. Runs in parallel (``--jobs``); the whole grid (2,595
organisations) takes about an hour on 2 shared cores, CACTI's large arrays the longest.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accelsim.config.technology import (  # noqa: E402  (the repository's copy, not an install)
    CELL_TYPES,
    FIGURES,
    HELD_OUT_PATH,
    KEY_COLUMNS,
    NODES_NM,
    TABLE_COLUMNS,
    TABLE_METADATA_PATH,
    TABLE_PATH,
    SramTable,
)

DEFAULT_CACTI = ROOT / "benchmarks" / ".build" / "cacti" / "cacti"

# The grid: capacities on three lines through the reference organisation (REFERENCE: 64-bit,
# one bank, one port), each varying one of banks, width and ports. Between and off the lines
# the table's reader combines them (`accelsim.config.technology.SramTable`).
# The bank lines hold every quarter octave (2^k x 1, 5/4, 3/2, 7/4): CACTI keeps one array
# organisation over a stretch of capacities, where its figures are affine in the capacity, and
# switches to another (a jump, often downward) at capacities between powers of two, so an
# octave grid interpolates across those jumps (7 % median, 32 % worst read energy on held-out
# points) where a quarter-octave one mostly stays on one organisation.
# Quarter octaves at the default node only: the other nodes keep powers of two (a
# quarter-octave grid at every node is about 4,300 CACTI runs, over an hour on 2 shared cores).
QUARTER_OCTAVES = (8, 10, 12, 14)  # eighths of 2^k
QUARTER_OCTAVE_NODES_NM = (45,)
CAPACITIES_BYTES = tuple(sorted({2 ** k * m // 8 for k in range(10, 25) for m in QUARTER_OCTAVES}
                                | {2 ** 25}))  # 1 KiB .. 32 MiB
REFERENCE = {"width_bits": 64, "banks": 1, "ports": 1}
LINES = {"banks": (1, 4, 16, 32, 64), "width_bits": (8, 16, 32, 64, 128), "ports": (1, 2)}
# the width and port lines hold powers of two only (the reader takes their factor over the
# reference organisation, which moves less between octaves than the figures do), up to the
# largest capacity (a line that stopped short would have its factor held constant beyond)
OCTAVE_LINES = ("width_bits", "ports")
LINE_MAX_CAPACITY_BYTES: dict[str, int] = {}
TEMPERATURE_K = 350

# The fixed part of every CACTI input: a scratch RAM (no tags), one UCA, the data and periphery
# of the cell type asked for, CACTI's default ED^2 optimisation with its cache.cfg weights.
FIXED_CONFIG = {
    "cache type": "ram",
    "associativity": 1,
    "operating temperature (K)": TEMPERATURE_K,
    "access mode": "normal",
    "design objective (weight delay, dynamic power, leakage power, cycle time, area)":
        "0:0:0:100:0",
    "deviate (delay, dynamic power, leakage power, cycle time, area)":
        "20:100000:100000:100000:100000",
    "Optimize ED or ED^2": "ED^2",
    "Cache model": "UCA",
    "Wire signaling": "Global_30",
    "Wire inside mat": "semi-global",
    "Wire outside mat": "semi-global",
    "Interconnect projection": "conservative",
    "Add ECC": "true",
    "power gating": "false",
}


def cacti_input(node_nm: int, cell_type: str, capacity_bytes: int, width_bits: int, banks: int,
                ports: int) -> str:
    """One CACTI .cfg file for this organisation (FIXED_CONFIG plus the point's values; the
    external-IO fields CACTI reads regardless are its cache.cfg defaults)."""
    f = FIXED_CONFIG
    lines = [
        f"-size (bytes) {capacity_bytes}",
        f"-block size (bytes) {width_bits // 8}",
        f"-associativity {f['associativity']}",
        f"-read-write port {ports}",
        "-exclusive read port 0",
        "-exclusive write port 0",
        "-single ended read ports 0",
        f"-UCA bank count {banks}",
        f"-technology (u) {node_nm / 1000:.3f}",
        "-page size (bits) 8192",
        "-burst length 8",
        "-internal prefetch width 8",
        f'-Data array cell type - "{cell_type}"',
        f'-Data array peripheral type - "{cell_type}"',
        f'-Tag array cell type - "{cell_type}"',
        f'-Tag array peripheral type - "{cell_type}"',
        f"-output/input bus width {width_bits}",
        f"-operating temperature (K) {f['operating temperature (K)']}",
        f'-cache type "{f["cache type"]}"',
        '-tag size (b) "default"',
        f'-access mode (normal, sequential, fast) - "{f["access mode"]}"',
        "-design objective (weight delay, dynamic power, leakage power, cycle time, area) "
        + f["design objective (weight delay, dynamic power, leakage power, cycle time, area)"],
        "-deviate (delay, dynamic power, leakage power, cycle time, area) "
        + f["deviate (delay, dynamic power, leakage power, cycle time, area)"],
        "-NUCAdesign objective (weight delay, dynamic power, leakage power, cycle time, area) "
        "100:100:0:0:100",
        "-NUCAdeviate (delay, dynamic power, leakage power, cycle time, area) "
        "10:10000:10000:10000:10000",
        f'-Optimize ED or ED^2 (ED, ED^2, NONE): "{f["Optimize ED or ED^2"]}"',
        f'-Cache model (NUCA, UCA)  - "{f["Cache model"]}"',
        "-NUCA bank count 0",
        f'-Wire signaling (fullswing, lowswing, default) - "{f["Wire signaling"]}"',
        f'-Wire inside mat - "{f["Wire inside mat"]}"',
        f'-Wire outside mat - "{f["Wire outside mat"]}"',
        f'-Interconnect projection - "{f["Interconnect projection"]}"',
        "-Core count 8",
        '-Cache level (L2/L3) - "L3"',
        f'-Add ECC - "{f["Add ECC"]}"',
        '-Print level (DETAILED, CONCISE) - "CONCISE"',
        '-Print input parameters - "false"',
        '-Force cache config - "false"',
        "-Ndwl 1", "-Ndbl 1", "-Nspd 0", "-Ndcm 1", "-Ndsam1 0", "-Ndsam2 0",
        '-Array Power Gating - "false"', '-WL Power Gating - "false"',
        '-CL Power Gating - "false"', '-Bitline floating - "false"',
        '-Interconnect Power Gating - "false"', "-Power Gating Performance Loss 0.01",
        # external-IO fields: unused for an SRAM, but CACTI divides by some of them
        '-dram_type "DDR3"', '-io state "WRITE"', "-addr_timing 1.0", "-mem_density 4 Gb",
        "-bus_freq 800 MHz", "-duty_cycle 1.0", "-activity_dq 1.0", "-activity_ca 0.5",
        "-num_dq 72", "-num_dqs 18", "-num_ca 25", "-num_clk  2", "-num_mem_dq 2",
        "-mem_data_width 8", "-rtt_value 10000", "-ron_value 34", "-tflight_value",
        "-num_bobs 1", "-capacity 80", "-num_channels_per_bob 1", '-first metric "Cost"',
        '-second metric "Bandwidth"', '-third metric "Energy"', '-DIMM model "ALL"',
        '-mirror_in_bob "F"',
    ]
    return "\n".join(lines) + "\n"


_FIELDS = {
    "access_time_ns": r"Access time \(ns\):\s*([-\d.eE+]+)",
    "cycle_time_ns": r"Cycle time \(ns\):\s*([-\d.eE+]+)",
    "read_nj": r"Total dynamic read energy per access \(nJ\):\s*([-\d.eE+]+)",
    "write_nj": r"Total dynamic write energy per access \(nJ\):\s*([-\d.eE+]+)",
    "leak_mw": r"Total leakage power of a bank \(mW\):\s*([-\d.eE+]+)",
    "gate_leak_mw": r"Total gate leakage power of a bank \(mW\):\s*([-\d.eE+]+)",
    "height_mm": r"Cache height x width \(mm\):\s*([-\d.eE+]+) x",
    "width_mm": r"Cache height x width \(mm\):\s*[-\d.eE+]+ x\s*([-\d.eE+]+)",
}
VERSION_PATTERN = r"CACTI \(version ([^)]*)\)"


def parse_output(text: str, banks: int) -> dict | None:
    """The table row's figures from CACTI's output, or None where it found no organisation.

    Energies per access (one bank's access and the routing to it, as CACTI adds them up);
    leakage = (subthreshold + gate leakage of one bank) x banks, in mW (CACTI prints one bank's);
    area = the whole array's height x width."""
    found = {}
    for key, pattern in _FIELDS.items():
        match = re.search(pattern, text)
        if match is None:
            return None
        found[key] = float(match.group(1))
    return {
        "read_energy_pj": found["read_nj"] * 1e3,
        "write_energy_pj": found["write_nj"] * 1e3,
        "leakage_power_mw": (found["leak_mw"] + found["gate_leak_mw"]) * banks,
        "area_mm2": found["height_mm"] * found["width_mm"],
        "access_time_ns": found["access_time_ns"],
        "cycle_time_ns": found["cycle_time_ns"],
    }


def run_cacti(cacti: Path, point: dict) -> tuple[dict | None, str]:
    """Run CACTI on one point (its working folder: the binary's, for tech_params/)."""
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as handle:
        handle.write(cacti_input(**point))
        cfg = handle.name
    try:
        done = subprocess.run([str(cacti), "-infile", cfg], cwd=cacti.parent, capture_output=True,
                              text=True, timeout=600, check=False)
    finally:
        Path(cfg).unlink()
    row = parse_output(done.stdout, point["banks"])
    return (None if row is None else {**point, **row}), done.stdout


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _key(point: dict) -> str:
    return json.dumps([point[k] for k in ("node_nm", "cell_type", "capacity_bytes",
                                          "width_bits", "banks", "ports")])


def run_points(cacti: Path, points: list[dict], jobs: int, cache: Path | None = None,
               known: list[dict] | None = None) -> tuple[list[dict], str]:
    """CACTI's rows for `points` (in their order; those CACTI cannot build left out), and its
    version string. With `cache` (a JSON-lines file) finished points are kept there, so an
    interrupted run resumes; rows in `known` (CACTI's output for the same binary and
    configuration) are taken as they are."""
    done: dict[str, dict] = {_key(row): {"key": _key(row), "version": "", "row": row}
                             for row in known or []}
    if cache is not None and cache.exists():
        for line in cache.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            done[entry["key"]] = entry
    todo = [p for p in points if _key(p) not in done]
    print(f"{len(points)} points, {len(todo)} to run, {jobs} at a time", flush=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for i, (row, out) in enumerate(pool.map(lambda p: run_cacti(cacti, p), todo)):
            match = re.search(VERSION_PATTERN, out)
            entry = {"key": _key(todo[i]), "version": match.group(1) if match else "",
                     "row": None if row is None else
                     {k: (_fmt(v) if isinstance(v, float) else v) for k, v in row.items()}}
            done[entry["key"]] = entry
            if cache is not None:
                with cache.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry) + "\n")
            if (i + 1) % 100 == 0:
                print(f"  {i + 1}/{len(todo)}", flush=True)
    entries = [done[_key(p)] for p in points]
    version = next((e["version"] for e in entries if e["version"]), "")
    return [e["row"] for e in entries if e["row"] is not None], version


def write_csv(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(TABLE_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def grid_points() -> list[dict]:
    """Every capacity on each line, every node and cell type; 45 nm first (the default)."""
    points, seen = [], set()
    nodes = sorted(NODES_NM, key=lambda n: (n != 45, n))
    for node, cell, capacity in itertools.product(nodes, CELL_TYPES, CAPACITIES_BYTES):
        for axis, values in LINES.items():
            octave_only = axis in OCTAVE_LINES or node not in QUARTER_OCTAVE_NODES_NM
            if capacity > LINE_MAX_CAPACITY_BYTES.get(axis, capacity) or (
                    octave_only and capacity & (capacity - 1)):
                continue
            for value in values:
                organisation = {**REFERENCE, axis: value}
                point = {"node_nm": node, "cell_type": cell, "capacity_bytes": capacity,
                         **organisation}
                if _key(point) not in seen:
                    seen.add(_key(point))
                    points.append(point)
    return points


def held_out_points() -> list[dict]:
    """Points the table does not hold, at every node and cell type: capacities at odd eighths
    of an octave (between the bank lines' quarter octaves; 53,248 B and 6.5 MiB are where CACTI
    switches organisation at 45 nm), widths and bank counts between the lines' values,
    combinations off the lines, and two ports on a large array."""
    shapes = [  # (capacity, width, banks, ports)
        (9 * 2 ** 9, 32, 1, 1), (13 * 2 ** 12, 64, 1, 1), (11 * 2 ** 16, 64, 4, 1),
        (13 * 2 ** 19, 64, 32, 1), (15 * 2 ** 21, 128, 16, 1), (11 * 2 ** 13, 32, 16, 1),
        (2 ** 20, 64, 8, 1), (2 ** 22, 64, 2, 1), (2 ** 16, 24, 1, 1), (2 ** 18, 48, 1, 1),
        (9 * 2 ** 18, 96, 32, 1), (15 * 2 ** 20, 64, 32, 2),
    ]
    return [{"node_nm": node, "cell_type": cell, "capacity_bytes": c, "width_bits": w,
             "banks": b, "ports": p}
            for node, cell, (c, w, b, p) in itertools.product(NODES_NM, CELL_TYPES, shapes)]


def _neighbours(axis: list[int], value: int) -> list[int]:
    """`value` if `axis` holds it, else the held values either side of it."""
    if value in axis:
        return [value]
    below, above = [a for a in axis if a < value], [a for a in axis if a > value]
    return below[-1:] + above[:1]


def outside_neighbours(table: SramTable, row: dict) -> dict[str, float]:
    """How far CACTI's figures at a held-out `row` lie outside the range of the table's
    answers at its neighbours (the capacities, widths and bank counts either side of it, every
    corner), relative to CACTI's: 0 where CACTI is between them. No reading that stays between
    its neighbours (every interpolation does) can come closer; the part of the error CACTI's
    own jumps (a non-monotone step between organisations) account for."""
    node, cell = int(row["node_nm"]), str(row["cell_type"])
    capacity, width, banks, ports = (int(row[k]) for k in ("capacity_bytes", "width_bits",
                                                          "banks", "ports"))
    reference = table.reference
    capacities = sorted(int(k[2]) for k in table.rows
                        if k[:2] == (node, cell) and k[3:] == (reference[0], banks, reference[2]))
    if not capacities:  # a bank count the table does not hold: its nearest lines' capacities
        capacities = sorted({int(k[2]) for k in table.rows if k[:2] == (node, cell)})
    corners = [table.lookup(node, cell, c, w, b, ports) for c, w, b in itertools.product(
        _neighbours(capacities, capacity),
        _neighbours([int(v) for v in table._axis(node, cell, 0)], width),
        _neighbours([int(v) for v in table._axis(node, cell, 1)], banks))]
    out = {}
    for figure in TABLE_COLUMNS[len(KEY_COLUMNS):]:
        want = float(row[figure])
        values = [getattr(corner, figure) for corner in corners]
        out[figure] = max(0.0, min(values) - want, want - max(values)) / want
    return out


def held_out_report(rows: list[dict], table: SramTable | None = None) -> list[str]:
    """Per figure: the reader's median and worst error on the held-out `rows`, and the part of
    it no interpolation between the table's points can remove (`outside_neighbours`)."""
    table = table or SramTable.load()
    errors = table.errors(rows)
    floors = [outside_neighbours(table, row) for row in rows]
    lines = [f"{len(rows)} held-out points; relative error of the table's reader against "
             "live CACTI, and how far CACTI lies outside the table's answers at the point's "
             "neighbours (no interpolation can close that part)",
             f"{'figure':18} {'median':>7} {'worst':>7} {'outside median':>15} "
             f"{'outside worst':>14} {'points outside':>15} {'worst inside':>13}"]
    for figure, error in errors.items():
        floor = np.array([f[figure] for f in floors])
        inside = error[floor == 0]
        lines.append(f"{figure:18} {100 * np.median(error):6.1f}% {100 * error.max():6.1f}% "
                     f"{100 * np.median(floor):14.1f}% {100 * floor.max():13.1f}% "
                     f"{np.mean(floor > 0):14.0%} "
                     f"{100 * inside.max() if len(inside) else 0.0:12.1f}%")
    quarter = set(table.metadata.get("grid", {}).get("quarter_octave_nodes_nm", []))
    for name, keep in (("quarter-octave nodes", True), ("octave nodes", False)):
        chosen = [i for i, row in enumerate(rows) if (int(row["node_nm"]) in quarter) == keep]
        if chosen:
            parts = [f"{f} {100 * np.median(errors[f][chosen]):.1f}% / "
                     f"{100 * errors[f][chosen].max():.1f}%" for f in FIGURES[:4]]
            lines.append(f"{name} ({len(chosen)} points), median / worst: " + ", ".join(parts))
    return lines


DEVICE_PARAMS = {"C_g_ideal (F/um)": "C_g_ideal_F_per_um", "C_fringe (F/um)": "C_fringe_F_per_um",
                 "Vdd (V)": "Vdd_V"}
DEVICE_COLUMNS = ("itrs-hp", "itrs-lstp", "itrs-lop")  # the first three columns of a .dat file


def device_params(cacti: Path) -> dict:
    """Gate capacitance and supply voltage per node and device type, from CACTI's
    tech_params/<node>nm.dat (what the datapath's scaling rule reads)."""
    out: dict = {}
    for node in NODES_NM:
        text = (cacti.parent / "tech_params" / f"{node}nm.dat").read_text(encoding="utf-8")
        params: dict = {d: {} for d in DEVICE_COLUMNS}
        for line in text.splitlines():
            for name, key in DEVICE_PARAMS.items():
                if line.startswith(f"-{name} ") and not params["itrs-hp"].get(key):
                    values = line[len(name) + 1:].split()
                    for device, value in zip(DEVICE_COLUMNS, values, strict=False):
                        params[device][key] = float(value)
        out[str(node)] = params
    return out


def commit_of(cacti: Path) -> str:
    head = subprocess.run(["git", "-C", str(cacti.parent), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=False)
    return head.stdout.strip() if head.returncode == 0 else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cacti", type=Path, default=DEFAULT_CACTI, help="a built CACTI binary")
    parser.add_argument("--commit", default="", help="the CACTI commit it was built from "
                        "(default: asked of git beside the binary)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--metadata-only", action="store_true",
                        help="rewrite the table's metadata only (the CSV as it is)")
    parser.add_argument("--held-out", action="store_true",
                        help="run the held-out points and check the table against them")
    parser.add_argument("--report", action="store_true",
                        help="print the reader's error on the stored held-out points (no CACTI "
                        "needed)")
    parser.add_argument("--reuse-table", action="store_true",
                        help="take the points the committed table holds from it instead of "
                        "running them again (same CACTI commit and configuration only)")
    args = parser.parse_args(argv)
    if args.report:
        with HELD_OUT_PATH.open(newline="", encoding="utf-8") as handle:
            print("\n".join(held_out_report(list(csv.DictReader(handle)))))
        return 0
    if not args.cacti.is_file():
        print(f"no CACTI binary at {args.cacti}: build one (see this script's docstring); "
              "skipped")
        return 0
    cache = ROOT / "benchmarks" / ".build" / "cacti_runs.jsonl"
    cache.parent.mkdir(parents=True, exist_ok=True)
    if args.held_out:
        rows, _ = run_points(args.cacti, held_out_points(), args.jobs, cache)
        HELD_OUT_PATH.parent.mkdir(parents=True, exist_ok=True)
        write_csv(HELD_OUT_PATH, rows)
        print(f"{len(rows)} held-out points -> {HELD_OUT_PATH.relative_to(ROOT)}")
        print("\n".join(held_out_report(rows)))
        return 0
    points = grid_points()
    if args.metadata_only:
        with TABLE_PATH.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        _, version = run_points(args.cacti, points[:1], 1, cache)
    else:
        known = None
        if args.reuse_table:
            with TABLE_PATH.open(newline="", encoding="utf-8") as handle:
                known = [{k: (int(v) if k in KEY_COLUMNS and k != "cell_type" else v)
                          for k, v in row.items()} for row in csv.DictReader(handle)]
        rows, version = run_points(args.cacti, points, args.jobs, cache, known)
        TABLE_PATH.parent.mkdir(parents=True, exist_ok=True)
        write_csv(TABLE_PATH, rows)
    metadata = {
        "generator": "benchmarks/cacti_table.py",
        "cacti_version": version,
        "cacti_source": "github.com/HewlettPackard/cacti",
        "cacti_commit": args.commit or commit_of(args.cacti),
        "fixed_config": FIXED_CONFIG,
        "grid": {"node_nm": list(NODES_NM), "cell_type": list(CELL_TYPES),
                 "capacity_bytes": list(CAPACITIES_BYTES), "reference": REFERENCE,
                 "lines": {k: list(v) for k, v in LINES.items()},
                 "octave_lines": list(OCTAVE_LINES),
                 "quarter_octave_nodes_nm": list(QUARTER_OCTAVE_NODES_NM),
                 "line_max_capacity_bytes": LINE_MAX_CAPACITY_BYTES},
        "device_params": device_params(args.cacti),
        "device_params_source": "CACTI 7 tech_params/<node>nm.dat (hp, lstp, lop columns)",
        "rows": len(rows),
        "runs": len(points),
        "units": {"read_energy_pj": "pJ per access of width_bits",
                  "write_energy_pj": "pJ per access of width_bits",
                  "leakage_power_mw": "mW, subthreshold + gate leakage of all banks",
                  "area_mm2": "mm2, the whole array", "access_time_ns": "ns",
                  "cycle_time_ns": "ns"},
    }
    tmp = TABLE_METADATA_PATH.with_suffix(".tmp")
    tmp.write_text(json.dumps(metadata, indent=1) + "\n", encoding="utf-8")
    tmp.replace(TABLE_METADATA_PATH)
    print(f"{len(rows)} of {len(points)} organisations -> {TABLE_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
