"""Eyeriss v2: single-PE ground truth, functional output, mapper legality, invariants (property tests)."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.engine import make_model, simulate
from accelsim.errors import ConfigError
from accelsim.models.eyeriss import Mapping, small_layers, thin
from workloads import Layer, LayerInstance, effectual_macs
from workloads.synthetic import random_tensor

FULL = bool(os.environ.get("ACCELSIM_FULL"))


@pytest.fixture(scope="module")
def v2():
    return make_model("eyeriss-v2")


@pytest.fixture(scope="module")
def masks_wl():
    from workloads.zoo import resolve
    return resolve("eyeriss-v2-pe-mobilenet05")  # ../shared's masks, else the packaged copy


def test_single_pe_pointwise_equals_ground_truth(masks_wl):
    rep = simulate(masks_wl, "eyeriss-v2-pe", jobs=1)
    pw = [r for r in rep.results if masks_wl.layers[r.name].kind == "conv"]
    assert len(pw) == 8
    for r in pw:
        assert r.cycles == masks_wl.layers[r.name].meta["ground_truth_cycles"], r.name
        assert r.cycles == r.macs_effectual  # one MAC unit, no overhead: one cycle per effectual MAC


def test_single_pe_depthwise_rules(masks_wl):
    inst = masks_wl.instance("L20", 0).materialize(0)
    L = inst.layer
    gt = masks_wl.layers["L20"].meta["ground_truth_cycles"]

    def cyc(rule, stages=True):
        return make_model("eyeriss-v2-pe", [f"pe.depthwise_rule={rule}",
                                            f"pe.address_stages={str(stages).lower()}"]).simulate_layer(inst).cycles
    default = make_model("eyeriss-v2-pe")
    assert default.cfg["pe.depthwise_rule"] == "dense" == make_model("eyeriss-v2").cfg["pe.depthwise_rule"]
    assert default.simulate_layer(inst).cycles == L.macs_dense == gt  # the artifact's L20 count is the dense count
    # zero weights skipped in the MAC stage: hidden behind the weight-address read of every fed iact
    assert cyc("weights") == gt
    assert cyc("weights", False) == int(inst.weight_mask().sum()) * L.P * L.Q < gt
    assert cyc("skip", False) == effectual_macs(inst) < cyc("skip") < gt


def test_address_stages_bound_a_pass():
    """An iact whose weight column is empty still costs its weight-address cycle when the MAC stage is idle."""
    L = Layer("e", "conv", C=4, K=2, H=3, W=3)
    w = np.zeros((2, 4, 1, 1))
    w[:, 3] = 1.0  # only channel 3 has weights: 9 x 2 MACs, 36 iacts fed
    inst = LayerInstance(L, 0, acts=np.ones((4, 3, 3)), weights=w)
    on = make_model("eyeriss-v2-pe").simulate_layer(inst)
    off = make_model("eyeriss-v2-pe", ["pe.address_stages=false"]).simulate_layer(inst)
    assert off.cycles == 18 == on.macs_actual
    assert on.cycles == 36 and on.breakdown["pe_address_stall"] == 18
    # all iacts zero: nothing fed, but every window column's address is read
    z = LayerInstance(L, 0, acts=np.zeros((4, 3, 3)), weights=w)
    assert make_model("eyeriss-v2-pe").simulate_layer(z).cycles == 9
    assert make_model("eyeriss-v2-pe", ["pe.address_stages=false"]).simulate_layer(z).cycles == 0


def _inst(L, wd, ad, seed):
    rng = np.random.default_rng(seed)
    return LayerInstance(L, 0, acts=random_tensor(L.act_shape, ad, rng, nonneg=True),
                         weights=random_tensor(L.weight_shape, wd, rng))


@pytest.mark.parametrize("arch", ["eyeriss-v2", "eyeriss-v2-pe"])
def test_functional_matches_torch(arch):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    m = make_model(arch)
    wl = small_layers(3)
    for name in wl.layer_names():
        inst = wl.instance(name, 0).materialize(0)
        L = inst.layer
        r = m.simulate_layer(inst, functional=True)
        a = torch.tensor(inst.acts_dense())[None]
        w = torch.tensor(inst.weights_dense())
        ref = F.conv2d(a, w, stride=L.stride, padding=L.padding, dilation=L.dilation, groups=L.groups)[0].numpy()
        np.testing.assert_allclose(r.output, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())


def test_functional_needs_values(v2):
    from accelsim.errors import AccelsimError
    from workloads import SparseTensor
    L = Layer("p", "conv", C=4, K=4, H=3, W=3)
    inst = LayerInstance(L, 0, acts=SparseTensor(np.ones((4, 3, 3), bool)), weights=SparseTensor(np.ones((4, 4, 1, 1), bool)))
    with pytest.raises(AccelsimError, match="real values"):
        v2.simulate_layer(inst, functional=True)


def test_mapping_is_legal_and_reported(v2):
    """The chosen mapping fits the PE spads on the real data, the array, and is named in the report."""
    c = v2.cfg
    wl = small_layers(1)
    for name in wl.layer_names():
        inst = wl.instance(name, 0).materialize(0)
        r = v2.simulate_layer(inst)
        mp = r.extra["mapping"]
        Rsp, Cr, Fc, Mc, Fk, Ck, Mk, M0, C0 = r.extra["mapping_factors"]
        assert Rsp * Cr <= c["cluster.pe_rows"] and Fc * Mc <= c["cluster.pe_cols"]
        assert Fk * Ck * Mk <= c["clusters.rows"] * c["clusters.cols"]
        assert M0 <= c["pe.psum_spad_entries"] and mp["pe_tile"] == {"M0": M0, "C0": C0}
        L = inst.layer
        blk = M0 if L.kind == "depthwise" else C0
        assert blk * L.S <= c["pe.weight_addr_entries"]
        # weight tile (compressed, SIMD words rounded to pairs) fits 192 entries
        w = inst.weight_mask()
        K = w.shape[0]
        for mb in range(0, K, M0):
            cols = w[mb:mb + M0].sum(axis=0)  # (Cg, R, S)
            pairs = 2 * -(-cols // 2)
            if L.kind == "depthwise":
                continue
            for cb in range(0, w.shape[1], C0):
                assert pairs[cb:cb + C0].sum(axis=(0, 2)).max() <= c["pe.weight_spad_entries"]
        assert r.extra["noc_modes"]["weights"] in ("unicast", "multicast", "broadcast")


def test_simd_idle_lane_counted():
    """A weight column of 3 non-zeros costs 2 cycles on SIMD-2 (idle lane counted), 3 on one MAC."""
    L = Layer("one", "conv", C=1, K=3, H=1, W=1)
    inst = LayerInstance(L, 0, acts=np.ones((1, 1, 1)), weights=np.ones((3, 1, 1, 1)))
    one = make_model("eyeriss-v2-pe")
    two = make_model("eyeriss-v2-pe", ["pe.simd_lanes=2"])
    assert one.simulate_layer(inst).cycles == 3
    r = two.simulate_layer(inst)
    assert r.cycles == 2 and r.extra["simd_idle_lane_slots"] == 1 and r.actions["mac_gated"] == 1


def test_pipeline_fill_drain_and_breakdown_sum(v2):
    inst = small_layers(2).instance("pw", 0).materialize(0)
    r = v2.simulate_layer(inst)
    assert sum(r.breakdown.values()) == r.cycles
    assert r.breakdown["pipeline_fill_drain"] == r.extra["passes"] * (v2.cfg["pe.pipeline_stages"] - 1)


def test_dense_close_to_closed_form(v2):
    """All-dense pointwise layer: array cycles within 10 % of the closed form of the chosen mapping."""
    L = Layer("pwd", "conv", C=64, K=64, H=14, W=14)
    inst = _inst(L, 1.0, 1.0, 0)
    r = v2.simulate_layer(inst)
    cf = r.extra["closed_form_dense_cycles"]
    assert abs(r.cycles / cf - 1) <= 0.10
    assert r.macs_actual == L.macs_dense


layer_st = st.sampled_from([
    Layer("c3", "conv", C=6, K=10, H=7, W=8, R=3, S=3, padding=1),
    Layer("s2", "conv", C=5, K=7, H=9, W=9, R=3, S=3, stride=2, padding=1),
    Layer("p1", "conv", C=24, K=40, H=4, W=5),
    Layer("dw", "depthwise", C=12, K=12, H=6, W=7, R=3, S=3, padding=1, groups=12),
    Layer("fc", "fc", C=50, K=21),
])


@settings(max_examples=25 if not FULL else 150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(L=layer_st, wd=st.floats(0.05, 1.0), ad=st.floats(0.05, 1.0), seed=st.integers(0, 2**16))
def test_invariants(L, wd, ad, seed):
    m = make_model("eyeriss-v2")
    inst = _inst(L, wd, ad, seed)
    r = m.simulate_layer(inst)
    eff = effectual_macs(inst)
    assert r.macs_effectual == eff == r.extra["macs_walked_effectual"]
    assert r.cycles * m.n_pes * m.cfg["pe.simd_lanes"] >= eff  # cycles >= effectual / (PEs x 2)
    assert m.simulate_layer(inst).cycles == r.cycles  # deterministic
    thinned = thin(inst, 0.6, seed)  # a subset of the non-zeros, same mapping: never slower
    assert m.simulate_layer(thinned, mapping=Mapping(*r.extra["mapping_factors"])).cycles <= r.cycles
    # one MAC, both zeros skipped everywhere, no address stages: exactly one cycle per effectual MAC;
    # the address stages and the dense depthwise rule only add cycles
    ideal = make_model("eyeriss-v2-pe", ["pe.depthwise_rule=skip", "pe.address_stages=false"])
    assert ideal.simulate_layer(inst).cycles == eff
    assert make_model("eyeriss-v2-pe").simulate_layer(inst).cycles >= eff


def test_report_json_has_mapping(tmp_path):
    wl = small_layers(0)
    rep = simulate(wl, "eyeriss-v2", jobs=1, layers=["pw", "dw"])
    d = rep.to_dict()
    assert all("mapping" in l["extra"] and "pe_tile" in l["extra"]["mapping"] for l in d["layers"])
    e = d["energy_table"]["actions"]
    # the 45 nm ERT row, scaled to the chip's 65 nm by accelsim.energy's rule
    assert e["mac"]["table_energy_pJ"] == pytest.approx(0.561) and "7.4" in e["mac"]["source"]
    assert e["mac"]["energy_pJ"] == pytest.approx(0.561 * 65 / 45) and d["energy_table"]["node_nm"] == 65
    assert d["total"]["energy_j"] > 0


def test_bad_config_names_field():
    with pytest.raises(ConfigError, match="pe.depthwise_rule"):
        make_model("eyeriss-v2", ["pe.depthwise_rule=sometimes"])
    with pytest.raises(ConfigError, match="pe.simd_lanes"):
        make_model("eyeriss-v2", ["pe.simd_lanes=3"])


def test_grouped_conv_unsupported():
    from accelsim.errors import UnsupportedLayer
    from workloads import Workload
    wl = Workload("g")
    wl.add_layer(Layer("g2", "conv", C=4, K=4, H=3, W=3, groups=2, weight_density=0.5, act_density=0.5))
    with pytest.raises(UnsupportedLayer, match="grouped"):
        simulate(wl, "eyeriss-v2", jobs=1)


def test_cli_bad_override_exit_code(capsys):
    from accelsim.cli import main
    assert main(["simulate", "--workload", "eyeriss-v2-sparse-mobilenet-v1", "--arch", "eyeriss-v2",
                 "--set", "pe.psum_spad_entries=0", "--layers", "fc"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pe.psum_spad_entries" in err[0]


def test_paper_network_is_mobilenet_05_128_with_the_artifact_counts():
    """The chip benchmark: 28 layers of MobileNet-v1 0.5/128; real masks where the artifact has them; every
    pointwise/FC layer's effectual MACs near the artifact's single-PE count (exact on the masked ones)."""
    from workloads.eyeriss_masks import SPARSELOOP_GT_CYCLES, paper_mobilenet
    from workloads.networks import mobilenet_v1
    wl = paper_mobilenet(seed=0)
    ref = mobilenet_v1(0.5, 128)
    assert len(wl.layers) == 28 == len(ref.layers)
    assert [L.macs_dense for L in wl.layers.values()] == [L.macs_dense for L in ref.layers.values()]
    assert sum(L.macs_dense for L in wl.layers.values()) == 49_160_192
    for name, L in wl.layers.items():
        gt = SPARSELOOP_GT_CYCLES[name]
        if L.kind == "depthwise" or name == "L01":
            continue
        eff = effectual_macs(wl.instance(name, 0))
        if L.meta["data"] == "real masks":
            assert eff == gt, name
        else:
            assert abs(eff / gt - 1) < 0.03, (name, eff, gt)
    assert paper_mobilenet(seed=0).content_hash == wl.content_hash != paper_mobilenet(seed=1).content_hash


def test_chip_on_the_paper_network():
    """Eyeriss v2 on its own benchmark (about 7 s): inf/s within 30 % of the published 1470.6 (the validate
    row); chip power below the published 0.574 W (the unmodelled clock, control and leakage only add), and
    the power blocks add up to it."""
    from accelsim.models.eyeriss import PAPER, chip_numbers
    from workloads.eyeriss_masks import paper_mobilenet
    n = chip_numbers(simulate(paper_mobilenet(seed=0), "eyeriss-v2", jobs=1))
    assert abs(n["inf_per_s"] / PAPER["inf_per_s"] - 1) <= 0.30
    assert n["chip_power_w"] < PAPER["power_w"]
    assert sum(n["power_by_block_w"].values()) == pytest.approx(n["chip_power_w"])
    assert n["node_nm"] == 65 and n["energy_scale"] == pytest.approx(65 / 45)


# ------------------------------------------------------------------ kernels against plain numpy
@settings(max_examples=80, deadline=None)
@given(C=st.integers(1, 12), H=st.integers(1, 5), W=st.integers(1, 16), S=st.integers(1, 3), stride=st.integers(1, 3),
       dil=st.integers(1, 2), density=st.floats(0.0, 1.0), seed=st.integers(0, 2 ** 16),
       blks=st.lists(st.integers(1, 14), min_size=1, max_size=4, unique=True))
def test_window_block_max_equals_numpy(C, H, W, S, stride, dil, density, seed, blks):
    """The spad-fit maxima of every block size in one pass equal the windows summed and blocked in numpy."""
    from accelsim.models.eyeriss.tiles import window_block_max
    nz = (np.random.default_rng(seed).random((C, H, W)) < density).view(np.uint8)
    span = dil * (S - 1) + 1
    Q = 0 if W < span else (W - span) // stride + 1
    win = sum(nz[:, :, s * dil + stride * np.arange(Q)].astype(np.int64) for s in range(S))  # (C, H, Q)
    want = [int(np.add.reduceat(win, np.arange(0, C, b), axis=0).max(initial=0)) if Q else 0 for b in blks]
    assert window_block_max(nz, Q, S, stride, dil, np.array(blks, dtype=np.int64)).tolist() == want


@settings(max_examples=60, deadline=None)
@given(K=st.integers(1, 20), Cg=st.integers(1, 9), R=st.integers(1, 3), S=st.integers(1, 3), M0=st.integers(1, 9),
       lanes=st.sampled_from([1, 2, 4]), density=st.floats(0.0, 1.0), seed=st.integers(0, 2 ** 16))
def test_weight_blocks_equal_numpy(K, Cg, R, S, M0, lanes, density, seed):
    """MAC-stage cycles and per-channel running tile sums equal the numpy block sums."""
    from accelsim.models.eyeriss.formats import prefix_sum
    from accelsim.models.eyeriss.tiles import weight_blocks
    wmask = np.random.default_rng(seed).random((K, Cg, R, S)) < density
    col = np.add.reduceat(wmask.astype(np.int64), np.arange(0, K, M0), axis=0)
    cyc = -(-col // lanes)
    cycles, rcum = weight_blocks(prefix_sum(wmask, 0), M0, lanes)
    assert cycles == int(cyc.sum())
    assert np.array_equal(rcum, prefix_sum((lanes * cyc).sum(axis=3), 1))


@settings(max_examples=80, deadline=None)
@given(x=st.lists(st.sampled_from([0.0, 1.5, 2.0, 3.0, 7.25, 1e9]) | st.floats(0, 1e6), min_size=1, max_size=40),
       k=st.integers(1, 40))
def test_kth_smallest_equals_partition(x, k):
    """The mapper's top-k threshold (ties counted) equals numpy's partition."""
    from accelsim.models.eyeriss.mapping import _kth_smallest
    a = np.array(x, dtype=np.float64)
    k = min(k, a.size)
    assert _kth_smallest(a, k) == np.partition(a, k - 1)[k - 1]


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["conv", "depthwise"]), C=st.integers(1, 12), H=st.integers(1, 6), W=st.integers(1, 9),
       S=st.integers(1, 3), stride=st.integers(1, 2), pad=st.integers(0, 1), skip_i=st.booleans(),
       seed=st.integers(0, 2 ** 16), blks=st.lists(st.integers(1, 14), min_size=1, max_size=4))
def test_win_max_of_a_fully_stored_input_equals_the_kernel(kind, C, H, W, S, stride, pad, skip_i, seed, blks):
    """Every position stored (codes all >= 1 for a PE that does not skip zeros, all 2 for one that does):
    the spad-fit maxima taken without the window pass equal :func:`window_block_max`'s."""
    from accelsim.models.eyeriss.layerarrays import LayerArrays
    from accelsim.models.eyeriss.tiles import window_block_max
    W = max(W, S - 2 * pad)
    L = Layer("l", kind, C=C, K=C if kind == "depthwise" else 5, H=H, W=W, R=1, S=S, stride=stride, padding=pad,
              groups=C if kind == "depthwise" else 1)
    rng = np.random.default_rng(seed)
    shape = (C, H + 2 * pad, W + 2 * pad)
    code = np.full(shape, 2, np.int8) if skip_i else rng.integers(1, 3, size=shape).astype(np.int8)
    ld = LayerArrays(make_model("eyeriss-v2").cfg, L, kind == "depthwise", code, rng.random(L.weight_shape) < 0.5,
                     skip_i, True)
    want = window_block_max(ld.nz, L.Q, S, stride, 1, np.array(blks, dtype=np.int64)).tolist()
    assert [ld.win_max(b) for b in blks] == want
