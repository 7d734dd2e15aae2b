"""DRAM preset tables: one value and one source string per DramConfig field.

Only plain data lives here (no imports from the model), so the tables can be read, diffed and
cited on their own. `accelsim.config.dram.dram_preset` turns an entry into a validated DramConfig.

Conventions
-----------
- Timing values are in DRAM clock cycles (tCK); tREFI and tRFC too (tREFI = 7.8 us / tCK, ...).
- `row_size_bytes` is the row (page) of one channel-wide rank: all devices that answer a burst
  together, e.g. eight x8 DDR4 devices of 1 KB each = 8 KB.
- `activate_energy_pj` is one activate + precharge pair on that channel-wide row.
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
_OCONNOR_HBM2 = "O'Connor et al., Fine-Grained DRAM, MICRO 2017, HBM2 figures as quoted (REFERENCES.md)"

DEFAULT_ADDRESS_MAPPING = "RoRaBaCoBgCh"
_MAPPING_SOURCE = "accelsim default: bank group interleaved per burst (see dram_presets docstring)"

# The controller in front of every preset's channels (DRAMsim3's configs all use these).
_CONTROLLER_VALUES = {"queue_depth": 32, "write_buffer_depth": 32, "page_policy": "open"}
_CONTROLLER_SOURCES = {
    "queue_depth": "DRAMsim3 configs/*.ini trans_queue_size = 32 (per channel)",
    "write_buffer_depth": (
        "DRAMsim3 src/controller.cc: a write buffer of trans_queue_size, drained whole when full"
    ),
    "page_policy": "DRAMsim3 configs/*.ini row_buf_policy = OPEN_PAGE",
}

PRESETS = {
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
            "io_energy_pj_per_bit": 0.0,
            "background_power_mw": 584.5,
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
            "io_energy_pj_per_bit": (
                "estimate: 0, no primary DDR4 I/O (termination) figure was read; the read/write "
                "figures exclude I/O, so set this to include it"
            ),
            "background_power_mw": (
                f"derived: {_DRAMSIM3_DDR4} IDD3N 52 mA x VDD 1.2 V x 8 devices = 499.2 mW, "
                "+ refresh (IDD5AB 250 - IDD3N 52) mA x 1.2 V x tRFC/tREFI (560/12480) x 8 = "
                "85.3 mW; VPP not included"
            ),
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
            "activate_energy_pj": 0.0,
            "read_energy_pj_per_bit": 8.0,
            "write_energy_pj_per_bit": 8.0,
            "io_energy_pj_per_bit": 0.0,
            "background_power_mw": 40.0,
            "address_mapping": DEFAULT_ADDRESS_MAPPING,
            **_CONTROLLER_VALUES,
        },
        "sources": {
            "channels": "accelsim default: one 32-bit channel (Ramulator LPDDR4 channel_width = 32)",
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
                f"0: {_ACCELERGY_LPDDR4} is an all-in average per bit, activation included"
            ),
            "read_energy_pj_per_bit": _ACCELERGY_LPDDR4,
            "write_energy_pj_per_bit": _ACCELERGY_LPDDR4,
            "io_energy_pj_per_bit": f"0: included in the {_ACCELERGY_LPDDR4} figure",
            "background_power_mw": (
                "estimate: ~40 mW per 32-bit channel, scaled from the LPDDR3-1600 x32 active "
                "standby currents in gem5 src/mem/DRAMInterface.py (IDD3N 2 mA at 1.8 V + "
                "IDD3N2 34 mA at 1.2 V = 44 mW); no LPDDR4 current table was read"
            ),
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
            "activate_energy_pj": 909.0,
            "read_energy_pj_per_bit": 3.48,
            "write_energy_pj_per_bit": 3.48,
            "io_energy_pj_per_bit": 0.0,
            "background_power_mw": 81.6,
            "address_mapping": DEFAULT_ADDRESS_MAPPING,
            **_CONTROLLER_VALUES,
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
            "activate_energy_pj": f"{_OCONNOR_HBM2}: activate 0.909 nJ",
            "read_energy_pj_per_bit": f"{_OCONNOR_HBM2}: read/write 3.48 pJ/bit",
            "write_energy_pj_per_bit": f"{_OCONNOR_HBM2}: read/write 3.48 pJ/bit",
            "io_energy_pj_per_bit": (
                "0: the 3.48 pJ/bit access figure is taken as the whole per-bit cost "
                "(its I/O share is unconfirmed; Accelergy's table gives 3.9 pJ/bit all-in)"
            ),
            "background_power_mw": (
                f"derived: {_DRAMSIM3_HBM2} IDD3N 55 mA x VDD 1.2 V = 66 mW + refresh "
                "(IDD5AB 250 - IDD3N 55) mA x 1.2 V x 260/3900 = 15.6 mW, taking the currents "
                "as per 128-bit channel (unconfirmed)"
            ),
            "address_mapping": _MAPPING_SOURCE,
            **_CONTROLLER_SOURCES,
        },
    },
}
