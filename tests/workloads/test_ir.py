"""Layer / Workload validation and exact-density synthetic data."""

import numpy as np
import pytest

from workloads import Layer, SparseTensor, Workload, WorkloadError
from workloads.synthetic import clustered_mask, random_mask, random_tensor


@pytest.mark.parametrize("kw,field", [
    (dict(H=-3), "x.H"),
    (dict(C=0), "x.C"),
    (dict(stride=0), "x.stride"),
    (dict(padding=-1), "x.padding"),
    (dict(dilation=0), "x.dilation"),
    (dict(R=2.5), "x.R"),
    (dict(K=True), "x.K"),
    (dict(groups=3), "x.groups"),
    (dict(R=9), "x.R"),                      # filter larger than the (padded) input
    (dict(weight_density=1.5), "x.weight_density"),
    (dict(act_density=-0.1), "x.act_density"),
    (dict(out_density=float("nan")), "x.out_density"),
    (dict(act_density="dense"), "x.act_density"),
    (dict(weights=np.ones((4, 3, 3, 3))), "x.weights"),   # wrong C
    (dict(bias=np.ones(3)), "x.bias"),
    (dict(kind="pool"), "x.kind"),
])
def test_layer_validation(kw, field):
    base = dict(name="x", kind="conv", C=2, K=4, H=6, W=6, R=3, S=3)
    base.update(kw)
    with pytest.raises(WorkloadError) as ei:
        Layer(**base)
    assert ei.value.field == field
    assert field in str(ei.value) and "\n" not in str(ei.value)


def test_depthwise_and_fc_rules():
    with pytest.raises(WorkloadError, match="groups == C == K"):
        Layer("d", "depthwise", C=4, K=8, H=5, W=5, R=3, S=3, groups=4)
    with pytest.raises(WorkloadError, match="fc layers"):
        Layer("f", "fc", C=4, K=8, H=2)
    L = Layer("f", "fc", C=4, K=3, weights=np.arange(12.0).reshape(3, 4))  # (K, C) accepted
    assert L.weight_shape == (3, 4, 1, 1) and L.weights.shape == (3, 4, 1, 1)
    d = Layer("d", "depthwise", C=4, K=4, H=5, W=5, R=3, S=3, groups=4, padding=1)
    assert d.weight_shape == (4, 1, 3, 3) and d.macs_dense == 4 * 25 * 9


def test_workload_data_validation():
    wl = Workload("w")
    wl.add_layer(Layer("a", "conv", C=2, K=3, H=5, W=5, R=3, S=3))
    with pytest.raises(WorkloadError, match="duplicate"):
        wl.add_layer(Layer("a", "conv", C=2, K=3, H=5, W=5))
    with pytest.raises(WorkloadError, match="not a layer"):
        wl.add_layer(Layer("b", "conv", C=3, K=3, H=3, W=3), deps=["zzz"])
    with pytest.raises(WorkloadError, match=r"output mask shape \(5, 5\) != output size \(3, 3\)") as ei:
        wl.set_image_data(0, "a", out_mask=np.ones((5, 5), bool))
    assert ei.value.field == "a.out_mask"
    with pytest.raises(WorkloadError, match="boolean"):
        wl.set_image_data(0, "a", out_mask=np.ones((3, 3)))
    with pytest.raises(WorkloadError, match="activation shape") as ei:
        wl.set_image_data(0, "a", acts=SparseTensor(np.ones((2, 4, 5), bool)))
    assert ei.value.field == "a.acts"
    with pytest.raises(WorkloadError, match="values"):
        SparseTensor(np.ones((2, 2), bool), np.ones(3))
    with pytest.raises(WorkloadError, match="unknown layer"):
        wl.instance("nope")


@pytest.mark.parametrize("shape,density", [((7, 5, 3), 0.0), ((7, 5, 3), 0.37), ((64,), 1.0), ((3, 3), 0.5)])
def test_synthetic_exact_density(shape, density):
    rng = np.random.default_rng(1)
    size = int(np.prod(shape))
    assert random_mask(shape, density, rng).sum() == round(density * size)
    t = random_tensor(shape, density, rng)
    assert (t != 0).sum() == round(density * size) and np.all(np.abs(t[t != 0]) >= 0.1)
    assert (random_tensor(shape, density, rng, nonneg=True) >= 0).all()
    m = clustered_mask((2,) + shape[-2:] if len(shape) > 1 else (2, 8, 8), density, rng)
    assert all(p.sum() == round(density * p.size) for p in m)


def test_materialize_is_seeded_and_exact():
    wl = Workload("w")
    wl.add_layer(Layer("a", "conv", C=8, K=6, H=9, W=9, R=3, S=3, weight_density=0.3, act_density=0.55,
                       out_density=0.25))
    i1 = wl.instance("a").materialize(seed=5)
    i2 = wl.instance("a").materialize(seed=5)
    i3 = wl.instance("a").materialize(seed=6)
    assert np.array_equal(i1.weights, i2.weights) and np.array_equal(i1.acts, i2.acts)
    assert not np.array_equal(i1.weights, i3.weights)
    assert i1.weight_mask().sum() == round(0.3 * 8 * 6 * 9)
    assert i1.act_mask().sum() == round(0.55 * 8 * 81)
    assert i1.out_mask.sum() == round(0.25 * 49)
    assert set(i1.synthetic) == {"weights", "acts", "out_mask"} and i1.functional_ok


def test_nbytes_counts_every_array_once():
    """Workload.nbytes: weights, bias, activations (dense or a SparseTensor's mask and values) and output
    masks, per image; what a pickled copy costs, give or take its small metadata."""
    import pickle

    rng = np.random.default_rng(0)
    wl = Workload("nb")
    w = rng.standard_normal((4, 3, 3, 3))
    wl.add_layer(Layer("c", "conv", C=3, K=4, H=6, W=6, R=3, S=3, padding=1, weights=w, bias=np.zeros(4)))
    a0 = np.maximum(0, rng.standard_normal((3, 6, 6)))
    a1 = SparseTensor(a0 > 0.5, a0[a0 > 0.5])
    wl.set_image_data(0, "c", acts=a0, out_mask=np.ones((6, 6), bool))
    wl.set_image_data(1, "c", acts=a1)
    want = w.nbytes + 4 * 8 + a0.nbytes + 36 + a1.mask.nbytes + a1.values.nbytes
    assert wl.nbytes() == want
    assert want <= len(pickle.dumps(wl)) <= want + 20_000
