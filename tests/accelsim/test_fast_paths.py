"""Exact fast paths (issue 14): each is proven equal to the loop it replaces on random layers (hypothesis).

* Eyeriss (v1, v2): the tiled kernel (per-row iact counts -> per-tile stage times -> pass walk) equals
  the per-iact reference walk :func:`~accelsim.models.eyeriss.walk.array_timing_walk` bit for bit;
  the closed-form PE stage times (a PE that skips nothing) equal the times walked from the data; the
  mapping search (numba estimate, top-k preselection) ranks exactly as the vectorised numpy estimate.
* DianNao: the closed form of the NFU timeline equals the (block, position) walk.
* Whole layers: ``fast_paths`` on and off give the same LayerResult (only ``extra["path"]`` differs),
  and the same report hash; the markdown report lists the layers per timing path.
"""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accelsim.engine import make_model, run_instance, simulate
from accelsim.models.diannao.model import _dense_timeline, dense_timeline_closed
from accelsim.models.eyeriss import kernel as kn
from accelsim.models.eyeriss import tiles as tl
from accelsim.models.eyeriss.formats import blocksum, ceil_div, prefix_sum, weight_csc
from accelsim.models.eyeriss.layerarrays import LayerArrays
from accelsim.models.eyeriss.mapping import candidates, spatial_combos
from accelsim.models.eyeriss.walk import array_timing_walk
from workloads import Layer, Workload, effectual_macs

PROP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _layer(kind, C, K, H, W, R, S, stride, pad, dil, wd, ad, out_density=None):
    if kind == "fc":
        return Layer("l", "fc", C=C, K=K, weight_density=wd, act_density=ad)
    H = max(H, dil * (R - 1) + 1 - 2 * pad)
    W = max(W, dil * (S - 1) + 1 - 2 * pad)
    return Layer("l", kind, C=C, K=C if kind == "depthwise" else K, H=H, W=W, R=R, S=S, stride=stride,
                 padding=pad, dilation=dil, groups=C if kind == "depthwise" else 1, weight_density=wd,
                 act_density=ad, out_density=out_density)


layers = st.builds(_layer, st.sampled_from(["conv", "conv", "depthwise", "fc"]), st.integers(1, 20),
                   st.integers(1, 20), st.integers(1, 9), st.integers(1, 9), st.integers(1, 3), st.integers(1, 3),
                   st.integers(1, 2), st.integers(0, 1), st.integers(1, 2), st.floats(0.05, 1.0), st.floats(0.0, 1.0))


def _inst(L, seed=0):
    wl = Workload("t")
    wl.add_layer(L)
    return wl.instance(L.name, 0).materialize(seed)


# ------------------------------------------------------------------ Eyeriss kernel
def _random_data(L, seed, lowest_code):
    """Random iact codes >= ``lowest_code`` over the padded input and a random weight mask."""
    rng = np.random.default_rng(seed)
    code = rng.integers(lowest_code, 3, size=(L.C, L.H + 2 * L.padding, L.W + 2 * L.padding)).astype(np.int8)
    return rng, L.kind == "depthwise", L.weight_shape, code, rng.random(L.weight_shape) < 0.5


@PROP
@given(L=layers, seed=st.integers(0, 2 ** 16), m0=st.integers(1, 9), c0=st.integers(1, 9),
       f=st.lists(st.integers(1, 3), min_size=7, max_size=7), lanes=st.sampled_from([1, 2]),
       skip_i=st.booleans(), skip_w=st.booleans(), addr=st.booleans(), ideal=st.booleans(),
       ft_chunk=st.integers(1, 3), stages=st.integers(1, 7))
def test_tiled_kernel_equals_per_iact_walk(L, seed, m0, c0, f, lanes, skip_i, skip_w, addr, ideal, ft_chunk, stages):
    """Any iact codes (0 padding / 1 zero / 2 non-zero anywhere), any weight mask, any mapping factors."""
    rng, dw, (K, Cg, R, S), code, wmask = _random_data(L, seed, 0)
    ptr = weight_csc(wmask, None, m0, dw)[0]
    nblk = ceil_div(K, m0) if dw else ceil_div(Cg, c0)
    nMb, nCb = ceil_div(K, m0), (1 if dw else ceil_div(Cg, c0))
    rowent = rng.integers(0, 50, size=(nblk, code.shape[1])).astype(np.int64)
    wtile = rng.integers(0, 50, size=(nMb, nCb, R)).astype(np.int64)
    Rsp, Cr, Fc, Mc, Fk, Ck, Mk = f
    n_pes = Rsp * Cr * Fc * Mc * Fk * Ck * Mk + int(rng.integers(0, 5))
    args = (code, ptr, dw, K, Cg, R, S, L.P, L.Q, L.stride, L.dilation, m0, c0, skip_i, skip_w, lanes,
            Rsp, Cr, Fc, Mc, Fk, Ck, Mk, n_pes, rowent, wtile, 3.0, 2.5, 4.0, ideal, ft_chunk, stages, addr)
    acc_ref, g_ref = array_timing_walk(*args)
    acc, g = kn.array_timing(*args)
    assert acc.tobytes() == acc_ref.tobytes(), np.nonzero(acc != acc_ref)
    assert g.tobytes() == g_ref.tobytes()


@PROP
@given(L=layers, seed=st.integers(0, 2 ** 16), m0=st.integers(1, 9), c0=st.integers(1, 9),
       lanes=st.sampled_from([1, 2]))
def test_closed_form_stage_times_equal_the_data_walk(L, seed, m0, c0, lanes):
    """A PE that skips nothing (every code >= 1): tile stage times from the shape equal those walked."""
    _, dw, (K, Cg, R, S), code, wmask = _random_data(L, seed, 1)
    wcnt = tl.weight_counts(wmask, m0, dw)
    F, F2, NC = tl.iact_rows(code, L.Q, S, L.stride, L.dilation, False)
    work, feed = tl.tile_work(F, wcnt, dw, K, Cg, R, S, L.P, L.stride, L.dilation, m0, c0, False, lanes)
    work_cf, feed_cf = tl.tile_work_dense(K, Cg, R, S, L.P, L.Q, m0, c0, dw, lanes)
    assert np.array_equal(work, work_cf) and np.array_equal(feed, feed_cf)
    assert (NC == L.Q * S).all()


def _model_pair(preset, overrides=None):
    fast, loop = make_model(preset, overrides), make_model(preset, overrides)
    loop.fast_paths = False
    return fast, loop


@PROP
@given(L=layers, seed=st.integers(0, 2 ** 16))
def test_eyeriss_layers_fast_path_equals_loop(L, seed):
    """v1 (closed form on every layer), v2 (closed form on depthwise layers under the 'dense' rule, the
    data walk elsewhere): the same LayerResult either way; macs_effectual is the shared count."""
    inst = _inst(L, seed)
    for preset in ("eyeriss-v1", "eyeriss-v2"):
        fast, loop = _model_pair(preset)
        a, b = run_instance(fast, inst), run_instance(loop, inst)
        want = "closed_form" if (preset == "eyeriss-v1" or L.kind == "depthwise") else "cycle_loop"
        assert a.extra.pop("path") == want and b.extra.pop("path") == "cycle_loop"
        assert a.to_dict() == b.to_dict()
        assert a.macs_effectual == effectual_macs(inst)


def test_effectual_macs_with_an_output_mask():
    inst = _inst(_layer("conv", 6, 5, 7, 7, 3, 3, 1, 1, 1, 0.5, 0.5, out_density=0.4), 3)
    assert inst.out_mask is not None and not inst.out_mask.all()
    r = run_instance(make_model("eyeriss-v2"), inst)
    assert r.macs_effectual == effectual_macs(inst) < r.extra["macs_walked_effectual"]


@settings(max_examples=60, deadline=None)
@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 30), st.integers(1, 4)), size=st.integers(1, 12),
       axis=st.integers(0, 2), seed=st.integers(0, 2 ** 16), b=st.integers(1, 9))
def test_block_helpers_equal_the_direct_forms(shape, size, axis, seed, b):
    x = np.random.default_rng(seed).integers(-5, 40, size=shape)
    assert np.array_equal(blocksum(x, size, axis), np.add.reduceat(x, np.arange(0, shape[axis], size), axis=axis))
    assert tl.block_max(prefix_sum(x, 1), size) == np.add.reduceat(x, np.arange(0, shape[1], size), axis=1).max()
    assert np.array_equal(ceil_div(x, b), -(-x // b))


# ------------------------------------------------------------------ Eyeriss mapping search
def _estimate_numpy(cfg, L, cb, M0, C0, nMb, nCb, R, P, Q, work, row_ent, mean_wt, dw):
    """The vectorised numpy estimate of one PE tile over the spatial combos (the code before issue 14)."""
    c = cfg
    Rsp, Cr, Fc, Mc, Fk, Ck, Mk = (cb[:, j] for j in range(7))
    ok = (Cr <= nCb) & (Mc <= nMb) & (Ck <= -(-nCb // Cr)) & (Mk <= -(-nMb // Mc))
    Rsp, Cr, Fc, Mc, Fk, Ck, Mk = (x[ok] for x in (Rsp, Cr, Fc, Mc, Fk, Ck, Mk))
    n_mt, n_ct = -(-nMb // (Mc * Mk)), -(-nCb // (Cr * Ck))
    n_rt, n_ft = -(-R // Rsp), -(-P // (Fc * Fk))
    passes = n_mt * n_ct * n_rt * n_ft
    t = np.full(passes.shape, work + c["pe.pipeline_stages"] - 1, dtype=np.float64)
    if not c["memory.ideal"]:
        rows_i = np.minimum(Rsp * Fc, (Fc - 1) * L.stride + Rsp)
        t = np.maximum(t, rows_i * (Mc if dw else Cr) * row_ent / c["noc.iact_entries_per_cycle"])
        t = np.maximum(t, Rsp * Cr * Mc * mean_wt / c["noc.weight_entries_per_cycle"] / n_ft)
        t = np.maximum(t, Fc * Mc * M0 * Q * np.where(n_ct * n_rt == 1, 1, 2) / c["noc.psum_entries_per_cycle"])
    n = len(passes)
    return np.column_stack([passes * t, np.full(n, M0), np.full(n, C0), Rsp, Cr, Fc, Mc, Fk, Ck, Mk])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(L=layers, seed=st.integers(0, 2 ** 16), preset=st.sampled_from(["eyeriss-v2", "eyeriss-v1"]),
       ideal=st.booleans(), top=st.integers(1, 6))
def test_mapping_search_ranks_as_the_numpy_estimate(L, seed, preset, ideal, top):
    m = make_model(preset, {"memory.ideal": ideal})
    inst = _inst(L, seed)
    dw, code, wmask = m._prepare(inst)
    ld = LayerArrays(m.cfg, L, dw, code, wmask, *m._flags(L))
    got, n = candidates(m.cfg, ld, top=top)
    # the reference ranks every legal (tile, combo) with the numpy estimate, then lexsorts all rows
    parts = []
    K, Cg, R, S = wmask.shape
    c = m.cfg
    for M0 in sorted({x for x in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32) if x <= min(K, c["pe.psum_spad_entries"])}
                     | ({K} if K <= c["pe.psum_spad_entries"] else set())):
        col, colr, tiles_dw, wcyc_mean = ld.stats(M0)
        for C0 in ([1] if dw else [x for x in (1, 2, 3, 4, 6, 8, 12, 16) if x <= Cg]):
            blk = M0 if dw else C0
            wt = tiles_dw if dw else np.add.reduceat(colr.sum(axis=3), np.arange(0, Cg, C0), axis=1)
            if blk * S > c["pe.weight_addr_entries"] or wt.max() > c["pe.weight_spad_entries"]:
                continue
            if (ld.win_max(blk) if ld.compressed else blk * S) > c["pe.iact_spad_entries"]:
                continue
            Wp = code.shape[2]
            row_ent = (blk * Wp * ld.d_act + Wp) if ld.compressed else blk * Wp
            work = L.Q * S * blk * ld.d_act * wcyc_mean
            if c["pe.address_stages"]:
                work = max(work, L.Q * S * blk * ld.d_act, L.Q * S)
            parts.append(_estimate_numpy(c, L, spatial_combos(c, R, L.P), M0, C0, ceil_div(K, M0),
                                         1 if dw else ceil_div(Cg, C0), R, L.P, L.Q, work, row_ent,
                                         float(wt.mean()) + blk * S, dw))
    if L.S > c["pe.iact_addr_entries"] or not parts:
        assert got == [] and n == 0
        return
    allc = np.concatenate(parts)
    order = np.lexsort(tuple(allc[:, j] for j in range(9, 2, -1)) + (-allc[:, 2], -allc[:, 1], allc[:, 0]))
    want = [(tuple(int(v) for v in allc[i, [3, 4, 5, 6, 7, 8, 9, 1, 2]]), float(allc[i, 0])) for i in order[:top]]
    assert n == allc.shape[0]
    assert [((g.Rsp, g.Cr, g.Fc, g.Mc, g.Fk, g.Ck, g.Mk, g.M0, g.C0), g.est) for g in got] == want


# ------------------------------------------------------------------ DianNao
@settings(max_examples=60, deadline=None)
@given(K=st.integers(1, 70), L=st.integers(1, 300), n_pe=st.integers(1, 20), tm=st.integers(1, 20),
       active=st.lists(st.booleans(), min_size=0, max_size=40))
def test_diannao_closed_form_equals_the_timeline_walk(K, L, n_pe, tm, active):
    a = np.array(active, dtype=np.bool_)
    cyc, used = _dense_timeline(K, L, a, n_pe, tm)
    assert dense_timeline_closed(K, L, int(a.sum()), n_pe, tm) == (cyc, used)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(L=layers, seed=st.integers(0, 2 ** 16), od=st.sampled_from([None, 0.3, 0.8]))
def test_diannao_layers_fast_path_equals_loop(L, seed, od):
    if L.kind != "fc" and od is not None:
        L = replace(L, out_density=od)
    inst = _inst(L, seed)
    fast, loop = _model_pair("diannao")
    a, b = run_instance(fast, inst), run_instance(loop, inst)
    assert a.extra.pop("path") == "closed_form" and b.extra.pop("path") == "cycle_loop"
    assert a.to_dict() == b.to_dict()


# ------------------------------------------------------------------ reports
def test_report_hash_ignores_the_path_and_markdown_lists_it():
    wl = Workload("t")
    for L in (_layer("conv", 8, 6, 8, 8, 3, 3, 1, 1, 1, 0.5, 0.5), _layer("depthwise", 8, 8, 8, 8, 3, 3, 1, 1, 1,
                                                                          0.5, 0.5)):
        wl.add_layer(replace(L, name=L.kind))
    fast, loop = _model_pair("eyeriss-v2")
    a, b = simulate(wl, fast, jobs=1), simulate(wl, loop, jobs=1)
    assert [r.extra["path"] for r in a.results] == ["cycle_loop", "closed_form"]
    assert a.hash == b.hash
    assert "Timing path: closed_form (1): depthwise; cycle_loop (1): conv" in a.to_markdown()


# ------------------------------------------------------------------ SCNN: identical (round, PE) units run once
def _structured_mask(inst, kind, seed):
    """Output masks whose windows repeat across tiles (so the mask part of the tile key is exercised): a
    random one, stripes, or a block of active outputs."""
    L = inst.layer
    if kind == "random":
        return np.random.default_rng(seed).random((L.P, L.Q)) < 0.3
    m = np.zeros((L.P, L.Q), dtype=bool)
    if kind == "stripes":
        m[::2] = True
    else:
        m[L.P // 3:, : 2 * L.Q // 3] = True
    return m


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 16), C=st.integers(1, 12), K=st.integers(1, 40), HW=st.integers(3, 20),
       R=st.sampled_from([1, 3, 5]), stride=st.sampled_from([1, 2]), da=st.sampled_from([1.0, 1.0, 0.5]),
       dw=st.sampled_from([1.0, 1.0, 0.6, 0.2]), mask=st.sampled_from([None, "random", "stripes", "block"]),
       preset=st.sampled_from(["scnn", "scnn-maskskip", "scnn-4x256"]),
       hash_=st.sampled_from(["linear", "skewed"]), kc=st.sampled_from([0, 4, 7]))
def test_scnn_identical_units_once_equals_every_unit(seed, C, K, HW, R, stride, da, dw, mask, preset, hash_, kc):
    """(round, PE) units of one tile class and one Kc-group class run once (dense input makes the interior
    tiles of one shape one class, dense weights every full group): the LayerResult equals running every unit,
    field for field, and the sampled path's units too; only extra["path"] differs."""
    from random_layers import random_inst
    inst = random_inst(C, K, HW, HW + 1, R, pad=R // 2, stride=stride, da=da, dw=dw, seed=seed)
    if mask is not None:
        inst = replace(inst, out_mask=_structured_mask(inst, mask, seed))
    fast, loop = _model_pair(preset, [f"kc={kc}"] + ([f"accumulator.bank_hash={hash_}"] if preset == "scnn" else []))
    a, b = run_instance(fast, inst), run_instance(loop, inst)
    assert a.extra.pop("path") in ("identical_units_once", "cycle_loop") and b.extra.pop("path") == "cycle_loop"
    assert a.to_dict() == b.to_dict()
    sf, sl = fast.sampling_units(inst), loop.sampling_units(inst)
    sel = np.arange(0, sf.n_units, 2)
    uf, ul = sf.run(sel), sl.run(sel)
    assert np.array_equal(uf.cycles, ul.cycles) and all(np.array_equal(uf.actions[k], ul.actions[k]) for k in ul.actions)


def test_scnn_dense_weights_take_the_identical_units_path():
    """A dense-weight layer with several Kc groups per pass runs one round per (pass, group class)."""
    from random_layers import random_inst
    inst = random_inst(16, 64, 32, 32, 3, pad=1, dw=1.0, seed=3)
    m = make_model("scnn")
    prep = m.prepare(inst)
    assert len(np.unique(prep.unit_class, axis=0)) < prep.plan.round_tile.shape[0]  # rounds, PE by PE
    assert run_instance(m, inst).extra["path"] == "identical_units_once"


def test_scnn_dense_input_tiles_of_one_shape_are_one_class():
    """Dense input: the interior tiles of one shape are one class, border tiles are told apart by their
    distance to the border (hand-worked: 8x8 PEs on a 64x64 plane, 8x8 tiles, 3x3 pad 1: corner, edge and
    interior tiles -> 3 x 3 = 9 classes), and units run once per class with the same result."""
    from random_layers import random_inst
    inst = random_inst(4, 8, 64, 64, 3, pad=1, da=1.0, dw=1.0, seed=5)
    m = make_model("scnn")
    prep = m.prepare(inst)
    assert prep.plan.tiles.shape[0] == 64
    assert prep.n_unit_classes == 9
    loop = make_model("scnn")
    loop.fast_paths = False
    a, b = run_instance(m, inst), run_instance(loop, inst)
    assert a.extra.pop("path") == "identical_units_once" and b.extra.pop("path") == "cycle_loop"
    assert a.to_dict() == b.to_dict()


# ------------------------------------------------------------------ SCNN: the block memo
def _gated_input(inst, seed, zero_pixels, zero_weights):
    """The instance with its activations zeroed at the same pixels in every channel (a spatial gate) and,
    with ``zero_weights``, some weights zeroed: blocks of one unit then repeat each other's positions."""
    rng = np.random.default_rng(seed)
    a = np.abs(rng.standard_normal(inst.acts.shape)) + 0.1
    a[:, rng.random(a.shape[1:]) < zero_pixels] = 0.0
    w = rng.standard_normal(inst.weights.shape)
    if zero_weights:
        w[:, :, 0, 0] = 0.0  # the same tap of every filter: still one pattern per block
    return replace(inst, acts=a, weights=w)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 16), C=st.integers(8, 32), K=st.integers(1, 24), HW=st.integers(6, 24),
       R=st.sampled_from([1, 3, 3]), zero_pixels=st.sampled_from([0.0, 0.3, 0.7]), zero_weights=st.booleans(),
       preset=st.sampled_from(["scnn", "scnn-maskskip", "scnn-4x256"]),
       xbar=st.sampled_from(["fifo", "fifo", "queue", "step_max"]),
       arb=st.sampled_from(["longest_queue", "round_robin", "fixed_priority"]), depth=st.sampled_from([1, 2, 8]),
       mask=st.sampled_from([None, "random", "block"]))
def test_scnn_block_memo_equals_walking_every_block(seed, C, K, HW, R, zero_pixels, zero_weights, preset, xbar, arb,
                                                    depth, mask):
    """The kernel's block memo (a block repeating the previous one's positions from the crossbar state that
    block started in adds its counters again) gives the same result as walking every block, for every
    crossbar model, arbiter and FIFO depth, with and without an output mask.  (Dropping the state comparison
    fails about 1 in 10 of these cases, and the test below always.)"""
    from random_layers import random_inst
    inst = _gated_input(random_inst(C, K, HW, HW, R, pad=R // 2, seed=seed), seed, zero_pixels, zero_weights)
    if mask is not None:
        inst = replace(inst, out_mask=_structured_mask(inst, mask, seed))
    ov = {"accumulator.conflict_model": xbar, "accumulator.arbitration": arb, "accumulator.fifo_depth": depth}
    fast, loop = _model_pair(preset, ov)
    a, b = run_instance(fast, inst), run_instance(loop, inst)
    a.extra.pop("path"), b.extra.pop("path")
    assert a.to_dict() == b.to_dict()


@pytest.mark.parametrize("xbar", ["fifo", "queue", "step_max"])
def test_scnn_block_memo_fires_on_gated_dense_input(xbar):
    """A dense layer behind a spatial gate (same zero pixels in every channel, dense weights) repeats its blocks:
    the memo takes most of them (the state settles after a few channels), and the result is the walk's."""
    from random_layers import random_inst

    from accelsim.models.scnn.kernel import ST_MEMO
    inst = _gated_input(random_inst(32, 16, 16, 16, 3, pad=1, seed=1), 1, 0.3, False)
    fast, loop = _model_pair("scnn", {"accumulator.conflict_model": xbar})
    stats = fast.run_rounds(fast.prepare(inst))
    memo, blocks = stats[..., ST_MEMO].sum(), stats[..., ST_MEMO].size * 32
    assert memo > 0.5 * blocks, (memo, blocks)
    a, b = run_instance(fast, inst), run_instance(loop, inst)
    a.extra.pop("path"), b.extra.pop("path")
    assert a.to_dict() == b.to_dict()


def _first_seen(ids):
    """Class ids renumbered by first occurrence: equal exactly when the partitions are."""
    _, first, inv = np.unique(ids, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inv.reshape(-1)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 16), C=st.integers(1, 16), K=st.integers(1, 16), HW=st.integers(4, 40),
       R=st.sampled_from([1, 3, 5]), stride=st.sampled_from([1, 2]), gate=st.sampled_from([0.0, 0.5, 0.9]),
       dw=st.sampled_from([1.0, 0.5, 0.0]), mask=st.sampled_from([None, "random", "stripes", "block"]),
       preset=st.sampled_from(["scnn", "scnn-maskskip", "scnn-4x256"]))
@example(seed=1, C=3, K=4, HW=12, R=3, stride=2, gate=0.0, dw=1.0, mask="random", preset="scnn")  # full, 4 phases
def test_scnn_tile_classes_and_masked_counts_equal_brute_force(seed, C, K, HW, R, stride, gate, dw, mask, preset):
    """The bulk tile classes (count rows, empty tiles, keys compared in Numba) are the partition of the
    per-tile keys (tilekeys.tile_key, compared as bytes), with gated input (empty tiles: a zeroed block and
    zeroed pixels), output masks, all-zero weights; and the masked-product counts (position table) equal
    counting every (activation, weight) pair."""
    from random_layers import random_inst

    from accelsim.models.scnn.maskcount import masked_products
    from accelsim.models.scnn.tilekeys import full_tiles, tile_classes, tile_key
    inst = random_inst(C, K, HW, HW + 3, R, pad=R // 2, stride=stride, da=1.0, dw=dw, seed=seed)
    rng = np.random.default_rng(seed)
    a = inst.acts_dense().copy()
    a[:, : int(gate * a.shape[1])] = 0.0
    a[:, rng.random(a.shape[1:]) < gate / 2] = 0.0
    inst = replace(inst, acts=a)
    if mask is not None:
        inst = replace(inst, out_mask=_structured_mask(inst, mask, seed))
    prep = make_model(preset).prepare(inst)
    ast, wst, L = prep.ast, prep.wst, inst.layer
    a_p, a_term, w_p = prep.streams[1], prep.streams[3], prep.streams[8]
    T = prep.plan.tiles.shape[0]
    m = prep.mask if prep.skip else None
    got = tile_classes(ast, T, a_p, a_term, w_p, wst, L.P, L.Q, m)
    real_w = ~wst.pad
    wrange = None if not real_w.any() else (int(w_p[real_w].min()), int(w_p[real_w].max()),
                                            int(wst.q[real_w].min()), int(wst.q[real_w].max()))
    keys = [tile_key(ast, t, a_p, a_term, wrange, L.P, L.Q, m) for t in range(T)]
    want = np.array([keys.index(k) for k in keys])
    assert np.array_equal(_first_seen(got), _first_seen(want))
    # full tiles compared on their first channel: the same classes
    full = full_tiles(ast, prep.plan.tiles, L.C)
    assert np.array_equal(_first_seen(tile_classes(ast, T, a_p, a_term, w_p, wst, L.P, L.Q, m, full)),
                          _first_seen(want))
    if prep.mask is None or T == 0:
        return
    G, CVg, CV = wst.cv0.shape[0], wst.CVg, ast.CV
    brute = np.zeros((T, G), dtype=np.int64)
    for t in range(T):
        for g in range(G):
            for cl in range(CVg):
                ab, wb = t * CV + int(wst.cv0[g]) + cl, g * CVg + cl
                ea = np.arange(ast.ptr[ab], ast.ptr[ab + 1])
                ew = np.arange(wst.ptr[wb], wst.ptr[wb + 1])
                ea, ew = ea[~ast.pad[ea]], ew[~wst.pad[ew]]
                p = ast.p[ea][:, None] - wst.p[ew][None, :]
                q = ast.q[ea][:, None] - wst.q[ew][None, :]
                inb = (p >= 0) & (p < L.P) & (q >= 0) & (q < L.Q)
                brute[t, g] += int((inb & ~prep.mask[np.clip(p, 0, L.P - 1), np.clip(q, 0, L.Q - 1)]).sum())
    assert np.array_equal(masked_products(ast, wst, T, L.P, L.Q, prep.mask), brute)
    assert np.array_equal(masked_products(ast, wst, T, L.P, L.Q, prep.mask, full[0], prep.plan.nph), brute)
