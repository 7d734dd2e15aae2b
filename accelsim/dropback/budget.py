"""The one rule from a compression ratio to a tracked count, k = round(N / ratio) (Python's
round: half to even), for the optimizer, the trace command and the flag checks alike. No
torch here. A ratio that leaves no element tracked is an error, never clamped to 1: that would
run another budget than the one asked for."""

from __future__ import annotations

import math


def tracked_count(param_count: int, compression: float) -> int:
    """k for `compression` (>= 1, finite) over `param_count` budgeted elements; may be 0 for
    a ratio above the count (callers refuse that in their own words)."""
    if isinstance(compression, bool) or not isinstance(compression, (int, float)) \
            or not math.isfinite(compression) or compression < 1:
        raise ValueError(f"compression must be a number >= 1, got {compression!r}")
    return round(int(param_count) / compression)
