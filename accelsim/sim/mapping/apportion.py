"""Integer shares that add up exactly: how a count is spread over tiles, operands or layers."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def split_proportional(total: int, basis: ArrayLike) -> np.ndarray:
    """Integers summing to `total`, proportional to `basis` (largest remainder). If `total` is
    at most `basis.sum()`, no share exceeds its basis (the caps used for tracked counts)."""
    basis = np.asarray(basis, dtype=np.int64)
    out = np.zeros(len(basis), dtype=np.int64)
    whole = int(basis.sum())
    total = int(total)
    if total <= 0 or len(basis) == 0:
        return out
    if whole <= 0:
        out[-1] = total
        return out
    ideal = basis * (total / whole)
    out = np.floor(ideal).astype(np.int64)
    short = total - int(out.sum())
    if short > 0:
        order = np.argsort(-(ideal - out), kind="stable")[:short]
        out[order] += 1
    elif short < 0:  # float rounding overshoot: take back from the largest shares
        order = np.argsort(-out, kind="stable")[:-short]
        out[order] -= 1
    return out


def split_evenly(total: int, sizes: ArrayLike) -> np.ndarray:
    """Integers proportional to `sizes` summing exactly to `total` (cumulative floor)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    whole = int(sizes.sum())
    if whole == 0:
        out = np.zeros(len(sizes), dtype=np.int64)
        if len(out):
            out[-1] = total
        return out
    edges = (np.cumsum(sizes, dtype=object) * int(total)) // whole  # exact for big numbers
    edges = np.asarray(edges, dtype=np.int64)
    return np.diff(np.concatenate(([0], edges)))
