"""Effectual-work helpers every model shares.

Effectual MAC = a non-zero weight times a non-zero activation landing on an
active output pixel.  ``effectual_counts`` returns that count per output
(K, P, Q) from the non-zero patterns alone, via an im2col product of the 0/1
patterns (exact in float32 up to 2^24 terms per output).
"""

from __future__ import annotations

import weakref

import numpy as np

from .ir import LayerInstance, SparseTensor, Workload, nonzero_mask

#: :func:`effectual_macs` of instances whose layer and operands are the very objects of an earlier call (identity,
#: checked through weak references, so a freed object's reused id never hits), kept only once :func:`memoize`
#: turned it on: in the persistent worker processes of ``accelsim.forkpool``, whose workloads are fork-inherited
#: copies that nothing writes to, where seven of the nine default targets' models ask for the same layer's count.
#: Never on by default: a caller may change an array in place between two calls.
_MEMO: dict | None = None
_MEMO_MAX = 4096


def memoize(on: bool = True) -> None:
    """Turn :func:`effectual_macs`'s memo on (emptied) or off; only for processes whose instances' arrays are
    never written to (``_MEMO``'s comment)."""
    global _MEMO
    _MEMO = {} if on else None


def memoizing() -> bool:
    """Whether :func:`memoize` turned the memo on in this process."""
    return _MEMO is not None


def _identity(inst: LayerInstance) -> tuple:
    """The objects an effectual count depends on: the layer (shape), the operands' patterns, the output mask."""
    def pat(x):
        return x.mask if isinstance(x, SparseTensor) else x
    return inst.layer, pat(inst.acts), pat(inst.weights), inst.out_mask


def _memo_call(fn, inst: LayerInstance):
    """``fn(inst)`` through the memo when it is on (``_MEMO``'s comment): a hit needs the same function and the
    very objects of :func:`_identity`."""
    if _MEMO is None:
        return fn(inst)
    objs = _identity(inst)
    key = (fn.__name__, *(id(o) for o in objs))
    hit = _MEMO.get(key)
    if hit is not None and all((r is None and o is None) or (r is not None and r() is o) for r, o in zip(hit[0], objs)):
        return hit[1]
    v = fn(inst)
    try:
        refs = tuple(None if o is None else weakref.ref(o) for o in objs)
    except TypeError:  # an operand that takes no weak reference (a list): not memoized
        return v
    if len(_MEMO) >= _MEMO_MAX:
        _MEMO.clear()
    if isinstance(v, np.ndarray):
        v.flags.writeable = False  # shared by the callers
    _MEMO[key] = (refs, v)
    return v


def im2col(x: np.ndarray, R: int, S: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> np.ndarray:
    """(C, H, W) -> (C*R*S, P*Q) columns, row index c*R*S + r*S + s (zero padding)."""
    C, H, W = x.shape
    if padding:
        x = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    Hp, Wp = x.shape[1:]
    P = (Hp - dilation * (R - 1) - 1) // stride + 1
    Q = (Wp - dilation * (S - 1) - 1) // stride + 1
    cols = np.empty((C, R, S, P, Q), dtype=x.dtype)
    for r in range(R):
        for s in range(S):
            r0, s0 = r * dilation, s * dilation
            cols[:, r, s] = x[:, r0:r0 + stride * (P - 1) + 1:stride, s0:s0 + stride * (Q - 1) + 1:stride]
    return cols.reshape(C * R * S, P * Q)


def conv_reference(acts: np.ndarray, weights: np.ndarray, stride=1, padding=0, dilation=1, groups=1,
                   bias: np.ndarray | None = None) -> np.ndarray:
    """Plain numpy convolution (float64): acts (C,H,W), weights (K,C/g,R,S) -> (K,P,Q)."""
    K, Cg, R, S = weights.shape
    outs = []
    Kg = K // groups
    for g in range(groups):
        cols = im2col(acts[g * Cg:(g + 1) * Cg], R, S, stride, padding, dilation)
        w = weights[g * Kg:(g + 1) * Kg].reshape(Kg, -1)
        outs.append(w @ cols)
    out = np.concatenate(outs, axis=0)
    PQ = out_size(acts.shape[1], acts.shape[2], R, S, stride, padding, dilation)
    out = out.reshape(K, *PQ)
    if bias is not None:
        out = out + bias[:, None, None]
    return out


def out_size(H, W, R, S, stride, padding, dilation):
    P = (H + 2 * padding - dilation * (R - 1) - 1) // stride + 1
    Q = (W + 2 * padding - dilation * (S - 1) - 1) // stride + 1
    return P, Q


def effectual_counts(inst: LayerInstance) -> np.ndarray:
    """Effectual MACs per output (K, P, Q), ignoring the output mask.

    Needs the non-zero patterns of acts and weights (call ``materialize`` first
    for density-only layers).
    """
    L = inst.layer
    a = nonzero_mask(inst.acts).astype(np.float32)
    w = nonzero_mask(inst.weights).astype(np.float32)
    return conv_reference(a, w, L.stride, L.padding, L.dilation, L.groups).round().astype(np.int64)


def effectual_macs(inst: LayerInstance) -> int:
    """Effectual MACs of one layer instance: non-zero w x non-zero a x active output.

    The output mask is shared by all filters, so the count factorises per (c, r, s) into
    (non-zero weights over the filters of c's group) x (non-zero activations that tap (r, s) of an
    active output).  The second factor is one product of the (C, H x W) activation pattern with the
    R x S tap masks (the output mask placed where tap (r, s) of each output reads the input, borders
    cropped): no im2col copy, exact in float32 (each sum has at most H x W < 2^24 terms); the same value
    as summing :func:`effectual_counts` over the active outputs."""
    return _memo_call(_effectual_macs, inst)


def _effectual_macs(inst: LayerInstance) -> int:
    L = inst.layer
    a = nonzero_mask(inst.acts).reshape(L.C, -1).astype(np.float32)  # (C, H*W)
    w = nonzero_mask(inst.weights)
    om = inst.out_mask_or_ones().astype(np.float32)
    P, Q = om.shape
    taps = np.zeros((L.R * L.S, L.H, L.W), dtype=np.float32)
    st, pad, dil = L.stride, L.padding, L.dilation
    for r in range(L.R):
        y = np.arange(P) * st + r * dil - pad         # input row read by tap r of output row p
        vy = (y >= 0) & (y < L.H)
        for s_ in range(L.S):
            x = np.arange(Q) * st + s_ * dil - pad
            vx = (x >= 0) & (x < L.W)
            taps[r * L.S + s_][np.ix_(y[vy], x[vx])] = om[np.ix_(vy, vx)]
    acount = (a @ taps.reshape(L.R * L.S, -1).T).round().astype(np.int64)  # (C, R*S)
    g, Kg, Cg = L.groups, L.K // L.groups, L.C // L.groups
    wcount = w.reshape(g, Kg, Cg, L.R * L.S).sum(axis=1).astype(np.int64)  # (g, Cg, RS)
    return int((wcount.reshape(L.C, L.R * L.S) * acount).sum())


def _window_any(x: np.ndarray, L) -> np.ndarray:
    """(n, P, Q) bool: whether any of ``x`` (n, H, W) bool is true under the R x S taps of output (p, q) of layer
    ``L`` (its stride, padding, dilation; taps in the padding read false).  One shifted slice per tap of the
    zero-padded plane (a strided view, no gather)."""
    pad, st, dil = L.padding, L.stride, L.dilation
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad))) if pad else x
    out = np.zeros((x.shape[0], L.P, L.Q), dtype=bool)
    hs, ws = st * (L.P - 1) + 1, st * (L.Q - 1) + 1
    for r in range(L.R):
        for s_ in range(L.S):
            y0, x0 = r * dil, s_ * dil
            out |= xp[:, y0:y0 + hs:st, x0:x0 + ws:st]
    return out


def nonzero_outputs(inst: LayerInstance) -> np.ndarray:
    """Per output position (P, Q): how many output channels have at least one effectual product, at the
    active positions (0 at masked-off ones); read-only where memoized (:func:`memoize`).  See
    :func:`_nonzero_outputs`."""
    return _memo_call(_nonzero_outputs, inst)


def _nonzero_outputs(inst: LayerInstance) -> np.ndarray:
    """Per output position (P, Q): how many output channels have at least one effectual product, at the
    active positions (0 at masked-off ones).  The same as ``((effectual_counts(inst) > 0) & mask).sum(0)``,
    with the im2col product taken over the active positions only (a gated layer's few), once per distinct
    non-zero pattern of the output channels' weights (dense weights: one pattern, where the test reduces to
    "some non-zero activation under a tap", no product at all)."""
    L = inst.layer
    om = inst.out_mask_or_ones().astype(bool)
    out = np.zeros(om.shape, dtype=np.int64)
    pp, qq = np.nonzero(om)
    if not len(pp):
        return out
    a = nonzero_mask(inst.acts).reshape(L.C, L.H, L.W)
    w = nonzero_mask(inst.weights)
    g, Kg, Cg = L.groups, L.K // L.groups, L.C // L.groups
    taps = []
    for r in range(L.R):
        y = pp * L.stride + r * L.dilation - L.padding
        for s_ in range(L.S):
            x = qq * L.stride + s_ * L.dilation - L.padding
            ok = (y >= 0) & (y < L.H) & (x >= 0) & (x < L.W)
            taps.append((ok, y[ok], x[ok]))
    nz = np.zeros(len(pp), dtype=np.int64)
    wr = w.reshape(g, Kg, Cg * L.R * L.S)
    full = wr.all(axis=2)                       # (g, Kg): every weight of the channel non-zero
    mixed = wr.any(axis=2) & ~full              # the rest but all-zero channels (never effectual)
    n_full = full.sum(axis=1)
    gs = np.flatnonzero(n_full)
    if gs.size:  # an effectual product iff some activation of the group is non-zero under a tap: no product
        anyc = a.reshape(g, Cg, L.H, L.W)[gs].any(axis=1)
        hit = _window_any(anyc, L)[:, pp, qq]              # (groups, active positions)
        # float32 product: exact, every count is at most K < 2^24
        nz += np.rint(n_full[gs].astype(np.float32) @ hit.astype(np.float32)).astype(np.int64)
    for gi in np.flatnonzero(mixed.any(axis=1)):
        rows = wr[gi][mixed[gi]]
        pats, mult = np.unique(rows, axis=0, return_counts=True)
        cols = np.zeros((Cg, L.R * L.S, len(pp)), dtype=np.float32)
        for i, (ok, y, x) in enumerate(taps):
            cols[:, i, ok] = a[gi * Cg:(gi + 1) * Cg, y, x]
        hit = pats.astype(np.float32) @ cols.reshape(Cg * L.R * L.S, len(pp)) > 0.5  # exact (< 2^24 terms)
        nz += mult.astype(np.int64) @ hit
    out[pp, qq] = nz
    return out


def per_channel_nnz(x, axis_channel: int = 0) -> np.ndarray:
    """Non-zero count per channel (axis 0 by default) of a dense array or SparseTensor."""
    m = nonzero_mask(x)
    axes = tuple(i for i in range(m.ndim) if i != axis_channel)
    return m.sum(axis=axes).astype(np.int64)


def density(x) -> float | None:
    if x is None:
        return None
    m = nonzero_mask(x)
    return float(m.mean()) if m.size else 0.0


def instance_stats(inst: LayerInstance, effectual: bool = True) -> dict:
    """Densities and MAC counts of one layer instance (effectual only when data is present)."""
    L = inst.layer
    om = inst.out_mask_or_ones()
    d = {
        "layer": L.name, "image": inst.image,
        "macs_dense": L.macs_dense,
        "act_density": density(inst.acts) if inst.acts is not None else inst.act_density,
        "weight_density": density(inst.weights) if inst.weights is not None else L.weight_density,
        "out_density": float(om.mean()) if inst.out_mask is not None else (L.out_density or 1.0),
    }
    if effectual and inst.acts is not None and inst.weights is not None:
        d["macs_effectual"] = effectual_macs(inst)
    else:
        ad = d["act_density"] if d["act_density"] is not None else 1.0
        wd = d["weight_density"] if d["weight_density"] is not None else 1.0
        d["macs_effectual_expected"] = L.macs_dense * ad * wd * d["out_density"]
    return d


def workload_summary(wl: Workload, effectual: bool = True, images=None) -> dict:
    """Per-layer shapes, densities and MACs (averaged over images) plus totals."""
    imgs = list(range(wl.n_images)) if images is None else list(images)
    layers = []
    for name in wl.layer_names():
        L = wl.layers[name]
        stats = [instance_stats(wl.instance(name, i), effectual) for i in imgs]
        row = L.spec_dict()
        row.pop("meta", None)
        for key in ("act_density", "weight_density", "out_density", "macs_effectual", "macs_effectual_expected"):
            vals = [s[key] for s in stats if s.get(key) is not None]
            if vals:
                row[key] = float(np.mean(vals)) if "density" in key or "expected" in key else int(round(np.mean(vals)))
        if isinstance(L.weights, np.ndarray) or L.weights is not None:
            row["weight_nnz"] = int(nonzero_mask(L.weights).sum())
        row.update({k: v for k, v in L.meta.items() if isinstance(v, (int, float, str, bool))})
        layers.append(row)
    total = {"macs_dense": int(sum(r["macs_dense"] for r in layers))}
    if all("macs_effectual" in r for r in layers) and layers:
        total["macs_effectual"] = int(sum(r["macs_effectual"] for r in layers))
    return {"name": wl.name, "images": wl.n_images, "hash": wl.content_hash, "layers": layers, "total": total,
            "meta": wl.meta}
