"""`exact` DRAM timing with several requests outstanding at the port, against one at a time.

Run:  .venv/bin/python benchmarks/dram_outstanding.py [--skip-resnet] [--max-requests N]
Prints a table and writes benchmarks/results/dram_outstanding.csv. Not a test; the figures
are deterministic (the same on any machine).

accelsim's own request streams (`simulate(record_dram_requests=True)`, each request a tile's
streams, at the cycle the pipeline issued it) are served again by the DRAM port
(`accelsim.sim.dram.port.DramPort`, `exact` timing) with `outstanding_requests` = 1, 4 and 32
(the preset's default), each request submitted at its recorded cycle, and by the controller
open loop (`replay_trace`: every burst offered at its own arrival, nothing held back: the
least DRAM time the controller gives these arrivals). DRAM time = the last request's end - the
first request's arrival (DRAM clocks); error = port / open loop - 1. Cases: the LeNet-300-100
sample trace (DropBack run and dense baseline) and a ResNet-18 training step at batch 1
(DropBack, 1M tracked weights; its first --max-requests requests).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import simpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from accelsim.config import load_accelerator_config  # noqa: E402
from accelsim.config.dram import DRAM_PRESETS  # noqa: E402
from accelsim.io import atomic_path  # noqa: E402
from accelsim.sim.dram.port import DramPort, expand_streams  # noqa: E402
from accelsim.sim.dram.replay import replay_trace  # noqa: E402
from accelsim.sim.simulation import simulate  # noqa: E402
from dram_parity import ACCEL_CONFIG  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "dram_outstanding.csv"
LIMITS = (1, 4, 32)


def cases(skip_resnet: bool):
    yield "LeNet-300-100", ROOT / "traces" / "sample-lenet-300-100", True, None
    if skip_resnet:
        return
    from sim_speed import _trace, resnet18_layers
    yield "ResNet-18 b1", _trace(resnet18_layers(), 1_000_000, 1), False, 1


def requests_of(streams, max_requests: int):
    """The recorded streams as requests: (issue cycle, [(base, n_bytes, is_write), ...])."""
    rows = streams[["base_byte_address", "n_bytes", "is_write", "issue_cycle"]].to_numpy()
    out: list = []
    for base, n_bytes, is_write, cycle in rows:
        if out and out[-1][0] == int(cycle):
            out[-1][1].append((int(base), int(n_bytes), bool(is_write)))
        elif len(out) == max_requests:
            break
        else:
            out.append((int(cycle), [(int(base), int(n_bytes), bool(is_write))]))
    return out


def port_time(dram, clock_mhz, requests) -> tuple[float, float]:
    """The port's DRAM time for `requests` (DRAM clocks), and its activates."""
    env = simpy.Environment()
    port = DramPort(env, dram, clock_mhz, timing="exact")
    ends: list[float] = []

    def issue(cycle, streams):
        yield env.timeout(cycle - env.now)
        done = port.submit(streams)
        done.callbacks.append(lambda event: ends.append(event.value[0]))

    def driver():
        for cycle, streams in requests:
            yield from issue(cycle, streams)

    env.process(driver())
    env.run()
    first = requests[0][0]
    return (max(ends) - first) * port.dram_cycles_per_accel_cycle, port.totals["activates"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-resnet", action="store_true")
    parser.add_argument("--max-requests", type=int, default=4000)
    args = parser.parse_args(argv)
    rows = []
    for case, trace, baseline, batch in cases(args.skip_resnet):
        for preset in DRAM_PRESETS:
            config = load_accelerator_config(ACCEL_CONFIG[preset])
            result = simulate(trace, config, "train", baseline=baseline, batch_size=batch,
                              record_dram_requests=True)
            for run, streams in result.dram_requests.items():
                requests = requests_of(streams, args.max_requests)
                kept = pd.DataFrame([(b, n, w, c) for c, s in requests for b, n, w in s],
                                    columns=["base_byte_address", "n_bytes", "is_write",
                                             "issue_cycle"])
                dpa = (1000.0 / config.clock_mhz) / config.dram.tck_ns
                addresses, writes, cycles = expand_streams(kept, config.dram.burst_bytes)
                arrival = np.ceil(cycles * dpa)
                open_loop = replay_trace(config.dram, addresses, writes, arrival)
                reference = open_loop["finish_cycle"] - arrival[0]
                row = {"case": case, "run": run, "preset": preset, "requests": len(requests),
                       "bursts": int(addresses.size), "open_loop_cycles": reference,
                       "open_loop_activates": open_loop["activates"]}
                for limit in LIMITS:
                    dram = dataclasses.replace(config.dram, outstanding_requests=limit)
                    took, activates = port_time(dram, config.clock_mhz, requests)
                    row[f"n{limit}_cycles"] = took
                    row[f"n{limit}_error_pct"] = 100.0 * (took / reference - 1.0)
                    row[f"n{limit}_activates"] = activates
                rows.append(row)
                print(" ".join(f"{v:.1f}" if isinstance(v, float) else str(v)
                               for v in row.values()), flush=True)
    table = pd.DataFrame(rows)
    print(table[["case", "run", "preset", "requests", "bursts"]
                + [f"n{limit}_error_pct" for limit in LIMITS]].to_string(
                    index=False, float_format="%+.1f"))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(RESULTS) as tmp:
        table.to_csv(tmp, index=False)
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
