"""Output that survives a kill: files and folders replaced whole, leftovers cleaned, strict JSON.

Files. `atomic_path` yields a temporary file `.NAME.accelsim-tmp.PID.RANDOM` beside the target
and renames it onto the target when the block succeeds: at every instant the name holds the
whole old file or the whole new one.

Folders. `replacing_folder(path)` yields an empty staging folder `.NAME.accelsim-new.PID.RANDOM`
beside `path`; when the block succeeds the staging folder takes the place of `path`:
- `path` absent: one rename puts the finished folder in place (atomic on every POSIX system);
- `path` present, on Linux (renameat2 with RENAME_EXCHANGE: kernel 3.15+, on ext4, xfs, btrfs,
  tmpfs, overlayfs and most local filesystems): the two folders trade names in one system
  call, so at every instant `path` is the whole old folder or the whole new one; the old one,
  left under the staging name, is then removed;
- elsewhere (other systems, or a filesystem that refuses the exchange, as some network and
  FUSE ones do; `ACCELSIM_SWAP=rename` forces it): a journal `.NAME.accelsim-swap` names both
  folders, then two renames move the old folder aside and the new one in. A kill between the
  two leaves `path` absent until the next accelsim command that writes it (or `recover(path)`)
  reads the journal and finishes the swap (or rolls it back, if the new folder never moved).

Clean-up. Every temporary carries its writer's pid. `clean_stale(folder)` finishes interrupted
swaps and removes the temporaries whose writer is no longer alive; commands call it on the
folder they write into, so a later run (a `--resume` too) leaves no leftovers. Limits: a
temporary whose pid was reused by a live process stays until that process ends; writers on
another machine (a shared network filesystem) or in another pid namespace look dead, so never
write one output path from two machines at once. Nothing is fsynced: a killed process loses
nothing (its writes are in the kernel), a power cut can.

JSON. `json_text` is the one serializer for every JSON file and `--json` printout: NaN and
infinities become null, so the output is always valid JSON (`allow_nan=False` enforces it).

Test hook (inert by default): with `ACCELSIM_TEST_KILL_AT=N` in the environment the process
sends itself SIGKILL at its N-th write step, a point between the operations above (`0` only
counts the steps, in `steps_taken()`). The kill tests use it to stop a command at every step.

A full disk. A file write that fails for want of space (ENOSPC, EDQUOT, EFBIG) ends in one
line naming the file, and the file's previous version stays in place (the rename never
happens). Test hook: with `ACCELSIM_TEST_DISK_FULL=NAME`, every atomic write of a file called
NAME fails that way after writing half its bytes.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import json
import math
import os
import re
import shutil
import signal
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from accelsim.errors import AccelsimError

KILL_AT_ENV = "ACCELSIM_TEST_KILL_AT"
DISK_FULL_ENV = "ACCELSIM_TEST_DISK_FULL"  # a file name whose atomic writes fail as on a full disk
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
SWAP_ENV = "ACCELSIM_SWAP"  # "rename": the journaled two-rename swap, even where exchange works

# .NAME.accelsim-KIND.PID.RANDOM; mkstemp/mkdtemp's random part has no dots
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.accelsim-(?P<kind>tmp|new|old)\.(?P<pid>\d+)\.[^.]+$")
_JOURNAL_SUFFIX = ".accelsim-swap"

_steps_taken = 0


def kill_point():
    """A write step; the test hook may end the process here (see the module docstring)."""
    global _steps_taken
    at = os.environ.get(KILL_AT_ENV)
    if not at:
        return
    _steps_taken += 1
    if _steps_taken == int(at):
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def steps_taken() -> int:
    return _steps_taken


# -- JSON --------------------------------------------------------------------------------------

def finite(value):
    """`value` with every NaN or infinity replaced by None and numpy scalars made plain."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def json_text(obj, *, indent=2, sort_keys=False) -> str:
    """Strict JSON of `obj` (non-finite numbers as null); the one serializer of accelsim."""
    return json.dumps(finite(obj), indent=indent, sort_keys=sort_keys, allow_nan=False)


# -- files -------------------------------------------------------------------------------------

def shareable(path):
    """Give a file or folder made by mkstemp/mkdtemp (owner-only) the usual umask-based mode."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~umask)


def _temp_prefix(path: Path, kind: str) -> str:
    return f".{path.name}.accelsim-{kind}.{os.getpid()}."


@contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's folder; rename it onto `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path, "tmp"), dir=path.parent)
    os.close(fd)
    try:
        kill_point()
        yield Path(tmp)
        _disk_full_point(Path(tmp), path)
        shareable(tmp)
        kill_point()
        os.replace(tmp, path)
        kill_point()
    except OSError as exc:
        if exc.errno not in _NO_SPACE:
            raise
        kept = "its previous version is kept" if path.exists() else "nothing was written"
        raise AccelsimError(f"{path}: cannot write, {os.strerror(exc.errno)} ({kept}); free "
                            "some space and run the command again") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _disk_full_point(tmp: Path, path: Path):
    """The disk-full test hook (see the module docstring)."""
    if os.environ.get(DISK_FULL_ENV) == path.name:
        size = tmp.stat().st_size
        with open(tmp, "r+b") as f:
            f.truncate(size // 2)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))


def write_bytes_atomic(path, data: bytes | memoryview):
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_stream_atomic(path, write):
    """Atomically write the bytes that `write(stream)` puts into a binary stream: through
    memory, so a failing write is an OSError of our own (a library writing to the path itself,
    as torch.save does, reports a full disk as its own RuntimeError)."""
    buffer = io.BytesIO()
    write(buffer)
    write_bytes_atomic(path, buffer.getbuffer())


def write_text_atomic(path, text: str):
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path, obj):
    write_text_atomic(path, json_text(obj, sort_keys=True) + "\n")


# -- folders -----------------------------------------------------------------------------------

@contextmanager
def replacing_folder(path, *, check=None, copy_current=False):
    """Yield an empty staging folder that replaces the folder `path` when the block succeeds.

    check(path): called on an existing `path` before the work and again before the swap; it
    raises to refuse replacing a folder that is not of the expected kind (a user's --out typo
    must never swap away their files). copy_current: start the staging folder as a copy of
    `path` (hard links, so it costs no space), for commands that add files to a results folder.
    """
    path = Path(os.path.abspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path.parent, only=path.name)
    if os.path.lexists(path):
        _check_replaceable(path, check)
    stage = Path(tempfile.mkdtemp(prefix=_temp_prefix(path, "new"), dir=path.parent))
    try:
        shareable(stage)  # mkdtemp is owner-only; results are meant to be shared
        if copy_current and path.is_dir():
            link_tree(path, stage)
        kill_point()
        yield stage
        kill_point()
        _swap_in(stage, path, check)
        kill_point()
    finally:
        # after an error: the unfinished staging folder; after an exchange: the old folder
        if os.path.lexists(stage):
            _remove(stage)


def link_tree(source: Path, target: Path):
    """Copy the folder `source` into the existing folder `target` as hard links (plain copies
    where links are refused), leaving out accelsim's temporaries. Every accelsim writer replaces
    files by rename, never in place, so a linked file is never changed under the other name."""
    for entry in os.scandir(source):
        if _TEMP_NAME.match(entry.name) or entry.name.endswith(_JOURNAL_SUFFIX):
            continue
        dest = target / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), dest)
        elif entry.is_dir():
            dest.mkdir()
            shutil.copymode(entry.path, dest)
            link_tree(Path(entry.path), dest)
        else:
            try:
                os.link(entry.path, dest)
            except OSError:
                shutil.copy2(entry.path, dest)


def _check_replaceable(path: Path, check):
    empty_folder = path.is_dir() and not any(path.iterdir())
    if check is not None and not empty_folder:
        check(path)  # names the kind of folder expected
    if not path.is_dir() or path.is_symlink():
        raise AccelsimError(f"{path}: exists and is not a folder accelsim wrote; choose another "
                            "--out or remove it")


def _swap_in(stage: Path, path: Path, check):
    if not os.path.lexists(path):
        os.rename(stage, path)
        return
    _check_replaceable(path, check)
    if _exchange(stage, path):
        return
    _journaled_swap(stage, path)


_renameat2: Any = None  # libc.renameat2 once looked up; False where it is missing


def _exchange(a: Path, b: Path) -> bool:
    """Trade the names of `a` and `b` in one step; False where this system cannot."""
    global _renameat2
    if os.environ.get(SWAP_ENV) == "rename" or not sys.platform.startswith("linux"):
        return False
    if _renameat2 is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            _renameat2 = libc.renameat2  # glibc 2.28+
            _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                   ctypes.c_uint]
        except (OSError, AttributeError):
            _renameat2 = False
    if not _renameat2:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if _renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # the filesystem cannot exchange: fall back to the journal
    raise OSError(err, os.strerror(err), str(b))


def _journal(path: Path) -> Path:
    return path.parent / f".{path.name}{_JOURNAL_SUFFIX}"


def _journaled_swap(stage: Path, path: Path):
    old = path.parent / (_temp_prefix(path, "old") + stage.name.rsplit(".", 1)[1])
    write_text_atomic(_journal(path), json_text({"pid": os.getpid(), "new": stage.name,
                                                 "old": old.name}) + "\n")
    os.rename(path, old)
    kill_point()  # the moment the journal exists for: `path` is absent
    os.rename(stage, path)
    kill_point()
    os.unlink(_journal(path))
    kill_point()
    _remove(old)


def recover(path):
    """Finish (or roll back) an interrupted journaled swap of `path`, if there is one."""
    path = Path(os.path.abspath(path))
    journal = _journal(path)
    try:
        entry = json.loads(journal.read_text(encoding="utf-8"))
        pid, names = int(entry["pid"]), (entry["new"], entry["old"])
    except FileNotFoundError:
        return
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        journal.unlink(missing_ok=True)  # not one of ours: the journal is written atomically
        return
    if _alive(pid):
        return  # that swap is still under way
    new, old = (path.parent / n for n in names)
    if all(_is_temp_of(n, path.name) for n in names) and not os.path.lexists(path):
        # killed between the renames: the new folder is whole, finish; else put the old back
        if os.path.isdir(new):
            os.rename(new, path)
        elif os.path.isdir(old):
            os.rename(old, path)
    journal.unlink(missing_ok=True)
    # whichever folder is left over is stale now; clean_stale removes it


def clean_stale(folder, only: str | None = None):
    """Finish interrupted swaps in `folder`, then remove the temporaries of dead writers
    (those of the output named `only`, or all)."""
    folder = Path(folder)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        if name.endswith(_JOURNAL_SUFFIX) and name.startswith("."):
            target = name[1:-len(_JOURNAL_SUFFIX)]
            if only is None or target == only:
                recover(folder / target)
    # the output's own temporaries, and those of its swap journal
    targets = None if only is None else (only, f".{only}{_JOURNAL_SUFFIX}")
    for name in names:
        match = _TEMP_NAME.match(name)
        if (match and (targets is None or match["target"] in targets)
                and not _alive(int(match["pid"]))
                and not os.path.lexists(_journal(folder / match["target"]))):
            _remove(folder / name)


def is_temporary(name: str) -> bool:
    """Whether `name` is one of accelsim's temporaries or swap journals (see the docstring)."""
    return bool(_TEMP_NAME.match(name)) or (name.startswith(".")
                                            and name.endswith(_JOURNAL_SUFFIX))


def _is_temp_of(name: str, target: str) -> bool:
    match = _TEMP_NAME.match(name)
    return match is not None and match["target"] == target


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    with contextlib.suppress(OSError, IndexError):
        # a killed process not yet reaped by its parent is a zombie: dead for our purposes
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _remove(path: Path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
