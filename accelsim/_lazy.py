"""Lazy re-exports for package `__init__`s: names resolve on first use, so importing a package
does not import its heavy modules (torch above all)."""

from importlib import import_module


def lazy_exports(package: str, exports: dict):
    """Return a module `__getattr__` that resolves `exports` (name -> module path)."""

    def __getattr__(name):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(module), name)

    return __getattr__
