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
