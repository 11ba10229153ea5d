"""What one sweep run does: :class:`SweepSettings`, validated once on construction.

The defaults are the CLI's (``accelsim sweep SPEC`` with no flags); the command line builds this
object from its flags (``--cache`` is ``cache_dir``, ``--set`` is ``overrides``, ``--no-plots`` is
``plots=False``; ``--json`` only chooses how the CLI prints).  A bad value raises
:class:`accelsim.errors.SettingsError` whose one-line message starts with the field's name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..config import check_overrides
from ..distributed import check_scheduler
from ..errors import SettingsError, check_bool, check_int, check_path, check_shared
from ..limits import limit

MAX_SCHEDULER_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class SweepSettings:
    """Settings of one sweep run (see :func:`accelsim.sweep.run_sweep`)."""

    out: Path | str | None = None
    """output folder (points.csv, pareto_*.csv/png, best.json, summary.json); None: runs/sweeps/<spec name>"""
    cache_dir: Path | str | None = None
    """point cache folder; None: <out>/cache"""
    jobs: int | None = None
    """local worker processes; None: all cores (``ACCELSIM_JOBS``); 1: in this process"""
    scheduler: str | None = None
    """run the points on this Dask scheduler (``tcp://HOST:PORT``)"""
    dask_local: int | None = None
    """start a local Dask cluster of this many worker processes"""
    limit: int | None = None
    """simulate at most this many uncached points, then stop (the rest stay missing; a rerun resumes)"""
    overrides: tuple[str, ...] = ()
    """``"KEY=VALUE"`` overrides of a field of the base arch, for every point"""
    shared: str | None = None
    """shared data folder; None: ``$ACCELSIM_SHARED`` or ../shared"""
    plots: bool = True
    """write the Pareto PNG plots"""
    dry_run: bool = False
    """validate the spec and list its points; simulate and write nothing"""
    progress: bool = False
    """a progress bar and one line per finished point on stderr"""
    trace_dir: Path | str | None = None
    """where generated dynhead traces are kept; None: <cache>/traces"""
    scheduler_timeout_s: float = 10.0
    """seconds to wait for the Dask ``scheduler``: connecting and its handshake, each"""
    sample: str = "off"
    """statistical sampling of every point's layers (:mod:`accelsim.sampling`): ``"off"``, ``"auto"`` or a
    fraction in (0, 1]; seeded by the spec's ``seed``; part of the point cache key"""

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        for name in ("out", "cache_dir", "trace_dir"):
            v = check_path(name, getattr(self, name))
            put(name, None if v is None else Path(v))
        put("shared", check_shared("shared", self.shared))
        check_int("jobs", self.jobs, 1, optional=True, hi=limit("max_jobs"))
        check_int("dask_local", self.dask_local, 1, optional=True, hi=limit("max_jobs"))
        check_int("limit", self.limit, 0, optional=True)
        for name in ("plots", "dry_run", "progress"):
            check_bool(name, getattr(self, name))
        check_scheduler("scheduler", self.scheduler)
        t = self.scheduler_timeout_s
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) \
                or not 0 < t <= MAX_SCHEDULER_TIMEOUT_S:
            raise SettingsError("scheduler_timeout_s", f"must be a number of seconds in (0, "
                                                       f"{MAX_SCHEDULER_TIMEOUT_S:g}], got {t!r}")
        if self.scheduler is not None and self.dask_local is not None:
            raise SettingsError("dask_local", "not allowed with scheduler (one Dask cluster or the other)")
        put("overrides", check_overrides("overrides", self.overrides))
        from ..sampling import SampleSpec
        put("sample", SampleSpec.canonical(self.sample))

