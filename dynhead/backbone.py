"""The detector's convolution layers and backbone (spec §1.1, the detector skeleton): FrozenBN / BN / GN
norms, conv + norm, a hand-written ResNet-18/50 in detectron2's layout and key names (no pretrained weights), and the FPN
P3..P7 (P6 from C5, P7 from ReLU(P6)), strides 8..128.  The heads are in :mod:`dynhead.model`."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import DynheadError


# ---------------------------------------------------------------------------- layers
class FrozenBatchNorm2d(nn.Module):
    """BatchNorm with fixed statistics and affine (detectron2's FrozenBN; four buffers)."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.full((num_features,), 1.0 - eps))

    def forward(self, x):
        scale = self.weight * torch.rsqrt(self.running_var + self.eps)
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


def make_norm(kind: str, c: int, gn_groups: int = 32) -> nn.Module | None:
    if kind in (None, "", "none"):
        return None
    if kind == "FrozenBN":
        return FrozenBatchNorm2d(c)
    if kind == "BN":
        return nn.BatchNorm2d(c)
    if kind == "GN":
        return nn.GroupNorm(math.gcd(gn_groups, c), c)
    raise DynheadError(f"unknown norm {kind!r} (expected FrozenBN, BN, GN or none)", field="backbone_norm")


class ConvNorm(nn.Conv2d):
    """Conv2d with an optional ``.norm`` submodule applied after it (detectron2 ``Conv2d`` naming)."""

    def __init__(self, *args, norm: nn.Module | None = None, **kw):
        super().__init__(*args, **kw)
        self.norm = norm

    def forward(self, x):
        x = super().forward(x)
        return self.norm(x) if self.norm is not None else x


# ---------------------------------------------------------------------------- backbone
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, norm):
        super().__init__()
        self.shortcut = (ConvNorm(cin, cout, 1, stride=stride, bias=False, norm=make_norm(norm, cout))
                         if (cin != cout or stride != 1) else None)
        self.conv1 = ConvNorm(cin, cout, 3, stride=stride, padding=1, bias=False, norm=make_norm(norm, cout))
        self.conv2 = ConvNorm(cout, cout, 3, padding=1, bias=False, norm=make_norm(norm, cout))

    def forward(self, x):
        y = self.conv2(F.relu(self.conv1(x)))
        s = self.shortcut(x) if self.shortcut is not None else x
        return F.relu(y + s)


class BottleneckBlock(nn.Module):
    def __init__(self, cin, cout, stride, norm, bottleneck, stride_in_1x1=True):
        super().__init__()
        self.shortcut = (ConvNorm(cin, cout, 1, stride=stride, bias=False, norm=make_norm(norm, cout))
                         if (cin != cout or stride != 1) else None)
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = ConvNorm(cin, bottleneck, 1, stride=s1, bias=False, norm=make_norm(norm, bottleneck))
        self.conv2 = ConvNorm(bottleneck, bottleneck, 3, stride=s3, padding=1, bias=False,
                              norm=make_norm(norm, bottleneck))
        self.conv3 = ConvNorm(bottleneck, cout, 1, bias=False, norm=make_norm(norm, cout))

    def forward(self, x):
        y = self.conv3(F.relu(self.conv2(F.relu(self.conv1(x)))))
        s = self.shortcut(x) if self.shortcut is not None else x
        return F.relu(y + s)


class BasicStem(nn.Module):
    def __init__(self, width, norm):
        super().__init__()
        self.conv1 = ConvNorm(3, width, 7, stride=2, padding=3, bias=False, norm=make_norm(norm, width))

    def forward(self, x):
        return F.max_pool2d(F.relu(self.conv1(x)), 3, stride=2, padding=1)


class ResNet(nn.Module):
    """ResNet-18/50 with detectron2 names: ``stem``, ``res2..res5``; returns res3, res4, res5."""

    def __init__(self, depth: int = 50, width: int = 64, norm: str = "FrozenBN", stride_in_1x1: bool = True):
        super().__init__()
        if depth not in (18, 50):
            raise DynheadError(f"backbone depth must be 18 or 50, got {depth}", field="backbone_depth")
        self.stem = BasicStem(width, norm)
        blocks = {18: (2, 2, 2, 2), 50: (3, 4, 6, 3)}[depth]
        cin = width
        self.out_channels = []
        for i, n in enumerate(blocks):
            stride = 1 if i == 0 else 2
            if depth == 18:
                cout = width * 2 ** i
                mods = [BasicBlock(cin if j == 0 else cout, cout, stride if j == 0 else 1, norm) for j in range(n)]
            else:
                cout = width * 4 * 2 ** i
                mods = [BottleneckBlock(cin if j == 0 else cout, cout, stride if j == 0 else 1, norm,
                                        width * 2 ** i, stride_in_1x1) for j in range(n)]
            self.add_module(f"res{i + 2}", nn.Sequential(*mods))
            self.out_channels.append(cout)
            cin = cout
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.stem(x)
        x = self.res2(x)
        c3 = self.res3(x)
        c4 = self.res4(c3)
        c5 = self.res5(c4)
        return [c3, c4, c5]


class LastLevelP6P7(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.p6 = nn.Conv2d(cin, cout, 3, 2, 1)
        self.p7 = nn.Conv2d(cout, cout, 3, 2, 1)
        for m in (self.p6, self.p7):
            nn.init.kaiming_uniform_(m.weight, a=1)
            nn.init.zeros_(m.bias)

    def forward(self, c5):
        p6 = self.p6(c5)
        return [p6, self.p7(F.relu(p6))]


class FPNBackbone(nn.Module):
    """``backbone.bottom_up`` (ResNet) + ``fpn_lateral{3,4,5}``, ``fpn_output{3,4,5}``, ``top_block.p6/p7``."""

    def __init__(self, cfg):  # a dynhead.model.ModelConfig (not imported: model imports this module)
        super().__init__()
        self.bottom_up = ResNet(cfg.backbone_depth, cfg.backbone_width, cfg.backbone_norm, cfg.stride_in_1x1)
        C = cfg.channels
        for lvl, cin in zip((3, 4, 5), self.bottom_up.out_channels[1:]):
            lat = nn.Conv2d(cin, C, 1)
            out = nn.Conv2d(C, C, 3, padding=1)
            for m in (lat, out):
                nn.init.kaiming_uniform_(m.weight, a=1)
                nn.init.zeros_(m.bias)
            self.add_module(f"fpn_lateral{lvl}", lat)
            self.add_module(f"fpn_output{lvl}", out)
        self.top_block = LastLevelP6P7(self.bottom_up.out_channels[-1], C)

    def forward(self, x):
        c3, c4, c5 = self.bottom_up(x)
        prev = self.fpn_lateral5(c5)
        p5 = self.fpn_output5(prev)
        prev = self.fpn_lateral4(c4) + F.interpolate(prev, size=c4.shape[-2:], mode="nearest")
        p4 = self.fpn_output4(prev)
        prev = self.fpn_lateral3(c3) + F.interpolate(prev, size=c3.shape[-2:], mode="nearest")
        p3 = self.fpn_output3(prev)
        return [p3, p4, p5] + self.top_block(c5)
