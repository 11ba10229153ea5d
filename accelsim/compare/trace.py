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


def row_layer_names(name: str, row) -> list[str]:
    """The layer names :func:`trace_row` gives the row: every conv of its head (the gate-free
    baseline has no gate convs), in the trace's order."""
    from dynhead.trace import layer_keys, layer_name
    return [layer_name(*k) for k in layer_keys(row.head.depth, len(row.features[0]), gated=name != "baseline")]


def timed_layer_names(rows, traces) -> dict[str, list[str]]:
    """``{row: layer names}`` the timed forward of each row must run: the trace's layers where the row
    was traced, else the list :func:`trace_row` would give it."""
    return {name: list(traces[name].layers) if name in traces else row_layer_names(name, row)
            for name, row in rows.items()}
