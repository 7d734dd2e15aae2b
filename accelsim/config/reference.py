"""The accelerator config reference as Markdown: every field of a resolved config with its
value, unit and source. `python -m accelsim.config.reference [NAME]` prints it; the README
embeds the output for `default` (a test keeps the two in step)."""

from __future__ import annotations

import sys

from accelsim.config.loader import load_accelerator_config

# unit by field-name ending, longest first
_UNITS = [("_pj_per_bit", "pJ/bit"), ("_pj_per_value", "pJ/value"), ("_pj_per_weight", "pJ/weight"),
          ("_cycles_per_weight", "cycles/weight"), ("_per_cycle", "per cycle"), ("_bytes", "bytes"),
          ("_bits", "bits"), ("_pj", "pJ"), ("_mw", "mW"), ("_mm2", "mm^2"), ("_v", "V"),
          ("_nm", "nm"), ("_ns", "ns"), ("_mhz", "MHz"),
          ("_cycles", "cycles"), ("_tiles", "tiles"), ("_bursts", "bursts"),
          ("_weights", "weights")]
_DRAM_CYCLES = "DRAM clock cycles"
_STRUCTURAL = "design choice of this config (configs/accelerators/{name}.yaml)"


def _unit(section: str, key: str) -> str:
    for suffix, unit in _UNITS:
        if key.endswith(suffix):
            return _DRAM_CYCLES if (section == "dram" and unit == "cycles") else unit
    return ""


def _value(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return f"`{v}`" if isinstance(v, str) else str(v)


def reference_markdown(name: str = "default") -> str:
    config = load_accelerator_config(name)
    data = config.to_dict()
    data.pop("path", None)
    lines = [f"Values of `{name}`; every field can be set in a YAML file or with "
             "`--set SECTION.FIELD=VALUE`. Sizes accept `64KiB`-style values.", "",
             "| field | value | unit | source |", "|---|---|---|---|"]
    structural = _STRUCTURAL.format(name=name)
    top_sources = {"staging_buffer_area_mm2": config.staging_source}
    for key, value in data.items():
        if isinstance(value, dict):
            sources = value.get("sources", {}) or {}
            for sub, v in value.items():
                if sub == "sources":
                    continue
                source = sources.get(sub) or structural
                lines.append(f"| `{key}.{sub}` | {_value(v)} | {_unit(key, sub)} | {source} |")
        else:
            source = top_sources.get(key, structural)
            lines.append(f"| `{key}` | {_value(value)} | {_unit('', key)} | {source} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference_markdown(sys.argv[1] if len(sys.argv) > 1 else "default"))
