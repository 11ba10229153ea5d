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


class _Builder:
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
                                             basis, ref.source, ref.node_nm))

    def add_generic(self, name: str, key: str, count: float, basis: str):
        """A GENERIC row, or the energy table's own area row for ``key`` when it has one."""
        t = self.table()
        if t is not None and key in t.area:
            a, src = t.area[key]
            self.rep.components.append(Component(name, t.area_mm2(key) * count, count, key, basis,
                                                 f"energy table {t.name}: {src}", t.table_node_nm))
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
def _scnn(cfg: ArchConfig) -> AreaReport:
    b = _Builder(cfg, "paper")
    rows, rn = _get(cfg, "pe_rows", "pe.rows", default=8)
    cols, cn = _get(cfg, "pe_cols", "pe.cols", default=8)
    F, fn = _get(cfg, "multipliers.F", "F", default=4)
    I, in_ = _get(cfg, "multipliers.I", "I", default=4)
    banks, bn = _get(cfg, "accumulator.banks", "accum.banks", "banks", default=2 * F * I)
    entries, en = _get(cfg, "accumulator.entries", "accum.entries", "bank_entries", default=32)
    acc_bits, abn = _get(cfg, "accumulator.bits", "accum_bits", default=24)
    iaram, ian = _get(cfg, "iaram_bytes", "buffers.iaram_bytes", "iaram_kb", "buffers.iaram_kb", default=10240)
    oaram, oan = _get(cfg, "oaram_bytes", "buffers.oaram_bytes", "oaram_kb", "buffers.oaram_kb", default=10240)
    if "kb" in ian:
        iaram *= 1024
    if "kb" in oan:
        oaram *= 1024
    fifo, ffn = _get(cfg, "weight_fifo.entries", "weight_fifo_entries", "fifo_entries", default=50)
    pes = rows * cols
    fifo_bytes = fifo * (F * 16 + F * 4) / 8  # an entry = F weights x 16 b + F x 4-bit indices (section 2.1)
    acc_bytes = banks * entries * acc_bits * 2 / 8  # double-buffered
    per_pe = [("act_ram", iaram + oaram, f"{ian} + {oan}"), ("weight_fifo", fifo_bytes, f"{ffn} x F x 20 b"),
              ("multipliers", F * I, f"{fn} x {in_}"), ("crossbar", F * I * banks, f"({fn} x {in_}) x {bn}"),
              ("accumulators", acc_bytes, f"{bn} x {en} x {abn} x 2 (double-buffered)"), ("other", 1, "per PE")]
    for name, count, basis in per_pe:
        b.add(f"pe.{name}", SCNN_PE_16NM[name], count * pes, f"{basis}, x {rn} x {cn} PEs")
    b.rep.notes.append("SCNN paper PE table (16 nm) scaled per unit; reproduces 64 x 0.123 mm^2 = 7.9 mm^2 "
                       "at the paper's config by construction")
    return b.rep


def _eie(cfg: ArchConfig) -> AreaReport:
    b = _Builder(cfg, "paper")
    n, nn = _get(cfg, "n_pe", "pes", "num_pes", "pe_count", default=64)
    spmat, sn = _get(cfg, "spmat_bytes", "sram.spmat_bytes", "spmat_kb", "sram.spmat_kb", default=128 * 1024)
    ptr, pn = _get(cfg, "ptr_bytes", "sram.ptr_bytes", "ptr_kb", "sram.ptr_kb", default=32 * 1024)
    act, an = _get(cfg, "act_bytes", "sram.act_bytes", "act_kb", default=2 * 1024)
    q, qn = _get(cfg, "queue_depth", "act_queue_depth", "fifo_depth", default=8)
    spmat = spmat * 1024 if "kb" in sn else spmat
    ptr = ptr * 1024 if "kb" in pn else ptr
    act = act * 1024 if "kb" in an else act
    parts = [("spmat_sram", spmat, sn), ("ptr_sram", ptr, pn), ("act_rw", act, an), ("act_queue", q, qn),
             ("arithm", 1, "1 MAC per PE")]
    sub = 0.0
    for name, count, basis in parts:
        b.add(f"pe.{name}", EIE_PE_45NM[name], count * n, f"{basis}, x {nn} PEs")
        sub += b.rep.components[-1].area_mm2
    f = EIE_PE_45NM["filler"]
    b.rep.components.append(Component("pe.filler", sub * f.area_mm2, f.area_mm2, f.per, "fraction of PE blocks",
                                      f.source, f.node_nm))
    b.rep.notes.append("EIE Table II per-PE blocks (45 nm) scaled per unit; reproduces 64 x 0.638 = 40.8 mm^2 "
                       "at the paper's config by construction")
    return b.rep


def _cambricon_x(cfg: ArchConfig) -> AreaReport:
    b = _Builder(cfg, "paper")
    n, nn = _get(cfg, "n_pe", "pes", "num_pes", "Tn", default=16)
    tm, tn_ = _get(cfg, "multipliers_per_pe", "Tm", "macs_per_pe", default=16)
    bits, bbn = _get(cfg, "bits", "data_bits", default=16)
    nbin, nin = _get(cfg, "nbin_bytes", "buffers.nbin_bytes", default=8 * 1024)
    nbout, non = _get(cfg, "nbout_bytes", "buffers.nbout_bytes", default=8 * 1024)
    sb, sbn = _get(cfg, "sb_bytes", "buffers.sb_bytes", "sb_bytes_per_pe", default=2 * 1024)
    b.add_generic("pe.multipliers", mult_key(bits), n * tm, f"{nn} x {tn_} ({bbn}-bit)")
    b.add_generic("pe.adder_tree", add_key(2 * bits), n * tm, f"{nn} x {tn_} (tree of Tm-1 adders + accumulator)")
    b.add_generic("pe.synapse_buffer", "sram_byte", n * sb, f"{nn} x {sbn}")
    b.add_generic("nbin", "sram_byte", nbin, nin)
    b.add_generic("nbout", "sram_byte", nbout, non)
    # Unaccounted logic (indexing module, control, NoC, wiring): the published 6.38 mm^2 minus the generic rows
    # at the published config (16 PEs x 16 multipliers, 16-bit, buffer sizes as quoted), assumed to scale with
    # PE count (the IM has one selector per PE).  An assumption, not a published split.
    ref = _Builder(cfg, "paper")
    ref.node = CAMBRICON_X_TOTAL.node_nm
    ref.add("m", GENERIC[mult_key(16)], 256, "")
    ref.add("a", GENERIC[add_key(32)], 256, "")
    ref.add("s", GENERIC["sram_byte"], 16 * 2048 + 16384, "")
    rest_per_pe = (CAMBRICON_X_TOTAL.area_mm2 - ref.rep.total_mm2) / 16
    b.add("other_logic", RefArea(rest_per_pe, "PE", 65, "Cambricon-X 6.38 mm^2 (65 nm) minus generic multipliers, "
                                 "adders and buffers, per PE (assumed split)"), n, f"{nn} PEs")
    b.rep.notes.append("Cambricon-X: only the 6.38 mm^2 total is published; the split is an assumption")
    return b.rep


_FORMULAS: dict[str, Callable[[ArchConfig], AreaReport]] = {
    "scnn": _scnn,
    "eie": _eie,
    "cambricon-x": _cambricon_x,
    "cambricon_x": _cambricon_x,
}

# config fields the generic method reads: (multiplier-count fields, bit-width fields)
_BIT_FIELDS = ("bits", "data_bits", "precision_bits", "mult_bits", "weight_bits", "precision")
_BYTE_UNITS = {"bytes": 1, "B": 1, "byte": 1, "KB": 1024, "KiB": 1024, "kB": 1024, "MB": 1024 * 1024}


def _generic(cfg: ArchConfig, model=None) -> AreaReport:
    """Multipliers (the model's peak MACs per cycle) + every SRAM-sized config field + one adder per multiplier."""
    b = _Builder(cfg, "generic")
    if model is None:
        from .engine import make_model
        model = make_model(cfg)
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
    """Area report for a config (``ArchConfig``, preset name or path) or a model instance."""
    from .engine import AcceleratorModel, make_model
    if isinstance(arch, AcceleratorModel):
        model, cfg = arch, arch.cfg
    else:
        from .config import load_arch
        cfg = load_arch(arch)
    if model is None:
        model = make_model(cfg)
    own = type(model).area_mm2 is not AcceleratorModel.area_mm2
    if own:
        comps = model.area_mm2() or {}
        if comps:
            b = _Builder(cfg, "model")
            for k, v in comps.items():
                b.rep.components.append(Component(k, float(v), 1, "component", f"{type(model).__name__}.area_mm2()",
                                                  f"model {cfg.model} (see its docstring)", None))
            return b.rep
    f = _FORMULAS.get(cfg.model)
    if f is not None:
        return f(cfg)
    return _generic(cfg, model)


def area_mm2(arch, model=None) -> float:
    """Total area in mm^2 (see :func:`area_of`)."""
    return area_of(arch, model).total_mm2
