"""accelsim.sampling: the stratified estimator and its intervals on a synthetic unit space (the per-model
spaces are checked by the contract test: exhaustive == result(sum of all units))."""

import numpy as np
import pytest

from accelsim.base import LayerResult, largest_remainder
from accelsim.errors import SettingsError
from accelsim.sampling import SampleSpec, UnitResults, UnitSpace, sample_layer, total_interval, totals_of


class _Energy:
    def energy_pJ(self, a):
        return {"mult": 1.0, "read": 0.5}[a]


class _Model:
    energy = _Energy()


class _Layer:
    name = "toy"


class _Inst:
    layer, image, name = _Layer(), 0, "toy"


class Space(UnitSpace):
    """Units with heavy-tailed cycles (a few dense, many light), like SCNN rounds on a gated head."""
    unit = "toy unit"

    def __init__(self, n, seed=0, fill=100):
        rng = np.random.default_rng(seed)
        self.work = (rng.pareto(2.5, n) * 50 + rng.integers(1, 20, n)).astype(np.int64)
        self.fill = fill
        super().__init__(_Inst(), n, proxy=self.work + rng.normal(0, 5, n))
        self.calls = 0

    def run(self, sel):
        self.calls += len(sel)
        w = self.work[sel]
        return UnitResults(cycles=w + 3, breakdown={"busy": w, "overhead": np.full(len(sel), 3)},
                           actions={"mult": 16.0 * w, "read": 2.0 * w + 1}, macs={"macs_actual": 16 * w},
                           aux={"w": w})

    def result(self, t):
        cyc = int(round(t.cycles[0])) + self.fill
        bd = largest_remainder({"busy": t.breakdown["busy"][0], "overhead": t.breakdown["overhead"][0] + self.fill},
                               cyc)
        acts = {k: float(v[0]) for k, v in t.actions.items()}
        ma = int(round(t.macs["macs_actual"][0]))
        return LayerResult("toy", 0, cyc, bd, acts, 10 ** 9, ma, ma, 10 ** 9 - ma, 0,
                           extra={"w": float(t.aux["w"][0])})


def exhaustive(space):
    return lambda: space.result(totals_of(space.run(np.arange(space.n_units))))


def test_parse():
    assert SampleSpec.parse("off").mode == "off" and not SampleSpec.parse(None).active
    assert SampleSpec.parse("AUTO").mode == "auto"
    s = SampleSpec.parse("0.25", seed=3)
    assert (s.mode, s.fraction, s.seed) == ("fraction", 0.25, 3)
    for bad in ("0", "1.5", "-0.1", "half", "nan"):
        with pytest.raises(SettingsError, match="sample"):
            SampleSpec.parse(bad)


def test_fraction_one_is_exact():
    sp = Space(500)
    ref = exhaustive(sp)()
    got = sample_layer(_Model(), sp.inst, SampleSpec.parse("1"), sp, exhaustive(sp))
    assert got.cycles == ref.cycles and got.actions == pytest.approx(ref.actions)
    assert got.extra["sampling"]["cycles_var"] == 0.0 and got.extra["sampling"]["sampled"] == 500


def test_small_layer_runs_exhaustively():
    sp = Space(20)
    got = sample_layer(_Model(), sp.inst, SampleSpec.parse("auto"), sp, exhaustive(sp))
    assert got.cycles == exhaustive(sp)().cycles and "exhaustive" in got.extra["sampling"]


def test_deterministic_and_seeded():
    a = [sample_layer(_Model(), Space(4000).inst, SampleSpec.parse("0.05", seed=s), sp, exhaustive(sp)).cycles
         for s, sp in ((1, Space(4000)), (1, Space(4000)), (2, Space(4000)))]
    assert a[0] == a[1] and a[0] != a[2]


def test_interval_covers_and_auto_meets_target():
    """95 % intervals cover the exhaustive value in most of 200 layers (binomial: >= 88 % holds with
    probability > 0.99 when the true coverage is 95 %); auto's relative half-width is <= 1 %."""
    cover, rel = 0, []
    for seed in range(200):
        sp = Space(3000, seed=seed)
        ref = exhaustive(sp)()
        got = sample_layer(_Model(), sp.inst, SampleSpec.parse("0.05", seed=seed), sp, exhaustive(sp))
        lo, hi = got.extra["sampling"]["cycles_ci"]
        cover += lo <= ref.cycles <= hi
        assert sum(got.breakdown.values()) == got.cycles
    assert cover >= 176, cover
    for seed in range(20):
        sp = Space(20000, seed=seed)
        ref = exhaustive(sp)()
        sp.calls = 0
        got = sample_layer(_Model(), sp.inst, SampleSpec.parse("auto", seed=seed), sp, exhaustive(sp))
        s = got.extra["sampling"]
        rel.append(abs(got.cycles - ref.cycles) / ref.cycles)
        assert "exhaustive" not in s and s["cycles_rel_half_width"] <= 0.0125
        assert sp.calls == s["sampled"] < 0.5 * sp.n_units
    assert max(rel) < 0.02 and np.mean(rel) < 0.01


def test_total_interval():
    sp = Space(3000)
    r1 = sample_layer(_Model(), sp.inst, SampleSpec.parse("0.1"), sp, exhaustive(sp))
    r2 = exhaustive(sp)()
    t = total_interval([r1, r2])
    assert t["sampled_layers"] == 1 and t["half_width"] == pytest.approx(1.96 * r1.extra["sampling"]["cycles_var"] ** 0.5,
                                                                        rel=1e-3)
    assert total_interval([r2]) is None


def test_sampled_report_hash_same_for_any_jobs():
    """Draws are seeded per (layer, image), not per process: --jobs 1 and 2 give the same report hash, and
    the sampled totals carry an interval."""
    from accelsim.engine import simulate
    from workloads import Layer, Workload
    wl = Workload("sampled")
    for i in range(2):
        wl.add_layer(Layer(f"c{i}", "conv", C=8, K=16, H=24, W=24, R=3, S=3, padding=1, weight_density=0.5,
                           act_density=0.5))
    reps = [simulate(wl, "eie", jobs=j, sample="0.2", seed=3, progress=False) for j in (1, 2)]
    assert reps[0].hash == reps[1].hash
    t = reps[0].total()["sampling"]
    assert t["sampled_layers"] == 2 and t["cycles_half_width"] > 0
    off = simulate(wl, "eie", jobs=1, seed=3, progress=False)
    assert "sampling" not in off.total() and off.hash != reps[0].hash
    assert abs(reps[0].total()["cycles"] - off.total()["cycles"]) <= 3 * t["cycles_half_width"]


def test_sweep_rows_carry_the_sampled_half_width(tmp_path):
    """A sampled sweep point's row has the 95 % half-widths of its totals and how many layers were sampled;
    an exhaustive point has zeros there."""
    import yaml

    from accelsim.sweep import SweepSettings, run_sweep
    from workloads import Layer, Workload
    rng = np.random.default_rng(0)
    wl = Workload("t")
    wl.add_layer(Layer("c", "conv", C=16, K=16, H=12, W=12, R=3, S=3, padding=1,
                       weights=rng.standard_normal((16, 16, 3, 3)) * (rng.random((16, 16, 3, 3)) < 0.4)))
    wl.set_image_data(0, "c", acts=np.maximum(0, rng.standard_normal((16, 12, 12))))
    wl.save(tmp_path / "wl.npz")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"name": "s", "arch": "eie", "workloads": {"w": "wl.npz"},
                                                     "parameters": {"fifo_depth": [2, 8]}}))
    rows = {}
    for sample in ("off", "0.5"):
        res = run_sweep(tmp_path / "s.yaml", SweepSettings(out=tmp_path / sample, jobs=1, plots=False,
                                                           sample=sample))
        rows[sample] = [r for r in res.rows if r["status"] == "ok"]
        assert len(rows[sample]) == 2
    assert all(r["sampled_layers"] == 0 and r["total_cycles_half_width"] == 0.0 for r in rows["off"])
    for a, b in zip(rows["0.5"], rows["off"]):
        assert a["sampled_layers"] == 1 and a["total_cycles_half_width"] > 0 and a["total_energy_j_half_width"] > 0
        assert abs(a["total_cycles"] - b["total_cycles"]) <= 3 * a["total_cycles_half_width"]


def test_estimator_choice_checked_and_both_cover_on_a_proxy_space():
    """``estimator`` is 'ratio' (default) or 'mean'; both hold the exhaustive value inside the interval on a
    space whose cycles follow its proxy (``Space``: proxy = work + noise), and the ratio estimator's interval
    is the narrower there."""
    with pytest.raises(SettingsError, match="estimator"):
        SampleSpec(mode="auto", estimator="median")
    widths = {}
    for est in ("ratio", "mean"):
        covered, hw = 0, []
        for seed in range(40):
            sp = Space(600, seed=seed)
            ref = exhaustive(sp)()
            r = sample_layer(_Model(), sp.inst, SampleSpec(mode="fraction", fraction=0.1, seed=seed, estimator=est),
                             sp, exhaustive(sp))
            lo, hi = r.extra["sampling"]["cycles_ci"]
            covered += lo <= ref.cycles <= hi
            hw.append((hi - lo) / ref.cycles)
            assert r.extra["sampling"]["estimator"] == ("ratio" if est == "ratio" else "stratified mean")
        assert covered >= 34, (est, covered)
        widths[est] = float(np.mean(hw))
    assert widths["ratio"] < widths["mean"], widths


def test_must_run_units_are_always_simulated():
    """A space's ``must_run`` units form a stratum taken in full (SCNN: the rounds of passes that may stall
    on DRAM, whose stall is a max() over their compute); all of them must run -> exhaustive."""
    class Rec(Space):
        def run(self, sel):
            self.seen = np.concatenate([getattr(self, "seen", np.zeros(0, dtype=np.int64)), sel])
            return super().run(sel)
    for mode in ("0.05", "0.2"):
        sp = Rec(800, seed=2)
        sp.must_run = np.zeros(800, dtype=bool)
        sp.must_run[100:160] = True
        r = sample_layer(_Model(), sp.inst, SampleSpec.parse(mode), sp, exhaustive(sp))
        assert set(range(100, 160)) <= set(sp.seen.tolist()) and r.extra["sampling"]["sampled"] < 800
    sp = Space(100)
    sp.must_run = np.ones(100, dtype=bool)
    r = sample_layer(_Model(), sp.inst, SampleSpec.parse("0.1"), sp, exhaustive(sp))
    assert r.cycles == exhaustive(Space(100))().cycles and "must run" in r.extra["sampling"]["exhaustive"]


def test_released_must_run_units_are_sampled():
    """A space that overrides ``release`` sees a first sample before the must-run units are fixed: the units
    it releases are sampled like any other, the rest still run in full, and every stratum keeps sampled
    units; releasing none runs the layer exhaustively, as a plain must-run space does."""
    class Rel(Space):
        def __init__(self, n, keep):
            super().__init__(n, seed=3)
            self.keep, self.first = keep, None
            self.seen = np.zeros(0, dtype=np.int64)

        def run(self, sel):
            self.seen = np.concatenate([self.seen, sel])
            return super().run(sel)

        def release(self, sel, first):
            self.first = np.array(sel)
            assert len(first.cycles) == len(sel)
            return self.keep
    keep = np.zeros(800, dtype=bool)
    keep[130:160] = True
    for mode in ("0.1", "0.3"):
        sp = Rel(800, keep)
        sp.must_run = np.zeros(800, dtype=bool)
        sp.must_run[100:160] = True
        r = sample_layer(_Model(), sp.inst, SampleSpec.parse(mode), sp, exhaustive(sp))
        seen = set(sp.seen.tolist())
        assert sp.first is not None and not set(range(100, 160)) <= set(sp.first.tolist())
        assert set(range(130, 160)) <= seen and not set(range(100, 130)) <= seen
        assert "exhaustive" not in r.extra["sampling"] and r.extra["sampling"]["sampled"] < 800
        ref = exhaustive(Rel(800, keep))()
        lo, hi = r.extra["sampling"]["cycles_ci"]
        assert abs(r.cycles - ref.cycles) / ref.cycles < 0.05 and hi > lo
    sp = Rel(800, np.ones(800, dtype=bool))
    sp.must_run = np.ones(800, dtype=bool)
    r = sample_layer(_Model(), sp.inst, SampleSpec.parse("0.1"), sp, exhaustive(sp))
    assert r.cycles == exhaustive(Rel(800, None))().cycles and "released none" in r.extra["sampling"]["exhaustive"]


def test_a_sample_without_spread_runs_the_layer_exhaustively():
    """A sample whose units all sit exactly on the fit (equal cycles, equal proxy: a depthwise layer's rounds)
    has zero variance; a zero-width interval would claim the units not run are known.  Such a layer runs
    exhaustively instead, so its result is exact; a sample that drew an odd unit keeps its interval."""
    fell_back = kept = 0
    for seed in range(12):
        sp = Space(400)
        sp.work = np.full(400, 20, dtype=np.int64)
        sp.work[[7, 133, 250, 311, 377]] = 30
        sp.proxy = np.full(400, 10.0)
        ref = exhaustive(sp)()
        for mode in ("0.05", "auto"):
            r = sample_layer(_Model(), sp.inst, SampleSpec.parse(mode, seed=seed), sp, exhaustive(sp))
            smp = r.extra["sampling"]
            if "exhaustive" in smp:  # no spread, or auto judged the sample too costly
                assert r.cycles == ref.cycles
                fell_back += "no spread" in smp["exhaustive"]
            else:
                assert smp["cycles_var"] > 0
                kept += 1
    assert fell_back and kept
