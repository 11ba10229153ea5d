"""accelsim: cycle-level, data-driven sparse-accelerator models fed by real dynamic-head workloads."""

__version__ = "0.1.0"


def simulate(*args, **kwargs):
    from .engine import simulate as _simulate
    return _simulate(*args, **kwargs)
