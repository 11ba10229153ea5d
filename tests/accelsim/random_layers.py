"""Seeded random layer instances shared by the per-model tests (one helper, so every file draws the same data
for the same arguments)."""

import numpy as np

from workloads import Layer, LayerInstance


def random_inst(C, K, H, W, R, pad=0, stride=1, da=0.5, dw=0.5, groups=1, dil=1, mask_density=None, seed=0, S=None,
                kind="conv", dw_spread=False):
    """A conv layer instance with seeded activations of density ``da``, weights of density ``dw`` (``dw_spread``:
    every output channel its own density in [0.05, 0.9), so SCNN's Kc groups differ in work) and, with
    ``mask_density``, a random output mask."""
    rng = np.random.default_rng(seed)
    S = R if S is None else S
    L = Layer("l", kind, C=C, K=K, H=H, W=W, R=R, S=S, padding=pad, stride=stride, groups=groups, dilation=dil)
    a = rng.random((C, H, W)) * (rng.random((C, H, W)) < da)
    d = rng.uniform(0.05, 0.9, (K, 1, 1, 1)) if dw_spread else dw
    w = rng.standard_normal(L.weight_shape) * (rng.random(L.weight_shape) < d)
    mask = None if mask_density is None else rng.random((L.P, L.Q)) < mask_density
    return LayerInstance(L, 0, acts=a, weights=w, out_mask=mask)
