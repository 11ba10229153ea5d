"""How EIE runs a layer: conv lowering to one SpMV per active output pixel (:func:`lowered_weights`,
:class:`PixelVectors`), the LNZD broadcast order of every job and :func:`run_matrix`, which drives the
timing kernels and the functional kernel (see the package docstring, "Convolutions on EIE")."""

from __future__ import annotations

import numpy as np
from numba import njit

from workloads import LayerInstance

from ...engine import largest_remainder
from ...errors import AccelsimError
from ..common import scratch
from .formats import ENTRY_BITS, EIEMatrix
from .kernel import functional_spmv, run_units, unit_blocks

MAPPING_NOTES = {
    "fc": "SpMV y = W a (+ bias column); per-PE CSC, interleaved rows, LNZD broadcast of non-zero a_j",
    "conv": "one SpMV per ACTIVE output pixel: im2col column as the activation vector, output mask picks "
            "the pixels; weights K x (C R S) compressed once and reused; pixels back to back with a drain",
    "depthwise": "block-diagonal K x (C R S) matrix, one SpMV per active pixel; PEs without a weight in a "
                 "broadcast column pay the 1-cycle empty pop, so it runs at the LNZD rate",
}


def lowered_weights(inst: LayerInstance) -> np.ndarray:
    """K x (C R S) matrix of a layer (block-diagonal for grouped / depthwise convs)."""
    L = inst.layer
    w = inst.weights_dense()
    K, Cg, R, S = w.shape
    if L.groups == 1:
        return w.reshape(K, Cg * R * S)
    W = np.zeros((K, L.C * R * S))
    Kg = K // L.groups
    for g in range(L.groups):
        W[g * Kg:(g + 1) * Kg, g * Cg * R * S:(g + 1) * Cg * R * S] = w[g * Kg:(g + 1) * Kg].reshape(Kg, -1)
    return W


class PixelVectors:
    """Activation vectors of a layer's active output pixels, produced in chunks: ``self(a, b)``
    gives rows a..b-1, shape (b - a, C R S), each the im2col column of one active pixel
    (index c*R*S + r*S + s, zero padding included).  ``n`` = active pixels, ``pix`` their
    flat (p * Q + q) indices.  An fc layer is one vector.  ``x``: the padded input (C, H + 2 pad,
    W + 2 pad) (an fc layer's (1, C)), made on first use: the vectors read the unpadded input ``acts`` (C, H, W)."""

    def __init__(self, inst: LayerInstance):
        L = inst.layer
        self.L = L
        a = scratch.dense_acts(inst)  # reused memory: page faults cost more than the scatter
        self._x: np.ndarray | None = None
        if L.kind == "fc":
            self.pix = np.zeros(1, dtype=np.int64)
            self._x = a.reshape(1, -1)
        else:
            self.pix = np.flatnonzero(inst.out_mask_or_ones().ravel())
            self.acts = a
        self.n = int(self.pix.shape[0])
        self._nz: np.ndarray | None = None

    @property
    def x(self) -> np.ndarray:
        if self._x is None:
            p = self.L.padding
            self._x = np.pad(self.acts, ((0, 0), (p, p), (p, p))) if p else self.acts
        return self._x

    def __call__(self, a: int, b: int) -> np.ndarray:
        L = self.L
        if L.kind == "fc":
            return self.x[a:b]
        return self.into(a, b, np.empty((b - a, self.acts.shape[0] * L.R * L.S), dtype=self.acts.dtype))

    def into(self, a: int, b: int, out: np.ndarray) -> np.ndarray:
        """``self(a, b)`` written into the first C R S columns of ``out`` (b - a rows; conv layers)."""
        L = self.L
        _im2col(self.acts, self.pix[a:b], L.Q, L.stride, L.dilation, L.R, L.S, L.padding, out)
        return out

    def nonzero_mask(self) -> np.ndarray:
        """``self.x != 0`` (bool, the padded input's shape), computed once."""
        if self._nz is None:
            if self.L.kind == "fc":
                self._nz = self.x != 0
            else:
                p = self.L.padding
                self._nz = np.pad(self.acts != 0, ((0, 0), (p, p), (p, p))) if p else self.acts != 0
        return self._nz

    def patterns(self, idx: np.ndarray | None = None) -> np.ndarray:
        """Non-zero pattern of the vectors of active pixels ``idx`` (default all), ``np.packbits(self(0, n) != 0,
        axis=1)[idx]`` (len(idx), ceil(C R S / 8)) uint8, without the im2col copy (conv layers)."""
        L = self.L
        pix = self.pix if idx is None else self.pix[idx]
        out = np.zeros((pix.shape[0], -(-(self.acts.shape[0] * L.R * L.S) // 8)), dtype=np.uint8)
        xt = np.ascontiguousarray(self.nonzero_mask().transpose(1, 2, 0))
        _im2col_bits(xt, pix, L.Q, L.stride, L.dilation, L.R, L.S, out)
        return out

    def window_masks(self) -> np.ndarray:
        """Per active pixel, the channel masks (packed bits, C last) of the R x S padded positions it reads, side by
        side (n, R S ceil(C / 8)) uint8: equal rows exactly where :meth:`patterns` has equal rows (conv layers)."""
        L = self.L
        cm = np.packbits(self.nonzero_mask().transpose(1, 2, 0), axis=2)            # (Hp, Wp, ceil(C / 8))
        hi = (self.pix // L.Q)[:, None] * L.stride + np.arange(L.R) * L.dilation    # (n, R)
        wi = (self.pix % L.Q)[:, None] * L.stride + np.arange(L.S) * L.dilation     # (n, S)
        return cm[hi[:, :, None], wi[:, None, :]].reshape(self.n, -1)


@njit(cache=True)
def _im2col(a, pix, Q, stride, dilation, R, S, pad, out):
    """``out[u, c*R*S + r*S + s]`` = the padded input at (c, h, w), h = (pix[u] // Q) * stride + r * dilation,
    w = (pix[u] % Q) * stride + s * dilation: ``a[c, h - pad, w - pad]``, 0 in the padding -- the im2col column
    of each pixel, without a padded copy of ``a``."""
    H, W = a.shape[1], a.shape[2]
    for u in range(pix.shape[0]):
        h0 = (pix[u] // Q) * stride - pad
        w0 = (pix[u] % Q) * stride - pad
        i = 0
        for c in range(a.shape[0]):
            for r in range(R):
                h = h0 + r * dilation
                for s in range(S):
                    w = w0 + s * dilation
                    out[u, i] = a[c, h, w] if 0 <= h < H and 0 <= w < W else 0.0
                    i += 1


@njit(cache=True)
def _im2col_bits(xt, pix, Q, stride, dilation, R, S, out):
    """:func:`_im2col` of the non-zero mask ``xt`` (bool, (Hp, Wp, C): channels last), packed as ``np.packbits``
    does (bit 7 of byte i // 8 is index i, the last byte padded with zeros): eight bits gathered in a register,
    one byte written."""
    for u in range(pix.shape[0]):
        h0 = (pix[u] // Q) * stride
        w0 = (pix[u] % Q) * stride
        acc = 0
        i = 0
        for c in range(xt.shape[2]):
            for r in range(R):
                for s in range(S):
                    acc = (acc << 1) | (1 if xt[h0 + r * dilation, w0 + s * dilation, c] else 0)
                    i += 1
                    if (i & 7) == 0:
                        out[u, (i >> 3) - 1] = acc
                        acc = 0
        if i & 7:
            out[u, i >> 3] = acc << (8 - (i & 7))


@njit(cache=True)
def _broadcast_order(aug, n_pass, window, pixel_major):
    """:func:`broadcast_jobs` in one pass over ``aug``: the non-zero positions ``pos`` of every vector (row by
    row) and the LNZD bubbles before each (``window`` > 0: the rows of ``window`` activations scanned since
    the vector's previous non-zero, one fewer when that one closed its row; the first non-zero of a vector:
    the rows before it), then each vector's order once per pass, pass-major (all vectors of pass 0, then
    pass 1, ...) or, with ``pixel_major``, vector-major (the ``n_pass`` jobs of vector 0, then vector 1, ...)."""
    n_vec, n = aug.shape
    cnt = np.zeros(n_vec, dtype=np.int64)
    for v in range(n_vec):
        for j in range(n):
            if aug[v, j] != 0:
                cnt[v] += 1
    tot = cnt.sum()
    pos = np.empty(tot, dtype=np.int64)
    vi = np.empty(tot, dtype=np.int64)
    bub1 = np.zeros(tot, dtype=np.int64)
    k = 0
    for v in range(n_vec):
        k0 = k
        r = 0                                    # j // window and j % window, counted (no division)
        cj = 0
        rp = 0                                   # the previous non-zero's row, and whether it closed it
        closed = False
        for j in range(n):
            if aug[v, j] != 0:
                pos[k] = j
                vi[k] = v
                if window > 0:
                    bub1[k] = r if k == k0 else r - rp - (1 if r > rp and closed else 0)
                    rp = r
                    closed = cj == window - 1
                k += 1
            if window > 0:
                cj += 1
                if cj == window:
                    cj = 0
                    r += 1
    start = np.zeros(n_vec + 1, dtype=np.int64)  # vector v's items: pos[start[v]:start[v + 1]]
    for v in range(n_vec):
        start[v + 1] = start[v] + cnt[v]
    if n_pass == 1:                              # one job per vector, either order: no copy
        return pos, bub1, start, np.zeros(n_vec, dtype=np.int64), pos, vi
    seq = np.empty(tot * n_pass, dtype=np.int64)
    bub = np.empty(tot * n_pass, dtype=np.int64)
    seq_off = np.zeros(n_vec * n_pass + 1, dtype=np.int64)
    job_pass = np.empty(n_vec * n_pass, dtype=np.int64)
    j = 0
    i = 0
    for outer in range(n_vec if pixel_major else n_pass):
        for inner in range(n_pass if pixel_major else n_vec):
            v, q = (outer, inner) if pixel_major else (inner, outer)
            for t in range(start[v], start[v + 1]):
                seq[i] = pos[t]
                bub[i] = bub1[t]
                i += 1
            job_pass[j] = q
            seq_off[j + 1] = i
            j += 1
    return seq, bub, seq_off, job_pass, pos, vi


def broadcast_jobs(aug: np.ndarray, n_pass: int, window: int, pixel_major: bool = False):
    """Broadcast order (non-zero positions), LNZD bubbles, offsets and pass of every job (pass-major, then
    vector; with ``pixel_major`` vector-major, the ``n_pass`` jobs of vector 0, then of vector 1, ...):
    seq, bub, seq_off, job_pass, and the non-zero positions / their vectors (one pass, row-major) --
    :func:`_broadcast_order`."""
    return _broadcast_order(np.ascontiguousarray(aug, dtype=np.float64), int(n_pass), int(window), bool(pixel_major))


def augmented(m: EIEMatrix, v: np.ndarray) -> np.ndarray:
    """Rows of ``v`` (n_vec, C) with the bias column's activation appended (when the matrix has one)."""
    if v.ndim != 2 or v.shape[1] != m.n_in:
        raise AccelsimError(f"activation vector length {v.shape[-1]} != matrix inputs {m.n_in}")
    aug = np.empty((v.shape[0], m.n_cols))
    aug[:, :m.n_in] = v
    if m.has_bias:
        aug[:, m.n_in] = 1.0                 # the bias column's activation, broadcast like any non-zero
    return aug


def augmented_rows(m: EIEMatrix, get, a: int, b: int, buf: np.ndarray) -> np.ndarray:
    """``augmented(m, get(a, b))``: rows a..b-1 of ``get`` (an array, or a callable such as :class:`PixelVectors`)
    with the bias column's activation.  A conv layer's :class:`PixelVectors` writes its im2col rows straight
    into ``buf[:b - a]`` ((>= b - a, m.n_cols) float64, reused chunk after chunk: no im2col array, no copy)."""
    if not (isinstance(get, PixelVectors) and get.L.kind != "fc"):
        v = get[a:b] if isinstance(get, np.ndarray) else get(a, b)
        return augmented(m, np.asarray(v, dtype=np.float64))
    n_crs = get.acts.shape[0] * get.L.R * get.L.S
    if n_crs != m.n_in:
        raise AccelsimError(f"activation vector length {n_crs} != matrix inputs {m.n_in}")
    aug = buf[:b - a]
    get.into(a, b, aug)
    if m.has_bias:
        aug[:, m.n_in] = 1.0                 # the bias column's activation, broadcast like any non-zero
    return aug


CHUNK_VECTORS = 256  # conv pixels per kernel call (bounds the im2col / output memory)


def run_matrix(m: EIEMatrix, vecs: np.ndarray, cfg, functional: bool = False, fifo_depth: int | None = None,
               timing_loop: str | None = None) -> dict:
    """Simulate SpMVs of ``m`` with each row of ``vecs`` (n_vec, C) as the input activations,
    back to back (a conv layer's active pixels).  Returns cycles, breakdown, actions and
    statistics (see the module docstring); ``output`` (n_vec, K) in functional mode.
    ``vecs`` may also be a callable ``(start, stop) -> rows`` with ``vecs.n`` rows in all.
    """
    N = m.n_pe
    depth = int(cfg["fifo_depth"] if fifo_depth is None else fifo_depth)
    loop = timing_loop or cfg.get("timing_loop", "event")
    if callable(vecs):
        get, n_vec = vecs, int(vecs.n)
    else:
        arr = np.asarray(vecs, dtype=np.float64)
        get, n_vec = (lambda a_, b_: arr[a_:b_]), arr.shape[0]
    window = N if cfg["lnzd_row_bubble"] else 0
    line_entries = int(cfg["spmat_line_bits"]) // ENTRY_BITS
    cnt, first_line, last_line = m.stream_tables(line_entries)
    out_pe = np.zeros((8, N), dtype=np.int64)
    out_g = np.zeros(6, dtype=np.int64)
    nz_per_col = m.nonzeros_per_column().sum(axis=0)        # over passes
    ent_per_col = cnt.sum(axis=(0, 2))
    eff = ent_nb = bias_ent = 0
    output = np.zeros((n_vec, m.n_out)) if functional else None
    buf = np.empty((min(n_vec, CHUNK_VECTORS), m.n_cols))  # each chunk's activations (augmented_rows)
    for c0 in range(0, max(n_vec, 1), CHUNK_VECTORS):
        c1 = min(n_vec, c0 + CHUNK_VECTORS)
        if c1 <= c0:
            break
        aug = augmented_rows(m, get, c0, c1, buf)
        seq, bub, seq_off, job_pass, pos, vi = broadcast_jobs(aug, m.n_pass, window)
        # the chunk's jobs in fixed contiguous blocks, in parallel, each into its own rows (summed in order)
        uo = unit_blocks(job_pass.shape[0])
        pe_u = np.zeros((uo.shape[0] - 1, 8, N), dtype=np.int64)
        g_u = np.zeros((uo.shape[0] - 1, 6), dtype=np.int64)
        run_units(cnt, first_line, last_line, seq, seq_off, bub, job_pass, depth, uo, loop == "event", pe_u, g_u)
        occ = max(int(out_g[3]), int(g_u[:, 3].max()))           # a maximum, not a sum
        out_pe += pe_u.sum(axis=0)
        out_g += g_u.sum(axis=0)
        out_g[3] = occ
        nb = pos[pos < m.n_in]
        eff += int(nz_per_col[nb].sum())
        ent_nb += int(ent_per_col[nb].sum())
        if m.has_bias:
            bias_ent += int(ent_per_col[m.n_in]) * (c1 - c0)
        if functional:
            tmp = np.zeros(((c1 - c0) * m.n_pass, m.n_out))
            act_off = (np.arange((c1 - c0) * m.n_pass, dtype=np.int64) % (c1 - c0)) * m.n_cols
            functional_spmv(m.ptr, m.base, m.row, m.value, seq, seq_off, aug.ravel(), act_off, job_pass,
                        m.rows_per_pass, m.n_out, tmp)
            output[c0:c1] = tmp.reshape(m.n_pass, c1 - c0, m.n_out).sum(axis=0)
    res = summarize(m, cfg, out_pe, out_g, n_vec, eff, ent_nb, bias_ent, depth, loop)
    if functional:
        res["output"] = output
    return res


def actions_of(m: EIEMatrix, cfg, pops, lines, entries, n_bc, n_vec, cycles) -> dict:
    """Action counts of ``n_vec`` vectors from the kernels' totals (scalars, or arrays per work unit)."""
    N = m.n_pe
    return {
        "ptr_sram_read_16b": 2 * pops,                          # p_j and p_j+1 from the even/odd banks
        f"spmat_sram_read_{int(cfg['spmat_line_bits'])}b": lines,
        "codebook_read_16b": entries,
        "mac_16b": entries,
        "act_rf_read_16b": entries + m.n_cols * n_vec * m.n_pass,  # dest read-modify-write + LNZD source scan
        "act_rf_write_16b": entries,
        "act_sram_read_16b": m.n_in * n_vec * m.n_pass,       # input vector into the source registers
        "act_sram_write_16b": m.n_out * n_vec,                # outputs written back
        "fifo_write_32b": N * n_bc,
        "fifo_read_32b": pops,
        "pe_clock_cycle": N * cycles,
    }


def summarize(m: EIEMatrix, cfg, out_pe: np.ndarray, out_g: np.ndarray, n_vec: int, eff: int, ent_nb: int,
              bias_ent: int, depth: int, loop: str) -> dict:
    """:func:`run_matrix`'s result from the kernels' accumulators (``out_pe`` (8, N), ``out_g`` (6,), see
    :func:`accelsim.models.eie.kernel.run_jobs`) and the MAC counts: cycles (jobs + ``pass_overhead_cycles``
    between jobs), breakdown, actions and statistics.  Shared with the sampled path
    (:class:`accelsim.models.eie.sampling.EIEPixels`), which passes the totals over the pixels."""
    N = m.n_pe
    n_jobs = int(out_g[5])
    over = int(cfg["pass_overhead_cycles"]) * max(0, n_jobs - 1)   # between passes / pixels
    cycles = int(out_g[0]) + over
    busy, empty, idle_e, idle_t, pops, lines, _, ents = out_pe
    # breakdown: mean over PEs (each PE's classes sum to the cycles), rounded to sum exactly
    parts = {"busy": busy.mean(), "empty_column": empty.mean(), "idle_fifo_empty": idle_e.mean(),
             "idle_tail": idle_t.mean(), "pass_overhead": float(over)}
    bd = largest_remainder(parts, cycles)
    n_bc = int(out_g[4])
    entries = int(ents.sum())
    actions = actions_of(m, cfg, int(pops.sum()), int(lines.sum()), entries, n_bc, n_vec, cycles)
    return {
        "cycles": cycles, "breakdown": bd, "actions": actions,
        "entries_nonbias": ent_nb, "effectual": eff, "bias_entries": bias_ent,
        "broadcasts": n_bc, "broadcast_stall_cycles": int(out_g[1]), "lnzd_bubble_cycles": int(out_g[2]),
        "load_efficiency": float((busy + empty).mean() / cycles) if cycles else 1.0,
        "pe_utilization": float(entries / max(1, N * cycles)),
        "busiest_pe_entries": int(ents.max()) if N else 0,
        "mean_pe_work_cycles": float((busy + empty).mean()), "max_pe_work_cycles": int((busy + empty).max()),
        "idle_fifo_empty_per_pe": idle_e.tolist(), "idle_tail_per_pe": idle_t.tolist(),
        "max_fifo_occupancy": int(out_g[3]), "fifo_depth": depth,
        "vectors": n_vec, "timing_loop": loop,
    }
