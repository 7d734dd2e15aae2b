"""Issue 12: the sparse-training methods, zeros in the simulator, dense warm-up, per-dataset
defaults, and `accelsim study` end to end on digits (tiny)."""

import itertools
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from accelsim.config import load_accelerator_config
from accelsim.dropback.init import initial_values_torch
from accelsim.dropback.methods import DecayedDropBack, GradualMagnitudePruning
from accelsim.dropback.optimizer import DropBack
from accelsim.sim.simulation import simulate
from accelsim.train.loop import DATASET_DEFAULTS, TrainConfig, train


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4))


def _steps(method, model, n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.randn(32, 12, generator=gen), torch.randint(0, 4, (32,), generator=gen)
    stats = []
    for _ in range(n):
        method.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        stats.append(method.step())
    return stats


def _flat(method):
    return torch.cat([p.detach().reshape(-1) for layer in method.layers
                      for p in ([layer.module.weight, layer.module.bias])])


def test_dense_warmup_tracks_everything_then_exactly_k():
    model = _model()
    db = DropBack(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                  budget=50, warmup_steps=3)
    assert db.peak_tracked_count == db.param_count
    stats = _steps(db, model, 5)
    for s in stats[:3]:
        assert sum(s.tracked_after) == db.param_count and sum(s.left) == 0
    assert sum(stats[3].tracked_before) == db.param_count
    assert sum(stats[3].left) == db.param_count - 50
    assert sum(stats[4].tracked_after) == 50 and db.untracked_at_initial()


def test_decayed_dropback_resets_untracked_to_decayed_w0_and_resumes_exactly():
    model = _model()
    db = DecayedDropBack(model, torch.optim.SGD(model.parameters(), lr=0.1), budget=40,
                         decay=0.5)
    _steps(db, model, 4)
    w0 = torch.cat([initial_values_torch(0, layer) for layer in db.layers])
    mask = torch.cat(list(db.tracked_masks().values()))
    assert torch.equal(_flat(db)[~mask], (w0 * 0.5 ** 4)[~mask])
    assert int(mask.sum()) == 40 and db.untracked_values == "zero"
    # resume from a state dict: the next steps give the same bits
    state, weights = db.state_dict(), {k: v.clone() for k, v in model.state_dict().items()}
    _steps(db, model, 2, seed=1)
    other = _model(seed=5)
    db2 = DecayedDropBack(other, torch.optim.SGD(other.parameters(), lr=0.1), budget=40,
                          decay=0.5)
    other.load_state_dict(weights)
    db2.load_state_dict(state)
    _steps(db2, other, 2, seed=1)
    assert torch.equal(_flat(db), _flat(db2))


def test_gradual_magnitude_pruning_follows_the_cubic_schedule_to_the_budget():
    model = _model()
    gmp = GradualMagnitudePruning(model, torch.optim.SGD(model.parameters(), lr=0.1,
                                                         momentum=0.9),
                                  budget=60, total_steps=40, begin_step=4, end_step=20,
                                  prune_every_steps=4)
    stats = _steps(gmp, model, 40)
    kept = [sum(s.tracked_after) for s in stats]
    assert kept[2] == gmp.param_count  # before pruning begins
    assert all(a >= b for a, b in itertools.pairwise(kept))  # never re-grows
    assert kept[-1] == 60 and kept[19] == 60
    assert all(sum(s.entered) == 0 for s in stats)
    mask = torch.cat(list(gmp.tracked_masks().values()))
    assert bool((_flat(gmp)[~mask] == 0).all())


def test_zero_untracked_trace_regenerates_nothing_and_skipping_saves_macs(tmp_path):
    result = train(TrainConfig(dataset="digits", compression=10.0, method="gmp", epochs=1,
                               trace_every=20), tmp_path / "gmp", quiet=True)
    trace = result.out / "trace"
    plain = simulate(trace, "default", baseline=True).totals()
    skip = simulate(trace, load_accelerator_config(
        "default", {"pe.skip_zero_macs": True}), baseline=True).totals()
    assert plain.loc["trace", "prng_values_count"] == 0
    assert plain.loc["trace", "macs_count"] == plain.loc["dense", "macs_count"]
    assert skip.loc["trace", "macs_count"] < plain.loc["trace", "macs_count"]
    assert skip.loc["trace", "total_cycles"] < plain.loc["trace", "total_cycles"]
    assert skip.loc["dense", "macs_count"] == plain.loc["dense", "macs_count"]
    # the same tracked sets with regenerated w0 are charged to the PRNG
    db = train(TrainConfig(dataset="digits", compression=10.0, epochs=1, trace_every=20),
               tmp_path / "db", quiet=True)
    assert simulate(db.out / "trace", "default", baseline=False).totals().loc[
        "trace", "prng_values_count"] > 0


def test_defaults_come_from_the_dataset_and_help_shows_them():
    config = TrainConfig(dataset="mnist", compression=25).resolved()
    assert config.lr == DATASET_DEFAULTS["mnist"]["lr"]
    assert config.warmup_epochs == DATASET_DEFAULTS["mnist"]["warmup_epochs"]
    assert TrainConfig(dataset="digits", lr=0.3).resolved().lr == 0.3
    out = subprocess.run([sys.executable, "-m", "accelsim.cli", "train", "--help"],
                         capture_output=True, text=True, check=True).stdout
    flat = " ".join(out.split())
    assert "mnist 128" in flat and "--warmup-epochs" in flat
    assert "(default: 0.9 for every dataset)" in flat


def test_history_has_wall_time_and_summary_names_the_method(tmp_path):
    result = train(TrainConfig(dataset="digits", compression=10.0, epochs=1, trace=False,
                               method="dropback-decay"), tmp_path / "r", quiet=True)
    history = pd.read_csv(result.out / "history.csv")
    assert (history["wall_seconds"] >= 0).all()
    assert result.summary["method"] == "dropback-decay"


@pytest.mark.slow
def test_study_end_to_end_on_digits_and_resumes(tmp_path):
    from accelsim.analysis.report import report
    from accelsim.app.study import study

    out = tmp_path / "study"
    kwargs = dict(budgets="dense,10x", seeds=[0], batch_sizes=[4, 64], sram_sizes="64KiB",
                  train_settings={"epochs": 1, "trace_every": 20, "device": "cpu"}, jobs=1,
                  quiet=True)
    table = study(out, **kwargs)
    main = table[table["axis"] == "main"]
    assert set(main["method"]) == {"dense", "dropback", "dropback-decay", "gmp"}
    for column in ("test_accuracy", "weight_dram_bytes", "activation_dram_bytes",
                   "dram_energy_pj", "mac_energy_pj", "prng_energy_pj", "energy_pj",
                   "total_cycles"):
        assert main[column].notna().all(), column
    assert set(table["axis"]) == {"main", "batch", "sram"}
    # the table's tracked count is the run's budget k (not the simulator's sum over iterations)
    ten = main[main["budget"] == "10x"]
    assert ((ten["param_count"] / ten["tracked_count"]).round() == 10).all()
    dense = main[main["method"] == "dense"]
    assert (dense["tracked_count"] == dense["param_count"]).all()
    assert (main[main["method"] != "dropback"]["prng_energy_pj"] == 0).all()
    assert (main[main["method"] == "dropback"]["prng_energy_pj"] > 0).all()
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("summary.json")}
    again = study(out, **kwargs)  # nothing trained or simulated twice
    assert {p: p.stat().st_mtime_ns for p in out.rglob("summary.json")} == stamps
    pd.testing.assert_frame_equal(again, table)
    path = report(out)
    text = path.read_text()
    assert "## Study: lenet-300-100 on digits" in text and "Sensitivity" in text
    assert "| 0.0×" not in text and "10.0× / " in text  # k's compression, then the others
    for name in ("accuracy_energy", "energy_ratio_batch", "energy_ratio_sram", "sensitivity"):
        assert (out / "figures" / f"{name}.png").exists()
        assert f"figures/{name}.png" in text
    # the technology cases: re-pricing the stored counts with the study's own config gives
    # the stored energies back; the other cell types, nodes and the old rule each give a ratio
    from accelsim.analysis.study import load_study, technology_sensitivity
    from accelsim.sim.energy import ENERGY_TABLE

    table, meta = load_study(out)
    own = load_accelerator_config(meta["accelerators"][0])
    repriced = sum(c.formula(main, own) for c in ENERGY_TABLE)
    np.testing.assert_allclose(repriced, main["energy_pj"], rtol=1e-9)
    tech = technology_sensitivity(table, meta)
    assert len(tech) == 2 + 3 + 1 and (tech["ratio"] > 0).all()
    assert "technology" in text and "cases" in text


def test_study_bad_input_is_one_line_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "accelsim.cli", "study", "--methods", "snip",
                           "--out", str(tmp_path / "s")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "snip" in proc.stderr


def test_mnist_files_in_either_spelling(tmp_path):
    from accelsim.train.data import load_dataset

    rng = np.random.default_rng(0)
    for stem, shape in (("train-images.idx3-ubyte", (3, 4, 4)),
                        ("train-labels.idx1-ubyte", (3,)),
                        ("t10k-images.idx3-ubyte", (2, 4, 4)),
                        ("t10k-labels.idx1-ubyte", (2,))):
        array = rng.integers(0, 10, shape).astype(np.uint8)
        header = bytes([0, 0, 8, array.ndim]) + b"".join(
            int(d).to_bytes(4, "big") for d in array.shape)
        (tmp_path / stem).write_bytes(header + array.tobytes())
    data = load_dataset("mnist", tmp_path)
    assert data.train_x.shape == (3, 1, 4, 4) and data.test_y.shape == (2,)


def test_study_json_lists_the_settings(tmp_path):
    from accelsim.app.study import training_runs

    runs = training_runs(["dense", "10x"], [0, 1], ["dropback", "gmp"])
    assert [r["id"] for r in runs] == ["dense-s0", "dropback-10x-s0", "gmp-10x-s0",
                                       "dense-s1", "dropback-10x-s1", "gmp-10x-s1"]
    assert json.dumps(runs)  # plain data: goes to workers and files


def test_study_budgets_go_through_the_one_budget_parser():
    from accelsim.app.study import budget_label
    from accelsim.errors import ConfigError

    assert [budget_label(b) for b in ("dense", "0", "25x", "10.0x", "5000")] == [
        "dense", "dense", "25x", "10x", "5000"]
    for bad in ("abcx", "x", "1e3", "-5", "0.5x"):
        with pytest.raises(ConfigError, match="--budget"):
            budget_label(bad)


def test_gmp_refuses_a_freeze_step_it_would_ignore():
    from accelsim.dropback.methods import build_method
    from accelsim.errors import ConfigError

    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ConfigError, match="freeze_at_step"):
        build_method("gmp", model, opt, compression=4, freeze_at_step=10, total_steps=100)


def test_study_flags_are_checked_before_any_training(tmp_path, capsys):
    from accelsim.cli import main

    for argv, flag in ((["--epochs", "0"], "--epochs"), (["--seeds", "0,-1"], "--seed"),
                       (["--batch-sizes", "1,0"], "--batch-size"), (["--lr", "-1"], "--lr")):
        code = main(["study", "--out", str(tmp_path / "s"), *argv])
        err = capsys.readouterr().err
        assert code == 2 and flag in err and err.count("\n") == 1, err
        assert not (tmp_path / "s" / "runs").exists()


def test_study_table_is_read_once_and_reread_when_replaced(tmp_path, monkeypatch):
    import pandas as pd

    from accelsim.analysis import study as study_analysis
    from accelsim.io import write_json_atomic

    def write(accuracy):
        table = pd.DataFrame({"method": ["dense"], "budget": ["dense"], "seed": [0],
                              "test_accuracy": [accuracy], "axis": ["main"],
                              "energy_pj": [1.0], "accelerator": ["x"]})
        tmp = tmp_path / "study.tmp"
        table.to_parquet(tmp)
        tmp.replace(tmp_path / "study.parquet")  # a new file, as the study writes it

    write(0.5)
    write_json_atomic(tmp_path / "study.json", {"model": "m"})
    reads = []
    real = study_analysis.pd.read_parquet
    monkeypatch.setattr(study_analysis.pd, "read_parquet",
                        lambda *a, **k: reads.append(1) or real(*a, **k))
    first, _ = study_analysis.load_study(tmp_path)
    first.loc[0, "test_accuracy"] = 0.0  # a caller's change must not reach the next caller
    again, _ = study_analysis.load_study(tmp_path)
    assert len(reads) == 1 and again.loc[0, "test_accuracy"] == 0.5
    write(0.75)
    assert study_analysis.load_study(tmp_path)[0].loc[0, "test_accuracy"] == 0.75
    assert len(reads) == 2
