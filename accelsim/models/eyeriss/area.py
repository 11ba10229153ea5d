"""Chip area of Eyeriss v1 / v2 (generic densities; the project docs give no published Eyeriss area).

Multipliers and adders from Horowitz ISSCC 2014 and spads / GLB at the EIE SRAM density (45 nm), via
:data:`accelsim.area.GENERIC`, scaled to the config's node by :class:`accelsim.area.Builder`.
"""

from __future__ import annotations

from ...area import GENERIC, AreaReport, Builder, add_key, mult_key
from ...config import ArchConfig


def eyeriss_area(cfg: ArchConfig) -> AreaReport:
    """Eyeriss v1 / v2: PEs x SIMD MACs + spads (entries x entry bits) + GLB, generic densities."""
    b = Builder(cfg, "generic")
    cl = int(cfg["clusters.rows"]) * int(cfg["clusters.cols"])
    pes = cl * int(cfg["cluster.pe_rows"]) * int(cfg["cluster.pe_cols"])
    lanes = int(cfg["pe.simd_lanes"])
    compressed = bool(cfg.get("pe.compressed_spads"))
    wbits = int(cfg["bits.weight_entry"]) - (4 if compressed else 0)  # a CSC entry carries a 4-bit zero count
    psum_bits = 20 if compressed else 16  # v2: 20-bit psums (accelerators doc 5.1); v1: 16-bit (assumed)
    b.add("pe.macs", GENERIC[mult_key(wbits)], pes * lanes, f"PEs ({pes}) x pe.simd_lanes ({wbits}-bit operands)")
    b.add("pe.accumulators", GENERIC[add_key(psum_bits)], pes * lanes, f"one {psum_bits}-bit adder per MAC")
    spad_bits = (cfg["pe.iact_spad_entries"] * cfg["bits.iact_entry"] + cfg["pe.weight_spad_entries"] *
                 cfg["bits.weight_entry"] * lanes + cfg["pe.psum_spad_entries"] * psum_bits * lanes)
    if compressed:
        spad_bits += cfg["pe.iact_addr_entries"] * 4 + cfg["pe.weight_addr_entries"] * 7
    b.add("pe.spads", GENERIC["sram_byte"], pes * spad_bits / 8,
          "PEs x (iact + weight x lanes + psum x lanes [+ address] spad entries x bits)")
    glb = cl * (cfg["glb.iact_bytes_per_cluster"] + cfg["glb.psum_entries_per_cluster"] * psum_bits / 8)
    b.add("glb", GENERIC["sram_byte"], glb, "clusters x (glb.iact_bytes_per_cluster + psum entries x bits)")
    b.rep.notes.append("generic densities (spads counted at SRAM density: an underestimate for register files); "
                       "NoC, control and pads not counted -- a lower bound; no published area in the project docs")
    return b.rep
