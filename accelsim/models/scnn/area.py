"""SCNN chip area: the paper's PE area table (16 nm) scaled per unit, x the PE count."""

from __future__ import annotations

from ...area import AreaReport
from ...config import ArchConfig
from ..common.scnn_pe_area import scnn_pe_table


def scnn_area(cfg: ArchConfig) -> AreaReport:
    rep = scnn_pe_table(cfg, crossbar=True)
    rep.notes.append("SCNN paper PE table (16 nm) scaled per unit (crossbar ~ inputs x outputs, assumed); "
                     "reproduces 64 x 0.123 mm^2 = 7.9 mm^2 at the paper's config by construction")
    return rep
