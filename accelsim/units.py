"""Sizes as people write them: `64KiB`, `1MiB`, `512KB`, `4096`, and ranges `64KiB..32MiB x2`.

KB/MB/GB and KiB/MiB/GiB all mean powers of 1024 here, as on-chip memories are sized
(SCALE-Sim's "KB" is 1024 words too). A lower-case b after a prefix (`1Mb`, `512kb`) is a bit
in the usual spelling, so it is refused rather than read as bytes, 8x too large. This is the
one parser of sizes: configs, `--set` and the sweep flags all come here."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from accelsim.errors import ConfigError
from accelsim.limits import MAX_BYTES, MAX_SWEEP_POINTS, shown

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024 ** 2, "mb": 1024 ** 2,
          "mib": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3, "gib": 1024 ** 3}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: object, what: str = "size") -> int:
    """`64KiB` -> 65536 bytes; plain integers are bytes. At most `limits.MAX_BYTES`."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = _SIZE.match(str(text)) if len(str(text)) <= 64 else None
        if match and len(match.group(2)) > 1 and match.group(2).endswith("b"):
            raise ConfigError(f"{what} {shown(text)}: expected a size in bytes (B: 1MiB or "
                              f"1MB), got {match.group(2)!r}, which reads as bits")
        unit = match.group(2).lower() if match else None
        if not match or unit not in _UNITS:
            raise ConfigError(f"{what} {shown(text)}: expected a size such as 4096, 64KiB, "
                              "1MiB or 2GiB")
        # exact arithmetic: a float of 400 digits is inf, and inf has no whole bytes
        whole, _, fraction = match.group(1).partition(".")
        scale = _UNITS[unit]
        value = int(whole) * scale + int(fraction or 0) * scale // 10 ** len(fraction)
        if fraction and int(fraction) * scale % 10 ** len(fraction):
            raise ConfigError(f"{what} {shown(text)}: expected a whole number of bytes")
    if not 0 <= value <= MAX_BYTES:
        raise ConfigError(f"{what} {shown(text)}: expected a size from 0 to {MAX_BYTES:,} bytes "
                          "(1 PiB)")
    return value


def parse_size_list(text: object, what: str = "--sram-sizes") -> list[int]:
    """`64KiB,256KiB,1MiB` or `64KiB..32MiB x2` (geometric, both ends included); at most
    `limits.MAX_SWEEP_POINTS` sizes."""
    text = str(text).strip()
    if ".." in text:
        match = re.match(r"^(.+?)\.\.(.+?)\s*[xX*]\s*(\d{1,20}(?:\.\d{1,20})?)$", text)
        if not match:
            raise ConfigError(f"{what} {shown(text)}: expected START..STOP xFACTOR, "
                              "e.g. 64KiB..32MiB x2")
        start, stop = parse_size(match.group(1), what), parse_size(match.group(2), what)
        factor = float(match.group(3))
        if factor <= 1 or start <= 0 or stop < start:
            raise ConfigError(f"{what} {shown(text)}: expected 0 < START <= STOP and FACTOR > 1")
        # count before building: a factor of 1.0000000001 means billions of points
        points = math.floor(math.log(stop / start) / math.log(factor) + 1e-9) + 1
        if points > MAX_SWEEP_POINTS:
            raise ConfigError(f"{what} {shown(text)}: expected at most {MAX_SWEEP_POINTS:,} "
                              f"sizes, got {points:,}")
        sizes, size = [], float(start)
        while size <= stop * (1 + 1e-9):
            sizes.append(round(size))
            size *= factor
        return sizes
    parts = text.split(",")
    if len(parts) > MAX_SWEEP_POINTS:
        raise ConfigError(f"{what}: expected at most {MAX_SWEEP_POINTS:,} sizes, "
                          f"got {len(parts):,}")
    sizes = [parse_size(part, what) for part in parts if part.strip()]
    if not sizes:
        raise ConfigError(f"{what} {shown(text)}: expected at least one size, got no sizes")
    return sizes


def format_bytes(n: float) -> str:
    for unit, scale in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if abs(n) >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.2f} {unit}"
    return f"{int(n)} B"


_ENERGY_UNITS = ((1e12, "J"), (1e9, "mJ"), (1e6, "µJ"), (1e3, "nJ"))


def energy_scale(values: Iterable[float]) -> tuple[float, str]:
    """The divisor and unit (pJ .. J) that suit the largest of `values`, in pJ."""
    finite = [abs(float(v)) for v in values if not math.isnan(float(v))]
    top = max(finite, default=0.0)
    for scale, unit in _ENERGY_UNITS:
        if top >= scale:
            return scale, unit
    return 1.0, "pJ"


def format_energy(pj: float) -> str:
    """`1.23e9` pJ -> `1.23 mJ`."""
    scale, unit = energy_scale([pj])
    return f"{pj / scale:.3g} {unit}"


def format_ratio(numerator: float, denominator: float) -> str:
    """`numerator / denominator` as `2.35×`; "—" where there is nothing to compare (either
    side zero or not a number: 0/x is no saving to speak of, not 0.00×) and "∞" for x/0."""
    numerator, denominator = float(numerator), float(denominator)
    if math.isnan(numerator) or math.isnan(denominator) or numerator == 0:
        return "—"
    if denominator == 0:
        return "∞"
    ratio = numerator / denominator
    if abs(ratio) >= 100:
        return f"{ratio:,.0f}×"
    return f"{ratio:.2f}×" if abs(ratio) >= 0.01 else f"{ratio:.2g}×"
