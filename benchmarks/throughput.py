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

Each size also records the timing path the model took (``extra["path"]``, where it says) and a digest of
the layer result (sha256 of ``LayerResult.to_dict()`` with only that path left out): two
codes that give the same digest give the same cycles, breakdown, actions, energies and extras.

Before / after in one run (``--before DIR``: a checkout of the old code, e.g. ``git worktree add
/tmp/before HEAD``): for each model the benchmark runs in a fresh process on the old code
(``PYTHONPATH=DIR``) and then on this checkout, one model after the other, and prints a comparison
table -- effectual MACs / s / core of each at the largest size both ran, the speed-up, and whether the
cycles and result digests are identical at every size.

    python benchmarks/throughput.py --models eyeriss-v1,eyeriss-v2 --before /tmp/eyeriss_before
"""

from __future__ import annotations

import os

for _v in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

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


def result_digest(res) -> str:
    """sha256 of a LayerResult's dict without its timing path (the numbers, not how they were computed)."""
    d = res.to_dict()
    d["extra"] = {k: v for k, v in d["extra"].items() if k != "path"}
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


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
                     "cycles": int(res.cycles), "wall_s": best, "path": res.extra.get("path"),
                     "digest": result_digest(res)})
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
    ap.add_argument("--before", metavar="DIR",
                    help="checkout of the old code: run each model on it and on this checkout, compare")
    ap.add_argument("--json", action="store_true", help="print the results as JSON (one object per model)")
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
    if a.before:
        return compare(names, a)
    if a.json:
        print(json.dumps([_safe_bench(n, a) for n in names]))
        return 0
    print(f"# accelsim simulation throughput, 1 thread; weight density {W_DENSITY}, act density {A_DENSITY}")
    print(f"# machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| model | preset | family | sizes run | effectual MACs (largest) | wall s (largest) "
          "| effectual MACs / s / core | exponent b (t ~ work^b), all sizes | b, largest 4 sizes |")
    print("|" + "---|" * 9)
    results = []
    for n in names:
        r = _safe_bench(n, a)
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


def _safe_bench(n: str, a) -> dict:
    try:
        return bench_model(n, a.budget, a.repeat)
    except Exception as e:
        return {"model": n, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"}


def _run_tree(tree: Path, model: str, a) -> dict:
    """This script with ``--json`` for one model in a fresh process on the code in ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--models", model, "--budget", str(a.budget),
           "--repeat", str(a.repeat), "--json"]
    p = subprocess.run(cmd, env=env, cwd=str(tree), capture_output=True, text=True)
    if p.returncode != 0:
        return {"model": model, "error": (p.stderr.strip().splitlines() or ["failed"])[-1][:160]}
    return json.loads(p.stdout.strip().splitlines()[-1])[0]


def compare(names: list[str], a) -> int:
    """Each model on the old checkout then on this one (fresh processes); the comparison table."""
    before_dir = Path(a.before).resolve()
    after_dir = Path(__file__).resolve().parents[1]
    if not (before_dir / "accelsim").is_dir():
        sys.exit(f"throughput: --before: {before_dir} holds no accelsim package")
    print(f"# accelsim throughput before ({before_dir}) / after ({after_dir}), 1 thread; weight density "
          f"{W_DENSITY}, act density {A_DENSITY}")
    print(f"# machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| model | size compared | effectual MACs | before: wall s | before: eff. MACs/s/core | after: wall s "
          "| after: eff. MACs/s/core | speed-up | after: timing path | cycles identical | results identical |")
    print("|" + "---|" * 11)
    for n in names:
        b, f = _run_tree(before_dir, n, a), _run_tree(after_dir, n, a)
        if "error" in b or "error" in f:
            print(f"| {n} | failed: before {b.get('error', 'ok')}; after {f.get('error', 'ok')} |" + " - |" * 9)
            continue
        bs, fs = {x["layer"]: x for x in b["sizes"]}, {x["layer"]: x for x in f["sizes"]}
        common = [k for k in bs if k in fs]
        big = common[-1]
        cyc_same = all(bs[k]["cycles"] == fs[k]["cycles"] for k in common)
        dig_same = all(bs[k].get("digest") == fs[k].get("digest") for k in common)
        eb, ef = bs[big]["macs_effectual"] / bs[big]["wall_s"], fs[big]["macs_effectual"] / fs[big]["wall_s"]
        paths = sorted({str(fs[k].get("path")) for k in common})
        print(f"| {n} | {big} | {fs[big]['macs_effectual']:,} | {bs[big]['wall_s']:.4f} | {eb:.3g} | "
              f"{fs[big]['wall_s']:.4f} | {ef:.3g} | {bs[big]['wall_s'] / fs[big]['wall_s']:.1f}x | "
              f"{', '.join(paths)} | {'yes' if cyc_same else 'NO'} ({len(common)} sizes) | "
              f"{'yes' if dig_same else 'NO'} |", flush=True)
        for k in common:
            print(f"<!-- {n} {k}: before {bs[k]['wall_s']:.4g} s, after {fs[k]['wall_s']:.4g} s, "
                  f"x{bs[k]['wall_s'] / fs[k]['wall_s']:.1f}, cycles {bs[k]['cycles']} / {fs[k]['cycles']} -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
