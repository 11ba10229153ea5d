"""EIE model throughput: simulated stored entries per wall-second on one core.

Two layers: the EIE authors' AlexNet fc8 dump (4096 x 1000, 1,051,991 stored entries,
1759 non-zero activations; packaged reference data, or ``../shared`` / ``$ACCELSIM_SHARED``) and a seeded
synthetic 9216 x 4096 layer at 9 % weight density (AlexNet fc6 size, Table III; 35.1 %
activations).  Each is timed three ways, best of ``--repeat`` after a JIT warm-up:

* ``cycle``: the timing loop alone (:func:`accelsim.models.eie.run_matrix`, not functional)
  on the already-compressed per-PE CSC, default ``timing_loop: event``; ``stepper`` is the
  same with the explicit per-cycle loop (``timing_loop: cycle``, identical results);
* ``layer``: ``simulate_layer`` end to end (matrix cached on the model, as in a run over
  many images), timing + energy bookkeeping, no functional output;
* ``build``: compressing the dense matrix into the per-PE CSC (synthetic layer) or reading
  and validating the dump (fc8), done once per layer.

Entries per second = stored entries of the matrix (what the hardware stores and the
cycle loop may stream) / wall seconds; also simulated cycles per second.  Goal: the
whole fc8 layer (``layer``) in under 50 ms after warm-up.

    python benchmarks/eie_throughput.py [--repeat 5] [--json]

Single core: BLAS / Numba threads pinned to 1 before numpy is imported.  Wall times are
for comparison on one machine only (never asserted in tests).
"""

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import _single_core  # noqa: F401  (pins one thread before numpy is imported)
import numpy as np  # noqa: E402

from accelsim.config import load_arch  # noqa: E402
from accelsim.engine import make_model  # noqa: E402
from accelsim.models.eie import matrix_from_dump, run_matrix, synthetic_acts, synthetic_matrix  # noqa: E402
from workloads import Layer, LayerInstance  # noqa: E402


def best(fn, repeat):
    ts = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return min(ts), out


def bench(name, m, acts, cfg, repeat, build_s, inst=None, model=None):
    run_matrix(m, acts, cfg)  # JIT warm-up (or cache load)
    t_cyc, r = best(lambda: run_matrix(m, acts, cfg), repeat)
    run_matrix(m, acts, cfg, timing_loop="cycle")
    t_step, rs = best(lambda: run_matrix(m, acts, cfg, timing_loop="cycle"), repeat)
    assert rs["cycles"] == r["cycles"]
    row = {"layer": name, "stored_entries": m.n_entries, "streamed_entries": r["actions"]["mac_16b"],
           "cycles": r["cycles"], "cycle_loop_s": t_cyc, "entries_per_s": m.n_entries / t_cyc,
           "sim_cycles_per_s": r["cycles"] / t_cyc, "stepper_s": t_step, "build_s": build_s}
    if inst is not None:
        model.simulate_layer(inst)  # fills the model's matrix cache
        t_layer, res = best(lambda: model.simulate_layer(inst), repeat)
        row.update(layer_s=t_layer, layer_entries_per_s=m.n_entries / t_layer, layer_cycles=res.cycles)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    cfg = load_arch("eie")
    model = make_model("eie")
    rows = []
    from workloads.eie_dump import SUBDIR
    from workloads.zoo import require_shared, resolve
    path = require_shared(SUBDIR)  # ../shared's copy, else the packaged one
    t_build, m = best(lambda: matrix_from_dump(path, 1000, 4096, 64), 1)
    wl = resolve("eie-alexnet-fc8")
    rows.append(bench("alexnet-fc8 (dump)", m, m.meta["act"][None], cfg, a.repeat, t_build,
                      wl.instance("fc8", 0), model))
    rng = np.random.default_rng(0)
    K, C = 4096, 9216
    t_build, m = best(lambda: synthetic_matrix(K, C, 0.09, rng), 1)
    acts = synthetic_acts(C, 0.351, rng)
    W, _ = m.dense()
    L = Layer("fc6", "fc", C=C, K=K, weights=W)
    inst = LayerInstance(L, 0, acts=acts.reshape(C, 1, 1), weights=L.weights)
    t0 = time.perf_counter()
    model.simulate_layer(inst)      # compresses the dense matrix once
    t_compress = time.perf_counter() - t0
    rows.append(bench("9216x4096 @ 9% (synthetic)", m, acts[None], cfg, a.repeat, t_compress, inst, model))
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(f"{r['layer']:28s} {r['stored_entries']:>10,} entries  {r['cycles']:>7,} cycles  "
              f"cycle loop {1e3 * r['cycle_loop_s']:7.2f} ms ({r['entries_per_s'] / 1e6:7.1f} M entries/s, "
              f"{r['sim_cycles_per_s'] / 1e6:5.2f} M cycles/s)  stepper {1e3 * r['stepper_s']:7.2f} ms  layer {1e3 * r.get('layer_s', float('nan')):7.2f} ms  "
              f"build {1e3 * r['build_s']:7.1f} ms")


if __name__ == "__main__":
    main()
