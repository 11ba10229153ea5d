"""Reference networks and reference-data loaders, addressable by name.

``resolve(name_or_path)`` accepts a zoo name (``accelsim workload list``), a
``.npz`` workload file or a SCALE-Sim topology / GEMM ``.csv``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from . import refdata
from .errors import WorkloadError
from .ir import Workload

# name -> (builder(shared: Path|None, seed: int) -> Workload, description)
ZOO: dict[str, tuple[Callable, str]] = {}


def register(name: str, description: str):
    def deco(fn):
        ZOO[name] = (fn, description)
        return fn
    return deco


def shared_root(shared=None) -> Path:
    """Folder holding ``validation/<set>/``: the external shared folder (``shared``, ``$ACCELSIM_SHARED``,
    ``<repo>/../shared``) when found, else the packaged reference data (:func:`workloads.refdata.data_root`)."""
    return refdata.data_root(shared)


def require_shared(sub: str, shared=None) -> Path:
    """Folder of reference set ``sub``: the external shared folder's copy when it holds the set, else the
    packaged one (:func:`workloads.refdata.set_dir`); a WorkloadError naming where it looked otherwise."""
    return refdata.set_dir(sub, shared)


def list_workloads() -> dict[str, str]:
    _load_builtin()
    return {n: d for n, (_, d) in sorted(ZOO.items())}


BUILTIN_MODULES = ("networks", "shared_data", "eie_dump", "eyeriss_masks")


def _load_builtin():
    """Import the modules that register zoo entries (each owns its loaders)."""
    import importlib
    for m in BUILTIN_MODULES:
        importlib.import_module(f"{__package__}.{m}")


def resolve(name_or_path: str | Workload, shared=None, seed: int = 0) -> Workload:
    if isinstance(name_or_path, Workload):
        return name_or_path
    s = str(name_or_path)
    if s.endswith(".npz"):
        return Workload.load(s)
    if s.endswith(".csv"):
        from .importers import import_csv
        return import_csv(s)
    _load_builtin()
    if s in ZOO:
        return ZOO[s][0](shared, seed)
    if os.path.exists(s):
        raise WorkloadError("unrecognised workload file type (expected .npz or .csv)", file=s)
    raise WorkloadError(f"unknown workload {s!r} (built-in: {', '.join(sorted(ZOO))}; or a .npz/.csv file)",
                        field="--workload")
