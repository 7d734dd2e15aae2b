"""`accelsim report`: the Markdown report of a run, simulation, sweep or demo folder."""

from __future__ import annotations

from accelsim.analysis.report import report
from accelsim.io import json_text


def handle(args) -> int:
    path = report(args.results, args.out)
    if args.json:
        print(json_text({"report": str(path)}, indent=None))
    elif not args.quiet:
        print(f"report: {path}")
    return 0
