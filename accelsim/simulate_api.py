"""``accelsim simulate`` as a function: :class:`SimulateSettings` -> :func:`run_simulate` -> a Report.

The defaults are the CLI's; the command line builds the settings from its flags (``--set`` is
``overrides``, ``--skip-unsupported`` is ``on_unsupported="skip"``; ``--json`` only chooses how the
CLI prints).  A bad value raises :class:`accelsim.errors.SettingsError` whose one-line message starts
with the field's name.  For a workload or model already in memory, :func:`accelsim.engine.simulate`
takes the objects themselves.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .config import ArchConfig, check_overrides
from .distributed import check_cluster
from .errors import SettingsError, check_bool, check_choice, check_int, check_path, check_shared
from .limits import limit

__all__ = ["SimulateSettings", "run_simulate", "select_layers"]

#: files ``run_simulate`` writes to ``out``, plots aside (a rerun without plots removes an earlier run's)
REPORT_FILES = ("report.json", "COMPUTE_REPORT.csv", "summary.md")


@dataclass(frozen=True)
class SimulateSettings:
    """Settings of one simulation (see :func:`run_simulate`)."""

    workload: str | os.PathLike
    """zoo name (``accelsim workload list``), .npz workload file or SCALE-Sim topology .csv"""
    arch: str | os.PathLike | ArchConfig
    """preset name (``accelsim list``), arch .yaml file, or a loaded config"""
    overrides: tuple[str, ...] = ()
    """``"KEY=VALUE"`` config field overrides, e.g. ``("pe_rows=4", "multipliers.F=8")``"""
    images: tuple[int, ...] | str | None = None
    """image indices (a tuple, or one comma-separated string); None: all"""
    layers: tuple[str, ...] | str | None = None
    """layer names or shell patterns such as ``"head.*"`` (a tuple, or one comma-separated string); None: all"""
    functional: bool = False
    """also compute and check the layer outputs"""
    jobs: int | None = None
    """worker processes; None: all cores (``ACCELSIM_JOBS``); 1: in this process"""
    seed: int = 0
    """seed of the synthetic data of density-only layers"""
    on_unsupported: str = "error"
    """``"error"``: a layer the model cannot run is an error; ``"skip"``: skip it (listed in the report)"""
    shared: str | None = None
    """shared data folder; None: ``$ACCELSIM_SHARED`` or ../shared"""
    out: Path | str | None = None
    """write report.json, COMPUTE_REPORT.csv and summary.md to this folder"""
    chrome_trace: Path | str | None = None
    """write a layer timeline in Chrome trace-event JSON to this file (open in Perfetto)"""
    pe_tracks: bool = False
    """with ``chrome_trace``: one track per PE for models that record it (scnn and dcnn presets)"""
    plots: bool = False
    """with ``out``: also write the report's plots (cycle/energy breakdown, utilisation, per-image, roofline)"""
    progress: bool | None = None
    """a progress bar on stderr; None: when there are many layers and stderr is a terminal"""
    scheduler: str | None = None
    """run the (layer, image) work on this Dask scheduler (``tcp://HOST:PORT``); same report as locally"""
    dask_local: int | None = None
    """run the (layer, image) work on a local Dask cluster of this many worker processes"""
    sample: str = "off"
    """``"off"`` (every MAC walked), ``"auto"`` (each sampled layer's cycles within +-1 % at 95 %) or a
    fraction in (0, 1] of each layer's work units, for the models that name their units
    (:mod:`accelsim.sampling`); seeded by ``seed``"""

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        put("workload", check_path("workload", self.workload, optional=False))
        if not isinstance(self.arch, ArchConfig):
            put("arch", check_path("arch", self.arch, optional=False))
        put("overrides", check_overrides("overrides", self.overrides))
        put("images", _images(self.images))
        put("layers", _layers(self.layers))
        for name in ("functional", "pe_tracks", "plots"):
            check_bool(name, getattr(self, name))
        if self.progress is not None:
            check_bool("progress", self.progress)
        check_int("jobs", self.jobs, 1, optional=True, hi=limit("max_jobs"))
        check_cluster(self.scheduler, self.dask_local, self.jobs)
        check_int("seed", self.seed, 0)
        check_choice("on_unsupported", self.on_unsupported, ("error", "skip"))
        from .sampling import SampleSpec
        put("sample", SampleSpec.canonical(self.sample))
        if self.sample != "off" and self.functional:
            raise SettingsError("sample", "functional mode needs every output: leave {functional} out or use "
                                          "off", refs=("functional",))
        put("shared", check_shared("shared", self.shared))
        ct = check_path("chrome_trace", self.chrome_trace)
        if ct is not None and ct.endswith(("/", os.sep)):  # Path() would drop the separator
            raise SettingsError("chrome_trace", f"{ct} is a folder name, expected a file name")
        for name in ("out", "chrome_trace"):
            v = check_path(name, getattr(self, name))
            put(name, None if v is None else Path(v))
        if self.plots and self.out is None:
            raise SettingsError("plots", "needs {out} DIR (the plots are written beside report.json)", refs=("out",))
        if self.pe_tracks and self.chrome_trace is None:
            raise SettingsError("pe_tracks", "needs {chrome_trace} FILE", refs=("chrome_trace",))


def _images(v) -> tuple[int, ...] | None:
    if v is None:
        return None
    if isinstance(v, str):
        try:
            v = [int(x) for x in v.split(",") if x.strip()]
        except ValueError:
            raise SettingsError("images", f"expected comma-separated integers, got {v!r}") from None
    if not isinstance(v, (list, tuple, range)) or not all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        raise SettingsError("images", f"expected image indices, got {v!r}")
    if not v:  # an empty selection would simulate nothing and report zeros
        raise SettingsError("images", "no image index given (None: all images)")
    return tuple(v)


def _layers(v) -> tuple[str, ...] | None:
    if v is None:
        return None
    text = v
    if isinstance(v, str):
        v = [x.strip() for x in v.split(",") if x.strip()]
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
        raise SettingsError("layers", f"expected layer names or patterns, got {v!r}")
    if not v:  # an empty selection would simulate nothing and report zeros
        raise SettingsError("layers", f"no layer name or pattern in {text!r}")
    return tuple(v)


def select_layers(names: list[str], want) -> list[str]:
    """Layers of ``names`` named in ``want`` (names or fnmatch patterns: a sequence, or one comma-separated
    string), in workload order; SettingsError for a name or pattern that matches nothing."""
    import fnmatch
    want = _layers(want)
    bad = [w for w in want if not (w in names or (any(ch in w for ch in "*?[") and fnmatch.filter(names, w)))]
    if bad:
        raise SettingsError("layers", f"no layer named or matching {', '.join(bad)}")
    return [n for n in names if any(n == w or fnmatch.fnmatchcase(n, w) for w in want)]


def run_simulate(settings: SimulateSettings | None = None, /, **fields):
    """Simulate as ``settings`` say and write what they ask for (``out``, ``plots``, ``chrome_trace``);
    returns the :class:`accelsim.report.Report`.

    Keyword arguments are a shorthand for fields: ``run_simulate(workload="alexnet", arch="systolic")`` is
    ``run_simulate(SimulateSettings("alexnet", "systolic"))``; with ``settings`` they replace its fields.
    """
    if settings is None:
        settings = SimulateSettings(**fields)
    elif fields:
        settings = dataclasses.replace(settings, **fields)
    s = settings
    from workloads.zoo import resolve

    from .engine import default_jobs, make_model, simulate
    from .outset import OutputSet, check_output_dir, check_output_file
    # what the outputs need is checked before any work, and nothing is created until the results exist
    if s.out is not None:
        check_output_dir("out", s.out)
    if s.chrome_trace is not None:
        check_output_file("chrome_trace", s.chrome_trace)
    if s.jobs is None and not (s.scheduler or s.dask_local):
        default_jobs()  # a bad $ACCELSIM_JOBS fails here, not after loading
    if s.scheduler:  # so does an unreachable scheduler
        from .distributed import probe_scheduler
        probe_scheduler(s.scheduler, 10.0)
    wl = resolve(s.workload, shared=s.shared, seed=s.seed)
    model = make_model(s.arch, list(s.overrides))
    if s.pe_tracks:
        model.record_pe_timeline = True
    layers = select_layers(list(wl.layers), s.layers) if s.layers else None
    if s.images:
        bad = [i for i in s.images if not 0 <= i < wl.n_images]
        if bad:
            raise SettingsError("images", f"{bad} out of range (workload has {wl.n_images})")
    kw = dict(images=s.images, layers=layers, functional=s.functional, jobs=s.jobs, seed=s.seed,
              on_unsupported=s.on_unsupported, progress=s.progress, sample=s.sample)
    if s.scheduler or s.dask_local:
        from .distributed import DaskExecutor
        with DaskExecutor(s.scheduler, s.dask_local) as ex:
            rep = simulate(wl, model, executor=ex, **kw)
    else:
        rep = simulate(wl, model, **kw)
    if s.out:
        # one output set: report, CSV, summary and plots appear together (or, interrupted, not at all)
        from .report_plots import PLOTS, write_report_plots
        with OutputSet(s.out, "simulate", owns=REPORT_FILES + tuple(f"{n}.png" for n in PLOTS)) as stage:
            rep.write(stage)
            if s.plots and rep.results:  # every layer skipped: no plots (empty axes would pass for a result)
                write_report_plots(json.loads(rep.to_json()), stage)
    if s.chrome_trace:
        from workloads.storage import atomic_write_bytes
        atomic_write_bytes(s.chrome_trace, json.dumps(rep.to_chrome_trace()).encode())
    return rep
