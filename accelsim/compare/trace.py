"""Per-image workloads of the rows (``dynhead.trace``): the dynamic rows as traced models, the gate-free
baseline as an all-open dynamic head with its gate convs dropped."""

from __future__ import annotations

from .settings import CompareSettings


def baseline_as_dynamic(fix_head):
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


def open_gates(head, features_per_image):
    """Per image, the gate dict a dynamic head reads (``(tower, stage, level, "scale{s}"|"depth")`` ->
    (1, 1, h, w)), all ones: every gate open."""
    import torch
    keys = [f"scale{s}" for s in range(head.K)] + ["depth"]
    return [{(t, d, l, k): torch.ones(1, 1, *f.shape[-2:])
             for t in ("cls", "reg") for d in range(head.depth) for l, f in enumerate(feats) for k in keys}
            for feats in features_per_image]


def trace_row(name: str, row, settings: CompareSettings, raw_images):
    """Per-image workload of one row (see the module doc of ``dynhead.trace``)."""
    from dynhead.trace import magnitude_prune_, trace_head_only, trace_model
    if name != "baseline":
        wl = trace_model(row.backbone_model, raw_images, settings.size,
                         width=row.width if row.gate_model else None, prune=settings.prune, seed=settings.seed,
                         warn=lambda s: None, checkpoint=settings.checkpoint(name) or f"shipped:{name}")
        wl.name = f"{name}_{wl.name}"
        return wl
    head = baseline_as_dynamic(row.head)
    meta = {"row": "baseline", "sources": {
        "weights": f"seeded random (seed {settings.seed}), N(0, 0.01) init as an untrained head",
        "activations": "the head's own, on the trained model's FPN features" if row.gate_model is None and
        row.width == row.backbone_model.head.C else "the head's own, on seeded random FPN features",
        "masks": "none: every output pixel is computed (gate-free head)"}}
    if settings.prune is not None:
        meta["pruning"] = {"target_density": settings.prune, "densities": magnitude_prune_(head, settings.prune)}
    ones = open_gates(head, row.features)
    wl = trace_head_only(head, row.features, gate_override_per_image=ones, meta=meta, name="baseline_fix_head")
    keep = [n for n, L in wl.layers.items() if not L.meta.get("op", "").startswith("gate_")]
    sub = wl.subset(keep)
    for n in keep:  # gate-free: no output masks
        for img in sub.images:
            if n in img:
                img[n] = type(img[n])(acts=img[n].acts, out_mask=None, act_density=img[n].act_density)
    sub.image_meta = [dict(m) for m in wl.image_meta]
    return sub
