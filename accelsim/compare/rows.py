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
        self.head = head                  # head measured and traced (possibly wide, random weights)
        self.backbone_model = backbone_model  # FCOS giving the FPN features (trained narrow model)
        self.gate_model = gate_model      # trained model whose gates drive a wide head (None: own gates)
        self.width = width
        self.features = []                # per image: list of 5 tensors (1, C, h, w) at the head's width
        self.gates = []                   # per image: gate dict for gate_override (or None)
        self.gflops = []
        self.seen_gates = []              # per image: the gates the head actually used (cpu)
        self.active_ratio = []            # per image: open fraction of all depth-gate pixels


def load_rows(settings: CompareSettings):
    """``({"baseline": Row, "large": Row, "small": Row}, cfg of the dynamic checkpoints)``."""
    import torch

    import dynhead
    from dynhead.checkpoint import load_model
    from dynhead.model import build_head

    dyn = {}
    for name in ("large", "small"):
        path = settings.checkpoint(name)
        m = load_model(path) if path else dynhead.load_shipped(name)
        m.eval()
        if m.head.kind != "dynamic":
            raise SettingsError(f"checkpoint_{name}", f"{path}: head is {m.head.kind!r}, expected a dynamic head")
        dyn[name] = m
    cfg = dyn["small"].cfg
    if dyn["large"].cfg.depth != cfg.depth or dyn["large"].cfg.channels != cfg.channels:
        raise SettingsError("checkpoint_large", "the Large and Small dynamic models differ in depth or width")
    width = settings.width or cfg.channels
    depth = cfg.depth
    torch.manual_seed(settings.seed)
    base_head = build_head("fix", settings.baseline_depth or depth, width, cfg.num_classes).eval()
    rows = {"baseline": Row("baseline", base_head, dyn["small"], None, width)}
    for name in ("large", "small"):
        m = dyn[name]
        if width == cfg.channels:
            rows[name] = Row(name, m.head, m, None, width)
        else:
            torch.manual_seed(settings.seed + 1)
            wide = build_head("dynamic", depth, width, cfg.num_classes).eval()
            rows[name] = Row(name, wide, m, m, width)
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
                if row.gate_model is not None or (name == "baseline" and feats[0].shape[1] != row.width):
                    h, w = feats[0].shape[-2:]   # P3 is input / 8
                    feats = random_features((h * 8, w * 8), row.width, 1, seed=seed + 100 + i)
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


def sha16(data: bytes) -> str:
    """The first 16 hex digits of the sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()[:16]


def image_hashes(raw) -> list[str]:
    """sha256 (16 hex digits) of each input image's uint8 pixels: identifies the inputs across machines."""
    return [sha16(np.ascontiguousarray(np.asarray(img, dtype=np.uint8)).tobytes()) for img in raw]


def settings_record(settings: CompareSettings, *, width: int, depth: int, baseline_depth: int) -> dict:
    """The ``settings`` of compare.json that describe the rows (the heads' width and depths as built)."""
    import dynhead
    ckpt = {n: settings.checkpoint(n) for n in ("large", "small")}
    return {"size": list(settings.size), "images": settings.images, "batch": settings.batch, "width": width,
            "depth": depth, "baseline_depth": baseline_depth, "prune": settings.prune, "seed": settings.seed,
            "checkpoints": {n: p or f"shipped:{n}" for n, p in ckpt.items()},
            "checkpoint_sha256": {n: sha16(Path(p or dynhead.shipped_path(n)).read_bytes())
                                  for n, p in ckpt.items()}}


def rows_record(settings: CompareSettings, rows, cfg) -> dict:
    """:func:`settings_record` of built rows."""
    return settings_record(settings, width=rows["small"].width, depth=cfg.depth,
                           baseline_depth=rows["baseline"].head.depth)
