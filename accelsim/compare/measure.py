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
#: the measurements of a row (see measure_rows) and the fields tables.assemble reads from each
MEASURED_FIELDS = {"dense_b1": ("latency_s", "cv_max"), "masked_b1": ("latency_s", "cv_max"),
                   "dense_bN": ("batch", "latency_s_per_image"), "masked_bN": ("batch", "latency_s_per_image")}


def stats(values) -> dict:
    """avg/min/max/percentiles of a list of seconds ({} for an empty list)."""
    from ..gpu import latency_stats
    return latency_stats(values) if len(values) else {}


def measure_rows(rows, settings: CompareSettings, device) -> dict:
    """``{row: {"dense_b1"|"masked_b1": {...}, "dense_bN"|"masked_bN": {...}}}`` timed on ``device``
    (the baseline has no gates, hence no masked execution)."""
    import torch

    from dynhead.model import HeadContext

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
            for feats, gates in zip(row.features, row.gates):
                f = [t.to(device) for t in feats]
                g = {k: v.to(device) for k, v in gates.items()} if gates else None
                st = measure(lambda head=head, f=f, masked=masked, g=g: head(f, masked=masked, ctx=HeadContext(masked=masked, gate_override=g,
                                                                       tally=False)),
                             device, warmup=settings.warmup, reps=settings.reps)
                per_image.append(st)
            avgs = [s["avg"] for s in per_image]
            res[f"{mode}_b1"] = {"per_image_avg_s": avgs, "latency_s": stats(avgs),
                                 "cv_max": max(s["cv"] for s in per_image), "protocol": per_image[0]["protocol"]}
            # batch N: images cycled to N, latency per image = batch time / N
            N = settings.batch
            idx = [i % len(row.features) for i in range(N)]
            fb = [torch.cat([row.features[i][l] for i in idx]).to(device) for l in range(5)]
            gb = None
            if row.gates[0]:
                gb = {k: torch.cat([row.gates[i][k] for i in idx]).to(device) for k in row.gates[0]}
            st = measure(lambda head=head, fb=fb, masked=masked, gb=gb: head(fb, masked=masked, ctx=HeadContext(masked=masked, gate_override=gb,
                                                                        tally=False)),
                         device, warmup=max(1, settings.warmup // 2), reps=max(3, settings.reps // 2))
            res[f"{mode}_bN"] = {"batch": N, "latency_s_per_image": st["avg"] / N, "batch_stats": st}
        out[name] = res
        row.head.to("cpu")
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
                if k == "latency_s":
                    if not isinstance(v, dict):
                        raise ValueError(f"{f}.{mode}.{k}", f"must be an object of statistics, got {v!r}")
                    number(v.get("avg"), f"{f}.{mode}.{k}.avg")
                    for st, x in v.items():
                        number(x, f"{f}.{mode}.{k}.{st}", positive=False)
                else:
                    number(v, f"{f}.{mode}.{k}", positive=k != "cv_max")


def load_measured(path, here: dict, raw) -> tuple[dict, dict]:
    """``(measured, device)`` of a compare.json written by another run, after checking it measured the
    same heads on the same images: the MEASURED_KEYS of its settings against ``here`` (this run's
    :func:`accelsim.compare.rows.settings_record`) and its image hashes against ``raw``'s.  Errors
    name the field ``measured``, the file and the field inside it."""
    from ..paths import read_json
    p = Path(path)

    def bad(reason):
        return SettingsError("measured", f"{p}: {reason}")

    try:
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
    return res["measured_raw"], res["device"]
