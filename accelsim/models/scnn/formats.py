"""SCNN's compressed formats: run-length encoded activation and weight streams (paper Sec. IV).

The activations of each PE tile are encoded per (channel, stride phase) in row-major order, the
weights per (input channel, Kc-group) block in (r, s, k) order (or k, r, s); zero counts are
``index_bits`` wide, and a longer run inserts an explicit zero (RLE padding).  See the model's
docstring (:mod:`accelsim.models.scnn.model`, section 3).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numba import njit

from workloads import Layer

from ...formats import rle as rle_format
from ..common import scratch
from ..common.planar import Plan, phase_counts


@njit(cache=True)
def _streams(V, max_run, ptr, pos, val, pad):
    """RLE-encode each row of V (nb, L) into the flat entry arrays (two-pass: ptr then fill)."""
    nb, Lr = V.shape
    k = 0
    for b in range(nb):
        ptr[b] = k
        row = V[b]
        nz = np.flatnonzero(row)
        n = rle_format.rle_counts(nz, Lr, max_run)
        if pos.shape[0] > 0:
            runs = np.empty(n, dtype=np.int64)
            rle_format.rle_fill(nz, row[nz], max_run, val[k:k + n], runs, pos[k:k + n])
            for e in range(k, k + n):
                pad[e] = val[e] == 0.0
        k += n
    ptr[nb] = k
    return k


def pad_prefix(pad):
    """``(n + 1,)`` int64: RLE padding entries before each entry (``pad`` the per-entry flags), so a block
    [b, e) holds ``pc[e] - pc[b]`` (the kernel's closed-form padding count).  One pass; numpy's cumsum of the
    bool flags plus the leading zero and the cast took three (3x slower on the paper heads' streams)."""
    return _pad_prefix(pad, scratch.empty(pad.shape[0] + 1, np.int64))


@njit(cache=True)
def _pad_prefix(pad, out):
    s = 0
    out[0] = 0
    for i in range(pad.shape[0]):
        s += pad[i]
        out[i + 1] = s
    return out


def rle_streams(V: np.ndarray, index_bits: int):
    """Entries of each row of ``V`` (nb, L) in SCNN's RLE format: ptr (nb+1), pos, val, is_padding."""
    V = np.ascontiguousarray(V, dtype=np.float64)
    max_run = (1 << index_bits) - 1
    nb = V.shape[0]
    ptr = np.zeros(nb + 1, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    n = _streams(V, max_run, ptr, empty, np.zeros(0), np.zeros(0, dtype=np.bool_))
    pos = np.zeros(n, dtype=np.int64)
    val = np.zeros(n, dtype=np.float64)
    pad = np.zeros(n, dtype=np.bool_)
    _streams(V, max_run, ptr, pos, val, pad)
    return ptr, pos, val, pad


@dataclass
class ActStreams:
    ptr: np.ndarray   # (T*CV + 1,) entries of (tile, channel*nph + phase)
    p: np.ndarray     # output-unit row of each entry: (y + pad - phy) / s
    q: np.ndarray
    term: np.ndarray  # spatial accumulator address of the entry in its tile's footprint: (p-p0)*Qacc + (q-q0)
    val: np.ndarray
    pad: np.ndarray
    CV: int

    def counts(self, T):
        return np.diff(self.ptr).reshape(T, self.CV)


@njit(cache=True)
def _live_pixels(acts, keep, has_keep):
    """(H, W) bool: pixels non-zero in at least one channel (and kept).  Only these can hold an entry; the
    gated paper heads' inputs are zero in every channel at many pixels.  A row stops scanning channels once all
    its pixels are known live, so on dense inputs this costs about a channel's pass, not C of them."""
    C, H, W = acts.shape
    live = np.zeros((H, W), dtype=np.bool_)
    for y in range(H):
        todo = 0
        for x in range(W):
            if not has_keep or keep[y, x]:
                todo += 1
        for c in range(C):
            if todo == 0:
                break
            for x in range(W):
                if not live[y, x] and acts[c, y, x] != 0.0 and (not has_keep or keep[y, x]):
                    live[y, x] = True
                    todo -= 1
    return live


@njit(cache=True)
def _tile_entries(acts, tiles, foot, pad, s, max_run, Qacc, keep, has_keep, ptr, out_p, out_q, out_term, out_val,
                  out_pad, cnt, fill):
    """One pass over every (tile, channel, phase) stream in SCNN's RLE order: each phase sub-grid's pixels of
    the tile in row-major order (:func:`~accelsim.formats.rle.rle_fill`'s encoding: a zero run longer than
    ``max_run`` inserts an explicit zero at position prev + max_run + 1).  ``fill`` False: the stored entries
    of block b = t * CV + c * nph + ph into ``cnt[b]``; True: the entries into the ``out_*`` arrays from
    ``ptr[b]`` (output-unit row / column, accumulator term in the tile's footprint, value, padding flag).
    ``keep`` (with ``has_keep``) drops pixels (mask-skip variant).

    Each channel visits only the sub-grid's live pixels (:func:`_live_pixels`), by their row-major index
    within the sub-grid: a dead pixel only lengthens the zero run before the next entry, which the index
    difference already counts, so the entries are those of the full walk.  The fill pass also writes each
    block's entries into ``cnt[b]`` (``ptr`` may then leave room after a block: :func:`build_act_streams`)."""
    C, H, W = acts.shape
    nph = s * s
    CV = C * nph
    flat = acts.reshape(C, H * W)
    live = _live_pixels(acts, keep, has_keep)
    ys = np.empty(H, dtype=np.int64)
    xs = np.empty(W, dtype=np.int64)
    # output-unit rows / columns of the phase's pixels, once per (tile, phase): the
    # integer divisions by the stride were most of the per-entry cost
    op = np.empty(H, dtype=np.int64)
    oq = np.empty(W, dtype=np.int64)
    # the live pixels of one (tile, phase) sub-grid: flat offset in a channel, sub-grid row / column / index
    loff = np.empty(H * W, dtype=np.int64)
    liy = np.empty(H * W, dtype=np.int64)
    lix = np.empty(H * W, dtype=np.int64)
    lidx = np.empty(H * W, dtype=np.int64)
    for t in range(tiles.shape[0]):
        y0, y1, x0, x1 = tiles[t, 0], tiles[t, 1], tiles[t, 2], tiles[t, 3]
        fp0, fq0 = foot[t, 0], foot[t, 2]
        for phy in range(s):
            ny = 0
            for y in range(y0, y1):
                if (y + pad) % s == phy:
                    ys[ny] = y
                    op[ny] = (y + pad - phy) // s
                    ny += 1
            for phx in range(s):
                nx = 0
                for x in range(x0, x1):
                    if (x + pad) % s == phx:
                        xs[nx] = x
                        oq[nx] = (x + pad - phx) // s
                        nx += 1
                n = 0
                for iy in range(ny):
                    for ix in range(nx):
                        if live[ys[iy], xs[ix]]:
                            loff[n] = ys[iy] * W + xs[ix]
                            liy[n] = iy
                            lix[n] = ix
                            lidx[n] = iy * nx + ix
                            n += 1
                ph = phy * s + phx
                # every pixel live: walk the sub-grid directly (the index lists cost 2x on dense maps).  The
                # entry code is written out in both loops: an njit helper taking the output arrays pays
                # reference counting per entry, even inlined (10x slower)
                dense = n == ny * nx
                for c in range(C):
                    b = t * CV + c * nph + ph
                    k = ptr[b] if fill else 0
                    prev = -1
                    if dense:
                        for iy in range(ny):
                            for ix in range(nx):
                                v = acts[c, ys[iy], xs[ix]]
                                if v == 0.0:
                                    continue
                                idx = iy * nx + ix
                                run = idx - prev - 1
                                while run > max_run:  # an explicit zero inside the run
                                    prev += max_run + 1
                                    run -= max_run + 1
                                    if fill:
                                        p, q = op[prev // nx], oq[prev % nx]
                                        out_p[k], out_q[k], out_term[k] = p, q, (p - fp0) * Qacc + (q - fq0)
                                        out_val[k], out_pad[k] = 0.0, True
                                    k += 1
                                if fill:
                                    p, q = op[iy], oq[ix]
                                    out_p[k], out_q[k], out_term[k] = p, q, (p - fp0) * Qacc + (q - fq0)
                                    out_val[k], out_pad[k] = v, False
                                k += 1
                                prev = idx
                    else:
                        row = flat[c]
                        for j in range(n):
                            v = row[loff[j]]
                            if v == 0.0:
                                continue
                            iy, ix, idx = liy[j], lix[j], lidx[j]
                            run = idx - prev - 1
                            while run > max_run:  # an explicit zero inside the run
                                prev += max_run + 1
                                run -= max_run + 1
                                if fill:
                                    p, q = op[prev // nx], oq[prev % nx]
                                    out_p[k], out_q[k], out_term[k] = p, q, (p - fp0) * Qacc + (q - fq0)
                                    out_val[k], out_pad[k] = 0.0, True
                                k += 1
                            if fill:
                                p, q = op[iy], oq[ix]
                                out_p[k], out_q[k], out_term[k] = p, q, (p - fp0) * Qacc + (q - fq0)
                                out_val[k], out_pad[k] = v, False
                            k += 1
                            prev = idx
                    cnt[b] = k - ptr[b] if fill else k


def _entries(acts, L: Layer, plan: Plan, index_bits: int, keep, fill: bool, ptr=None, out=None):
    T = plan.tiles.shape[0]
    cnt = np.zeros(T * acts.shape[0] * plan.nph, dtype=np.int64)
    e = np.zeros(0, dtype=np.int64)
    o = out if out is not None else (e, e, e, np.zeros(0), np.zeros(0, dtype=np.bool_))
    _tile_entries(np.ascontiguousarray(acts, dtype=np.float64), np.ascontiguousarray(plan.tiles, dtype=np.int64),
                  np.ascontiguousarray(plan.foot, dtype=np.int64), int(L.padding), int(plan.stride),
                  (1 << index_bits) - 1, int(plan.Qacc),
                  np.zeros((1, 1), dtype=np.bool_) if keep is None else np.ascontiguousarray(keep, dtype=np.bool_),
                  keep is not None, e if ptr is None else ptr, *o, cnt, fill)
    return cnt


def act_tile_counts(acts: np.ndarray, L: Layer, plan: Plan, index_bits: int) -> np.ndarray:
    """``(T, C * nph)`` entries of each (tile, channel, phase) stream, without building the streams (the
    counting half of :func:`build_act_streams`'s pass)."""
    return _entries(acts, L, plan, index_bits, None, False).reshape(plan.tiles.shape[0], -1)


@njit(cache=True)
def _pixel_prefix(acts):
    """(H + 1, W + 1) int64: 2-D prefix sums of the channels non-zero at each pixel (one pass over ``acts`` in
    memory order: 1.7x faster than summing each pixel's channels, 2.2 vs 3.9 ms on a paper-head input)."""
    C, H, W = acts.shape
    n = np.zeros((H, W), dtype=np.int64)
    for c in range(C):
        for y in range(H):
            for x in range(W):
                n[y, x] += acts[c, y, x] != 0.0
    out = np.zeros((H + 1, W + 1), dtype=np.int64)
    for y in range(H):
        for x in range(W):
            out[y + 1, x + 1] = out[y, x + 1] + out[y + 1, x] - out[y, x] + n[y, x]
    return out


class ActCounter:
    """Stored entries of one input's streams under the planner's candidate splits (``plan_with_capacity``'s
    ``tile_entries``): exact, but a stream pass runs only on the tiles its bounds leave undecided.

    A tile's entries are its non-zeros (``lo``, from per-pixel prefix sums) plus RLE padding; a zero run of r
    before an entry pads ``r // (max_run + 1)`` explicit zeros (:func:`_tile_entries`), so a stream pads at most
    its zeros // (max_run + 1) and a tile at most ``hi = lo + zeros // (max_run + 1)``.  A tile with fewer zeros
    than that (the gated heads' dense block inputs have none) is exact without a pass.  Each (tile, stream)
    count is kept for the last plan, so the chosen split's :meth:`counts` reuse the planner's passes."""

    def __init__(self, acts: np.ndarray, L: Layer, index_bits: int):
        self.acts = np.ascontiguousarray(acts, dtype=np.float64)
        self.L, self.index_bits = L, index_bits
        self.div = 1 << index_bits  # max_run + 1
        self.cum = _pixel_prefix(self.acts)
        self.plan = None  # the plan of the state below: its tiles' bounds and zeros, the streams counted so far

    def _state(self, plan: Plan) -> None:
        if self.plan is plan:
            return
        t, c = plan.tiles, self.cum
        lo = c[t[:, 1], t[:, 3]] - c[t[:, 0], t[:, 3]] - c[t[:, 1], t[:, 2]] + c[t[:, 0], t[:, 2]]
        self.zeros = self.acts.shape[0] * (t[:, 1] - t[:, 0]) * (t[:, 3] - t[:, 2]) - lo
        self.plan, self.lo, self.hi, self.rows = plan, lo, lo + self.zeros // self.div, {}

    def bounds(self, plan: Plan):
        self._state(plan)
        return self.lo, self.hi

    def _count(self, plan: Plan, idx: np.ndarray) -> None:
        """Counts of the (tile, stream) rows of tiles ``idx`` into ``self.rows`` (one pass over those tiles)."""
        self._state(plan)
        idx = np.array([i for i in idx if i not in self.rows], dtype=np.int64)
        if not len(idx):
            return
        sub = replace(plan, tiles=plan.tiles[idx], foot=plan.foot[idx])
        got = act_tile_counts(self.acts, self.L, sub, self.index_bits)
        for i, row in zip(idx.tolist(), got):
            self.rows[i] = row

    def __call__(self, plan: Plan, idx: np.ndarray | None = None) -> np.ndarray:
        """Exact stored entries of tiles ``idx`` (all when None), ``(len(idx),)``."""
        lo, hi = self.bounds(plan)
        idx = np.arange(plan.tiles.shape[0]) if idx is None else np.asarray(idx, dtype=np.int64)
        out = lo[idx].copy()
        open_ = lo[idx] != hi[idx]
        self._count(plan, idx[open_])
        for j in np.flatnonzero(open_):
            out[j] = self.rows[int(idx[j])].sum()
        return out

    def known_counts(self, plan: Plan) -> np.ndarray | None:
        """:meth:`counts` when it needs no stream pass (every tile zero-free or counted by the planner), else
        None: the caller's stream pass then counts the entries itself (:func:`build_act_streams`)."""
        self._state(plan)
        if all(int(i) in self.rows for i in np.flatnonzero(self.zeros != 0)):
            return self.counts(plan)
        return None

    def counts(self, plan: Plan) -> np.ndarray:
        """``(T, C * nph)`` entries of every (tile, channel, phase) stream (:func:`act_tile_counts`): a tile
        without a zero holds one entry per pixel of each phase in every channel; the others are counted."""
        T, C, s = plan.tiles.shape[0], self.acts.shape[0], plan.stride
        self._state(plan)
        t = plan.tiles
        full = self.zeros == 0
        pad = int(self.L.padding)
        npix = (phase_counts(t[:, 0], t[:, 1], pad, s)[:, :, None]
                * phase_counts(t[:, 2], t[:, 3], pad, s)[:, None, :]).reshape(T, s * s)
        out = np.tile(npix, (1, C))  # (T, C * nph): block c * nph + ph
        rest = np.flatnonzero(~full)
        self._count(plan, rest)
        for i in rest.tolist():
            out[i] = self.rows[i]
        return out


def build_act_streams(acts: np.ndarray, L: Layer, plan: Plan, index_bits: int, keep: np.ndarray | None = None,
                      counts: np.ndarray | None = None):
    """RLE streams of every (tile, channel, phase).  ``keep`` (H, W) bool drops pixels (mask-skip variant);
    ``counts``: :func:`act_tile_counts` of the same plan when already known (without ``keep``): one fill pass.
    Otherwise one pass too: each block is filled into room for one entry per pixel of its phase sub-grid (an
    entry, real or RLE padding, sits at a distinct pixel of the sub-grid), then the blocks are moved together
    (:func:`_compact`; nothing moves where every pixel holds an entry).  A counting pass then a fill pass cost
    about two fills.  Checked against a per-tile encoding through :func:`~accelsim.formats.rle.rle_fill` in
    tests/accelsim/test_scnn.py."""
    C = acts.shape[0]
    CV = C * plan.nph
    T = plan.tiles.shape[0]
    ptr = np.zeros(T * CV + 1, dtype=np.int64)
    if counts is not None and keep is None:
        np.cumsum(counts.reshape(-1), out=ptr[1:])
        out = _stream_arrays(int(ptr[-1]))
        _entries(acts, L, plan, index_bits, keep, True, ptr, out)
        return ActStreams(ptr, *out, CV)
    t, pad, s = plan.tiles, int(L.padding), plan.stride
    npix = (phase_counts(t[:, 0], t[:, 1], pad, s)[:, :, None]
            * phase_counts(t[:, 2], t[:, 3], pad, s)[:, None, :]).reshape(T, s * s)
    room = np.zeros(T * CV + 1, dtype=np.int64)
    np.cumsum(np.tile(npix, (1, C)).reshape(-1), out=room[1:])
    out = _stream_arrays(int(room[-1]))
    cnt = _entries(acts, L, plan, index_bits, keep, True, room, out)
    np.cumsum(cnt, out=ptr[1:])
    n = int(ptr[-1])
    _compact(room, ptr, cnt, *out)
    return ActStreams(ptr, *(a[:n] for a in out), CV)


def _stream_arrays(n: int) -> tuple:
    """Uninitialised ``(p, q, term, val, pad)`` arrays for ``n`` entries: the fill pass writes every entry (no
    zeroing pass: n reaches millions on the paper heads), in reused memory (scratch.py: fresh pages were most
    of this pass's time)."""
    return tuple(scratch.empty(n, dt) for dt in (np.int64, np.int64, np.int64, np.float64, np.bool_))


@njit(cache=True)
def _compact(room, ptr, cnt, p, q, term, val, pad):
    """Move block b's ``cnt[b]`` entries from ``room[b]`` down to ``ptr[b]`` (``ptr[b] <= room[b]``, blocks in
    order: a block never overwrites one not yet moved)."""
    for b in range(cnt.shape[0]):
        src, dst = room[b], ptr[b]
        if src == dst:
            continue
        for i in range(cnt[b]):
            p[dst + i] = p[src + i]
            q[dst + i] = q[src + i]
            term[dst + i] = term[src + i]
            val[dst + i] = val[src + i]
            pad[dst + i] = pad[src + i]


@dataclass
class WeightStreams:
    ptr: np.ndarray   # (G*CVg + 1,) entries of (Kc-group, local channel*nph + phase)
    p: np.ndarray     # (r*dil - phy)/s
    q: np.ndarray
    k: np.ndarray     # global output channel
    kl: np.ndarray    # output channel within its Kc-group
    val: np.ndarray
    pad: np.ndarray
    CVg: int
    cv0: np.ndarray   # (G,) first act stream channel index of each group's convolution group


@njit(cache=True)
def _weight_entries(w, kgroups, taps, tap0, wp, wq, nph, max_run, rsk, out_p, out_q, out_k, out_kl, out_val,
                    out_pad, ptr):
    """Every (Kc-group, local input channel, phase) weight block's RLE entries in one pass, in block order
    b = g * CVg + c * nph + ph (so each block's entries follow the previous one's; ``ptr[b]`` its first).
    ``w`` (K, Cg, R*S) float64; ``taps[tap0[ph]:tap0[ph + 1]]`` the phase's taps in (r, s) order, ``wp`` / ``wq``
    each tap's output-unit row / column offset.  A block is ``rle_fill``'s encoding of its (tap, k) positions
    (``rsk``: k innermost, else tap innermost).  Returns the entry count; the ``out_*`` arrays hold w.size
    entries, enough because a block's entries never outnumber its positions."""
    Cg = w.shape[1]
    k = 0
    b = 0
    for g in range(kgroups.shape[0]):
        k0 = kgroups[g, 0]
        kc = kgroups[g, 1] - k0
        for c in range(Cg):
            for ph in range(nph):
                ptr[b] = k
                b += 1
                t0 = tap0[ph]
                ntap = tap0[ph + 1] - t0
                n_out, n_in = (ntap, kc) if rsk else (kc, ntap)
                prev = -1
                for i in range(n_out):
                    for j in range(n_in):
                        ti, kl = (i, j) if rsk else (j, i)
                        v = w[k0 + kl, c, taps[t0 + ti]]
                        if v == 0.0:
                            continue
                        pos = i * n_in + j
                        run = pos - prev - 1
                        while run > max_run:  # an explicit zero inside the run
                            prev += max_run + 1
                            run -= max_run + 1
                            pi, pj = prev // n_in, prev % n_in
                            zt, zk = (pi, pj) if rsk else (pj, pi)
                            tap = taps[t0 + zt]
                            out_p[k], out_q[k], out_k[k], out_kl[k] = wp[tap], wq[tap], k0 + zk, zk
                            out_val[k], out_pad[k] = 0.0, True
                            k += 1
                        tap = taps[t0 + ti]
                        out_p[k], out_q[k], out_k[k], out_kl[k] = wp[tap], wq[tap], k0 + kl, kl
                        out_val[k], out_pad[k] = v, False
                        k += 1
                        prev = pos
    ptr[b] = k
    return k


def build_weight_streams(w: np.ndarray, L: Layer, plan: Plan, index_bits: int, order: str = "rsk"):
    """RLE streams of every (Kc-group, input channel, phase) weight block (:func:`_weight_entries`; checked
    against a per-block encoding through :func:`rle_streams` in tests/accelsim/test_scnn.py)."""
    s, dil = plan.stride, L.dilation
    K, Cg, R, S = w.shape
    nph = plan.nph
    CVg = Cg * nph
    G = plan.kgroups.shape[0]
    rr, ss = np.meshgrid(np.arange(R), np.arange(S), indexing="ij")
    rr, ss = rr.ravel(), ss.ravel()
    tap_ph = ((rr * dil) % s) * s + (ss * dil) % s
    taps = np.argsort(tap_ph, kind="stable").astype(np.int64)  # each phase's taps in (r, s) order
    tap0 = np.zeros(nph + 1, dtype=np.int64)
    np.cumsum(np.bincount(tap_ph, minlength=nph), out=tap0[1:])
    wp = (rr * dil - tap_ph // s) // s
    wq = (ss * dil - tap_ph % s) // s
    m = w.size
    arrs = [np.empty(m, dtype=np.int64) for _ in range(4)] + [np.empty(m), np.empty(m, dtype=np.bool_)]
    ptr = np.zeros(G * CVg + 1, dtype=np.int64)
    n = _weight_entries(np.ascontiguousarray(w, dtype=np.float64).reshape(K, Cg, R * S),
                        np.ascontiguousarray(plan.kgroups, dtype=np.int64), taps, tap0, wp.astype(np.int64),
                        wq.astype(np.int64), nph, (1 << index_bits) - 1, order == "rsk", *arrs, ptr)
    arrs = [a[:n].copy() for a in arrs]
    cv0 = plan.kgroups[:, 2] * CVg
    return WeightStreams(ptr, arrs[0], arrs[1], arrs[2], arrs[3], arrs[4], arrs[5], CVg, cv0)
