"""What accelsim's C libraries are built from: sources, headers and flags, and their digest.

Standard library only: `setup.py` reads it (by path, before accelsim is installed) to declare
the extensions it compiles at install, and `accelsim.native` reads it to check that a library
it finds was built from these very sources and flags.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Library:
    sources: tuple[str, ...]
    headers: tuple[str, ...]
    flags: tuple[str, ...]
    # optional: a failed build leaves it out (its caller has a path without it that gives the
    # same numbers); a required one stops the install
    optional: bool


LIBRARIES = {
    "dram_controller": Library(("dram_controller.c",), ("dram_controller.h",), ("-O3",),
                               optional=False),
    # no -ffast-math: IEEE semantics (NaN checks, exact subtraction) make it bit-equal to the
    # torch path; -march=native lets the score and reset loops use the machine's vector width
    "fused_step": Library(("fused_step.c",), (),
                          ("-O3", "-march=native", "-fno-fast-math", "-ffp-contract=off"),
                          optional=True),
}


def digest(name: str) -> str:
    """sha256 over the library's name, source and header texts, and flags (hex)."""
    library = LIBRARIES[name]
    h = hashlib.sha256(name.encode())
    for file in library.sources + library.headers:
        h.update(b"\0" + file.encode() + b"\0" + (HERE / file).read_bytes())
    h.update(b"\0" + "\0".join(library.flags).encode())
    return h.hexdigest()


def digest_macro(name: str) -> tuple[str, str]:
    """The define that bakes the digest into the library (its *_build_digest() returns it)."""
    return "ACCELSIM_BUILD_DIGEST", f'"{digest(name)}"'
