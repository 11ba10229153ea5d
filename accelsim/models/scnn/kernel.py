"""SCNN's cycle loop (Numba) and accumulator bank hash (model docstring, section 4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from ..common.planar import Plan

if TYPE_CHECKING:
    from .formats import ActStreams, WeightStreams


# per-(round, PE) statistics returned by the kernel
ST_CYC, ST_STEPS, ST_STALL, ST_PROD, ST_OOP, ST_MASK, ST_EFF, ST_WRITE, ST_AREAD, ST_WLOAD, ST_GATED, \
    ST_IVEC, ST_PADP = range(13)
N_ST = 13
#: coordinate sentinels that put every product of an RLE padding entry out of the plane
PAD_A, PAD_W = -(1 << 40), (1 << 40)


@njit(cache=True)
def scnn_kernel(round_tile, round_group, a_ptr, a_p, a_q, a_term, a_val, a_padcum, CV,
                w_ptr, w_p, w_q, w_k, w_term, w_lane, w_val, w_padcum, CVg, cv0,
                F, I, M, mult, P, Q, mask, has_mask, mask_skip, functional, out, fifo_entries, qdepth, stats):
    """Walk every barrier round, PE, channel, I-vector and F-vector; count cycles per step.

    Bank of a product = ((a_term + w_term) mod M) * mult + w_lane (see ``bank_terms``); a
    step lasts max(products on one bank) cycles (``qdepth`` = 0), or, with per-bank queues of
    ``qdepth`` products draining one per cycle, the step issues once every bank's queue has
    room for its products (stall = the wait) and the round ends when the queues are empty.
    RLE padding entries carry sentinel
    coordinates (their products fall out of the plane) and are counted per block in closed
    form.  ``stats[r, pe]`` gets the counters ST_*; products aimed at masked-off outputs are
    gated when ``mask_skip``.  ``out`` (K, P, Q) accumulates in functional mode.
    """
    NR, NPE = round_tile.shape
    A = M * mult
    stamp_of = np.zeros(A, dtype=np.int64)
    cnt = np.zeros(A, dtype=np.int64)
    stamp = 0
    occ = np.zeros(A, dtype=np.int64)
    last = np.zeros(A, dtype=np.int64)
    touched = np.zeros(F * I, dtype=np.int64)
    pow2 = (M & (M - 1)) == 0
    mm = M - 1
    general = has_mask or functional
    for r in range(NR):
        for pe in range(NPE):
            t = round_tile[r, pe]
            g = round_group[r, pe]
            if t < 0 or g < 0:
                continue
            steps = 0
            stall = 0
            prod = 0
            oop = 0
            msk = 0
            eff = 0
            wr = 0
            aread = 0
            wload = 0
            gated = 0
            nivec = 0
            padp = 0
            now = 0
            if qdepth > 0:
                occ[:] = 0
                last[:] = 0
            c0 = cv0[g]
            for cl in range(CVg):
                ab = a_ptr[t * CV + c0 + cl]
                ae = a_ptr[t * CV + c0 + cl + 1]
                wb = w_ptr[g * CVg + cl]
                we = w_ptr[g * CVg + cl + 1]
                if ab == ae or wb == we:
                    continue
                na_all = ae - ab
                nw_all = we - wb
                pa = a_padcum[ae] - a_padcum[ab]
                pw = w_padcum[we] - w_padcum[wb]
                padp += pa * nw_all + na_all * pw - pa * pw
                aread += na_all
                niv = (na_all + I - 1) // I
                nwv = (nw_all + F - 1) // F
                nivec += niv
                # the FIFO re-streams a block that fits; a larger one is reloaded per I-vector
                if nwv <= fifo_entries:
                    wload += nw_all
                else:
                    wload += nw_all * niv
                prod += na_all * nw_all
                steps += niv * nwv
                for ib in range(ab, ae, I):
                    ie = min(ib + I, ae)
                    for fb in range(wb, we, F):
                        fe = min(fb + F, we)
                        stamp += 1
                        mx = 1
                        nt = 0
                        for ii in range(ib, ie):
                            ap = a_p[ii]
                            aq = a_q[ii]
                            at = a_term[ii]
                            for ff in range(fb, fe):
                                p = ap - w_p[ff]
                                q = aq - w_q[ff]
                                if p < 0 or p >= P or q < 0 or q >= Q:
                                    oop += 1
                                    continue
                                if general:
                                    if has_mask and not mask[p, q]:
                                        msk += 1
                                        if mask_skip:
                                            gated += 1
                                            continue
                                    else:
                                        eff += 1
                                    if functional:
                                        out[w_k[ff], p, q] += a_val[ii] * w_val[ff]
                                else:
                                    eff += 1
                                x = at + w_term[ff]
                                b = ((x & mm) if pow2 else (x % M)) * mult + w_lane[ff]
                                if stamp_of[b] != stamp:
                                    stamp_of[b] = stamp
                                    cnt[b] = 1
                                    touched[nt] = b
                                    nt += 1
                                else:
                                    c = cnt[b] + 1
                                    cnt[b] = c
                                    if c > mx:
                                        mx = c
                                wr += 1
                        if qdepth > 0:
                            wait = 0
                            for j in range(nt):
                                b = touched[j]
                                o = occ[b] - (now - last[b])
                                if o < 0:
                                    o = 0
                                lim = qdepth if qdepth > cnt[b] else cnt[b]
                                if o + cnt[b] - lim > wait:
                                    wait = o + cnt[b] - lim
                            now += wait
                            stall += wait
                            for j in range(nt):
                                b = touched[j]
                                o = occ[b] - (now - last[b])
                                if o < 0:
                                    o = 0
                                occ[b] = o + cnt[b]
                                last[b] = now
                            now += 1
                        else:
                            stall += mx - 1
            if qdepth > 0:  # drain the queues before the barrier
                tail = 0
                for b in range(A):
                    o = occ[b] - (now - last[b])
                    if o > tail:
                        tail = o
                stall += tail
            st = stats[r, pe]
            st[ST_CYC] = steps + stall
            st[ST_STEPS] = steps
            st[ST_STALL] = stall
            st[ST_PROD] = prod
            st[ST_OOP] = oop - padp
            st[ST_MASK] = msk
            st[ST_EFF] = eff
            st[ST_WRITE] = wr
            st[ST_AREAD] = aread
            st[ST_WLOAD] = wload
            st[ST_GATED] = gated
            st[ST_IVEC] = nivec
            st[ST_PADP] = padp


def bank_terms(ast: "ActStreams", wst: "WeightStreams", plan: Plan, F: int, A: int, kind: str):
    """Per-entry terms of the accumulator bank hash: bank = ((a_term + w_term) mod M) * mult + w_lane.

    ``linear`` (default): bank = address mod A, address = (k_local*Pacc + p - p0)*Qacc + (q - q0)
    (low-order interleaving of the linear accumulator address).
    ``skewed``: bank = (k_local mod F) + F * ((spatial + k_local // F) mod (A / F)),
    spatial = (p - p0)*Qacc + (q - q0): an F-vector of consecutive output channels uses F
    distinct bank lanes, consecutive pixels of an I-vector distinct spatial slots, and the
    k_local // F skew separates channels k and k + F.
    """
    wpos = wst.p * plan.Qacc + wst.q
    if kind == "linear":
        return ast.term, wst.kl * plan.Pacc * plan.Qacc - wpos, np.zeros_like(wst.kl), A, 1
    return ast.term, wst.kl // F - wpos, wst.kl % F, A // F, F
