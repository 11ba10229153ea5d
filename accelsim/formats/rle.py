"""Compressed formats the models share (Sparseloop names in brackets).

* :func:`rle_encode` [RLE]: values with an n-bit count of zeros before each
  one; a zero run longer than 2^n - 1 inserts an explicit zero entry (SCNN's
  4-bit indices, EIE's 4-bit relative row index, Eyeriss v2's zero counts).
* :func:`csc` [UOP + CP]: column pointers plus row indices and values.
* :func:`bitmap` [B]: one bit per position (Cambricon-X direct indexing).
* :func:`step_index`: distance to the previous non-zero (Cambricon-X step indexing).

All functions are vectorised numpy or Numba; counts are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit


@njit(cache=True)
def run_entries(run, max_run):
    """Stored entries for one non-zero after ``run`` zeros: the value plus a padding zero per full
    ``max_run + 1`` zeros (a run longer than the index field holds)."""
    return run // (max_run + 1) + 1


@njit(cache=True)
def rle_counts(nz_pos, length, max_run):
    """Number of stored entries (values + padding zeros) for non-zeros at sorted positions nz_pos."""
    n = 0
    prev = -1
    for p in nz_pos:
        n += run_entries(p - prev - 1, max_run)
        prev = p
    return n


@njit(cache=True)
def rle_fill(x_nz_pos, x_vals, max_run, out_vals, out_runs, out_pos):
    k = 0
    prev = -1
    for i in range(x_nz_pos.shape[0]):
        p = x_nz_pos[i]
        run = p - prev - 1
        while run > max_run:
            out_vals[k] = 0.0
            out_runs[k] = max_run
            out_pos[k] = prev + max_run + 1
            prev = prev + max_run + 1
            run -= max_run + 1
            k += 1
        out_vals[k] = x_vals[i]
        out_runs[k] = run
        out_pos[k] = p
        prev = p
        k += 1
    return k


@dataclass
class RLE:
    """Run-length-encoded vector: ``values[i]`` preceded by ``runs[i]`` zeros.

    ``positions[i]`` is the absolute index each entry decodes to; padding
    entries (value 0, inserted when a run exceeds ``2**index_bits - 1``) are
    counted in ``n_entries`` and flagged in ``is_padding``.
    """

    values: np.ndarray
    runs: np.ndarray
    positions: np.ndarray
    length: int
    index_bits: int

    @property
    def n_entries(self) -> int:
        return int(self.values.shape[0])

    @property
    def is_padding(self) -> np.ndarray:
        return self.values == 0

    @property
    def n_padding(self) -> int:
        return int(self.is_padding.sum())

    def decode(self) -> np.ndarray:
        out = np.zeros(self.length, dtype=self.values.dtype)
        out[self.positions] = self.values
        return out

    def storage_bits(self, value_bits: int) -> int:
        return self.n_entries * (value_bits + self.index_bits)


def rle_encode(x: np.ndarray, index_bits: int = 4) -> RLE:
    """Encode a 1-D vector with ``index_bits``-bit zero-run counts (padding zeros for long runs)."""
    x = np.asarray(x).ravel()
    max_run = (1 << index_bits) - 1
    pos = np.flatnonzero(x).astype(np.int64)
    n = rle_counts(pos, x.shape[0], max_run)
    vals = np.zeros(n, dtype=np.float64 if not np.issubdtype(x.dtype, np.floating) else x.dtype)
    runs = np.zeros(n, dtype=np.int64)
    out_pos = np.zeros(n, dtype=np.int64)
    rle_fill(pos, x[pos].astype(vals.dtype), max_run, vals, runs, out_pos)
    return RLE(vals, runs, out_pos, int(x.shape[0]), index_bits)


def rle_entry_count(mask_1d: np.ndarray, index_bits: int = 4) -> int:
    """Stored entries (non-zeros + padding zeros) of a 1-D non-zero pattern."""
    pos = np.flatnonzero(np.asarray(mask_1d).ravel()).astype(np.int64)
    return int(rle_counts(pos, int(np.asarray(mask_1d).size), (1 << index_bits) - 1))


@dataclass
class CSC:
    """Compressed sparse column: column j's entries are ``rows/values[ptr[j]:ptr[j+1]]``."""

    ptr: np.ndarray   # (n_cols + 1,) int64
    rows: np.ndarray  # (nnz,) int64
    values: np.ndarray
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        return int(self.ptr[-1])

    def col_counts(self) -> np.ndarray:
        return np.diff(self.ptr)

    def dense(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.values.dtype)
        cols = np.repeat(np.arange(self.shape[1]), np.diff(self.ptr))
        out[self.rows, cols] = self.values
        return out


def csc(m: np.ndarray) -> CSC:
    """CSC of a dense 2-D matrix (rows sorted within each column)."""
    m = np.asarray(m)
    cols, rows = np.nonzero(m.T)
    ptr = np.zeros(m.shape[1] + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=m.shape[1]), out=ptr[1:])
    return CSC(ptr, rows.astype(np.int64), m[rows, cols], (int(m.shape[0]), int(m.shape[1])))


def bitmap(mask: np.ndarray) -> np.ndarray:
    """Direct indexing: one bit per position, packed (bytes)."""
    return np.packbits(np.asarray(mask, dtype=bool).ravel())


def step_index(mask_1d: np.ndarray) -> np.ndarray:
    """Step indexing: distance of each non-zero to the previous one (first: distance from -1)."""
    pos = np.flatnonzero(np.asarray(mask_1d).ravel())
    return np.diff(np.concatenate([[-1], pos]))
