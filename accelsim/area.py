"""Chip area per architecture config, per component, with provenance, scaled to the config's node.

Every model owns its area (:meth:`accelsim.base.AcceleratorModel.area`); this module gives them the
pieces and the fallback.  The report says which method was used:

1. ``paper``   -- the model's formula built from the accelerator's published area table and the
                  config's fields (SCNN PE table, 16 nm, in ``models/common/scnn_pe_area.py``; EIE
                  per-PE Table II, 45 nm, ``models/eie/area.py``; Cambricon-X 6.38 mm^2 at 65 nm, split by
                  assumption, ``models/cambricon_x/area.py``).
2. ``model``   -- the model's ``area_mm2()`` returns {component: mm^2}, used as is.
3. ``generic`` -- multipliers x multiplier area + on-chip SRAM bytes x area per byte + adders, from
                  :data:`GENERIC` (Horowitz ISSCC 2014 and EIE Table II, 45 nm): :func:`generic_area`,
                  the default for models with neither.

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

from .config import ArchConfig
from .energy import SCALING_RULE, sb_area_scale

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

    def total_at_node(self, node_nm: float) -> float:
        """Total area carried to ``node_nm`` with the Stillmaker & Baas area factors
        (:func:`accelsim.energy.sb_area_scale`), each component from its reference node (the first-order
        factor that brought it to this report's node divided out)."""
        tot = 0.0
        for c in self.components:
            ref = c.ref_node_nm or self.node_nm
            tot += c.area_mm2 / (self.node_nm / ref) ** 2 * sb_area_scale(ref, node_nm)
        return tot

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
    return model.area()


def area_mm2(arch, model=None) -> float:
    """Total area in mm^2 (see :func:`area_of`)."""
    return area_of(arch, model).total_mm2
