"""Run every benchmark in this folder with its default (quick) settings, one after another.
Each prints its table and writes its CSV under benchmarks/results/. The comparisons
with reference tools (SCALE-Sim, ZigZag, DRAMsim3, Ramulator 2) read their cached results or
skip cleanly when the tool is not found (each script's docstring says where it looks)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["dropback_overhead.py", "trace_overhead.py", "dram_closed_form.py", "sim_speed.py",
           "sim_scale.py", "sim_snapshots.py", "bench_scalesim_policy.py", "vs_scalesim.py",
           "vs_scalesim_memory.py", "vs_zigzag.py", "dram_parity.py", "ramulator_parity.py",
           "dram_timing_modes.py", "dram_engines.py", "fuzz_cli.py", "cli_startup.py",
           "sweep_reuse.py"]

if __name__ == "__main__":
    failed = []
    for script in SCRIPTS:
        print(f"\n=== {script} ===", flush=True)
        if subprocess.run([sys.executable, str(HERE / script)]).returncode:
            failed.append(script)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
