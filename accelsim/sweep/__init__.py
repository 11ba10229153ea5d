"""``accelsim sweep SPEC.yaml``: design-space exploration, locally or on Dask, with Pareto output.

Python API::

    from accelsim.sweep import run_sweep
    res = run_sweep("examples/sweeps/scnn_small.yaml", out="runs/scnn_small")   # SweepResult
    res.rows        # one dict per point: parameters, status, metrics (units in the names), area_mm2
    res.summary     # counts, files written, Pareto point indices, best point per objective

Modules: :mod:`.spec` (YAML spec and its validation), :mod:`.execute` (per-point simulation, the on-disk
cache, serial / process-pool / Dask executors), :mod:`.outputs` (CSV, Parquet, Pareto tables and plots).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AccelsimError, ConfigError
from .execute import (METRICS, DaskRunner, PointCache, Task, cache_key, default_cache_dir, execute, model_fingerprint,
                      summary_line)
from .spec import PRE_SIM_COLUMNS, SweepSpec, load_spec, spec_from_dict

__all__ = ["run_sweep", "load_spec", "spec_from_dict", "SweepSpec", "SweepResult", "PointCache", "add_arguments",
           "run"]


@dataclass
class SweepResult:
    rows: list[dict]
    columns: list[str]
    summary: dict = field(default_factory=dict)


def load_workloads(spec: SweepSpec, shared=None, trace_dir: Path | None = None) -> dict:
    """Resolve every workload of the spec and cut it to its images / layers (the cut is what is shipped).

    A ``{dynhead: {...}}`` source is generated once with ``python -m dynhead trace`` into ``trace_dir``
    (named by a hash of its options) and reused afterwards.
    """
    from workloads import Workload, WorkloadError
    from workloads.zoo import resolve
    out = {}
    for key, ws in spec.workloads.items():
        fld = f"workloads.{key}"
        try:
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


def run_sweep(spec: SweepSpec | str | os.PathLike, out: str | os.PathLike | None = None, *,
              cache_dir: str | os.PathLike | None = None, jobs: int | None = None, scheduler: str | None = None,
              dask_local: int | None = None, limit: int | None = None, plots: bool = True, progress: bool = False,
              shared=None, arch_overrides: list[str] | None = None, console=None,
              trace_dir: str | os.PathLike | None = None) -> SweepResult:
    """Run (or resume) a sweep; returns its rows and summary and writes outputs to ``out`` when given.

    ``limit``: simulate at most this many uncached points, then stop (the rest stay missing; a rerun
    resumes).  ``jobs``: local worker processes (default: all cores; 1 = in this process).
    ``trace_dir``: where generated dynhead traces are kept (default: ``<cache>/traces``).
    """
    t0 = time.perf_counter()
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec, arch_overrides)
    from ..area import area_of
    from ..engine import default_jobs
    from ..models import get_model_class

    cache = PointCache(Path(cache_dir) if cache_dir else (Path(out) / "cache" if out else default_cache_dir()))
    workloads = load_workloads(spec, shared, Path(trace_dir) if trace_dir else cache.root / "traces")
    wl_hash = {k: w.content_hash for k, w in workloads.items()}
    columns = _columns(spec)
    pkeys = spec.param_keys
    rows: list[dict] = []
    tasks: list[Task] = []
    pre = [c for c in spec.constraints if c.column in PRE_SIM_COLUMNS or c.column in pkeys]
    post = [c for c in spec.constraints if c not in pre]
    n_cached = 0
    same: dict[str, list[int]] = {}  # cache key -> rows waiting for it
    for i, pt in enumerate(spec.points()):
        cfg = spec.arch_for(pt)
        model = get_model_class(cfg.model)(cfg)
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
                        model_fingerprint(model))
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
            dask = DaskRunner(scheduler, dask_local)
        bar = _Bar(len(rows), progress, console)
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
    if out is not None:
        from .outputs import write_outputs
        res = write_outputs(Path(out), rows, columns, spec.objectives, spec.name, plots=plots,
                            areas={r["point"]: r["_area"] for r in rows})
        summary.update(res)
        from workloads.storage import atomic_write_bytes
        import json
        summary["wall_s"] = time.perf_counter() - t0
        atomic_write_bytes(Path(out) / "summary.json", json.dumps(summary, indent=2, default=str).encode())
    else:
        from .outputs import best_per_objective
        summary["best"] = best_per_objective([r for r in rows if r["status"] == "ok"], spec.objectives, columns)
    summary["wall_s"] = time.perf_counter() - t0
    return SweepResult(rows=[{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
                       columns=columns, summary=summary)


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


# ------------------------------------------------------------------ CLI
def add_arguments(p) -> None:
    p.add_argument("spec", help="sweep spec YAML (see examples/sweeps/)")
    p.add_argument("--out", "-o", help="output folder (default: runs/sweeps/<spec name>)")
    p.add_argument("--cache", help="point cache folder (default: <out>/cache)")
    p.add_argument("--jobs", "-j", type=int, default=None, help="local worker processes (default: all cores)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run the points on this Dask scheduler")
    g.add_argument("--dask-local", type=int, metavar="N", help="start a local Dask cluster of N worker processes")
    p.add_argument("--limit", type=int, default=None, help="simulate at most N uncached points, then stop")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of the base arch for every point")
    p.add_argument("--shared", help="shared data folder (default: $ACCELSIM_SHARED or ../shared)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--dry-run", action="store_true", help="validate the spec and list the points, simulate nothing")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")


def run(args) -> int:
    spec = load_spec(args.spec, args.overrides)
    if args.jobs is not None and args.jobs < 1:
        raise AccelsimError(f"--jobs: must be >= 1, got {args.jobs}")
    if args.dask_local is not None and args.dask_local < 1:
        raise AccelsimError(f"--dask-local: must be >= 1, got {args.dask_local}")
    if args.limit is not None and args.limit < 0:
        raise AccelsimError(f"--limit: must be >= 0, got {args.limit}")
    if args.scheduler and not args.scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise AccelsimError(f"--scheduler: expected tcp://HOST:PORT, got {args.scheduler!r}")
    if args.dry_run:
        pts = spec.points()
        if args.json:
            from ..cli import _print_json
            _print_json({"name": spec.name, "points": pts})
        else:
            for i, pt in enumerate(pts):
                print(f"#{i} " + " ".join(f"{k}={v}" for k, v in pt.items()))
            print(f"{len(pts)} point(s)")
        return 0
    out = args.out or str(Path("runs") / "sweeps" / spec.name)
    res = run_sweep(spec, out, cache_dir=args.cache, jobs=args.jobs, scheduler=args.scheduler,
                    dask_local=args.dask_local, limit=args.limit, plots=not args.no_plots,
                    progress=not args.json or sys.stderr.isatty(), shared=args.shared)
    s = res.summary
    if args.json:
        from ..cli import _print_json
        _print_json(s)
        return 0
    from rich.console import Console
    c = Console()
    c.print(f"{s['points']} points: {s['simulated']} simulated, {s['cached']} cached, {s['missing']} missing, "
            f"{s['errors']} errors; {s['feasible']} feasible ({s['executor']}, {s['sim_wall_s']:.1f} s)")
    for col, b in s.get("best", {}).items():
        pt = b["point"]
        desc = " ".join(f"{k}={pt.get(k)}" for k in spec.param_keys)
        c.print(f"best {col} ({b['sense']}): {b['value']:.6g}  [{desc}]", markup=False, soft_wrap=True)
    for tag, p in s.get("pareto", {}).items():
        c.print(f"Pareto {tag}: {len(p['points'])} point(s)")
    c.print(f"wrote {out}/points.csv, pareto_*.csv/png, best.json, summary.json")
    return 0
