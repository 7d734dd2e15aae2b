"""Specs: what an accelerator is, read from YAML and checked. The simulator, the sweeps and the
reports read these; nothing here imports them.

- `accelerator`: the accelerator dataclasses and their reading from one YAML mapping
- `loader`: config files and names, ``base:`` inheritance, dotted overrides
- `dram`: `DramConfig`, its presets merge and address mapping
- `dram_presets`: the DRAM preset tables (values and sources)
- `energy_tables`: published datapath figures (45 nm) with units and sources
- `technology`: the node and cell type; every on-chip figure derived from them (CACTI table)
- `checks`: the one vocabulary of field checks and error messages
- `reference`: the Markdown config reference (``python -m accelsim.config.reference``)

The names below are re-exported so ``from accelsim.config import load_accelerator_config``
works.
"""

from accelsim.config.accelerator import (
    DATAFLOWS,
    DRAM_TIMINGS,
    INDEX_FORMATS,
    WEIGHT_BITS,
    AcceleratorConfig,
    IndexConfig,
    PeArrayConfig,
    PrngConfig,
    SramConfig,
    UpdateConfig,
    config_from_dict,
)
from accelsim.config.dram import DRAM_PRESETS, DramConfig, dram_config_from_dict, dram_preset
from accelsim.config.energy_tables import (
    HOROWITZ,
    SRAM_ANCHORS_PJ,
    SRAM_RULE,
    sram_access_energy_pj,
)
from accelsim.config.loader import (
    CONFIG_DIR,
    available_configs,
    load_accelerator_config,
    with_overrides,
)
from accelsim.config.technology import CELL_TYPES, NODES_NM, SramTable, TechnologyConfig

__all__ = [
    "CELL_TYPES",
    "CONFIG_DIR",
    "DATAFLOWS",
    "DRAM_PRESETS",
    "DRAM_TIMINGS",
    "HOROWITZ",
    "INDEX_FORMATS",
    "NODES_NM",
    "SRAM_ANCHORS_PJ",
    "SRAM_RULE",
    "WEIGHT_BITS",
    "AcceleratorConfig",
    "DramConfig",
    "IndexConfig",
    "PeArrayConfig",
    "PrngConfig",
    "SramConfig",
    "SramTable",
    "TechnologyConfig",
    "UpdateConfig",
    "available_configs",
    "config_from_dict",
    "dram_config_from_dict",
    "dram_preset",
    "load_accelerator_config",
    "sram_access_energy_pj",
    "with_overrides",
]
