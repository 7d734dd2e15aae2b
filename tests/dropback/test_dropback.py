"""DropBack: exact top-k against a full stable sort, resets, optimizer state, freeze, resume."""

import copy
import io
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from accelsim.dropback.init import initialize_model
from accelsim.dropback.optimizer import DropBack, per_layer_budgets
from accelsim.dropback.topk import select_top_k

torch.set_num_threads(1)  # tiny models: threads only add noise on a shared machine


# ------------------------------------------------------------------ small models and data
def make_mlp():
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(),
                         nn.Linear(8, 4))


def make_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), nn.ReLU(),
                         nn.Flatten(), nn.Linear(6 * 4 * 4, 4))


def make_bn_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Conv2d(4, 4, 3, padding=1, groups=2), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4))


def make_wide_mlp():  # ~12.7k elements: enough scan blocks for the block filter to matter
    return nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                         nn.Linear(64, 4))


MODELS = {"mlp": (make_mlp, (12,)), "cnn": (make_cnn, (1, 8, 8)),
          "bn_cnn": (make_bn_cnn, (1, 8, 8)), "wide_mlp": (make_wide_mlp, (32,))}
OPTIMIZERS = {
    "sgd": lambda params: torch.optim.SGD(params, lr=0.2),
    "sgd_momentum_wd": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9,
                                                      weight_decay=1e-3),
    "adam": lambda params: torch.optim.Adam(params, lr=0.01),
}


def batches(input_shape, count, seed=0, batch=16):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(batch, *input_shape, generator=generator),
             torch.randint(0, 4, (batch,), generator=generator)) for _ in range(count)]


def build(model_name, optimizer_name, torch_seed=0, **dropback_args):
    torch.manual_seed(torch_seed)
    make, input_shape = MODELS[model_name]
    model = make()
    optimizer = OPTIMIZERS[optimizer_name](model.parameters())
    dropback_args.setdefault("seed", 5)
    return model, optimizer, DropBack(model, optimizer, **dropback_args), input_shape


def train_step(model, dropback, batch):
    inputs, labels = batch
    dropback.zero_grad()
    nn.functional.cross_entropy(model(inputs), labels).backward()
    return dropback.step()


def flat_values(dropback):
    return torch.cat([p.detach().reshape(-1).clone() for p in dropback.budgeted_parameters()])


def flat_mask(dropback):
    return torch.cat(list(dropback.tracked_masks().values()))


def reference_mask(scores, count):
    """Top-count by a full stable sort: score descending, equal scores by index ascending."""
    order = torch.sort(scores, descending=True, stable=True).indices
    mask = torch.zeros(scores.numel(), dtype=torch.bool)
    mask[order[:count]] = True
    return mask, (scores[order[count - 1]].item() if count else math.inf)


def capture_after_inner_step(optimizer, dropback):
    """Flat budgeted weights right after the inner optimizer's update, before DropBack's."""
    captured = {}
    optimizer.register_step_post_hook(
        lambda *_: captured.__setitem__("weights", flat_values(dropback)))
    return captured


def layer_counts(mask, dropback):
    sizes = [layer.param_count for layer in dropback.layers]
    return tuple(int(part.sum()) for part in torch.split(mask, sizes))


# ------------------------------------------------------------------ exactness
@pytest.mark.parametrize("optimizer_name", list(OPTIMIZERS))
@pytest.mark.parametrize("model_name", list(MODELS))
def test_selection_equals_full_stable_sort_over_many_steps(model_name, optimizer_name):
    model, optimizer, dropback, input_shape = build(model_name, optimizer_name, compression=7)
    captured = capture_after_inner_step(optimizer, dropback)
    initial = dropback.initial_values().clone()
    count = dropback.budget
    assert count == round(dropback.param_count / 7)
    previous = torch.zeros(dropback.param_count, dtype=torch.bool)
    for step, batch in enumerate(batches(input_shape, 40), start=1):
        stats = train_step(model, dropback, batch)
        weights = captured["weights"]
        expected, threshold = reference_mask((weights - initial).abs(), count)
        mask = flat_mask(dropback)
        assert torch.equal(mask, expected), f"step {step}"
        assert int(mask.sum()) == count
        assert torch.equal(flat_values(dropback), torch.where(expected, weights, initial))
        assert stats.step == step == dropback.step_count
        assert stats.threshold == threshold
        assert stats.tracked_before == layer_counts(previous, dropback)
        assert stats.tracked_after == layer_counts(mask, dropback) == dropback.tracked_per_layer()
        assert stats.entered == layer_counts(mask & ~previous, dropback)
        assert stats.left == layer_counts(previous & ~mask, dropback)
        assert_state_zero_where_untracked(optimizer, dropback)
        previous = mask


def assert_state_zero_where_untracked(optimizer, dropback):
    """Every optimizer state tensor shaped like its parameter is 0 at untracked elements."""
    masks = dropback.tracked_masks()
    checked = 0
    for layer in dropback.layers:
        params = [layer.module.weight] + ([layer.module.bias] if layer.module.bias is not None
                                          else [])
        offset = 0
        for param in params:
            untracked = ~masks[layer.layer_id][offset:offset + param.numel()].view(param.shape)
            offset += param.numel()
            for value in optimizer.state[param].values():
                if torch.is_tensor(value) and value.shape == param.shape:
                    assert not value[untracked].any()
                    checked += 1
    stateful = any(g.get("momentum", 0) for g in optimizer.param_groups) or \
        isinstance(optimizer, torch.optim.Adam)
    assert (checked > 0) == stateful


def test_ties_are_broken_by_lower_global_index():
    # inputs whose first 5 features are always 0: their weights never move (score 0) and the
    # budget is larger than the moved count, so the k-th score is 0, shared by many
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(10, 6), nn.ReLU(), nn.Linear(6, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    dropback = DropBack(model, optimizer, budget=70, seed=2)
    captured = capture_after_inner_step(optimizer, dropback)
    initial = dropback.initial_values().clone()
    for _ in range(5):
        inputs = torch.randn(8, 10)
        inputs[:, :5] = 0
        train_step(model, dropback, (inputs, torch.randint(0, 3, (8,))))
        scores = (captured["weights"] - initial).abs()
        assert int((scores > 0).sum()) < 70  # the tie case is really exercised
        expected, threshold = reference_mask(scores, 70)
        assert threshold == 0.0
        assert torch.equal(flat_mask(dropback), expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=80), st.data())
def test_select_top_k_with_heavy_ties_and_any_previous_set(values, data):
    scores = torch.tensor(values, dtype=torch.float32) / 4
    count = data.draw(st.integers(0, len(values)))
    # any previous set of `count` distinct positions (or none) must give the same answer
    previous = data.draw(st.one_of(st.none(), st.permutations(range(len(values)))))
    if previous is not None:
        previous = torch.tensor(previous[:count], dtype=torch.int64)
    picked, threshold = select_top_k(scores, count, previous)
    expected, expected_threshold = reference_mask(scores, count)
    mask = torch.zeros(len(values), dtype=torch.bool)
    mask[picked] = True
    assert torch.equal(mask, expected)
    assert picked.numel() == count and bool((picked[1:] > picked[:-1]).all())
    if count > 0:
        assert threshold == expected_threshold


def test_select_top_k_on_a_large_buffer_with_few_and_many_newcomers():
    generator = torch.Generator().manual_seed(0)
    scores = torch.rand(100_003, generator=generator)  # not a multiple of the scan block
    expected, expected_threshold = reference_mask(scores, 4000)
    true_set = torch.nonzero(expected).squeeze(1)
    for swapped in (0, 1, 30, 3000, 4000):  # previous set = the true one with some swapped out
        wrong = torch.nonzero(~expected).squeeze(1)[:swapped]
        previous = torch.cat([true_set[swapped:], wrong])[torch.randperm(4000, generator=generator)]
        picked, threshold = select_top_k(scores, 4000, previous)
        assert torch.equal(picked, true_set) and threshold == expected_threshold


def test_nan_scores_rank_last():
    scores = torch.tensor([0.5, math.nan, 0.2, 0.9, math.nan, 0.0])
    for previous in (None, torch.tensor([0, 2, 3]), torch.tensor([1, 3, 5])):
        picked, _ = select_top_k(scores, 3, previous)
        assert picked.tolist() == [0, 2, 3]


# ------------------------------------------------------------------ invariants
def test_before_first_step_nothing_is_tracked_and_weights_are_w0():
    _model, _, dropback, _ = build("bn_cnn", "sgd", budget=30)
    assert dropback.tracked_per_layer() == (0, 0, 0)
    assert not flat_mask(dropback).any()
    assert torch.equal(flat_values(dropback), dropback.initial_values())
    assert dropback.param_count == 36 + 4 * 2 * 9 + 4 + 16 + 4
    assert dropback.unbudgeted_parameters() == {"1.weight": 4, "1.bias": 4,
                                               "4.weight": 4, "4.bias": 4}


def test_budget_arguments():
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="exactly one"):
        DropBack(model, optimizer)
    with pytest.raises(ValueError, match="exactly one"):
        DropBack(model, optimizer, budget=5, compression=2)
    with pytest.raises(ValueError, match="compression"):
        DropBack(model, optimizer, compression=0.5)
    with pytest.raises(ValueError, match="mode"):
        DropBack(model, optimizer, budget=5, mode="layerwise")
    with pytest.raises(ValueError, match="freeze_at_step"):
        DropBack(model, optimizer, budget=5, freeze_at_step=0)


def test_budget_larger_than_params_tracks_everything():
    model, optimizer, dropback, shape = build("mlp", "sgd", budget=10**6)
    captured = capture_after_inner_step(optimizer, dropback)
    train_step(model, dropback, batches(shape, 1)[0])
    assert flat_mask(dropback).all()
    assert torch.equal(flat_values(dropback), captured["weights"])


def test_initialize_false_checks_the_weights():
    model = make_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="differ from the PRNG initial values"):
        DropBack(model, optimizer, budget=10, seed=1, initialize=False)
    initialize_model(model, seed=1)
    DropBack(model, optimizer, budget=10, seed=1, initialize=False)


def test_per_layer_mode_gives_each_layer_its_share():
    model, optimizer, dropback, shape = build("cnn", "sgd_momentum_wd", budget=101,
                                              mode="per_layer")
    captured = capture_after_inner_step(optimizer, dropback)
    initial = dropback.initial_values().clone()
    shares = per_layer_budgets(101, [layer.param_count for layer in dropback.layers])
    assert sum(shares) == 101 and dropback.layer_budgets == shares
    for batch in batches(shape, 10):
        stats = train_step(model, dropback, batch)
        assert stats.tracked_after == tuple(shares)
        sizes = [layer.param_count for layer in dropback.layers]
        scores = torch.split((captured["weights"] - initial).abs(), sizes)
        expected = torch.cat([reference_mask(s, share)[0] for s, share in zip(scores, shares)])
        assert torch.equal(flat_mask(dropback), expected)
        assert stats.threshold == min(stats.layer_thresholds)


@given(st.integers(0, 10**6), st.lists(st.integers(0, 10**5), min_size=1, max_size=30))
def test_per_layer_budgets_sum_exactly_and_are_proportional(budget, counts):
    total = sum(counts)
    shares = per_layer_budgets(budget, counts)
    assert sum(shares) == min(budget, total)
    for share, count in zip(shares, counts):
        assert 0 <= share <= count
        if total:
            assert abs(share - min(budget, total) * count / total) < 1


# ------------------------------------------------------------------ freeze
def test_frozen_set_never_changes_and_untracked_stay_at_w0():
    model, optimizer, dropback, shape = build("mlp", "sgd_momentum_wd", compression=5,
                                              freeze_at_step=3)
    initial = dropback.initial_values().clone()
    data = batches(shape, 12)
    for batch in data[:3]:
        stats = train_step(model, dropback, batch)
        assert not stats.frozen
    assert dropback.frozen
    frozen_mask = flat_mask(dropback)
    for batch in data[3:]:
        stats = train_step(model, dropback, batch)
        assert stats.frozen and math.isnan(stats.threshold)
        assert stats.entered == stats.left == (0, 0, 0)
        assert torch.equal(flat_mask(dropback), frozen_mask)
        assert torch.equal(flat_values(dropback)[~frozen_mask], initial[~frozen_mask])
        assert_state_zero_where_untracked(optimizer, dropback)
    assert not torch.equal(flat_values(dropback)[frozen_mask], initial[frozen_mask])


def test_freeze_method_fixes_the_set():
    model, _, dropback, shape = build("cnn", "adam", budget=40)
    data = batches(shape, 6)
    train_step(model, dropback, data[0])
    dropback.freeze()
    mask = flat_mask(dropback)
    for batch in data[1:]:
        train_step(model, dropback, batch)
        assert torch.equal(flat_mask(dropback), mask)


# ------------------------------------------------------------------ w0 cache and rebinding
@pytest.mark.parametrize("mode", ["global", "per_layer"])
def test_cached_and_regenerated_w0_train_identically(mode):
    runs = []
    for cache_initial in (True, False):
        model, _, dropback, shape = build("bn_cnn", "adam", compression=4, mode=mode,
                                          cache_initial=cache_initial)
        stats = [train_step(model, dropback, batch) for batch in batches(shape, 8)]
        runs.append((model.state_dict(), stats))
    (state_a, stats_a), (state_b, stats_b) = runs
    assert stats_a == stats_b
    assert all(torch.equal(state_a[key], state_b[key]) for key in state_a)


def test_repointed_parameter_is_rebound():
    results = []
    for interfere in (False, True):
        model, _, dropback, shape = build("mlp", "sgd_momentum_wd", compression=3)
        for i, batch in enumerate(batches(shape, 6)):
            if interfere and i == 3:
                with torch.no_grad():
                    model[0].weight.data = model[0].weight.data.clone()  # like model.to()
            train_step(model, dropback, batch)
        results.append(flat_values(dropback))
    assert torch.equal(results[0], results[1])


# ------------------------------------------------------------------ resume
def _round_trip(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("optimizer_name,mode,freeze",
                         [("adam", "global", None), ("sgd_momentum_wd", "per_layer", 4),
                          ("sgd", "global", 7)])
def test_resume_is_bit_exact(optimizer_name, mode, freeze):
    args = dict(compression=6, mode=mode, freeze_at_step=freeze)
    data = batches(MODELS["bn_cnn"][1], 10)
    model, _, dropback, _ = build("bn_cnn", optimizer_name, **args)
    for batch in data:
        train_step(model, dropback, batch)
    reference = copy.deepcopy(model.state_dict())

    model, _, dropback, _ = build("bn_cnn", optimizer_name, **args)
    for batch in data[:5]:
        train_step(model, dropback, batch)
    saved_model = _round_trip(model.state_dict())
    saved_dropback = _round_trip(dropback.state_dict())

    model, _, dropback, _ = build("bn_cnn", optimizer_name, torch_seed=123, **args)
    model.load_state_dict(saved_model)
    dropback.load_state_dict(saved_dropback)
    assert dropback.step_count == 5
    for batch in data[5:]:
        train_step(model, dropback, batch)
    resumed = model.state_dict()
    assert all(torch.equal(resumed[key], reference[key]) for key in reference)


def test_load_state_dict_refuses_a_mismatch():
    model, _, dropback, shape = build("mlp", "sgd", budget=20)
    train_step(model, dropback, batches(shape, 1)[0])
    state = dropback.state_dict()
    _, _, other, _ = build("mlp", "sgd", budget=21)
    with pytest.raises(ValueError, match="budget"):
        other.load_state_dict(state)
    _, _, other, _ = build("mlp", "sgd", budget=20, seed=6)
    with pytest.raises(ValueError, match="seed"):
        other.load_state_dict(state)
    # the right shape of state but the model holds other weights: untracked differ from w0
    wrong_model, _, other, _ = build("mlp", "sgd", budget=20)
    with torch.no_grad():
        wrong_model[0].weight.add_(1.0)
    with pytest.raises(ValueError, match="untracked weights differ"):
        other.load_state_dict(state)


# ------------------------------------------------------------------ unusual optimizers and sizes
class ReplacingMomentum(torch.optim.Optimizer):
    """SGD with momentum that builds a new state tensor every step (not in place), plus a
    float64 trace of the gradient: both must still be zeroed where untracked."""

    def __init__(self, params, lr=0.05):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                velocity = 0.9 * state.get("velocity", torch.zeros_like(param)) + param.grad
                state["velocity"] = velocity  # a new tensor each step
                state["grad_trace"] = state.get(
                    "grad_trace", torch.zeros_like(param, dtype=torch.float64)) + param.grad
                param.sub_(group["lr"] * velocity)


def test_state_that_is_replaced_or_of_another_dtype_is_zeroed():
    torch.manual_seed(0)
    model = make_mlp()
    optimizer = ReplacingMomentum(model.parameters())
    dropback = DropBack(model, optimizer, compression=4, seed=1)
    captured = capture_after_inner_step(optimizer, dropback)
    initial = dropback.initial_values().clone()
    for batch in batches((12,), 8):
        train_step(model, dropback, batch)
        expected, _ = reference_mask((captured["weights"] - initial).abs(), dropback.budget)
        assert torch.equal(flat_mask(dropback), expected)
        masks = dropback.tracked_masks()
        for layer in dropback.layers:
            tracked = masks[layer.layer_id][:layer.weight_count].view(layer.weight_shape)
            for value in optimizer.state[layer.module.weight].values():
                assert not value[~tracked].any()
                assert value[tracked].any()


def test_model_converted_to_float64_after_construction():
    model, _, dropback, shape = build("cnn", "sgd_momentum_wd", compression=5)
    data = batches(shape, 4)
    train_step(model, dropback, data[0])
    model.double()  # re-points every parameter: the flat buffer is rebuilt
    for batch in data[1:]:
        inputs, labels = batch
        train_step(model, dropback, (inputs.double(), labels))
    values = flat_values(dropback)
    assert values.dtype == torch.float64
    untracked = ~flat_mask(dropback)
    assert torch.equal(values[untracked], dropback.initial_values()[untracked])
    assert dropback.untracked_at_initial()


@pytest.mark.parametrize("mode", ["global", "per_layer"])
def test_tiny_and_zero_budgets(mode):
    for budget in (0, 1, 2):
        model, _, dropback, shape = build("mlp", "adam", budget=budget, mode=mode)
        for batch in batches(shape, 3):
            stats = train_step(model, dropback, batch)
        assert sum(stats.tracked_after) == budget
        untracked = ~flat_mask(dropback)
        assert torch.equal(flat_values(dropback)[untracked], dropback.initial_values()[untracked])
