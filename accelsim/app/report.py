"""`accelsim report`: the Markdown report of a run, simulation, sweep or demo folder."""

from __future__ import annotations

import json

from accelsim.analysis.report import report


def handle(args) -> int:
    path = report(args.results, args.out)
    if args.json:
        print(json.dumps({"report": str(path)}))
    elif not args.quiet:
        print(f"report: {path}")
    return 0
