"""The parallel kernels (Numba ``prange`` over independent units: EIE's jobs / pixels, SCNN's (round, PE) units,
Eyeriss v2's passes) give the same numbers and report hash for any thread count, and a fork pool started after
a parallel kernel ran in the parent still works (the fork-safe threading layer, accelsim/engine.py)."""

import numba
import numpy as np
import pytest
from random_layers import random_inst as _inst

from accelsim.engine import make_model, run_instance, simulate, with_sampling
from workloads import Layer, Workload

pytestmark = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba has fewer than 2 threads here")


@pytest.fixture
def threads():
    """``threads(n)`` sets Numba's thread count; the original is restored after the test."""
    old = numba.get_num_threads()
    yield numba.set_num_threads
    numba.set_num_threads(old)


def _numbers(r):
    return (r.cycles, dict(r.breakdown), dict(r.actions), r.macs_dense, r.macs_effectual, r.macs_actual,
            r.macs_skipped, r.macs_gated, repr(sorted(r.extra.items(), key=str)))


CASES = [
    ("eie", {}, dict(C=16, K=32, H=12, W=12, R=3, pad=1), None),
    ("eie", {"timing_loop": "cycle"}, dict(C=8, K=24, H=8, W=8, R=3, pad=1, mask_density=0.5), None),
    ("eie", {}, dict(C=16, K=32, H=24, W=24, R=3, pad=1), 0.3),
    ("scnn", {"accumulator.entries": 4}, dict(C=8, K=48, H=24, W=24, R=3, pad=1, mask_density=0.4), None),
    ("scnn", {"accumulator.conflict_model": "queue"}, dict(C=6, K=8, H=15, W=15, R=3, pad=1, stride=2), None),
    ("scnn-maskskip", {"iaram_bytes": 512}, dict(C=32, K=64, H=40, W=40, R=3, pad=1, da=0.6), None),
    ("scnn", {"accumulator.entries": 4}, dict(C=8, K=48, H=24, W=24, R=3, pad=1), 0.3),
    ("eyeriss-v2", {}, dict(C=16, K=32, H=14, W=14, R=3, pad=1), None),
    ("eyeriss-v2", {}, dict(C=32, K=32, H=14, W=14, R=3, pad=1, groups=32), None),
    ("eyeriss-v2", {}, dict(C=32, K=64, H=28, W=28, R=3, pad=1), 0.3),
]


@pytest.mark.parametrize("arch,ov,case,sample", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_layer_same_for_1_and_2_threads(threads, arch, ov, case, sample):
    m = make_model(arch, ov)
    if sample:
        m = with_sampling(m, sample, seed=3)
    inst = _inst(**case)
    got = []
    for n in (1, 2):
        threads(n)
        got.append(_numbers(run_instance(m, inst)))
    assert got[0] == got[1]


def _wl():
    rng = np.random.default_rng(1)
    w = Workload("t")
    w.add_layer(Layer("a", "conv", C=8, K=16, H=12, W=12, R=3, S=3, padding=1,
                      weights=rng.standard_normal((16, 8, 3, 3)) * (rng.random((16, 8, 3, 3)) > 0.5)))
    w.add_layer(Layer("b", "conv", C=16, K=16, H=12, W=12, R=3, S=3, padding=1, weight_density=0.4,
                      act_density=0.5), deps=["a"])
    w.add_layer(Layer("c", "fc", C=40, K=10, weight_density=0.5, act_density=0.3), deps=["b"])
    for i in range(2):
        w.set_image_data(i, "a", acts=np.maximum(0, rng.standard_normal((8, 12, 12))))
    return w


@pytest.mark.parametrize("arch,sample", [("eie", None), ("scnn", None), ("eyeriss-v2", None),
                                         ("scnn", "auto")])  # auto: SCNN's barrier rule (random walks)
def test_report_hash_same_for_1_and_2_threads_and_a_fork_pool(threads, arch, sample):
    wl = _wl()
    hashes = []
    for n in (1, 2):
        threads(n)
        hashes.append(simulate(wl, arch, jobs=1, sample=sample).hash)
    # the parent has run parallel kernels: forked workers (one Numba thread each) must still run them
    hashes.append(simulate(wl, arch, jobs=2, sample=sample).hash)
    assert len(set(hashes)) == 1
