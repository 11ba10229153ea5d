"""Orchestration of ``accelsim compare`` (see :mod:`accelsim.compare` for what the table means).

Steps: load the rows' heads -> per image, backbone+FPN features (untimed) -> head GFLOPs from the
official hard-gate tally -> measured head latency (dense / masked, batch 1 / batch N) -> per-image
traces (``dynhead.trace``) -> ``simulate`` on every target -> table, JSON, CSV, plots.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .compare import GPU_PEAK_MACS, MODELS, PAPER_V100, _parse_overrides
from .errors import AccelsimError

LABELS = {"baseline": "baseline (no gates)", "large": "dynamic Large (lambda 0.1)",
          "small": "dynamic Small (lambda 0.8)"}


def _stats(v):
    from .gpu import latency_stats
    return latency_stats(v) if len(v) else {}


# ------------------------------------------------------------------ rows
class Row:
    """One model row: the head that is measured/traced and how to drive it per image."""

    def __init__(self, name, head, backbone_model, gate_model=None, width=None):
        self.name = name
        self.head = head                  # head measured and traced (possibly wide, random weights)
        self.backbone_model = backbone_model  # FCOS giving the FPN features (trained narrow model)
        self.gate_model = gate_model      # trained model whose gates drive a wide head (None: own gates)
        self.width = width
        self.features = []                # per image: list of 5 tensors (1, C, h, w) at the head's width
        self.gates = []                   # per image: gate dict for gate_override (or None)
        self.gflops = []
        self.seen_gates = []              # per image: the gates the head actually used (cpu)
        self.active_ratio = []            # per image: open fraction of all depth-gate pixels


def _load_rows(a, size):
    import torch

    import dynhead
    from dynhead.checkpoint import load_model
    from dynhead.model import build_head

    dyn = {}
    for name, path in (("large", a.checkpoint_large), ("small", a.checkpoint_small)):
        m = load_model(path) if path else dynhead.load_shipped(name)
        m.eval()
        if m.head.kind != "dynamic":
            raise AccelsimError(f"--checkpoint-{name}: {path}: head is {m.head.kind!r}, expected a dynamic head")
        dyn[name] = m
    cfg = dyn["small"].cfg
    if dyn["large"].cfg.depth != cfg.depth or dyn["large"].cfg.channels != cfg.channels:
        raise AccelsimError("--checkpoint-large/--checkpoint-small: the two dynamic models differ in depth or width")
    width = a.width or cfg.channels
    if width % 32:
        raise AccelsimError(f"--width {width}: must be a multiple of 32 (GroupNorm groups)")
    depth = cfg.depth
    bdepth = a.baseline_depth or depth
    torch.manual_seed(a.seed)
    base_head = build_head("fix", bdepth, width, cfg.num_classes).eval()
    rows = {"baseline": Row("baseline", base_head, dyn["small"], None, width)}
    for name in ("large", "small"):
        m = dyn[name]
        if width == cfg.channels:
            rows[name] = Row(name, m.head, m, None, width)
        else:
            torch.manual_seed(a.seed + 1)
            wide = build_head("dynamic", depth, width, cfg.num_classes).eval()
            rows[name] = Row(name, wide, m, m, width)
    return rows, cfg


def _raw_images(a):
    import dynhead
    if a.image_dir:
        from dynhead.data import load_image_folder
        imgs = [im for _, im in load_image_folder(a.image_dir)]
    else:
        imgs = dynhead.sample_images()
    if not imgs:
        raise AccelsimError("no images to run (empty --image-dir?)")
    if a.images < 1:
        raise AccelsimError(f"--images: must be >= 1, got {a.images}")
    return [imgs[i % len(imgs)] for i in range(a.images)]


def _images(raw, size):
    import torch
    import torch.nn.functional as F

    out = []
    for im in raw:
        t = torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1)[None].float()
        out.append(F.interpolate(t, size=size, mode="bilinear", align_corners=False))
    return out


def _prepare(rows, images, a):
    """Features and gates per image (untimed), then the hard-gate GFLOPs of every row."""
    import torch

    from dynhead.cost import hard_gflops
    from dynhead.model import HeadContext, random_features

    with torch.inference_mode():
        for name, row in rows.items():
            m = row.backbone_model
            for i, img in enumerate(images):
                x, _ = m.preprocess(img)
                feats = m.features(x)
                gates = None
                if row.gate_model is not None:  # wide head: narrow model's gates, seeded random features
                    ctx = HeadContext()
                    row.gate_model.head(feats, ctx=ctx)
                    gates = dict(ctx.gates)
                    sizes = [tuple(f.shape[-2:]) for f in feats]
                    feats = random_features(_input_size(sizes), row.width, 1, seed=a.seed + 100 + i)
                elif name == "baseline" and feats[0].shape[1] != row.width:
                    sizes = [tuple(f.shape[-2:]) for f in feats]
                    feats = random_features(_input_size(sizes), row.width, 1, seed=a.seed + 100 + i)
                row.features.append(feats)
                row.gates.append(gates)
                ctx = HeadContext(gate_override=gates)
                row.head(feats, ctx=ctx)
                row.gflops.extend(hard_gflops(row.head))
                seen = {k: v.detach().cpu() for k, v in ctx.gates.items()}
                row.seen_gates.append(seen)
                depth = [v for k, v in seen.items() if k[3] == "depth"]
                row.active_ratio.append(float(sum(int((v > 0).sum()) for v in depth) /
                                              max(1, sum(v.numel() for v in depth))) if depth else 1.0)


def _input_size(level_sizes):
    h, w = level_sizes[0]
    return (h * 8, w * 8)


# ------------------------------------------------------------------ measurement
def _measure(rows, a, device):
    import torch

    from dynhead.model import HeadContext
    from .gpu import fp32_only, measure

    fp32_only()  # dense (cuDNN conv) and masked (matmul) heads at the same precision on any GPU
    out = {}
    for name, row in rows.items():
        head = row.head.to(device)
        modes = ("dense",) if name == "baseline" else ("dense", "masked")
        res = {}
        for mode in modes:
            masked = mode == "masked"
            # batch 1: every image separately (per-image latency distribution)
            per_image = []
            for feats, gates in zip(row.features, row.gates):
                f = [t.to(device) for t in feats]
                g = {k: v.to(device) for k, v in gates.items()} if gates else None
                st = measure(lambda: head(f, masked=masked, ctx=HeadContext(masked=masked, gate_override=g,
                                                                       tally=False)),
                             device, warmup=a.warmup, reps=a.reps)
                per_image.append(st)
            avgs = [s["avg"] for s in per_image]
            res[f"{mode}_b1"] = {"per_image_avg_s": avgs, "latency_s": _stats(avgs),
                                 "cv_max": max(s["cv"] for s in per_image), "protocol": per_image[0]["protocol"]}
            # batch N: images cycled to N, latency per image = batch time / N
            N = max(1, a.batch)
            idx = [i % len(row.features) for i in range(N)]
            fb = [torch.cat([row.features[i][l] for i in idx]).to(device) for l in range(5)]
            gb = None
            if row.gates[0]:
                gb = {k: torch.cat([row.gates[i][k] for i in idx]).to(device) for k in row.gates[0]}
            st = measure(lambda: head(fb, masked=masked, ctx=HeadContext(masked=masked, gate_override=gb,
                                                                        tally=False)),
                         device, warmup=max(1, a.warmup // 2), reps=max(3, a.reps // 2))
            res[f"{mode}_bN"] = {"batch": N, "latency_s_per_image": st["avg"] / N, "batch_stats": st}
        out[name] = res
        row.head.to("cpu")
    return out


#: settings a --measured file must share with this run (the rows must describe the same heads and images);
#: checkpoints by content, as their paths differ between the GPU machine and this one
MEASURED_KEYS = ("size", "images", "batch", "width", "depth", "baseline_depth", "seed", "checkpoint_sha256")
#: the measurements of a row (see _measure) and the fields _assemble reads from each
MEASURED_FIELDS = {"dense_b1": ("latency_s", "cv_max"), "masked_b1": ("latency_s", "cv_max"),
                   "dense_bN": ("batch", "latency_s_per_image"), "masked_bN": ("batch", "latency_s_per_image")}


def _sha16(data: bytes) -> str:
    import hashlib
    return hashlib.sha256(data).hexdigest()[:16]


def _settings(a, size, rows, cfg) -> dict:
    import dynhead
    ckpt = {n: getattr(a, f"checkpoint_{n}") for n in ("large", "small")}
    return {"size": list(size), "images": a.images, "batch": a.batch, "width": rows["small"].width,
            "depth": cfg.depth, "baseline_depth": rows["baseline"].head.depth, "prune": a.prune, "seed": a.seed,
            "checkpoints": {n: p or f"shipped:{n}" for n, p in ckpt.items()},
            "checkpoint_sha256": {n: _sha16(Path(p or dynhead.shipped_path(n)).read_bytes())
                                  for n, p in ckpt.items()}}


def _check_measured_raw(raw) -> None:
    """Raise (field, reason) for the first measurement _assemble could not read."""
    def number(v, field, positive=True):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or (positive and v <= 0):
            raise ValueError(field, f"must be a {'positive' if positive else 'finite'} number, got {v!r}")
    for model, modes in raw.items():
        f = f"measured_raw.{model}"
        if model not in MODELS:
            raise ValueError(f, f"not a model row ({', '.join(MODELS)})")
        if not isinstance(modes, dict):
            raise ValueError(f, f"must be an object of measurements, got {type(modes).__name__}")
        for mode, m in modes.items():
            if mode not in MEASURED_FIELDS:
                raise ValueError(f"{f}.{mode}", f"not a measurement ({', '.join(MEASURED_FIELDS)})")
            if not isinstance(m, dict):
                raise ValueError(f"{f}.{mode}", f"must be an object, got {type(m).__name__}")
            for k in MEASURED_FIELDS[mode]:
                v = m.get(k)
                if k == "latency_s":
                    if not isinstance(v, dict):
                        raise ValueError(f"{f}.{mode}.{k}", f"must be an object of statistics, got {v!r}")
                    number(v.get("avg"), f"{f}.{mode}.{k}.avg")
                    for st, x in v.items():
                        number(x, f"{f}.{mode}.{k}.{st}", positive=False)
                else:
                    number(v, f"{f}.{mode}.{k}", positive=k != "cv_max")


def _load_measured(path, a, size, rows, cfg, raw):
    """(measured, device) of a compare.json written by another run, after checking it measured the
    same heads on the same images (the MEASURED_KEYS of its settings)."""
    from .paths import read_json
    p = Path(path)
    res = read_json(p, "--measured", "compare.json")
    if not isinstance(res, dict) or not isinstance(res.get("measured_raw"), dict) or not res["measured_raw"]:
        raise AccelsimError(f"--measured: {p}: field 'measured_raw': missing or empty (not a compare.json with "
                            f"measurements)")
    for k in ("settings", "device"):
        if not isinstance(res.get(k), dict):
            raise AccelsimError(f"--measured: {p}: field {k!r}: must be an object, got {res.get(k)!r}")
    try:
        _check_measured_raw(res["measured_raw"])
    except ValueError as e:
        raise AccelsimError(f"--measured: {p}: field {e.args[0]!r}: {e.args[1]}") from None
    here, there = _settings(a, size, rows, cfg), res["settings"]
    for k in MEASURED_KEYS:
        if there.get(k) != here[k]:
            raise AccelsimError(f"--measured: {p}: field 'settings.{k}': {there.get(k)!r} there, {here[k]!r} in "
                                f"this run")
    if res.get("image_hashes") != image_hashes(raw):
        why = "missing" if res.get("image_hashes") is None else "the measurement used other images"
        raise AccelsimError(f"--measured: {p}: field 'image_hashes': {why}")
    return res["measured_raw"], res["device"]


def image_hashes(raw) -> list[str]:
    """sha256 (16 hex digits) of each input image's uint8 pixels: identifies the inputs across machines."""
    return [_sha16(np.ascontiguousarray(np.asarray(img, dtype=np.uint8)).tobytes()) for img in raw]


# ------------------------------------------------------------------ traces + simulation
def _baseline_as_dynamic(fix_head):
    """The gate-free baseline as a dynamic head with the same weights and every gate forced open
    (scale_weight = 1), so ``dynhead.trace`` can record it; its gate convs are dropped afterwards."""
    import torch

    from dynhead.model import build_head
    dyn = build_head("dynamic", fix_head.depth, fix_head.C, fix_head.num_classes).eval()
    sd = {}
    for k, v in fix_head.state_dict().items():
        parts = k.split(".")
        if len(parts) > 3 and parts[0] in ("cls_subnet", "bbox_subnet") and parts[2] == "convs":
            k = ".".join(parts[:2] + ["dynamic_convs", parts[3], "convs"] + parts[4:])
        sd[k] = v
    missing, unexpected = dyn.load_state_dict(sd, strict=False)
    assert not unexpected and all(".gate." in k or k.endswith("scale_weight") for k in missing), (missing, unexpected)
    with torch.no_grad():
        for st in list(dyn.cls_subnet) + list(dyn.bbox_subnet):
            st.scale_weight.fill_(1.0)
    return dyn


def _trace(name, row, a, size, raw_images):
    """Per-image workload of one row (see module doc of dynhead.trace)."""
    from dynhead.trace import magnitude_prune_, trace_head_only, trace_model
    if name != "baseline":
        wl = trace_model(row.backbone_model, raw_images, size, width=row.width if row.gate_model else None,
                         prune=a.prune, seed=a.seed, warn=lambda s: None,
                         checkpoint=getattr(a, f"checkpoint_{name}") or f"shipped:{name}")
        wl.name = f"{name}_{wl.name}"
        return wl
    head = _baseline_as_dynamic(row.head)
    meta = {"row": "baseline", "sources": {
        "weights": f"seeded random (seed {a.seed}), N(0, 0.01) init as an untrained head",
        "activations": "the head's own, on the trained model's FPN features" if row.gate_model is None and
        row.width == row.backbone_model.head.C else "the head's own, on seeded random FPN features",
        "masks": "none: every output pixel is computed (gate-free head)"}}
    if a.prune is not None:
        meta["pruning"] = {"target_density": a.prune, "densities": magnitude_prune_(head, a.prune)}
    ones = _open_gates(head, row.features)
    wl = trace_head_only(head, row.features, gate_override_per_image=ones, meta=meta, name="baseline_fix_head")
    keep = [n for n, L in wl.layers.items() if not L.meta.get("op", "").startswith("gate_")]
    sub = wl.subset(keep)
    for n in keep:  # gate-free: no output masks
        for img in sub.images:
            if n in img:
                img[n] = type(img[n])(acts=img[n].acts, out_mask=None, act_density=img[n].act_density)
    sub.image_meta = [dict(m) for m in wl.image_meta]
    return sub


def _open_gates(head, features_per_image):
    """Per image, the gate dict a dynamic head reads (``(tower, stage, level, "scale{s}"|"depth")`` ->
    (1, 1, h, w)), all ones: every gate open."""
    import torch
    keys = [f"scale{s}" for s in range(head.K)] + ["depth"]
    return [{(t, d, l, k): torch.ones(1, 1, *f.shape[-2:])
             for t in ("cls", "reg") for d in range(head.depth) for l, f in enumerate(feats) for k in keys}
            for feats in features_per_image]


#: PE-count fields scaled for the iso-throughput re-simulation: "lin" multiplies by the factor, "sqrt"
#: (two fields of a 2-D grid) by its square root; buffers, NoC and DRAM bandwidth stay as configured
ISO_FIELDS = {"pe_rows": "sqrt", "pe_cols": "sqrt", "n_pe": "lin", "pe.count": "lin", "clusters.rows": "sqrt",
              "clusters.cols": "sqrt", "array.height": "sqrt", "array.width": "sqrt"}


def iso_overrides(cfg, factor: float) -> dict:
    """Overrides that scale a config's PE count by about ``factor`` (rounded per field, >= 1)."""
    out = {}
    for k, rule in ISO_FIELDS.items():
        if k in cfg:
            f = factor ** 0.5 if rule == "sqrt" else factor
            out[k] = max(1, int(round(cfg[k] * f)))
    return out


def _simulate(traces, targets, overrides, a, log, gpu_peak=None):
    if not targets:  # measurement only: a GPU machine may have torch + numpy and nothing else
        return {}, [], {}, {}
    from .config import list_presets
    from .engine import make_model, simulate

    presets = set(list_presets())
    sims, missing, peaks, iso_cfg = {}, [], {}, {}
    for t in targets:
        if t not in presets:
            missing.append(t)
            continue
        variants = [(t, make_model(t, overrides.get(t) or None))]
        peaks[t] = variants[0][1].peak_macs_per_cycle() * variants[0][1].cfg.clock_hz
        if getattr(a, "iso_resimulate", False) and gpu_peak:
            ov = iso_overrides(variants[0][1].cfg, gpu_peak / peaks[t])
            if ov:
                m = make_model(variants[0][1].cfg, ov)
                iso_cfg[f"{t}@iso"] = ov
                peaks[f"{t}@iso"] = m.peak_macs_per_cycle() * m.cfg.clock_hz
                variants.append((f"{t}@iso", m))
        for label, model in variants:
            for name, wl in traces.items():
                t0 = time.perf_counter()
                rep = simulate(wl, model, jobs=a.jobs, seed=a.seed, on_unsupported="skip", progress=False)
                sims[(name, label)] = rep
                log(f"simulated {name} on {label}: {rep.total()['latency_s'] * 1e3 / max(1, wl.n_images):.3f} "
                    f"ms/image ({time.perf_counter() - t0:.1f} s wall)")
    return sims, missing, peaks, iso_cfg


_TORCH_NUMPY_ONLY = ("on a machine with torch + numpy only, measure with --targets '' --no-plots and merge "
                     "its compare.json where the rest is installed with --measured")


def _check_imports(a, targets) -> None:
    """Import what tracing, simulating and plotting need before anything is measured: on a GPU
    machine with torch + numpy only, a late ImportError would throw the measurement away."""
    if targets:
        try:
            from workloads import Workload

            from .config import list_presets
            from .engine import make_model
            Workload("import check")                     # networkx (the layer graph, imported lazily)
            for t in sorted(set(targets) & set(list_presets())):
                make_model(t)                            # yaml, numba (the models' kernels)
        except ImportError as e:
            raise AccelsimError(f"--targets: simulating needs {e.name or e}, which is not importable here; "
                                f"{_TORCH_NUMPY_ONLY}") from None
    if not a.no_plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError as e:
            raise AccelsimError(f"--no-plots: needed here, the plots need {e.name or e}, which is not "
                                f"importable; {_TORCH_NUMPY_ONLY}") from None


class _Log:
    """Progress lines on stderr (stdout stays clean for --json), with elapsed time."""

    def __init__(self, quiet=False):
        import sys
        self.t0, self.quiet, self.err = time.perf_counter(), quiet, sys.stderr

    def __call__(self, msg):
        if not self.quiet:
            self.err.write(f"[compare {time.perf_counter() - self.t0:6.1f} s] {msg}\n")
            self.err.flush()


# ------------------------------------------------------------------ main
def run_compare(a) -> dict:
    import torch

    from dynhead.cost import full_gflops, parse_size
    from .gpu import device_info, pick_device

    t0 = time.perf_counter()
    try:
        size = parse_size(a.size)
    except ValueError as e:
        raise AccelsimError(f"--size: {e}") from None
    from dynhead.cost import level_sizes
    p7 = level_sizes(size, pad=True)[-1]
    if p7[0] * p7[1] < 2:  # GroupNorm over one pixel x one channel per group is undefined
        raise AccelsimError(f"--size {a.size}: too small, P7 would be {p7[0]}x{p7[1]} (need at least 2 pixels, "
                            f"e.g. 128x192 or 256x256)")
    if a.images < 1 or a.batch < 1 or a.reps < 1:
        raise AccelsimError("--images, --batch and --reps must be >= 1")
    if a.prune is not None and not 0.0 < a.prune <= 1.0:
        raise AccelsimError(f"--prune: density must be in (0, 1], got {a.prune}")
    targets = [t for t in a.targets.split(",") if t]
    overrides = _parse_overrides(a.overrides, targets)
    _check_imports(a, targets)
    try:
        device = pick_device(a.device)
    except ValueError as e:
        raise AccelsimError(str(e)) from None
    torch.manual_seed(a.seed)

    log = _Log(quiet=getattr(a, "quiet", False))
    rows, cfg = _load_rows(a, size)
    raw = _raw_images(a)
    images = _images(raw, size)
    _prepare(rows, images, a)
    log(f"{len(images)} image(s) at {size[0]}x{size[1]}, head C={rows['small'].width} D={cfg.depth}; features and "
        f"gates ready")
    dev = device_info(device)
    if getattr(a, "measured", None):
        measured, dev = _load_measured(a.measured, a, size, rows, cfg, raw)
        log(f"measured head latency taken from {a.measured} ({dev.get('name')})")
    else:
        measured = {} if a.no_measure else _measure(rows, a, device)
        log(f"measured head latency on {dev.get('name')}")
    traces = {}
    for name, row in (rows.items() if targets else ()):  # no targets: GFLOPs and measurement only
        traces[name] = _trace(name, row, a, size, raw)
        log(f"traced {name}: {len(traces[name].layers)} layers x {traces[name].n_images} image(s)")
    gpu_peak = (a.gpu_peak_tmacs * 1e12 if a.gpu_peak_tmacs else
                next((v for k, v in GPU_PEAK_MACS.items() if dev.get("kind") == "gpu" and k in dev.get("name", "")),
                     GPU_PEAK_MACS["V100"]))
    gpu_peak_src = ("--gpu-peak-tmacs" if a.gpu_peak_tmacs else
                    ("data sheet of the measured GPU" if dev.get("kind") == "gpu" and any(
                        k in dev.get("name", "") for k in GPU_PEAK_MACS) else "V100 FP32 data sheet (the paper's GPU)"))
    sims, missing, peaks, iso_cfg = _simulate(traces, targets, overrides, a, log, gpu_peak)

    res = _assemble(a, size, cfg, rows, traces, measured, sims, missing, peaks, dev, gpu_peak, gpu_peak_src,
                    full_gflops, iso_cfg)
    res["measured_raw"] = measured
    res["image_hashes"] = image_hashes(raw)
    res["wall_s"] = time.perf_counter() - t0
    files = _write(res, rows, traces, sims, a, images)
    res["files"] = files
    return res


def _assemble(a, size, cfg, rows, traces, measured, sims, missing, peaks, dev, gpu_peak, gpu_peak_src,
              full_gflops, iso_cfg=None):
    iso_cfg = iso_cfg or {}
    entries = []
    dev_label = f"{'GPU' if dev.get('kind') == 'gpu' else 'CPU (no GPU available)'}: {dev.get('name')}"
    for name in MODELS:
        row = rows[name]
        g = _stats(row.gflops)
        meas = measured.get(name, {})
        for mode_key, m in meas.items():
            if mode_key.endswith("_b1"):
                entries.append({"model": name, "target": f"{dev.get('kind')}:{mode_key[:-3]}", "kind": "measured",
                                "batch": 1, "latency_s": m["latency_s"], "cv_max": m["cv_max"],
                                "energy_j_per_image": None, "gflops": g})
            else:
                entries.append({"model": name, "target": f"{dev.get('kind')}:{mode_key[:-3]}", "kind": "measured",
                                "batch": m["batch"], "latency_s": {"avg": m["latency_s_per_image"]},
                                "energy_j_per_image": None, "gflops": g})
        if not meas and not any(mname == name for mname, _ in sims):  # --no-measure, no targets
            entries.append({"model": name, "target": "flops-only", "kind": "accounting", "batch": 1,
                            "latency_s": {}, "energy_j_per_image": None, "gflops": g})
        for (mname, t), rep in sims.items():
            if mname != name:
                continue
            pi = rep.per_image()
            lat = _stats([p["latency_s"] for p in pi])
            en = _stats([p["energy_j"] for p in pi])
            iso = peaks[t] / gpu_peak
            entries.append({"model": name, "target": t, "kind": "simulated", "batch": 1, "latency_s": lat,
                            "energy_j_per_image": en, "gflops": g, "clock_hz": rep.cfg.clock_hz,
                            "iso_throughput_latency_s": {k: v * iso for k, v in lat.items() if k in ("avg", "min", "max")},
                            "skipped_layers": [s["name"] for s in rep.skipped],
                            "iso_overrides": iso_cfg.get(t),
                            "peak_macs_per_s": peaks[t],
                            "energy_by_action_pJ_per_image": {k: v / max(1, len(pi)) for k, v in
                                                              rep.energy_by_action().items()},
                            "report_hash": rep.hash})
    # speedups vs the baseline on the same target; measured rows against the baseline's dense run at the
    # same batch size (the baseline has no gates, so it has no masked execution)
    def key(e):
        t = e["target"]
        if e["kind"] == "measured":
            t = t.split(":")[0] + ":dense"
        return (t, e.get("batch", 1))
    base = {key(e): e["latency_s"].get("avg") for e in entries if e["model"] == "baseline"}
    for e in entries:
        b = base.get(key(e))
        e["speedup_vs_baseline"] = (b / e["latency_s"]["avg"]) if b and e["latency_s"].get("avg") else None
    for name in MODELS:
        p = PAPER_V100[name]
        entries.append({"model": name, "target": "paper:V100", "kind": "reference", "batch": 1,
                        "latency_s": {k: (v / 1e3 if v is not None else None) for k, v in p["latency_ms"].items()},
                        "gflops": {"avg": p["gflops"]}, "energy_j_per_image": None,
                        "speedup_vs_baseline": PAPER_V100["baseline"]["latency_ms"]["avg"] / p["latency_ms"]["avg"],
                        "source": "rebuttal Table 5 (NeurIPS 2020 author feedback), head only, Tesla V100"})
    bdepth = rows["baseline"].head.depth
    return {
        "settings": {**_settings(a, size, rows, cfg), "targets": [t for t in a.targets.split(",") if t],
                     "missing_targets": missing},
        "device": dev, "device_label": dev_label,
        "baseline_full_gflops": full_gflops("fix", bdepth, size, C=rows["baseline"].width, pad=True),
        "gpu_peak_macs_per_s": gpu_peak, "gpu_peak_source": gpu_peak_src,
        "iso_throughput_note": "ideal PE-count scaling to the GPU's peak MAC rate (optimistic bound); "
                               "targets named <preset>@iso are re-simulated with the PE count scaled to that "
                               "peak (--iso-resimulate; buffers, NoC and DRAM bandwidth unchanged)",
        "accelerator_peak_macs_per_s": peaks,
        "workloads": {n: {"hash": wl.content_hash, "images": wl.n_images, "layers": len(wl.layers),
                          "meta": wl.meta} for n, wl in traces.items()},
        "configs": {t: rep.cfg.to_dict() for (n, t), rep in sims.items() if n == "baseline"},
        "per_image": {n: {"gflops": rows[n].gflops, "active_ratio": rows[n].active_ratio} for n in rows},
        "entries": entries,
    }


def _fmt_ms(st, key="avg"):
    v = st.get(key) if st else None
    return "-" if v is None else f"{v * 1e3:.3f}"


def _markdown(res) -> str:
    s = res["settings"]
    lines = [f"# accelsim compare — head only, {s['size'][0]}x{s['size'][1]}, C={s['width']}, "
             f"D={s['depth']} (baseline D={s['baseline_depth']}), {s['images']} image(s)", "",
             f"Measured on **{res['device_label']}** (torch {res['device'].get('torch')}); simulated targets at "
             f"their own clocks; the paper's V100 row is a labelled reference.", "",
             "| model | target | kind | GFLOPs avg (min-max) | latency ms avg (min-max) | speedup vs baseline | "
             "energy uJ/image | iso-throughput ms |", "|---|---|---|---|---|---|---|---|"]
    for e in res["entries"]:
        g = e.get("gflops") or {}
        gf = f"{g.get('avg', 0):.3f}" + (f" ({g['min']:.3f}-{g['max']:.3f})" if "min" in g and g.get("min") is not None else "")
        lat = e["latency_s"]
        lt = _fmt_ms(lat) + (f" ({_fmt_ms(lat, 'min')}-{_fmt_ms(lat, 'max')})" if lat.get("min") is not None else "")
        sp = f"{e['speedup_vs_baseline']:.2f}x" if e.get("speedup_vs_baseline") else "-"
        en = e.get("energy_j_per_image") or {}
        et = f"{en['avg'] * 1e6:.3f}" if en.get("avg") is not None else "-"
        iso = _fmt_ms(e.get("iso_throughput_latency_s") or {})
        tgt = e["target"] + (f" (batch {e['batch']})" if e.get("batch", 1) > 1 else "")
        lines.append(f"| {LABELS[e['model']]} | {tgt} | {e['kind']} | {gf} | {lt} | {sp} | {et} | {iso} |")
    lines += ["", f"Baseline full cost at this size: {res['baseline_full_gflops']:.2f} GFLOPs (official accounting).",
              f"Iso-throughput: {res['iso_throughput_note']}; GPU peak {res['gpu_peak_macs_per_s'] / 1e12:.2f} TMAC/s "
              f"({res['gpu_peak_source']})."]
    cvs = [e["cv_max"] for e in res["entries"] if e.get("cv_max") is not None]
    if cvs:
        lines.append(f"Measurement repeatability: worst per-image coefficient of variation {max(cvs) * 100:.1f} %.")
    if res["settings"]["missing_targets"]:
        lines.append("Targets without a preset (skipped): " + ", ".join(res["settings"]["missing_targets"]))
    return "\n".join(lines) + "\n"


def _csv(res) -> str:
    import csv
    import io
    buf = io.StringIO()
    cols = ["model", "target", "kind", "batch", "gflops_avg", "gflops_min", "gflops_max", "latency_s_avg",
            "latency_s_min", "latency_s_max", "latency_s_p50", "latency_s_p99", "speedup_vs_baseline",
            "energy_j_per_image_avg", "iso_throughput_latency_s_avg"]
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    for e in res["entries"]:
        g, lat, en = e.get("gflops") or {}, e["latency_s"], e.get("energy_j_per_image") or {}
        w.writerow({"model": e["model"], "target": e["target"], "kind": e["kind"], "batch": e.get("batch"),
                    "gflops_avg": g.get("avg"), "gflops_min": g.get("min"), "gflops_max": g.get("max"),
                    "latency_s_avg": lat.get("avg"), "latency_s_min": lat.get("min"),
                    "latency_s_max": lat.get("max"), "latency_s_p50": lat.get("p50"),
                    "latency_s_p99": lat.get("p99"), "speedup_vs_baseline": e.get("speedup_vs_baseline"),
                    "energy_j_per_image_avg": en.get("avg"),
                    "iso_throughput_latency_s_avg": (e.get("iso_throughput_latency_s") or {}).get("avg")})
    return buf.getvalue()


def _write(res, rows, traces, sims, a, images) -> dict:
    from workloads.storage import atomic_write_bytes

    from .report import _default
    out = Path(a.out)
    files = {"json": out / "compare.json", "md": out / "compare.md", "csv": out / "compare.csv"}
    atomic_write_bytes(files["md"], _markdown(res).encode())
    atomic_write_bytes(files["csv"], _csv(res).encode())
    if not a.no_plots:
        from .compare_plots import write_plots
        files.update(write_plots(res, rows, traces, sims, out, images))
    res_files = {k: str(v) for k, v in files.items()}
    res["files"] = res_files
    atomic_write_bytes(files["json"], json.dumps(res, indent=2, default=_default).encode())
    return res_files
