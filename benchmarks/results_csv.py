"""Where a benchmark's table goes: one CSV under benchmarks/results/, written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from accelsim.io import atomic_path


def write_results(table: pd.DataFrame, path: Path, root: Path) -> None:
    """Write `table` to `path` (a temporary file renamed into place) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    print(f"wrote {path.relative_to(root)}")
