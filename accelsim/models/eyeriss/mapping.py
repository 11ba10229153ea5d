"""RS+ mapping search of the Eyeriss array (v1 and v2): legal factorisations ranked by an estimate.

A :class:`Mapping` puts filter rows x channel blocks down the PE rows of a cluster, output rows x
output-channel blocks across its PE columns, output rows x channel blocks x output-channel blocks
across clusters, plus the PE tile (``M0`` output channels x ``C0`` input channels).
:func:`candidates` enumerates every factorisation that fits the array (:func:`spatial_combos`) and
whose every real tile fits the spads (:func:`tile_stats`), and ranks them by a density-based cycle
estimate (:func:`estimate`); the model simulates the best ``mapper.top_k`` on the real data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .formats import blocksum, ceil_div


@dataclass
class Mapping:
    """One RS+ mapping: spatial factors in a cluster / across clusters plus the PE tile."""
    Rsp: int
    Cr: int
    Fc: int
    Mc: int
    Fk: int
    Ck: int
    Mk: int
    M0: int
    C0: int
    est: float = 0.0

    def describe(self) -> dict:
        return {"pe_rows": {"filter_rows": self.Rsp, "channel_blocks": self.Cr},
                "pe_cols": {"output_rows": self.Fc, "out_channel_blocks": self.Mc},
                "clusters": {"output_rows": self.Fk, "channel_blocks": self.Ck, "out_channel_blocks": self.Mk},
                "pe_tile": {"M0": self.M0, "C0": self.C0}}


M0_CHOICES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
C0_CHOICES = (1, 2, 3, 4, 6, 8, 12, 16)


def tile_stats(dw, wmask, M0, lanes, skip_w, compressed, col_nnz=None):
    """Per-M0 weight data: (col, colr, tiles, wcyc_mean) -- stored weights per CSC column (the dense
    column height when the PE does not skip zero weights), the same rounded up to whole SIMD words,
    the depthwise weight tiles (nMb, 1, R), and the mean MAC-stage cycles per fed iact.  ``col_nnz``:
    the non-zero weights per column (nMb, Cg, R, S) when the caller has them."""
    K, Cg, R, S = wmask.shape
    if dw:
        col = wmask[:, 0].astype(np.int64) if (skip_w and compressed) else np.ones((K, R, S), np.int64)
        cyc = col if lanes == 1 else ceil_div(col, lanes)
        colr = col if lanes == 1 else lanes * cyc
        tiles = blocksum(colr.sum(axis=2), M0, 0)[:, None, :]  # (nMb, 1, R)
    else:
        if skip_w and compressed:
            col = blocksum(wmask.astype(np.int64), M0, 0) if col_nnz is None else col_nnz  # (nMb, Cg, R, S)
            cyc = col if lanes == 1 else ceil_div(col, lanes)
        else:
            hs = np.minimum(M0, K - np.arange(0, K, M0))
            col = np.broadcast_to(hs[:, None, None, None], (len(hs), Cg, R, S)).astype(np.int64)
            cyc = np.broadcast_to(ceil_div(hs, lanes)[:, None, None, None], col.shape)
        colr = col if lanes == 1 else lanes * cyc
        tiles = None  # per C0, in candidates
    wcyc_mean = float(cyc.mean())
    return col, colr, tiles, wcyc_mean


def candidates(cfg, ld, top: int | None = None):
    """Legal mappings of the layer of ``ld`` (:class:`~.layerarrays.LayerArrays`) ranked by a density-based
    cycle estimate (best first); (top list, count)."""
    c = cfg
    L, dw = ld.L, ld.dw
    compressed = ld.compressed
    K, Cg, R, S = ld.wmask.shape
    P, Q = L.P, L.Q
    icap, iaddr = c["pe.iact_spad_entries"], c["pe.iact_addr_entries"]
    wcap, waddr, pcap = c["pe.weight_spad_entries"], c["pe.weight_addr_entries"], c["pe.psum_spad_entries"]
    if S > iaddr:
        return [], 0
    Wp = ld.code.shape[2]
    d_act = ld.d_act
    combos = spatial_combos(cfg, R, P)
    pairs = []  # (M0, C0, nMb, nCb, PE pass time, iact row entries, weight tile entries) per legal tile
    m0s = sorted({m for m in M0_CHOICES if m <= min(K, pcap)} | ({K} if K <= pcap else set()))
    c0s = [1] if dw else [x for x in C0_CHOICES if x <= Cg]
    if compressed:  # the spad fit of every block size the loop may test, in one pass over the iacts
        ld.win_maxes({b for b in (m0s if dw else c0s) if b * S <= waddr})
    for M0 in m0s:
        wcyc_mean = ld.wcyc_mean(M0)
        for C0 in c0s:
            blk = M0 if dw else C0
            if blk * S > waddr:
                continue
            wt_max, wt_mean = ld.wt_max_mean(M0, C0)  # stored weight entries of the (m-block, c-block, r) tiles
            if wt_max > wcap:
                continue
            if compressed:  # every C0 x S iact window of the real data must fit the spad
                if ld.win_max(blk) > icap:
                    continue
            elif blk * S > icap:
                continue
            mean_wt = wt_mean + blk * S
            row_ent = (blk * Wp * d_act + Wp) if compressed else blk * Wp
            work = Q * S * blk * d_act * wcyc_mean
            if c["pe.address_stages"]:  # the address stages bound a PE pass too (kernel.array_timing)
                work = max(work, Q * S * blk * d_act, Q * S)
            nMb, nCb = ceil_div(K, M0), (1 if dw else ceil_div(Cg, C0))
            pairs.append((M0, C0, nMb, nCb, work + c["pe.pipeline_stages"] - 1, row_ent, mean_wt))
    if not pairs:
        return [], 0
    pi, ci, est = estimate(cfg, L, combos, pairs, R, P, Q, dw)
    n = est.size
    top = n if top is None else top
    if top < n:  # only rows tied with or below the top-th estimate can rank among the first top
        keep = np.nonzero(est <= _kth_smallest(est, top))[0]
        pi, ci, est = pi[keep], ci[keep], est[keep]
    pa = np.array([p[:2] for p in pairs], dtype=np.int64)
    # columns: est, M0, C0, Rsp, Cr, Fc, Mc, Fk, Ck, Mk
    allc = np.column_stack([est, pa[pi], combos[ci]]).astype(np.float64)
    order = np.lexsort(tuple(allc[:, j] for j in range(9, 2, -1)) + (-allc[:, 2], -allc[:, 1], allc[:, 0]))
    out = [Mapping(*(int(v) for v in allc[i, [3, 4, 5, 6, 7, 8, 9, 1, 2]]), est=float(allc[i, 0]))
           for i in order[:top]]
    return out, int(n)


def spatial_combos(cfg, R, P) -> np.ndarray:
    """(Rsp, Cr, Fc, Mc, Fk, Ck, Mk) that fit a cluster and the cluster grid (inner factors outer, in order)."""
    c = cfg
    rows, cols = c["cluster.pe_rows"], c["cluster.pe_cols"]
    nclus = c["clusters.rows"] * c["clusters.cols"]
    inner = np.array([(Rsp, Cr, Fc, Mc) for Rsp in range(1, min(R, rows) + 1) for Cr in range(1, rows // Rsp + 1)
                      for Fc in range(1, min(P, cols) + 1) for Mc in range(1, cols // Fc + 1)], dtype=np.int64)
    outer = np.array([(Fk, Ck, Mk) for Fk in range(1, nclus + 1) for Ck in range(1, nclus // Fk + 1)
                      for Mk in range(1, nclus // (Fk * Ck) + 1)], dtype=np.int64)
    ii, oo = np.nonzero(outer[None, :, 0] <= ceil_div(P, inner[:, 2])[:, None])
    return np.concatenate([inner[ii], outer[oo]], axis=1)


def estimate(cfg, L, cb, pairs, R, P, Q, dw):
    """Vectorised estimate over (PE tile, spatial combo): passes x max(PE work, iact/weight/psum delivery).

    ``pairs``: per legal PE tile (M0, C0, nMb, nCb, PE pass time, iact row entries, mean weight tile
    entries); ``cb``: the spatial combos.  Returns (tile index, combo index, estimate) of the combos
    that fit each tile's block counts, tile-major."""
    c = cfg
    pr = np.array(pairs, dtype=np.float64)
    return _estimate(np.ascontiguousarray(cb, dtype=np.int64), pr, R, P, Q, L.stride, dw, bool(c["memory.ideal"]),
                     float(c["noc.iact_entries_per_cycle"]), float(c["noc.weight_entries_per_cycle"]),
                     float(c["noc.psum_entries_per_cycle"]))


@njit(cache=True)
def _estimate(cb, pr, R, P, Q, stride, dw, ideal, bw_i, bw_w, bw_p):
    n = pr.shape[0] * cb.shape[0]
    pi = np.empty(n, dtype=np.int64)
    ci = np.empty(n, dtype=np.int64)
    est = np.empty(n, dtype=np.float64)
    k = 0
    for i in range(pr.shape[0]):
        M0 = np.int64(pr[i, 0])
        nMb = np.int64(pr[i, 2])
        nCb = np.int64(pr[i, 3])
        for j in range(cb.shape[0]):
            Rsp, Cr, Fc, Mc, Fk, Ck, Mk = cb[j, 0], cb[j, 1], cb[j, 2], cb[j, 3], cb[j, 4], cb[j, 5], cb[j, 6]
            if not (Cr <= nCb and Mc <= nMb and Ck <= -(-nCb // Cr) and Mk <= -(-nMb // Mc)):
                continue
            n_mt, n_ct = -(-nMb // (Mc * Mk)), -(-nCb // (Cr * Ck))
            n_rt, n_ft = -(-R // Rsp), -(-P // (Fc * Fk))
            passes = n_mt * n_ct * n_rt * n_ft
            t = pr[i, 4]
            if not ideal:
                rows_i = min(Rsp * Fc, (Fc - 1) * stride + Rsp)
                # distinct iact rows per cluster: channel blocks down the rows (conv) or, in depthwise,
                # the output-channel blocks across the columns (each carries its own channels)
                t = max(t, (rows_i * (Mc if dw else Cr)) * pr[i, 5] / bw_i)
                t = max(t, (Rsp * Cr * Mc) * pr[i, 6] / bw_w / n_ft)
                t = max(t, (Fc * Mc * M0 * Q * (1 if n_ct * n_rt == 1 else 2)) / bw_p)
            pi[k] = i
            ci[k] = j
            est[k] = passes * t
            k += 1
    return pi[:k], ci[:k], est[:k]


@njit(cache=True)
def _kth_smallest(x, k):
    """The ``k``-th smallest entry of ``x`` (duplicates counted; ``1 <= k <= len(x)``), as
    ``np.partition(x, k - 1)[k - 1]``: one pass keeping the k smallest in a sorted buffer, for the small
    ``mapper.top_k`` (an entry below the buffer's largest is rare after the first few)."""
    buf = np.empty(k, dtype=x.dtype)
    for i in range(k):  # the first k, insertion-sorted
        v = x[i]
        j = i
        while j > 0 and buf[j - 1] > v:
            buf[j] = buf[j - 1]
            j -= 1
        buf[j] = v
    for i in range(k, x.shape[0]):
        v = x[i]
        if v < buf[k - 1]:
            j = k - 1
            while j > 0 and buf[j - 1] > v:
                buf[j] = buf[j - 1]
                j -= 1
            buf[j] = v
    return buf[k - 1]
