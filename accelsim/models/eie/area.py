"""EIE chip area from the paper's Table II per-PE blocks (45 nm), scaled per unit to the config."""

from __future__ import annotations

from ...area import UM2, AreaReport, Builder, Component, RefArea
from ...config import ArchConfig

#: EIE per-PE blocks at 45 nm [paper Table II, accelerators doc section 3.1; PE total 638,024 um^2]
EIE_PE_45NM = {
    "spmat_sram": RefArea(469412 * UM2 / (128 * 1024), "byte", 45, "EIE Table II: SpmatRead 469,412 um^2 / 128 KB"),
    "ptr_sram": RefArea(121849 * UM2 / (32 * 1024), "byte", 45, "EIE Table II: PtrRead 121,849 um^2 / 32 KB"),
    "act_rw": RefArea(18934 * UM2 / (2 * 1024), "byte", 45, "EIE Table II: ActRW 18,934 um^2 / 2 KB activations"),
    "act_queue": RefArea(758 * UM2 / 8, "entry", 45, "EIE Table II: Act_queue 758 um^2 / 8 entries"),
    "arithm": RefArea(3110 * UM2, "MAC unit", 45, "EIE Table II: ArithmUnit 3,110 um^2"),
    "filler": RefArea(23961 / (638024 - 23961), "fraction", 45,
                      "EIE Table II: filler 23,961 um^2, scaled as a fraction of the other blocks (assumed)"),
}


def eie_area(cfg: ArchConfig) -> AreaReport:
    b = Builder(cfg, "paper")
    n = int(cfg["n_pe"])
    q = int(cfg["fifo_depth"]) + 1  # ring slots = NZFETCH_buffersize = entries held + 1 (the preset's 7 -> 8)
    # Spmat / Ptr / Act SRAM sizes are not config fields: the paper's 128 / 32 / 2 KB per PE
    parts = [("spmat_sram", 128 * 1024, "paper: 128 KB Spmat per PE"), ("ptr_sram", 32 * 1024, "paper: 32 KB Ptr"),
             ("act_rw", 2 * 1024, "paper: 2 KB Act"), ("act_queue", q, "fifo_depth + 1 ring slots"),
             ("arithm", 1, "1 MAC per PE")]
    sub = 0.0
    for name, count, basis in parts:
        b.add(f"pe.{name}", EIE_PE_45NM[name], count * n, f"{basis}, x n_pe ({n})")
        sub += b.rep.components[-1].area_mm2
    f = EIE_PE_45NM["filler"]
    b.rep.components.append(Component("pe.filler", sub * f.area_mm2, f.area_mm2, f.per, "fraction of PE blocks",
                                      f.source, f.node_nm))
    b.rep.notes.append("EIE Table II per-PE blocks (45 nm) scaled per unit; reproduces 64 x 0.638 = 40.8 mm^2 "
                       "at the paper's config by construction")
    return b.rep
