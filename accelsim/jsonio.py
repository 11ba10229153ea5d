"""JSON helpers shared by reports, the CLI, sweeps and compare (core layer: numpy only).

``json_default`` is the ``default=`` hook of ``json.dumps`` for every JSON this project writes: numpy
scalars and arrays become plain JSON numbers and lists, sets and tuples lists, anything else its ``str``.
"""

from __future__ import annotations

import json
import sys

import numpy as np

__all__ = ["json_default", "dumps", "print_json"]


def json_default(o):
    """``json.dumps(default=json_default)``: numpy numbers/arrays as plain JSON, sets/tuples as lists,
    anything else (paths, enums, ...) by its ``str``."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


def dumps(obj, indent: int | None = 2) -> str:
    """``obj`` as JSON text with :func:`json_default` for what the json module cannot encode."""
    return json.dumps(obj, indent=indent, default=json_default)


def print_json(obj, file=None) -> None:
    """Print ``obj`` as indented JSON (one trailing newline) to ``file`` (default: stdout)."""
    (file or sys.stdout).write(dumps(obj) + "\n")
