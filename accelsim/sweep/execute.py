"""Running sweep points: one point = ``simulate(workload, arch)`` -> one tidy row of metrics.

Executors (all give identical rows, since each point is deterministic and rows are sorted by point index):

* ``serial``  -- in this process (``jobs=1``);
* ``local``   -- a fork process pool; the workloads reach each worker once, through the pool initializer;
* ``dask``    -- a Dask distributed cluster (``--scheduler tcp://HOST:PORT`` or ``--dask-local N``); the
                 workloads are scattered once with ``broadcast=True`` and tasks carry only the future.

Each point runs ``simulate(..., jobs=1)`` so pools never nest.  Finished points are cached on disk by
:class:`PointCache`, keyed by (arch config hash, workload content hash, images, layers, seed, toolkit
version); the driver writes one small JSON file per point atomically, so an interrupted sweep loses at
most the points in flight and a rerun simulates only the missing ones.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .. import __version__
from ..distributed import DaskCluster
from ..errors import AccelsimError

#: bumped when the metric definitions below change, so old cache files are not reused
METRICS_VERSION = 2

#: metric columns of a row, units in the names.  latency_s / energy_j are per image (mean over the images),
#: total_* over all simulated images; *_half_width: the 95 % half-width of total_cycles / total_energy_j when
#: the sweep samples (``--sample``; 0 for an exhaustive point), sampled_layers: how many (layer, image) were.
METRICS = ("cycles", "latency_s", "energy_j", "latency_p50_s", "latency_p99_s", "energy_p50_j", "energy_p99_j",
           "total_cycles", "total_latency_s", "total_energy_j", "utilization", "macs_dense", "macs_effectual",
           "macs_actual", "images", "power_w", "edp_js", "total_cycles_half_width", "total_energy_j_half_width",
           "sampled_layers")


@dataclass
class Task:
    index: int
    key: str  # cache key
    model: Any  # AcceleratorModel instance (pickled to workers)
    workload: str  # workload key in the spec
    images: list[int] | None
    layers: list[str] | None
    seed: int
    on_unsupported: str


def cache_key(arch_hash: str, workload_hash: str, images, layers, seed: int, on_unsupported: str,
              model_fingerprint: str = "") -> str:
    """sha256 over everything that determines a point's numbers.

    Besides (arch config hash, workload content hash, toolkit version) it covers the model's source file and
    the scaled energy table (``model_fingerprint``), so editing a model or a table does not reuse stale points.
    """
    blob = json.dumps({"arch": arch_hash, "workload": workload_hash, "images": images, "layers": layers,
                       "seed": seed, "on_unsupported": on_unsupported, "toolkit": __version__,
                       "metrics": METRICS_VERSION, "model": model_fingerprint}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


_FP: dict[tuple, str] = {}


def model_fingerprint(model) -> str:
    """Hash of the model class's source file, the engine's and the energy table the config uses (after scaling)."""
    import inspect
    cls = type(model)
    tkey = (cls, json.dumps(model.energy.dump(), sort_keys=True, default=str))
    if tkey not in _FP:
        h = hashlib.sha256()
        from .. import engine
        for obj in (cls, engine):
            try:
                h.update(Path(inspect.getsourcefile(obj)).read_bytes())
            except (TypeError, OSError):
                h.update(repr(obj).encode())
        h.update(tkey[1].encode())
        _FP[tkey] = h.hexdigest()
    return _FP[tkey]


def evaluate(model, workload, images, layers, seed: int, on_unsupported: str) -> dict:
    """Simulate one point; returns the metric dict (plain floats/ints, JSON-safe)."""
    from ..engine import simulate
    rep = simulate(workload, model, images=images, layers=layers, jobs=1, progress=False, seed=seed,
                   on_unsupported=on_unsupported)
    tot = rep.total()
    per = rep.per_image()
    lat = np.array([p["latency_s"] for p in per], dtype=float)
    en = np.array([p["energy_j"] for p in per], dtype=float)
    n = max(1, len(per))
    cyc = np.array([p["cycles"] for p in per], dtype=float)
    m = {"cycles": float(cyc.mean()) if len(cyc) else 0.0,
         "latency_s": float(lat.mean()) if len(lat) else 0.0,
         "energy_j": float(en.mean()) if len(en) else 0.0,
         "latency_p50_s": float(np.percentile(lat, 50)) if len(lat) else 0.0,
         "latency_p99_s": float(np.percentile(lat, 99)) if len(lat) else 0.0,
         "energy_p50_j": float(np.percentile(en, 50)) if len(en) else 0.0,
         "energy_p99_j": float(np.percentile(en, 99)) if len(en) else 0.0,
         "total_cycles": int(tot["cycles"]), "total_latency_s": float(tot["latency_s"]),
         "total_energy_j": float(tot["energy_j"]),
         "utilization": None if tot["utilization"] is None else float(tot["utilization"]),
         "macs_dense": int(tot["macs_dense"]), "macs_effectual": int(tot["macs_effectual"]),
         "macs_actual": int(tot["macs_actual"]), "images": n}
    m["power_w"] = m["total_energy_j"] / m["total_latency_s"] if m["total_latency_s"] else 0.0
    m["edp_js"] = m["energy_j"] * m["latency_s"]
    samp = tot.get("sampling") or {}
    m["total_cycles_half_width"] = float(samp.get("cycles_half_width", 0.0))
    m["total_energy_j_half_width"] = float(samp.get("energy_j_half_width", 0.0))
    m["sampled_layers"] = int(samp.get("sampled_layers", 0))
    m["skipped_layers"] = [s["name"] for s in rep.skipped]
    return m


# ------------------------------------------------------------------ cache
class PointCache:
    """One JSON file per finished point under ``root/<key[:2]>/<key>.json``, written atomically."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        p = self.path(key)
        try:
            d = json.loads(p.read_text())
        except (OSError, ValueError):  # missing or unreadable (never half-written: writes are atomic)
            return None
        if not isinstance(d, dict) or d.get("key") != key or not isinstance(d.get("metrics"), dict):
            return None
        return d["metrics"]

    def put(self, key: str, metrics: dict, info: dict | None = None) -> None:
        from workloads.storage import atomic_write_bytes
        p = self.path(key)
        blob = json.dumps({"key": key, "toolkit": __version__, "metrics": metrics, "info": info or {}},
                          sort_keys=True, indent=1)
        atomic_write_bytes(p, blob.encode())

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.json")) if self.root.exists() else 0


# ------------------------------------------------------------------ executors
_W: dict[str, Any] = {}


def _load(workloads):
    _W.clear()
    _W.update(workloads)


def _pool_init(workloads):
    os.environ["NUMBA_NUM_THREADS"] = "1"
    import numba  # a forked child: the variable is read at numba's import, already done in the parent
    numba.set_num_threads(1)  # one thread per worker process: the pool does not oversubscribe the cores
    _load(workloads)


def _pool_run(task: Task):
    try:
        return task.index, evaluate(task.model, _W[task.workload], task.images, task.layers, task.seed,
                                    task.on_unsupported), None
    except AccelsimError as e:  # deterministic, user-facing (e.g. unsupported layer): report, keep going
        return task.index, None, f"{type(e).__name__}: {e}"


def _dask_run(task: Task, workload):
    try:
        return task.index, evaluate(task.model, workload, task.images, task.layers, task.seed,
                                    task.on_unsupported), None
    except AccelsimError as e:
        return task.index, None, f"{type(e).__name__}: {e}"


def run_serial(tasks: list[Task], workloads: dict) -> Iterable[tuple]:
    # in this process: not _pool_init, whose NUMBA_NUM_THREADS=1 would stay in the caller's environment and
    # make Numba refuse every later compilation ("Cannot set NUMBA_NUM_THREADS ... once the threads have
    # been launched"); results do not depend on the thread count (tests/accelsim/test_threads.py)
    _load(workloads)
    for t in tasks:
        yield _pool_run(t)


def run_local(tasks: list[Task], workloads: dict, jobs: int) -> Iterable[tuple]:
    if jobs <= 1 or len(tasks) <= 1:
        yield from run_serial(tasks, workloads)
        return
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    with ctx.Pool(min(jobs, len(tasks)), initializer=_pool_init, initargs=(workloads,)) as pool:
        yield from pool.imap_unordered(_pool_run, tasks)


class DaskRunner(DaskCluster):
    """Sweep points on a Dask cluster (:class:`accelsim.distributed.DaskCluster`: ``scheduler`` address or
    ``n_local`` local processes, ``timeout`` for the connection and handshake; results come back as
    pickles, so the cluster must be trusted)."""

    def run(self, tasks: list[Task], workloads: dict) -> Iterable[tuple]:
        from dask.distributed import as_completed
        if not tasks:
            return
        needed = sorted({t.workload for t in tasks})
        # ship each workload once per worker (not once per task): tasks reference the scattered future
        futs_wl = {k: self.client.scatter(workloads[k], broadcast=True, hash=False) for k in needed}
        futs = [self.client.submit(_dask_run, t, futs_wl[t.workload], pure=False, key=f"sweep-point-{t.key}")
                for t in tasks]
        try:
            for f in as_completed(futs):
                yield f.result()
        finally:
            for f in futs:
                f.cancel()


def execute(tasks: list[Task], workloads: dict, mode: str, jobs: int = 1, dask: DaskRunner | None = None
            ) -> Iterable[tuple]:
    if mode == "dask":
        return dask.run(tasks, workloads)
    if mode == "serial":
        return run_serial(tasks, workloads)
    return run_local(tasks, workloads, jobs)


def default_cache_dir() -> Path:
    env = os.environ.get("ACCELSIM_SWEEP_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "accelsim" / "sweep"


def summary_line(row: dict, param_keys: list[str]) -> str:
    """One line per point for the progress display: parameters, then per-image latency/energy, area, util."""
    ps = " ".join(f"{k.split('.')[-1]}={_short(row.get(k))}" for k in param_keys)
    if row.get("status") != "ok":
        return f"#{row['point']} {ps}: {row.get('status')}"
    return (f"#{row['point']} {ps}: {row['latency_s'] * 1e3:.4g} ms/img, {row['energy_j'] * 1e6:.4g} uJ/img, "
            f"{row['area_mm2']:.3g} mm2, util {100 * (row.get('utilization') or 0):.1f}%"
            + (" (cached)" if row.get("_cached") else ""))


def _short(v):
    return f"{v:.4g}" if isinstance(v, float) else v
