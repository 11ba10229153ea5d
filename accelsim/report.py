"""Simulation reports: JSON (everything), a SCALE-Sim-style per-layer CSV, a markdown summary.

JSON layout::

    {"arch": {...config with units and sources...}, "workload": {"name", "hash", "source", "images"},
     "total": {"cycles", "latency_s", "energy_j", "clock_hz", "macs_dense", "macs_effectual", ...},
     "per_image": [{"image", "cycles", "latency_s", "energy_j"}...],
     "per_image_stats": {"latency_s": {"avg","min","max","p50","p90","p99"}, "energy_j": {...}},
     "layers": [{"name", "image", "cycles", "latency_s", "energy_j", "macs_dense", "macs_effectual",
                 "utilization", "breakdown": {...}, "actions": {...}, "energy_pJ": {...}}...],
     "energy_table": {...ERT dump with the source of every row...},
     "technology": {"node_nm", "voltage_v", "datapath_bits", "clock_hz", "onchip_sram_bytes", "area_mm2", ...},
     "energy_by_action_pJ": {...}, "skipped_layers": [...], "toolkit": {...}, "report_hash": "..."}

``report_hash`` is sha256 over the JSON without wall-clock time and absolute paths (config file,
energy-table file, workload file) and without each layer's timing path (``extra["path"]``, e.g.
``closed_form`` / ``cycle_loop``: proven equal), so the same inputs give the same hash on any machine.
The markdown summary lists the layers per timing path.
``per_image_stats`` entries hold avg/min/max/p50/p90/p99 and ``cv`` (std/mean).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np

from workloads.storage import atomic_write_bytes

from . import __version__
from .jsonio import json_default

CSV_COLUMNS = ["LayerID", "Layer", "Image", "Total Cycles", "Stall Cycles", "Overall Util %",
               "Mapping Efficiency %", "Compute Util %",
               "cycles", "latency_s", "energy_pJ", "macs_dense", "macs_effectual", "macs_actual",
               "macs_skipped", "macs_gated", "utilization"]


def summary_stats(values) -> dict:
    """avg/min/max/p50/p90/p99/cv of a sample (empty: {}); per-image stats of reports and plots."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return {}
    return {"avg": float(v.mean()), "min": float(v.min()), "max": float(v.max()),
            "p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90)),
            "p99": float(np.percentile(v, 99)),
            "cv": float(v.std() / v.mean()) if v.mean() else 0.0}


class Report:
    def __init__(self, model, workload, results, skipped=(), images=(), seed=0, functional=False, wall_s=0.0):
        self.model, self.workload, self.results = model, workload, list(results)
        self.skipped, self.images, self.seed, self.functional = list(skipped), list(images), seed, functional
        self.wall_s = wall_s

    @property
    def cfg(self):
        return self.model.cfg

    def per_image(self) -> list[dict]:
        out = {}
        for r in self.results:
            d = out.setdefault(r.image, {"image": r.image, "cycles": 0, "energy_j": 0.0, "macs_effectual": 0,
                                         "macs_dense": 0})
            d["cycles"] += int(r.cycles)
            d["energy_j"] += r.energy_j
            d["macs_effectual"] += int(r.macs_effectual)
            d["macs_dense"] += int(r.macs_dense)
        rows = [out[k] for k in sorted(out)]
        for d in rows:
            d["latency_s"] = d["cycles"] / self.cfg.clock_hz
        return rows

    def total(self) -> dict:
        rs = self.results
        cyc = int(sum(r.cycles for r in rs))
        bd: dict[str, int] = {}
        for r in rs:
            for k, v in r.breakdown.items():
                bd[k] = bd.get(k, 0) + int(v)
        macs_actual = int(sum(r.macs_actual for r in rs))
        peak = self.model.peak_macs_per_cycle()
        return {"cycles": cyc, "latency_s": cyc / self.cfg.clock_hz, "clock_hz": self.cfg.clock_hz,
                "energy_j": float(sum(r.energy_j for r in rs)),
                "images": len(self.images) or 1,
                "macs_dense": int(sum(r.macs_dense for r in rs)),
                "macs_effectual": int(sum(r.macs_effectual for r in rs)),
                "macs_actual": macs_actual,
                "macs_skipped": int(sum(r.macs_skipped for r in rs)),
                "macs_gated": int(sum(r.macs_gated for r in rs)),
                "utilization": macs_actual / max(1, cyc * peak) if peak else None,
                "peak_macs_per_cycle": peak,
                "dram_bytes_per_s": self.model.dram_bytes_per_s(),
                "breakdown": bd, **self._sampling()}

    def _sampling(self) -> dict:
        """``{"sampling": {...}}`` when the run sampled (``--sample``): mode, layers sampled, 95 % half-widths of
        total cycles and energy (independent layers' variances added); {} for an exhaustive run."""
        spec = getattr(self.model, "sampling", None)
        if spec is None or not spec.active:
            return {}
        from .sampling import total_interval
        c, e = total_interval(self.results, "cycles"), total_interval(self.results, "energy_pJ")
        return {"sampling": {"mode": spec.label, "seed": spec.seed, "confidence": 0.95,
                             "sampled_layers": c["sampled_layers"] if c else 0, "layers": len(self.results),
                             "cycles_half_width": c["half_width"] if c else 0.0,
                             "energy_j_half_width": e["half_width"] * 1e-12 if e else 0.0}}

    def energy_by_action(self) -> dict:
        out: dict[str, float] = {}
        for r in self.results:
            for k, v in r.energy_pJ.items():
                out[k] = out.get(k, 0.0) + v
        return dict(sorted(out.items()))

    def to_dict(self, with_outputs: bool = False) -> dict:
        wl = self.workload
        d = {
            "arch": self.cfg.to_dict(),
            "model": self.cfg.model,
            "mapping_notes": getattr(self.model, "MAPPING_NOTES", {}),
            "workload": {"name": wl.name, "hash": wl.content_hash, "source": wl.source, "images": self.images,
                         "meta": wl.meta},
            "seed": self.seed,
            "total": self.total(),
            "per_image": self.per_image(),
            "layers": [r.to_dict(with_outputs) for r in self.results],
            "energy_by_action_pJ": self.energy_by_action(),
            "energy_table": self.model.energy.dump(),
            "technology": self.model.technology(),
            "skipped_layers": self.skipped,
            "toolkit": {"name": "accelsim", "version": __version__},
        }
        pi = d["per_image"]
        d["per_image_stats"] = {"latency_s": summary_stats([p["latency_s"] for p in pi]),
                                "energy_j": summary_stats([p["energy_j"] for p in pi])}
        d["report_hash"] = hashlib.sha256(json.dumps(_portable(d), sort_keys=True).encode()).hexdigest()
        d["wall_s"] = self.wall_s
        return d

    @property
    def hash(self) -> str:
        return self.to_dict()["report_hash"]

    def to_json(self, indent=2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=json_default)

    def csv_rows(self) -> list[dict]:
        """SCALE-Sim COMPUTE_REPORT columns: Stall Cycles = memory/bandwidth stalls (breakdown keys
        ``memory_stall`` or ``*_stall``); Overall Util % = actual MACs / (cycles x peak); Compute Util % =
        actual MACs / ((cycles - stall) x peak), as SCALE-Sim computes it over compute cycles only."""
        rows = []
        peak = self.model.peak_macs_per_cycle() or 0
        for i, r in enumerate(self.results):
            stall = int(stall_cycles(r.breakdown))
            overall = 100.0 * r.macs_actual / max(1, r.cycles * peak) if peak else 0.0
            compute = 100.0 * r.macs_actual / max(1, (r.cycles - stall) * peak) if peak else 0.0
            mapping = r.extra.get("mapping_efficiency")
            rows.append({"LayerID": i, "Layer": r.name, "Image": r.image, "Total Cycles": int(r.cycles),
                         "Stall Cycles": stall, "Overall Util %": round(overall, 4),
                         "Mapping Efficiency %": round(100.0 * mapping, 4) if mapping is not None else "",
                         "Compute Util %": round(compute, 4),
                         "cycles": int(r.cycles), "latency_s": r.latency_s,
                         "energy_pJ": sum(r.energy_pJ.values()), "macs_dense": r.macs_dense,
                         "macs_effectual": r.macs_effectual, "macs_actual": r.macs_actual,
                         "macs_skipped": r.macs_skipped, "macs_gated": r.macs_gated,
                         "utilization": r.utilization})
        return rows

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
        w.writeheader()
        w.writerows(self.csv_rows())
        return buf.getvalue()

    def to_markdown(self) -> str:
        t = self.total()
        lines = [f"# {self.cfg.name} ({self.cfg.model}) on {self.workload.name}", "",
                 f"- clock: {self.cfg.clock_hz:.4g} Hz; images: {t['images']}; workload hash `{self.workload.content_hash[:16]}`",
                 f"- total: {t['cycles']:,} cycles = {t['latency_s'] * 1e3:.4f} ms; energy {t['energy_j'] * 1e6:.4f} uJ",
                 f"- MACs: dense {t['macs_dense']:,}, effectual {t['macs_effectual']:,}, actual {t['macs_actual']:,}",
                 f"- technology: {technology_line(self.model.technology())}",
                 "", "| layer | image | cycles | latency (us) | energy (uJ) | util % | effectual MACs |",
                 "|---|---|---|---|---|---|---|"]
        for r in self.results:
            lines.append(f"| {r.name} | {r.image} | {r.cycles:,} | {r.latency_s * 1e6:.3f} | {r.energy_j * 1e6:.4f} | "
                         f"{100 * (r.utilization or 0):.1f} | {r.macs_effectual:,} |")
        if self.skipped:
            lines += ["", "Skipped layers:"] + [f"- {s['name']}: {s['reason']}" for s in self.skipped]
        lines += ["", "Cycle breakdown (all layers): " +
                  ", ".join(f"{k} {v:,}" for k, v in sorted(t["breakdown"].items()))]
        paths: dict[str, list[str]] = {}  # timing path per layer (extra["path"]: closed_form / cycle_loop)
        for r in self.results:
            if (r.extra or {}).get("path") and r.name not in paths.get(r.extra["path"], []):
                paths.setdefault(r.extra["path"], []).append(r.name)
        if paths:
            lines += ["", "Timing path: " + "; ".join(f"{k} ({len(v)}): {', '.join(v)}" for k, v in sorted(paths.items()))]
        return "\n".join(lines) + "\n"

    def to_chrome_trace(self) -> dict:
        """Timeline in Chrome trace-event JSON (open in Perfetto / chrome://tracing).

        One process per image; thread 0 holds one complete ("X") event per layer, back to back
        (layers run sequentially), ``ts``/``dur`` in microseconds at the config's clock, with the
        cycle breakdown, compute counts and energy in ``args``; a counter track ("C") plots each
        layer's utilisation.  Layers whose result carries ``extra["pe_timeline"]`` (models run
        with ``record_pe_timeline``) add one thread per PE -- "compute" (with its conflict stalls
        in ``args``) and "barrier wait" per round -- and a "chip" thread with the halo exchange,
        the exposed PPU drain and DRAM stalls."""
        clock = self.cfg.clock_hz
        events = [{"name": "process_name", "ph": "M", "pid": 0, "tid": 0,
                   "args": {"name": f"{self.cfg.name} on {self.workload.name}"}}]
        t_img: dict[int, float] = {}
        named: set = set()            # (pid, tid) pairs whose thread_name was emitted
        for r in self.results:
            pid = int(r.image) + 1
            if pid not in t_img:
                t_img[pid] = 0.0
                events.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
                               "args": {"name": f"image {r.image} ({self.cfg.name} @ {clock / 1e6:g} MHz)"}})
                events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": "layers"}})
            dur = r.cycles / clock * 1e6
            events.append({"name": r.name, "cat": "layer", "ph": "X", "pid": pid, "tid": 0, "ts": t_img[pid],
                           "dur": dur, "args": {"cycles": int(r.cycles), "breakdown": dict(r.breakdown),
                                                "macs_effectual": int(r.macs_effectual),
                                                "macs_actual": int(r.macs_actual),
                                                "energy_pJ": sum(r.energy_pJ.values())}})
            events.append({"name": "utilization", "ph": "C", "pid": pid, "tid": 0, "ts": t_img[pid],
                           "args": {"utilization": float(r.utilization or 0.0)}})
            tl = (r.extra or {}).get("pe_timeline")
            if tl:
                events += _pe_events(tl, r.name, pid, t_img[pid], 1e6 / clock, named)
            t_img[pid] += dur
        return {"traceEvents": events, "displayTimeUnit": "ns",
                "otherData": {"clock_hz": clock, "workload_hash": self.workload.content_hash,
                              "config_hash": self.cfg.hash, "note": "ts/dur in microseconds at clock_hz"}}

    def write(self, outdir) -> dict[str, str]:
        """report.json, COMPUTE_REPORT.csv and summary.md in ``outdir`` (atomic writes)."""
        out = Path(outdir)
        files = {"json": out / "report.json", "csv": out / "COMPUTE_REPORT.csv", "md": out / "summary.md"}
        atomic_write_bytes(files["json"], self.to_json().encode())
        atomic_write_bytes(files["csv"], self.to_csv().encode())
        atomic_write_bytes(files["md"], self.to_markdown().encode())
        return {k: str(v) for k, v in files.items()}


def _pe_events(tl: dict, layer: str, pid: int, t0: float, us_per_cycle: float, named: set) -> list[dict]:
    """Chrome events of one layer's per-PE timeline (see ``engine.pe_timeline``); PE k is thread k + 1,
    the chip-wide phases are thread npe + 1."""
    ev = []
    busy, stall = tl["pe_busy"], tl["pe_stall"]
    npe = len(busy[0]) if busy else 0
    chip = npe + 1
    for tid, name in [(k + 1, f"PE {k}") for k in range(npe)] + [(chip, "chip: halo / PPU / DRAM")]:
        if (pid, tid) not in named:
            named.add((pid, tid))
            ev.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}})
    for r, start in enumerate(tl["round_start"]):
        ts = t0 + start * us_per_cycle
        T = tl["round_len"][r]
        for k in range(npe):
            b = busy[r][k]
            if b:
                ev.append({"name": "compute", "cat": layer, "ph": "X", "pid": pid, "tid": k + 1, "ts": ts,
                           "dur": b * us_per_cycle, "args": {"layer": layer, "round": r, "cycles": b,
                                                             "conflict_stall": stall[r][k]}})
            if T > b:
                ev.append({"name": "barrier wait", "cat": layer, "ph": "X", "pid": pid, "tid": k + 1,
                           "ts": ts + b * us_per_cycle, "dur": (T - b) * us_per_cycle,
                           "args": {"layer": layer, "round": r, "cycles": T - b}})
        at = ts + T * us_per_cycle
        for key, label in (("halo", "halo exchange"), ("exposed_drain", "PPU drain"), ("mem_stall_after", "DRAM stall")):
            c = tl[key][r]
            if c:
                ev.append({"name": label, "cat": layer, "ph": "X", "pid": pid, "tid": chip, "ts": at,
                           "dur": c * us_per_cycle, "args": {"layer": layer, "round": r, "cycles": c}})
                at += c * us_per_cycle
    return ev


def technology_line(tech: dict) -> str:
    """One line of a :meth:`accelsim.base.AcceleratorModel.technology` dict."""
    dram = tech.get("dram_pJ_per_byte")
    return (f"{tech['node_nm']:g} nm, {tech['voltage_v']:g} V, {tech['datapath_bits']}-bit datapath, "
            f"{tech['clock_hz'] / 1e6:g} MHz, {tech['onchip_sram_bytes'] / 1024:.0f} KiB on-chip SRAM, "
            f"{tech['area_mm2']:.3f} mm^2 ({tech['area_method']}), energy table {tech['energy_table']}"
            + (f", DRAM {dram:g} pJ/byte" if dram is not None else ", no DRAM row"))


def stall_cycles(breakdown: dict) -> int:
    """Memory/bandwidth stall cycles of a breakdown: keys ``memory_stall`` or ending in ``_stall``."""
    return sum(int(v) for k, v in breakdown.items() if k == "memory_stall" or k.endswith("_stall"))


def _portable(d: dict) -> dict:
    """The report without machine-specific fields (absolute paths, wall time) and each layer's timing path
    (``extra["path"]``: the fast path and the loop give the same numbers, so the same hash), for the report hash."""
    d = json.loads(json.dumps(d, default=json_default))
    d.get("arch", {}).pop("file", None)
    d.get("energy_table", {}).pop("file", None)
    d.get("workload", {}).pop("source", None)
    d.get("workload", {}).pop("meta", None)  # provenance (may hold paths); the content hash covers the data
    for lay in d.get("layers", []):  # how a layer's numbers were computed (closed form or loop, proven equal)
        (lay.get("extra") or {}).pop("path", None)
    return d

