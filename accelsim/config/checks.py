"""The one vocabulary of config checks, shared by every config dataclass's ``__post_init__``.

Every failed check raises `ConfigError` with one line in one grammar::

    <field>: expected <what>, got <value>

A dataclass names its own field (``banks``); whoever builds it from a file adds the section and
the file in front with `located`, giving e.g.::

    configs/accelerators/x.yaml: weight_sram.banks: expected an integer >= 1, got 0
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn, TypeGuard

import numpy as np

from accelsim.errors import ConfigError
from accelsim.limits import MAX_COUNT, MAX_NUMBER, MIN_NUMBER, shown


def fail(field: str, what: str, value: object) -> NoReturn:
    """Raise the one-line error for `field` (the value quoted, cut short)."""
    raise ConfigError(f"{field}: expected {what}, got {shown(value)}")


def is_integer(value: object) -> TypeGuard[int | np.integer[Any]]:
    # bool is an int subclass, but `true` is never meant as a count
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float | np.integer[Any] | np.floating[Any]]:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    # math.isfinite raises OverflowError on an int beyond float range: bound ints first
    return abs(value) <= MAX_NUMBER if isinstance(value, int) else math.isfinite(value)


def integer(field: str, value: object, minimum: int | None = None, why: str = "",
            maximum: int = MAX_COUNT) -> int:
    """`value` as an int, checked to be an integer from `minimum` to `maximum` (the physical
    bound of `accelsim.limits` unless given)."""
    what = "an integer" if minimum is None else f"an integer >= {minimum}"
    if not is_integer(value) or (minimum is not None and value < minimum):
        fail(field, what + why, value)
    if value > maximum:
        bound = f"<= {maximum:,}" if minimum is None else f"from {minimum} to {maximum:,}"
        fail(field, f"an integer {bound}{why}", value)
    return int(value)


def number(field: str, value: object, minimum: float = 0.0, positive: bool = False,
           maximum: float = MAX_NUMBER) -> float:
    """`value` as a float, checked to be finite, >= `minimum` (> 0 when `positive`), at most
    `maximum` (the physical bound of `accelsim.limits` unless given), and, unless 0, at least
    `MIN_NUMBER` in magnitude: every message states the whole range."""
    low = max(minimum, MIN_NUMBER) if positive else minimum
    what = (f"a number from {low:g} to {maximum:g}" + ("" if positive or minimum > 0 else
                                                        f" (0, or at least {MIN_NUMBER:g})"))
    if (_is_number(value) and minimum <= value <= maximum and not (positive and value <= 0)
            and (value == 0 or abs(float(value)) >= MIN_NUMBER)):
        return float(value)
    fail(field, what, value)


def field_names(value: object, where: str = "") -> None:
    """Every mapping key in a config, at any depth, is a field name (text): YAML also allows
    null, booleans, numbers and lists as keys, which no field is called."""
    stack: list[tuple[str, object]] = [(where, value)]
    seen: set[int] = set()  # YAML aliases share nodes, and may even make a cycle
    while stack:
        path, node = stack.pop()
        if isinstance(node, (Mapping, list)):
            if id(node) in seen:
                continue
            seen.add(id(node))
        if isinstance(node, Mapping):
            for key, item in node.items():
                if not isinstance(key, str):
                    at = f"{path}: " if path else ""
                    raise ConfigError(f"{at}expected field names (text) as keys, got "
                                      f"{shown(key)} ({type(key).__name__})")
                stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(node))


def one_of(field: str, value: object, choices: Collection[object]) -> None:
    if value not in choices:
        fail(field, f"one of {list(choices)}", value)


def boolean(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        fail(field, "true or false", value)
    return value


def text(field: str, value: object) -> str:
    if not isinstance(value, str):
        fail(field, "a string", value)
    return value


def source_map(field: str, value: object) -> dict[str, str]:
    """A copy of a field-name -> source-string mapping (a copy: configs are frozen)."""
    if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(s, str) for k, s in value.items()):
        fail(field, "a mapping of field names to source strings", value)
    return dict(value)


def locate(message: str, where: str = "", section: str = "") -> str:
    """Put the section path and then the file in front of a field's message."""
    if section:
        message = f"{section}.{message}"
    if where:
        message = f"{where}: {message}"
    return message


@contextmanager
def located(where: str = "", section: str = "") -> Iterator[None]:
    """Re-raise a `ConfigError` raised inside with `section` and `where` in front."""
    try:
        yield
    except ConfigError as error:
        raise ConfigError(locate(str(error), where, section)) from None
