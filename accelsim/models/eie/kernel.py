"""EIE's Numba kernels: the per-cycle stepper :func:`run_jobs`, the exact event form
:func:`run_jobs_event` (default; same results, tested equal) and the functional walk
:func:`functional_spmv` (see the package docstring, "Cycle model")."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _read_lines(p, first, last, lastline, out_pe):
    """PE p streams a column whose entries lie on Spmat lines first..last: count the line reads (a line
    register keeps the last line, so a column starting in it does not re-read it)."""
    out_pe[5, p] += last - first + 1 - (1 if first == lastline[p] else 0)
    lastline[p] = last


@njit(cache=True)
def _load_column(p, q, c, cnt, lf, ll, rem, cur_empty, lastline, out_pe):
    """The pointer register takes column c (popped this cycle): it streams max(1, entries) cycles from the
    next cycle; count its entries and Spmat line reads (:func:`_read_lines`)."""
    e = cnt[q, c, p]
    if e > 0:
        rem[p] = e
        cur_empty[p] = False
        out_pe[7, p] += e
        _read_lines(p, lf[q, c, p], ll[q, c, p], lastline, out_pe)
    else:
        rem[p] = 1
        cur_empty[p] = True


@njit(cache=True)
def run_jobs(cnt, lf, ll, seq, seq_off, bub, job_pass, fifo_depth, out_pe, out_g):
    """Cycle-by-cycle simulation of a list of jobs (one SpMV pass each), back to back
    (the caller adds ``pass_overhead_cycles`` between jobs).

    Queue semantics of the authors' C++ model (RalphMao/EIE-simulator, see the package docstring):
    the FIFO holds ``fifo_depth`` activations, their ring of ``NZFETCH_buffersize`` = depth + 1 slots
    (``src/nzfetch.cpp`` at commit 04364e3c: l. 12 ``buffer_size = NZFETCH_buffersize``, l. 38-40
    ``full = (pos_write + 1) % buffer_size == pos_read``, ``empty = pos_write == pos_read``, ``one_full``);
    the broadcast is refused while any FIFO was full at the start of the cycle (l. 71 ``write_enable =
    find && !one_full``).  The PE's pointer register *is* the column being streamed (``src/ptrvec.cpp``,
    the version with the ``read_enable`` / ``read_times`` pointer-read counter: l. 63 ``valid = !(index_even
    == index_odd || empty)``, l. 72-73 ``patch_complete = current_addr == end_addr; read_ptr = !valid ||
    patch_complete``, l. 79-86 the register loads the FIFO head when ``read_ptr``), and the FIFO pops
    only then (``nzfetch.cpp`` l. 95 ``if (!empty[i] && *(read_ptr[i]))``): when the register is idle, its
    column is empty, or on its column's last entry.  The popped column streams from the next cycle
    (its pointers are read in that cycle, ``ptrvec.cpp`` l. 50-53), ``max(1, entries)`` cycles.

    cnt, lf, ll (n_pass, n_cols, N): entries of each column in each PE and the Spmat lines of its
    first and last entry (:meth:`EIEMatrix.stream_tables`); seq[seq_off[j]:seq_off[j+1]] the
    broadcast column order of job j, bub the LNZD bubbles before each item; job_pass[j] its pass.
    out_pe (8, N) accumulates per PE: 0 busy, 1 empty_column, 2 idle_fifo_empty,
    3 idle_tail, 4 pops, 5 spmat line reads, 6 (unused), 7 entries.
    out_g (6,): 0 cycles, 1 broadcast stall, 2 LNZD bubbles, 3 max FIFO occupancy (over PEs and
    cycles), 4 broadcasts, 5 jobs.  Returns total cycles.
    """
    N = cnt.shape[2]
    popped = np.zeros(N, dtype=np.int64)
    rem = np.zeros(N, dtype=np.int64)       # pointer register: cycles left on its column, this one included
    cur_empty = np.zeros(N, dtype=np.bool_)
    lastline = np.zeros(N, dtype=np.int64)
    total = 0
    for j in range(seq_off.shape[0] - 1):
        q = job_pass[j]
        s0 = seq_off[j]
        B = seq_off[j + 1] - s0
        for p in range(N):
            popped[p] = 0
            rem[p] = 0
            lastline[p] = -1
        b = 0
        pend = bub[s0] if B > 0 else 0
        t = 0
        n_done = 0
        while True:
            # start-of-cycle state: FIFO occupancy b - popped (the column in the pointer register is not in it)
            full = False
            for p in range(N):
                occ = b - popped[p]
                if occ >= fifo_depth:
                    full = True
                if occ > out_g[3]:
                    out_g[3] = occ
            n_done = 0
            for p in range(N):
                if rem[p] > 0:                   # one entry of the register's column (or its empty cycle)
                    rem[p] -= 1
                    if cur_empty[p]:
                        out_pe[1, p] += 1
                    else:
                        out_pe[0, p] += 1
                elif popped[p] == B:
                    out_pe[3, p] += 1
                else:
                    out_pe[2, p] += 1
                # read_ptr: idle, empty column, or last entry -> pop the head (pushed in an earlier cycle)
                if rem[p] == 0 and popped[p] < b:
                    c = seq[s0 + popped[p]]
                    popped[p] += 1
                    out_pe[4, p] += 1
                    _load_column(p, q, c, cnt, lf, ll, rem, cur_empty, lastline, out_pe)
                if popped[p] == B and rem[p] == 0:
                    n_done += 1
            # LNZD / broadcast (visible to the PEs next cycle)
            if b < B:
                if pend > 0:
                    pend -= 1
                    out_g[2] += 1
                elif full:
                    out_g[1] += 1
                else:
                    b += 1
                    out_g[4] += 1
                    if b < B:
                        pend = bub[s0 + b]
            t += 1
            if b == B and n_done == N:
                break
        total += t
        out_g[5] += 1
    out_g[0] += total
    return total


@njit(cache=True)
def run_jobs_event(cnt, lf, ll, seq, seq_off, bub, job_pass, fifo_depth, out_pe, out_g):
    """Same machine and outputs as :func:`run_jobs`, computed per (PE, broadcast item)
    instead of per (PE, cycle): exact recurrences of the cycle rules (tested equal).

    For item k: broadcast cycle B_k = max(B_{k-1} + 1 + bubbles_k, max_p P_{p,k-depth} + 1)
    (the FIFO has room once item k-depth was popped in an earlier cycle); per PE p the pop
    into the pointer register P_k = max(B_k + 1, F_{k-1}) (the register asks for the next column
    in its current column's last cycle F_{k-1}, or at once when idle); the column streams
    P_k + 1 .. F_k = P_k + max(1, e_k); the job ends at max_p F_{p,last} + 1.

    The largest FIFO occupancy over PEs right after push k is k + 1 minus the number of items every
    PE has popped by B_k, i.e. the items j with M_j = max_p P_{p,j} <= B_k (pops are in order, so the
    PE with the fewest pops has popped exactly those), one pointer over M instead of one per PE.
    The per-PE loop has no division and no inner loop, so it vectorises.
    """
    N = cnt.shape[2]
    R = 1                                        # ring of M_j = max_p P_{p,j}, >= depth + 2, power of 2
    while R < fifo_depth + 2:
        R *= 2
    MASK = R - 1
    Mr = np.zeros(R, dtype=np.int64)
    Fl = np.zeros(N, dtype=np.int64)            # F_{k-1}: last cycle of the register's column
    lastline = np.zeros(N, dtype=np.int64)
    busy = np.zeros(N, dtype=np.int64)
    empt = np.zeros(N, dtype=np.int64)
    lines = np.zeros(N, dtype=np.int64)
    occ_max = out_g[3]
    total = 0
    for j in range(seq_off.shape[0] - 1):
        q = job_pass[j]
        s0 = seq_off[j]
        B = seq_off[j + 1] - s0
        if B == 0:                               # nothing to broadcast: one scan cycle (as the stepper)
            for p in range(N):
                out_pe[3, p] += 1
            total += 1
            out_g[5] += 1
            continue
        for p in range(N):
            Fl[p] = -(1 << 40)
            lastline[p] = -1
            busy[p] = 0
            empt[p] = 0
        Bl = -1
        g = 0                                    # items popped by every PE by the latest push
        for k in range(B):
            c = seq[s0 + k]
            b0 = Bl + 1 + bub[s0 + k]
            bk = b0
            if k >= fifo_depth:
                v = Mr[(k - fifo_depth) & MASK] + 1
                if v > bk:
                    bk = v
            out_g[1] += bk - b0
            while g < k and Mr[g & MASK] <= bk:
                g += 1
            if k + 1 - g > occ_max:
                occ_max = k + 1 - g
            mx = -(1 << 40)
            for p in range(N):
                pk = bk + 1
                f = Fl[p]
                if f > pk:
                    pk = f
                e = cnt[q, c, p]
                if e > 0:
                    busy[p] += e
                    first = lf[q, c, p]
                    lines[p] += ll[q, c, p] - first + (0 if first == lastline[p] else 1)
                    lastline[p] = ll[q, c, p]
                    Fl[p] = pk + e
                else:
                    empt[p] += 1
                    Fl[p] = pk + 1
                if pk > mx:
                    mx = pk
            Mr[k & MASK] = mx
            out_g[2] += bub[s0 + k]
            Bl = bk
        T = 0
        for p in range(N):
            if Fl[p] + 1 > T:
                T = Fl[p] + 1
        for p in range(N):
            tail = T - (Fl[p] + 1)
            out_pe[0, p] += busy[p]
            out_pe[1, p] += empt[p]
            out_pe[2, p] += T - tail - busy[p] - empt[p]            # waiting on the FIFO
            out_pe[3, p] += tail
            out_pe[4, p] += B
            out_pe[7, p] += busy[p]
        out_g[4] += B
        total += T
        out_g[5] += 1
    for p in range(N):
        out_pe[5, p] += lines[p]
    out_g[3] = occ_max
    out_g[0] += total
    return total


@njit(cache=True, parallel=True)
def run_units(cnt, lf, ll, seq, seq_off, bub, job_pass, depth, unit_off, event, out_pe, out_g):
    """The timing kernel on independent work units in parallel (``prange``): unit u is the jobs
    ``unit_off[u]:unit_off[u + 1]``, run back to back into its own accumulators ``out_pe[u]`` (8, N) and
    ``out_g[u]`` (6,) (zeros on entry).  Every job starts from an empty machine (see
    :mod:`accelsim.models.eie.sampling`), so a unit's rows depend on its own jobs only; the caller sums
    the rows (integers) after the loop, the same for any thread count."""
    for u in prange(out_pe.shape[0]):
        j0 = unit_off[u]
        j1 = unit_off[u + 1]
        so = seq_off[j0:j1 + 1]
        jp = job_pass[j0:j1]
        if event:
            run_jobs_event(cnt, lf, ll, seq, so, bub, jp, depth, out_pe[u], out_g[u])
        else:
            run_jobs(cnt, lf, ll, seq, so, bub, jp, depth, out_pe[u], out_g[u])


def unit_blocks(n_jobs: int, n_blocks: int = 64) -> np.ndarray:
    """``unit_off`` of :func:`run_units` cutting ``n_jobs`` jobs into at most ``n_blocks`` contiguous blocks
    (a fixed split, whatever the thread count)."""
    nb = max(1, min(n_jobs, n_blocks))
    return (np.arange(nb + 1, dtype=np.int64) * n_jobs) // nb


@njit(cache=True)
def functional_spmv(ptr, base, row, value, seq, seq_off, acts, act_off, job_pass, rows_per_pass, n_out, out):
    """Walk the stored entries of every broadcast column: out[j, row] += value * a_j (float64)."""
    N = ptr.shape[1]
    for j in range(seq_off.shape[0] - 1):
        q = job_pass[j]
        for i in range(seq_off[j], seq_off[j + 1]):
            c = seq[i]
            a = acts[act_off[j] + c]
            for p in range(N):
                s = base[q, p]
                for e in range(ptr[q, p, c], ptr[q, p, c + 1]):
                    g = (q * rows_per_pass + row[s + e]) * N + p
                    if g < n_out:
                        out[j, g] += value[s + e] * a

