"""Per-image workloads of the rows (``dynhead.trace.trace_model``): every row's trained model traced at
the run's width; the gate-free baseline as its convs without gate convs or output masks."""

from __future__ import annotations

from .settings import CompareSettings


def trace_row(name: str, row, settings: CompareSettings, raw_images):
    """Per-image workload of one row (see the module doc of ``dynhead.trace``).  At ``settings.width``
    ``trace_model`` builds the same seeded wide head as :func:`accelsim.compare.rows.load_rows`
    (``dynhead.wide``) on the same expanded features."""
    from dynhead.trace import trace_model
    m = row.backbone_model
    wl = trace_model(m, raw_images, settings.size, width=row.width if row.width != m.head.C else None,
                     prune=settings.prune, seed=settings.seed, warn=lambda s: None,
                     checkpoint=settings.checkpoint(name) or f"shipped:{name}")
    wl.name = f"{name}_{wl.name}"
    wl.meta["row"] = name
    return wl
