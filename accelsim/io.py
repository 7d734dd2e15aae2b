"""Atomic file output: write to a temporary file beside the target, then rename into place,
so an interrupted run never leaves a half-written file under the final name."""

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def shareable(path):
    """Give a file or folder made by mkstemp/mkdtemp (owner-only) the usual umask-based mode."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~umask)


@contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's folder; rename it onto `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        shareable(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes_atomic(path, data: bytes):
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path, text: str):
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path, obj):
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
