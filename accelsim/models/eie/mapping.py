"""How EIE runs a layer: conv lowering to one SpMV per active output pixel (:func:`lowered_weights`,
:class:`PixelVectors`), the LNZD broadcast order of every job and :func:`run_matrix`, which drives the
timing kernels and the functional kernel (see the package docstring, "Convolutions on EIE")."""

from __future__ import annotations

import numpy as np

from workloads import LayerInstance

from ...engine import largest_remainder
from ...errors import AccelsimError
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
    flat (p * Q + q) indices.  An fc layer is one vector."""

    def __init__(self, inst: LayerInstance):
        L = inst.layer
        self.L = L
        a = inst.acts_dense()
        if L.kind == "fc":
            self.pix = np.zeros(1, dtype=np.int64)
            self.x = a.reshape(1, -1)
        else:
            self.pix = np.flatnonzero(inst.out_mask_or_ones().ravel())
            p = L.padding
            self.x = np.pad(a, ((0, 0), (p, p), (p, p))) if p else a
        self.n = int(self.pix.shape[0])

    def __call__(self, a: int, b: int) -> np.ndarray:
        L = self.L
        if L.kind == "fc":
            return self.x[a:b]
        pix = self.pix[a:b]
        pr, pc = pix // L.Q, pix % L.Q
        hi = pr[:, None] * L.stride + np.arange(L.R) * L.dilation          # (n, R)
        wi = pc[:, None] * L.stride + np.arange(L.S) * L.dilation          # (n, S)
        patch = self.x[:, hi[:, :, None], wi[:, None, :]]                   # (C, n, R, S)
        return patch.transpose(1, 0, 2, 3).reshape(pix.shape[0], -1)


def broadcast_jobs(aug: np.ndarray, n_pass: int, window: int):
    """Broadcast order (non-zero positions), LNZD bubbles, offsets and pass of every job
    (pass-major, then vector), vectorised over the vectors."""
    vi, pos = np.nonzero(aug)                    # row-major: sorted by vector, then position
    n_vec = aug.shape[0]
    cnt = np.bincount(vi, minlength=n_vec)
    first = np.ones(pos.shape, dtype=bool)
    first[1:] = vi[1:] != vi[:-1]
    if window > 0:
        r = pos // window
        bub = np.empty_like(pos)
        bub[0:1] = r[0:1]
        d = r[1:] - r[:-1] - ((r[1:] > r[:-1]) & (pos[:-1] % window == window - 1))
        bub[1:] = d
        bub[first] = r[first]                    # first item of a vector: rows scanned before it
    else:
        bub = np.zeros_like(pos)
    seq = np.tile(pos, n_pass).astype(np.int64)
    bub = np.tile(bub, n_pass).astype(np.int64)
    seq_off = np.concatenate([[0], np.cumsum(np.tile(cnt, n_pass))]).astype(np.int64)
    job_pass = np.repeat(np.arange(n_pass), n_vec).astype(np.int64)
    return seq, bub, seq_off, job_pass, pos, vi


def augmented(m: EIEMatrix, v: np.ndarray) -> np.ndarray:
    """Rows of ``v`` (n_vec, C) with the bias column's activation appended (when the matrix has one)."""
    if v.ndim != 2 or v.shape[1] != m.n_in:
        raise AccelsimError(f"activation vector length {v.shape[-1]} != matrix inputs {m.n_in}")
    aug = np.empty((v.shape[0], m.n_cols))
    aug[:, :m.n_in] = v
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
    for c0 in range(0, max(n_vec, 1), CHUNK_VECTORS):
        c1 = min(n_vec, c0 + CHUNK_VECTORS)
        if c1 <= c0:
            break
        v = np.asarray(get(c0, c1), dtype=np.float64)
        aug = augmented(m, v)
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
            bias_ent += int(ent_per_col[m.n_in]) * v.shape[0]
        if functional:
            tmp = np.zeros((v.shape[0] * m.n_pass, m.n_out))
            act_off = (np.arange(v.shape[0] * m.n_pass, dtype=np.int64) % v.shape[0]) * m.n_cols
            functional_spmv(m.ptr, m.base, m.row, m.value, seq, seq_off, aug.ravel(), act_off, job_pass,
                        m.rows_per_pass, m.n_out, tmp)
            output[c0:c1] = tmp.reshape(m.n_pass, v.shape[0], m.n_out).sum(axis=0)
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
