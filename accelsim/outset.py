"""Output paths checked before any work, and atomic output sets: the files a command writes to one
``--out`` folder appear together or not at all.

:func:`check_output_dir` / :func:`check_output_file` run before a command does anything: a folder
that is a file, a file name that is a folder, or a place that cannot be written is a one-line
:class:`~accelsim.errors.SettingsError` naming the field (the CLI names the flag), and nothing is
created.

:class:`OutputSet` stages a command's files in a hidden folder beside the output folder
(``.<name>.accelsim-<pid>-<random>.tmp``) and publishes them when the command has finished:

* a new (or empty) output folder is the staged folder renamed into place, in one step;
* an existing folder (a rerun, or a folder that also holds other files, such as a sweep's point cache)
  gets :data:`MANIFEST` rewritten as incomplete first, then the staged files renamed in, then the files
  of an earlier set that this one does not have removed, then the manifest rewritten as complete --
  with SIGINT, SIGTERM and SIGHUP held off meanwhile, so Ctrl-C or ``kill`` cannot cut it short.

:data:`MANIFEST` (``manifest.json``) lists every file of the set with its size and sha256; readers
call :func:`check_member` so a file of an unfinished or mixed set is refused.  A failure or an interrupt
(an exception, Ctrl-C, SIGTERM through the CLI) removes the staging folder and any parent folders the
set created; one left by a process killed outright (SIGKILL) is removed by the next command that writes
beside it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from .errors import AccelsimError, SettingsError

MANIFEST = "manifest.json"
FORMAT = "accelsim-output-set"
_HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


# ------------------------------------------------------------------ checks before any work
def _nearest_existing(p: Path) -> Path:
    p = Path(os.path.abspath(p))
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def _writable_here(field: str, target: Path, where: Path) -> None:
    """SettingsError unless a folder can be created in ``where`` (an existing path); leaves nothing."""
    if not where.is_dir():
        raise SettingsError(field, f"{target}: {where} is not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".accelsim-probe-", dir=where)
    except OSError as e:
        raise SettingsError(field, f"{target}: cannot write in {where} ({e.strerror or type(e).__name__})") from None
    os.rmdir(probe)


def check_output_dir(field: str, path) -> Path:
    """``path`` as an output folder that can be written: an existing folder, or a new one whose nearest
    existing parent is a writable folder.  Creates nothing."""
    p = Path(path)
    if not str(path):
        raise SettingsError(field, "empty path (give a folder name)")
    if os.path.lexists(p) and not p.is_dir():
        raise SettingsError(field, f"{p} exists and is not a folder")
    _writable_here(field, p, p if p.is_dir() else _nearest_existing(p))
    return p


def check_output_file(field: str, path) -> Path:
    """``path`` as an output file name: not a folder, not ending in a separator, in a folder that exists
    or can be created and written.  Creates nothing."""
    s = str(path)
    p = Path(path)
    if not s:
        raise SettingsError(field, "empty path (give a file name)")
    if p.is_dir() or s.endswith(("/", os.sep)):
        raise SettingsError(field, f"{p} is a folder, expected a file name")
    if os.path.lexists(p) and not p.is_file():
        raise SettingsError(field, f"{p} exists and is not a regular file")
    _writable_here(field, p, _nearest_existing(Path(os.path.abspath(p)).parent))
    return p


# ------------------------------------------------------------------ atomic output sets
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: Path, stem: str) -> None:
    """Remove ``.<stem>.accelsim-<pid>-*.tmp`` staging folders in ``folder`` whose process is gone."""
    pat = re.compile(re.escape(f".{stem}.accelsim-") + r"(\d+)-.*\.tmp$")
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for e in entries:
        m = pat.match(e.name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(e.path, ignore_errors=True)


@contextmanager
def signals_held():
    """Hold SIGINT/SIGTERM/SIGHUP until the block ends (main thread; elsewhere a no-op): a handler that
    raises then runs after the block, never inside it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _write_json_atomic(path: Path, data: dict) -> None:
    from workloads.storage import atomic_write_bytes
    atomic_write_bytes(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def read_manifest(folder) -> dict | None:
    """The manifest of an output folder (None: none there, or not one of ours)."""
    p = Path(folder) / MANIFEST
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(d, dict) or d.get("format") != FORMAT or not isinstance(d.get("files"), dict):
        return None
    return d


class OutputSet:
    """Stage the files of one command in a hidden folder beside ``out``; publish them on success.

    ``with OutputSet(out, "simulate", owns=("report.json", "*.png")) as stage: write into stage``.
    ``owns``: name patterns of files this command writes; on a rerun into the same folder, files that
    match and that the new set does not have are removed (a run without plots does not keep the PNGs of
    an earlier one).  ``field``: the settings field named in errors (the CLI names its flag).
    """

    def __init__(self, out, command: str, owns: tuple[str, ...] = (), field: str = "out"):
        self.out = Path(out)
        self.command, self.owns, self.field = command, tuple(owns), field
        self.stage: Path | None = None
        self._made: list[Path] = []  # parent folders this set created (removed again on failure)

    def __enter__(self) -> Path:
        check_output_dir(self.field, self.out)
        parent = Path(os.path.abspath(self.out)).parent
        missing = []
        p = parent
        while not os.path.lexists(p) and p != p.parent:
            missing.append(p)
            p = p.parent
        try:
            for d in reversed(missing):
                d.mkdir()
                self._made.append(d)
            remove_stale(parent, self.out.name)
            self.stage = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.accelsim-{os.getpid()}-", suffix=".tmp",
                                               dir=parent))
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.stage, 0o777 & ~umask)  # mkdtemp makes it 0700; it becomes the output folder
        except OSError as e:
            self._cleanup()
            raise SettingsError(self.field, f"{self.out}: cannot write here ({e.strerror or type(e).__name__})") \
                from None
        except BaseException:
            self._cleanup()
            raise
        return self.stage

    def __exit__(self, et, ev, tb):
        ok = False
        try:
            if et is None:
                self._publish()
                ok = True
        finally:
            self._cleanup(keep_parents=ok)
        return False

    def _cleanup(self, keep_parents: bool = False) -> None:
        if self.stage is not None and self.stage.exists():
            shutil.rmtree(self.stage, ignore_errors=True)
        if not keep_parents:
            for d in reversed(self._made):
                try:
                    d.rmdir()
                except OSError:
                    break

    def _publish(self) -> None:
        stage, out = self.stage, self.out
        names = sorted(e.name for e in os.scandir(stage))
        if MANIFEST in names:
            raise AccelsimError(f"{self.command}: {MANIFEST} is the output set's own file name")
        files = {n: {"bytes": (stage / n).stat().st_size, "sha256": _sha256(stage / n)} for n in names
                 if (stage / n).is_file()}
        manifest = {"format": FORMAT, "version": 1, "command": self.command, "complete": True, "files": files}
        _write_json_atomic(stage / MANIFEST, manifest)
        if not os.path.lexists(out) or (out.is_dir() and not any(os.scandir(out))):
            try:
                os.replace(stage, out)  # one step: the whole set appears at once
                return
            except OSError:
                pass  # the folder appeared (or filled) meanwhile: merge below
        old = read_manifest(out) or {"files": {}}
        with signals_held():
            _write_json_atomic(out / MANIFEST, {**manifest, "complete": False, "files": {}})
            for n in names:
                os.replace(stage / n, out / n)
            for e in list(os.scandir(out)):
                stale = e.name in old["files"] or any(fnmatch.fnmatchcase(e.name, pat) for pat in self.owns)
                if stale and e.name not in files and e.name != MANIFEST and e.is_file(follow_symlinks=False):
                    os.unlink(e.path)
            _write_json_atomic(out / MANIFEST, manifest)


def check_member(path, label: str = "") -> None:
    """AccelsimError when ``path`` belongs to an output folder whose manifest says the set is unfinished,
    does not list it, or lists other content for it (a file of another run).  A folder without a
    manifest (written by hand or by an older accelsim) is accepted."""
    p = Path(path)
    folder = p.parent
    if not (folder / MANIFEST).exists():
        return
    prefix = f"{label}: {p}" if label else str(p)
    m = read_manifest(folder)
    if m is None:
        raise AccelsimError(f"{prefix}: {folder / MANIFEST} is unreadable (the output set cannot be checked)")
    if not m.get("complete"):
        raise AccelsimError(f"{prefix}: its output set is incomplete ({folder / MANIFEST}: a write was interrupted; "
                            f"rerun the command that wrote it)")
    entry = m["files"].get(p.name)
    if not isinstance(entry, dict):
        raise AccelsimError(f"{prefix}: not part of the output set listed in {folder / MANIFEST}")
    if not p.is_file() or _sha256(p) != entry.get("sha256"):
        raise AccelsimError(f"{prefix}: its content differs from the one recorded in {folder / MANIFEST} "
                            f"(a file of another run, or edited since)")
