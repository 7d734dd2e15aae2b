"""Are two source trees' simulations the same, bit for bit? A check for speed work on the
simulator, whose rule is: same inputs, same bits out.

    python benchmarks/sim_identity.py --old ../some-older-tree [--quick] [--keep DIR]

Runs `simulate` (and once the CLI, `accelsim simulate`) on a spread of inputs in each tree, each
tree in its own process (its folder first on PYTHONPATH), and compares every column of every
frame the result holds (records, traffic, mappings, DRAM request logs) and the settings exactly:
integers and strings by value, floats by their bits. The inputs: the LeNet sample trace on every
shipped config, train and inference; the default config with DRAM timing cached, exact and
exact one request at a time; every iteration; the DRAM request log; ResNet-18 synthetic
(batch 1 and 32, train, inference; batch 1 on the shared buffer and with exact DRAM timing);
the 5-snapshot ResNet-18 trace of sim_snapshots.py, with optimizer state none, momentum and
adam. Prints one line per input and a verdict; exit status
1 when any input differs. --quick leaves out the ResNet-18 cases. Not a test (it needs two
trees); about 30 s for both trees on a 2-core AMD EPYC (shared), 15 s with --quick.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "traces" / "sample-lenet-300-100"
# both trees read this tree's config files (a config remembers its path)
CONFIGS = ROOT / "configs" / "accelerators"


def _cases(quick: bool):
    """(name, trace key, config name, overrides, simulate keywords) of every input."""
    out = []
    for config in sorted(p.stem for p in CONFIGS.glob("*.yaml")):
        for mode in ("train", "inference"):
            out.append((f"lenet {config} {mode}", "lenet", config, {}, {"mode": mode}))
    for timing, extra in (("cached", {}), ("exact", {}),
                          ("exact", {"dram.outstanding_requests": 1})):
        name = "lenet default dram " + timing + (" one-at-a-time" if extra else "")
        out.append((name, "lenet", "default", {"dram_timing": timing, **extra},
                    {"mode": "train"}))
    out.append(("lenet default every-iteration", "lenet", "default", {},
                {"every_iteration": True}))
    out.append(("lenet default dram log", "lenet", "default", {},
                {"record_dram_requests": True}))
    out.append(("lenet exact dram log", "lenet", "default", {"dram_timing": "exact"},
                {"record_dram_requests": True}))
    out.append(("lenet default adam", "lenet", "default", {}, {"optimizer": "adam"}))
    if not quick:
        for batch in (1, 32):
            for mode in ("train", "inference"):
                out.append((f"resnet18 batch {batch} {mode}", "resnet18", "default", {},
                            {"mode": mode, "batch_size": batch, "baseline": False}))
        out.append(("resnet18 batch 1 shared buffer", "resnet18", "shared-ws-32x32", {},
                    {"batch_size": 1, "baseline": False}))
        for mode in ("train", "inference"):  # requests taken together at the DRAM port
            out.append((f"resnet18 batch 1 {mode} dram exact", "resnet18", "default",
                        {"dram_timing": "exact"},
                        {"mode": mode, "batch_size": 1, "baseline": False}))
        for optimizer in (None, "momentum", "adam"):
            extra = {} if optimizer is None else {"optimizer": optimizer}
            out.append((f"resnet18 5 snapshots optimizer {optimizer or 'trace'}", "snapshots",
                        "default", {}, {"baseline": False, **extra}))
    return out


def _trace(key: str):
    if key == "lenet":
        return str(LENET)
    sys.path.insert(1, str(ROOT / "benchmarks"))  # after the tree under test
    if key == "resnet18":
        from sim_speed import GENERATOR, resnet18_layers

        from accelsim.trace.synthetic import synthetic_trace
        return synthetic_trace(resnet18_layers(), 1_000_000, seed=0, batch_size=32,
                               generator=GENERATOR, model={"name": "resnet18", "args": {}})
    from sim_snapshots import snapshot_trace
    return snapshot_trace(5, 10, 1_000_000, 1)


def _result_parts(result) -> dict:
    parts = {"records": result.records, "traffic": result.traffic,
             "mappings": result.mappings, "settings": result.settings,
             "config": result.config, "trace_identity": result.trace_identity,
             "baseline_identity": result.baseline_identity}
    for run, log in (result.dram_requests or {}).items():
        parts[f"dram_requests {run}"] = log
    return parts


def dump(out: Path, quick: bool) -> None:
    """Child: simulate every input with the accelsim first on sys.path; pickle the results."""
    import accelsim
    from accelsim.config import load_accelerator_config
    from accelsim.sim.simulation import simulate

    print(f"  accelsim from {Path(accelsim.__file__).parent.parent.name}", flush=True)
    traces: dict = {}
    results = {}
    for name, key, config_name, overrides, keywords in _cases(quick):
        if key not in traces:
            traces[key] = _trace(key)
        config = load_accelerator_config(CONFIGS / f"{config_name}.yaml", overrides)
        results[name] = _result_parts(simulate(traces[key], config, **keywords))
    # once through the CLI: its files, as written
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "sim"
        subprocess.run([sys.executable, "-m", "accelsim.cli", "simulate", str(LENET),
                        "--out", str(folder), "--quiet"], check=True, env=os.environ.copy())
        files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())
                 if p.suffix in (".csv", ".json")}
        import pandas as pd
        files["records.parquet frame"] = pd.read_parquet(folder / "records.parquet")
        if (folder / "traffic.parquet").exists():
            files["traffic.parquet frame"] = pd.read_parquet(folder / "traffic.parquet")
        results["CLI simulate lenet"] = files
    out.write_bytes(pickle.dumps(results))


def _differences(a, b, where: str) -> list[str]:
    """Where `a` and `b` differ: frames column by column (floats by their bits), dicts key by
    key, anything else by ==."""
    import numpy as np
    import pandas as pd

    if isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame):
        if list(a.columns) != list(b.columns) or len(a) != len(b):
            return [f"{where}: columns or rows differ ({a.shape} vs {b.shape})"]
        out = []
        for column in a.columns:
            x, y = a[column], b[column]
            if x.dtype != y.dtype:
                out.append(f"{where}.{column}: dtype {x.dtype} vs {y.dtype}")
            elif x.dtype.kind in "fiub":
                if x.to_numpy().tobytes() != y.to_numpy().tobytes():
                    bad = int(np.count_nonzero(x.to_numpy() != y.to_numpy()))
                    out.append(f"{where}.{column}: {bad} of {len(x)} values differ")
            elif x.tolist() != y.tolist():
                out.append(f"{where}.{column}: values differ")
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where}: keys differ ({sorted(set(a) ^ set(b))})"]
        return [d for k in a for d in _differences(a[k], b[k], f"{where}.{k}")]
    if type(a) is not type(b) or a != b:
        return [f"{where}: {a!r:.80} vs {b!r:.80}"]
    return []


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", help="the other source tree (its root folder)")
    parser.add_argument("--quick", action="store_true", help="leave out the ResNet-18 cases")
    parser.add_argument("--keep", help="folder to keep both trees' pickled results in")
    parser.add_argument("--dump", help=argparse.SUPPRESS)  # child: write results here
    args = parser.parse_args(argv)
    if args.dump:
        dump(Path(args.dump), args.quick)
        return 0
    if not args.old:
        parser.error("--old TREE is required")
    folder = Path(args.keep or tempfile.mkdtemp(prefix="sim_identity-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = {}
    for label, tree in (("old", Path(args.old).resolve()), ("new", ROOT)):
        print(f"simulating in the {label} tree ({tree.name})", flush=True)
        env = dict(os.environ, PYTHONPATH=str(tree))
        path = folder / f"{label}.pickle"
        subprocess.run([sys.executable, __file__, "--dump", str(path)]
                       + (["--quick"] if args.quick else []), check=True, env=env)
        results[label] = pickle.loads(path.read_bytes())
    old, new = results["old"], results["new"]
    failed = 0
    for name in old:
        if name not in new:
            print(f"DIFFERS  {name}: missing in the new tree")
            failed += 1
            continue
        diffs = _differences(old[name], new[name], "result")
        failed += bool(diffs)
        print(f"{'DIFFERS ' if diffs else 'same    '} {name}")
        for d in diffs[:20]:
            print(f"           {d}")
    print(f"{len(old) - failed} of {len(old)} inputs bit-identical"
          + ("" if not failed else f"; {failed} differ"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
