"""EIE's work units for ``--sample`` (:mod:`accelsim.sampling`): one unit per active output pixel of a conv
layer (its SpMV job in every pass); an fc layer is one vector, hence one unit (never sampled).

Why a pixel is an exact unit: both timing kernels start every job from an empty machine -- the stepper
(:func:`~accelsim.models.eie.kernel.run_jobs`) clears the FIFOs (``popped``), the pointer registers (``rem``)
and the Spmat line register (``lastline = -1``) at each job, the event form
(:func:`~accelsim.models.eie.kernel.run_jobs_event`) clears ``Fl`` / ``lastline`` / the per-job counters and
times every job from cycle 0 (its ring ``Mr`` is read only for items of the current job) -- and a job's
broadcast order and LNZD bubbles depend on its own vector only (:func:`~accelsim.models.eie.mapping.broadcast_jobs`
gives the first item of each vector the rows scanned before it).  Nothing is carried from one job to
the next except the layer-wide maximum FIFO occupancy (a statistic, no cycle or action), so the layer is
the sum of its jobs plus ``pass_overhead_cycles`` between consecutive jobs, ``(jobs - 1)`` times, and
the order of the jobs (pass-major in :func:`~accelsim.models.eie.mapping.run_matrix`, pixel-major here)
changes no total.  Each unit's numbers carry its own jobs and ``pass_overhead_cycles`` per job;
:meth:`EIEPixels.result` rebuilds the layer from the per-PE / global kernel totals with the exhaustive
path's own :func:`~accelsim.models.eie.mapping.summarize` and :meth:`EIE.layer_result`, so the two cannot
drift (contract: :func:`accelsim.sampling.check_decomposition`).
"""

from __future__ import annotations

import copy

import numpy as np
from numba import njit

from ...base import LayerResult
from ...sampling import UnitResults, UnitSpace
from .formats import ENTRY_BITS
from .kernel import run_units
from .mapping import CHUNK_VECTORS, actions_of, augmented_rows, broadcast_jobs, summarize

#: kernel accumulators carried per unit: out_pe rows (6 is unused) and out_g entries (3, the maximum FIFO
#: occupancy, is a maximum, kept aside)
PE_ROWS = (0, 1, 2, 3, 4, 5, 7)
G_SUMS = (0, 1, 2, 4, 5)


#: :func:`_sums_exact`: weights on a grid of 2**-EXACT_BITS whose total stays below 2**(53 - EXACT_BITS)
EXACT_BITS = 20


def _sums_exact(w: np.ndarray) -> bool:
    """Whether every sum of a subset of ``w`` is exact in float64, in any order: all ``w`` non-negative multiples
    of 2**-EXACT_BITS (EIE's proxy weights are means over N PEs of integers: N a power of two) with a total
    below 2**(53 - EXACT_BITS), so every partial sum is an integer multiple of 2**-EXACT_BITS below 2**53."""
    g = w * float(1 << EXACT_BITS)
    return bool(np.all(w >= 0) and np.all(g == np.floor(g)) and g.sum() < 2.0 ** 53)


@njit(cache=True)
def _masked_product(wc, nz, z):
    """``z += wc.T @ nz`` for a boolean ``nz`` (C, n) and ``wc`` (C, k): z[i, j] = sum of wc[c, i] over the c
    with nz[c, j]; channel by channel (exact when :func:`_sums_exact`)."""
    for c in range(nz.shape[0]):
        for i in range(wc.shape[1]):
            v = wc[c, i]
            for j in range(nz.shape[1]):
                z[i, j] += v * nz[c, j]          # + 0.0 where the mask is off: z stays exact


def _row_keys(k: np.ndarray) -> np.ndarray:
    """The rows of a uint8 matrix as single items (compared, sorted and made unique as byte strings)."""
    k = np.ascontiguousarray(k)
    return k.view(np.dtype((np.void, k.shape[1]))).ravel()


def _byte_rows_rank(k: np.ndarray) -> np.ndarray:
    """Rank of every row of ``k`` among its distinct rows in byte order (``np.unique``'s inverse)."""
    return np.unique(_row_keys(k), return_inverse=True)[1].reshape(-1)


class EIEPixels(UnitSpace):
    """A layer's active output pixels as work units (see the module docstring); ``proxy``: the pixel's
    broadcast columns weighted by their mean per-PE stream cycles ``max(1, entries)`` over the passes."""

    unit = "output pixel"

    def __init__(self, model, inst):
        L = inst.layer
        cfg = model.cfg
        self.model = model
        self.m = m = model.matrix_for(inst)
        self.vecs = model.vectors_for(inst)
        self.depth = int(cfg["fifo_depth"])
        self.loop = cfg.get("timing_loop", "event")
        self.window = m.n_pe if cfg["lnzd_row_bubble"] else 0
        self.tables = m.stream_tables(int(cfg["spmat_line_bits"]) // ENTRY_BITS)
        cnt = self.tables[0]
        self.nz_per_col = m.nonzeros_per_column().sum(axis=0)
        self.ent_per_col = cnt.sum(axis=(0, 2)).astype(np.int64)
        self.dense_per_unit = L.K * (L.C // L.groups) * L.R * L.S
        if L.kind == "fc":
            self.unit = "vector"
        w = np.maximum(cnt, 1).mean(axis=2).sum(axis=0)          # (n_cols,)
        super().__init__(inst, self.vecs.n, self._proxy(w))
        self.max_occupancy = 0
        self.simulated = np.zeros(self.n_units, dtype=bool)
        self.cls: np.ndarray | None = None

    def _proxy(self, w: np.ndarray) -> np.ndarray:
        """Per active pixel: sum of ``w`` over its non-zero im2col entries (+ the bias column), i.e. the
        correlation of the padded activations' non-zero mask with ``w`` as a C x R x S filter."""
        L, m, vecs = self.vecs.L, self.m, self.vecs
        bias = float(w[m.n_in]) if m.has_bias else 0.0
        if L.kind == "fc":
            return (vecs.x != 0) @ w[:m.n_in] + bias
        nzb = vecs.nonzero_mask()                                  # (C, Hp, Wp), padded
        Hp, Wp = nzb.shape[1:]
        # z[r, s] = sum_c w[c, r, s] * nz[c]: one (R S, C) x (C, Hp Wp) product, then shifted sums
        wc = w[:m.n_in].reshape(L.C, L.R * L.S)
        if _sums_exact(w):   # any order gives the product's sums: a loop over the mask, no float copy of it
            z = np.zeros((L.R * L.S, Hp * Wp))
            _masked_product(wc, nzb.reshape(L.C, -1), z)
            z = z.reshape(L.R, L.S, Hp, Wp)
        else:
            z = (wc.T @ nzb.astype(np.float64).reshape(L.C, -1)).reshape(L.R, L.S, Hp, Wp)
        acc = np.zeros((L.P, L.Q))
        hs, ws = L.stride * (L.P - 1) + 1, L.stride * (L.Q - 1) + 1
        for r in range(L.R):
            for s_ in range(L.S):
                h0, w0 = r * L.dilation, s_ * L.dilation
                acc += z[r, s_, h0:h0 + hs:L.stride, w0:w0 + ws:L.stride]
        return acc.ravel()[vecs.pix] + bias

    def unit_classes(self) -> np.ndarray | None:
        """Pixels whose im2col vectors have the same non-zero positions run the same jobs (the broadcast
        order, LNZD bubbles and per-column streams depend on positions only; values matter only in
        functional mode): one class per pattern.  Units of a class run also mark the class simulated."""
        if self.inst.layer.kind == "fc":
            return None
        if not self.n_units:
            self.cls = _byte_rows_rank(np.zeros((0, 1), dtype=np.uint8))
            return self.cls
        # class = rank of the pattern's packed bits (np.packbits of the im2col mask) among the distinct ones.
        # Grouped first by a cheaper key with the same equalities (the R x S windows' channel masks, packed per
        # position, gathered), then ranked by the packed bits of one pixel per group only
        _, first, inv = np.unique(_row_keys(self.vecs.window_masks()), return_index=True, return_inverse=True)
        self.cls = _byte_rows_rank(self.vecs.patterns(first))[inv.reshape(-1)]
        return self.cls

    def _vectors(self, idx: np.ndarray):
        """The vectors of pixels ``idx``: an fc layer's rows, else a :class:`PixelVectors` of those pixels."""
        if self.inst.layer.kind == "fc":
            return self.vecs.x[idx]
        sub = copy.copy(self.vecs)
        sub.pix = self.vecs.pix[idx]
        return sub

    def run(self, sel: np.ndarray) -> UnitResults:
        m, cfg = self.m, self.model.cfg
        sel = np.asarray(sel, dtype=np.int64)
        n, N, n_pass = len(sel), m.n_pe, m.n_pass
        pe = np.zeros((n, 8, N), dtype=np.int64)
        g = np.zeros((n, 6), dtype=np.int64)
        eff = np.zeros(n, dtype=np.int64)
        ent_nb = np.zeros(n, dtype=np.int64)
        cnt, lf, ll = self.tables
        buf = np.empty((min(n, CHUNK_VECTORS), m.n_cols))   # each chunk's activations (augmented_rows)
        for c0 in range(0, n, CHUNK_VECTORS):
            c1 = min(n, c0 + CHUNK_VECTORS)
            aug = augmented_rows(m, self._vectors(sel[c0:c1]), 0, c1 - c0, buf)
            # pixel-major: a unit's n_pass jobs are consecutive
            seq, bub, seq_off, job_pass, pos, vi = broadcast_jobs(aug, n_pass, self.window, pixel_major=True)
            uo = np.arange(c1 - c0 + 1, dtype=np.int64) * n_pass          # unit u: its n_pass jobs
            run_units(cnt, lf, ll, seq, seq_off, bub, job_pass, self.depth, uo, self.loop == "event",
                      pe[c0:c1], g[c0:c1])
            nb = pos < m.n_in
            np.add.at(eff, c0 + vi[nb], self.nz_per_col[pos[nb]])
            np.add.at(ent_nb, c0 + vi[nb], self.ent_per_col[pos[nb]])
        if n:
            self.max_occupancy = max(self.max_occupancy, int(g[:, 3].max()))
        self.simulated[sel] = True
        if self.cls is not None:  # a unit run stands for its class (unit_classes)
            self.simulated |= np.isin(self.cls, self.cls[sel])
        poc = int(cfg["pass_overhead_cycles"])
        over = poc * g[:, 5]                     # this unit's jobs' share of the overhead between jobs
        cycles = g[:, 0] + over
        busy, empty, idle_e, idle_t, pops, lines, _, ents = (pe[:, r, :] for r in range(8))
        bd = {"busy": busy.mean(axis=1), "empty_column": empty.mean(axis=1),
              "idle_fifo_empty": idle_e.mean(axis=1), "idle_tail": idle_t.mean(axis=1),
              "pass_overhead": over.astype(np.float64)}
        acts = actions_of(m, cfg, pops.sum(axis=1), lines.sum(axis=1), ents.sum(axis=1), g[:, 4], 1, cycles)
        acts = {k: np.broadcast_to(np.asarray(v), (n,)).astype(np.float64) for k, v in acts.items()}
        macs = {"macs_effectual": eff, "macs_actual": ent_nb, "macs_skipped": self.dense_per_unit - ent_nb,
                "macs_gated": np.zeros(n, dtype=np.int64)}
        aux = {f"pe{r}_{p}": pe[:, r, p] for r in PE_ROWS for p in range(N)}
        aux.update({f"g{i}": g[:, i] for i in G_SUMS})
        aux["bias_entries"] = np.full(n, int(self.ent_per_col[m.n_in]) if m.has_bias else 0, dtype=np.int64)
        return UnitResults(cycles, bd, acts, macs, aux)

    def result(self, totals: UnitResults) -> LayerResult:
        """:meth:`EIE.layer_result` of :func:`mapping.summarize` on the totals (counts rounded to integers:
        exact when every unit ran, an estimate's rounding otherwise)."""
        m = self.m
        t = totals.aux

        def r(a):
            return int(np.rint(float(a[0])))
        out_pe = np.zeros((8, m.n_pe), dtype=np.int64)
        for row in PE_ROWS:
            for p in range(m.n_pe):
                out_pe[row, p] = r(t[f"pe{row}_{p}"])
        out_g = np.zeros(6, dtype=np.int64)
        for i in G_SUMS:
            out_g[i] = r(t[f"g{i}"])
        out_g[3] = self.max_occupancy
        res = summarize(m, self.model.cfg, out_pe, out_g, self.n_units, r(totals.macs["macs_effectual"]),
                        r(totals.macs["macs_actual"]), r(t["bias_entries"]), self.depth, self.loop)
        lr = self.model.layer_result(self.inst, m, res, self.n_units)
        if not self.simulated.all():
            lr.extra["max_fifo_occupancy_of"] = "the sampled pixels"
        return lr
