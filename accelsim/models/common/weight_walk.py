"""Walk a layer's non-zero weights (CSR rows, one per output map) over the real input neurons.

Shared by Cambricon-X (``accelsim/models/cambricon_x/``, whose compressed formats are CSR rows
plus step-index padding) and DianNao (``accelsim/models/diannao/``, which counts effectual MACs
and computes its functional output the same way): :func:`weights_csr` gives the (K, L) non-zero
pattern, :func:`effectual_and_output` the effectual MAC count and, if asked, the layer output.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workloads.effectual import effectual_macs
from workloads.ir import SparseTensor


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


def effectual_and_output(inst, active: np.ndarray, functional: bool, comp=None):
    """Effectual MACs (non-zero w x non-zero a on outputs the mask keeps) and, if asked, the output (K, P, Q).

    The count is :func:`workloads.effectual.effectual_macs` (the non-zero patterns' product, factorised per
    (channel, tap); checked against a brute-force count in tests/workloads/test_effectual.py).  Timing mode
    needs no weight rows: building them, then walking them over the activations' pattern on small layers
    (this function until 2026-12-01), took 1.4-18x the count's time on the paper heads' layers.
    ``comp``: the layer's compressed weights, any object with CSR rows ``ptr, pos, val`` and a
    per-entry padding flag ``pad`` (Cambricon-X's ``Compressed``); None: the plain CSR of the
    weights (:func:`weights_csr`, Cambricon-X's direct format: no padding entries).
    The output walks the compressed weights over the real input neurons for the
    outputs in ``active``; it is float64 and includes the bias (other outputs are 0).
    """
    eff = effectual_macs(inst)
    if not functional:
        return eff, None
    Ly = inst.layer
    if comp is None:
        _, _, ptr_r, pos, val = weights_csr(inst)
    else:
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
    pd = Ly.padding
    act_b = active.astype(np.bool_)
    kpg, cg = Ly.K // Ly.groups, Ly.C // Ly.groups
    ap = np.pad(inst.acts_dense(), ((0, 0), (pd, pd), (pd, pd)))
    out = _walk_outputs(ptr_r, pos, val, ent_c, ent_r, ent_s, ap, act_b, Ly.P, Ly.Q, Ly.stride, Ly.dilation,
                        kpg, cg)
    if Ly.bias is not None:
        out = out + np.asarray(Ly.bias, np.float64)[:, None] * act_b[None, :]
    return eff, out.reshape(Ly.K, Ly.P, Ly.Q)
