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
* ``eyeriss-v2-paper-mobilenet``: the network behind the Eyeriss v2 chip numbers, sparse
  MobileNet-v1 width 0.5 at 128x128 (L01..L28): the nine real masked layers as they are, the
  other nineteen with seeded masks whose densities reproduce the artifact's per-layer
  ground-truth counts (see :func:`paper_mobilenet`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .errors import WorkloadError
from .ir import Layer, SparseTensor, Workload
from .synthetic import random_mask, random_tensor
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


# ------------------------------------------------- the Eyeriss v2 paper's sparse MobileNet (0.5, 128)
# One Eyeriss v2 PE (one MAC) on every layer of the sparse MobileNet the artifact ships masks for:
# Sparseloop MICRO 2022 artifact, fig12_eyerissv2_pe_setup/scripts/ground_truth_cycles.yaml (commit 7a7a6f0),
# reproduced in accelerators.md 5.3.  For a pointwise / FC layer the count is its effectual MACs
# (sum_c nnz_iact(c) x nnz_w(c), exact on the 8 masked ones); every depthwise count is a multiple of P x Q.
SPARSELOOP_GT_CYCLES = {
    "L01": 1769472, "L02": 544768, "L03": 461302, "L04": 278528, "L05": 873643, "L06": 513024, "L07": 1702140,
    "L08": 145920, "L09": 1499682, "L10": 270848, "L11": 2491491, "L12": 73728, "L13": 1144158, "L14": 147456,
    "L15": 2238663, "L16": 147456, "L17": 2173758, "L18": 124096, "L19": 1457458, "L20": 147456, "L21": 1677684,
    "L22": 147456, "L23": 1821557, "L24": 36864, "L25": 948572, "L26": 73728, "L27": 775316, "L28": 95443}
GT_SOURCE = "Sparseloop MICRO 2022 artifact fig12_eyerissv2_pe_setup/scripts/ground_truth_cycles.yaml"


def paper_mobilenet(shared=None, seed: int = 0) -> Workload:
    """Sparse MobileNet-v1, width 0.5, 128x128, batch 1: the Eyeriss v2 chip benchmark (1470.6 inf/s).

    Identification: the Sparseloop artifact (same group) validates against the Eyeriss v2 PE on
    "mobilenet0.5-sparse", whose 28 layer shapes are MobileNet-v1 0.5/128 (49.2 M dense MACs; the
    chip's 76.8 GMAC/s peak allows 1,561 dense inf/s there, against 135 on 1.0/224).  Data:

    * the nine layers with real masks (L07 L09 L13 L19 L20 L21 L23 L25 L27): those masks;
    * L01 (the RGB image and conv1): dense (its ground truth is the dense count);
    * other pointwise layers and the FC (L28): seeded uniform masks; iact density = the mean of
      the real iact masks (``measured_densities``), weight density = (ground truth / dense MACs) /
      iact density, so the expected effectual MACs equal the artifact's count (the split between
      the operands is the assumption; it changes storage and traffic, not the MAC work);
    * other depthwise layers: weight density = ground truth / dense (the counts are nnz_w x P x Q
      there: zero iacts not skipped), iact density = the real iact-mask mean.

    Pattern-only tensors (no values): timing and energy, not functional mode.
    """
    d = require_shared(SUB, shared)
    masked = {r["layer"]: r for r in read_layers_csv(d)}
    dens = measured_densities(shared)
    wl = Workload("eyeriss-v2-paper-mobilenet",
                  meta={"source": "MobileNet-v1 0.5/128 (Sparseloop fig12 'mobilenet0.5-sparse' shapes)",
                        "ground_truth": GT_SOURCE, "seed": seed, "iact_density_unmasked": dens["iact"],
                        "masked_layers": sorted(masked)})
    prev = None
    for i, row in enumerate(mobilenet_v1_shapes(0.5, 128), start=1):
        name = f"L{i:02d}"
        gt = SPARSELOOP_GT_CYCLES[name]
        kind = row["kind"]
        meta = {"mobilenet_layer": row["name"], "ground_truth_cycles": gt, "ground_truth_source": GT_SOURCE}
        if name in masked:
            L0, acts = pe_mobilenet05_layer(d, masked[name])
            L = Layer(name, L0.kind, C=L0.C, K=L0.K, H=L0.H, W=L0.W, R=L0.R, S=L0.S, stride=L0.stride,
                      padding=L0.padding, groups=L0.groups, weights=L0.weights, meta={**meta, "data": "real masks"})
        else:
            groups = row["C"] if kind == "depthwise" else 1
            pad = 1 if row["R"] == 3 else 0
            L0 = Layer(name, kind, C=row["C"], K=row["K"], H=row["H"], W=row["H"], R=row["R"], S=row["R"],
                       stride=row["stride"], padding=pad, groups=groups)
            rng = np.random.default_rng([seed, 1470, i])
            ratio = gt / L0.macs_dense
            if name == "L01":
                wd, ad = 1.0, 1.0
            elif kind == "depthwise":
                wd, ad = ratio, dens["iact"]
            else:
                ad = dens["iact"]
                wd = min(1.0, ratio / ad)
            w = SparseTensor(random_mask(L0.weight_shape, wd, rng))
            acts = SparseTensor(random_mask(L0.act_shape, ad, rng))
            L = Layer(name, kind, C=L0.C, K=L0.K, H=L0.H, W=L0.W, R=L0.R, S=L0.S, stride=L0.stride,
                      padding=pad, groups=groups, weights=w,
                      meta={**meta, "data": "seeded masks", "weight_density": wd, "iact_density": ad})
        if (L.C, L.K, L.H, L.R, L.stride) != (row["C"], row["K"], row["H"], row["R"], row["stride"]):
            raise WorkloadError(f"{name}: shape differs from MobileNet-v1 0.5/128 row {row}", field=name)
        wl.add_layer(L, deps=[prev] if prev else [])
        wl.set_image_data(0, name, acts=acts)
        prev = name
    return wl


@register("eyeriss-v2-paper-mobilenet",
          "Sparse MobileNet-v1 0.5/128 (the Eyeriss v2 chip benchmark): 9 real masked layers + 19 seeded to the "
          "artifact's per-layer ground-truth counts (batch 1)")
def _paper_mobilenet_zoo(shared=None, seed: int = 0) -> Workload:
    return paper_mobilenet(shared, seed)
