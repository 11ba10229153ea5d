"""SCNN's cycle loop (Numba) and accumulator bank hash (model docstring, section 4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

from ..common.planar import Plan
from .crossbar import XB_COUNT, XB_FIFO, XB_QUEUE, fifo_grant, xbar_state

if TYPE_CHECKING:
    from .formats import ActStreams, WeightStreams


# per-(round, PE) statistics returned by the kernel
ST_CYC, ST_STEPS, ST_STALL, ST_PROD, ST_OOP, ST_MASK, ST_EFF, ST_WRITE, ST_AREAD, ST_WLOAD, ST_GATED, \
    ST_IVEC, ST_PADP, ST_SKIPSTEP, ST_SKIPPROD, ST_MEMO = range(16)
N_ST = 16  # ST_MEMO: blocks repeated from the block memo (how the unit was walked, not what it did)
#: blocks with fewer products than this skip the block memo (``_scnn_units``)
MEMO_MIN_PRODUCTS = 64
#: coordinate sentinels that put every product of an RLE padding entry out of the plane
PAD_A, PAD_W = -(1 << 40), (1 << 40)
@njit(cache=True, inline="always")
def same_block(ab, ae, pab, pae, wb, we, pwb, pwe, a_p, a_q, a_term, w_p, w_q, w_term, w_lane):
    """Whether the (activation, weight) blocks [ab, ae) x [wb, we) and [pab, pae) x [pwb, pwe) issue the same
    products (positions, so the same out-of-plane and mask outcomes) to the same banks and lanes in the same
    order; the values may differ."""
    if ae - ab != pae - pab or we - wb != pwe - pwb:
        return False
    for j in range(ae - ab):
        if a_p[ab + j] != a_p[pab + j] or a_q[ab + j] != a_q[pab + j] or a_term[ab + j] != a_term[pab + j]:
            return False
    for j in range(we - wb):
        if (w_p[wb + j] != w_p[pwb + j] or w_q[wb + j] != w_q[pwb + j] or w_term[wb + j] != w_term[pwb + j]
                or w_lane[wb + j] != w_lane[pwb + j]):
            return False
    return True


@njit(cache=True)
def _scnn_units(u0, u1, round_tile, round_group, a_ptr, a_p, a_q, a_term, a_val, a_padcum, CV,
                w_ptr, w_p, w_q, w_k, w_term, w_lane, w_val, w_padcum, CVg, cv0,
                F, I, M, mult, P, Q, mask, has_mask, mask_skip, skip_steps, functional, out, fifo_entries,
                xmodel, depth, arb, memo, stats):
    """Walk the (round, PE) units ``u0 .. u1 - 1`` (unit u = round u // NPE, PE u % NPE), and in each its
    channels, I-vectors and F-vectors; count cycles per step.

    Bank of a product = ((a_term + w_term) mod M) * mult + w_lane (see ``bank_terms``).  The
    crossbar (``xmodel``, model docstring section 4): ``XB_STEP_MAX`` -- a step lasts
    max(products on one bank) cycles; ``XB_QUEUE`` -- per-bank queues of ``depth`` products
    draining one per cycle, a step issues once every bank's queue has room for its products
    (stall = the wait), the round ends when the queues are empty; ``XB_FIFO`` -- each of the
    F*I multipliers (lane = i*F + f) feeds its own output FIFO of ``depth`` products, walked
    cycle by cycle: a step issues in a cycle when no FIFO receiving one of its products is
    full, then every bank takes one FIFO head aimed at it (arbiter ``arb``, :func:`fifo_grant`);
    a cycle in which the next step cannot issue is a stall, and the round ends when the
    FIFOs are empty.  RLE padding entries carry sentinel coordinates (their products fall
    out of the plane) and are counted per block in closed form.  ``stats[r, pe]`` gets the
    counters ST_*; products aimed at masked-off outputs are gated when ``mask_skip``, and
    with ``skip_steps`` a step none of whose products lands on an active output is not
    issued (ST_SKIPSTEP / ST_SKIPPROD; its slots leave ST_STEPS / ST_PROD).  ``out``
    (K, P, Q) accumulates in functional mode.

    ``memo`` (timing only): a (channel, group) block that issues the same products to the same banks and lanes
    as the unit's previous block (:func:`same_block`: positions and bank terms, not values) and finds the
    crossbar in the state that block started in (:func:`crossbar.xbar_state`) runs exactly as that block ran:
    its counters are added again and the state stays put, without walking it.  Common where a gate zeroes the
    same pixels in every channel and the weights are dense; exact, proven equal to ``memo=False`` by
    tests/accelsim/test_fast_paths.py.
    """
    NR, NPE = round_tile.shape
    A = M * mult
    FI = F * I
    fifo = xmodel == XB_FIFO
    count_only = xmodel == XB_COUNT  # no crossbar: every counter but ST_STALL (ST_CYC = the steps)
    # products per bank in the current step: sc[b] = (step stamp << SC_SH) + count, stale stamps read as 0
    sc = np.zeros(A, dtype=np.int64)
    stamp = 0
    scs = 1
    while (1 << scs) <= FI:
        scs += 1
    occ = np.zeros(A, dtype=np.int64)
    last = np.zeros(A, dtype=np.int64)
    touched = np.zeros(FI, dtype=np.int64)
    # fifo model state: per-lane ring of bank numbers, per-bank round-robin pointer and scratch (bank A: a
    # dummy that empty lanes bid on)
    D = depth if fifo else 1
    fq = np.zeros((FI, D), dtype=np.int64)
    fh = np.zeros(FI, dtype=np.int64)
    fn = np.zeros(FI, dtype=np.int64)
    rr = np.zeros(A + 1, dtype=np.int64)
    best = np.zeros(A + 1, dtype=np.int64)
    hb = np.full(FI, A, dtype=np.int64)
    cst = 0
    sh = 1
    while (1 << sh) < FI:
        sh += 1
    cs = sh + 1
    while (1 << (cs - sh)) <= (D + 1) * FI:
        cs += 1
    cinc = 1 << cs
    lanes = np.zeros(FI, dtype=np.int64)
    lbank = np.zeros(FI, dtype=np.int64)
    pow2 = (M & (M - 1)) == 0
    mm = M - 1
    general = has_mask or functional
    # block memo: a (channel, group) block that issues what the previous block of the unit issued (same_block),
    # from the crossbar state that block started in, repeats its counters and leaves that state as it found it
    # (the previous block ended in the state it started in); functional mode sums values, so never there
    memo = memo and not functional
    s_fn = np.zeros(FI, dtype=np.int64)
    s_q = np.zeros((FI, D), dtype=np.int64)
    s_rr = np.zeros(A + 1, dtype=np.int64)
    s_occ = np.zeros(A, dtype=np.int64)
    d = np.zeros(14, dtype=np.int64)  # the previous block's counters (steps .. skpr in the order below)
    for u in range(u0, u1):
        r = u // NPE
        pe = u - r * NPE
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
        skst = 0
        skpr = 0
        nmemo = 0
        now = 0
        inq = 0
        if xmodel == XB_QUEUE:
            occ[:] = 0
            last[:] = 0
        elif fifo:
            rr[:] = 0  # arbiter pointers start at lane 0 in every round (FIFOs are empty)
            best[:] = 0
            cst = 0
        c0 = cv0[g]
        pvalid = False
        pab = pae = pwb = pwe = 0
        for cl in range(CVg):
            ab = a_ptr[t * CV + c0 + cl]
            ae = a_ptr[t * CV + c0 + cl + 1]
            wb = w_ptr[g * CVg + cl]
            we = w_ptr[g * CVg + cl + 1]
            if ab == ae or wb == we:
                continue
            # a block of few products costs about what its memo check would (a state copy per block)
            if memo and (ae - ab) * (we - wb) >= MEMO_MIN_PRODUCTS:
                if (pvalid and same_block(ab, ae, pab, pae, wb, we, pwb, pwe, a_p, a_q, a_term, w_p, w_q, w_term,
                                          w_lane)
                        and xbar_state(False, xmodel, fn, fh, fq, rr, occ, last, now, D, FI, A, s_fn, s_q, s_rr,
                                       s_occ)):
                    steps += d[0]
                    stall += d[1]
                    prod += d[2]
                    oop += d[3]
                    msk += d[4]
                    eff += d[5]
                    wr += d[6]
                    aread += d[7]
                    wload += d[8]
                    gated += d[9]
                    nivec += d[10]
                    padp += d[11]
                    skst += d[12]
                    skpr += d[13]
                    nmemo += 1
                    continue
                pvalid = xbar_state(True, xmodel, fn, fh, fq, rr, occ, last, now, D, FI, A, s_fn, s_q, s_rr,
                                    s_occ)
                pab, pae, pwb, pwe = ab, ae, wb, we
                d[0], d[1], d[2], d[3], d[4], d[5], d[6] = steps, stall, prod, oop, msk, eff, wr
                d[7], d[8], d[9], d[10], d[11], d[12], d[13] = aread, wload, gated, nivec, padp, skst, skpr
            else:
                pvalid = False
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
            # the block's weight offsets span [wpmin, wpmax] x [wqmin, wqmax] (RLE padding's sentinels included): an
            # I-vector whose pixels keep every offset inside the plane has only in-plane products, so without a
            # mask or functional sums its fifo steps need no per-product checks (``inside``)
            wpmin = wqmin = PAD_W
            wpmax = wqmax = PAD_A
            if (fifo or count_only) and not general:
                for ff in range(wb, we):
                    v = w_p[ff]
                    wpmin = v if v < wpmin else wpmin
                    wpmax = v if v > wpmax else wpmax
                    v = w_q[ff]
                    wqmin = v if v < wqmin else wqmin
                    wqmax = v if v > wqmax else wqmax
            for ib in range(ab, ae, I):
                ie = min(ib + I, ae)
                inside = (fifo or count_only) and not general
                if inside:
                    for ii in range(ib, ie):
                        ap = a_p[ii]
                        aq = a_q[ii]
                        if ap - wpmax < 0 or ap - wpmin >= P or aq - wqmax < 0 or aq - wqmin >= Q:
                            inside = False
                            break
                if inside and count_only:  # every product of the I-vector's steps in the plane and effectual
                    eff += (ie - ib) * (we - wb)
                    wr += (ie - ib) * (we - wb)
                    continue
                for fb in range(wb, we, F):
                    fe = min(fb + F, we)
                    stamp += 1
                    base = stamp << scs
                    mx = 1
                    nt = 0
                    nl = 0
                    s_oop = 0
                    s_msk = 0
                    s_pad = 0
                    if inside:  # every product in the plane and counted effectual: only its lane and bank
                        for ii in range(ib, ie):
                            at = a_term[ii]
                            l0 = (ii - ib) * F - fb
                            for ff in range(fb, fe):
                                x = at + w_term[ff]
                                lanes[nl] = l0 + ff
                                lbank[nl] = ((x & mm) if pow2 else (x % M)) * mult + w_lane[ff]
                                nl += 1
                        eff += nl
                    for ii in range(ib, ib if inside else ie):
                        ap = a_p[ii]
                        aq = a_q[ii]
                        at = a_term[ii]
                        l0 = (ii - ib) * F - fb
                        for ff in range(fb, fe):
                            p = ap - w_p[ff]
                            q = aq - w_q[ff]
                            if p < 0 or p >= P or q < 0 or q >= Q:
                                s_oop += 1
                                if ap == PAD_A or w_p[ff] == PAD_W:
                                    s_pad += 1
                                continue
                            if general:
                                if has_mask and not mask[p, q]:
                                    s_msk += 1
                                    if mask_skip:
                                        continue
                                else:
                                    eff += 1
                                if functional:
                                    out[w_k[ff], p, q] += a_val[ii] * w_val[ff]
                            else:
                                eff += 1
                            if count_only:
                                nl += 1
                                continue
                            x = at + w_term[ff]
                            b = ((x & mm) if pow2 else (x % M)) * mult + w_lane[ff]
                            if not fifo:
                                # products per bank in this step (branch-free: a stale stamp reads as 0)
                                v = sc[b]
                                v = v + 1 if v >= base else base + 1
                                sc[b] = v
                                c = v - base
                                touched[nt] = b
                                nt += c == 1
                                mx = c if c > mx else mx
                            lanes[nl] = l0 + ff
                            lbank[nl] = b
                            nl += 1
                    s_wr = nl
                    if skip_steps and s_wr == 0:
                        # no product of this step lands on an active output: not issued
                        skst += 1
                        skpr += (ie - ib) * (fe - fb)
                        padp -= s_pad
                        continue
                    oop += s_oop
                    msk += s_msk
                    if mask_skip:
                        gated += s_msk
                    wr += s_wr
                    if fifo:
                        fast = False
                        if inq == 0:
                            # empty FIFOs and one product per bank -> every product is granted in the cycle it
                            # is made (what the general path below computes); only the arbiters' pointers move
                            fast = True
                            for j in range(nl):
                                b = lbank[j]
                                if sc[b] >= base:
                                    fast = False
                                    break
                                sc[b] = base + 1
                        if fast:
                            for j in range(nl):
                                m = lanes[j] + 1
                                rr[lbank[j]] = m if m < FI else 0
                            continue
                        # wait until every FIFO receiving a product has room, then issue
                        while True:
                            full = False
                            for j in range(nl):
                                if fn[lanes[j]] >= D:
                                    full = True
                                    break
                            if not full:
                                break
                            cst += cinc
                            inq -= fifo_grant(fq, fh, fn, hb, FI, D, A, arb, rr, best, cst, sh)
                            stall += 1
                        for j in range(nl):
                            m = lanes[j]
                            n = fn[m]
                            e = fh[m] + n
                            if e >= D:
                                e -= D
                            b = lbank[j]
                            fq[m, e] = b
                            if n == 0:
                                hb[m] = b
                            fn[m] = n + 1
                        inq += nl
                        cst += cinc
                        inq -= fifo_grant(fq, fh, fn, hb, FI, D, A, arb, rr, best, cst, sh)
                    elif xmodel == XB_QUEUE:
                        wait = 0
                        for j in range(nt):
                            b = touched[j]
                            o = occ[b] - (now - last[b])
                            if o < 0:
                                o = 0
                            cb = sc[b] - base
                            lim = depth if depth > cb else cb
                            if o + cb - lim > wait:
                                wait = o + cb - lim
                        now += wait
                        stall += wait
                        for j in range(nt):
                            b = touched[j]
                            o = occ[b] - (now - last[b])
                            if o < 0:
                                o = 0
                            occ[b] = o + sc[b] - base
                            last[b] = now
                        now += 1
                    else:
                        stall += mx - 1
            if pvalid:  # this block's counters
                d[0], d[1], d[2], d[3], d[4], d[5], d[6] = (steps - d[0], stall - d[1], prod - d[2], oop - d[3],
                                                            msk - d[4], eff - d[5], wr - d[6])
                d[7], d[8], d[9], d[10], d[11], d[12], d[13] = (aread - d[7], wload - d[8], gated - d[9],
                                                                nivec - d[10], padp - d[11], skst - d[12],
                                                                skpr - d[13])
        if xmodel == XB_QUEUE:  # drain the queues before the barrier
            tail = 0
            for b in range(A):
                o = occ[b] - (now - last[b])
                if o > tail:
                    tail = o
            stall += tail
        elif fifo:  # drain the FIFOs before the barrier
            while inq > 0:
                cst += cinc
                inq -= fifo_grant(fq, fh, fn, hb, FI, D, A, arb, rr, best, cst, sh)
                stall += 1
        st = stats[r, pe]
        steps -= skst
        prod -= skpr
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
        st[ST_SKIPSTEP] = skst
        st[ST_SKIPPROD] = skpr
        st[ST_MEMO] = nmemo


@njit(cache=True)
def scnn_kernel(round_tile, round_group, a_ptr, a_p, a_q, a_term, a_val, a_padcum, CV,
                w_ptr, w_p, w_q, w_k, w_term, w_lane, w_val, w_padcum, CVg, cv0,
                F, I, M, mult, P, Q, mask, has_mask, mask_skip, skip_steps, functional, out, fifo_entries,
                xmodel, depth, arb, memo, stats):
    """:func:`_scnn_units` on every (round, PE), in order, on one thread (the functional mode: ``out`` is a
    float sum over PEs whose halos overlap, so its order is kept)."""
    NR, NPE = round_tile.shape
    _scnn_units(0, NR * NPE, round_tile, round_group, a_ptr, a_p, a_q, a_term, a_val, a_padcum, CV,
                w_ptr, w_p, w_q, w_k, w_term, w_lane, w_val, w_padcum, CVg, cv0,
                F, I, M, mult, P, Q, mask, has_mask, mask_skip, skip_steps, functional, out, fifo_entries,
                xmodel, depth, arb, memo, stats)


#: (round, PE) units per block of :func:`scnn_kernel_parallel` (at most UNIT_BLOCKS blocks; a fixed split)
UNIT_BLOCKS = 256


@njit(cache=True, parallel=True)
def scnn_kernel_parallel(round_tile, round_group, a_ptr, a_p, a_q, a_term, a_val, a_padcum, CV,
                         w_ptr, w_p, w_q, w_k, w_term, w_lane, w_val, w_padcum, CVg, cv0,
                         F, I, M, mult, P, Q, mask, has_mask, mask_skip, skip_steps, fifo_entries,
                         xmodel, depth, arb, memo, stats):
    """:func:`scnn_kernel` without the functional mode, its (round, PE) units in contiguous blocks run in
    parallel (``prange``), each block with its own scratch.  A unit's counters depend on its own round and PE
    only (queues, FIFOs and arbiter pointers start empty; stamps only compare within a step), and each writes
    its own ``stats[r, pe]`` row, so the stats are the serial kernel's for any thread count."""
    NR, NPE = round_tile.shape
    n = NR * NPE
    nb = min(n, UNIT_BLOCKS)
    dummy = np.zeros((1, 1, 1))
    for b in prange(nb):
        _scnn_units(b * n // nb, (b + 1) * n // nb, round_tile, round_group, a_ptr, a_p, a_q, a_term, a_val,
                    a_padcum, CV, w_ptr, w_p, w_q, w_k, w_term, w_lane, w_val, w_padcum, CVg, cv0,
                    F, I, M, mult, P, Q, mask, has_mask, mask_skip, skip_steps, False, dummy, fifo_entries,
                    xmodel, depth, arb, memo, stats)


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
