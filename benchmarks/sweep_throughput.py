"""Sweep throughput: points per minute, serial vs local process pool vs a local Dask cluster.

    python benchmarks/sweep_throughput.py                       # SCNN, 18 points, 3 GoogLeNet layers
    python benchmarks/sweep_throughput.py --spec examples/sweeps/scnn_small.yaml    # the shipped example
    python benchmarks/sweep_throughput.py --workload my.npz --dask-workers 2 --jobs 2 --json

Every executor starts from an empty cache (a fresh temp folder), so each one simulates every point;
the CSVs of all executors are compared byte for byte.  Wall times include worker start-up (pool fork,
Dask cluster start and the one-off workload scatter), since that is what a user waits for.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", help="benchmark this sweep spec instead (e.g. examples/sweeps/scnn_small.yaml)")
    ap.add_argument("--arch", default="scnn")
    ap.add_argument("--workload", default="scnn-googlenet-inception", help="zoo name or .npz")
    ap.add_argument("--layers", type=int, default=3, help="first N layers of the workload (0 = all)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="local pool processes")
    ap.add_argument("--dask-workers", type=int, default=2)
    ap.add_argument("--skip", default="", help="comma list of executors to skip: serial,local,dask")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)

    from accelsim.sweep import load_spec, spec_from_dict
    from workloads.zoo import resolve

    if a.spec:
        return _bench(a, load_spec(a.spec), a.spec)
    wl = resolve(a.workload)
    names = wl.layer_names()[:a.layers] if a.layers else None
    params = ({"multipliers.F,multipliers.I": [[2, 2], [4, 4], [8, 8]], "accumulator.banks": [16, 32, 64],
               "pe_rows,pe_cols": [[4, 4], [8, 8]]} if a.arch.startswith("scnn") else
              {"array.height,array.width": [[8, 8], [16, 16], [32, 32]], "sram.ifmap_kb": [16, 64, 256],
               "dataflow": ["os", "ws"]})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wl.npz"
        (wl.subset(layers=names) if names else wl).save(path)
        spec = spec_from_dict({"name": "bench", "arch": a.arch, "workload": str(path), "parameters": params},
                              file="<benchmark>")
        return _bench(a, spec, f"{a.workload} ({a.layers or 'all'} layers)", tmp)


def _bench(a, spec, label, tmp=None) -> int:
    from accelsim.sweep import load_workloads, run_sweep
    with tempfile.TemporaryDirectory() as own:
        tmp = Path(tmp or own)
        load_workloads(spec, trace_dir=tmp / "traces")  # generate dynhead traces once, outside the timings
        runs = {}
        skip = set(filter(None, a.skip.split(",")))
        for name, kw in (("serial", {"jobs": 1}), ("local", {"jobs": a.jobs}),
                         ("dask", {"dask_local": a.dask_workers})):
            if name in skip:
                continue
            out = Path(tmp) / name
            t0 = time.perf_counter()
            res = run_sweep(spec, out=out, plots=False, trace_dir=tmp / "traces", **kw)
            wall = time.perf_counter() - t0
            s = res.summary
            runs[name] = {"points": s["points"], "simulated": s["simulated"], "workers": s["workers"],
                          "wall_s": wall, "points_per_min": 60.0 * s["simulated"] / wall,
                          "csv": (out / "points.csv").read_text()}
        # what travels per task (model + config) vs once per worker (the workload)
        import pickle

        from accelsim.engine import make_model
        from accelsim.sweep.execute import Task
        pt = spec.points()[0]
        task = Task(0, "k", make_model(spec.arch_for(pt)), pt["workload"], None, None, 0, "error")
        wl = load_workloads(spec, trace_dir=tmp / "traces")[pt["workload"]]
        payload = {"task_bytes": len(pickle.dumps(task)), "workload_bytes": len(pickle.dumps(wl))}
        csvs = {r["csv"] for r in runs.values()}
        result = {"sweep": label, "arch": spec.base.model, "points": len(spec.points()), "cpu_count": os.cpu_count(),
                  "identical_results": len(csvs) == 1, **payload,
                  "runs": {k: {kk: vv for kk, vv in v.items() if kk != "csv"} for k, v in runs.items()}}
    if a.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['arch']} sweep {label}: {result['points']} points, {os.cpu_count()} CPUs")
        for k, v in result["runs"].items():
            print(f"  {k:7s} workers={v['workers']}: {v['simulated']} points in {v['wall_s']:.1f} s = "
                  f"{v['points_per_min']:.1f} points/min")
        print(f"  identical results across executors: {result['identical_results']}")
        print(f"  per-task payload {result['task_bytes']:,} bytes; workload shipped once per worker: "
              f"{result['workload_bytes']:,} bytes")
    return 0 if result["identical_results"] else 1


if __name__ == "__main__":
    sys.exit(main())
