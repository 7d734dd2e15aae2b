"""The one rule for --out (accelsim.output_folder): absent, empty or accelsim's own output of
the same kind; a user's folder, a symlink to one, another kind or a file refused in one line;
--force writes beside the user's files; and every command that writes a folder asks it."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from accelsim import output_folder
from accelsim.cli import main
from accelsim.errors import AccelsimError


def _mine(tmp_path) -> Path:
    mine = tmp_path / "mine"
    mine.mkdir(parents=True)
    (mine / "report.md").write_text("# my own report\n")
    return mine


def test_absent_and_empty_folders_may_be_written(tmp_path):
    assert output_folder.check(tmp_path / "new", "run") == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    output_folder.claim(tmp_path / "empty", "report")
    assert output_folder.kind_of(tmp_path / "empty") == "report"
    output_folder.check(tmp_path / "empty", "report")  # its own kind, next time


@pytest.mark.parametrize("kind", sorted(output_folder.DEFINING_FILES))
def test_a_users_folder_is_refused_for_every_kind(tmp_path, kind):
    mine = _mine(tmp_path)
    with pytest.raises(AccelsimError, match="holds files accelsim did not write") as error:
        output_folder.claim(mine, kind, force=False)
    assert "\n" not in str(error.value)
    assert sorted(p.name for p in mine.iterdir()) == ["report.md"]  # no marker slipped in


def test_another_kind_and_a_file_are_refused(tmp_path):
    trace = tmp_path / "trace"
    trace.mkdir()
    (trace / "manifest.json").write_text("{}")
    with pytest.raises(AccelsimError, match="holds a trace folder, not a training run folder"):
        output_folder.check(trace, "run", force=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(AccelsimError, match="is not a folder"):
        output_folder.check(tmp_path / "file", "run", force=True)


def test_a_symlink_is_judged_by_its_folder_and_never_swapped(tmp_path):
    mine = _mine(tmp_path)
    (tmp_path / "link").symlink_to(mine, target_is_directory=True)
    with pytest.raises(AccelsimError, match="a symbolic link"):
        output_folder.check(tmp_path / "link", "run", force=False)
    with pytest.raises(AccelsimError, match="symbolic link"):
        output_folder.check(tmp_path / "link", "simulation")
    run = tmp_path / "run"
    output_folder.claim(run, "run")
    (tmp_path / "latest").symlink_to(run, target_is_directory=True)
    output_folder.check(tmp_path / "latest", "run")  # runs/latest -> a run: fine


def test_force_writes_beside_the_users_files_but_never_swaps_them_away(tmp_path):
    mine = _mine(tmp_path)
    output_folder.claim(mine, "report", force=True)
    assert (mine / "report.md").read_text() == "# my own report\n"
    assert json.loads((mine / output_folder.MARKER).read_text()) == {"kind": "report"}
    other = _mine(tmp_path / "x")
    with pytest.raises(AccelsimError):  # a swapped folder would remove the user's files
        output_folder.check(other, "simulation", force=True)


def test_runs_written_before_the_marker_are_still_runs(tmp_path):
    old = tmp_path / "old-run"
    old.mkdir()
    (old / "history.csv").write_text("epoch\n")
    assert output_folder.kind_of(old) == "run"
    output_folder.check(old, "run", force=False)


def test_the_cli_refuses_before_any_work_and_changes_nothing(tmp_path, capsys):
    mine = _mine(tmp_path)
    for argv in (["train", "--epochs", "1"], ["report", str(tmp_path)],
                 ["plot", str(tmp_path)], ["study"], ["demo"],
                 ["trace", "--model", "lenet-5", "--synthetic", "--budget", "10x"]):
        assert main([*argv, "--out", str(mine), "--quiet"]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"accelsim: error: {mine}: exists") and "\n" not in err, argv
    assert sorted(p.name for p in mine.iterdir()) == ["report.md"]


def _sigint_as_at_a_terminal():
    """The child starts with SIGINT at its default, as a command typed at a terminal does: a
    suite started as a background job (`make test &`) hands its children an ignored SIGINT,
    which accelsim rightly leaves ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_while_the_command_starts_is_one_line(tmp_path):
    # a script named like the console script, interrupted after `import accelsim` (the first
    # thing it loads) and before the CLI is loaded
    script = tmp_path / "accelsim"
    script.write_text("import os, signal\nimport accelsim\nos.kill(os.getpid(), signal.SIGINT)\n"
                      "import accelsim.cli\naccelsim.cli.entry()\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                          text=True, env=env, timeout=120, preexec_fn=_sigint_as_at_a_terminal)
    assert (done.returncode, done.stderr, done.stdout) == (130, "accelsim: interrupted\n", "")


def test_the_startup_handler_is_only_for_the_command(tmp_path):
    # a library user importing accelsim keeps Python's own Ctrl-C (KeyboardInterrupt)
    code = ("import signal, accelsim, accelsim.cli\n"
            "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, preexec_fn=_sigint_as_at_a_terminal)
    assert done.stdout.strip() == "True", done.stderr
    assert signal.SIGINT  # the module under test never touched this (pytest's) process


def test_a_report_may_go_beside_its_results_but_never_over_a_users_report(tmp_path):
    holder = tmp_path / "holder"
    (holder / "sim").mkdir(parents=True)
    (holder / "sim" / "records.parquet").write_bytes(b"")
    (holder / "notes.txt").write_text("mine\n")
    output_folder.claim_report(holder, holder / "sim")  # adds report.md, replaces nothing
    (holder / output_folder.MARKER).unlink()
    (holder / "report.md").write_text("# mine\n")
    with pytest.raises(AccelsimError, match="holds"):
        output_folder.claim_report(holder, holder / "sim")
    assert (holder / "report.md").read_text() == "# mine\n"


def test_a_killed_writers_temporary_leaves_a_folder_free(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".summary.json.accelsim-tmp.999999999.abcd").write_text("half")
    output_folder.check(out, "run", force=False)
    output_folder.claim(out, "run", create=False)  # train --resume: nothing written
    assert not (out / output_folder.MARKER).exists()
