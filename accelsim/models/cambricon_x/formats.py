"""Cambricon-X weight index formats: direct (an L-bit mask per map) and step (``step_bits``
distances, with padding entries for longer gaps), built from the layer's real pruned weights."""

from __future__ import annotations

import numpy as np
from numba import njit

from ...formats.rle import rle_counts, rle_fill
from ..common.weight_walk import weights_csr

#: actions of the indexing module that decodes these formats (neuron select at each data width, step
#: prefix-sum add, mask scan)
IM_ACTIONS = ("im_select_8b", "im_select_16b", "im_select_32b", "im_step_add", "im_direct_scan_bit")


@njit(cache=True)
def _step_entries(row_ptr, nz_pos, max_run):
    """Step-indexed entries of every map (CSR rows): ptr, positions, source index (-1 = padding)."""
    K = row_ptr.shape[0] - 1
    ptr = np.zeros(K + 1, np.int64)
    for k in range(K):
        ptr[k + 1] = ptr[k] + rle_counts(nz_pos[row_ptr[k]:row_ptr[k + 1]], 0, max_run)
    n = ptr[K]
    tag = np.zeros(n, np.float64)
    runs = np.zeros(n, np.int64)
    pos = np.zeros(n, np.int64)
    for k in range(K):
        a, b = row_ptr[k], row_ptr[k + 1]
        idx = np.arange(a, b).astype(np.float64) + 1.0  # padding entries come back as 0
        rle_fill(nz_pos[a:b], idx, max_run, tag[ptr[k]:ptr[k + 1]], runs[ptr[k]:ptr[k + 1]],
                  pos[ptr[k]:ptr[k + 1]])
    src = np.empty(n, np.int64)
    for i in range(n):
        src[i] = np.int64(tag[i]) - 1
    return ptr, pos, src


class Compressed:
    """One layer's weights in a Cambricon-X index format (maps = CSR rows of length L).

    ``ptr/pos/val/pad``: entries of each output map (positions in the reduction
    index, values, padding flag).  ``nnz_per_map``: real non-zeros per map.
    Storage in bits: values ``value_bits`` each plus the format's index bits.
    """

    def __init__(self, fmt, K, L, ptr, pos, val, pad, nnz_per_map, value_bits, step_bits):
        self.fmt, self.K, self.L = fmt, K, L
        self.ptr, self.pos, self.val, self.pad = ptr, pos, val, pad
        self.nnz_per_map = nnz_per_map
        self.value_bits, self.step_bits = value_bits, step_bits

    @property
    def entries_per_map(self) -> np.ndarray:
        return np.diff(self.ptr)

    def map_bits(self) -> np.ndarray:
        """Storage bits per map: values + index (direct: L-bit mask; step: step_bits per entry)."""
        e = self.entries_per_map
        if self.fmt == "direct":
            return e * self.value_bits + self.L
        return e * (self.value_bits + self.step_bits)

    def map_bytes(self) -> np.ndarray:
        return -(-self.map_bits() // 8)

    def dense_weights(self) -> np.ndarray:
        out = np.zeros((self.K, self.L))
        rows = np.repeat(np.arange(self.K), self.entries_per_map)
        out[rows, self.pos] = self.val
        return out


def compress(inst, fmt: str, value_bits: int = 16, step_bits: int = 8, csr=None) -> Compressed:
    """Compress the layer's weights in ``fmt`` ('direct' or 'step'), from the real pruned pattern (``csr``: the
    layer's :func:`weights_csr`, when the caller already has it)."""
    K, L, ptr, pos, vals = weights_csr(inst) if csr is None else csr
    nnz = np.diff(ptr)
    if fmt == "direct":
        return Compressed(fmt, K, L, ptr, pos, vals, np.zeros(pos.shape[0], bool), nnz, value_bits, step_bits)
    sptr, spos, src = _step_entries(ptr, pos, (1 << step_bits) - 1)
    pad = src < 0
    sval = np.where(pad, 0.0, vals[np.maximum(src, 0)]) if src.size else np.zeros(0)
    return Compressed(fmt, K, L, sptr, spos, sval, pad, nnz, value_bits, step_bits)

