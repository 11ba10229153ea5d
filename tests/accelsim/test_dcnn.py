"""DCNN / DCNN-opt dense baselines."""

import numpy as np
import pytest
from random_layers import random_inst as _inst

from accelsim.config import load_arch
from accelsim.engine import make_model, run_instance
from accelsim.errors import ConfigError
from workloads import Layer, LayerInstance
from workloads.effectual import effectual_macs

torch = pytest.importorskip("torch")

DCNN = make_model("dcnn")
OPT = make_model("dcnn-opt")


@pytest.mark.parametrize("case", [dict(C=3, K=5, H=9, W=11, R=3, pad=1), dict(C=6, K=8, H=15, W=15, R=3, pad=1, stride=2),
                                  dict(C=4, K=4, H=10, W=10, R=3, pad=1, groups=2),
                                  dict(C=5, K=6, H=11, W=13, R=5, pad=2, mask_density=0.5)])
@pytest.mark.parametrize("model", [DCNN, OPT], ids=["dcnn", "dcnn-opt"])
def test_functional_and_counts(case, model):
    inst = _inst(**case)
    r = run_instance(model, inst, functional=True)
    L = inst.layer
    ref = torch.nn.functional.conv2d(torch.tensor(inst.acts_dense())[None], torch.tensor(inst.weights_dense()),
                                     stride=L.stride, padding=L.padding, groups=L.groups)[0].numpy()
    ref = ref * inst.out_mask_or_ones()[None]
    np.testing.assert_allclose(r.output, ref, rtol=1e-9, atol=1e-12)
    assert r.macs_effectual == effectual_macs(inst)
    assert sum(r.breakdown.values()) == r.cycles
    assert r.cycles * model.peak_macs_per_cycle() >= r.extra["products"]


def test_cycles_are_data_independent_and_opt_only_changes_energy():
    a = _inst(C=8, K=16, H=16, W=16, R=3, pad=1, da=0.2, dw=0.3, seed=1)
    b = _inst(C=8, K=16, H=16, W=16, R=3, pad=1, da=1.0, dw=1.0, seed=2)
    ra, rb, ro = run_instance(DCNN, a), run_instance(DCNN, b), run_instance(OPT, a)
    assert ra.cycles == rb.cycles == ro.cycles
    # closed form: 2x2-pixel tiles, Kc = 16 (4x4 footprint), 8 channels x 1 I-vector x 36 F-vectors,
    # halo 12 px x 16 channels, last PPU drain 4 px x 16 / 4 per cycle
    assert ra.cycles == 8 * 1 * 36 + 12 * 16 + 16
    # DCNN-opt gates every multiply with a zero operand (of the algorithmic MACs: the in-plane products)
    assert ro.macs_gated == ro.extra["products_in_plane"] - ro.extra["nonzero_pairs_in_plane"] > 0
    assert ro.actions["mult_16b"] == ro.extra["nonzero_pairs"] < ra.actions["mult_16b"]
    assert ro.energy_j < ra.energy_j
    assert rb.actions["mult_16b"] == rb.extra["products"]


def test_dram_compressed_activations_reduce_traffic():
    inst = _inst(C=128, K=8, H=96, W=96, R=3, pad=1, da=0.3, dw=0.5)
    d, o = run_instance(DCNN, inst), run_instance(OPT, inst)
    assert d.extra["act_from_dram"] and o.extra["act_from_dram"]
    assert o.extra["dram_bytes"] < d.extra["dram_bytes"]


def test_fc_quarter_of_peak():
    inst = _inst(C=256, K=256, H=1, W=1, R=1, da=1.0, dw=1.0, kind="fc")
    r = run_instance(DCNN, inst)
    comp = r.cycles - r.breakdown["memory_stall"]
    assert 0.2 < r.macs_effectual / (comp * 1024) <= 0.25


def test_dcnn_bad_config():
    with pytest.raises(ConfigError, match="zero_gating"):
        load_arch("dcnn", ["zero_gating=maybe"])
    with pytest.raises(ConfigError, match="output_mask_skip"):
        load_arch("dcnn", ["output_mask_skip=true"])  # an SCNN-only field


def _brute_counts(L):
    """Padding taps (algorithmic MACs reading a padded zero) and out-of-plane products (a real input pixel
    times a phase-matched tap whose output falls outside the plane), by plain loops over the shape."""
    s, pad, d, Cg = L.stride, L.padding, L.dilation, L.C // L.groups
    pad_taps = sum(1 for p in range(L.P) for q in range(L.Q) for r in range(L.R) for c in range(L.S)
                   if not (0 <= p * s - pad + r * d < L.H and 0 <= q * s - pad + c * d < L.W))
    oop = sum(1 for y in range(L.H) for x in range(L.W) for r in range(L.R) for c in range(L.S)
              if (y + pad - r * d) % s == 0 and (x + pad - c * d) % s == 0
              and not (0 <= (y + pad - r * d) // s < L.P and 0 <= (x + pad - c * d) // s < L.Q))
    return pad_taps * L.K * Cg, oop * L.K * Cg


@pytest.mark.parametrize("case", [dict(C=6, K=8, H=9, W=9, R=3, pad=1, stride=2),     # the contract's stride 2
                                  dict(C=5, K=7, H=19, W=23, R=3, pad=0),             # pad 0: no padding taps
                                  dict(C=4, K=6, H=12, W=10, R=5, pad=2, groups=2)])
@pytest.mark.parametrize("model", [DCNN, OPT], ids=["dcnn", "dcnn-opt"])
def test_mac_accounting_padding_taps_skipped_out_of_plane_outside(case, model):
    """dense = actual + skipped + gated: the padding taps are never multiplied (skipped with their cycles), the
    in-plane products are performed (DCNN) or, with a zero operand, gated (DCNN-opt); the out-of-plane products
    are multiplier work outside the algorithmic count (extra products_outside_dense, in mult_16b)."""
    inst = _inst(**case)
    L = inst.layer
    r = run_instance(model, inst)
    pad_taps, oop = _brute_counts(L)
    assert r.macs_skipped == r.extra["padding_taps"] == pad_taps
    assert r.extra["products_outside_dense"] == oop == r.extra["products"] - r.extra["products_in_plane"]
    assert r.macs_actual + r.macs_skipped + r.macs_gated == L.macs_dense
    assert r.macs_effectual <= r.macs_actual
    if case["pad"] == 0:
        assert r.macs_skipped == 0 and oop > 0
    if model is DCNN:
        assert r.macs_gated == 0 and r.macs_actual == L.macs_dense - pad_taps
        assert r.actions["mult_16b"] == r.macs_actual + oop


def test_functional_output_comes_from_the_tiling(monkeypatch):
    """The functional output is computed PE by PE from the plan (tiles, footprints, Kc groups, rounds): with
    one PE's first round removed from the plan, the outputs that depend on that tile no longer match torch."""
    import accelsim.models.dcnn.model as dm
    inst = _inst(C=4, K=6, H=16, W=16, R=3, pad=1)
    L = inst.layer
    ref = torch.nn.functional.conv2d(torch.tensor(inst.acts_dense())[None], torch.tensor(inst.weights_dense()),
                                     padding=1)[0].numpy()
    np.testing.assert_allclose(run_instance(DCNN, inst, functional=True).output, ref, rtol=1e-12, atol=1e-12)
    real = dm.plan_with_capacity

    def drop_one_pe(*a, **k):
        plan, act_dram, note = real(*a, **k)
        plan.round_tile = plan.round_tile.copy()
        plan.round_tile[0, 9] = -1
        return plan, act_dram, note

    monkeypatch.setattr(dm, "plan_with_capacity", drop_one_pe)
    out = run_instance(DCNN, inst, functional=True).output
    bad = ~np.isclose(out, ref, rtol=1e-9, atol=1e-12)
    assert bad.any()
    ys, xs = np.nonzero(bad.any(axis=0))
    plan = real(L, DCNN.cfg, lambda p: np.zeros(p.tiles.shape[0], dtype=np.int64), 1 << 30)[0]
    p0, p1, q0, q1 = plan.foot[plan.round_tile[0, 9]]
    assert ys.min() >= p0 and ys.max() < p1 and xs.min() >= q0 and xs.max() < q1   # only that PE's footprint


@pytest.mark.parametrize("case", [dict(C=128, K=4, H=96, W=96, R=3, pad=1, da=0.3),       # planar passes + DRAM
                                  dict(C=3, K=4, H=12, W=12, R=3, pad=2, dil=2),         # dilation
                                  dict(C=32, K=16, H=1, W=1, R=1, kind="fc"),            # channel mapping
                                  dict(C=6, K=6, H=9, W=9, R=3, pad=1, groups=6, kind="depthwise")])
def test_functional_through_the_dataflow_matches_torch_float64(case):
    dil = case.pop("dil", 1)
    rng = np.random.default_rng(5)
    L = Layer("l", case.pop("kind", "conv"), stride=1, dilation=dil, S=case["R"], padding=case.pop("pad", 0),
              **{k: case[k] for k in ("C", "K", "H", "W", "R")}, groups=case.get("groups", 1))
    a = rng.random(L.act_shape) * (rng.random(L.act_shape) < case.get("da", 0.5))
    w = rng.standard_normal(L.weight_shape) * (rng.random(L.weight_shape) < 0.5)
    inst = LayerInstance(L, 0, acts=a, weights=w)
    r = run_instance(DCNN, inst, functional=True)
    ref = torch.nn.functional.conv2d(torch.tensor(a)[None], torch.tensor(w), padding=L.padding, dilation=dil,
                                     groups=L.groups)[0].numpy()
    np.testing.assert_allclose(r.output, ref, rtol=1e-9, atol=1e-12)
    if case["H"] == 96:
        assert r.extra["passes"] > 1
