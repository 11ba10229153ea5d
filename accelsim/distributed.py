"""Dask clusters for ``simulate``, ``compare`` and ``sweep``: connecting (``--scheduler ADDRESS``) or starting
one (``--dask-local N``), and :class:`DaskExecutor`, which runs the (layer, image) work of
:func:`accelsim.engine.simulate` calls on the cluster.

Work units: each batch (one model on one workload, the tasks of :func:`accelsim.engine.plan_tasks`) is cut
into contiguous runs of (layer, image) tasks of one image, each run at most ``1 / (units_per_worker x
workers)`` of the whole batch set's dense MACs (a layer larger than that is a unit of its own).  So a
compare run spreads image x model x target over the workers, and a large layer does not wait behind a
queue of small ones.  Models and workloads go to every worker once (``scatter(broadcast=True)``); a unit
carries only their futures and its task list.  Each unit runs :func:`accelsim.engine.run_tasks`, the same
function the local executors run, and results are put back in task order, so a report is the same (same
``report_hash``) whatever the cluster, the number of workers or the order units finish in.

Security: results come back from the cluster as pickles that this process unpickles, so the scheduler and
its workers must be trusted (they can run code in this process).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import AccelsimError, SettingsError

__all__ = ["SCHEDULER_SCHEMES", "check_scheduler", "check_cluster", "probe_scheduler", "DaskCluster",
           "DaskExecutor", "plan_units"]

SCHEDULER_SCHEMES = ("tcp://", "tls://", "inproc://", "ucx://")
#: HOST:PORT of a network scheduler address: a host name, an IPv4 address or a bracketed IPv6 address
_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})):(\d{1,5})$")


def check_scheduler(field_name: str, v) -> str | None:
    """A Dask scheduler address: ``tcp://HOST:PORT`` (or tls://, ucx://) with a port 1..65535, or an
    ``inproc://`` address of this process; anything else is a one-line SettingsError."""
    if v is None:
        return None
    if not isinstance(v, str) or not v.startswith(SCHEDULER_SCHEMES):
        raise SettingsError(field_name, f"expected tcp://HOST:PORT, got {v!r}")
    scheme, _, rest = v.partition("://")
    if scheme == "inproc":
        if not rest or any(c.isspace() for c in rest):
            raise SettingsError(field_name, f"expected inproc://ADDRESS, got {v!r}")
        return v
    m = _HOST_PORT.match(rest)
    if not m or not 1 <= int(m.group(1)) <= 65535:
        raise SettingsError(field_name, f"expected {scheme}://HOST:PORT with a port from 1 to 65535, got {v!r}")
    return v


def check_cluster(scheduler, dask_local, jobs=None) -> None:
    """The ``scheduler`` / ``dask_local`` fields of a settings object: an address, a worker count from 1 to
    the cap ``max_jobs``, not both, and not with ``jobs`` (local processes) either."""
    from .errors import check_int
    from .limits import limit
    check_scheduler("scheduler", scheduler)
    check_int("dask_local", dask_local, 1, optional=True, hi=limit("max_jobs"))
    if scheduler is not None and dask_local is not None:
        raise SettingsError("dask_local", "not allowed with scheduler (one Dask cluster or the other)")
    if jobs is not None and (scheduler is not None or dask_local is not None):
        raise SettingsError("jobs", "not allowed with a Dask cluster (scheduler or dask_local sets the workers)")


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def probe_scheduler(address: str, timeout: float) -> None:
    """Connect to ``address`` and complete the Dask handshake within ``timeout`` seconds, else a one-line
    SettingsError naming the address (``inproc://`` addresses live in this process: not probed)."""
    if address.startswith("inproc://"):
        return
    import asyncio
    import concurrent.futures

    from distributed.comm import connect
    from distributed.security import Security

    async def handshake():
        comm = await connect(address, timeout=timeout, **Security().get_connection_args("client"))
        await comm.close()

    def run():  # a fresh event loop in its own thread: safe when the caller runs one already
        asyncio.run(asyncio.wait_for(handshake(), timeout))

    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        pool.submit(run).result(timeout + 5)
    except (asyncio.TimeoutError, TimeoutError, concurrent.futures.TimeoutError):
        raise SettingsError("scheduler", f"{address}: no Dask handshake within {timeout:g} s (not a Dask "
                                         f"scheduler, or not answering)") from None
    except Exception as e:  # noqa: BLE001 - refused, unreachable, not Dask, TLS failure: one line naming it
        raise SettingsError("scheduler", f"cannot reach {address}: {_one_line(e)}") from None
    finally:
        pool.shutdown(wait=False)


class DaskCluster:
    """A Dask client on ``scheduler`` (an address) or on a fresh LocalCluster of ``n_local`` processes (one
    thread each, Numba and BLAS limited to one thread); a context manager that closes both.

    ``timeout`` (seconds) bounds both the connection and the Dask handshake with ``scheduler``: Dask's own
    connect timeout does not cover the handshake, so an address that accepts the connection and then says
    nothing would hang forever; :func:`probe_scheduler` checks it first, within ``timeout``.
    Security: results come back from the cluster as pickles, so the scheduler and its workers must be
    trusted (they can run code in this process)."""

    def __init__(self, scheduler: str | None = None, n_local: int | None = None, timeout: float = 10.0):
        try:
            from dask.distributed import Client
        except ImportError as e:  # pragma: no cover - dask is a declared dependency
            raise AccelsimError(f"Dask distributed is unavailable: {e}") from None
        self.cluster = None
        if scheduler:
            probe_scheduler(scheduler, timeout)
            try:
                self.client = Client(scheduler, timeout=f"{timeout}s")
            except Exception as e:  # noqa: BLE001 - any failure to connect is one line naming the address
                raise SettingsError("scheduler", f"cannot reach {scheduler}: {_one_line(e)}") from None
        else:
            self.cluster = _local_cluster(int(n_local))
            self.client = Client(self.cluster)

    @property
    def n_workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def close(self):
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _task_cost(workload, task) -> int:
    return int(workload.layers[task[0]].macs_dense) + 1


def plan_units(batches, n_units: int) -> list[tuple[int, int, int]]:
    """Work units ``(batch, start, stop)`` over the tasks of ``batches`` (``(model, workload, tasks, ...)``):
    contiguous runs of one image's tasks, each at most ``total dense MACs / n_units`` unless it is a single
    layer.  Deterministic (the units depend on the batches only)."""
    costs = [[_task_cost(b[1], t) for t in b[2]] for b in batches]
    cap = max(1, sum(map(sum, costs)) // max(1, n_units))
    units = []
    for bi, b in enumerate(batches):
        tasks, start, acc = b[2], 0, 0
        for k, t in enumerate(tasks):
            if k > start and (t[1] != tasks[start][1] or acc + costs[bi][k] > cap):
                units.append((bi, start, k))
                start, acc = k, 0
            acc += costs[bi][k]
        if start < len(tasks):
            units.append((bi, start, len(tasks)))
    return units


def _run_unit(model, workload, tasks, functional, seed, skip):
    """``(results, CPU s)`` of one unit on a worker."""
    import time

    from workloads import effectual

    from .engine import run_tasks
    # the worker's workloads are scattered copies nothing writes to (as a ForkPool child's): a layer's
    # effectual MACs, which most targets' models count, are counted once per worker (workloads.effectual)
    if not effectual.memoizing():
        effectual.memoize(True)
    t0 = time.process_time()
    res = run_tasks(model, workload, tasks, functional, seed, skip)
    return res, time.process_time() - t0


def _available_memory() -> int | None:
    """Bytes of memory available to new processes now (psutil, a dependency of Dask's distributed), or None."""
    try:
        import psutil
        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - no estimate: no check
        return None


def _local_cluster(n: int):
    """A LocalCluster of ``n`` one-thread worker processes whose glibc keeps its malloc defaults.

    Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_ set (``distributed.nanny.pre-spawn-environ``),
    which also switches off glibc's dynamic mmap threshold: every array over 128 KiB then comes from fresh,
    zero-filled pages, and the models allocate such arrays per layer (at 400x672, 1.8x the CPU s of a fork
    pool on the same units, most of it in the kernel).  The variable is unset in the config and, for the
    spawn, in this process's environment too: a nanny writes its variables into the environment of the
    process it runs in (here, this one), so an earlier cluster would otherwise pass its value on."""
    import os

    import dask
    from dask.distributed import LocalCluster
    saved = os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):  # unset
            return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                silence_logs=40, env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    finally:
        if saved is not None:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = saved


class DaskExecutor(DaskCluster):
    """Runs the batches of :func:`accelsim.engine.simulate` calls on a Dask cluster (the ``executor`` of
    ``simulate``); see the module doc for the work units."""

    #: work units per worker (more: better balance, more scheduling overhead)
    units_per_worker = 4
    #: CPU seconds the workers spent on units so far (as :attr:`accelsim.forkpool.ForkPool.cpu_s`)
    cpu_s = 0.0

    def _check_local_memory(self, batches: list[tuple]) -> None:
        """On a cluster started here, every worker gets its own copy of every workload (this machine's memory
        holds them all, beside this process's): refuse before scattering when the copies need more than 90 %
        of the memory available now, as a one-line SettingsError naming ``dask_local``."""
        if self.cluster is None:
            return
        seen = {id(b[1]): b[1] for b in batches}
        need = self.n_workers * sum(w.nbytes() for w in seen.values() if hasattr(w, "nbytes"))
        avail = _available_memory()
        if avail is not None and need > 0.9 * avail:
            raise SettingsError("dask_local", f"{self.n_workers} workers each holding a copy of the workloads need "
                                              f"{need / 2 ** 30:.1f} GiB, more than 90 % of the {avail / 2 ** 30:.1f} "
                                              f"GiB available; use jobs (a fork pool shares them) or fewer workers")

    def run_batches(self, batches: list[tuple]) -> list[list[Any]]:
        """``batches``: ``(model, workload, tasks, functional, seed, skip)`` each; returns the results of each
        batch's tasks in task order (as :func:`accelsim.engine.run_tasks` would)."""
        from dask.distributed import as_completed
        out: list[list[Any]] = [[None] * len(b[2]) for b in batches]
        units = plan_units(batches, self.units_per_worker * max(1, self.n_workers))
        if not units:
            return out
        self._check_local_memory(batches)
        shipped: dict[int, Any] = {}  # id(object) -> future, each model and workload once per worker

        def ship(obj):
            if id(obj) not in shipped:
                shipped[id(obj)] = self.client.scatter(obj, broadcast=True, hash=False)
            return shipped[id(obj)]

        futs = {}
        for u in units:
            model, wl, tasks, functional, seed, skip = batches[u[0]]
            f = self.client.submit(_run_unit, ship(model), ship(wl), tasks[u[1]:u[2]], functional, seed, skip,
                                   pure=False)
            futs[f] = u
        try:
            for f in as_completed(list(futs)):
                bi, start, stop = futs[f]
                try:
                    res = f.result()
                except Exception as e:  # noqa: BLE001 - a worker lost is one line; the model's errors pass
                    if type(e).__name__ in ("KilledWorker", "CommClosedError", "FutureCancelledError"):
                        raise AccelsimError(f"Dask: {_one_line(e)}") from None
                    raise
                out[bi][start:stop], cpu = res
                self.cpu_s += cpu
        finally:
            for f in futs:
                f.cancel()
            for f in shipped.values():
                f.release()
        return out
