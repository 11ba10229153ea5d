"""Per-action energy (and area) tables, Accelergy-ERT style, with provenance on every row.

A table is ``accelsim/energy_tables/<name>.yaml``::

    name: eie_45nm
    node_nm: 45
    voltage_v: 0.9
    description: ...
    actions:
      mac_16b:         {energy_pJ: 1.0,  width_bits: 16, source: "Horowitz ISSCC 2014 (16b mult interpolated)"}
      spmat_read_64b:  {energy_pJ: 10.0, width_bits: 64, source: "..."}
    area:              # optional, mm^2 per instance at node_nm
      multiplier_16b:  {area_mm2: 0.00028, source: "..."}

Technology scaling (documented rule, applied when a config's ``tech_node_nm`` or
``voltage_v`` differs from the table's): dynamic energy E = C V^2 with switched
capacitance proportional to feature size, so

    E(node, V) = E_table * (node / node_table) * (V / V_table)^2
    A(node)    = A_table * (node / node_table)^2

This is the first-order (Dennard) rule; below ~22 nm it overestimates the
savings of scaling, which the report states next to any scaled table.  Rows marked
``node_scaled: false`` (off-chip DRAM) keep their table energy at any node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


from .errors import ConfigError

TABLE_DIR = Path(__file__).parent / "energy_tables"  # shared tables; models add their own (registry)

SCALING_RULE = ("E = E_table * (node/node_table) * (V/V_table)^2; A = A_table * (node/node_table)^2 "
                "(first-order Dennard scaling; optimistic below ~22 nm)")


@dataclass(frozen=True)
class Row:
    action: str
    energy_pJ: float
    width_bits: int | None
    source: str
    node_scaled: bool = True  # False for off-chip rows (DRAM): the chip's node does not change them


class EnergyTable:
    """Energy per action (pJ) after technology scaling; ``dump()`` is the ERT recorded in reports."""

    def __init__(self, name: str, rows: dict[str, Row], node_nm: float, voltage_v: float, scale_e: float,
                 area: dict[str, tuple[float, str]], scale_a: float, table_node_nm: float, table_voltage_v: float,
                 description: str = "", file: str | None = None):
        self.name, self.rows, self.node_nm, self.voltage_v = name, rows, node_nm, voltage_v
        self.scale_e, self.area, self.scale_a = scale_e, area, scale_a
        self.table_node_nm, self.table_voltage_v = table_node_nm, table_voltage_v
        self.description, self.file = description, file

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

    def dump(self) -> dict:
        return {
            "name": self.name, "file": self.file, "description": self.description,
            "table_node_nm": self.table_node_nm, "table_voltage_v": self.table_voltage_v,
            "node_nm": self.node_nm, "voltage_v": self.voltage_v,
            "energy_scale": self.scale_e, "area_scale": self.scale_a, "scaling_rule": SCALING_RULE,
            "actions": {a: {"energy_pJ": self.energy_pJ(a), "table_energy_pJ": r.energy_pJ,
                            "width_bits": r.width_bits, "node_scaled": r.node_scaled, "source": r.source}
                        for a, r in sorted(self.rows.items())},
            "area": {c: {"area_mm2": v * self.scale_a, "source": s} for c, (v, s) in sorted(self.area.items())},
        }


def list_tables() -> list[str]:
    """Every energy table: accelsim's shared ones and each model package's ``energy_tables/``."""
    from .registry import table_files
    return sorted(table_files())


def load_table(name: str, node_nm: float | None = None, voltage_v: float | None = None) -> EnergyTable:
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
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ConfigError(f"must be a finite number > 0, got {v!r}", file=f, field=k)
    tnode, tvolt = float(data["node_nm"]), float(data["voltage_v"])
    for k, v in (("node_nm", node_nm), ("voltage_v", voltage_v)):  # the config's values
        if v is not None and not (math.isfinite(float(v)) and float(v) > 0):
            raise ConfigError(f"must be a finite number > 0, got {v!r}", field=k)
    rows = {}
    for a, r in data["actions"].items():
        if not isinstance(r, dict) or "energy_pJ" not in r or not r.get("source"):
            raise ConfigError("each action needs energy_pJ and a source", file=f, field=f"actions.{a}")
        e = r["energy_pJ"]
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not math.isfinite(e) or e < 0:
            raise ConfigError(f"energy_pJ must be a finite number >= 0, got {e!r}", file=f, field=f"actions.{a}")
        ns = r.get("node_scaled", True)
        if not isinstance(ns, bool):
            raise ConfigError(f"node_scaled must be true or false, got {ns!r}", file=f, field=f"actions.{a}")
        rows[a] = Row(a, float(e), r.get("width_bits"), str(r["source"]), ns)
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
                       area, (node / tnode) ** 2, tnode, tvolt, data.get("description", ""), f)


def table_for(cfg) -> EnergyTable:
    """The energy table a config names, scaled to its tech node and voltage.  A table given as a file
    name is resolved relative to the config file that names it, and may not climb out of its folder."""
    name = cfg["energy_table"]
    if str(name).endswith((".yaml", ".yml")):
        from .config import resolve_relative
        name = str(resolve_relative(str(name), cfg.file, "energy_table"))
    try:
        return load_table(name, cfg.get("tech_node_nm"), cfg.get("voltage_v"))
    except ConfigError as e:
        if e.file:
            raise
        raise ConfigError(e.reason, file=cfg.file, field=e.field or "energy_table") from None  # name the config
