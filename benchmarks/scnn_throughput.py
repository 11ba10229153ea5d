"""SCNN timing-only throughput: simulated effectual products per wall-second on one core.

Layer: 3x3 conv, 256 -> 256 channels, 100 x 168 plane (padding 1), activation density
0.5, dense weights (issue 4's benchmark).  Prints the SCNN model's end-to-end time
(`simulate_layer`, timing-only mode: compressed-stream build + Numba cycle loop with the
preset's crossbar walked cycle by cycle + memory/energy bookkeeping), the effectual products per
second, and the ratio to a plain numpy dense convolution (im2col + matmul, float64, the
project's ``workloads.effectual.conv_reference``) of the same layer in the same run.

    python benchmarks/scnn_throughput.py [--H 100 --W 168 --C 256 --K 256 --density 0.5] [--set KEY=VALUE]

Single core: BLAS / Numba threads are pinned to 1 before numpy is imported.
"""

import argparse  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

import _single_core  # noqa: F401  (pins one thread before numpy is imported)
import numpy as np  # noqa: E402

from accelsim.engine import make_model  # noqa: E402
from workloads import Layer, LayerInstance  # noqa: E402
from workloads.effectual import conv_reference  # noqa: E402
from workloads.synthetic import random_tensor  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--C", type=int, default=256)
    ap.add_argument("--K", type=int, default=256)
    ap.add_argument("--H", type=int, default=100)
    ap.add_argument("--W", type=int, default=168)
    ap.add_argument("--density", type=float, default=0.5)
    ap.add_argument("--arch", default="scnn")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config field, e.g. --set accumulator.conflict_model=step_max")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    L = Layer("bench", "conv", C=a.C, K=a.K, H=a.H, W=a.W, R=3, S=3, padding=1)
    acts = random_tensor(L.act_shape, a.density, rng, nonneg=True)
    w = random_tensor(L.weight_shape, 1.0, rng)
    inst = LayerInstance(L, 0, acts=acts, weights=w)
    model = make_model(a.arch, dict(kv.split("=", 1) for kv in a.set))
    # warm-up: compile / load the Numba cache on a small layer
    small = Layer("warm", "conv", C=8, K=8, H=12, W=12, R=3, S=3, padding=1)
    model.simulate_layer(LayerInstance(small, 0, acts=random_tensor(small.act_shape, 0.5, rng, nonneg=True),
                                       weights=random_tensor(small.weight_shape, 1.0, rng)))
    t0, c0 = time.perf_counter(), time.process_time()
    res = model.simulate_layer(inst, functional=False)
    t_sim, c_sim = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    conv_reference(acts, w, 1, 1)
    t_np, c_np = time.perf_counter() - t0, time.process_time() - c0
    eff = res.macs_effectual
    print(f"layer: 3x3 conv {a.C}->{a.K} at {a.H}x{a.W}, act density {a.density}, dense weights; arch {a.arch}"
          f" {' '.join(a.set)} (crossbar {model.cfg['accumulator.conflict_model']})")
    print(f"simulated cycles: {res.cycles:,}  (breakdown {res.breakdown})")
    print(f"effectual products: {eff:,}  multiplier steps: {res.extra['multiplier_steps']:,}")
    print(f"SCNN timing-only: wall {t_sim:.2f} s, CPU {c_sim:.2f} s -> {eff / t_sim:.3g} effectual products per "
          f"wall-second ({eff / c_sim:.3g} per CPU-second) on one core (goal >= 2e8)")
    print(f"numpy dense conv (im2col + matmul, float64): wall {t_np:.2f} s, CPU {c_np:.2f} s")
    print(f"ratio simulator / numpy dense conv: {t_sim / t_np:.2f}x wall, {c_sim / c_np:.2f}x CPU")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (wall times include other processes' load)")


if __name__ == "__main__":
    main()
