"""`accelsim report`: the Markdown report of a run, simulation, sweep or demo folder."""

from __future__ import annotations

from pathlib import Path

from accelsim import output_folder
from accelsim.analysis.folders import check_readable
from accelsim.analysis.report import report
from accelsim.app import flags
from accelsim.app.progress import Stages
from accelsim.errors import AccelsimError
from accelsim.io import json_text
from accelsim.limits import only_regular_files


def handle(args) -> int:
    only_regular_files(args.results, AccelsimError)  # a FIFO in a results folder never ends
    if args.out and Path(args.out).resolve() != Path(args.results).resolve():
        output_folder.claim_report(args.out, args.results, force=args.force)
    with flags.reading_results(args.results):  # bad or damaged: one line, before any progress
        kind = check_readable(args.results)
    stages = Stages("report", 1, args.quiet or args.json)
    stages(f"drawing the figures of the {kind} folder {args.results} and writing its report")
    with flags.reading_results(args.results):
        path = report(args.results, args.out)
    stages.done()
    if args.json:
        print(json_text({"report": str(path)}, indent=None))
    elif not args.quiet:
        print(f"report: {path}")
    return 0
