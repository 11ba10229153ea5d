"""SCNN's barrier rounds as sampling units (accelsim/models/scnn/sampling.py): the decomposition is exact
(exhaustive == result(sum of every round)), a round's kernel numbers do not depend on the other rounds run,
and sampled layers' intervals cover the exhaustive cycles."""

import numpy as np
import pytest
from random_layers import random_inst as _inst

from accelsim.engine import make_model, run_instance, with_sampling
from accelsim.sampling import SampleSpec, check_decomposition, sample_layer

# small accumulators -> small Kc -> many barrier rounds on a small layer
MANY = {"accumulator.entries": 4}
DECOMP = [
    ("scnn", {}, dict(C=8, K=16, H=20, W=20, R=3, pad=1)),                              # 3x3
    ("scnn", {}, dict(C=16, K=24, H=16, W=16, R=1)),                                     # 1x1
    ("scnn", MANY, dict(C=8, K=48, H=24, W=24, R=3, pad=1, mask_density=0.4)),          # masked, many rounds
    ("scnn-maskskip", MANY, dict(C=8, K=48, H=24, W=24, R=3, pad=1, mask_density=0.4)),
    ("scnn-maskskip", {}, dict(C=8, K=16, H=18, W=18, R=1, mask_density=0.3)),
    ("scnn", {"output_mask_skip": True}, dict(C=6, K=16, H=18, W=18, R=3, pad=1, mask_density=0.3)),
    ("scnn", {"iaram_bytes": 512}, dict(C=32, K=64, H=40, W=40, R=3, pad=1, da=0.6)),   # several passes
    ("scnn", {"iaram_bytes": 512, "dram.bandwidth_bytes_per_s": 2e8},                   # + memory stalls
     dict(C=32, K=64, H=40, W=40, R=3, pad=1, da=0.6)),
    ("scnn", {"accumulator.conflict_model": "queue"}, dict(C=6, K=8, H=15, W=15, R=3, pad=1, stride=2)),
    ("scnn", {"accumulator.conflict_model": "step_max"}, dict(C=4, K=4, H=10, W=10, R=3, pad=1, groups=2)),
    ("scnn-4x256", {}, dict(C=16, K=64, H=1, W=1, R=1, kind="fc")),
    ("scnn", {"weight_fifo.entries": 2, "iaram_bytes": 512, "dram.bandwidth_bytes_per_s": 2e8},  # FIFO reloads
     dict(C=32, K=64, H=40, W=40, R=3, pad=1, da=0.6)),
]


@pytest.mark.parametrize("arch,ov,case", DECOMP, ids=[f"{a}-{i}" for i, (a, _, _) in enumerate(DECOMP)])
def test_decomposition_exact(arch, ov, case):
    m = make_model(arch, ov)
    inst = _inst(**case)
    assert check_decomposition(m, inst) == []
    sp = m.sampling_units(inst)
    assert sp.unit == "barrier round" and sp.n_units == sp.prep.plan.round_tile.shape[0]
    if "iaram_bytes" in ov:
        assert sp.prep.plan.n_pass > 1
        if "dram.bandwidth_bytes_per_s" in ov:
            assert m.simulate_layer(inst).breakdown["memory_stall"] > 0


@pytest.mark.parametrize("ov", [{}, {"accumulator.conflict_model": "queue"}, {"accumulator.conflict_model": "step_max"},
                                {"weight_fifo.entries": 3}])
def test_rounds_are_independent(ov):
    """A round's kernel stats are the same whichever other rounds run with it (no state crosses a barrier)."""
    m = make_model("scnn-maskskip", {**MANY, **ov})
    inst = _inst(C=8, K=48, H=24, W=24, R=3, pad=1, mask_density=0.5, dw_spread=True)
    prep = m.prepare(inst)
    full = m.run_rounds(prep)
    rng = np.random.default_rng(1)
    for _ in range(3):
        sel = np.sort(rng.choice(len(full), size=7, replace=False))
        assert np.array_equal(m.run_rounds(prep, sel), full[sel])


@pytest.mark.parametrize("case", [dict(C=8, K=48, H=24, W=24, R=3, pad=1, da=0.3),
                                  dict(C=8, K=16, H=20, W=20, R=3, pad=1, groups=2, da=0.3),
                                  dict(C=12, K=12, H=20, W=20, R=3, pad=1, groups=12, da=0.3)])
@pytest.mark.parametrize("at_once", [True, False])
def test_round_closed_forms_equal_the_kernel(case, at_once, monkeypatch):
    """Per round, the strata's proxy (the busiest PE's steps), from the stream lengths alone, equals the
    kernel's count: dense, grouped and depthwise layers, the groups taken at once and one by one.  (The DRAM
    weight loads: tests/accelsim/test_scnn_weight_dram.py.)"""
    from accelsim.models.scnn import sampling as scs
    from accelsim.models.scnn.kernel import ST_STEPS
    if not at_once:
        monkeypatch.setattr(scs, "GROUPED_AT_ONCE", 0)
    m = make_model("scnn", {**MANY, "weight_fifo.entries": 3})
    inst = _inst(**case, dw_spread=True)
    prep = m.prepare(inst)
    full = m.run_rounds(prep)
    proxy, _ = scs.round_closed_forms(prep, m.cfg["multipliers.F"], m.cfg["multipliers.I"])
    assert np.array_equal(proxy, full[:, :, ST_STEPS].max(axis=1))


def test_pe_timeline_is_not_sampled():
    m = make_model("scnn")
    m.record_pe_timeline = True
    assert m.sampling_units(_inst(C=4, K=4, H=8, W=8, R=3, pad=1)) is None


LAYER = dict(C=8, K=2048, H=24, W=24, R=3, pad=1, da=0.5, dw_spread=True)


@pytest.fixture(scope="module")
def big():
    m = make_model("scnn", MANY)
    inst = _inst(**LAYER)
    return m, inst, m.simulate_layer(inst)


def test_sampled_interval_covers(big):
    m, inst, ref = big
    cover = 0
    for seed in range(8):
        spec = SampleSpec.parse("0.1", seed=seed)
        sp = m.sampling_units(inst)
        assert sp.n_units >= 300
        got = sample_layer(with_sampling(m, spec), inst, spec, sp, lambda: m.simulate_layer(inst))
        s = got.extra["sampling"]
        assert "exhaustive" not in s and s["sampled"] < 0.2 * sp.n_units
        lo, hi = s["cycles_ci"]
        cover += lo <= ref.cycles <= hi
        assert abs(got.cycles - ref.cycles) / ref.cycles < 0.05
        assert sum(got.breakdown.values()) == got.cycles
        assert got.macs_effectual == pytest.approx(ref.macs_effectual, rel=0.05)
    assert cover >= 6, cover


def test_auto_meets_target(big):
    m, inst, ref = big
    for seed in range(3):
        got = run_instance(with_sampling(m, "auto", seed=seed), inst, seed=seed)
        s = got.extra["sampling"]
        assert s["unit"] == "barrier round" and "exhaustive" not in s, s
        assert s["cycles_rel_half_width"] <= 0.0125 and s["sampled"] < 0.5 * s["units"]
        assert abs(got.cycles - ref.cycles) / ref.cycles < 0.02


# 2 passes of 86 rounds each reading the input from DRAM: at 2e8 B/s DRAM takes ~190x the compute, at 2.5e10
# ~1.5x (inside RoundSpace.release's margin)
DRAM_BOUND = dict(C=16, K=256, H=40, W=40, R=3, pad=1, da=0.6)


@pytest.mark.parametrize("bw,released", [(2e8, True), (2.5e10, False)])
def test_passes_sure_to_stall_are_sampled(bw, released, monkeypatch):
    """Passes whose DRAM time exceeds the first sample's bound on their compute are released from must_run:
    they are sampled, and the layer's cycles are still exact (each such pass lasts its DRAM time whatever its
    compute).  A pass near the bound keeps every round: the layer runs exhaustively."""
    m = make_model("scnn", {**MANY, "iaram_bytes": 512, "dram.bandwidth_bytes_per_s": bw})
    inst = _inst(**DRAM_BOUND)
    ref = m.simulate_layer(inst)
    spec = SampleSpec.parse("0.2", seed=0)
    sp = m.sampling_units(inst)
    assert sp.may_stall.all() and ref.breakdown["memory_stall"] > 0
    got = sample_layer(with_sampling(m, spec), inst, spec, sp, lambda: m.simulate_layer(inst))
    s = got.extra["sampling"]
    assert sp.stalls.all() == released
    if released:
        assert s["sampled"] < 0.5 * sp.n_units and got.cycles == ref.cycles
        assert got.breakdown["memory_stall"] == pytest.approx(ref.breakdown["memory_stall"], rel=0.01)
        # a margin no sample can meet releases nothing
        monkeypatch.setattr(type(sp), "RELEASE_MARGIN", 1e9)
        sp = m.sampling_units(inst)
        got = sample_layer(with_sampling(m, spec), inst, spec, sp, lambda: m.simulate_layer(inst))
        assert not sp.stalls.any()
        s = got.extra["sampling"]
    if not sp.stalls.any():
        assert s["sampled"] == sp.n_units and "released none" in s["exhaustive"] and got.cycles == ref.cycles
