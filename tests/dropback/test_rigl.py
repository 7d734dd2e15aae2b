"""RigL (Evci et al. 2020) as a study method: fixed budget, drop/grow schedule, zeros."""

import copy
import math

import pytest
import torch
from method_helpers import run_steps, small_model
from torch import nn

from accelsim.dropback.methods import METHODS, RigL, build_method
from accelsim.errors import ConfigError
from accelsim.sim.simulation import simulate
from accelsim.train.loop import TrainConfig, train


def _flat(method):
    return torch.cat([p.detach().reshape(-1) for p in method._params])


def _mask(method):
    return torch.cat(list(method.tracked_masks().values()))


def _rigl(mode="global", momentum=0.9, seed=0, **kwargs):
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=momentum)
    settings = dict(budget=60, total_steps=40, delta_t=4, seed=seed, mode=mode) | kwargs
    return model, optimizer, RigL(model, optimizer, **settings)


@pytest.mark.parametrize("mode", ["global", "per_layer"])
def test_active_count_is_the_budget_after_every_step_and_inactive_are_zero(mode):
    model, optimizer, rigl = _rigl(mode)
    layer_counts = rigl.tracked_per_layer()
    assert sum(layer_counts) == 60 and rigl.peak_tracked_count == 60
    assert bool((_flat(rigl)[~_mask(rigl)] == 0).all())
    swapped = []
    for stats in run_steps(rigl, model, 40):
        mask = _mask(rigl)
        assert int(mask.sum()) == 60 and sum(stats.tracked_after) == 60
        assert bool((_flat(rigl)[~mask] == 0).all())
        momentum = torch.cat([optimizer.state[p]["momentum_buffer"].reshape(-1)
                              for p in rigl._params])
        assert bool((momentum[~mask] == 0).all())
        if mode == "per_layer":  # each layer keeps its share
            assert rigl.tracked_per_layer() == layer_counts
        assert sum(stats.entered) == sum(stats.left)
        swapped.append(sum(stats.entered))
    # updates only every delta_t steps, before 75% of training (step 30), decaying
    assert all(count == 0 for step, count in enumerate(swapped, 1)
               if step % 4 or step >= 30)
    assert sum(swapped) > 0
    assert rigl.update_fraction(4) > rigl.update_fraction(28) > 0 == rigl.update_fraction(30)
    assert rigl.update_fraction(0) == pytest.approx(0.3)


def test_an_update_drops_the_smallest_weights_and_grows_the_largest_gradients():
    model, _, rigl = _rigl(momentum=0.0, delta_t=1, total_steps=8)
    run_steps(rigl, model, 2)
    before = _mask(rigl).clone()
    gen = torch.Generator().manual_seed(7)
    x, y = torch.randn(32, 12, generator=gen), torch.randint(0, 4, (32,), generator=gen)
    rigl.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    grads = torch.cat([p.grad.reshape(-1) for p in rigl._params]).abs()
    stepped = torch.cat([(p.detach() - 0.1 * p.grad).reshape(-1) for p in rigl._params]).abs()
    stats = rigl.step()
    after = _mask(rigl)
    replaced = round(rigl.update_fraction(3) * 60)
    assert sum(stats.entered) == replaced > 0
    dropped, grown = before & ~after, after & ~before
    # every dropped element's |w| is at most every kept one's
    assert float(stepped[dropped].max()) <= float(stepped[before & after].min())
    # every grown element's |gradient| is at least every other candidate's
    candidates = ~(before & after)
    assert float(grads[grown].min()) >= float(grads[candidates & ~grown].max())
    assert bool((_flat(rigl)[grown] == 0).all())  # grown elements start at zero


def test_same_seed_same_bits_and_resume_is_exact():
    model, _, rigl = _rigl()
    run_steps(rigl, model, 10)
    state = copy.deepcopy(rigl.state_dict())  # the optimizer's tensors change in place
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    run_steps(rigl, model, 10, seed=1)
    model2, _, rigl2 = _rigl()
    model2.load_state_dict(weights)
    rigl2.load_state_dict(state)
    run_steps(rigl2, model2, 10, seed=1)
    assert torch.equal(_flat(rigl), _flat(rigl2)) and torch.equal(_mask(rigl), _mask(rigl2))
    _, _, other_seed = _rigl(seed=1)
    assert not torch.equal(_mask(other_seed), _mask(_rigl()[2]))


def test_registered_and_refuses_a_freeze_step():
    assert "rigl" in METHODS
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert isinstance(build_method("rigl", model, optimizer, compression=4, total_steps=100),
                      RigL)
    with pytest.raises(ConfigError, match="freeze_at_step"):
        build_method("rigl", model, optimizer, compression=4, freeze_at_step=10,
                     total_steps=100)
    with pytest.raises(ValueError, match="alpha"):
        RigL(model, optimizer, budget=5, total_steps=10, alpha=1.5)


def test_short_training_on_digits_learns_and_regenerates_nothing(tmp_path):
    """6 epochs of digits at 10x (about 270 steps: updates at steps 100 and 200) and the model
    learns far above chance (10%); its trace holds zeros, so no w0 is regenerated."""
    result = train(TrainConfig(dataset="digits", compression=10.0, method="rigl", epochs=6,
                               trace_every=20), tmp_path / "rigl", quiet=True)
    assert result.accuracy > 0.5, result.accuracy
    totals = simulate(result.out / "trace", "default", baseline=True).totals()
    assert totals.loc["trace", "prng_values_count"] == 0
    assert result.summary["method"] == "rigl"
    assert not math.isnan(result.accuracy)


def test_study_and_train_accept_rigl(tmp_path):
    from accelsim.app.study import DEFAULT_METHODS, STUDY_METHODS, study
    from accelsim.cli import _parser

    assert "rigl" in STUDY_METHODS and "rigl" not in DEFAULT_METHODS
    assert _parser().parse_args(["train", "--method", "rigl"]).method == "rigl"
    table = study(tmp_path / "study", budgets="dense,10x", seeds=[0], methods=["rigl"],
                  batch_sizes=[64], sram_sizes="64KiB",
                  train_settings={"epochs": 1, "trace_every": 20, "device": "cpu"}, jobs=1,
                  quiet=True)
    main = table[table["axis"] == "main"]
    assert set(main["method"]) == {"dense", "rigl"}
    assert (main[main["method"] == "rigl"]["prng_energy_pj"] == 0).all()
    assert main["test_accuracy"].notna().all()
