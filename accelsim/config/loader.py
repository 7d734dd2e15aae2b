"""Finding and loading accelerator configs: a file path or a shipped name, ``base: NAME``
inheritance between files, and dotted overrides (``pe.rows=16``) on top.

A file may start with ``base: NAME`` to take another file's values and change a few; the
merged mapping is then read by `accelsim.config.accelerator.config_from_dict`.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from accelsim.config.accelerator import AcceleratorConfig, config_from_dict
from accelsim.errors import ConfigError

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


def _resolve_file(path_or_name) -> Path:
    p = Path(path_or_name)
    if p.is_file():
        return p
    stem = p.name[:-5] if p.name.endswith(".yaml") else p.name
    candidate = CONFIG_DIR / f"{stem}.yaml"
    if p.parent == Path(".") and candidate.is_file():
        return candidate
    raise ConfigError(f"{path_or_name}: expected a config file or a name in {CONFIG_DIR} "
                      f"({', '.join(available_configs()) or 'none found'}), got neither")


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}:" if mark else ""
        raise ConfigError(f"{path}:{at} expected valid YAML, got "
                          f"{getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config fields, got {data!r}")
    return data


def _deep_merge(base: dict, top: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _load_merged(path: Path, seen=()) -> dict:
    data = _read_yaml(path)
    base = data.get("base")
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base: expected a config name or path, got {base!r}")
    # a name or relative path is looked up beside the including file first, then in CONFIG_DIR
    beside = path.parent / (base if base.endswith(".yaml") else f"{base}.yaml")
    base_path = beside if beside.is_file() else _resolve_file(base)
    if base_path.resolve() in seen or base_path.resolve() == path.resolve():
        raise ConfigError(f"{path}: base: expected a config that does not include this one, "
                          f"got {base!r}, which includes itself")
    merged = _deep_merge(_load_merged(base_path, seen + (path.resolve(),)), data)
    merged.pop("base", None)
    return merged


def _apply_dotted(data: dict, overrides: dict, where: str) -> dict:
    out = copy.deepcopy(data)
    for dotted, value in (overrides or {}).items():
        if not isinstance(dotted, str) or not dotted or any(not p for p in dotted.split(".")):
            raise ConfigError(f"{where}: expected override keys that are dotted field paths "
                              f"(e.g. pe.rows), got {dotted!r}")
        parts = dotted.split(".")
        node = out
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"{where}: {'.'.join(parts[:i + 1])}: expected a section to "
                                  f"set {dotted} in, got {nxt!r}")
            node = nxt
        node[parts[-1]] = copy.deepcopy(value)
    return out


def load_accelerator_config(path_or_name, overrides: dict | None = None) -> AcceleratorConfig:
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
    return config_from_dict(data, where, str(path))


def with_overrides(config: AcceleratorConfig, dotted_overrides: dict) -> AcceleratorConfig:
    """A copy of `config` with dotted fields changed; derived values are derived again."""
    if not dotted_overrides:
        return config
    origin = config.path or "<config>"
    data = _apply_dotted(config.spec, dotted_overrides, f"{origin} (overrides)")
    return config_from_dict(data, f"{origin} (with overrides)", config.path)
