"""The one KEY=VALUE parser of the command line: `--model-arg` (model arguments) and `--set`
(config fields, one value each for `simulate`, comma-separated values for `sweep`)."""

from __future__ import annotations

import json

from accelsim.errors import ConfigError
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
            raise ConfigError(f"{flag} {item!r}: expected {usage}")
        if multi:
            out[key] = [_read_value(flag, key, v.strip(), fields)
                        for v in text.split(",") if v.strip()]
        else:
            out[key] = _read_value(flag, key, text, fields)
    return out


def _read_value(flag: str, key: str, text: str, fields: bool):
    if fields and key.endswith("_bytes"):
        return parse_size(text, f"{flag} {key}")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
