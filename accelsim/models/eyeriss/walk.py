"""The Eyeriss array's reference walks (shared by v1 and v2): :func:`array_timing_walk`, the per-iact walk of
every pass that the tiled kernel (:func:`.kernel.array_timing`) is proven equal to, bit for bit
(``tests/accelsim/test_fast_paths.py``), and :func:`functional_walk`, the same tiles over real CSC values
(float64 output, functional mode)."""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernel import (
    A_DENSE_NZ,
    A_DENSE_Z,
    A_I_SPADW,
    A_IADDR,
    A_LOOKUPS,
    A_MACS,
    A_NZ_LOOKUPS,
    A_P_NOC,
    A_SLOTS_NZ,
    A_SLOTS_Z,
    A_W_SPADW,
    A_WWORDS,
    NACC,
    close_pass,
    cluster_delivery,
)


@njit(cache=True)
def array_timing_walk(act, wptr, dw, K, Cg, R, S, P, Q, stride, dil, M0, C0, skip_i, skip_w, lanes,
                 Rsp, Cr, Fc, Mc, Fk, Ck, Mk, n_pes, rowent, wtile, bw_i, bw_w, bw_p, ideal_mem,
                 ft_chunk, stages, addr_stages):
    """Reference: the per-iact walk of every pass (what :func:`array_timing` computes, iact by iact).

    Kept as the loop the tiled kernel is proven equal to (``tests/accelsim/test_fast_paths.py``);
    the model does not call it.

    PE pipeline (``addr_stages``: the CSC PE of Eyeriss v2).  In one pass a PE spends one cycle in
    the iact-address stage per iact column of its window walk (Q x S columns that hold data, halo
    excluded), one cycle in the iact-data stage and one in the weight-address stage per iact it
    feeds, and ceil(nnz / lanes) cycles in the weight-data/MAC stage per fed iact.  The stages work
    concurrently on successive iacts, so the pass lasts as long as the PE's busiest stage: address
    reads hide behind MACs unless the MAC stage has less work (empty or short weight columns,
    iact columns without non-zeros); the difference is counted as ``A_ADDR_OVH``.  Without
    ``addr_stages`` (Eyeriss v1: uncompressed spads) the PE time is its MAC stage."""
    acc = np.zeros(NACC, dtype=np.float64)
    nMb = (K + M0 - 1) // M0
    nCb = 1 if dw else (Cg + C0 - 1) // C0
    n_mt = (nMb + Mc * Mk - 1) // (Mc * Mk)
    n_ct = (nCb + Cr * Ck - 1) // (Cr * Ck)
    n_rt = (R + Rsp - 1) // Rsp
    n_ft = (P + Fc * Fk - 1) // (Fc * Fk)
    ppc = Rsp * Cr * Fc * Mc
    ngroups = Fk * Mk * Fc * Mc  # PEs sharing an accumulation: same output rows and channels
    gtime = np.zeros(ngroups, dtype=np.float64)  # per group, if groups were not synchronised per pass
    gmax = np.zeros(ngroups, dtype=np.int64)
    ikeys = np.empty(ppc, dtype=np.int64)
    wkeys = np.empty(ppc, dtype=np.int64)
    okeys = np.empty(ppc, dtype=np.int64)
    Hp = act.shape[1]
    for mt in range(n_mt):
        for ct in range(n_ct):
            for rt in range(n_rt):
                for ft in range(n_ft):
                    first_acc = ct == 0 and rt == 0
                    wload = (ft % ft_chunk) == 0
                    wmax = 0
                    wsum = 0
                    wmac = 0
                    nact = 0
                    dmax = 0.0
                    dkind = -1
                    gmax[:] = 0
                    for fk in range(Fk):
                        for ck in range(Ck):
                            for mk in range(Mk):
                                ni = 0
                                nw = 0
                                no = 0
                                ient = 0.0
                                went = 0.0
                                pent = 0.0
                                for ri in range(Rsp):
                                    r = rt * Rsp + ri
                                    if r >= R:
                                        continue
                                    for cri in range(Cr):
                                        cb = (ct * Ck + ck) * Cr + cri
                                        if cb >= nCb:
                                            continue
                                        for fcj in range(Fc):
                                            p = (ft * Fk + fk) * Fc + fcj
                                            if p >= P:
                                                continue
                                            for mcj in range(Mc):
                                                mb = (mt * Mk + mk) * Mc + mcj
                                                if mb >= nMb:
                                                    continue
                                                m_lo = mb * M0
                                                m_hi = min(K, m_lo + M0)
                                                if dw:
                                                    c_lo = m_lo
                                                    c_hi = m_hi
                                                    blk = mb
                                                    dense_h = 1
                                                else:
                                                    c_lo = cb * C0
                                                    c_hi = min(Cg, c_lo + C0)
                                                    blk = cb
                                                    dense_h = m_hi - m_lo
                                                dense_cyc = (dense_h + lanes - 1) // lanes
                                                h = p * stride + r * dil
                                                work = 0  # weight-data / MAC stage
                                                nfeed = 0  # iact-data and weight-address stages
                                                ncols = 0  # iact-address stage
                                                for q in range(Q):
                                                    w0 = q * stride
                                                    for s in range(S):
                                                        wq = w0 + s * dil
                                                        if act[c_lo, h, wq] != 0:  # a stored column
                                                            ncols += 1
                                                        for c in range(c_lo, c_hi):
                                                            a = act[c, h, wq]
                                                            if a == 0:
                                                                continue
                                                            if a == 1 and skip_i:
                                                                continue
                                                            if dw:
                                                                key = (c * R + r) * S + s
                                                            else:
                                                                key = ((mb * Cg + c) * R + r) * S + s
                                                            n = wptr[key + 1] - wptr[key]
                                                            if skip_w:
                                                                cyc = (n + lanes - 1) // lanes
                                                            else:
                                                                cyc = dense_cyc
                                                            work += cyc
                                                            nfeed += 1
                                                            acc[A_LOOKUPS] += 1
                                                            acc[A_WWORDS] += cyc
                                                            # MACs a non-skipping PE performs (dense
                                                            # column) or gates (zero iact)
                                                            if a == 2:
                                                                acc[A_MACS] += n
                                                                acc[A_SLOTS_NZ] += cyc * lanes
                                                                acc[A_NZ_LOOKUPS] += 1
                                                                acc[A_DENSE_NZ] += n if skip_w else dense_h
                                                            else:
                                                                acc[A_SLOTS_Z] += cyc * lanes
                                                                acc[A_DENSE_Z] += n if skip_w else dense_h
                                                tpe = work
                                                if addr_stages:
                                                    acc[A_IADDR] += ncols
                                                    if nfeed > tpe:
                                                        tpe = nfeed
                                                    if ncols > tpe:
                                                        tpe = ncols
                                                wmac += work
                                                wsum += tpe
                                                nact += 1
                                                g = ((fk * Mk + mk) * Fc + fcj) * Mc + mcj
                                                if tpe > gmax[g]:
                                                    gmax[g] = tpe
                                                if tpe > wmax:
                                                    wmax = tpe
                                                # psums of this PE move once up the column / out of the array
                                                acc[A_P_NOC] += (m_hi - m_lo) * Q
                                                # delivery: the NoC multicasts, so a cluster fetches each
                                                # distinct iact row / weight tile / output row once
                                                ik = blk * Hp + h
                                                e = rowent[blk, h]
                                                acc[A_I_SPADW] += e
                                                new = True
                                                for t in range(ni):
                                                    if ikeys[t] == ik:
                                                        new = False
                                                        break
                                                if new:
                                                    ikeys[ni] = ik
                                                    ni += 1
                                                    ient += e
                                                if wload:
                                                    wk = (mb * nCb + cb) * R + r
                                                    e = wtile[mb, cb, r]
                                                    acc[A_W_SPADW] += e
                                                    new = True
                                                    for t in range(nw):
                                                        if wkeys[t] == wk:
                                                            new = False
                                                            break
                                                    if new:
                                                        wkeys[nw] = wk
                                                        nw += 1
                                                        went += e
                                                ok = mb * P + p
                                                new = True
                                                for t in range(no):
                                                    if okeys[t] == ok:
                                                        new = False
                                                        break
                                                if new:
                                                    okeys[no] = ok
                                                    no += 1
                                                    pent += (m_hi - m_lo) * Q
                                dmax, dkind = cluster_delivery(acc, ient, went, pent, first_acc, bw_i, bw_w, bw_p,
                                                                dmax, dkind)
                    if nact == 0:
                        continue
                    close_pass(acc, gtime, gmax, wmax, wsum, wmac, nact, dmax, dkind, wload, stages, ideal_mem,
                                n_pes)
    return acc, gtime


@njit(cache=True)
def functional_walk(actv, wptr, wrow, wval, dw, K, Cg, R, S, P, Q, stride, dil, M0, C0):
    """Walk every (m-block, c-block, r, p) tile over the CSC data; float64 output (K, P, Q)."""
    out = np.zeros((K, P, Q), dtype=np.float64)
    nMb = (K + M0 - 1) // M0
    nCb = 1 if dw else (Cg + C0 - 1) // C0
    for mb in range(nMb):
        for cb in range(nCb):
            if dw:
                c_lo = mb * M0
                c_hi = min(K, c_lo + M0)
            else:
                c_lo = cb * C0
                c_hi = min(Cg, c_lo + C0)
            for r in range(R):
                for p in range(P):
                    h = p * stride + r * dil
                    for q in range(Q):
                        for c in range(c_lo, c_hi):
                            for s in range(S):
                                a = actv[c, h, q * stride + s * dil]
                                if a == 0.0:
                                    continue
                                if dw:
                                    key = (c * R + r) * S + s
                                else:
                                    key = ((mb * Cg + c) * R + r) * S + s
                                for e in range(wptr[key], wptr[key + 1]):
                                    out[wrow[e], p, q] += a * wval[e]
    return out
