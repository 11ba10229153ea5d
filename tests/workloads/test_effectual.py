"""Effectual-MAC helpers against a brute-force loop, and conv_reference against torch."""

import numpy as np
import pytest

from workloads import Layer, LayerInstance, SparseTensor, Workload, effectual_macs, per_channel_nnz
from workloads.effectual import conv_reference, effectual_counts, workload_summary

CASES = {  # C, K, H, W, R, S, stride, padding, dilation, groups, kind
    "plain": (3, 4, 6, 5, 3, 3, 1, 0, 1, 1, "conv"),
    "stride2_pad": (2, 3, 7, 7, 3, 3, 2, 1, 1, 1, "conv"),
    "dilation": (2, 2, 8, 7, 3, 2, 1, 2, 2, 1, "conv"),
    "groups": (4, 6, 6, 6, 3, 3, 1, 1, 1, 2, "conv"),
    "depthwise_s2": (5, 5, 7, 6, 3, 3, 2, 1, 1, 5, "depthwise"),
    "pointwise": (6, 3, 4, 4, 1, 1, 1, 0, 1, 1, "conv"),
    "fc": (9, 4, 1, 1, 1, 1, 1, 0, 1, 1, "fc"),
}


def brute(acts, w, stride, pad, dil, groups, out_mask):
    """(effectual count per output, dense output) by six nested loops."""
    C, H, W = acts.shape
    K, Cg, R, S = w.shape
    P = (H + 2 * pad - dil * (R - 1) - 1) // stride + 1
    Q = (W + 2 * pad - dil * (S - 1) - 1) // stride + 1
    cnt = np.zeros((K, P, Q), np.int64)
    out = np.zeros((K, P, Q))
    Kg = K // groups
    for k in range(K):
        g = k // Kg
        for p in range(P):
            for q in range(Q):
                for cl in range(Cg):
                    c = g * Cg + cl
                    for r in range(R):
                        for s in range(S):
                            h, x = p * stride - pad + r * dil, q * stride - pad + s * dil
                            if 0 <= h < H and 0 <= x < W:
                                out[k, p, q] += w[k, cl, r, s] * acts[c, h, x]
                                cnt[k, p, q] += (w[k, cl, r, s] != 0) and (acts[c, h, x] != 0)
    return cnt, out, int((cnt * out_mask[None]).sum())


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_effectual_vs_brute_force(case, seed):
    C, K, H, W, R, S, st, pad, dil, g, kind = CASES[case]
    rng = np.random.default_rng(seed)
    L = Layer("x", kind, C=C, K=K, H=H, W=W, R=R, S=S, stride=st, padding=pad, dilation=dil, groups=g)
    w = rng.standard_normal(L.weight_shape) * (rng.random(L.weight_shape) < 0.5)
    a = rng.random(L.act_shape) * (rng.random(L.act_shape) < 0.6)
    om = rng.random((L.P, L.Q)) < 0.7
    inst = LayerInstance(L, acts=SparseTensor.from_dense(a), weights=w, out_mask=om)
    cnt, out, eff = brute(a, w, st, pad, dil, g, om)
    assert np.array_equal(effectual_counts(inst), cnt)
    assert effectual_macs(inst) == eff
    assert 0 < cnt.sum() < L.macs_dense and eff <= cnt.sum()  # non-trivial sparse data
    np.testing.assert_allclose(conv_reference(a, w, st, pad, dil, g), out, rtol=1e-12, atol=1e-12)
    # without an output mask every output counts
    assert effectual_macs(LayerInstance(L, acts=a, weights=w)) == int(cnt.sum())


@pytest.mark.parametrize("case", ["stride2_pad", "dilation", "groups", "depthwise_s2"])
def test_conv_reference_vs_torch(case):
    torch = pytest.importorskip("torch")
    C, K, H, W, R, S, st, pad, dil, g, kind = CASES[case]
    rng = np.random.default_rng(3)
    a = rng.standard_normal((C, H, W))
    w = rng.standard_normal((K, C // g, R, S))
    b = rng.standard_normal(K)
    ref = torch.nn.functional.conv2d(torch.from_numpy(a)[None], torch.from_numpy(w), torch.from_numpy(b),
                                     stride=st, padding=pad, dilation=dil, groups=g)[0].numpy()
    np.testing.assert_allclose(conv_reference(a, w, st, pad, dil, g, bias=b), ref, rtol=1e-9, atol=1e-12)


def test_dense_data_gives_dense_macs_and_per_channel_nnz():
    L = Layer("x", "conv", C=3, K=2, H=5, W=5, R=3, S=3, padding=0)
    inst = LayerInstance(L, acts=np.ones(L.act_shape), weights=np.ones(L.weight_shape))
    assert effectual_macs(inst) == L.macs_dense
    x = np.zeros((3, 4, 4))
    x[0, 0, :3] = 1
    x[2] = 2
    assert per_channel_nnz(x).tolist() == [3, 0, 16]
    assert per_channel_nnz(SparseTensor.from_dense(x)).tolist() == [3, 0, 16]


def test_workload_summary_effectual_and_expected():
    wl = Workload("s")
    wl.add_layer(Layer("a", "conv", C=2, K=2, H=4, W=4, R=3, S=3, weights=np.ones((2, 2, 3, 3))))
    wl.add_layer(Layer("b", "fc", C=8, K=4, weight_density=0.25, act_density=0.5), deps=["a"])
    a = np.zeros((2, 4, 4))
    a[0, 1, 1] = 1.0
    wl.set_image_data(0, "a", acts=a, out_mask=np.array([[True, False], [False, False]]))
    s = workload_summary(wl)
    rows = {r["name"]: r for r in s["layers"]}
    assert rows["a"]["macs_effectual"] == 2      # one activation, both filters, one active output
    assert rows["b"]["macs_effectual_expected"] == pytest.approx(32 * 0.25 * 0.5)
    assert s["total"]["macs_dense"] == 2 * 4 * 2 * 9 + 32


def test_effectual_macs_equals_masked_counts_on_random_layers():
    """The factorised count (tap masks x activation pattern) equals the per-output im2col count summed over
    the active outputs, on random shapes, strides, paddings, dilations, groups and masks."""
    rng = np.random.default_rng(7)
    for _ in range(60):
        g = int(rng.choice([1, 2, 3]))
        C, K = g * int(rng.integers(1, 5)), g * int(rng.integers(1, 5))
        R, S = int(rng.choice([1, 2, 3, 5])), int(rng.choice([1, 3]))
        st, pad, dil = int(rng.integers(1, 4)), int(rng.integers(0, 3)), int(rng.choice([1, 2]))
        H, W = int(rng.integers(dil * (R - 1) + 1, 16)), int(rng.integers(dil * (S - 1) + 1, 16))
        L = Layer("r", "conv", C=C, K=K, H=H, W=W, R=R, S=S, stride=st, padding=pad, dilation=dil, groups=g)
        w = rng.standard_normal(L.weight_shape) * (rng.random(L.weight_shape) < 0.5)
        a = rng.random(L.act_shape) * (rng.random(L.act_shape) < 0.5)
        om = rng.random((L.P, L.Q)) < rng.random()
        inst = LayerInstance(L, acts=a, weights=w, out_mask=om)
        assert effectual_macs(inst) == int((effectual_counts(inst) * om[None]).sum())


def test_nonzero_outputs_equals_counts_on_random_layers():
    """Output channels with an effectual product per active position, computed on the active positions
    only, equal the full per-output count's."""
    from workloads.effectual import nonzero_outputs
    rng = np.random.default_rng(11)
    for i in range(80):
        g = int(rng.choice([1, 2, 4]))  # 4: depthwise when C = K = 4
        C, K = g * int(rng.integers(1, 5)), g * int(rng.integers(1, 5))
        R, S = int(rng.choice([1, 3])), int(rng.choice([1, 3]))
        st, pad, dil = int(rng.integers(1, 3)), int(rng.integers(0, 2)), int(rng.choice([1, 2]))
        H, W = int(rng.integers(dil * (R - 1) + 1, 12)), int(rng.integers(dil * (S - 1) + 1, 12))
        L = Layer("r", "conv", C=C, K=K, H=H, W=W, R=R, S=S, stride=st, padding=pad, dilation=dil, groups=g)
        # a third dense weights (one pattern: the tap test without a product), a third two repeated patterns
        wd = [0.3, 1.0, 0.5][i % 3]
        w = rng.standard_normal(L.weight_shape) * (rng.random(L.weight_shape) < wd)
        if i % 3 == 2:
            w[::2] = w[0] if g == 1 else w[::2]
        a = rng.random(L.act_shape) * (rng.random(L.act_shape) < 0.3)
        om = rng.random((L.P, L.Q)) < 0.5
        inst = LayerInstance(L, acts=a, weights=w, out_mask=om)
        assert np.array_equal(nonzero_outputs(inst), ((effectual_counts(inst) > 0) & om[None]).sum(axis=0))


def test_memo_counts_each_set_of_operands_once_and_never_a_changed_one(monkeypatch):
    """The memo of the fork pool's workers (effectual.memoize): a hit only for the very same layer, operands and
    mask objects; a new mask, operand or layer object is counted anew; off by default.  nonzero_outputs too."""
    from workloads import effectual as eff
    assert eff._MEMO is None
    rng = np.random.default_rng(0)
    L = Layer("m", "conv", C=3, K=4, H=6, W=6, R=3, S=3, padding=1)
    a = np.maximum(0, rng.standard_normal((3, 6, 6)))
    w = rng.standard_normal((4, 3, 3, 3)) * (rng.random((4, 3, 3, 3)) < 0.5)
    m1 = rng.random((6, 6)) < 0.5
    calls = []
    real = eff._effectual_macs
    monkeypatch.setattr(eff, "_effectual_macs", lambda inst: calls.append(1) or real(inst))
    eff.memoize(True)
    try:
        i1 = LayerInstance(L, 0, acts=a, weights=w, out_mask=m1)
        v1 = eff.effectual_macs(i1)
        assert eff.effectual_macs(LayerInstance(L, 1, acts=a, weights=w, out_mask=m1)) == v1 and len(calls) == 1
        m2 = m1.copy()
        m2[0, 0] = not m2[0, 0]                      # another mask object (and another count)
        i2 = LayerInstance(L, 0, acts=a, weights=w, out_mask=m2)
        assert eff.effectual_macs(i2) == brute(a, w, 1, 1, 1, 1, m2)[2] and len(calls) == 2
        sp = SparseTensor(a != 0, a[a != 0])          # a SparseTensor is known by its mask array
        assert eff.effectual_macs(LayerInstance(L, 0, acts=sp, weights=w, out_mask=m1)) == v1 and len(calls) == 3
        assert eff.effectual_macs(LayerInstance(L, 0, acts=sp, weights=w, out_mask=m1)) == v1 and len(calls) == 3
        nz = eff.nonzero_outputs(i1)                  # the per-position counts share the memo, read-only
        assert eff.nonzero_outputs(LayerInstance(L, 1, acts=a, weights=w, out_mask=m1)) is nz
        assert not nz.flags.writeable and (nz != eff.nonzero_outputs(i2)).any()
    finally:
        eff.memoize(False)
    assert eff.effectual_macs(i1) == v1 and len(calls) == 4  # off again: counted
