"""One row type for every model's validation suite (``accelsim validate <model>``).

Every row says what kind of evidence it is:

* ``validation``  -- an independent reference (a paper's table or figure, the authors' own data)
  that the model could miss.  Only these count when the README or
  ``benchmarks/validation_summary.py`` say how close a model is.
* ``consistency`` -- true by construction or config arithmetic (a peak rate from the config, a
  count that the model matches by counting, a published total that a formula reproduces because
  it was built from it).  Useful to catch regressions; never counted as validation.

``rel_error = (simulated - reference) / reference``; ``pass`` is given explicitly or follows from
``tol`` (``|rel_error| <= tol``), else None (reported, not judged).
"""

from __future__ import annotations

from typing import Any

KINDS = ("validation", "consistency")


def rel_error(sim: Any, ref: Any) -> float | None:
    """(sim - ref) / ref for real numbers with ref != 0, else None."""
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (sim, ref))
    return (sim - ref) / ref if ok and ref else None


def check(name: str, sim: Any, ref: Any, unit: str = "", *, kind: str = "validation", tol: float | None = None,
          passed: bool | None = None, note: str = "") -> dict:
    """A validation row: ``{name, simulated, reference, rel_error, unit, pass, kind, note}``."""
    if kind not in KINDS:
        raise ValueError(f"check {name!r}: kind must be one of {KINDS}, got {kind!r}")
    rel = rel_error(sim, ref)
    if passed is None and tol is not None and rel is not None:
        passed = bool(abs(rel) <= tol)
    return {"name": name, "simulated": sim, "reference": ref, "rel_error": rel, "unit": unit,
            "pass": None if passed is None else bool(passed), "kind": kind, "note": note}


def count_by_kind(checks: list[dict]) -> dict[str, dict[str, int]]:
    """{kind: {"rows", "passed", "failed"}} over a suite's rows (unlabelled rows count as 'unlabelled')."""
    out: dict[str, dict[str, int]] = {}
    for c in checks:
        k = out.setdefault(c.get("kind", "unlabelled"), {"rows": 0, "passed": 0, "failed": 0})
        k["rows"] += 1
        k["passed"] += c.get("pass") is True
        k["failed"] += c.get("pass") is False
    return out
