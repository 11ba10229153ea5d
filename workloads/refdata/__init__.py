"""Reference data published by others, shipped inside the package (see ``README.md`` here).

Three sets, one compressed ``<set>.npz`` each, made by :mod:`workloads.refdata.convert` from the
shared folder (``../shared/validation/<set>/``): the files of the set, byte for byte, with their
sha256.  One lookup rule serves every reader:

1. an **external shared folder** overrides the packaged copy: the ``shared`` argument (CLI
   ``--shared``), else ``$ACCELSIM_SHARED``, else ``<repo>/../shared``; the first that is a folder
   wins, and its ``validation/<set>/`` is used when it holds that set;
2. otherwise the **packaged** ``<set>.npz``, unpacked once (checked against the stored sha256) into a
   cache folder ``$ACCELSIM_REFDATA_CACHE`` or ``$XDG_CACHE_HOME/accelsim/refdata`` (default
   ``~/.cache/accelsim/refdata``) under ``<digest of the packaged files>/validation/<set>/``, so
   readers and models that take a folder see the same files as in the shared folder.

The value ``none`` for the argument or for ``$ACCELSIM_SHARED`` ends the search: packaged data
only (how the tests check that the packaged copy gives identical workloads).

API: :func:`set_dir` (the folder of one set), :func:`data_root` (a folder holding
``validation/<set>/``), :func:`read_set` (the files of one set as bytes), :func:`external_root`,
:func:`packaged_files`.  Every defect is a one-line :class:`~workloads.errors.WorkloadError`
naming the file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import WorkloadError

SETS = ("eie_alexnet_fc8", "eyerissv2_pe_mobilenet05", "scnn_layer_densities")
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent.parent
ENV = "ACCELSIM_SHARED"
CACHE_ENV = "ACCELSIM_REFDATA_CACHE"
DISABLED = "none"            # ``--shared none`` / ``ACCELSIM_SHARED=none``: packaged data only
FORMAT = "accelsim-refdata"
FORMAT_VERSION = 1
ENCODINGS = ("raw", "shuffle4")  # shuffle4: the 4 byte planes of a 32-bit file, stored one after another
REGENERATE = "python -m workloads.refdata.convert"


def external_root(shared=None) -> Path | None:
    """The external shared folder (``shared``, ``$ACCELSIM_SHARED``, ``<repo>/../shared``), or None.

    The first candidate that is a folder wins; a candidate equal to ``none`` ends the search.
    """
    for cand in (shared, os.environ.get(ENV), REPO_ROOT.parent / "shared"):
        if cand is None or str(cand) == "":
            continue
        if str(cand).strip().lower() == DISABLED:
            return None
        if Path(cand).is_dir():
            return Path(cand)
    return None


def packaged_path(name: str) -> Path:
    if name not in SETS:
        raise WorkloadError(f"unknown reference data set {name!r} (packaged: {', '.join(SETS)})")
    return PACKAGE_DIR / f"{name}.npz"


def set_dir(name: str, shared=None) -> Path:
    """The folder holding the files of set ``name``: the external one when present, else the packaged copy."""
    ext = external_root(shared)
    if ext is not None and (ext / "validation" / name).is_dir():
        return ext / "validation" / name
    if name not in SETS:
        where = ext / "validation" / name if ext else "../shared/validation (or $ACCELSIM_SHARED)"
        raise WorkloadError(f"reference data set not found (packaged sets: {', '.join(SETS)})", file=str(where))
    return _materialize(name)


def data_root(shared=None) -> Path:
    """A folder with ``validation/<set>/``: the external shared folder when found, else the unpacked packaged
    sets (all of them).  Prefer :func:`set_dir`, which also falls back per set."""
    ext = external_root(shared)
    if ext is not None:
        return ext
    for name in SETS:
        _materialize(name)
    return _cache_root()


def read_set(name: str, shared=None) -> dict[str, bytes]:
    """Files of set ``name`` (relative POSIX path -> bytes), from the external folder when present, else the
    packaged copy."""
    ext = external_root(shared)
    if ext is not None and (ext / "validation" / name).is_dir():
        return read_folder(ext / "validation" / name)
    return packaged_files(name)


def read_folder(d: Path) -> dict[str, bytes]:
    """Every file under ``d`` (relative POSIX path -> bytes), sorted by path."""
    out = {}
    for p in sorted(d.rglob("*")):
        if p.is_file():
            try:
                out[p.relative_to(d).as_posix()] = p.read_bytes()
            except OSError as e:
                raise WorkloadError(f"cannot read ({e.strerror or type(e).__name__})", file=str(p)) from None
    return out


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shuffle4(data: bytes) -> np.ndarray:
    """The 4 byte planes of ``data`` (length a multiple of 4) as a (4, n) uint8 array: compresses 32-bit
    integers and floats far better than the interleaved bytes."""
    return np.ascontiguousarray(np.frombuffer(data, dtype=np.uint8).reshape(-1, 4).T)


def _decode(arr: np.ndarray, encoding: str) -> bytes:
    if encoding == "shuffle4":
        return np.ascontiguousarray(arr.T).tobytes()
    return arr.tobytes()


def _manifest(z, path: Path) -> tuple[list[str], list[str], list[str], list[int]]:
    for key in ("format", "names", "encodings", "sha256", "sizes"):
        if key not in z.files:
            raise WorkloadError(f"array {key!r} missing (regenerate with {REGENERATE})", file=str(path))
    if str(z["format"]) != f"{FORMAT}/{FORMAT_VERSION}":
        raise WorkloadError(f"format {str(z['format'])!r}, expected {FORMAT}/{FORMAT_VERSION}", file=str(path))
    names, enc = [str(s) for s in z["names"]], [str(s) for s in z["encodings"]]
    sha, sizes = [str(s) for s in z["sha256"]], [int(s) for s in z["sizes"]]
    if not (len(names) == len(enc) == len(sha) == len(sizes)):
        raise WorkloadError("manifest arrays differ in length", file=str(path))
    bad = [e for e in enc if e not in ENCODINGS]
    if bad:
        raise WorkloadError(f"unknown encoding {bad[0]!r}", file=str(path))
    return names, enc, sha, sizes


def _open(path: Path):
    if not path.is_file():
        raise WorkloadError(f"packaged reference data missing (reinstall accelsim, or regenerate with {REGENERATE})",
                            file=str(path))
    try:
        return np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise WorkloadError(f"not a readable .npz archive ({type(e).__name__})", file=str(path)) from None


def packaged_files(name: str) -> dict[str, bytes]:
    """Files of the packaged set ``name`` (relative path -> bytes), each checked against its stored sha256."""
    path = packaged_path(name)
    out = {}
    with _open(path) as z:
        try:
            names, enc, sha, sizes = _manifest(z, path)
            for i, (n, e, h, s) in enumerate(zip(names, enc, sha, sizes)):
                data = _decode(z[f"f{i}"], e)
                if len(data) != s or sha256(data) != h:
                    raise WorkloadError(f"{n}: content does not match its stored sha256 (damaged; regenerate with "
                                        f"{REGENERATE})", file=str(path))
                out[n] = data
        except (KeyError, zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise WorkloadError(f"damaged archive ({type(e).__name__}: {e})", file=str(path)) from None
    return out


def _cache_root() -> Path:
    """``<cache>/<digest>``: the digest covers every packaged file, so a new package never reuses old files."""
    base = os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / \
        "accelsim" / "refdata"
    h = hashlib.sha256()
    for name in SETS:
        p = packaged_path(name)
        h.update(name.encode())
        h.update(_file_digest(p).encode())
    return Path(base) / h.hexdigest()[:16]


_DIGESTS: dict[tuple, str] = {}


def _file_digest(p: Path) -> str:
    if not p.is_file():
        _open(p)  # raises the one-line "missing" error
    st = p.stat()
    key = (str(p), st.st_mtime_ns, st.st_size)
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256(p.read_bytes())
    return _DIGESTS[key]


def _complete(d: Path, name: str) -> bool:
    """Whether ``d`` holds every file of the packaged set with its stored size."""
    if not d.is_dir():
        return False
    path = packaged_path(name)
    with _open(path) as z:
        names, _, _, sizes = _manifest(z, path)
    try:
        return all((d / n).stat().st_size == s for n, s in zip(names, sizes))
    except OSError:
        return False


def _materialize(name: str) -> Path:
    """Unpack the packaged set into the cache (once; atomically: a temp folder renamed into place)."""
    dest = _cache_root() / "validation" / name
    if _complete(dest, name):
        return dest
    files = packaged_files(name)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=dest.parent))
        try:
            for rel, data in files.items():
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_bytes(data)
            if dest.exists():  # incomplete or damaged: move it aside, then replace it
                stale = Path(tempfile.mkdtemp(prefix=f".{name}.stale.", dir=dest.parent))
                try:
                    os.replace(dest, stale / name)
                except OSError:
                    pass  # another process replaced it meanwhile
                shutil.rmtree(stale, ignore_errors=True)
            try:
                os.replace(tmp, dest)
            except OSError:
                if not _complete(dest, name):  # lost a race to another process that wrote the same files
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        raise WorkloadError(f"cannot unpack the packaged reference data here ({e.strerror or type(e).__name__}); "
                            f"set ${CACHE_ENV} to a writable folder", file=str(dest)) from None
    return dest
