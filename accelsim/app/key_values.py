"""The one KEY=VALUE parser of the command line: `--model-arg` (model arguments) and `--set`
(config fields, one value each for `simulate`, comma-separated values for `sweep`)."""

from __future__ import annotations

import json

from accelsim.errors import ConfigError
from accelsim.limits import MAX_SWEEP_POINTS, MAX_YAML_DEPTH, shown
from accelsim.units import parse_size


def parse_key_values(items, flag: str, *, fields: bool = False, multi: bool = False) -> dict:
    """`KEY=VALUE` strings to {key: value}, a value read as JSON where it parses (numbers,
    booleans), else kept as text.

    fields: the keys are config fields (`--set`): key and value are stripped, an empty value is
    refused, and a `*_bytes` field takes a size with units (1MiB). multi: a value is a
    comma-separated list (a sweep's axis), read to a list.
    """
    usage = "FIELD=VALUE, e.g. weight_sram.capacity_bytes=1MiB" if fields else "KEY=VALUE"
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if fields:
            key, text = key.strip(), text.strip()
        if not sep or not key or (fields and not text):
            raise ConfigError(f"{flag} {shown(item)}: expected {usage}")
        if key in out:
            raise ConfigError(f"{flag} {shown(key)}: expected each key once, got it twice")
        if multi:
            values = text.split(",")
            if len(values) > MAX_SWEEP_POINTS:
                raise ConfigError(f"{flag} {shown(key)}: expected at most {MAX_SWEEP_POINTS:,} "
                                  f"values, got {len(values):,}")
            out[key] = [_read_value(flag, key, v.strip(), fields)
                        for v in values if v.strip()]
        else:
            out[key] = _read_value(flag, key, text, fields)
    return out


def _read_value(flag: str, key: str, text: str, fields: bool):
    if fields and key.endswith("_bytes"):
        return parse_size(text, f"{flag} {key}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    except (ValueError, RecursionError):  # an integer of over 4,300 digits; [[[[...]]]]
        raise ConfigError(f"{flag} {shown(key)}: expected a value of at most 4,300 digits and "
                          f"{MAX_YAML_DEPTH} levels, got {shown(text)}") from None
    if _depth(value) > MAX_YAML_DEPTH:
        raise ConfigError(f"{flag} {shown(key)}: expected a value nested at most "
                          f"{MAX_YAML_DEPTH} deep, got {shown(text)}")
    return value


def _depth(value, level: int = 0) -> int:
    """Nesting depth of a JSON value (stops counting past the limit)."""
    if level > MAX_YAML_DEPTH or not isinstance(value, (list, dict)):
        return level
    items = value.values() if isinstance(value, dict) else value
    return max((_depth(v, level + 1) for v in items), default=level + 1)
