"""DCNN chip area: SCNN's PE area table (16 nm) without the scatter crossbar."""

from __future__ import annotations

from ...area import AreaReport
from ...config import ArchConfig
from ..common.scnn_pe_area import scnn_pe_table


def dcnn_area(cfg: ArchConfig) -> AreaReport:
    rep = scnn_pe_table(cfg, crossbar=False)
    rep.notes.append("DCNN: SCNN PE table without the scatter crossbar (dense products map to fixed "
                     "accumulators) and with the config's (2x) activation RAM; a third-party figure of 5.9 mm^2 "
                     "exists (accelerators doc 2.1), which this component sum does not reproduce")
    return rep
