"""The schema of a workload file's JSON manifest (:mod:`workloads.storage`), checked in full before any
array is read: every key, type, nesting level and count, so a bad file fails with one line naming the
file and the field (``layers.conv1.weights.shape``) instead of a traceback deep in the loader.

:func:`parse` turns the stored bytes into a dict (duplicate keys, NaN/Infinity literals, numbers out of
range and nesting past the recursion limit are errors); :func:`check` validates the structure and returns it unchanged.
Values the IR itself checks (a layer's dimensions and densities, shapes against the layer) are left to
:class:`workloads.ir.Layer`, which names the layer and field the same way.
"""

from __future__ import annotations

import json
import math
from numbers import Real

import numpy as np

from .errors import WorkloadError
from .limits import check as check_cap

TOP_KEYS = {"format": str, "format_version": int, "name": str, "meta": dict, "layers": list, "edges": list,
            "images": list, "hash": (str, type(None))}
LAYER_INTS = ("C", "K", "H", "W", "R", "S", "stride", "padding", "dilation", "groups", "N")
LAYER_KEYS = {"name", "kind", *LAYER_INTS, "weight_density", "act_density", "out_density", "meta", "weights",
              "bias"}
TENSOR_KEYS = {"form", "shape", "dtype", "values", "negzero"}
IMAGE_KEYS = {"layers", "meta"}
IMAGE_LAYER_KEYS = {"act_density", "acts", "out_mask"}


def _err(field: str, reason: str) -> WorkloadError:
    return WorkloadError(reason, field=field)


def _type_name(v) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null",
            int: "an integer", float: "a number"}.get(type(v), type(v).__name__)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _expect(v, types, field: str, what: str):
    if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise _err(field, f"expected {what}, got {_type_name(v)} {v!r}")
    if not isinstance(v, types):
        raise _err(field, f"expected {what}, got {_type_name(v)}" + (f" {v!r}" if not isinstance(v, (dict, list))
                                                                      else ""))
    return v


def _keys(d: dict, allowed, field: str, required=()) -> None:
    extra = sorted(set(d) - set(allowed))
    if extra:
        raise _err(f"{field}.{extra[0]}" if field else extra[0], f"unknown key (expected: {', '.join(sorted(allowed))})")
    for k in required:
        if k not in d:
            raise _err(f"{field}.{k}" if field else k, "missing")


# ------------------------------------------------------------------------------------------- parse
def _no_dup_keys(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _finite_float(s: str) -> float:
    v = float(s)
    if not math.isfinite(v):
        raise ValueError(f"number {s} is out of range")
    return v


def _no_constant(s: str):
    raise ValueError(f"{s} is not a finite number")


def parse(raw: bytes) -> dict:
    """The manifest's JSON as a dict; every defect is a WorkloadError on field ``__manifest__``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _err("__manifest__", f"not UTF-8 ({e.reason} at byte {e.start})") from None
    try:
        m = json.loads(text, object_pairs_hook=_no_dup_keys, parse_float=_finite_float,
                       parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError, RecursionError) as e:
        raise _err("__manifest__", f"not valid JSON ({' '.join(str(e).split())[:200]})") from None
    return _expect(m, dict, "__manifest__", "a JSON object")


# ------------------------------------------------------------------------------------------- check
def check_tensor_entry(e, field: str) -> dict:
    """A tensor's entry: ``{"form": "dense"|"sparse", "shape": [ints], "dtype": str|null, "values": bool,
    "negzero": bool}`` (shape is compared with the layer by the loader)."""
    _expect(e, dict, field, "an object (form, shape, dtype, values)")
    _keys(e, TENSOR_KEYS, field, required=("form", "shape", "values"))
    if e["form"] not in ("dense", "sparse"):
        raise _err(f"{field}.form", f"expected 'dense' or 'sparse', got {e['form']!r}")
    shape = _expect(e["shape"], list, f"{field}.shape", "a list of integers")
    for i, s in enumerate(shape):
        if not _is_int(s) or s < 0:
            raise _err(f"{field}.shape[{i}]", f"expected an integer >= 0, got {s!r}")
    _expect(e["values"], bool, f"{field}.values", "true or false")
    _expect(e.get("negzero", False), bool, f"{field}.negzero", "true or false")
    dt = e.get("dtype")
    if e["values"]:
        _expect(dt, str, f"{field}.dtype", "a dtype name")
        try:
            kind = np.dtype(dt).kind
        except (TypeError, ValueError):
            raise _err(f"{field}.dtype", f"unknown dtype {dt!r}") from None
        if kind not in "biuf" or np.dtype(dt).byteorder == ">" or str(np.dtype(dt)) != dt:
            raise _err(f"{field}.dtype", f"{dt!r} is not a native real number type (bool, int, uint or float)")
    elif dt is not None:
        raise _err(f"{field}.dtype", f"a tensor without values has dtype null, got {dt!r}")
    if e["form"] == "dense" and not e["values"]:
        raise _err(f"{field}.values", "a dense tensor is stored with its values")
    if e.get("negzero") and not (e["form"] == "dense" and np.dtype(dt).kind == "f"):
        raise _err(f"{field}.negzero", "only a dense float tensor has -0.0 positions")
    return e


def _density(v, field: str) -> None:
    if v is not None and (isinstance(v, bool) or not isinstance(v, Real)):
        raise _err(field, f"expected a number in [0, 1] or null, got {_type_name(v)} {v!r}")


def check(m: dict) -> dict:
    """Validate the manifest's structure (see the module doc); returns ``m``."""
    _keys(m, TOP_KEYS, "", required=("format", "format_version"))
    for k, types in TOP_KEYS.items():
        if k in m:
            _expect(m[k], types, k, {str: "a string", int: "an integer", dict: "an object", list: "a list"}
                    .get(types, "a string or null"))
    layers = m.get("layers", [])
    check_cap("max_layers", len(layers), "layers", field="layers")
    names = set()
    for i, spec in enumerate(layers):
        f = f"layers.{i}"
        _expect(spec, dict, f, "an object (a layer spec)")
        nm = spec.get("name")
        if not isinstance(nm, str) or not nm or "/" in nm:
            raise _err(f"{f}.name", f"expected a non-empty string without '/', got {nm!r}"[:200])
        f = f"layers.{nm}"
        _keys(spec, LAYER_KEYS, f, required=("kind", "C", "K"))
        if nm in names:
            raise _err(f"{f}.name", f"duplicate layer name {nm!r}")
        names.add(nm)
        _expect(spec["kind"], str, f"{f}.kind", "a string")
        for k in LAYER_INTS:
            if k in spec and not _is_int(spec[k]):
                raise _err(f"{f}.{k}", f"expected an integer, got {_type_name(spec[k])} {spec[k]!r}")
        for k in ("weight_density", "act_density", "out_density"):
            _density(spec.get(k), f"{f}.{k}")
        _expect(spec.get("meta", {}), dict, f"{f}.meta", "an object")
        _expect(spec.get("bias", False), bool, f"{f}.bias", "true or false")
        if spec.get("weights") is not None:
            check_tensor_entry(spec["weights"], f"{f}.weights")
    for i, e in enumerate(m.get("edges", [])):
        if not (isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) for x in e)):
            raise _err(f"edges.{i}", f"expected a pair of layer names, got {e!r}"[:200])
        for x in e:
            if x not in names:
                raise _err(f"edges.{i}", f"edge {e[0]!r} -> {e[1]!r} names an unknown layer {x!r}")
    images = m.get("images", [])
    check_cap("max_images", len(images), "images", field="images")
    for i, img in enumerate(images):
        f = f"images.{i}"
        _expect(img, dict, f, "an object (layers, meta)")
        _keys(img, IMAGE_KEYS, f)
        _expect(img.get("meta", {}), dict, f"{f}.meta", "an object")
        for nm, e in _expect(img.get("layers", {}), dict, f"{f}.layers", "an object (layer name -> data)").items():
            fe = f"{f}.layers.{nm}"
            if nm not in names:
                raise _err(fe, f"image {i} names unknown layer {nm!r}")
            _expect(e, dict, fe, "an object (act_density, acts, out_mask)")
            _keys(e, IMAGE_LAYER_KEYS, fe)
            _density(e.get("act_density"), f"{fe}.act_density")
            if e.get("acts") is not None:
                check_tensor_entry(e["acts"], f"{fe}.acts")
            om = e.get("out_mask")
            if om is not None and om is not False:
                if not (isinstance(om, list) and len(om) == 2 and all(_is_int(x) and x >= 0 for x in om)):
                    raise _err(f"{fe}.out_mask", f"expected the output size [P, Q], got {om!r}"[:200])
    h = m.get("hash")
    if h is not None and (len(h) != 64 or any(c not in "0123456789abcdef" for c in h)):
        raise _err("hash", f"expected 64 lowercase hex digits (sha256), got {h[:80]!r}")
    return m
