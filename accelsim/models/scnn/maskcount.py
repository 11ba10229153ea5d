"""Products SCNN aims at masked-off outputs, counted per (tile, Kc group) without the cycle loop.

Without ``output_mask_skip`` the output mask does not change SCNN's timing: a product aimed at a masked-off
output is still multiplied, routed and accumulated (the PPU discards it; model docstring section 6).  The mask
only splits the in-plane products into effectual ones and ``masked_output`` ones.  So the cycle loop can run
as if there were no mask, and the masked count of each (round, PE) unit is added afterwards from this module:
that lets tiles whose masks differ share one kernel run (:func:`~accelsim.models.scnn.rounds.tile_classes`),
which matters on the dynamic heads, whose gated layers read dense inputs.

A product of activation entry a (tile t, channel block c0 + cl) and weight entry w (group g, block cl) lands at
``(a_p - w_p, a_q - w_q)``.  Grouping a block's weights by their position (``tap``) gives

    masked(t, g) = sum over cl, tap of  n[g, cl, tap] * H[t, c0(g) + cl, tap],

with ``n`` the weights of the block at the tap and ``H`` the activations of the tile's channel whose product
with that tap lands inside the plane on a masked-off output: entries x taps of work, not entries x weights.
The kernel's own count (run with the mask) is the reference this is tested against
(tests/accelsim/test_fast_paths.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .formats import ActStreams, WeightStreams


@njit(cache=True)
def _masked_per_tap(a_ptr, a_p, a_q, a_pad, tp, tq, P, Q, mask, H):
    """``H[b, x]`` = entries of activation block b (tile * CV + channel) whose product with a weight at tap x
    ``(tp[x], tq[x])`` lands in the plane on a masked-off output."""
    nb = a_ptr.shape[0] - 1
    nt = tp.shape[0]
    for b in range(nb):
        for e in range(a_ptr[b], a_ptr[b + 1]):
            if a_pad[e]:
                continue
            ap, aq = a_p[e], a_q[e]
            for x in range(nt):
                p = ap - tp[x]
                q = aq - tq[x]
                if 0 <= p < P and 0 <= q < Q and not mask[p, q]:
                    H[b, x] += 1


def masked_products(ast: ActStreams, wst: WeightStreams, n_tiles: int, P: int, Q: int,
                    mask: np.ndarray) -> np.ndarray:
    """``(T, G)`` int64: in-plane products of tile t with Kc group g that land on masked-off outputs (what the
    cycle loop counts as ``ST_MASK``; module docstring)."""
    G, CVg, CV = wst.cv0.shape[0], wst.CVg, ast.CV
    real = ~wst.pad
    out = np.zeros((n_tiles, G), dtype=np.int64)
    if not real.any():
        return out
    wp, wq = wst.p[real], wst.q[real]
    q0, span = int(wq.min()), int(wq.max() - wq.min()) + 1
    codes, tap_of = np.unique((wp - int(wp.min())) * span + (wq - q0), return_inverse=True)
    taps = np.stack([codes // span + int(wp.min()), codes % span + q0], axis=1)
    H = np.zeros((n_tiles * CV, taps.shape[0]), dtype=np.int64)
    _masked_per_tap(ast.ptr, ast.p, ast.q, ast.pad, np.ascontiguousarray(taps[:, 0]),
                    np.ascontiguousarray(taps[:, 1]), P, Q, np.ascontiguousarray(mask, dtype=np.bool_), H)
    H = H.reshape(n_tiles, CV, taps.shape[0])
    # n[g, cl, tap]: the group's weights per (block, tap)
    X = taps.shape[0]
    blk = np.repeat(np.arange(G * CVg), np.diff(wst.ptr))[real]
    n = np.bincount(blk * X + tap_of.reshape(-1), minlength=G * CVg * X).reshape(G, CVg, X)
    if CVg == CV and not wst.cv0.any():
        # every group reads all channels (no grouped convolution): one product for all groups, in float64,
        # exact (every partial sum is an integer below 2**53: entries x weights x blocks x taps)
        return np.rint(H.reshape(n_tiles, CV * X).astype(np.float64)
                       @ n.reshape(G, CVg * X).T.astype(np.float64)).astype(np.int64)
    for g in range(G):
        c0 = int(wst.cv0[g])
        out[:, g] = np.einsum("tcx,cx->t", H[:, c0:c0 + CVg], n[g])
    return out
