"""Numba kernels of the Cambricon-X cycle walk: IM chunking per map and the PE schedule."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def map_cycles(ptr, pos, tm, window):
    """Cycles per output neuron of each map: greedy IM chunks of <= tm entries within ``window`` neurons."""
    K = ptr.shape[0] - 1
    cyc = np.zeros(K, np.int64)
    for k in range(K):
        i = ptr[k]
        end = ptr[k + 1]
        c = 0
        while i < end:
            lim = pos[i] + window
            j = i + 1
            while j < end and j - i < tm and pos[j] < lim:
                j += 1
            c += 1
            i = j
        cyc[k] = c
    return cyc


@njit(cache=True)
def timeline(map_cyc, active, n_pe, lockstep):
    """Walk (block, position) steps; returns per-PE busy cycles and the lockstep time (cycles)."""
    K = map_cyc.shape[0]
    nb = (K + n_pe - 1) // n_pe
    pe = np.zeros(n_pe, np.int64)
    t_lock = 0
    for kb in range(nb):
        for pq in range(active.shape[0]):
            if not active[pq]:
                continue
            gmax = 0
            for i in range(n_pe):
                k = kb * n_pe + i
                if k < K:
                    c = map_cyc[k]
                    pe[i] += c
                    if c > gmax:
                        gmax = c
            if lockstep:
                t_lock += gmax
    return pe, t_lock

