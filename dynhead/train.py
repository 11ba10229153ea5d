"""FCOS targets and losses + the budget loss, training on the synthetic set, evaluation (mAP@0.5).

Losses (spec §1.1, §3.3): sigmoid focal loss (alpha 0.25, gamma 2) / #fg, GIoU weighted by the
centerness targets / their sum, centerness BCE / #fg, plus lambda * mean_images(soft / full)
with the head's cost tallies (depth gates differentiable, scale gates detached), which the head
recomputes on every forward (i.e. "reset every iteration").  Targets: locations i * stride (offset
0), size ranges per level, centre sampling radius 1.5 strides, min-area assignment.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import DynheadError
from .model import FCOS, STRIDES, ModelConfig

INF = 1e8


# --------------------------------------------------------------------------- targets
def locations(sizes, strides=STRIDES, device="cpu"):
    """Per level (H*W, 2) (x, y) in input pixels: (j*stride, i*stride) (cvpods offset 0.0)."""
    out = []
    for (h, w), s in zip(sizes, strides):
        ys, xs = torch.meshgrid(torch.arange(h, device=device) * s, torch.arange(w, device=device) * s,
                                indexing="ij")
        out.append(torch.stack([xs.reshape(-1), ys.reshape(-1)], 1).float())
    return out


def fcos_targets(locs, boxes_list, labels_list, num_classes, size_ranges, strides=STRIDES, radius=1.5):
    """labels (N, P) with ``num_classes`` = background, reg targets (N, P, 4) ltrb in pixels,
    over the P locations of all levels concatenated."""
    counts = [l.shape[0] for l in locs]
    pts = torch.cat(locs)
    lvl = torch.cat([torch.full((c,), i) for i, c in enumerate(counts)])
    stride = torch.tensor(strides, dtype=torch.float32)[lvl]
    lo = torch.tensor([r[0] for r in size_ranges], dtype=torch.float32)[lvl]
    hi = torch.tensor([min(r[1], INF) for r in size_ranges], dtype=torch.float32)[lvl]
    labels_out, reg_out = [], []
    for boxes, labels in zip(boxes_list, labels_list):
        P = pts.shape[0]
        if boxes.numel() == 0:
            labels_out.append(torch.full((P,), num_classes, dtype=torch.long))
            reg_out.append(torch.zeros(P, 4))
            continue
        x, y = pts[:, 0:1], pts[:, 1:2]
        l = x - boxes[None, :, 0]
        t = y - boxes[None, :, 1]
        r = boxes[None, :, 2] - x
        b = boxes[None, :, 3] - y
        reg = torch.stack([l, t, r, b], 2)  # (P, G, 4)
        # centre sampling: inside a (radius * stride) box around the GT centre, clipped to the GT
        cx = (boxes[:, 0] + boxes[:, 2]) / 2
        cy = (boxes[:, 1] + boxes[:, 3]) / 2
        rad = stride[:, None] * radius
        x0 = torch.maximum(cx[None] - rad, boxes[None, :, 0])
        y0 = torch.maximum(cy[None] - rad, boxes[None, :, 1])
        x1 = torch.minimum(cx[None] + rad, boxes[None, :, 2])
        y1 = torch.minimum(cy[None] + rad, boxes[None, :, 3])
        inside = (x > x0) & (y > y0) & (x < x1) & (y < y1)
        mx = reg.max(2).values
        ok = inside & (mx >= lo[:, None]) & (mx <= hi[:, None])
        area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[None].expand(P, -1).clone()
        area[~ok] = INF
        amin, gi = area.min(1)
        lab = labels[gi].clone()
        lab[amin == INF] = num_classes
        labels_out.append(lab)
        reg_out.append(reg[torch.arange(P), gi])
    return torch.stack(labels_out), torch.stack(reg_out)


def centerness_target(reg):
    lr, tb = reg[:, [0, 2]], reg[:, [1, 3]]
    return torch.sqrt((lr.min(1).values / lr.max(1).values).clamp(min=0) *
                      (tb.min(1).values / tb.max(1).values).clamp(min=0))


def giou_loss(pred, target, weight):
    """GIoU loss of ltrb distances (same anchor point), weighted sum."""
    pl, pt, pr, pb = pred.unbind(1)
    tl, tt, tr, tb = target.unbind(1)
    pa = (pl + pr) * (pt + pb)
    ta = (tl + tr) * (tt + tb)
    wi = torch.minimum(pl, tl) + torch.minimum(pr, tr)
    hi = torch.minimum(pb, tb) + torch.minimum(pt, tt)
    inter = wi.clamp(min=0) * hi.clamp(min=0)
    union = pa + ta - inter
    iou = (inter + 1.0) / (union + 1.0)
    wc = torch.maximum(pl, tl) + torch.maximum(pr, tr)
    hc = torch.maximum(pb, tb) + torch.maximum(pt, tt)
    enc = wc * hc + 1e-7
    giou = iou - (enc - union) / enc
    return ((1 - giou) * weight).sum()


def focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    pt = p * targets + (1 - p) * (1 - targets)
    return (ce * (1 - pt) ** gamma * (alpha * targets + (1 - alpha) * (1 - targets))).sum()


def _flatten(outs, K):
    return torch.cat([o.permute(0, 2, 3, 1).reshape(o.shape[0], -1, K) for o in outs], 1)


def fcos_losses(model: FCOS, outputs, boxes_list, labels_list, budget_lambda: float = 0.0) -> dict:
    logits, bbox, ctr = outputs
    cfg = model.cfg
    C = cfg.num_classes
    sizes = [tuple(o.shape[-2:]) for o in logits]
    locs = locations(sizes, device=logits[0].device)
    lab, reg = fcos_targets(locs, boxes_list, labels_list, C, cfg.size_ranges, radius=cfg.center_sample_radius)
    lg = _flatten(logits, C).reshape(-1, C)
    bx = _flatten(bbox, 4).reshape(-1, 4)
    ct = _flatten(ctr, 1).reshape(-1)
    lab = lab.reshape(-1)
    reg = reg.reshape(-1, 4)
    pos = lab != C
    npos = max(1.0, float(pos.sum()))
    onehot = F.one_hot(lab, C + 1)[:, :C].float()
    l_cls = focal_loss(lg, onehot, cfg.focal_alpha, cfg.focal_gamma) / npos
    if pos.any():
        ctr_t = centerness_target(reg[pos])
        l_box = giou_loss(bx[pos], reg[pos], ctr_t) / max(1e-6, float(ctr_t.sum()))
        l_ctr = F.binary_cross_entropy_with_logits(ct[pos], ctr_t, reduction="sum") / npos
    else:
        l_box = l_ctr = lg.sum() * 0
    out = {"cls": l_cls, "box": l_box, "ctr": l_ctr}
    costs = model.head.last_costs
    ratio = (costs["soft"].float() / costs["full"].float()).mean() if costs is not None else lg.sum() * 0
    if model.head.kind == "dynamic":
        out["budget"] = budget_lambda * ratio
    out["total"] = sum(out.values())
    out["soft_ratio"] = ratio.detach()
    out["used_ratio"] = (costs["hard"] / costs["full"]).mean().detach() if costs is not None else torch.tensor(1.0)
    return out


# --------------------------------------------------------------------------- inference
def nms(boxes, scores, thr):
    """Greedy NMS (torch only); returns kept indices in descending score order."""
    order = scores.argsort(descending=True)
    keep = []
    boxes = boxes[order]
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    alive = torch.ones(len(order), dtype=torch.bool)
    for i in range(len(order)):
        if not alive[i]:
            continue
        keep.append(int(order[i]))
        xx0 = torch.maximum(boxes[i, 0], boxes[i + 1:, 0])
        yy0 = torch.maximum(boxes[i, 1], boxes[i + 1:, 1])
        xx1 = torch.minimum(boxes[i, 2], boxes[i + 1:, 2])
        yy1 = torch.minimum(boxes[i, 3], boxes[i + 1:, 3])
        inter = (xx1 - xx0).clamp(min=0) * (yy1 - yy0).clamp(min=0)
        iou = inter / (area[i] + area[i + 1:] - inter + 1e-9)
        alive[i + 1:] &= iou <= thr
    return torch.tensor(keep, dtype=torch.long)


@torch.no_grad()
def postprocess(outputs, image_sizes, score_thr=0.05, topk=1000, nms_thr=0.6, max_det=100):
    """Per image [(boxes (n,4), scores (n,), labels (n,))] (spec §1.1 inference)."""
    logits, bbox, ctr = outputs
    N = logits[0].shape[0]
    sizes = [tuple(o.shape[-2:]) for o in logits]
    locs = locations(sizes, device=logits[0].device)
    res = []
    for i in range(N):
        B, S, L = [], [], []
        for lg, bx, ct, pt in zip(logits, bbox, ctr, locs):
            K = lg.shape[1]
            sc = torch.sigmoid(lg[i]).permute(1, 2, 0).reshape(-1, K)
            c = torch.sigmoid(ct[i]).reshape(-1, 1)
            cand = sc > score_thr
            s = torch.sqrt(sc * c)[cand]
            loc, lab = cand.nonzero(as_tuple=True)
            if s.numel() > topk:
                s, j = s.topk(topk)
                loc, lab = loc[j], lab[j]
            d = bx[i].permute(1, 2, 0).reshape(-1, 4)[loc]
            p = pt[loc]
            H, W = image_sizes[i]
            b = torch.stack([(p[:, 0] - d[:, 0]).clamp(0, W), (p[:, 1] - d[:, 1]).clamp(0, H),
                             (p[:, 0] + d[:, 2]).clamp(0, W), (p[:, 1] + d[:, 3]).clamp(0, H)], 1)
            B.append(b), S.append(s), L.append(lab)
        b, s, lab = torch.cat(B), torch.cat(S), torch.cat(L)
        if s.numel():
            off = lab.float()[:, None] * 1e4  # class-aware NMS via coordinate offsets
            k = nms(b + off, s, nms_thr)[:max_det]
            b, s, lab = b[k], s[k], lab[k]
        res.append((b, s, lab))
    return res


def box_iou(a, b):
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    aa = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    ab = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (aa[:, None] + ab[None] - inter + 1e-12)


def average_precision_50(dets, gts, num_classes, iou_thr=0.5) -> dict:
    """VOC-style (all-point interpolated) AP at IoU 0.5 per class; dets/gts per image:
    dets [(boxes, scores, labels)], gts [(boxes, labels)].  Returns {"mAP": .., "per_class": [..]}."""
    aps = []
    for c in range(num_classes):
        recs = []
        npos = 0
        for (db, ds, dl), (gb, gl) in zip(dets, gts):
            db, ds, dl = (np.asarray(t) for t in (db, ds, dl))
            gb, gl = np.asarray(gb), np.asarray(gl)
            g = gb[gl == c]
            npos += len(g)
            d = db[dl == c]
            s = ds[dl == c]
            order = np.argsort(-s, kind="stable")
            d, s = d[order], s[order]
            used = np.zeros(len(g), bool)
            iou = box_iou(d, g) if len(g) and len(d) else np.zeros((len(d), len(g)))
            for k in range(len(d)):
                tp = 0
                if len(g):
                    j = int(np.argmax(np.where(used, -1, iou[k])))
                    if not used[j] and iou[k, j] >= iou_thr:
                        used[j] = True
                        tp = 1
                recs.append((float(s[k]), tp))
        if npos == 0:
            continue
        recs.sort(key=lambda t: -t[0])
        tp = np.cumsum([t for _, t in recs]) if recs else np.zeros(0)
        fp = np.cumsum([1 - t for _, t in recs]) if recs else np.zeros(0)
        rec = tp / npos
        prec = tp / np.maximum(tp + fp, 1e-12)
        mrec = np.concatenate([[0.0], rec, [1.0]])
        mpre = np.concatenate([[0.0], prec, [0.0]])
        for i in range(len(mpre) - 2, -1, -1):
            mpre[i] = max(mpre[i], mpre[i + 1])
        idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
        aps.append(float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1])))
    return {"mAP": float(np.mean(aps)) if aps else 0.0, "per_class": aps}


def _batch(ds, idx):
    imgs, boxes, labels = [], [], []
    for i in idx:
        im, b, l = ds[int(i)]
        imgs.append(torch.from_numpy(im).permute(2, 0, 1))
        boxes.append(torch.from_numpy(b))
        labels.append(torch.from_numpy(l))
    return torch.stack(imgs), boxes, labels


@torch.no_grad()
def evaluate(model: FCOS, ds, batch: int = 8, masked: bool = True) -> dict:
    """mAP@0.5 on ``ds`` with masked (sparse) inference, plus gate statistics per image:
    used/full compute ratio and the fraction of active pixels of the depth and scale gates."""
    model.eval()
    dets, gts, used, depth_act, scale_act = [], [], [], [], []
    for a in range(0, len(ds), batch):
        idx = list(range(a, min(len(ds), a + batch)))
        imgs, boxes, labels = _batch(ds, idx)
        x, hw = model.preprocess(imgs)
        out = model(x, masked=masked)
        dets += [tuple(t.cpu().numpy() for t in r) for r in postprocess(out, [hw] * len(idx))]
        gts += [(b.numpy(), l.numpy()) for b, l in zip(boxes, labels)]
        c = model.head.last_costs
        used += (c["hard"] / c["full"]).tolist()
        if model.head.kind == "dynamic":
            gd = model.head.last_ctx.gates
            n_d = sum(int(g[0].numel()) for k, g in gd.items() if k[3] == "depth")
            n_s = sum(int(g[0].numel()) for k, g in gd.items() if k[3] != "depth")
            depth_act += (sum((g > 0).flatten(1).sum(1) for k, g in gd.items() if k[3] == "depth") / n_d).tolist()
            scale_act += (sum((g > 0).flatten(1).sum(1) for k, g in gd.items() if k[3] != "depth") / n_s).tolist()
    ap = average_precision_50(dets, gts, model.cfg.num_classes)
    r = {"mAP50": ap["mAP"], "AP50_per_class": ap["per_class"], "n_images": len(ds),
         "used_over_full": float(np.mean(used)), "used_over_full_min": float(np.min(used)),
         "used_over_full_max": float(np.max(used))}
    if depth_act:
        r["depth_gate_active"] = float(np.mean(depth_act))
        r["scale_gate_active"] = float(np.mean(scale_act))
    return r


# --------------------------------------------------------------------------- training
def small_config(**kw) -> ModelConfig:
    """The shipped models' configuration: ResNet-18 at width 16 (GN, trained from scratch), C=32, 4 classes,
    160x160 input; FCOS size ranges divided by 4 to suit the small images.  Head dynamic D=3 unless ``kw``
    says otherwise (the shipped heads: dynamic D8 and gate-free "fix" D6, see checkpoints/MODEL_CARD.md)."""
    base = dict(backbone_depth=18, backbone_width=16, backbone_norm="GN", channels=32, head="dynamic", depth=3,
                num_classes=4, gn_groups=8, pixel_std=(57.375, 57.12, 58.395),
                size_ranges=((-1, 16), (16, 32), (32, 64), (64, 128), (128, math.inf)))
    base.update(kw)
    return ModelConfig(**base)


def train(out: str | Path, budget_lambda: float = 0.1, iters: int = 1000, batch: int = 8, lr: float = 2e-3,
          gate_lr_mult: float = 1.0, size=(160, 160), seed: int = 0, n_train: int = 100_000, n_val: int = 200,
          ckpt_every: int = 250, log_every: int = 25, threads: int = 1, max_cpu_minutes: float | None = None,
          cfg: ModelConfig | None = None, log=print) -> dict:
    """Train a dynamic (or, with ``cfg.head == "fix"``, gate-free) model on the synthetic set from scratch.

    AdamW (lr 2e-3, weight decay 1e-4, none on norms/gates), linear warm-up, cosine decay, grad-norm
    clip 10, batch 8: a deviation from the official SGD 90k-iteration recipe (spec §6) so that a small
    model trains in a few CPU minutes.  ``gate_lr_mult`` scales the gate parameters' learning rate.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    out = Path(out)
    cfg = cfg or small_config(budget_lambda=budget_lambda)
    cfg.budget_lambda = budget_lambda
    model = FCOS(cfg)
    ds = SyntheticDetectionFactory(n_train, "train", seed, size, cfg.num_classes)
    gate_p = [p for n, p in model.named_parameters() if ".gate." in n]
    norm_p = [p for n, p in model.named_parameters() if ".gate." not in n and (p.dim() == 1)]
    other = [p for n, p in model.named_parameters() if ".gate." not in n and p.dim() > 1]
    opt = torch.optim.AdamW([{"params": other, "weight_decay": 1e-4}, {"params": norm_p, "weight_decay": 0.0},
                             {"params": gate_p, "weight_decay": 0.0, "lr_mult": gate_lr_mult}], lr=lr)
    for g in opt.param_groups:
        g.setdefault("lr_mult", 1.0)
    warm = min(100, iters // 10)
    extra = {"batch": batch, "lr": lr, "gate_lr_mult": gate_lr_mult, "optimizer": "AdamW", "seed": seed,
             "iterations_planned": iters, "max_cpu_minutes": max_cpu_minutes}
    rng = np.random.default_rng(seed)
    t0 = time.time()
    c0 = time.process_time()
    hist = []
    model.train()
    it = 0
    for it in range(1, iters + 1):
        # schedule progress: by iterations, or by wall time when a time limit is given and binds first
        # (then the cosine still ends at its floor; the iteration count actually run is recorded)
        prog = it / iters
        if max_cpu_minutes is not None:
            prog = max(prog, (time.process_time() - c0) / (60 * max_cpu_minutes))
        w = warm / iters
        f = prog / w if prog <= w else 0.5 * (1 + math.cos(math.pi * min(1.0, (prog - w) / max(1e-9, 1 - w))))
        for g in opt.param_groups:
            g["lr"] = lr * max(f, 0.01) * g["lr_mult"]
        imgs, boxes, labels = _batch(ds, rng.integers(0, n_train, batch))
        x, _ = model.preprocess(imgs)
        loss = fcos_losses(model, model(x), boxes, labels, budget_lambda)
        opt.zero_grad(set_to_none=True)
        loss["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        hist.append({k: float(v.detach()) for k, v in loss.items()})
        if it % log_every == 0 or it == iters:
            m = {k: np.mean([h[k] for h in hist[-log_every:]]) for k in hist[-1]}
            log(f"iter {it}/{iters} {time.time() - t0:6.1f}s wall {time.process_time() - c0:6.1f}s cpu "
                f"loss {m['total']:.3f} (cls {m['cls']:.3f} box {m['box']:.3f} ctr {m['ctr']:.3f} "
                f"budget {m.get('budget', 0):.3f}) used/full {m['used_ratio']:.3f}")
        if it % ckpt_every == 0:
            _save(model, out, budget_lambda, it, hist, ds, t0, None, extra=extra)
        if prog >= 1.0 and it < iters:
            log(f"stopping at iter {it}: CPU-time limit {max_cpu_minutes} min reached")
            break
    train_s = time.time() - t0
    extra["train_cpu_seconds"] = round(time.process_time() - c0, 1)
    val = SyntheticDetectionFactory(n_val, "val", seed, size, cfg.num_classes)
    ev = evaluate(model, val)
    log("eval (held-out val): " + json.dumps({k: (round(v, 4) if isinstance(v, float) else v)
                                              for k, v in ev.items() if k != "AP50_per_class"}))
    info = _save(model, out, budget_lambda, it, hist, ds, t0, ev, val, train_s, extra)
    return info


def SyntheticDetectionFactory(n, split, seed, size, num_classes):
    from .data import SyntheticDetection
    return SyntheticDetection(n, split, seed, size, num_classes)


def _save(model, out, lam, it, hist, ds, t0, ev, val=None, train_s=None, extra=None):
    from .checkpoint import save_checkpoint
    last = hist[-50:]
    info = {"lambda": lam, "iterations": it, **(extra or {}),
            "final_loss": float(np.mean([h["total"] for h in last])),
            "final_task_loss": float(np.mean([h["total"] - h.get("budget", 0.0) for h in last])),
            "final_used_ratio_train": float(np.mean([h["used_ratio"] for h in last])),
            "train_seconds": round(time.time() - t0 if train_s is None else train_s, 1),
            "threads": torch.get_num_threads(), "data": ds.describe()}
    if ev is not None:
        info["eval"] = ev
        info["val_data"] = val.describe()
    save_checkpoint(model, out, train=info)
    return info


# --------------------------------------------------------------------------- CLI
def add_train_args(sub):
    p = sub.add_parser("train", help="train a small dynamic (or gate-free) model on the synthetic detection set (CPU)")
    p.add_argument("--out", required=True, help="checkpoint path (.pt)")
    p.add_argument("--head", choices=["dynamic", "fix"], default="dynamic",
                   help="dynamic (gated) or fix (the same topology without gates: the gate-free baseline)")
    p.add_argument("--lambda", dest="lam", type=float, default=None,
                   help="budget loss weight (dynamic heads, default 0.1; a fix head has no budget term: 0)")
    p.add_argument("--iters", type=int, default=1000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--size", default="160x160", help="HxW training size (multiple of 32)")
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-cpu-minutes", type=float, default=None,
                   help="CPU-time budget; the schedule compresses to end within it (1 thread)")
    p.add_argument("--ckpt-every", type=int, default=250)
    p.set_defaults(func=_cmd_train)


def _cmd_train(a):
    from .cost import parse_size
    size = parse_size(a.size)
    if size[0] % 32 or size[1] % 32:
        raise DynheadError(f"training size {a.size} must be a multiple of 32", field="size")
    if a.iters < 1 or a.batch < 1:
        raise DynheadError("--iters and --batch must be >= 1", field="iters")
    if a.lam is None:
        a.lam = 0.1 if a.head == "dynamic" else 0.0
    if a.lam < 0:
        raise DynheadError(f"--lambda must be >= 0, got {a.lam}", field="lambda")
    if a.head == "fix" and a.lam != 0:
        raise DynheadError(f"--lambda {a.lam} has no effect on a gate-free (fix) head: pass --lambda 0",
                           field="lambda")
    cfg = small_config(depth=a.depth, channels=a.channels, head=a.head)
    train(a.out, a.lam, a.iters, a.batch, a.lr, size=size, seed=a.seed, threads=a.threads,
                 max_cpu_minutes=a.max_cpu_minutes, ckpt_every=a.ckpt_every, cfg=cfg,
                 log=lambda s: print(s, flush=True))
    print(f"saved {a.out}")
    return 0


def add_eval_args(sub):
    p = sub.add_parser("eval", help="mAP@0.5 and gate density of a checkpoint on the held-out synthetic split")
    p.add_argument("--checkpoint", required=True, help="path, or a shipped name (small, large, baseline)")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--dense", action="store_true", help="dense (gated) instead of masked inference")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_eval)


def resolve_checkpoint(name_or_path):
    from . import SHIPPED, shipped_path
    from .checkpoint import load_model
    if str(name_or_path) in SHIPPED:
        return load_model(shipped_path(str(name_or_path)))
    return load_model(name_or_path)


def _cmd_eval(a):
    torch.set_num_threads(1)
    model = resolve_checkpoint(a.checkpoint)
    tr = getattr(model, "checkpoint_meta", {}).get("train", {})
    d = tr.get("data", {})
    size = tuple(d.get("size", (160, 160)))
    val = SyntheticDetectionFactory(a.n, "val", d.get("seed", 0), size, model.cfg.num_classes)
    ev = evaluate(model, val, masked=not a.dense)
    if a.json:
        print(json.dumps(ev))
    else:
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in ev.items()
                       if k != "AP50_per_class"))
    return 0
