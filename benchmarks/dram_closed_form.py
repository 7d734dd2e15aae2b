"""The DRAM controller vs closed-form bandwidth, per preset and access pattern; and its speed.

Run:  .venv/bin/python benchmarks/dram_closed_form.py [--bursts N]
Prints a table and writes benchmarks/results/dram_closed_form.csv.
tests/sim/dram/test_dram.py imports the closed forms below and checks them (smaller N) with a
tolerance.

Closed forms (DRAM clock cycles; BL/2 = data-bus cycles per burst; gS = max(BL/2, tCCD_S),
gL = max(BL/2, tCCD_L); R ranks, BG bank groups, B banks per rank; every figure is per
channel, times the channel count, times the refresh factor 1 - tRFC/tREFI):

stream (preset mapping RoRaBaCoBgCh, a long sequential read)
    Consecutive bursts of a channel rotate through the bank groups, so the bus spacing is gS
    (gL with one bank group), and one bank sees every BG-th burst, so its own spacing tCCD_L is
    spread over BG bursts. At a row boundary the stream moves to another bank, whose activate
    was issued a whole row earlier (the request queue is unbounded), so row switches cost
    nothing: row-switch efficiency = 1.
        cycles per burst = max(gS if BG > 1 else gL, tCCD_L / BG)
stream-column-major (mapping RoRaBaBgCoCh: a whole row of one bank, then the next bank group)
    A row of C bursts goes to one bank: C - 1 gaps of gL, then a gap of gS (gL if BG = 1) into
    the next bank, already activated. Row-switch efficiency C*BL/2 / ((C-1)*gL + gS): 0.50 for
    DDR4 (tCCD_L = 2 x BL/2), 1.0 for LPDDR4 and HBM2 (tCCD_L = BL/2).
        cycles per burst = ((C - 1) * gL + gS) / C
stream-one-bank (one bank per channel: every row switch is a precharge + activate in line)
    Activate-to-activate per row: max(tRC, tRCD + (C - 1) * tCCD_L + tRTP + tRP), and at least
    C * gL.
        cycles per burst = max(tRC, tRCD + (C-1)*tCCD_L + tRTP + tRP, C * gL) / C
random (uniform bursts over 16 GiB: almost every burst is a row conflict)
    Three limits per channel: the bus (consecutive bursts share a bank group with probability
    1/(R*BG)), activates per rank (tFAW/4 on average, or the mean tRRD if that is larger; R
    ranks in parallel), and tRC per bank spread over the R*B banks.
        cycles per burst = max(bus_mean, max(tFAW/4, tRRD_mean) / R, tRC / (R*B))
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accelsim.config.dram import DRAM_PRESETS, DramConfig, dram_preset
from accelsim.io import write_text_atomic
from accelsim.sim.dram.controller import CommandController

PATTERNS = ("stream", "stream-column-major", "stream-one-bank", "random")
RANDOM_SPAN_BYTES = 16 << 30
ACCEL_CLOCK_MHZ = 1000.0  # 1 accelerator cycle = 1 ns, so bytes per cycle = GB/s
RESULTS = Path(__file__).resolve().parent / "results" / "dram_closed_form.csv"


def pattern_config(preset: str, pattern: str) -> DramConfig:
    """The preset, changed where the pattern needs it (mapping, or a single bank)."""
    if pattern == "stream-column-major":
        return dram_preset(preset, address_mapping="RoRaBaBgCoCh")
    if pattern == "stream-one-bank":
        return dram_preset(preset, bank_groups=1, banks_per_group=1)
    if pattern in ("stream", "random"):
        return dram_preset(preset)
    raise ValueError(f"unknown pattern {pattern!r}; expected one of {PATTERNS}")


def closed_form_gb_per_s(config: DramConfig, pattern: str) -> float:
    """Bandwidth the closed form predicts for `pattern` (see the module docstring)."""
    c = config
    half_burst = c.burst_cycles
    gap_short = max(half_burst, c.tccd_s_cycles)
    gap_long = max(half_burst, c.tccd_l_cycles)
    columns = c.columns_per_row
    if pattern == "stream":
        cycles = max(gap_short if c.bank_groups > 1 else gap_long, c.tccd_l_cycles / c.bank_groups)
    elif pattern == "stream-column-major":
        next_bank_gap = gap_short if c.bank_groups > 1 else gap_long
        cycles = ((columns - 1) * gap_long + next_bank_gap) / columns
    elif pattern == "stream-one-bank":
        # the precharge waits tRTP after the row's last read (issue 11: read-to-precharge)
        per_row = max(c.trc_cycles, c.trcd_cycles + (columns - 1) * c.tccd_l_cycles
                      + c.trtp_cycles + c.trp_cycles, columns * gap_long)
        cycles = per_row / columns
    elif pattern == "random":
        same_rank = 1.0 / c.ranks
        same_group = same_rank / c.bank_groups
        bus_mean = (same_group * gap_long + (same_rank - same_group) * gap_short
                    + (1.0 - same_rank) * half_burst)
        rrd_mean = c.trrd_l_cycles / c.bank_groups + c.trrd_s_cycles * (1 - 1 / c.bank_groups)
        activate_mean = max(c.tfaw_cycles / 4, rrd_mean) / c.ranks
        cycles = max(bus_mean, activate_mean, c.trc_cycles / c.banks_per_channel)
    else:
        raise ValueError(f"unknown pattern {pattern!r}; expected one of {PATTERNS}")
    bytes_per_ns = c.channels * c.burst_bytes / (cycles * c.tck_ns)
    return bytes_per_ns * c.refresh_efficiency


def pattern_addresses(config: DramConfig, pattern: str, n_bursts: int, seed: int = 0):
    """Burst-aligned byte addresses of the pattern."""
    if pattern != "random":
        return np.arange(n_bursts, dtype=np.int64) * config.burst_bytes
    rng = np.random.default_rng(seed)
    bursts = rng.integers(0, RANDOM_SPAN_BYTES // config.burst_bytes, n_bursts)
    return bursts * config.burst_bytes


def run_pattern(preset: str, pattern: str, n_bursts: int, repeats: int = 1, seed: int = 0) -> dict:
    """Model bandwidth vs closed form for one (preset, pattern); best-of-`repeats` call time."""
    config = pattern_config(preset, pattern)
    addresses = pattern_addresses(config, pattern, n_bursts, seed)
    dram_per_accel = (1000.0 / ACCEL_CLOCK_MHZ) / config.tck_ns
    best_seconds = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        batch = CommandController(config).access(addresses, False, 0.0, dram_per_accel)
        best_seconds = min(best_seconds, time.perf_counter() - started)
    nanoseconds = batch.busy_cycles * 1000.0 / ACCEL_CLOCK_MHZ
    model_gb_per_s = batch.bytes_total / nanoseconds
    closed = closed_form_gb_per_s(config, pattern)
    return {
        "preset": preset,
        "pattern": pattern,
        "bursts": n_bursts,
        "model_gb_per_s": model_gb_per_s,
        "closed_form_gb_per_s": closed,
        "error_pct": 100.0 * (model_gb_per_s - closed) / closed,
        "row_hit_rate": batch.row_hit_rate,
        "seconds_per_call": best_seconds,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bursts", type=int, default=1 << 20,
                        help="bursts per call (default 2**20)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per row (best kept)")
    args = parser.parse_args(argv)

    rows = [run_pattern(p, pat, args.bursts, args.repeats)
            for p in DRAM_PRESETS for pat in PATTERNS]
    header = (f"{'preset':<12} {'pattern':<20} {'model GB/s':>11} {'closed GB/s':>12} "
              f"{'error %':>8} {'row hits':>9} {'s/call':>8}")
    print(f"{args.bursts} bursts per call, accelerator clock {ACCEL_CLOCK_MHZ:g} MHz")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['preset']:<12} {r['pattern']:<20} {r['model_gb_per_s']:>11.2f} "
              f"{r['closed_form_gb_per_s']:>12.2f} {r['error_pct']:>+8.2f} "
              f"{r['row_hit_rate']:>9.4f} {r['seconds_per_call']:>8.3f}")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    write_text_atomic(RESULTS, buffer.getvalue())
    shown = RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS
    print(f"wrote {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
