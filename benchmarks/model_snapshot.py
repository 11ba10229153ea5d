"""Cycles, energy and report hash of every zoo workload on every preset, as JSON.

A before/after check for refactors that must not change any model's numbers:

    python benchmarks/model_snapshot.py --out before.json      # on the old commit
    python benchmarks/model_snapshot.py --out after.json       # on the new one
    python benchmarks/model_snapshot.py --diff before.json after.json

Each (workload, preset) pair runs image 0 with seed 0, in-process per pair and pairs in parallel
processes (``--jobs``).  Unsupported layers are skipped (and listed), as ``simulate`` would do.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def _one(pair):
    wl_name, preset = pair
    from accelsim import simulate
    from workloads.zoo import resolve
    t0 = time.perf_counter()
    try:
        wl = resolve(wl_name)
        rep = simulate(wl, preset, images=[0], jobs=1, progress=False, on_unsupported="skip")
        d = rep.to_dict()
        out = {"cycles": d["total"]["cycles"], "energy_j": d["total"]["energy_j"],
               "report_hash": d["report_hash"], "skipped": len(d["skipped_layers"])}
    except Exception as e:  # recorded, so that a model that newly fails shows up in the diff
        out = {"error": f"{type(e).__name__}: {e}"}
    out["wall_s"] = round(time.perf_counter() - t0, 2)
    return wl_name, preset, out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--workloads", default="", help="comma-separated subset (default: every zoo workload)")
    p.add_argument("--presets", default="", help="comma-separated subset (default: every preset)")
    p.add_argument("--diff", nargs=2, metavar=("BEFORE", "AFTER"))
    a = p.parse_args(argv)
    if a.diff:
        before, after = (json.load(open(f)) for f in a.diff)
        bad = 0
        for wl, row in sorted(before.items()):
            for preset, b in sorted(row.items()):
                c = after.get(wl, {}).get(preset)
                keys = ("cycles", "energy_j", "report_hash", "error")
                same = c is not None and all(b.get(k) == c.get(k) for k in keys)
                bad += not same
                print(f"{'same' if same else 'DIFF'}  {wl:34s} {preset:14s} "
                      f"{b.get('cycles', b.get('error'))} -> {None if c is None else c.get('cycles', c.get('error'))}")
        print(f"{bad} of {sum(len(r) for r in before.values())} pairs differ")
        return 1 if bad else 0
    from accelsim.config import list_presets
    from workloads.zoo import list_workloads
    wls = a.workloads.split(",") if a.workloads else list(list_workloads())
    presets = a.presets.split(",") if a.presets else [p for p in list_presets()]
    pairs = [(w, pr) for w in wls for pr in presets]
    res: dict = {}
    with ProcessPoolExecutor(a.jobs) as ex:
        for wl, preset, out in ex.map(_one, pairs):
            res.setdefault(wl, {})[preset] = out
            print(f"{wl:34s} {preset:14s} {out.get('cycles', out.get('error'))} ({out['wall_s']} s)",
                  file=sys.stderr, flush=True)
    text = json.dumps(res, indent=1, sort_keys=True)
    if a.out:
        open(a.out, "w").write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
