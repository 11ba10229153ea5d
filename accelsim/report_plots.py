"""Plots of one simulation report (``report.json`` of ``accelsim simulate --out``).

The figures users of accelerator simulators expect (ZigZag / AccelForge / SCALE-Sim), drawn from
the report alone, so any saved run can be plotted later (``accelsim plot report.json``):

* ``cycle_breakdown.png`` -- cycles of each layer by cause (the model's breakdown keys), stacked;
* ``energy_breakdown.png`` -- energy of each layer by action (the energy table's rows), stacked;
* ``utilization.png`` -- per layer: actual MACs / (cycles x peak MACs per cycle) and the
  effectual share of the algorithmic (dense) MACs;
* ``per_image.png`` -- distribution over the images of latency and energy per image (empirical
  CDF with p50 / p90 / p99): the input-dependent part a dynamic network adds;
* ``roofline.png`` -- per layer, achieved MAC/s against MACs per off-chip byte, with the compute
  ceiling (peak MACs/cycle x clock) and, where the model has one, the bandwidth ceiling; one
  point for the effectual and one for the algorithmic MACs of each layer.  Off-chip bytes come
  from the actions whose energy-table row is a DRAM row (``dram*``: count x width).

Layers are summed over images; the ``top`` layers by cycles are drawn and the rest merged into
one bar.  All files are written atomically.
"""

from __future__ import annotations

import numpy as np

from .plotting import save_png
from .report import summary_stats

PLOTS = ("cycle_breakdown", "energy_breakdown", "utilization", "per_image", "roofline")


_LAYER_NUMBERS = ("cycles", "latency_s", "energy_j", "macs_dense", "macs_effectual", "macs_actual")
#: what per_layer sums over images (and _top over the merged layers)
_SUMMED = (*_LAYER_NUMBERS, "dram_bytes")


def _bad(field: str, reason: str):
    from .errors import AccelsimError
    return AccelsimError(f"field {field!r}: {reason}")


def _number(v, field: str, optional: bool = False):
    if v is None and optional:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        raise _bad(field, f"must be a finite number, got {v!r}")


def _numbers(d, field: str):
    if not isinstance(d, dict):
        raise _bad(field, f"must be an object of numbers, got {type(d).__name__}")
    for k, v in d.items():
        _number(v, f"{field}.{k}")


def check_report(report) -> None:
    """Raise an AccelsimError naming the first field the plots read that is missing or malformed,
    so that a hand-edited or truncated report.json gives one line and no half-written folder."""
    if not isinstance(report, dict):
        from .errors import AccelsimError
        raise AccelsimError(f"not an accelsim simulate report (a JSON {type(report).__name__}, not an object)")
    for k in ("layers", "total", "per_image", "arch", "workload"):
        if k not in report:
            raise _bad(k, "missing (not an accelsim simulate report)")
    for k in ("total", "arch", "workload"):
        if not isinstance(report[k], dict):
            raise _bad(k, f"must be an object, got {type(report[k]).__name__}")
    for k in ("layers", "per_image"):
        if not isinstance(report[k], list):
            raise _bad(k, f"must be a list, got {type(report[k]).__name__}")
    if not report["layers"]:
        raise _bad("layers", "empty, nothing to plot")
    if not isinstance(report["workload"].get("name"), str):
        raise _bad("workload.name", "missing")
    t = report["total"]
    _number(t.get("clock_hz"), "total.clock_hz")
    for k in ("peak_macs_per_cycle", "dram_bytes_per_s"):
        _number(t.get(k), f"total.{k}", optional=True)
    et = report.get("energy_table", {})
    if not isinstance(et, dict) or not isinstance(et.get("actions", {}), dict):
        raise _bad("energy_table", "must be an object with an 'actions' object")
    for k, row in et.get("actions", {}).items():
        if k.startswith("dram"):  # the rows dram_bytes reads
            _number(row.get("width_bits") if isinstance(row, dict) else None, f"energy_table.actions.{k}.width_bits")
    for i, r in enumerate(report["layers"]):
        if not isinstance(r, dict):
            raise _bad(f"layers[{i}]", f"must be an object, got {type(r).__name__}")
        if not isinstance(r.get("name"), str):
            raise _bad(f"layers[{i}].name", "missing")
        for k in _LAYER_NUMBERS:
            _number(r.get(k), f"layers[{i}].{k}")
        for k in ("breakdown", "energy_pJ", "actions"):
            if k in r:
                _numbers(r[k], f"layers[{i}].{k}")
    for i, r in enumerate(report["per_image"]):
        if not isinstance(r, dict):
            raise _bad(f"per_image[{i}]", f"must be an object, got {type(r).__name__}")
        for k in ("latency_s", "energy_j"):
            _number(r.get(k), f"per_image[{i}].{k}")


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def dram_bytes(layer: dict, energy_table: dict) -> float:
    """Off-chip bytes of one layer result: DRAM actions x their access width."""
    rows = energy_table.get("actions", {})
    tot = 0.0
    for act, n in layer.get("actions", {}).items():
        if act.startswith("dram") and act in rows:
            tot += float(n) * rows[act]["width_bits"] / 8
    return tot


def per_layer(report: dict) -> list[dict]:
    """Layer results summed over images, in first-appearance order (cycles, energy, MACs, DRAM bytes,
    breakdown, energy by action)."""
    out: dict[str, dict] = {}
    et = report.get("energy_table", {})
    for r in report["layers"]:
        d = out.setdefault(r["name"], {"name": r["name"], **dict.fromkeys(_SUMMED, 0), "images": 0,
                                        "breakdown": {}, "energy_pJ": {}})
        d["images"] += 1
        _accumulate(d, {**r, "dram_bytes": dram_bytes(r, et)})
    return list(out.values())


def _accumulate(dst: dict, src: dict) -> None:
    """Add ``src``'s summed numbers and its breakdown / energy-by-action entries into ``dst``."""
    for k in _SUMMED:
        dst[k] += src[k]
    for key in ("breakdown", "energy_pJ"):
        for k, v in src.get(key, {}).items():
            dst[key][k] = dst[key].get(k, 0) + v


def _top(layers: list[dict], top: int) -> list[dict]:
    """The ``top`` layers by cycles (in network order) plus one merged entry for the rest."""
    if len(layers) <= top:
        return layers
    keep = set(sorted(range(len(layers)), key=lambda i: -layers[i]["cycles"])[:top])
    rest = [L for i, L in enumerate(layers) if i not in keep]
    merged = {"name": f"({len(rest)} other layers)", **dict.fromkeys(_SUMMED, 0), "breakdown": {}, "energy_pJ": {}}
    for L in rest:
        _accumulate(merged, L)
    return [L for i, L in enumerate(layers) if i in keep] + [merged]


def _text(name) -> str:
    """A user-chosen name as literal text: matplotlib reads ``$...$`` as math (and fails on ``$\\x$``)."""
    return str(name).replace("$", r"\$")


def _title(report: dict) -> str:
    t = report["total"]
    return (f"{_text(report['arch'].get('name', report.get('model')))} on {_text(report['workload']['name'])} "
            f"({t.get('images', 1)} image(s), {t['clock_hz'] / 1e6:g} MHz)")


def _stacked(ax, layers, key, scale, colors_from):
    cats = sorted({k for L in layers for k, v in L[key].items() if v})
    cats.sort(key=lambda c: -sum(L[key].get(c, 0) for L in layers))
    cmap = _plt().get_cmap(colors_from)
    y = np.arange(len(layers))
    left = np.zeros(len(layers))
    for j, c in enumerate(cats):
        v = np.array([L[key].get(c, 0) for L in layers], dtype=float) * scale
        ax.barh(y, v, left=left, color=cmap(j % cmap.N), label=c, height=0.8)
        left += v
    ax.set_yticks(y)
    ax.set_yticklabels([_text(L["name"]) for L in layers], fontsize=6)
    ax.invert_yaxis()
    ax.legend(fontsize=6, loc="lower right", ncol=2)


def cycle_breakdown_plot(report, path, top=30):
    plt = _plt()
    layers = _top(per_layer(report), top)
    fig, ax = plt.subplots(figsize=(8, 1.5 + 0.22 * len(layers)))
    _stacked(ax, layers, "breakdown", 1.0, "tab20")
    ax.set_xlabel("cycles (summed over images)")
    ax.set_title(f"Cycle breakdown by cause -- {_title(report)}", fontsize=8)
    return save_png(fig, path)


def energy_breakdown_plot(report, path, top=30):
    plt = _plt()
    layers = _top(per_layer(report), top)
    fig, ax = plt.subplots(figsize=(8, 1.5 + 0.22 * len(layers)))
    _stacked(ax, layers, "energy_pJ", 1e-6, "tab20")
    ax.set_xlabel("energy (uJ, summed over images; one colour per energy-table action)")
    ax.set_title(f"Energy by action -- {_title(report)}", fontsize=8)
    return save_png(fig, path)


def utilization_plot(report, path, top=30):
    plt = _plt()
    peak = report["total"].get("peak_macs_per_cycle") or 0
    layers = _top(per_layer(report), top)
    util = [L["macs_actual"] / (L["cycles"] * peak) if (peak and L["cycles"]) else 0.0 for L in layers]
    eff = [L["macs_effectual"] / L["macs_dense"] if L["macs_dense"] else 0.0 for L in layers]
    y = np.arange(len(layers))
    fig, ax = plt.subplots(figsize=(8, 1.5 + 0.22 * len(layers)))
    ax.barh(y - 0.2, util, 0.4, label="utilisation: actual MACs / (cycles x peak)", color="#1f77b4")
    ax.barh(y + 0.2, eff, 0.4, label="effectual / algorithmic MACs", color="#ff7f0e")
    ax.set_yticks(y)
    ax.set_yticklabels([_text(L["name"]) for L in layers], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction")
    # above the axes: inside, the legend hid the bars of the last layers
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    ax.set_title(f"Per-layer utilisation -- {_title(report)} (peak {peak} MACs/cycle)", fontsize=8, pad=16)
    return save_png(fig, path)


def per_image_plot(report, path):
    plt = _plt()
    pi = report["per_image"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key, scale, unit in ((axes[0], "latency_s", 1e3, "latency per image (ms)"),
                                 (axes[1], "energy_j", 1e3, "energy per image (mJ)")):
        v = np.sort([p[key] * scale for p in pi])
        ax.step(v, np.arange(1, len(v) + 1) / len(v), where="post", color="#1f77b4")
        ax.plot(v, np.arange(1, len(v) + 1) / len(v), "o", ms=3, color="#1f77b4")
        st = summary_stats(v)
        for name, ls in (("p50", ":"), ("p90", "--"), ("p99", "-")):
            if name in st:
                ax.axvline(st[name], color="#d62728", ls=ls, lw=1, label=f"{name} {st[name]:.4g}")
        ax.set_xlabel(unit)
        ax.set_ylabel("fraction of images")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=7)
    fig.suptitle(f"Per-image distribution ({len(pi)} images) -- {_title(report)}", fontsize=8)
    return save_png(fig, path)


def roofline_points(report) -> list[dict]:
    """Per layer: MACs per off-chip byte (None without off-chip traffic) and achieved MAC/s, for the
    effectual and the algorithmic MACs."""
    out = []
    for L in per_layer(report):
        if not L["latency_s"]:
            continue
        for kind, macs in (("effectual", L["macs_effectual"]), ("algorithmic", L["macs_dense"])):
            out.append({"layer": L["name"], "kind": kind, "macs_per_s": macs / L["latency_s"],
                        "macs_per_dram_byte": macs / L["dram_bytes"] if L["dram_bytes"] else None})
    return out


def roofline_plot(report, path):
    plt = _plt()
    t = report["total"]
    peak = (t.get("peak_macs_per_cycle") or 0) * t["clock_hz"]
    bw = t.get("dram_bytes_per_s")
    pts = roofline_points(report)
    xs = [p["macs_per_dram_byte"] for p in pts if p["macs_per_dram_byte"]]
    xmax = max(xs) * 4 if xs else 1e4
    xmin = min(xs) / 4 if xs else 1e-1
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for kind, style in (("effectual", dict(marker="o", color="#1f77b4")),
                        ("algorithmic", dict(marker="o", mfc="none", color="#ff7f0e"))):
        sel = [p for p in pts if p["kind"] == kind]
        # zero MACs (a layer whose outputs are all gated off) have no place on log axes: not drawn,
        # and not mistaken for a layer without off-chip bytes
        on = [p for p in sel if p["macs_per_dram_byte"]]
        ax.plot([p["macs_per_dram_byte"] for p in on], [p["macs_per_s"] for p in on], ls="none", ms=4,
                label=f"{kind} MACs", **style)
        off = [p for p in sel if p["macs_per_dram_byte"] is None and p["macs_per_s"] > 0]
        if off:  # no off-chip traffic: drawn at the right edge
            ax.plot([xmax] * len(off), [p["macs_per_s"] for p in off], ls="none", ms=4, marker=">",
                    color=style["color"], label=f"{kind}, no off-chip bytes (right edge)")
    grid = np.geomspace(xmin, xmax, 200)
    if peak:
        ax.plot(grid, np.full_like(grid, peak), "k-", lw=1, label=f"compute ceiling {peak:.3g} MAC/s")
    if bw:
        roof = bw * grid if not peak else np.minimum(bw * grid, peak)
        ax.plot(grid, roof, "k--", lw=1, label=f"off-chip bandwidth {bw / 1e9:.3g} GB/s")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (MACs per off-chip byte)")
    ax.set_ylabel("achieved MACs per second")
    ax.legend(fontsize=7)
    ax.set_title(f"Roofline -- {_title(report)}", fontsize=8)
    return save_png(fig, path)


def write_report_plots(report: dict, out, top: int = 30) -> dict[str, str]:
    """Write every plot of :data:`PLOTS` into folder ``out``; returns name -> path."""
    from workloads.storage import ensure_dir
    check_report(report)
    out = ensure_dir(out)
    return {"cycle_breakdown": cycle_breakdown_plot(report, out / "cycle_breakdown.png", top),
            "energy_breakdown": energy_breakdown_plot(report, out / "energy_breakdown.png", top),
            "utilization": utilization_plot(report, out / "utilization.png", top),
            "per_image": per_image_plot(report, out / "per_image.png"),
            "roofline": roofline_plot(report, out / "roofline.png")}
