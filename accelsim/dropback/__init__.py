"""DropBack: training on a pruned weight budget with regenerated initial weights.

- `prng`: counter-based generator (seed, layer_id, index) -> 32 bits; numpy and torch agree.
- `init`: budgeted layers (Linear, Conv2d) and their initial values w0.
- `topk`: exact top-k selection over a tensor of scores, fast when the set changes little.
- `optimizer`: `DropBack`, a torch optimizer around any other (top-k by score, freeze, resume);
  `wrapper`: the base that makes it (and gmp, RigL) a `torch.optim.Optimizer` for schedulers
  and `GradScaler`.
- `method_table`: the one list of sparse-training methods (torch-free); `methods`: them built.
- `budget`: the one rule from a compression ratio to a tracked count.
- `checkpoint`: sparse checkpoint (seed + tracked index/value pairs) and exact rebuild.

Names are re-exported lazily: `prng` and the numpy half of `init` work without torch.
"""

from accelsim._lazy import lazy_exports

_EXPORTS = {
    "DropBack": "accelsim.dropback.optimizer",
    "DropBackStepStats": "accelsim.dropback.optimizer",
    "per_layer_budgets": "accelsim.dropback.optimizer",
    "select_top_k": "accelsim.dropback.topk",
    "LayerInfo": "accelsim.dropback.init",
    "budgeted_layers": "accelsim.dropback.init",
    "initialize_model": "accelsim.dropback.init",
    "initial_values_numpy": "accelsim.dropback.init",
    "initial_values_torch": "accelsim.dropback.init",
    "save_checkpoint": "accelsim.dropback.checkpoint",
    "load_checkpoint": "accelsim.dropback.checkpoint",
    "checkpoint_sizes": "accelsim.dropback.checkpoint",
    "restore_dropback": "accelsim.dropback.checkpoint",
    "LoadedCheckpoint": "accelsim.dropback.checkpoint",
}

__all__ = list(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
