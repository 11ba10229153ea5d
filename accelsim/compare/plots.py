"""Plots of ``accelsim compare`` (matplotlib, Agg): latency with min/max whiskers, energy breakdown,
per-image latency vs active-pixel ratio, and the gate masks of one image per FPN level."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plotting import save_png
from .constants import MODELS

MODEL_COLORS = {"baseline": "#777777", "large": "#1f77b4", "small": "#d62728"}


def latency_plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ents = [e for e in res["entries"] if e["kind"] in ("measured", "simulated", "reference")
            and e.get("batch", 1) == 1 and e["latency_s"].get("avg")]
    targets = list(dict.fromkeys(e["target"] for e in ents))
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(targets)), 4))
    w = 0.27
    for j, model in enumerate(MODELS):
        xs, ys, lo, hi = [], [], [], []
        for i, t in enumerate(targets):
            e = next((e for e in ents if e["model"] == model and e["target"] == t), None)
            if not e:
                continue
            lat = e["latency_s"]
            avg = lat["avg"] * 1e3
            xs.append(i + (j - 1) * w)
            ys.append(avg)
            lo.append(max(0.0, avg - (lat.get("min") or lat["avg"]) * 1e3))  # clamp float rounding
            hi.append(max(0.0, (lat.get("max") or lat["avg"]) * 1e3 - avg))
        ax.bar(xs, ys, w, yerr=[lo, hi], capsize=2, color=MODEL_COLORS[model], label=model)
    ax.set_xticks(range(len(targets)))
    ax.set_xticklabels(targets, rotation=35, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("head latency per image (ms, log)")
    ax.set_title(f"Measured ({res['device_label']}) vs simulated; whiskers = min/max over images", fontsize=9)
    ax.legend(fontsize=8)
    return save_png(fig, path)


def energy_plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ents = [e for e in res["entries"] if e["kind"] == "simulated" and e["model"] == "small"]
    if not ents:
        return None
    actions = sorted({a for e in ents for a in e["energy_by_action_pJ_per_image"]})
    totals = {a: sum(e["energy_by_action_pJ_per_image"].get(a, 0) for e in ents) for a in actions}
    top = sorted(actions, key=lambda a: -totals[a])[:10]
    fig, ax = plt.subplots(figsize=(max(6, 1.0 * len(ents)), 4))
    bottom = np.zeros(len(ents))
    cmap = plt.get_cmap("tab20")
    for k, a in enumerate(top + ["other"]):
        vals = np.array([(e["energy_by_action_pJ_per_image"].get(a, 0) if a != "other" else
                          sum(v for b, v in e["energy_by_action_pJ_per_image"].items() if b not in top)) * 1e-6
                         for e in ents])
        ax.bar(range(len(ents)), vals, bottom=bottom, color=cmap(k % 20), label=a)
        bottom += vals
    ax.set_xticks(range(len(ents)))
    ax.set_xticklabels([e["target"] for e in ents], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("energy per image (uJ)")
    ax.set_title("Energy breakdown by action, dynamic Small (per-action tables, see compare.json)", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    return save_png(fig, path)


def scatter_plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    sims = [e for e in res["entries"] if e["kind"] == "simulated"]
    targets = list(dict.fromkeys(e["target"] for e in sims))
    markers = "os^vD<>ph*"
    for ti, t in enumerate(targets):
        for model in ("large", "small"):
            pi = res["per_image_latency"].get(f"{model}|{t}")
            ar = res["per_image"][model]["active_ratio"]
            if not pi or not ar or any(v is None for v in ar):
                continue
            ax.scatter(ar, np.array(pi) * 1e3, marker=markers[ti % len(markers)], color=MODEL_COLORS[model],
                       label=f"{t} ({model})", s=18)
    ax.set_xlabel("active-pixel ratio of the image (depth gates)")
    ax.set_ylabel("simulated head latency (ms)")
    ax.set_yscale("log")
    ax.set_title("Per-image latency vs active-pixel ratio", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    return save_png(fig, path)


def masks_plot(rows, images, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gates = rows["large"].seen_gates[0] if rows["large"].seen_gates else None
    if not gates:
        return None
    img = images[0][0].permute(1, 2, 0).numpy().astype(np.uint8)
    levels = sorted({k[2] for k in gates})
    fig, axes = plt.subplots(1, len(levels), figsize=(3 * len(levels), 3))
    for ax, l in zip(np.atleast_1d(axes), levels):
        # fraction of depth gates open per pixel over towers and stages at this level
        gs = [g[0, 0].float().numpy() > 0 for k, g in gates.items() if k[2] == l and k[3] == "depth"]
        frac = np.mean(gs, axis=0)
        ext = (0, img.shape[1], img.shape[0], 0)
        ax.imshow(img, extent=ext)
        ax.imshow(frac, extent=ext, cmap="magma", alpha=0.55, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"P{l + 3}: {100 * frac.mean():.0f}% open", fontsize=8)
        ax.axis("off")
    fig.suptitle("Depth-gate masks of image 0 (dynamic Large), fraction of stages x towers open", fontsize=9)
    return save_png(fig, path)


def write_plots(res, rows, traces, sims, out: Path, images) -> dict:
    """Every plot into ``out``: ``{files key: path}``; ``sims`` is ``{(row, target): Report}``."""
    # per-image simulated latency, for the scatter plot
    res["per_image_latency"] = {f"{n}|{t}": [p["latency_s"] for p in rep.per_image()] for (n, t), rep in sims.items()}
    files = {}
    for key, fn, args in (("plot_latency", latency_plot, (res,)), ("plot_energy", energy_plot, (res,)),
                          ("plot_scatter", scatter_plot, (res,))):
        p = fn(*args, out / f"{key[5:]}.png")
        if p:
            files[key] = p
    p = masks_plot(rows, images, out / "gate_masks.png")
    if p:
        files["plot_masks"] = p
    return files
