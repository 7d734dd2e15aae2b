"""DropBack around any torch optimizer: train every weight, keep only a budget of k of them.

After each plain optimizer step, every budgeted element (weights and biases of the Linear and
Conv2d layers, see `accelsim.dropback.init`) is scored by how far it has moved from its initial
value, ``score = |w - w0|`` (a bias starts at 0, so its score is ``|b|``: the same formula).
The k highest scores are *tracked* (kept); every other element is reset to w0, which the
hardware does not store but regenerates from the PRNG, and its optimizer state (momentum,
Adam moments: every state tensor with the parameter's shape) is set to zero, so an element that
re-enters the tracked set starts from a clean state.

Selection is exact and deterministic:
    order = higher score first; equal scores -> lower *global index* first, where the global
    index numbers the elements of all budgeted layers concatenated in layer_id order, each
    layer in its element order (weight row-major, then bias).
Exactly k elements are tracked after every step (min(k, param_count) if k is larger).
A NaN score (a diverged element) ranks below every other score.
Before the first step nothing is tracked: every element equals w0.

mode="global" ranks all layers together (the paper's method). mode="per_layer" gives each
layer a fixed share of k proportional to its param_count (`per_layer_budgets`: largest
remainder, ties to the lower layer_id; the shares sum exactly to k) and ranks inside each layer.

Freezing: with freeze_at_step=s the selection runs in steps 1..s; from step s+1 the tracked set
is fixed, untracked elements are still reset to w0 after every step, nothing is re-ranked.
`freeze()` does the same from the next step on.

Speed (an emulation matter, not a hardware one):
* all budgeted parameters are views into one flat buffer, so scoring and reset are a few
  whole-buffer operations (`param.data` is re-pointed at construction; moving the model to
  another device afterwards is detected and the buffer rebuilt);
* the selection is no full sort: the last step's threshold, lowered by a margin, picks a small
  candidate set (every element at or above the new k-th score is in it, else it is widened);
  the exact k-th score is found by `kthvalue` among candidates only, ties at that score are
  resolved by index;
* cache_initial=True keeps a copy of w0 in memory. Hardware would regenerate it (that is what
  the simulator charges); with cache_initial=False it is regenerated from the PRNG every step,
  which gives bit-identical training, only slower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from accelsim.dropback import prng
from accelsim.dropback.init import (
    LayerInfo,
    budgeted_layers,
    initial_values_torch,
    layer_parameters,
)

STATE_FORMAT = "accelsim-dropback-state"
STATE_VERSION = 1
MODES = ("global", "per_layer")

# candidate threshold = last threshold * CANDIDATE_MARGIN; if too few candidates, multiply by
# WIDEN_FACTOR and retry, at most MAX_WIDENINGS times, then rank everything
CANDIDATE_MARGIN = 0.97
WIDEN_FACTOR = 0.7
MAX_WIDENINGS = 3


@dataclass(frozen=True)
class DropBackStepStats:
    """What one DropBack update did. Tuples are indexed by layer_id."""

    step: int  # updates done so far, this one included (1-based)
    tracked_before: tuple  # tracked per layer during this step (set left by the last update)
    entered: tuple  # untracked before, tracked after
    left: tuple  # tracked before, untracked after
    tracked_after: tuple  # tracked_before + entered - left
    threshold: float  # score of the k-th tracked element (global mode); nan when frozen
    frozen: bool = False  # True if the set was fixed during this step (no selection)
    layer_thresholds: tuple = ()  # per_layer mode: each layer's k_l-th score


def per_layer_budgets(budget: int, param_counts) -> list[int]:
    """Split `budget` over layers in proportion to `param_counts`, summing exactly to budget.

    Largest-remainder (Hamilton) rounding: each layer gets floor(budget * n_l / N), then the
    leftover units go to the largest fractional parts, ties to the lower layer_id. No share
    exceeds its layer's count when budget <= N."""
    counts = [int(c) for c in param_counts]
    total = sum(counts)
    budget = min(int(budget), total)
    if total == 0:
        return [0] * len(counts)
    shares = [budget * c // total for c in counts]
    remainders = [budget * c - share * total for c, share in zip(counts, shares)]  # exact ints
    leftover = budget - sum(shares)
    order = sorted(range(len(counts)), key=lambda i: (-remainders[i], i))
    for layer_id in order[:leftover]:
        shares[layer_id] += 1
    return shares


def _resolve_budget(budget, compression, param_count: int) -> int:
    if (budget is None) == (compression is None):
        raise ValueError("give exactly one of budget (tracked count) or compression (ratio)")
    if budget is not None:
        if isinstance(budget, bool) or int(budget) != budget or budget < 0:
            raise ValueError(f"budget must be an int >= 0, got {budget!r}")
        return int(budget)
    if not (isinstance(compression, (int, float)) and math.isfinite(compression)) \
            or compression < 1:
        raise ValueError(f"compression must be a number >= 1, got {compression!r}")
    return int(round(param_count / compression))


# ------------------------------------------------------------------------- exact selection
def _candidate_positions(scores, count: int, hint: float | None):
    """Ascending positions of a superset of the top-`count` scores, or None for "all".

    Every element whose score is >= the true count-th score must be included; using a
    threshold t with at least `count` elements >= t guarantees it (the count-th score is
    then >= t)."""
    if hint is None or not hint > 0:
        return None
    threshold = hint * CANDIDATE_MARGIN
    for _ in range(MAX_WIDENINGS + 1):
        positions = torch.nonzero(scores >= threshold).squeeze(1)
        if positions.numel() >= count:
            return positions
        threshold *= WIDEN_FACTOR
    return None


def select_top_k(scores, count: int, hint: float | None = None):
    """Exact top-`count` of a 1-D score tensor: (ascending positions, k-th score).

    Order: higher score first, equal scores -> lower position first. `hint` is a guess of the
    k-th score (the last step's), used only to shrink the work, never to change the result."""
    total = scores.numel()
    if count <= 0:
        return torch.empty(0, dtype=torch.int64, device=scores.device), math.inf
    if count >= total:
        return torch.arange(total, device=scores.device), float(scores.min())
    positions = _candidate_positions(scores, count, hint)
    # NaN scores (a diverged element) rank last; candidates (score >= t) never hold NaN
    candidate_scores = torch.nan_to_num(scores, nan=-1.0) if positions is None \
        else scores[positions]
    candidate_count = candidate_scores.numel()
    # kthvalue counts from the smallest: the count-th largest is the (n-count+1)-th smallest
    kth_score = candidate_scores.kthvalue(candidate_count - count + 1).values
    chosen = candidate_scores >= kth_score
    chosen_count = int(chosen.sum())
    if chosen_count != count:
        chosen = _drop_late_ties(candidate_scores, kth_score, chosen, chosen_count - count)
    picked = torch.nonzero(chosen).squeeze(1)
    if positions is not None:
        picked = positions[picked]
    if picked.numel() != count:  # cannot happen: every score compares (no NaN left)
        raise RuntimeError(f"selection kept {picked.numel()} elements instead of {count}")
    return picked, float(kth_score)


def _drop_late_ties(candidate_scores, kth_score, chosen, excess: int):
    """Several elements share the k-th score: untrack the `excess` highest-indexed of them."""
    tied = torch.nonzero(candidate_scores == kth_score).squeeze(1)
    chosen = chosen.clone()
    chosen[tied[tied.numel() - excess:]] = False
    return chosen


# ------------------------------------------------------------------------- the wrapper
class DropBack:
    """DropBack around a torch optimizer; see the module docstring for the semantics.

    Typical use::

        db = DropBack(model, torch.optim.SGD(model.parameters(), lr=0.1), compression=25)
        for x, y in batches:
            db.zero_grad()
            loss_fn(model(x), y).backward()
            stats = db.step()
    """

    def __init__(self, model, optimizer, budget=None, compression=None, seed=0,
                 mode="global", freeze_at_step=None, initialize=True, cache_initial=True,
                 bias_init="zero"):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if freeze_at_step is not None and (int(freeze_at_step) != freeze_at_step
                                           or freeze_at_step < 1):
            raise ValueError(f"freeze_at_step must be an int >= 1 or None, got {freeze_at_step!r}")
        prng.layer_keys(seed, 0)  # validates the seed early
        self.model = model
        self.optimizer = optimizer
        self.seed = int(seed)
        self.mode = mode
        self.bias_init = bias_init
        self.freeze_at_step = None if freeze_at_step is None else int(freeze_at_step)
        self.cache_initial = bool(cache_initial)
        self.layers: list[LayerInfo] = budgeted_layers(model)
        if not self.layers:
            raise ValueError("the model has no nn.Linear or nn.Conv2d layer to put under budget")
        self.param_count = sum(layer.param_count for layer in self.layers)
        self.budget = _resolve_budget(budget, compression, self.param_count)
        self.layer_budgets = (per_layer_budgets(self.budget, self._layer_counts())
                              if mode == "per_layer" else None)
        self.step_count = 0
        self.frozen = False
        self.last_loss = None
        self._bind_flat_buffer()
        self._initial_cache = None
        initial = self._compute_initial_flat()
        self._apply_initialize(initial, initialize)
        if self.cache_initial:
            self._initial_cache = initial
        device = self._flat.device
        self._score_buffer = torch.empty_like(self._flat)
        self._tracked_index = torch.empty(0, dtype=torch.int64, device=device)
        self._tracked_mask = torch.zeros(self.param_count, dtype=torch.bool, device=device)
        self._tracked_per_layer = (0,) * len(self.layers)
        self._selection_hints = [None] * len(self.layers)  # per layer, or [global] at [0]
        self._param_local_index = None  # frozen-set cache: per-parameter local indices

    # ----------------------------------------------------------------- flat buffer
    def _layer_counts(self):
        return [layer.param_count for layer in self.layers]

    def _budgeted_params(self):
        return [p for layer in self.layers for p in layer_parameters(layer)]

    def _bind_flat_buffer(self):
        """Re-point every budgeted parameter at a slice of one flat contiguous buffer."""
        params = self._budgeted_params()
        dtypes = {p.dtype for p in params}
        devices = {p.device for p in params}
        if len(dtypes) != 1 or len(devices) != 1:
            raise ValueError(f"budgeted parameters must share one dtype and device, got "
                             f"{sorted(map(str, dtypes))} on {sorted(map(str, devices))}")
        (dtype,), (device,) = dtypes, devices
        if not dtype.is_floating_point:
            raise ValueError(f"budgeted parameters must be floating point, got {dtype}")
        flat = torch.empty(self.param_count, dtype=dtype, device=device)
        offsets, offset = [], 0
        with torch.no_grad():
            for param in params:
                count = param.numel()
                flat[offset:offset + count].copy_(param.data.reshape(-1))
                param.data = flat[offset:offset + count].view(param.shape)
                offsets.append(offset)
                offset += count
        self._flat = flat
        self._params = params
        self._param_offsets = offsets
        self._param_pointers = [p.data_ptr() for p in params]
        starts = [0]
        for count in self._layer_counts():
            starts.append(starts[-1] + count)
        self._layer_bounds = torch.tensor(starts, dtype=torch.int64, device=device)
        self._param_bounds = torch.tensor(offsets + [offset], dtype=torch.int64, device=device)

    def _ensure_bound(self):
        """Rebuild the flat buffer if something (model.to(), .data =) re-pointed a parameter."""
        if all(p.data_ptr() == ptr for p, ptr in zip(self._params, self._param_pointers)):
            return
        self._bind_flat_buffer()
        device = self._flat.device
        if self._initial_cache is not None:
            self._initial_cache = self._initial_cache.to(device=device, dtype=self._flat.dtype)
        self._score_buffer = torch.empty_like(self._flat)
        self._tracked_index = self._tracked_index.to(device)
        self._tracked_mask = self._tracked_mask.to(device)
        self._param_local_index = None

    # ----------------------------------------------------------------- initial values
    def _compute_initial_flat(self):
        """w0 of every budgeted element, regenerated from the PRNG, in global element order."""
        device = self._flat.device
        parts = [initial_values_torch(self.seed, layer, device, self.bias_init)
                 for layer in self.layers]
        return torch.cat(parts).to(self._flat.dtype)

    def initial_values(self):
        """Flat w0 of all budgeted elements (the cache, or regenerated)."""
        if self._initial_cache is not None:
            return self._initial_cache
        return self._compute_initial_flat()

    def _apply_initialize(self, initial, initialize: bool):
        if initialize:
            with torch.no_grad():
                self._flat.copy_(initial)
            return
        if not torch.equal(self._flat, initial):
            mismatched = [layer.name for layer, lo, hi in self._layer_slices()
                          if not torch.equal(self._flat[lo:hi], initial[lo:hi])]
            raise ValueError(
                "initialize=False but the weights of layer(s) "
                f"{', '.join(mismatched)} differ from the PRNG initial values for seed "
                f"{self.seed}; use initialize=True or accelsim.dropback.init.initialize_model")

    def _layer_slices(self):
        bounds = self._layer_bounds.tolist()
        return [(layer, bounds[i], bounds[i + 1]) for i, layer in enumerate(self.layers)]

    # ----------------------------------------------------------------- public API
    def zero_grad(self, set_to_none: bool = True):
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def freeze(self):
        """Fix the tracked set from the next step on."""
        self.frozen = True

    @torch.no_grad()
    def _selection(self, initial):
        """Score all elements and pick the tracked set: (sorted global index, threshold(s))."""
        scores = torch.sub(self._flat, initial, out=self._score_buffer).abs_()
        if self.mode == "global":
            index, threshold = select_top_k(scores, min(self.budget, self.param_count),
                                            self._selection_hints[0])
            self._selection_hints[0] = threshold
            return index, threshold, ()
        parts, thresholds = [], []
        for (layer, lo, hi), share in zip(self._layer_slices(), self.layer_budgets):
            local, threshold = select_top_k(scores[lo:hi], share,
                                            self._selection_hints[layer.layer_id])
            self._selection_hints[layer.layer_id] = threshold
            parts.append(local + lo)
            thresholds.append(threshold)
        return torch.cat(parts), min(thresholds), tuple(thresholds)

    def step(self, closure=None) -> DropBackStepStats:
        """optimizer.step(closure), then selection (unless frozen) and reset to w0."""
        self._ensure_bound()
        self.last_loss = self.optimizer.step(closure) if closure is not None \
            else self.optimizer.step()
        with torch.no_grad():
            initial = self.initial_values()
            was_frozen = self.frozen
            if was_frozen:
                index, threshold, layer_thresholds = self._tracked_index, math.nan, ()
            else:
                index, threshold, layer_thresholds = self._selection(initial)
            self._reset_untracked(index, initial)
            stats = self._record(index, threshold, layer_thresholds, was_frozen)
        if self.freeze_at_step is not None and self.step_count >= self.freeze_at_step:
            self.frozen = True
        return stats

    # ----------------------------------------------------------------- reset and state
    def _reset_untracked(self, index, initial):
        """Untracked elements <- w0; their optimizer state tensors <- 0."""
        kept = self._flat[index]
        self._flat.copy_(initial)
        self._flat.index_copy_(0, index, kept)
        local_indices = self._local_indices(index)
        for param, local in zip(self._params, local_indices):
            for value in self.optimizer.state.get(param, {}).values():
                if torch.is_tensor(value) and value.shape == param.shape and value.numel():
                    _zero_except(value, local)

    def _local_indices(self, index):
        """Per budgeted parameter: the tracked positions inside that parameter."""
        if self.frozen and self._param_local_index is not None:
            return self._param_local_index
        bounds = torch.searchsorted(index, self._param_bounds).tolist()
        local = [index[bounds[i]:bounds[i + 1]] - offset
                 for i, offset in enumerate(self._param_offsets)]
        if self.frozen:
            self._param_local_index = local
        return local

    def _record(self, index, threshold, layer_thresholds, was_frozen) -> DropBackStepStats:
        """Update the tracked set and step count; return this step's statistics."""
        before = self._tracked_per_layer
        self.step_count += 1
        if was_frozen:
            return DropBackStepStats(self.step_count, before, (0,) * len(before),
                                     (0,) * len(before), before, threshold, True, ())
        entered_index = index[~self._tracked_mask[index]]
        after = _counts_per_segment(index, self._layer_bounds)
        entered = _counts_per_segment(entered_index, self._layer_bounds)
        left = tuple(b + e - a for b, e, a in zip(before, entered, after))
        self._tracked_mask.index_fill_(0, self._tracked_index, False)
        self._tracked_mask.index_fill_(0, index, True)
        self._tracked_index = index
        self._tracked_per_layer = after
        self._param_local_index = None
        return DropBackStepStats(self.step_count, before, entered, left, after, threshold,
                                 False, layer_thresholds)

    # ----------------------------------------------------------------- inspection
    def tracked_masks(self) -> dict:
        """{layer_id: flat bool tensor of param_count}: the tracked set in use now."""
        return {layer.layer_id: self._tracked_mask[lo:hi].clone()
                for layer, lo, hi in self._layer_slices()}

    def tracked_index(self):
        """Sorted global indices of the tracked elements (a copy)."""
        return self._tracked_index.clone()

    def tracked_per_layer(self) -> tuple:
        """Tracked count per layer_id, now."""
        return self._tracked_per_layer

    def budgeted_parameters(self) -> list:
        """The budgeted parameters (weight, then bias, per layer in layer_id order)."""
        return list(self._params)

    def unbudgeted_parameters(self) -> dict:
        """{name: element count} of the model's parameters outside the budget (BatchNorm...)."""
        budgeted = {id(p) for p in self._params}
        return {name: p.numel() for name, p in self.model.named_parameters()
                if id(p) not in budgeted}

    def __repr__(self):
        return (f"DropBack(budget={self.budget}, param_count={self.param_count}, "
                f"mode={self.mode!r}, seed={self.seed}, step_count={self.step_count}, "
                f"frozen={self.frozen}, layers={len(self.layers)})")

    # ----------------------------------------------------------------- resume
    def state_dict(self) -> dict:
        """Everything needed to resume (with the model's own state_dict): inner optimizer
        state, tracked set, step count, freeze status. No RNG state: w0 is a pure function."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "generator": {"id": prng.GENERATOR_ID, "version": prng.GENERATOR_VERSION},
            "seed": self.seed,
            "mode": self.mode,
            "bias_init": self.bias_init,
            "budget": self.budget,
            "param_count": self.param_count,
            "layer_param_counts": self._layer_counts(),
            "step_count": self.step_count,
            "frozen": self.frozen,
            "freeze_at_step": self.freeze_at_step,
            "tracked_index": self._tracked_index.detach().cpu().clone(),
            "selection_hints": list(self._selection_hints),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore from `state_dict()`. Load the model's weights too (either order)."""
        self._check_state_matches(state)
        self._ensure_bound()
        device = self._flat.device
        index = torch.as_tensor(state["tracked_index"], dtype=torch.int64).to(device)
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.param_count
                              or not bool((index[1:] > index[:-1]).all())):
            raise ValueError("DropBack state: tracked_index must be sorted, unique, in range")
        self.optimizer.load_state_dict(state["optimizer"])
        self._tracked_mask.zero_()
        self._tracked_mask[index] = True
        self._tracked_index = index
        self._tracked_per_layer = _counts_per_segment(index, self._layer_bounds)
        self.step_count = int(state["step_count"])
        self.frozen = bool(state["frozen"])
        self._selection_hints = list(state["selection_hints"])
        self._param_local_index = None
        self._check_untracked_at_initial()

    def _check_state_matches(self, state):
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("not a DropBack state dict (missing format tag)")
        if state.get("version", math.inf) > STATE_VERSION:
            raise ValueError(f"DropBack state version {state.get('version')} is newer than "
                             f"this code reads ({STATE_VERSION})")
        expected = {"generator": {"id": prng.GENERATOR_ID, "version": prng.GENERATOR_VERSION},
                    "seed": self.seed, "mode": self.mode, "bias_init": self.bias_init,
                    "budget": self.budget, "layer_param_counts": self._layer_counts()}
        for key, value in expected.items():
            if state.get(key) != value:
                raise ValueError(f"DropBack state does not match: {key} is "
                                 f"{state.get(key)!r}, this DropBack has {value!r}")

    def untracked_at_initial(self) -> bool:
        """True if every untracked element equals its w0 bit for bit (true after each step)."""
        self._ensure_bound()
        initial = self.initial_values()
        with torch.no_grad():
            return torch.equal(torch.where(self._tracked_mask, initial, self._flat), initial)

    def _check_untracked_at_initial(self):
        if not self.untracked_at_initial():
            raise ValueError("after loading the DropBack state, some untracked weights differ "
                             "from w0: the model weights do not belong to this state")


def _zero_except(state_tensor, local_index):
    """Zero every element of a state tensor except those at `local_index` (flat positions)."""
    flat = state_tensor.view(-1) if state_tensor.is_contiguous() \
        else state_tensor.reshape(-1).clone()
    kept = flat[local_index]
    flat.zero_()
    flat.index_copy_(0, local_index, kept)
    if not state_tensor.is_contiguous():
        state_tensor.copy_(flat.view(state_tensor.shape))


def _counts_per_segment(sorted_index, bounds) -> tuple:
    """How many of the sorted indices fall in each [bounds[i], bounds[i+1])."""
    positions = torch.searchsorted(sorted_index, bounds).tolist()
    return tuple(positions[i + 1] - positions[i] for i in range(len(positions) - 1))
