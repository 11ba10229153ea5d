"""Where the reference data lives: an external shared folder (``--shared``, ``$ACCELSIM_SHARED``,
``../shared`` beside the repo) when present, else the copy packaged in :mod:`workloads.refdata`."""

from __future__ import annotations

import os
from pathlib import Path

from workloads import refdata

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir(override: str | os.PathLike | None = None) -> Path:
    """A folder holding ``validation/<set>/``: the external shared folder when found, else the packaged
    reference data unpacked into the cache (never None).

    Order: explicit argument, env ``ACCELSIM_SHARED``, ``<repo>/../shared``, packaged; ``none`` for the
    argument or the variable means packaged data only.
    """
    return refdata.data_root(override)


def validation_dir(name: str, override=None) -> Path | None:
    """Folder of reference set ``name`` (e.g. ``eie_alexnet_fc8``): the external shared folder's copy when it
    holds the set, else the packaged copy; None for a set that is neither external nor packaged."""
    from workloads.errors import WorkloadError
    try:
        return refdata.set_dir(name, override)
    except WorkloadError:
        if name in refdata.SETS:
            raise  # packaged but damaged or not unpackable: the one-line error names the file
        return None


def read_json(path, label: str, kind: str = "JSON file"):
    """A JSON file's content, or an AccelsimError "<label>: <path>: ..." naming what is wrong."""
    import json

    from .errors import AccelsimError
    p = Path(path)
    prefix = f"{label}: {p}" if label else str(p)
    if not p.is_file():
        raise AccelsimError(f"{prefix}: {kind} not found")
    try:
        return json.loads(p.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AccelsimError(f"{prefix}: not a {kind} ({type(e).__name__})") from None
