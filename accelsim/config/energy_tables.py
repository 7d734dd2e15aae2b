"""Energy constants of the on-chip parts: each with its value, its unit (in its name) and its
source. The config reader uses them when a file gives no figure of its own; the source string
then goes into the section's ``sources`` mapping.

DRAM figures live with the DRAM presets (`accelsim.config.dram_presets`).
"""

from __future__ import annotations

import math

HOROWITZ = "Horowitz, 'Computing's energy problem', ISSCC 2014, 45 nm"

# MAC = one multiply + one add at the word size (Horowitz ISSCC 2014, 45 nm).
# 32 and 16 bits are floating point, 8 bits integer, as in the table.
# word size in bits -> (energy in pJ, source)
MAC_ENERGY_PJ = {
    32: (3.7 + 0.9, f"{HOROWITZ}: fp32 mult 3.7 + fp32 add 0.9 pJ"),
    16: (1.1 + 0.4, f"{HOROWITZ}: fp16 mult 1.1 + fp16 add 0.4 pJ"),
    8: (0.2 + 0.03, f"{HOROWITZ}: int8 mult 0.2 + int8 add 0.03 pJ"),
}

# SRAM energy per 64-bit access at three capacities (Horowitz ISSCC 2014, 45 nm cache figures):
# (capacity in bytes, energy in pJ per 64-bit access)
SRAM_ANCHORS_PJ = ((8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0))
SRAM_RULE = (f"derived: {HOROWITZ} 8 KB/32 KB/1 MB -> 10/20/100 pJ per 64-bit access, "
             "power law in capacity between anchors (nearest segment beyond them), "
             "linear in access width")
# No primary figure was found for SRAM leakage; an order-of-magnitude estimate, linear in
# capacity (Accelergy's CACTI plug-in scales leakage with capacity). Set your own from CACTI.
SRAM_LEAKAGE_MW_PER_KIB = 0.05
SRAM_LEAKAGE_RULE = ("estimate (unconfirmed): 0.05 mW per KiB, linear in capacity "
                     "(CACTI-style scaling as in Accelergy's plug-in); replace with a CACTI figure")


def sram_access_energy_pj(capacity_bytes: int, width_bits: int) -> float:
    """Energy of one access of `width_bits` to an SRAM of `capacity_bytes` (rule: SRAM_RULE)."""
    caps = [math.log(c) for c, _ in SRAM_ANCHORS_PJ]
    pjs = [math.log(e) for _, e in SRAM_ANCHORS_PJ]
    x = math.log(max(int(capacity_bytes), 1024))  # below 1 KiB the rule means nothing
    # pick the segment: the first for small SRAMs, the last for large ones
    i = 0 if x <= caps[1] else 1
    slope = (pjs[i + 1] - pjs[i]) / (caps[i + 1] - caps[i])
    per_64_bits = math.exp(pjs[i] + slope * (x - caps[i]))
    return per_64_bits * width_bits / 64.0


def sram_leakage_power_mw(capacity_bytes: int) -> float:
    """Leakage power of an SRAM of `capacity_bytes` (rule: SRAM_LEAKAGE_RULE)."""
    return SRAM_LEAKAGE_MW_PER_KIB * capacity_bytes / 1024.0


# PE-level data movement, normalised to one MAC (Eyeriss: Chen, Emer, Sze, ISCA 2016, 65 nm;
# as summarised by Sze et al., Proc. IEEE 2017): register file 1x, PE array (inter-PE) 2x.
EYERISS = "Chen, Emer, Sze, 'Eyeriss', ISCA 2016 (65 nm), normalised to one MAC"
REGISTER_ENERGY_PER_MAC = 1.0
ARRAY_HOP_ENERGY_PER_MAC = 2.0
PE_MOVEMENT_RULE = (f"derived: {EYERISS}: register file 1x, PE array 2x the MAC energy, "
                    "times this config's pe.mac_energy_pj")
