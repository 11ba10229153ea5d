"""Where shared reference data lives (``ACCELSIM_SHARED`` or ``../shared`` beside the repo)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir(override: str | os.PathLike | None = None) -> Path | None:
    """The shared data folder, or None when it does not exist.

    Order: explicit argument, env ``ACCELSIM_SHARED``, ``<repo>/../shared``.
    """
    for cand in (override, os.environ.get("ACCELSIM_SHARED"), REPO_ROOT.parent / "shared"):
        if cand:
            p = Path(cand)
            if p.is_dir():
                return p
    return None


def validation_dir(name: str, override=None) -> Path | None:
    s = shared_dir(override)
    if s is None:
        return None
    p = s / "validation" / name
    return p if p.is_dir() else None
