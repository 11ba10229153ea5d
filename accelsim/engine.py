"""The model interface every accelerator implements, and ``simulate(workload, arch)``.

A model simulates one layer of one image (:meth:`AcceleratorModel.simulate_layer`)
and returns a :class:`LayerResult`: cycles, a cycle breakdown by cause, action
counts (the energy model multiplies them by the per-action table), compute
counts in Sparseloop vocabulary and, in functional mode, the layer's output.

Compute counts (per layer instance, in MACs):

* ``macs_dense``      algorithmic: the dense count implied by the shape;
* ``macs_effectual``  non-zero weight x non-zero activation x active output;
* ``macs_actual``     what the hardware's multipliers really performed (includes
                      ineffectual work the design cannot skip, e.g. zero activations
                      on Cambricon-X, masked-off outputs on baseline SCNN);
* ``macs_skipped``    ineffectual MACs eliminated with their cycles;
* ``macs_gated``      ineffectual MACs that kept their slot but not their energy.

``simulate`` runs every (layer, image) pair, in parallel processes when there
are many, and returns a :class:`accelsim.report.Report`.
"""

from __future__ import annotations

import copy
import os
import time
from typing import Any, Iterable

import numba
import numpy as np

from workloads import LayerInstance, Workload

from .base import AcceleratorModel, LayerResult, largest_remainder
from .config import ArchConfig, load_arch
from .errors import AccelsimError, UnsupportedLayer
from .limits import check, limit
from .registry import get_model_class

# The hot kernels run their independent units in parallel (numba ``prange``).  Numba's default threading
# layer here is GNU OpenMP, which is not fork-safe: a fork pool (``simulate(jobs>1)``, sweeps) started after
# a parallel kernel ran in the parent kills its workers ("fork() called from a process already using GNU
# OpenMP").  "forksafe" takes TBB when installed, else the workqueue layer (fork-safe, not for concurrent
# kernels from several Python threads, which accelsim never does).  $NUMBA_THREADING_LAYER still wins.
if not os.environ.get("NUMBA_THREADING_LAYER"):
    numba.config.THREADING_LAYER = "forksafe"

__all__ = ["AcceleratorModel", "LayerResult", "largest_remainder", "make_model", "pe_timeline", "finish",
           "run_instance", "simulate", "simulate_pairs", "with_sampling", "default_jobs", "plan_tasks", "run_tasks",
           "make_report"]


def make_model(arch: str | ArchConfig, overrides=None) -> AcceleratorModel:
    """The model instance for a preset name, YAML path or config, with ``--set`` style overrides."""
    cfg = load_arch(arch, overrides)
    model = get_model_class(cfg.model)(cfg)
    check_limits(model)
    return model


def with_sampling(model: AcceleratorModel, sample, seed: int = 0) -> AcceleratorModel:
    """``model`` carrying the sampling spec ``sample`` (a shallow copy; the caller's model is unchanged).
    ``None`` keeps the model's own spec (default: exhaustive)."""
    if sample is None:
        return model
    from .sampling import SampleSpec
    spec = SampleSpec.parse(sample, seed=seed) if not isinstance(sample, SampleSpec) else sample
    import copy
    m = copy.copy(model)
    m.sampling = spec if spec.active else None
    return m


def check_limits(model: AcceleratorModel) -> None:
    """Refuse configs whose per-PE state would not fit (``--set pe_rows=1000000000``) before any
    array is sized by them: :mod:`accelsim.limits` ``max_macs_per_cycle``."""
    cfg = model.cfg
    check("max_macs_per_cycle", model.peak_macs_per_cycle(),
          f"{cfg.file or cfg.name}: peak MACs per cycle of {cfg.name!r} (PEs x multipliers)")


def pe_timeline(pe_busy, pe_stall, round_len, halo, exposed_drain, mem_stall_after) -> dict:
    """The per-PE timeline of one layer in barrier rounds, all in cycles (JSON-ready).

    ``pe_busy[r][pe]``: cycles PE ``pe`` works in round ``r`` (its conflict stalls included, listed
    apart in ``pe_stall``); ``round_len[r]``: the slowest PE's cycles (the barrier); ``halo[r]``,
    ``exposed_drain[r]``: chip-wide phases after the barrier; ``mem_stall_after[r]``: DRAM stall
    cycles after round ``r`` (end of a pass).  Round ``r`` starts at ``round_start[r]``; the
    phases of a round add up to ``round_start[r + 1] - round_start[r]`` and all rounds to the
    layer's cycles."""
    L = np.asarray(round_len, dtype=np.int64) + np.asarray(halo, dtype=np.int64) + \
        np.asarray(exposed_drain, dtype=np.int64) + np.asarray(mem_stall_after, dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(L)[:-1]]) if L.size else L
    return {"round_start": start.tolist(), "round_len": np.asarray(round_len).astype(int).tolist(),
            "halo": np.asarray(halo).astype(int).tolist(), "exposed_drain": np.asarray(exposed_drain).astype(int).tolist(),
            "mem_stall_after": np.asarray(mem_stall_after).astype(int).tolist(),
            "pe_busy": np.asarray(pe_busy).astype(int).tolist(), "pe_stall": np.asarray(pe_stall).astype(int).tolist()}


def finish(model: AcceleratorModel, inst: LayerInstance, res: LayerResult) -> LayerResult:
    """Attach energy (pJ per action) and latency (s) to a model's result."""
    res.energy_pJ = model.energy.rollup(res.actions)
    res.latency_s = res.cycles / model.cfg.clock_hz
    if res.utilization is None:
        res.utilization = model.utilization(res.macs_actual, res.cycles)
    return res


def run_instance(model: AcceleratorModel, inst: LayerInstance, functional: bool = False, seed: int = 0) -> LayerResult:
    """One layer of one image: exhaustive, or sampled when ``model.sampling`` asks for it and the model
    names its work units (:mod:`accelsim.sampling`; functional mode always runs exhaustively)."""
    inst = inst.materialize(seed)
    spec = getattr(model, "sampling", None)
    space = model.sampling_units(inst) if spec is not None and spec.active and not functional else None
    if space is not None:
        from .sampling import sample_layer
        res = sample_layer(model, inst, spec, space, lambda: model.simulate_layer(inst))
    else:
        res = model.simulate_layer(inst, functional=functional)
        if spec is not None and spec.active and not functional:
            res.extra["sampling"] = {"mode": spec.label, "exhaustive": "the model has no sampled path for this "
                                     "layer (its timing is exact without walking every MAC, or not a sum of units)"}
    if inst.synthetic:
        res.extra.setdefault("synthetic", list(inst.synthetic))
    return finish(model, inst, res)


# ------------------------------------------------------------ parallel driver
_G: dict[str, Any] = {}


def _init_worker(model, workload, functional, seed, skip):
    _G.update(model=model, workload=workload, functional=functional, seed=seed, skip=skip)
    # one Numba thread per worker process: the pool already uses the cores (the environment variable is read
    # at Numba's import, too late in a forked child)
    numba.set_num_threads(1)


def _work(task):
    name, image = task
    return _run_or_skip(_G["model"], _G["workload"], name, image, _G["functional"], _G["seed"], _G["skip"])


def _run_or_skip(model, wl, name, image, functional, seed, skip):
    """A LayerResult, or (name, reason) when the model finds the layer unsupported and ``skip`` is set."""
    try:
        return run_instance(model, wl.instance(name, image), functional, seed)
    except UnsupportedLayer as e:
        if not skip:
            raise
        return (name, str(e))


def default_jobs() -> int:
    """Worker processes when none are asked for: ``$ACCELSIM_JOBS`` (a whole number from 1 to the cap
    ``max_jobs``; anything else is a one-line error), else every core."""
    env = os.environ.get("ACCELSIM_JOBS", "").strip()
    if env:
        cap = limit("max_jobs")
        if not (env.isdigit() and 1 <= int(env) <= cap):
            raise AccelsimError(f"$ACCELSIM_JOBS: expected a whole number of worker processes from 1 to {cap:,} "
                                f"(the cap max_jobs), got {env[:40]!r}")
        return int(env)
    return max(1, os.cpu_count() or 1)


def plan_tasks(workload: Workload, model: AcceleratorModel, images: Iterable[int] | None = None,
               layers: Iterable[str] | None = None, on_unsupported: str = "error"):
    """The work of one ``simulate`` call: ``(tasks, skipped, images)``, ``tasks`` the (layer, image) pairs in
    report order, ``skipped`` the layers the model cannot run (``on_unsupported="skip"``; else an error)."""
    imgs = list(range(workload.n_images)) if images is None else list(images)
    names = workload.layer_names() if layers is None else [n for n in workload.layer_names() if n in set(layers)]
    tasks, skipped = [], []
    for i in imgs:
        for n in names:
            reason = model.unsupported_reason(workload.layers[n])
            if reason:
                if on_unsupported == "skip":
                    if i == imgs[0]:
                        skipped.append({"name": n, "reason": reason})
                    continue
                raise UnsupportedLayer(f"{model.cfg.name}: layer {n!r}: {reason}")
            tasks.append((n, i))
    return tasks, skipped, imgs


def run_tasks(model: AcceleratorModel, workload: Workload, tasks, functional: bool = False, seed: int = 0,
              skip: bool = False) -> list:
    """The results of ``tasks`` (layer, image) in order, in this process: a LayerResult each, or
    ``(layer, reason)`` for a layer the model finds unsupported when ``skip`` is set.  The unit of work of
    every executor (local pool, Dask), so all give the same results."""
    return [_run_or_skip(model, workload, n, i, functional, seed, skip) for n, i in tasks]


def make_report(model: AcceleratorModel, workload: Workload, results: list, skipped: list, imgs: list,
                seed: int = 0, functional: bool = False, wall_s: float = 0.0):
    """The Report of a ``simulate`` call from its results in task order (see :func:`plan_tasks`)."""
    from .report import Report
    skipped = list(skipped)
    seen = {s["name"] for s in skipped}
    for r in results:
        if isinstance(r, tuple) and r[0] not in seen:
            seen.add(r[0])
            skipped.append({"name": r[0], "reason": r[1]})
    results = [r for r in results if not isinstance(r, tuple)]
    return Report(model=model, workload=workload, results=results, skipped=skipped, images=imgs, seed=seed,
                  functional=functional, wall_s=wall_s)


def simulate(workload: Workload, arch: str | ArchConfig, overrides=None, *, images: Iterable[int] | None = None,
             layers: Iterable[str] | None = None, functional: bool = False, jobs: int | None = None,
             progress: bool | None = None, seed: int = 0, on_unsupported: str = "error", executor=None,
             sample=None, reuse: dict | None = None):
    """Simulate every (layer, image) of ``workload`` on ``arch``; returns a Report.

    ``jobs``: worker processes (default: all cores; 1 = in-process, the kernels then use Numba's threads; each
    worker process runs them on one thread).  ``on_unsupported``:
    "error" raises for layers the model cannot run, "skip" records them in the report.
    ``executor``: an object whose ``run_batches([(model, workload, tasks, functional, seed, skip)])``
    returns the :func:`run_tasks` results of each batch, in task order (e.g.
    :class:`accelsim.distributed.DaskExecutor`); ``jobs`` is then unused.  Every executor gives the same
    report (same ``report_hash``).  ``sample``: a :class:`accelsim.sampling.SampleSpec` (or ``"off"``,
    ``"auto"``, a fraction) for the models that name their work units; default exhaustive.
    ``reuse``: a dict shared by calls on the same workload (e.g. one per trace across a compare's targets):
    a (layer, image) whose :meth:`~accelsim.base.AcceleratorModel.reuse_key` a call already simulated takes
    that result instead of running again (equal keys give equal results; the report is the same).
    """
    model = arch if isinstance(arch, AcceleratorModel) else make_model(arch, overrides)
    model = with_sampling(model, sample, seed)
    return simulate_pairs([(model, workload)], _LocalExecutor(jobs, progress) if executor is None else executor,
                          seed=seed, on_unsupported=on_unsupported, reuse=reuse, functional=functional,
                          images=images, layers=layers)[0]


class _LocalExecutor:
    """:func:`simulate`'s own executor: each batch on ``jobs`` local processes (:func:`_simulate_tasks`), with
    its progress bar."""

    def __init__(self, jobs: int | None, progress: bool | None):
        self.jobs, self.progress = jobs, progress

    def run_batches(self, batches) -> list:
        return [_simulate_tasks(model, wl, tasks, functional, seed, skip, self.jobs, self.progress, None)
                for model, wl, tasks, functional, seed, skip in batches]


def simulate_pairs(pairs, executor, *, seed: int = 0, on_unsupported: str = "skip", reuse: dict | None = None,
                   functional: bool = False, images: Iterable[int] | None = None,
                   layers: Iterable[str] | None = None) -> list:
    """The Reports of several ``(model, workload)`` pairs, their tasks run together on ``executor`` (its
    ``run_batches``, one batch per pair: a :class:`accelsim.forkpool.ForkPool` or
    :class:`accelsim.distributed.DaskExecutor`): one queue, so the workers idle only at its end, not at the
    end of every pair.  Models are used as given (apply :func:`with_sampling` first).  A task whose
    :meth:`~accelsim.base.AcceleratorModel.reuse_key` an earlier pair's task, or ``reuse`` (a dict, as
    :func:`simulate`'s), already has runs once; the later ones take a copy.  Each report equals
    :func:`simulate`'s for its pair (same ``report_hash``); its ``wall_s`` is the whole call's.  ``images`` /
    ``layers``: as :func:`simulate`'s, for every pair.  (:func:`simulate` is this on one pair.)"""
    for model, _ in pairs:
        check_limits(model)
    plans = [plan_tasks(wl, model, images, layers, on_unsupported) for model, wl in pairs]
    # one pair and no reuse dict: every task's key is its own (they name the layer and image), nothing to share
    share = reuse is not None or len(pairs) > 1
    reuse = {} if reuse is None else reuse
    first: dict = {}        # reuse key -> (pair, position) of the task that runs
    runs, copies = [], []   # per pair: positions that run; (pair, position, key) taking a result
    for p, ((model, wl), (tasks, _, _)) in enumerate(zip(pairs, plans)):
        keep = []
        for j, (n, i) in enumerate(tasks):
            k = None if functional or not share else task_reuse_key(model, wl, n, i, seed)
            if k is not None and (k in first or k in reuse):
                copies.append((p, j, k))
                continue
            if k is not None:
                first[k] = (p, j)
            keep.append(j)
        runs.append(keep)
    skip = on_unsupported == "skip"
    t0 = time.perf_counter()
    batches = [(model, wl, [tasks[j] for j in keep], functional, seed, skip)
               for (model, wl), (tasks, _, _), keep in zip(pairs, plans, runs)]
    ran = executor.run_batches(batches) if any(b[2] for b in batches) else [[] for _ in batches]
    wall = time.perf_counter() - t0
    results = [[None] * len(tasks) for tasks, _, _ in plans]
    for p, keep in enumerate(runs):
        for j, r in zip(keep, ran[p]):
            results[p][j] = r
    for k, (p, j) in first.items():
        if not isinstance(results[p][j], tuple):
            reuse[k] = results[p][j]
    for p, j, k in copies:  # a source that was skipped (a tuple) is skipped again: equal keys, equal layers
        q = first.get(k)
        results[p][j] = copy.deepcopy(reuse[k] if k in reuse else results[q[0]][q[1]])
    return [make_report(model, wl, res, skipped, imgs, seed, functional, wall)
            for (model, wl), (_, skipped, imgs), res in zip(pairs, plans, results)]


def task_reuse_key(model: AcceleratorModel, workload: Workload, name: str, image: int, seed: int):
    """The key of a (layer, image) task in :func:`simulate`'s ``reuse``: the model's own key, with the task,
    the seed (synthetic data) and the workload's content; None when the model shares nothing there."""
    k = model.reuse_key(workload.instance(name, image))
    return None if k is None else (k, workload.content_hash, name, image, seed)


def _simulate_tasks(model, workload, tasks, functional, seed, skip, jobs, progress, executor) -> list:
    """:func:`run_tasks` of ``tasks`` on ``executor``, or on ``jobs`` local processes."""
    if not tasks:
        return []
    if executor is not None:
        return executor.run_batches([(model, workload, tasks, functional, seed, skip)])[0]
    jobs = default_jobs() if jobs is None else max(1, jobs)
    jobs = min(jobs, len(tasks)) or 1
    show = progress if progress is not None else (len(tasks) > 20 and os.isatty(2))
    if jobs == 1:
        it = (_run_or_skip(model, workload, n, i, functional, seed, skip) for n, i in tasks)
        return list(_progress(it, len(tasks), show, f"{model.cfg.name}"))
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    # longest first (LPT scheduling): in layer order, chunks of len / (8 jobs) layers left one worker finishing a
    # chunk of the heads' P3 convs while the other idled.  Chunks of similar layers, 4x smaller than before: the
    # last ones are the smallest layers; one task per chunk made the six exhaustive targets 4-10 % slower at the
    # paper's setting (benchmarks/RESULTS.md sec. 7, seventh pass).  Results go back in task order
    order = sorted(range(len(tasks)), key=lambda j: -task_cost(workload, *tasks[j]))
    out: list = [None] * len(tasks)
    with ctx.Pool(jobs, initializer=_init_worker, initargs=(model, workload, functional, seed, skip)) as pool:
        it = pool.imap(_work, [tasks[j] for j in order], chunksize=max(1, len(tasks) // (jobs * 32)))
        for j, r in zip(order, _progress(it, len(tasks), show, f"{model.cfg.name}")):
            out[j] = r
    return out


def task_cost(workload: Workload, name: str, image: int) -> int:
    """A (layer, image) task's relative cost for scheduling only (never in a result): its dense MACs plus a
    per-input-element term (the layer preparation every model does, which dominates depthwise layers)."""
    L = workload.layers[name]
    return L.macs_dense + 64 * L.C * L.H * L.W


def _progress(it, total, show, label):
    if not show:
        yield from it
        return
    from rich.progress import Progress
    with Progress(transient=True) as p:
        t = p.add_task(f"simulating on {label}", total=total)
        for r in it:
            p.advance(t)
            yield r
