"""SCNN cycle-loop speed (issue 14): wall time and a result digest per (layer, crossbar model).

Seeded layers (3x3 convs at 50 % activation density with dense and 40 %-dense weights, the sparse one
again with a clustered 20 % output mask, a 1x1 conv) run through ``accelsim.engine.run_instance`` on
presets ``scnn`` (``fifo`` crossbar), ``scnn`` with ``accumulator.conflict_model=step_max`` and ``=queue``,
and ``scnn-maskskip``.  Per case: ``layer_s`` (run_instance end to end), ``kernel_s`` (the cycle loop alone,
``run_rounds`` on the prepared layer), both best of ``--repeat`` after a JIT warm-up, the products walked
per kernel-second, and a digest: sha256 of ``json.dumps(res.to_dict(), sort_keys=True, default=str)``
(no wall times in it).  ``--save FILE`` stores the digests, ``--check FILE`` compares with stored ones
(exit 1 on a difference), so a kernel change can be shown bit-identical on every layer.

    python benchmarks/scnn_kernel_speed.py [--repeat 3] [--scale 1.0] [--save FILE | --check FILE]

Single core: BLAS / Numba threads pinned to 1 before numpy is imported.  Wall times are for comparison
on one machine only (never asserted in tests).
"""

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import _single_core  # noqa: F401  (pins one thread before numpy is imported)
import numpy as np  # noqa: E402

from accelsim.engine import make_model, run_instance  # noqa: E402
from accelsim.models.scnn.kernel import ST_PROD  # noqa: E402
from workloads import Layer, LayerInstance  # noqa: E402

CONFIGS = [
    ("scnn/fifo", "scnn", {}),
    ("scnn/step_max", "scnn", {"accumulator.conflict_model": "step_max"}),
    ("scnn/queue", "scnn", {"accumulator.conflict_model": "queue"}),
    ("scnn-maskskip", "scnn-maskskip", {}),
]


def clustered_mask(rng, P, Q, density, blur=6):
    """A seeded output mask with ``density`` of its pixels on, in blobs (box-blurred noise, thresholded)."""
    z = rng.random((P + 2 * blur, Q + 2 * blur))
    c = np.cumsum(np.cumsum(z, axis=0), axis=1)
    c = np.pad(c, ((1, 0), (1, 0)))
    k = 2 * blur + 1
    s = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    s = s[:P, :Q]
    return s > np.quantile(s, 1.0 - density)


def make_layers(scale):
    C = max(8, int(64 * scale))
    H, W = max(8, int(40 * scale)), max(8, int(64 * scale))
    out = []
    specs = [
        ("conv3x3-dense-w", dict(C=C, K=C, H=H, W=W, R=3, padding=1), 0.5, 1.0, None),
        ("conv3x3-w40", dict(C=C, K=C, H=H, W=W, R=3, padding=1), 0.5, 0.4, None),
        ("conv3x3-w40-mask20", dict(C=C, K=C, H=H, W=W, R=3, padding=1), 0.5, 0.4, 0.2),
        ("conv1x1", dict(C=2 * C, K=2 * C, H=H, W=W, R=1, padding=0), 0.5, 0.5, None),
    ]
    for i, (name, shape, da, dw, md) in enumerate(specs):
        rng = np.random.default_rng(100 + i)
        L = Layer(name, "conv", S=shape["R"], **shape)
        a = rng.random((L.C, L.H, L.W)) * (rng.random((L.C, L.H, L.W)) < da)
        w = rng.standard_normal(L.weight_shape) * (rng.random(L.weight_shape) < dw)
        mask = clustered_mask(rng, L.P, L.Q, md) if md is not None else None
        out.append(LayerInstance(L, 0, acts=a, weights=w, out_mask=mask))
    return out


def _strip(d):
    if isinstance(d, dict):
        return {k: _strip(v) for k, v in d.items() if "wall" not in str(k)}
    if isinstance(d, list):
        return [_strip(v) for v in d]
    return d


def digest(res):
    return hashlib.sha256(json.dumps(_strip(res.to_dict()), sort_keys=True, default=str).encode()).hexdigest()


def best(fn, repeat):
    ts, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return min(ts), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="layer size factor (channels, plane)")
    ap.add_argument("--only", default="", help="substring filter on 'config layer'")
    ap.add_argument("--save", help="write the digests (and wall times) to this JSON file")
    ap.add_argument("--check", help="compare the digests with this JSON file (exit 1 on a difference)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    insts = make_layers(a.scale)
    ref = json.load(open(a.check)) if a.check else None
    rows, bad = [], 0
    for cname, preset, ov in CONFIGS:
        model = make_model(preset, ov)
        for inst in insts:
            key = f"{cname} {inst.name}"
            if a.only and a.only not in key:
                continue
            res = run_instance(model, inst)  # JIT warm-up (or cache load)
            t_layer, res = best(lambda m=model, i=inst: run_instance(m, i), a.repeat)
            prep = model.prepare(inst.materialize(0))
            t_kern, S = best(lambda m=model, pr=prep: m.run_rounds(pr), a.repeat)
            prod = int(S[..., ST_PROD].sum())
            row = {"case": key, "layer_s": t_layer, "kernel_s": t_kern, "products": prod,
                   "products_per_s": prod / t_kern if t_kern > 0 else 0.0, "cycles": int(res.cycles),
                   "digest": digest(res)}
            if ref is not None:
                old = ref.get(key)
                row["same"] = old is not None and old["digest"] == row["digest"]
                if old is not None:
                    row["layer_ratio"] = old["layer_s"] / t_layer
                    row["kernel_ratio"] = old["kernel_s"] / t_kern
                bad += not row["same"]
            rows.append(row)
            if not a.json:
                extra = ""
                if ref is not None:
                    extra = f"  {'SAME' if row['same'] else 'DIFFERENT'}"
                    if "kernel_ratio" in row:
                        extra += f"  x{row['layer_ratio']:.2f} layer  x{row['kernel_ratio']:.2f} kernel"
                print(f"{key:36s} layer {t_layer:7.3f} s  kernel {t_kern:7.3f} s  "
                      f"{row['products_per_s'] / 1e6:6.1f} Mprod/s  cycles {row['cycles']:>10d}  "
                      f"{row['digest'][:12]}{extra}", flush=True)
    if a.save:
        with open(a.save, "w") as f:
            json.dump({r["case"]: r for r in rows}, f, indent=1)
    if a.json:
        print(json.dumps(rows, indent=1))
    if ref is not None:
        print(f"digests: {len(rows) - bad} of {len(rows)} identical", file=sys.stderr)
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
