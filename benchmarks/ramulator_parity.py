"""accelsim's DRAM model against Ramulator 2.1, stream by stream: DRAM cycles and row hits.

Run:  .venv/bin/python benchmarks/ramulator_parity.py --ramulator /path/to/ramulator2
      (or RAMULATOR2_DIR=...; a Ramulator 2.1 tree holding the built libramulator.so, its
      src/ and python/ folders). Prints a table and, with --report, writes
      reports/validation/ramulator_parity.md and .csv. Skips cleanly (exit 0) without a build.
      Not a test.

Building Ramulator 2.1 offline: its CMakeLists fetches yaml-cpp, fmt and nanobind with
FetchContent. Replace that block with ``find_package(yaml-cpp REQUIRED)`` and
``find_package(fmt REQUIRED)`` (Debian: libyaml-cpp-dev, libfmt-dev; add the alias
``yaml-cpp::yaml-cpp`` for Debian's un-namespaced ``yaml-cpp`` target) and configure with
``-DRAMULATOR_PYTHON_BINDINGS=OFF`` (no nanobind; the config export is pure Python and
needs no build). README "Ramulator 2" gives the exact steps.

How: the same streams as benchmarks/dram_parity.py (imported from it: sequential, random,
tile-sized read/write mixes, burst-interleaved copy, and the streams accelsim records for the
LeNet-300-100 sample and a ResNet-18 step, dense and DropBack), the recorded ones twice: at
the DRAM cycles accelsim issued them, and all at cycle 0 ("at once", the DRAM alone).
accelsim times each with `accelsim.sim.dram.replay.replay_trace`; Ramulator replays it through
benchmarks/ramulator2_driver/driver.cc (External front end, each request offered at its
arrival cycle, run until every request completed) with the config
`accelsim.sim.dram.export_ramulator.ramulator2_config_script` writes from the same
DramConfig (organisation, every timing Ramulator lets a config set, queue depths, FR-FCFS,
open page) and the addresses rewritten into Ramulator's RoBaRaCoCh mapper so both see the
same banks and rows. DDR4-3200 and HBM2 (Ramulator 2.1 has no LPDDR4).

What cannot be matched, by construction: Ramulator issues a request's first command one
cycle after it arrives; its HBM2 ACT takes two command-bus cycles and row and column
commands have separate buses; its read-to-write gap is nCL + nBL + 2 - nCWL; refresh is
its AllBank manager; write coalescing and read forwarding in its write buffer.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from dram_parity import recorded_streams, synthetic_streams  # noqa: E402

from accelsim.config import dram_preset  # noqa: E402
from accelsim.io import write_text_atomic  # noqa: E402
from accelsim.sim.dram.export import export_dram_trace  # noqa: E402
from accelsim.sim.dram.export_ramulator import (  # noqa: E402
    ramulator2_addresses,
    ramulator2_config_script,
    ramulator2_mapping,
    ramulator2_rows,
)
from accelsim.sim.dram.replay import replay_trace  # noqa: E402

PRESETS = ("DDR4-3200", "HBM2")
BUILD = ROOT / "benchmarks" / ".build"
DRIVER_SOURCE = ROOT / "benchmarks" / "ramulator2_driver" / "driver.cc"
REPORT = ROOT / "reports" / "validation" / "ramulator_parity.md"
CSV = ROOT / "reports" / "validation" / "ramulator_parity.csv"


# ---- Ramulator ---------------------------------------------------------------------------------
def find_ramulator(given: str | None) -> Path | None:
    folder = given or os.environ.get("RAMULATOR2_DIR")
    if not folder:
        return None
    folder = Path(folder).resolve()
    needed = ("libramulator.so", "src/ramulator/base/config.h", "python/ramulator/__init__.py")
    return folder if all((folder / part).exists() for part in needed) else None


def build_driver(ramulator: Path) -> Path:
    driver = BUILD / "ramulator2_driver"
    library = ramulator / "libramulator.so"
    newest = max(DRIVER_SOURCE.stat().st_mtime, library.stat().st_mtime)
    if not driver.exists() or driver.stat().st_mtime < newest:
        BUILD.mkdir(parents=True, exist_ok=True)
        subprocess.run(["g++", "-O2", "-std=c++20", f"-I{ramulator / 'src'}", str(DRIVER_SOURCE),
                        f"-L{ramulator}", "-lramulator", "-lyaml-cpp", "-lfmt",
                        f"-Wl,-rpath,{ramulator}", "-o", str(driver)], check=True)
    return driver


def _stat_sum(stats_text: str, name: str) -> int:
    return sum(int(v) for v in re.findall(rf"^\s*{name}:\s*(\d+)\s*$", stats_text, re.M))


def run_ramulator(ramulator: Path, driver: Path, config, addresses, writes, arrival,
                  rewrite: bool = True, split: bool = False) -> dict:
    """Ramulator's finishing cycle and counters for the trace; `rewrite=False` replays
    accelsim's byte addresses as they are (what a plain LD/ST export gives Ramulator);
    `split=True` lets a read pass a write that the full write buffer refused (the driver
    keeps reads and writes in separate FIFOs)."""
    mapping = ramulator2_mapping(config)
    script_text = ramulator2_config_script(config, rows=ramulator2_rows(config, addresses))
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "config.py"
        script.write_text(script_text)
        yaml = Path(tmp) / "config.yaml"
        env = {**os.environ, "PYTHONPATH": str(ramulator / "python")}
        subprocess.run([sys.executable, "-m", "ramulator", "export", str(script), "-o",
                        str(yaml)], check=True, env=env, cwd=tmp)
        sent = ramulator2_addresses(config, addresses) if rewrite else addresses
        trace = export_dram_trace(sent, writes, arrival,
                                  Path(tmp) / "t.trace", "dramsim3")
        shift = int(np.log2(config.burst_bytes)) + mapping.interleave_bits
        write_data = config.tcwl_cycles + int(config.burst_cycles)
        stats_path = Path(tmp) / "stats.yaml"
        started = time.perf_counter()
        out = subprocess.run([str(driver), str(yaml), str(trace), str(config.channels),
                              str(shift), str(write_data), str(stats_path)]
                             + (["split"] if split else []), check=True,
                             capture_output=True, text=True, cwd=tmp).stdout
        seconds = time.perf_counter() - started
        stats_text = stats_path.read_text()
    result = json.loads(out.strip().splitlines()[-1])
    result["seconds"] = seconds
    for name in ("row_hits", "row_misses", "row_conflicts", "num_read_reqs_forwarded",
                 "num_write_reqs_coalesced"):
        result[name] = _stat_sum(stats_text, name)
    counted = result["row_hits"] + result["row_misses"] + result["row_conflicts"]
    result["row_hit_rate"] = result["row_hits"] / max(counted, 1)
    return result


# ---- table -------------------------------------------------------------------------------------
def compare(ramulator, driver, preset, name, addresses, writes, arrival) -> dict:
    config = dram_preset(preset)
    started = time.perf_counter()
    ours = replay_trace(config, addresses, writes, arrival)
    seconds = time.perf_counter() - started
    theirs = run_ramulator(ramulator, driver, config, addresses, writes, arrival)
    raw = run_ramulator(ramulator, driver, config, addresses, writes, arrival, rewrite=False)
    split = run_ramulator(ramulator, driver, config, addresses, writes, arrival, split=True)
    ours_hits = ours["row_hits"] / max(ours["bursts"], 1)
    return {
        "preset": preset, "stream": name, "bursts": int(addresses.size),
        "accelsim_cycles": ours["finish_cycle"], "ramulator_cycles": theirs["finish_cycle"],
        "cycles_error_pct": 100.0 * (ours["finish_cycle"] / theirs["finish_cycle"] - 1.0),
        "accelsim_row_hit_rate": ours_hits, "ramulator_row_hit_rate": theirs["row_hit_rate"],
        "row_hit_rate_diff": ours_hits - theirs["row_hit_rate"],
        "accelsim_activates": ours["activates"],
        "ramulator_misses_conflicts": theirs["row_misses"] + theirs["row_conflicts"],
        "ramulator_forwarded_coalesced": (theirs["num_read_reqs_forwarded"]
                                          + theirs["num_write_reqs_coalesced"]),
        "ramulator_split_cycles": split["finish_cycle"],
        "ramulator_split_row_hit_rate": split["row_hit_rate"],
        "ramulator_raw_address_cycles": raw["finish_cycle"],
        "ramulator_raw_address_row_hit_rate": raw["row_hit_rate"],
        "accelsim_seconds": seconds, "ramulator_seconds": theirs["seconds"],
    }


def markdown(rows, worst, command: str) -> str:
    lines = [
        "# accelsim against Ramulator 2.1",
        "",
        f"Written by `{command}` (Ramulator 2.1 built offline as the benchmark's docstring says;",
        "the driver is benchmarks/ramulator2_driver/driver.cc). Cycles are DRAM clock cycles to",
        "the last data on the bus; Ramulator's row hits are per request at its first command.",
        "Requests are offered in order per channel (as the DRAMsim3 driver does); the column",
        "\"reads pass\" keeps a channel's reads and writes in separate FIFOs, so a read may pass",
        "a write the full write buffer refused. The last column replays accelsim's byte",
        "addresses unrewritten through Ramulator's RoBaRaCoCh mapper (what a plain LD/ST",
        "export would get). accelsim: `replay_trace` with its default engine, the",
        "command-level controller, which equals DRAMsim3 to the cycle on these streams",
        "(dram_parity.md): so this table also measures how far DRAMsim3's scheduling policy",
        "and Ramulator's, two independently written FR-FCFS controllers, are apart.",
        "",
        "| DRAM | stream | bursts | accelsim cycles | Ramulator 2.1 cycles | cycles error | "
        "row hits accelsim / Ramulator | ACTs accelsim / Ramulator misses+conflicts | "
        "Ramulator, reads pass: cycles (row hits) | "
        "Ramulator, unrewritten addresses: cycles (row hits) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['stream']} | {r['bursts']:,} | "
                     f"{r['accelsim_cycles']:,.0f} | {r['ramulator_cycles']:,.0f} | "
                     f"{r['cycles_error_pct']:+.1f}% | {r['accelsim_row_hit_rate']:.3f} / "
                     f"{r['ramulator_row_hit_rate']:.3f} | {r['accelsim_activates']:,} / "
                     f"{r['ramulator_misses_conflicts']:,} | "
                     f"{r['ramulator_split_cycles']:,} "
                     f"({r['ramulator_split_row_hit_rate']:.3f}) | "
                     f"{r['ramulator_raw_address_cycles']:,} "
                     f"({r['ramulator_raw_address_row_hit_rate']:.3f}) |")
    lines.append(f"| **worst** | | | | | **{worst['cycles_error_pct']:+.1f}%** | "
                 f"**{worst['row_hit_rate_diff']:+.3f}** | | | |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ramulator", help="Ramulator 2.1 build (default $RAMULATOR2_DIR)")
    parser.add_argument("--presets", nargs="*", default=list(PRESETS))
    parser.add_argument("--max-bursts", type=int, default=1 << 18,
                        help="recorded streams longer than this are cut to a prefix")
    parser.add_argument("--synthetic-only", action="store_true")
    parser.add_argument("--report", action="store_true",
                        help=f"also write {REPORT.name} and {CSV.name}")
    args = parser.parse_args(argv)
    ramulator = find_ramulator(args.ramulator)
    if ramulator is None or shutil.which("g++") is None:
        print("skipped: no Ramulator 2.1 build (--ramulator or RAMULATOR2_DIR: a folder with "
              "libramulator.so, src/ and python/) or no g++")
        return 0
    driver = build_driver(ramulator)
    rows = []
    for preset in args.presets:
        config = dram_preset(preset)
        streams = list(synthetic_streams(config))
        if not args.synthetic_only:
            recorded = list(recorded_streams(preset, args.max_bursts))
            # as issued (mostly paced by the accelerator), then all offered at cycle 0, which
            # times the DRAM alone on the real address patterns
            streams += recorded + [(f"{name}, at once", a, w, np.zeros(a.size))
                                   for name, a, w, _ in recorded]
        for name, addresses, writes, arrival in streams:
            row = compare(ramulator, driver, preset, name, addresses, writes, arrival)
            rows.append(row)
            print(f"{preset:<10} {name:<28} {row['bursts']:>8} {row['accelsim_cycles']:>11.0f} "
                  f"{row['ramulator_cycles']:>11.0f} {row['cycles_error_pct']:>+7.1f}% "
                  f"{row['accelsim_row_hit_rate']:>6.3f} {row['ramulator_row_hit_rate']:>6.3f} "
                  f"{row['accelsim_activates']:>8} {row['ramulator_misses_conflicts']:>8}",
                  flush=True)
    worst = {key: max(rows, key=lambda r: abs(r[key]))[key]
             for key in ("cycles_error_pct", "row_hit_rate_diff")}
    print(f"worst: cycles {worst['cycles_error_pct']:+.1f}%, row-hit rate "
          f"{worst['row_hit_rate_diff']:+.3f}")
    if args.report:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v)
                             for k, v in r.items()})
        write_text_atomic(CSV, buffer.getvalue())
        command = "python benchmarks/ramulator_parity.py " + " ".join(
            a for a in (argv if argv is not None else sys.argv[1:])
            if not a.startswith("/") and not a.startswith("--ramulator"))
        write_text_atomic(REPORT, markdown(rows, worst, command.strip()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
