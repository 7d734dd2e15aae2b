"""Published datapath figures at their own node, each with its unit (in its name) and source.

`accelsim.config.technology` scales them to a config's node and derives every on-chip figure
from them (SRAMs come from the CACTI table instead); the config reader records the source string
of each figure it uses in the section's ``sources`` mapping.

DRAM figures live with the DRAM presets (`accelsim.config.dram_presets`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

HOROWITZ = "Horowitz, 'Computing's energy problem', ISSCC 2014, 45 nm"
HOROWITZ_NODE_NM = 45

# One operation at 45 nm: (energy in pJ, area in um^2). Horowitz ISSCC 2014's energy and area
# tables (45 nm, 0.9 V). int32 xor is taken at an int32 add's cost, a compare at an add's.
OPERATIONS_45NM = {
    "int8_add": (0.03, 36.0),
    "int32_add": (0.1, 137.0),
    "int8_mult": (0.2, 282.0),
    "int32_mult": (3.1, 3495.0),
    "fp16_add": (0.4, 1360.0),
    "fp32_add": (0.9, 4184.0),
    "fp16_mult": (1.1, 1640.0),
    "fp32_mult": (3.7, 7700.0),
}

# MAC = one multiply + one add in the number format; word size -> format names it accepts
NUMBER_FORMATS = {32: ("fp32", "int32"), 16: ("fp16",), 8: ("int8",)}
DEFAULT_NUMBER_FORMAT = {32: "fp32", 16: "fp16", 8: "int8"}

# A word register: D flip-flops, one per bit. NanGate FreePDK45 Open Cell Library, DFF_X1.
DFF_AREA_UM2_45NM = 4.522
NANGATE = "NanGate FreePDK45 Open Cell Library (45 nm), DFF_X1 4.522 um^2"
# Registers per PE of a systolic array: the stationary operand, the operand passed along the
# row and the partial sum passed down the column.
REGISTERS_PER_PE = 3

# A pipeline register's write, per bit: Aladdin's synthesised register (Shao et al., ISCA
# 2014; its power model, harvard-acc/ALADDIN common/power_func.h, REG_1ns_dynamic_energy:
# commercial 40 nm standard cells at 1 GHz, the same energy per write at 1-6 ns). The
# hwcomponents-library register AccelForge prices with is the same figure. To 45 nm by
# switched capacitance ~ feature size at the same supply (Aladdin's 40 nm process and
# Horowitz's 45 nm figures are both at 0.9 V).
ALADDIN = ("Shao et al., 'Aladdin', ISCA 2014, register at 40 nm (ALADDIN power_func.h "
           "REG_1ns_dynamic_energy, 0.0090 pJ per bit per write)")
REGISTER_PJ_PER_BIT_40NM = 0.0090
REGISTER_PJ_PER_BIT_45NM = REGISTER_PJ_PER_BIT_40NM * HOROWITZ_NODE_NM / 40

# PE-level data movement, normalised to one MAC at the same node (Eyeriss: Chen, Emer, Sze,
# ISCA 2016; as summarised by Sze et al., Proc. IEEE 2017): register file 1x, PE array 2x.
# A ratio of energies at one node, applied to this config's MAC at this config's node. The
# register-file ratio is for Eyeriss's 0.5 KB register file per PE against a 16-bit MAC, not a
# pipeline register against this config's MAC: it stays only as the fallback of a PE array
# built in code without a technology (a config file's PE register is `REGISTER_PJ_PER_BIT`).
EYERISS = "Chen, Emer, Sze, 'Eyeriss', ISCA 2016, normalised to one MAC at its node"
REGISTER_ENERGY_PER_MAC = 1.0
ARRAY_HOP_ENERGY_PER_MAC = 2.0

# The PRNG training uses (accelsim.dropback.prng), per 32-bit value: 4 multiplies, 1 add,
# 6 xors (as int32 adds) and 5 shifts (wiring), then the float conversion in the init range:
# an int subtract, int-to-float (as an fp32 add) and an fp32 multiply. 17.8 pJ at 45 nm.
# A multiplier-free xorshift-style generator (a sensitivity case: training must have used it):
# 3 xors (as int32 adds) and shifts, then the same float conversion. 5.0 pJ at 45 nm.
# generator -> (operations per value, what they are)
PRNG_GENERATORS = {
    "hash": ((("int32_mult", 4), ("int32_add", 1 + 6 + 1), ("fp32_add", 1), ("fp32_mult", 1)),
             "the generator training uses (accelsim.dropback.prng): 4 int32 mult + 1 add + "
             "6 xor (as int32 add) + shifts (wiring), then the float conversion (int subtract, "
             "int-to-float as fp32 add, fp32 mult)"),
    "xorshift": ((("int32_add", 3 + 1), ("fp32_add", 1), ("fp32_mult", 1)),
                 "a xorshift-style generator: 3 xor (as int32 add) + shifts (wiring), then the "
                 "float conversion (int subtract, int-to-float as fp32 add, fp32 mult)"),
}


Operations = Iterable[tuple[str, int]]  # (operation in OPERATIONS_45NM, count)


def operations_45nm(operations: Operations) -> tuple[float, float]:
    """(energy pJ, area um^2) of a list of (operation, count) at 45 nm."""
    operations = list(operations)
    energy = sum(OPERATIONS_45NM[op][0] * n for op, n in operations)
    area = sum(OPERATIONS_45NM[op][1] * n for op, n in operations)
    return float(energy), float(area)


def mac_operations(number_format: str) -> tuple[tuple[str, int], ...]:
    return ((f"{number_format}_mult", 1), (f"{number_format}_add", 1))


# The rule this project used before the CACTI table: kept only as the "old rule" case of the
# study's sensitivity chart. Horowitz's cache figures, 8 KB / 32 KB / 1 MB -> 10 / 20 / 100 pJ
# per 64-bit access (45 nm): (capacity in bytes, energy in pJ per 64-bit access)
SRAM_ANCHORS_PJ = ((8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0))
SRAM_RULE = (f"derived: {HOROWITZ} 8 KB/32 KB/1 MB -> 10/20/100 pJ per 64-bit access, "
             "power law in capacity between anchors (nearest segment beyond them), "
             "linear in access width")


# ... and its leakage, an estimate with no primary source (0.05 mW per KiB, linear in capacity)
OLD_SRAM_LEAKAGE_MW_PER_KIB = 0.05


def sram_access_energy_pj(capacity_bytes: int, width_bits: int) -> float:
    """The old rule's energy of one access of `width_bits` to an SRAM of `capacity_bytes`."""
    caps = [math.log(c) for c, _ in SRAM_ANCHORS_PJ]
    pjs = [math.log(e) for _, e in SRAM_ANCHORS_PJ]
    x = math.log(max(int(capacity_bytes), 1024))  # below 1 KiB the rule means nothing
    # pick the segment: the first for small SRAMs, the last for large ones
    i = 0 if x <= caps[1] else 1
    slope = (pjs[i + 1] - pjs[i]) / (caps[i + 1] - caps[i])
    per_64_bits = math.exp(pjs[i] + slope * (x - caps[i]))
    return per_64_bits * width_bits / 64.0
