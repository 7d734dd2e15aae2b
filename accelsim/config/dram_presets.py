"""DRAM preset tables: one value and one source string per DramConfig field.

Only plain data lives here (no imports from the model), so the tables can be read, diffed and
cited on their own. `accelsim.config.dram.dram_preset` turns an entry into a validated DramConfig.

Conventions
-----------
- Timing values are in DRAM clock cycles (tCK); tREFI and tRFC too (tREFI = 7.8 us / tCK, ...).
- `row_size_bytes` is the row (page) of one channel-wide rank: all devices that answer a burst
  together, e.g. eight x8 DDR4 devices of 1 KB each = 8 KB.
- `activate_energy_pj` is one activate + precharge pair on that channel-wide row.
- What the energies include: `activate_energy_pj`, `read_energy_pj_per_bit` and
  `write_energy_pj_per_bit` are the DRAM core on VDD (arrays, sense amplifiers, on-die data
  path as the IDD currents measure it), all three presets from a DRAMsim3 config's currents by
  the Micron TN-40-07 method; `io_energy_pj_per_bit` is everything between the core and the
  controller per bit moved, from a separate cited figure, and each preset's figure covers a
  different part of it: DDR4 output drivers and on-die termination at both ends of a 2-rank
  channel, controller included (Micron's DDR4 power calculator); LPDDR4 the DRAM's VDDQ
  current only (drivers on reads, receivers on writes; Micron currents via DRAMPower's
  memspec), so without the controller's side; HBM2 the on-die data movement to the I/O plus
  the I/O (O'Connor et al.). Background and refresh are `background_power_mw`. VPP (wordline
  pump) is in none of them.
- `background_power_mw` is per channel: active standby plus the average refresh power
  (refresh is not charged per REF command anywhere else).
- A source string names where the number was read; "derived" marks arithmetic on sourced
  numbers (the arithmetic is written out), "estimate" marks a number without a primary source.

Default address mapping
-----------------------
All three presets use "RoRaBaCoBgCh" (MSB..LSB): consecutive bursts go to different channels,
then to different bank groups, then along a row. Putting the bank group under the column lets a
sequential stream alternate bank groups, so column commands are spaced tCCD_S instead of tCCD_L
(with the column lowest, DDR4 streaming is capped at BL/2 / tCCD_L = 50 % of peak).
"""

from typing import Any

# Shared source strings
_DRAMSIM3_DDR4 = "DRAMsim3 configs/DDR4_8Gb_x8_3200.ini"
_RAMULATOR2_DDR4 = "Ramulator 2 DDR4-3200AA preset (REFERENCES.md)"
_DDR4_ENERGY = (
    "derived (REFERENCES.md): DRAMsim3 DDR4_8Gb_x8_3200 currents by the Micron TN-40-07 method, "
    "x8 devices x 8 per 64-bit rank"
)
_DRAMSIM3_HBM2 = "DRAMsim3 configs/HBM2_8Gb_x128.ini"
_DRAMSIM3_LPDDR4 = "DRAMsim3 configs/LPDDR4_8Gb_x16_2400.ini"
_RAMULATOR_LPDDR4 = (
    "Ramulator (v1) src/LPDDR4.h speed LPDDR4_3200 (Ramulator 2 ships no LPDDR4 model)"
)
_RAMULATOR_LPDDR4_REFRESH = "Ramulator (v1) src/LPDDR4.cpp init_speed, LPDDR4_8Gb_x16 at 3200"
_ACCELERGY_LPDDR4 = "Accelergy CACTI plug-in DRAM table: LPDDR4 8 pJ/bit (REFERENCES.md)"
_OCONNOR_HBM2 = (
    "O'Connor et al., Fine-Grained DRAM, MICRO 2017, HBM2 figures as quoted (REFERENCES.md)"
)
# Every preset's activate/read/write energies are of one kind: a DRAMsim3 config's IDD currents
# by the Micron TN-40-07 method (what DRAMsim3 itself charges: activate = VDD x (IDD0 tRC -
# IDD3N tRAS - IDD2N tRP), read/write = VDD x (IDD4R/W - IDD3N) over the burst), i.e. the
# DRAM core on VDD; the I/O (drivers, termination, data movement outside the arrays) is
# io_energy_pj_per_bit, from a separate published figure.
_MICRON_DDR4_IO = (
    "derived: Micron DDR4 system-power calculator (DDR4_Power_Calc.xlsm, TN-40-07), default "
    "2-rank channel at VDDQ 1.2 V, per-DQ termination + driver power as reproduced in the "
    "energydram package's tests (github gaomy3832/energydram): read 2.4 (controller) + 10.1 "
    "(target rank) + 5.7 (other rank) = 18.2 mW, write 10.0 + 2.9 + 7.6 = 20.5 mW; x 0.3125 ns "
    "per bit at 3200 MT/s x strobe and mask pins per data pin on x8 (10/8 read, 11/8 write) = "
    "7.1 pJ/bit read, 8.8 pJ/bit write; mean 8.0. A single-rank channel has no other-rank "
    "termination (about 30 % less)"
)

DEFAULT_ADDRESS_MAPPING = "RoRaBaCoBgCh"
# The DRAM standards a config may name (`standard`): the timing rules and the protocol an
# exported simulator config uses follow it.
STANDARDS = ("DDR4", "LPDDR4", "HBM2")
_MAPPING_SOURCE = "accelsim default: bank group interleaved per burst (see dram_presets docstring)"

# The controller in front of every preset's channels (DRAMsim3's configs all use these).
_CONTROLLER_VALUES = {
    "queue_depth": 32, "command_queue_depth": 8, "write_buffer_depth": 32, "page_policy": "open",
    "dual_command_bus": False, "refresh_policy": "staggered", "outstanding_requests": 32,
    "tppd_cycles": 0,
}
_CONTROLLER_SOURCES = {
    "queue_depth": "DRAMsim3 configs/*.ini trans_queue_size = 32 (per channel)",
    "command_queue_depth": (
        "DRAMsim3 configs/*.ini cmd_queue_size = 8, queue_structure = PER_BANK (per bank)"
    ),
    "write_buffer_depth": (
        "DRAMsim3 src/controller.cc: a write buffer of trans_queue_size, drained whole when full"
    ),
    "page_policy": "DRAMsim3 configs/*.ini row_buf_policy = OPEN_PAGE",
    "dual_command_bus": "JEDEC: DDR4 and LPDDR4 have one command bus per channel",
    "refresh_policy": (
        "DRAMsim3 src/configuration.cc: refresh_policy defaults to RANK_LEVEL_STAGGERED"
    ),
    "outstanding_requests": (
        "DRAMsim3 configs/*.ini trans_queue_size = 32: a request is at least one transaction, "
        "so the controller's queue holds bursts of at most 32 requests at once"
    ),
    "tppd_cycles": (
        "accelsim default 0 (not modelled unless set): DRAMsim3's DDR4_8Gb_x8_3200.ini and "
        "HBM2_8Gb_x128.ini give no tPPD; its LPDDR4_8Gb_x16_2400.ini gives tPPD = 2"
    ),
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "DDR4-3200": {
        "values": {
            "channels": 1,
            "ranks": 1,
            "bank_groups": 4,
            "banks_per_group": 4,
            "row_size_bytes": 8192,
            "bus_width_bits": 64,
            "burst_length": 8,
            "tck_ns": 0.625,
            "tcl_cycles": 22,
            "trcd_cycles": 22,
            "trp_cycles": 22,
            "tras_cycles": 52,
            "tccd_s_cycles": 4,
            "tccd_l_cycles": 8,
            "trrd_s_cycles": 4,
            "trrd_l_cycles": 8,
            "tfaw_cycles": 34,
            "trefi_cycles": 12480,
            "trfc_cycles": 560,
            "tcwl_cycles": 16,
            "twtr_s_cycles": 4,
            "twtr_l_cycles": 12,
            "twr_cycles": 24,
            "trtp_cycles": 12,
            "trtrs_cycles": 1,
            "activate_energy_pj": 4200.0,
            "read_energy_pj_per_bit": 5.4,
            "write_energy_pj_per_bit": 4.6,
            "io_energy_pj_per_bit": 8.0,
            "background_power_mw": 584.5,
            "standard": "DDR4",
            "device_width_bits": 8,
            "address_mapping": DEFAULT_ADDRESS_MAPPING,
            **_CONTROLLER_VALUES,
        },
        "sources": {
            "channels": "accelsim default: one 64-bit channel (one DIMM); override for more",
            "ranks": "accelsim default: single-rank DIMM",
            "bank_groups": f"{_DRAMSIM3_DDR4} (bankgroups = 4); JEDEC JESD79-4 x4/x8",
            "banks_per_group": f"{_DRAMSIM3_DDR4} (banks_per_group = 4)",
            "row_size_bytes": (
                f"derived: {_DRAMSIM3_DDR4} columns 1024 x 8 bit = 1 KB per x8 device, "
                "x 8 devices per 64-bit rank (REFERENCES.md)"
            ),
            "bus_width_bits": f"{_DRAMSIM3_DDR4} (bus_width = 64)",
            "burst_length": f"{_DRAMSIM3_DDR4} (BL = 8)",
            "tck_ns": "REFERENCES.md: DDR4-3200 tCK 0.625 ns (DRAMsim3 rounds it to 0.63)",
            "tcl_cycles": f"{_RAMULATOR2_DDR4}: 22-22-22; {_DRAMSIM3_DDR4} CL = 22",
            "trcd_cycles": f"{_RAMULATOR2_DDR4}; {_DRAMSIM3_DDR4} tRCD = 22",
            "trp_cycles": f"{_RAMULATOR2_DDR4}; {_DRAMSIM3_DDR4} tRP = 22",
            "tras_cycles": f"{_DRAMSIM3_DDR4} tRAS = 52 (REFERENCES.md)",
            "tccd_s_cycles": f"{_DRAMSIM3_DDR4} tCCD_S = 4",
            "tccd_l_cycles": f"{_DRAMSIM3_DDR4} tCCD_L = 8",
            "trrd_s_cycles": f"{_DRAMSIM3_DDR4} tRRD_S = 4 (x8)",
            "trrd_l_cycles": f"{_DRAMSIM3_DDR4} tRRD_L = 8 (x8)",
            "tfaw_cycles": f"{_DRAMSIM3_DDR4} tFAW = 34 (x8)",
            "trefi_cycles": f"{_DRAMSIM3_DDR4} tREFI = 12480 (7.8 us)",
            "trfc_cycles": f"{_DRAMSIM3_DDR4} tRFC = 560 (350 ns, 8 Gb)",
            "tcwl_cycles": f"{_DRAMSIM3_DDR4} CWL = 16",
            "twtr_s_cycles": f"{_DRAMSIM3_DDR4} tWTR_S = 4",
            "twtr_l_cycles": f"{_DRAMSIM3_DDR4} tWTR_L = 12",
            "twr_cycles": f"{_DRAMSIM3_DDR4} tWR = 24 (15 ns)",
            "trtp_cycles": f"{_DRAMSIM3_DDR4} tRTP = 12 (7.5 ns)",
            "trtrs_cycles": f"{_DRAMSIM3_DDR4} tRTRS = 1",
            "activate_energy_pj": f"{_DDR4_ENERGY}: 0.525 nJ per device = 4.2 nJ per rank",
            "read_energy_pj_per_bit": f"{_DDR4_ENERGY}: (IDD4R - IDD3N) based, excluding I/O",
            "write_energy_pj_per_bit": f"{_DDR4_ENERGY}: (IDD4W - IDD3N) based, excluding I/O",
            "io_energy_pj_per_bit": _MICRON_DDR4_IO,
            "background_power_mw": (
                f"derived: {_DRAMSIM3_DDR4} IDD3N 52 mA x VDD 1.2 V x 8 devices = 499.2 mW, "
                "+ refresh (IDD5AB 250 - IDD3N 52) mA x 1.2 V x tRFC/tREFI (560/12480) x 8 = "
                "85.3 mW; VPP not included"
            ),
            "standard": _DRAMSIM3_DDR4 + " (protocol = DDR4)",
            "device_width_bits": _DRAMSIM3_DDR4 + " (device_width = 8)",
            "address_mapping": _MAPPING_SOURCE,
            **_CONTROLLER_SOURCES,
        },
    },
    "LPDDR4-3200": {
        "values": {
            "channels": 1,
            "ranks": 1,
            "bank_groups": 1,
            "banks_per_group": 8,
            "row_size_bytes": 4096,
            "bus_width_bits": 32,
            "burst_length": 16,
            "tck_ns": 0.625,
            "tcl_cycles": 32,
            "trcd_cycles": 29,
            "trp_cycles": 27,
            "tras_cycles": 68,
            "tccd_s_cycles": 8,
            "tccd_l_cycles": 8,
            "trrd_s_cycles": 16,
            "trrd_l_cycles": 16,
            "tfaw_cycles": 64,
            "trefi_cycles": 6247,
            "trfc_cycles": 288,
            "tcwl_cycles": 14,
            "twtr_s_cycles": 22,
            "twtr_l_cycles": 22,
            "twr_cycles": 40,
            "trtp_cycles": 16,
            "trtrs_cycles": 1,
            "activate_energy_pj": 3478.0,
            "read_energy_pj_per_bit": 6.1,
            "write_energy_pj_per_bit": 5.66,
            "io_energy_pj_per_bit": 2.19,
            "background_power_mw": 40.0,
            "standard": "LPDDR4",
            "device_width_bits": 16,
            "address_mapping": DEFAULT_ADDRESS_MAPPING,
            **_CONTROLLER_VALUES,
        },
        "sources": {
            "channels": (
                "accelsim default: one 32-bit channel (Ramulator LPDDR4 channel_width = 32)"
            ),
            "ranks": "accelsim default: single rank",
            "bank_groups": "JEDEC JESD209-4: LPDDR4 has no bank groups (Ramulator LPDDR4 levels)",
            "banks_per_group": f"{_RAMULATOR_LPDDR4}: org LPDDR4_8Gb_x16, 8 banks",
            "row_size_bytes": (
                "derived: Ramulator LPDDR4_8Gb_x16 1024 columns x 16 bit = 2 KB per x16 die, "
                "two dies fill the 32-bit channel (estimate of the pairing)"
            ),
            "bus_width_bits": "Ramulator (v1) src/LPDDR4.h channel_width = 32",
            "burst_length": f"{_RAMULATOR_LPDDR4}: 16n prefetch, nBL = 8 clocks (BL16)",
            "tck_ns": f"{_RAMULATOR_LPDDR4}: tCK = 2.5/4 ns",
            "tcl_cycles": f"{_RAMULATOR_LPDDR4}: nCL = 29+3",
            "trcd_cycles": f"{_RAMULATOR_LPDDR4}: nRCD = 29",
            "trp_cycles": f"{_RAMULATOR_LPDDR4}: nRPpb = 29-2 (per-bank precharge)",
            "tras_cycles": f"{_RAMULATOR_LPDDR4}: nRAS = 68",
            "tccd_s_cycles": f"{_RAMULATOR_LPDDR4}: nCCD = 8 (no bank groups: S = L)",
            "tccd_l_cycles": f"{_RAMULATOR_LPDDR4}: nCCD = 8 (no bank groups: S = L)",
            "trrd_s_cycles": f"{_RAMULATOR_LPDDR4}: nRRD = 16",
            "trrd_l_cycles": f"{_RAMULATOR_LPDDR4}: nRRD = 16",
            "tfaw_cycles": f"{_RAMULATOR_LPDDR4}: nFAW = 64",
            "trefi_cycles": f"{_RAMULATOR_LPDDR4_REFRESH}: nREFI = 6247 (3.9 us, 1x mode)",
            "trfc_cycles": f"{_RAMULATOR_LPDDR4_REFRESH}: nRFCab = 288 (180 ns)",
            "tcwl_cycles": f"{_DRAMSIM3_LPDDR4} CWL = 14, kept in cycles (unconfirmed at 3200)",
            "twtr_s_cycles": (
                f"derived: {_DRAMSIM3_LPDDR4} tWTR_L 16 x 0.83 ns = 13.3 ns / 0.625 ns, rounded "
                "up; no bank groups, so one figure (S = L)"
            ),
            "twtr_l_cycles": f"derived: {_DRAMSIM3_LPDDR4} tWTR_L 16 x 0.83 ns / 0.625 ns, up",
            "twr_cycles": f"derived: {_DRAMSIM3_LPDDR4} tWR 30 x 0.83 ns = 24.9 ns / 0.625 ns, up",
            "trtp_cycles": f"derived: {_DRAMSIM3_LPDDR4} tRTP 12 x 0.83 ns = 10 ns / 0.625 ns",
            "trtrs_cycles": f"{_DRAMSIM3_LPDDR4} tRTRS = 1",
            "activate_energy_pj": (
                f"derived: {_DRAMSIM3_LPDDR4} VDD 1.2 V x (IDD0 80 x tRC 47 - IDD3N 47 x tRAS 32 "
                "- IDD2N 34 x tRP 15) mA x tCK 0.83 ns = 1.74 nJ per x16 device, x 2 devices per "
                "32-bit channel (2400 MT/s currents used for 3200)"
            ),
            "read_energy_pj_per_bit": (
                f"derived: {_DRAMSIM3_LPDDR4} (IDD4R 243 - IDD3N 47) mA x 1.2 V = 235 mW per "
                "device / (16 bits x 2.4 Gb/s) = 6.1 pJ/bit, core only (no I/O)"
            ),
            "write_energy_pj_per_bit": (
                f"derived: {_DRAMSIM3_LPDDR4} (IDD4W 228 - IDD3N 47) mA x 1.2 V = 217 mW per "
                "device / 38.4 Gb/s = 5.66 pJ/bit, core only (no I/O)"
            ),
            "io_energy_pj_per_bit": (
                "derived: DRAMPower (github tukl-msd/DRAMPower) "
                "memspecs/MICRON_6Gb_LPDDR4-3200_32bit_A.json, Micron LPDDR4-3200 x16 VDDQ "
                "currents at VDDQ 1.1 V: read (IDD4RQ 150 - IDD3NQ 0.75) mA = 164 mW, write "
                "(IDD4WQ 55 - IDD3NQ 0.75) mA = 59.7 mW per device, / (16 DQ x 3.2 Gb/s) = "
                "3.21 pJ/bit read, 1.17 pJ/bit write; mean 2.19. The DRAM's VDDQ only (its "
                "output drivers into the LVSTL termination on reads, its receivers on writes); "
                "the controller's own driver and receiver power is not included"
            ),
            "background_power_mw": (
                "estimate: ~40 mW per 32-bit channel, scaled from the LPDDR3-1600 x32 active "
                "standby currents in gem5 src/mem/DRAMInterface.py (IDD3N 2 mA at 1.8 V + "
                "IDD3N2 34 mA at 1.2 V = 44 mW); no LPDDR4 current table was read"
            ),
            "standard": _DRAMSIM3_LPDDR4 + " (protocol = LPDDR4)",
            "device_width_bits": _DRAMSIM3_LPDDR4 + " (device_width = 16)",
            "address_mapping": _MAPPING_SOURCE,
            **_CONTROLLER_SOURCES,
        },
    },
    "HBM2": {
        "values": {
            "channels": 8,
            "ranks": 1,
            "bank_groups": 4,
            "banks_per_group": 4,
            "row_size_bytes": 2048,
            "bus_width_bits": 128,
            "burst_length": 4,
            "tck_ns": 1.0,
            "tcl_cycles": 14,
            "trcd_cycles": 14,
            "trp_cycles": 14,
            "tras_cycles": 34,
            "tccd_s_cycles": 1,
            "tccd_l_cycles": 2,
            "trrd_s_cycles": 4,
            "trrd_l_cycles": 6,
            "tfaw_cycles": 30,
            "trefi_cycles": 3900,
            "trfc_cycles": 260,
            "tcwl_cycles": 4,
            "twtr_s_cycles": 6,
            "twtr_l_cycles": 8,
            "twr_cycles": 16,
            "trtp_cycles": 4,
            "trtrs_cycles": 1,
            "activate_energy_pj": 828.0,
            "read_energy_pj_per_bit": 1.57,
            "write_energy_pj_per_bit": 2.09,
            "io_energy_pj_per_bit": 1.97,
            "background_power_mw": 81.6,
            "standard": "HBM2",
            "device_width_bits": 128,
            "address_mapping": DEFAULT_ADDRESS_MAPPING,
            **_CONTROLLER_VALUES,
            "dual_command_bus": True,
        },
        "sources": {
            "channels": f"{_DRAMSIM3_HBM2} channels = 8 (one stack, legacy 128-bit channels)",
            "ranks": f"{_DRAMSIM3_HBM2}: no ranks in HBM2",
            "bank_groups": f"{_DRAMSIM3_HBM2} bankgroups = 4",
            "banks_per_group": f"{_DRAMSIM3_HBM2} banks_per_group = 4 (16 banks)",
            "row_size_bytes": (
                f"derived: {_DRAMSIM3_HBM2} columns = 64, which DRAMsim3 doubles for HBM's "
                "2n prefetch (configuration.cc), x 128-bit device width = 2 KB"
            ),
            "bus_width_bits": f"{_DRAMSIM3_HBM2} bus_width = 128",
            "burst_length": f"{_DRAMSIM3_HBM2} BL = 4",
            "tck_ns": f"{_DRAMSIM3_HBM2} tCK = 1 (REFERENCES.md)",
            "tcl_cycles": f"{_DRAMSIM3_HBM2} CL = 14",
            "trcd_cycles": f"{_DRAMSIM3_HBM2} tRCDRD = 14",
            "trp_cycles": f"{_DRAMSIM3_HBM2} tRP = 14",
            "tras_cycles": f"{_DRAMSIM3_HBM2} tRAS = 34",
            "tccd_s_cycles": f"{_DRAMSIM3_HBM2} tCCD_S = 1 (the BL4 burst still takes 2 clocks)",
            "tccd_l_cycles": f"{_DRAMSIM3_HBM2} tCCD_L = 2",
            "trrd_s_cycles": f"{_DRAMSIM3_HBM2} tRRD_S = 4",
            "trrd_l_cycles": f"{_DRAMSIM3_HBM2} tRRD_L = 6",
            "tfaw_cycles": f"{_DRAMSIM3_HBM2} tFAW = 30",
            "trefi_cycles": f"{_DRAMSIM3_HBM2} tREFI = 3900",
            "trfc_cycles": f"{_DRAMSIM3_HBM2} tRFC = 260",
            "tcwl_cycles": f"{_DRAMSIM3_HBM2} CWL = 4",
            "twtr_s_cycles": f"{_DRAMSIM3_HBM2} tWTR_S = 6",
            "twtr_l_cycles": f"{_DRAMSIM3_HBM2} tWTR_L = 8",
            "twr_cycles": f"{_DRAMSIM3_HBM2} tWR = 16",
            "trtp_cycles": f"{_DRAMSIM3_HBM2} tRTP_S = 4",
            "trtrs_cycles": f"{_DRAMSIM3_HBM2} has no ranks; 1 as for DDR4 (never used)",
            "activate_energy_pj": (
                f"derived: {_DRAMSIM3_HBM2} VDD 1.2 V x (IDD0 65 x tRC 48 - IDD3N 55 x tRAS 34 - "
                f"IDD2N 40 x tRP 14) mA x 1 ns = 828 pJ per 128-bit channel ({_OCONNOR_HBM2}: "
                "909 pJ)"
            ),
            "read_energy_pj_per_bit": (
                f"derived: {_DRAMSIM3_HBM2} (IDD4R 390 - IDD3N 55) mA x 1.2 V = 402 mW / (128 "
                f"bits x 2 Gb/s) = 1.57 pJ/bit, core only ({_OCONNOR_HBM2}: array 1.51)"
            ),
            "write_energy_pj_per_bit": (
                f"derived: {_DRAMSIM3_HBM2} (IDD4W 500 - IDD3N 55) mA x 1.2 V = 534 mW / "
                "256 Gb/s = 2.09 pJ/bit, core only"
            ),
            "io_energy_pj_per_bit": (
                f"{_OCONNOR_HBM2}: of its 3.48 pJ/bit access, on-die data movement 1.17 + I/O "
                "0.80 = 1.97 pJ/bit (the array's 1.51 is the core figure's part)"
            ),
            "background_power_mw": (
                f"derived: {_DRAMSIM3_HBM2} IDD3N 55 mA x VDD 1.2 V = 66 mW + refresh "
                "(IDD5AB 250 - IDD3N 55) mA x 1.2 V x 260/3900 = 15.6 mW, taking the currents "
                "as per 128-bit channel (unconfirmed)"
            ),
            "standard": _DRAMSIM3_HBM2 + " (protocol = HBM)",
            "device_width_bits": _DRAMSIM3_HBM2 + " (device_width = 128)",
            "address_mapping": _MAPPING_SOURCE,
            **_CONTROLLER_SOURCES,
            "dual_command_bus": (
                "JEDEC JESD235 (HBM): separate row and column command buses, so a row and a "
                "column command can issue in one clock (DRAMsim3 hbm_dual_cmd, on for HBM)"
            ),
        },
    },
}
