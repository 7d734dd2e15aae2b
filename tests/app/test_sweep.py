"""`accelsim sweep`: the grid of points, the table and figures, SRAM-size monotonicity, resuming
an interrupted sweep, and running the points on a Dask cluster."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import accelsim.app.sweep as sweep_mod
from accelsim.analysis.folders import SRAM_FIELD, load_sweep
from accelsim.app.sweep import point_id, sweep, sweep_points
from accelsim.cli import main
from accelsim.errors import ConfigError
from accelsim.trace.format import load_trace, save_trace
from accelsim.units import parse_size_list

SCRIPT = Path(sys.executable).with_name("accelsim")
KiB = 1024


@pytest.fixture(scope="module")
def lenet5_trace(tmp_path_factory) -> Path:
    """LeNet-5 geometry, 3,000 of 61,706 weights tracked: its tracked set (~19 KiB with the
    bitmaps) does not fit in 4 or 16 KiB of SRAM but fits in 64 KiB."""
    pytest.importorskip("torch")
    from accelsim.trace.from_model import synthetic_model_trace

    trace = synthetic_model_trace("lenet-5", 3000, seed=0, iterations=2)
    return save_trace(trace, tmp_path_factory.mktemp("trace") / "lenet5")


def _point_files(out: Path) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in (out / "points").glob("*.json")}


# -- the grid, through the installed command ----------------------------------------------------

def test_sweep_cli_grid_table_and_figures(trace_dir, tmp_path):
    out = tmp_path / "sw"
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "accelsim.cli"]
    proc = subprocess.run(command + ["sweep", str(trace_dir), "--sram-sizes", "4KiB,64KiB",
                                     "--set", "dram.preset=HBM2,DDR4-3200", "--jobs", "2",
                                     "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    printed = json.loads(proc.stdout)
    assert printed["points"] == 4 and len(printed["table"]) == 8

    table, meta = load_sweep(out)
    assert len(table) == 8
    assert sorted(table["run"].value_counts().items()) == [("dense", 4), ("trace", 4)]
    grid = set(zip(table[SRAM_FIELD], table["dram.preset"]))
    assert grid == {(4 * KiB, "HBM2"), (64 * KiB, "HBM2"), (4 * KiB, "DDR4-3200"),
                    (64 * KiB, "DDR4-3200")}
    assert (table[SRAM_FIELD] == table["weight_sram_capacity_bytes"]).all()
    assert all(sorted(runs) == ["dense", "trace"] for runs in table.groupby("point_id")["run"]
               .apply(list))
    assert len(list((out / "points").glob("*.json"))) == 4
    csv = pd.read_csv(out / "sweep.csv")
    assert len(csv) == 8 and list(csv.columns) == list(table.columns)
    pd.testing.assert_series_equal(csv["energy_pj"], table["energy_pj"])
    assert meta["points"] == 4
    assert meta["swept"] == sorted(["dram.preset", SRAM_FIELD])
    assert meta["trace"]["manifest_sha256"] == load_trace(trace_dir).identity["manifest_sha256"]
    assert meta["tracked_footprint_bytes"] > 0

    # the DRAM preset changes DRAM energy, not the traffic
    for _, group in table.groupby([SRAM_FIELD, "run"]):
        assert group["dram_bytes"].nunique() == 1
        assert group["dram_energy_pj"].nunique() == 2

    # both DRAM presets in one figure (line styles), PNG and SVG
    figures = sorted(Path(f).name for f in printed["figures"])
    assert figures == ["sram_sweep.png"]
    assert (out / "figures" / "sram_sweep.png").stat().st_size > 5000
    svg = (out / "figures" / "sram_sweep.svg").read_text()
    assert "<svg" in svg and "weight SRAM capacity" in svg
    assert "DDR4-3200" in svg and "HBM2" in svg


def test_range_form_and_monotonic_in_sram_size(lenet5_trace, tmp_path, capsys):
    assert parse_size_list("4KiB..64KiB x4") == [4 * KiB, 16 * KiB, 64 * KiB]
    assert parse_size_list("64KiB..32MiB x2")[-1] == 32 * 1024 * KiB
    capsys.readouterr()
    out = tmp_path / "sw"
    code = main(["sweep", str(lenet5_trace), "--sram-sizes", "4KiB..256KiB x4",
                 "--set", "dram.preset=HBM2,DDR4-3200", "--jobs", "1", "--out", str(out),
                 "--json"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    printed = json.loads(stdout)
    table = pd.DataFrame(printed["table"])
    assert sorted(table[SRAM_FIELD].unique()) == [4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB]
    assert printed["points"] == 8 and len(table) == 16

    fit = json.loads((out / "sweep.json").read_text())["tracked_footprint_bytes"]
    assert 16 * KiB < fit <= 64 * KiB
    for (preset, run), group in table.groupby(["dram.preset", "run"]):
        group = group.sort_values(SRAM_FIELD)
        traffic = group["dram_bytes"].to_numpy()
        # more SRAM never means more off-chip traffic
        assert (traffic[1:] <= traffic[:-1]).all(), (preset, run, traffic)
        assert traffic[0] > traffic[-1], (preset, run)
        weights = group["weight_dram_bytes"].to_numpy()
        assert (weights[1:] <= weights[:-1]).all()
    trace = table[table["run"] == "trace"]
    dense = table[table["run"] == "dense"]
    # once the tracked set fits, the trace's traffic is the one-time load of it, and no more
    fits = trace[trace[SRAM_FIELD] >= fit]
    assert fits["dram_bytes"].nunique() == 1
    assert fits["dram_bytes"].iloc[0] == pytest.approx(
        fit, abs=len(load_trace(lenet5_trace).layers))
    assert (trace[trace[SRAM_FIELD] < fit]["dram_bytes"] > fits["dram_bytes"].iloc[0]).all()
    # DropBack moves less than dense at every point
    merged = trace.merge(dense, on=["dram.preset", SRAM_FIELD], suffixes=("_t", "_d"))
    assert (merged["dram_bytes_t"] < merged["dram_bytes_d"]).all()


# -- resume --------------------------------------------------------------------------------------

def test_resume_recomputes_only_missing_points(trace_dir, tmp_path, monkeypatch):
    out = tmp_path / "sw"
    sizes = [4 * KiB, 16 * KiB, 64 * KiB]
    fields = {"dram.preset": ["HBM2", "DDR4-3200"]}
    first = sweep(trace_dir, sram_sizes=sizes, fields=fields, out=out, jobs=1, quiet=True)
    before = _point_files(out)
    assert len(before) == 6

    calls = []
    real_run_point = sweep_mod.run_point

    def counting(trace_path, accelerator, overrides, mode):
        calls.append(dict(overrides))
        return real_run_point(trace_path, accelerator, overrides, mode)

    monkeypatch.setattr(sweep_mod, "run_point", counting)

    # nothing missing: nothing recomputed, same table
    again = sweep(trace_dir, sram_sizes=sizes, fields=fields, out=out, jobs=1, quiet=True)
    assert calls == [] and again.equals(first)

    # one point deleted, another damaged: exactly those two are recomputed
    names = sorted(before)
    (out / "points" / names[0]).unlink()
    (out / "points" / names[1]).write_text('{"totals": ')
    resumed = sweep(trace_dir, sram_sizes=sizes, fields=fields, out=out, jobs=1, quiet=True)
    assert len(calls) == 2
    recomputed = {point_id(load_trace(trace_dir).identity["manifest_sha256"],
                           sweep_mod._config_digest("default"), c, "train") for c in calls}
    assert recomputed == {names[0][:-5], names[1][:-5]}
    after = _point_files(out)
    assert set(after) == set(before)
    assert {n: after[n] for n in names[2:]} == {n: before[n] for n in names[2:]}
    assert resumed.equals(first)
    assert pd.read_parquet(out / "sweep.parquet").equals(first)

    # another mode is another point: nothing of the train sweep is reused
    calls.clear()
    sweep(trace_dir, sram_sizes=sizes[:1], out=out, mode="inference", jobs=1, quiet=True)
    assert len(calls) == 1


def test_interrupted_sweep_resumes(trace_dir, tmp_path, monkeypatch):
    out = tmp_path / "sw"
    sizes = [4 * KiB, 8 * KiB, 16 * KiB, 64 * KiB]
    reference = sweep(trace_dir, sram_sizes=sizes, out=tmp_path / "ref", jobs=1, quiet=True)

    real_run_point = sweep_mod.run_point
    calls = []

    def interrupted(*args):
        calls.append(args[2][SRAM_FIELD])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_run_point(*args)

    monkeypatch.setattr(sweep_mod, "run_point", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep(trace_dir, sram_sizes=sizes, out=out, jobs=1, quiet=True)
    assert len(_point_files(out)) == 2 and not (out / "sweep.parquet").exists()

    calls.clear()
    monkeypatch.setattr(sweep_mod, "run_point", lambda *a: calls.append(a[2][SRAM_FIELD])
                        or real_run_point(*a))
    table = sweep(trace_dir, sram_sizes=sizes, out=out, jobs=1, quiet=True)
    assert sorted(calls) == sizes[2:]
    pd.testing.assert_frame_equal(table, reference)


# -- Dask ----------------------------------------------------------------------------------------

def test_dask_cluster_gives_the_local_results(trace_dir, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    sizes = [4 * KiB, 64 * KiB]
    fields = {"pe.rows": [16, 32]}
    local = sweep(trace_dir, sram_sizes=sizes, fields=fields, out=tmp_path / "local", jobs=1,
                  quiet=True)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = sweep(trace_dir, sram_sizes=sizes, fields=fields, out=tmp_path / "dask",
                       dask_address=cluster.scheduler_address, quiet=True)
    pd.testing.assert_frame_equal(remote, local)
    assert len(_point_files(tmp_path / "dask")) == 4
    assert (tmp_path / "dask" / "sweep.parquet").is_file()


def test_dask_dead_or_malformed_address_is_a_config_error(trace_dir, tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr(sweep_mod, "DASK_CONNECT_TIMEOUT", "1s")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    with pytest.raises(ConfigError, match=f"--dask {address}: no scheduler answered"):
        sweep(trace_dir, sram_sizes=[4 * KiB], out=tmp_path / "a", dask_address=address,
              quiet=True)
    assert _point_files(tmp_path / "a") == {}
    for bad in ("no-port-here", "carrier-pigeon://10.0.0.1:1"):
        with pytest.raises(ConfigError, match="not a scheduler address"):
            sweep(trace_dir, sram_sizes=[4 * KiB], out=tmp_path / "b", dask_address=bad,
                  quiet=True)


# -- points --------------------------------------------------------------------------------------

def test_sweep_points_and_point_ids():
    points = sweep_points([4096, 8192], {"dram.preset": ["HBM2", "DDR4-3200"], "pe.rows": [16]})
    assert len(points) == 4 and all(p["pe.rows"] == 16 for p in points)
    assert {(p[SRAM_FIELD], p["dram.preset"]) for p in points} == {
        (4096, "HBM2"), (4096, "DDR4-3200"), (8192, "HBM2"), (8192, "DDR4-3200")}
    ids = {point_id("t", "c", p, "train") for p in points}
    assert len(ids) == 4
    p = points[0]
    assert point_id("t", "c", dict(reversed(list(p.items()))), "train") == point_id("t", "c", p,
                                                                                    "train")
    assert len({point_id("t", "c", p, "train"), point_id("t", "c", p, "inference"),
                point_id("u", "c", p, "train"), point_id("t", "d", p, "train")}) == 4
    with pytest.raises(ConfigError, match="nothing to sweep"):
        sweep_points(None, {})


def test_two_dimensional_sweep_draws_a_heatmap_marking_where_the_tracked_set_fits(trace_dir,
                                                                                   tmp_path):
    """Weight SRAM x activation SRAM: the energy ratio on a grid, one cell per point, and the
    first weight-SRAM size that holds the tracked set marked."""
    out = tmp_path / "grid"
    table = sweep(trace_dir, sram_sizes=[1 * KiB, 4 * KiB, 64 * KiB],
                  fields={"activation_sram.capacity_bytes": [1 * KiB, 64 * KiB]}, out=out,
                  jobs=1, quiet=True)
    assert len(table) == 12
    from accelsim.analysis.figures import sweep_figures

    drawn = sweep_figures(out, tmp_path / "figs")
    assert tmp_path / "figs" / "sram_sweep_heatmap.png" in drawn
    svg = (tmp_path / "figs" / "sram_sweep_heatmap.svg").read_text()
    assert "activation SRAM capacity" in svg and "weight SRAM capacity" in svg
    assert "tracked set fits" in svg and "energy, dense / DropBack" in svg
    wide = table.pivot_table(index=[SRAM_FIELD, "activation_sram.capacity_bytes"],
                             columns="run", values="energy_pj")
    for ratio in wide["dense"] / wide["trace"]:
        assert f"{ratio:.2f}×" in svg


# -- batch size and the shared buffer -------------------------------------------------------------

def test_batch_axis_leaves_other_points_as_they_were_and_refuses_bad_sizes():
    plain = sweep_points([4096, 8192], {"dram.preset": ["HBM2"]})
    assert sweep_points([4096, 8192], {"dram.preset": ["HBM2"]}, None) == plain
    assert all("batch_size" not in p for p in plain)  # so their ids are as before
    batched = sweep_points([4096, 8192], {"dram.preset": ["HBM2"]}, [1, 8])
    assert len(batched) == 4 and {p["batch_size"] for p in batched} == {1, 8}
    assert [{k: v for k, v in p.items() if k != "batch_size"} for p in batched[::2]] == plain
    assert sweep_points(None, None, [2])  # a batch axis alone is a sweep
    with pytest.raises(ConfigError, match=r"--batch-sizes: expected an integer >= 1.*got 0"):
        sweep_points([4096], None, [0])
    with pytest.raises(ConfigError, match="batch_size is not a config field"):
        sweep_points(None, {"batch_size": [1]}, [2])


def test_capacity_by_batch_heatmap_on_a_shared_buffer(trace_dir, tmp_path, capsys):
    """--sram-sizes on a shared-buffer config sweeps the global buffer; --batch-sizes is the
    simulation's batch override; the heatmap marks where the tracked set fits beside the room
    kept for activations."""
    from accelsim.config import load_accelerator_config
    from accelsim.sim.simulation import simulate

    out = tmp_path / "grid"
    assert main(["sweep", str(trace_dir), "--accelerator", "shared-ws-32x32",
                 "--sram-sizes", "8KiB,16KiB,64KiB", "--batch-sizes", "1,8",
                 "--set", "global_buffer.banks=4", "--set", "tile_weights=256",
                 "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    table, meta = load_sweep(out)
    assert meta["capacity_field"] == "global_buffer.capacity_bytes"
    assert len(table) == 12 and set(table["batch_size"]) == {1, 8}
    assert list(table["global_buffer.capacity_bytes"]) == list(
        table["global_buffer_capacity_bytes"])
    # a point is the simulation at that capacity and batch size
    row = table[(table["global_buffer.capacity_bytes"] == 16 * KiB) & (table["batch_size"] == 8)]
    config = load_accelerator_config("shared-ws-32x32", {
        "global_buffer.capacity_bytes": 16 * KiB, "global_buffer.banks": 4,
        "tile_weights": 256})
    direct = simulate(trace_dir, config, batch_size=8).totals()
    for run in ("trace", "dense"):
        got = row[row["run"] == run].iloc[0]
        assert got["energy_pj"] == pytest.approx(direct.loc[run, "energy_pj"], rel=1e-12)
        assert got["dram_bytes"] == direct.loc[run, "dram_bytes"]
    # the batch moves the figures: more samples, more activation traffic and energy
    by_batch = table[table["run"] == "dense"].groupby("batch_size")["energy_pj"].sum()
    assert by_batch[8] > by_batch[1]
    assert meta["fits_capacity_bytes"] == (meta["tracked_footprint_bytes"]
                                           + config.min_activation_room_bytes)
    svg = (out / "figures" / "sram_sweep_heatmap.svg").read_text()
    assert "global buffer capacity" in svg and "batch size" in svg
    assert "tracked set fits" in svg
    wide = table.pivot_table(index=["global_buffer.capacity_bytes", "batch_size"],
                             columns="run", values="energy_pj")
    for ratio in wide["dense"] / wide["trace"]:
        assert f"{ratio:.2f}×" in svg


def test_tracked_footprint_counts_the_optimizer_state_in_training():
    """The fit marker of a training sweep includes the momentum word the simulator places beside
    each tracked weight; an inference sweep's does not."""
    from accelsim.app.sweep import tracked_footprint_bytes

    trace = load_trace(Path(__file__).parents[2] / "traces" / "sample-lenet-300-100")
    assert trace.manifest["optimizer"]["settings"]["momentum"] > 0
    tracked = int(trace.steps.groupby("layer_id")["tracked_after_count"].max().sum())
    state_bytes = tracked * 4  # one fp32 momentum word per tracked weight
    assert (tracked_footprint_bytes(trace, mode="train")
            - tracked_footprint_bytes(trace, mode="inference")) == state_bytes
