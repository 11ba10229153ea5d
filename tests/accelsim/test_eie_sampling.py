"""EIE's sampled path (accelsim.models.eie.sampling): one unit per active output pixel.  The decomposition is
exact (exhaustive == result(sum over every pixel), every cause, action and MAC count), and a sampled layer's
interval covers the exhaustive cycles."""

import numpy as np
import pytest

from accelsim.engine import make_model, run_instance, with_sampling
from accelsim.sampling import SampleSpec, check_decomposition, sample_layer, totals_of
from workloads import Layer, LayerInstance


def _inst(name, C, K, H, W, R, pad, *, g=1, stride=1, wd=0.4, ad=0.5, md=None, bias=False, seed=0):
    rng = np.random.default_rng(seed)
    kind = "depthwise" if g > 1 else "conv"
    w = rng.standard_normal((K, C // g, R, R)) * (rng.random((K, C // g, R, R)) < wd)
    L = Layer(name, kind, C=C, K=K, H=H, W=W, R=R, S=R, padding=pad, stride=stride, groups=g, weights=w,
              bias=rng.standard_normal(K) if bias else None)
    a = np.maximum(0, rng.standard_normal((C, H, W))) * (rng.random((C, H, W)) < ad)
    mask = None if md is None else rng.random((L.P, L.Q)) < md
    return LayerInstance(L, 0, acts=a, weights=w, out_mask=mask)


LAYERS = [
    lambda: _inst("c3", 16, 24, 9, 10, 3, 1),
    lambda: _inst("c3m", 16, 24, 9, 10, 3, 1, md=0.6, bias=True, seed=1),
    lambda: _inst("c1", 32, 20, 8, 8, 1, 0, bias=True, seed=2),
    lambda: _inst("c1m", 24, 40, 7, 9, 1, 0, md=0.3, ad=0.2, seed=3),
    lambda: _inst("s2", 8, 12, 11, 9, 3, 1, stride=2, seed=4),
    lambda: _inst("dw", 12, 12, 7, 7, 3, 1, g=12, seed=5),
    lambda: _inst("passes", 8, 70, 6, 6, 3, 1, md=0.5, bias=True, seed=6),
]
CONFIGS = [
    [],
    ["n_pe=8", "fifo_depth=1"],
    ["n_pe=8", "fifo_depth=2", "lnzd_row_bubble=false", "spmat_line_bits=128"],
    ["n_pe=4", "act_regs_per_pe=4", "pass_overhead_cycles=3", "fifo_depth=4"],   # several passes per pixel
    ["n_pe=4", "act_regs_per_pe=4", "pass_overhead_cycles=2", "timing_loop=cycle", "fifo_depth=1"],
]


@pytest.mark.parametrize("over", CONFIGS, ids=lambda c: ",".join(c) or "preset")
def test_decomposition_is_exact(over):
    model = make_model("eie", over)
    for mk in LAYERS:
        inst = mk()
        assert check_decomposition(model, inst) == [], inst.layer.name
        # and the statistics too: the sum over every pixel is the exhaustive result, field for field
        ref = model.simulate_layer(inst)
        sp = model.sampling_units(inst)
        assert sp.n_units == ref.extra["active_pixels"] and sp.unit == "output pixel"
        got = sp.result(totals_of(sp.run(np.arange(sp.n_units))))
        assert repr(got.extra) == repr(ref.extra) and got.utilization == ref.utilization


def test_pixels_in_any_order_and_subsets_add_up():
    model = make_model("eie", ["n_pe=4", "act_regs_per_pe=4", "pass_overhead_cycles=3"])
    sp = model.sampling_units(LAYERS[6]())
    a = sp.run(np.arange(sp.n_units))
    half = np.arange(0, sp.n_units, 2)
    b, c = sp.run(half), sp.run(np.setdiff1d(np.arange(sp.n_units), half))
    np.testing.assert_array_equal(a.cycles[half], b.cycles)
    assert a.cycles.sum() == b.cycles.sum() + c.cycles.sum()
    for k in a.aux:
        assert a.aux[k].sum() == b.aux[k].sum() + c.aux[k].sum(), k


def test_fc_and_empty_layers():
    rng = np.random.default_rng(9)
    w = rng.standard_normal((50, 300)) * (rng.random((50, 300)) < 0.3)
    L = Layer("fc", "fc", C=300, K=50, weights=w)
    fc = LayerInstance(L, 0, acts=np.maximum(0, rng.standard_normal((300, 1, 1))), weights=L.weights)
    model = make_model("eie", ["n_pe=8"])
    assert check_decomposition(model, fc) == [] and model.sampling_units(fc).n_units == 1
    r = run_instance(with_sampling(model, "auto"), fc)
    assert r.cycles == model.simulate_layer(fc).cycles and "exhaustive" in r.extra["sampling"]
    none = _inst("none", 4, 5, 7, 8, 3, 1, md=0.0)
    assert model.sampling_units(none).n_units == 0 and check_decomposition(model, none) == []


@pytest.fixture(scope="module")
def big():
    """1200 pixels, C=32 3x3, half the activations non-zero (the border pixels see padding)."""
    model = make_model("eie", [])
    inst = _inst("big", 32, 64, 30, 40, 3, 1, wd=0.35, ad=0.5, seed=11)
    return model, inst, model.simulate_layer(inst)


def test_fraction_one_is_exhaustive(big):
    model, inst, ref = big
    r = run_instance(with_sampling(model, "1"), inst)
    assert (r.cycles, r.breakdown, r.actions) == (ref.cycles, ref.breakdown, ref.actions)
    assert r.extra["sampling"]["sampled"] == r.extra["sampling"]["units"] == 1200


def test_sampled_interval_covers(big):
    """fraction 0.1 on 40 seeds: the 95 % interval covers the exhaustive cycles on >= 80 % of them."""
    model, inst, ref = big
    cover = 0
    for seed in range(40):
        sp = model.sampling_units(inst)
        r = sample_layer(model, inst, SampleSpec.parse("0.1", seed=seed), sp, lambda: model.simulate_layer(inst))
        s = r.extra["sampling"]
        assert s["unit"] == "output pixel" and s["sampled"] < 0.15 * 1200 and sp.simulated.sum() == s["sampled"]
        assert sum(r.breakdown.values()) == r.cycles and abs(r.cycles - ref.cycles) < 0.02 * ref.cycles
        cover += s["cycles_ci"][0] <= ref.cycles <= s["cycles_ci"][1]
    assert cover >= 32, cover


def test_auto_meets_target(big):
    model, inst, ref = big
    for seed in range(5):
        r = run_instance(with_sampling(model, "auto", seed), inst)
        s = r.extra["sampling"]
        assert "exhaustive" not in s and s["sampled"] < 600, s
        assert s["cycles_rel_half_width"] <= 0.0101 and abs(r.cycles - ref.cycles) <= 0.01 * ref.cycles


def test_a_sample_without_spread_runs_once_per_class_of_identical_pixels():
    """Dense input, 1x1 conv: every pixel runs the same jobs, so auto's sample shows no spread; the layer then
    runs one pixel per class of identical im2col patterns (one class here) and gives the exhaustive result
    field for field, without walking every pixel."""
    from random_layers import random_inst

    from accelsim.engine import with_sampling
    inst = random_inst(4, 8, 40, 40, 1, da=1.0, dw=0.5, seed=1)
    ex = run_instance(make_model("eie"), inst)
    sm = run_instance(with_sampling(make_model("eie"), "auto", 0), inst)
    info = sm.extra.pop("sampling")
    assert "once per class of identical units (1 classes)" in info["exhaustive"]
    assert sm.to_dict() == ex.to_dict()


@pytest.mark.parametrize("R,da", [(3, 1.0), (3, 0.6), (5, 1.0)])
def test_pixel_classes_give_the_exhaustive_result(R, da):
    """One pixel per class of identical non-zero patterns, weighted by class size, equals running every pixel
    (dense input: interior and border classes; sparse input: mostly singletons), through the sampler's helper."""
    from random_layers import random_inst

    from accelsim.sampling import _by_classes
    inst = random_inst(6, 12, 18, 18, R, pad=R // 2, da=da, dw=0.5, seed=2)
    m = make_model("eie")
    ex = run_instance(m, inst)
    space = m.sampling_units(inst)
    ids, first, counts = np.unique(space.unit_classes(), return_index=True, return_counts=True)
    if da == 1.0:
        assert len(ids) <= 25  # R x R border patterns at most (hand count: corners, edges, interior)
    got = _by_classes(space, first, counts, {})
    got.extra.pop("sampling")
    ex.extra.pop("sampling", None)
    engine_fills = ("energy_j", "energy_pJ", "latency_s")  # run_instance adds them to what the model returns
    a, b = got.to_dict(), ex.to_dict()
    assert {k: v for k, v in a.items() if k not in engine_fills} == {k: v for k, v in b.items()
                                                                      if k not in engine_fills}
