"""The compare result: the assembled dict (compare.json) and its markdown and CSV tables."""

from __future__ import annotations

import csv
import io

from . import technology
from .constants import LABELS, MODELS, OFFICIAL_DYNAMIC, OFFICIAL_FULL_SIZE, PAPER_V100
from .measure import stats
from .settings import CompareSettings
from .simulate import Simulations

ISO_THROUGHPUT_NOTE = ("ideal PE-count scaling to the GPU's peak MAC rate (optimistic bound); targets named "
                       "<preset>@iso are re-simulated with the PE count scaled to that peak (--iso-resimulate; "
                       "buffers, NoC and DRAM bandwidth unchanged)")


def _measured_entries(name, meas, dev, g):
    out = []
    for mode_key, m in meas.items():
        common = {"model": name, "target": f"{dev.get('kind')}:{mode_key[:-3]}", "kind": "measured"}
        if mode_key.endswith("_b1"):
            out.append({**common, "batch": 1, "latency_s": m["latency_s"], "cv_max": m["cv_max"],
                        "energy_j_per_image": None, "gflops": g})
        else:
            out.append({**common, "batch": m["batch"], "latency_s": {"avg": m["latency_s_per_image"]},
                        "energy_j_per_image": None, "gflops": g})
    return out


def _simulated_entry(name, t, rep, g, sims: Simulations, gpu_peak):
    pi = rep.per_image()
    lat = stats([p["latency_s"] for p in pi])
    iso = sims.peaks[t] / gpu_peak
    return {"model": name, "target": t, "kind": "simulated", "batch": 1, "latency_s": lat,
            "energy_j_per_image": stats([p["energy_j"] for p in pi]), "gflops": g, "clock_hz": rep.cfg.clock_hz,
            "iso_throughput_latency_s": {k: v * iso for k, v in lat.items() if k in ("avg", "min", "max")},
            "skipped_layers": [s["name"] for s in rep.skipped],
            "iso_overrides": sims.iso_overrides.get(t),
            "peak_macs_per_s": sims.peaks[t],
            "energy_by_action_pJ_per_image": {k: v / max(1, len(pi)) for k, v in rep.energy_by_action().items()},
            "sampling": _sampling(rep, len(pi)),
            "report_hash": rep.hash}


def _sampling(rep, n_images: int) -> dict | None:
    """The run's sampling (``--sample``) with the 95 % half-width of the mean latency per image (s) and of the
    mean energy per image (J); None for an exhaustive run."""
    t = rep.total().get("sampling")
    if not t:
        return None
    n = max(1, n_images)
    return {**t, "latency_s_half_width": t["cycles_half_width"] / rep.cfg.clock_hz / n,
            "energy_j_half_width_per_image": t["energy_j_half_width"] / n}


def _add_speedups(entries) -> None:
    """Speedups vs the baseline on the same target; measured rows against the baseline's dense run at
    the same batch size (the baseline has no gates, so it has no masked execution)."""
    def key(e):
        t = e["target"]
        if e["kind"] == "measured":
            t = t.split(":")[0] + ":dense"
        return (t, e.get("batch", 1))
    base = {key(e): e["latency_s"].get("avg") for e in entries if e["model"] == "baseline"}
    for e in entries:
        b = base.get(key(e))
        e["speedup_vs_baseline"] = (b / e["latency_s"]["avg"]) if b and e["latency_s"].get("avg") else None


def _paper_entries():
    out = []
    for name in MODELS:
        p = PAPER_V100[name]
        out.append({"model": name, "target": "paper:V100", "kind": "reference", "batch": 1,
                    "latency_s": {k: (v / 1e3 if v is not None else None) for k, v in p["latency_ms"].items()},
                    "gflops": {"avg": p["gflops"]}, "energy_j_per_image": None,
                    "speedup_vs_baseline": PAPER_V100["baseline"]["latency_ms"]["avg"] / p["latency_ms"]["avg"],
                    "source": "rebuttal Table 5 (NeurIPS 2020 author feedback), head only, Tesla V100"})
    return out


def _avg_min_max(values) -> dict:
    return {"avg": sum(values) / len(values), "min": min(values), "max": max(values)} if values else {}


def compute_ratios(rows) -> dict:
    """Per row: used / full GFLOPs of its own head and used / the baseline's full GFLOPs (per image,
    avg/min/max; official hard-gate accounting), beside the official heads' ratios (COCO, C=256):
    the README's D8 heads against the full D8 cost at 800x1344, and rebuttal Table 5 against its baseline."""
    from dynhead.cost import full_gflops
    base_full = rows["baseline"].full_gflops
    d8_full = full_gflops("dynamic", 8, OFFICIAL_FULL_SIZE, C=256, pad=True)
    t5_base = PAPER_V100["baseline"]["gflops"]
    out = {}
    for name in MODELS:
        r = rows[name]
        o = {"kind": r.head.kind, "depth": r.head.depth, "width": r.width,
             "used_over_full": _avg_min_max([u / f for u, f in zip(r.gflops, r.full_gflops)]),
             "used_over_baseline_full": _avg_min_max([u / f for u, f in zip(r.gflops, base_full)]),
             "table5": {"gflops": PAPER_V100[name]["gflops"], "baseline_gflops": t5_base,
                        "ratio": PAPER_V100[name]["gflops"] / t5_base,
                        "source": "rebuttal Table 5 (FLOPs avg, G; the dynamic heads' depth not stated)"}}
        if name in OFFICIAL_DYNAMIC:
            off = OFFICIAL_DYNAMIC[name]
            o["official"] = {**off, "full_gflops": d8_full,
                             "ratio": {k: v / d8_full for k, v in off["gflops"].items()},
                             "source": "README of StevenGrove/DynamicHead (COCO val2017); full = D8 at "
                                       f"{OFFICIAL_FULL_SIZE[0]}x{OFFICIAL_FULL_SIZE[1]} padded, the largest "
                                       "input: a lower bound of the per-image ratio"}
        out[name] = o
    return out


def assemble(settings: CompareSettings, record: dict, rows, traces, measured: dict, sims: Simulations,
             dev: dict, gpu_peak: float, gpu_peak_src: str) -> dict:
    """The result dict of compare.json (less what :func:`accelsim.compare.run_compare` adds: the raw
    measurements, image hashes, wall time and files) from the run's parts; ``record`` is the run's
    :func:`accelsim.compare.rows.settings_record`."""
    from dynhead.cost import full_gflops

    from .rows import describe_heads
    entries = []
    dev_label = f"{'GPU' if dev.get('kind') == 'gpu' else 'CPU (no GPU available)'}: {dev.get('name')}"
    for name in MODELS:
        g = stats(rows[name].gflops)
        meas = measured.get(name, {})
        entries += _measured_entries(name, meas, dev, g)
        if not meas and not any(mname == name for mname, _ in sims.reports):  # no measurement, no targets
            entries.append({"model": name, "target": "flops-only", "kind": "accounting", "batch": 1,
                            "latency_s": {}, "energy_j_per_image": None, "gflops": g})
        entries += [_simulated_entry(name, t, rep, g, sims, gpu_peak)
                    for (mname, t), rep in sims.reports.items() if mname == name]
    _add_speedups(entries)
    normalization = technology.add_technology(entries, sims, settings)
    entries += _paper_entries()
    ratios = compute_ratios(rows)
    for e in entries:
        r = ratios[e["model"]]
        e["used_over_full"] = None if e["kind"] == "reference" else r["used_over_full"]["avg"]
        e["used_over_baseline_full"] = (r["table5"]["ratio"] if e["kind"] == "reference"
                                        else r["used_over_baseline_full"]["avg"])
    return {
        "settings": {**record, "targets": list(settings.targets), "missing_targets": sims.missing,
                     "normalize": settings.normalize, "sample": settings.sample},
        "normalization": normalization,
        "device": dev, "device_label": dev_label,
        "baseline_full_gflops": full_gflops("fix", rows["baseline"].head.depth, settings.size,
                                            C=rows["baseline"].width, pad=True),
        "gpu_peak_macs_per_s": gpu_peak, "gpu_peak_source": gpu_peak_src,
        "iso_throughput_note": ISO_THROUGHPUT_NOTE,
        "accelerator_peak_macs_per_s": sims.peaks,
        "workloads": {n: {"hash": wl.content_hash, "images": wl.n_images, "layers": len(wl.layers),
                          "meta": wl.meta} for n, wl in traces.items()},
        "configs": {t: rep.cfg.to_dict() for (n, t), rep in sims.reports.items() if n == "baseline"},
        "heads": describe_heads(rows, settings.seed),
        "compute_ratio": ratios,
        "per_image": {n: {"gflops": rows[n].gflops, "full_gflops": rows[n].full_gflops,
                          "active_ratio": rows[n].active_ratio} for n in rows},
        "entries": entries,
    }


def fmt_ms(st, key="avg") -> str:
    """A latency statistic (seconds) in ms with 3 decimals, "-" when absent."""
    v = st.get(key) if st else None
    return "-" if v is None else f"{v * 1e3:.3f}"


def _table_line(e) -> str:
    g = e.get("gflops") or {}
    gf = f"{g.get('avg', 0):.3f}" + (f" ({g['min']:.3f}-{g['max']:.3f})" if "min" in g and g.get("min") is not None else "")
    lat = e["latency_s"]
    smp = e.get("sampling") or {}
    hw = f" +- {smp['latency_s_half_width'] * 1e3:.3f}" if smp.get("latency_s_half_width") else ""
    lt = fmt_ms(lat) + hw + (f" ({fmt_ms(lat, 'min')}-{fmt_ms(lat, 'max')})" if lat.get("min") is not None else "")
    sp = f"{e['speedup_vs_baseline']:.2f}x" if e.get("speedup_vs_baseline") else "-"
    en = e.get("energy_j_per_image") or {}
    et = f"{en['avg'] * 1e6:.3f}" if en.get("avg") is not None else "-"
    iso = fmt_ms(e.get("iso_throughput_latency_s") or {})
    tgt = e["target"] + (f" (batch {e['batch']})" if e.get("batch", 1) > 1 else "")
    en_n, ips = technology.norm_cells(e)
    return (f"| {LABELS[e['model']]} | {tgt} | {e['kind']} | {gf} | {lt} | {sp} | {et} | {iso} | "
            f"{technology.tech_cell(e)} | {en_n} | {ips} |")


def markdown(res: dict) -> str:
    """compare.md: the table of every entry, then one paragraph each on cost, iso-throughput,
    repeatability and skipped targets."""
    s = res["settings"]
    lines = [f"# accelsim compare — head only, {s['size'][0]}x{s['size'][1]}, C={s['width']}, "
             f"D={s['depth']} (baseline D={s['baseline_depth']}), {s['images']} image(s)", "",
             f"Measured on **{res['device_label']}** (torch {res['device'].get('torch')}); simulated targets at "
             f"their own clocks; the paper's V100 row is a labelled reference.", "", *heads_lines(res),
             "| model | target | kind | GFLOPs avg (min-max) | latency ms avg (min-max) | speedup vs baseline | "
             "energy uJ/image (published node) | iso-throughput ms | technology (node, datapath, clock, SRAM, "
             "area) | %s | %s |" % technology.header_cells(res), "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [_table_line(e) for e in res["entries"]]
    lines += ratio_table(res)
    lines += technology.md_section(res)
    lines += ["", f"Baseline full cost at this size: {res['baseline_full_gflops']:.2f} GFLOPs (official accounting).",
              f"Iso-throughput: {res['iso_throughput_note']}; GPU peak {res['gpu_peak_macs_per_s'] / 1e12:.2f} TMAC/s "
              f"({res['gpu_peak_source']})."]
    if s.get("sample", "off") != "off":
        lines.append(f"Simulation sampled (`--sample {s['sample']}`, seed {s['seed']}): latencies of sampled "
                     "targets read `avg +- 95 % half-width` of the per-image mean (work units of each layer drawn "
                     "at random, stratified, simulated exactly; `accelsim.sampling`).")
    else:
        lines.append("Simulation exhaustive (`--sample off`): every layer's every MAC walked.")
    cvs = [e["cv_max"] for e in res["entries"] if e.get("cv_max") is not None]
    if cvs:
        lines.append(f"Measurement repeatability: worst per-image coefficient of variation {max(cvs) * 100:.1f} %.")
    if s["missing_targets"]:
        lines.append("Targets without a preset (skipped): " + ", ".join(s["missing_targets"]))
    return "\n".join(lines) + "\n"


def heads_lines(res: dict) -> list[str]:
    """What each row's head is: which parts are trained and which are random (compare.md header)."""
    heads = res.get("heads")
    if not heads:
        return []
    out = []
    for n, h in heads.items():
        out.append(f"- {LABELS[n]}: {h['kind']} D{h['depth']} C={h['width']}; weights {h['weights']}; gates "
                   f"{h['gates']}; features {h['features']}.")
    return ["Heads (what is trained, what is random; checkpoints trained on the synthetic detection set, "
            "dynhead/checkpoints/MODEL_CARD.md):", *out, ""]


def ratio_table(res: dict) -> list[str]:
    """The used/full compute table of compare.md beside the official heads' ratios."""
    cr = res.get("compute_ratio")
    if not cr:
        return []

    def mm(st, fmt="{:.3f}"):
        return fmt.format(st["avg"]) + (f" ({fmt.format(st['min'])}-{fmt.format(st['max'])})"
                                         if st["min"] != st["max"] else "")
    lines = ["", "Compute used / full (official accounting, hard gates, per image avg (min-max)):", "",
             "| model | head | used / own full | used / baseline full | official (COCO, C=256): GFLOPs / full D8 "
             "at 800x1344 | rebuttal Table 5: GFLOPs / baseline |", "|---|---|---|---|---|---|"]
    for n, r in cr.items():
        off = r.get("official")
        ot = (f"{off['budget']} D{off['depth']} lambda {off['lambda']}: {mm(off['gflops'], '{:.1f}')} / "
              f"{off['full_gflops']:.1f} = {mm(off['ratio'])}" if off else "- (gate-free: 1 by definition)")
        t5 = r["table5"]
        lines.append(f"| {LABELS[n]} | {r['kind']} D{r['depth']} C={r['width']} | {mm(r['used_over_full'])} | "
                     f"{mm(r['used_over_baseline_full'])} | {ot} | {t5['gflops']:.1f} / {t5['baseline_gflops']:.1f} "
                     f"= {t5['ratio']:.3f} |")
    lines += ["", "Official ratios: the README's GFLOPs vary with the COCO image size and its full cost per image is "
                  "not published; dividing by the full D8 cost at the largest input gives a lower bound of the mean "
                  "per-image ratio. Table 5 does not state the dynamic heads' depth; its ratio is against the "
                  "gate-free D6 baseline, like the 'used / baseline full' column."]
    return lines


CSV_COLUMNS = ["model", "target", "kind", "batch", "gflops_avg", "gflops_min", "gflops_max", "latency_s_avg",
               "latency_s_min", "latency_s_max", "latency_s_p50", "latency_s_p99", "speedup_vs_baseline",
               "energy_j_per_image_avg", "iso_throughput_latency_s_avg", "used_over_full",
               "used_over_baseline_full", *technology.CSV_COLUMNS]


def csv_text(res: dict) -> str:
    """compare.csv: one line per entry (CSV_COLUMNS)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    w.writeheader()
    for e in res["entries"]:
        g, lat, en = e.get("gflops") or {}, e["latency_s"], e.get("energy_j_per_image") or {}
        row = {"model": e["model"], "target": e["target"], "kind": e["kind"], "batch": e.get("batch"),
               "speedup_vs_baseline": e.get("speedup_vs_baseline"), "energy_j_per_image_avg": en.get("avg"),
               "iso_throughput_latency_s_avg": (e.get("iso_throughput_latency_s") or {}).get("avg"),
               "used_over_full": e.get("used_over_full"), "used_over_baseline_full": e.get("used_over_baseline_full")}
        row.update({f"gflops_{k}": g.get(k) for k in ("avg", "min", "max")})
        row.update({f"latency_s_{k}": lat.get(k) for k in ("avg", "min", "max", "p50", "p99")})
        row.update(technology.csv_fields(e, res["settings"].get("normalize", "none")))
        w.writerow(row)
    return buf.getvalue()
