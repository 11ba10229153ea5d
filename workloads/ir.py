"""The workload IR: layers with their real data, per-image variants, a dependency graph.

Vocabulary (Timeloop/Sparseloop names in brackets):

* ``C`` input channels, ``K`` output channels [M], ``H x W`` input plane,
  ``R x S`` filter, ``P x Q`` output plane, ``N`` batch.
* Weights are ``(K, C // groups, R, S)``; activations of one image ``(C, H, W)``;
  an output mask ``(P, Q)`` says which output pixels must be computed (the
  dynamic head's spatial gate).  An ``fc`` layer is a 1x1 conv on a 1x1 plane.
* Density = fraction of non-zeros (density = 1 - sparsity).

Data is optional at every level: a layer may carry real arrays, only the
non-zero pattern (a :class:`SparseTensor` without values), or only densities.
Models consume a :class:`LayerInstance` (one layer bound to one image); it
materialises seeded synthetic data of exactly the given densities when real
data is absent, so density-only studies run through the same cycle loops.

This module does not import torch.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

import numpy as np

KINDS = ("conv", "depthwise", "fc")


# ---------------------------------------------------------------- errors (re-exported by workloads.errors)
class InputError(ValueError):
    """Bad user input: ``file: field 'x': reason`` on one line."""

    def __init__(self, reason: str, *, file: str | None = None, field: str | None = None):
        self.reason = reason
        self.file = file
        self.field = field
        parts = []
        if file:
            parts.append(str(file))
        if field:
            parts.append(f"field '{field}'")
        prefix = ": ".join(parts)
        msg = f"{prefix}: {reason}" if prefix else reason
        super().__init__(" ".join(str(msg).split()))  # always one line


class WorkloadError(InputError):
    """A workload file, table or layer description is invalid."""


# ---------------------------------------------------------------- services the package installs
#: This module imports no other module of the project.  The content hash and the one-file storage
#: behind :attr:`Workload.content_hash`, :meth:`Workload.save` and :meth:`Workload.load` live in
#: :mod:`workloads.storage`, which installs them here when imported; ``workloads/__init__.py`` imports
#: it, and a package's ``__init__`` runs before any of its modules, so they are always in place.
SERVICES: dict[str, Callable] = {}


def _service(name: str) -> Callable:
    try:
        return SERVICES[name]
    except KeyError:
        raise RuntimeError(f"workloads.ir: {name!r} is installed by workloads.storage (import workloads)") from None


# ---------------------------------------------------------------- seeded synthetic data (workloads.synthetic)
def exact_count(size: int, density: float) -> int:
    return int(min(size, max(0, round(density * size))))


def random_mask(shape, density: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask with exactly round(density * size) True entries, uniformly placed."""
    size = int(np.prod(shape))
    k = exact_count(size, density)
    flat = np.zeros(size, dtype=bool)
    if k:
        flat[rng.choice(size, size=k, replace=False)] = True
    return flat.reshape(shape)


def random_tensor(shape, density: float, rng: np.random.Generator, nonneg: bool = False) -> np.ndarray:
    """float64 array with exactly round(density * size) non-zeros.

    Values are drawn away from zero (|v| in [0.1, 1.1)) so no non-zero rounds to 0;
    ``nonneg`` gives post-ReLU-like activations.
    """
    mask = random_mask(shape, density, rng)
    vals = rng.random(int(mask.sum())) + 0.1
    if not nonneg:
        vals *= rng.choice([-1.0, 1.0], size=vals.shape)
    out = np.zeros(shape, dtype=np.float64)
    out[mask] = vals
    return out


def stable_hash(s: str) -> int:
    """A 32-bit integer of ``s`` that does not change between runs (seeds per-layer random streams)."""
    return int.from_bytes(hashlib.sha256(s.encode()).digest()[:4], "little")


# ---------------------------------------------------------------- sparse tensor
class SparseTensor:
    """Exact non-zero pattern of a tensor plus (optionally) the non-zero values.

    ``mask`` is a boolean array of the tensor's shape; ``values`` holds the
    non-zeros in C order of the mask (``x[mask]``).  Without values the tensor
    is a pattern only: :meth:`dense` then returns 0/1, good for timing models
    but not for functional checks (``has_values`` is False).
    """

    __slots__ = ("mask", "values")

    def __init__(self, mask: np.ndarray, values: np.ndarray | None = None):
        mask = np.asarray(mask, dtype=bool)
        if values is not None:
            values = np.asarray(values)
            if values.ndim != 1 or values.shape[0] != int(mask.sum()):
                raise WorkloadError(
                    f"values has {values.shape} entries but the mask has {int(mask.sum())} non-zeros",
                    field="values")
        self.mask = mask
        self.values = values

    @classmethod
    def from_dense(cls, x: np.ndarray) -> "SparseTensor":
        x = np.asarray(x)
        mask = x != 0
        return cls(mask, x[mask])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.mask.shape)

    @property
    def nnz(self) -> int:
        return int(self.mask.sum())

    @property
    def density(self) -> float:
        return self.nnz / max(1, self.mask.size)

    @property
    def has_values(self) -> bool:
        return self.values is not None

    def dense(self, dtype=np.float64) -> np.ndarray:
        out = np.zeros(self.mask.shape, dtype=dtype)
        # a flat index scatter: half the time of the boolean-mask assignment (same C order, same values)
        out.reshape(-1)[np.flatnonzero(self.mask)] = 1 if self.values is None else self.values
        return out

    def reshape(self, shape) -> "SparseTensor":
        return SparseTensor(self.mask.reshape(shape), self.values)

    def __eq__(self, other) -> bool:  # exact, for round-trip tests
        if not isinstance(other, SparseTensor):
            return NotImplemented
        if self.mask.shape != other.mask.shape or not np.array_equal(self.mask, other.mask):
            return False
        if (self.values is None) != (other.values is None):
            return False
        return self.values is None or (self.values.dtype == other.values.dtype
                                       and np.array_equal(self.values, other.values))

    def __repr__(self) -> str:
        return f"SparseTensor(shape={self.shape}, nnz={self.nnz}, values={'yes' if self.has_values else 'no'})"


TensorLike = np.ndarray | SparseTensor


def nonzero_mask(x: TensorLike) -> np.ndarray:
    """Boolean non-zero pattern of a dense array or a SparseTensor."""
    return x.mask if isinstance(x, SparseTensor) else (np.asarray(x) != 0)


def as_dense(x: TensorLike, dtype=np.float64) -> np.ndarray:
    return x.dense(dtype) if isinstance(x, SparseTensor) else np.asarray(x, dtype=dtype)


def has_values(x: TensorLike | None) -> bool:
    return x is not None and (not isinstance(x, SparseTensor) or x.has_values)


def _shape(x: TensorLike) -> tuple[int, ...]:
    return x.shape if isinstance(x, SparseTensor) else tuple(np.shape(x))


def _reshape(x: TensorLike, shape) -> TensorLike:
    return x.reshape(shape) if isinstance(x, SparseTensor) else np.asarray(x).reshape(shape)


# ------------------------------------------------------------------------ layer
def _check_int(name: str, v: Any, minimum: int, layer: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise WorkloadError(f"must be an integer, got {v!r}", field=f"{layer}.{name}")
    if v < minimum:
        raise WorkloadError(f"must be >= {minimum}, got {v}", field=f"{layer}.{name}")
    return int(v)


def _check_density(name: str, v: Any, layer: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise WorkloadError(f"must be a number in [0, 1], got {v!r}", field=f"{layer}.{name}")
    v = float(v)
    if not (0.0 <= v <= 1.0) or math.isnan(v):
        raise WorkloadError(f"must be in [0, 1], got {v}", field=f"{layer}.{name}")
    return v


def check_tensor(x: TensorLike | None, field: str) -> None:
    """Refuse a tensor whose values are not real numbers (complex, strings, objects, dates) or not finite
    (NaN, inf): every model and every report would carry them on silently."""
    vals = x.values if isinstance(x, SparseTensor) else (None if x is None else np.asarray(x))
    if vals is None:
        return
    if vals.dtype.kind not in "biuf":
        raise WorkloadError(f"dtype {vals.dtype} is not a real number type (bool, int, uint or float)", field=field)
    if vals.dtype.kind == "f" and vals.size:
        finite = np.isfinite(vals)
        if not finite.all():
            bad = vals.reshape(-1)[~finite.reshape(-1)][0]
            raise WorkloadError(f"{finite.size - int(np.count_nonzero(finite)):,} non-finite value(s) "
                                f"(first: {bad})", field=field)


def find_cycle(graph) -> tuple[str, str] | None:
    """An edge (a, b) on a cycle of the dependency graph, or None when it is acyclic."""
    import networkx as nx
    if nx.is_directed_acyclic_graph(graph):
        return None
    return tuple(nx.find_cycle(graph)[0][:2])


@dataclass
class Layer:
    """One layer's shape and its static data (weights, bias, densities).

    Shapes: ``weights`` (K, C//groups, R, S), ``bias`` (K,).  ``act_density``,
    ``weight_density`` and ``out_density`` describe the layer when arrays are
    absent (density-only mode); per-image activations live in :class:`LayerData`.
    """

    name: str
    kind: str
    C: int
    K: int
    H: int = 1
    W: int = 1
    R: int = 1
    S: int = 1
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    N: int = 1
    weights: TensorLike | None = None
    bias: np.ndarray | None = None
    weight_density: float | None = None
    act_density: float | None = None
    out_density: float | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        n = self.name
        if not isinstance(n, str) or not n or "/" in n:
            raise WorkloadError(f"layer name must be a non-empty string without '/', got {n!r}", field="name")
        if self.kind not in KINDS:
            raise WorkloadError(f"unknown kind {self.kind!r} (expected one of {', '.join(KINDS)})", field=f"{n}.kind")
        for f_ in ("C", "K", "H", "W", "R", "S", "stride", "dilation", "groups", "N"):
            setattr(self, f_, _check_int(f_, getattr(self, f_), 1, n))
        self.padding = _check_int("padding", self.padding, 0, n)
        for f_ in ("weight_density", "act_density", "out_density"):
            setattr(self, f_, _check_density(f_, getattr(self, f_), n))
        if self.kind == "depthwise":
            if not (self.groups == self.C == self.K):
                raise WorkloadError(f"depthwise needs groups == C == K, got groups={self.groups}, C={self.C}, K={self.K}",
                                    field=f"{n}.groups")
        if self.C % self.groups or self.K % self.groups:
            raise WorkloadError(f"groups={self.groups} must divide C={self.C} and K={self.K}", field=f"{n}.groups")
        if self.kind == "fc" and (self.H, self.W, self.R, self.S, self.padding) != (1, 1, 1, 1, 0):
            raise WorkloadError("fc layers have H=W=R=S=1 and padding 0", field=f"{n}.kind")
        if self.P < 1 or self.Q < 1:
            raise WorkloadError(f"output size {self.P}x{self.Q} is empty (filter larger than padded input)",
                                field=f"{n}.R")
        # sizes before any array of them exists (a density-only layer materialises them later)
        cap = _service("limit_check")
        cap("max_tensor_elements", self.K * (self.C // self.groups) * self.R * self.S,
            "weights (K x C/groups x R x S) elements", field=f"{n}.weights")
        cap("max_tensor_elements", self.C * self.H * self.W, "activations (C x H x W) elements", field=f"{n}.acts")
        cap("max_tensor_elements", self.K * self.P * self.Q, "outputs (K x P x Q) elements", field=f"{n}.out")
        if self.weights is not None:
            ws = self.weight_shape
            shp = _shape(self.weights)
            if self.kind == "fc" and shp == (self.K, self.C):
                self.weights = _reshape(self.weights, ws)
            elif shp != ws:
                raise WorkloadError(f"weights shape {shp} != expected {ws}", field=f"{n}.weights")
            check_tensor(self.weights, f"{n}.weights")
        if self.bias is not None:
            self.bias = np.asarray(self.bias)
            if self.bias.shape != (self.K,):
                raise WorkloadError(f"bias shape {self.bias.shape} != ({self.K},)", field=f"{n}.bias")
            check_tensor(self.bias, f"{n}.bias")

    # derived sizes
    @property
    def P(self) -> int:
        return (self.H + 2 * self.padding - self.dilation * (self.R - 1) - 1) // self.stride + 1

    @property
    def Q(self) -> int:
        return (self.W + 2 * self.padding - self.dilation * (self.S - 1) - 1) // self.stride + 1

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.K, self.C // self.groups, self.R, self.S)

    @property
    def act_shape(self) -> tuple[int, int, int]:
        return (self.C, self.H, self.W)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.K, self.P, self.Q)

    @property
    def macs_dense(self) -> int:
        """Algorithmic MACs for the whole batch: N * K * P * Q * (C/groups) * R * S."""
        return self.N * self.K * self.P * self.Q * (self.C // self.groups) * self.R * self.S

    def shape_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("name", "kind", "C", "K", "H", "W", "R", "S", "stride",
                                              "padding", "dilation", "groups", "N")}

    def spec_dict(self) -> dict:
        d = self.shape_dict()
        d.update(P=self.P, Q=self.Q, macs_dense=self.macs_dense,
                 weight_density=self.weight_density, act_density=self.act_density,
                 out_density=self.out_density, meta=self.meta)
        return d


@dataclass
class LayerData:
    """Per-image data of one layer: input activations (C, H, W) and the output mask (P, Q)."""

    acts: TensorLike | None = None
    out_mask: np.ndarray | None = None
    act_density: float | None = None


# --------------------------------------------------------------- layer instance
@dataclass
class LayerInstance:
    """One layer bound to one image: what an accelerator model simulates.

    ``acts`` (C, H, W), ``weights`` (K, C/g, R, S) and ``out_mask`` (P, Q) are
    dense-or-sparse tensors or None.  :meth:`materialize` fills the missing
    ones with seeded synthetic data of exactly the recorded densities.
    """

    layer: Layer
    image: int = 0
    acts: TensorLike | None = None
    weights: TensorLike | None = None
    out_mask: np.ndarray | None = None
    act_density: float | None = None
    synthetic: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.layer.name

    def act_mask(self) -> np.ndarray:
        return nonzero_mask(self.acts)

    def weight_mask(self) -> np.ndarray:
        return nonzero_mask(self.weights)

    def out_mask_or_ones(self) -> np.ndarray:
        if self.out_mask is None:
            return np.ones((self.layer.P, self.layer.Q), dtype=bool)
        return np.asarray(self.out_mask, dtype=bool)

    def masked(self) -> bool:
        """Whether this instance, materialised, masks off an output: its mask is not all ones, or it has none
        and the layer's ``out_density`` below 1 makes :meth:`materialize` draw one."""
        if self.out_mask is None:
            return self.layer.out_density is not None and self.layer.out_density < 1.0
        return not bool(np.all(self.out_mask))

    def acts_dense(self, dtype=np.float64) -> np.ndarray:
        return as_dense(self.acts, dtype)

    def weights_dense(self, dtype=np.float64) -> np.ndarray:
        return as_dense(self.weights, dtype)

    @property
    def functional_ok(self) -> bool:
        """True when both operands carry real values (a functional check is meaningful)."""
        return has_values(self.acts) and has_values(self.weights)

    def materialize(self, seed: int = 0) -> "LayerInstance":
        """Return an instance where acts, weights and (if a density is given) the
        output mask are arrays; synthetic ones are seeded and have exact densities."""
        L = self.layer
        acts, weights, out_mask = self.acts, self.weights, self.out_mask
        synth = list(self.synthetic)
        # weights are static per layer: their stream must not depend on the image
        wrng = np.random.default_rng([seed, stable_hash(L.name), 0])
        rng = np.random.default_rng([seed, self.image, stable_hash(L.name), 1])
        if weights is None:
            d = 1.0 if L.weight_density is None else L.weight_density
            weights = random_tensor(L.weight_shape, d, wrng)
            synth.append("weights")
        if acts is None:
            d = self.act_density if self.act_density is not None else L.act_density
            d = 1.0 if d is None else d
            acts = random_tensor(L.act_shape, d, rng, nonneg=True)
            synth.append("acts")
        if out_mask is None and self.masked():
            out_mask = random_tensor((L.P, L.Q), L.out_density, rng) != 0
            synth.append("out_mask")
        return replace(self, acts=acts, weights=weights, out_mask=out_mask, synthetic=tuple(synth))


# --------------------------------------------------------------------- workload
class Workload:
    """Named layers in a dependency graph, with per-image data.

    ``layers``: insertion-ordered dict name -> :class:`Layer` (static shape,
    weights).  ``graph``: ``networkx.DiGraph`` over layer names, edges are data
    dependencies.  ``images``: list (one entry per image) of dicts layer name
    -> :class:`LayerData`.  All images share the layer shapes (inputs padded to
    one size).  ``meta`` is free-form provenance recorded in the manifest;
    ``image_meta`` holds per-image statistics.
    """

    def __init__(self, name: str, meta: dict | None = None):
        self.name = name
        self.layers: dict[str, Layer] = {}
        import networkx as nx  # lazy: dynhead's GPU path imports this package with torch + numpy only
        self.graph = nx.DiGraph()
        self.images: list[dict[str, LayerData]] = []
        self.image_meta: list[dict] = []
        self.meta: dict = dict(meta or {})
        self.source: str | None = None  # file it was loaded from
        self._hash: str | None = None

    # construction
    def add_layer(self, layer: Layer, deps: Iterable[str] = ()) -> Layer:
        if layer.name in self.layers:
            raise WorkloadError(f"duplicate layer name {layer.name!r}", field="name")
        self.layers[layer.name] = layer
        self.graph.add_node(layer.name)
        for d in deps:
            if d not in self.layers:
                raise WorkloadError(f"dependency {d!r} of {layer.name!r} is not a layer", field=f"{layer.name}.deps")
            self.graph.add_edge(d, layer.name)
        self._hash = None
        return layer

    def _ensure_image(self, image: int):
        if image < 0:
            raise WorkloadError(f"image index must be >= 0, got {image}", field="image")
        while len(self.images) <= image:
            self.images.append({})
            self.image_meta.append({})

    def set_image_data(self, image: int, layer: str, acts: TensorLike | None = None,
                       out_mask: np.ndarray | None = None, act_density: float | None = None) -> LayerData:
        if layer not in self.layers:
            raise WorkloadError(f"unknown layer {layer!r}", field="layer")
        L = self.layers[layer]
        if acts is not None:
            shp = _shape(acts)
            if L.kind == "fc" and shp == (L.C,):
                acts = _reshape(acts, L.act_shape)
            elif shp != L.act_shape:
                raise WorkloadError(f"activation shape {shp} != expected {L.act_shape}", field=f"{layer}.acts")
            check_tensor(acts, f"{layer}.acts")
        if out_mask is not None:
            out_mask = np.asarray(out_mask)
            if out_mask.dtype != bool:
                raise WorkloadError(f"output mask must be boolean, got {out_mask.dtype}", field=f"{layer}.out_mask")
            if out_mask.shape != (L.P, L.Q):
                raise WorkloadError(f"output mask shape {out_mask.shape} != output size {(L.P, L.Q)}",
                                    field=f"{layer}.out_mask")
        act_density = _check_density("act_density", act_density, layer)
        self._ensure_image(image)
        d = LayerData(acts=acts, out_mask=out_mask, act_density=act_density)
        self.images[image][layer] = d
        self._hash = None
        return d

    # access
    @property
    def n_images(self) -> int:
        return max(1, len(self.images))

    def nbytes(self) -> int:
        """Bytes of the arrays this workload holds in memory (weights, biases, activations, output masks): what
        a copy of it in another process costs, e.g. on each Dask worker."""
        def nb(x) -> int:
            if x is None:
                return 0
            if isinstance(x, SparseTensor):
                return int(x.mask.nbytes) + (0 if x.values is None else int(x.values.nbytes))
            return int(getattr(x, "nbytes", 0))
        total = sum(nb(L.weights) + nb(L.bias) for L in self.layers.values())
        return total + sum(nb(d.acts) + nb(d.out_mask) for img in self.images for d in img.values())

    def layer_names(self) -> list[str]:
        """Layer names in a topological order that keeps insertion order where free."""
        order = {n: i for i, n in enumerate(self.layers)}
        import networkx as nx
        return list(nx.lexicographical_topological_sort(self.graph, key=lambda n: order[n]))

    def instance(self, layer: str, image: int = 0) -> LayerInstance:
        if layer not in self.layers:
            raise WorkloadError(f"unknown layer {layer!r}", field="layer")
        if not 0 <= image < self.n_images:
            raise WorkloadError(f"image {image} out of range (workload has {self.n_images})", field="image")
        L = self.layers[layer]
        d = self.images[image].get(layer) if self.images else None
        d = d or LayerData()
        return LayerInstance(layer=L, image=image, acts=d.acts, weights=L.weights, out_mask=d.out_mask,
                             act_density=d.act_density if d.act_density is not None else L.act_density)

    def instances(self, images: Iterable[int] | None = None) -> Iterable[LayerInstance]:
        imgs = range(self.n_images) if images is None else images
        for i in imgs:
            for n in self.layer_names():
                yield self.instance(n, i)

    def subset(self, layers: Iterable[str] | None = None, images: Iterable[int] | None = None) -> "Workload":
        """A new workload with a subset of layers and/or images (data shared, not copied)."""
        keep = list(self.layers) if layers is None else [n for n in self.layers if n in set(layers)]
        missing = set(layers or []) - set(self.layers)
        if missing:
            raise WorkloadError(f"unknown layer(s): {', '.join(sorted(missing))}", field="layers")
        wl = Workload(self.name, meta=dict(self.meta))
        for n in keep:
            wl.add_layer(self.layers[n], deps=[d for d in self.graph.predecessors(n) if d in wl.layers])
        imgs = list(range(len(self.images))) if images is None else list(images)
        for new_i, i in enumerate(imgs):
            if not 0 <= i < max(1, len(self.images)):
                raise WorkloadError(f"image {i} out of range", field="images")
            if not self.images:
                continue
            wl._ensure_image(new_i)
            wl.image_meta[new_i] = dict(self.image_meta[i])
            for n in keep:
                if n in self.images[i]:
                    wl.images[new_i][n] = self.images[i][n]
        return wl

    # identity
    @property
    def content_hash(self) -> str:
        """sha256 over every array and the layer specs (see :mod:`workloads.storage`)."""
        if self._hash is None:
            self._hash = _service("content_hash")(self)
        return self._hash

    def save(self, path) -> str:
        """Save to a ``.npz`` (:func:`workloads.storage.save`); returns the content hash."""
        return _service("save")(self, path)

    @classmethod
    def load(cls, path) -> "Workload":
        """Load a ``.npz`` written by :meth:`save` (:func:`workloads.storage.load`)."""
        return _service("load")(path)

    def __repr__(self) -> str:
        return f"Workload({self.name!r}, layers={len(self.layers)}, images={self.n_images})"
