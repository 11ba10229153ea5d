"""Per-layer Numba kernels of the Eyeriss row-stationary array (shared by v1 and v2): what every pass of a
layer reads, computed once per layer before the pass walk (:mod:`.kernel`).

The iact rows each PE is fed (:func:`iact_rows`, :func:`row_counts`), the spad-fit windows of the mapping
search (:func:`window_block_max`, :func:`block_max`), the weights per CSC column block
(:func:`weight_counts`, :func:`weight_blocks`, :func:`prefix_rows`), each PE tile's work and pass time
(:func:`tile_work`, :func:`tile_work_dense`, :func:`tile_times`) and the layer's per-iact action totals
(:func:`action_counts`).  Act codes: 0 = padding (never fed), 1 = zero iact, 2 = non-zero iact.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .formats import block_sums, prefix_sum


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
def _m_block(mb, K, M0, dw, lanes):
    """Output channels [m_lo, m_hi) of m-block ``mb`` and the MAC-stage cycles of an iact on a PE that skips no
    weight: the block's filters (depthwise: its one) over ``lanes`` MACs."""
    m_lo = mb * M0
    m_hi = min(K, m_lo + M0)
    return m_lo, m_hi, ((1 if dw else m_hi - m_lo) + lanes - 1) // lanes


@njit(cache=True)
def _wcycles(wcnt, dw, mb, c, r, s, skip_w, lanes, dense_cyc):
    """Weight count of the CSC column an iact of channel ``c`` meets, and its MAC-stage cycles."""
    n = wcnt[c, 0, r, s] if dw else wcnt[mb, c, r, s]
    cyc = (n + lanes - 1) // lanes if skip_w else dense_cyc
    return n, cyc


@njit(cache=True)
def _tile_arrays(K, Cg, R, P, M0, C0, dw):
    """m-blocks, c-blocks (depthwise: one) and the zeroed (nMb, nCb, R, P) work and feed arrays of the PE tiles."""
    nMb = (K + M0 - 1) // M0
    nCb = 1 if dw else (Cg + C0 - 1) // C0
    return nMb, nCb, np.zeros((nMb, nCb, R, P), dtype=np.int64), np.zeros((nMb, nCb, R, P), dtype=np.int64)


@njit(cache=True)
def tile_work(F, wcnt, dw, K, Cg, R, S, P, stride, dil, M0, C0, skip_w, lanes):
    """Data path: per PE tile (m-block, c-block, filter row r, output row p), the MAC-stage cycles
    (sum over the fed iacts of ``ceil(nnz / lanes)`` of the weight column each meets) and the fed iacts
    (iact-data / weight-address stages), from the per-row fed counts ``F`` of :func:`iact_rows`.
    ``wcnt``: non-zero weights per CSC column, (nMb, Cg, R, S) (depthwise: (K, 1, R, S))."""
    nMb, nCb, work, feed = _tile_arrays(K, Cg, R, P, M0, C0, dw)
    for mb in range(nMb):
        m_lo, m_hi, dense_cyc = _m_block(mb, K, M0, dw, lanes)
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


def tile_work_dense(K, Cg, R, S, P, Q, M0, C0, dw, lanes):
    """Closed form of :func:`tile_work` for a PE that skips nothing (no zero-iact / zero-weight skipping,
    halo streamed as zeros: every code >= 1): each of the Q x S x (channels of the block) iacts is fed
    and costs ``ceil(M0-block height / lanes)`` cycles (depthwise: 1 weight, one cycle).  Returns
    (work, feed), each (nMb, nCb, R, P) and the same at every (r, p) of an (m-block, c-block): read-only
    broadcast views of the (nMb, nCb) values (the stored columns are Q x S for every (channel, row)).
    Writing out the R x P copies was most of Eyeriss v1's layer time on the paper heads (page faults and
    stores of arrays that :func:`~.kernel.array_pass_units` reads once per block)."""
    work, feed = _dense_blocks(K, Cg, Q, S, M0, C0, dw, lanes)
    shape = (work.shape[0], work.shape[1], R, P)
    return (np.broadcast_to(work[:, :, None, None], shape), np.broadcast_to(feed[:, :, None, None], shape))


@njit(cache=True)
def _dense_blocks(K, Cg, Q, S, M0, C0, dw, lanes):
    """(nMb, nCb) MAC-stage cycles and fed iacts of one tile of each (m-block, c-block) (:func:`tile_work_dense`)."""
    nMb = (K + M0 - 1) // M0
    nCb = 1 if dw else (Cg + C0 - 1) // C0
    work = np.zeros((nMb, nCb), dtype=np.int64)
    feed = np.zeros((nMb, nCb), dtype=np.int64)
    for mb in range(nMb):
        m_lo, m_hi, dense_cyc = _m_block(mb, K, M0, dw, lanes)
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
        m_lo, m_hi, dense_cyc = _m_block(mb, K, M0, dw, lanes)
        dense_h = 1 if dw else m_hi - m_lo
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


def weight_counts(wmask, M0, dw, wcum=None):
    """Non-zero weights per CSC column: (nMb, Cg, R, S) (depthwise: (K, 1, R, S)), int64; ``wcum``: the
    :func:`~.formats.prefix_sum` of the mask over output channels, when the caller has it."""
    if dw:
        return np.ascontiguousarray(wmask, dtype=np.int64)
    return np.ascontiguousarray(block_sums(prefix_sum(wmask, 0) if wcum is None else wcum, M0, 0))
