"""Training runs end to end: determinism, resume, run folder contents, the CLI."""

import json

import pytest

from accelsim.errors import ConfigError
from accelsim.trace.format import load_trace
from accelsim.train.loop import TrainConfig, parse_budget, train

SMALL = TrainConfig(model="lenet-300-100", dataset="digits", budget=2000, epochs=3, lr=0.1,
                    momentum=0.9, batch_size=128, trace_every=5, warmup_epochs=0)


def _files(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


def _history(out):
    """history.csv less its wall-time column (the one column that differs between runs)."""
    import pandas as pd

    frame = pd.read_csv(out / "history.csv")
    assert (frame.pop("wall_seconds") >= 0).all()
    return frame.to_csv(index=False)


def test_same_command_twice_gives_identical_bytes(tmp_path):
    a, b = train(SMALL, tmp_path / "a", quiet=True), train(SMALL, tmp_path / "b", quiet=True)
    fa, fb = _files(a.out), _files(b.out)
    assert fa["checkpoint.sparse"] == fb["checkpoint.sparse"]
    for name in ("trace/steps.parquet", "trace/snapshots.parquet"):
        assert fa[name] == fb[name]
    assert _history(a.out) == _history(b.out)


def test_interrupted_run_resumes_bit_identical(tmp_path):
    full = train(SMALL, tmp_path / "full", quiet=True)

    def stop(epoch, _row):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(SMALL, tmp_path / "cut", quiet=True, on_epoch_end=stop)
    assert (tmp_path / "cut" / "resume.pt").exists()
    resumed = train(SMALL, tmp_path / "cut", resume=True, quiet=True)
    assert not (tmp_path / "cut" / "resume.pt").exists()
    ff, fr = _files(full.out), _files(resumed.out)
    for name in ("checkpoint.sparse", "trace/steps.parquet", "trace/snapshots.parquet",
                 "trace/layers.parquet"):
        assert ff[name] == fr[name], name
    assert _history(full.out) == _history(resumed.out)


def test_run_folder_and_trace(tmp_path):
    result = train(SMALL, tmp_path / "run", quiet=True)
    trace = load_trace(result.out / "trace")
    steps_per_epoch = -(-1442 // 128)
    assert trace.iterations == 3 * steps_per_epoch
    assert trace.budget_tracked_count == 2000
    assert trace.manifest["accuracy"] == pytest.approx(result.accuracy)
    per_it = trace.steps.groupby("iteration")["tracked_after_count"].sum()
    assert (per_it == 2000).all()
    assert list(result.history["epoch"]) == [1, 2, 3]
    assert result.summary["checkpoint_bytes"] < result.summary["dense_checkpoint_bytes"]


def test_warmup_epochs_are_traced_as_dense_steps(tmp_path):
    # a multi-epoch warm-up (MNIST's default is two): every warm-up step tracks every weight,
    # so the simulator charges it as dense; from the first selection on, exactly the budget
    result = train(SMALL, tmp_path / "warm", warmup_epochs=2, quiet=True)
    trace = load_trace(result.out / "trace")
    steps_per_epoch = -(-1442 // 128)
    per_it = trace.steps.groupby("iteration")["tracked_count"].sum()
    total = int(trace.steps.groupby("iteration")["weight_count"].sum().iloc[0])
    assert (per_it.iloc[:2 * steps_per_epoch] == total).all()
    after = trace.steps.groupby("iteration")["tracked_after_count"].sum()
    assert (after.iloc[2 * steps_per_epoch:] == 2000).all()
    assert trace.budget_tracked_count == total  # the hardware must hold all of it meanwhile


def test_default_warmup_and_anneal_are_the_datasets_capped_at_a_tenth_of_the_run():
    from accelsim.train.defaults import DATASET_DEFAULTS

    for dataset, defaults in DATASET_DEFAULTS.items():
        for name in ("warmup_epochs", "budget_anneal_epochs"):
            for epochs in (5, 10, 20, 40):
                asked = TrainConfig(dataset=dataset, epochs=epochs, compression=25)
                value = getattr(asked.resolved(), name)
                assert value == min(defaults[name], epochs // 10)
                note = asked.schedule_note()
                if value != defaults[name]:  # cut to fit: said so, naming what was applied
                    assert note and f"{name.replace('_', ' ')} {defaults[name]} -> {value}" \
                        in note
                # what was applied is what the config records; gmp, RigL and dense runs
                # record none of DropBack's schedule
                for other in ("gmp", "rigl"):
                    assert getattr(TrainConfig(dataset=dataset, epochs=epochs, compression=25,
                                               method=other).resolved(), name) == 0
                assert getattr(TrainConfig(dataset=dataset, epochs=epochs).resolved(), name) == 0
            explicit = TrainConfig(dataset=dataset, epochs=5, compression=25, **{name: 3})
            assert getattr(explicit.resolved(), name) == 3


def test_own_schedule_methods_refuse_a_warmup():
    with pytest.raises(ConfigError, match="warmup_epochs: expected 0 for method gmp"):
        train(SMALL, "unused", method="gmp", compression=5, warmup_epochs=1, epochs=3,
              quiet=True)


def test_dense_run_records_dense_trace(tmp_path):
    result = train(SMALL, tmp_path / "dense", budget=None, epochs=1, quiet=True)
    trace = load_trace(result.out / "trace")
    assert trace.dense and (trace.steps["regenerated_count"] == 0).all()


def test_parse_budget():
    assert parse_budget("5000") == (5000, None)
    assert parse_budget("25x") == (None, 25.0)
    assert parse_budget("dense") == (None, None) and parse_budget("0") == (None, None)



def test_cli_train_json(tmp_path, cli):
    proc = cli("train", "--budget", "10x", "--epochs", "1", "--batch-size", "256",
                "--out", str(tmp_path / "r"), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["tracked_count"] == round(summary["param_count"] / 10)


@pytest.mark.parametrize("args, needle", [
    (["--budget", "lots"], "--budget 'lots'"),
    (["--dataset", "mnist", "--data-dir", "/nonexistent-folder"], "nonexistent-folder"),
    (["--model", "alexnet"], "alexnet"),
    (["--epochs", "0"], "epochs"),
])
def test_cli_train_bad_input_is_one_line(tmp_path, cli, args, needle):
    proc = cli("train", "--out", str(tmp_path / "r"), *args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("accelsim: error:")
