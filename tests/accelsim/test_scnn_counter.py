"""SCNN's planner counts (accelsim/models/scnn/formats.py ``ActCounter``): the bounds hold, the counts equal the
stream pass (``act_tile_counts``) and the planner picks the same split, the same residency and the same note as
with exact counts of every candidate split."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.engine import make_model
from accelsim.models.common.planar import plan_layer, plan_with_capacity
from accelsim.models.scnn.formats import ActCounter, act_tile_counts
from workloads import Layer


def _acts(rng, C, H, W, kind, density):
    """Inputs with the zero patterns of the paper's heads: random post-ReLU zeros, whole dead pixels (gated
    inputs), whole zero channels, long zero runs along rows, none at all (dense block inputs)."""
    a = rng.standard_normal((C, H, W))
    if kind == "random":
        a[rng.random((C, H, W)) > density] = 0.0
    elif kind == "pixels":
        a[:, rng.random((H, W)) > density] = 0.0
    elif kind == "channels":
        a[rng.random(C) > density] = 0.0
        a[rng.random((C, H, W)) > 0.9] = 0.0
    elif kind == "runs":
        a[:, :, : int(W * (1 - density))] = 0.0
        a[:, : int(H * (1 - density)) // 2] = 0.0
    elif kind == "negzero":
        a[rng.random((C, H, W)) > density] = -0.0
    return a


LAYER = st.fixed_dictionaries({
    "C": st.integers(1, 12), "H": st.integers(1, 40), "W": st.integers(1, 40), "R": st.sampled_from([1, 3, 5]),
    "stride": st.sampled_from([1, 2]), "dil": st.sampled_from([1, 2]), "fc": st.booleans(),
    "kind": st.sampled_from(["random", "pixels", "channels", "runs", "dense", "negzero"]),
    "density": st.floats(0.0, 1.0), "index_bits": st.sampled_from([1, 2, 4]),
    "iaram": st.sampled_from([16, 64, 256, 1024, 10240]), "seed": st.integers(0, 2 ** 16)})


def _case(d):
    rng = np.random.default_rng(d["seed"])
    if d["fc"]:
        L = Layer("fc", "fc", C=d["C"] * d["H"] * d["W"], K=8, H=1, W=1, R=1, S=1)
        acts = _acts(rng, L.C, 1, 1, d["kind"], d["density"])
    else:
        R = d["R"]
        H, W = max(d["H"], (R - 1) * d["dil"] + 1), max(d["W"], (R - 1) * d["dil"] + 1)
        L = Layer("conv", "conv", C=d["C"], K=8, H=H, W=W, R=R, S=R, stride=d["stride"], padding=R // 2,
                  dilation=d["dil"])
        acts = _acts(rng, L.C, H, W, d["kind"], d["density"])
    cfg = make_model("scnn", {"index_bits": d["index_bits"], "iaram_bytes": d["iaram"]}).cfg
    return L, acts, cfg


@settings(max_examples=150, deadline=None)
@given(LAYER, st.integers(1, 4), st.integers(1, 4))
def test_bounds_and_counts_equal_the_stream_pass(d, ny, nx):
    L, acts, cfg = _case(d)
    plan = plan_layer(L, cfg, ny, nx)
    ib = d["index_bits"]
    exact = act_tile_counts(acts, L, plan, ib)
    c = ActCounter(acts, L, ib)
    lo, hi = c.bounds(plan)
    tot = exact.sum(axis=1)
    assert (lo <= tot).all() and (tot <= hi).all()
    idx = np.random.default_rng(d["seed"]).permutation(plan.tiles.shape[0])[: max(1, plan.tiles.shape[0] // 2)]
    assert np.array_equal(c(plan, idx), tot[idx])
    assert np.array_equal(c(plan), tot)
    got = c.counts(plan)
    assert got.dtype == exact.dtype and np.array_equal(got, exact)
    assert np.array_equal(ActCounter(acts, L, ib).counts(plan), exact)  # without the planner's passes first


@settings(max_examples=150, deadline=None)
@given(LAYER)
def test_planner_picks_the_split_of_exact_counts(d):
    L, acts, cfg = _case(d)
    ib = d["index_bits"]
    iaram = cfg["iaram_bytes"] * 8 // (cfg["value_bits"] + ib)
    ref = plan_with_capacity(L, cfg, lambda p: act_tile_counts(acts, L, p, ib).sum(axis=1), iaram)
    got = plan_with_capacity(L, cfg, ActCounter(acts, L, ib), iaram)
    assert np.array_equal(got[0].tiles, ref[0].tiles) and got[1:] == ref[1:]


def test_dense_input_takes_no_stream_pass(monkeypatch):
    """A zero-free input (the gated heads' block inputs) is planned and counted from the bounds alone."""
    from accelsim.models.scnn import formats
    L = Layer("conv", "conv", C=16, K=8, H=40, W=48, R=3, S=3, padding=1)
    acts = np.random.default_rng(0).random((16, 40, 48)) + 0.5
    cfg = make_model("scnn", {"iaram_bytes": 256}).cfg
    ref_plan = plan_with_capacity(L, cfg, lambda p: act_tile_counts(acts, L, p, 4).sum(axis=1), 102)
    ref = act_tile_counts(acts, L, ref_plan[0], 4)
    monkeypatch.setattr(formats, "_tile_entries", lambda *a: pytest.fail("a stream pass ran"))
    c = ActCounter(acts, L, 4)
    plan, dram, _ = plan_with_capacity(L, cfg, c, 102)
    assert dram and plan.n_pass > 1 and np.array_equal(plan.tiles, ref_plan[0].tiles)
    assert np.array_equal(c.counts(plan), ref)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 80), st.sampled_from([0, 1, 2, 6, 30, 100]), st.integers(0, 60), st.integers(0, 2 ** 16))
def test_largest_tile_from_bounds(T, slack, limit, seed):
    """``max_entries_above``: the exact largest count when it exceeds the limit (else None), whatever the bounds'
    order, counting each undecided tile at most once and no tile the bounds decide."""
    from accelsim.models.common.planar import max_entries_above
    rng = np.random.default_rng(seed)
    e = rng.integers(0, 50, T)
    lo = e - rng.integers(0, slack + 1, T)
    hi = e + rng.integers(0, slack + 1, T)
    seen = []

    def count(plan, idx):
        seen.extend(np.asarray(idx).tolist())
        return e[idx]

    got = max_entries_above(count, None, lo, hi, limit)
    assert got == (int(e.max()) if e.max() > limit else None)
    assert len(seen) == len(set(seen)) and all(lo[i] != hi[i] for i in seen)
