"""accelsim's C libraries (`build.LIBRARIES`: the DRAM controller, the fused DropBack step).

`load(name)` returns the library as a ctypes.CDLL:

1. the extension `setup.py` compiled at install (accelsim/native/_NAME*.so), if the digest of
   sources and flags baked into it equals the digest of the sources here (an edited source
   makes an installed build stale, and it is not used);
2. else (a source tree that was never installed, or a stale build) compiled now with the
   system compiler (CC, else cc or gcc) into a private cache (ACCELSIM_CACHE or
   ~/.cache/accelsim, folder native/), and used from there only if the folder and files are
   this user's, writable by nobody else, and a record beside the library names the digest of
   its sources and flags and the sha256 of its bytes, both as expected. Anything else there is
   refused, not loaded: a shared object runs code the moment it is loaded.

It raises `NativeError` (one line; a failing compiler's own messages included) where the
library cannot be built or a cached one fails those checks.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import os
import platform
import shlex
import shutil
import stat
import subprocess
import tempfile
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from accelsim.errors import AccelsimError
from accelsim.native import build

__all__ = ["NativeError", "check_layout", "load"]

_loaded: dict[str, ctypes.CDLL] = {}
_COMPILE_TIMEOUT_S = 300


class NativeError(AccelsimError):
    """A C library could not be built, or a cached one is not trusted."""


def _digest_function(lib: ctypes.CDLL, name: str):
    function = getattr(lib, ("ctl" if name == "dram_controller" else "fused")
                       + "_build_digest")
    function.restype = ctypes.c_char_p
    function.argtypes = []
    return function


def _installed(name: str) -> ctypes.CDLL | None:
    for suffix in EXTENSION_SUFFIXES:
        path = build.HERE / f"_{name}{suffix}"
        if path.is_file():
            lib = ctypes.CDLL(str(path))
            if _digest_function(lib, name)().decode() == build.digest(name):
                return lib
    return None


def cache_dir() -> Path:
    root = os.environ.get("ACCELSIM_CACHE") or Path.home() / ".cache" / "accelsim"
    return Path(root) / "native"


def _cpu_token() -> str:
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), "")
    except OSError:
        flags = ""
    return platform.machine() + flags


def _private(path: Path) -> str | None:
    """Why `path` may not be trusted (owner, mode), or None."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if info.st_uid != os.getuid():
        return f"is owned by uid {info.st_uid}, not this user ({os.getuid()})"
    if info.st_mode & 0o022:
        return f"is writable by others (mode {stat.filemode(info.st_mode)})"
    return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _compiler() -> list[str]:
    named = os.environ.get("CC")
    command = shlex.split(named) if named else []
    if command:
        found = shutil.which(command[0])
        if found is None:
            raise NativeError(f"CC={named!r}: no such compiler")
        return [found, *command[1:]]
    found = shutil.which("cc") or shutil.which("gcc")
    if found is None:
        raise NativeError("no C compiler found (set CC, or install cc or gcc)")
    return [found]


def _compile(name: str, expected: str, target: Path) -> None:
    library = build.LIBRARIES[name]
    macro, value = build.digest_macro(name)
    compiler = _compiler()
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        built = Path(work) / target.name
        command = [*compiler, *library.flags, "-shared", "-fPIC", f"-D{macro}={value}",
                   "-o", str(built), *(str(build.HERE / f) for f in library.sources), "-lm"]
        try:
            result = subprocess.run(command, capture_output=True, text=True,
                                    timeout=_COMPILE_TIMEOUT_S, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise NativeError(f"building the {name} library with {compiler[0]}: {exc}") from None
        if result.returncode != 0:
            said = [line.strip() for line in (result.stderr or result.stdout).splitlines()
                    if line.strip()]
            raise NativeError(f"building the {name} library: {compiler[0]} exited with "
                              f"{result.returncode}: {' | '.join(said[-6:]) or 'no message'}")
        built.chmod(0o700)
        record = Path(work) / "record.json"
        record.write_text(json.dumps({"digest": expected, "sha256": _sha256(built)}))
        os.replace(built, target)  # each atomic: a reader sees all of a file or none
        os.replace(record, target.with_suffix(".json"))


def _trusted(target: Path, expected: str) -> str | None:
    """Why the cached `target` may not be loaded, or None."""
    record_path = target.with_suffix(".json")
    for path in (target.parent, target, record_path):
        if not path.exists():
            return f"{path.name} is missing"
        why = _private(path)
        if why:
            return f"{path} {why}"
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return f"{record_path} is not a build record"
    if not isinstance(record, dict) or record.get("digest") != expected:
        return f"{record_path} records other sources or flags"
    if record.get("sha256") != _sha256(target):
        return f"{target} is not the library its record names (sha256 differs)"
    return None


def _cached(name: str) -> ctypes.CDLL:
    expected = hashlib.sha256((build.digest(name) + _cpu_token()).encode()).hexdigest()
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    why = _private(folder)
    if why:
        raise NativeError(f"{folder} {why}: refusing to build or load C libraries there "
                          "(set ACCELSIM_CACHE to a private folder)")
    target = folder / f"{name}-{expected[:16]}.so"
    with open(folder / ".lock", "a") as lock:  # one process builds, the others wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists() and not target.with_suffix(".json").exists():
            _compile(name, expected, target)
        why = _trusted(target, expected)
        if why:
            raise NativeError(f"refusing to load {target}: {why} (delete it to rebuild)")
        return ctypes.CDLL(str(target))


def load(name: str) -> ctypes.CDLL:
    """The library `name` of `build.LIBRARIES` (once per process); see the module docstring."""
    if name not in _loaded:
        lib = _installed(name)
        if lib is None:
            lib = _cached(name)
            if _digest_function(lib, name)().decode() != build.digest(name):
                raise NativeError(f"the cached {name} library reports other sources")
        _loaded[name] = lib
    return _loaded[name]


def check_layout(library_name: str, structure, fields: list[tuple[str, int]],
                 size: int) -> None:
    """Raise NativeError unless ctypes `structure` has exactly the C side's `fields` ((name,
    byte offset) in order) and `size`: a struct declared twice must agree to the byte."""
    ours = [(name, getattr(structure, name).offset) for name, _ in structure._fields_]
    if ours != fields or ctypes.sizeof(structure) != size:
        first = next((f"field {i}: C has {c}, Python has {p}" for i, (c, p)
                      in enumerate(zip(fields + [None] * len(ours), ours + [None] * len(fields)))
                      if c != p), f"size: C {size} bytes, Python {ctypes.sizeof(structure)}")
        raise NativeError(f"the {library_name} library and its Python declaration "
                          f"{structure.__name__} disagree ({first}): rebuild it "
                          "(pip install -e .) or fix the declaration")
