"""Seeded wide heads: random weights at a chosen width C, identical for every head that shares a layer.

A trained narrow model (C=32 here) drives a wide head (e.g. C=256, the paper's width) with its gates;
the wide head's weights are random.  So that heads of different kinds and depths (the gate-free
baseline "fix" D6, the dynamic D8 heads) see comparable activation statistics, every weight is
drawn from a generator seeded by ``(seed, the parameter's name)``, where a fix head's parameter is
named as its dynamic counterpart (``cls_subnet.3.convs.0.0.weight`` is
``cls_subnet.3.dynamic_convs.0.convs.0.weight``).  Stage d of a fix D6 head and stage d of a dynamic
D8 head therefore hold the same tensors (d < 6), and so do the predictors.

Weights: tower and predictor convs He-normal (std sqrt(2 / fan_in)): N(0, 0.01), the untrained init,
makes activations vanish through a deep random head; gate convs N(0, 0.01) with the open bias of
spec §2.3 (their output is replaced by the trained model's gates); biases 0 (classifier prior as
built); GroupNorm 1 / 0; ``output_weight`` 1 and the dynamic head's ``scale_weight`` 1, the fix head's
fixed scale-sum weight, so an all-open dynamic head computes exactly what the fix head of the same
depth computes (a property test holds this).

Features: the trained model's FPN features (C0 channels) expanded to C by one seeded Gaussian
projection (``wide_features``), the same matrix for every row.
"""

from __future__ import annotations

import zlib

import torch

from .model import build_head


def canonical_name(name: str) -> str:
    """A fix head's parameter name as the matching dynamic head's (other names unchanged)."""
    parts = name.split(".")
    if len(parts) > 3 and parts[0] in ("cls_subnet", "bbox_subnet") and parts[2] == "convs":
        return ".".join(parts[:2] + ["dynamic_convs", parts[3], "convs"] + parts[4:])
    return name


def _generator(seed: int, name: str) -> torch.Generator:
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + zlib.crc32(name.encode())) % (2 ** 63))


def seeded_wide_head(kind: str, depth: int, width: int, num_classes: int, seed: int = 0,
                     gate_activation: str = "geretanh", tau: float = 1.5, K: int = 2):
    """A ``kind`` ("fix" or "dynamic") head of ``depth`` stages at ``width`` channels (GroupNorm(32)),
    eval mode, with the seeded weights of the module doc."""
    head = build_head(kind, depth, width, num_classes, gn_groups=32, gate_activation=gate_activation, tau=tau, K=K)
    with torch.no_grad():
        for n, p in head.named_parameters():
            if n.endswith("scale_weight") or n.endswith("output_weight"):
                p.fill_(1.0)
            elif p.dim() == 4:
                g = _generator(seed, canonical_name(n))
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                std = 0.01 if ".gate." in n else (2.0 / fan_in) ** 0.5
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return head.eval()


def projection(c_in: int, width: int, seed: int = 0) -> torch.Tensor:
    """The seeded (width, c_in) Gaussian channel expansion, variance-preserving (std 1/sqrt(c_in))."""
    return torch.randn(width, c_in, generator=_generator(seed, f"fpn_projection_{c_in}_{width}")) / c_in ** 0.5


def wide_features(features, width: int, seed: int = 0) -> list:
    """FPN features [P3..P7] (N, C0, h, w) expanded to ``width`` channels by :func:`projection`."""
    proj = projection(features[0].shape[1], width, seed).to(features[0].device, features[0].dtype)
    return [torch.einsum("kc,nchw->nkhw", proj, x) for x in features]
