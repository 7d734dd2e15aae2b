"""`accelsim plot`: every figure a results folder supports."""

from __future__ import annotations

import json

from accelsim.analysis.figures import figures_for


def handle(args) -> int:
    figures = figures_for(args.results, args.out)
    if args.json:
        print(json.dumps({"figures": [str(f) for f in figures]}, indent=2))
    elif not args.quiet:
        for f in figures:
            print(f"{f} (and .svg)")
    return 0
