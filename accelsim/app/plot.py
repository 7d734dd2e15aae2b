"""`accelsim plot`: every figure a results folder supports."""

from __future__ import annotations

from accelsim.analysis.figures import figures_for
from accelsim.io import json_text


def handle(args) -> int:
    figures = figures_for(args.results, args.out)
    if args.json:
        print(json_text({"figures": [str(f) for f in figures]}))
    elif not args.quiet:
        for f in figures:
            print(f"{f} (and .svg)")
    return 0
