"""accelsim's DRAM model against DRAMsim3, stream by stream: DRAM cycles, row-hit rate, energy.

Run:  .venv/bin/python benchmarks/dram_parity.py --dramsim3 /path/to/DRAMsim3
      (or DRAMSIM3_DIR=/path/to/DRAMsim3; a source folder or one holding libdramsim3.so)
Prints a table, writes benchmarks/results/dram_parity.csv and, with --report, the markdown
table reports/validation/dram_parity.md. Skips cleanly (exit 0) without DRAMsim3. Not a test.

How: each stream is a per-burst request trace (byte address, read/write, arrival DRAM cycle).
accelsim times it with `accelsim.sim.dram.replay.replay_trace`, open loop, through its one
engine, the command-level controller (`accelsim.sim.dram.controller`; the burst model that
earlier tables also showed is gone); DRAMsim3 replays the same trace through
benchmarks/dramsim3_driver/driver.cc (built here into benchmarks/.build against DRAMsim3's
library) with a config written by
`accelsim.sim.dram.export.dramsim3_config` from the same DramConfig: same organisation, timing,
address mapping, queue depth, page policy, and currents that give the same per-command
energies. So cycles, row hits and energy differ only where the controllers differ.

Streams: sequential read; uniform random reads; tile-sized mixes (32 KB read + 8 KB write per
tile, tiles arriving slightly faster than the DRAM serves them); a burst-interleaved copy
(read a burst, write a burst, two regions); the sequential and tile streams again with the
closed-page policy on both sides (`page_policy = closed`, DRAMsim3 `row_buf_policy =
CLOSE_PAGE`); and the request streams accelsim itself records
(`simulate(record_dram_requests=True)`) for the LeNet-300-100 sample trace (dense and DropBack)
and for one ResNet-18 training step at batch 1 (dense and DropBack at 1M tracked weights),
issued on the DRAM clock as accelsim issued them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
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

from accelsim.config import dram_preset, load_accelerator_config  # noqa: E402
from accelsim.io import write_text_atomic  # noqa: E402
from accelsim.sim.dram.export import dramsim3_config, export_dram_trace  # noqa: E402
from accelsim.sim.dram.port import expand_streams  # noqa: E402
from accelsim.sim.dram.replay import replay_trace  # noqa: E402

PRESETS = ("DDR4-3200", "LPDDR4-3200", "HBM2")
BUILD = ROOT / "benchmarks" / ".build"
DRIVER_SOURCE = ROOT / "benchmarks" / "dramsim3_driver" / "driver.cc"
RESULTS = ROOT / "benchmarks" / "results" / "dram_parity.csv"
REPORT = ROOT / "reports" / "validation" / "dram_parity.md"
RANDOM_SPAN_BYTES = 1 << 30
ACCEL_CONFIG = {"DDR4-3200": "ddr4-ws-32x32", "LPDDR4-3200": "lpddr4-ws-32x32",
                "HBM2": "hbm2-ws-32x32"}


# ---- DRAMsim3 ---------------------------------------------------------------------------------
def find_dramsim3(given: str | None) -> Path | None:
    folder = given or os.environ.get("DRAMSIM3_DIR")
    if not folder:
        return None
    folder = Path(folder).resolve()
    return folder if (folder / "src" / "memory_system.h").exists() else None


def build_driver(dramsim3: Path) -> Path:
    """Build DRAMsim3's library if the folder has none, then this driver against it."""
    library = dramsim3 / "libdramsim3.so"
    if not library.exists():
        build = BUILD / "dramsim3"
        subprocess.run(["cmake", "-S", str(dramsim3), "-B", str(build),
                        "-DCMAKE_BUILD_TYPE=Release"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", str(build), "--target", "dramsim3", "-j2"],
                       check=True, stdout=subprocess.DEVNULL)
        library = next(dramsim3.glob("libdramsim3.so"), None) or next(build.rglob("libdramsim3.so"))
    driver = BUILD / "dramsim3_driver"
    if not driver.exists() or driver.stat().st_mtime < DRIVER_SOURCE.stat().st_mtime:
        BUILD.mkdir(parents=True, exist_ok=True)
        subprocess.run(["g++", "-O2", "-std=c++17", f"-I{dramsim3 / 'src'}",
                        f"-I{dramsim3 / 'ext' / 'headers'}",
                        f"-I{dramsim3 / 'ext' / 'fmt' / 'include'}", str(DRIVER_SOURCE),
                        f"-L{library.parent}", "-ldramsim3", f"-Wl,-rpath,{library.parent}",
                        "-o", str(driver)], check=True)
    return driver


def run_dramsim3(driver: Path, config, addresses, writes, arrival,
                 unified_queue: bool = False, timeout_s: float | None = None) -> dict:
    """DRAMsim3's counts for the trace; `unified_queue` gives its controller one transaction
    queue for reads and writes (no write buffer, no drains) instead of the matched config's
    read queue + write buffer, to size what the write buffer does (--mechanisms)."""
    text = dramsim3_config(config)
    if unified_queue:
        assert "unified_queue = False" in text
        text = text.replace("unified_queue = False", "unified_queue = True")
    with tempfile.TemporaryDirectory() as tmp:
        ini = Path(tmp) / "matched.ini"
        ini.write_text(text)
        trace = export_dram_trace(addresses, writes, arrival, Path(tmp) / "t.trace", "dramsim3")
        out = subprocess.run([str(driver), str(ini), str(trace), tmp], check=True,
                             capture_output=True, text=True, timeout=timeout_s).stdout
    stats = json.loads(out.strip().splitlines()[-1])
    bursts = stats["read_cmds"] + stats["write_cmds"]
    tck = stats["tck_ns"]  # V·mA·cycles x tCK (ns) = pJ
    stats["energy_pj"] = tck * (stats["activates"] * stats["act_energy_inc"]
                                + stats["read_cmds"] * stats["read_energy_inc"]
                                + stats["write_cmds"] * stats["write_energy_inc"])
    stats["row_hit_rate"] = (stats["read_row_hits"] + stats["write_row_hits"]) / max(bursts, 1)
    return stats


# ---- streams -----------------------------------------------------------------------------------
def synthetic_streams(config):
    """(name, addresses, is_write, arrival DRAM cycles) of the synthetic patterns."""
    bb = config.burst_bytes
    n = 1 << 15
    seq = np.arange(n, dtype=np.int64) * bb
    yield "sequential read", seq, np.zeros(n, bool), np.zeros(n)
    rng = np.random.default_rng(0)
    rand = rng.integers(0, RANDOM_SPAN_BYTES // bb, 1 << 13) * bb
    yield "random read", rand, np.zeros(rand.size, bool), np.zeros(rand.size)
    # tiles: 32 KB read from one region, 8 KB written to another, every `interval` cycles
    tiles, read_bursts, write_bursts = 64, (32 << 10) // bb, (8 << 10) // bb
    per_tile = (read_bursts + write_bursts) * config.burst_cycles / config.channels
    interval = np.ceil(0.9 * per_tile)
    addresses, writes, arrival = [], [], []
    for t in range(tiles):
        addresses += [(t * read_bursts + np.arange(read_bursts)) * bb,
                      (1 << 28) + (t * write_bursts + np.arange(write_bursts)) * bb]
        writes += [np.zeros(read_bursts, bool), np.ones(write_bursts, bool)]
        arrival.append(np.full(read_bursts + write_bursts, t * interval))
    yield ("tiles 32K read + 8K write", np.concatenate(addresses), np.concatenate(writes),
           np.concatenate(arrival))
    m = 1 << 14
    copy = np.empty(2 * m, np.int64)
    copy[0::2] = np.arange(m) * bb
    copy[1::2] = (1 << 28) + np.arange(m) * bb
    yield "copy (burst-interleaved)", copy, np.tile([False, True], m), np.zeros(2 * m)


def more_streams(config):
    """Patterns beyond the table's (--more-streams): what a user's own trace may hold. Each
    is replayed as given and, to size what accelsim's call-by-call timing costs, with every
    request arriving at cycle 0 (one call)."""
    bb = config.burst_bytes
    rng = np.random.default_rng(7)
    n = 1 << 13
    yield "sequential write", np.arange(n, dtype=np.int64) * bb, np.ones(n, bool), np.zeros(n)
    rand = rng.integers(0, RANDOM_SPAN_BYTES // bb, n) * bb
    yield "random write", rand, np.ones(n, bool), np.zeros(n)
    yield "random, half writes", rand, rng.random(n) < 0.5, np.zeros(n)
    yield "random read, one per 3 cycles", rand, np.zeros(n, bool), np.floor(np.arange(n) * 3.0)
    stride = config.row_size_bytes * config.channels
    yield ("row-stride read", (np.arange(n, dtype=np.int64) * stride) % RANDOM_SPAN_BYTES,
           np.zeros(n, bool), np.zeros(n))
    two = np.empty(2 * n, np.int64)
    two[0::2] = np.arange(n) * bb
    two[1::2] = (1 << 27) + np.arange(n) * bb
    yield "two read streams, interleaved", two, np.zeros(2 * n, bool), np.zeros(2 * n)
    # requests arriving one by one (every request its own arrival cycle), as a core's trace
    yield ("two read streams, one per 2 cycles", two[:n], np.zeros(n, bool),
           np.floor(np.arange(n) * 2.0))
    copy = np.empty(n, np.int64)
    copy[0::2] = np.arange(n // 2) * bb
    copy[1::2] = (1 << 28) + np.arange(n // 2) * bb
    yield ("copy, one per 3 cycles", copy, np.tile([False, True], n // 2),
           np.floor(np.arange(n) * 3.0))
    yield ("random, 30 % writes, one per 4 cycles", rand, rng.random(n) < 0.3,
           np.floor(np.arange(n) * 4.0))
    for read_kb, write_kb, pace, label in ((4, 1, 3.0, "4K + 1K tiles, sparse"),
                                           (4, 1, 0.5, "4K + 1K tiles, 2x overload"),
                                           (8, 32, 0.9, "8K read + 32K write tiles"),
                                           (8, 8, 0.9, "8K read + 8K write tiles"),
                                           (16, 4, 0.9, "16K read + 4K write tiles"),
                                           (128, 32, 0.9, "128K read + 32K write tiles")):
        reads, writes_n = (read_kb << 10) // bb, (write_kb << 10) // bb
        per_tile = (reads + writes_n) * config.burst_cycles / config.channels
        tiles = min(64, (4 << 20) // ((read_kb + write_kb) << 10))  # at most 4 MB
        addresses, is_write, arrival = [], [], []
        for t in range(tiles):
            addresses += [(t * reads + np.arange(reads)) * bb,
                          (1 << 28) + (t * writes_n + np.arange(writes_n)) * bb]
            is_write += [np.zeros(reads, bool), np.ones(writes_n, bool)]
            arrival.append(np.full(reads + writes_n, np.ceil(t * pace * per_tile)))
        yield (label, np.concatenate(addresses), np.concatenate(is_write),
               np.concatenate(arrival))


def resnet18_layers():
    from sim_speed import resnet18_layers as layers  # the benchmark's hand-written layer table
    return layers()


def recorded_streams(preset: str, max_bursts: int):
    """accelsim's own request streams for LeNet-300-100 and a ResNet-18 step (batch 1)."""
    from accelsim.sim.simulation import simulate
    from accelsim.trace.synthetic import synthetic_trace
    config = load_accelerator_config(ACCEL_CONFIG[preset])
    dram_per_accel = (1000.0 / config.clock_mhz) / config.dram.tck_ns
    cases = [("LeNet-300-100", ROOT / "traces" / "sample-lenet-300-100", None)]
    layers = resnet18_layers()
    for dense in (True, False):
        trace = synthetic_trace(layers, 1_000_000, seed=0, batch_size=1, dense=dense,
                                generator={"id": "parity", "version": 1},
                                model={"name": "resnet18", "args": {}})
        cases.append(("ResNet-18 step", trace, dense))
    for name, trace, dense in cases:
        result = simulate(trace, config, "train", baseline=dense is None, batch_size=None,
                          record_dram_requests=True)
        for run, streams in result.dram_requests.items():
            kind = "dense" if (run == "dense" or dense) else "DropBack"
            addresses, writes, cycles = expand_streams(streams, config.dram.burst_bytes)
            if addresses.size > max_bursts:  # a prefix, so DRAMsim3 finishes in seconds
                addresses, writes, cycles = (a[:max_bursts] for a in (addresses, writes, cycles))
            yield f"{name} {kind}", addresses, writes, np.ceil(cycles * dram_per_accel)


# ---- table -------------------------------------------------------------------------------------
def closed_page_streams(config):
    """The synthetic patterns that the closed-page policy changes most (rows opened per burst)."""
    for name, addresses, writes, arrival in synthetic_streams(config):
        if name in ("sequential read", "tiles 32K read + 8K write"):
            yield f"{name}, closed page", addresses, writes, arrival


# what a stream's name ends with -> the config both sides get for it: closed-page rows
# (DRAMsim3 row_buf_policy = CLOSE_PAGE), two ranks under each refresh policy, tPPD
STREAM_CONFIGS = {
    "closed page": {"page_policy": "closed"},
    "two ranks, staggered refresh": {"ranks": 2, "refresh_policy": "staggered"},
    "two ranks, simultaneous refresh": {"ranks": 2, "refresh_policy": "simultaneous"},
    "tPPD 2": {"tppd_cycles": 2},
}


def _overrides(name: str) -> dict:
    return next((over for end, over in STREAM_CONFIGS.items() if name.endswith(end)), {})


def _config(preset: str, name: str):
    return dram_preset(preset, **_overrides(name))


def rank_streams(config):
    """Long enough to span many refresh intervals, over two ranks under each refresh policy
    (DRAMsim3's RANK_LEVEL_SIMULTANEOUS refreshes only the first rank: see
    accelsim.sim.dram.export), and tPPD where DRAMsim3 applies it (LPDDR4)."""
    if config.standard == "HBM2":
        # JESD235 HBM2 has no ranks (DRAMsim3's HBM2 configs: ranks = 1), and DRAMsim3 did
        # not finish the two-rank mixed stream in 5 minutes here
        return
    # the rank field sits under the row: both spans below cover both ranks
    bb = config.burst_bytes
    rng = np.random.default_rng(11)
    n = 1 << 13
    rand = rng.integers(0, RANDOM_SPAN_BYTES // bb, n) * bb
    mixed = rng.random(n) < 0.3
    seq = np.arange(1 << 15, dtype=np.int64) * bb
    for policy in ("staggered", "simultaneous"):
        end = f"two ranks, {policy} refresh"
        yield f"random read, {end}", rand, np.zeros(n, bool), np.zeros(n)
        yield f"random, 30 % writes, one per 4 cycles, {end}", rand, mixed, \
            np.floor(np.arange(n) * 4.0)
        yield f"sequential read, {end}", seq, np.zeros(seq.size, bool), \
            np.zeros(seq.size)
    if config.standard == "LPDDR4":
        yield "random read, tPPD 2", rand, np.zeros(n, bool), np.zeros(n)
        yield "random, 30 % writes, one per 4 cycles, tPPD 2", rand, mixed, \
            np.floor(np.arange(n) * 4.0)


def compare(driver, preset, name, addresses, writes, arrival) -> dict:
    config = _config(preset, name)
    theirs = run_dramsim3(driver, config, addresses, writes, arrival)
    row = {"preset": preset, "stream": name, "bursts": int(addresses.size),
           "dramsim3_cycles": theirs["finish_cycle"],
           "dramsim3_row_hit_rate": theirs["row_hit_rate"],
           "dramsim3_activates": theirs["activates"]}
    started = time.perf_counter()
    ours = replay_trace(config, addresses, writes, arrival)
    seconds = time.perf_counter() - started
    hits = ours["row_hits"] / max(ours["bursts"], 1)
    row.update({
        "accelsim_cycles": ours["finish_cycle"],
        "cycles_error_pct": 100.0 * (ours["finish_cycle"] / theirs["finish_cycle"] - 1.0),
        "accelsim_row_hit_rate": hits,
        "row_hit_rate_diff": hits - theirs["row_hit_rate"],
        "accelsim_activates": ours["activates"],
        "energy_error_pct": 100.0 * (ours["energy_pj"] / theirs["energy_pj"] - 1.0),
        "accelsim_seconds": seconds,
    })
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dramsim3", help="DRAMsim3 source folder (default $DRAMSIM3_DIR)")
    parser.add_argument("--presets", nargs="*", default=list(PRESETS))
    parser.add_argument("--max-bursts", type=int, default=1 << 18,
                        help="recorded streams longer than this are cut to a prefix")
    parser.add_argument("--synthetic-only", action="store_true")
    parser.add_argument("--report", action="store_true", help=f"also write {REPORT.name}")
    parser.add_argument("--more-streams", action="store_true",
                        help="also replay patterns beyond the table's (random writes and "
                             "mixes, paced random reads, interleaved streams, small tiles)")
    parser.add_argument("--write-reference", metavar="NPZ",
                        help="only write DRAMsim3's results for short prefixes of every "
                             "synthetic stream to NPZ (the reference "
                             "tests/sim/dram/test_dram_controller.py "
                             "replays without DRAMsim3), then stop")
    parser.add_argument("--fuzz", type=int, metavar="N",
                        help="only replay N random configs and streams (seeds 0..N-1) through "
                             "the command-level controller and DRAMsim3, print each mismatch "
                             "and a summary, then stop")
    args = parser.parse_args(argv)
    dramsim3 = find_dramsim3(args.dramsim3)
    if dramsim3 is None or shutil.which("g++") is None:
        print("skipped: no DRAMsim3 source folder (--dramsim3 or DRAMSIM3_DIR) or no g++")
        return 0
    driver = build_driver(dramsim3)
    if args.write_reference:
        return write_reference(driver, args.presets, Path(args.write_reference))
    if args.fuzz:
        return fuzz(driver, args.fuzz)
    rows, more = [], []
    for preset in args.presets:
        config = dram_preset(preset)
        streams = list(synthetic_streams(config)) + list(closed_page_streams(config))
        if not args.synthetic_only:
            streams += list(recorded_streams(preset, args.max_bursts))
        for name, addresses, writes, arrival in streams:
            row = compare(driver, preset, name, addresses, writes, arrival)
            rows.append(row)
            print(f"{preset:<12} {name:<28} {row['bursts']:>8} {row['accelsim_cycles']:>11.0f} "
                  f"{row['dramsim3_cycles']:>11.0f} {row['cycles_error_pct']:>+7.1f}% "
                  f"{row['accelsim_row_hit_rate']:>6.3f} {row['dramsim3_row_hit_rate']:>6.3f} "
                  f"{row['energy_error_pct']:>+7.1f}%", flush=True)
        if args.more_streams:
            for name, addresses, writes, arrival in (list(more_streams(config))
                                                     + list(rank_streams(config))):
                row = compare(driver, preset, name, addresses, writes, arrival)
                more.append(row)
                print(f"{preset:<12} {name:<32} {row['cycles_error_pct']:>+7.1f}% row hits "
                      f"{row['accelsim_row_hit_rate']:.3f} / {row['dramsim3_row_hit_rate']:.3f}",
                      flush=True)
    worst = {key: max(rows, key=lambda r: abs(r[key]))[key]
             for key in ("cycles_error_pct", "row_hit_rate_diff", "energy_error_pct")}
    print(f"worst: cycles {worst['cycles_error_pct']:+.1f}%, row-hit rate "
          f"{worst['row_hit_rate_diff']:+.3f}, energy {worst['energy_error_pct']:+.1f}%")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in r.items()})
    write_text_atomic(RESULTS, buffer.getvalue())
    if more:
        print("\nmore streams")
        print(more_markdown(more), end="")
    if args.report:
        text = with_table(REPORT, markdown(rows, worst))
        if more:
            text = with_table(REPORT, more_markdown(more), text=text,
                              first="<!-- more streams -->", last="<!-- /more streams -->")
        write_text_atomic(REPORT, text)
    return 0


REFERENCE_REQUESTS = 1024
FUZZ_TIMEOUT_S = 10.0  # DRAMsim3 finishes these streams (<= 3,000 requests) in under a second


def fuzz_case(seed: int):
    """A random config (preset, page policy, queue depths, address mapping, channels) and
    stream (random, strided, hot rows or a few hot addresses; any read share; at once or
    paced) for `seed`."""
    rng = np.random.default_rng(seed)
    preset = str(rng.choice(PRESETS))
    over: dict = {}
    if rng.random() < 0.3:
        over["page_policy"] = "closed"
    if rng.random() < 0.3:
        depth = int(rng.choice([8, 16, 64]))
        over["queue_depth"] = over["write_buffer_depth"] = depth  # DRAMsim3 has one size
    if rng.random() < 0.3:
        over["command_queue_depth"] = int(rng.choice([2, 4, 16]))
    if rng.random() < 0.3:
        over["address_mapping"] = str(rng.choice(["RoBaBgRaCoCh", "RoRaBgBaChCo",
                                                  "RoChRaBaBgCo"]))
    if rng.random() < 0.2 and preset == "DDR4-3200":
        over["channels"] = 2
    config = dram_preset(preset, **over)
    n = int(rng.integers(50, 3000))
    kind = int(rng.integers(0, 4))
    bb = config.burst_bytes
    if kind == 0:
        addresses = rng.integers(0, 1 << 22, n) * bb
    elif kind == 1:
        addresses = (rng.integers(0, 64, n) * 997 + np.arange(n)) % (1 << 20) * bb
    elif kind == 2:
        rows = rng.integers(0, 1 << 16, 8)
        addresses = (rows[rng.integers(0, 8, n)] * 64 + rng.integers(0, 128, n)) * bb
    else:
        addresses = rng.integers(0, 4096, n) * bb
    writes = rng.random(n) < rng.random()
    gap = float(rng.choice([0.0, 0.5, 2.0, 5.0, 30.0]))
    arrival = np.floor(np.cumsum(rng.exponential(gap, n))) if gap else np.zeros(n)
    return config, over, kind, addresses, writes, arrival


def fuzz(driver, count: int) -> int:
    """Replay `count` fuzz cases on both simulators: finishing cycle, activates, row hits and
    bursts must be equal; a case DRAMsim3 does not finish is counted apart, with whether
    accelsim broke a drain deadlock on it."""
    matched, mismatched, stuck, stuck_broken, broken_elsewhere = 0, 0, 0, 0, 0
    for seed in range(count):
        config, over, kind, addresses, writes, arrival = fuzz_case(seed)
        ours = replay_trace(config, addresses, writes, arrival)
        try:
            theirs = run_dramsim3(driver, config, addresses, writes, arrival,
                                  timeout_s=FUZZ_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stuck += 1
            stuck_broken += ours["drain_deadlocks_broken"] > 0
            continue
        broken_elsewhere += ours["drain_deadlocks_broken"] > 0
        got = (ours["finish_cycle"], ours["activates"], ours["row_hits"], ours["bursts"])
        want = (theirs["finish_cycle"], theirs["activates"],
                theirs["read_row_hits"] + theirs["write_row_hits"],
                theirs["read_cmds"] + theirs["write_cmds"])
        if got == want:
            matched += 1
        else:
            mismatched += 1
            print(f"seed {seed}: {config.preset} {over} kind {kind}: accelsim {got}, "
                  f"DRAMsim3 {want}", flush=True)
    print(f"{count} cases: {matched} equal to DRAMsim3 (cycles, activates, row hits, bursts), "
          f"{mismatched} not; DRAMsim3 did not finish {stuck} within {FUZZ_TIMEOUT_S:.0f} s, "
          f"accelsim broke a drain deadlock on {stuck_broken} of those and on "
          f"{broken_elsewhere} of the others")
    return 0


def write_reference(driver, presets, path: Path) -> int:
    """DRAMsim3's finishing cycle, activates and row hits for the first REFERENCE_REQUESTS
    requests of every synthetic stream (table and more streams, both page policies where the
    table has them), with the streams themselves, in one compressed .npz."""
    arrays, meta = {}, []
    for preset in presets:
        config = dram_preset(preset)
        streams = (list(synthetic_streams(config)) + list(closed_page_streams(config))
                   + list(more_streams(config)) + list(rank_streams(config)))
        for name, addresses, writes, arrival in streams:
            if "simultaneous" in name:
                continue  # DRAMsim3 refreshes only the first rank there (see rank_streams)
            # refresh needs a few tREFI of traffic: the rank streams keep more requests
            longer = {"ranks", "tppd_cycles"} & set(_overrides(name))
            keep = REFERENCE_REQUESTS * (4 if longer else 1)
            a, w, t = (x[:keep] for x in (addresses, writes, arrival))
            t = t - t.min()
            stats = run_dramsim3(driver, _config(preset, name), a, w, t)
            key = f"s{len(meta)}"
            arrays[f"{key}_address"], arrays[f"{key}_write"], arrays[f"{key}_arrival"] = \
                a.astype(np.int64), w.astype(bool), t.astype(np.int64)
            meta.append({"key": key, "preset": preset, "stream": name,
                         "page_policy": _config(preset, name).page_policy,
                         "overrides": _overrides(name),
                         "finish_cycle": stats["finish_cycle"],
                         "activates": stats["activates"],
                         "row_hits": stats["read_row_hits"] + stats["write_row_hits"],
                         "reads": stats["read_cmds"], "writes": stats["write_cmds"]})
            print(f"{preset:<12} {name:<40} {stats['finish_cycle']:>8}", flush=True)
    arrays["meta"] = np.array(json.dumps({
        "source": "DRAMsim3 (github umd-memsys/DRAMSim3) through "
                  "benchmarks/dramsim3_driver/driver.cc, configs from "
                  "accelsim.sim.dram.export.dramsim3_config; written by "
                  "benchmarks/dram_parity.py --write-reference",
        "streams": meta}))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as tmp:
        np.savez_compressed(tmp, **arrays)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, path)
    print(f"wrote {path} ({len(meta)} streams)")
    return 0


def with_table(report: Path, table: str, text: str | None = None, first: str = "| DRAM |",
               last: str = "| **worst**") -> str:
    """The report's text (or `text`) with the table from the line starting `first` to the one
    starting `last` replaced, the prose around it kept; without such a table, the table is
    appended."""
    if text is None:
        text = report.read_text() if report.exists() else ""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(first)), None)
    end = next((i for i, line in enumerate(lines) if line.startswith(last)), None)
    if start is None or end is None or end < start:
        return text + ("\n" if text else "") + table
    return "".join(lines[:start]) + table + "".join(lines[end + 1:])


def marked_table(marker: str, header: list[str], rows: list[list[str]]) -> str:
    """A markdown table between <!-- marker --> lines (what `with_table` finds again); the
    first two columns left-aligned, the rest right-aligned."""
    lines = [f"<!-- {marker} -->", "| " + " | ".join(header) + " |",
             "|---|---|" + "---:|" * (len(header) - 2)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    lines.append(f"<!-- /{marker} -->")
    return "\n".join(lines) + "\n"


def more_markdown(more) -> str:
    return marked_table(
        "more streams",
        ["DRAM", "more streams", "bursts", "cycles error", "row hits accelsim / DRAMsim3",
         "energy error"],
        [[r["preset"], r["stream"], f"{r['bursts']:,}", f"{r['cycles_error_pct']:+.1f}%",
          f"{r['accelsim_row_hit_rate']:.3f} / {r['dramsim3_row_hit_rate']:.3f}",
          f"{r['energy_error_pct']:+.1f}%"] for r in more])


def markdown(rows, worst) -> str:
    lines = ["| DRAM | stream | bursts | accelsim cycles | DRAMsim3 cycles | cycles error | "
             "row hits accelsim / DRAMsim3 | energy error |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['stream']} | {r['bursts']:,} | "
                     f"{r['accelsim_cycles']:,.0f} | {r['dramsim3_cycles']:,.0f} | "
                     f"{r['cycles_error_pct']:+.1f}% | {r['accelsim_row_hit_rate']:.3f} / "
                     f"{r['dramsim3_row_hit_rate']:.3f} | {r['energy_error_pct']:+.1f}% |")
    lines.append(f"| **worst** | | | | | **{worst['cycles_error_pct']:+.1f}%** | "
                 f"**{worst['row_hit_rate_diff']:+.3f}** | **{worst['energy_error_pct']:+.1f}%** |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
