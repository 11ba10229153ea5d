"""SCALE-Sim's mapping of a GEMM onto the array: (Sr, Sc, T) per dataflow, fold counts, N:M condensed rows."""

from __future__ import annotations

import numpy as np

from ...errors import AccelsimError
from .kernel import fold_walk

DATAFLOWS = ("os", "ws", "is")


def fold_counts(df: str, Sr: int, Sc: int, T: int, H: int, W: int) -> tuple[int, int]:
    """(folds, compute cycles as SCALE-Sim reports them) of one GEMM with ideal memory."""
    v = fold_walk(DATAFLOWS.index(df), Sr, Sc, T, H, W, 1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, True)
    return int(v[0]), int(v[0] * v[1] - 1)


def gemm_dims(df: str, M: int, Kw: int, Kf: int) -> tuple[int, int, int]:
    """(Sr, Sc, T) of SCALE-Sim's mapping of GEMM (M x Kw) @ (Kw x Kf) under dataflow df."""
    if df == "os":
        return M, Kf, Kw
    if df == "ws":
        return Kw, Kf, M
    return Kw, M, Kf


def condensed_rows(wmat: np.ndarray, n: int, m: int, layer: str = "?") -> int:
    """Rows of the N:M-condensed filter operand (SCALE-Sim v3, OptimizedMapping false).

    ``wmat`` is the (Kw, Kf) filter operand (any dtype; non-zero = kept).  Each block of m
    reduction rows keeps n slots per column (padding when fewer non-zeros); trailing rows
    that are padding in every column are dropped.  More than n non-zeros in a block is an
    error (SCALE-Sim asserts).
    """
    Kw, Kf = wmat.shape
    nb = -(-Kw // m)
    nz = np.zeros((nb * m, Kf), dtype=bool)
    nz[:Kw] = wmat != 0
    per_block = nz.reshape(nb, m, Kf).sum(axis=1)  # (blocks, filters)
    if per_block.max(initial=0) > n:
        b, k = np.unravel_index(int(per_block.argmax()), per_block.shape)
        raise AccelsimError(f"layer {layer!r}: weights are not {n}:{m} sparse (filter {k}, reduction rows "
                            f"{b * m}..{b * m + m - 1} hold {int(per_block[b, k])} non-zeros)")
    used = np.nonzero(per_block.max(axis=1) > 0)[0]
    if used.size == 0:
        return 0
    last = int(used[-1])
    return last * n + int(per_block[last].max())
