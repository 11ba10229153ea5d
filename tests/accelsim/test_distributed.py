"""simulate / compare on a Dask cluster (``--scheduler``, ``--dask-local``) give the reports of a local run,
and the same command gives the same report hash with 1 or 2 Numba threads and any number of processes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from accelsim.distributed import plan_units
from accelsim.errors import SettingsError
from workloads import Layer, Workload

pytest.importorskip("distributed")

FULL = bool(os.environ.get("ACCELSIM_FULL"))

#: data-dependent models (their cycles follow the data) and a dense one
ARCHS = ("scnn", "eie", "dcnn")


def small_workload(images=3, seed=0) -> Workload:
    """Real (seeded) weights, activations and output masks, layers of different sizes, several images."""
    rng = np.random.default_rng(seed)
    wl = Workload("dist")
    shapes = [("c1", 8, 16, 12), ("c2", 16, 16, 12), ("c3", 16, 8, 6)]
    for name, C, K, H in shapes:
        w = rng.standard_normal((K, C, 3, 3)) * (rng.random((K, C, 3, 3)) < 0.5)
        wl.add_layer(Layer(name, "conv", C=C, K=K, H=H, W=H, R=3, S=3, padding=1, weights=w))
    wl.add_layer(Layer("fc", "fc", C=8 * 36, K=10, weights=rng.standard_normal((10, 8 * 36)) *
                       (rng.random((10, 8 * 36)) < 0.3)))
    for i in range(images):
        for name, C, _K, H in shapes:
            wl.set_image_data(i, name, acts=np.maximum(0, rng.standard_normal((C, H, H)) - 0.3),
                              out_mask=rng.random((H, H)) < 0.6)
        wl.set_image_data(i, "fc", acts=np.maximum(0, rng.standard_normal(8 * 36)))
    return wl


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    p = tmp_path_factory.mktemp("dist") / "dist.npz"
    small_workload().save(p)
    return str(p)


@pytest.fixture(scope="module")
def scheduler():
    """A two-process Dask cluster reached by address, as ``--scheduler tcp://HOST:PORT`` would be."""
    from distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40,
                      env={"NUMBA_NUM_THREADS": "1"}) as cl:
        yield cl.scheduler_address


# ------------------------------------------------------------------ work units
def _batches(wl, layers_per_image):
    tasks = [(n, i) for i in range(wl.n_images) for n in wl.layer_names()[:layers_per_image]]
    return [(None, wl, tasks, False, 0, False)]


@pytest.mark.parametrize("n_units", [1, 2, 5, 40])
def test_units_cover_the_tasks_in_order_one_image_each(n_units):
    wl = small_workload()
    batches = _batches(wl, 4) + _batches(wl, 2)
    units = plan_units(batches, n_units)
    for bi, b in enumerate(batches):
        mine = [(s, e) for u, s, e in units if u == bi]
        assert mine[0][0] == 0 and mine[-1][1] == len(b[2])
        assert all(e0 == s1 for (_, e0), (s1, _) in zip(mine, mine[1:])) and all(s < e for s, e in mine)
        for s, e in mine:
            assert len({t[1] for t in b[2][s:e]}) == 1  # one image per unit
    cost = {n: wl.layers[n].macs_dense + 1 for n in wl.layer_names()}
    cap = sum(cost[t[0]] for b in batches for t in b[2]) // n_units
    for bi, s, e in units:  # over the cap only as a single layer
        assert e - s == 1 or sum(cost[t[0]] for t in batches[bi][2][s:e]) <= cap
    assert plan_units(batches, n_units) == units
    if n_units >= 40:  # each large layer alone
        assert all(e - s == 1 for bi, s, e in units if batches[bi][2][s][0] == "c2")


# ------------------------------------------------------------------ simulate
def _hash(npz, arch, **kw):
    from accelsim.simulate_api import run_simulate
    return run_simulate(workload=npz, arch=arch, **kw).hash


@pytest.mark.parametrize("arch", ARCHS)
def test_simulate_on_a_scheduler_matches_jobs_1_and_2(npz, scheduler, arch):
    local = _hash(npz, arch, jobs=1)
    assert _hash(npz, arch, jobs=2) == local
    assert _hash(npz, arch, scheduler=scheduler) == local


def test_sampled_simulation_on_a_scheduler_matches_jobs_1_and_2(npz, scheduler):
    """--sample draws are seeded per (layer, image): the same report hash in one process, two, and on Dask."""
    local = _hash(npz, "eie", jobs=1, sample="0.3")
    assert local != _hash(npz, "eie", jobs=1)  # layers of 144 pixels are sampled
    assert _hash(npz, "eie", jobs=2, sample="0.3") == local
    assert _hash(npz, "eie", scheduler=scheduler, sample="0.3") == local


def test_simulate_cli_dask_local_2(npz, capsys):
    from accelsim.cli import main
    assert main(["simulate", "-w", npz, "-a", "scnn", "--dask-local", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["report_hash"] == _hash(npz, "scnn", jobs=1)


def test_simulate_report_hash_does_not_depend_on_numba_threads(npz):
    """The same command in fresh processes with NUMBA_NUM_THREADS=1 and 2 (the thread count is fixed at
    start-up); processes and Dask workers are covered above."""
    hashes = set()
    for threads in ("1", "2"):
        r = subprocess.run([sys.executable, "-m", "accelsim", "simulate", "-w", npz, "-a", "scnn", "-j", "1", "--json"],
                           env={**os.environ, "NUMBA_NUM_THREADS": threads}, capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        hashes.add(json.loads(r.stdout)["report_hash"])
    assert hashes == {_hash(npz, "scnn", jobs=1)}


@pytest.mark.parametrize("kw,message", [
    ({"dask_local": 0}, "dask_local: must be >= 1, got 0"),
    ({"dask_local": 10 ** 9}, "dask_local: must be <= 1,024"),  # the cap max_jobs
    ({"scheduler": "localhost:8786"}, "scheduler: expected tcp://HOST:PORT, got 'localhost:8786'"),
    ({"scheduler": "tcp://h:1", "dask_local": 2}, "dask_local: not allowed with scheduler"),
    ({"dask_local": 2, "jobs": 2}, "jobs: not allowed with a Dask cluster"),
])
def test_bad_cluster_settings_are_one_line_errors(npz, kw, message):
    from accelsim.compare import CompareSettings
    from accelsim.simulate_api import SimulateSettings
    for make in (lambda: SimulateSettings(npz, "scnn", **kw), lambda: CompareSettings(**kw)):
        with pytest.raises(SettingsError, match=f"^{message}") as e:
            make()
        assert "\n" not in str(e.value)


def test_cli_names_the_cluster_flags(npz, capsys):
    from accelsim.cli import main
    for cmd in (["simulate", "-w", npz, "-a", "scnn"], ["compare", "--no-measure", "--targets", "scnn"]):
        for argv, err in ((["--dask-local", "0"], "--dask-local: must be >= 1"),
                          (["--scheduler", "h:1"], "--scheduler: expected tcp://HOST:PORT"),
                          (["--dask-local", "2", "-j", "2"], "--jobs: not allowed with a Dask cluster")):
            assert main([*cmd, *argv]) == 2
            line = capsys.readouterr().err
            assert line.startswith(f"accelsim: error: {err}") and line.count("\n") == 1


# ------------------------------------------------------------------ compare
def test_compare_simulations_on_a_scheduler_match_local(scheduler):
    """All (row, target) pairs at once on the cluster: the same reports, in the same order, as one by one
    locally (iso re-simulation included; scnn-maskskip takes scnn's results on the unmasked layers in both)."""
    from accelsim.compare import CompareSettings
    from accelsim.compare.simulate import simulate_targets
    traces = {"baseline": small_workload(2, seed=1), "small": small_workload(2, seed=2)}
    common = dict(targets=("scnn", "scnn-maskskip", "systolic", "nope"), measure=False, plots=False,
                  iso_resimulate=True)
    local = simulate_targets(traces, CompareSettings(jobs=1, **common), gpu_peak_macs=7.85e12)
    from accelsim.distributed import DaskExecutor
    sent = []
    orig = DaskExecutor.run_batches

    def record(self, batches):
        sent.extend((m.cfg.name, len(tasks)) for m, _, tasks, *_ in batches)
        return orig(self, batches)

    DaskExecutor.run_batches = record
    try:
        dist = simulate_targets(traces, CompareSettings(scheduler=scheduler, **common), gpu_peak_macs=7.85e12)
    finally:
        DaskExecutor.run_batches = orig
    # scnn-maskskip's unmasked fc layer (2 images) came from scnn's batch (plain and @iso, each trace); its
    # masked convs ran
    skip, plain = ([n for name, n in sent if name == t] for t in ("scnn-maskskip", "scnn"))
    assert set(skip) == {6} and set(plain) == {8} and len(skip) == len(plain) >= 2
    assert list(dist.reports) == list(local.reports) and len(local.reports) >= 8
    assert {k: r.hash for k, r in dist.reports.items()} == {k: r.hash for k, r in local.reports.items()}
    assert dist.missing == local.missing == ["nope"] and dist.peaks == local.peaks


def test_paper_preset():
    from accelsim.compare import CompareSettings, default_targets
    s = CompareSettings.paper(images=1, measure=False)
    assert (s.width, s.baseline_depth, s.size, s.targets, s.images) == (256, 6, (800, 1333), default_targets(), 1)
    assert CompareSettings.paper(targets="dcnn,systolic").targets == ("dcnn", "systolic")
    with pytest.raises(SettingsError, match=r"^size: 256x256 is not the paper's setting \(800x1333\)"):
        CompareSettings.paper(size="256x256")
    from accelsim.cli import build_parser
    from accelsim.cli_compare import settings_from_args
    a = build_parser().parse_args(["compare", "--paper", "--images", "1", "--targets", "dcnn"])
    assert settings_from_args(a) == CompareSettings.paper(images=1, targets=("dcnn",))


@pytest.mark.slow
def test_compare_cli_dask_local_2_matches_jobs_1(tmp_path, capsys):
    """End to end: the same compare (traced heads, one image) with --jobs 1 and --dask-local 2 (reduced: one
    target; ACCELSIM_FULL=1: two images, three targets)."""
    from accelsim.cli import main
    images, targets = ("2", "systolic,eie,scnn-maskskip") if FULL else ("1", "systolic")
    common = ["compare", "--size", "128x192", "--images", images, "--targets", targets, "--no-measure",
              "--no-plots", "--quiet", "--json"]
    hashes = []
    for extra in (["--jobs", "1"], ["--dask-local", "2"]):
        assert main([*common, *extra, "--out", str(tmp_path / extra[0].strip("-"))]) == 0
        res = json.loads(capsys.readouterr().out)
        hashes.append({(e["model"], e["target"]): e["report_hash"] for e in res["entries"] if e["kind"] == "simulated"})
    assert hashes[0] == hashes[1] and len(hashes[0]) >= 3


def _worker_state():
    import os as _os

    from workloads import effectual
    return _os.environ.get("MALLOC_TRIM_THRESHOLD_"), effectual.memoizing()


def test_local_cluster_workers_keep_glibc_malloc_defaults_and_count_their_cpu(npz, monkeypatch):
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_, which switches off glibc's dynamic mmap threshold (fresh pages
    for every large per-layer array: 1.8x the CPU s at 400x672); a cluster that ``--dask-local`` starts has
    its workers without it, also where an earlier cluster's nanny left it in this process's environment.
    Units run with the effectual-MAC memo on (as ForkPool children) and report their CPU seconds."""
    from accelsim.distributed import DaskExecutor
    from accelsim.engine import make_model, simulate
    from workloads import Workload
    wl = Workload.load(npz)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # as a nanny of this process leaves it
    with DaskExecutor(None, 1) as ex:
        assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"  # this process's environment is restored
        assert ex.client.submit(_worker_state, pure=False).result() == (None, False)
        rep = simulate(wl, make_model("eie"), executor=ex, progress=False)
        assert ex.cpu_s > 0
        assert ex.client.submit(_worker_state, pure=False).result() == (None, True)
    assert rep.hash == _hash(npz, "eie", jobs=1)


def test_local_cluster_refuses_workload_copies_larger_than_memory(npz, monkeypatch):
    """Each local worker holds its own copy of the workloads: more than 90 % of the available memory is a
    one-line error naming dask_local, raised before anything is scattered."""
    from accelsim import distributed
    from accelsim.engine import make_model, simulate
    from workloads import Workload
    wl = Workload.load(npz)
    with distributed.DaskExecutor(None, 2) as ex:
        monkeypatch.setattr(distributed, "_available_memory", lambda: int(2 * wl.nbytes() / 0.9) - 1)
        with pytest.raises(SettingsError, match=r"^dask_local: 2 workers each holding a copy of the workloads "
                                                r"need .* GiB, more than 90 % of the"):
            simulate(wl, make_model("dcnn"), executor=ex, progress=False)
        assert not ex.client.who_has()  # nothing scattered
        monkeypatch.setattr(distributed, "_available_memory", lambda: int(2 * wl.nbytes() / 0.9) + 1)
        assert simulate(wl, make_model("dcnn"), executor=ex, progress=False).hash == _hash(npz, "dcnn", jobs=1)
