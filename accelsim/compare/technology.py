"""One technology for every row of the compare table (``--normalize``).

The targets are published at different nodes (SCNN / DCNN 16 nm, EIE / systolic 45 nm, Cambricon-X /
DianNao / Eyeriss 65 nm), datapath widths (8-bit systolic array and Eyeriss v2, 16-bit others), DRAM
energies (0 to 162.5 pJ/byte) and clocks (200 MHz to 1 GHz).  Every simulated entry of compare.json
therefore carries

* ``technology`` -- the design point as published/configured (:meth:`accelsim.base.AcceleratorModel.technology`:
  node, supply, datapath bits, clock, on-chip SRAM bytes, area mm^2, energy table, DRAM pJ/byte) plus the
  DRAM bytes it moved per image;
* ``normalized`` -- with ``--normalize NODE`` (default 45 nm at 0.9 V): the same simulation's action
  counts priced with the target's energy table carried to that node
  (:meth:`accelsim.energy.EnergyTable.normalized`: Stillmaker & Baas 2017 energy fit per row from the
  row's published node and supply, one common DRAM energy per byte for every target, leakage rows kept),
  its area carried with the paper's area factors (:meth:`accelsim.area.AreaReport.total_at_node`), and
  inferences per second per mm^2 at that node.  Clocks stay as published (the fit's delay model is not
  applied), so throughput per mm^2 uses each target's own clock.

Targets with another datapath width get a re-simulated variant ``<preset>@16b`` (the model's
:meth:`~accelsim.base.AcceleratorModel.datapath_overrides`; their energy rows follow the width by
:data:`accelsim.energy.WIDTH_RULE`); the original-width rows stay in the table, labelled with their width.
"""

from __future__ import annotations

#: compare.csv columns added by this module
CSV_COLUMNS = ["normalize", "tech_node_nm", "tech_voltage_v", "datapath_bits", "clock_hz", "onchip_sram_bytes",
               "area_mm2", "dram_pJ_per_byte", "dram_bytes_per_image", "normalize_node_nm", "normalize_voltage_v",
               "energy_j_per_image_norm_avg", "area_mm2_norm", "dram_pJ_per_byte_norm",
               "inferences_per_s_per_mm2_norm"]


def datapath_variant(target: str, model, bits: int):
    """``(label, overrides)`` of the ``bits``-wide variant of ``model`` (``target@16b``); ``()`` when the
    model already has that width; None when it cannot change it."""
    ov = model.datapath_overrides(bits)
    if ov is None:
        return None
    return (f"{target}@{bits}b", ov) if ov else ()


def add_datapath_variants(target: str, base, settings, sims) -> list:
    """The ``(label, model)`` variants to simulate besides ``target`` when normalising: its 16-bit one
    (recorded in ``sims.datapath_overrides`` and ``sims.peaks``), or a note in ``sims.notes`` when the
    model's width is fixed at another value."""
    norm = settings.normalization
    if norm is None:
        return []
    v = datapath_variant(target, base, norm.datapath_bits)
    if v is None:
        sims.notes.append(f"{target}: {base.datapath_bits()}-bit datapath, fixed in the model (no "
                          f"{norm.datapath_bits}-bit variant)")
        return []
    if not v:
        return []
    from ..engine import make_model
    label, ov = v
    m = make_model(base.cfg, ov)
    sims.datapath_overrides[label] = ov
    sims.peaks[label] = m.peak_macs_per_cycle() * m.cfg.clock_hz
    return [(label, m)]


def _per_image_energy_j(rep, table) -> list[float]:
    by_img: dict[int, float] = {}
    for r in rep.results:
        by_img[r.image] = by_img.get(r.image, 0.0) + sum(table.rollup(r.actions).values()) * 1e-12
    return [by_img[k] for k in sorted(by_img)]


def entry_fields(rep, norm, latency_avg_s: float | None) -> dict:
    """``{"technology": ..., "normalized": ...}`` of one simulated entry (its Report ``rep``)."""
    from ..report import summary_stats
    model = rep.model
    n_img = max(1, len(rep.images) or len({r.image for r in rep.results}))
    tech = model.technology()
    tech["dram_bytes_per_image"] = sum(model.energy.dram_bytes(r.actions) for r in rep.results) / n_img
    tech["inferences_per_s_per_mm2"] = (1.0 / latency_avg_s / tech["area_mm2"]
                                        if latency_avg_s and tech["area_mm2"] else None)
    out = {"technology": tech, "normalized": None}
    if norm is None:
        return out
    table = model.energy.normalized(norm.node_nm, norm.voltage_v, norm.dram_pJ_per_byte, norm.dram_source)
    area = model.area().total_at_node(norm.node_nm)
    st = summary_stats(_per_image_energy_j(rep, table))
    by_action: dict[str, float] = {}
    for r in rep.results:
        for a, e in table.rollup(r.actions).items():
            by_action[a] = by_action.get(a, 0.0) + e / n_img
    out["normalized"] = {
        "node_nm": norm.node_nm, "voltage_v": norm.voltage_v, "datapath_bits": model.datapath_bits(),
        "energy_j_per_image": {k: st[k] for k in ("avg", "min", "max", "p50", "p99") if k in st},
        "energy_by_action_pJ_per_image": dict(sorted(by_action.items())),
        "area_mm2": area, "dram_pJ_per_byte": norm.dram_pJ_per_byte,
        "inferences_per_s_per_mm2": 1.0 / latency_avg_s / area if latency_avg_s and area else None,
        "energy_scale": table.normalization["energy_scale"], "area_scale": table.normalization["area_scale"],
        "clock_hz": float(model.cfg.clock_hz), "clock_note": "published clock (not node-scaled)"}
    return out


def add_technology(entries: list, sims, settings) -> dict:
    """Attach :func:`entry_fields` to every simulated entry; returns the run's ``normalization`` record
    (compare.json): the node and supply, the models cited, the common DRAM energy, the variants made,
    notes, and each target's normalised energy table (every row with its source and scaling)."""
    norm = settings.normalization
    tables = {}
    for e in entries:
        if e.get("kind") != "simulated":
            continue
        rep = sims.reports[(e["model"], e["target"])]
        e.update(entry_fields(rep, norm, (e.get("latency_s") or {}).get("avg")))
        e["technology"]["datapath_variant_of"] = e["target"].rsplit("@", 1)[0] if e["target"] in \
            sims.datapath_overrides else None
        if norm is not None and e["target"] not in tables:
            tables[e["target"]] = rep.model.energy.normalized(norm.node_nm, norm.voltage_v, norm.dram_pJ_per_byte,
                                                              norm.dram_source).dump()
    rec = {"normalize": settings.normalize, "datapath_variants": dict(sims.datapath_overrides),
           "notes": list(sims.notes)}
    if norm is not None:
        rec.update(norm.to_dict())
        rec["notes"] = rec["notes"] + NOTES
        rec["tables"] = tables
    return rec


NOTES = ["rows projected from 45 nm / 0.9 V by the first-order rule (scnn_16nm, the arithmetic rows of "
         "cambricon_x_65nm; derived_from in the tables) start from their published 45 nm value",
         "SRAM, wire (NoC, crossbar, clock) and logic rows all use the fit's device energy factor: the paper "
         "fits logic circuits, not arrays or wires (an approximation for those rows)",
         "leakage rows (cambricon_x_65nm SRAM standby) are kept at their 65 nm CACTI value: the fit has no "
         "leakage model",
         "clocks are the published ones (not node-scaled); inferences/s/mm^2 uses each target's own clock"]


# ------------------------------------------------------------------ tables
def _fmt_bytes(b) -> str:
    return "-" if b is None else (f"{b / 2 ** 20:.2f} MiB" if b >= 2 ** 20 else f"{b / 1024:.0f} KiB")


def tech_cell(e) -> str:
    """Compact technology of an entry for the markdown table ('-' for unsimulated rows)."""
    t = e.get("technology")
    if not t:
        return "-"
    return (f"{t['node_nm']:g} nm, {t['datapath_bits']} b, {t['clock_hz'] / 1e6:g} MHz, "
            f"{_fmt_bytes(t['onchip_sram_bytes'])}, {t['area_mm2']:.2f} mm^2")


def norm_cells(e) -> tuple[str, str]:
    """(energy uJ/image, inferences/s/mm^2) at the normalised node, '-' where there are none."""
    n = e.get("normalized")
    if not n:
        return "-", "-"
    en = n["energy_j_per_image"].get("avg")
    ips = n.get("inferences_per_s_per_mm2")
    return (f"{en * 1e6:.3f}" if en is not None else "-"), (f"{ips:.4g}" if ips else "-")


def header_cells(res) -> tuple[str, str]:
    n = res.get("normalization") or {}
    at = f"@{n['node_nm']:g} nm" if n.get("node_nm") else "(not normalised)"
    return f"energy uJ/image {at}", f"inf/s/mm^2 {at}"


def md_section(res) -> list[str]:
    """compare.md's technology section: what ``--normalize`` did and one line per target."""
    if "normalization" not in res:  # a result assembled elsewhere (no technology recorded)
        return []
    n = res["normalization"]
    targets = {}
    for e in res["entries"]:
        if e.get("technology") and e["target"] not in targets:
            targets[e["target"]] = e
    lines = ["", f"## Technology (--normalize {n.get('normalize', 'none')})", ""]
    if n.get("node_nm"):
        lines.append(
            f"Energies and areas are also given at **{n['node_nm']:g} nm, {n['voltage_v']:g} V** (the columns "
            f"marked @{n['node_nm']:g} nm): every per-action energy row is carried from its published node and "
            f"supply with Stillmaker & Baas (Integration 58, 2017) Table 5 energy fit (HP process), areas with "
            f"their area factors (full citations and every normalised row with its source in compare.json, "
            f"normalization.tables); DRAM costs "
            f"{n['dram_pJ_per_byte']:g} pJ/byte for every target ({n['dram_source']}; not node-scaled). "
            f"Datapath: {n['datapath_bits']}-bit; targets of another width also run as <preset>@{n['datapath_bits']}b "
            f"({WIDTH_NOTE}). The published-node numbers stay in the energy column and in compare.json. "
            + " ".join(f"Note: {x}." for x in n.get("notes", [])))
    else:
        lines.append("Published nodes only (--normalize none): the energy column mixes technologies.")
    head = ("| target | node nm | supply V | datapath bits | clock MHz | on-chip SRAM | area mm^2 | DRAM pJ/B | "
            "DRAM MB/image | energy table |")
    sep = "|---|---|---|---|---|---|---|---|---|---|"
    if n.get("node_nm"):
        head += f" area mm^2 @{n['node_nm']:g} nm | energy x (published -> {n['node_nm']:g} nm) |"
        sep += "---|---|"
    lines += ["", head, sep]
    for t, e in targets.items():
        tc = e["technology"]
        dram = tc.get("dram_pJ_per_byte")
        row = (f"| {t} | {tc['node_nm']:g} | {tc['voltage_v']:g} | {tc['datapath_bits']} | {tc['clock_hz'] / 1e6:g} | "
               f"{_fmt_bytes(tc['onchip_sram_bytes'])} | {tc['area_mm2']:.3f} | "
               f"{'-' if dram is None else f'{dram:g}'} | {tc['dram_bytes_per_image'] / 1e6:.3f} | "
               f"{tc['energy_table']} ({tc['table_node_nm']:g} nm) |")
        nn = e.get("normalized")
        if nn:
            sc = ", ".join(f"x{f:.3g} from {k}" for k, f in nn["energy_scale"].items())
            row += f" {nn['area_mm2']:.3f} | {sc or '-'} |"
        lines.append(row)
    return lines


WIDTH_NOTE = ("energy rows with data_bits follow the width: multiplier rows quadratically, storage and wire rows "
              "linearly in the bits moved")


def csv_fields(e, normalize: str) -> dict:
    """The :data:`CSV_COLUMNS` of one entry (the run's ``normalize`` on every line; the rest empty for
    unsimulated rows)."""
    t, n = e.get("technology") or {}, e.get("normalized") or {}
    return {"normalize": normalize, "tech_node_nm": t.get("node_nm"), "tech_voltage_v": t.get("voltage_v"),
            "datapath_bits": t.get("datapath_bits"), "clock_hz": t.get("clock_hz"),
            "onchip_sram_bytes": t.get("onchip_sram_bytes"), "area_mm2": t.get("area_mm2"),
            "dram_pJ_per_byte": t.get("dram_pJ_per_byte"), "dram_bytes_per_image": t.get("dram_bytes_per_image"),
            "normalize_node_nm": n.get("node_nm"), "normalize_voltage_v": n.get("voltage_v"),
            "energy_j_per_image_norm_avg": (n.get("energy_j_per_image") or {}).get("avg"),
            "area_mm2_norm": n.get("area_mm2"), "dram_pJ_per_byte_norm": n.get("dram_pJ_per_byte"),
            "inferences_per_s_per_mm2_norm": n.get("inferences_per_s_per_mm2")}
