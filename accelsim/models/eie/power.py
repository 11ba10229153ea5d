"""EIE paper Table II power per PE by block, and the model's power per PE by the same blocks
(the energy calibration shown by ``accelsim validate eie``)."""

from __future__ import annotations

PAPER_TABLE_II_MW = {  # per PE, 800 MHz, 45 nm [paper Table II]
    "Act_queue": 0.112, "PtrRead": 1.807, "SpmatRead": 4.955, "ArithmUnit": 1.162, "ActRW": 1.122,
}
PAPER_TOTAL_MW = 9.157
BLOCK_OF_ACTION = {
    "fifo_write_32b": "Act_queue", "fifo_read_32b": "Act_queue",
    "ptr_sram_read_16b": "PtrRead", "spmat_sram_read_64b": "SpmatRead",
    "mac_16b": "ArithmUnit", "codebook_read_16b": "ArithmUnit",
    "act_rf_read_16b": "ActRW", "act_rf_write_16b": "ActRW", "act_sram_read_16b": "ActRW",
    "act_sram_write_16b": "ActRW", "pe_clock_cycle": "clock (spread over blocks)",
}


def power_per_pe_mW(actions: dict, cycles: int, cfg, table) -> dict:
    """Modelled power per PE (mW) by Table II block, from action counts over ``cycles``."""
    t_s = cycles / cfg.clock_hz
    out: dict[str, float] = {}
    for a, n in actions.items():
        blk = BLOCK_OF_ACTION.get(a, "SpmatRead" if a.startswith("spmat") else a)
        out[blk] = out.get(blk, 0.0) + n * table.energy_pJ(a) * 1e-12 / t_s / cfg["n_pe"] * 1e3
    return out
