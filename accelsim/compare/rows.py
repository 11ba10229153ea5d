"""The rows of the compare table: their heads, the input images, per-image features/gates/GFLOPs, and
the record of what they are (``settings`` of compare.json, compared by ``--measured``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..errors import SettingsError
from .settings import CompareSettings


class Row:
    """One model row: the head that is measured/traced and how to drive it per image."""

    def __init__(self, name, head, backbone_model, gate_model=None, width=None):
        self.name = name
        self.head = head                  # head measured and traced (trained, or wide with seeded weights)
        self.backbone_model = backbone_model  # the row's trained FCOS: its FPN gives the features
        self.gate_model = gate_model      # trained model whose gates drive a wide head (None: own gates)
        self.width = width
        self.features = []                # per image: list of 5 tensors (1, C, h, w) at the head's width
        self.gates = []                   # per image: gate dict for gate_override (or None)
        self.gflops = []                  # per image: used (hard-gate) GFLOPs
        self.full_gflops = []             # per image: the same head's full (all open) GFLOPs
        self.seen_gates = []              # per image: the gates the head actually used (cpu)
        self.active_ratio = []            # per image: open fraction of all depth-gate pixels


#: the rows' checkpoints: (row, the head kind it must hold)
ROW_KINDS = (("baseline", "fix"), ("large", "dynamic"), ("small", "dynamic"))


def load_models(settings: CompareSettings) -> dict:
    """The trained model of every row (``settings.checkpoint(row)`` or the shipped one), eval mode, each
    checked to hold its row's head kind."""
    import dynhead
    from dynhead.checkpoint import load_model

    models = {}
    for name, kind in ROW_KINDS:
        path = settings.checkpoint(name)
        m = load_model(path) if path else dynhead.load_shipped(name)
        m.eval()
        if m.head.kind != kind:
            what = "a gate-free (fix) head" if kind == "fix" else "a dynamic head"
            raise SettingsError(f"checkpoint_{name}", f"{path or 'shipped:' + name}: head is {m.head.kind!r}, "
                                                      f"expected {what}")
        models[name] = m
    return models


def load_rows(settings: CompareSettings):
    """``({"baseline": Row, "large": Row, "small": Row}, cfg of the dynamic checkpoints)``.

    At the checkpoints' width every row runs its own trained head on its own trained FPN features.  At
    ``settings.width`` every head has the seeded random weights of :mod:`dynhead.wide` (the same tensors
    for the layers the heads share), the dynamic ones driven by their trained model's gates, all on their
    own FPN features expanded by the same seeded projection."""
    from dynhead.wide import seeded_wide_head

    models = load_models(settings)
    cfg = models["small"].cfg
    for name in ("large", "baseline"):
        c = models[name].cfg
        if (name == "large" and c.depth != cfg.depth) or c.channels != cfg.channels \
                or c.num_classes != cfg.num_classes:
            raise SettingsError(f"checkpoint_{name}", f"the {name} model (D{c.depth}, C={c.channels}, "
                                                      f"{c.num_classes} classes) does not match the Small one "
                                                      f"(D{cfg.depth}, C={cfg.channels}, {cfg.num_classes} classes)")
    base = models["baseline"]
    if settings.baseline_depth is not None and settings.baseline_depth != base.cfg.depth:
        raise SettingsError("baseline_depth", f"{settings.baseline_depth} differs from the baseline checkpoint's "
                                              f"depth {base.cfg.depth} (train a gate-free D{settings.baseline_depth}: "
                                              f"python -m dynhead train --head fix --depth "
                                              f"{settings.baseline_depth}, and pass it as checkpoint_baseline)")
    width = settings.width or cfg.channels
    rows = {}
    for name, kind in ROW_KINDS:
        m = models[name]
        if width == cfg.channels:
            rows[name] = Row(name, m.head, m, None, width)
        else:
            wide = seeded_wide_head(kind, m.cfg.depth, width, cfg.num_classes, settings.seed, m.cfg.gate_activation,
                                    m.cfg.tau, m.cfg.num_adjacent_scales)
            rows[name] = Row(name, wide, m, m if kind == "dynamic" else None, width)
    return rows, cfg


def raw_images(settings: CompareSettings) -> list[np.ndarray]:
    """The run's ``settings.images`` input images (HxWx3 uint8), the available ones cycled."""
    import dynhead
    if settings.image_dir:
        from dynhead.data import load_image_folder
        imgs = [im for _, im in load_image_folder(settings.image_dir)]
    else:
        imgs = dynhead.sample_images()
    if not imgs:
        raise SettingsError("image_dir", f"{settings.image_dir}: no images to run")
    return [imgs[i % len(imgs)] for i in range(settings.images)]


def image_tensors(raw, size):
    """Each raw image as a (1, 3, H, W) float tensor resized to ``size``."""
    import torch
    import torch.nn.functional as F

    out = []
    for im in raw:
        t = torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1)[None].float()
        out.append(F.interpolate(t, size=size, mode="bilinear", align_corners=False))
    return out


def prepare(rows, images, seed: int) -> None:
    """Features and gates per image (untimed), then the hard-gate GFLOPs of every row.  Gates are those of
    masked inference (GN over the active pixels, the official evaluation), as :mod:`dynhead.trace`
    records them, so the GFLOPs column and the traces count the same pixels."""
    import torch

    from dynhead.cost import GIGA, hard_gflops
    from dynhead.model import HeadContext
    from dynhead.wide import wide_features

    with torch.inference_mode():
        for row in rows.values():
            m = row.backbone_model
            for img in images:
                x, _ = m.preprocess(img)
                feats = m.features(x)
                gates = None
                if row.gate_model is not None:  # wide head: the narrow trained model's gates
                    ctx = HeadContext(masked=True)
                    row.gate_model.head(feats, masked=True, ctx=ctx)
                    gates = dict(ctx.gates)
                if feats[0].shape[1] != row.width:
                    feats = wide_features(feats, row.width, seed)
                row.features.append(feats)
                row.gates.append(gates)
                ctx = HeadContext(masked=True, gate_override=gates)
                row.head(feats, masked=True, ctx=ctx)
                row.gflops.extend(hard_gflops(row.head))
                row.full_gflops.extend(float(v) / GIGA for v in row.head.last_costs["full"].tolist())
                seen = {k: v.detach().cpu() for k, v in ctx.gates.items()}
                row.seen_gates.append(seen)
                depth = [v for k, v in seen.items() if k[3] == "depth"]
                row.active_ratio.append(float(sum(int((v > 0).sum()) for v in depth) /
                                              max(1, sum(v.numel() for v in depth))) if depth else 1.0)


def describe_heads(rows, seed: int) -> dict:
    """``{row: {kind, depth, width, weights, gates, features}}``: what is trained and what is random."""
    out = {}
    for name, row in rows.items():
        m = row.backbone_model
        c0, kind = m.head.C, row.head.kind
        trained = row.head is m.head
        gates = ("none (gate-free head)" if kind == "fix" else
                 "its own, trained" if trained else f"the trained C={c0} model's (same pixels, same values)")
        out[name] = {"kind": kind, "depth": row.head.depth, "width": row.width,
                     "weights": "trained (checkpoint)" if trained else
                     f"seeded random (dynhead.wide, seed {seed}): the same tensors in every row for the layers "
                     f"the heads share",
                     "gates": gates,
                     "features": "its own trained backbone + FPN" if trained else
                     f"its own trained backbone + FPN, expanded {c0}->{row.width} channels by one seeded "
                     f"projection (seed {seed})"}
    return out


def sha16(data: bytes) -> str:
    """The first 16 hex digits of the sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()[:16]


def image_hashes(raw) -> list[str]:
    """sha256 (16 hex digits) of each input image's uint8 pixels: identifies the inputs across machines."""
    return [sha16(np.ascontiguousarray(np.asarray(img, dtype=np.uint8)).tobytes()) for img in raw]


def settings_record(settings: CompareSettings, *, width: int, depth: int, baseline_depth: int) -> dict:
    """The ``settings`` of compare.json that describe the rows (the heads' width and depths as built)."""
    import dynhead
    ckpt = {n: settings.checkpoint(n) for n, _ in ROW_KINDS}
    return {"size": list(settings.size), "images": settings.images, "batch": settings.batch, "width": width,
            "depth": depth, "baseline_depth": baseline_depth, "prune": settings.prune, "seed": settings.seed,
            "checkpoints": {n: p or f"shipped:{n}" for n, p in ckpt.items()},
            "checkpoint_sha256": {n: sha16(Path(p or dynhead.shipped_path(n)).read_bytes())
                                  for n, p in ckpt.items()}}


def rows_record(settings: CompareSettings, rows, cfg) -> dict:
    """:func:`settings_record` of built rows."""
    return settings_record(settings, width=rows["small"].width, depth=cfg.depth,
                           baseline_depth=rows["baseline"].head.depth)
