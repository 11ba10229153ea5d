"""Every target (accelerator preset) on every row's trace, the iso-throughput GPU peak, and the import
check that runs before anything is measured."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from ..errors import SettingsError
from .constants import GPU_PEAK_MACS, TORCH_NUMPY_ONLY
from .settings import CompareSettings
from .technology import add_datapath_variants


def check_imports(settings: CompareSettings) -> None:
    """Import what tracing, simulating and plotting need before anything is measured: on a GPU
    machine with torch + numpy only, a late ImportError would throw the measurement away."""
    if settings.targets:
        try:
            from workloads import Workload

            from ..config import list_presets
            from ..engine import make_model
            Workload("import check")                     # networkx (the layer graph, imported lazily)
            for t in sorted(set(settings.targets) & set(list_presets())):
                make_model(t)                            # yaml, numba (the models' kernels)
        except ImportError as e:
            raise SettingsError("targets", f"simulating needs {e.name or e}, which is not importable here; "
                                           f"{TORCH_NUMPY_ONLY}") from None
    if settings.targets and settings.scheduler:  # an unreachable scheduler fails before the measurement
        from ..distributed import probe_scheduler
        probe_scheduler(settings.scheduler, 10.0)
    if settings.plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError as e:
            raise SettingsError("plots", f"needed here, the plots need {e.name or e}, which is not "
                                         f"importable; {TORCH_NUMPY_ONLY}") from None


def gpu_model(device_name: str) -> str | None:
    """The GPU_PEAK_MACS key naming the device, matched as a whole token of its name ("NVIDIA L40S"
    is not an "L4", "Tesla V100-SXM2-16GB" is a "V100"); None when no key is a token of it."""
    tokens = set(re.split(r"[^A-Z0-9]+", device_name.upper()))
    return next((k for k in GPU_PEAK_MACS if k.upper() in tokens), None)


def gpu_peak(device: dict, tmacs: float | None = None) -> tuple[float, str]:
    """``(peak MAC/s, where it comes from)`` of the GPU the accelerators are scaled to for the
    iso-throughput columns: ``tmacs`` (TMAC/s) when given, else the measured GPU's data sheet, else
    the paper's V100."""
    if tmacs:
        return tmacs * 1e12, "--gpu-peak-tmacs"
    known = gpu_model(device.get("name") or "") if device.get("kind") == "gpu" else None
    if known:
        return GPU_PEAK_MACS[known], "data sheet of the measured GPU"
    return GPU_PEAK_MACS["V100"], "V100 FP32 data sheet (the paper's GPU)"


@dataclass
class Simulations:
    """Reports of every (row, target) pair, with what :func:`accelsim.compare.tables.assemble` needs."""

    reports: dict = field(default_factory=dict)
    """``{(row, target): Report}``; targets ``<preset>@iso`` are the iso-throughput re-simulations"""
    missing: list = field(default_factory=list)
    """targets without a preset (skipped)"""
    peaks: dict = field(default_factory=dict)
    """``{target: peak MAC/s}`` at the target's clock"""
    iso_overrides: dict = field(default_factory=dict)
    """``{"<preset>@iso": overrides}`` of the re-simulated targets"""
    datapath_overrides: dict = field(default_factory=dict)
    """``{"<preset>@16b": overrides}`` of the datapath-width variants (``--normalize``)"""
    notes: list = field(default_factory=list)
    """lines for the technology section (e.g. a target whose width cannot change)"""


def simulate_targets(traces: dict, settings: CompareSettings, log=lambda msg: None,
                     gpu_peak_macs: float | None = None) -> Simulations:
    """Simulate every row's trace on every target of ``settings`` (and, with ``iso_resimulate``, on the
    target scaled by its model's ``iso_overrides`` to ``gpu_peak_macs``)."""
    out = Simulations()
    if not settings.targets:  # measurement only: a GPU machine may have torch + numpy and nothing else
        return out
    from ..config import list_presets
    from ..engine import make_model, simulate

    presets = set(list_presets())
    overrides = settings.overrides_by_target
    work = []  # (row, label, model, workload) in report order
    for t in settings.targets:
        if t not in presets:
            out.missing.append(t)
            continue
        base = make_model(t, overrides.get(t) or None)
        variants = [(t, base)]
        out.peaks[t] = base.peak_macs_per_cycle() * base.cfg.clock_hz
        if settings.iso_resimulate and gpu_peak_macs:
            ov = base.iso_overrides(gpu_peak_macs / out.peaks[t])
            if ov:
                m = make_model(base.cfg, ov)
                out.iso_overrides[f"{t}@iso"] = ov
                out.peaks[f"{t}@iso"] = m.peak_macs_per_cycle() * m.cfg.clock_hz
                variants.append((f"{t}@iso", m))
        variants += add_datapath_variants(t, base, settings, out)
        from ..engine import with_sampling  # here, not at the top: measurement-only runs have no numba
        variants = [(label, with_sampling(model, settings.sample, settings.seed)) for label, model in variants]
        work += [(name, label, model, wl) for label, model in variants for name, wl in traces.items()]

    def done(name, label, wl, rep, wall):
        out.reports[(name, label)] = rep
        log(f"simulated {name} on {label}: {rep.total()['latency_s'] * 1e3 / max(1, wl.n_images):.3f} "
            f"ms/image" + ("" if wall is None else f" ({wall:.1f} s wall)"))

    from ..engine import default_jobs, simulate_pairs
    pairs = [(model, wl) for _, _, model, wl in work]
    jobs = default_jobs() if settings.jobs is None else settings.jobs
    dask = bool(settings.scheduler or settings.dask_local)
    if dask or (jobs > 1 and len(work) > 1):
        # every (row, target) in one queue (image x model x target units): on the Dask cluster of ``settings``,
        # or on one local pool forked once with the traces (a pool per simulate call forked a ~7 GB parent 27
        # times at the paper's setting, and its workers idled at the end of every call).  A layer whose
        # reuse_key an earlier pair's has runs once (scnn-maskskip on an unmasked layer is SCNN; equal results)
        if dask:
            from ..distributed import DaskExecutor
            ex = DaskExecutor(settings.scheduler, settings.dask_local)
        else:
            from ..forkpool import ForkPool
            ex = ForkPool(jobs, traces.values())
        with ex as run_on:
            if dask:
                log(f"Dask: {run_on.n_workers} worker(s), {len(work)} (model, target) pairs")
            reps = simulate_pairs(pairs, run_on, seed=settings.seed)
        for (name, label, _, wl), rep in zip(work, reps):
            done(name, label, wl, rep, None)  # one queue: no wall of its own
        if reps:
            log(f"simulated {len(reps)} (row, target) pairs in {reps[0].wall_s:.1f} s wall")
        return out
    # one process: pair by pair, sharing results through reuse as above
    reuse: dict = {}
    for name, label, model, wl in work:
        t0 = time.perf_counter()
        rep = simulate(wl, model, jobs=settings.jobs, seed=settings.seed, on_unsupported="skip", progress=False,
                       reuse=reuse)
        done(name, label, wl, rep, time.perf_counter() - t0)
    return out
