"""SCNN-study workloads built from the reference set ``scnn_layer_densities`` (:mod:`workloads.refdata`).

Each CSV row (``layer,C,K,H,W,R,S,stride,pad,act_density,weight_density``) is a
convolution layer carrying its published densities (Han et al. pruned
weights; ImageNet-measured activations, see ``workloads/refdata/README.md``).  The workload
holds, for one image, seeded uniform random non-zero **patterns** of exactly
``round(density * size)`` non-zeros (:func:`workloads.synthetic.random_mask`):
weights (K, C, R, S) on the layer and input activations (C, H, W) as image 0.
They are masks without values (``SparseTensor(mask)``), so timing models walk
the exact patterns; functional checks need real values and do not apply.

The random stream of a layer depends only on (seed, layer name), so a layer's
masks do not change when rows are added or reordered.  Layers are chained in
row order (the two GoogLeNet modules' branches are listed as a chain: the CSV
has no graph; SCNN runs layers one at a time anyway).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import WorkloadError
from .importers import CsvTable, chained_workload
from .ir import SparseTensor, Workload, stable_hash
from .synthetic import random_mask
from .zoo import register, require_shared

SUBDIR = "scnn_layer_densities"
COLUMNS = ("layer", "C", "K", "H", "W", "R", "S", "stride", "pad", "act_density", "weight_density")


def read_density_table(path, name: str | None = None) -> Workload:
    """Density-only workload (no arrays) of one SCNN density CSV; every defect is a WorkloadError."""
    path = Path(path)
    t = CsvTable(path)

    def row(ln, cells, seen):
        nm = t.name(ln, cells, "layer", seen)
        dims = {k: t.int(ln, cells, k) for k in ("C", "K", "H", "W", "R", "S", "stride")}
        pad = t.int(ln, cells, "pad", minimum=0)
        ad, wd = t.float(ln, cells, "act_density"), t.float(ln, cells, "weight_density")
        return t.layer(ln, "layer", name=nm, kind="conv", padding=pad, act_density=ad, weight_density=wd,
                       meta={"source": f"{SUBDIR}/{path.name}"}, **dims)

    return chained_workload(t, name or path.stem, {"source": str(path)}, COLUMNS, row)


def density_workload(name: str, csv_name: str, shared=None, seed: int = 0, masks: bool = True) -> Workload:
    """Workload of one SCNN density table; ``masks`` attaches the seeded exact-density patterns."""
    path = require_shared(SUBDIR, shared) / csv_name
    if not path.is_file():
        raise WorkloadError("reference table missing from the reference data folder", file=str(path))
    wl = read_density_table(path, name)
    wl.meta.update(seed=seed, masks="uniform random, exact density (workloads.synthetic.random_mask)"
                   if masks else "none (density-only)")
    if masks:
        for L in wl.layers.values():
            rng = np.random.default_rng([seed, stable_hash(L.name)])
            L.weights = SparseTensor(random_mask(L.weight_shape, L.weight_density, rng))
            wl.set_image_data(0, L.name, acts=SparseTensor(random_mask(L.act_shape, L.act_density, rng)))
    return wl


@register("scnn-vgg16", "VGG16 conv1_1..conv5_3 with SCNN-study densities; seeded exact-density random masks")
def scnn_vgg16(shared=None, seed: int = 0) -> Workload:
    return density_workload("scnn-vgg16", "vgg16_conv.csv", shared, seed)


@register("scnn-googlenet-inception", "GoogLeNet inception 3a and 5b (12 conv) with SCNN-study densities; "
                                      "seeded exact-density random masks")
def scnn_googlenet_inception(shared=None, seed: int = 0) -> Workload:
    return density_workload("scnn-googlenet-inception", "googlenet_inception_3a_5b.csv", shared, seed)
