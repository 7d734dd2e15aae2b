"""How a report states a budget: k, and what its schedule cost, the time-averaged tracked
count and the peak (what the weight memory must hold), each with its compression. One
wording for the simulation, sweep, training and study reports and the `simulate` command."""

from __future__ import annotations

import math


def _ratio(param_count, count) -> str:
    if not count or not param_count or not math.isfinite(float(count)):
        return "—"
    return f"{param_count / count:.1f}×"


def tracked_words(param_count, target, peak=None, mean=None) -> str:
    """'10,664 of 266,610 weights tracked (25.0×); time-averaged 30,530 (8.7×), peak 266,610
    (1.0×)'; only the first part when the schedule held k throughout (or is unknown)."""
    text = f"{int(target or 0):,} of {int(param_count or 0):,} weights tracked " \
           f"({_ratio(param_count, target)})"
    peak = target if peak is None else peak
    if mean is None or (round(float(mean)) == int(target or 0) and peak == target):
        return text
    return (f"{text}; time-averaged {float(mean):,.0f} ({_ratio(param_count, mean)}), peak "
            f"{int(peak):,} ({_ratio(param_count, peak)})")


def identity_words(ident: dict) -> str:
    """`tracked_words` of a trace identity (`Trace.identity`); an identity written before the
    target and the mean were recorded gives the peak alone."""
    peak = ident.get("budget_tracked_count", 0)
    return tracked_words(ident.get("param_count", 0), ident.get("target_tracked_count", peak),
                         peak, ident.get("mean_tracked_count"))
