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


def _phase_pixels(y0, y1, x0, x1, pad, s, phy, phx):
    ys = np.arange(y0, y1)
    xs = np.arange(x0, x1)
    ys = ys[(ys + pad) % s == phy]
    xs = xs[(xs + pad) % s == phx]
    return ys, xs


@njit(cache=True)
def _tile_counts(acts, tiles, pad, s, max_run, out):
    """Stored entries (values + RLE padding zeros) of every (tile, channel, phase) stream into ``out``
    (T, C * s * s): :func:`~accelsim.formats.rle.rle_counts` over each phase sub-grid's pixels in row-major
    order, the order :func:`build_act_streams` encodes them in."""
    C = acts.shape[0]
    nph = s * s
    for t in range(tiles.shape[0]):
        y0, y1, x0, x1 = tiles[t, 0], tiles[t, 1], tiles[t, 2], tiles[t, 3]
        for phy in range(s):
            for phx in range(s):
                ph = phy * s + phx
                for c in range(C):
                    n = 0
                    k = 0
                    prev = -1
                    for y in range(y0, y1):
                        if (y + pad) % s != phy:
                            continue
                        for x in range(x0, x1):
                            if (x + pad) % s != phx:
                                continue
                            if acts[c, y, x] != 0.0:
                                n += rle_format.run_entries(k - prev - 1, max_run)
                                prev = k
                            k += 1
                    out[t, c * nph + ph] = n


def act_tile_counts(acts: np.ndarray, L: Layer, plan: Plan, index_bits: int) -> np.ndarray:
    """``(T, C * nph)`` entries of each (tile, channel, phase) stream, without building the streams: equal to
    ``build_act_streams(acts, L, plan, index_bits).counts(T)`` (property test in tests/accelsim/test_scnn.py).
    What the planner needs to size IARAM for each candidate split (``plan_with_capacity``)."""
    s = plan.stride
    out = np.zeros((plan.tiles.shape[0], acts.shape[0] * plan.nph), dtype=np.int64)
    _tile_counts(np.ascontiguousarray(acts, dtype=np.float64), np.ascontiguousarray(plan.tiles, dtype=np.int64),
                 int(L.padding), int(s), (1 << index_bits) - 1, out)
    return out


def build_act_streams(acts: np.ndarray, L: Layer, plan: Plan, index_bits: int, keep: np.ndarray | None = None):
    """RLE streams of every (tile, channel, phase).  ``keep`` (H, W) bool drops pixels (mask-skip variant)."""
    s, pad, nph = plan.stride, L.padding, plan.nph
    C = acts.shape[0]
    CV = C * nph
    T = plan.tiles.shape[0]
    cnt = np.zeros(T * CV, dtype=np.int64)
    chunks = []
    for t in range(T):
        y0, y1, x0, x1 = plan.tiles[t]
        fp0, fq0 = plan.foot[t, 0], plan.foot[t, 2]
        for phy in range(s):
            for phx in range(s):
                ph = phy * s + phx
                ys, xs = _phase_pixels(y0, y1, x0, x1, pad, s, phy, phx)
                if ys.size == 0 or xs.size == 0:
                    continue
                V = acts[:, ys[:, None], xs[None, :]].reshape(C, -1)
                if keep is not None:
                    V = V * keep[ys[:, None], xs[None, :]].reshape(1, -1)
                ptr, pos, val, pd = rle_streams(V, index_bits)
                ap = (ys[pos // xs.size] + pad - phy) // s
                aq = (xs[pos % xs.size] + pad - phx) // s
                term = (ap - fp0) * plan.Qacc + (aq - fq0)
                chunks.append((t, ph, ptr, (ap, aq, term, val, pd)))
                cnt[t * CV + np.arange(C) * nph + ph] = np.diff(ptr)
    ptr = np.zeros(T * CV + 1, dtype=np.int64)
    np.cumsum(cnt, out=ptr[1:])
    n = int(ptr[-1])
    arrs = [np.zeros(n, dtype=np.int64) for _ in range(3)] + [np.zeros(n), np.zeros(n, dtype=np.bool_)]
    for t, ph, cptr, cols in chunks:
        if nph == 1:  # the chunk is the contiguous run of tile t
            for dst, src in zip(arrs, cols):
                dst[ptr[t * CV]:ptr[(t + 1) * CV]] = src
            continue
        for c in range(C):
            b = t * CV + c * nph + ph
            for dst, src in zip(arrs, cols):
                dst[ptr[b]:ptr[b + 1]] = src[cptr[c]:cptr[c + 1]]
    return ActStreams(ptr, arrs[0], arrs[1], arrs[2], arrs[3], arrs[4], CV)


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
        for c in range(Cg):
            b = g * CVg + c * nph + ph
            a0, a1 = cptr[c], cptr[c + 1]
            for dst, src in zip(arrs, cols):
                dst[ptr[b]:ptr[b + 1]] = src[a0:a1]
    cv0 = plan.kgroups[:, 2] * CVg
    return WeightStreams(ptr, arrs[0], arrs[1], arrs[2], arrs[3], arrs[4], arrs[5], CVg, cv0)
