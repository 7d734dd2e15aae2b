"""Lazy re-exports for package `__init__`s: names resolve on first use, so importing a package
does not import its heavy modules (torch above all)."""

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """Return a module `__getattr__` that resolves `exports` (name -> module path)."""

    # Any, as for any module `__getattr__`: the attribute's type is that of whatever the
    # named module defines, which no annotation here can know
    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(module), name)

    return __getattr__


def lazy_dir(namespace: dict[str, Any], exports: dict[str, str]) -> Callable[[], list[str]]:
    """Return a module `__dir__` listing its own names and the lazily exported ones, so that
    `dir(package)` and tab completion show the public API before any of it is imported."""

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __dir__
