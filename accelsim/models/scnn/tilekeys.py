"""Classes of identical SCNN PE tiles (:func:`tile_classes`): tiles whose stored input the kernel reads
alike share one kernel run per Kc group (the exact fast path of :meth:`SCNN.run_rounds`).

:func:`tile_key` defines a tile's key one tile at a time (the reference the tests compare against);
:func:`tile_classes` computes the same partition in bulk: equal keys need equal per-channel counts, so only
tiles that share a count row are compared, inside Numba (:func:`_classes_in_groups`), without building the
keys: on the gated heads most shared rows are the empty tiles (one class) and a few groups of dense tiles.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .formats import ActStreams, WeightStreams


def tile_key(ast: ActStreams, t: int, a_p: np.ndarray, a_term: np.ndarray, wrange, P: int, Q: int,
              mask: np.ndarray | None) -> bytes:
    """Everything the kernel reads of tile ``t`` outside functional mode, in tile-local form (see
    :func:`tile_classes`), one tile at a time: the definition :func:`tile_classes` computes in bulk, kept as
    the reference the tests compare it with (tests/accelsim/test_fast_paths.py)."""
    CV = ast.CV
    e0, e1 = int(ast.ptr[t * CV]), int(ast.ptr[(t + 1) * CV])
    pad = ast.pad[e0:e1]
    ap, aq = a_p[e0:e1], ast.q[e0:e1]
    real = ~pad
    parts = [np.diff(ast.ptr[t * CV:(t + 1) * CV + 1]).astype(np.int32), pad]
    if real.any() and wrange is not None:
        pmin, pmax = int(ap[real].min()), int(ap[real].max())
        qmin, qmax = int(aq[real].min()), int(aq[real].max())
        wpmin, wpmax, wqmin, wqmax = wrange
        # a product lands at p = ap - w_p, q = aq - w_q; where every product of the tile is inside the plane
        # on a side, that side needs no absolute coordinate in the key; elsewhere the key holds the distance
        # to the border, so equal keys put the same products out of the plane
        near = (pmin - wpmax < 0, pmax - wpmin >= P, qmin - wqmax < 0, qmax - wqmin >= Q)
        border = np.array([*near, *(v if n else 0 for n, v in zip(near, (pmin, P - pmin, qmin, Q - qmin)))],
                          dtype=np.int64)
        parts += [border] + [np.where(pad, 0, v).astype(np.int32) for v in (ap - pmin, aq - qmin, a_term[e0:e1])]
        if mask is not None:  # the mask cells any product can read, at a fixed offset from (pmin, qmin)
            r0, r1 = max(0, pmin - wpmax), min(P, pmax - wpmin + 1)
            c0, c1 = max(0, qmin - wqmax), min(Q, qmax - wqmin + 1)
            win = np.ascontiguousarray(mask[r0:r1, c0:c1], dtype=np.bool_)
            parts += [np.array([r0 - pmin, c0 - qmin, *win.shape], dtype=np.int64), win]
    return b"|".join(np.ascontiguousarray(a).tobytes() for a in parts)


@njit(cache=True)
def _tile_fields(ptr, CV, tt, En, pad, a_p, a_q, has_w, wr, P, Q, has_mask):
    """Per tile of ``tt``: first entry, whether it has a real (non-padding) entry, the row / column of its
    first real entry, the border part of its key (8 values) and its mask-window header (offset, shape:
    ``mask[r0:r1, c0:c1]`` with Python's slice bounds) with the window's first cell.  Reads the first
    ``En[i]`` entries of tile i (:func:`tile_classes`: a full tile's first channel holds every position)."""
    n = tt.shape[0]
    e0 = np.empty(n, np.int64)
    has = np.zeros(n, np.bool_)
    lo = np.zeros((n, 2), np.int64)
    border = np.zeros((n, 8), np.int64)
    head = np.zeros((n, 6), np.int64)
    for i in range(n):
        a = ptr[tt[i] * CV]
        b = a + En[i]
        e0[i] = a
        pmin, pmax, qmin, qmax = 0, 0, 0, 0
        for e in range(a, b):
            if pad[e]:
                continue
            p, q = a_p[e], a_q[e]
            if not has[i]:
                pmin, pmax, qmin, qmax = p, p, q, q
                has[i] = True
            else:
                pmin, pmax = min(pmin, p), max(pmax, p)
                qmin, qmax = min(qmin, q), max(qmax, q)
        if not (has[i] and has_w):
            continue
        lo[i, 0], lo[i, 1] = pmin, qmin
        near = (pmin - wr[1] < 0, pmax - wr[0] >= P, qmin - wr[3] < 0, qmax - wr[2] >= Q)
        vals = (pmin, P - pmin, qmin, Q - qmin)
        for k in range(4):
            border[i, k] = 1 if near[k] else 0
            border[i, 4 + k] = vals[k] if near[k] else 0
        if has_mask:
            r0, r1 = max(0, pmin - wr[1]), min(P, pmax - wr[0] + 1)
            c0, c1 = max(0, qmin - wr[3]), min(Q, qmax - wr[2] + 1)
            rs, re = _slice(r0, r1, P)
            cs, ce = _slice(c0, c1, Q)
            head[i, 0], head[i, 1] = r0 - pmin, c0 - qmin
            head[i, 2], head[i, 3] = max(0, re - rs), max(0, ce - cs)
            head[i, 4], head[i, 5] = rs, cs
    return e0, has, lo, border, head


@njit(cache=True)
def _slice(start, stop, n):
    """Python's bounds of ``range(n)[start:stop]``."""
    if start < 0:
        start = max(start + n, 0)
    if stop < 0:
        stop = max(stop + n, 0)
    return min(start, n), min(stop, n)


@njit(cache=True)
def _same(i, j, E, e0, has, lo, border, head, pad, a_p, a_q, a_term, has_w, mask, has_mask):
    """Whether tiles i and j (same per-channel counts, ``E`` entries) have equal :func:`tile_key` (the int32
    casts of the key's per-entry parts included)."""
    a, b = e0[i], e0[j]
    for k in range(E):
        if pad[a + k] != pad[b + k]:
            return False
    if not (has_w and has[i]):  # the key is the counts and the flags (has[j] too: the flags are equal)
        return True
    for k in range(8):
        if border[i, k] != border[j, k]:
            return False
    for k in range(E):
        if pad[a + k]:
            continue
        if (np.int32(a_p[a + k] - lo[i, 0]) != np.int32(a_p[b + k] - lo[j, 0])
                or np.int32(a_q[a + k] - lo[i, 1]) != np.int32(a_q[b + k] - lo[j, 1])
                or np.int32(a_term[a + k]) != np.int32(a_term[b + k])):
            return False
    if has_mask:
        for k in range(4):
            if head[i, k] != head[j, k]:
                return False
        for r in range(head[i, 2]):
            for c in range(head[i, 3]):
                if mask[head[i, 4] + r, head[i, 5] + c] != mask[head[j, 4] + r, head[j, 5] + c]:
                    return False
    return True


@njit(cache=True)
def _tile_hash(i, E, e0, has, lo, border, head, pad, a_p, a_q, a_term, has_w, mask, has_mask):
    """A hash of tile i's key (equal keys, equal hashes): buckets the exact comparisons of :func:`_same`."""
    h = np.int64(-3750763034362895579)
    m = np.int64(1099511628211)
    a = e0[i]
    for k in range(E):
        h = (h ^ np.int64(pad[a + k])) * m
    if not (has_w and has[i]):
        return h
    for k in range(8):
        h = (h ^ border[i, k]) * m
    for k in range(E):
        if not pad[a + k]:
            h = (h ^ np.int64(np.int32(a_p[a + k] - lo[i, 0]))) * m
            h = (h ^ np.int64(np.int32(a_q[a + k] - lo[i, 1]))) * m
            h = (h ^ np.int64(np.int32(a_term[a + k]))) * m
    if has_mask:
        for k in range(4):
            h = (h ^ head[i, k]) * m
        for r in range(head[i, 2]):
            for c in range(head[i, 3]):
                h = (h ^ np.int64(mask[head[i, 4] + r, head[i, 5] + c])) * m
    return h


@njit(cache=True)
def _classes_in_groups(ptr, CV, tiles, En, bounds, pad, a_p, a_q, a_term, has_w, wr, P, Q, mask, has_mask, cls):
    """``cls[t]`` = the first tile with :func:`tile_key` equal to t's, for the tiles ``tiles[bounds[g]:
    bounds[g + 1]]`` of each group g (ascending tiles with one count row, ``E`` > 0 entries each), comparing
    the first ``En`` entries of each (all of them, or a full tile's first channel: :func:`tile_classes`)."""
    e0, has, lo, border, head = _tile_fields(ptr, CV, tiles, En, pad, a_p, a_q, has_w, wr, P, Q, has_mask)
    hs = np.empty(tiles.shape[0], np.int64)
    for i in range(tiles.shape[0]):
        hs[i] = _tile_hash(i, En[i], e0, has, lo, border, head, pad, a_p, a_q, a_term, has_w, mask, has_mask)
    for g in range(bounds.shape[0] - 1):
        g0, g1 = bounds[g], bounds[g + 1]
        E = En[g0]
        # stable: within a run of equal hashes the tiles stay ascending, so a class's first tile comes first
        order = g0 + np.argsort(hs[g0:g1], kind="mergesort")
        s = 0
        while s < g1 - g0:
            u = s
            while u < g1 - g0 and hs[order[u]] == hs[order[s]]:
                u += 1
            for x in range(s, u):  # exact: every hash match is confirmed on the whole key
                i = order[x]
                cls[tiles[i]] = tiles[i]
                for y in range(s, x):
                    j = order[y]
                    if cls[tiles[j]] == tiles[j] and _same(i, j, E, e0, has, lo, border, head, pad, a_p, a_q,
                                                          a_term, has_w, mask, has_mask):
                        cls[tiles[i]] = tiles[j]
                        break
            s = u


def full_tiles(ast: ActStreams, tiles: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """``(full, area)`` per tile of ``tiles`` (the plan's (y0, y1, x0, x1)): its pixels, and whether its entries
    number its pixels times the ``channels``.  Such a tile holds every pixel of every channel as a real entry
    (an RLE padding entry always follows a position without one), so each channel repeats the first one's
    positions and accumulator terms: :func:`tile_classes` and ``maskcount.masked_products`` read that channel
    only (the gated heads' dense block inputs: C = 256 times less work)."""
    area = (tiles[:, 1] - tiles[:, 0]) * (tiles[:, 3] - tiles[:, 2])
    return np.diff(ast.ptr[::ast.CV]) == area * channels, area


def tile_classes(ast: ActStreams, n_tiles: int, a_p: np.ndarray, a_term: np.ndarray, w_p: np.ndarray,
                 wst: WeightStreams, P: int, Q: int, mask: np.ndarray | None,
                 full: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """``(T,)`` class of every PE tile: two tiles of one class give the kernel the same inputs for any Kc group,
    outside functional mode (an exact fast path, :meth:`SCNN.run_rounds`).

    The kernel reads a tile's entries through their output-unit coordinates (bounds check and mask), their
    bank-hash term (already local to the tile's accumulator footprint, kernel.bank_terms), the RLE padding
    flags and the per-channel entry counts.  The key (:func:`tile_key`) holds the counts, the flags, the
    terms and the positions relative to the tile's first row / column of entries; the distance to a plane
    border only where some product of the tile can cross it (from the range of the layer's weight positions);
    and, with an output mask, the window of mask cells its products can reach.  Dense input (the FCOS head's
    first tower conv reads the FPN's dense features) makes the interior tiles of one shape one class.

    Tiles are grouped by count row first: a tile alone in its group is a class of its own (sparse input: all
    of them), the tiles of an all-zero row (no entry at all: the empty tiles of a gated layer) one class, and
    the other groups are compared in Numba (:func:`_classes_in_groups`; hashed, every hash match confirmed on
    the whole key).  Ids are numbered by each class's first tile, the classes of tiles alone in their row
    last: the ids of the former per-tile loop over the keys.

    ``full``: :func:`full_tiles` of the plan; where every tile of a count row is full, only the tiles' first
    channel is compared."""
    real_w = ~wst.pad
    wrange = np.zeros(4, dtype=np.int64)
    if real_w.any():
        wq = wst.q[real_w]
        wpr = w_p[real_w]
        wrange[:] = (int(wpr.min()), int(wpr.max()), int(wq.min()), int(wq.max()))
    counts = np.ascontiguousarray(ast.counts(n_tiles), dtype=np.int64)
    # rows compared as opaque bytes (np.unique's axis=0 sorts a structured dtype field by field: slower);
    # return_index sorts stably, so ``first`` is each row's first tile
    rows = counts.view(np.dtype((np.void, 8 * counts.shape[1]))).reshape(-1)
    _, first, inv, cnt = np.unique(rows, return_index=True, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    # provisional ids: a class's first tile, or n_tiles + the tile for one alone in its count row
    cls = np.where(cnt[inv] == 1, n_tiles + np.arange(n_tiles), first[inv]).astype(np.int64)
    cmp = (cnt[inv] > 1) & (counts.sum(axis=1) > 0)
    if cmp.any():
        tiles = np.flatnonzero(cmp)
        tiles = tiles[np.argsort(inv[tiles], kind="stable")]
        bounds = np.flatnonzero(np.r_[True, np.diff(inv[tiles]) != 0, True]).astype(np.int64)
        has_mask = mask is not None
        m = np.ascontiguousarray(mask if has_mask else np.zeros((1, 1)), dtype=np.bool_)
        En = counts.sum(axis=1)[tiles]
        if full is not None:
            # first channels only where every tile of the count row is full (a row may hold a full tile and a
            # larger one with the same entries, whose keys can be equal: both must then compare everything)
            all_full = np.logical_and.reduceat(full[0][tiles], bounds[:-1])
            En = np.where(np.repeat(all_full, np.diff(bounds)), full[1][tiles], En)
        _classes_in_groups(ast.ptr, ast.CV, tiles, En, bounds, ast.pad, np.asarray(a_p, dtype=np.int64),
                           np.asarray(ast.q, dtype=np.int64), np.asarray(a_term, dtype=np.int64),
                           bool(real_w.any()), wrange, P, Q, m, has_mask, cls)
    return np.unique(cls, return_inverse=True)[1].reshape(-1).astype(np.int64)
