"""Exact cost accounting of the dynamic head (spec §3-§4; official ``get_running_cost``).

Units: MACs (multiply-accumulates); "GFLOPs" as the official code prints them = MACs / 2**30
(binary-giga MACs, head only).  Per-pixel unit costs (C = channels):

* depth conv (conv1 or conv2):  9*C^2 + C          (conv + GN counted as C)
* scale path (one depthwise module): C*2*9 + C = 19*C   (the official double count of the
  depthwise conv, because its Sequential holds conv + GN: a quirk kept on purpose)
* plain FCOS conv: 9*C^2 (GN, ReLU, predictors not counted)
* not counted: gate convs, resizes, additions, ReLUs, FPN, predictors.

Tallies per image (spec §3.2): soft = sum g * unit (scale gates detached; conv1 on the 3x3
max-pooled gate), hard ("used") = sum 1[g != 0] * unit, full = sum unit.
"""

from __future__ import annotations

from .errors import DynheadError

GIGA = 2 ** 30
STRIDES = (8, 16, 32, 64, 128)


def depth_unit(C: int) -> int:
    """MACs per pixel of one depth conv incl. its GN: 9C^2 + C (590,080 for C=256)."""
    return 9 * C * C + C


def scale_unit(C: int) -> int:
    """MACs per pixel of one depthwise scale module as officially counted: 19C (4,864 for C=256)."""
    return C * 2 * 9 + C


def fcos_unit(C: int) -> int:
    """MACs per pixel of one plain FCOS head conv: 9C^2."""
    return 9 * C * C


def _ceil_half(n: int) -> int:
    return (n + 1) // 2


def level_sizes(size: tuple[int, int], pad: bool = False, divisibility: int = 32) -> list[tuple[int, int]]:
    """P3..P7 spatial sizes for an input H x W (ResNet/FPN arithmetic: every stride-2 conv or
    pool gives ceil(n/2)).  ``pad`` first rounds H, W up to a multiple of ``divisibility``."""
    H, W = int(size[0]), int(size[1])
    if H < 1 or W < 1:
        raise DynheadError(f"image size must be positive, got {H}x{W}", field="size")
    if pad:
        H = -(-H // divisibility) * divisibility
        W = -(-W // divisibility) * divisibility
    for _ in range(3):  # stem conv, max-pool, res3
        H, W = _ceil_half(H), _ceil_half(W)
    out = [(H, W)]
    for _ in range(4):  # res4, res5, P6, P7
        H, W = _ceil_half(H), _ceil_half(W)
        out.append((H, W))
    return out


def positions(sizes) -> int:
    return sum(h * w for h, w in sizes)


def full_macs(head: str, depth: int, C: int, sizes, K: int = 2) -> int:
    """Full (all gates open) head MACs for one image, both towers, per spec §4."""
    n = positions(sizes)
    if head == "fcos":
        return 2 * (2 * depth) * fcos_unit(C) * n
    if head in ("fix", "dynamic"):
        return 2 * depth * (2 * depth_unit(C) + K * scale_unit(C)) * n
    raise DynheadError(f"unknown head {head!r} (expected fcos, fix or dynamic)", field="head")


def full_gflops(head: str, depth: int, size: tuple[int, int], C: int = 256, pad: bool = False, K: int = 2) -> float:
    return full_macs(head, depth, C, level_sizes(size, pad), K) / GIGA


def tally_gates(gates: dict, C: int, sizes, depth: int, K: int = 2) -> dict:
    """soft/hard/full MACs per image from the gates a dynamic head saw in one forward.

    ``gates[(tower, stage, level, "scale{s}" | "depth")]`` = (N, 1, H, W).  ``soft`` keeps the
    gradient of the depth gates only (scale gates detached, spec §3.2); ``hard`` and ``full``
    are float64 counts.
    """
    import torch

    from .gates import dilate3x3

    soft = hard = None
    du, su = float(depth_unit(C)), float(scale_unit(C))
    N = None
    for (_tower, _d, _l, key), g in gates.items():
        N = g.shape[0]
        if key == "depth":
            gp = dilate3x3(g)
            s = (gp.sum((1, 2, 3)) + g.sum((1, 2, 3))) * du
            h = ((gp > 0).sum((1, 2, 3)) + (g > 0).sum((1, 2, 3))).double() * du
        else:
            s = g.detach().sum((1, 2, 3)) * su
            h = (g > 0).sum((1, 2, 3)).double() * su
        soft = s if soft is None else soft + s
        hard = h if hard is None else hard + h
    full = float(full_macs("dynamic", depth, C, sizes, K))
    if N is None:
        raise DynheadError("no gates were recorded (is this a dynamic head?)", field="gates")
    return {"soft": soft, "hard": hard, "full": torch.full((N,), full, dtype=torch.float64)}


def hard_gflops(costs_or_head) -> list[float]:
    """Used (hard-gate) GFLOPs per image from ``head.last_costs`` (or a head after a forward)."""
    costs = getattr(costs_or_head, "last_costs", costs_or_head)
    if not costs:
        raise DynheadError("no cost tallies: run the head forward first", field="last_costs")
    return [float(v) / GIGA for v in costs["hard"].detach().cpu().tolist()]


def hard_macs_from_workload(wl, image: int = 0) -> int:
    """Used MACs of one traced image, recomputed from the stored output masks only (an independent
    check of the model's tally): conv1/conv2 masks x (9C^2+C), scale masks x 19C."""
    total = 0
    for name, L in wl.layers.items():
        op = L.meta.get("op")
        if op not in ("conv1", "conv2", "scale0", "scale1"):
            continue
        d = wl.images[image].get(name)
        if d is None:
            raise DynheadError(f"layer {name} has no data for image {image}", field=name)
        m = d.out_mask
        cnt = L.P * L.Q if m is None else int(m.sum())
        C = L.meta.get("cost_channels", L.C)
        total += cnt * (depth_unit(C) if op.startswith("conv") else scale_unit(C))
    return total


def parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = text.lower().split("x")
        h, w = int(h), int(w)
    except (ValueError, AttributeError):
        raise DynheadError(f"size must look like HxW (e.g. 800x1333), got {text!r}", field="size") from None
    if h < 1 or w < 1:
        raise DynheadError(f"size must be positive, got {text!r}", field="size")
    return h, w


def flops_report(head: str, depth: int, size: tuple[int, int], C: int = 256, pad: bool = False, K: int = 2) -> dict:
    sizes = level_sizes(size, pad)
    macs = full_macs(head, depth, C, sizes, K)
    return {"head": head, "depth": depth, "channels": C, "size": list(size), "padded": pad,
            "levels": [list(s) for s in sizes], "positions": positions(sizes),
            "full_macs": macs, "gflops": macs / GIGA,
            "unit": "GFLOPs as printed officially = MACs / 2**30 (head only)"}
