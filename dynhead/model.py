"""FCOS with the Fine-Grained Dynamic Head in plain PyTorch (spec §1; Song et al., NeurIPS 2020).

* Backbone: hand-written ResNet-18/50 (detectron2 layout and key names, FrozenBN by default;
  GN/BN selectable for training from scratch), width selectable; no pretrained weights.
* FPN P3..P7 (detectron2 style, P6 from C5, P7 from ReLU(P6)), strides 8..128.
* Heads with one interface ``head(features, masked=False, ctx=None) -> (logits, bbox_reg, ctrness)``:
  - ``"fcos"``: plain FCOS head, 2*D conv+GN+ReLU per tower (the README's "D2" is D=2, 4 convs);
  - ``"fix"``: depth + scale paths without gates (spec §1.4);
  - ``"dynamic"``: gated scale paths (K=2) + gated residual depth block (spec §1.3).
  After each forward ``head.last_costs`` holds per-image soft/hard/full MAC tallies (spec §3.2),
  recomputed every forward (the official accumulators are only reset when lambda != 0).
* ``masked=True`` runs the depth path with the gather-GEMM-scatter masked conv and GN over the
  active pixels only (spec §2.4), any batch size, CPU or CUDA.

State-dict key names follow spec §7.2, so cvpods checkpoints load (see ``checkpoint.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import cost as _cost
from .backbone import ConvNorm, FPNBackbone
from .errors import DynheadError
from .gates import SpatialGate, dilate3x3
from .masked_conv import masked_depth_branch

STRIDES = (8, 16, 32, 64, 128)
HEAD_KINDS = ("fcos", "fix", "dynamic")


# ---------------------------------------------------------------------------- config
@dataclass
class ModelConfig:
    backbone_depth: int = 50            # 18 or 50
    backbone_width: int = 64            # stem / res2 base width (64 = standard)
    backbone_norm: str = "FrozenBN"     # FrozenBN (official), GN or BN
    stride_in_1x1: bool = True          # MSRA weights (spec §1.1)
    channels: int = 256                 # FPN and head width C
    head: str = "dynamic"               # fcos | fix | dynamic
    depth: int = 8                      # D (stages; fcos: 2*D convs per tower)
    num_classes: int = 80
    gn_groups: int = 32
    gate_activation: str = "geretanh"
    tau: float = 1.5
    num_adjacent_scales: int = 2        # K (hard-coded 2 in the official head)
    pixel_mean: tuple = (103.530, 116.280, 123.675)   # BGR, spec §1.1
    pixel_std: tuple = (1.0, 1.0, 1.0)
    input_format: str = "BGR"
    # FCOS targets (spec §1.1); size ranges in input pixels
    size_ranges: tuple = ((-1, 64), (64, 128), (128, 256), (256, 512), (512, math.inf))
    center_sample_radius: float = 1.5
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    budget_lambda: float = 0.0

    def __post_init__(self):
        check_config(self)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["size_ranges"] = [[a, (None if math.isinf(b) else b)] for a, b in self.size_ranges]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """A config from a checkpoint's ``config`` dict; every field is checked (:func:`check_config`)."""
        if not isinstance(d, dict):
            raise DynheadError(f"expected a dict of model config fields, got {type(d).__name__}", field="config")
        d = dict(d)
        known = set(cls.__dataclass_fields__)
        bad = sorted(set(d) - known, key=str)
        if bad:
            raise DynheadError(f"unknown model config field(s): {', '.join(map(str, bad))}"[:300], field="config")
        if "size_ranges" in d:
            d["size_ranges"] = _pairs(d["size_ranges"])
        for k in ("pixel_mean", "pixel_std"):
            if k in d:
                d[k] = tuple(d[k]) if isinstance(d[k], (list, tuple)) else d[k]
        return cls(**d)


#: allowed values of the choice fields, ranges (inclusive) of the numeric ones: far beyond any published
#: model, so a corrupt or hostile ``config`` fails here with one line, before a model is built.  The
#: memory a valid config needs is capped separately (``max_model_parameters``, checked in
#: :func:`dynhead.checkpoint.load_model` on a meta-device model).
CONFIG_CHOICES = {"backbone_depth": (18, 50), "backbone_norm": ("FrozenBN", "GN", "BN", "none", "", None),
                  "head": HEAD_KINDS, "gate_activation": ("geretanh", "retanh", "sigmoid"),
                  "input_format": ("BGR", "RGB"), "stride_in_1x1": (True, False), "num_adjacent_scales": (2, 4)}
CONFIG_INTS = {"backbone_width": (1, 1 << 16), "channels": (1, 1 << 16), "depth": (1, 256),
               "num_classes": (1, 1 << 20), "gn_groups": (1, 1 << 16)}
CONFIG_FLOATS = {"tau": (1e-3, 20.0), "center_sample_radius": (0.0, 1e4), "focal_alpha": (0.0, 1.0),
                 "focal_gamma": (0.0, 100.0), "budget_lambda": (0.0, 1e6)}


def _pairs(v):
    if not isinstance(v, (list, tuple)) or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in v):
        raise DynheadError(f"expected a list of [low, high] pairs, got {v!r}"[:200], field="config.size_ranges")
    return tuple((a, math.inf if b is None else b) for a, b in v)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_config(cfg: "ModelConfig") -> None:
    """Types, choices and ranges of every field of ``cfg`` (a :class:`DynheadError` naming ``config.<field>``)."""
    def bad(name, reason):
        return DynheadError(reason, field=f"config.{name}")

    for name, choices in CONFIG_CHOICES.items():
        v = getattr(cfg, name)
        if not any(type(v) is type(c) and v == c for c in choices):  # 18.0 or True is not 18 or 1
            raise bad(name, f"expected one of {', '.join(repr(c) for c in choices if c)}, got {v!r}"[:200])
    for name, (lo, hi) in CONFIG_INTS.items():
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int):
            raise bad(name, f"expected an integer, got {v!r}"[:200])
        if not lo <= v <= hi:
            raise bad(name, f"must be in [{lo}, {hi}], got {v}")
    for name, (lo, hi) in CONFIG_FLOATS.items():
        v = getattr(cfg, name)
        if not _number(v) or not lo <= v <= hi:  # also NaN
            raise bad(name, f"expected a number in [{lo:g}, {hi:g}], got {v!r}"[:200])
    if cfg.channels % cfg.gn_groups:
        raise bad("channels", f"channels={cfg.channels} must be a multiple of gn_groups={cfg.gn_groups}")
    for name, positive in (("pixel_mean", False), ("pixel_std", True)):
        v = getattr(cfg, name)
        if not (isinstance(v, tuple) and len(v) == 3 and all(_number(x) and math.isfinite(x) for x in v)) \
                or (positive and min(v) <= 0):
            raise bad(name, f"expected 3 finite numbers{' > 0' if positive else ''}, got {v!r}"[:200])
    sr = cfg.size_ranges
    if not (isinstance(sr, tuple) and len(sr) == len(STRIDES)
            and all(isinstance(p, tuple) and len(p) == 2 and all(_number(x) and not math.isnan(x) for x in p)
                    and p[0] < p[1] for p in sr)):
        raise bad("size_ranges", f"expected {len(STRIDES)} [low, high] pairs with low < high, got {sr!r}"[:200])


# ---------------------------------------------------------------------------- head context
class HeadContext:
    """Per-forward state: masked flag, gates seen (for the cost tallies), optional recorder and
    gate overrides (used by tracing to drive a wide head with a narrow model's gates).

    ``gates[(tower, stage, level, key)]`` with key ``"scale{s}"`` or ``"depth"``: (N, 1, H, W).
    ``recorder(tower, stage, level, op, inp, out_mask)`` is called for every executed conv with its
    input (N, C, H, W) and output mask (N, H, W) bool or None (dense).

    With ``gate_override`` every gate module still runs on its input (its conv is part of the work
    of the head, timed by ``accelsim compare`` and simulated by every target) and only then is its
    output replaced by the override's decision (which must have the same shape).
    ``run_gates=False`` skips the gate modules: for callers that want the decision alone, never for
    a timed forward.
    """

    def __init__(self, masked: bool = False, recorder=None, gate_override: dict | None = None,
                 tally: bool = True, run_gates: bool = True):
        self.masked = masked
        self.recorder = recorder
        self.gate_override = gate_override
        self.run_gates = run_gates
        # False for timed forwards: the FLOP tallies (gate dilations and sums, float64) are
        # accounting, not inference, and would add dozens of small kernels to every timed call
        self.tally = tally
        self.gates: dict = {}

    def gate(self, module, x, key):
        if self.gate_override is None:
            g = module(x)
        else:
            g = self.gate_override[key]
            if self.run_gates:
                own = module(x)  # the gate conv at this width runs, then the given decision replaces it
                if own.shape != g.shape:
                    raise DynheadError(f"gate override {key} has shape {tuple(g.shape)}, the gate computes "
                                       f"{tuple(own.shape)}", field="gate_override")
            g = g.to(x.dtype)
        self.gates[key] = g
        return g

    def record(self, tower, stage, level, op, inp, out_mask=None):
        if self.recorder is not None:
            self.recorder(tower, stage, level, op, inp, out_mask)


def _init_head_conv(m: nn.Conv2d):
    nn.init.normal_(m.weight, std=0.01)
    if m.bias is not None:
        nn.init.zeros_(m.bias)


class Scale(nn.Module):
    def __init__(self, v: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([v]))

    def forward(self, x):
        return x * self.scale


# ---------------------------------------------------------------------------- dynamic / fix stage
class ScalePath(nn.Module):
    """One scale module (dynamic): ``convs`` = [depthwise 3x3 (bias), GN] and ``gate``."""

    def __init__(self, C, gn_groups, gated, act, tau):
        super().__init__()
        dw = nn.Conv2d(C, C, 3, padding=1, groups=C, bias=True)
        _init_head_conv(dw)
        self.convs = nn.Sequential(dw, nn.GroupNorm(gn_groups, C))
        if gated:
            self.gate = SpatialGate(C, 1, act, tau)


class ResidualBottleneck(nn.Module):
    """``conv1``/``conv2``: 3x3 C->C without bias, each with ``.norm`` GN (spec §1.3 item 3)."""

    def __init__(self, C, gn_groups):
        super().__init__()
        self.conv1 = ConvNorm(C, C, 3, padding=1, bias=False, norm=nn.GroupNorm(gn_groups, C))
        self.conv2 = ConvNorm(C, C, 3, padding=1, bias=False, norm=nn.GroupNorm(gn_groups, C))
        _init_head_conv(self.conv1)
        _init_head_conv(self.conv2)

    def branch(self, a):
        return self.conv2(F.relu(self.conv1(a)))


class DepthModule(nn.Module):
    def __init__(self, C, gn_groups, gated, act, tau):
        super().__init__()
        self.bottleneck = ResidualBottleneck(C, gn_groups)
        if gated:
            self.gate = SpatialGate(C, 1, act, tau)


def scale_offsets(K: int) -> list[int]:
    """Source-level offsets of the K scale modules: module s feeds level l from l + offsets[s]
    (K=2: s=0 from the finer neighbour l-1, s=1 from the coarser l+1; spec §1.3)."""
    return list(range(-(K // 2), 0)) + list(range(1, K // 2 + 1))


class DynamicStage(nn.Module):
    """One depth step d of a tower, shared across levels (spec §1.3; ``gated=False``: Fix, §1.4)."""

    def __init__(self, C, gn_groups=32, gated=True, K=2, act="geretanh", tau=1.5):
        super().__init__()
        self.gated = gated
        self.K = K
        self.C = C
        if gated:
            self.scale_weight = nn.Parameter(torch.zeros(1))
            self.output_weight = nn.Parameter(torch.ones(1))
            self.dynamic_convs = nn.ModuleList(ScalePath(C, gn_groups, True, act, tau) for _ in range(K))
        else:
            self.output_weight = nn.Parameter(torch.ones(1))
            paths = []
            for _ in range(K):
                dw = nn.Conv2d(C, C, 3, padding=1, groups=C, bias=True)
                _init_head_conv(dw)
                paths.append(nn.Sequential(dw, nn.GroupNorm(gn_groups, C)))
            self.convs = nn.ModuleList(paths)
        self.depth_module = DepthModule(C, gn_groups, gated, act, tau)

    def forward(self, xs: list[torch.Tensor], ctx: HeadContext, tower: str, d: int) -> list[torch.Tensor]:
        L = len(xs)
        offs = scale_offsets(self.K)
        # 1. scale paths at the source resolution, every level (also where unused; spec §1.3)
        ys = [[None] * self.K for _ in range(L)]
        for j, x in enumerate(xs):
            for s in range(self.K):
                if self.gated:
                    path = self.dynamic_convs[s]
                    g = ctx.gate(path.gate, x, (tower, d, j, f"scale{s}"))
                    ctx.record(tower, d, j, f"gate_scale{s}", x, None)
                    ctx.record(tower, d, j, f"scale{s}", x, g[:, 0] > 0)
                    ys[j][s] = path.convs(x) * g
                else:
                    ctx.record(tower, d, j, f"scale{s}", x, None)
                    ys[j][s] = self.convs[s](x)
        # 2. aggregation at each target level: bilinear to the target *size*, align_corners=True
        outs = []
        for l, x in enumerate(xs):
            acc = None
            for s, o in enumerate(offs):
                src = l + o
                if 0 <= src < L:
                    y = F.interpolate(ys[src][s], size=x.shape[-2:], mode="bilinear", align_corners=True)
                    acc = y if acc is None else acc + y
            if self.gated:
                a = self.output_weight * x if acc is None else self.scale_weight * acc + self.output_weight * x
            else:
                a = self.output_weight * x if acc is None else acc + self.output_weight * x
            # 3. residual depth block
            bn = self.depth_module.bottleneck
            if self.gated:
                g = ctx.gate(self.depth_module.gate, a, (tower, d, l, "depth"))
                ctx.record(tower, d, l, "gate_depth", a, None)
                m2 = g[:, 0] > 0
                m1 = dilate3x3(g)[:, 0] > 0
                if ctx.masked:
                    br, h1 = masked_depth_branch(a, bn.conv1, bn.conv2, m1, m2)
                    ctx.record(tower, d, l, "conv1", a, m1)
                    ctx.record(tower, d, l, "conv2", h1, m2)
                else:
                    h1 = F.relu(bn.conv1(a))
                    br = bn.conv2(h1)
                    if ctx.recorder is not None:
                        ctx.record(tower, d, l, "conv1", a, m1)
                        ctx.record(tower, d, l, "conv2", h1, m2)
                z = F.relu(a + g * br)
            else:
                h1 = F.relu(bn.conv1(a))
                ctx.record(tower, d, l, "conv1", a, None)
                ctx.record(tower, d, l, "conv2", h1, None)
                z = F.relu(a + bn.conv2(h1))
            outs.append(z)
        return outs


# ---------------------------------------------------------------------------- heads
class _Head(nn.Module):
    kind = "?"

    def __init__(self, C, num_classes, num_levels=5, strides=STRIDES):
        super().__init__()
        self.C = C
        self.num_classes = num_classes
        self.strides = tuple(strides)
        self.cls_score = nn.Conv2d(C, num_classes, 3, padding=1)
        self.bbox_pred = nn.Conv2d(C, 4, 3, padding=1)
        self.centerness = nn.Conv2d(C, 1, 3, padding=1)
        for m in (self.cls_score, self.bbox_pred, self.centerness):
            _init_head_conv(m)
        nn.init.constant_(self.cls_score.bias, -math.log((1 - 0.01) / 0.01))
        self.scales = nn.ModuleList(Scale(1.0) for _ in range(num_levels))
        self.last_costs: dict | None = None

    def towers(self, features, ctx):  # -> (cls_feats, reg_feats)
        raise NotImplementedError

    def forward(self, features: list[torch.Tensor], masked: bool = False, ctx: HeadContext | None = None):
        """features: P3..P7 (N, C, H_l, W_l).  Returns per-level lists (logits, bbox_reg, ctrness);
        bbox_reg = ReLU(scale_l * conv) * stride_l in input pixels (NORM_REG_TARGETS)."""
        if len(features) != len(self.scales):
            raise DynheadError(f"head expects {len(self.scales)} FPN levels, got {len(features)}", field="features")
        for l, f in enumerate(features):
            if f.dim() != 4 or f.shape[1] != self.C:
                raise DynheadError(f"level {l} feature has shape {tuple(f.shape)}, expected (N, {self.C}, H, W)",
                                   field="features")
        ctx = ctx or HeadContext(masked=masked)
        ctx.masked = ctx.masked or masked
        cls_f, reg_f = self.towers(features, ctx)
        logits, bbox, ctr = [], [], []
        for l, (c, r) in enumerate(zip(cls_f, reg_f)):
            ctx.record("pred", None, l, "cls", c, None)
            ctx.record("pred", None, l, "box", r, None)
            ctx.record("pred", None, l, "ctr", r, None)
            logits.append(self.cls_score(c))
            bbox.append(F.relu(self.scales[l](self.bbox_pred(r))) * self.strides[l])
            ctr.append(self.centerness(r))
        self.last_costs = self.tally(features, ctx) if ctx.tally else None
        self.last_ctx = ctx
        return logits, bbox, ctr

    def tally(self, features, ctx) -> dict:
        raise NotImplementedError


class FCOSHead(_Head):
    """Plain FCOS head: ``cls_subnet``/``bbox_subnet`` = Sequential of 2*D x [conv3x3 (bias), GN, ReLU]."""

    kind = "fcos"

    def __init__(self, C=256, depth=2, num_classes=80, gn_groups=32):
        super().__init__(C, num_classes)
        self.depth = depth
        for name in ("cls_subnet", "bbox_subnet"):
            mods = []
            for _ in range(2 * depth):
                conv = nn.Conv2d(C, C, 3, padding=1, bias=True)
                _init_head_conv(conv)
                mods += [conv, nn.GroupNorm(gn_groups, C), nn.ReLU()]
            self.add_module(name, nn.Sequential(*mods))

    def towers(self, features, ctx):
        out = []
        for tower, net in (("cls", self.cls_subnet), ("reg", self.bbox_subnet)):
            res = []
            for l, x in enumerate(features):
                for i in range(0, len(net), 3):
                    ctx.record(tower, i // 3, l, "conv", x, None)
                    x = net[i + 2](net[i + 1](net[i](x)))
                res.append(x)
            out.append(res)
        return out

    def tally(self, features, ctx):
        N = features[0].shape[0]
        full = sum(_cost.fcos_unit(self.C) * 2 * self.depth * 2 * f.shape[-2] * f.shape[-1] for f in features)
        t = torch.full((N,), float(full), dtype=torch.float64)
        return {"soft": t.clone(), "hard": t.clone(), "full": t}


class DynamicHead(_Head):
    """Dynamic (``gated=True``) or Fix (``gated=False``) head: ``cls_subnet``/``bbox_subnet`` =
    ModuleList of D :class:`DynamicStage`; centerness from the regression tower."""

    def __init__(self, C=256, depth=8, num_classes=80, gn_groups=32, gated=True, K=2,
                 gate_activation="geretanh", tau=1.5):
        super().__init__(C, num_classes)
        self.kind = "dynamic" if gated else "fix"
        self.gated = gated
        self.depth = depth
        self.K = K
        for name in ("cls_subnet", "bbox_subnet"):
            self.add_module(name, nn.ModuleList(
                DynamicStage(C, gn_groups, gated, K, gate_activation, tau) for _ in range(depth)))

    def towers(self, features, ctx):
        out = []
        for tower, net in (("cls", self.cls_subnet), ("reg", self.bbox_subnet)):
            xs = list(features)
            for d, stage in enumerate(net):
                xs = stage(xs, ctx, tower, d)
            out.append(xs)
        return out

    def tally(self, features, ctx):
        sizes = [tuple(f.shape[-2:]) for f in features]
        N = features[0].shape[0]
        if not self.gated:
            full = _cost.full_macs("fix", self.depth, self.C, sizes, self.K)
            t = torch.full((N,), float(full), dtype=torch.float64)
            return {"soft": t.clone(), "hard": t.clone(), "full": t}
        return _cost.tally_gates(ctx.gates, self.C, sizes, self.depth, self.K)


def build_head(kind: str = "dynamic", depth: int = 8, channels: int = 256, num_classes: int = 80,
               gn_groups: int = 32, gate_activation: str = "geretanh", tau: float = 1.5, K: int = 2) -> _Head:
    """Head alone (usable on random FPN features): kind in {fcos, fix, dynamic}."""
    if kind not in HEAD_KINDS:
        raise DynheadError(f"unknown head {kind!r} (expected one of {', '.join(HEAD_KINDS)})", field="head")
    if depth < 1:
        raise DynheadError(f"depth must be >= 1, got {depth}", field="depth")
    if channels < 1 or channels % gn_groups:
        raise DynheadError(f"channels={channels} must be a positive multiple of gn_groups={gn_groups}",
                           field="channels")
    if kind == "fcos":
        return FCOSHead(channels, depth, num_classes, gn_groups)
    return DynamicHead(channels, depth, num_classes, gn_groups, gated=(kind == "dynamic"), K=K,
                       gate_activation=gate_activation, tau=tau)


def random_features(size: tuple[int, int], channels: int = 256, batch: int = 1, seed: int = 0,
                    device="cpu", dtype=torch.float32) -> list[torch.Tensor]:
    """Seeded random P3..P7 features for an input of ``size`` (H, W) (sizes by FPN arithmetic)."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, channels, h, w, generator=gen).to(device=device, dtype=dtype)
            for h, w in _cost.level_sizes(size)]


def random_gate_override(head, features: list[torch.Tensor], density: float, seed: int = 0) -> dict:
    """Seeded spatially clustered gates for every (tower, stage, level, path) of a dynamic head:
    smooth noise thresholded so that a ``density`` fraction of pixels is open (values in (0.5, 1]),
    for ``HeadContext(gate_override=...)``.  Lets benchmarks set the sparsity of a random head."""
    if not 0.0 <= density <= 1.0:
        raise DynheadError(f"gate density must be in [0, 1], got {density}", field="density")
    g = torch.Generator().manual_seed(seed)
    out = {}
    keys = [f"scale{s}" for s in range(getattr(head, "K", 2))] + ["depth"]
    for tower in ("cls", "reg"):
        for d in range(head.depth):
            for l, f in enumerate(features):
                N, _, H, W = f.shape
                for key in keys:
                    lo = torch.randn(N, 1, max(1, H // 4), max(1, W // 4), generator=g)
                    n = F.interpolate(lo, size=(H, W), mode="bilinear", align_corners=False)
                    n = n + 0.05 * torch.randn(N, 1, H, W, generator=g)  # break ties
                    k = int(round(density * H * W))
                    m = torch.zeros(N, 1, H, W, dtype=torch.bool)
                    if k > 0:
                        thr = n.flatten(1).topk(k, dim=1).values[:, -1]
                        m = n >= thr[:, None, None, None]
                    v = 0.5 + 0.5 * torch.rand(N, 1, H, W, generator=g)
                    out[(tower, d, l, key)] = torch.where(m, v, torch.zeros(())).to(f.device, f.dtype)
    return out


# ---------------------------------------------------------------------------- detector
class FCOS(nn.Module):
    """Backbone + FPN + head.  ``forward(images)`` takes preprocessed (N, 3, H, W) with H, W
    multiples of 32 (see :meth:`preprocess`)."""

    def __init__(self, cfg: ModelConfig | None = None, **kw):
        super().__init__()
        cfg = cfg or ModelConfig(**kw)
        self.cfg = cfg
        self.backbone = FPNBackbone(cfg)
        self.head = build_head(cfg.head, cfg.depth, cfg.channels, cfg.num_classes, cfg.gn_groups,
                               cfg.gate_activation, cfg.tau, cfg.num_adjacent_scales)

    def preprocess(self, images: torch.Tensor, size_divisibility: int = 32) -> tuple[torch.Tensor, tuple]:
        """RGB float/uint8 (N, 3, H, W) in 0..255 -> normalised, in the model's channel order, zero-padded
        (after normalisation, like detectron2's ImageList) to a multiple of 32.  Returns (x, (H, W))."""
        x = images.float()
        if self.cfg.input_format == "BGR":
            x = x.flip(1)
        mean = torch.tensor(self.cfg.pixel_mean, device=x.device)[None, :, None, None]
        std = torch.tensor(self.cfg.pixel_std, device=x.device)[None, :, None, None]
        x = (x - mean) / std
        H, W = x.shape[-2:]
        Hp = -(-H // size_divisibility) * size_divisibility
        Wp = -(-W // size_divisibility) * size_divisibility
        if (Hp, Wp) != (H, W):
            x = F.pad(x, (0, Wp - W, 0, Hp - H))
        return x, (H, W)

    def features(self, x):
        return self.backbone(x)

    def forward(self, x, masked: bool = False, ctx: HeadContext | None = None):
        return self.head(self.backbone(x), masked=masked, ctx=ctx)
