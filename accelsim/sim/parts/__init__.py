"""The accelerator's parts, each a SimPy `Server`: banked SRAM, the PRNG regeneration unit and
the compute units (PE array, update unit). The DRAM channels live with the DRAM model."""
