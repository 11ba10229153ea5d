"""Products SCNN aims at masked-off outputs, counted per (tile, Kc group) without the cycle loop.

Without ``output_mask_skip`` the output mask does not change SCNN's timing: a product aimed at a masked-off
output is still multiplied, routed and accumulated (the PPU discards it; model docstring section 6).  The mask
only splits the in-plane products into effectual ones and ``masked_output`` ones.  So the cycle loop can run
as if there were no mask, and the masked count of each (round, PE) unit is added afterwards from this module:
that lets tiles whose masks differ share one kernel run (:func:`~accelsim.models.scnn.tilekeys.tile_classes`),
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
def _box(a_p, a_q, a_pad):
    """Smallest and largest row / column of the real (non-padding) entries; (0, -1, 0, -1) with none."""
    p0, p1, q0, q1 = 0, -1, 0, -1
    first = True
    for e in range(a_p.shape[0]):
        if a_pad[e]:
            continue
        p, q = a_p[e], a_q[e]
        if first:
            p0, p1, q0, q1 = p, p, q, q
            first = False
        else:
            p0, p1, q0, q1 = min(p0, p), max(p1, p), min(q0, q), max(q1, q)
    return p0, p1, q0, q1


@njit(cache=True)
def _masked_per_tap(a_ptr, a_p, a_q, a_pad, p0, q0, nq, tab, hit, H, CV, nph, full):
    """``H[b, x]`` = entries of activation block b (tile * CV + channel) whose product with a weight at tap x
    lands in the plane on a masked-off output: ``tab[k, x]`` for the entry's position k in the box of real
    entries (row-major from ``(p0, q0)``, ``nq`` columns); ``hit[k]`` False where no tap does (skipped).
    A ``full`` tile (every pixel of every channel an entry: tilekeys.full_tiles) repeats its first
    channel's rows (``nph`` phase blocks per channel)."""
    nb = a_ptr.shape[0] - 1
    nt = tab.shape[1]
    acc = np.zeros(nt, np.int64)  # the block's row, summed in registers / cache before one write
    for b in range(nb):
        t = b // CV
        j = b - t * CV
        if full[t] and j >= nph:
            for x in range(nt):
                H[b, x] = H[t * CV + j % nph, x]
            continue
        acc[:] = 0
        for e in range(a_ptr[b], a_ptr[b + 1]):
            if a_pad[e]:
                continue
            k = (a_p[e] - p0) * nq + (a_q[e] - q0)
            if hit[k]:
                for x in range(nt):
                    acc[x] += tab[k, x]
        for x in range(nt):
            H[b, x] = acc[x]


def _tap_table(box, tp: np.ndarray, tq: np.ndarray, P: int, Q: int, mask: np.ndarray) -> np.ndarray:
    """For every position of ``box`` (the real entries' rows / columns, :func:`_box`), row-major: which taps
    put a product there in the plane on a masked-off output, ``(npos, X)`` 0 / 1 (so the kernel does one
    lookup per entry instead of one bounds check and mask read per (entry, tap))."""
    p0, p1, q0, q1 = box
    pr = np.arange(p0, p1 + 1)[:, None, None] - tp
    qr = np.arange(q0, q1 + 1)[None, :, None] - tq
    inb = (pr >= 0) & (pr < P) & (qr >= 0) & (qr < Q)
    off = ~mask[np.clip(pr, 0, P - 1), np.clip(qr, 0, Q - 1)]
    return (inb & off).astype(np.uint8).reshape(-1, len(tp))


def masked_products(ast: ActStreams, wst: WeightStreams, n_tiles: int, P: int, Q: int,
                    mask: np.ndarray, full: np.ndarray | None = None, nph: int = 1) -> np.ndarray:
    """``(T, G)`` int64: in-plane products of tile t with Kc group g that land on masked-off outputs (what the
    cycle loop counts as ``ST_MASK``; module docstring).  ``full`` (T,) bool: tiles whose every pixel of every
    channel is an entry (their channels repeat the first's counts; ``nph`` stride phases per channel)."""
    G, CVg, CV = wst.cv0.shape[0], wst.CVg, ast.CV
    real = ~wst.pad
    out = np.zeros((n_tiles, G), dtype=np.int64)
    if not real.any():
        return out
    wp, wq = wst.p[real], wst.q[real]
    wp0, wq0 = int(wp.min()), int(wq.min())
    span = int(wq.max()) - wq0 + 1
    # the taps: np.unique of the position codes, from a presence table (codes span the kernel's R x S only)
    code = (wp - wp0) * span + (wq - wq0)
    present = np.zeros(int(code.max()) + 1, dtype=np.bool_)
    present[code] = True
    codes = np.flatnonzero(present)
    tap_of = np.cumsum(present)[code] - 1
    taps = np.stack([codes // span + wp0, codes % span + wq0], axis=1)
    H = np.zeros((n_tiles * CV, taps.shape[0]), dtype=np.int64)
    box = _box(ast.p, ast.q, ast.pad)
    if box[1] >= box[0]:
        tab = _tap_table(box, taps[:, 0], taps[:, 1], P, Q, np.asarray(mask, dtype=np.bool_))
        _masked_per_tap(ast.ptr, ast.p, ast.q, ast.pad, box[0], box[2], box[3] - box[2] + 1, tab,
                        tab.any(axis=1), H, CV, nph,
                        np.zeros(n_tiles, np.bool_) if full is None else np.ascontiguousarray(full, np.bool_))
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
