"""Compressed format of the Eyeriss v2 PE: the CSC weight columns (and small array helpers: block sums).

Weights are stored as CSC, one column per (output-channel block of ``M0``, input channel, filter row,
filter column) -- depthwise: one per (channel, r, s) -- with the global output channel as row index
(accelerators.md 5.2).  Iacts are coded per padded position (``EyerissV2._prepare``: 2 non-zero,
1 zero, 0 padding never fed); their CSC sizes are counted from those codes.
"""

from __future__ import annotations

import numpy as np


def ceil_div(a, b):
    """ceil(a / b) for integers and integer arrays (an array over a power of two: by a shift)."""
    if isinstance(a, np.ndarray) and isinstance(b, int) and b > 0 and not b & (b - 1) \
            and np.issubdtype(a.dtype, np.integer):
        return (a + (b - 1)) >> (b.bit_length() - 1)
    return -(-a // b)


def weight_csc(wmask: np.ndarray, wvals: np.ndarray | None, M0: int, dw: bool):
    """CSC of the weights, one column per (m-block, c, r, s) (depthwise: per (c, r, s)).

    Returns (ptr, rows = global output channel, values); rows sorted within a column."""
    K, Cg, R, S = wmask.shape
    m, c, r, s = np.nonzero(wmask)
    if dw:
        keys = (m * R + r) * S + s
        ncol = K * R * S
    else:
        keys = (((m // M0) * Cg + c) * R + r) * S + s
        ncol = ceil_div(K, M0) * Cg * R * S
    order = np.lexsort((m, keys))
    ptr = np.zeros(ncol + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=ncol), out=ptr[1:])
    vals = wvals[m, c, r, s][order] if wvals is not None else np.ones(len(order))
    return ptr, m[order].astype(np.int64), np.ascontiguousarray(vals, dtype=np.float64)


def blocksum(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Sums of consecutive blocks of ``size`` along ``axis`` (the last block may be short); integer
    arrays (exact) through :func:`prefix_sum` and :func:`block_sums`."""
    if not np.issubdtype(x.dtype, np.integer):
        return np.add.reduceat(x, np.arange(0, x.shape[axis], size), axis=axis)
    return block_sums(prefix_sum(x, axis), size, axis)


def prefix_sum(x: np.ndarray, axis: int) -> np.ndarray:
    """int64 running sums along ``axis`` with a leading zero (length n + 1 there)."""
    x = np.asarray(x)
    shape = list(x.shape)
    shape[axis] = 1
    return np.concatenate([np.zeros(shape, dtype=np.int64), np.cumsum(x, axis=axis, dtype=np.int64)], axis=axis)


def block_sums(cs: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Sums of consecutive blocks of ``size`` from the :func:`prefix_sum` ``cs`` (the last block may be
    short): one subtraction per block, whatever the block size, so many sizes share one ``cs``."""
    n = cs.shape[axis] - 1
    starts = np.arange(0, n, size)
    return np.take(cs, np.minimum(starts + size, n), axis=axis) - np.take(cs, starts, axis=axis)
