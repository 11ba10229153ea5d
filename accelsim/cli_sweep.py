"""Command line of ``accelsim sweep``: flags -> :class:`accelsim.sweep.SweepSettings` ->
:func:`accelsim.sweep.run_sweep` -> a summary (or the JSON summary with ``--json``) on stdout.

Errors of a settings field are reported under the field's flag (``cache_dir`` -> ``--cache``,
``overrides`` -> ``--set``)."""

from __future__ import annotations

import sys

from .errors import SettingsError
from .jsonio import print_json

#: fields whose flag is not ``--`` + the field name with dashes
FLAGS = {"cache_dir": "--cache", "overrides": "--set", "plots": "--no-plots",
         "scheduler_timeout_s": "--scheduler-timeout"}


def add_arguments(p) -> None:
    p.add_argument("spec", help="sweep spec YAML (see examples/sweeps/)")
    p.add_argument("--out", "-o", help="output folder (default: runs/sweeps/<spec name>)")
    p.add_argument("--cache", help="point cache folder (default: <out>/cache)")
    p.add_argument("--jobs", "-j", type=int, default=None, help="local worker processes (default: all cores)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run the points on this Dask scheduler")
    g.add_argument("--dask-local", type=int, metavar="N", help="start a local Dask cluster of N worker processes")
    p.add_argument("--scheduler-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="with --scheduler: seconds to wait for the connection and for the Dask handshake (default 10)")
    p.add_argument("--sample", default="off", metavar="off|auto|FRACTION",
                   help="statistical sampling of each point's layers (scnn, eie, eyeriss-v2 work units; seeded by "
                        "the spec's seed): auto = each sampled layer within +-1%% at 95%%, or a fraction in (0, 1]")
    p.add_argument("--limit", type=int, default=None, help="simulate at most N uncached points, then stop")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of the base arch for every point")
    p.add_argument("--shared", help="shared data folder (default: $ACCELSIM_SHARED or ../shared)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--dry-run", action="store_true", help="validate the spec and list the points, simulate nothing")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")


def settings_from_args(a):
    """The SweepSettings of parsed ``accelsim sweep`` arguments."""
    from .sweep import SweepSettings
    return SweepSettings(out=a.out, cache_dir=a.cache, jobs=a.jobs, scheduler=a.scheduler, dask_local=a.dask_local,
                         scheduler_timeout_s=a.scheduler_timeout,
                         limit=a.limit, overrides=tuple(a.overrides), shared=a.shared, plots=not a.no_plots,
                         dry_run=a.dry_run, progress=not a.json or sys.stderr.isatty(), sample=a.sample)


def run(a) -> int:
    from .sweep import run_sweep
    try:
        res = run_sweep(a.spec, settings_from_args(a))
    except SettingsError as e:  # name the flag, not the field
        raise e.for_flag(FLAGS) from None
    if a.dry_run:
        if a.json:
            print_json({"name": res.spec.name, "points": res.points})
        else:
            for i, pt in enumerate(res.points):
                print(f"#{i} " + " ".join(f"{k}={v}" for k, v in pt.items()))
            print(f"{len(res.points)} point(s)")
        return 0
    s = res.summary
    if a.json:
        print_json(s)
        return 0
    from rich.console import Console
    c = Console()
    c.print(f"{s['points']} points: {s['simulated']} simulated, {s['cached']} cached, {s['missing']} missing, "
            f"{s['errors']} errors; {s['feasible']} feasible ({s['executor']}, {s['sim_wall_s']:.1f} s)")
    for col, b in res.best.items():
        pt = b["point"]
        desc = " ".join(f"{k}={pt.get(k)}" for k in res.spec.param_keys)
        c.print(f"best {col} ({b['sense']}): {b['value']:.6g}  [{desc}]", markup=False, soft_wrap=True)
    for tag, p in res.pareto.items():
        c.print(f"Pareto {tag}: {len(p['points'])} point(s)")
    c.print(f"wrote {res.out}/points.csv, pareto_*.csv/png, best.json, summary.json")
    return 0
