"""Shared helpers of the bad-input suite (``tests/robustness/``).

Every bad input must give exit code 2, exactly one line on stderr naming the file and the field, no
traceback, no file left behind and bounded memory.  The helpers:

``run_cli(*args, module="accelsim", env=None, cwd=None, timeout=120, mem_limit_mb=None) -> Result``
    Runs ``python -m <module> *args`` in a subprocess (``module=None``: ``python -c CODE *args``, as
    ``run_cli("-c", code, *args, module=None)``; one thread per library, so the shared machine stays
    usable).  ``env`` entries are added to a copy of the environment (a value of None removes the
    variable).  ``mem_limit_mb`` caps the child's address space (``RLIMIT_AS``): an input that makes the
    tool allocate past it fails with MemoryError instead of taking the machine down.  The result has
    ``returncode``, ``stdout``, ``stderr``, ``stderr_lines``, ``maxrss_mb``, ``wall_s`` and ``args``.
    ``maxrss_mb`` is the child's own peak RSS: ``VmHWM`` of its program, written at exit by a small
    bootstrap that then runs the module as ``python -m`` would (``runpy``); ``ru_maxrss`` from ``wait4``
    would not do, as Linux carries the forking test process's RSS across ``exec`` into it (that is the
    fallback where ``/proc`` is missing).

``assert_one_line_error(result, *must_contain, code=2)``
    The promised shape of a bad-input error: exit ``code``, one non-empty stderr line, no ``Traceback``,
    and each string of ``must_contain`` in that line (case-sensitive; pass the file name and the field).
    Returns the line.

``snapshot(folder) -> set`` / ``assert_no_leftovers(folder, before)``
    Every path under ``folder`` (hidden ``.tmp`` files included); ``assert_no_leftovers`` fails when a
    path appeared since ``before``.

``one_line(exc) -> str``
    ``str(exc)`` checked to be one non-empty line (for in-process calls that raise).

``raises_one_line(exc_type, fn, *args, must=(), **kwargs) -> str``
    ``fn(*args, **kwargs)`` must raise ``exc_type`` with a one-line message holding every string of
    ``must`` (pass the file and the field); returns the message.

``robust_settings``
    The hypothesis settings of this folder: few examples (CI-fast) and derandomized; set
    ``ACCELSIM_FULL=1`` for 10x more.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

FULL = bool(os.environ.get("ACCELSIM_FULL"))

robust_settings = settings(max_examples=200 if FULL else 20, deadline=None, derandomize=True, database=None,
                           suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                  HealthCheck.data_too_large])

_ONE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "ACCELSIM_JOBS": "1", "PYTHONFAULTHANDLER": None}


@dataclass
class Result:
    args: tuple
    returncode: int
    stdout: str
    stderr: str
    maxrss_mb: float
    wall_s: float
    stderr_lines: list = field(default_factory=list)

    def __post_init__(self):
        self.stderr_lines = [ln for ln in self.stderr.splitlines() if ln.strip()]

    def __str__(self) -> str:  # what a failing assert shows
        return (f"{' '.join(map(str, self.args))}\n  rc={self.returncode} maxrss={self.maxrss_mb:.0f} MB "
                f"wall={self.wall_s:.1f}s\n  stdout: {self.stdout[-2000:]!r}\n  stderr: {self.stderr[-4000:]!r}")


def _child_env(env):
    e = dict(os.environ)
    for k, v in {**_ONE_THREAD, **(env or {})}.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = str(v)
    return e


#: runs ``-m MODULE ARGS`` or ``-c CODE ARGS`` like the interpreter would, and writes the program's peak RSS
#: (``VmHWM``, kB) to the file named by ``$_ROBUST_HWM_FILE`` at exit
_BOOTSTRAP = r"""
import atexit, os, runpy, sys
def _hwm(path=os.environ.pop("_ROBUST_HWM_FILE", "")):
    try:
        with open("/proc/self/status") as f:
            kb = next(ln.split()[1] for ln in f if ln.startswith("VmHWM:"))
        with open(path, "w") as f:
            f.write(kb)
    except (OSError, StopIteration):
        pass
atexit.register(_hwm)
mode, target, *rest = sys.argv[1:]
if mode == "-m":
    sys.argv = [target, *rest]
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    sys.argv = ["-c", *rest]
    exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
"""


def run_cli(*args, module: str = "accelsim", env: dict | None = None, cwd=None, timeout: float = 120,
            mem_limit_mb: int | None = None) -> Result:
    """``python -m <module> *args`` in a subprocess; see the module doc."""
    cmd = [sys.executable, *(("-m", module) if module else ()), *map(str, args)]
    if module is None and (len(args) < 2 or args[0] != "-c"):
        raise ValueError("run_cli(module=None) takes '-c', CODE, *args")
    hwm = tempfile.NamedTemporaryFile(prefix="robust_hwm_", delete=False)
    hwm.close()
    child_env = {**(env or {}), "_ROBUST_HWM_FILE": hwm.name}
    run = [sys.executable, "-c", _BOOTSTRAP, *cmd[1:]]

    def limit():
        if mem_limit_mb:
            b = int(mem_limit_mb) << 20
            resource.setrlimit(resource.RLIMIT_AS, (b, b))

    t0 = time.perf_counter()
    p = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         env=_child_env(child_env), cwd=cwd, preexec_fn=limit if mem_limit_mb else None)
    bufs = {"out": b"", "err": b""}

    def pump(stream, key):
        bufs[key] = stream.read()

    threads = [threading.Thread(target=pump, args=(p.stdout, "out"), daemon=True),
               threading.Thread(target=pump, args=(p.stderr, "err"), daemon=True)]
    for t in threads:
        t.start()
    deadline = t0 + timeout
    while True:  # wait4 (not communicate) so the rusage is this child's, not all children's
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            for t in threads:
                t.join(5)
            os.unlink(hwm.name)
            pytest.fail(f"timed out after {timeout}s: {' '.join(cmd)}\nstderr: {bufs['err'][-2000:]!r}")
        time.sleep(0.02)
    for t in threads:
        t.join(10)
    p.returncode = os.waitstatus_to_exitcode(status)
    try:
        kb = float(Path(hwm.name).read_text() or ru.ru_maxrss)
    finally:
        os.unlink(hwm.name)
    return Result(args=tuple(cmd[1:]), returncode=p.returncode, stdout=bufs["out"].decode(errors="replace"),
                  stderr=bufs["err"].decode(errors="replace"), maxrss_mb=kb / 1024,
                  wall_s=time.perf_counter() - t0)


def assert_one_line_error(result: Result, *must_contain: str, code: int = 2) -> str:
    """Exit ``code``, exactly one stderr line, no traceback, every ``must_contain`` in it; returns the line."""
    assert result.returncode == code, f"expected exit {code}\n{result}"
    assert "Traceback" not in result.stderr, f"traceback\n{result}"
    assert len(result.stderr_lines) == 1, f"expected one stderr line\n{result}"
    line = result.stderr_lines[0]
    for s in must_contain:
        assert str(s) in line, f"{s!r} not in the error line\n{result}"
    return line


def one_line(exc: BaseException) -> str:
    """``str(exc)``, checked to be one non-empty line without a traceback."""
    s = str(exc)
    assert s.strip() and "\n" not in s and "Traceback" not in s, repr(s)
    return s


def raises_one_line(exc_type, fn, *args, must=(), **kwargs) -> str:
    """``fn(*args, **kwargs)`` raises ``exc_type`` whose message is one line containing each of ``must``."""
    with pytest.raises(exc_type) as e:
        fn(*args, **kwargs)
    msg = one_line(e.value)
    for s in must:
        assert str(s) in msg, f"{s!r} not in {msg!r}"
    return msg


def snapshot(folder) -> set:
    folder = Path(folder)
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def assert_no_leftovers(folder, before: set = frozenset()) -> None:
    new = snapshot(folder) - set(before)
    assert not new, f"left behind under {folder}: {sorted(new)}"


# ------------------------------------------------------------------ in-process CLI (appended for test_cli_inputs.py /
# test_config_inputs.py)
def run_main(capsys, *args, module: str = "accelsim") -> Result:
    """``accelsim.cli.main(args)`` in this process (fast: no interpreter start), captured by ``capsys``,
    as a :class:`Result` for :func:`assert_one_line_error` (``maxrss_mb`` is 0: not measured)."""
    import importlib
    main = importlib.import_module(f"{module}.cli").main
    capsys.readouterr()
    t0 = time.perf_counter()
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:  # argparse errors exit from inside the parser
        rc = e.code
    out = capsys.readouterr()
    return Result(args=tuple(map(str, args)), returncode=rc, stdout=out.out, stderr=out.err, maxrss_mb=0.0,
                  wall_s=time.perf_counter() - t0)


@pytest.fixture(scope="session")
def tiny_npz(tmp_path_factory) -> Path:
    """A two-layer density-only workload file (a 4x4x6x6 conv and a 16->8 fc): simulates in milliseconds."""
    from workloads import Layer, Workload
    wl = Workload("tiny")
    wl.add_layer(Layer("c", "conv", C=4, K=4, H=6, W=6, R=3, S=3, padding=1, weight_density=0.5, act_density=0.5))
    wl.add_layer(Layer("f", "fc", C=16, K=8, weight_density=0.5, act_density=0.5), deps=["c"])
    p = tmp_path_factory.mktemp("tiny") / "tiny.npz"
    wl.save(p)
    return p
