"""DropBack (and the other methods) as torch optimizers: LR schedulers, GradScaler, state dicts,
zero_grad, step hooks."""

import copy
import warnings

import pytest
import torch
from torch import nn

from accelsim.dropback.methods import build_method
from accelsim.dropback.optimizer import DropBack

torch.set_num_threads(1)


def model_and_data(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4))
    gen = torch.Generator().manual_seed(seed)
    data = [(torch.randn(32, 12, generator=gen), torch.randint(0, 4, (32,), generator=gen))
            for _ in range(12)]
    return model, data


def dropback(model, lr=0.1, momentum=0.9, **kwargs):
    sgd = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    return DropBack(model, sgd, budget=40, seed=3, **kwargs)


def train(db, model, data, scheduler=None, scaler=None):
    for x, y in data:
        db.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        if scaler is None:
            loss.backward()
            db.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(db)
            scaler.update()
        if scheduler is not None:
            scheduler.step()


def flat_weights(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize("method", ["dropback", "dropback-decay", "gmp", "rigl"])
def test_every_method_is_a_torch_optimizer_sharing_the_inner_groups(method):
    model, _ = model_and_data()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    wrapped = build_method(method, model, sgd, budget=40, total_steps=10)
    assert isinstance(wrapped, torch.optim.Optimizer)
    assert wrapped.param_groups is sgd.param_groups and wrapped.state is sgd.state
    with pytest.raises(ValueError, match="fixed when it is built"):
        wrapped.add_param_group({"params": [nn.Parameter(torch.zeros(2))]})


def test_cosine_schedule_drives_the_inner_learning_rate_without_warnings():
    model, data = model_and_data()
    db = dropback(model)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(db, T_max=len(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()"
        train(db, model, data, scheduler)
    assert db.optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert db.step_count == len(data) and db.untracked_at_initial()
    # the same run with the schedule applied by hand to the inner optimizer: the same bits
    model2, _ = model_and_data()
    db2 = dropback(model2)
    by_hand = torch.optim.lr_scheduler.CosineAnnealingLR(db2.optimizer, T_max=len(data))
    train(db2, model2, data, by_hand)
    assert torch.equal(flat_weights(model), flat_weights(model2))


def test_one_cycle_schedule_cycles_learning_rate_and_momentum():
    model, data = model_and_data()
    db = dropback(model)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(db, max_lr=0.5, total_steps=len(data))
    seen = []
    for x, y in data:
        db.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        db.step()
        scheduler.step()
        seen.append((db.param_groups[0]["lr"], db.optimizer.param_groups[0]["momentum"]))
    lrs, momenta = zip(*seen)
    assert max(lrs) > 0.4 and min(lrs) < 0.01  # up to max_lr, then annealed
    assert lrs.index(max(lrs)) < lrs.index(min(lrs))
    assert min(momenta) < max(momenta)  # OneCycle moves the inner optimizer's momentum
    assert db.untracked_at_initial()


def test_grad_scaler_on_cpu_steps_like_unscaled_training_and_skips_an_overflow():
    model, data = model_and_data()
    db = dropback(model)
    train(db, model, data, scaler=torch.amp.GradScaler("cpu", init_scale=2.0**10))
    model2, _ = model_and_data()
    db2 = dropback(model2)
    train(db2, model2, data)
    assert db.step_count == len(data)
    assert torch.allclose(flat_weights(model), flat_weights(model2), rtol=1e-5, atol=1e-6)
    # an infinite gradient: the scaler skips the step, DropBack's selection included
    scaler = torch.amp.GradScaler("cpu")
    before, steps = flat_weights(model).clone(), db.step_count
    x, y = data[0]
    db.zero_grad()
    scaler.scale(nn.functional.cross_entropy(model(x), y)).backward()
    next(iter(model.parameters())).grad[0, 0] = float("inf")
    scaler.step(db)
    assert db.step_count == steps and torch.equal(flat_weights(model), before)


def test_state_dict_round_trip_resumes_to_the_same_bits():
    model, data = model_and_data()
    db = dropback(model)
    train(db, model, data[:5])
    saved_model, saved_state = copy.deepcopy(model.state_dict()), copy.deepcopy(db.state_dict())
    train(db, model, data[5:])

    model2, _ = model_and_data()
    db2 = dropback(model2)
    model2.load_state_dict(saved_model)
    db2.load_state_dict(saved_state)
    train(db2, model2, data[5:])
    assert torch.equal(flat_weights(model), flat_weights(model2))
    assert torch.equal(db.tracked_index(), db2.tracked_index())


def test_zero_grad_set_to_none_or_zeros():
    model, data = model_and_data()
    db = dropback(model)
    x, y = data[0]
    nn.functional.cross_entropy(model(x), y).backward()
    db.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    db.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in model.parameters())


def test_step_hooks_run_around_the_whole_dropback_step():
    model, data = model_and_data()
    db = dropback(model)
    calls = []
    db.register_step_pre_hook(lambda opt, args, kwargs: calls.append(("pre", opt.step_count)))
    db.register_step_post_hook(lambda opt, args, kwargs: calls.append(("post", opt.step_count)))
    train(db, model, data[:2])
    assert calls == [("pre", 0), ("post", 1), ("pre", 1), ("post", 2)]
