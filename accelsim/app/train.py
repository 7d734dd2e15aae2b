"""`accelsim train`: DropBack (or dense) training of a zoo model into a run folder."""

from __future__ import annotations

from accelsim import output_folder
from accelsim.app import flags
from accelsim.app.key_values import parse_key_values
from accelsim.dropback.method_table import METHODS, cli_help  # noqa: F401  (torch-free)
from accelsim.train.defaults import DEFAULTED, defaults_help  # noqa: F401  (torch-free)

METHOD_HELP = cli_help()  # the --method help, one line per method of the table


def _check_flags(args) -> None:
    flags.epochs(args.epochs)
    flags.seed(args.seed)
    flags.batch_size(args.batch_size)
    for flag, value in (("--lr", args.lr), ("--momentum", args.momentum),
                        ("--weight-decay", args.weight_decay), ("--lr-gamma", args.lr_gamma)):
        flags.number(flag, value, positive=flag == "--lr")
    flags.integer("--lr-step-epochs", args.lr_step_epochs, 1, flags.MAX_EPOCHS)
    flags.integer("--warmup-epochs", args.warmup_epochs, 0, flags.MAX_EPOCHS)
    flags.integer("--budget-anneal-epochs", args.budget_anneal_epochs, 0, flags.MAX_EPOCHS)
    flags.integer("--freeze-at-epoch", args.freeze_at_epoch, 1, flags.MAX_EPOCHS)
    flags.train_iterations(args.freeze_at_step, "--freeze-at-step")
    flags.train_iterations(args.trace_every, "--trace-every")
    flags.threads(args.threads)
    flags.device(args.device)


def _budgeted_weights(args, model_args: dict):
    """The budgeted weight count of the model the run will build (on torch's meta device:
    shapes only, no memory)."""
    def count() -> int:
        from accelsim.models import build_model_shapes
        from accelsim.trace.torch_geometry import budgeted_param_count
        from accelsim.train.data import load_dataset
        from accelsim.train.loop import TrainConfig, _model_args

        flatten = args.model.replace("_", "-").lower() == "lenet-300-100"
        data = load_dataset(args.dataset, args.data_dir, flatten=flatten)
        config = TrainConfig(model=args.model, model_args=model_args, dataset=args.dataset)
        return budgeted_param_count(build_model_shapes(args.model, **_model_args(config, data)))
    return count


def schedule_line(s: dict) -> str:
    """The budget and what its schedule cost: k, the time-averaged and the peak count."""
    steps = [f"{s[key]:,} {what} steps" for key, what in
             (("warmup_steps", "dense warm-up"), ("budget_anneal_steps", "gradual-budget"))
             if s.get(key)]
    return (f"budget: {s['tracked_count']:,} tracked at the end ({s['compression']:.1f}x); "
            f"time-averaged {s['mean_tracked_count']:,.0f} ({s['mean_compression']:.1f}x), "
            f"peak {s['peak_tracked_count']:,} ({s['peak_compression']:.1f}x)"
            + (f"; schedule: {', '.join(steps)}" if steps else "; fixed from the first step"))


def handle(args) -> int:
    _check_flags(args)
    # the training loop imports torch: here, so that the other commands start without it
    from accelsim.train.loop import TrainConfig, format_history, parse_budget, summary_json, train

    model_args = parse_key_values(args.model_arg, "--model-arg")
    flags.budget(args.budget, _budgeted_weights(args, model_args))
    budget, compression = parse_budget(args.budget)
    config = TrainConfig(
        model=args.model, model_args=model_args,
        dataset=args.dataset, data_dir=args.data_dir, budget=budget, compression=compression,
        budget_mode=args.budget_mode, method=args.method, warmup_epochs=args.warmup_epochs,
        budget_anneal_epochs=args.budget_anneal_epochs, bias_tracking=args.bias_tracking,
        epochs=args.epochs, seed=args.seed,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, weight_decay=args.weight_decay, lr_schedule=args.lr_schedule,
        lr_step_epochs=args.lr_step_epochs, lr_gamma=args.lr_gamma,
        freeze_at_epoch=args.freeze_at_epoch, freeze_at_step=args.freeze_at_step,
        trace=not args.no_trace, trace_every=args.trace_every, device=args.device,
        threads=args.threads)
    output_folder.claim(args.out, "run", force=args.force, create=not args.resume)
    result = train(config, args.out, resume=args.resume, quiet=args.quiet or args.json)
    if args.json:
        print(summary_json(result))
    elif not args.quiet:
        s = result.summary
        print(format_history(result.history))
        kind = "dense" if s["dense"] else f"{s['method']}, {s['tracked_count']:,} tracked"
        print(f"\n{s['model']} on {s['dataset']} ({kind} of {s['param_count']:,} weights): "
              f"test accuracy {s['test_accuracy'] * 100:.2f}%")
        if not s["dense"]:
            print(schedule_line(s))
        print(f"checkpoint: {s['checkpoint']} ({s['checkpoint_bytes']:,} bytes; dense "
              f"{s['dense_checkpoint_bytes']:,})")
        if s["trace"]:
            print(f"trace: {s['trace']}")
    return 0
