"""Eyeriss v1 dense row-stationary baseline: dense cycles, gating energy, functional output, v2 speed-up."""

import numpy as np
import pytest

from accelsim.engine import make_model, simulate
from accelsim.models.eyeriss import small_layers
from workloads import Layer, LayerInstance
from workloads.synthetic import random_tensor


def _inst(L, wd, ad, seed=0):
    rng = np.random.default_rng(seed)
    return LayerInstance(L, 0, acts=random_tensor(L.act_shape, ad, rng, nonneg=True),
                         weights=random_tensor(L.weight_shape, wd, rng))


LAYERS = [Layer("c3", "conv", C=16, K=24, H=14, W=14, R=3, S=3, padding=1),
          Layer("dw", "depthwise", C=16, K=16, H=14, W=14, R=3, S=3, padding=1, groups=16),
          Layer("pw", "conv", C=32, K=48, H=7, W=7)]


@pytest.mark.parametrize("L", LAYERS, ids=lambda L: L.name)
def test_dense_cycles_ignore_sparsity_but_energy_gates(L):
    v1 = make_model("eyeriss-v1")
    dense = v1.simulate_layer(_inst(L, 1.0, 1.0))
    sparse = v1.simulate_layer(_inst(L, 0.3, 0.3))
    assert sparse.cycles == dense.cycles  # no skipping in v1
    # every MAC slot (halo taps included) is either performed or gated
    assert sparse.macs_actual + sparse.macs_gated == dense.macs_actual + dense.macs_gated == L.macs_dense
    from accelsim.engine import finish
    e_d = finish(v1, None, dense).energy_j
    e_s = finish(v1, None, sparse).energy_j
    assert e_s < e_d  # zero iacts gate the MAC and the weight read


def test_single_pe_v1_is_the_dense_count():
    one = make_model("eyeriss-v1", {"cluster.pe_rows": 1, "cluster.pe_cols": 1, "memory.ideal": True})
    for L in LAYERS:
        assert one.simulate_layer(_inst(L, 0.5, 0.5)).cycles == L.macs_dense


def test_array_mapping_respects_12x14():
    v1 = make_model("eyeriss-v1")
    assert v1.n_pes == 168 and v1.peak_macs_per_cycle() == 168
    r = v1.simulate_layer(_inst(LAYERS[0], 1.0, 1.0))
    Rsp, Cr, Fc, Mc, Fk, Ck, Mk, M0, C0 = r.extra["mapping_factors"]
    assert Rsp * Cr <= 12 and Fc * Mc <= 14 and Fk == Ck == Mk == 1
    assert M0 <= 24 and C0 * 3 <= 12 and M0 * C0 * 3 <= 224  # psum / ifmap / weight spads (dense)
    assert r.cycles >= L_dense(LAYERS[0]) / 168


def L_dense(L):
    return L.macs_dense


def test_functional_v1():
    torch = pytest.importorskip("torch")
    v1 = make_model("eyeriss-v1")
    wl = small_layers(5)
    for name in wl.layer_names():
        inst = wl.instance(name, 0).materialize(0)
        L = inst.layer
        out = v1.simulate_layer(inst, functional=True).output
        ref = torch.nn.functional.conv2d(torch.tensor(inst.acts_dense())[None], torch.tensor(inst.weights_dense()),
                                         stride=L.stride, padding=L.padding, dilation=L.dilation,
                                         groups=L.groups)[0].numpy()
        np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())


def test_v2_faster_than_v1_on_sparse_mobilenet_subset():
    """Reduced form of the chip-level comparison (validate runs the whole network)."""
    from workloads.eyeriss_masks import sparse_mobilenet_v1
    wl = sparse_mobilenet_v1(seed=0, width=0.25, res=64)
    wl = wl.subset(layers=["dw2", "pw2", "pw7"])
    c2 = simulate(wl, "eyeriss-v2", jobs=1).total()["cycles"]
    c1 = simulate(wl, "eyeriss-v1", jobs=1).total()["cycles"]
    assert c1 > c2


def test_alexnet_conv_benchmark_of_the_v1_chip():
    """The JSSC 2017 benchmark: AlexNet CONV1-5 (666 M MACs), grouped layers split into halves, iact densities
    of the Sparseloop table7 artifact; the v1 model runs every layer (no grouped conv left)."""
    from accelsim.models.eyeriss import ALEXNET_IACT_DENSITY, alexnet_conv_v1
    wl = alexnet_conv_v1(0)
    assert sum(L.macs_dense for L in wl.layers.values()) == 665_784_864
    assert all(L.groups == 1 for L in wl.layers.values()) and len(wl.layers) == 8
    for name in wl.layer_names():
        base = name.split("_")[0]
        assert wl.instance(name, 0).act_mask().mean() == pytest.approx(ALEXNET_IACT_DENSITY[base], abs=1e-4)
    rep = simulate(wl.subset(layers=["conv5_g0"]), "eyeriss-v1", jobs=1)
    assert not rep.skipped
