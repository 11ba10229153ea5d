"""Eyeriss v2's processing passes as sampling units (accelsim.models.eyeriss.sampling): the exhaustive
result is result(sum of every pass) exactly, the per-pass kernel is the exhaustive walk split by pass,
and a sampled layer's interval covers the exhaustive cycles."""

import numpy as np
import pytest

from accelsim.engine import make_model, run_instance, with_sampling
from accelsim.models.eyeriss.kernel import A_PASSES, NACC, array_pass_units, array_passes
from accelsim.models.eyeriss.sampling import EyerissPasses
from accelsim.sampling import SampleSpec, check_decomposition, sample_layer
from workloads import Layer, LayerInstance
from workloads.synthetic import random_tensor


def _inst(L, ad=0.5, wd=0.5, seed=0, out_density=None):
    rng = np.random.default_rng(seed)
    om = None if out_density is None else rng.random((L.P, L.Q)) < out_density
    return LayerInstance(L, 0, acts=random_tensor(L.act_shape, ad, rng, nonneg=True),
                         weights=random_tensor(L.weight_shape, wd, rng), out_mask=om).materialize(0)


C3 = Layer("c3", "conv", C=32, K=48, H=14, W=18, R=3, S=3, padding=1)
C1 = Layer("c1", "conv", C=64, K=40, H=12, W=10, R=1, S=1)
C3S2 = Layer("c3s2", "conv", C=24, K=32, H=17, W=15, R=3, S=3, padding=1, stride=2)
DW = Layer("dw", "depthwise", C=32, K=32, H=14, W=14, R=3, S=3, padding=1, groups=32)
FC = Layer("fc", "fc", C=256, K=100, H=1, W=1, R=1, S=1)
#: 112 passes under the default mapping search: enough units to sample
MID = Layer("mid", "conv", C=128, K=128, H=28, W=28, R=3, S=3, padding=1)


@pytest.mark.parametrize("over", [[], ["memory.ideal=true"],
                                  ["noc.iact_entries_per_cycle=0.7", "dram.bytes_per_cycle=2"]])
@pytest.mark.parametrize("layer,out_density", [(C3, None), (C3, 0.4), (C1, None), (C3S2, 0.6), (FC, None)])
def test_decomposition_exact(layer, out_density, over):
    """Sampling is offered with ``mapper.top_k: 1`` (with more candidates the search walks every pass)."""
    m = make_model("eyeriss-v2", over + ["mapper.top_k=1"])
    inst = _inst(layer, 0.4, 0.6, seed=3, out_density=out_density)
    assert m.sampling_units(inst) is not None
    assert check_decomposition(m, inst) == []


@pytest.mark.parametrize("rule", ["skip", "weights"])
def test_decomposition_exact_depthwise(rule):
    m = make_model("eyeriss-v2", [f"pe.depthwise_rule={rule}", "mapper.top_k=1"])
    inst = _inst(DW, 0.5, 0.7, seed=1)
    assert m.sampling_units(inst) is not None and check_decomposition(m, inst) == []


def test_decomposition_exact_single_pe():
    inst = _inst(C3, 0.3, 0.5, seed=2)
    assert check_decomposition(make_model("eyeriss-v2-pe", ["mapper.top_k=1"]), inst) == []


def test_dense_pe_has_no_units():
    """A PE that skips nothing has closed-form stage times: exhaustive (v1, v2 depthwise under 'dense')."""
    assert make_model("eyeriss-v1").sampling_units(_inst(C3)) is None
    assert make_model("eyeriss-v2").sampling_units(_inst(DW)) is None


def test_no_units_when_the_search_walks_every_pass():
    """mapper.top_k > 1 (the preset's 4): the search simulates every pass of its best candidates, so the
    exhaustive result costs what a sample would: no sampling (auto was 0.95x exhaustive time)."""
    assert make_model("eyeriss-v2").sampling_units(_inst(C3)) is None


def test_pass_kernel_splits_the_walk():
    """array_pass_units on any passes = those rows of the full walk; the rows summed in loop order are
    array_passes's accumulator bit for bit (so the exhaustive mapping ranking is unchanged)."""
    m = make_model("eyeriss-v2")
    sp = EyerissPasses(m, _inst(MID, seed=4), proxy=False)
    dram, ft_chunk = m._dram(sp.ld, sp.m)
    args = m.pass_args(sp.ld, sp.m, ft_chunk)
    rows, grows = array_pass_units(np.arange(sp.n_units, dtype=np.int64), *args)
    acc, gtime = array_passes(*args)
    seq = np.zeros(NACC)
    for r in rows:
        seq += r
    assert np.array_equal(seq, acc) and np.array_equal(grows.sum(axis=0), gtime)
    assert rows[:, A_PASSES].sum() == sp.n_units
    sel = np.sort(np.random.default_rng(0).choice(sp.n_units, 17, replace=False))
    r2, g2 = array_pass_units(sel, *args)
    assert np.array_equal(r2, rows[sel]) and np.array_equal(g2, grows[sel])


def test_walked_and_fresh_passes_agree():
    """top_k=1: the space walks only the passes asked for; the same rows as the search's full walk."""
    m = make_model("eyeriss-v2", ["mapper.top_k=1"])
    inst = _inst(MID, seed=5)
    fresh = m.sampling_units(inst)
    walked = EyerissPasses(m, inst, walk=True)
    assert fresh._walked is None and walked._walked is not None
    sel = np.array([0, 5, 40, fresh.n_units - 1])
    a, b = fresh.run(sel), walked.run(sel)
    assert np.array_equal(a.cycles, b.cycles)
    assert all(np.array_equal(a.breakdown[k], b.breakdown[k]) for k in a.breakdown)
    assert all(np.array_equal(a.aux[k], b.aux[k]) for k in a.aux)
    # the work proxy (busiest PE's stage work) ranks the passes like their cycles
    cyc = walked.run(np.arange(walked.n_units)).cycles
    assert fresh.proxy.shape == (fresh.n_units,) and np.corrcoef(fresh.proxy, cyc)[0, 1] > 0.8


def test_fraction_interval_covers():
    """Fraction 0.1 on 20 seeds: the 95 % interval covers the exhaustive cycles on most (measured 25-35 of
    30-40 on such layers: small strata make the t interval somewhat optimistic); the per-iact counts
    (MACs) are layer totals, exact; breakdown sums to the cycles."""
    m = make_model("eyeriss-v2", ["mapper.top_k=1"])
    inst = _inst(MID, seed=6)
    ref = m.simulate_layer(inst)
    cover, errs = 0, []
    for seed in range(20):
        got = sample_layer(m, inst, SampleSpec.parse("0.1", seed=seed), m.sampling_units(inst),
                           lambda: m.simulate_layer(inst))
        s = got.extra["sampling"]
        assert "exhaustive" not in s and s["sampled"] < ref.extra["passes"]
        lo, hi = s["cycles_ci"]
        cover += lo <= ref.cycles <= hi
        errs.append(abs(got.cycles - ref.cycles) / ref.cycles)
        assert sum(got.breakdown.values()) == got.cycles
        assert (got.macs_actual, got.macs_effectual, got.macs_gated) == (ref.macs_actual, ref.macs_effectual,
                                                                          ref.macs_gated)
        assert got.extra["mapping"] == ref.extra["mapping"]
    assert cover >= 14, cover
    assert max(errs) < 0.01


def test_auto_on_a_large_layer():
    """C=256 3x3 on a 50x84 plane (800 passes): auto meets +-1 % and lands within it."""
    L = Layer("big", "conv", C=256, K=256, H=50, W=84, R=3, S=3, padding=1)
    inst = _inst(L, 0.5, 0.5, seed=0)
    m = make_model("eyeriss-v2", ["mapper.top_k=1"])
    ref = m.simulate_layer(inst)
    got = run_instance(with_sampling(m, "auto", seed=1), inst)
    s = got.extra["sampling"]
    assert "exhaustive" not in s and s["unit"] == "processing pass" and s["sampled"] < 0.5 * s["units"]
    assert s["cycles_rel_half_width"] <= 0.0125
    assert abs(got.cycles - ref.cycles) / ref.cycles < 0.01
