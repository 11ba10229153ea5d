"""Cambricon-X model throughput: simulated synapse-neuron products per wall-second on one core.

Layer: 3x3 conv, 256 -> 256 channels on a 56 x 56 plane (padding 1), weights magnitude-pruned to
density 0.24 (VGG16 conv3_2, Han et al.), dense activations.  Times ``simulate_layer`` end to end
(both index formats compressed, greedy IM chunking per map, the per-PE (block, position) timeline,
the DMA model, energy bookkeeping and the walk over every active output that counts effectual MACs)
and reports the multiplier products the simulated hardware performs (``macs_actual``) per wall
second, next to a numpy dense convolution of the same layer (``workloads.effectual.conv_reference``).

    python benchmarks/cambricon_x_throughput.py [--H 56 --C 256 --K 256 --density 0.24 --format step]

Single core: BLAS / Numba threads are pinned to 1 before numpy is imported.
"""

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import _single_core  # noqa: F401  (pins one thread before numpy is imported)
import numpy as np  # noqa: E402

from accelsim.engine import make_model  # noqa: E402
from accelsim.models.cambricon_x import pruned_weights  # noqa: E402
from workloads import Layer, LayerInstance  # noqa: E402
from workloads.effectual import conv_reference  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--C", type=int, default=256)
    ap.add_argument("--K", type=int, default=256)
    ap.add_argument("--H", type=int, default=56)
    ap.add_argument("--density", type=float, default=0.24)
    ap.add_argument("--format", choices=("step", "direct"), default="step")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    L = Layer("bench", "conv", C=a.C, K=a.K, H=a.H, W=a.H, R=3, S=3, padding=1)
    w = pruned_weights(L.weight_shape, a.density, rng).dense()
    acts = np.maximum(0.0, rng.standard_normal(L.act_shape))
    inst = LayerInstance(L, 0, acts=acts, weights=w)
    model = make_model("cambricon-x", {"index.format": a.format})
    small = Layer("warm", "conv", C=8, K=8, H=12, W=12, R=3, S=3, padding=1)  # compile / load Numba cache
    model.simulate_layer(LayerInstance(small, 0, acts=np.ones(small.act_shape), weights=np.ones(small.weight_shape)))
    times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        res = model.simulate_layer(inst)
        times.append(time.perf_counter() - t0)
    t_sim = min(times)
    t0 = time.perf_counter()
    conv_reference(acts, w, 1, 1)
    t_np = time.perf_counter() - t0
    out = {"layer": f"3x3 conv {a.C}->{a.K} at {a.H}x{a.H}, weight density {a.density}, dense activations",
           "index_format": a.format, "simulated_cycles": int(res.cycles), "breakdown": res.breakdown,
           "products": int(res.macs_actual), "wall_s_min_of_repeats": t_sim,
           "products_per_wall_s": res.macs_actual / t_sim, "simulated_cycles_per_wall_s": res.cycles / t_sim,
           "numpy_dense_conv_s": t_np, "sim_vs_numpy_dense_conv": t_sim / t_np}
    if a.json:
        print(json.dumps(out, indent=2))
        return
    for k, v in out.items():
        print(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}")


if __name__ == "__main__":
    main()
