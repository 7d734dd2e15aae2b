"""What a newcomer meets in the first hour: messages that say what to do, every flag's help
and default, sizes and ratios read and printed as meant, a fast `--help`, progress on long
work, and the embedded digits shipped with the package."""

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from accelsim.cli import COMMANDS, _parser, main
from accelsim.errors import ConfigError
from accelsim.units import format_ratio, parse_size

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_TRACE = ROOT / "traces" / "sample-lenet-300-100"


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.mark.parametrize("argv", [
    ["train", "--epochs", "1"],
    ["trace", "--model", "lenet-5", "--synthetic", "--budget", "10x"],
    ["demo", "--epochs", "1"],
])
def test_a_command_that_needs_torch_says_what_to_install(argv, tmp_path):
    argv = [*argv, "--out", str(tmp_path / "out")]
    done = _python("import sys; sys.modules['torch'] = None\n"  # as if torch were not installed
                   "from accelsim.cli import main\n"
                   f"sys.exit(main({argv!r}))")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("accelsim: error: ")
    assert "needs PyTorch" in lines[0] and "pip install 'accelsim[train]'" in lines[0]
    assert "internal error" not in done.stderr


def test_mnist_without_data_dir_names_the_flag(tmp_path, capsys):
    code = main(["train", "--dataset", "mnist", "--epochs", "1", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "--data-dir" in err and "root=" not in err.split("(from Python")[0]


def _options(command):
    sub = next(a for a in _parser(command)._actions if isinstance(a, argparse._SubParsersAction))
    parser = sub.choices[command]
    return parser, [a for a in parser._actions if a.option_strings and a.dest != "help"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_flag_has_help_and_its_default(command):
    parser, options = _options(command)
    parser.format_help()  # the help renders
    # one of a required group ("--checkpoint or --model") has no default to show
    required = {id(a) for group in parser._mutually_exclusive_groups if group.required
                for a in group._group_actions}
    for action in options:
        assert action.help, f"{command} {action.option_strings[0]} has no help text"
        takes_value = action.nargs != 0
        if takes_value and not action.required and id(action) not in required:
            shown = " ".join(parser._get_formatter()._expand_help(action).split())
            assert "default" in shown, f"{command} {action.option_strings[0]}: no default"


def test_help_imports_no_handler():
    done = _python("import sys\nfrom accelsim.cli import main\n"
                   "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
                   "heavy = [m for m in ('torch', 'pandas', 'numpy', 'matplotlib', 'simpy') "
                   "if m in sys.modules]\n"
                   "print('HEAVY', heavy, file=sys.stderr)")
    assert "HEAVY []" in done.stderr, done.stderr[-500:]


@pytest.mark.parametrize("text", ["1Mb", "512kb", "2Gb", "64Kib"])
def test_bit_units_are_refused_not_read_as_bytes(text):
    with pytest.raises(ConfigError, match="bits"):
        parse_size(text)


def test_bit_units_are_refused_through_the_cli(tmp_path, capsys):
    code = main(["simulate", str(SAMPLE_TRACE), "--set", "weight_sram.capacity_bytes=1Mb",
                 "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2 and "1Mb" in err and "bits" in err
    assert parse_size("1MB") == parse_size("1MiB") == 2 ** 20


def test_ratios_print_a_dash_where_there_is_nothing_to_compare():
    assert format_ratio(0, 5) == "—"
    assert format_ratio(0, 0) == "—"
    assert format_ratio(5, 0) == "∞"
    assert format_ratio(3, 2) == "1.50×"
    assert format_ratio(38567.02, 1) == "38,567×"


def test_sweep_console_table_has_units_and_ratios(tmp_path, capsys):
    code = main(["sweep", str(SAMPLE_TRACE), "--sram-sizes", "16KiB,256KiB", "--jobs", "1",
                 "--out", str(tmp_path / "sw")])
    out = capsys.readouterr().out
    assert code == 0
    header = out.splitlines()[0]
    for column in ("DRAM dense", "DRAM DropBack", "DRAM ratio", "energy ratio", "cycles ratio"):
        assert column in header
    assert ("KiB" in out and "×" in out and "mJ" in out) or "µJ" in out


def test_progress_is_a_line_per_stage_off_a_terminal(tmp_path):
    done = subprocess.run([sys.executable, "-m", "accelsim.cli", "simulate", str(SAMPLE_TRACE),
                           "--out", str(tmp_path / "s")], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("[1/2] simulating") and lines[1].startswith("[2/2] writing")
    quiet = subprocess.run([sys.executable, "-m", "accelsim.cli", "simulate", str(SAMPLE_TRACE),
                            "--quiet", "--out", str(tmp_path / "q")], capture_output=True,
                           text=True, cwd=ROOT, timeout=300)
    assert quiet.returncode == 0 and quiet.stdout == ""


def test_digits_ship_with_the_package_and_need_no_scikit_learn():
    done = _python("import sys\nfrom accelsim.train.data import load_dataset\n"
                   "d = load_dataset('digits')\n"
                   "print(len(d.train_x), len(d.test_x), 'sklearn' in sys.modules)")
    assert done.stdout.split() == ["1442", "355", "False"], done.stderr[-500:]


def test_shipped_digits_equal_scikit_learns_copy():
    """The file was converted once from scikit-learn's digits.csv.gz: value for value."""
    sklearn_data = pytest.importorskip("sklearn.datasets")
    from accelsim.train.data import _load_digits_raw

    pixels, labels = _load_digits_raw()
    reference = sklearn_data.load_digits()
    np.testing.assert_array_equal(pixels, reference.data)
    np.testing.assert_array_equal(labels, reference.target)


def test_pyproject_needs_no_scikit_learn():
    text = (ROOT / "pyproject.toml").read_text()
    dependencies = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    assert "scikit-learn" not in dependencies and "numpy" in dependencies
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert isinstance(pd.__version__, str)
