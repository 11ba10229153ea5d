"""Small matplotlib helpers shared by every plotting module (report plots, compare, sweeps)."""

from __future__ import annotations

import io
from pathlib import Path

__all__ = ["save_png"]


def save_png(fig, path: str | Path, dpi: int = 110) -> str:
    """Write ``fig`` as a PNG (tight bounding box) to ``path`` atomically, close it; returns the path."""
    from workloads.storage import atomic_write_bytes
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    atomic_write_bytes(Path(path), buf.getvalue())
    import matplotlib.pyplot as plt
    plt.close(fig)
    return str(path)
