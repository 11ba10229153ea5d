"""Gather-GEMM-scatter masked convolution and the masked depth path (spec §2.4).

Works on CPU and CUDA, for any batch size (the official kernel is CUDA-only, batch 1).
Only torch is needed.  For one layer with an output mask ``m`` (N, H, W):

1. ``idx = nonzero(m)`` -> M active (n, h, w) triples;
2. gather: ``cols[M, R*S*C_in]`` from the zero-padded, channel-last input (column order
   (r, s, c); the weight is permuted to match);
3. GEMM: ``vals[M, C_out] = cols @ W^T (+ bias)``;
4. optional post-ops on the gathered matrix (GroupNorm over the active pixels of each image
   and group — the official eval semantics — then ReLU);
5. scatter into a zero output (N, C_out, H, W).

Stride 1, odd R = S, padding R // 2 (what the head uses).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch.utils.hooks import RemovableHandle

# rows gathered per GEMM chunk: bounds the im2col buffer at chunk * C_in * 9 floats
DEFAULT_CHUNK = 8192

#: ``hook(conv, x, mask)`` of :func:`register_masked_conv_hook`, by handle id (empty in normal use)
_CONV_HOOKS: OrderedDict = OrderedDict()  # an OrderedDict, as RemovableHandle holds a weak reference


def register_masked_conv_hook(hook) -> RemovableHandle:
    """Call ``hook(conv, x, mask)`` before every conv :func:`masked_depth_branch` runs (``conv`` the
    module whose weights it uses, ``x`` its input, ``mask`` its output mask).  The masked path calls
    no module, so torch's forward hooks do not see these convs; this is their counterpart.  Returns a
    handle whose ``remove()`` unregisters the hook."""
    handle = RemovableHandle(_CONV_HOOKS)
    _CONV_HOOKS[handle.id] = hook
    return handle


def _announce(conv, x, mask) -> None:
    for hook in tuple(_CONV_HOOKS.values()):
        hook(conv, x, mask)


def active_index(mask: torch.Tensor) -> torch.Tensor:
    """(M, 3) long tensor of active (n, h, w), in C order. ``mask`` is (N, H, W) or (N, 1, H, W)."""
    if mask.dim() == 4:
        mask = mask[:, 0]
    return torch.nonzero(mask, as_tuple=False)


def gather_conv(x: torch.Tensor, weight: torch.Tensor, idx: torch.Tensor, bias: torch.Tensor | None = None,
                chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """Convolution evaluated only at output pixels ``idx`` (M, 3): returns (M, C_out).

    ``x`` (N, C_in, H, W); ``weight`` (C_out, C_in, R, R), stride 1, padding R // 2, zero padding.
    """
    N, C, H, W = x.shape
    K, Cw, R, S = weight.shape
    assert Cw == C and R == S and R % 2 == 1, "masked conv supports dense groups, square odd kernels"
    p = R // 2
    # channel-last padded copy so one (n, h, w) gather yields a contiguous C vector
    xp = F.pad(x, (p, p, p, p)).permute(0, 2, 3, 1).contiguous()
    # weight in (k, r, s, c) order so the gathered (m, R*S, C) block is used as-is (no transpose copy)
    wm = weight.permute(0, 2, 3, 1).reshape(K, R * S * C)
    M = idx.shape[0]
    out = x.new_empty((M, K))
    if M == 0:
        return out
    dy = torch.arange(R, device=x.device).repeat_interleave(S)  # (R*S,) offsets in (r, s) order
    dx = torch.arange(S, device=x.device).repeat(R)
    for a in range(0, M, chunk):
        b = min(M, a + chunk)
        n = idx[a:b, 0:1]
        h = idx[a:b, 1:2] + dy  # (m, R*S) padded coordinates of the taps
        w = idx[a:b, 2:3] + dx
        cols = xp[n, h, w].reshape(b - a, R * S * C)  # (m, R*S, C): tap-major, channels innermost
        out[a:b] = cols @ wm.t()
    if bias is not None:
        out += bias
    return out


def scatter(vals: torch.Tensor, idx: torch.Tensor, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """Scatter (M, C) rows into a zero (N, C, H, W) tensor at ``idx``."""
    N, C, H, W = shape
    out = vals.new_zeros((N, H, W, C))
    if idx.shape[0]:
        out[idx[:, 0], idx[:, 1], idx[:, 2]] = vals
    return out.permute(0, 3, 1, 2)


def group_norm_active(vals: torch.Tensor, img: torch.Tensor, n_images: int, num_groups: int,
                      weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float = 1e-5) -> torch.Tensor:
    """GroupNorm of gathered rows (M, C): statistics per (image, group) over the active pixels only.

    This is the official masked-inference convention (spec §2.4); with every pixel active it is
    exactly ``F.group_norm`` over H x W.  Two-pass (mean, then centred second moment) for accuracy.
    """
    M, C = vals.shape
    if M == 0:
        return vals
    G = num_groups
    v = vals.reshape(M, G, C // G)
    cnt = torch.zeros(n_images, device=vals.device, dtype=vals.dtype).index_add_(
        0, img, torch.ones(M, device=vals.device, dtype=vals.dtype)) * (C // G)
    s1 = torch.zeros(n_images, G, device=vals.device, dtype=vals.dtype).index_add_(0, img, v.sum(-1))
    mean = s1 / cnt.clamp(min=1)[:, None]
    d = v - mean[img][:, :, None]
    s2 = torch.zeros(n_images, G, device=vals.device, dtype=vals.dtype).index_add_(0, img, (d * d).sum(-1))
    var = s2 / cnt.clamp(min=1)[:, None]
    y = (d * torch.rsqrt(var[img] + eps)[:, :, None]).reshape(M, C)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def masked_conv2d(x: torch.Tensor, weight: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor | None = None,
                  chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """Masked conv: the conv output at pixels where ``mask`` is true, zero elsewhere. (N, C_out, H, W)."""
    idx = active_index(mask)
    vals = gather_conv(x, weight, idx, bias, chunk)
    return scatter(vals, idx, (x.shape[0], weight.shape[0], x.shape[2], x.shape[3]))


def masked_conv_gn(x: torch.Tensor, weight: torch.Tensor, mask: torch.Tensor, gn: torch.nn.GroupNorm,
                   relu: bool, bias: torch.Tensor | None = None, chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """Masked conv + GroupNorm over active pixels (+ ReLU) on the gathered matrix, then scatter."""
    idx = active_index(mask)
    vals = gather_conv(x, weight, idx, bias, chunk)
    vals = group_norm_active(vals, idx[:, 0], x.shape[0], gn.num_groups, gn.weight, gn.bias, gn.eps)
    if relu:
        vals = torch.relu(vals)
    return scatter(vals, idx, (x.shape[0], weight.shape[0], x.shape[2], x.shape[3]))


def masked_depth_branch(a: torch.Tensor, conv1, conv2, mask1: torch.Tensor, mask2: torch.Tensor,
                        chunk: int = DEFAULT_CHUNK) -> tuple[torch.Tensor, torch.Tensor]:
    """Depth-path branch GN2(conv2(ReLU(GN1(conv1(a))))) evaluated sparsely.

    conv1 runs on ``mask1`` (the 3x3-dilated gate support), conv2 on ``mask2`` (the exact
    support).  ``conv1``/``conv2`` are convs with a ``.norm`` GroupNorm.  Returns (branch, h1)
    where h1 is the scattered conv1 output (conv2's input), zero outside ``mask1``.
    """
    _announce(conv1, a, mask1)
    h1 = masked_conv_gn(a, conv1.weight, mask1, conv1.norm, relu=True, bias=conv1.bias, chunk=chunk)
    _announce(conv2, h1, mask2)
    h2 = masked_conv_gn(h1, conv2.weight, mask2, conv2.norm, relu=False, bias=conv2.bias, chunk=chunk)
    return h2, h1
