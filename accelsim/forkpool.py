"""Worker processes kept across ``simulate`` calls on the same workloads (the ``executor`` of
:func:`accelsim.engine.simulate`).

``simulate(jobs=N)`` forks a pool per call.  A compare or the paper's setting makes one call per (trace,
target): 27 at the paper's setting, each forking a parent that holds ~7 GB of traces and loading the
targets' compiled kernels afresh in every child.  :class:`ForkPool` forks once, after the workloads exist
(the children inherit them: never pickled) and after the caller has loaded the kernels it needs; each
batch's model travels with its tasks (a few kB pickled).  Every task runs :func:`accelsim.engine.run_tasks`
as a local pool or Dask does, so the reports are the same (same ``report_hash``) for any executor."""

from __future__ import annotations

import multiprocessing as mp
import time
from typing import Any, Iterable

import numba

from workloads import Workload, effectual

from .engine import run_tasks, task_cost

__all__ = ["ForkPool"]

#: the pool's workloads in each child (set before the fork, inherited)
_W: dict[int, Workload] = {}


def _init_child() -> None:
    # one Numba thread per worker process: the pool already uses the cores (engine._init_worker's reason)
    numba.set_num_threads(1)
    # the workloads here are fork-inherited copies nothing writes to: a layer's effectual MACs, which most
    # targets' models count, are counted once per worker (workloads.effectual._MEMO)
    effectual.memoize(True)


def _run_chunk(args):
    bi, idx, model, key, tasks, functional, seed, skip = args
    t0 = time.process_time()
    res = run_tasks(model, _W[key], tasks, functional, seed, skip)
    return bi, idx, res, time.process_time() - t0


class ForkPool:
    """``jobs`` forked worker processes holding ``workloads``; use as a context manager and pass as
    ``simulate(..., executor=pool)`` for those workloads (another workload is an error: it would have to be
    pickled to every child).  Tasks run longest first (:func:`~accelsim.engine.task_cost`), in chunks of one
    batch's tasks, as ``simulate``'s own pool does."""

    #: chunks per worker and batch (simulate's pool: the same)
    chunks_per_job = 32

    def __init__(self, jobs: int, workloads: Iterable[Workload]):
        self.jobs = max(1, int(jobs))
        self.workloads = list(workloads)
        self._ids = {id(w) for w in self.workloads}
        self._pool = None
        #: CPU seconds the workers spent on the tasks so far (for utilisation: jobs x wall - this is idle)
        self.cpu_s = 0.0

    def __enter__(self) -> "ForkPool":
        _W.update({id(w): w for w in self.workloads})
        self._pool = mp.get_context("fork").Pool(self.jobs, initializer=_init_child)
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        for k in self._ids:
            _W.pop(k, None)

    def run_batches(self, batches: list[tuple]) -> list[list[Any]]:
        """``batches``: ``(model, workload, tasks, functional, seed, skip)`` each; the results of each batch's
        tasks in task order (:func:`accelsim.engine.run_tasks`)."""
        if self._pool is None:
            raise RuntimeError("ForkPool: use it as a context manager (with ForkPool(...) as pool)")
        out: list[list[Any]] = [[None] * len(b[2]) for b in batches]
        chunks = []
        for bi, (model, wl, tasks, functional, seed, skip) in enumerate(batches):
            if id(wl) not in self._ids:
                raise ValueError(f"ForkPool: workload {wl.name!r} was not given to the pool when it started")
            order = sorted(range(len(tasks)), key=lambda j: -task_cost(wl, *tasks[j]))
            cs = max(1, len(tasks) // (self.jobs * self.chunks_per_job))
            for c in range(0, len(order), cs):
                idx = order[c:c + cs]
                chunks.append((task_cost(wl, *tasks[idx[0]]),
                               (bi, idx, model, id(wl), [tasks[j] for j in idx], functional, seed, skip)))
        chunks.sort(key=lambda c: -c[0])  # longest first over every batch (stable: ties in batch order)
        for bi, idx, res, cpu in self._pool.imap_unordered(_run_chunk, [c[1] for c in chunks]):
            self.cpu_s += cpu
            for j, r in zip(idx, res):
                out[bi][j] = r
        return out
