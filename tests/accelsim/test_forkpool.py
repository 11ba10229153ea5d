"""One worker pool for many simulate calls (accelsim.forkpool.ForkPool, what compare and the paper's setting use)
gives the reports of a pool per call and of one process: the same report hashes, reuse included."""

import numpy as np
import pytest

from accelsim.engine import make_model, simulate, simulate_pairs, with_sampling
from accelsim.forkpool import ForkPool
from workloads import Layer, Workload


def _workload(name: str, seed: int, masked: bool) -> Workload:
    """Seeded real data: two convolutions of different sizes and an FC layer, two images."""
    rng = np.random.default_rng(seed)
    wl = Workload(name)
    for n, C, K, H in (("c1", 8, 16, 12), ("c2", 16, 8, 8)):
        w = rng.standard_normal((K, C, 3, 3)) * (rng.random((K, C, 3, 3)) < 0.6)
        wl.add_layer(Layer(n, "conv", C=C, K=K, H=H, W=H, R=3, S=3, padding=1, weights=w))
    wl.add_layer(Layer("fc", "fc", C=64, K=10, weights=rng.standard_normal((10, 64))))
    for i in range(2):
        for n, C, H in (("c1", 8, 12), ("c2", 16, 8)):
            wl.set_image_data(i, n, acts=np.maximum(0, rng.standard_normal((C, H, H)) - 0.3),
                              out_mask=(rng.random((H, H)) < 0.5) if masked else None)
        wl.set_image_data(i, "fc", acts=np.maximum(0, rng.standard_normal(64)))
    return wl


def _run(wls, targets, **kw):
    """Report hashes of every (workload, target) pair, targets in order per workload sharing one reuse dict."""
    out = {}
    for wl in wls:
        reuse = {}
        for t in targets:
            rep = simulate(wl, make_model(t), seed=3, on_unsupported="skip", progress=False, reuse=reuse,
                           sample="auto", **kw)
            out[(wl.name, t)] = (rep.hash, [r.cycles for r in rep.results])
    return out


def test_one_pool_gives_the_reports_of_a_pool_per_call_and_of_one_process():
    wls = [_workload("masked", 0, True), _workload("plain", 1, False)]
    targets = ["scnn", "scnn-maskskip", "eie", "dcnn"]
    one = _run(wls, targets, jobs=1)
    per_call = _run(wls, targets, jobs=2)
    for chunks in (ForkPool.chunks_per_job, 1):  # one task per chunk here, and 3 (tasks out of layer order)
        with ForkPool(2, wls) as pool:
            pool.chunks_per_job = chunks
            pooled = _run(wls, targets, executor=pool)
        assert pooled == per_call == one
    assert len({h for h, _ in one.values()}) == len(one)  # the pairs differ: the comparison can fail
    # every pair in one queue (compare's way): the same reports, scnn-maskskip taking scnn's unmasked layers
    pairs = [(with_sampling(make_model(t), "auto", 3), wl) for wl in wls for t in targets]
    with ForkPool(2, wls) as pool:
        pool.chunks_per_job = 1
        reps = simulate_pairs(pairs, pool, seed=3)
    assert {(wl.name, m.cfg.name): (r.hash, [x.cycles for x in r.results])
            for (m, wl), r in zip(pairs, reps)} == one


def test_a_workload_the_pool_was_not_given_is_refused():
    a, b = _workload("a", 0, True), _workload("b", 1, True)
    with ForkPool(2, [a]) as pool:
        with pytest.raises(ValueError, match="'b' was not given to the pool"):
            simulate(b, make_model("dcnn"), executor=pool)
    with pytest.raises(RuntimeError, match="context manager"):
        ForkPool(2, [a]).run_batches([(make_model("dcnn"), a, [("c1", 0)], False, 0, False)])
