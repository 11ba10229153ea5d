"""Run every model's validation suite and print one markdown table of all checks.

    python benchmarks/validation_summary.py [--full] [--models scnn,eie,...] [--out FILE.json]

Each row: model, check, kind, simulated, reference, relative error, unit, pass. Nothing here is tuned;
the numbers are whatever the models produce (see ``accelsim validate <model> --json``).  A closing
table counts, per model, the ``validation`` rows (independent references the model could miss) apart
from the ``consistency`` rows (true by construction): only the former say how close a model is.
"""

from __future__ import annotations

import argparse
import json
import time

from accelsim.checks import count_by_kind
from accelsim.paths import shared_dir
from accelsim.registry import get_model_class, model_names


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return "" if v is None else str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--models", help="comma-separated (default: every model with a validate())")
    ap.add_argument("--out", help="also write all results as JSON")
    a = ap.parse_args()
    names = a.models.split(",") if a.models else [n for n in model_names()
                                                   if get_model_class(n).validation_suite() is not None]
    # eyeriss-v1's suite is a filtered copy of eyeriss-v2's
    if not a.models and "eyeriss-v1" in names and "eyeriss-v2" in names:
        names.remove("eyeriss-v1")
    allres = {}
    print("| model | check | kind | simulated | reference | rel. error | unit | pass |")
    print("|---|---|---|---|---|---|---|---|")
    for n in names:
        t0 = time.perf_counter()
        res = get_model_class(n).validation_suite()(shared_dir(), full=a.full)
        res["wall_s"] = time.perf_counter() - t0
        allres[n] = res
        for c in res.get("checks", []):
            re_ = c.get("rel_error")
            print(f"| {n} | {c.get('name')} | {c.get('kind', '')} | {_fmt(c.get('simulated'))} | {_fmt(c.get('reference'))} | "
                  f"{f'{100 * re_:+.1f} %' if isinstance(re_, (int, float)) else ''} | {c.get('unit', '')} | "
                  f"{ {True: 'yes', False: 'NO'}.get(c.get('pass'), '-') } |")
    print("\n| model | validation rows (passed / failed / not judged) | consistency rows (passed / failed) |")
    print("|---|---|---|")
    for n, res in allres.items():
        k = count_by_kind(res.get("checks", []))
        v, c = k.get("validation", {}), k.get("consistency", {})
        print(f"| {n} | {v.get('rows', 0)} ({v.get('passed', 0)} / {v.get('failed', 0)} / "
              f"{v.get('rows', 0) - v.get('passed', 0) - v.get('failed', 0)}) | {c.get('rows', 0)} "
              f"({c.get('passed', 0)} / {c.get('failed', 0)}) |")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(allres, f, indent=2, default=str)


if __name__ == "__main__":
    main()
