"""Eyeriss v2 workloads: the real MobileNet-0.5 PE masks and a sparse MobileNet-v1 (1.0, 224).

* ``eyeriss-v2-pe-mobilenet05``: the nine masked layers of the Sparseloop MICRO 2022
  artifact (``fig12_eyerissv2_pe_setup``; reference set ``eyerissv2_pe_mobilenet05``, packaged in
  :mod:`workloads.refdata`, overridden by ``../shared/validation/eyerissv2_pe_mobilenet05``).  Pattern-only tensors
  (``SparseTensor(mask)``); shapes from ``layers.csv``; the ground-truth single-PE
  cycles are kept in ``layer.meta["ground_truth_cycles"]``.
  Mask layouts (validation README): iacts ``[H_out*W_out][C]`` (C innermost), weights
  ``[M][C]`` (pointwise) or ``[M][R*S]`` (depthwise L20).  All layers are stride 1;
  the depthwise layer is 3x3 with padding 1, so its input plane equals its output plane.
* ``eyeriss-v2-sparse-mobilenet-v1``: MobileNet-v1 (width 1.0, 224x224, batch 1) with
  seeded Gaussian weights magnitude-pruned to documented densities and seeded
  post-ReLU activations of documented density (see :func:`sparse_mobilenet_v1`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .errors import WorkloadError
from .ir import Layer, SparseTensor, Workload
from .synthetic import random_tensor
from .zoo import register, require_shared

SUB = "eyerissv2_pe_mobilenet05"


def _read_mask(path: Path, size: int) -> np.ndarray:
    try:
        txt = path.read_bytes().strip()
    except OSError as e:
        raise WorkloadError(f"cannot read mask ({e.strerror})", file=str(path)) from None
    a = np.frombuffer(txt, dtype=np.uint8)
    if a.size != size:
        raise WorkloadError(f"mask has {a.size} characters, expected {size}", file=str(path))
    if np.any((a != ord("0")) & (a != ord("1"))):
        raise WorkloadError("mask must contain only '0' and '1'", file=str(path))
    return a == ord("1")


def read_layers_csv(d: Path) -> list[dict]:
    path = d / "layers.csv"
    try:
        rows = list(csv.DictReader(path.open()))
    except OSError as e:
        raise WorkloadError(f"cannot read ({e.strerror})", file=str(path)) from None
    out = []
    for i, row in enumerate(rows):
        try:
            r = {k: (row[k] if k in ("layer", "kind") else int(row[k]))
                 for k in ("layer", "kind", "C", "M", "H_out", "W_out", "R", "S", "stride", "dense_macs",
                           "ground_truth_cycles")}
        except (KeyError, ValueError, TypeError) as e:
            raise WorkloadError(f"row {i + 2}: bad or missing column ({e})", file=str(path)) from None
        if r["kind"] not in ("pointwise", "depthwise"):
            raise WorkloadError(f"row {i + 2}: unknown kind {r['kind']!r}", file=str(path), field="kind")
        out.append(r)
    return out


def pe_mobilenet05_layer(d: Path, r: dict) -> tuple[Layer, SparseTensor]:
    """One masked layer: (Layer with weight pattern, activation pattern (C, H, W))."""
    name, C, M, E, F = r["layer"], r["C"], r["M"], r["H_out"], r["W_out"]
    meta = {"ground_truth_cycles": r["ground_truth_cycles"], "csv_dense_macs": r["dense_macs"],
            "source": "Sparseloop MICRO 2022 artifact fig12_eyerissv2_pe_setup (real sparse MobileNet-0.5 masks)"}
    if r["kind"] == "pointwise":
        w = _read_mask(d / f"{name}_weights.txt", M * C).reshape(M, C, 1, 1)
        a = _read_mask(d / f"{name}_iacts.txt", E * F * C).reshape(E, F, C).transpose(2, 0, 1)
        L = Layer(name, "conv", C=C, K=M, H=E * r["stride"], W=F * r["stride"], R=1, S=1, stride=r["stride"],
                  weights=SparseTensor(w), meta=meta)
    else:
        R, S = r["R"], r["S"]
        w = _read_mask(d / f"{name}_weights.txt", M * R * S).reshape(M, 1, R, S)
        a = _read_mask(d / f"{name}_iacts.txt", E * F * C).reshape(E, F, C).transpose(2, 0, 1)
        L = Layer(name, "depthwise", C=C, K=M, H=E, W=F, R=R, S=S, stride=1, padding=R // 2, groups=C,
                  weights=SparseTensor(w), meta=meta)
    if L.macs_dense != r["dense_macs"]:
        raise WorkloadError(f"{name}: shape gives {L.macs_dense} dense MACs, layers.csv says {r['dense_macs']}",
                            file=str(d / "layers.csv"), field="dense_macs")
    return L, SparseTensor(np.ascontiguousarray(a))


@register("eyeriss-v2-pe-mobilenet05",
          "9 real sparse MobileNet-0.5 layers (masks + single-PE ground-truth cycles, Sparseloop artifact)")
def pe_mobilenet05(shared=None, seed: int = 0) -> Workload:
    d = require_shared(SUB, shared)
    wl = Workload("eyeriss-v2-pe-mobilenet05",
                  meta={"source": str(d), "note": "pattern-only tensors; ground truth in layer.meta"})
    for r in read_layers_csv(d):
        L, acts = pe_mobilenet05_layer(d, r)
        wl.add_layer(L)
        wl.set_image_data(0, L.name, acts=acts)
    return wl


# ------------------------------------------------------------ sparse MobileNet-v1 (1.0, 224)
def measured_densities(shared=None) -> dict:
    """Densities of the real sparse MobileNet-0.5 masks: the documented pruning targets (pointwise weights over
    the 8 PW layers, iacts over all 9 layers, depthwise weights of L20)."""
    d = require_shared(SUB, shared)
    pw, ia, dw = [], [], []
    for r in read_layers_csv(d):
        L, acts = pe_mobilenet05_layer(d, r)
        ia.append(acts.density)
        (pw if r["kind"] == "pointwise" else dw).append(L.weights.density)
    return {"pw_weight": float(np.mean(pw)), "dw_weight": float(np.mean(dw)), "iact": float(np.mean(ia)),
            "source": f"means over the real masks of {SUB}"}


def mobilenet_v1_shapes(width: float = 1.0, res: int = 224) -> list[dict]:
    """MobileNet-v1 layer table (Howard et al. 2017, Table 1): conv1, 13 dw/pw pairs, FC."""
    c = lambda n: int(n * width)  # noqa: E731
    rows = [dict(name="conv1", kind="conv", C=3, K=c(32), H=res, R=3, stride=2)]
    h = res // 2
    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    cin = c(32)
    for i, (cout, st) in enumerate(cfg, 1):
        rows.append(dict(name=f"dw{i}", kind="depthwise", C=cin, K=cin, H=h, R=3, stride=st))
        h = (h + 2 - 3) // st + 1
        rows.append(dict(name=f"pw{i}", kind="conv", C=cin, K=c(cout), H=h, R=1, stride=1))
        cin = c(cout)
    rows.append(dict(name="fc", kind="fc", C=cin, K=1000, H=1, R=1, stride=1))
    return rows


def _magnitude_prune(w: np.ndarray, density: float) -> np.ndarray:
    """Keep the round(density * size) largest |w| (ties broken by index, deterministic)."""
    k = int(round(density * w.size))
    flat = w.ravel().copy()
    if k < flat.size:
        order = np.argsort(-np.abs(flat), kind="stable")
        flat[order[k:]] = 0.0
    return flat.reshape(w.shape)


def sparse_mobilenet_v1(shared=None, seed: int = 0, width: float = 1.0, res: int = 224,
                        densities: dict | None = None) -> Workload:
    """MobileNet-v1 with He-normal weights magnitude-pruned per layer type, seeded sparse activations.

    Densities (documented, not fitted to any paper number): the means of the real sparse
    MobileNet-0.5 masks (:func:`measured_densities`): pointwise and FC weights at the PW-mask
    mean, depthwise weights at the L20 mask density, conv1 weights dense; every activation
    except the (dense) input image at the iact-mask mean.
    """
    dens = densities or measured_densities(shared)
    rng = np.random.default_rng([seed, 1470])
    wl = Workload(f"eyeriss-v2-sparse-mobilenet-v1-{width:g}-{res}",
                  meta={"densities": dens, "seed": seed, "pruning": "per-layer magnitude pruning of He-normal weights"})
    prev = None
    for row in mobilenet_v1_shapes(width, res):
        kind = row["kind"]
        groups = row["C"] if kind == "depthwise" else 1
        pad = 1 if row["R"] == 3 else 0
        H = row["H"]
        L0 = Layer(row["name"], kind, C=row["C"], K=row["K"], H=H, W=H, R=row["R"], S=row["R"],
                   stride=row["stride"], padding=pad, groups=groups)
        fan_in = (L0.C // groups) * L0.R * L0.S
        w = rng.standard_normal(L0.weight_shape) * np.sqrt(2.0 / fan_in)
        wd = 1.0 if row["name"] == "conv1" else dens["dw_weight"] if kind == "depthwise" else dens["pw_weight"]
        w = _magnitude_prune(w, wd)
        L = Layer(L0.name, kind, C=L0.C, K=L0.K, H=H, W=H, R=L0.R, S=L0.S, stride=L0.stride, padding=pad,
                  groups=groups, weights=w, meta={"weight_density_target": wd})
        wl.add_layer(L, deps=[prev] if prev else [])
        ad = 1.0 if row["name"] == "conv1" else dens["iact"]
        wl.set_image_data(0, L.name, acts=random_tensor(L.act_shape, ad, rng, nonneg=True))
        prev = L.name
    return wl


@register("eyeriss-v2-sparse-mobilenet-v1",
          "MobileNet-v1 1.0/224, magnitude-pruned to the densities of the real MobileNet-0.5 masks (batch 1)")
def _sparse_mobilenet_v1_zoo(shared=None, seed: int = 0) -> Workload:
    return sparse_mobilenet_v1(shared, seed)
