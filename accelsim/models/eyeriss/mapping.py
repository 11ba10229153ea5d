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


def tile_stats(L, dw, code, wmask, M0, lanes, skip_i, skip_w, compressed):
    """Per-M0 data: weight column counts and iact windows; used for legality and estimates."""
    K, Cg, R, S = wmask.shape
    nz = (code == 2) if (skip_i and compressed) else (code >= 1)
    if dw:
        col = wmask[:, 0].astype(np.int64) if (skip_w and compressed) else np.ones((K, R, S), np.int64)
        colr = col if lanes == 1 else lanes * ceil_div(col, lanes)
        tiles = blocksum(colr.sum(axis=2), M0, 0)[:, None, :]  # (nMb, 1, R)
        chan_blocks = None
        wcyc_mean = float(ceil_div(col, lanes).mean())
    else:
        if skip_w and compressed:
            col = blocksum(wmask.astype(np.int64), M0, 0)  # (nMb, Cg, R, S)
        else:
            hs = np.minimum(M0, K - np.arange(0, K, M0))
            col = np.broadcast_to(hs[:, None, None, None], (len(hs), Cg, R, S)).astype(np.int64)
        colr = col if lanes == 1 else lanes * ceil_div(col, lanes)
        tiles = None  # per C0, below
        chan_blocks = None
        wcyc_mean = float(ceil_div(col, lanes).mean())
    return col, colr, tiles, chan_blocks, nz, wcyc_mean


def candidates(cfg, L, dw, code, wmask, skip_i, skip_w, top: int | None = None):
    """Legal mappings ranked by a density-based cycle estimate (best first); (top list, count)."""
    c = cfg
    lanes = c["pe.simd_lanes"]
    compressed = c["pe.compressed_spads"]
    K, Cg, R, S = wmask.shape
    P, Q = L.P, L.Q
    icap, iaddr = c["pe.iact_spad_entries"], c["pe.iact_addr_entries"]
    wcap, waddr, pcap = c["pe.weight_spad_entries"], c["pe.weight_addr_entries"], c["pe.psum_spad_entries"]
    if S > iaddr:
        return [], 0
    Wp = code.shape[2]
    d_act = float((code == 2).sum()) / max(1, int((code >= 1).sum())) if skip_i else 1.0
    combos = spatial_combos(cfg, R, P)
    win_cache: dict[int, int] = {}
    parts = []
    m0s = sorted({m for m in M0_CHOICES if m <= min(K, pcap)} | ({K} if K <= pcap else set()))
    for M0 in m0s:
        col, colr, tiles_dw, cb_dw, nz, wcyc_mean = tile_stats(L, dw, code, wmask, M0, lanes, skip_i, skip_w,
                                                               compressed)
        rsum = None if dw else colr.sum(axis=3)
        for C0 in ([1] if dw else [x for x in C0_CHOICES if x <= Cg]):
            blk = M0 if dw else C0
            if blk * S > waddr:
                continue
            wt_data = tiles_dw if dw else blocksum(rsum, C0, 1)  # (nMb, nCb, R) stored weight entries
            if int(wt_data.max()) > wcap:
                continue
            if compressed:  # every C0 x S iact window of the real data must fit the spad
                if blk not in win_cache:
                    chan = blocksum(nz.astype(np.int32), blk, 0)
                    win = np.zeros((chan.shape[0], chan.shape[1], Q), dtype=np.int64)
                    for s_ in range(S):
                        o = s_ * L.dilation
                        win += chan[:, :, o: o + L.stride * (Q - 1) + 1: L.stride]
                    win_cache[blk] = int(win.max())
                if win_cache[blk] > icap:
                    continue
            elif blk * S > icap:
                continue
            mean_wt = float(wt_data.mean()) + blk * S
            row_ent = (blk * Wp * d_act + Wp) if compressed else blk * Wp
            work = Q * S * blk * d_act * wcyc_mean
            if c["pe.address_stages"]:  # the address stages bound a PE pass too (kernel.array_timing)
                work = max(work, Q * S * blk * d_act, Q * S)
            nMb, nCb = ceil_div(K, M0), (1 if dw else ceil_div(Cg, C0))
            parts.append(estimate(cfg, L, combos, M0, C0, nMb, nCb, R, P, Q, work, row_ent, mean_wt, dw))
    if not parts:
        return [], 0
    allc = np.concatenate(parts, axis=0)  # columns: est, M0, C0, Rsp, Cr, Fc, Mc, Fk, Ck, Mk
    order = np.lexsort(tuple(allc[:, j] for j in range(9, 2, -1)) + (-allc[:, 2], -allc[:, 1], allc[:, 0]))
    top = len(order) if top is None else top
    out = [Mapping(*(int(v) for v in allc[i, [3, 4, 5, 6, 7, 8, 9, 1, 2]]), est=float(allc[i, 0]))
           for i in order[:top]]
    return out, int(allc.shape[0])


def spatial_combos(cfg, R, P) -> np.ndarray:
    """(Rsp, Cr, Fc, Mc, Fk, Ck, Mk) that fit a cluster and the cluster grid."""
    c = cfg
    rows, cols = c["cluster.pe_rows"], c["cluster.pe_cols"]
    nclus = c["clusters.rows"] * c["clusters.cols"]
    inner = [(Rsp, Cr, Fc, Mc) for Rsp in range(1, min(R, rows) + 1) for Cr in range(1, rows // Rsp + 1)
             for Fc in range(1, min(P, cols) + 1) for Mc in range(1, cols // Fc + 1)]
    outer = [(Fk, Ck, Mk) for Fk in range(1, nclus + 1) for Ck in range(1, nclus // Fk + 1)
             for Mk in range(1, nclus // (Fk * Ck) + 1)]
    a = np.array([i + o for i in inner for o in outer if o[0] <= ceil_div(P, i[2])], dtype=np.int64)
    return a


def estimate(cfg, L, cb, M0, C0, nMb, nCb, R, P, Q, work, row_ent, mean_wt, dw) -> np.ndarray:
    """Vectorised estimate over spatial combos: passes x max(PE work, iact/weight/psum delivery)."""
    c = cfg
    Rsp, Cr, Fc, Mc, Fk, Ck, Mk = (cb[:, j] for j in range(7))
    ok = (Cr <= nCb) & (Mc <= nMb) & (Ck <= -(-nCb // Cr)) & (Mk <= -(-nMb // Mc))
    Rsp, Cr, Fc, Mc, Fk, Ck, Mk = (x[ok] for x in (Rsp, Cr, Fc, Mc, Fk, Ck, Mk))
    n_mt, n_ct = -(-nMb // (Mc * Mk)), -(-nCb // (Cr * Ck))
    n_rt, n_ft = -(-R // Rsp), -(-P // (Fc * Fk))
    passes = n_mt * n_ct * n_rt * n_ft
    t = np.full(passes.shape, work + c["pe.pipeline_stages"] - 1, dtype=np.float64)
    if not c["memory.ideal"]:
        rows_i = np.minimum(Rsp * Fc, (Fc - 1) * L.stride + Rsp)
        # distinct iact rows per cluster: channel blocks down the rows (conv) or, in depthwise, the
        # output-channel blocks across the columns (each carries its own channels)
        t = np.maximum(t, rows_i * (Mc if dw else Cr) * row_ent / c["noc.iact_entries_per_cycle"])
        t = np.maximum(t, Rsp * Cr * Mc * mean_wt / c["noc.weight_entries_per_cycle"] / n_ft)
        t = np.maximum(t, Fc * Mc * M0 * Q * np.where(n_ct * n_rt == 1, 1, 2) / c["noc.psum_entries_per_cycle"])
    n = len(passes)
    return np.column_stack([passes * t, np.full(n, M0), np.full(n, C0), Rsp, Cr, Fc, Mc, Fk, Ck, Mk])
