"""Cambricon-X chip area: generic NFU rows plus 'other logic' from the published 6.38 mm^2 (65 nm)."""

from __future__ import annotations

from ...area import GENERIC, AreaReport, Builder, RefArea
from ...config import ArchConfig
from ..common.nfu import nfu_area_parts, nfu_area_rows

#: Cambricon-X published total [conf, abstract; accelerators doc section 4.1]
CAMBRICON_X_TOTAL = RefArea(6.38, "chip (16 PEs)", 65, "Cambricon-X MICRO 2016 abstract: 6.38 mm^2 at 65 nm")


def cambricon_x_area(cfg: ArchConfig) -> AreaReport:
    """Generic rows for multipliers, adder trees and buffers, plus 'other logic' (indexing module, control,
    NoC, wiring) = published 6.38 mm^2 minus those rows at the published config (16 x 16, 16-bit, the
    preset's buffer sizes), assumed to scale with the PE count (the IM has one selector per PE)."""
    b = nfu_area_rows(cfg, "paper")
    n = int(cfg["pe.count"])
    ref = Builder(cfg, "paper")
    ref.node = CAMBRICON_X_TOTAL.node_nm
    for name, key, count, basis in nfu_area_parts(16, 16, 16, 8192, 8192, 2048):  # the cambricon-x preset's values
        ref.add(name, GENERIC[key], count, basis)
    rest_per_pe = (CAMBRICON_X_TOTAL.area_mm2 - ref.rep.total_mm2) / 16
    b.add("other_logic", RefArea(rest_per_pe, "PE", CAMBRICON_X_TOTAL.node_nm,
                                 "Cambricon-X 6.38 mm^2 (65 nm) minus generic multipliers, adders and buffers, "
                                 "per PE (assumed split)"), n, "pe.count")
    b.rep.notes.append("only the 6.38 mm^2 total is published; the split into components is an assumption")
    return b.rep
