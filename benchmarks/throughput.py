#!/usr/bin/env python
"""Simulation speed of every registered accelerator model: effectual MACs simulated per
wall-second on one core, and how the wall time scales with the effectual work.

    python benchmarks/throughput.py                 # all models, default budget
    python benchmarks/throughput.py --models systolic,scnn --budget 10

For each model (its preset named like the model, else its first preset) the script
simulates one layer family at growing sizes, in this process, with numba/BLAS limited to
one thread:

* conv family: C = K = 64, 3x3, stride 1, padding 1, H = W in 14, 28, 56, 112, 224;
* fc family (used when the model does not run conv layers): C = K in 512 ... 8192;

with seeded synthetic data of weight density 0.4 and activation density 0.5 (the same data
for every model).  Wall time is ``accelsim.engine.run_instance`` on already-materialised
data, the best of ``--repeat`` runs after one warm-up run (numba cache load); functional mode
off.  Larger sizes are skipped once the previous size's time x 4.5 (each step has ~4x the
work) would exceed ``--budget`` seconds.  The exponent b is the least-squares slope of
log(wall s) vs log(effectual MACs) over the sizes run (needs 4; "n/a" otherwise); b = 1 is
linear in the effectual work, b < 1 means a fixed per-layer cost still shows at the small
sizes; a second fit leaves out the smallest size (when 5 ran).  Models that fail are listed with their error.
"""

from __future__ import annotations

import os

for _v in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

W_DENSITY, A_DENSITY = 0.4, 0.5
CONV_SIZES = (14, 28, 56, 112, 224)
FC_SIZES = (512, 1024, 2048, 4096, 8192)


def preset_for(model: str) -> str | None:
    from accelsim.config import list_presets, load_arch
    names = list_presets()
    if model in names:
        return model
    for p in names:
        try:
            if load_arch(p).model == model:
                return p
        except Exception:  # a preset being edited by someone else; skip it
            continue
    return None


def family(kind: str):
    from workloads import Layer
    if kind == "conv":
        return [Layer(f"conv{h}", "conv", C=64, K=64, H=h, W=h, R=3, S=3, padding=1, weight_density=W_DENSITY,
                      act_density=A_DENSITY) for h in CONV_SIZES]
    return [Layer(f"fc{c}", "fc", C=c, K=c, weight_density=W_DENSITY, act_density=A_DENSITY) for c in FC_SIZES]


def bench_model(name: str, budget: float, repeat: int) -> dict:
    from accelsim.engine import make_model, run_instance
    from workloads import Workload

    preset = preset_for(name)
    if preset is None:
        return {"model": name, "error": "no preset"}
    model = make_model(preset)
    kind = "conv"
    reason = getattr(model, "unsupported_reason", None)
    if reason and reason(family("conv")[0]):
        kind = "fc"
    rows, prev = [], None
    for lay in family(kind):
        if prev is not None and prev * 4.5 > budget:
            break
        wl = Workload("tp")
        wl.add_layer(lay)
        inst = wl.instance(lay.name, 0).materialize(0)
        if not rows:
            run_instance(model, inst)  # warm-up: numba compile / cache load
        best, res = float("inf"), None
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = run_instance(model, inst)
            best = min(best, time.perf_counter() - t0)
            if best > budget / 4:
                break
        rows.append({"layer": lay.name, "macs_dense": lay.macs_dense, "macs_effectual": int(res.macs_effectual),
                     "cycles": int(res.cycles), "wall_s": best})
        prev = best
    out = {"model": name, "preset": preset, "family": kind, "sizes": rows}
    eff = np.array([r["macs_effectual"] for r in rows], float)
    t = np.array([r["wall_s"] for r in rows], float)
    out["exponent"] = float(np.polyfit(np.log(eff), np.log(t), 1)[0]) if len(rows) >= 4 else None
    # the same fit without the smallest size, where fixed per-layer costs weigh most
    out["exponent_top4"] = (float(np.polyfit(np.log(eff[-4:]), np.log(t[-4:]), 1)[0]) if len(rows) >= 5
                            else out["exponent"])
    big = rows[-1]
    out["eff_macs_per_s"] = big["macs_effectual"] / big["wall_s"]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", help="comma-separated model names (default: all registered)")
    ap.add_argument("--budget", type=float, default=20.0, help="max seconds for one layer run (default 20)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size, best taken (default 3)")
    a = ap.parse_args(argv)
    try:
        from accelsim.models import model_names
        names = model_names()
    except Exception as e:  # a model module that fails to import breaks discovery for all
        sys.exit(f"throughput: cannot list models: {type(e).__name__}: {e}")
    if a.models:
        want = [m.strip() for m in a.models.split(",") if m.strip()]
        unknown = sorted(set(want) - set(names))
        if unknown:
            ap.error(f"--models: unknown {', '.join(unknown)} (registered: {', '.join(names)})")
        names = want
    print(f"# accelsim simulation throughput, 1 thread; weight density {W_DENSITY}, act density {A_DENSITY}")
    print(f"# machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| model | preset | family | sizes run | effectual MACs (largest) | wall s (largest) "
          "| effectual MACs / s / core | exponent b (t ~ work^b), all sizes | b, largest 4 sizes |")
    print("|" + "---|" * 9)
    results = []
    for n in names:
        try:
            r = bench_model(n, a.budget, a.repeat)
        except Exception as e:
            r = {"model": n, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"}
        results.append(r)
        if "error" in r:
            print(f"| {n} | - | - | - | - | - | failed: {r['error']} | - | - |", flush=True)
            continue
        big = r["sizes"][-1]
        b, b4 = (f"{r[k]:.2f}" if r[k] is not None else "n/a (<4 sizes)" for k in ("exponent", "exponent_top4"))
        print(f"| {n} | {r['preset']} | {r['family']} | {', '.join(x['layer'] for x in r['sizes'])} | "
              f"{big['macs_effectual']:,} | {big['wall_s']:.4f} | {r['eff_macs_per_s']:.3g} | {b} | {b4} |",
              flush=True)
    print("\nper size (model: layer effectual-MACs wall-s):")
    for r in results:
        if "error" not in r:
            print(f"  {r['model']}: " + "; ".join(f"{x['layer']} {x['macs_effectual']:,} {x['wall_s']:.4g}"
                                                 for x in r["sizes"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
