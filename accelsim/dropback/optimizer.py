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

Dense warm-up: with warmup_steps=w the first w steps are plain optimizer steps on every element
(the whole model is tracked, nothing is reset), and the first selection runs in step w+1, from
that full set. A trace records those steps as dense ones, so the simulator charges them.

Speed (an emulation matter, not a hardware one):
* all budgeted parameters are views into one flat buffer, and so is every optimizer state
  tensor shaped like its parameter, so scoring, reset and state zeroing are a few whole-buffer
  operations (`param.data` and the state entries are re-pointed; moving the model to another
  device, or loading an optimizer state, is detected and the buffers rebuilt);
* the selection (`accelsim.dropback.topk`) is no sort, and it is exact for any previous set
  of k elements: it looks for newcomers above a threshold just below the last k-th score
  (lowered by the last step's fall, if it fell), so only the first step ranks everything;
* fused="auto" (default) runs the post-step as one C function (`accelsim.dropback.fused`:
  two passes over memory instead of some 45 tensor operations) where it applies: CPU,
  float32, mode "global", a C compiler to build it once; the same bits as the torch path.
  fused=False always uses the torch path; fused=True demands the C one;
* cache_initial=True keeps a copy of w0 in memory. Hardware would regenerate it (that is what
  the simulator charges); with cache_initial=False it is regenerated from the PRNG every step,
  which gives bit-identical training, only slower.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import torch

from accelsim.dropback import fused as fused_loops
from accelsim.dropback import prng
from accelsim.dropback.init import (
    LayerInfo,
    budgeted_layers,
    initial_values_torch,
    layer_parameters,
)
from accelsim.dropback.topk import (
    HIDDEN_SCORE,
    SCAN_BLOCK,
    SCAN_MARGIN,
    Selection,
    block_layout,
    empty_positions,
    rank_all,
    update_selection,
)

STATE_FORMAT = "accelsim-dropback-state"
STATE_VERSION = 1
MODES = ("global", "per_layer")

FEW_CHANGES = 256  # per-layer counts of at most this many changes are made in Python


@dataclass(frozen=True)
class DropBackStepStats:
    """What one DropBack update did. Tuples are indexed by layer_id."""

    step: int  # updates done so far, this one included (1-based)
    tracked_before: tuple  # tracked per layer during this step (set left by the last update)
    entered: tuple  # untracked before, tracked after
    left: tuple  # tracked before, untracked after
    tracked_after: tuple  # tracked_before + entered - left
    threshold: float  # k-th tracked score (per_layer: lowest layer threshold); nan if frozen
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
    return round(param_count / compression)


# ------------------------------------------------------------------------- optimizer state
class _FlatOptimizerState:
    """Keeps every optimizer state tensor shaped like its parameter (momentum_buffer, exp_avg,
    exp_avg_sq, ...) as a view into one flat buffer per state key, laid out like the flat
    parameter buffer, so zeroing the untracked elements is one operation per key.

    Optimizers update these tensors in place; one that replaces them (or load_state_dict) is
    noticed by pointer and the new tensor is copied in and re-pointed."""

    def __init__(self, params, offsets, flat_params):
        self.params, self.offsets = params, offsets
        self.dtype, self.device = flat_params.dtype, flat_params.device
        self.param_count = flat_params.numel()
        self.buffers: dict = {}  # state key -> flat tensor
        self.pointers: dict = {}  # (param number, state key) -> data_ptr of the bound view
        # per param: (its state dict, its length, its items) at last sync
        self._seen: list | None = None
        self._unbound: list = []

    def sync(self, optimizer) -> list:
        """Bind new state tensors; return (tensor, param number) of those that cannot be."""
        if self._seen is not None and self._unchanged(optimizer):
            return self._unbound
        unbound, seen = [], []
        for number, param in enumerate(self.params):
            state = optimizer.state.get(param)
            for key, value in list((state or {}).items()):
                if not (torch.is_tensor(value) and value.shape == param.shape and value.numel()):
                    continue
                if value.dtype != self.dtype or value.device != self.device:
                    unbound.append((value, number))
                elif self.pointers.get((number, key)) != value.data_ptr():
                    state[key] = self._bind(number, key, value)
            seen.append((param, state, len(state or ()), tuple((state or {}).items())))
        self._seen, self._unbound = seen, unbound
        return unbound

    def _unchanged(self, optimizer) -> bool:
        """True if no state entry was added or replaced since the last sync (the usual case:
        optimizers update their state tensors in place)."""
        for param, state, length, items in self._seen or ():
            current = optimizer.state.get(param)
            if current is not state or len(current or ()) != length or \
                    any(current[key] is not value for key, value in items):
                return False
        return True

    def _bind(self, number, key, value):
        flat = self.buffers.get(key)
        if flat is None:
            flat = self.buffers[key] = torch.zeros(self.param_count, dtype=self.dtype,
                                                   device=self.device)
        offset, param = self.offsets[number], self.params[number]
        view = flat[offset:offset + param.numel()].view(param.shape)
        view.copy_(value)
        self.pointers[(number, key)] = view.data_ptr()
        return view


# ------------------------------------------------------------------------- the wrapper
class DropBack:
    """DropBack around a torch optimizer; see the module docstring for the semantics.

    budget: tracked count k, or compression: k = round(param_count / compression).
    seed: of the initial weights (`accelsim.dropback.prng`); bias_init: "zero" | "uniform".
    initialize: write w0 into the model now (False: check that it already holds w0).
    Build the optimizer over model.parameters() first; move the model to its device before
    too (a later move works, at the cost of rebuilding the flat buffers once).

    Typical use::

        db = DropBack(model, torch.optim.SGD(model.parameters(), lr=0.1), compression=25)
        for x, y in batches:
            db.zero_grad()
            loss_fn(model(x), y).backward()
            stats = db.step()
    """

    untracked_values = "w0"  # what an untracked element holds (`accelsim.dropback.methods`)

    def __init__(self, model, optimizer, budget=None, compression=None, seed=0,
                 mode="global", freeze_at_step=None, initialize=True, cache_initial=True,
                 bias_init="zero", warmup_steps=0, fused="auto"):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if freeze_at_step is not None and (int(freeze_at_step) != freeze_at_step
                                           or freeze_at_step < 1):
            raise ValueError(f"freeze_at_step must be an int >= 1 or None, got {freeze_at_step!r}")
        if isinstance(warmup_steps, bool) or int(warmup_steps) != warmup_steps \
                or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}")
        if fused not in (False, True, "auto"):
            raise ValueError(f"fused must be False, True or 'auto', got {fused!r}")
        prng.layer_keys(seed, 0)  # validates the seed early
        self.model = model
        self.optimizer = optimizer
        self.seed = int(seed)
        self.mode = mode
        self.bias_init = bias_init
        self.freeze_at_step = None if freeze_at_step is None else int(freeze_at_step)
        self.warmup_steps = int(warmup_steps)
        self.cache_initial = bool(cache_initial)
        self.layers: list[LayerInfo] = budgeted_layers(model)
        if not self.layers:
            raise ValueError("the model has no nn.Linear or nn.Conv2d layer to put under budget")
        self.param_count = sum(layer.param_count for layer in self.layers)
        self.budget = _resolve_budget(budget, compression, self.param_count)
        self.layer_budgets = (per_layer_budgets(self.budget, self._layer_counts())
                              if mode == "per_layer" else None)
        self._segments = self._selection_segments()
        self.step_count = 0
        self.frozen = False
        self.last_loss = None
        self.fused = fused
        self._bind_flat_buffer()
        self._initial_cache = None
        initial = self._compute_initial_flat()
        self._apply_initialize(initial, initialize)
        if self.cache_initial:
            self._initial_cache = initial
        self._set_tracked(self._all_positions() if self.warmup_steps
                          else empty_positions(self._flat.device))

    def _all_positions(self):
        return torch.arange(self.param_count, dtype=torch.int64, device=self._flat.device)

    @property
    def warming_up(self) -> bool:
        """True while the next step is a dense warm-up step."""
        return self.step_count < self.warmup_steps

    @property
    def peak_tracked_count(self) -> int:
        """The most elements tracked at any step: the budget, or every element with a warm-up."""
        return self.param_count if self.warmup_steps else min(self.budget, self.param_count)

    # ----------------------------------------------------------------- layout
    def _layer_counts(self):
        return [layer.param_count for layer in self.layers]

    def _layer_starts(self):
        starts = [0]
        for count in self._layer_counts():
            starts.append(starts[-1] + count)
        return starts

    def _selection_segments(self):
        """(start, end, tracked count) of each ranking pool: all layers, or each layer."""
        starts = self._layer_starts()
        if self.mode == "global":
            return [(0, self.param_count, min(self.budget, self.param_count))]
        shares = self.layer_budgets or []
        return [(starts[i], starts[i + 1], share) for i, share in enumerate(shares)]

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
        self._param_pointers = [p.data_ptr() for p in params]
        # scores, padded to whole scan blocks with a score no threshold reaches
        padded_count = -(-self.param_count // SCAN_BLOCK) * SCAN_BLOCK
        self._score_buffer = torch.full((padded_count,), HIDDEN_SCORE, dtype=dtype, device=device)
        self._score_layout = block_layout(self._score_buffer)
        self._layer_starts_list = self._layer_starts()
        self._layer_bounds = torch.tensor(self._layer_starts_list, dtype=torch.int64,
                                          device=device)
        self._optimizer_state = _FlatOptimizerState(params, offsets, flat)
        self._block_max = torch.empty(-(-self.param_count // fused_loops.BLOCK), dtype=dtype,
                                      device=device)
        self._fused_lib = self._fused_library(dtype, device)
        self._fused = None  # the fused post-step's scratch buffers, made at first use
        self._fused_done = False  # set by a fused selection, which also did the reset
        self._unbound_state: list = []

    def _fused_library(self, dtype, device):
        """The fused C loops where they apply (CPU, float32, one ranking pool), else None."""
        if self.fused is False:
            return None
        applies = (device.type == "cpu" and dtype == torch.float32 and self.mode == "global"
                   and self.param_count < 2**32 - 1)  # positions fit the 32-bit order key
        lib = fused_loops.library() if applies else None
        if lib is None and self.fused is True:
            raise ValueError("fused=True: the fused post-step needs the CPU, float32, "
                             "mode 'global' and a C compiler (use fused='auto' to fall back)")
        return lib

    def _ensure_bound(self):
        """Rebuild the flat buffer if something (model.to(), .data =) re-pointed a parameter."""
        if all(p.data_ptr() == ptr for p, ptr in zip(self._params, self._param_pointers)):
            return
        self._bind_flat_buffer()
        device = self._flat.device
        if self._initial_cache is not None:
            self._initial_cache = self._initial_cache.to(device=device, dtype=self._flat.dtype)
        self._set_tracked(self._tracked_index.to(device))

    def _set_tracked(self, index):
        """Make `index` (global positions, any order) the tracked set, from scratch."""
        device = self._flat.device
        self._tracked_index = index
        self._tracked_mask = _mask_of(index, self.param_count)
        ordered = torch.sort(index).values
        self._segment_index = []
        for start, end, _ in self._segments:
            bounds = torch.searchsorted(ordered, torch.tensor([start, end], device=device))
            self._segment_index.append(ordered[int(bounds[0]):int(bounds[1])] - start)
        self._tracked_per_layer = self._counts_per_layer(index)
        # the next k-th score of each pool, predicted; and its last k-th score
        self._segment_hints: list[float | None] = [None] * len(self._segments)
        self._last_thresholds: list[float | None] = [None] * len(self._segments)

    def _entered_left_per_layer(self, entered, left):
        """Per-layer counts of two position sets in one pass (they are small)."""
        layers = len(self.layers)
        if layers == 1:
            return (int(entered.numel()),), (int(left.numel()),)
        if entered.numel() + left.numel() <= FEW_CHANGES:  # a few: cheaper in Python
            starts = self._layer_starts_list
            counts = [[0] * layers, [0] * layers]
            for side, positions in enumerate((entered, left)):
                for position in positions.tolist():
                    counts[side][bisect.bisect_right(starts, position) - 1] += 1
            return tuple(counts[0]), tuple(counts[1])
        layer_ids = torch.bucketize(torch.cat([entered, left]), self._layer_bounds[1:-1],
                                    right=True)
        layer_ids[entered.numel():] += layers  # left ones count in the second half
        counts = torch.bincount(layer_ids, minlength=2 * layers).tolist()
        return tuple(counts[:layers]), tuple(counts[layers:])

    def _counts_per_layer(self, positions) -> tuple:
        """How many of the global `positions` (any order) fall in each layer."""
        if len(self.layers) == 1:
            return (int(positions.numel()),)
        layer_ids = torch.bucketize(positions, self._layer_bounds[1:-1], right=True)
        return tuple(torch.bincount(layer_ids, minlength=len(self.layers)).tolist())

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
            starts = self._layer_starts()
            mismatched = [layer.name for i, layer in enumerate(self.layers)
                          if not torch.equal(self._flat[starts[i]:starts[i + 1]],
                                             initial[starts[i]:starts[i + 1]])]
            raise ValueError(
                "initialize=False but the weights of layer(s) "
                f"{', '.join(mismatched)} differ from the PRNG initial values for seed "
                f"{self.seed}; use initialize=True or accelsim.dropback.init.initialize_model")

    # ----------------------------------------------------------------- the step
    def zero_grad(self, set_to_none: bool = True):
        """Clear the gradients, as the wrapped optimizer's `zero_grad`."""
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def freeze(self):
        """Fix the tracked set from the next step on."""
        self.frozen = True

    def step(self, closure=None) -> DropBackStepStats:
        """optimizer.step(closure), then selection (unless frozen) and reset to w0."""
        self._ensure_bound()
        self.last_loss = self.optimizer.step(closure) if closure is not None \
            else self.optimizer.step()
        if self.warming_up:
            return self._warmup_stats()
        with torch.no_grad():
            initial = self.initial_values()
            if self.frozen:
                self._reset_untracked(self._tracked_index, initial)
                stats = self._frozen_stats()
            else:
                selections = self._select(initial)
                index = _join([s.index for s in selections], self._segments)
                entered = _join([s.entered for s in selections], self._segments)
                left = _join([s.left for s in selections], self._segments)
                if self._fused_done:  # the fused loops reset; state elsewhere remains
                    self._fused_done = False
                    if self._unbound_state:
                        self._zero_unbound_state(self._unbound_state, index)
                else:
                    if self._fused_lib is not None:  # the mask the fused loops read
                        self._tracked_mask.index_fill_(0, left, False).index_fill_(0, entered,
                                                                                    True)
                    self._reset_untracked(index, initial)
                stats = self._record(selections, index, entered, left)
        if self.freeze_at_step is not None and self.step_count >= self.freeze_at_step:
            self.frozen = True
        return stats

    def _select(self, initial) -> list:
        """Score every element, |w - w0|, and pick the new set of each ranking pool."""
        selection = self._select_fused(initial)
        if selection is not None:
            selections = [selection]
            self._segment_hints = [_predicted_threshold(selection.threshold, last)
                                   for last in self._last_thresholds]
            self._last_thresholds = [selection.threshold]
            return selections
        scores = torch.sub(self._flat, initial, out=self._score_buffer[:self.param_count])
        scores.abs_()
        self._adjust_scores(scores)
        selections = []
        for (start, end, count), previous, hint in zip(self._segments, self._segment_index,
                                                       self._segment_hints):
            # one pool: the padded buffer, so the scan needs no ragged tail
            whole = len(self._segments) == 1
            selections.append(self._select_segment(
                scores[start:end], self._score_buffer if whole else scores[start:end],
                self._score_layout if whole else None, count, previous, hint))
        self._segment_hints = [_predicted_threshold(selection.threshold, last)
                               for selection, last in zip(selections, self._last_thresholds)]
        self._last_thresholds = [selection.threshold for selection in selections]
        return selections

    def _select_fused(self, initial):
        """The new set by the fused loops (one pool, a previous set of k), or None (then
        the torch path does it: first selection, a NaN among the tracked, no library).
        Marks the new set in the tracked mask itself."""
        if self._fused_lib is None or len(self._segments) != 1:
            return None
        if type(self)._adjust_scores is not DropBack._adjust_scores:
            return None  # a variant ranks by more than |w - w0|: only the torch path asks it
        count, previous = self._segments[0][2], self._segment_index[0]
        if previous.numel() != count or not 0 < count < self.param_count \
                or not initial.is_contiguous():
            return None
        if self._fused is None or self._fused.index.numel() != count:
            self._fused = fused_loops.FusedSelection(self._fused_lib, count, self.param_count)
        self._unbound_state = self._optimizer_state.sync(self.optimizer)
        hint = self._segment_hints[0]  # the first threshold tried, as the torch path does
        guess = hint * SCAN_MARGIN if hint is not None and math.isfinite(hint) else -1.0
        found = self._fused.select_and_reset(self._flat, initial, self._tracked_mask, previous,
                                             list(self._optimizer_state.buffers.values()),
                                             guess, self._block_max)
        if found is None:  # a NaN among the tracked: the torch path ranks everything
            return None
        index, entered, left, threshold = found
        self._fused_done = True  # the new set is marked and everything else reset
        return Selection(index, threshold, entered=entered, left=left)

    def _adjust_scores(self, scores) -> None:
        """A hook for variants (accelsim.dropback.methods) that rank by more than |w - w0|:
        may change `scores` (flat, global order) in place. DropBack's ranking leaves them."""

    @staticmethod
    def _select_segment(scores, scan_scores, layout, count, previous, hint) -> Selection:
        """The new set of one ranking pool (positions local to it)."""
        if previous.numel() == count and 0 < count < scores.numel():
            selection = update_selection(scan_scores, count, previous, hint, layout)
            if selection is not None:
                return selection
        index, threshold = rank_all(scores, count)  # first step (or a NaN): rank everything
        was_tracked = _mask_of(previous, scores.numel())
        now_tracked = _mask_of(index, scores.numel())
        return Selection(index, threshold, entered=index[~was_tracked[index]],
                          left=previous[~now_tracked[previous]])

    def _reset_untracked(self, index, initial):
        """Untracked elements <- w0; their optimizer state <- 0."""
        if self._fused_lib is not None and initial.is_contiguous():
            unbound = self._optimizer_state.sync(self.optimizer)
            fused_loops.reset_untracked(self._fused_lib, self._flat, initial,
                                        self._tracked_mask,
                                        list(self._optimizer_state.buffers.values()))
            if unbound:
                self._zero_unbound_state(unbound, index)
            return
        kept = self._flat.index_select(0, index)
        self._flat.copy_(initial)
        self._flat.index_copy_(0, index, kept)
        unbound = self._optimizer_state.sync(self.optimizer)
        for flat_state in self._optimizer_state.buffers.values():
            kept = flat_state.index_select(0, index)
            flat_state.zero_()
            flat_state.index_copy_(0, index, kept)
        if unbound:  # state in another dtype or device: zero it through the mask
            self._zero_unbound_state(unbound, index)

    def _zero_unbound_state(self, unbound, index):
        mask = _mask_of(index, self.param_count)
        offsets = self._optimizer_state.offsets
        for value, number in unbound:
            param = self._params[number]
            kept = mask[offsets[number]:offsets[number] + param.numel()].view(param.shape)
            value.masked_fill_(~kept.to(value.device), 0)

    def _record(self, selections, index, entered, left) -> DropBackStepStats:
        """Make the selections the tracked set; return this step's statistics."""
        before = self._tracked_per_layer
        entered_counts, left_counts = self._entered_left_per_layer(entered, left)
        after = tuple(b + e - gone for b, e, gone in zip(before, entered_counts, left_counts))
        self._tracked_index = index
        self._segment_index = [s.index for s in selections]
        self._tracked_per_layer = after
        self.step_count += 1
        thresholds = [s.threshold for s in selections]
        return DropBackStepStats(
            self.step_count, before, entered_counts, left_counts, after, min(thresholds),
            False, tuple(thresholds) if self.mode == "per_layer" else ())

    def _warmup_stats(self) -> DropBackStepStats:
        self.step_count += 1
        tracked = self._tracked_per_layer
        nothing = (0,) * len(tracked)
        return DropBackStepStats(self.step_count, tracked, nothing, nothing, tracked, math.nan,
                                 False, ())

    def _frozen_stats(self) -> DropBackStepStats:
        self.step_count += 1
        tracked = self._tracked_per_layer
        nothing = (0,) * len(tracked)
        return DropBackStepStats(self.step_count, tracked, nothing, nothing, tracked, math.nan,
                                 True, ())

    # ----------------------------------------------------------------- inspection
    def tracked_masks(self) -> dict:
        """{layer_id: flat bool tensor of param_count}: the tracked set in use now."""
        starts = self._layer_starts()
        mask = _mask_of(self._tracked_index, self.param_count)
        return {layer.layer_id: mask[starts[i]:starts[i + 1]].clone()
                for i, layer in enumerate(self.layers)}

    def tracked_index(self):
        """Sorted global indices of the tracked elements (a copy)."""
        return torch.sort(self._tracked_index).values

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

    def untracked_at_initial(self) -> bool:
        """True if every untracked element equals its w0 bit for bit (true after each step)."""
        self._ensure_bound()
        initial = self.initial_values()
        with torch.no_grad():
            tracked = _mask_of(self._tracked_index, self.param_count)
            return torch.equal(torch.where(tracked, initial, self._flat), initial)

    def __repr__(self):
        return (f"{type(self).__name__}(budget={self.budget}, param_count={self.param_count}, "
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
            "warmup_steps": self.warmup_steps,
            "tracked_index": self.tracked_index().cpu(),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore from `state_dict()`. Load the model's weights too (either order)."""
        self._check_state_matches(state)
        self._ensure_bound()
        index = torch.as_tensor(state["tracked_index"], dtype=torch.int64).to(self._flat.device)
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.param_count
                              or not bool((index[1:] > index[:-1]).all())):
            raise ValueError("DropBack state: tracked_index must be sorted, unique, in range")
        self.optimizer.load_state_dict(state["optimizer"])
        self._set_tracked(index)
        self.step_count = int(state["step_count"])
        self.frozen = bool(state["frozen"])
        if not self.untracked_at_initial():
            raise ValueError("after loading the DropBack state, some untracked weights differ "
                             "from w0: the model weights do not belong to this state")

    def _check_state_matches(self, state):
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("not a DropBack state dict (missing format tag)")
        if state.get("version", math.inf) > STATE_VERSION:
            raise ValueError(f"DropBack state version {state.get('version')} is newer than "
                             f"this code reads ({STATE_VERSION})")
        expected = {"generator": {"id": prng.GENERATOR_ID, "version": prng.GENERATOR_VERSION},
                    "seed": self.seed, "mode": self.mode, "bias_init": self.bias_init,
                    "budget": self.budget, "layer_param_counts": self._layer_counts(),
                    "warmup_steps": self.warmup_steps}
        for key, value in expected.items():
            if state.get(key, 0 if key == "warmup_steps" else None) != value:
                raise ValueError(f"DropBack state does not match: {key} is "
                                 f"{state.get(key)!r}, this DropBack has {value!r}")


def _predicted_threshold(threshold: float, last) -> float:
    """The next k-th score, guessed: this one, lowered by the same ratio if it just fell
    (early in training it can fall step after step; a guess too high costs a second scan)."""
    if last is None or not (math.isfinite(last) and last > 0 and math.isfinite(threshold)):
        return threshold
    return threshold * min(1.0, threshold / last)


def _mask_of(positions, length: int):
    """A bool mask of `length` with True at `positions`."""
    mask = torch.zeros(length, dtype=torch.bool, device=positions.device)
    return mask.index_fill_(0, positions, True)


def _join(local_positions, segments):
    """Global positions from per-segment local ones (a single pool starts at 0: no copy)."""
    if len(segments) == 1:
        return local_positions[0]
    return torch.cat([positions + start for positions, (start, _, _) in
                      zip(local_positions, segments)])
