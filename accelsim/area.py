"""Chip area per architecture config, per component, with provenance, scaled to the config's node.

Three methods, tried in this order (the report says which one was used):

1. ``model``   -- the model class defines ``area_mm2()`` returning {component: mm^2}: used as is.
2. ``paper``   -- a per-model formula built from the accelerator's published area table and the
                  config's fields (SCNN PE table, accelerators doc section 2.1, 16 nm; EIE per-PE Table II,
                  section 3.1, 45 nm; Cambricon-X 6.38 mm^2 at 65 nm, split by assumption, section 4.1).
3. ``generic`` -- multipliers x multiplier area + on-chip SRAM bytes x area per byte + adders, from
                  :data:`GENERIC` (Horowitz ISSCC 2014 and EIE Table II, 45 nm), for models without 1 or 2.

Reference areas are given at their own node and scaled with the first-order rule of
:mod:`accelsim.energy` (``A = A_ref * (node / node_ref)^2``; :data:`accelsim.energy.SCALING_RULE`).
When the config's energy table has an ``area`` row for a component (e.g. ``int_mult_8b``), that row
(already scaled by :meth:`EnergyTable.area_mm2`) is used instead of :data:`GENERIC`.

Published totals are reproduced at the published configs *by construction* (the formulas are the
published per-component areas scaled by unit counts), so they are not a validation of the area model;
what the formulas add is how area moves when a sweep changes multipliers, banks or buffer sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .config import ArchConfig
from .energy import SCALING_RULE

UM2 = 1e-6  # mm^2 per um^2


@dataclass(frozen=True)
class RefArea:
    """A reference area: ``area_mm2`` per ``per`` at ``node_nm``, with its source."""

    area_mm2: float
    per: str
    node_nm: float
    source: str


#: generic per-unit areas for method 3 (and the parts of method 2 that a paper does not give)
GENERIC: dict[str, RefArea] = {
    "int_mult_8b": RefArea(282 * UM2, "multiplier", 45, "Horowitz ISSCC 2014, 8-bit int multiply 282 um^2"),
    "int_mult_16b": RefArea(993 * UM2, "multiplier", 45,
                            "geometric interpolation between Horowitz 8-bit (282 um^2) and 32-bit (3495 um^2)"),
    "int_mult_32b": RefArea(3495 * UM2, "multiplier", 45, "Horowitz ISSCC 2014, 32-bit int multiply 3495 um^2"),
    "int_add_8b": RefArea(36 * UM2, "adder", 45, "Horowitz ISSCC 2014, 8-bit int add 36 um^2"),
    "int_add_16b": RefArea(67 * UM2, "adder", 45, "Horowitz ISSCC 2014, 16-bit int add 67 um^2"),
    "int_add_32b": RefArea(137 * UM2, "adder", 45, "Horowitz ISSCC 2014, 32-bit int add 137 um^2"),
    # EIE Table II: SpmatRead block 469,412 um^2 holds the 128 KB Spmat SRAM -> 3667 um^2/KB at 45 nm.
    # (SCNN's 20 KB IARAM+OARAM at 16 nm, 0.031 mm^2, scales to ~3.3x this per KB: small SRAMs are less dense.)
    "sram_byte": RefArea(469412 * UM2 / (128 * 1024), "byte", 45,
                         "EIE Table II (45 nm): SpmatRead 469,412 um^2 for the 128 KB Spmat SRAM, per byte"),
}

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

#: Cambricon-X published total [conf, abstract; accelerators doc section 4.1]
CAMBRICON_X_TOTAL = RefArea(6.38, "chip (16 PEs)", 65, "Cambricon-X MICRO 2016 abstract: 6.38 mm^2 at 65 nm")


@dataclass
class Component:
    name: str
    area_mm2: float
    count: float
    unit: str
    basis: str  # which config fields / formula
    source: str
    ref_node_nm: float | None = None


@dataclass
class AreaReport:
    model: str
    node_nm: float
    method: str  # "model" | "paper" | "generic"
    components: list[Component] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def total_mm2(self) -> float:
        return float(sum(c.area_mm2 for c in self.components))

    def to_dict(self) -> dict:
        return {"model": self.model, "node_nm": self.node_nm, "method": self.method, "total_mm2": self.total_mm2,
                "scaling_rule": SCALING_RULE, "notes": list(self.notes),
                "components": [{"name": c.name, "area_mm2": c.area_mm2, "count": c.count, "unit": c.unit,
                                "basis": c.basis, "source": c.source, "ref_node_nm": c.ref_node_nm}
                               for c in self.components]}


class Builder:
    """Adds components, scaling each reference area to the config's node."""

    def __init__(self, cfg: ArchConfig, method: str):
        self.cfg = cfg
        self.node = float(cfg.get("tech_node_nm") or 45.0)
        self.rep = AreaReport(cfg.model, self.node, method)
        self._table = None

    def scale(self, ref_node: float) -> float:
        return (self.node / ref_node) ** 2

    def add(self, name: str, ref: RefArea, count: float, basis: str):
        self.rep.components.append(Component(name, ref.area_mm2 * self.scale(ref.node_nm) * count, count, ref.per,
                                             basis, ref.source, float(ref.node_nm)))

    def add_generic(self, name: str, key: str, count: float, basis: str):
        """A GENERIC row, or the energy table's own area row for ``key`` when it has one."""
        t = self.table()
        if t is not None and key in t.area:
            a, src = t.area[key]
            self.rep.components.append(Component(name, t.area_mm2(key) * count, count, key, basis,
                                                 f"energy table {t.name}: {src}", float(t.table_node_nm)))
        else:
            self.add(name, GENERIC[key], count, basis)

    def table(self):
        if self._table is None:
            try:
                from .energy import table_for
                self._table = table_for(self.cfg)
            except Exception:  # area must not fail because an energy table is missing
                self._table = False
        return self._table or None


def _get(cfg: ArchConfig, *names, default=None):
    """First of ``names`` present in the config, and which one (for the provenance string)."""
    for n in names:
        if n in cfg:
            return cfg[n], n
    return default, f"assumed {default}"


def mult_key(bits: int) -> str:
    return "int_mult_8b" if bits <= 8 else ("int_mult_16b" if bits <= 16 else "int_mult_32b")


def add_key(bits: int) -> str:
    return "int_add_8b" if bits <= 8 else ("int_add_16b" if bits <= 16 else "int_add_32b")


# ------------------------------------------------------------------ per-model formulas
def _scnn_pe_table(cfg: ArchConfig, crossbar: bool) -> AreaReport:
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


def _scnn(cfg: ArchConfig) -> AreaReport:
    rep = _scnn_pe_table(cfg, crossbar=True)
    rep.notes.append("SCNN paper PE table (16 nm) scaled per unit (crossbar ~ inputs x outputs, assumed); "
                     "reproduces 64 x 0.123 mm^2 = 7.9 mm^2 at the paper's config by construction")
    return rep


def _dcnn(cfg: ArchConfig) -> AreaReport:
    rep = _scnn_pe_table(cfg, crossbar=False)
    rep.notes.append("DCNN: SCNN PE table without the scatter crossbar (dense products map to fixed "
                     "accumulators) and with the config's (2x) activation RAM; a third-party figure of 5.9 mm^2 "
                     "exists (accelerators doc 2.1), which this component sum does not reproduce")
    return rep


def _eie(cfg: ArchConfig) -> AreaReport:
    b = Builder(cfg, "paper")
    n = int(cfg["n_pe"])
    q = int(cfg["fifo_depth"]) + 1  # the preset's depth 7 is the paper's 8-entry ring (see the eie preset)
    # Spmat / Ptr / Act SRAM sizes are not config fields: the paper's 128 / 32 / 2 KB per PE
    parts = [("spmat_sram", 128 * 1024, "paper: 128 KB Spmat per PE"), ("ptr_sram", 32 * 1024, "paper: 32 KB Ptr"),
             ("act_rw", 2 * 1024, "paper: 2 KB Act"), ("act_queue", q, "fifo_depth + 1 entries"),
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


def _cx_parts(n, tm, bits, nbin, nbout, sb) -> list[tuple[str, str, float, str]]:
    return [("pe.multipliers", mult_key(bits), n * tm, f"pe.count x pe.multipliers ({bits}-bit)"),
            ("pe.adder_tree", add_key(2 * bits), n * tm, "pe.count x pe.multipliers (Tm-1 tree adders + 1 accumulator)"),
            ("pe.synapse_buffer", "sram_byte", n * sb, "pe.count x sb.bytes_per_pe"),
            ("nbin", "sram_byte", nbin, "nbin.bytes"), ("nbout", "sram_byte", nbout, "nbout.bytes")]


def _cx_rows(cfg: ArchConfig, method: str) -> Builder:
    """Cambricon-X / DianNao generic rows from the shared field names (pe.count, pe.multipliers, ...)."""
    b = Builder(cfg, method)
    for name, key, count, basis in _cx_parts(int(cfg["pe.count"]), int(cfg["pe.multipliers"]), int(cfg["data.bits"]),
                                             cfg["nbin.bytes"], cfg["nbout.bytes"], cfg["sb.bytes_per_pe"]):
        b.add(name, GENERIC[key], count, basis)
    return b


def _cambricon_x(cfg: ArchConfig) -> AreaReport:
    """Generic rows for multipliers, adder trees and buffers, plus 'other logic' (indexing module, control,
    NoC, wiring) = published 6.38 mm^2 minus those rows at the published config (16 x 16, 16-bit, the
    preset's buffer sizes), assumed to scale with the PE count (the IM has one selector per PE)."""
    b = _cx_rows(cfg, "paper")
    n = int(cfg["pe.count"])
    ref = Builder(cfg, "paper")
    ref.node = CAMBRICON_X_TOTAL.node_nm
    for name, key, count, basis in _cx_parts(16, 16, 16, 8192, 8192, 2048):  # the cambricon-x preset's values
        ref.add(name, GENERIC[key], count, basis)
    rest_per_pe = (CAMBRICON_X_TOTAL.area_mm2 - ref.rep.total_mm2) / 16
    b.add("other_logic", RefArea(rest_per_pe, "PE", CAMBRICON_X_TOTAL.node_nm,
                                 "Cambricon-X 6.38 mm^2 (65 nm) minus generic multipliers, adders and buffers, "
                                 "per PE (assumed split)"), n, "pe.count")
    b.rep.notes.append("only the 6.38 mm^2 total is published; the split into components is an assumption")
    return b.rep


def _diannao(cfg: ArchConfig) -> AreaReport:
    b = _cx_rows(cfg, "generic")
    b.rep.notes.append("generic rows only (multipliers, adder trees, buffers): control and wiring are not "
                       "counted, so this is a lower bound and not comparable with the Cambricon-X total")
    return b.rep


def _eyeriss(cfg: ArchConfig) -> AreaReport:
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


def _systolic(cfg: ArchConfig) -> AreaReport:
    b = Builder(cfg, "generic")
    n = int(cfg["array.height"]) * int(cfg["array.width"])
    bits = 8 * int(cfg["word_bytes"])
    b.add_generic("pe.multipliers", mult_key(bits), n, f"array.height x array.width ({bits}-bit)")
    b.add_generic("pe.accumulators", add_key(4 * bits), n, f"one {4 * bits}-bit accumulator per PE (assumed)")
    kb = cfg["sram.ifmap_kb"] + cfg["sram.filter_kb"] + cfg["sram.ofmap_kb"]
    b.add_generic("sram", "sram_byte", kb * 1024, "sram.ifmap_kb + filter_kb + ofmap_kb (KiB)")
    b.rep.notes.append("generic: multipliers + accumulators + SRAM; control and wiring not counted (lower bound)")
    return b.rep


_FORMULAS: dict[str, Callable[[ArchConfig], AreaReport]] = {
    "scnn": _scnn,
    "dcnn": _dcnn,
    "eie": _eie,
    "cambricon-x": _cambricon_x,
    "diannao": _diannao,
    "eyeriss-v1": _eyeriss,
    "eyeriss-v2": _eyeriss,
    "systolic": _systolic,
}

# config fields the generic method reads: (multiplier-count fields, bit-width fields)
_BIT_FIELDS = ("bits", "data_bits", "precision_bits", "mult_bits", "weight_bits", "precision")
_BYTE_UNITS = {"bytes": 1, "B": 1, "byte": 1, "KB": 1024, "KiB": 1024, "kB": 1024, "MB": 1024 * 1024}


def generic_area(cfg: ArchConfig, model) -> AreaReport:
    """Multipliers (the model's peak MACs per cycle) + every SRAM-sized config field + one adder per multiplier."""
    b = Builder(cfg, "generic")
    try:
        mults = int(model.peak_macs_per_cycle())
    except NotImplementedError:
        mults = 0
    bits, bn = _get(cfg, *_BIT_FIELDS, default=16)
    try:
        bits = int(bits)
    except (TypeError, ValueError):
        bits, bn = 16, "assumed 16"
    if mults:
        b.add_generic("multipliers", mult_key(bits), mults, f"peak_macs_per_cycle ({bn}-bit)")
        b.add_generic("accumulators", add_key(2 * bits), mults, "one adder per multiplier (assumed)")
    pes = _pe_count(cfg)
    for key, unit in sorted(cfg.units.items()):
        if unit in _BYTE_UNITS and key in cfg:
            v = cfg[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            per_pe = _is_per_pe(key, model)
            count = float(v) * _BYTE_UNITS[unit] * (pes if per_pe else 1)
            basis = f"{key} ({unit})" + (f" x {pes} PEs" if per_pe else "")
            b.add_generic(f"sram.{key}", "sram_byte", count, basis)
    b.rep.notes.append("generic: multipliers x multiplier area + SRAM bytes x EIE SRAM density + adders "
                       "(logic, NoC and control not counted: a lower bound)")
    return b.rep


def _pe_count(cfg) -> int:
    for a, c in (("pe_rows", "pe_cols"), ("array.rows", "array.cols"), ("rows", "cols"), ("pe.rows", "pe.cols")):
        if a in cfg and c in cfg:
            return int(cfg[a]) * int(cfg[c])
    for k in ("n_pe", "pes", "num_pes", "pe_count", "n_pes"):
        if k in cfg:
            return int(cfg[k])
    return 1


def _is_per_pe(key: str, model) -> bool:
    f = getattr(type(model), "FIELDS", {}).get(key)
    doc = (getattr(f, "doc", "") or "").lower()
    return "per pe" in doc or "per-pe" in doc or "pe." in key or "spad" in key or "per_pe" in key


def area_of(arch, model=None) -> AreaReport:
    """Area report for a config (``ArchConfig``, preset name or path) or a model instance: the model's
    own :meth:`accelsim.base.AcceleratorModel.area`."""
    if model is None and hasattr(arch, "simulate_layer"):
        model = arch
    if model is None:
        from .config import load_arch
        from .registry import get_model_class
        cfg = load_arch(arch)
        model = get_model_class(cfg.model)(cfg)
    f = _FORMULAS.get(model.cfg.model)  # TRANSITIONAL: formulas move into the model packages
    owns = any("area" in c.__dict__ for c in type(model).__mro__ if c.__module__ != "accelsim.base")
    if f is not None and not owns and not model.area_mm2():
        return f(model.cfg)
    return model.area()


def area_mm2(arch, model=None) -> float:
    """Total area in mm^2 (see :func:`area_of`)."""
    return area_of(arch, model).total_mm2
