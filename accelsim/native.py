"""Building accelsim's optional C parts with the system compiler, once, into a cache.

`load(name, source, flags)` compiles `source` into a shared library named after a hash of the
source, the flags and the CPU (so an edited source or another machine builds its own) under
ACCELSIM_CACHE or ~/.cache/accelsim, and loads it with ctypes. It returns None without a C
compiler (CC, cc or gcc) or on any failure: each caller says what it does then.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["load"]

_loaded: dict[str, ctypes.CDLL | None] = {}


def _cache_dir() -> Path:
    root = os.environ.get("ACCELSIM_CACHE") or Path.home() / ".cache" / "accelsim"
    return Path(root) / "native"


def _cpu_token() -> str:
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), "")
    except OSError:
        flags = ""
    return platform.machine() + flags


def _compile(source: str, flags: tuple[str, ...], target: Path) -> bool:
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        source_path = Path(work) / (target.stem + ".c")
        source_path.write_text(source)
        built = Path(work) / target.name
        result = subprocess.run([compiler, *flags, "-o", str(built), str(source_path), "-lm"],
                                capture_output=True, timeout=120, check=False)
        if result.returncode != 0:
            return False
        os.replace(built, target)  # atomic: a concurrent process sees all of it or none
    return True


def load(name: str, source: str, flags: tuple[str, ...]) -> ctypes.CDLL | None:
    """The compiled `source` (ctypes.CDLL), or None where it cannot be built; once per process."""
    digest = hashlib.sha256("|".join([source, *flags, _cpu_token()]).encode()).hexdigest()
    key = f"{name}-{digest[:16]}"
    if key in _loaded:
        return _loaded[key]
    target = _cache_dir() / f"{key}.so"
    lib = None
    try:
        if target.exists() or _compile(source, flags, target):
            lib = ctypes.CDLL(str(target))
    except (OSError, subprocess.SubprocessError):
        lib = None
    _loaded[key] = lib
    return lib
