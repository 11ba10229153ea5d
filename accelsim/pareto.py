"""Pareto (non-dominated) sets for design-space sweeps.

A point ``a`` dominates ``b`` when it is no worse in every objective and
strictly better in at least one.  Objectives are minimised; pass
``senses=["min", "max", ...]`` to maximise some.  Rows with a NaN or infinite
objective value are never on the front (they are failed or infeasible points).
Equal points do not dominate each other, so duplicates on the front are all kept.

Two objectives use an O(n log n) sort-and-sweep; more use a vectorised O(n^2 d)
pairwise test, which is ample for sweeps of up to ~10^4 points.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


def _as_min(points, senses) -> np.ndarray:
    a = np.asarray(points, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"points must be a 2-D array (n points x d objectives), got shape {a.shape}")
    if senses is not None:
        if len(senses) != a.shape[1]:
            raise ValueError(f"{len(senses)} senses for {a.shape[1]} objectives")
        sign = np.array([{"min": 1.0, "max": -1.0}[s] for s in senses])
        a = a * sign
    return a


def pareto_mask(points, senses: Sequence[str] | None = None) -> np.ndarray:
    """Boolean mask (n,) of the non-dominated rows of ``points`` (n x d)."""
    a = _as_min(points, senses)
    n, d = a.shape
    ok = np.all(np.isfinite(a), axis=1)
    mask = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return mask
    b = a[idx]
    if d == 1:
        mask[idx[b[:, 0] == b[:, 0].min()]] = True
        return mask
    if d == 2:
        # sort by x then y; a point is on the front iff its y is below every y seen at a strictly smaller x,
        # and it is not beaten by a point with the same x and smaller y.
        order = np.lexsort((b[:, 1], b[:, 0]))
        xs, ys = b[order, 0], b[order, 1]
        keep = np.zeros(len(order), dtype=bool)
        best_y = np.inf  # min y over points with x strictly smaller than the current group
        i = 0
        while i < len(order):
            j = i
            while j < len(order) and xs[j] == xs[i]:
                j += 1
            ymin = ys[i]  # group sorted by y: first is the smallest
            if ymin < best_y:
                keep[i:j] = ys[i:j] == ymin  # ties on (x, ymin) all kept
            best_y = min(best_y, ymin)
            i = j
        mask[idx[order[keep]]] = True
        return mask
    dominated = np.zeros(len(b), dtype=bool)
    for s in range(0, len(b), 512):  # chunks keep the (chunk x n x d) temporary small
        c = b[s:s + 512]
        le = np.all(b[None, :, :] <= c[:, None, :], axis=2)
        lt = np.any(b[None, :, :] < c[:, None, :], axis=2)
        dominated[s:s + 512] = np.any(le & lt, axis=1)
    mask[idx[~dominated]] = True
    return mask


def pareto_indices(points, senses: Sequence[str] | None = None) -> list[int]:
    """Indices of the non-dominated rows, sorted by the first objective then the next."""
    m = pareto_mask(points, senses)
    idx = np.flatnonzero(m)
    a = _as_min(points, senses)[idx]
    order = np.lexsort(tuple(a[:, k] for k in reversed(range(a.shape[1])))) if len(idx) else []
    return [int(idx[o]) for o in order]


def pareto_rows(rows: Iterable[dict], objectives: Sequence[str], senses: Sequence[str] | None = None) -> list[dict]:
    """The non-dominated rows (dicts) by the named objective columns; missing values count as infeasible."""
    rows = list(rows)
    pts = [[_num(r.get(o)) for o in objectives] for r in rows]
    if not rows:
        return []
    return [rows[i] for i in pareto_indices(pts, senses)]


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when ``a`` dominates ``b`` (minimisation)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))
