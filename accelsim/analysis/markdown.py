"""Markdown tables for the reports: one writer, so every table reads the same."""

from __future__ import annotations

import pandas as pd


def markdown_table(frame: pd.DataFrame) -> list[str]:
    """The frame's header, rule and rows as Markdown lines, each value as `str` gives it."""
    lines = ["| " + " | ".join(str(c) for c in frame.columns) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(False)]
    return lines
