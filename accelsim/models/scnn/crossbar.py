"""SCNN's crossbar between the multipliers and the accumulator banks as kernel state (model docstring, section
4): the conflict-model and arbiter codes, one cycle of the ``fifo`` model (:func:`fifo_grant`) and the state
that decides every later cycle (:func:`xbar_state`)."""

from __future__ import annotations

from numba import njit

#: ``accumulator.conflict_model`` codes of the kernel; ``XB_COUNT`` is no config value: the kernel then walks no
#: crossbar and counts every counter but the stalls (:mod:`.barrier`'s cheap pass over every unit)
XB_STEP_MAX, XB_QUEUE, XB_FIFO, XB_COUNT = 0, 1, 2, 3
XBAR_CODES = {"step_max": XB_STEP_MAX, "queue": XB_QUEUE, "fifo": XB_FIFO}
#: ``accumulator.arbitration`` codes (fifo model)
ARB_LQF, ARB_RR, ARB_FIXED = 0, 1, 2
ARB_CODES = {"longest_queue": ARB_LQF, "round_robin": ARB_RR, "fixed_priority": ARB_FIXED}


@njit(cache=True, inline="always")
def fifo_grant(fq, fh, fn, hb, FI, D, A, arb, rr, best, cst, sh):
    """One crossbar cycle of the ``fifo`` model: every bank grants one of the FIFO heads aimed at it;
    granted heads leave their FIFOs.  ``arb``: ``ARB_LQF`` the head whose FIFO holds the most products
    (ties round robin), ``ARB_RR`` round robin (the first lane at or after the bank's pointer,
    cyclically; the pointer moves past the winner), ``ARB_FIXED`` the lowest lane.  ``fq[m, :]`` is
    lane m's ring of bank numbers, ``fh`` its head, ``fn`` its fill, ``hb`` the bank of its head (``A``,
    a dummy bank no one grants, for an empty lane); ``rr`` the banks' round-robin pointers (``A + 1``);
    ``best`` per-bank scratch: the best bid of the cycle; ``cst`` the cycle's stamp (a multiple of a power of
    two above every ``key << sh | lane``, growing every cycle, so a bid of an earlier cycle always loses);
    ``sh`` bits hold a lane number.  Returns the products that left.

    A lane's priority key at its head's bank is unique among the lanes aimed at that bank (it
    contains the lane's distance from the bank's pointer, or the lane itself), so the winner is
    the bid ``key << sh | lane`` with the largest value, found without branches in one pass over
    the lanes (empty lanes bid on the dummy bank); the grants of different banks touch different
    lanes and pointers, so their order does not matter."""
    lm = (1 << sh) - 1
    for m in range(FI):
        b = hb[m]
        if arb == ARB_FIXED:
            key = FI - 1 - m
        else:
            d = m - rr[b]
            if d < 0:
                d += FI
            key = FI - 1 - d
            if arb == ARB_LQF:
                key += fn[m] * FI
        v = cst | (key << sh) | m
        cur = best[b]
        best[b] = v if v > cur else cur
    nb = 0
    for m in range(FI):
        b = hb[m]
        if b < A and (best[b] & lm) == m:
            h = fh[m] + 1
            if h == D:
                h = 0
            fh[m] = h
            n = fn[m] - 1
            fn[m] = n
            hb[m] = fq[m, h] if n > 0 else A
            rr[b] = m + 1 if m + 1 < FI else 0
            nb += 1
    return nb


@njit(cache=True, inline="always")
def xbar_state(save, xmodel, fn, fh, fq, rr, occ, last, now, D, FI, A, s_fn, s_q, s_rr, s_occ):
    """The crossbar state that decides every later cycle: ``XB_FIFO`` each lane's FIFO contents in order
    (``fn``, ``fq`` from ``fh``) and the banks' arbiter pointers ``rr``; ``XB_QUEUE`` each bank queue's
    occupancy at cycle ``now``; ``XB_STEP_MAX`` none.  Copied into ``s_*`` when ``save`` (returns True), else
    compared with them (True: equal).  Stamps (``best``, ``sc``) and clocks are not state: they only order
    bids within one cycle or one step."""
    if xmodel == XB_FIFO:
        for m in range(FI):
            n = fn[m]
            if save:
                s_fn[m] = n
            elif s_fn[m] != n:
                return False
            e = fh[m]
            for j in range(n):
                if save:
                    s_q[m, j] = fq[m, e]
                elif s_q[m, j] != fq[m, e]:
                    return False
                e += 1
                if e == D:
                    e = 0
        for b in range(A + 1):
            if save:
                s_rr[b] = rr[b]
            elif s_rr[b] != rr[b]:
                return False
    elif xmodel == XB_QUEUE:
        for b in range(A):
            o = occ[b] - (now - last[b])
            if o < 0:
                o = 0
            if save:
                s_occ[b] = o
            elif s_occ[b] != o:
                return False
    return True
