"""Trace the dynamic head into a ``workloads.Workload`` (the accelerator models' input).

For every image, tower (cls, reg), stage d, level l the executed convolutions are recorded:

* ``{tower}.s{d}.l{l}.scale{s}``: depthwise 3x3 (groups = C), input x_l, output mask = the
  scale gate's support (g > 0);
* ``{tower}.s{d}.l{l}.gate_scale{s}`` / ``gate_depth``: the gate convs C -> 1 (dense);
* ``{tower}.s{d}.l{l}.conv1``: depth conv 1, input a_l, output mask = 3x3-dilated depth-gate support;
* ``{tower}.s{d}.l{l}.conv2``: depth conv 2, input ReLU(GN1(conv1)) as the masked path computes it
  (zero outside the dilated mask), output mask = exact depth-gate support;
* ``pred.l{l}.{cls,box,ctr}``: predictors (dense).

Layer weights are the head's (shared over levels, stored per layer), optionally magnitude-pruned.
``layer.meta = {"tower", "stage", "level", "op", ...}``; edges are data dependencies.
``wl.image_meta[i]`` holds per-image statistics, ``wl.meta`` the provenance of every part.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from workloads.limits import check as check_cap

from .cost import GIGA, hard_macs_from_workload
from .errors import DynheadError
from .model import HeadContext, build_head, scale_offsets

if TYPE_CHECKING:  # the return annotations only; workloads is imported lazily at run time
    from workloads import Workload

OPS_STAGE = ("scale0", "scale1", "gate_scale0", "gate_scale1", "gate_depth", "conv1", "conv2")


def layer_name(tower, stage, level, op) -> str:
    if tower == "pred":
        return f"pred.l{level}.{op}"
    return f"{tower}.s{stage}.l{level}.{op}"


def layer_keys(depth: int, n_levels: int, gated: bool = True) -> list[tuple]:
    """``(tower, stage, level, op)`` of every conv a head of ``depth`` stages runs on ``n_levels`` FPN
    levels, in the trace's layer order (``gated=False``: a Fix head, which has no gate convs)."""
    ops = OPS_STAGE if gated else tuple(op for op in OPS_STAGE if not op.startswith("gate_"))
    keys = [(t, d, l, op) for t in ("cls", "reg") for d in range(depth) for l in range(n_levels) for op in ops]
    return keys + [("pred", None, l, op) for l in range(n_levels) for op in ("cls", "box", "ctr")]


def _module_for(head, tower, stage, op):
    """(weight, bias, kind) of the conv that runs for (tower, stage, op)."""
    if tower == "pred":
        m = {"cls": head.cls_score, "box": head.bbox_pred, "ctr": head.centerness}[op]
        return m.weight, m.bias, "conv"
    st = (head.cls_subnet if tower == "cls" else head.bbox_subnet)[stage]
    if op.startswith("scale"):
        conv = st.dynamic_convs[int(op[-1])].convs[0]
        return conv.weight, conv.bias, "depthwise"
    if op.startswith("gate_scale"):
        conv = st.dynamic_convs[int(op[-1])].gate.gate_conv
        return conv.weight, conv.bias, "conv"
    if op == "gate_depth":
        conv = st.depth_module.gate.gate_conv
        return conv.weight, conv.bias, "conv"
    conv = getattr(st.depth_module.bottleneck, op)
    return conv.weight, conv.bias, "conv"


def _deps(tower, d, l, op, L, D, K=2):
    """Data-dependency predecessors (layer names) of one traced conv."""
    def prev_out(t, dd, ll):  # producers of stage dd's input at level ll (= output z of stage dd-1)
        if dd == 0:
            return []
        return [layer_name(t, dd - 1, ll, "conv2"), layer_name(t, dd - 1, ll, "gate_depth")] + agg(t, dd - 1, ll)

    def agg(t, dd, ll):  # producers of the aggregate a_l of stage dd (besides the stage input)
        out = []
        for s, o in enumerate(scale_offsets(K)):
            src = ll + o
            if 0 <= src < L:
                out += [layer_name(t, dd, src, f"scale{s}"), layer_name(t, dd, src, f"gate_scale{s}")]
        return out

    if tower == "pred":
        t = "cls" if op == "cls" else "reg"
        return prev_out(t, D, l)
    if op.startswith("scale") or op.startswith("gate_scale"):
        return prev_out(tower, d, l)
    if op in ("gate_depth", "conv1"):
        return agg(tower, d, l) + prev_out(tower, d, l)
    if op == "conv2":
        return [layer_name(tower, d, l, "conv1")]
    raise DynheadError(f"unknown op {op!r}", field="op")


def magnitude_prune_(head, density: float, include_gates: bool = False) -> dict:
    """Zero all but the largest-|w| ``density`` fraction of each conv weight tensor of the head
    (depth convs, depthwise scale convs, predictors; gate convs only if ``include_gates``), in place."""
    if not 0.0 < density <= 1.0:
        raise DynheadError(f"prune density must be in (0, 1], got {density}", field="prune")
    done = {}
    with torch.no_grad():
        for name, p in head.named_parameters():
            if p.dim() != 4 or (".gate." in name and not include_gates):
                continue
            k = max(1, int(round(density * p.numel())))
            if k < p.numel():
                thr = p.abs().flatten().kthvalue(p.numel() - k + 1).values
                keep = p.abs() >= thr
                # break ties deterministically so exactly k remain
                if int(keep.sum()) > k:
                    idx = torch.argsort(p.abs().flatten(), descending=True, stable=True)[:k]
                    keep = torch.zeros(p.numel(), dtype=torch.bool)
                    keep[idx] = True
                    keep = keep.view_as(p)
                p.mul_(keep)
            done[name] = float((p != 0).float().mean())
    return done


class _Recorder:
    def __init__(self):
        self.items = {}

    def __call__(self, tower, stage, level, op, inp, out_mask):
        self.items[(tower, stage, level, op)] = (inp.detach(), None if out_mask is None else out_mask.detach())


def _acts(x: torch.Tensor, store: bool, dtype):
    a = x[0].cpu().numpy()
    dens = float((a != 0).mean())
    if not store:
        return None, dens
    from workloads import SparseTensor
    m = a != 0
    return SparseTensor(m, a[m].astype(dtype)), dens


def trace_head_only(head, features_per_image, names=None, *, gate_override_per_image=None, masked: bool = True,
                    store_acts: bool = True, store_weights: bool = True, act_dtype=np.float32, meta=None,
                    layer_meta=None, name: str = "dynhead") -> "Workload":
    """Trace a dynamic head on per-image FPN features (list over images of [P3..P7] (1, C, H, W)).

    ``gate_override_per_image[i]``: gates to use instead of the head's own (e.g. a narrow trained
    model's gates driving a wide random head).  Returns a Workload (see module doc).
    """
    from workloads import Layer, Workload

    if getattr(head, "kind", None) != "dynamic":
        raise DynheadError("tracing needs a dynamic head", field="head")
    if not features_per_image:
        raise DynheadError("no images to trace", field="images")
    head.eval()
    D, K, C = head.depth, head.K, head.C
    wl = Workload(name, meta=dict(meta or {}))
    wl.meta.update({"head": "dynamic", "depth": D, "channels": C, "num_classes": head.num_classes,
                    "masked_inference": masked, "acts_stored": store_acts, "weights_stored": store_weights,
                    "act_dtype": np.dtype(act_dtype).name,
                    "layer_naming": "{tower}.s{d}.l{level}.{op}, pred.l{level}.{cls,box,ctr}",
                    "cost_unit": "GFLOPs = MACs / 2**30 (official accounting, spec §3-4)"})
    for i, feats in enumerate(features_per_image):
        L = len(feats)
        if any(f.shape[0] != 1 for f in feats):
            raise DynheadError("trace one image at a time (batch 1 features)", field="features")
        rec = _Recorder()
        ctx = HeadContext(masked=masked, recorder=rec,
                          gate_override=None if gate_override_per_image is None else gate_override_per_image[i])
        with torch.no_grad():
            head(feats, masked=masked, ctx=ctx)
        costs = head.last_costs
        if i == 0:  # layers: shapes and static weights from the first image (all share one size)
            for key in layer_keys(D, L):
                t, d, l, op = key
                if key not in rec.items:
                    raise DynheadError(f"head did not execute {layer_name(*key)}", field="trace")
                inp = rec.items[key][0]
                w, b, kind = _module_for(head, t, d, op)
                wn = w.detach().cpu().numpy().astype(np.float32)
                used = True
                if op.startswith("scale") or op.startswith("gate_scale"):
                    tgt = l - scale_offsets(K)[int(op[-1])]
                    used = 0 <= tgt < L
                lm = {"tower": t, "stage": d, "level": l, "op": op, "cost_channels": C, "used": used}
                lm.update((layer_meta or {}).get(op, {}))
                wl.add_layer(Layer(
                    name=layer_name(*key), kind=kind, C=C, K=wn.shape[0], H=int(inp.shape[2]), W=int(inp.shape[3]),
                    R=3, S=3, padding=1, groups=C if kind == "depthwise" else 1,
                    weights=wn if store_weights else None,
                    bias=None if b is None else b.detach().cpu().numpy().astype(np.float32),
                    weight_density=float((wn != 0).mean()), meta=lm),
                    deps=[n for n in _deps(t, d, l, op, L, D, K) if n in wl.layers])
        # per-image data
        dens_by = {"conv1": [], "conv2": []}
        act_ratio = {}
        for key, (inp, m) in rec.items.items():
            nm = layer_name(*key)
            if nm not in wl.layers:
                raise DynheadError(f"image {i} executed {nm}, which image 0 did not (sizes differ?)", field="trace")
            acts, dens = _acts(inp, store_acts, act_dtype)
            om = None if m is None else m[0].cpu().numpy().astype(bool)
            wl.set_image_data(i, nm, acts=acts, out_mask=om, act_density=dens)
            t, d, l, op = key
            if op in dens_by:
                dens_by[op].append(dens)
            if op in ("conv1", "conv2", "scale0", "scale1") and om is not None:
                act_ratio.setdefault(t, {}).setdefault(f"s{d}", {}).setdefault(op, {})[f"l{l}"] = float(om.mean())
        hard = float(costs["hard"][0])
        full = float(costs["full"][0])
        im = {"used_gflops": hard / GIGA, "full_gflops": full / GIGA, "used_over_full": hard / full,
              "soft_gflops": float(costs["soft"][0]) / GIGA,
              "active_pixel_ratio": act_ratio,
              "depth_gate_active": _mean_ratio(act_ratio, "conv2", wl),
              "dilated_active": _mean_ratio(act_ratio, "conv1", wl),
              "scale_gate_active": _mean_ratio(act_ratio, ("scale0", "scale1"), wl),
              "act_density_conv1_in": float(np.mean(dens_by["conv1"])),
              "act_density_conv2_in": float(np.mean(dens_by["conv2"]))}
        if names is not None:
            im["image"] = names[i]
        wl.image_meta[i] = im
        im["used_gflops_from_masks"] = hard_macs_from_workload(wl, i) / GIGA
    return wl


def _mean_ratio(act_ratio, ops, wl) -> float:
    """Pixel-weighted active ratio over all towers/stages/levels for ``ops``."""
    ops = (ops,) if isinstance(ops, str) else ops
    num = den = 0.0
    for t, st in act_ratio.items():
        for s, byop in st.items():
            for op in ops:
                for lv, r in byop.get(op, {}).items():
                    n = wl.layers[f"{t}.{s}.{lv}.{op}"].P * wl.layers[f"{t}.{s}.{lv}.{op}"].Q
                    num += r * n
                    den += n
    return num / den if den else float("nan")


def prepare_images(model, images, size, names=None, warn=None):
    """Resize each RGB image to ``size`` (H, W) (bilinear), pad to a multiple of 32; returns
    (list of (1, 3, Hp, Wp) model inputs, padded size, note)."""
    from .data import check_image_array
    H, W = size
    note = None
    if H % 32 or W % 32:
        Hp, Wp = -(-H // 32) * 32, -(-W // 32) * 32
        note = f"size {H}x{W} is not a multiple of 32: images are zero-padded to {Hp}x{Wp}"
        (warn or (lambda s: print("dynhead: note: " + s, file=sys.stderr)))(note)
    xs = []
    for k, img in enumerate(images):
        a = check_image_array(img, name=(names[k] if names else f"image {k}"))
        t = torch.from_numpy(a).permute(2, 0, 1)[None].float()
        if t.shape[-2:] != (H, W):
            t = F.interpolate(t, size=(H, W), mode="bilinear", align_corners=False)
        x, _ = model.preprocess(t)
        xs.append(x)
    return xs, note


def fix_as_dynamic(fix_head):
    """A gate-free ("fix") head as a dynamic head with the same weights (same GroupNorm groups) and
    ``scale_weight`` = 1, the fix head's fixed scale-sum weight: with every gate open (:func:`open_gates`)
    it computes exactly what the fix head computes, so :func:`trace_head_only` can record it."""
    from .wide import canonical_name
    st0 = fix_head.cls_subnet[0]
    groups = st0.depth_module.bottleneck.conv1.norm.num_groups
    dyn = build_head("dynamic", fix_head.depth, fix_head.C, fix_head.num_classes, gn_groups=groups,
                     K=fix_head.K).eval()
    sd = {canonical_name(k): v for k, v in fix_head.state_dict().items()}
    missing, unexpected = dyn.load_state_dict(sd, strict=False)
    if unexpected or not all(".gate." in k or k.endswith("scale_weight") for k in missing):
        raise DynheadError(f"not a fix head of the dynamic topology (missing {missing[:3]}, unexpected "
                           f"{unexpected[:3]})", field="head")
    with torch.no_grad():
        for st in list(dyn.cls_subnet) + list(dyn.bbox_subnet):
            st.scale_weight.fill_(1.0)
    return dyn.to(next(fix_head.parameters()).device)


def open_gates(head, features_per_image):
    """Per image, the gate dict a dynamic head reads (``(tower, stage, level, "scale{s}"|"depth")`` ->
    (N, 1, h, w)), all ones: every gate open."""
    keys = [f"scale{s}" for s in range(head.K)] + ["depth"]
    return [{(t, d, l, k): torch.ones(f.shape[0], 1, *f.shape[-2:], dtype=f.dtype, device=f.device)
             for t in ("cls", "reg") for d in range(head.depth) for l, f in enumerate(feats) for k in keys}
            for feats in features_per_image]


def trace_fix_head(fix_head, features_per_image, names=None, **kw) -> "Workload":
    """Trace a gate-free head (:func:`trace_head_only`'s arguments): the convs it runs, every output
    pixel computed (no output masks), no gate convs."""
    dyn = fix_as_dynamic(fix_head)
    wl = trace_head_only(dyn, features_per_image, names, gate_override_per_image=open_gates(dyn, features_per_image),
                         **kw)
    keep = [n for n, L in wl.layers.items() if not L.meta.get("op", "").startswith("gate_")]
    sub = wl.subset(keep)
    for n in keep:  # gate-free: no output masks
        for img in sub.images:
            if n in img:
                img[n] = type(img[n])(acts=img[n].acts, out_mask=None, act_density=img[n].act_density)
    for m in sub.image_meta:  # gate statistics do not apply
        for k in ("active_pixel_ratio", "depth_gate_active", "dilated_active", "scale_gate_active"):
            m.pop(k, None)
    sub.meta["head"] = "fix"
    return sub


def trace_model(model, images, size=(160, 160), *, names=None, width: int | None = None, prune: float | None = None,
                masked: bool = True, store_acts: bool = True, store_weights: bool = True, act_dtype=np.float32,
                seed: int = 0, warn=None, checkpoint: str | None = None, num_classes: int | None = None):
    """Run ``model`` (an FCOS with a dynamic or a gate-free "fix" head) on ``images`` (uint8 RGB arrays or tensors) at
    ``size`` and return the Workload.  ``width``: trace a head of that width with seeded random
    weights, driven by this model's gates (the spatial masks) and a seeded random channel expansion of
    its FPN features (``num_classes``: the wide head's classifier outputs, default the model's).
    ``prune``: magnitude-prune the traced head's weights to this density."""
    kind = model.head.kind
    if kind not in ("dynamic", "fix"):
        raise DynheadError(f"tracing needs a dynamic or fix head, the checkpoint has {kind!r}", field="head")
    if not images:
        raise DynheadError("no images to trace", field="images")
    model.eval()
    xs, note = prepare_images(model, images, size, names, warn)
    narrow = model.head
    C0 = narrow.C
    feats = []
    with torch.no_grad():
        for x in xs:
            feats.append(model.backbone(x))
    meta = {"checkpoint": checkpoint, "input_size": list(size), "padded_size": list(xs[0].shape[-2:]),
            "padding_note": note, "n_images": len(xs), "seed": seed,
            "backbone": f"ResNet-{model.cfg.backbone_depth} width {model.cfg.backbone_width} (trained)",
            "train": getattr(model, "checkpoint_meta", {}).get("train", {}).get("data", None)}
    layer_meta = None
    if width is None or width == C0:
        head = narrow
        overrides = None
        meta["sources"] = {"weights": "trained checkpoint", "activations": "real (trained model)",
                           "masks": "real gates of the trained model" if kind == "dynamic" else
                           "none: every output pixel is computed (gate-free head)"}
    else:
        if width < 32 or width % 32:
            raise DynheadError(f"--width {width} must be a positive multiple of 32 (GroupNorm(32))", field="width")
        from .wide import seeded_wide_head, wide_features
        head = seeded_wide_head(kind, narrow.depth, width, num_classes or narrow.num_classes, seed,
                                model.cfg.gate_activation, model.cfg.tau, narrow.K)
        overrides = []
        wide_feats = []
        for f in feats:
            if kind == "dynamic":
                ctx = HeadContext(masked=masked)
                with torch.no_grad():
                    narrow(f, masked=masked, ctx=ctx)
                overrides.append(dict(ctx.gates))
            wide_feats.append(wide_features(f, width, seed))
        feats = wide_feats
        overrides = overrides or None
        meta["sources"] = {
            "masks": f"gates of the trained C={C0} model at the same input size (same pixels on/off)"
            if kind == "dynamic" else "none: every output pixel is computed (gate-free head)",
            "gate_values": f"the trained C={C0} model's gate values (multiply the wide head's paths)"
            if kind == "dynamic" else "none (gate-free head)",
            "weights": f"seeded random (seed {seed}, per layer name: dynhead.wide, the same tensors in every head "
                       f"that has the layer), He-normal, width C={width}"
                       + ("; gate convs N(0, 0.01), their output replaced by the trained gates"
                          if kind == "dynamic" else ""),
            "activations": f"wide head's own, on the trained FPN features expanded {C0}->{width} channels by a "
                           f"seeded Gaussian projection (seed {seed})"}
        layer_meta = {op: {"weights_source": "random"} for op in OPS_STAGE + ("cls", "box", "ctr")}
    if prune is not None:
        if head is narrow:
            import copy
            head = copy.deepcopy(narrow)
        meta["pruning"] = {"target_density": prune, "method": "per-tensor magnitude (head convs; gates kept dense)",
                           "densities": magnitude_prune_(head, prune)}
    kw = dict(masked=masked, store_acts=store_acts, store_weights=store_weights, act_dtype=act_dtype, meta=meta,
              layer_meta=layer_meta, name=f"dynhead_{'' if kind == 'dynamic' else 'fix_'}C{head.C}_D{head.depth}")
    if kind == "fix":
        return trace_fix_head(head, feats, names, **kw)
    return trace_head_only(head, feats, names, gate_override_per_image=overrides, **kw)


# --------------------------------------------------------------------------- CLI
def add_trace_args(sub):
    p = sub.add_parser("trace", help="run the dynamic (or gate-free) head on images and write a workloads trace (.npz)")
    p.add_argument("--checkpoint", required=True, help="checkpoint path or shipped name (small, large, baseline)")
    p.add_argument("--images", default="default", help="image folder, or 'default' for the shipped samples")
    p.add_argument("--size", default="160x160", help="HxW input size (padded to a multiple of 32 if needed)")
    p.add_argument("--out", required=True, help="output .npz")
    p.add_argument("--width", type=int, default=None, help="trace a head of this width (random weights, trained masks)")
    p.add_argument("--classes", type=int, default=None, help="with --width: classifier outputs (e.g. 80)")
    p.add_argument("--prune", type=float, default=None, help="magnitude-prune head weights to this density")
    p.add_argument("--no-acts", action="store_true", help="store only masks and densities, not activations")
    p.add_argument("--no-weights", action="store_true", help="store only weight densities, not weights")
    p.add_argument("--act-dtype", choices=["float32", "float16"], default="float32")
    p.add_argument("--dense", action="store_true", help="dense-gated instead of masked inference")
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_trace)


def _cmd_trace(a):
    from . import IMAGE_DIR
    from .cost import parse_size
    from .data import image_files, load_image_folder
    from .train import resolve_checkpoint

    torch.set_num_threads(1)
    size = parse_size(a.size)
    model = resolve_checkpoint(a.checkpoint)
    folder = IMAGE_DIR if a.images == "default" else Path(a.images)
    if a.max_images is not None and a.max_images < 1:
        raise DynheadError(f"--max-images must be >= 1, got {a.max_images}", field="max_images")
    n = len(image_files(folder)) if a.max_images is None else a.max_images
    check_cap("max_images", n, "images", field="max_images", error=DynheadError)
    items = load_image_folder(folder, limit=a.max_images)  # decodes only the images traced
    t0 = time.time()
    wl = trace_model(model, [im for _, im in items], size, names=[n for n, _ in items], width=a.width,
                     prune=a.prune, masked=not a.dense, store_acts=not a.no_acts, store_weights=not a.no_weights,
                     act_dtype=np.dtype(a.act_dtype), seed=a.seed, checkpoint=str(a.checkpoint),
                     num_classes=a.classes)
    wl.meta["images_from"] = str(folder)
    digest = wl.save(a.out)
    used = [m["used_gflops"] for m in wl.image_meta]
    print(f"wrote {a.out} (content hash {digest[:12]}): {len(wl.layers)} layers x {wl.n_images} images in "
          f"{time.time() - t0:.1f}s; used GFLOPs "
          f"per image min/avg/max {min(used):.4f}/{np.mean(used):.4f}/{max(used):.4f} "
          f"(full {wl.image_meta[0]['full_gflops']:.4f}); depth-gate active "
          f"{np.mean([m['depth_gate_active'] for m in wl.image_meta]):.3f}")
    return 0
