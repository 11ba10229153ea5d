"""Dense vs masked (gather-GEMM-scatter) latency of the dynamic head alone, batch 1 and batch N.

    python benchmarks/dynhead_latency.py --channels 64 --depth 2 --size 256x384 --batch 1 2 --density 0.3

Random seeded head (``dynhead.model.build_head``) on random FPN features; gates replaced by seeded
spatially clustered masks of the given open-pixel density (``random_gate_override``), so the
masked path skips that fraction of the depth-path pixels.  The gate convs still run in every timed
call (``HeadContext`` computes each gate, then substitutes the given mask), as in ``accelsim compare``.  Prints one JSON line per (batch,
mode): median wall time (ms) over ``--repeats`` after one warm-up, used/full compute.  Needs
only torch + numpy; ``--device cuda`` synchronises around each timed call.  Times are for
comparison on one machine only (never asserted in tests).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from accelsim.gpu import fp32_only
from dynhead.cost import parse_size
from dynhead.model import HeadContext, build_head, random_features, random_gate_override


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--channels", type=int, default=256)
    p.add_argument("--depth", type=int, default=6)
    p.add_argument("--size", default="800x1344")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    p.add_argument("--density", type=float, default=0.3, help="open fraction of every gate")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    fp32_only()  # else cuDNN's TF32 convs (dense) race the FP32 matmuls (masked) on Ampere and later
    dev = torch.device(a.device)
    torch.manual_seed(0)
    head = build_head("dynamic", a.depth, a.channels, 80).eval().to(dev)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    for n in a.batch:
        feats = random_features(parse_size(a.size), a.channels, batch=n, seed=1, device=dev)
        gates = random_gate_override(head, [f.cpu() for f in feats], a.density, seed=2)
        gates = {k: v.to(dev) for k, v in gates.items()}
        for masked in (False, True):
            ts = []
            with torch.no_grad():
                for r in range(a.repeats + 1):
                    sync()
                    t = time.perf_counter()
                    head(feats, masked=masked, ctx=HeadContext(masked=masked, gate_override=gates, tally=False))
                    sync()
                    if r:
                        ts.append(time.perf_counter() - t)
                head(feats, masked=masked, ctx=HeadContext(masked=masked, gate_override=gates))  # untimed tally
            c = head.last_costs
            print(json.dumps({"device": str(dev), "channels": a.channels, "depth": a.depth, "size": a.size,
                              "batch": n, "mode": "masked" if masked else "dense", "density": a.density,
                              "ms_median": 1000 * statistics.median(ts), "ms_per_image": 1000 * statistics.median(ts) / n,
                              "used_over_full": float((c["hard"] / c["full"]).mean()), "threads": a.threads}),
                  flush=True)


if __name__ == "__main__":
    main()
