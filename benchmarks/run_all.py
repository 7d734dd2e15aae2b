"""Run every benchmark in this folder with its default (quick) settings, one after another.
Each prints its table and writes its CSV under benchmarks/results/. SCALE-Sim's comparison
is included only when its virtual environment or cached results exist (see vs_scalesim.py)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["dropback_overhead.py", "trace_overhead.py", "dram_closed_form.py", "sim_speed.py",
           "sim_scale.py", "vs_scalesim.py", "fuzz_cli.py"]

if __name__ == "__main__":
    failed = []
    for script in SCRIPTS:
        print(f"\n=== {script} ===", flush=True)
        if subprocess.run([sys.executable, str(HERE / script)]).returncode:
            failed.append(script)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
