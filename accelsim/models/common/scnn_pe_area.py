"""Area of SCNN-style PEs from the SCNN paper's PE area table (16 nm), shared by SCNN and its dense
baseline DCNN (which has the same PE without the scatter crossbar).

Published totals are reproduced at the paper's config *by construction* (the per-component areas
scaled by unit counts); see :mod:`accelsim.area` for the builder and node scaling.
"""

from __future__ import annotations

from ...area import AreaReport, Builder, RefArea
from ...config import ArchConfig

#: SCNN PE components at 16 nm [paper table, accelerators doc section 2.1; PE total 0.123 mm^2, 64 PEs 7.9 mm^2]
SCNN_PE_16NM = {
    "act_ram": RefArea(0.031 / (20 * 1024), "byte", 16, "SCNN PE table: IARAM+OARAM 20 KB = 0.031 mm^2"),
    "weight_fifo": RefArea(0.004 / 500, "byte", 16, "SCNN PE table: weight FIFO 0.5 KB = 0.004 mm^2"),
    "multipliers": RefArea(0.008 / 16, "multiplier", 16, "SCNN PE table: 16 multipliers = 0.008 mm^2"),
    "crossbar": RefArea(0.026 / (16 * 32), "crosspoint", 16,
                        "SCNN PE table: 16x32 scatter crossbar = 0.026 mm^2, per crosspoint (assumed ~ in x out)"),
    "accumulators": RefArea(0.036 / 6144, "byte", 16,
                            "SCNN PE table: accumulator buffers 6 KB (32 banks x 32 x 24 b x 2) = 0.036 mm^2"),
    "other": RefArea(0.018, "PE", 16, "SCNN PE table: other (PPU, control) 0.018 mm^2 per PE, held fixed"),
}


def scnn_pe_table(cfg: ArchConfig, crossbar: bool) -> AreaReport:
    """SCNN (and, without the scatter crossbar, DCNN) from the SCNN paper's PE area table (16 nm)."""
    b = Builder(cfg, "paper")
    rows, cols = int(cfg["pe_rows"]), int(cfg["pe_cols"])
    F, I = int(cfg["multipliers.F"]), int(cfg["multipliers.I"])
    banks, entries, acc_bits = int(cfg["accumulator.banks"]), int(cfg["accumulator.entries"]), \
        int(cfg["accumulator.bits"])
    vb, ib = int(cfg.get("value_bits", 16)), int(cfg.get("index_bits", 4))
    pes = rows * cols
    fifo_bytes = int(cfg["weight_fifo.entries"]) * F * (vb + ib) / 8  # an entry = F values + F indices
    acc_bytes = banks * entries * acc_bits * 2 / 8  # double-buffered
    per_pe = [("act_ram", cfg["iaram_bytes"] + cfg["oaram_bytes"], "iaram_bytes + oaram_bytes"),
              ("weight_fifo", fifo_bytes, "weight_fifo.entries x F x (value_bits + index_bits) / 8"),
              ("multipliers", F * I, "multipliers.F x multipliers.I")]
    if crossbar:
        per_pe.append(("crossbar", F * I * banks, "(F x I) inputs x accumulator.banks outputs"))
    per_pe += [("accumulators", acc_bytes, "accumulator.banks x entries x bits x 2 (double-buffered) / 8"),
               ("other", 1, "per PE")]
    for name, count, basis in per_pe:
        b.add(f"pe.{name}", SCNN_PE_16NM[name], count * pes, f"{basis}, x pe_rows x pe_cols ({pes} PEs)")
    return b.rep
