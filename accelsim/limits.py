"""Resource caps checked before anything is allocated, each named in its error.

The defaults are far above every published design and every shipped workload; raise one for a
bigger study with ``ACCELSIM_LIMITS="max_macs_per_cycle=1e8,max_grid_points=1e7"``.

=======================  =========  ==========================================================
cap                      default    what it bounds
=======================  =========  ==========================================================
``max_macs_per_cycle``   4,194,304  a config's multipliers (PEs x lanes): per-PE arrays scale with it
``max_grid_points``      100,000    points of one sweep grid or sample (each is a simulation)
``max_jobs``             1,024      worker processes of one command (``--jobs``, ``$ACCELSIM_JOBS``)
=======================  =========  ==========================================================
"""

from __future__ import annotations

from workloads import limits as workload_limits
from workloads.errors import InputError

from .errors import AccelsimError

DEFAULTS = {"max_macs_per_cycle": 1 << 22, "max_grid_points": 100_000, "max_jobs": 1024}
ENV = "ACCELSIM_LIMITS"


def limit(name: str) -> int:
    """The cap ``name``, from ``$ACCELSIM_LIMITS`` when set there, else :data:`DEFAULTS`."""
    if name not in DEFAULTS:
        raise KeyError(name)
    try:  # one variable, one parser: the workload loaders' caps (workloads.limits) are set here too
        caps = workload_limits.env_caps(known=[*DEFAULTS, *workload_limits.DEFAULTS])
    except InputError as e:
        raise AccelsimError(str(e)) from None
    return caps.get(name, DEFAULTS[name])


def check(name: str, value: float, what: str) -> None:
    """Raise a one-line AccelsimError when ``value`` exceeds the cap ``name``."""
    cap = limit(name)
    if value > cap:
        raise AccelsimError(f"{what}: {value:,.0f} exceeds the cap {name}={cap:,} "
                            f"(raise it with {ENV}='{name}=N' if you mean it)")
