"""`accelsim plot`: every figure a results folder supports."""

from __future__ import annotations

from accelsim import output_folder
from accelsim.analysis.figures import figures_for
from accelsim.app import flags
from accelsim.errors import AccelsimError
from accelsim.io import json_text
from accelsim.limits import only_regular_files


def handle(args) -> int:
    only_regular_files(args.results, AccelsimError)  # a FIFO in a results folder never ends
    if args.out:  # the default, <results>/figures, belongs to the results folder
        output_folder.claim(args.out, "figures", force=args.force)
    with flags.reading_results(args.results):
        figures = figures_for(args.results, args.out)
    if args.json:
        print(json_text({"figures": [str(f) for f in figures]}))
    elif not args.quiet:
        for f in figures:
            print(f"{f} (and .svg)")
    return 0
