"""The fused post-step (`accelsim.dropback.fused`) gives the same bits as the torch path."""

import math

import pytest
import torch
from test_dropback import MODELS, OPTIMIZERS, batches, flat_mask, flat_values, reference_mask
from torch import nn

from accelsim.dropback import fused
from accelsim.dropback.methods import DecayedDropBack
from accelsim.dropback.optimizer import DropBack

torch.set_num_threads(1)

needs_fused = pytest.mark.skipif(fused.library() is None,
                                 reason="no C compiler: the fused post-step is unavailable")


def _arm(model_name, optimizer_name, fused_setting, cls=DropBack, **kwargs):
    torch.manual_seed(0)
    make, input_shape = MODELS[model_name]
    model = make()
    optimizer = OPTIMIZERS[optimizer_name](model.parameters())
    method = cls(model, optimizer, seed=5, fused=fused_setting, **kwargs)
    return model, optimizer, method, input_shape


def _step(model, method, batch):
    inputs, labels = batch
    method.zero_grad()
    nn.functional.cross_entropy(model(inputs), labels).backward()
    return method.step()


def _states(optimizer, method):
    return [value for param in method.budgeted_parameters()
            for value in optimizer.state.get(param, {}).values() if torch.is_tensor(value)]


def _same_bits(a, b):
    return a.dtype == b.dtype and torch.equal(a.view(torch.int32) if a.dtype == torch.float32
                                              else a, b.view(torch.int32)
                                              if b.dtype == torch.float32 else b)


def _run_side_by_side(model_name, optimizer_name, steps, cls=DropBack, poison_at=None,
                      **kwargs):
    torch_arm = _arm(model_name, optimizer_name, False, cls, **kwargs)
    fused_arm = _arm(model_name, optimizer_name, True, cls, **kwargs)
    assert fused_arm[2]._fused_lib is not None and torch_arm[2]._fused_lib is None
    for step, batch in enumerate(batches(torch_arm[3], steps), start=1):
        if step == poison_at:  # a diverged tracked weight: both take the full-ranking path
            for model in (torch_arm[0], fused_arm[0]):
                index = int(fused_arm[2].tracked_index()[0])
                with torch.no_grad():
                    model[0].weight.view(-1)[index] = math.nan
        stats = [_step(model, method, batch) for model, _, method, _ in (torch_arm, fused_arm)]
        assert stats[0] == stats[1] or (math.isnan(stats[0].threshold) and
                                        stats[0].entered == stats[1].entered), f"step {step}"
        assert _same_bits(flat_values(torch_arm[2]), flat_values(fused_arm[2])), f"step {step}"
        assert torch.equal(flat_mask(torch_arm[2]), flat_mask(fused_arm[2])), f"step {step}"
        for a, b in zip(_states(torch_arm[1], torch_arm[2]), _states(fused_arm[1], fused_arm[2])):
            assert _same_bits(a, b), f"step {step}"
    return fused_arm


@needs_fused
@pytest.mark.parametrize("optimizer_name", list(OPTIMIZERS))
@pytest.mark.parametrize("model_name", list(MODELS))
def test_fused_equals_torch_path_over_many_steps(model_name, optimizer_name):
    _run_side_by_side(model_name, optimizer_name, 120, compression=7)


@needs_fused
def test_fused_equals_the_full_sort_reference():
    model, optimizer, dropback, input_shape = _arm("wide_mlp", "sgd_momentum_wd", True,
                                                   compression=25)
    weights = {}
    optimizer.register_step_post_hook(lambda *_: weights.__setitem__("w", flat_values(dropback)))
    initial = dropback.initial_values().clone()
    for step, batch in enumerate(batches(input_shape, 80), start=1):
        stats = _step(model, dropback, batch)
        expected, threshold = reference_mask((weights["w"] - initial).abs(), dropback.budget)
        assert torch.equal(flat_mask(dropback), expected), f"step {step}"
        assert stats.threshold == threshold
        assert torch.equal(flat_values(dropback), torch.where(expected, weights["w"], initial))


@needs_fused
@pytest.mark.parametrize("kwargs", [dict(freeze_at_step=15), dict(warmup_steps=5),
                                    dict(cache_initial=False)])
def test_fused_equals_torch_path_with_freeze_warmup_and_regenerated_w0(kwargs):
    _run_side_by_side("wide_mlp", "sgd_momentum_wd", 40, compression=10, **kwargs)


@needs_fused
def test_fused_equals_torch_path_for_the_decayed_variant_and_after_a_nan():
    _run_side_by_side("mlp", "sgd_momentum_wd", 30, cls=DecayedDropBack, compression=5)
    _run_side_by_side("wide_mlp", "sgd", 20, compression=10, poison_at=8)


@needs_fused
def test_fused_applies_only_where_it_can():
    model = MODELS["mlp"][0]()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="mode 'global'"):
        DropBack(model, optimizer, compression=4, mode="per_layer", fused=True)
    assert DropBack(model, optimizer, compression=4, mode="per_layer",
                    fused="auto")._fused_lib is None
    with pytest.raises(ValueError, match="fused must be"):
        DropBack(model, optimizer, compression=4, fused="yes")


def test_without_a_compiler_auto_falls_back_and_true_refuses(monkeypatch):
    monkeypatch.setattr(fused, "library", lambda: None)
    model = MODELS["mlp"][0]()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    dropback = DropBack(model, optimizer, compression=4)  # fused="auto" by default
    assert dropback._fused_lib is None
    _step(model, dropback, batches((12,), 1)[0])
    assert dropback.untracked_at_initial()
    with pytest.raises(ValueError, match="C compiler"):
        DropBack(model, optimizer, compression=4, fused=True)


@needs_fused
@pytest.mark.parametrize("pin_biases", [False, True])
def test_gradual_budget_and_pinned_biases_give_the_torch_paths_bits(pin_biases):
    # the MNIST default (gradual budget) runs fused once the count settles; pinned biases
    # (the digits default) adjust the ranking, so those steps take the torch path throughout
    from accelsim.dropback.methods import AnnealedDropBack

    arm = _run_side_by_side(next(iter(MODELS)), "sgd-momentum" if "sgd-momentum" in OPTIMIZERS
                            else next(iter(OPTIMIZERS)), 60, cls=AnnealedDropBack,
                            compression=7, anneal_steps=20, pin_biases=pin_biases)
    assert arm[2].tracked_index().numel() == arm[2].budget
