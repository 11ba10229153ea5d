"""Numba kernels of the Eyeriss row-stationary array (shared by v1 and v2).

:func:`array_timing` walks every pass of one layer over the padded iact codes and the CSC weight
column pointers and returns the accumulator vector indexed by the ``A_*`` constants (cycles,
breakdown, MAC/slot counts, spad/NoC/GLB traffic) plus the per-accumulation-group compute time;
:mod:`.walk` holds the per-iact reference walk the tiled kernel is proven equal to and the functional walk
over real CSC values.  See :mod:`accelsim.models.eyeriss.model` for what is simulated.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .formats import block_sums, prefix_sum

# act codes: 0 = padding (never fed), 1 = zero iact, 2 = non-zero iact
NACC = 30
(A_TOTAL, A_COMPUTE, A_IDEAL, A_FRAG, A_IMB, A_FILL, A_ST_I, A_ST_W, A_ST_P,
 A_MACS, A_SLOTS_NZ, A_SLOTS_Z, A_LOOKUPS, A_WWORDS, A_I_NOC, A_W_NOC, A_P_GLB_W, A_P_GLB_R,
 A_I_SPADW, A_W_SPADW, A_PASSES, A_P_NOC, A_WORK, A_ACTIVE, A_WLOADS, A_NZ_LOOKUPS,
 A_DENSE_NZ, A_DENSE_Z, A_IADDR, A_ADDR_OVH) = range(NACC)


@njit(cache=True)
def _taps(x, c, h, o, n, stride):
    """The ``n`` entries ``x[c, h, o + q * stride]`` (q < n) as a 1-d view.  Loops over the view, not over
    ``x[c, h, q * stride + o]``, vectorise: a unit-stride view is taken apart so the compiler sees it."""
    if stride == 1:
        return x[c, h, o:o + n]
    return x[c, h, o:o + (n - 1) * stride + 1:stride]


@njit(cache=True)
def iact_rows(act, Q, S, stride, dil, skip_i):
    """Per (channel, padded row, filter column s), over the Q window positions of the row: iacts the PE
    feeds (``F``) and non-zero iacts (``F2``); per (channel, row): stored window columns over (q, s)
    (``NC``: codes != 0, the iact-address stage).  One pass over the iact codes (C x rows x S x Q).
    The counts are sums of comparisons, not branches: the codes are random, so a branch per iact
    would be mispredicted about half the time (and the q loop vectorises)."""
    C, Hp, Wp = act.shape
    F = np.zeros((C, Hp, S), dtype=np.int64)
    F2 = np.zeros((C, Hp, S), dtype=np.int64)
    NC = np.zeros((C, Hp), dtype=np.int64)
    for c in range(C):
        for h in range(Hp):
            nc = 0
            for s in range(S):
                row = _taps(act, c, h, s * dil, Q, stride)
                fed = np.int32(0)  # codes != 0: stored (and fed by a PE that does not skip zeros)
                f2 = np.int32(0)  # code 2: non-zero iacts
                for q in range(Q):
                    a = row[q]
                    fed += np.int32(a != 0)
                    f2 += np.int32(a == 2)
                F[c, h, s] = f2 if skip_i else fed
                F2[c, h, s] = f2
                nc += fed
            NC[c, h] = nc
    return F, F2, NC


@njit(cache=True)
def row_counts(act):
    """Per (channel, padded row) of the iact codes: positions a PE streams (codes >= 1) and non-zero
    iacts (code 2), (C, rows) int64 each -- one pass for the stored-iact counts and the density."""
    C, Hp, Wp = act.shape
    fed = np.zeros((C, Hp), dtype=np.int64)
    nz2 = np.zeros((C, Hp), dtype=np.int64)
    for c in range(C):
        for h in range(Hp):
            f = np.int32(0)
            n = np.int32(0)
            for w in range(Wp):
                a = act[c, h, w]
                f += np.int32(a >= 1)
                n += np.int32(a == 2)
            fed[c, h] = f
            nz2[c, h] = n
    return fed, nz2


@njit(cache=True)
def prefix_rows(x):
    """int64 running sums down the rows of a 2-d array with a leading zero row: (n + 1, m); the weight
    mask's counts over output channels (:func:`~.formats.prefix_sum` on axis 0) without numpy's casts."""
    n, m = x.shape
    out = np.zeros((n + 1, m), dtype=np.int64)
    for i in range(n):
        for j in range(m):
            out[i + 1, j] = out[i, j] + x[i, j]
    return out


@njit(cache=True)
def window_block_max(nz, Q, S, stride, dil, blks):
    """Largest ``blk`` x S iact window (channel blocks ``[b0, b0 + blk)``, b0 a multiple of ``blk``; one
    padded row, one output column) of the stored iacts ``nz`` (uint8 0/1, C x rows x cols), for every
    ``blk`` of ``blks``: the compressed spad fit test, int64 per ``blk`` (0 when there is no window).

    Per padded row, the running sums over channels of each channel's S-wide window at every output
    column q (C + 1 x Q, int32: C x S stays far below 2**31) give any channel block's windows by one
    subtraction, so all block sizes cost sum(C / blk) x Q per row on top of one C x S x Q pass, and no
    (C, rows, Q) array is formed."""
    C, Hp, _ = nz.shape
    nb = blks.shape[0]
    best = np.zeros(nb, dtype=np.int64)
    cs = np.zeros((C + 1, Q), dtype=np.int32)
    for h in range(Hp):
        for c in range(C):
            for q in range(Q):
                cs[c + 1, q] = cs[c, q]
            for s in range(S):
                row = _taps(nz, c, h, s * dil, Q, stride)
                for q in range(Q):
                    cs[c + 1, q] += row[q]
        for i in range(nb):
            blk = blks[i]
            b = np.int32(best[i])
            for b0 in range(0, C, blk):
                e = min(C, b0 + blk)
                for q in range(Q):
                    b = max(b, cs[e, q] - cs[b0, q])
            best[i] = b
    return best


@njit(cache=True)
def block_max(cs, size):
    """Largest sum of a block of ``size`` consecutive entries along axis 1 of an (A, n, B) array, from
    its running sums ``cs`` (A, n + 1, B) (:func:`~.formats.prefix_sum`), without forming the blocks."""
    A, n1, B = cs.shape
    n = n1 - 1
    best = np.int64(-(2 ** 62))
    for a in range(A):
        for s0 in range(0, n, size):
            e = min(s0 + size, n)
            for b in range(B):
                v = cs[a, e, b] - cs[a, s0, b]
                if v > best:
                    best = v
    return best


@njit(cache=True)
def weight_blocks(wcum, M0, lanes):
    """Per-M0 weight numbers of the mapping search for a regular conv layer whose PE skips zero weights
    (compressed spads), in one pass over the CSC columns, from ``wcum`` (:func:`~.formats.prefix_sum` of
    the weight mask over output channels, (K + 1, Cg, R, S)): (cycles, rcum) -- the MAC-stage cycles
    ``ceil(nnz / lanes)`` summed over the columns, and the running sums over input channels of the
    stored entries (whole SIMD words, ``lanes * cycles``) per (m-block, r): (nMb, Cg + 1, R), leading zero
    (the weight tiles of every C0 by one subtraction).  The columns themselves (:func:`weight_counts`)
    are formed only for the few M0 the search walks."""
    K = wcum.shape[0] - 1
    _, Cg, R, S = wcum.shape
    nMb = (K + M0 - 1) // M0
    rcum = np.zeros((nMb, Cg + 1, R), dtype=np.int64)
    cycles = 0
    for mb in range(nMb):
        lo = mb * M0
        hi = min(K, lo + M0)
        for c in range(Cg):
            for r in range(R):
                t = 0
                for s in range(S):
                    cyc = (wcum[hi, c, r, s] - wcum[lo, c, r, s] + lanes - 1) // lanes
                    cycles += cyc
                    t += lanes * cyc
                rcum[mb, c + 1, r] = rcum[mb, c, r] + t
    return cycles, rcum


@njit(cache=True)
def _wcycles(wcnt, dw, mb, c, r, s, skip_w, lanes, dense_cyc):
    """Weight count of the CSC column an iact of channel ``c`` meets, and its MAC-stage cycles."""
    n = wcnt[c, 0, r, s] if dw else wcnt[mb, c, r, s]
    cyc = (n + lanes - 1) // lanes if skip_w else dense_cyc
    return n, cyc


@njit(cache=True)
def tile_work(F, wcnt, dw, K, Cg, R, S, P, stride, dil, M0, C0, skip_w, lanes):
    """Data path: per PE tile (m-block, c-block, filter row r, output row p), the MAC-stage cycles
    (sum over the fed iacts of ``ceil(nnz / lanes)`` of the weight column each meets) and the fed iacts
    (iact-data / weight-address stages), from the per-row fed counts ``F`` of :func:`iact_rows`.
    ``wcnt``: non-zero weights per CSC column, (nMb, Cg, R, S) (depthwise: (K, 1, R, S))."""
    nMb = (K + M0 - 1) // M0
    nCb = 1 if dw else (Cg + C0 - 1) // C0
    work = np.zeros((nMb, nCb, R, P), dtype=np.int64)
    feed = np.zeros((nMb, nCb, R, P), dtype=np.int64)
    for mb in range(nMb):
        m_lo = mb * M0
        m_hi = min(K, m_lo + M0)
        dense_cyc = ((1 if dw else m_hi - m_lo) + lanes - 1) // lanes
        for cb in range(nCb):
            c_lo = m_lo if dw else cb * C0
            c_hi = m_hi if dw else min(Cg, c_lo + C0)
            for r in range(R):
                for c in range(c_lo, c_hi):
                    for s in range(S):
                        n, cyc = _wcycles(wcnt, dw, mb, c, r, s, skip_w, lanes, dense_cyc)
                        for p in range(P):
                            f = F[c, p * stride + r * dil, s]
                            work[mb, cb, r, p] += cyc * f
                            feed[mb, cb, r, p] += f
    return work, feed


@njit(cache=True)
def tile_work_dense(K, Cg, R, S, P, Q, M0, C0, dw, lanes):
    """Closed form of :func:`tile_work` for a PE that skips nothing (no zero-iact / zero-weight skipping,
    halo streamed as zeros: every code >= 1): each of the Q x S x (channels of the block) iacts is fed
    and costs ``ceil(M0-block height / lanes)`` cycles (depthwise: 1 weight, one cycle).  Returns
    (work, feed, NC) with ``NC`` = Q x S stored columns for every (channel, row)."""
    nMb = (K + M0 - 1) // M0
    nCb = 1 if dw else (Cg + C0 - 1) // C0
    work = np.zeros((nMb, nCb, R, P), dtype=np.int64)
    feed = np.zeros((nMb, nCb, R, P), dtype=np.int64)
    for mb in range(nMb):
        m_lo = mb * M0
        m_hi = min(K, m_lo + M0)
        dense_cyc = ((1 if dw else m_hi - m_lo) + lanes - 1) // lanes
        for cb in range(nCb):
            nc = (m_hi - m_lo) if dw else min(Cg, cb * C0 + C0) - cb * C0
            work[mb, cb] = Q * S * nc * dense_cyc
            feed[mb, cb] = Q * S * nc
    return work, feed


@njit(cache=True)
def tile_times(work, feed, NC, dw, M0, C0, stride, dil):
    """A PE's pass time on every tile (m-block, c-block, r, p) when the address stages bound it beside the
    MAC stage: max(MAC-stage cycles, fed iacts, stored window columns of its iact row), (nMb, nCb, R, P)
    (without the address stages the time is ``work``).  Once per PE tile shape, shared by every mapping
    of that shape the search walks."""
    nMb, nCb, R, P = work.shape
    out = np.empty_like(work)
    for mb in range(nMb):
        for cb in range(nCb):
            c_lo = mb * M0 if dw else cb * C0
            for r in range(R):
                for p in range(P):
                    out[mb, cb, r, p] = max(work[mb, cb, r, p], feed[mb, cb, r, p], NC[c_lo, p * stride + r * dil])
    return out


@njit(cache=True)
def action_counts(F, F2, wcnt, dw, K, Cg, R, S, P, stride, dil, M0, skip_w, lanes):
    """Layer totals of the per-iact counters (independent of the spatial mapping, only of the M0 tile):
    [lookups, weight words, MACs, slots on non-zero iacts, slots on zero iacts, non-zero lookups,
    dense-PE MACs on non-zero iacts, on zero iacts] -- the A_LOOKUPS ... A_DENSE_Z entries."""
    C, Hp, _ = F.shape
    G = np.zeros((C, R, S), dtype=np.int64)
    G2 = np.zeros((C, R, S), dtype=np.int64)
    for c in range(C):
        for r in range(R):
            for s in range(S):
                g = 0
                g2 = 0
                for p in range(P):
                    h = p * stride + r * dil
                    g += F[c, h, s]
                    g2 += F2[c, h, s]
                G[c, r, s] = g
                G2[c, r, s] = g2
    out = np.zeros(8, dtype=np.int64)
    nMb = (K + M0 - 1) // M0
    for mb in range(nMb):
        m_lo = mb * M0
        m_hi = min(K, m_lo + M0)
        dense_h = 1 if dw else m_hi - m_lo
        dense_cyc = (dense_h + lanes - 1) // lanes
        c_lo = m_lo if dw else 0
        c_hi = m_hi if dw else Cg
        for c in range(c_lo, c_hi):
            for r in range(R):
                for s in range(S):
                    n, cyc = _wcycles(wcnt, dw, mb, c, r, s, skip_w, lanes, dense_cyc)
                    g = G[c, r, s]
                    g2 = G2[c, r, s]
                    gz = g - g2  # zero iacts fed (a PE that does not skip them)
                    d = n if skip_w else dense_h
                    out[0] += g
                    out[1] += cyc * g
                    out[2] += n * g2
                    out[3] += cyc * lanes * g2
                    out[4] += cyc * lanes * gz
                    out[5] += g2
                    out[6] += d * g2
                    out[7] += d * gz
    return out


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


def weight_counts(wmask, M0, dw, wcum=None):
    """Non-zero weights per CSC column: (nMb, Cg, R, S) (depthwise: (K, 1, R, S)), int64; ``wcum``: the
    :func:`~.formats.prefix_sum` of the mask over output channels, when the caller has it."""
    if dw:
        return np.ascontiguousarray(wmask, dtype=np.int64)
    return np.ascontiguousarray(block_sums(prefix_sum(wmask, 0) if wcum is None else wcum, M0, 0))


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
