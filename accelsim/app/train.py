"""`accelsim train`: DropBack (or dense) training of a zoo model into a run folder."""

from __future__ import annotations

from accelsim.app.key_values import parse_key_values
from accelsim.train.defaults import DEFAULTED, defaults_help  # noqa: F401  (torch-free)


def handle(args) -> int:
    # the training loop imports torch: here, so that the other commands start without it
    from accelsim.train.loop import TrainConfig, format_history, parse_budget, summary_json, train

    budget, compression = parse_budget(args.budget)
    config = TrainConfig(
        model=args.model, model_args=parse_key_values(args.model_arg, "--model-arg"),
        dataset=args.dataset, data_dir=args.data_dir, budget=budget, compression=compression,
        budget_mode=args.budget_mode, method=args.method, warmup_epochs=args.warmup_epochs,
        epochs=args.epochs, seed=args.seed,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, weight_decay=args.weight_decay, lr_schedule=args.lr_schedule,
        lr_step_epochs=args.lr_step_epochs, lr_gamma=args.lr_gamma,
        freeze_at_epoch=args.freeze_at_epoch, freeze_at_step=args.freeze_at_step,
        trace=not args.no_trace, trace_every=args.trace_every, device=args.device,
        threads=args.threads)
    result = train(config, args.out, resume=args.resume, quiet=args.quiet or args.json)
    if args.json:
        print(summary_json(result))
    elif not args.quiet:
        s = result.summary
        print(format_history(result.history))
        kind = "dense" if s["dense"] else f"DropBack, {s['tracked_count']:,} tracked"
        print(f"\n{s['model']} on {s['dataset']} ({kind} of {s['param_count']:,} weights): "
              f"test accuracy {s['test_accuracy'] * 100:.2f}%")
        print(f"checkpoint: {s['checkpoint']} ({s['checkpoint_bytes']:,} bytes; dense "
              f"{s['dense_checkpoint_bytes']:,})")
        if s["trace"]:
            print(f"trace: {s['trace']}")
    return 0
