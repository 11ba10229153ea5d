"""Numba kernels of the Eyeriss row-stationary array's pass walk (shared by v1 and v2).

:func:`array_timing` walks every pass of one layer over the padded iact codes and the CSC weight
column pointers and returns the accumulator vector indexed by the ``A_*`` constants (cycles,
breakdown, MAC/slot counts, spad/NoC/GLB traffic) plus the per-accumulation-group compute time;
:mod:`.walk` holds the per-iact reference walk the tiled kernel is proven equal to and the functional walk
over real CSC values; :mod:`.tiles` the per-layer arrays the walk reads (iact rows, tile work and times,
action totals).  See :mod:`accelsim.models.eyeriss.model` for what is simulated.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .tiles import action_counts, iact_rows, tile_times, tile_work

NACC = 30
(A_TOTAL, A_COMPUTE, A_IDEAL, A_FRAG, A_IMB, A_FILL, A_ST_I, A_ST_W, A_ST_P,
 A_MACS, A_SLOTS_NZ, A_SLOTS_Z, A_LOOKUPS, A_WWORDS, A_I_NOC, A_W_NOC, A_P_GLB_W, A_P_GLB_R,
 A_I_SPADW, A_W_SPADW, A_PASSES, A_P_NOC, A_WORK, A_ACTIVE, A_WLOADS, A_NZ_LOOKUPS,
 A_DENSE_NZ, A_DENSE_Z, A_IADDR, A_ADDR_OVH) = range(NACC)


@njit(cache=True)
def cluster_delivery(acc, ient, went, pent, first_acc, bw_i, bw_w, bw_p, dmax, dkind):
    """Count one cluster's distinct iact / weight / psum entries of a pass; the pass's slowest delivery
    so far (time, kind 0 iact / 1 weight / 2 psum)."""
    acc[A_I_NOC] += ient
    acc[A_W_NOC] += went
    acc[A_P_GLB_W] += pent
    if not first_acc:
        acc[A_P_GLB_R] += pent
    t_i = ient / bw_i
    t_w = went / bw_w
    t_p = pent * (1.0 if first_acc else 2.0) / bw_p
    if t_i > dmax:
        dmax = t_i
        dkind = 0
    if t_w > dmax:
        dmax = t_w
        dkind = 1
    if t_p > dmax:
        dmax = t_p
        dkind = 2
    return dmax, dkind


@njit(cache=True)
def close_pass(acc, gtime, gmax, wmax, wsum, wmac, nact, dmax, dkind, wload, stages, ideal_mem, n_pes):
    """A pass with ``nact`` active PEs lasts max(slowest PE + fill, slowest delivery); add it and its
    breakdown to ``acc``, and each accumulation group's own time to ``gtime``."""
    if wload:
        acc[A_WLOADS] += 1
    fill = stages - 1 if wmax > 0 else 0
    compute = wmax + fill
    for g in range(gmax.shape[0]):
        gtime[g] += gmax[g] + (fill if gmax[g] > 0 else 0)
    if ideal_mem:
        dmax = 0.0
    t = compute if compute >= dmax else dmax
    acc[A_TOTAL] += t
    acc[A_COMPUTE] += compute
    acc[A_WORK] += wsum
    acc[A_ACTIVE] += nact
    acc[A_IDEAL] += wmac / n_pes
    acc[A_ADDR_OVH] += (wsum - wmac) / n_pes
    acc[A_FRAG] += wsum / nact - wsum / n_pes
    acc[A_IMB] += wmax - wsum / nact
    acc[A_FILL] += fill
    if dmax > compute:
        acc[A_ST_I + dkind] += dmax - compute
    acc[A_PASSES] += 1


@njit(cache=True)
def _one_pass(acc, gtime, gmax, seen_h, hlist, stamp, mt, ct, rt, ft, work, ttime, NC, dw, K, R, P, Q, M0,
              C0, nMb, nCb, stride, dil, Rsp, Cr, Fc, Mc, Fk, Ck, Mk, n_pes, rowent, wtile, bw_i, bw_w, bw_p,
              ideal_mem, ft_chunk, stages, addr_stages, uniform):
    """Pass (mt, ct, rt, ft) of :func:`array_passes`: adds its time, breakdown and delivery counts to ``acc``
    and its groups' compute times to ``gtime``; returns the scratch stamp and the pass's integer counters
    (iact-address reads, psum NoC entries, iact / weight spad writes).

    A cluster's PE tiles are the product of its ranges of m-blocks, c-blocks, filter rows and output rows
    (a range is cut short, or empty, at the layer's edge), so what the NoC multicasts is counted from the
    ranges: each (m-block, c-block, r) weight tile once, each (m-block, output row) psum row once, each
    (channel block, iact row) once, the iact rows being the distinct ``p * stride + r * dil`` (``seen_h``,
    stamped per cluster, lists them in ``hlist``).  Every count is an integer sum (exact in any order),
    so only the tiles' own times are walked tile by tile, output rows innermost (contiguous).  ``uniform``:
    every tile of an (m-block, c-block) has the same stage times whatever its filter row and output row
    (the closed form, :func:`tile_work_dense`), so each (m-block, c-block) is read once and counted for
    its r x p tiles, and each group's busiest PE is its m-block's busiest c-block."""
    i_addr = 0
    p_noc = 0
    i_spadw = 0
    w_spadw = 0
    first_acc = ct == 0 and rt == 0
    wload = (ft % ft_chunk) == 0
    wmax = 0
    wsum = 0
    wmac = 0
    nact = 0
    dmax = 0.0
    dkind = -1
    gmax[:] = 0
    r0 = rt * Rsp
    r1 = min(R, r0 + Rsp)
    bsz = M0 if dw else C0  # channels per iact block: an m-block's (depthwise) or a c-block's
    for fk in range(Fk):
        p0 = (ft * Fk + fk) * Fc
        p1 = min(P, p0 + Fc)
        for ck in range(Ck):
            cb0 = (ct * Ck + ck) * Cr
            cb1 = min(nCb, cb0 + Cr)
            for mk in range(Mk):
                mb0 = (mt * Mk + mk) * Mc
                mb1 = min(nMb, mb0 + Mc)
                ient = 0
                went = 0
                pent = 0
                if p1 > p0 and cb1 > cb0 and mb1 > mb0:  # the cluster has PE tiles (r0 < R always)
                    n_p = p1 - p0
                    n_t = (r1 - r0) * (cb1 - cb0)  # tiles per (m-block, output row)
                    n_rp = (r1 - r0) * n_p  # tiles per (m-block, c-block)
                    # PE tiles: stage times, the pass's and each accumulation group's busiest PE
                    heights = 0
                    for mb in range(mb0, mb1):
                        m_lo = mb * M0
                        heights += min(K, m_lo + M0) - m_lo
                        gbase = ((fk * Mk + mk) * Fc) * Mc + (mb - mb0)
                        tm = 0  # uniform: the m-block's busiest tile, the same at every (r, p)
                        for cb in range(cb0, cb1):
                            if uniform:
                                if wload:
                                    for r in range(r0, r1):
                                        went += wtile[mb, cb, r]
                                wk_ = work[mb, cb, r0, p0]
                                tpe = ttime[mb, cb, r0, p0]
                                wmac += wk_ * n_rp
                                wsum += tpe * n_rp
                                tm = max(tm, tpe)
                                continue
                            for r in range(r0, r1):
                                if wload:
                                    went += wtile[mb, cb, r]
                                for p in range(p0, p1):
                                    wk_ = work[mb, cb, r, p]
                                    tpe = ttime[mb, cb, r, p]
                                    wmac += wk_
                                    wsum += tpe
                                    g = gbase + (p - p0) * Mc
                                    if tpe > gmax[g]:
                                        gmax[g] = tpe
                                    if tpe > wmax:
                                        wmax = tpe
                        if uniform:
                            for p in range(p0, p1):
                                g = gbase + (p - p0) * Mc
                                if tm > gmax[g]:
                                    gmax[g] = tm
                            if tm > wmax:
                                wmax = tm
                    nact += (mb1 - mb0) * n_t * n_p
                    # psums of each PE move once up the column / out of the array; a cluster's
                    # distinct output rows (m-block, p) once to the GLB
                    p_noc += heights * Q * n_t * n_p
                    pent = heights * Q * n_p
                    # weights: each (m-block, c-block, r) tile once per cluster, into every PE holding it
                    w_spadw += went * n_p
                    # iacts: each PE's row into its spad; each distinct (block, row) once per cluster
                    stamp += 1
                    nh = 0
                    for r in range(r0, r1):
                        for p in range(p0, p1):
                            h = p * stride + r * dil
                            if seen_h[h] != stamp:
                                seen_h[h] = stamp
                                hlist[nh] = h
                                nh += 1
                    b0, b1, mult = (mb0, mb1, cb1 - cb0) if dw else (cb0, cb1, mb1 - mb0)
                    for blk in range(b0, b1):
                        c_lo = blk * bsz
                        e_row = 0
                        n_col = 0
                        for r in range(r0, r1):
                            for p in range(p0, p1):
                                h = p * stride + r * dil
                                e_row += rowent[blk, h]
                                n_col += NC[c_lo, h]
                        i_spadw += mult * e_row
                        if addr_stages:
                            i_addr += mult * n_col
                        for j in range(nh):
                            ient += rowent[blk, hlist[j]]
                dmax, dkind = cluster_delivery(acc, float(ient), float(went), float(pent), first_acc, bw_i, bw_w,
                                               bw_p, dmax, dkind)
    if nact > 0:
        close_pass(acc, gtime, gmax, wmax, wsum, wmac, nact, dmax, dkind, wload, stages, ideal_mem, n_pes)
    return stamp, i_addr, p_noc, i_spadw, w_spadw


@njit(cache=True)
def array_passes(work, ttime, NC, dw, K, Cg, R, P, Q, M0, C0, stride, dil, Rsp, Cr, Fc, Mc, Fk, Ck, Mk, n_pes,
                 rowent, wtile, bw_i, bw_w, bw_p, ideal_mem, ft_chunk, stages, addr_stages, uniform):
    """Walk every pass of one layer over the PE tiles' stage times (:func:`tile_work`; ``ttime``: a PE's pass
    time per tile, :func:`tile_times`, or ``work`` without the address stages): the pass lasts as
    long as its busiest PE (or its data delivery); returns the accumulator vector (A_*, the per-iact
    counters left to :func:`action_counts`) and the per-accumulation-group compute time.
    :func:`array_pass_units` walks chosen passes of the same loop, one accumulator row each."""
    acc = np.zeros(NACC, dtype=np.float64)
    nMb = (K + M0 - 1) // M0
    nCb = 1 if dw else (Cg + C0 - 1) // C0
    n_mt = (nMb + Mc * Mk - 1) // (Mc * Mk)
    n_ct = (nCb + Cr * Ck - 1) // (Cr * Ck)
    n_rt = (R + Rsp - 1) // Rsp
    n_ft = (P + Fc * Fk - 1) // (Fc * Fk)
    ngroups = Fk * Mk * Fc * Mc  # PEs sharing an accumulation: same output rows and channels
    gtime = np.zeros(ngroups, dtype=np.float64)  # per group, if groups were not synchronised per pass
    gmax = np.zeros(ngroups, dtype=np.int64)
    # distinct iact rows per (pass, cluster): the stamp of the last cluster that listed a row
    seen_h = np.full(rowent.shape[1], -1, dtype=np.int64)
    hlist = np.empty(rowent.shape[1], dtype=np.int64)
    stamp = 0
    i_addr = 0
    p_noc = 0
    i_spadw = 0
    w_spadw = 0
    for mt in range(n_mt):
        for ct in range(n_ct):
            for rt in range(n_rt):
                for ft in range(n_ft):
                    stamp, a, b, c, d = _one_pass(acc, gtime, gmax, seen_h, hlist, stamp, mt, ct, rt, ft,
                                                  work, ttime, NC, dw, K, R, P, Q, M0, C0, nMb, nCb, stride, dil,
                                                  Rsp, Cr, Fc, Mc, Fk, Ck, Mk, n_pes, rowent, wtile, bw_i, bw_w,
                                                  bw_p, ideal_mem, ft_chunk, stages, addr_stages, uniform)
                    i_addr += a
                    p_noc += b
                    i_spadw += c
                    w_spadw += d
    acc[A_IADDR] = i_addr
    acc[A_P_NOC] = p_noc
    acc[A_I_SPADW] = i_spadw
    acc[A_W_SPADW] = w_spadw
    return acc, gtime


@njit(cache=True)
def _pass_rows(sel, i0, i1, rows, grows, n_ct, n_rt, n_ft, nMb, nCb, work, ttime, NC, dw, K, R, P, Q, M0, C0,
               stride, dil, Rsp, Cr, Fc, Mc, Fk, Ck, Mk, n_pes, rowent, wtile, bw_i, bw_w, bw_p, ideal_mem,
               ft_chunk, stages, addr_stages, uniform):
    """Passes ``sel[i0:i1]`` of :func:`array_pass_units`, in order, into ``rows[i]`` / ``grows[i]`` (zeros on
    entry), with their own scratch (the multicast de-duplication keys and the group maxima)."""
    ngroups = grows.shape[1]
    gmax = np.zeros(ngroups, dtype=np.int64)
    seen_h = np.full(rowent.shape[1], -1, dtype=np.int64)
    hlist = np.empty(rowent.shape[1], dtype=np.int64)
    stamp = 0
    for i in range(i0, i1):
        u = sel[i]
        ft = u % n_ft
        u //= n_ft
        rt = u % n_rt
        u //= n_rt
        ct = u % n_ct
        mt = u // n_ct
        acc = rows[i]
        stamp, a, b, c, d = _one_pass(acc, grows[i], gmax, seen_h, hlist, stamp, mt, ct, rt, ft, work, ttime,
                                      NC, dw, K, R, P, Q, M0, C0, nMb, nCb, stride, dil, Rsp, Cr, Fc, Mc, Fk, Ck, Mk,
                                      n_pes, rowent, wtile, bw_i, bw_w, bw_p, ideal_mem, ft_chunk, stages,
                                      addr_stages, uniform)
        acc[A_IADDR] = a
        acc[A_P_NOC] = b
        acc[A_I_SPADW] = c
        acc[A_W_SPADW] = d


#: passes per block of :func:`array_pass_units` (blocks run in parallel; a fixed split, whatever the threads)
PASS_BLOCK = 64


@njit(cache=True, parallel=True)
def array_pass_units(sel, work, ttime, NC, dw, K, Cg, R, P, Q, M0, C0, stride, dil, Rsp, Cr, Fc, Mc, Fk, Ck, Mk,
                     n_pes, rowent, wtile, bw_i, bw_w, bw_p, ideal_mem, ft_chunk, stages, addr_stages,
                     uniform):
    """The passes ``sel`` of :func:`array_passes` (linear indices in its loop order m, c, r, output rows:
    ``((mt * n_ct + ct) * n_rt + rt) * n_ft + ft``), each walked alone: (rows, group_times), one
    accumulator row (A_*) and one row of per-group compute times per selected pass.  A pass depends on no
    other (the multicast de-duplication is per pass and cluster), so the rows of every pass summed in
    loop order are :func:`array_passes`'s result bit for bit.  Blocks of :data:`PASS_BLOCK` passes run in
    parallel (``prange``), each with its own scratch and writing only its passes' rows: the rows are the
    same for any thread count, and the caller sums them in loop order."""
    nMb = (K + M0 - 1) // M0
    nCb = 1 if dw else (Cg + C0 - 1) // C0
    n_ct = (nCb + Cr * Ck - 1) // (Cr * Ck)
    n_rt = (R + Rsp - 1) // Rsp
    n_ft = (P + Fc * Fk - 1) // (Fc * Fk)
    ngroups = Fk * Mk * Fc * Mc
    n = sel.shape[0]
    rows = np.zeros((n, NACC), dtype=np.float64)
    grows = np.zeros((n, ngroups), dtype=np.float64)
    nb = (n + PASS_BLOCK - 1) // PASS_BLOCK
    for blk in prange(nb):
        i0 = blk * PASS_BLOCK
        i1 = min(n, i0 + PASS_BLOCK)
        _pass_rows(sel, i0, i1, rows, grows, n_ct, n_rt, n_ft, nMb, nCb, work, ttime, NC, dw, K, R, P, Q, M0, C0,
                   stride, dil, Rsp, Cr, Fc, Mc, Fk, Ck, Mk, n_pes, rowent, wtile, bw_i, bw_w, bw_p, ideal_mem,
                   ft_chunk, stages, addr_stages, uniform)
    return rows, grows


COUNT_SLOTS = (A_LOOKUPS, A_WWORDS, A_MACS, A_SLOTS_NZ, A_SLOTS_Z, A_NZ_LOOKUPS, A_DENSE_NZ, A_DENSE_Z)


def array_timing(act, wptr, dw, K, Cg, R, S, P, Q, stride, dil, M0, C0, skip_i, skip_w, lanes,
                 Rsp, Cr, Fc, Mc, Fk, Ck, Mk, n_pes, rowent, wtile, bw_i, bw_w, bw_p, ideal_mem,
                 ft_chunk, stages, addr_stages):
    """The data path of one layer under one mapping, same arguments and result as
    :func:`~.walk.array_timing_walk` (``wptr``: the CSC column pointers of :func:`~.formats.weight_csc`):
    :func:`iact_rows` -> :func:`tile_work` + :func:`action_counts` -> :func:`array_passes`."""
    nMb = (K + M0 - 1) // M0
    wcnt = np.diff(wptr).reshape((K, 1, R, S) if dw else (nMb, Cg, R, S))
    F, F2, NC = iact_rows(act, Q, S, stride, dil, skip_i)
    work, feed = tile_work(F, wcnt, dw, K, Cg, R, S, P, stride, dil, M0, C0, skip_w, lanes)
    ttime = tile_times(work, feed, NC, dw, M0, C0, stride, dil) if addr_stages else work
    acc, gtime = array_passes(work, ttime, NC, dw, K, Cg, R, P, Q, M0, C0, stride, dil, Rsp, Cr, Fc, Mc, Fk, Ck, Mk,
                              n_pes, rowent, wtile, bw_i, bw_w, bw_p, ideal_mem, ft_chunk, stages, addr_stages, False)
    cnt = action_counts(F, F2, wcnt, dw, K, Cg, R, S, P, stride, dil, M0, skip_w, lanes)
    for i, slot in enumerate(COUNT_SLOTS):
        acc[slot] = cnt[i]
    return acc, gtime
