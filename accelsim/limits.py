"""Resource caps checked before anything is allocated, each named in its error.

The defaults are far above every published design and every shipped workload; raise one for a
bigger study with ``ACCELSIM_LIMITS="max_macs_per_cycle=1e8,max_grid_points=1e7"``.

=======================  =========  ==========================================================
cap                      default    what it bounds
=======================  =========  ==========================================================
``max_macs_per_cycle``   4,194,304  a config's multipliers (PEs x lanes): per-PE arrays scale with it
``max_grid_points``      100,000    points of one sweep grid or sample (each is a simulation)
=======================  =========  ==========================================================
"""

from __future__ import annotations

import os

from .errors import AccelsimError

DEFAULTS = {"max_macs_per_cycle": 1 << 22, "max_grid_points": 100_000}
ENV = "ACCELSIM_LIMITS"


def limit(name: str) -> int:
    """The cap ``name``, from ``$ACCELSIM_LIMITS`` when set there, else :data:`DEFAULTS`."""
    if name not in DEFAULTS:
        raise KeyError(name)
    for item in filter(None, (s.strip() for s in os.environ.get(ENV, "").split(","))):
        k, _, v = item.partition("=")
        if k.strip() not in DEFAULTS:
            raise AccelsimError(f"${ENV}: unknown cap {k.strip()!r} (caps: {', '.join(DEFAULTS)})")
        try:
            val = float(v)
        except ValueError:
            raise AccelsimError(f"${ENV}: {k.strip()}: expected a number, got {v.strip()!r}") from None
        if not (val >= 1 and val < 1e18):
            raise AccelsimError(f"${ENV}: {k.strip()}: must be between 1 and 1e18, got {v.strip()!r}")
        if k.strip() == name:
            return int(val)
    return DEFAULTS[name]


def check(name: str, value: float, what: str) -> None:
    """Raise a one-line AccelsimError when ``value`` exceeds the cap ``name``."""
    cap = limit(name)
    if value > cap:
        raise AccelsimError(f"{what}: {value:,.0f} exceeds the cap {name}={cap:,} "
                            f"(raise it with {ENV}='{name}=N' if you mean it)")
