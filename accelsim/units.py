"""Sizes as people write them: `64KiB`, `1MiB`, `512KB`, `4096`, and ranges `64KiB..32MiB x2`.

KB/MB/GB and KiB/MiB/GiB all mean powers of 1024 here, as on-chip memories are sized
(SCALE-Sim's "KB" is 1024 words too)."""

from __future__ import annotations

import re

from accelsim.errors import ConfigError

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024 ** 2, "mb": 1024 ** 2,
          "mib": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3, "gib": 1024 ** 3}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text, what="size") -> int:
    """`64KiB` -> 65536 bytes; plain integers are bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _SIZE.match(str(text))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        raise ConfigError(f"{what} {text!r}: expected a size such as 4096, 64KiB, 1MiB or 2GiB")
    value = float(match.group(1)) * _UNITS[unit]
    if value != int(value):
        raise ConfigError(f"{what} {text!r}: not a whole number of bytes")
    return int(value)


def parse_size_list(text, what="--sram-sizes") -> list[int]:
    """`64KiB,256KiB,1MiB` or `64KiB..32MiB x2` (geometric, both ends included)."""
    text = str(text).strip()
    if ".." in text:
        match = re.match(r"^(.+?)\.\.(.+?)\s*[xX*]\s*(\d+(?:\.\d+)?)$", text)
        if not match:
            raise ConfigError(f"{what} {text!r}: a range reads START..STOP xFACTOR, "
                              "e.g. 64KiB..32MiB x2")
        start, stop = parse_size(match.group(1), what), parse_size(match.group(2), what)
        factor = float(match.group(3))
        if factor <= 1 or start <= 0 or stop < start:
            raise ConfigError(f"{what} {text!r}: need 0 < START <= STOP and FACTOR > 1")
        sizes, size = [], float(start)
        while size <= stop * (1 + 1e-9):
            sizes.append(int(round(size)))
            size *= factor
        return sizes
    sizes = [parse_size(part, what) for part in text.split(",") if part.strip()]
    if not sizes:
        raise ConfigError(f"{what} {text!r}: no sizes given")
    return sizes


def format_bytes(n: float) -> str:
    for unit, scale in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if abs(n) >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.2f} {unit}"
    return f"{int(n)} B"
