"""accelsim.io on its own: strict JSON, the folder swap (exchange and journaled), recovery of
an interrupted swap, and clean-up that spares live writers."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from accelsim import io
from accelsim.errors import AccelsimError


def test_json_text_maps_non_finite_numbers_to_null():
    text = io.json_text({"a": math.nan, "b": [np.float64("inf"), -math.inf, 1.5],
                         "c": np.int64(3), "d": (np.bool_(True), None)})
    assert json.loads(text) == {"a": None, "b": [None, None, 1.5], "c": 3, "d": [True, None]}
    assert "NaN" not in text and "Infinity" not in text


def test_write_json_atomic_keeps_finite_bytes(tmp_path):
    obj = {"z": 0.1, "a": [1, 2.5e-300], "m": {"k": "v"}}
    io.write_json_atomic(tmp_path / "x.json", obj)
    assert (tmp_path / "x.json").read_text() == json.dumps(obj, indent=2, sort_keys=True) + "\n"


def _folder(path, text):
    path.mkdir(parents=True)
    (path / "content.txt").write_text(text)


@pytest.mark.parametrize("swap", ["exchange", "rename"])
def test_replacing_folder_swaps_whole_folders(tmp_path, monkeypatch, swap):
    if swap == "rename":
        monkeypatch.setenv(io.SWAP_ENV, "rename")
    _folder(tmp_path / "out", "old")
    with io.replacing_folder(tmp_path / "out") as stage:
        assert (tmp_path / "out" / "content.txt").read_text() == "old"  # untouched meanwhile
        (stage / "content.txt").write_text("new")
    assert (tmp_path / "out" / "content.txt").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_failed_block_leaves_the_old_folder(tmp_path):
    _folder(tmp_path / "out", "old")
    with pytest.raises(RuntimeError), io.replacing_folder(tmp_path / "out") as stage:
        (stage / "content.txt").write_text("half")
        raise RuntimeError
    assert (tmp_path / "out" / "content.txt").read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_copy_current_links_and_never_changes_the_old_files(tmp_path):
    _folder(tmp_path / "out", "old")
    with io.replacing_folder(tmp_path / "out", copy_current=True) as stage:
        io.write_text_atomic(stage / "content.txt", "new")  # replaced by rename, not in place
        assert (tmp_path / "out" / "content.txt").read_text() == "old"
        (stage / "added.txt").write_text("x")
    assert (tmp_path / "out" / "content.txt").read_text() == "new"
    assert (tmp_path / "out" / "added.txt").exists()


def test_check_refuses_a_foreign_folder(tmp_path):
    _folder(tmp_path / "out", "mine")

    def check(path):
        raise AccelsimError(f"{path}: not ours")

    with pytest.raises(AccelsimError, match="not ours"), io.replacing_folder(tmp_path / "out",
                                                                            check=check):
        pass
    assert (tmp_path / "out" / "content.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(AccelsimError, match="not a folder"), io.replacing_folder(tmp_path / "file"):
        pass


def _dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(child.stdout)


@pytest.mark.parametrize("moment", ["before-renames", "between-renames", "after-renames"])
def test_recover_finishes_or_rolls_back_a_journaled_swap(tmp_path, moment):
    pid = _dead_pid()
    new, old = f".out.accelsim-new.{pid}.abc", f".out.accelsim-old.{pid}.abc"
    (tmp_path / f".out{io._JOURNAL_SUFFIX}").write_text(
        json.dumps({"pid": pid, "new": new, "old": old}))
    if moment == "before-renames":
        _folder(tmp_path / "out", "old")
        _folder(tmp_path / new, "new")
        expected = "old"  # rolled back: the swap never started
    elif moment == "between-renames":
        _folder(tmp_path / old, "old")
        _folder(tmp_path / new, "new")
        expected = "new"  # finished: the new folder is whole
    else:
        _folder(tmp_path / old, "old")
        _folder(tmp_path / "out", "new")
        expected = "new"
    io.clean_stale(tmp_path)
    assert (tmp_path / "out" / "content.txt").read_text() == expected
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_clean_stale_spares_live_writers(tmp_path):
    live = tmp_path / f".x.accelsim-tmp.{os.getppid()}.abc"
    dead = tmp_path / f".x.accelsim-tmp.{_dead_pid()}.abc"
    foreign = tmp_path / ".x.something-else"
    for path in (live, dead, foreign):
        path.write_text("")
    io.clean_stale(tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, foreign.name])


def test_kill_hook_is_inert_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv(io.KILL_AT_ENV, raising=False)
    before = io.steps_taken()
    io.write_text_atomic(tmp_path / "a", "x")
    assert io.steps_taken() == before


def test_a_full_disk_keeps_the_previous_file_and_says_so_in_one_line(tmp_path, monkeypatch):
    from accelsim.io import DISK_FULL_ENV, write_bytes_atomic

    target = tmp_path / "checkpoint.sparse"
    write_bytes_atomic(target, b"old whole file")
    monkeypatch.setenv(DISK_FULL_ENV, "checkpoint.sparse")
    with pytest.raises(AccelsimError, match="checkpoint.sparse: cannot write, No space left "
                                            r"on device \(its previous version is kept\)"):
        write_bytes_atomic(target, b"new file " * 1000)
    assert target.read_bytes() == b"old whole file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.sparse"]  # no temporary
    write_bytes_atomic(tmp_path / "other.json", b"{}")  # other names are written as usual
    assert (tmp_path / "other.json").read_bytes() == b"{}"


def test_a_stream_writer_failing_for_space_is_one_line_too(tmp_path, monkeypatch):
    # torch.save into a file of its own reports a full disk as a RuntimeError; through memory
    # the failing write is ours, an OSError turned into one line
    import errno

    from accelsim.io import write_stream_atomic

    real_write_bytes = Path.write_bytes

    def full(self, data):
        real_write_bytes(self, bytes(data)[:3])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(AccelsimError, match=r"resume\.pt: cannot write.*nothing was written"):
        write_stream_atomic(tmp_path / "resume.pt", lambda stream: stream.write(b"state"))
    assert list(tmp_path.iterdir()) == []
