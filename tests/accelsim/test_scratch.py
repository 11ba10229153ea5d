"""Reused memory for large per-layer arrays (accelsim/models/common/scratch.py): a buffer is handed out again only
when no array of it is alive, so a kept result never changes under a later layer's preparation."""

import numpy as np
from random_layers import random_inst

from accelsim.engine import make_model
from accelsim.models.common import scratch
from workloads import LayerInstance, SparseTensor


def _sparse(**kw):
    """``random_inst`` with its input stored sparse (as traced heads are), so SCNN pools its dense copy too."""
    i = random_inst(**kw)
    return LayerInstance(i.layer, 0, acts=SparseTensor.from_dense(i.acts), weights=i.weights, out_mask=i.out_mask)


def test_a_live_array_is_never_handed_out_again():
    n = scratch.MIN_BYTES // 8 + 1000
    a = scratch.empty(n, np.int64)
    a[:] = 7
    b = scratch.empty(n, np.int64)
    assert not np.shares_memory(a, b)
    view = a[5:10]
    del a
    c = scratch.empty(n, np.float64)
    assert not np.shares_memory(view, c) and not np.shares_memory(b, c)
    assert (view == 7).all()
    del view, c
    d = scratch.empty(n, np.int64)  # now free again: reused, not grown
    held = scratch.held_bytes()
    del d
    scratch.empty(n, np.int64)
    assert scratch.held_bytes() == held
    assert scratch.empty(10, np.int64).base is None  # small arrays: plain np.empty


def test_kept_preparation_survives_the_next_layers(monkeypatch):
    """Two SCNN layers prepared one after the other with every array pooled: the first one's streams are
    unchanged by the second's (they would be overwritten if a live buffer were reused)."""
    monkeypatch.setattr(scratch, "MIN_BYTES", 0)
    m = make_model("scnn")
    first = m.prepare(_sparse(C=8, K=16, H=20, W=20, R=3, pad=1, da=0.5, seed=1))
    ref = [np.array(x, copy=True) for x in (first.ast.p, first.ast.q, first.ast.term, first.ast.val,
                                            first.ast.pad, first.streams[1], first.streams[5])]
    for seed in range(2, 5):
        m.prepare(_sparse(C=8, K=16, H=20, W=20, R=3, pad=1, da=0.3, seed=seed))
    got = (first.ast.p, first.ast.q, first.ast.term, first.ast.val, first.ast.pad, first.streams[1],
           first.streams[5])
    assert all(np.array_equal(r, g) for r, g in zip(ref, got))


def test_dense_acts_equals_the_stored_tensor():
    """``dense_acts`` gives ``acts_dense()`` exactly: sparse, zero-free and pattern-only inputs, and -0.0."""
    rng = np.random.default_rng(3)
    for da in (0.0, 0.3, 1.0):
        a = rng.standard_normal((4, 300, 301)).astype(np.float32) * (rng.random((4, 300, 301)) < da)
        a[0, 0, :3] = (-0.0, 0.0, np.float32(1.5)) if da < 1.0 else (1.0, 2.0, 3.0)
        for acts in (SparseTensor.from_dense(a), SparseTensor(a != 0), a, SparseTensor.from_dense(0 * a)):
            inst = LayerInstance(random_inst(C=4, K=2, H=300, W=301, R=1).layer, 0, acts=acts,
                                 weights=np.ones((2, 4, 1, 1)))
            got, ref = scratch.dense_acts(inst), inst.acts_dense()
            assert got.dtype == ref.dtype == np.float64 and np.array_equal(got, ref)
            assert np.array_equal(np.signbit(got), np.signbit(ref))
