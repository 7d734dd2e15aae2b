"""The gradual budget (dropback.methods._AnnealedBudget, `budget_anneal_epochs`): the tracked
count falls from every element to k on a cubic schedule, is traced, resumes exactly, and the
training settings refuse what it cannot do."""

import itertools

import pytest
import torch
from method_helpers import run_steps, small_model
from torch import nn

from accelsim.dropback.methods import (
    ANNEAL_UPDATES,
    AnnealedDecayedDropBack,
    AnnealedDropBack,
)
from accelsim.dropback.optimizer import DropBack
from accelsim.errors import ConfigError
from accelsim.trace.format import load_trace
from accelsim.train.defaults import DATASET_DEFAULTS
from accelsim.train.loop import TrainConfig, train


def _flat(method):
    return torch.cat([p.detach().reshape(-1) for p in method.budgeted_parameters()])


@pytest.mark.parametrize("mode", ["global", "per_layer"])
def test_count_falls_from_every_element_to_the_budget_then_stays(mode):
    model = small_model()
    db = AnnealedDropBack(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                          budget=30, anneal_steps=40, warmup_steps=2, mode=mode)
    assert db.peak_tracked_count == db.param_count
    stats = run_steps(db, model, 60)
    after = [sum(s.tracked_after) for s in stats]
    assert after[:3] == [db.param_count] * 3  # two warm-up steps, then a selection keeping all
    assert all(a >= b for a, b in itertools.pairwise(after))  # never grows
    assert after[2 + 20] > 30 and set(after[2 + 40:]) == {30}
    assert 2 < len(set(after)) <= ANNEAL_UPDATES + 2  # a few steps down, not one per step
    if mode == "per_layer":
        assert stats[-1].tracked_after == tuple(db.layer_budgets)
    assert db.untracked_at_initial()


def test_the_schedule_is_cubic_and_hits_the_budget_exactly():
    model = small_model()
    db = AnnealedDropBack(model, torch.optim.SGD(model.parameters(), lr=0.1), budget=30,
                          anneal_steps=100)
    n = db.param_count
    assert db.annealed_count(0) == n and db.annealed_count(100) == 30
    assert db.annealed_count(10_000) == 30
    # halfway the share still to prune is 1/8 of the span (a cube), not a half
    assert db.annealed_count(50) == round(30 + (n - 30) * 0.5 ** 3)
    assert db.annealed_count(54) == db.annealed_count(50)  # changes only every 100 / 20 steps


def test_no_annealing_is_plain_dropback_bit_for_bit():
    runs = []
    for build in (lambda m, o: DropBack(m, o, budget=30),
                  lambda m, o: AnnealedDropBack(m, o, budget=30, anneal_steps=0)):
        model = small_model()
        db = build(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
        run_steps(db, model, 25)
        runs.append((_flat(db), db.tracked_index()))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])


@pytest.mark.parametrize("cls", [AnnealedDropBack, AnnealedDecayedDropBack])
def test_resume_mid_anneal_is_exact_and_a_foreign_state_is_refused(cls):
    def make():
        model = small_model()
        return model, cls(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                          budget=30, anneal_steps=40)

    model, db = make()
    run_steps(db, model, 30, seed=1)
    full = _flat(db).clone()
    model, db = make()
    run_steps(db, model, 15, seed=1)
    state, weights = db.state_dict(), {k: v.clone() for k, v in model.state_dict().items()}
    model2, db2 = make()
    model2.load_state_dict(weights)
    db2.load_state_dict(state)
    gen = torch.Generator().manual_seed(1)
    for _ in range(15):  # the same batches as steps 1..15 of seed 1: skip them
        torch.randn(32, 12, generator=gen), torch.randint(0, 4, (32,), generator=gen)
    for _ in range(15):
        x, y = torch.randn(32, 12, generator=gen), torch.randint(0, 4, (32,), generator=gen)
        db2.zero_grad()
        nn.functional.cross_entropy(model2(x), y).backward()
        db2.step()
    assert torch.equal(_flat(db2), full)
    other_model = small_model()
    other = cls(other_model, torch.optim.SGD(other_model.parameters(), lr=0.1, momentum=0.9),
                budget=30, anneal_steps=10)
    with pytest.raises(ValueError, match="anneal_steps"):
        other.load_state_dict(state)


SMALL = TrainConfig(dataset="digits", budget=2000, epochs=4, batch_size=128, trace_every=5,
                    warmup_epochs=1, budget_anneal_epochs=1)


def test_training_traces_the_larger_early_sets_and_is_deterministic(tmp_path):
    a = train(SMALL, tmp_path / "a", quiet=True)
    b = train(SMALL, tmp_path / "b", quiet=True)
    assert (a.out / "checkpoint.sparse").read_bytes() == (b.out / "checkpoint.sparse").read_bytes()
    trace = load_trace(a.out / "trace")
    per_epoch = -(-1442 // 128)
    tracked = trace.steps.groupby("iteration")["tracked_count"].sum()
    total = int(trace.steps.groupby("iteration")["weight_count"].sum().iloc[0])
    assert trace.budget_tracked_count == total
    anneal = tracked.iloc[per_epoch:2 * per_epoch + 1]  # the selections of the anneal epoch
    assert anneal.iloc[0] == total and 2000 < anneal.iloc[-2] < total
    after = trace.steps.groupby("iteration")["tracked_after_count"].sum()
    assert (after.iloc[2 * per_epoch:] == 2000).all()
    assert list(a.history["tracked_count"])[-2:] == [2000, 2000]


def test_settings_refuse_what_the_gradual_budget_cannot_do(tmp_path):
    with pytest.raises(ConfigError, match="budget_anneal_epochs"):
        train(SMALL, tmp_path / "gmp", method="gmp", quiet=True)
    with pytest.raises(ConfigError, match="leave none"):
        train(SMALL, tmp_path / "long", warmup_epochs=2, budget_anneal_epochs=2, quiet=True)
    with pytest.raises(ConfigError, match="budget_anneal_epochs"):
        train(SMALL, tmp_path / "neg", budget_anneal_epochs=-1, quiet=True)
    # a default gradual budget does not apply to gmp, which has its own schedule
    assert TrainConfig(dataset="mnist", method="gmp").resolved().budget_anneal_epochs == 0
    assert TrainConfig(dataset="mnist", epochs=10, compression=25).resolved(
    ).budget_anneal_epochs == min(1, DATASET_DEFAULTS["mnist"]["budget_anneal_epochs"])


# -- biases always tracked (bias_tracking="always", dropback.methods._PinnedBiases) ---------
def _bias_mask(db):
    masks = db.tracked_masks()
    return torch.cat([masks[layer.layer_id][layer.weight_count:] for layer in db.layers])


@pytest.mark.parametrize("anneal_steps", [0, 10])
def test_pinned_biases_are_always_tracked_inside_the_budget(anneal_steps):
    model = small_model()
    db = AnnealedDropBack(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                          budget=30, pin_biases=True, anneal_steps=anneal_steps)
    biases = sum(layer.bias_count for layer in db.layers)
    for stats in run_steps(db, model, 25):
        assert sum(stats.tracked_after) >= 30
        assert bool(_bias_mask(db).all())  # after every step, every bias
    assert sum(db.tracked_per_layer()) == 30 and db.untracked_at_initial()
    # unpinned, the same run tracks fewer biases: the pin changes the selection
    model2 = small_model()
    plain = AnnealedDropBack(model2, torch.optim.SGD(model2.parameters(), lr=0.1, momentum=0.9),
                             budget=30, anneal_steps=anneal_steps)
    run_steps(plain, model2, 25)
    assert int(_bias_mask(plain).sum()) < biases


def test_pinned_biases_are_deterministic_and_refuse_a_foreign_state():
    runs = []
    for _ in range(2):
        model = small_model()
        db = AnnealedDropBack(model, torch.optim.SGD(model.parameters(), lr=0.1), budget=30,
                              pin_biases=True)
        run_steps(db, model, 12)
        runs.append(_flat(db))
    assert torch.equal(runs[0], runs[1])
    model = small_model()
    other = AnnealedDropBack(model, torch.optim.SGD(model.parameters(), lr=0.1), budget=30)
    with pytest.raises(ValueError, match="pin_biases"):
        other.load_state_dict(db.state_dict())


def test_bias_tracking_setting(tmp_path):
    with pytest.raises(ConfigError, match="bias_tracking"):
        train(SMALL, tmp_path / "bad", bias_tracking="sometimes", quiet=True)
    with pytest.raises(ConfigError, match="bias_tracking"):
        train(SMALL, tmp_path / "gmp", method="gmp", budget_anneal_epochs=0,
              bias_tracking="always", quiet=True)
    assert TrainConfig(dataset="mnist", method="gmp").resolved().bias_tracking == "ranked"
    result = train(SMALL, tmp_path / "pinned", bias_tracking="always", quiet=True)
    assert result.summary["tracked_count"] == 2000
