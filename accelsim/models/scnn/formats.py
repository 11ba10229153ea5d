"""SCNN's compressed formats: run-length encoded activation and weight streams (paper Sec. IV).

The activations of each PE tile are encoded per (channel, stride phase) in row-major order, the
weights per (input channel, Kc-group) block in (r, s, k) order (or k, r, s); zero counts are
``index_bits`` wide, and a longer run inserts an explicit zero (RLE padding).  See the model's
docstring (:mod:`accelsim.models.scnn.model`, section 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from workloads import Layer

from ...formats import rle as rle_format
from ..common.planar import Plan


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


@njit(cache=True)
def pad_prefix(pad):
    """``(n + 1,)`` int64: RLE padding entries before each entry (``pad`` the per-entry flags), so a block
    [b, e) holds ``pc[e] - pc[b]`` (the kernel's closed-form padding count).  One pass; numpy's cumsum of the
    bool flags plus the leading zero and the cast took three (3x slower on the paper heads' streams)."""
    out = np.empty(pad.shape[0] + 1, dtype=np.int64)
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
def _tile_entries(acts, tiles, foot, pad, s, max_run, Qacc, keep, has_keep, ptr, out_p, out_q, out_term, out_val,
                  out_pad, cnt, fill):
    """One pass over every (tile, channel, phase) stream in SCNN's RLE order: each phase sub-grid's pixels of
    the tile in row-major order (:func:`~accelsim.formats.rle.rle_fill`'s encoding: a zero run longer than
    ``max_run`` inserts an explicit zero at position prev + max_run + 1).  ``fill`` False: the stored entries
    of block b = t * CV + c * nph + ph into ``cnt[b]``; True: the entries into the ``out_*`` arrays from
    ``ptr[b]`` (output-unit row / column, accumulator term in the tile's footprint, value, padding flag).
    ``keep`` (with ``has_keep``) drops pixels (mask-skip variant)."""
    C = acts.shape[0]
    nph = s * s
    CV = C * nph
    ys = np.empty(acts.shape[1], dtype=np.int64)
    xs = np.empty(acts.shape[2], dtype=np.int64)
    # output-unit rows / columns of the phase's pixels, once per (tile, phase): the
    # integer divisions by the stride were most of the per-entry cost
    op = np.empty(acts.shape[1], dtype=np.int64)
    oq = np.empty(acts.shape[2], dtype=np.int64)
    for t in range(tiles.shape[0]):
        y0, y1, x0, x1 = tiles[t, 0], tiles[t, 1], tiles[t, 2], tiles[t, 3]
        fp0, fq0 = foot[t, 0], foot[t, 2]
        for phy in range(s):
            ny = 0
            for y in range(y0, y1):
                if (y + pad) % s == phy:
                    ys[ny] = y
                    ny += 1
            for iy in range(ny):
                op[iy] = (ys[iy] + pad - phy) // s
            for phx in range(s):
                nx = 0
                for x in range(x0, x1):
                    if (x + pad) % s == phx:
                        xs[nx] = x
                        oq[nx] = (x + pad - phx) // s
                        nx += 1
                ph = phy * s + phx
                for c in range(C):
                    b = t * CV + c * nph + ph
                    k = ptr[b] if fill else 0
                    prev = -1
                    for iy in range(ny):
                        y = ys[iy]
                        for ix in range(nx):
                            x = xs[ix]
                            v = acts[c, y, x]
                            if v == 0.0 or (has_keep and not keep[y, x]):
                                continue
                            idx = iy * nx + ix
                            run = idx - prev - 1
                            while run > max_run:  # an explicit zero inside the run
                                prev += max_run + 1
                                run -= max_run + 1
                                if fill:
                                    out_p[k] = op[prev // nx]
                                    out_q[k] = oq[prev % nx]
                                    out_term[k] = (out_p[k] - fp0) * Qacc + (out_q[k] - fq0)
                                    out_val[k] = 0.0
                                    out_pad[k] = True
                                k += 1
                            if fill:
                                out_p[k] = op[iy]
                                out_q[k] = oq[ix]
                                out_term[k] = (op[iy] - fp0) * Qacc + (oq[ix] - fq0)
                                out_val[k] = v
                                out_pad[k] = False
                            k += 1
                            prev = idx
                    if not fill:
                        cnt[b] = k


def _entries(acts, L: Layer, plan: Plan, index_bits: int, keep, fill: bool, ptr=None, out=None):
    T = plan.tiles.shape[0]
    cnt = np.zeros(0 if fill else T * acts.shape[0] * plan.nph, dtype=np.int64)
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
    counting half of :func:`build_act_streams`'s pass).  What the planner needs to size IARAM for each
    candidate split (``plan_with_capacity``)."""
    return _entries(acts, L, plan, index_bits, None, False).reshape(plan.tiles.shape[0], -1)


def build_act_streams(acts: np.ndarray, L: Layer, plan: Plan, index_bits: int, keep: np.ndarray | None = None,
                      counts: np.ndarray | None = None):
    """RLE streams of every (tile, channel, phase).  ``keep`` (H, W) bool drops pixels (mask-skip variant);
    ``counts``: :func:`act_tile_counts` of the same plan when already known (without ``keep``).  Checked
    against a per-tile encoding through :func:`~accelsim.formats.rle.rle_fill` in tests/accelsim/test_scnn.py."""
    CV = acts.shape[0] * plan.nph
    cnt = _entries(acts, L, plan, index_bits, keep, False) if counts is None or keep is not None else counts
    ptr = np.zeros(plan.tiles.shape[0] * CV + 1, dtype=np.int64)
    np.cumsum(cnt.reshape(-1), out=ptr[1:])
    n = int(ptr[-1])
    out = (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n),
           np.zeros(n, dtype=np.bool_))
    _entries(acts, L, plan, index_bits, keep, True, ptr, out)
    return ActStreams(ptr, *out, CV)


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


def build_weight_streams(w: np.ndarray, L: Layer, plan: Plan, index_bits: int, order: str = "rsk"):
    """RLE streams of every (Kc-group, input channel, phase) weight block."""
    s, dil = plan.stride, L.dilation
    K, Cg, R, S = w.shape
    nph = plan.nph
    CVg = Cg * nph
    G = plan.kgroups.shape[0]
    rr, ss = np.meshgrid(np.arange(R), np.arange(S), indexing="ij")
    rr, ss = rr.ravel(), ss.ravel()
    tap_ph = ((rr * dil) % s) * s + (ss * dil) % s
    cnt = np.zeros(G * CVg, dtype=np.int64)
    chunks = {}
    for g in range(G):
        k0, k1, cg = plan.kgroups[g]
        kc = k1 - k0
        wg = w[k0:k1].reshape(kc, Cg, R * S)
        for ph in range(nph):
            taps = np.flatnonzero(tap_ph == ph)
            if taps.size == 0:
                continue
            blk = wg[:, :, taps]                          # (kc, Cg, ntap)
            if order == "rsk":
                V = blk.transpose(1, 2, 0).reshape(Cg, -1)  # tap-major, k innermost
            else:
                V = blk.transpose(1, 0, 2).reshape(Cg, -1)  # k-major, tap innermost
            ptr, pos, val, pd = rle_streams(V, index_bits)
            if order == "rsk":
                tap, kl = pos // kc, pos % kc
            else:
                kl, tap = pos // taps.size, pos % taps.size
            r, sc = rr[taps[tap]], ss[taps[tap]]
            phy, phx = ph // s, ph % s
            wp = (r * dil - phy) // s
            wq = (sc * dil - phx) // s
            chunks[(g, ph)] = (ptr, wp, wq, kl + k0, kl, val, pd)
            cnt[g * CVg + np.arange(Cg) * nph + ph] = np.diff(ptr)
    ptr = np.zeros(G * CVg + 1, dtype=np.int64)
    np.cumsum(cnt, out=ptr[1:])
    n = int(ptr[-1])
    arrs = [np.zeros(n, dtype=np.int64) for _ in range(4)] + [np.zeros(n), np.zeros(n, dtype=np.bool_)]
    for (g, ph), (cptr, *cols) in chunks.items():
        # each entry of channel c's run in the chunk goes to block g * CVg + c * nph + ph at the same offset
        c = np.repeat(np.arange(Cg), np.diff(cptr))
        dst = ptr[g * CVg + c * nph + ph] + np.arange(c.size) - cptr[c]
        for d, src in zip(arrs, cols):
            d[dst] = src
    cv0 = plan.kgroups[:, 2] * CVg
    return WeightStreams(ptr, arrs[0], arrs[1], arrs[2], arrs[3], arrs[4], arrs[5], CVg, cv0)
