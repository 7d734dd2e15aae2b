"""`accelsim trace`: a trace folder from a trained model's sparse checkpoint, or a synthetic one
for a zoo model."""

from __future__ import annotations

from accelsim import output_folder
from accelsim.app import flags
from accelsim.app.key_values import parse_key_values
from accelsim.app.progress import Stages
from accelsim.errors import AccelsimError
from accelsim.io import json_text
from accelsim.trace.format import save_trace


def handle(args) -> int:
    flags.seed(args.seed)
    flags.batch_size(args.batch_size)
    output_folder.check(args.out, "trace")
    stages = Stages("trace", 2, args.quiet or args.json)
    if args.checkpoint:
        if args.synthetic or args.budget:
            raise AccelsimError("trace --checkpoint takes the tracked set from the checkpoint; "
                                "drop --synthetic/--budget")
        # building the model imports torch: only once the input is known to be good
        from accelsim.trace.from_model import trace_from_checkpoint

        stages(f"rebuilding the model of {args.checkpoint} and its tracked set")
        trace = trace_from_checkpoint(args.checkpoint, batch_size=args.batch_size)
    else:
        if not args.synthetic:
            raise AccelsimError("trace --model needs --synthetic (a trained model comes from "
                                "--checkpoint)")
        if args.budget is None:
            raise AccelsimError("trace --synthetic needs --budget (a count, a ratio like 10x, "
                                "or dense)")
        from accelsim.dropback.budget import tracked_count
        from accelsim.models import build_model_shapes  # torch, as above
        from accelsim.trace.from_model import synthetic_model_trace
        from accelsim.trace.torch_geometry import budgeted_param_count
        from accelsim.train.loop import parse_budget

        model_args = parse_key_values(args.model_arg, "--model-arg")

        def total() -> int:  # shapes only: nothing allocated, nothing drawn
            return budgeted_param_count(build_model_shapes(args.model, **model_args))

        flags.budget(args.budget, total)
        budget, compression = parse_budget(args.budget)
        if compression:
            budget = tracked_count(total(), compression)  # >= 1: flags.budget checked it
        stages(f"building {args.model} and drawing its tracked set (budget {args.budget}, "
               f"{args.layout})")
        trace = synthetic_model_trace(args.model, budget, seed=args.seed,
                                      batch_size=args.batch_size, layout=args.layout,
                                      **model_args)
    stages(f"writing {args.out}")
    path = save_trace(trace, args.out)
    stages.done()
    summary = {"trace": str(path), **trace.identity}
    if args.json:
        print(json_text(summary))
    elif not args.quiet:
        print(f"trace of {summary['model']} ({summary['source']}, "
              f"{summary['budget_tracked_count']:,} of {summary['param_count']:,} weights "
              f"tracked, {len(trace.layers)} layers) written to {path}")
    return 0
