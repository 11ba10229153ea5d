"""accelsim sweep: spec validation, point enumeration, cache/resume, executors agree, CLI.

A tiny model defined here (registered as ``sweep-toy``) keeps the tests fast; Dask workers import this
module by name to unpickle it (multiprocessing passes sys.path to the spawned workers).
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from accelsim.config import Field
from accelsim.engine import AcceleratorModel, LayerResult
from accelsim.errors import ConfigError
from accelsim.models import register_model
from accelsim.sweep import PointCache, SweepSettings, load_spec, run_sweep
from workloads import Layer, Workload, effectual_macs

REPO = Path(__file__).resolve().parents[2]


@register_model("sweep-toy")
class SweepToy(AcceleratorModel):
    """ceil(work / multipliers) cycles per layer; ``SWEEP_TOY_INTERRUPT_AT`` simulates a kill."""
    FIELDS = {"multipliers": Field(int, "MACs/cycle", default=4), "mode.skip": Field(bool, "", default=True),
              "buffer_bytes": Field(int, "bytes", default=1024), "scale": Field(float, "", default=1.0)}

    def peak_macs_per_cycle(self):
        return self.cfg["multipliers"]

    def simulate_layer(self, inst, functional=False):
        if os.environ.get("SWEEP_TOY_INTERRUPT_AT") == str(self.cfg["multipliers"]):
            raise KeyboardInterrupt  # what Ctrl-C / SIGINT does to a serial sweep
        eff = effectual_macs(inst)
        work = eff if self.cfg["mode.skip"] else inst.layer.macs_dense
        cyc = -(-int(work * self.cfg["scale"]) // self.cfg["multipliers"])
        return LayerResult(inst.name, inst.image, cyc, {"busy": cyc}, {"mac_16b": work}, inst.layer.macs_dense,
                           eff, work, inst.layer.macs_dense - work)


@pytest.fixture
def setup(tmp_path):
    rng = np.random.default_rng(0)
    wl = Workload("t")
    wl.add_layer(Layer("a", "conv", C=3, K=4, H=6, W=7, R=3, S=3, padding=1,
                       weights=rng.standard_normal((4, 3, 3, 3)) * (rng.random((4, 3, 3, 3)) > 0.5)))
    wl.add_layer(Layer("b", "fc", C=10, K=5, weight_density=0.5, act_density=0.3), deps=["a"])
    for i in range(3):
        wl.set_image_data(i, "a", acts=np.maximum(0, rng.standard_normal((3, 6, 7))),
                          out_mask=rng.random((6, 7)) > 0.3)
    wl.save(tmp_path / "wl.npz")
    (tmp_path / "toy.yaml").write_text("model: sweep-toy\nclock_hz: {value: 1.0e9, unit: Hz, source: test}\n"
                                       "energy_table: horowitz_45nm\ntech_node_nm: 45\nmultipliers: 8\n")
    return tmp_path


BASE = {"name": "t", "arch": "toy.yaml", "workloads": {"w1": "wl.npz", "w2": {"source": "wl.npz", "images": [0, 1]}},
        "parameters": {"multipliers": [2, 4, 8, 16], "mode.skip": [True, False]}}


def write_spec(d, tmp, **upd):
    spec = {**BASE, **upd}
    p = tmp / "spec.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


# ------------------------------------------------------------------ spec validation
@pytest.mark.parametrize("upd,field,reason", [
    ({"parameters": {"multiplier": [1, 2]}}, "parameters.multiplier", "unknown parameter path"),
    ({"parameters": {"pe.rows": [1, 2]}}, "parameters.pe.rows", "unknown parameter path"),
    ({"parameters": {"multipliers": []}}, "parameters.multipliers", "empty list"),
    ({"parameters": {"multipliers": {"min": 8, "max": 2, "steps": 3}}}, "parameters.multipliers", "empty range"),
    ({"parameters": {"multipliers": {"min": 2, "max": 8}}}, "parameters.multipliers", "needs 'steps'"),
    ({"parameters": {"multipliers": [2, "four"]}}, r"parameters.multipliers\[1\]", "must be a number"),
    ({"parameters": {"multipliers": [2, 0]}}, r"parameters.multipliers\[1\]", "must be > 0"),
    ({"parameters": {"mode.skip": {"min": 0, "max": 1, "steps": 2}}}, "parameters.mode.skip", "numeric field"),
    ({"parameters": {"multipliers,scale": [[2, 1.0], [4]]}}, r"parameters.multipliers,scale\[1\]", "tied keys"),
    ({"parameters": {"workload": ["w1", "w9"]}}, r"parameters.workload\[1\]", "unknown workload"),
    ({"sampling": {"method": "sobol"}}, "sampling.method", "must be one of"),
    ({"sampling": {"method": "lhs"}}, "sampling.samples", "needs 'samples'"),
    ({"constraints": ["area <= 10"]}, r"constraints\[0\]", "unknown column"),
    ({"constraints": ["area_mm2 is small"]}, r"constraints\[0\]", "cannot parse"),
    ({"objectives": [{"maximise_it": "utilization"}]}, r"objectives\[0\]", "expected 'minimize'"),
    ({"workloads": {"w1": "missing.npz"}}, "workloads.w1.source", "not found"),
    ({"arch": "nope-preset"}, "arch", "cannot load arch"),
    ({"bogus": 1}, "bogus", "unknown top-level key"),
    ({"overrides": {"multipliers": -1}}, "overrides.multipliers", "must be > 0"),
    ({"workloads": {"w1": {"source": {"dynhead": {"size": "64x64"}}}}}, "workloads.w1.source.dynhead.checkpoint",
     "needs 'checkpoint'"),
    ({"workloads": {"w1": {"source": {"dynhead": {"checkpoint": "small", "prune": 1.5}}}}},
     "workloads.w1.source.dynhead.prune", r"in \(0, 1\]"),
    ({"workloads": {"w1": {"source": {"dynhead": {"checkpoint": "small", "lambda": 0.1}}}}},
     "workloads.w1.source.dynhead.lambda", "unknown trace option"),
    ({"workloads": {"w1": {"source": {"zoo": "x"}}}}, "workloads.w1.source", "generated source"),
])
def test_spec_errors_name_file_and_field(setup, upd, field, reason):
    p = write_spec(BASE, setup, **upd)
    with pytest.raises(ConfigError, match=f"spec.yaml: field '{field}': .*{reason}"):
        load_spec(p)


def test_point_enumeration(setup):
    s = load_spec(write_spec(BASE, setup))
    pts = s.points()
    assert len(pts) == 4 * 2 * 2  # two workloads without a 'workload' parameter: co-swept
    assert len({tuple(sorted(p.items())) for p in pts}) == len(pts)
    tied = load_spec(write_spec(BASE, setup, parameters={"multipliers,scale": [[2, 1.0], [4, 2.0]],
                                                          "workload": ["w2"]}))
    assert tied.points() == [{"multipliers": 2, "scale": 1.0, "workload": "w2"},
                             {"multipliers": 4, "scale": 2.0, "workload": "w2"}]
    rng = {"parameters": {"scale": {"min": 0.5, "max": 2.0}, "multipliers": {"min": 1, "max": 64, "log": True}},
           "workloads": {"w1": "wl.npz"}}
    lhs = load_spec(write_spec(BASE, setup, sampling={"method": "lhs", "samples": 10, "seed": 3}, **rng))
    a = lhs.points()
    assert a == lhs.points() and len(a) == 10  # seeded: reproducible
    strata = sorted(int((p["scale"] - 0.5) / 1.5 * 10) for p in a)
    assert strata == list(range(10))  # Latin hypercube: one sample per stratum
    assert all(1 <= p["multipliers"] <= 64 and isinstance(p["multipliers"], int) for p in a)
    rnd = load_spec(write_spec(BASE, setup, sampling={"method": "random", "samples": 10, "seed": 3}, **rng))
    assert rnd.points() != a and rnd.points() == rnd.points()
    lst = load_spec(write_spec(BASE, setup, sampling="list", parameters=None,
                               points=[{"multipliers": 3}, {"multipliers": 5, "workload": "w2"}]))
    assert lst.points() == [{"multipliers": 3, "workload": "w1"}, {"multipliers": 3, "workload": "w2"},
                            {"multipliers": 5, "workload": "w2"}]
    grid = load_spec(write_spec(BASE, setup, parameters={"scale": {"min": 1, "max": 4, "steps": 3, "log": True}},
                                workloads={"w1": "wl.npz"}))
    assert [p["scale"] for p in grid.points()] == pytest.approx([1.0, 2.0, 4.0])


# ------------------------------------------------------------------ execution
def _csv(out):
    return (Path(out) / "points.csv").read_text()


def test_serial_pool_rerun_identical_and_cached(setup):
    spec = write_spec(BASE, setup, constraints=["utilization >= 0.5"])
    a = run_sweep(spec, SweepSettings(out=setup / "a", jobs=1))
    s = a.summary
    assert s["simulated"] == 16 and s["cached"] == 0 and s["missing"] == 0
    run_sweep(spec, SweepSettings(out=setup / "b", jobs=2))
    assert _csv(setup / "a") == _csv(setup / "b")
    c = run_sweep(spec, out=setup / "a", jobs=1)  # keyword shorthand; same cache: nothing simulated, same numbers
    assert c.summary["simulated"] == 0 and c.summary["cached"] == 16
    assert _csv(setup / "a") == _csv(setup / "b")
    rows = a.rows
    # the sweep's numbers are the engine's: cycles per image on one point, recomputed by hand
    r = next(r for r in rows if r["multipliers"] == 4 and r["mode.skip"] is False and r["workload"] == "w1")
    assert r["cycles"] == pytest.approx(sum(-(-L.macs_dense // 4) for L in
                                            __import__("workloads").Workload.load(setup / "wl.npz").layers.values()))
    # skip=False does the dense work: 100 % utilization; constraints mark rows, not drop them
    assert all(r["status"] == "ok" for r in rows if r["utilization"] >= 0.5)
    assert any(r["status"].startswith("infeasible") for r in rows) or all(r["utilization"] >= 0.5 for r in rows)
    files = a.files
    assert a.out == setup / "a" and a.pareto == a.summary["pareto"] and a.best == a.summary["best"]
    assert a.points == load_spec(spec).points() and [r["point"] for r in rows] == list(range(len(a.points)))
    for k in ("csv", "pareto", "best", "pareto_latency_s_vs_energy_j", "pareto_latency_s_vs_area_mm2_png",
              "area_breakdown", "summary"):
        assert Path(files[k]).exists()
    import csv
    arows = list(csv.DictReader(open(files["area_breakdown"])))
    for r in rows:  # the per-component rows add up to the row's area, each with a source
        comp = [a for a in arows if int(a["point"]) == r["point"]]
        assert comp and all(a["source"] for a in comp)
        assert sum(float(a["area_mm2"]) for a in comp) == pytest.approx(r["area_mm2"])
    best = json.loads(Path(files["best"]).read_text())
    ok = [r for r in rows if r["status"] == "ok"]
    assert best["latency_s"]["value"] == min(r["latency_s"] for r in ok)


def test_pre_simulation_constraint_skips(setup):
    spec = write_spec(BASE, setup, constraints=["multipliers <= 4"])
    res = run_sweep(spec, SweepSettings(out=setup / "o", jobs=1, plots=False))
    assert res.summary["simulated"] == 8 and res.summary["infeasible"] == 8
    assert all("latency_s" not in r for r in res.rows if r["multipliers"] > 4)


def test_limit_then_resume_only_missing(setup):
    spec = write_spec(BASE, setup)
    a = run_sweep(spec, SweepSettings(out=setup / "o", jobs=1, limit=5, plots=False))
    assert a.summary["simulated"] == 5 and a.summary["missing"] == 11
    assert len(PointCache(setup / "o" / "cache")) == 5
    b = run_sweep(spec, SweepSettings(out=setup / "o", jobs=2, plots=False))
    assert b.summary["simulated"] == 11 and b.summary["cached"] == 5 and b.summary["missing"] == 0
    run_sweep(spec, SweepSettings(out=setup / "ref", jobs=1, plots=False))
    assert _csv(setup / "o") == _csv(setup / "ref")


def test_interrupt_then_resume(setup, monkeypatch):
    spec = write_spec(BASE, setup, parameters={"multipliers": [2, 4, 8, 16]}, workloads={"w1": "wl.npz"})
    monkeypatch.setenv("SWEEP_TOY_INTERRUPT_AT", "8")
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, SweepSettings(out=setup / "o", jobs=1, plots=False))
    assert len(PointCache(setup / "o" / "cache")) == 2  # points before the kill are kept
    # a stray temp file from a write cut short must not count as a result
    (setup / "o" / "cache" / "zz").mkdir()
    (setup / "o" / "cache" / "zz" / ".tmp-partial").write_text("{")
    monkeypatch.delenv("SWEEP_TOY_INTERRUPT_AT")
    b = run_sweep(spec, SweepSettings(out=setup / "o", jobs=1, plots=False))
    assert b.summary["simulated"] == 2 and b.summary["cached"] == 2


def test_same_config_twice_simulated_once(setup):
    # multipliers 8 is the base value: the override-free point and the explicit one are the same config
    spec = write_spec(BASE, setup, sampling="list", parameters=None, workloads={"w1": "wl.npz"},
                      points=[{"multipliers": 8}, {"multipliers": 8, "mode.skip": True}, {"multipliers": 2}])
    res = run_sweep(spec, SweepSettings(out=setup / "o", jobs=2, plots=False))
    assert res.summary["simulated"] == 2 and res.summary["missing"] == 0
    assert res.rows[0]["cycles"] == res.rows[1]["cycles"] and res.rows[1]["status"] == "ok"


def test_corrupt_cache_entry_is_recomputed(setup):
    spec = write_spec(BASE, setup, parameters={"multipliers": [2, 4]}, workloads={"w1": "wl.npz"})
    run_sweep(spec, SweepSettings(out=setup / "o", jobs=1, plots=False))
    f = sorted((setup / "o" / "cache").glob("*/*.json"))[0]
    f.write_text("{not json")
    b = run_sweep(spec, SweepSettings(out=setup / "o", jobs=1, plots=False))
    assert b.summary["simulated"] == 1 and b.summary["cached"] == 1


def test_dask_local_matches_local(setup):
    pytest.importorskip("distributed")
    spec = write_spec(BASE, setup, parameters={"multipliers": [2, 4, 8], "mode.skip": [True, False]})
    run_sweep(spec, SweepSettings(out=setup / "a", jobs=1, plots=False))
    d = run_sweep(spec, SweepSettings(out=setup / "d", dask_local=2, plots=False))
    assert d.summary["executor"] == "dask" and d.summary["workers"] == 2 and d.summary["simulated"] == 12
    assert _csv(setup / "a") == _csv(setup / "d")
    # an existing scheduler by address (--scheduler tcp://HOST:PORT); in-process worker keeps it quick
    from distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl:
        assert cl.scheduler_address.startswith(("tcp://", "inproc://"))
        e = run_sweep(spec, SweepSettings(out=setup / "e", scheduler=cl.scheduler_address, plots=False))
    assert e.summary["executor"] == "dask" and e.summary["simulated"] == 12
    assert _csv(setup / "a") == _csv(setup / "e")


# ------------------------------------------------------------------ CLI
def test_cli(setup, capsys):
    from accelsim.cli import main
    spec = write_spec(BASE, setup)
    assert main(["sweep", str(spec), "--out", str(setup / "o"), "--jobs", "1", "--json", "--no-plots"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["points"] == 16 and s["feasible"] == 16 and set(s["pareto"]) >= {"latency_s_vs_energy_j", "all"}
    assert main(["sweep", str(spec), "--dry-run"]) == 0
    assert "16 point(s)" in capsys.readouterr().out
    bad = write_spec(BASE, setup, parameters={"nope.x": [1]})
    assert main(["sweep", str(bad), "--out", str(setup / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "spec.yaml" in err and "nope.x" in err



@pytest.mark.parametrize("kw,message", [
    ({"jobs": 0}, "jobs: must be >= 1, got 0"),
    ({"dask_local": 0}, "dask_local: must be >= 1, got 0"),
    ({"limit": -1}, "limit: must be >= 0, got -1"),
    ({"limit": 2.0}, "limit: must be an integer, got 2.0"),
    ({"scheduler": "localhost:8786"}, "scheduler: expected tcp://HOST:PORT, got 'localhost:8786'"),
    ({"scheduler": "tcp://h:1", "dask_local": 2}, "dask_local: not allowed with scheduler"),
    ({"overrides": "multipliers=4"}, "overrides: must be a sequence of 'KEY=VALUE' strings"),
    ({"overrides": ["multipliers"]}, "overrides: expected KEY=VALUE, got 'multipliers'"),
    ({"plots": "no"}, "plots: must be True or False, got 'no'"),
    ({"out": 3}, "out: must be a path, got 3"),
])
def test_bad_settings_are_one_line_errors(kw, message):
    from accelsim.errors import SettingsError
    with pytest.raises(SettingsError, match=f"^{message}") as e:
        SweepSettings(**kw)
    assert "\n" not in str(e.value) and e.value.field == message.split(":")[0]


def test_cli_names_flags_of_bad_settings(setup, capsys):
    from accelsim.cli import main
    spec = write_spec(BASE, setup)
    for argv, err in ((["--jobs", "0"], "--jobs: must be >= 1, got 0"), (["--limit", "-1"], "--limit: must be >= 0"),
                      (["--dask-local", "0"], "--dask-local: must be >= 1"),
                      (["--scheduler", "h:1"], "--scheduler: expected tcp://HOST:PORT"),
                      (["--set", "multipliers"], "--set: expected KEY=VALUE")):
        assert main(["sweep", str(spec), "--out", str(setup / "o"), *argv]) == 2
        line = capsys.readouterr().err
        assert line.startswith(f"accelsim: error: {err}") and line.count("\n") == 1
    assert not (setup / "o").exists()


def test_settings_api_dry_run_dict_spec_and_top_level_names(setup, monkeypatch):
    from accelsim import SweepResult
    from accelsim import SweepSettings as TopSettings
    from accelsim import run_sweep as top_run_sweep
    from accelsim.errors import SettingsError
    assert TopSettings is SweepSettings and top_run_sweep is run_sweep
    spec = write_spec(BASE, setup)
    dry = run_sweep(spec, SweepSettings(dry_run=True, overrides=("scale=2.0",)))
    assert isinstance(dry, SweepResult) and dry.rows == [] and dry.files == {} and dry.out is None
    assert dry.points == load_spec(spec).points() and dry.spec.base["scale"] == 2.0
    assert not (setup / "runs").exists()
    with pytest.raises(SettingsError, match="^overrides: apply when the spec is read from a file"):
        run_sweep(load_spec(spec), SweepSettings(overrides=("scale=2.0",)))
    # a spec given as a dict; out defaults to runs/sweeps/<spec name> like the CLI's
    monkeypatch.chdir(setup)
    data = {**BASE, "parameters": {"multipliers": [2, 4]}, "workloads": {"w1": "wl.npz"}}
    res = run_sweep(data, SweepSettings(jobs=1, plots=False))
    assert res.out == Path("runs") / "sweeps" / "t" and (res.out / "points.csv").is_file()
    assert res.summary["simulated"] == 2 and set(res.pareto) >= {"all"} and res.best["latency_s"]["value"] > 0

def test_maximize_objective_and_failed_trace(setup):
    spec = write_spec(BASE, setup, objectives=["latency_s", {"maximize": "utilization"}])
    res = run_sweep(spec, SweepSettings(out=setup / "o", jobs=1, plots=False))
    ok = [r for r in res.rows if r["status"] == "ok"]
    assert res.summary["best"]["utilization"]["value"] == max(r["utilization"] for r in ok)
    front = set(res.summary["pareto"]["latency_s_vs_utilization"]["points"])
    for r in ok:  # brute force: on the front iff no other point is as fast and as utilised, and better in one
        dom = any(q["latency_s"] <= r["latency_s"] and q["utilization"] >= r["utilization"] and
                  (q["latency_s"] < r["latency_s"] or q["utilization"] > r["utilization"]) for q in ok)
        assert (r["point"] in front) == (not dom)
    # a trace that dynhead cannot produce: one line naming the spec and the field
    bad = write_spec(BASE, setup, workloads={"w1": {"source": {"dynhead": {"checkpoint": str(setup / "no.pt")}}}})
    with pytest.raises(ConfigError, match="spec.yaml: field 'workloads.w1.source.dynhead': dynhead trace failed"):
        run_sweep(bad, SweepSettings(out=setup / "o2", jobs=1))


def test_real_model_example_runs(tmp_path):
    """The shipped systolic LHS example on a real model, cut to 3 points."""
    p = REPO / "examples" / "sweeps" / "systolic_lhs.yaml"
    try:
        spec = load_spec(p)
    except ConfigError as e:
        pytest.skip(f"systolic example not runnable here: {e}")
    res = run_sweep(spec, SweepSettings(out=tmp_path, jobs=1, limit=3, plots=False))
    assert res.summary["simulated"] == 3 and res.summary["missing"] == len(res.rows) - 3
    done = [r for r in res.rows if "latency_s" in r]
    assert all(r["latency_s"] > 0 and r["energy_j"] > 0 and r["area_mm2"] > 0 for r in done)


def test_shipped_examples_validate():
    from accelsim.models import model_names
    for p in sorted((REPO / "examples" / "sweeps").glob("*.yaml")):
        model = yaml.safe_load(p.read_text()).get("arch", "")
        try:
            spec = load_spec(p)
        except ConfigError as e:
            if "unknown model" in str(e) or "unknown accelerator" in str(e):
                pytest.skip(f"{p.name}: model not available yet ({model}; known: {model_names()})")
            raise
        assert spec.points()


FULL = bool(os.environ.get("ACCELSIM_FULL"))


@pytest.mark.slow
@pytest.mark.parametrize("full", [FULL])
def test_scnn_small_example_on_dynhead_trace(tmp_path, full):
    """The shipped example on the real dynamic-head trace.  Reduced (default): 2 points, 1 image, serial.
    Full (ACCELSIM_FULL=1): all 18 points locally and on a 2-worker local Dask cluster, identical CSVs."""
    p = REPO / "examples" / "sweeps" / "scnn_small.yaml"
    try:
        import dynhead
        dynhead.shipped_path("small")
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"dynhead shipped checkpoint unavailable: {e}")
    data = yaml.safe_load(p.read_text())
    if not full:
        data["workloads"]["dynhead_small"]["images"] = [0]
        data["parameters"] = {"multipliers.F,multipliers.I": [[4, 4]], "accumulator.banks": [16, 32],
                              "pe_rows,pe_cols": [[4, 4]]}
    from accelsim.sweep import spec_from_dict
    spec = spec_from_dict(data, file=str(p), base_dir=p.parent)
    traces = tmp_path / "traces"
    a = run_sweep(spec, SweepSettings(out=tmp_path / "a", jobs=1 if not full else 2, plots=False,
                                      trace_dir=traces))
    n = len(spec.points())
    assert a.summary["simulated"] + a.summary["infeasible"] == n and a.summary["missing"] == 0
    ok = [r for r in a.rows if r["status"] == "ok"]
    assert ok and all(r["latency_s"] > 0 and r["energy_j"] > 0 and r["macs_effectual"] > 0 for r in ok)
    if full:
        d = run_sweep(spec, SweepSettings(out=tmp_path / "d", dask_local=2, plots=False, trace_dir=traces))
        assert d.summary["simulated"] == a.summary["simulated"]
        assert _csv(tmp_path / "a") == _csv(tmp_path / "d")
