"""Systolic-array chip area: generic multipliers + accumulators + SRAM (a lower bound)."""

from __future__ import annotations

from ...area import AreaReport, Builder, add_key, mult_key
from ...config import ArchConfig


def systolic_area(cfg: ArchConfig) -> AreaReport:
    b = Builder(cfg, "generic")
    n = int(cfg["array.height"]) * int(cfg["array.width"])
    bits = 8 * int(cfg["word_bytes"])
    b.add_generic("pe.multipliers", mult_key(bits), n, f"array.height x array.width ({bits}-bit)")
    b.add_generic("pe.accumulators", add_key(4 * bits), n, f"one {4 * bits}-bit accumulator per PE (assumed)")
    kb = cfg["sram.ifmap_kb"] + cfg["sram.filter_kb"] + cfg["sram.ofmap_kb"]
    b.add_generic("sram", "sram_byte", kb * 1024, "sram.ifmap_kb + filter_kb + ofmap_kb (KiB)")
    b.rep.notes.append("generic: multipliers + accumulators + SRAM; control and wiring not counted (lower bound)")
    return b.rep
