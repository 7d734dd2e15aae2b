"""`WrappingOptimizer`: a `torch.optim.Optimizer` that runs another optimizer's update, then its
own rule (DropBack's selection, a pruning method's masks).

It shares the inner optimizer's ``param_groups``, ``state`` and ``defaults`` (the same list and
dicts, not copies), so whatever reads or writes those through the wrapper reaches the inner
optimizer: an LR scheduler (``CosineAnnealingLR``, ``OneCycleLR``: learning rate and momentum
per group), ``torch.amp.GradScaler`` (unscales the gradients of ``param_groups``, then calls
``step()`` or skips it on an overflow), ``zero_grad(set_to_none=...)``. Being an ``Optimizer``,
it is what those accept (they check ``isinstance``), and step hooks
(``register_step_pre_hook``) work. ``state_dict()`` is the subclass's own (it holds the inner
optimizer's state dict plus what the rule needs to resume).

A subclass calls ``_wrap(optimizer)`` in its ``__init__`` before anything else.
"""

from __future__ import annotations

import torch


class WrappingOptimizer(torch.optim.Optimizer):
    """Base of DropBack and the other sparse-training methods (see the module docstring)."""

    optimizer: torch.optim.Optimizer

    def _wrap(self, optimizer) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"expected a torch.optim.Optimizer to wrap, got "
                            f"{type(optimizer).__name__}")
        params = [p for group in optimizer.param_groups for p in group["params"]]
        # the base class sets up its hooks and step profiling; its own groups are then
        # replaced by the inner optimizer's, so both see one set of settings and state
        super().__init__([{"params": params}], dict(optimizer.defaults))
        self.optimizer = optimizer
        self.param_groups = optimizer.param_groups
        self.state = optimizer.state
        self.defaults = optimizer.defaults

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group: dict) -> None:
        if hasattr(self, "optimizer"):  # after _wrap: the budgeted set is fixed at build
            raise ValueError("a DropBack-style optimizer's parameters are fixed when it is "
                             "built; build the inner optimizer with every group first")
        super().add_param_group(param_group)
