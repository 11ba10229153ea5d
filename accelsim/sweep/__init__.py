"""``accelsim sweep SPEC.yaml``: design-space exploration, locally or on Dask, with Pareto output.

Python API::

    from accelsim.sweep import SweepSettings, run_sweep
    res = run_sweep("examples/sweeps/scnn_small.yaml", SweepSettings(out="runs/scnn_small", jobs=2))
    res.rows        # one dict per point: parameters, status, metrics (units in the names), area_mm2
    res.pareto      # Pareto fronts by objective pair: {tag: {"objectives", "points"}}
    res.files       # the files written; res.summary: counts, timings, best point per objective

Modules: :mod:`.settings` (SweepSettings), :mod:`.spec` (YAML spec and its validation), :mod:`.execute`
(per-point simulation, the on-disk cache, serial / process-pool / Dask executors), :mod:`.outputs` (CSV,
Parquet, Pareto tables and plots).  The command line (``accelsim sweep``) is :mod:`accelsim.cli_sweep`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..engine import with_sampling
from ..errors import ConfigError, SettingsError
from .execute import (
    METRICS,
    DaskRunner,
    PointCache,
    Task,
    cache_key,
    default_cache_dir,
    execute,
    model_fingerprint,
    summary_line,
)
from .settings import SweepSettings
from .spec import PRE_SIM_COLUMNS, SweepSpec, load_spec, spec_from_dict

__all__ = ["run_sweep", "SweepSettings", "SweepResult", "load_spec", "spec_from_dict", "SweepSpec", "PointCache",
           "load_workloads"]


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns: what ``accelsim sweep`` prints and writes."""

    spec: SweepSpec
    settings: SweepSettings
    points: list[dict]
    """the parameter set of every point, in point order (a dry run stops here)"""
    rows: list[dict] = field(default_factory=list)
    """one dict per point: ``columns`` (parameters, status, metrics, area, hashes); empty for a dry run"""
    columns: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    """counts, executor, timings, objectives, files, pareto, best (summary.json)"""
    out: Path | None = None
    """the output folder (None for a dry run)"""

    @property
    def files(self) -> dict[str, str]:
        """``{"csv"|"parquet"|"area_breakdown"|"pareto*"|"best"|"summary": path}`` of the files written."""
        return dict(self.summary.get("files", {}))

    @property
    def pareto(self) -> dict[str, dict]:
        """Pareto fronts: ``{"all"|"<x>_vs_<y>": {"objectives": [...], "points": [point indices]}}``."""
        return self.summary.get("pareto", {})

    @property
    def best(self) -> dict[str, dict]:
        """Best feasible point per objective: ``{column: {"sense", "value", "point": row}}``."""
        return self.summary.get("best", {})


def load_workloads(spec: SweepSpec, shared=None, trace_dir: Path | None = None, generate: bool = True) -> dict:
    """Resolve every workload of the spec and cut it to its images / layers (the cut is what is shipped).

    A ``{dynhead: {...}}`` source is generated once with ``python -m dynhead trace`` into ``trace_dir``
    (named by a hash of its options) and reused afterwards; with ``generate=False`` (a dry run) only its
    checkpoint is checked, and it is left out of the result.
    """
    from workloads import Workload, WorkloadError
    from workloads.zoo import resolve
    out = {}
    for key, ws in spec.workloads.items():
        fld = f"workloads.{key}"
        try:
            if ws.trace is not None and not generate:
                _check_checkpoint(ws.trace["checkpoint"], spec.file, f"{fld}.source.dynhead.checkpoint")
                continue
            if ws.trace is not None:
                wl = Workload.load(_generate_trace(ws.trace, trace_dir or default_cache_dir() / "traces", spec.file,
                                                   f"{fld}.source.dynhead"))
            else:
                wl = resolve(ws.source, shared=shared, seed=spec.seed)
            if ws.images is not None or ws.layers is not None:
                bad = [i for i in (ws.images or []) if not 0 <= i < wl.n_images]
                if bad:
                    raise ConfigError(f"images {bad} out of range (workload has {wl.n_images})", file=spec.file,
                                      field=f"{fld}.images")
                wl = wl.subset(layers=ws.layers, images=ws.images)
        except WorkloadError as e:
            raise ConfigError(f"cannot load workload {ws.source!r}: {e}", file=spec.file, field=fld) from None
        out[key] = wl
    return out


def _check_checkpoint(ck: str, file, fld: str) -> None:
    import dynhead
    from dynhead import DynheadError
    try:
        p = dynhead.shipped_path(ck) if ck in dynhead.SHIPPED else Path(ck)
    except DynheadError as e:
        raise ConfigError(str(e), file=file, field=fld) from None
    if not Path(p).is_file():
        raise ConfigError(f"checkpoint {ck!r} not found (a .pt file, or a shipped name: "
                          f"{', '.join(dynhead.SHIPPED)})", file=file, field=fld)


def _generate_trace(opts: dict, trace_dir: Path, file, fld) -> Path:
    import hashlib
    import json
    import subprocess

    from .spec import TRACE_OPTIONS
    ck = str(opts["checkpoint"])
    ident = {"opts": opts}
    try:  # the checkpoint's bytes are part of the identity, so a retrained checkpoint regenerates the trace
        import dynhead
        cp = dynhead.shipped_path(ck) if ck in dynhead.SHIPPED else Path(ck)
        ident["checkpoint_sha256"] = hashlib.sha256(Path(cp).read_bytes()).hexdigest()
    except Exception as e:  # noqa: BLE001 - reported below by dynhead itself with its own message
        ident["checkpoint_error"] = str(e)
    tag = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:20]
    path = Path(trace_dir) / f"dynhead-{tag}.npz"
    if path.exists():
        return path
    from workloads.storage import ensure_dir
    ensure_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    argv = [sys.executable, "-m", "dynhead", "trace", "--out", str(tmp)]
    for k, v in opts.items():
        flag = TRACE_OPTIONS[k][1]
        if isinstance(v, bool):
            argv += [flag] if v else []
        else:
            argv += [flag, str(v)]
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0 or not tmp.exists():
        last = (r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or ["no output"])[-1]
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"dynhead trace failed: {last}", file=file, field=fld)
    os.replace(tmp, path)
    return path


def _columns(spec: SweepSpec) -> list[str]:
    return (["point"] + spec.param_keys + ["status"] + list(METRICS) + ["area_mm2", "area_method", "model",
                                                                          "workload_hash", "arch_hash"])


def run_sweep(spec: SweepSpec | dict | str | os.PathLike, settings: SweepSettings | None = None, *, console=None,
              **changes) -> SweepResult:
    """Run (or resume) a sweep as ``settings`` say; writes its outputs to ``settings.out`` and returns them.

    ``spec``: a spec file, a spec as a dict (the YAML's content; relative paths from the working folder)
    or an already-parsed :class:`SweepSpec` (``settings.overrides`` apply only when the spec is read here).  Keyword arguments are a shorthand for fields of ``settings``:
    ``run_sweep(spec, jobs=1)`` is ``run_sweep(spec, SweepSettings(jobs=1))``.  ``console``: the rich
    console of the progress bar (default: stderr).  Bad input raises an ``AccelsimError`` (a
    ``SettingsError`` naming the field, or a ``ConfigError`` naming the spec file and field).
    """
    settings = settings or SweepSettings()
    if changes:
        settings = dataclasses.replace(settings, **changes)
    t0 = time.perf_counter()
    if isinstance(spec, dict):
        spec = spec_from_dict(spec, arch_overrides=list(settings.overrides))
    elif not isinstance(spec, SweepSpec):
        spec = load_spec(spec, list(settings.overrides))
    elif settings.overrides:  # a parsed spec has its base arch already: say so rather than ignore them
        raise SettingsError("overrides", "apply when the spec is read from a file; for a parsed spec pass "
                                         "them to load_spec / spec_from_dict")
    points = spec.points()
    if settings.dry_run:  # validate the workloads too (a broken file fails the dry run), write nothing
        load_workloads(spec, settings.shared, generate=False)
        return SweepResult(spec=spec, settings=settings, points=points, columns=_columns(spec),
                           summary={"name": spec.name, "points": len(points), "dry_run": True})
    out = settings.out or Path("runs") / "sweeps" / spec.name
    jobs, scheduler, dask_local, limit = settings.jobs, settings.scheduler, settings.dask_local, settings.limit
    from ..area import area_of
    from ..engine import default_jobs
    from ..models import get_model_class
    from ..outset import OutputSet, check_output_dir

    # every place written to is checked before any work (an unwritable --out fails here, naming it)
    check_output_dir("out", out)
    check_output_dir(*(("cache_dir", settings.cache_dir) if settings.cache_dir else ("out", out / "cache")))
    if settings.trace_dir:
        check_output_dir("trace_dir", settings.trace_dir)
    if jobs is None and not (scheduler or dask_local):
        default_jobs()  # a bad $ACCELSIM_JOBS fails here
    cache = PointCache(settings.cache_dir or out / "cache")
    workloads = load_workloads(spec, settings.shared, settings.trace_dir or cache.root / "traces")
    wl_hash = {k: w.content_hash for k, w in workloads.items()}
    columns = _columns(spec)
    pkeys = spec.param_keys
    rows: list[dict] = []
    tasks: list[Task] = []
    pre = [c for c in spec.constraints if c.column in PRE_SIM_COLUMNS or c.column in pkeys]
    post = [c for c in spec.constraints if c not in pre]
    n_cached = 0
    same: dict[str, list[int]] = {}  # cache key -> rows waiting for it
    for i, pt in enumerate(points):
        cfg = spec.arch_for(pt)
        model = with_sampling(get_model_class(cfg.model)(cfg), settings.sample, spec.seed)
        area = area_of(model)
        row = {"point": i, **{k: pt.get(k) for k in pkeys}, "area_mm2": area.total_mm2, "area_method": area.method,
               "model": cfg.model, "workload_hash": wl_hash[pt["workload"]][:16], "arch_hash": cfg.hash[:16],
               "_area": area}
        rows.append(row)
        failed = [c.text for c in pre if not c.holds(row)]
        if failed:  # known before simulating: do not spend time on it
            row["status"] = "infeasible: " + "; ".join(failed)
            continue
        key = cache_key(cfg.hash, wl_hash[pt["workload"]], None, None, spec.seed, spec.on_unsupported,
                        model_fingerprint(model) + ("" if settings.sample == "off" else f"|sample={settings.sample}"))
        row["_key"] = key
        hit = cache.get(key)
        if hit is not None:
            row.update(hit)
            row["_cached"] = True
            n_cached += 1
        elif key in same:  # two parameter sets that give the same config: simulate it once
            same[key].append(i)
        else:
            same[key] = [i]
            tasks.append(Task(i, key, model, pt["workload"], None, None, spec.seed, spec.on_unsupported))
    if limit is not None:
        tasks = tasks[:max(0, limit)]
    if scheduler or dask_local:
        mode = "dask"
    else:
        jobs = default_jobs() if jobs is None else max(1, jobs)
        mode = "serial" if jobs == 1 else "local"
    dask = None
    n_done = n_err = 0
    t_sim = time.perf_counter()
    try:
        if tasks and mode == "dask":
            dask = DaskRunner(scheduler, dask_local, timeout=settings.scheduler_timeout_s)
        bar = _Bar(len(rows), settings.progress, console)
        with bar:
            for r in rows:
                if r.get("_cached") or str(r.get("status", "")).startswith("infeasible"):
                    bar.point(summary_line({**r, "status": r.get("status", "ok")}, pkeys))
            for idx, metrics, err in (execute(tasks, workloads, mode, jobs or 1, dask) if tasks else ()):
                r = rows[idx]
                if err is None:
                    cache.put(r["_key"], metrics, {"point": {k: r.get(k) for k in pkeys}, "model": r["model"]})
                    n_done += 1
                else:
                    n_err += 1
                for j in same[r["_key"]]:
                    if err is None:
                        rows[j].update(metrics)
                    else:
                        rows[j]["status"] = f"error: {err}"
                    bar.point(summary_line({**rows[j], "status": rows[j].get("status", "ok")}, pkeys))
    finally:
        if dask is not None:
            n_workers = dask.n_workers
            dask.close()
    sim_wall = time.perf_counter() - t_sim
    missing = 0
    for r in rows:
        if "status" in r:
            continue
        if "latency_s" not in r:
            r["status"] = "missing"
            missing += 1
            continue
        failed = [c.text for c in post if not c.holds(r)]
        r["status"] = ("infeasible: " + "; ".join(failed)) if failed else "ok"
    summary = {"name": spec.name, "spec": spec.file, "model": spec.base.model, "points": len(rows),
               "simulated": n_done, "cached": n_cached, "errors": n_err, "missing": missing,
               "feasible": sum(r["status"] == "ok" for r in rows),
               "infeasible": sum(r["status"].startswith("infeasible") for r in rows),
               "executor": mode if tasks else "none (all cached)",
               "workers": (n_workers if dask is not None else (jobs if mode == "local" else 1)),
               "cache_dir": str(cache.root), "sim_wall_s": sim_wall,
               "points_per_min": (60.0 * n_done / sim_wall) if n_done and sim_wall > 0 else None,
               "objectives": [{"column": c, "sense": s} for c, s in spec.objectives],
               "constraints": [c.text for c in spec.constraints]}
    from workloads.storage import atomic_write_bytes

    from ..jsonio import dumps
    from .outputs import OUTPUT_FILES, write_outputs
    # one output set: the tables, plots and summary appear together (the point cache stays beside them)
    with OutputSet(out, "sweep", owns=OUTPUT_FILES) as stage:
        res = write_outputs(stage, rows, columns, spec.objectives, spec.name, plots=settings.plots,
                            areas={r["point"]: r["_area"] for r in rows})
        summary.update(res)
        summary["files"] = {k: str(out / Path(v).name) for k, v in res["files"].items()}
        summary["files"]["summary"] = str(out / "summary.json")
        summary["wall_s"] = time.perf_counter() - t0
        atomic_write_bytes(stage / "summary.json", dumps(summary).encode())
    return SweepResult(spec=spec, settings=settings, points=points,
                       rows=[{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
                       columns=columns, summary=summary, out=out)


class _Bar:
    """A rich progress bar on stderr with one summary line printed per finished point."""

    def __init__(self, total: int, show: bool, console=None):
        self.show, self.total = show, total
        self.console = console
        self.p = None

    def __enter__(self):
        if self.show:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            self.p = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                              TextColumn("{task.description}"), console=self.console or Console(stderr=True),
                              transient=False)
            self.p.__enter__()
            self.t = self.p.add_task("", total=self.total)
        return self

    def point(self, line: str):
        if self.p is not None:
            self.p.console.print(line, markup=False, highlight=False, soft_wrap=True)
            self.p.update(self.t, advance=1, description=line[:60])

    def __exit__(self, *exc):
        if self.p is not None:
            self.p.__exit__(*exc)
