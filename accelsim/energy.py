"""Per-action energy (and area) tables, Accelergy-ERT style, with provenance on every row.

A table is ``accelsim/energy_tables/<name>.yaml``::

    name: eie_45nm
    node_nm: 45
    voltage_v: 0.9
    datapath_bits: 16   # optional: the operand width the rows are for (rows with data_bits follow it)
    description: ...
    derived_from: {node_nm: 45, voltage_v: 0.9}   # optional default of the rows' derived_from
    actions:
      mac_16b:         {energy_pJ: 1.0,  width_bits: 16, kind: mult, data_bits: 16, source: "Horowitz ISSCC 2014"}
      spmat_read_64b:  {energy_pJ: 10.0, width_bits: 64, kind: sram, source: "..."}
      dram_byte:       {energy_pJ: 160,  width_bits: 8,  kind: dram, node_scaled: false, source: "..."}
    area:              # optional, mm^2 per instance at node_nm
      multiplier_16b:  {area_mm2: 0.00028, source: "..."}

Row metadata used by technology normalisation (:meth:`EnergyTable.normalized`):

* ``kind`` -- ``mult`` (multiplier / MAC), ``logic``, ``sram``, ``wire`` (NoC, crossbar, clock network),
  ``leakage`` (standby energy per byte per ns) or ``dram`` (off chip).  Default: ``dram`` for a row
  with ``node_scaled: false``, else ``logic``.
* ``data_bits`` -- how many of the row's ``width_bits`` are datapath values (the rest: indices,
  guard bits); only such rows change with the datapath width (:data:`WIDTH_RULE`).
* ``derived_from`` -- ``{node_nm, voltage_v}``: the row is a value published at that node and supply,
  carried to the table's node with the first-order rule below.  Normalisation starts from the
  published value (the first-order factor divided back out), not from the projection.

Technology scaling of a config (documented rule, applied when a config's ``tech_node_nm`` or
``voltage_v`` differs from the table's): dynamic energy E = C V^2 with switched capacitance
proportional to feature size, so

    E(node, V) = E_table * (node / node_table) * (V / V_table)^2
    A(node)    = A_table * (node / node_table)^2

This is the first-order (Dennard) rule; below ~22 nm it overestimates the savings of scaling, which
the report states next to any scaled table.  Rows marked ``node_scaled: false`` (off-chip DRAM) keep
their table energy at any node.  The rule is kept for the configs (their published numbers); the
cross-design normalisation of ``accelsim compare --normalize`` uses the fitted model of
Stillmaker & Baas instead (:func:`sb_energy_scale`, :func:`sb_area_scale`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import ConfigError

TABLE_DIR = Path(__file__).parent / "energy_tables"  # shared tables; models add their own (registry)

SCALING_RULE = ("E = E_table * (node/node_table) * (V/V_table)^2; A = A_table * (node/node_table)^2 "
                "(first-order Dennard scaling; optimistic below ~22 nm)")

#: row kinds (see the module docstring)
ROW_KINDS = ("mult", "logic", "sram", "wire", "leakage", "dram")

WIDTH_RULE = ("datapath width W -> W': mult rows x (W'/W)^2 (Horowitz ISSCC 2014 45 nm int multiply 8 b 0.2 pJ, "
              "32 b 3.1 pJ: exponent 1.98); other rows x (width_bits - data_bits + data_bits W'/W) / width_bits "
              "(energy per bit moved, the rule the tables use for access widths); rows without data_bits "
              "(indices, addresses, clock) unchanged")


@dataclass(frozen=True)
class Row:
    action: str
    energy_pJ: float
    width_bits: int | None
    source: str
    node_scaled: bool = True  # False for off-chip rows (DRAM): the chip's node does not change them
    kind: str = "logic"
    data_bits: int | None = None
    derived_from: tuple[float, float] | None = None  # (node_nm, voltage_v) the row was projected from


class EnergyTable:
    """Energy per action (pJ) after technology scaling; ``dump()`` is the ERT recorded in reports."""

    def __init__(self, name: str, rows: dict[str, Row], node_nm: float, voltage_v: float, scale_e: float,
                 area: dict[str, tuple[float, str]], scale_a: float, table_node_nm: float, table_voltage_v: float,
                 description: str = "", file: str | None = None, *, datapath_bits: int | None = None,
                 table_datapath_bits: int | None = None, normalization: dict | None = None):
        self.name, self.rows, self.node_nm, self.voltage_v = name, rows, node_nm, voltage_v
        self.scale_e, self.area, self.scale_a = scale_e, area, scale_a
        self.table_node_nm, self.table_voltage_v = table_node_nm, table_voltage_v
        self.description, self.file = description, file
        self.datapath_bits, self.table_datapath_bits = datapath_bits, table_datapath_bits
        self.normalization = normalization  # set on tables made by normalized()

    def __contains__(self, action: str) -> bool:
        return action in self.rows

    def energy_pJ(self, action: str) -> float:
        try:
            r = self.rows[action]
            return r.energy_pJ * (self.scale_e if r.node_scaled else 1.0)
        except KeyError:
            raise ConfigError(f"action {action!r} has no row in energy table {self.name!r}", file=self.file,
                              field="actions") from None

    def area_mm2(self, component: str) -> float:
        try:
            return self.area[component][0] * self.scale_a
        except KeyError:
            raise ConfigError(f"component {component!r} has no area row in table {self.name!r}", file=self.file,
                              field="area") from None

    def rollup(self, actions: dict[str, float]) -> dict[str, float]:
        """pJ per action: count x energy per action."""
        return {a: float(n) * self.energy_pJ(a) for a, n in actions.items() if n}

    def dram_pJ_per_byte(self) -> float | None:
        """Energy of one off-chip byte (the first ``dram`` row, per its width); None: the table has none."""
        for a, r in sorted(self.rows.items()):
            if r.kind == "dram" and r.width_bits:
                return self.energy_pJ(a) * 8.0 / r.width_bits
        return None

    def dram_bytes(self, actions: dict[str, float]) -> float:
        """Off-chip bytes moved by ``actions`` (counts of ``dram`` rows x their width)."""
        return float(sum(float(n) * (self.rows[a].width_bits or 0) / 8.0 for a, n in actions.items()
                         if a in self.rows and self.rows[a].kind == "dram"))

    def normalized(self, node_nm: float, voltage_v: float, dram_pJ_per_byte: float | None = None,
                   dram_source: str = "") -> EnergyTable:
        """This table carried to ``node_nm`` / ``voltage_v`` with the Stillmaker & Baas model (HP process
        at 45 nm and below), row by row from each row's published point (``derived_from``, else the
        table's node and supply).  ``dram`` rows become ``dram_pJ_per_byte`` per byte (not node-scaled);
        ``leakage`` rows are kept (no leakage model in the fit: stated in ``normalization``).  Areas
        scale with the paper's area factors.  The result is a table at the new node whose every row says
        how it was obtained."""
        rows, seen = {}, {}
        for a, r in self.rows.items():
            if r.kind == "dram":
                if dram_pJ_per_byte is None:
                    rows[a] = r
                    continue
                e = dram_pJ_per_byte * (r.width_bits or 8) / 8.0
                rows[a] = replace(r, energy_pJ=e, node_scaled=False, derived_from=None,
                                  source=f"common DRAM energy {dram_pJ_per_byte:g} pJ/byte x {r.width_bits or 8} "
                                         f"bits ({dram_source}); was {r.energy_pJ:g} pJ: {r.source}")
                continue
            if r.kind == "leakage" or not r.node_scaled:
                rows[a] = replace(r, source=f"{r.source}; kept at {self.table_node_nm:g} nm (no leakage "
                                            f"scaling in Stillmaker & Baas 2017)")
                continue
            pub_node, pub_v = r.derived_from or (self.table_node_nm, self.table_voltage_v)
            pub_e = r.energy_pJ
            how = ""
            if r.derived_from:
                first = (self.table_node_nm / pub_node) * (self.table_voltage_v / pub_v) ** 2
                pub_e = r.energy_pJ / first
                how = f"{r.energy_pJ:g} pJ / first-order x{first:.5g} = {pub_e:.5g} pJ at {pub_node:g} nm {pub_v:g} V, "
            f = sb_energy_scale(pub_node, pub_v, node_nm, voltage_v)
            seen[(pub_node, pub_v)] = f
            rows[a] = replace(r, energy_pJ=pub_e * f, derived_from=None,
                              source=f"{r.source}; normalised: {how}x{f:.5g} ({pub_node:g} nm {pub_v:g} V -> "
                                     f"{node_nm:g} nm {voltage_v:g} V, {SB_ENERGY_SHORT})")
        fa = sb_area_scale(self.table_node_nm, node_nm)
        area = {c: (v * fa, f"{s}; x{fa:.4g} {self.table_node_nm:g} -> {node_nm:g} nm ({SB_AREA_SHORT})")
                for c, (v, s) in self.area.items()}
        norm = {"from_node_nm": self.table_node_nm, "from_voltage_v": self.table_voltage_v,
                "node_nm": node_nm, "voltage_v": voltage_v,
                "energy_scale": {f"{n:g} nm {v:g} V": f for (n, v), f in sorted(seen.items())},
                "area_scale": fa, "dram_pJ_per_byte": dram_pJ_per_byte, "dram_source": dram_source,
                "leakage_rows_kept": sorted(a for a, r in self.rows.items() if r.kind == "leakage"),
                "energy_model": SB_ENERGY_CITE, "area_model": SB_AREA_CITE}
        return EnergyTable(f"{self.name}@{node_nm:g}nm", rows, node_nm, voltage_v, 1.0, area, 1.0, node_nm,
                           voltage_v, self.description, self.file, datapath_bits=self.datapath_bits,
                           table_datapath_bits=self.table_datapath_bits, normalization=norm)

    def dump(self) -> dict:
        d = {
            "name": self.name, "file": self.file, "description": self.description,
            "table_node_nm": self.table_node_nm, "table_voltage_v": self.table_voltage_v,
            "node_nm": self.node_nm, "voltage_v": self.voltage_v,
            "energy_scale": self.scale_e, "area_scale": self.scale_a, "scaling_rule": SCALING_RULE,
            "actions": {a: {"energy_pJ": self.energy_pJ(a), "table_energy_pJ": r.energy_pJ,
                            "width_bits": r.width_bits, "node_scaled": r.node_scaled, "source": r.source}
                        for a, r in sorted(self.rows.items())},
            "area": {c: {"area_mm2": v * self.scale_a, "source": s} for c, (v, s) in sorted(self.area.items())},
        }
        if self.datapath_bits != self.table_datapath_bits:
            d.update(datapath_bits=self.datapath_bits, table_datapath_bits=self.table_datapath_bits,
                     width_rule=WIDTH_RULE)
        if self.normalization:
            d["normalization"] = self.normalization
        return d


def list_tables() -> list[str]:
    """Every energy table: accelsim's shared ones and each model package's ``energy_tables/``."""
    from .registry import table_files
    return sorted(table_files())


def _positive(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def _derived(v, f, field):
    if v is None:
        return None
    if not isinstance(v, dict) or set(v) != {"node_nm", "voltage_v"} or not all(_positive(x) for x in v.values()):
        raise ConfigError(f"derived_from must be {{node_nm: N, voltage_v: V}} (both > 0), got {v!r}", file=f,
                          field=field)
    return float(v["node_nm"]), float(v["voltage_v"])


def _row(a, r, f, table_derived) -> Row:
    field = f"actions.{a}"
    if not isinstance(r, dict) or "energy_pJ" not in r or not r.get("source"):
        raise ConfigError("each action needs energy_pJ and a source", file=f, field=field)
    e = r["energy_pJ"]
    if isinstance(e, bool) or not isinstance(e, (int, float)) or not math.isfinite(e) or e < 0:
        raise ConfigError(f"energy_pJ must be a finite number >= 0, got {e!r}", file=f, field=field)
    kind = r.get("kind")
    ns = r.get("node_scaled", kind != "dram")
    if not isinstance(ns, bool):
        raise ConfigError(f"node_scaled must be true or false, got {ns!r}", file=f, field=field)
    kind = kind if kind is not None else ("logic" if ns else "dram")
    if kind not in ROW_KINDS:
        raise ConfigError(f"kind must be one of {', '.join(ROW_KINDS)}, got {kind!r}", file=f, field=field)
    w, db = r.get("width_bits"), r.get("data_bits")
    for k, v in (("width_bits", w), ("data_bits", db)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise ConfigError(f"{k} must be an integer >= 0, got {v!r}", file=f, field=field)
    if db is not None and (not w or db > w):
        raise ConfigError(f"data_bits ({db}) must be <= width_bits ({w}) and width_bits > 0", file=f, field=field)
    der = _derived(r["derived_from"], f, field) if "derived_from" in r else table_derived
    if kind in ("dram", "leakage"):
        der = None
    return Row(a, float(e), w, str(r["source"]), ns, kind, db, der)


def _width_scaled(r: Row, bits: int, table_bits: int) -> Row:
    """``r`` for a ``bits``-wide datapath (the table's rows are for ``table_bits``): :data:`WIDTH_RULE`."""
    if r.data_bits is None or bits == table_bits:
        return r
    f = bits / table_bits
    if r.kind == "mult":
        s, w = f * f, r.width_bits
    else:
        w = r.width_bits - r.data_bits + r.data_bits * f
        s = w / r.width_bits
    return replace(r, energy_pJ=r.energy_pJ * s, width_bits=int(round(w)), data_bits=int(round(r.data_bits * f)),
                   source=f"{r.source}; x{s:.4g} for a {bits}-bit datapath (table rows: {table_bits}-bit; "
                          f"{'quadratic in width' if r.kind == 'mult' else 'linear in bits moved'})")


def load_table(name: str, node_nm: float | None = None, voltage_v: float | None = None,
               datapath_bits: int | None = None) -> EnergyTable:
    """The table ``name`` (or a YAML path) at ``node_nm`` / ``voltage_v`` (first-order rule; None: the
    table's own) and, when the table declares its ``datapath_bits``, with its rows carried to a
    ``datapath_bits``-wide datapath (:data:`WIDTH_RULE`; None: the table's width)."""
    if str(name).endswith((".yaml", ".yml")):
        path = Path(name)
    else:
        from .registry import table_files
        path = table_files().get(str(name), TABLE_DIR / f"{name}.yaml")
    f = str(path)
    if not path.exists():
        raise ConfigError(f"unknown energy table {name!r} (tables: {', '.join(list_tables())})", field="energy_table")
    from .yamlio import load_yaml_file
    data = load_yaml_file(path)
    if not isinstance(data, dict) or not isinstance(data.get("actions"), dict):
        raise ConfigError("an energy table needs an 'actions' mapping", file=f, field="actions")
    for k in ("node_nm", "voltage_v"):
        v = data.get(k)
        if not _positive(v):
            raise ConfigError(f"must be a finite number > 0, got {v!r}", file=f, field=k)
    tnode, tvolt = float(data["node_nm"]), float(data["voltage_v"])
    for k, v in (("node_nm", node_nm), ("voltage_v", voltage_v)):  # the config's values
        if v is not None and not (math.isfinite(float(v)) and float(v) > 0):
            raise ConfigError(f"must be a finite number > 0, got {v!r}", field=k)
    tbits = data.get("datapath_bits")
    if tbits is not None and (isinstance(tbits, bool) or not isinstance(tbits, int) or tbits < 1):
        raise ConfigError(f"must be an integer >= 1, got {tbits!r}", file=f, field="datapath_bits")
    table_derived = _derived(data.get("derived_from"), f, "derived_from")
    rows = {a: _row(a, r, f, table_derived) for a, r in data["actions"].items()}
    bits = tbits
    if tbits is not None and datapath_bits is not None and int(datapath_bits) != tbits:
        bits = int(datapath_bits)
        rows = {a: _width_scaled(r, bits, tbits) for a, r in rows.items()}
    area = {}
    for c, r in (data.get("area") or {}).items():
        if not isinstance(r, dict) or "area_mm2" not in r or not r.get("source"):
            raise ConfigError("each area row needs area_mm2 and a source", file=f, field=f"area.{c}")
        v = r["area_mm2"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ConfigError(f"area_mm2 must be a finite number >= 0, got {v!r}", file=f, field=f"area.{c}")
        area[c] = (float(v), str(r["source"]))
    node = tnode if node_nm is None else float(node_nm)
    volt = tvolt if voltage_v is None else float(voltage_v)
    return EnergyTable(data.get("name", path.stem), rows, node, volt, (node / tnode) * (volt / tvolt) ** 2,
                       area, (node / tnode) ** 2, tnode, tvolt, data.get("description", ""), f,
                       datapath_bits=bits, table_datapath_bits=tbits)


def table_for(cfg, datapath_bits: int | None = None) -> EnergyTable:
    """The energy table a config names, scaled to its tech node and voltage (and to ``datapath_bits``
    when the table declares its width).  A table given as a file name is resolved relative to the
    config file that names it, and may not climb out of its folder."""
    name = cfg["energy_table"]
    if str(name).endswith((".yaml", ".yml")):
        from .config import resolve_relative
        name = str(resolve_relative(str(name), cfg.file, "energy_table"))
    try:
        return load_table(name, cfg.get("tech_node_nm"), cfg.get("voltage_v"), datapath_bits)
    except ConfigError as e:
        if e.file:
            raise
        raise ConfigError(e.reason, file=cfg.file, field=e.field or "energy_table") from None  # name the config


# ---------------------------------------------------------------- cross-node normalisation
#: Stillmaker & Baas, "Scaling equations for the accurate prediction of CMOS device performance from
#: 180 nm to 7 nm", Integration, the VLSI Journal 58 (2017) 74-81, doi:10.1016/j.vlsi.2017.02.002.
SB_PAPER = ("Stillmaker & Baas, 'Scaling equations for the accurate prediction of CMOS device performance from "
            "180 nm to 7 nm', Integration 58 (2017) 74-81")
SB_ENERGY_CITE = (f"{SB_PAPER}, Table 5 energy fit E(V) = a2 V^2 + a1 V + a0 (HP process at 45 nm and below), "
                  "ratio of the two nodes' fits as in the Sec. 4.2.1 example (Eqs. 12-14, corrigendum)")
SB_AREA_CITE = f"{SB_PAPER}, area scaling-factor table"
SB_ENERGY_SHORT = "Stillmaker & Baas 2017, Table 5 energy fit"  # in each normalised row's source
SB_AREA_SHORT = "Stillmaker & Baas 2017 area factors"

#: (a2, a1, a0) of the energy-per-operation fit E(V) per node (nm); 45 nm and below: the HP (high
#: performance, PTM/ITRS HP) process.  Transcribed from the paper's Table 5 as given in the MIT-licensed
#: nodeScale tool (UCLA NanoCAD, github.com/wromaszkan/nodeScale); the 65 nm and HP 32 nm rows are the
#: ones the authors' corrigendum uses (65 nm: 3.755, -4.398, 1.975; HP32: 0.8367, -0.4341, 0.1701).
SB_ENERGY: dict[int, tuple[float, float, float]] = {
    180: (0.0, 24.64, -17.98), 130: (7.171, -6.709, 2.904), 90: (4.762, -4.781, 2.092),
    65: (3.755, -4.398, 1.975), 45: (1.018, -0.3107, 0.1539), 32: (0.8367, -0.4341, 0.1701),
    20: (0.373, -0.1582, 0.04104), 16: (0.2958, -0.1241, 0.03024), 14: (0.2363, -0.09675, 0.02239),
    10: (0.2068, -0.09311, 0.02375), 7: (0.1776, -0.09097, 0.02447),
}

#: area factors: ``SB_AREA[s][d]`` multiplies an area at node s to give it at node d (the paper's table,
#: two significant digits; transcribed as in nodeScale, and matching the 130-7 nm rows of a second
#: independent transcription).  Its two entries of a pair are reciprocal to rounding; :func:`sb_area_scale`
#: uses the one >= 1 for both directions so that a round trip is the identity.
SB_AREA: dict[int, dict[int, float]] = {
    180: {180: 1, 130: 0.34, 90: 0.15, 65: 0.08, 45: 0.053, 32: 0.025,
         20: 0.011, 16: 0.01, 14: 0.0093, 10: 0.0055, 7: 0.0032},
    130: {180: 2.9, 130: 1, 90: 0.44, 65: 0.23, 45: 0.16, 32: 0.072,
         20: 0.033, 16: 0.03, 14: 0.027, 10: 0.016, 7: 0.0092},
    90: {180: 6.6, 130: 2.3, 90: 1, 65: 0.53, 45: 0.35, 32: 0.16,
         20: 0.075, 16: 0.067, 14: 0.061, 10: 0.036, 7: 0.021},
    65: {180: 12, 130: 4.3, 90: 1.9, 65: 1, 45: 0.66, 32: 0.31,
         20: 0.14, 16: 0.13, 14: 0.12, 10: 0.068, 7: 0.039},
    45: {180: 19, 130: 6.4, 90: 2.8, 65: 1.5, 45: 1, 32: 0.46,
         20: 0.21, 16: 0.19, 14: 0.17, 10: 0.1, 7: 0.059},
    32: {180: 40, 130: 14, 90: 6.1, 65: 3.3, 45: 2.2, 32: 1,
         20: 0.46, 16: 0.41, 14: 0.38, 10: 0.22, 7: 0.13},
    20: {180: 88, 130: 30, 90: 13, 65: 7.1, 45: 4.7, 32: 2.2,
         20: 1, 16: 0.89, 14: 0.82, 10: 0.48, 7: 0.28},
    16: {180: 99, 130: 34, 90: 15, 65: 7.9, 45: 5.3, 32: 2.4,
         20: 1.1, 16: 1, 14: 0.91, 10: 0.54, 7: 0.31},
    14: {180: 110, 130: 37, 90: 16, 65: 8.7, 45: 5.8, 32: 2.7,
         20: 1.2, 16: 1.1, 14: 1, 10: 0.59, 7: 0.34},
    10: {180: 180, 130: 63, 90: 28, 65: 15, 45: 9.8, 32: 4.5,
         20: 2.1, 16: 1.9, 14: 1.7, 10: 1, 7: 0.58},
    7: {180: 320, 130: 110, 90: 48, 65: 25, 45: 17, 32: 7.8,
         20: 3.6, 16: 3.2, 14: 2.9, 10: 1.7, 7: 1},
}

#: the one off-chip energy every target gets when normalised (not node-scaled: an interface, not logic)
COMMON_DRAM_PJ_PER_BYTE = 160.0
COMMON_DRAM_SOURCE = ("EIE Table I (Han et al., ISCA 2016), from Horowitz ISSCC 2014: 640 pJ per 32-bit DRAM "
                      "access = 20 pJ/bit")


def _node_key(node_nm: float, what: str) -> int:
    n = float(node_nm)
    for k in SB_ENERGY:
        if abs(n - k) < 1e-9:
            return k
    raise ConfigError(f"no {SB_PAPER.split(',')[0]} {what} data for {n:g} nm (nodes: "
                      f"{', '.join(str(k) for k in sorted(SB_ENERGY))})", field="normalize")


def sb_energy_factor(node_nm: float, voltage_v: float) -> float:
    """E(V) of the Stillmaker & Baas energy fit at ``node_nm`` (unitless; only ratios mean anything)."""
    a2, a1, a0 = SB_ENERGY[_node_key(node_nm, "energy")]
    v = float(voltage_v)
    e = a2 * v * v + a1 * v + a0
    if not e > 0:
        raise ConfigError(f"the {node_nm:g} nm energy fit is not positive at {v:g} V (outside its range)",
                          field="normalize")
    return e


def sb_energy_scale(from_nm: float, from_v: float, to_nm: float, to_v: float) -> float:
    """Factor carrying an energy per operation from (``from_nm``, ``from_v``) to (``to_nm``, ``to_v``)."""
    return sb_energy_factor(to_nm, to_v) / sb_energy_factor(from_nm, from_v)


def sb_area_scale(from_nm: float, to_nm: float) -> float:
    """Factor carrying an area from ``from_nm`` to ``to_nm`` (:data:`SB_AREA`, the entry >= 1 of the pair)."""
    s, d = _node_key(from_nm, "area"), _node_key(to_nm, "area")
    up = SB_AREA[s][d]
    return up if up >= 1 else 1.0 / SB_AREA[d][s]


@dataclass(frozen=True)
class Normalization:
    """Where ``accelsim compare --normalize`` puts every target: one node and supply, one datapath width,
    one off-chip energy."""

    node_nm: float
    voltage_v: float = 0.9
    datapath_bits: int = 16
    dram_pJ_per_byte: float = COMMON_DRAM_PJ_PER_BYTE
    dram_source: str = COMMON_DRAM_SOURCE

    @property
    def label(self) -> str:
        return f"{self.node_nm:g}nm@{self.voltage_v:g}V"

    def to_dict(self) -> dict:
        return {"node_nm": self.node_nm, "voltage_v": self.voltage_v, "datapath_bits": self.datapath_bits,
                "dram_pJ_per_byte": self.dram_pJ_per_byte, "dram_source": self.dram_source,
                "energy_model": SB_ENERGY_CITE, "area_model": SB_AREA_CITE, "width_rule": WIDTH_RULE}


#: supply of the normalised node when ``--normalize`` names none: that of the Horowitz 45 nm figures
#: (ISSCC 2014, 0.9 V) most tables here start from
DEFAULT_NORMALIZE_V = 0.9


def parse_normalize(text) -> Normalization | None:
    """``"45nm"``, ``"45"``, ``"16nm@0.8V"`` -> :class:`Normalization`; ``"none"`` -> None.  ValueError
    (one line) on anything else or a node without Stillmaker & Baas data."""
    if isinstance(text, Normalization) or text is None:
        return text
    s = str(text).strip().lower().replace(" ", "")
    if s == "none":
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(?:nm)?(?:@(\d+(?:\.\d+)?)v?)?", s)
    if not m:
        raise ValueError(f"expected NODE (e.g. 45nm), NODE@VOLTS (45nm@0.9V) or none, got {text!r}")
    node, volt = float(m.group(1)), float(m.group(2) or DEFAULT_NORMALIZE_V)
    try:
        _node_key(node, "energy")
        sb_energy_factor(node, volt)
    except ConfigError as e:
        raise ValueError(e.reason) from None
    return Normalization(node, volt)
