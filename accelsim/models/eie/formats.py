"""EIE's storage format: :class:`EIEMatrix` (per-PE CSC with 4-bit relative row indices and padding
entries), its encoders (from COO non-zeros, a dense matrix or the authors' dump), magnitude pruning,
k-means weight sharing and seeded synthetic matrices (see the package docstring, "Storage")."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

from ...errors import AccelsimError

ENTRY_BITS = 8         # 4-bit code + 4-bit relative row index


@dataclass
class EIEMatrix:
    """Per-PE CSC of one FC matrix (K outputs x C inputs, + bias column) in EIE's layout.

    Flat arrays are ordered (pass, PE, column, entry); ``ptr[q, p]`` (n_cols + 1,) are
    offsets into the (pass q, PE p) segment starting at ``base[q, p]``.  ``row`` is the
    decoded local row within the pass (padding entries included, value 0);
    ``code`` is the 4-bit codebook index (-1 when the weights are not shared, then
    ``value`` keeps the exact weight); ``value`` = codebook[code] otherwise.
    """

    n_pe: int
    n_out: int
    n_in: int
    has_bias: bool
    rows_per_pass: int
    ptr: np.ndarray      # (n_pass, n_pe, n_cols + 1) int64
    base: np.ndarray     # (n_pass, n_pe) int64
    row: np.ndarray      # (entries,) int32 local row within the pass
    run: np.ndarray      # (entries,) int16 zero run before the entry (index_bits wide)
    code: np.ndarray     # (entries,) int16 codebook index, -1 = unshared
    value: np.ndarray    # (entries,) float64
    codebook: np.ndarray | None = None
    index_bits: int = 4
    source: str = "built"
    meta: dict = field(default_factory=dict)

    @property
    def n_pass(self) -> int:
        return int(self.ptr.shape[0])

    @property
    def n_cols(self) -> int:
        return self.n_in + int(self.has_bias)

    @property
    def n_entries(self) -> int:
        return int(self.row.shape[0])

    @property
    def n_padding(self) -> int:
        return int(self.meta.get("n_padding", int((self.value == 0).sum())))

    def counts(self) -> np.ndarray:
        """Entries per (pass, PE, column), int32."""
        return np.diff(self.ptr, axis=2).astype(np.int32)

    def stream_tables(self, line_entries: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the timing kernels read per (pass, column, PE), PE fastest (int32, cached per line width):
        entries, and the Spmat lines holding the column's first and last entry (``line_entries`` entries
        per line; the last-line value is unused for an empty column)."""
        key = f"stream_tables_{int(line_entries)}"
        if key not in self.meta:
            st = self.ptr[:, :, :-1]
            e = np.diff(self.ptr, axis=2)
            tr = (lambda x: np.ascontiguousarray(x.transpose(0, 2, 1)).astype(np.int32))
            self.meta[key] = (tr(e), tr(st // line_entries), tr((st + np.maximum(e, 1) - 1) // line_entries))
        return self.meta[key]

    def nonzeros_per_column(self) -> np.ndarray:
        """Non-padding (non-zero weight) entries per (pass, column) over all PEs; cached."""
        if "nz_per_col" not in self.meta:
            nz = np.zeros((self.n_pass, self.n_cols), dtype=np.int64)
            for q in range(self.n_pass):
                for p in range(self.n_pe):
                    s = self.base[q, p]
                    pt = self.ptr[q, p]
                    cs = np.concatenate([[0], np.cumsum(self.value[s:s + pt[-1]] != 0)])
                    nz[q] += cs[pt[1:]] - cs[pt[:-1]]
            self.meta["nz_per_col"] = nz
        return self.meta["nz_per_col"]

    def entries_per_pe(self) -> np.ndarray:
        return self.ptr[:, :, -1].sum(axis=0)

    def dense(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Decoded dense weights (K, C) and bias (K,) or None -- the functional reference."""
        Wb = np.zeros((self.n_out, self.n_cols), dtype=np.float64)
        N, R = self.n_pe, self.rows_per_pass
        for q in range(self.n_pass):
            for p in range(N):
                s = self.base[q, p]
                pt = self.ptr[q, p]
                cols = np.repeat(np.arange(self.n_cols), np.diff(pt))
                rows = (q * R + self.row[s:s + pt[-1]].astype(np.int64)) * N + p
                Wb[rows, cols] += self.value[s:s + pt[-1]]
        return Wb[:, :self.n_in], (Wb[:, self.n_in].copy() if self.has_bias else None)


@njit(cache=True)
def _encode_segment(rows, counts, max_run, out_run, out_row, out_src, ptr):
    """RLE-encode one (pass, PE) CSC segment: insert padding entries for runs > max_run.

    ``rows``: local rows of the non-zeros, column-major and sorted per column;
    ``counts``: non-zeros per column.  Writes run / row / source index (-1 = padding)
    and the column pointers; returns the number of entries written.
    """
    k = 0
    i = 0
    ptr[0] = 0
    for c in range(counts.shape[0]):
        prev = -1
        for _ in range(counts[c]):
            r = rows[i]
            gap = r - prev - 1
            while gap > max_run:
                out_run[k] = max_run
                out_row[k] = prev + max_run + 1
                out_src[k] = -1
                prev = prev + max_run + 1
                gap -= max_run + 1
                k += 1
            out_run[k] = gap
            out_row[k] = r
            out_src[k] = i
            prev = r
            k += 1
            i += 1
        ptr[c + 1] = k
    return k


def _sort_unique(key: np.ndarray, span: int) -> np.ndarray:
    """The order that sorts ``key`` (integers in [0, span)); an error on a repeated key.  A counting sort over
    the key range when that range is at most a few times the keys (a dense layer's weights: it is the dense
    matrix), else argsort: the same order either way, as the keys are unique."""
    if key.size and span <= 4 * key.size + (1 << 20):
        slot = np.full(span, -1, dtype=np.int64)
        slot[key] = np.arange(key.size, dtype=np.int64)
        order = slot[slot >= 0]
        if order.size != key.size:
            raise AccelsimError("duplicate (row, column) entries in the sparse matrix")
        return order
    order = np.argsort(key)
    ks = key[order]
    if ks.size > 1 and (ks[1:] == ks[:-1]).any():
        raise AccelsimError("duplicate (row, column) entries in the sparse matrix")
    return order


def build_matrix(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_out: int, n_in: int, n_pe: int = 64,
                 bias: np.ndarray | None = None, codes: np.ndarray | None = None,
                 codebook: np.ndarray | None = None, regs_per_pe: int = 64, index_bits: int = 4) -> EIEMatrix:
    """Per-PE CSC from COO non-zeros (row < n_out, col < n_in) plus an optional bias column.

    ``codes`` (same length as vals, values < len(codebook), 0 reserved for 0.0) marks
    weight-shared matrices; then ``vals`` must equal ``codebook[codes]``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    vals = np.asarray(vals, dtype=np.float64)
    shared = codes is not None
    codes = np.asarray(codes, dtype=np.int64) if shared else np.full(rows.shape, -1, dtype=np.int64)
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64)
        bnz = np.flatnonzero(bias)
        rows = np.concatenate([rows, bnz])
        cols = np.concatenate([cols, np.full(bnz.shape, n_in)])
        vals = np.concatenate([vals, bias[bnz]])
        if shared:
            raise AccelsimError("a weight-shared matrix takes its bias as codes; pass bias=None and add column n_in")
        codes = np.concatenate([codes, np.full(bnz.shape, -1)])
    n_cols = n_in + int(bias is not None)
    max_run = (1 << index_bits) - 1
    rows_pe = -(-n_out // n_pe)                  # local rows of PE 0 (the most)
    n_pass = max(1, -(-rows_pe // regs_per_pe))
    pe = rows % n_pe
    local = rows // n_pe
    q = local // regs_per_pe
    lrow = local - q * regs_per_pe
    radix = min(regs_per_pe, rows_pe)            # lrow < both
    key = ((q * n_pe + pe) * n_cols + cols) * radix + lrow
    order = _sort_unique(key, n_pass * n_pe * n_cols * radix)  # (pass, PE, column, row)
    pe, q, lrow, cols_s = pe[order], q[order], lrow[order], cols[order]
    vals_s, codes_s = vals[order], codes[order]
    seg = q * n_pe + pe
    seg_bounds = np.searchsorted(seg, np.arange(n_pass * n_pe + 1))
    ptr = np.zeros((n_pass, n_pe, n_cols + 1), dtype=np.int64)
    base = np.zeros((n_pass, n_pe), dtype=np.int64)
    runs, rws, srcs = [], [], []
    total = 0
    for s in range(n_pass * n_pe):
        a, b = seg_bounds[s], seg_bounds[s + 1]
        counts = np.bincount(cols_s[a:b], minlength=n_cols)
        n_nz = b - a
        cap = n_nz + (regs_per_pe // (max_run + 1)) * n_cols  # at most one padding per 16 rows per column
        o_run = np.empty(cap, dtype=np.int64)
        o_row = np.empty(cap, dtype=np.int64)
        o_src = np.empty(cap, dtype=np.int64)
        qq, pp = divmod(s, n_pe)
        k = _encode_segment(lrow[a:b], counts, max_run, o_run, o_row, o_src, ptr[qq, pp])
        src = o_src[:k]
        srcs.append(np.where(src >= 0, src + a, -1))
        runs.append(o_run[:k])
        rws.append(o_row[:k])
        base[qq, pp] = total
        total += k
    src = np.concatenate(srcs) if srcs else np.zeros(0, np.int64)
    pad = src < 0
    value = np.where(pad, 0.0, vals_s[np.maximum(src, 0)] if src.size else 0.0)
    code = np.where(pad, 0, codes_s[np.maximum(src, 0)] if src.size else 0)
    if not shared:
        code = np.full(src.shape, -1)
    m = EIEMatrix(n_pe, n_out, n_in, bias is not None, regs_per_pe, ptr, base,
                  np.concatenate(rws).astype(np.int32) if rws else np.zeros(0, np.int32),
                  np.concatenate(runs).astype(np.int16) if runs else np.zeros(0, np.int16),
                  code.astype(np.int16), value.astype(np.float64),
                  None if codebook is None else np.asarray(codebook, dtype=np.float64), index_bits)
    m.meta["n_padding"] = int(pad.sum())
    return m


def matrix_from_dense(W: np.ndarray, n_pe: int = 64, bias: np.ndarray | None = None, regs_per_pe: int = 64,
                      index_bits: int = 4, prune_density: float | None = None, codebook_size: int | None = None,
                      seed: int = 0) -> EIEMatrix:
    """EIEMatrix of a dense (K, C) matrix; optionally prune to ``prune_density`` (magnitude) and
    share weights to ``codebook_size`` codes (k-means, code 0 = 0.0).  With sharing the bias
    column is coded through the same codebook (as in the authors' files)."""
    W = np.asarray(W, dtype=np.float64)
    K, C = W.shape
    if prune_density is not None:
        W = prune_magnitude(W, prune_density)
    if codebook_size:
        Wb = W if bias is None else np.concatenate([W, np.asarray(bias, np.float64)[:, None]], axis=1)
        codes, cb = kmeans_share(Wb, codebook_size, seed=seed)
        r, c = np.nonzero(codes)
        m = build_matrix(r, c, cb[codes[r, c]], K, C if bias is None else C + 1, n_pe, None, codes[r, c], cb,
                         regs_per_pe, index_bits)
        if bias is not None:  # the last column is the bias column
            m.n_in, m.has_bias = C, True
        return m
    r, c = np.nonzero(W)
    return build_matrix(r, c, W[r, c], K, C, n_pe, bias, None, None, regs_per_pe, index_bits)


def prune_magnitude(W: np.ndarray, density: float) -> np.ndarray:
    """Keep the round(density * size) largest-magnitude weights (Han et al. magnitude pruning)."""
    W = np.asarray(W, dtype=np.float64)
    k = int(round(density * W.size))
    out = np.zeros_like(W)
    if k > 0:
        idx = np.argpartition(-np.abs(W).ravel(), k - 1)[:k]
        out.ravel()[idx] = W.ravel()[idx]
    return out


def kmeans_share(W: np.ndarray, n_codes: int = 16, iters: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """1-D k-means weight sharing (Deep Compression, linear init): codes (int, 0 where W == 0)
    and codebook (n_codes,) with codebook[0] = 0.0; non-zeros get codes 1..n_codes-1."""
    W = np.asarray(W, dtype=np.float64)
    nz = W != 0
    v = W[nz]
    k = n_codes - 1
    codes = np.zeros(W.shape, dtype=np.int64)
    cb = np.zeros(n_codes)
    if v.size == 0:
        return codes, cb
    cent = np.linspace(v.min(), v.max(), k)
    for _ in range(iters):
        cent.sort()
        mid = (cent[1:] + cent[:-1]) / 2
        a = np.searchsorted(mid, v)
        sums = np.bincount(a, weights=v, minlength=k)
        cnt = np.bincount(a, minlength=k)
        new = np.where(cnt > 0, sums / np.maximum(cnt, 1), cent)
        if np.allclose(new, cent, rtol=0, atol=0):
            break
        cent = new
    cent.sort()
    if (cent == 0).any():  # a zero centroid would make its entries look like padding
        cent[cent == 0] = np.finfo(float).tiny
    a = np.searchsorted((cent[1:] + cent[:-1]) / 2, v)
    codes[nz] = a + 1
    cb[1:] = cent
    return codes, cb


def matrix_from_dump(path, n_out: int, n_in: int, n_pe: int, regs_per_pe: int = 64) -> EIEMatrix:
    """The authors' stored per-PE CSC, used as-is (no re-compression)."""
    from workloads.eie_dump import read_dump
    d = read_dump(path, n_out=n_out, n_pe=n_pe, n_in=n_in)
    if -(-n_out // n_pe) > regs_per_pe:
        raise AccelsimError(f"{path}: dump has more rows per PE than act_regs_per_pe={regs_per_pe}")
    ptr = np.stack(d.ptr)[None]                  # one pass
    base = np.concatenate([[0], np.cumsum(d.entries_per_pe)[:-1]])[None].astype(np.int64)
    code = np.concatenate(d.code)
    m = EIEMatrix(n_pe, n_out, n_in, True, regs_per_pe, ptr, base, np.concatenate(d.row).astype(np.int32),
                  np.concatenate(d.run).astype(np.int16), code.astype(np.int16), d.codebook[code], d.codebook,
                  4, source=f"dump:{Path(path).name}")  # folder name: reports stay path-independent
    m.meta["n_padding"] = int((code == 0).sum())
    m.meta["act"] = d.act
    return m


def synthetic_matrix(K: int, C: int, density: float, rng: np.random.Generator, n_pe: int = 64,
                     regs_per_pe: int = 64, index_bits: int = 4) -> EIEMatrix:
    """Uniform random K x C matrix with exactly round(density K C) non-zeros (no dense array)."""
    size = K * C
    k = int(round(density * size))
    def sorted_unique(x):  # sort-based (numpy's hash unique is slow on millions of int64)
        x = np.sort(x)
        return x[np.concatenate([[True], x[1:] != x[:-1]])] if x.size else x

    flat = sorted_unique(rng.integers(0, size, size=int(k * 1.05) + 16))
    while flat.size < k:  # rare: top up
        flat = sorted_unique(np.concatenate([flat, rng.integers(0, size, size=k - flat.size + 16)]))
    flat = np.delete(flat, rng.choice(flat.size, size=flat.size - k, replace=False))  # drop the surplus uniformly
    vals = rng.standard_normal(k)
    vals[vals == 0] = 1.0
    return build_matrix(flat // C, flat % C, vals, K, C, n_pe, None, None, None, regs_per_pe, index_bits)


def synthetic_acts(C: int, density: float, rng: np.random.Generator) -> np.ndarray:
    from workloads.synthetic import random_tensor
    return random_tensor((C,), density, rng, nonneg=True)
