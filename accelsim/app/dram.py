"""`accelsim dram`: replay a per-burst DRAM request trace (the format `simulate
--export-dram-trace` writes, or one written by hand) through accelsim's DRAM controller, and
print when it finished, its row hits and its energy."""

from __future__ import annotations

import numpy as np

from accelsim.app.key_values import parse_key_values
from accelsim.config.dram import dram_preset
from accelsim.config.dram_presets import PRESETS
from accelsim.errors import ConfigError, TraceError
from accelsim.io import json_text
from accelsim.limits import regular_file
from accelsim.sim.dram import controller
from accelsim.sim.dram.export import read_dram_trace
from accelsim.sim.dram.replay import replay_trace

# the presets `--dram` takes, from the one preset table (the CLI's help lists them)
PRESET_NAMES = tuple(PRESETS)


def handle(args) -> int:
    overrides = parse_key_values(args.set or [], "--set", fields=True)
    try:
        config = dram_preset(args.dram, **overrides)
    except ConfigError as exc:
        raise ConfigError(f"--dram/--set: {exc}") from None
    controller.library()  # where it cannot be built: say so (one line) and stop
    path = regular_file(args.trace, TraceError, "a DRAM trace file")
    try:
        addresses, writes, cycles = read_dram_trace(path, args.format)
    except UnicodeDecodeError:
        raise TraceError(f"{path}: expected a text {args.format} trace, got bytes that are "
                         "not ASCII") from None
    except OverflowError:
        raise TraceError(f"{path}: an address or cycle does not fit in 63 bits") from None
    if addresses.size == 0:
        raise TraceError(f"{path}: expected at least one request, got none")
    for name, values in (("an address", addresses), ("a cycle", cycles)):
        if values.min() < 0:
            row = int(np.flatnonzero(values < 0)[0])
            raise TraceError(f"{path}: request {row + 1}: expected {name} >= 0, got "
                             f"{int(values[row])}")
    try:
        result = replay_trace(config, addresses, writes, cycles)
    except ValueError as exc:  # e.g. a cycle beyond what the controller's clock holds
        raise TraceError(f"{path}: {exc}") from None
    finish = result["finish_cycle"]
    bytes_moved = result["bursts"] * config.burst_bytes
    summary = {
        "trace": str(path), "dram": config.preset,
        "requests": int(addresses.size), "reads": int((~writes).sum()),
        "writes": int(writes.sum()), "bursts": result["bursts"],
        "finish_dram_cycle": finish, "finish_ns": finish * config.tck_ns,
        "bandwidth_gb_per_s": bytes_moved / (finish * config.tck_ns) if finish else 0.0,
        "row_hit_rate": result["row_hits"] / max(result["bursts"], 1),
        "activates": result["activates"], "refreshes": result["refreshes"],
        "dynamic_energy_pj": result["energy_pj"],
        "io_energy_pj": bytes_moved * 8 * config.io_energy_pj_per_bit,
    }
    if args.json:
        print(json_text(summary, indent=None))
    elif not args.quiet:
        width = max(len(k) for k in summary)
        for key, value in summary.items():
            shown = f"{value:,.4g}" if isinstance(value, float) else (
                f"{value:,}" if isinstance(value, int) else value)
            print(f"{key:<{width}}  {shown}")
    return 0
