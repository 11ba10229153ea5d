"""Size caps of the loaders (workload files, CSVs, images, checkpoint configs), checked before anything
is allocated; each is named in its error.

The defaults are far above every shipped workload and every published network (the largest tensor of
the zoo, VGG-16 fc6, has 102,760,448 elements).  Raise one for a bigger study with the variable that
also holds accelsim's caps (:mod:`accelsim.limits`), e.g.
``ACCELSIM_LIMITS="max_tensor_elements=1e9,max_workload_bytes=2e10"``.

========================  ===========  ============================================================
cap                       default      what it bounds
========================  ===========  ============================================================
``max_tensor_elements``   268,435,456  elements of one tensor of a layer: weights, activations, output
                                       plane (K x P x Q), masks; also one model input (``--input``)
``max_workload_bytes``    4 GiB        memory a workload file expands to (dense tensors at their
                                       dtype, masks at one byte per element), summed over the file
``max_layers``            100,000      layers of one workload (manifest, CSV rows)
``max_images``            10,000       images of one workload / one import
``max_text_bytes``        64 MiB       a workload manifest or a CSV file, before it is parsed
``max_image_pixels``      67,108,864   pixels (H x W) of one decoded image (8192 x 8192)
``max_model_parameters``  268,435,456  parameters of a model built from a checkpoint's ``config``
========================  ===========  ============================================================

This module is below accelsim: :mod:`accelsim.limits` reads the same variable with the same parser
(:func:`env_caps`), knows these names too, and adds its own caps; names this module does not own are
accelsim's to check, so setting one of accelsim's caps never breaks a workload or dynhead command.
"""

from __future__ import annotations

import os
from typing import Iterable

from .ir import SERVICES, InputError, WorkloadError

ENV = "ACCELSIM_LIMITS"
DEFAULTS = {
    "max_tensor_elements": 1 << 28,
    "max_workload_bytes": 1 << 32,
    "max_layers": 100_000,
    "max_images": 10_000,
    "max_text_bytes": 64 << 20,
    "max_image_pixels": 1 << 26,
    "max_model_parameters": 1 << 28,
}


def env_caps(known: Iterable[str] | None = None, error: type[InputError] = WorkloadError) -> dict[str, int]:
    """``{name: value}`` from ``$ACCELSIM_LIMITS`` (``name=number`` items, comma-separated).  Every value
    must be a number in [1, 1e18); with ``known``, a name outside it is an error naming the known caps."""
    out: dict[str, int] = {}
    known = None if known is None else list(known)
    for item in filter(None, (s.strip() for s in os.environ.get(ENV, "").split(","))):
        k, sep, v = (s.strip() for s in item.partition("="))
        if known is not None and k not in known:
            raise error(f"${ENV}: unknown cap {k!r} (caps: {', '.join(known)})")
        try:
            val = float(v) if sep else float("nan")
        except ValueError:
            raise error(f"${ENV}: {k}: expected a number, got {v!r}") from None
        if not (1 <= val < 1e18):
            raise error(f"${ENV}: {k}: must be between 1 and 1e18, got {v!r}")
        out[k] = int(val)
    return out


def limit(name: str) -> int:
    """The cap ``name`` (one of :data:`DEFAULTS`), from ``$ACCELSIM_LIMITS`` when set there."""
    if name not in DEFAULTS:
        raise KeyError(name)
    return env_caps().get(name, DEFAULTS[name])


def check(name: str, value: int | float, what: str, *, file: str | None = None, field: str | None = None,
          error: type[InputError] = WorkloadError) -> None:
    """Raise a one-line ``error`` naming ``what``, the cap and how to raise it when ``value`` exceeds the
    cap ``name``."""
    cap = limit(name)
    if value > cap:
        raise error(f"{what}: {value:,.0f} exceeds the cap {name}={cap:,} "
                    f"(raise it with {ENV}='{name}=N' if you mean it)", file=file, field=field)


# Layer checks its tensor sizes through this (workloads.ir imports no other module of the project)
SERVICES.update(limit_check=check)
