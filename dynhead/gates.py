"""Spatial gates and their activations (spec §2; Song et al. NeurIPS 2020, Sec. 3.3).

* ReTanH: max(0, tanh v)                                   (Li et al., Dynamic Routing, CVPR 2020)
* GeReTanH(tau): max(0, (tanh(v - tau) + tanh tau) / (1 + tanh tau)), tau = 1.5 in all released configs
* SpatialGate: one 3x3 conv C -> G (G = 1) with bias, then the activation.  The bias is set so the
  gate starts at 0.99 (GeReTanH tau=1.5: b = 3.822), weights N(0, 0.01) (spec §2.3).

Gradients: plain autograd through the clamp, as in the official code (no straight-through trick).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import DynheadError

GATE_OPEN_INIT = 0.99


def retanh(v: torch.Tensor) -> torch.Tensor:
    return torch.clamp(torch.tanh(v), min=0.0)


def geretanh(v: torch.Tensor, tau: float = 1.5) -> torch.Tensor:
    t = math.tanh(tau)
    return torch.clamp((torch.tanh(v - tau) + t) / (1.0 + t), min=0.0)


class ReTanH(nn.Module):
    def forward(self, v):
        return retanh(v)


class GeReTanH(nn.Module):
    def __init__(self, tau: float = 1.5):
        super().__init__()
        self.tau = float(tau)

    def forward(self, v):
        return geretanh(v, self.tau)

    def extra_repr(self):
        return f"tau={self.tau}"


def gate_bias_init(act: str, tau: float = 1.5, p: float = GATE_OPEN_INIT) -> float:
    """Bias b with act(b) = p (spec §2.3); for 'sigmoid' the official quirk 0.5*logit(p)."""
    act = act.lower()
    if act == "geretanh":
        return 0.5 * math.log((1.0 + p * math.exp(2.0 * tau)) / (1.0 - p))
    if act == "retanh":
        return math.atanh(p)
    if act == "sigmoid":
        return 0.5 * math.log(p / (1.0 - p))
    raise DynheadError(f"unknown gate activation {act!r} (expected geretanh, retanh or sigmoid)",
                       field="gate_activation")


def make_activation(act: str, tau: float = 1.5) -> nn.Module:
    act = act.lower()
    if act == "geretanh":
        return GeReTanH(tau)
    if act == "retanh":
        return ReTanH()
    if act == "sigmoid":
        return nn.Sigmoid()
    raise DynheadError(f"unknown gate activation {act!r} (expected geretanh, retanh or sigmoid)",
                       field="gate_activation")


class SpatialGate(nn.Module):
    """conv3x3(C -> num_groups, bias) + activation.  Output (N, G, H, W) in [0, 1).

    Key names: ``gate_conv.weight`` [G, C, 3, 3], ``gate_conv.bias`` [G] (spec §7.2).
    """

    def __init__(self, in_channels: int, num_groups: int = 1, act: str = "geretanh", tau: float = 1.5):
        super().__init__()
        self.num_groups = num_groups
        self.gate_conv = nn.Conv2d(in_channels, num_groups, 3, padding=1, bias=True)
        self.act = make_activation(act, tau)
        nn.init.normal_(self.gate_conv.weight, std=0.01)
        nn.init.constant_(self.gate_conv.bias, gate_bias_init(act, tau))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.gate_conv(x))


def dilate3x3(g: torch.Tensor) -> torch.Tensor:
    """3x3 max-pool, stride 1, same size: the receptive-field ("regional") dilation of spec §2.4."""
    return F.max_pool2d(g, 3, stride=1, padding=1)
