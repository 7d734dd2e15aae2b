"""`accelsim plot`: every figure a results folder supports."""

from __future__ import annotations

import json

from accelsim.analysis.figures import figures_for
from accelsim.app import flags
from accelsim.errors import AccelsimError
from accelsim.limits import only_regular_files


def handle(args) -> int:
    only_regular_files(args.results, AccelsimError)  # a FIFO in a results folder never ends
    with flags.reading_results(args.results):
        figures = figures_for(args.results, args.out)
    if args.json:
        print(json.dumps({"figures": [str(f) for f in figures]}, indent=2))
    elif not args.quiet:
        for f in figures:
            print(f"{f} (and .svg)")
    return 0
