"""Timed measurement of the rows' heads (dense / masked, batch 1 / batch N), and the measured rows of
another run's compare.json (``measured=``) after checking they describe the same heads and images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AccelsimError, SettingsError
from .constants import MODELS
from .rows import image_hashes
from .settings import CompareSettings

#: settings a ``measured`` file must share with this run (the rows must describe the same heads and
#: images); checkpoints by content, as their paths differ between the GPU machine and this one
MEASURED_KEYS = ("size", "images", "batch", "width", "depth", "baseline_depth", "seed", "checkpoint_sha256")
#: the measurements of a row (see measure_rows) and the fields tables.assemble reads from each, plus
#: ``convs_timed`` (how many convs the timed forward ran, checked against this run's traces)
MEASURED_FIELDS = {"dense_b1": ("latency_s", "cv_max", "convs_timed"),
                   "masked_b1": ("latency_s", "cv_max", "convs_timed"),
                   "dense_bN": ("batch", "latency_s_per_image", "convs_timed"),
                   "masked_bN": ("batch", "latency_s_per_image", "convs_timed")}


def stats(values) -> dict:
    """avg/min/max/percentiles of a list of seconds ({} for an empty list)."""
    from ..gpu import latency_stats
    return latency_stats(values) if len(values) else {}


def timed_call(head, features, gates, masked: bool):
    """The closure that is timed: one forward of ``head`` (``gates``: the trained model's decisions,
    used after the head's own gate convs ran; None: the head's own gates).  No FLOP tally."""
    from dynhead.model import HeadContext
    return lambda: head(features, masked=masked, ctx=HeadContext(masked=masked, gate_override=gates, tally=False))


def timed_convs(head, fn, features, expected, what: str) -> dict:
    """Run ``fn`` (the closure that is timed) once with hooks on every conv of ``head`` and check it
    runs exactly the ``expected`` layers (the trace's), each once; returns the counts recorded in
    compare.json.  A mismatch is a bug of this program, not bad input: RuntimeError naming the
    convs.  CPU and CUDA alike (torch only)."""
    import torch

    from dynhead.probe import conv_list_mismatch, executed_convs
    with torch.inference_mode():
        ran = executed_convs(head, fn, [tuple(f.shape[-2:]) for f in features])
    bad = conv_list_mismatch(ran, expected)
    if bad:
        raise RuntimeError(f"compare: the timed forward of {what} does not run the simulated convs: {bad}")
    return {"convs_timed": len(ran), "gate_convs_timed": sum(".gate_" in n for n in ran)}


def measure_rows(rows, settings: CompareSettings, device, layer_names: dict) -> dict:
    """``{row: {"dense_b1"|"masked_b1": {...}, "dense_bN"|"masked_bN": {...}}}`` timed on ``device``
    (the baseline has no gates, hence no masked execution).  Before a closure is timed it runs once
    under hooks and must execute exactly ``layer_names[row]`` (the convs the row's trace gives the
    simulators, gate convs included: a wide head driven by the trained gates runs its own gate convs
    at its width, then uses the trained decision)."""
    import torch

    from ..gpu import fp32_only, measure

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
            for i, (feats, gates) in enumerate(zip(row.features, row.gates)):
                f = [t.to(device) for t in feats]
                g = {k: v.to(device) for k, v in gates.items()} if gates else None
                fn = timed_call(head, f, g, masked)
                convs = timed_convs(head, fn, f, layer_names[name], f"{name} {mode} image {i}")
                per_image.append(measure(fn, device, warmup=settings.warmup, reps=settings.reps))
            avgs = [s["avg"] for s in per_image]
            res[f"{mode}_b1"] = {"per_image_avg_s": avgs, "latency_s": stats(avgs), **convs,
                                 "cv_max": max(s["cv"] for s in per_image), "protocol": per_image[0]["protocol"]}
            # batch N: images cycled to N, latency per image = batch time / N
            N = settings.batch
            idx = [i % len(row.features) for i in range(N)]
            fb = [torch.cat([row.features[i][l] for i in idx]).to(device) for l in range(5)]
            gb = None
            if row.gates[0]:
                gb = {k: torch.cat([row.gates[i][k] for i in idx]).to(device) for k in row.gates[0]}
            fn = timed_call(head, fb, gb, masked)
            convs = timed_convs(head, fn, fb, layer_names[name], f"{name} {mode} batch {N}")
            st = measure(fn, device, warmup=max(1, settings.warmup // 2), reps=max(3, settings.reps // 2))
            res[f"{mode}_bN"] = {"batch": N, "latency_s_per_image": st["avg"] / N, **convs, "batch_stats": st}
        out[name] = res
        row.head.to("cpu")
    return out


def fp32_tolerance(head) -> float:
    """Largest error allowed between an FP32 output of ``head`` and its FP64 evaluation, relative to the
    largest |value| of that output: the worst-case rounding bound n * 2**-24 of an n = 9C term FP32
    dot product, for the 2D + 1 convolutions a depth-D head has in series (GroupNorm's rescaling not
    counted; observed on the CPU for the shipped C=32 D3 heads: 7e-7, under 1 % of this bound)."""
    return (2 * head.depth + 1) * 9 * head.C * 2.0 ** -24


def check_masked_vs_dense(model, image, device, *, reps: int = 30, warmup: int = 5) -> dict:
    """The head of a trained ``model`` (FCOS with a dynamic head) on one ``image`` ((1, 3, H, W) float,
    0..255 RGB), dense and masked, on ``device`` in FP32, as compare times it: the gates the model
    computes on the CPU are its decisions (its gate convs still run on ``device``).  Checks, raising
    RuntimeError: each timed forward runs exactly the convs the trace lists; each output equals the
    FP64 CPU evaluation of the same mode within :func:`fp32_tolerance` (dense and masked differ from
    each other: masked GroupNorm normalises over the active pixels only); each measurement has its
    statistics and protocol (:func:`accelsim.gpu.check_measurement`).  Returns ``{"dense"|"masked":
    measurement, "max_rel_err": {mode: error}, "tolerance": ..., "convs_timed": ...}``.  Torch only."""
    import copy

    import torch

    from dynhead.model import HeadContext
    from dynhead.trace import layer_keys, layer_name

    from ..gpu import check_measurement, fp32_only, measure

    fp32_only()
    model = model.eval()
    with torch.inference_mode():
        feats = model.cpu().features(model.preprocess(image.float().cpu())[0])
        ctx = HeadContext()
        model.head(feats, ctx=ctx)
        gates = dict(ctx.gates)
        ref_head = copy.deepcopy(model.head).double()
        f64 = [f.double() for f in feats]
        g64 = {k: v.double() for k, v in gates.items()}
    head = model.head.to(device)
    fd = [f.to(device) for f in feats]
    gd = {k: v.to(device) for k, v in gates.items()}
    expected = [layer_name(*k) for k in layer_keys(head.depth, len(feats))]
    tol = fp32_tolerance(head)
    out = {"max_rel_err": {}, "tolerance": tol}
    try:
        for mode in ("dense", "masked"):
            masked = mode == "masked"
            fn = timed_call(head, fd, gd, masked)
            out["convs_timed"] = timed_convs(head, fn, fd, expected, f"{mode} on {device}")["convs_timed"]
            with torch.inference_mode():
                got = fn()
                ref = ref_head(f64, masked=masked, ctx=HeadContext(masked=masked, gate_override=g64))
            err = max(float((a.double().cpu() - b).abs().max() / b.abs().max().clamp_min(1e-30))
                      for x, y in zip(got, ref) for a, b in zip(x, y))
            out["max_rel_err"][mode] = err
            if not err <= tol:
                raise RuntimeError(f"{mode} head on {device}: FP32 output differs from the FP64 CPU evaluation by "
                                   f"{err:.2e} of its largest value (tolerance {tol:.2e})")
            out[mode] = measure(fn, device, warmup=warmup, reps=reps)
            try:
                check_measurement(out[mode], device)
            except ValueError as e:
                raise RuntimeError(f"{mode} head on {device}: {e}") from None
    finally:
        model.head.to("cpu")
    return out


def check_measured_raw(raw) -> None:
    """Raise ValueError(field, reason) for the first measurement tables.assemble could not read."""
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
                if k == "convs_timed" and v is None:
                    raise ValueError(f"{f}.{mode}.{k}", "missing: measured before compare checked that the timed "
                                     "forward runs every simulated conv (at --width it skipped the gate convs); "
                                     "measure again")
                if k == "latency_s":
                    if not isinstance(v, dict):
                        raise ValueError(f"{f}.{mode}.{k}", f"must be an object of statistics, got {v!r}")
                    number(v.get("avg"), f"{f}.{mode}.{k}.avg")
                    for st, x in v.items():
                        number(x, f"{f}.{mode}.{k}.{st}", positive=False)
                else:
                    number(v, f"{f}.{mode}.{k}", positive=k != "cv_max")


def load_measured(path, here: dict, raw, layer_names: dict | None = None) -> tuple[dict, dict]:
    """``(measured, device)`` of a compare.json written by another run, after checking it measured the
    same heads on the same images: the MEASURED_KEYS of its settings against ``here`` (this run's
    :func:`accelsim.compare.rows.settings_record`), its image hashes against ``raw``'s and, given
    ``layer_names`` (``{row: the convs this run simulates}``), each measurement's ``convs_timed``
    against their number (that run checked its timed convs against its trace).  Errors name the
    field ``measured``, the file and the field inside it."""
    from ..paths import read_json
    p = Path(path)

    def bad(reason):
        return SettingsError("measured", f"{p}: {reason}")

    from ..outset import check_member
    try:
        check_member(p)  # a compare.json of an interrupted or mixed output set is refused
        res = read_json(p, "", "compare.json")
    except AccelsimError as e:  # "<path>: not found" or "<path>: not a compare.json (...)"
        raise SettingsError("measured", str(e)) from None
    if not isinstance(res, dict) or not isinstance(res.get("measured_raw"), dict) or not res["measured_raw"]:
        raise bad("field 'measured_raw': missing or empty (not a compare.json with measurements)")
    for k in ("settings", "device"):
        if not isinstance(res.get(k), dict):
            raise bad(f"field {k!r}: must be an object, got {res.get(k)!r}")
    try:
        check_measured_raw(res["measured_raw"])
    except ValueError as e:
        raise bad(f"field {e.args[0]!r}: {e.args[1]}") from None
    there = res["settings"]
    for k in MEASURED_KEYS:
        if there.get(k) != here[k]:
            raise bad(f"field 'settings.{k}': {there.get(k)!r} there, {here[k]!r} in this run")
    if res.get("image_hashes") != image_hashes(raw):
        raise bad("field 'image_hashes': " + ("missing" if res.get("image_hashes") is None else
                                              "the measurement used other images"))
    for model, modes in res["measured_raw"].items():
        want = len(layer_names[model]) if layer_names and model in layer_names else None
        for mode, m in modes.items():
            if want is not None and m["convs_timed"] != want:
                raise bad(f"field 'measured_raw.{model}.{mode}.convs_timed': {m['convs_timed']} convs timed "
                          f"there, {want} simulated in this run")
    return res["measured_raw"], res["device"]
