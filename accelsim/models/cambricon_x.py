"""Cambricon-X (Zhang et al., MICRO 2016): cycle-level model, the first open one.

Architecture [paper Sec. 3-5; accelerators.md §4]: Tn = 16 PEs, each with a
private synapse buffer (SB) of compressed non-zero weights and a PE functional
unit of Tm = 16 multipliers + adder tree that accumulates across cycles.  A
central indexing module (IM) in the buffer controller decodes each PE's
weight indices and selects the matching input neurons out of NBin.  PEs run
asynchronously.  Activations are dense: zero input neurons are multiplied.

What the model walks (all in Numba, from the layer's real pruned weights):

1. **Compression** (:func:`compress`): every output map's filter, flattened to
   the reduction index ``c*R*S + r*S + s`` (length L = C/groups*R*S), is stored
   as non-zero values plus either
   * *direct indexing*: an L-bit mask per map [paper: 1 bit per synapse], or
   * *step indexing*: a ``step_bits`` distance to the previous non-zero
     [paper]; a gap larger than 2^step_bits - 1 zeros inserts an explicit zero
     entry (padding, as in :func:`accelsim.sparse.rle_encode`) that occupies a
     multiplier slot like a real synapse.
   Storage of both formats and their decoding work (mask bits scanned vs
   prefix-sum additions) are reported in ``extra["index_formats"]``.
2. **IM selection** (:func:`_map_cycles`): per cycle a PE takes up to Tm of its
   entries whose input neurons lie inside the IM's selection window of
   ``im.window_neurons`` consecutive neurons of NBin, starting at the first
   entry not yet taken (greedy, which is also the optimum, so the count is
   monotone in the non-zeros).  A dense filter gives exactly ceil(L/Tm)
   cycles per output neuron, DianNao's count.  Cycles lost to the window are
   ``im_window`` in the breakdown.
3. **PE schedule** (:func:`_timeline`): output neuron order as in DianNao's
   loop nest, which Cambricon-X keeps [paper Sec. 4: each PE owns one output
   neuron; for CONV, different output maps at the same position]: for each
   block of Tn output maps, for each active output position in raster order,
   PE i computes map ``block*Tn + i``.  ``pe.sync = async`` (paper) lets each PE
   run ahead: layer compute time = max over PEs of their summed work;
   ``lockstep`` waits for the slowest PE of each group (for comparison).
4. **Memory** (shared with DianNao, :func:`accelsim.models.diannao.dma_traffic`):
   compressed weights once, inputs once or per reduction tile when they do not
   fit NBin, partial-sum spills; DMA overlaps compute (assumed double
   buffering): ``memory_stall`` = max(0, DMA cycles - compute cycles).

Breakdown (sums to ``cycles``): ``busy`` (multiplier slots with a real
synapse), ``fragmentation`` (empty slots of an output neuron's last chunk,
nnz mod 16 != 0), ``step_padding`` (slots of step-index padding entries),
``im_window`` (extra chunks forced by the IM window), ``load_imbalance``
(PE idle while the slowest PE works, incl. PEs without a map in the last
block), ``memory_stall``, ``pipeline_fill``.  The dynamic head's output mask
skips inactive output neurons entirely; ``extra["savings"]`` separates the
cycles saved by weight sparsity (dense weights, no mask -> sparse weights, no
mask) from those saved by the mask (sparse, no mask -> sparse, mask).

Depthwise layers (choice, documented): groups = C, so each output map is a dot
product over R x S of its own input channel; maps are assigned to PEs like any
conv (k mod Tn).  With 3x3 filters only <= 9 of 16 multipliers work per
cycle (fragmentation); the design has no way to pack several channels into
one PE since each PE accumulates one output neuron.

Peak throughput: 16 PEs x 16 multipliers x 2 ops (multiply + add) x 1 GHz =
512 GOP/s of useful work.  The paper's 544 GOP/s headline is 16 x 34 ops per
cycle; counting the adder tree (15 adds) plus the accumulator (1) with the
16 multiplies gives the 32 ops of the 512 figure, so the other 2 ops per PE
per cycle must come from units outside the multiply-accumulate path (most
plausibly the PE's output stage: bias add / activation function).  The PDF
has not been checked (accelerators.md §4.1 marks it unresolved); the model's
useful-work peak is 512 GOP/s.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit

from accelsim.config import Field
from accelsim.engine import AcceleratorModel, LayerResult
from accelsim.errors import ConfigError
from accelsim.models import register_model
from accelsim.sparse import _rle_counts, _rle_fill
from workloads.ir import SparseTensor

from .diannao import BUFFER_NOTE, dma_traffic, largest_remainder

PAPER = "Zhang et al., Cambricon-X, MICRO 2016"


# ------------------------------------------------------------------ compression
@njit(cache=True)
def _step_entries(row_ptr, nz_pos, max_run):
    """Step-indexed entries of every map (CSR rows): ptr, positions, source index (-1 = padding)."""
    K = row_ptr.shape[0] - 1
    ptr = np.zeros(K + 1, np.int64)
    for k in range(K):
        ptr[k + 1] = ptr[k] + _rle_counts(nz_pos[row_ptr[k]:row_ptr[k + 1]], 0, max_run)
    n = ptr[K]
    tag = np.zeros(n, np.float64)
    runs = np.zeros(n, np.int64)
    pos = np.zeros(n, np.int64)
    for k in range(K):
        a, b = row_ptr[k], row_ptr[k + 1]
        idx = np.arange(a, b).astype(np.float64) + 1.0  # padding entries come back as 0
        _rle_fill(nz_pos[a:b], idx, max_run, tag[ptr[k]:ptr[k + 1]], runs[ptr[k]:ptr[k + 1]],
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


def weights_csr(inst):
    """(K, L) non-zero pattern of the weights as CSR: row_ptr, positions, values (float64)."""
    L_ = inst.layer
    K, L = L_.K, (L_.C // L_.groups) * L_.R * L_.S
    w = inst.weights
    if isinstance(w, SparseTensor):
        m = w.mask.reshape(K, L)
        vals = w.values.astype(np.float64) if w.values is not None else np.ones(w.nnz)
    else:
        w = np.asarray(w, dtype=np.float64).reshape(K, L)
        m = w != 0
        vals = w[m]
    rows, cols = np.nonzero(m)  # C order == order of SparseTensor.values
    ptr = np.zeros(K + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=K), out=ptr[1:])
    return K, L, ptr, cols.astype(np.int64), vals


def compress(inst, fmt: str, value_bits: int = 16, step_bits: int = 8) -> Compressed:
    """Compress the layer's weights in ``fmt`` ('direct' or 'step'), from the real pruned pattern."""
    K, L, ptr, pos, vals = weights_csr(inst)
    nnz = np.diff(ptr)
    if fmt == "direct":
        return Compressed(fmt, K, L, ptr, pos, vals, np.zeros(pos.shape[0], bool), nnz, value_bits, step_bits)
    sptr, spos, src = _step_entries(ptr, pos, (1 << step_bits) - 1)
    pad = src < 0
    sval = np.where(pad, 0.0, vals[np.maximum(src, 0)]) if src.size else np.zeros(0)
    return Compressed(fmt, K, L, sptr, spos, sval, pad, nnz, value_bits, step_bits)


# ------------------------------------------------------------------- cycle walk
@njit(cache=True)
def _map_cycles(ptr, pos, tm, window):
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
def _timeline(map_cyc, active, n_pe, lockstep):
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


@njit(cache=True)
def _walk_outputs(ptr, pos, val, ent_c, ent_r, ent_s, acts_p, active, P, Q, stride, dil, kpg, cg):
    """out[k, p*Q+q] = sum over map k's entries of val * input neuron (skips inactive positions).

    ``acts_p`` is the zero-padded (C, Hp, Wp) input; entry e of map k reads channel
    g(k)*cg + ent_c[e] at (p*stride + r*dil, q*stride + s*dil).
    """
    K = ptr.shape[0] - 1
    out = np.zeros((K, P * Q), acts_p.dtype)
    for k in range(K):
        c0 = (k // kpg) * cg
        for pq in range(P * Q):
            if not active[pq]:
                continue
            p = pq // Q
            q = pq - p * Q
            acc = 0.0
            for e in range(ptr[k], ptr[k + 1]):
                acc += val[e] * acts_p[c0 + ent_c[e], p * stride + ent_r[e] * dil, q * stride + ent_s[e] * dil]
            out[k, pq] = acc
    return out


def effectual_and_output(inst, active: np.ndarray, functional: bool, comp: Compressed | None = None):
    """Effectual MACs (non-zero w x non-zero a on active outputs) and, if asked, the layer output (K, P, Q).

    Both walk the compressed weights over the real input neurons; the output is
    float64 and includes the bias on active outputs (inactive outputs are 0).
    """
    Ly = inst.layer
    comp = comp or compress(inst, "direct")
    real = ~comp.pad
    ptr_r = comp.ptr
    pos, val = comp.pos, comp.val
    if comp.pad.any():  # drop padding entries: they hold no weight
        keep = np.concatenate([[0], np.cumsum(real)])
        ptr_r = keep[comp.ptr]
        pos, val = pos[real], val[real]
    RS = Ly.R * Ly.S
    ent_c, rs = np.divmod(pos, RS)
    ent_r, ent_s = np.divmod(rs, Ly.S)
    a = inst.acts_dense()
    pd = Ly.padding
    nzp = np.pad((a != 0).astype(np.float64), ((0, 0), (pd, pd), (pd, pd)))
    act_b = active.astype(np.bool_)
    kpg, cg = Ly.K // Ly.groups, Ly.C // Ly.groups
    args = (ent_c, ent_r, ent_s)
    cnt = _walk_outputs(ptr_r, pos, np.ones(pos.shape[0]), *args, nzp, act_b, Ly.P, Ly.Q, Ly.stride,
                        Ly.dilation, kpg, cg)
    eff = int(round(cnt.sum()))
    out = None
    if functional:
        ap = np.pad(a, ((0, 0), (pd, pd), (pd, pd)))
        out = _walk_outputs(ptr_r, pos, val, *args, ap, act_b, Ly.P, Ly.Q, Ly.stride, Ly.dilation, kpg, cg)
        if Ly.bias is not None:
            out = out + np.asarray(Ly.bias, np.float64)[:, None] * act_b[None, :]
        out = out.reshape(Ly.K, Ly.P, Ly.Q)
    return eff, out


# ------------------------------------------------------------------------ model
IM_ACTIONS = ("im_select_16b", "im_step_add", "im_direct_scan_bit")


@register_model("cambricon-x")
class CambriconX(AcceleratorModel):
    """Cambricon-X: 16 asynchronous PEs x 16 multipliers, compressed weights, central indexing module."""

    FIELDS = {
        "pe.count": Field(int, "PEs", default=16, source=f"{PAPER}, abstract / Sec. 4 (Tn = 16)"),
        "pe.multipliers": Field(int, "multipliers/PE", default=16, source=f"{PAPER}, Sec. 4 (Tm = 16)"),
        "pe.sync": Field(str, "", default="async", choices=("async", "lockstep"),
                         source=f"{PAPER}, abstract (PEs asynchronous)",
                         doc="async: each PE moves on when done; lockstep: groups wait for their slowest PE"),
        "data.bits": Field(int, "bits", default=16, choices=(8, 16, 32), source=f"{PAPER}: 16-bit fixed point"),
        "index.format": Field(str, "", default="step", choices=("step", "direct"),
                              source="assumed: the paper compares both and picks by sparsity range",
                              doc="weight index format held in the SB and decoded by the IM"),
        "index.step_bits": Field(int, "bits", default=8, min=1, max=16, source="assumed",
                                 doc="width of a step index; longer gaps insert padding entries"),
        "im.window_neurons": Field(int, "neurons", default=256, min=1,
                                   source="assumed: one NBin read of Tn x Tm = 256 neurons",
                                   doc="span of consecutive input neurons the IM can select a chunk from"),
        "nbin.bytes": Field(int, "bytes", default=8192, source=f"assumed; {BUFFER_NOTE}"),
        "nbout.bytes": Field(int, "bytes", default=8192, source=f"assumed; {BUFFER_NOTE}"),
        "sb.bytes_per_pe": Field(int, "bytes", default=2048, source=f"assumed; {BUFFER_NOTE}"),
        "dma.bytes_per_cycle": Field(float, "bytes/cycle", default=256.0,
                                     source="assumed (DRAM bandwidth not established, accelerators.md §10)"),
        "dma.enabled": Field(bool, "", default=True, doc="false: ideal memory (no DMA stalls, no DRAM energy)"),
        "pipeline.fill_cycles": Field(int, "cycles", default=7, min=0,
                                      source="assumed: IM decode 2 + multiply 1 + adder tree 4 stages, once per layer"),
        "skip_masked_outputs": Field(bool, "", default=True,
                                     doc="skip output neurons the dynamic head's mask turns off"),
    }
    MAPPING_NOTES = {
        "conv": "PE i computes output map block*16+i at one position; dot product over C*R*S non-zeros",
        "fc": "PE i computes output neuron block*16+i; dot product over the C non-zeros of its row",
        "depthwise": "PE i computes channel block*16+i; dot product over the R*S non-zeros of its own channel",
    }

    @classmethod
    def check_config(cls, cfg):
        if cfg["im.window_neurons"] < cfg["pe.multipliers"]:
            raise ConfigError(f"must be >= pe.multipliers ({cfg['pe.multipliers']}): a window narrower than "
                              "Tm cannot feed a dense chunk", file=cfg.file, field="im.window_neurons")

    def peak_macs_per_cycle(self) -> int:
        return int(self.cfg["pe.count"]) * int(self.cfg["pe.multipliers"])

    def peak_ops_per_s(self) -> float:
        """Useful-work peak (ops/s): PEs x multipliers x 2 (multiply + add) x clock."""
        return 2.0 * self.peak_macs_per_cycle() * self.cfg.clock_hz

    # -------------------------------------------------------------- one layer
    def simulate_layer(self, inst, functional: bool = False) -> LayerResult:
        cfg = self.cfg
        Ly = inst.layer
        n_pe, tm = int(cfg["pe.count"]), int(cfg["pe.multipliers"])
        vb, sbits = int(cfg["data.bits"]), int(cfg["index.step_bits"])
        db = max(1, vb // 8)
        fmt = cfg["index.format"]
        comp = compress(inst, fmt, vb, sbits)
        other = compress(inst, "direct" if fmt == "step" else "step", vb, sbits)
        K, L = comp.K, comp.L
        om = inst.out_mask_or_ones().ravel()
        active = (om if cfg["skip_masked_outputs"] else np.ones_like(om)).astype(np.bool_)
        n_active = int(active.sum())
        ones = np.ones_like(active)

        map_cyc = _map_cycles(comp.ptr, comp.pos, tm, int(cfg["im.window_neurons"]))
        lock = cfg["pe.sync"] == "lockstep"
        pe_busy, t_lock = _timeline(map_cyc, active, n_pe, lock)
        comp_cyc = int(t_lock if lock else (pe_busy.max() if pe_busy.size else 0))

        # multiplier-slot accounting per PE (slots = cycles x Tm), summed over PEs
        ent = comp.entries_per_map
        nnz = comp.nnz_per_map
        chunks_min = -(-ent // tm)
        pe_of = np.arange(K) % n_pe
        per_pe = lambda x: np.bincount(pe_of, weights=x.astype(np.float64), minlength=n_pe) * n_active  # noqa: E731
        s_busy = per_pe(nnz).sum()
        s_pad = per_pe(ent - nnz).sum()
        s_frag = per_pe(chunks_min * tm - ent).sum()
        s_win = per_pe((map_cyc - chunks_min) * tm).sum()
        s_idle = float(comp_cyc * n_pe * tm) - float(pe_busy.sum()) * tm
        parts = {"busy": s_busy, "fragmentation": s_frag, "step_padding": s_pad, "im_window": s_win,
                 "load_imbalance": s_idle}
        bd = largest_remainder({k: v / (n_pe * tm) for k, v in parts.items()}, comp_cyc)

        dma = dma_traffic(C=Ly.C, H=Ly.H, W=Ly.W, K=K, n_active=n_active, map_bytes=comp.map_bytes(), n_pe=n_pe,
                          nbin_bytes=cfg["nbin.bytes"], nbout_bytes=cfg["nbout.bytes"],
                          sb_bytes_per_pe=cfg["sb.bytes_per_pe"], data_bytes=db)
        dma_cyc = int(math.ceil(dma["total"] / cfg["dma.bytes_per_cycle"])) if cfg["dma.enabled"] else 0
        stall = max(0, dma_cyc - comp_cyc)
        fill = int(cfg["pipeline.fill_cycles"]) if comp_cyc else 0
        bd.update(memory_stall=stall, pipeline_fill=fill)
        cycles = comp_cyc + stall + fill

        # compute counts (activations dense: zero neurons are multiplied)
        n_real = int(nnz.sum())
        n_pad = int(ent.sum()) - n_real
        macs_actual = n_real * n_active
        macs_gated = n_pad * n_active  # padding entries keep a slot; weight 0 -> gated
        eff, out = effectual_and_output(inst, active, functional, comp)
        nb = -(-K // n_pe)
        e_all = int(ent.sum()) * n_active
        actions = {
            "mult_16b": macs_actual,
            "add_16b": macs_actual,                      # adder tree + accumulator: one add per product
            "sb_read_16b": e_all,                        # synapse values (padding entries included)
            "sb_index_read_bit": (e_all * sbits) if fmt == "step" else K * L * n_active,
            "im_select_16b": e_all,                      # neurons muxed out of the window to the PEs
            "im_step_add": e_all if fmt == "step" else 0,          # prefix-sum adder chain
            "im_direct_scan_bit": K * L * n_active if fmt == "direct" else 0,  # mask bits scanned
            "nbin_read_16b": nb * n_active * L,          # BC streams each position's receptive field once per block
            "nbout_write_16b": K * n_active,
            "dram_byte": dma["total"] if cfg["dma.enabled"] else 0,
        }
        actions = {a: v for a, v in actions.items() if v}
        e_pJ = self.energy.rollup(actions)
        e_tot = sum(e_pJ.values())
        im_pJ = sum(v for a, v in e_pJ.items() if a in IM_ACTIONS)

        # savings: weight sparsity vs the dynamic head's output mask (compute cycles, async)
        dense_neuron = -(-L // tm)
        pe_maps = np.bincount(pe_of, minlength=n_pe)
        dense_nomask = int(pe_maps.max()) * dense_neuron * int(ones.sum()) if K else 0
        pe_sparse_nomask, t_lock1 = _timeline(map_cyc, ones, n_pe, lock)
        sparse_nomask = int(t_lock1 if lock else pe_sparse_nomask.max())
        mean_pe = float(pe_busy.mean()) if pe_busy.size else 0.0
        fmts = {c.fmt: {"storage_bytes": int(c.map_bytes().sum()), "value_bits": int(c.entries_per_map.sum()) * vb,
                        "index_bits": int(c.map_bits().sum() - c.entries_per_map.sum() * vb),
                        "entries": int(c.entries_per_map.sum()), "padding_entries": int(c.pad.sum()),
                        "decode_ops_per_pass": (int(c.entries_per_map.sum()) if c.fmt == "step" else K * L),
                        "decode_op": "prefix-sum addition" if c.fmt == "step" else "mask bit scanned"}
                for c in (comp, other)}
        extra = {
            "index_format": fmt, "index_formats": fmts, "dense_weight_bytes": K * L * db,
            "weight_nnz": n_real, "weight_density": n_real / max(1, K * L), "reduction_length": L,
            "n_active_positions": n_active, "compute_cycles": comp_cyc, "dma_cycles": dma_cyc, "dma_bytes": dma,
            "pe_cycles": pe_busy.tolist(),
            "load_imbalance_ratio": float(pe_busy.max() / mean_pe) if mean_pe else 1.0,
            "savings": {"dense_weights_no_mask_cycles": dense_nomask, "sparse_weights_no_mask_cycles": sparse_nomask,
                        "actual_compute_cycles": comp_cyc,
                        "weight_sparsity_saved_cycles": dense_nomask - sparse_nomask,
                        "output_mask_saved_cycles": sparse_nomask - comp_cyc},
            "energy_share_im": im_pJ / e_tot if e_tot else 0.0,
        }
        return LayerResult(inst.name, inst.image, cycles, bd, actions, Ly.macs_dense, eff, macs_actual,
                           macs_skipped=Ly.macs_dense - macs_actual - macs_gated, macs_gated=macs_gated,
                           output=out, extra=extra)
