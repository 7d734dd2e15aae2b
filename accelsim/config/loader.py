"""Finding and loading accelerator configs: a file path or a shipped name, ``base: NAME``
inheritance between files, and dotted overrides (``pe.rows=16``) on top.

A file may start with ``base: NAME`` to take another file's values and change a few; the
merged mapping is then read by `accelsim.config.accelerator.config_from_dict`.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from accelsim.config.accelerator import AcceleratorConfig, config_from_dict
from accelsim.config.checks import field_names, located
from accelsim.errors import ConfigError
from accelsim.limits import (
    MAX_BASE_CHAIN,
    MAX_CONFIG_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    regular_file,
    shown,
)

# Where the shipped configurations live: the repository's configs/accelerators, or the copy
# packaged inside accelsim (accelsim/configs/accelerators) in an installed wheel. This file is
# accelsim/config/loader.py: parents[1] is the package, parents[2] the repository.
_HERE = Path(__file__).resolve()
_REPO_CONFIG_DIR = _HERE.parents[2] / "configs" / "accelerators"
_PACKAGE_CONFIG_DIR = _HERE.parents[1] / "configs" / "accelerators"


def _config_dir() -> Path:
    if _REPO_CONFIG_DIR.is_dir():
        return _REPO_CONFIG_DIR
    return _PACKAGE_CONFIG_DIR


CONFIG_DIR = _config_dir()


def available_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except (OSError, ValueError):  # a name too long for the file system, or with a NUL byte
        return False


def _resolve_file(path_or_name: str | os.PathLike[str]) -> Path:
    p = Path(path_or_name)
    if _is_file(p):
        return p
    stem = p.name[:-5] if p.name.endswith(".yaml") else p.name
    candidate = CONFIG_DIR / f"{stem}.yaml"
    if p.parent == Path(".") and _is_file(candidate):
        return candidate
    raise ConfigError(f"{shown(str(path_or_name))}: expected a config file or a name in "
                      f"{CONFIG_DIR} ({', '.join(available_configs()) or 'none found'}), "
                      "got neither")


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no Python objects), with the nesting depth and the size a file
    expands to through aliases bounded: an alias bomb ("billion laughs") or a 10,000-deep
    list is refused while it is read, before anything walks or copies it."""

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._depth = 0
        self._expanded = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor
            if anchor in self.anchors:  # an undefined alias is the composer's own error
                self._count(self._size(self.anchors[anchor], set()))
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise _LimitError(f"mappings and lists nested at most {MAX_YAML_DEPTH} deep, got "
                              "deeper")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._count(1)
        return node

    def _count(self, nodes: int) -> None:
        self._expanded += nodes
        if self._expanded > MAX_YAML_NODES:
            raise _LimitError(f"at most {MAX_YAML_NODES:,} values with every alias expanded, "
                              "got more (an alias bomb?)")

    def _size(self, node: yaml.Node, open_nodes: set[int]) -> int:
        """Values `node` stands for once expanded; a node inside itself is refused."""
        key = id(node)
        if key in self._sizes:
            return self._sizes[key]
        if key in open_nodes:
            raise _LimitError("no alias inside its own anchor, got a recursive one")
        open_nodes.add(key)
        size = 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            size += self._size(child, open_nodes)
            if size > MAX_YAML_NODES:
                break  # already too big: no need to walk the rest
        open_nodes.discard(key)
        self._sizes[key] = size
        return size


class _LimitError(Exception):
    """A resource limit of `_BoundedLoader` (turned into a ConfigError naming the file)."""


@functools.lru_cache(maxsize=64)
def _parse_yaml(text: str) -> object:
    """`text` parsed, remembered by the text itself: PyYAML's Python parser is most of a
    config load, and a sweep or a test suite loads the same few files hundreds of times.
    Callers get a deep copy (`_read_yaml`); errors are raised every time, never remembered."""
    return yaml.load(text, Loader=_BoundedLoader)  # a safe loader, bounded


def _read_yaml(path: Path) -> dict[str, object]:
    regular_file(path, ConfigError, "a YAML config file")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: expected a config file of at most {MAX_CONFIG_BYTES:,} "
                          f"bytes, got {path.stat().st_size:,}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: expected UTF-8 text, got byte 0x{exc.object[exc.start]:02x} "
                          f"at offset {exc.start}") from None
    try:
        data = copy.deepcopy(_parse_yaml(text))
    except _LimitError as exc:
        raise ConfigError(f"{path}: expected {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}:" if mark else ""
        # the parser's own text spans lines (and quotes the line): keep its first clause only
        problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
        raise ConfigError(f"{path}:{at} expected valid YAML, got {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config fields, got {shown(data)}")
    with located(str(path)):
        field_names(data)
    return data


def _deep_merge(base: dict[str, object], top: dict[str, object]) -> dict[str, object]:
    out = copy.deepcopy(base)
    for key, value in top.items():
        below = out.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            out[key] = _deep_merge(below, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _load_merged(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, object]:
    data = _read_yaml(path)
    base = data.get("base")
    if base is None:
        return data
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(f"{path}: base: expected a config name or path, got {shown(base)}")
    if len(seen) + 1 >= MAX_BASE_CHAIN:
        raise ConfigError(f"{path}: base: expected a chain of at most {MAX_BASE_CHAIN} files, "
                          f"got a longer one")
    # a name or relative path is looked up beside the including file first, then in CONFIG_DIR
    beside = path.parent / (base if base.endswith(".yaml") else f"{base}.yaml")
    base_path = beside if _is_file(beside) else _resolve_file(base)
    if base_path.resolve() in seen or base_path.resolve() == path.resolve():
        raise ConfigError(f"{path}: base: expected a config that does not include this one, "
                          f"got {base!r}, which includes itself")
    merged = _deep_merge(_load_merged(base_path, seen + (path.resolve(),)), data)
    merged.pop("base", None)
    return merged


def _apply_dotted(data: dict[str, object], overrides: Mapping[str, object] | None, where: str
                  ) -> dict[str, object]:
    out = copy.deepcopy(data)
    for dotted, value in (overrides or {}).items():
        if not isinstance(dotted, str) or not dotted or any(not p for p in dotted.split(".")):
            raise ConfigError(f"{where}: expected override keys that are dotted field paths "
                              f"(e.g. pe.rows), got {shown(dotted)}")
        parts = dotted.split(".")
        if len(parts) > MAX_YAML_DEPTH:
            raise ConfigError(f"{where}: expected a field path at most {MAX_YAML_DEPTH} deep, "
                              f"got {shown(dotted)}")
        node = out
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"{where}: {'.'.join(parts[:i + 1])}: expected a section to "
                                  f"set {shown(dotted)} in, got {shown(nxt)}")
            node = nxt
        node[parts[-1]] = copy.deepcopy(value)
    return out


def load_accelerator_config(path_or_name: str | os.PathLike[str] | AcceleratorConfig,
                            overrides: Mapping[str, object] | None = None) -> AcceleratorConfig:
    """A config from a file path or a name in CONFIG_DIR (or an AcceleratorConfig), with
    optional dotted overrides, e.g. ``{"weight_sram.capacity_bytes": 1048576,
    "dram.preset": "HBM2", "pe.rows": 16}``."""
    if isinstance(path_or_name, AcceleratorConfig):
        return with_overrides(path_or_name, overrides or {})
    path = _resolve_file(path_or_name)
    data = _load_merged(path)
    where = str(path)
    if overrides:
        data = _apply_dotted(data, overrides, f"{path} (overrides)")
        where = f"{path} (with overrides)"
        with located(where):
            field_names(data)
    return config_from_dict(data, where, str(path))


def with_overrides(config: AcceleratorConfig, dotted_overrides: Mapping[str, object]
                   ) -> AcceleratorConfig:
    """A copy of `config` with dotted fields changed; derived values are derived again."""
    if not dotted_overrides:
        return config
    origin = config.path or "<config>"
    data = _apply_dotted(config.spec, dotted_overrides, f"{origin} (overrides)")
    with located(f"{origin} (with overrides)"):
        field_names(data)
    return config_from_dict(data, f"{origin} (with overrides)", config.path)
