"""`accelsim plot` and `accelsim report` on the three kinds of results folder: a simulation, a
sweep and a training run. Figures exist as PNG and SVG and are real images; a report links only
figures that exist and carries its tables, the accelsim version and the trace identity."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from trace_helpers import tiny_trace

from accelsim import __version__
from accelsim.app.sweep import sweep
from accelsim.cli import main
from accelsim.sim.results import SimulationResult
from accelsim.trace.format import load_trace, save_trace

LINK = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")
KiB = 1024

FIGURES = {
    "sim": ["energy_breakdown", "per_layer", "traffic_breakdown"],
    "sweep": ["sram_sweep"],
    "run": ["tracked_churn", "training_accuracy"],
}


def run_main(capsys, *args):
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


# -- fixtures: one folder of each kind -----------------------------------------------------------

@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("results")
    trace_dir = save_trace(tiny_trace(), root / "tiny")
    result_dir = root / "sim"
    assert main(["simulate", str(trace_dir), "--out", str(result_dir), "--quiet"]) == 0
    sweep(trace_dir, sram_sizes=[4 * KiB, 64 * KiB], fields={"dram.preset": ["HBM2", "DDR4-3200"]},
          out=root / "sweep", jobs=1, quiet=True)
    return {"trace": trace_dir, "sim": result_dir, "sweep": root / "sweep",
            "run": _train_run(root / "tinyrun")}


def _train_run(out: Path) -> Path:
    pytest.importorskip("torch")
    from accelsim.train.loop import TrainConfig, train

    train(TrainConfig(model="lenet-300-100", budget=2000, epochs=2, batch_size=256), out,
          quiet=True)
    return out


def _check_figure(png: Path):
    svg = png.with_suffix(".svg")
    assert png.is_file() and svg.is_file(), png
    assert png.stat().st_size > 5000, png
    image = mpimg.imread(png)
    assert image.ndim == 3 and image.shape[2] in (3, 4), png
    assert image.shape[0] >= 300 and image.shape[1] >= 500, (png, image.shape)
    assert image[..., :3].std() > 0.05, png  # not a blank canvas
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and text.rstrip().endswith("</svg>")
    return text


def _links(report: Path) -> list[Path]:
    links = LINK.findall(report.read_text())
    assert links, report
    for link in links:
        assert (report.parent / link).is_file(), f"{report} links {link}, which does not exist"
    return [report.parent / link for link in links]


# -- plot ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["sim", "sweep", "run"])
def test_plot_writes_png_and_svg(folders, kind, tmp_path, capsys):
    out = tmp_path / "figs"
    printed = json.loads(run_main(capsys, "plot", folders[kind], "--out", out, "--json"))
    names = sorted(Path(f).stem for f in printed["figures"])
    assert names == FIGURES[kind]
    for name in names:
        svg = _check_figure(out / f"{name}.png")
        # labelled axes with units (matplotlib writes each text as a comment in the SVG)
        if name == "energy_breakdown":
            assert re.search(r"energy over 3 iterations \((pJ|nJ|µJ|mJ|J)\)", svg)
            assert "dense" in svg and "DropBack" in svg and "DRAM" in svg
        elif name == "per_layer":
            assert "DRAM traffic over 3 iterations (KiB)" in svg and "fc1" in svg
        elif name.startswith("sram_sweep"):
            assert "weight SRAM capacity" in svg and "tracked set fits" in svg
            assert "off-chip DRAM traffic over 3 iterations (bytes)" in svg
        elif name == "traffic_breakdown":
            assert "Bytes moved by level and operand" in svg and "partial sums" in svg
            assert "DRAM (DropBack)" in svg and "weights" in svg
        elif name == "training_accuracy":
            assert "test accuracy (%)" in svg and "epoch" in svg
        else:
            assert "weights entering the tracked set (count)" in svg and "iteration" in svg

    # the default place is <results>/figures; the human form says where each figure went
    text = run_main(capsys, "plot", folders[kind])
    for name in names:
        assert str(folders[kind] / "figures" / f"{name}.png") in text
        assert (folders[kind] / "figures" / f"{name}.svg").is_file()


# -- report --------------------------------------------------------------------------------------

def test_report_on_a_simulation(folders, capsys):
    folder = folders["sim"]
    printed = run_main(capsys, "report", folder).strip().splitlines()
    assert printed[-1] == f"report: {folder / 'report.md'}"
    assert printed[0].startswith("[1/1] drawing the figures of the simulation folder")
    report = folder / "report.md"
    text = report.read_text()
    assert sorted(p.name for p in _links(report)) == ["energy_breakdown.png", "per_layer.png",
                                                       "traffic_breakdown.png"]
    for p in _links(report):
        _check_figure(p)
    assert f"accelsim {__version__}" in text
    ident = load_trace(folders["trace"]).identity
    assert ident["manifest_sha256"] in text and f"`{ident['model']}`" in text
    assert "500 of 8,594 weights tracked" in text
    # the comparison table, with the ratios the simulation saved
    assert "| dense | DropBack | dense / DropBack |" in text
    summary = json.loads((folder / "summary.json").read_text())
    energy = float(summary["comparison"]["energy_pj"]["dense_over_trace"])
    assert re.search(rf"\| \*\*energy, total\*\* \|.*\| \*\*{energy:.2f}×\*\* \|", text)
    dram = float(summary["comparison"]["dram_bytes"]["dense_over_trace"])
    assert re.search(rf"\| off-chip DRAM traffic \|.*\| {dram:.2f}× \|", text)
    assert "Accelerator: `default`" in text and "DDR4-3200" in text
    # the traffic breakdown by operand and level, its DRAM bytes the records' own
    assert "### Traffic by operand and memory level" in text
    assert re.search(r"\| weights \| DRAM \|", text)
    assert re.search(r"\| activations \| activation SRAM \|", text)


def test_report_on_a_sweep(folders, capsys):
    folder = folders["sweep"]
    printed = json.loads(run_main(capsys, "report", folder, "--json"))
    report = Path(printed["report"])
    assert report == folder / "report.md"
    text = report.read_text()
    assert sorted(p.stem for p in _links(report)) == FIGURES["sweep"]
    assert f"accelsim {__version__}" in text
    assert load_trace(folders["trace"]).identity["manifest_sha256"] in text
    # one table row per point, each with both runs' traffic and energy
    rows = [line for line in text.splitlines()
            if line.startswith(("| HBM2", "| DDR4-3200"))]
    assert len(rows) == 4
    assert {r.split("|")[2].strip() for r in rows} == {"4 KiB", "64 KiB"}
    assert "| DRAM dense | DRAM DropBack | energy dense | energy DropBack |" in text


def test_report_on_a_training_run(folders, capsys):
    folder = folders["run"]
    run_main(capsys, "report", folder)
    report = folder / "report.md"
    text = report.read_text()
    assert sorted(p.stem for p in _links(report)) == FIGURES["run"]
    summary = json.loads((folder / "summary.json").read_text())
    assert f"accelsim {__version__}" in text
    row = next(line for line in text.splitlines() if line.startswith(f"| {folder.name} |"))
    assert "| lenet-300-100 | digits | 2 |" in row
    assert f"{summary['tracked_count']:,} / {summary['param_count']:,}" in row
    assert f"{summary['test_accuracy'] * 100:.2f}%" in row


def test_report_without_a_trace_links_no_churn_figure(folders, tmp_path, capsys):
    """A run trained with --no-trace (or a dense one) has no churn figure to link."""
    folder = tmp_path / "notrace"
    shutil.copytree(folders["run"], folder, ignore=shutil.ignore_patterns("trace", "figures",
                                                                          "report.md"))
    run_main(capsys, "report", folder)
    assert [p.name for p in _links(folder / "report.md")] == ["training_accuracy.png"]
    assert not (folder / "figures" / "tracked_churn.png").exists()


def test_report_elsewhere_links_back_to_the_figures(folders, tmp_path, capsys):
    out = tmp_path / "reports"
    run_main(capsys, "report", folders["sim"], "--out", out)
    assert sorted(p.name for p in _links(out / "report.md")) == ["energy_breakdown.png",
                                                                 "per_layer.png",
                                                                 "traffic_breakdown.png"]
    # a report folder holding the results: links relative to it
    holder = tmp_path / "holder"
    shutil.copytree(folders["sim"], holder / "sim", ignore=shutil.ignore_patterns("figures",
                                                                                 "report.md"))
    run_main(capsys, "report", holder / "sim", "--out", holder)
    links = LINK.findall((holder / "report.md").read_text())
    assert links == ["sim/figures/energy_breakdown.png", "sim/figures/per_layer.png",
                     "sim/figures/traffic_breakdown.png"]
    _links(holder / "report.md")


def test_sweep_report_shows_only_its_own_figures(folders, tmp_path, capsys):
    """A sweep rerun into a folder with other swept fields replaces the old figures; the
    report shows the new sweep's figures only."""
    out = tmp_path / "sw"
    shutil.copytree(folders["sweep"], out)
    (out / "figures" / "sram_sweep_HBM2.png").write_bytes(b"an old sweep's figure")
    sweep(folders["trace"], sram_sizes=[4 * KiB, 64 * KiB], out=out, jobs=1, quiet=True)
    run_main(capsys, "report", out)
    assert [p.name for p in _links(out / "report.md")] == ["sram_sweep.png"]
    assert "dram.preset" not in (out / "report.md").read_text()


def test_report_of_a_simulation_matches_a_reload(folders):
    """What the report reads back is what the simulation wrote (a save/load round trip)."""
    from accelsim.sim.simulation import simulate

    loaded = SimulationResult.load(folders["sim"])
    fresh = simulate(folders["trace"], "default", mode="train")
    assert loaded.records.equals(fresh.records)
    assert loaded.trace_identity["manifest_sha256"] == fresh.trace_identity["manifest_sha256"]


def test_config_line_names_the_buffers_a_config_has():
    from accelsim.analysis.report import _config_line
    from accelsim.config import load_accelerator_config

    shared = _config_line(load_accelerator_config("shared-ws-32x32").to_dict())
    split = _config_line(load_accelerator_config("default").to_dict())
    assert "global buffer of 10 MiB" in shared and "weight SRAM" not in shared
    assert "weight SRAM 8 MiB" in split and "activation SRAM 2 MiB" in split
