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
            _nonzeros_per_column(self.ptr, self.base, self.value, nz)
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
def _nonzeros_per_column(ptr, base, value, nz):
    """Add to ``nz`` (n_pass, n_cols) the entries with ``value != 0`` (not padding) of every (pass, PE, column)."""
    for q in range(ptr.shape[0]):
        for p in range(ptr.shape[1]):
            s = base[q, p]
            for c in range(ptr.shape[2] - 1):
                for e in range(ptr[q, p, c], ptr[q, p, c + 1]):
                    if value[s + e] != 0:
                        nz[q, c] += 1


@njit(cache=True)
def _put(k, r, prev, val, code, pad_code, max_run, out_run, out_row, out_code, out_val):
    """Write the entry at local row ``r`` of a column whose previous entry is at local row ``prev`` (-1 at
    the column's start) into slots ``k``..: first a padding entry (run ``max_run``, value 0, code ``pad_code``)
    for each ``max_run + 1`` zeros of a longer run, then the entry with the rest of the run.  Returns the
    next free slot and the paddings written (``(r - prev - 1) // (max_run + 1)`` of them)."""
    gap = r - prev - 1
    n_pad = 0
    while gap > max_run:
        out_run[k] = max_run
        out_row[k] = prev + max_run + 1
        out_code[k] = pad_code
        out_val[k] = 0.0
        prev += max_run + 1
        gap -= max_run + 1
        k += 1
        n_pad += 1
    out_run[k] = gap
    out_row[k] = r
    out_code[k] = code
    out_val[k] = val
    return k + 1, n_pad


@njit(cache=True)
def _alloc_entries(ptr, base):
    """Turn ``ptr`` (n_seg, n_cols + 1) holding entries per column in ``ptr[:, c + 1]`` into per-segment
    offsets, fill the segment starts ``base`` (n_seg,) and allocate run (int16), local row (int32), code
    (int16) and value (float64) for all the entries."""
    total = 0
    for s in range(ptr.shape[0]):
        base[s] = total
        acc = 0
        for c in range(ptr.shape[1] - 1):
            acc += ptr[s, c + 1]
            ptr[s, c + 1] = acc
        total += acc
    return (np.empty(total, dtype=np.int16), np.empty(total, dtype=np.int32), np.empty(total, dtype=np.int16),
            np.empty(total, dtype=np.float64))


@njit(cache=True)
def _encode_sorted(key, order, radix, n_cols, max_run, vals, codes, shared, ptr, base):
    """RLE-encode every (pass, PE) CSC segment in one pass over the sorted entries (:func:`_put`).

    ``key[order]`` is increasing, ``key = (segment * n_cols + column) * radix + local row`` (segment = pass *
    N + PE); ``vals`` / ``codes`` are the entries' values and codes (indexed like ``key``).  Fills ``ptr``
    (n_seg, n_cols + 1) with the per-segment column offsets and ``base`` (n_seg,) with the segment starts
    (both zeros on entry); returns run (int16), local row (int32), code (int16; -1 throughout when not
    ``shared``, else 0 for padding), value (float64, 0 for padding) of every entry, and the number of
    padding entries.
    """
    n = order.shape[0]
    n_seg = base.shape[0]
    stride = max_run + 1
    ps, pc, prev = -1, -1, -1
    for i in range(n):                           # pass 1: entries per (segment, column), paddings included
        k = key[order[i]]
        r = k % radix
        c = (k // radix) % n_cols
        s = (k // radix) // n_cols
        if s < 0 or s >= n_seg:                  # a row beyond the passes: build_matrix refuses it; a guard
            continue                             # all the same, as these writes are not bounds-checked
        if s != ps or c != pc:
            prev = -1
        ptr[s, c + 1] += 1 + (r - prev - 1) // stride
        ps, pc, prev = s, c, r
    out_run, out_row, out_code, out_val = _alloc_entries(ptr, base)
    n_pad = 0
    ps, pc, prev = -1, -1, -1
    k_out = 0
    for i in range(n):                           # pass 2: write them
        src = order[i]
        k = key[src]
        r = k % radix
        c = (k // radix) % n_cols
        s = (k // radix) // n_cols
        if s < 0 or s >= n_seg:
            continue
        if s != ps or c != pc:
            prev = -1
            k_out = base[s] + ptr[s, c]
        k_out, npd = _put(k_out, r, prev, vals[src], codes[src] if shared else -1, 0 if shared else -1,
                          max_run, out_run, out_row, out_code, out_val)
        n_pad += npd
        ps, pc, prev = s, c, r
    return out_run, out_row, out_code, out_val, n_pad


@njit(cache=True)
def _encode_dense(W, bias, has_bias, n_pe, regs_per_pe, max_run, ptr, base):
    """:func:`_encode_sorted` of the non-zeros of a dense (K, C) matrix ``W`` and, when ``has_bias``, of
    ``bias`` (K,) as column C, without a sort: the loops visit (pass, PE, column, local row) in storage
    order (global row = (pass * regs_per_pe + local row) * N + PE).  Codes are -1 (no weight sharing)."""
    K, C = W.shape
    n_pass, n_cols = ptr.shape[0] // n_pe, ptr.shape[1] - 1
    stride = max_run + 1
    for q in range(n_pass):                      # pass 1: entries per (segment, column), paddings included
        for p in range(n_pe):
            s = q * n_pe + p
            for c in range(n_cols):
                prev = -1
                for lr in range(regs_per_pe):
                    g = (q * regs_per_pe + lr) * n_pe + p
                    if g >= K:
                        break
                    if (W[g, c] if c < C else bias[g]) != 0:
                        ptr[s, c + 1] += 1 + (lr - prev - 1) // stride
                        prev = lr
    out_run, out_row, out_code, out_val = _alloc_entries(ptr, base)
    n_pad = 0
    for q in range(n_pass):                      # pass 2: write them
        for p in range(n_pe):
            s = q * n_pe + p
            for c in range(n_cols):
                prev = -1
                k = base[s] + ptr[s, c]
                for lr in range(regs_per_pe):
                    g = (q * regs_per_pe + lr) * n_pe + p
                    if g >= K:
                        break
                    v = W[g, c] if c < C else bias[g]
                    if v != 0:
                        k, npd = _put(k, lr, prev, v, -1, -1, max_run, out_run, out_row, out_code, out_val)
                        n_pad += npd
                        prev = lr
    return out_run, out_row, out_code, out_val, n_pad


@njit(cache=True)
def _counting_order(key, span):
    """Counting sort of unique keys in [0, span): (status, order); status 1 = a repeated key, 2 = a key out of
    range (order then empty)."""
    slot = np.full(span, -1, dtype=np.int64)
    for i in range(key.shape[0]):
        k = key[i]
        if k < 0 or k >= span:
            return 2, np.empty(0, dtype=np.int64)
        if slot[k] >= 0:
            return 1, np.empty(0, dtype=np.int64)
        slot[k] = i
    order = np.empty(key.shape[0], dtype=np.int64)
    j = 0
    for s in range(span):
        if slot[s] >= 0:
            order[j] = slot[s]
            j += 1
    return 0, order


def _sort_unique(key: np.ndarray, span: int) -> np.ndarray:
    """The order that sorts ``key`` (integers in [0, span)); an error on a repeated key.  A counting sort over
    the key range when that range is at most a few times the keys (a dense layer's weights: it is the dense
    matrix), else argsort: the same order either way, as the keys are unique."""
    if key.size and span <= 4 * key.size + (1 << 20):
        status, order = _counting_order(np.ascontiguousarray(key, dtype=np.int64), int(span))
        if status == 1:
            raise AccelsimError("duplicate (row, column) entries in the sparse matrix")
        if status == 2:
            raise AccelsimError(f"sparse matrix entry key outside [0, {span})")
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
    # checked once here: the encoders index by row and column without bounds checks
    if rows.size and (rows.min() < 0 or rows.max() >= n_out):
        raise AccelsimError(f"sparse matrix row outside [0, {n_out})")
    if cols.size and (cols.min() < 0 or cols.max() >= n_in):
        raise AccelsimError(f"sparse matrix column outside [0, {n_in})")
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
    local = rows // n_pe
    q = local // regs_per_pe
    radix = min(regs_per_pe, rows_pe)            # lrow < both
    key = ((q * n_pe + rows % n_pe) * n_cols + cols) * radix + (local - q * regs_per_pe)
    order = _sort_unique(key, n_pass * n_pe * n_cols * radix)  # (pass, PE, column, row)
    ptr = np.zeros((n_pass, n_pe, n_cols + 1), dtype=np.int64)
    base = np.zeros((n_pass, n_pe), dtype=np.int64)
    run, row, code, value, n_pad = _encode_sorted(key, order, radix, n_cols, max_run, vals, codes, shared,
                                                  ptr.reshape(n_pass * n_pe, n_cols + 1), base.reshape(-1))
    m = EIEMatrix(n_pe, n_out, n_in, bias is not None, regs_per_pe, ptr, base, row, run, code, value,
                  None if codebook is None else np.asarray(codebook, dtype=np.float64), index_bits)
    m.meta["n_padding"] = int(n_pad)
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
    if bias is not None and np.shape(bias) != (K,):  # build_matrix takes any bias its indexing allows
        r, c = np.nonzero(W)
        return build_matrix(r, c, W[r, c], K, C, n_pe, bias, None, None, regs_per_pe, index_bits)
    # what build_matrix(*np.nonzero(W), ...) gives, encoded straight from the dense matrix (no COO, no sort)
    rows_pe = -(-K // n_pe)
    n_pass = max(1, -(-rows_pe // regs_per_pe))
    n_cols = C + int(bias is not None)
    ptr = np.zeros((n_pass, n_pe, n_cols + 1), dtype=np.int64)
    base = np.zeros((n_pass, n_pe), dtype=np.int64)
    b = np.zeros(K) if bias is None else np.asarray(bias, dtype=np.float64)
    run, row, code, value, n_pad = _encode_dense(W, b, bias is not None, n_pe, regs_per_pe, (1 << index_bits) - 1,
                                                 ptr.reshape(n_pass * n_pe, n_cols + 1), base.reshape(-1))
    m = EIEMatrix(n_pe, K, C, bias is not None, regs_per_pe, ptr, base, row, run, code, value, None, index_bits)
    m.meta["n_padding"] = int(n_pad)
    return m


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


def write_authors_dump(m: EIEMatrix, act: np.ndarray, folder, pass_index: int = 0) -> dict:
    """Write pass ``pass_index`` of ``m`` and its input vector ``act`` (C,) in the EIE authors' dump format
    (``workloads.eie_dump``'s, the one ``RalphMao/EIE-simulator`` reads from its ``data/``), so that their
    simulator can run the same matrix this model runs.

    Laid out as the authors' ``layer_dump2.py`` lays a layer out: the inputs padded with empty columns to
    a multiple of the PE count, then the bias column (an empty one when ``m`` has none; its activation is
    1.0 in the simulator).  Entries are written as stored, padding included (code 0).  Codebook-shared
    weights keep their codes and codebook; unshared ones get codes 1..15 in turn and a placeholder codebook,
    so their files time exactly but do not decode to ``m``'s values (``"decodes": False``).  Written into a
    temporary folder beside ``folder`` and renamed, so nothing is half-written; ``folder`` must not exist.
    Returns ``{"folder", "n_in_padded", "max_entries_per_pe", "decodes"}``: the simulator's params.h needs
    them (ACT_length = n_in_padded, PTRVEC_num_lines = n_in_padded + 2, SPMAT lines from max_entries_per_pe);
    ``act.dat`` holds n_in_padded values, zero past C.  How this was used against the authors' simulator:
    ``docs/timing-model.md`` (EIE, "Against the authors' own simulator")."""
    import shutil
    import tempfile
    folder = Path(folder)
    if folder.exists():
        raise AccelsimError(f"{folder}: exists; write_authors_dump writes a new folder")
    if not 0 <= pass_index < m.n_pass:
        raise AccelsimError(f"pass_index {pass_index}: the matrix has {m.n_pass} pass(es)")
    act = np.asarray(act, dtype=np.float64).reshape(-1)
    if act.shape[0] != m.n_in:
        raise AccelsimError(f"act: {act.shape[0]} values for a matrix of {m.n_in} inputs")
    n_pad = -(-m.n_in // m.n_pe) * m.n_pe
    if m.has_bias and n_pad != m.n_in:
        raise AccelsimError(f"a matrix with a bias column needs C a multiple of {m.n_pe} PEs, got C={m.n_in}")
    from workloads.eie_dump import CODEBOOK_SIZE
    shared = m.codebook is not None and bool((m.code >= 0).all())
    if shared:
        codes, book = m.code.astype(np.uint32), np.asarray(m.codebook, dtype=np.float64)
    else:  # timing only: any non-zero code per real entry, 0 for padding (value 0)
        codes = (1 + np.arange(m.n_entries) % (CODEBOOK_SIZE - 1)).astype(np.uint32)
        codes[m.value == 0] = 0
        book = np.arange(CODEBOOK_SIZE, dtype=np.float64)  # code 0 = 0.0 (padding), as the reader requires
    a = np.zeros(n_pad)
    a[:m.n_in] = act
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (tmp / "ptr").mkdir()
        (tmp / "spm").mkdir()
        widest = 0
        for p in range(m.n_pe):
            pt = m.ptr[pass_index, p]
            # columns 0..C-1, empty columns up to n_pad, the bias column (empty without a bias), the end
            ptr = np.concatenate([pt[:m.n_in + 1], np.repeat(pt[m.n_in], n_pad - m.n_in),
                                  [pt[-1] if m.has_bias else pt[m.n_in]]])
            s, n = int(m.base[pass_index, p]), int(pt[-1])
            ptr.astype("<u4").tofile(tmp / "ptr" / f"ptr{p}.dat")
            np.stack([codes[s:s + n], m.run[s:s + n].astype(np.uint32)], axis=1).astype("<u4").tofile(
                tmp / "spm" / f"spm{p}.dat")
            widest = max(widest, n)
        a.astype("<f4").tofile(tmp / "act.dat")
        book.astype("<f4").tofile(tmp / "arithm.dat")
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"folder": str(folder), "n_in_padded": n_pad, "max_entries_per_pe": widest, "decodes": shared}
