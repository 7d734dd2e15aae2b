"""One DropBack ablation run: the fixed budget of the paper (k tracked from the first step, no
dense warm-up, no gradual budget) plus one variant, trained through `accelsim.train.loop.train`
so the run folder (history.csv with the per-layer weight diffusion, summary.json) is the
CLI's. Results and commands: reports/accuracy.md ("Round 4", "Round 5").

    python benchmarks/dropback_ablation.py --data-dir DIR --variant NAME --seed S --out FOLDER
        [--budget 25x] [--epochs 20] [--lr 0.1] [--value V]

Variants (one change each against `fixed`):
  fixed            the fixed budget, the MNIST defaults otherwise (momentum 0.9, lr 0.1, cosine)
  dense            no budget (the baseline)
  init-scale       untracked (and starting) weights w0 * V: their distribution stays all run
  pin-output       the output layer always tracked, inside the budget (a per-layer floor)
  lookahead        score |w - w0 - lr * momentum * buffer|: where momentum takes a weight
  entry-momentum   an entering weight's momentum buffer set to its steady state, g / (1 - mu),
                   so a newcomer moves as fast as an incumbent
  lr               --lr V for the whole run (tracked weights are the only ones that move)
  layer-lr         each layer's gradient (so its step) scaled by dense / DropBack weight diffusion
                   measured per layer at the end of a run (the paper's criterion): --scales
                   1.09,0.81,0.88 for LeNet-300-100 at 25x (seed 0 dense, seed 1 DropBack)
  lr-warmup        the learning rate ramps up linearly over the first V steps (then the cosine
                   schedule): early, small steps leave the first picks easy to displace
  sparse-warmup    for the first V steps the tracked set is re-chosen every step by the
                   current gradient's magnitude alone (no incumbency), k tracked throughout
  weight-decay     SGD weight decay V (tracked weights pulled toward 0; untracked stay at w0)
  w0-decay         tracked weights pulled back toward w0: V * (w - w0) added to the gradient
  label-smoothing  cross-entropy with label smoothing V (training loss only)
  per-layer        each layer a fixed share of k proportional to its size (mode per_layer)
  bias-outside     every bias always tracked, outside the budget: k weights + all biases
  hysteresis       a tracked element's score counts (1 + V) times: a newcomer must beat the
                   k-th by that factor to displace it (less churn)
  batch            batch size V (lr unchanged)
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accelsim.dropback import methods
from accelsim.dropback.budget import tracked_count
from accelsim.dropback.init import budgeted_layers
from accelsim.dropback.optimizer import DropBack
from accelsim.train import loop

PINNED = methods.PINNED_SCORE


class Variant(DropBack):
    """DropBack with the ablation's one change (the torch path: fused=False)."""

    variant = "fixed"
    value = 1.0

    def _compute_initial_flat(self):
        initial = super()._compute_initial_flat()
        return initial * self.value if self.variant == "init-scale" else initial

    def _momentum(self):
        buffers = self._optimizer_state.buffers
        return buffers.get("momentum_buffer")

    def _adjust_scores(self, scores) -> None:
        if self.variant == "pin-output":
            start = sum(layer.param_count for layer in self.layers[:-1])
            scores[start:].fill_(PINNED)
        elif self.variant == "lookahead":
            buf = self._momentum()
            if buf is not None:
                group = self.optimizer.param_groups[0]
                ahead = self._flat - self.initial_values() - group["lr"] * group["momentum"] * buf
                scores.copy_(ahead.abs())
        elif self.variant == "bias-outside":
            start = 0
            for layer in self.layers:
                weights = layer.module.weight.numel()
                scores[start + weights:start + layer.param_count].fill_(PINNED)
                start += layer.param_count
        elif self.variant == "hysteresis" and self._tracked_index.numel():
            idx = self._tracked_index
            scores.index_copy_(0, idx, scores.index_select(0, idx).mul_(1 + self.value))
        elif self.variant == "sparse-warmup" and self.step_count < self.value:
            # every element scored by this step's movement alone: lr * |g| (momentum off)
            grads = torch.cat([p.grad.reshape(-1) for p in self._params])
            scores.copy_(grads.abs())

    def step(self, closure=None):
        if self.variant == "w0-decay":  # the gradient of V/2 * |w - w0|^2 (0 where untracked)
            initial, start = self.initial_values(), 0
            for param in self._params:
                count = param.numel()
                if param.grad is not None:
                    w0 = initial[start:start + count].view_as(param)
                    param.grad.add_(param.detach() - w0, alpha=self.value)
                start += count
        if self.variant == "layer-lr":
            for layer, scale in zip(self.layers, self.scales):
                for param in (layer.module.weight, layer.module.bias):
                    if param is not None and param.grad is not None:
                        param.grad.mul_(scale)
        before = None
        if self.variant == "entry-momentum":  # the torch path keeps no mask: make one
            before = torch.zeros(self.param_count, dtype=torch.bool).index_fill_(
                0, self._tracked_index, True)
        if self.variant == "lr-warmup" and self.step_count < self.value:
            group = self.optimizer.param_groups[0]
            lr = group["lr"]
            group["lr"] = lr * (self.step_count + 1) / self.value
            try:
                return super().step(closure)
            finally:
                group["lr"] = lr
        stats = super().step(closure)
        if before is not None:
            buf = self._momentum()
            mu = self.optimizer.param_groups[0]["momentum"]
            if buf is not None and mu < 1:
                now = torch.zeros_like(before).index_fill_(0, self._tracked_index, True)
                entered = now & ~before
                buf[entered] /= (1 - mu)
        return stats


def build(name, model, optimizer, *, variant, value, scales=(), **kwargs):
    cls = type("Ablation", (Variant,), {"variant": variant, "value": value,
                                        "scales": tuple(scales)})
    kwargs.pop("total_steps", None)
    if variant == "bias-outside":  # k weights by score plus every bias
        layers = budgeted_layers(model)
        budget, compression = kwargs.pop("budget"), kwargs.pop("compression")
        k = budget if budget is not None else tracked_count(
            sum(layer.param_count for layer in layers), compression)
        biases = sum(layer.module.bias.numel() for layer in layers
                     if layer.module.bias is not None)
        kwargs.update(budget=k + biases, compression=None)
    return cls(model, optimizer, fused=False, **kwargs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--variant", default="fixed")
    parser.add_argument("--value", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", default="25x")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--model", default="lenet-300-100")
    parser.add_argument("--scales", default="", help="layer-lr: one factor per layer")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    budget, compression = loop.parse_budget("dense" if args.variant == "dense" else args.budget)
    lr = args.value if args.variant == "lr" else args.lr
    extra = {}
    if args.variant == "weight-decay":
        extra["weight_decay"] = args.value
    elif args.variant == "batch":
        extra["batch_size"] = int(args.value)
    elif args.variant == "per-layer":
        extra["budget_mode"] = "per_layer"
    elif args.variant == "label-smoothing":  # the training loss only (evaluation is functional)
        loop.nn.CrossEntropyLoss = partial(torch.nn.CrossEntropyLoss, label_smoothing=args.value)
    config = loop.TrainConfig(model=args.model, dataset="mnist", data_dir=args.data_dir,
                              budget=budget, compression=compression, seed=args.seed,
                              epochs=args.epochs, lr=lr, warmup_epochs=0,
                              budget_anneal_epochs=0, trace=False, **extra)
    scales = [float(v) for v in args.scales.split(",") if v]
    loop.build_method = partial(build, variant=args.variant, value=args.value, scales=scales)
    result = loop.train(config, args.out, quiet=True)
    history = result.history
    print(f"{args.variant} {args.value:g} seed {args.seed}: test "
          f"{result.accuracy * 100:.2f} train {history['train_accuracy'].iloc[-1] * 100:.2f} "
          f"diffusion {history['weight_diffusion'].iloc[-1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
