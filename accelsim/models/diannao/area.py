"""DianNao chip area: the generic NFU rows shared with Cambricon-X (a lower bound)."""

from __future__ import annotations

from ...area import AreaReport
from ...config import ArchConfig
from ..common.nfu import nfu_area_rows


def diannao_area(cfg: ArchConfig) -> AreaReport:
    b = nfu_area_rows(cfg, "generic")
    b.rep.notes.append("generic rows only (multipliers, adder trees, buffers): control and wiring are not "
                       "counted, so this is a lower bound and not comparable with the Cambricon-X total")
    return b.rep
