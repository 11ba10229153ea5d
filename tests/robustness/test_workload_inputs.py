"""Bad input to the workload loaders: the ``.npz`` workload file (manifest schema, archive members, array
headers, content hash), the IR's own checks (sizes, finiteness, dtypes, cycles), SCALE-Sim CSVs, the
zoo's name resolution, ``import-torch``'s inputs and the size caps of :mod:`workloads.limits`.

Every case must end in one :class:`WorkloadError` line naming the file (where there is one) and the field,
and never in a traceback, a silent acceptance or an allocation past the caps (the bomb cases run the CLI
in a subprocess with an address-space limit and check its peak RSS).
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    FULL,
    assert_no_leftovers,
    assert_one_line_error,
    one_line,
    raises_one_line,
    robust_settings,
    run_cli,
    snapshot,
)
from hypothesis import given
from hypothesis import strategies as st

from workloads import Layer, SparseTensor, Workload
from workloads.errors import WorkloadError
from workloads.importers import import_csv
from workloads.limits import DEFAULTS
from workloads.zoo import resolve

CAP = DEFAULTS["max_tensor_elements"]


# ------------------------------------------------------------------------------------------ fixtures
def good_workload() -> Workload:
    """Three layers a -> b -> c: dense weights with a -0.0 and a bias (a), sparse weights (b), densities
    only (c); image 0 with sparse acts and an output mask (a) and dense acts (b)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3, 3, 3))
    w[np.abs(w) < 0.5] = 0.0
    w[0, 0, 0, 0] = -0.0
    wb = rng.standard_normal((4, 4, 1, 1)) * (rng.random((4, 4, 1, 1)) < 0.5)
    wl = Workload("good")
    wl.add_layer(Layer("a", "conv", C=3, K=4, H=6, W=6, R=3, S=3, padding=1, weights=w, bias=np.arange(4.0)))
    wl.add_layer(Layer("b", "conv", C=4, K=4, H=6, W=6, weights=SparseTensor.from_dense(wb)), deps=["a"])
    wl.add_layer(Layer("c", "fc", C=144, K=10, weight_density=0.5, act_density=0.25), deps=["b"])
    acts = np.maximum(rng.standard_normal((3, 6, 6)), 0).astype(np.float32)
    wl.set_image_data(0, "a", acts=SparseTensor.from_dense(acts), out_mask=rng.random((6, 6)) < 0.5)
    wl.set_image_data(0, "b", acts=np.maximum(rng.standard_normal((4, 6, 6)), 0))
    return wl


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("good") / "good.npz"
    good_workload().save(p)
    return p


def members(path) -> dict:
    """Every array of an .npz (the manifest as its JSON dict)."""
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    data["__manifest__"] = json.loads(bytes(data["__manifest__"]).decode())
    return data


def rewrite(src, dst, manifest=None, arrays=None, keep_hash=False, raw_manifest: bytes | None = None) -> Path:
    """A copy of ``src`` with ``manifest(m)`` / ``arrays(d)`` applied (in place, or returning a replacement).
    The stored hash is dropped unless ``keep_hash`` (so a case tests its own defect, not the stale hash)."""
    data = members(src)
    m = data.pop("__manifest__")
    if manifest:
        r = manifest(m)
        m = m if r is None else r
    if arrays:
        arrays(data)
    if isinstance(m, dict) and not keep_hash:
        m.pop("hash", None)
    blob = raw_manifest if raw_manifest is not None else json.dumps(m).encode()
    np.savez_compressed(dst, __manifest__=np.frombuffer(blob, np.uint8), **data)
    return Path(dst)


def load_error(path, *must) -> str:
    return raises_one_line(WorkloadError, Workload.load, path, must=(str(path), *must))


def L(m, name="a"):
    return next(x for x in m["layers"] if x["name"] == name)


def img(m, layer="a"):
    return m["images"][0]["layers"][layer]


def _set(d, k, v):
    d[k] = v


def _del(d, k):
    del d[k]


# ------------------------------------------------------------------ 1. manifest structure (hand-made)
MANIFEST_CASES = [
    # (id, mutation, substrings the error must contain)
    ("manifest-is-list", lambda m: [], ["__manifest__", "object"]),
    ("manifest-is-string", lambda m: "x", ["__manifest__"]),
    ("top-unknown-key", lambda m: _set(m, "extra", 1), ["extra", "unknown key"]),
    ("format-missing", lambda m: _del(m, "format"), ["format", "missing"]),
    ("format-other", lambda m: _set(m, "format", "other"), ["format"]),
    ("format-int", lambda m: _set(m, "format", 7), ["format"]),
    ("version-missing", lambda m: _del(m, "format_version"), ["format_version"]),
    ("version-string", lambda m: _set(m, "format_version", "1"), ["format_version"]),
    ("version-bool", lambda m: _set(m, "format_version", True), ["format_version"]),
    ("version-float", lambda m: _set(m, "format_version", 1.0), ["format_version"]),
    ("version-future", lambda m: _set(m, "format_version", 99), ["format_version"]),
    ("version-zero", lambda m: _set(m, "format_version", 0), ["format_version"]),
    ("name-int", lambda m: _set(m, "name", 5), ["'name'"]),
    ("name-list", lambda m: _set(m, "name", ["a"]), ["'name'"]),
    ("meta-list", lambda m: _set(m, "meta", [1, 2]), ["'meta'"]),
    ("meta-string", lambda m: _set(m, "meta", "x"), ["'meta'"]),
    ("layers-dict", lambda m: _set(m, "layers", {"a": 1}), ["'layers'", "list"]),
    ("layers-string", lambda m: _set(m, "layers", "abc"), ["'layers'"]),
    ("layers-null", lambda m: _set(m, "layers", None), ["'layers'"]),
    ("layer-is-list", lambda m: m["layers"].__setitem__(0, [1, 2]), ["layers.0"]),
    ("layer-is-number", lambda m: m["layers"].__setitem__(0, 3), ["layers.0"]),
    ("layer-name-missing", lambda m: _del(L(m), "name"), ["layers.0.name"]),
    ("layer-name-int", lambda m: _set(L(m), "name", 3), ["layers.0.name"]),
    ("layer-name-slash", lambda m: _set(L(m), "name", "x/y"), ["layers.0.name"]),
    ("layer-name-empty", lambda m: _set(L(m), "name", ""), ["layers.0.name"]),
    ("layer-name-duplicate", lambda m: _set(L(m, "b"), "name", "a"), ["layers.a.name", "duplicate"]),
    ("layer-unknown-key", lambda m: _set(L(m), "bogus", 1), ["layers.a.bogus"]),
    ("layer-K-missing", lambda m: _del(L(m), "K"), ["layers.a.K", "missing"]),
    ("layer-kind-missing", lambda m: _del(L(m), "kind"), ["layers.a.kind"]),
    ("kind-int", lambda m: _set(L(m), "kind", 1), ["layers.a.kind"]),
    ("kind-unknown", lambda m: _set(L(m), "kind", "deconv"), ["a.kind"]),
    ("C-string", lambda m: _set(L(m), "C", "3"), ["layers.a.C", "integer"]),
    ("C-float", lambda m: _set(L(m), "C", 3.0), ["layers.a.C", "integer"]),
    ("C-bool", lambda m: _set(L(m), "C", True), ["layers.a.C"]),
    ("C-null", lambda m: _set(L(m), "C", None), ["layers.a.C"]),
    ("C-list", lambda m: _set(L(m), "C", [3]), ["layers.a.C"]),
    ("C-dict", lambda m: _set(L(m), "C", {"v": 3}), ["layers.a.C"]),
    ("C-negative", lambda m: _set(L(m), "C", -3), ["a.C", ">= 1"]),
    ("K-zero", lambda m: _set(L(m), "K", 0), ["a.K"]),
    ("stride-zero", lambda m: _set(L(m), "stride", 0), ["a.stride"]),
    ("padding-negative", lambda m: _set(L(m), "padding", -1), ["a.padding"]),
    ("groups-not-dividing", lambda m: _set(L(m, "b"), "groups", 3), ["b.groups"]),
    ("filter-too-big", lambda m: _set(L(m, "b"), "R", 50), ["b.R"]),
    ("density-string", lambda m: _set(L(m, "c"), "weight_density", "0.5"), ["layers.c.weight_density"]),
    ("density-bool", lambda m: _set(L(m, "c"), "act_density", True), ["layers.c.act_density"]),
    ("density-above-1", lambda m: _set(L(m, "c"), "weight_density", 1.5), ["c.weight_density"]),
    ("density-negative", lambda m: _set(L(m, "c"), "out_density", -0.1), ["c.out_density"]),
    ("density-list", lambda m: _set(L(m, "c"), "weight_density", [0.5]), ["layers.c.weight_density"]),
    ("layer-meta-list", lambda m: _set(L(m), "meta", [1]), ["layers.a.meta"]),
    ("bias-string", lambda m: _set(L(m), "bias", "yes"), ["layers.a.bias"]),
    ("bias-int", lambda m: _set(L(m), "bias", 1), ["layers.a.bias"]),
    ("weights-list", lambda m: _set(L(m), "weights", [1, 2]), ["layers.a.weights"]),
    ("weights-string", lambda m: _set(L(m), "weights", "dense"), ["layers.a.weights"]),
    ("weights-form-unknown", lambda m: _set(L(m)["weights"], "form", "csr"), ["layers.a.weights.form"]),
    ("weights-form-missing", lambda m: _del(L(m)["weights"], "form"), ["layers.a.weights.form"]),
    ("weights-shape-string", lambda m: _set(L(m)["weights"], "shape", "4x3x3x3"), ["layers.a.weights.shape"]),
    ("weights-shape-item-string", lambda m: _set(L(m)["weights"], "shape", [4, "3", 3, 3]),
     ["layers.a.weights.shape[1]"]),
    ("weights-shape-negative", lambda m: _set(L(m)["weights"], "shape", [4, -3, 3, 3]),
     ["layers.a.weights.shape[1]"]),
    ("weights-shape-nested", lambda m: _set(L(m)["weights"], "shape", [[4, 3], 3, 3]),
     ["layers.a.weights.shape[0]"]),
    ("weights-shape-mismatch", lambda m: _set(L(m)["weights"], "shape", [4, 3, 3, 1]), ["L/a/weights"]),
    ("weights-layer-grown", lambda m: _set(L(m), "C", 6), ["L/a/weights", "does not match"]),
    ("weights-values-string", lambda m: _set(L(m)["weights"], "values", "true"), ["layers.a.weights.values"]),
    ("weights-dense-no-values", lambda m: _set(L(m)["weights"], "values", False), ["layers.a.weights"]),
    ("weights-dtype-complex", lambda m: _set(L(m)["weights"], "dtype", "complex128"),
     ["layers.a.weights.dtype", "real number"]),
    ("weights-dtype-unicode", lambda m: _set(L(m)["weights"], "dtype", "<U8"), ["layers.a.weights.dtype"]),
    ("weights-dtype-object", lambda m: _set(L(m)["weights"], "dtype", "object"), ["layers.a.weights.dtype"]),
    ("weights-dtype-datetime", lambda m: _set(L(m)["weights"], "dtype", "datetime64[s]"),
     ["layers.a.weights.dtype"]),
    ("weights-dtype-unknown", lambda m: _set(L(m)["weights"], "dtype", "float99"), ["layers.a.weights.dtype"]),
    ("weights-dtype-bigendian", lambda m: _set(L(m)["weights"], "dtype", ">f8"), ["layers.a.weights.dtype"]),
    ("weights-dtype-null", lambda m: _set(L(m)["weights"], "dtype", None), ["layers.a.weights.dtype"]),
    ("weights-dtype-int", lambda m: _set(L(m)["weights"], "dtype", 8), ["layers.a.weights.dtype"]),
    ("weights-negzero-string", lambda m: _set(L(m)["weights"], "negzero", "yes"), ["layers.a.weights.negzero"]),
    ("weights-unknown-key", lambda m: _set(L(m)["weights"], "order", "F"), ["layers.a.weights.order"]),
    ("edges-dict", lambda m: _set(m, "edges", {"a": "b"}), ["'edges'"]),
    ("edges-string", lambda m: _set(m, "edges", "a->b"), ["'edges'"]),
    ("edge-not-pair", lambda m: m["edges"].append(["a"]), ["edges.2"]),
    ("edge-triple", lambda m: m["edges"].append(["a", "b", "c"]), ["edges.2"]),
    ("edge-ints", lambda m: m["edges"].append([1, 2]), ["edges.2"]),
    ("edge-string", lambda m: m["edges"].append("ab"), ["edges.2"]),
    ("edge-unknown-layer", lambda m: m["edges"].append(["a", "zz"]), ["edges.2", "zz"]),
    ("images-dict", lambda m: _set(m, "images", {"0": {}}), ["'images'"]),
    ("image-is-list", lambda m: m["images"].__setitem__(0, []), ["images.0"]),
    ("image-unknown-key", lambda m: _set(m["images"][0], "extra", 1), ["images.0.extra"]),
    ("image-layers-list", lambda m: _set(m["images"][0], "layers", [1]), ["images.0.layers"]),
    ("image-meta-list", lambda m: _set(m["images"][0], "meta", [1]), ["images.0.meta"]),
    ("image-unknown-layer", lambda m: _set(m["images"][0]["layers"], "zz", {}), ["images.0.layers.zz"]),
    ("image-entry-list", lambda m: _set(m["images"][0]["layers"], "a", [1]), ["images.0.layers.a"]),
    ("image-entry-unknown-key", lambda m: _set(img(m), "weights", 1), ["images.0.layers.a.weights"]),
    ("act-density-string", lambda m: _set(img(m), "act_density", "0.5"), ["images.0.layers.a.act_density"]),
    ("act-density-above-1", lambda m: _set(img(m), "act_density", 2.0), ["act_density"]),
    ("acts-entry-string", lambda m: _set(img(m), "acts", "sparse"), ["images.0.layers.a.acts"]),
    ("acts-shape-mismatch", lambda m: _set(img(m)["acts"], "shape", [3, 6, 5]), ["I/0/a/acts"]),
    ("out-mask-string", lambda m: _set(img(m), "out_mask", "6x6"), ["images.0.layers.a.out_mask"]),
    ("out-mask-triple", lambda m: _set(img(m), "out_mask", [6, 6, 1]), ["images.0.layers.a.out_mask"]),
    ("out-mask-wrong-size", lambda m: _set(img(m), "out_mask", [5, 5]), ["I/0/a/out_mask"]),
]


@pytest.mark.parametrize("mutate, must", [c[1:] for c in MANIFEST_CASES], ids=[c[0] for c in MANIFEST_CASES])
def test_manifest_structure(good, tmp_path, mutate, must):
    load_error(rewrite(good, tmp_path / "bad.npz", manifest=mutate), *must)


HASH_CASES = [("hash-int", 12345, "expected a string"), ("hash-not-hex", "xyz", "hex"), ("hash-uppercase", "A" * 64, "hex"),
              ("hash-list", ["0" * 64], "expected a string"), ("hash-short", "0" * 63, "hex"),
              ("hash-forged", "0" * 64, "does not match")]


@pytest.mark.parametrize("value, must", [c[1:] for c in HASH_CASES], ids=[c[0] for c in HASH_CASES])
def test_manifest_hash_field(good, tmp_path, value, must):
    load_error(rewrite(good, tmp_path / "bad.npz", manifest=lambda m: _set(m, "hash", value), keep_hash=True),
               "'hash'", must)


RAW_MANIFESTS = [
    ("nan-literal", b'{"format": "accelsim-workload", "format_version": 1, "layers": [], "name": NaN}', "NaN"),
    ("infinity-literal", b'{"format": "accelsim-workload", "format_version": Infinity}', "Infinity"),
    ("float-overflow", b'{"format": "accelsim-workload", "format_version": 1, "meta": {"x": 1e999}}', "range"),
    ("huge-int", b'{"format": "accelsim-workload", "format_version": ' + b"9" * 5000 + b"}", "JSON"),
    ("duplicate-key", b'{"format": "accelsim-workload", "format": "x", "format_version": 1}', "duplicate"),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000, "JSON"),
    ("not-utf8", b'{"format": "\xff\xfe"}', "UTF-8"),
    ("truncated-json", b'{"format": "accelsim-workload", "format_ver', "JSON"),
    ("empty", b"", "JSON"),
    ("null", b"null", "object"),
    ("number", b"3", "object"),
]


@pytest.mark.parametrize("raw, must", [c[1:] for c in RAW_MANIFESTS], ids=[c[0] for c in RAW_MANIFESTS])
def test_manifest_bytes(good, tmp_path, raw, must):
    load_error(rewrite(good, tmp_path / "bad.npz", raw_manifest=raw), "__manifest__", must)


# ------------------------------------------------------------------------------------ 2. cycles
CYCLES = [
    ("two-cycle", [["a", "b"], ["b", "a"]]),
    ("self-loop", [["a", "a"]]),
    ("three-cycle", [["a", "b"], ["b", "c"], ["c", "a"]]),
]


@pytest.mark.parametrize("edges", [c[1] for c in CYCLES], ids=[c[0] for c in CYCLES])
def test_cyclic_edges(good, tmp_path, edges):
    msg = load_error(rewrite(good, tmp_path / "cyc.npz", manifest=lambda m: _set(m, "edges", edges)),
                     "'edges'", "cycle")
    assert any(f"{a!r} -> {b!r}" in msg for a, b in edges), msg


# ------------------------------------------------------------------------- 3. archive members, headers
def npy_header(header: dict, version=(1, 0)) -> bytes:
    """The bytes of an .npy header (format spec: magic, version, length, dict literal padded to 64)."""
    text = repr({k: header[k] for k in ("descr", "fortran_order", "shape")}).encode("latin1")
    nlen = 2 if version == (1, 0) else 4
    pad = -(6 + 2 + nlen + len(text) + 1) % 64
    text += b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes(version) + len(text).to_bytes(nlen, "little") + text


def _npy_member(path, key, header: dict, data: bytes = b"", version=(1, 0)):
    """Add a hand-made .npy member to an existing archive."""
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{key}.npy", npy_header(header, version) + data)


def _without(good, tmp_path, key) -> Path:
    return rewrite(good, tmp_path / "bad.npz", arrays=lambda d: d.pop(key), keep_hash=True)


ARRAY_CASES = [
    ("mask-wrong-dtype", lambda d: _set(d, "L/a/weights.mask", d["L/a/weights.mask"].astype(np.int64)),
     ["L/a/weights.mask", "int64"]),
    ("mask-wrong-length", lambda d: _set(d, "L/a/weights.mask", d["L/a/weights.mask"][:-1]), ["L/a/weights.mask"]),
    ("values-wrong-dtype", lambda d: _set(d, "L/a/weights.values", d["L/a/weights.values"].astype(np.int32)),
     ["L/a/weights.values", "int32"]),
    ("values-too-many", lambda d: _set(d, "L/b/weights.values", np.ones(99)), ["L/b/weights.values"]),
    ("values-2d", lambda d: _set(d, "L/b/weights.values", d["L/b/weights.values"][None, :]),
     ["L/b/weights.values"]),
    ("values-complex", lambda d: _set(d, "L/b/weights.values", d["L/b/weights.values"].astype(complex)),
     ["L/b/weights.values", "complex128"]),
    ("values-strings", lambda d: _set(d, "L/b/weights.values", d["L/b/weights.values"].astype(str)),
     ["L/b/weights.values"]),
    ("bias-wrong-shape", lambda d: _set(d, "L/a/bias", np.ones(5)), ["L/a/bias"]),
    ("bias-complex", lambda d: _set(d, "L/a/bias", np.ones(4, complex)), ["L/a/bias", "real number"]),
    ("bias-strings", lambda d: _set(d, "L/a/bias", np.array(["1", "2", "3", "4"])), ["L/a/bias"]),
    ("bias-bigendian", lambda d: _set(d, "L/a/bias", np.ones(4, ">f8")), ["L/a/bias"]),
    ("bias-datetime", lambda d: _set(d, "L/a/bias", np.zeros(4, "M8[s]")), ["L/a/bias"]),
    ("acts-mask-2d", lambda d: _set(d, "I/0/a/acts.mask", d["I/0/a/acts.mask"][None]), ["I/0/a/acts.mask"]),
    ("out-mask-wrong-dtype", lambda d: _set(d, "I/0/a/out_mask", d["I/0/a/out_mask"].astype(np.float32)),
     ["I/0/a/out_mask"]),
    ("extra-array", lambda d: _set(d, "L/zz/weights.mask", np.zeros(3, np.uint8)), ["L/zz/weights.mask",
                                                                                    "not named"]),
]


@pytest.mark.parametrize("mutate, must", [c[1:] for c in ARRAY_CASES], ids=[c[0] for c in ARRAY_CASES])
def test_archive_arrays(good, tmp_path, mutate, must):
    load_error(rewrite(good, tmp_path / "bad.npz", arrays=mutate), *must)


@pytest.mark.parametrize("key", ["L/a/weights.mask", "L/a/weights.values", "L/a/weights.negzero", "L/a/bias",
                                 "L/b/weights.values", "I/0/a/acts.mask", "I/0/a/acts.values", "I/0/a/out_mask",
                                 "I/0/b/acts.values"])
def test_missing_array(good, tmp_path, key):
    load_error(_without(good, tmp_path, key), f"field '{key}'", "missing")


HEADER_CASES = [
    # (id, key, header, data): a member whose .npy header disagrees with the manifest, or lies
    ("1e12-elements", "L/a/bias", {"descr": "<f8", "fortran_order": False, "shape": (10 ** 12,)}, b"\0" * 64),
    ("1e12-mask", "L/a/weights.mask", {"descr": "|u1", "fortran_order": False, "shape": (10 ** 12,)}, b"\0" * 64),
    ("2d-huge", "L/a/bias", {"descr": "<f8", "fortran_order": False, "shape": (10 ** 6, 10 ** 6)}, b""),
    ("object-dtype", "L/a/bias", {"descr": "|O", "fortran_order": False, "shape": (4,)}, b"\0" * 32),
    ("truncated-data", "L/a/bias", {"descr": "<f8", "fortran_order": False, "shape": (4,)}, b"\0" * 7),
    ("manifest-1e12", "__manifest__", {"descr": "|u1", "fortran_order": False, "shape": (10 ** 12,)}, b"{}"),
    ("manifest-2d", "__manifest__", {"descr": "|u1", "fortran_order": False, "shape": (2, 2)}, b"{}{}"),
]


@pytest.mark.parametrize("key, header, data", [c[1:] for c in HEADER_CASES], ids=[c[0] for c in HEADER_CASES])
def test_lying_array_header(good, tmp_path, key, header, data):
    """Checked before anything is allocated: a header announcing 10^12 elements costs nothing."""
    arrays = members(good)
    arrays.pop(key)
    if key == "__manifest__":
        p = tmp_path / "bad.npz"
        np.savez_compressed(p, **{k: v for k, v in arrays.items() if k != "__manifest__"})
    else:
        p = rewrite(good, tmp_path / "bad.npz", arrays=lambda d: d.pop(key), keep_hash=True)
    _npy_member(p, key, header, data)
    load_error(p, key)


def test_bad_npy_magic_and_version(good, tmp_path):
    p = rewrite(good, tmp_path / "m.npz", arrays=lambda d: d.pop("L/a/bias"), keep_hash=True)
    with zipfile.ZipFile(p, "a") as zf:
        zf.writestr("L/a/bias.npy", b"NOTNUMPY" + b"\0" * 100)
    load_error(p, "L/a/bias", "not an .npy array")
    p = rewrite(good, tmp_path / "v.npz", arrays=lambda d: d.pop("L/a/bias"), keep_hash=True)
    _npy_member(p, "L/a/bias", {"descr": "<f8", "fortran_order": False, "shape": (4,)}, b"\0" * 32, version=(3, 0))
    load_error(p, "L/a/bias", "version")


FILE_CASES = [
    ("empty-file", lambda p: p.write_bytes(b""), "not a readable .npz"),
    ("text-file", lambda p: p.write_text("hello"), "not a readable .npz"),
    ("random-bytes", lambda p: p.write_bytes(np.random.default_rng(1).bytes(4096)), "not a readable .npz"),
    ("folder", lambda p: p.mkdir(), "is a folder"),
    ("zip-without-manifest", lambda p: np.savez(p, x=np.zeros(3)), "__manifest__"),
    ("zip-with-text-member", lambda p: zipfile.ZipFile(p, "w").writestr("README.txt", "hi"), "README.txt"),
]


@pytest.mark.parametrize("make, must", [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_not_a_workload_file(tmp_path, make, must):
    p = tmp_path / "w.npz"
    make(p)
    load_error(p, must)


@pytest.mark.parametrize("frac", [0.1, 0.5, 0.9, 0.99])
def test_truncated_archive(good, tmp_path, frac):
    data = good.read_bytes()
    p = tmp_path / "t.npz"
    p.write_bytes(data[:int(len(data) * frac)])
    load_error(p)


def test_unsupported_compression_method(good, tmp_path):
    """A member compressed with a method zipfile does not implement (id 99, as AES-encrypted zips use)."""
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("L/a/bias.npy")
    method_at = info.header_offset + 8  # local header: compression method
    data[method_at:method_at + 2] = (99).to_bytes(2, "little")
    cd = data.find(b"PK\x01\x02")  # the central directory's entries
    while cd != -1:
        name_len = int.from_bytes(data[cd + 28:cd + 30], "little")
        if data[cd + 46:cd + 46 + name_len] == b"L/a/bias.npy":
            data[cd + 10:cd + 12] = (99).to_bytes(2, "little")
            break
        cd = data.find(b"PK\x01\x02", cd + 4)
    p = tmp_path / "m.npz"
    p.write_bytes(bytes(data))
    load_error(p)


# ------------------------------------------------------------------------- 4. non-finite values, dtypes
def _poison(key, value, at=0):
    def f(d):
        a = d[key].astype(d[key].dtype, copy=True)
        a.reshape(-1)[at] = value
        d[key] = a
    return f


FINITE_CASES = [
    ("weights-nan-dense", _poison("L/a/weights.values", np.nan), "a.weights"),
    ("weights-inf-dense", _poison("L/a/weights.values", np.inf, 3), "a.weights"),
    ("weights-neginf-sparse", _poison("L/b/weights.values", -np.inf), "b.weights"),
    ("weights-nan-sparse", _poison("L/b/weights.values", np.nan, 1), "b.weights"),
    ("bias-nan", _poison("L/a/bias", np.nan), "a.bias"),
    ("bias-inf", _poison("L/a/bias", np.inf, 2), "a.bias"),
    ("acts-nan-sparse", _poison("I/0/a/acts.values", np.nan), "a.acts"),
    ("acts-inf-sparse", _poison("I/0/a/acts.values", np.inf), "a.acts"),
    ("acts-nan-dense", _poison("I/0/b/acts.values", np.nan, 2), "b.acts"),
    ("acts-neginf-dense", _poison("I/0/b/acts.values", -np.inf), "b.acts"),
]


@pytest.mark.parametrize("mutate, field", [c[1:] for c in FINITE_CASES], ids=[c[0] for c in FINITE_CASES])
def test_non_finite_values_in_file(good, tmp_path, mutate, field):
    load_error(rewrite(good, tmp_path / "nan.npz", arrays=mutate), f"field '{field}'", "non-finite")


BAD_TENSORS = [
    ("nan", np.array([[[[np.nan]]]])),
    ("inf", np.array([[[[np.inf]]]])),
    ("complex", np.array([[[[1 + 2j]]]])),
    ("strings", np.array([[[["1.0"]]]])),
    ("object", np.array([[[[1.0]]]], dtype=object)),
    ("datetime", np.zeros((1, 1, 1, 1), "M8[s]") + np.timedelta64(1, "s")),
    ("sparse-nan", SparseTensor(np.ones((1, 1, 1, 1), bool), np.array([np.nan]))),
    ("sparse-complex", SparseTensor(np.ones((1, 1, 1, 1), bool), np.array([1j]))),
]


@pytest.mark.parametrize("x", [c[1] for c in BAD_TENSORS], ids=[c[0] for c in BAD_TENSORS])
def test_ir_refuses_bad_values(x):
    """The same checks at the IR, so every producer (torch import, dynhead trace, user code) gets them."""
    with pytest.raises(WorkloadError) as e:
        Layer("w", "conv", C=1, K=1, weights=x)
    assert "w.weights" in one_line(e.value)
    flat = x.values if isinstance(x, SparseTensor) else x.reshape(-1)
    with pytest.raises(WorkloadError) as e:
        Layer("f", "fc", C=1, K=1, bias=flat)
    assert "f.bias" in one_line(e.value)
    wl = Workload("x")
    wl.add_layer(Layer("a", "conv", C=1, K=1))
    acts = x.reshape((1, 1, 1)) if isinstance(x, SparseTensor) else x.reshape(1, 1, 1)
    with pytest.raises(WorkloadError) as e:
        wl.set_image_data(0, "a", acts=acts)
    assert "a.acts" in one_line(e.value)


# ----------------------------------------------------------------------------------- 5. size caps
LAYER_SIZE_CASES = [
    ("C=K=1e9", dict(kind="conv", C=10 ** 9, K=10 ** 9), "x.weights"),
    ("fc-1e9x1e9", dict(kind="fc", C=10 ** 9, K=10 ** 9), "x.weights"),
    ("acts-1e6-plane", dict(kind="conv", C=3, K=1, H=10 ** 6, W=10 ** 6), "x.acts"),
    ("outputs-K-huge", dict(kind="conv", C=1, K=10 ** 7, H=1000, W=1000), "x.out"),
    ("depthwise-huge", dict(kind="depthwise", C=10 ** 6, K=10 ** 6, groups=10 ** 6, H=1000, W=1000), "x.acts"),
    ("filter-huge", dict(kind="conv", C=100, K=100, H=10 ** 5, W=10 ** 5, R=10 ** 5, S=10 ** 5), "x.weights"),
    ("1e300", dict(kind="conv", C=10 ** 300, K=1), "x.weights"),
]


@pytest.mark.parametrize("kw, field", [c[1:] for c in LAYER_SIZE_CASES], ids=[c[0] for c in LAYER_SIZE_CASES])
def test_layer_size_caps(kw, field):
    raises_one_line(WorkloadError, Layer, "x", **kw, must=(field, "max_tensor_elements", "ACCELSIM_LIMITS"))


def test_layer_at_the_cap_is_accepted():
    """The cap is a bound, not a ban: a layer just at it builds (nothing is allocated)."""
    Layer("x", "fc", C=CAP // 1024, K=1024)
    with pytest.raises(WorkloadError, match="max_tensor_elements"):
        Layer("x", "fc", C=CAP // 1024 + 1, K=1024)


ENV_CAP_CASES = [
    ("max_workload_bytes=1000", "max_workload_bytes"),
    ("max_layers=2", "max_layers"),
    ("max_images=0.5", "ACCELSIM_LIMITS"),  # below 1: a bad setting
    ("max_tensor_elements=100", "max_tensor_elements"),
    ("max_text_bytes=100", "max_text_bytes"),
    ("max_tensor_elements=abc", "expected a number"),
    ("max_tensor_elements=1e30", "between 1 and 1e18"),
    ("max_tensor_elements", "between 1 and 1e18"),
    ("max_tensor_elements=nan", "between 1 and 1e18"),
]


@pytest.mark.parametrize("env, must", ENV_CAP_CASES, ids=[c[0] for c in ENV_CAP_CASES])
def test_caps_from_the_environment(good, monkeypatch, env, must):
    monkeypatch.setenv("ACCELSIM_LIMITS", env)
    load_error(good, must)


def test_caps_env_shared_with_accelsim(monkeypatch):
    """One variable for both packages: accelsim's caps do not upset the loaders, a typo is caught by accelsim."""
    from accelsim.errors import AccelsimError
    from accelsim.limits import limit
    from workloads.limits import limit as wlimit
    monkeypatch.setenv("ACCELSIM_LIMITS", "max_grid_points=7,max_tensor_elements=1e6")
    assert limit("max_grid_points") == 7 and wlimit("max_tensor_elements") == 10 ** 6
    monkeypatch.setenv("ACCELSIM_LIMITS", "max_tensor_elemnts=5")
    with pytest.raises(AccelsimError, match="unknown cap 'max_tensor_elemnts'"):
        limit("max_grid_points")


def test_manifest_counts_capped(good, tmp_path, monkeypatch):
    monkeypatch.setenv("ACCELSIM_LIMITS", "max_images=1")
    p = rewrite(good, tmp_path / "i.npz", manifest=lambda m: m["images"].append({"layers": {}, "meta": {}}))
    load_error(p, "max_images", "'images'")


# --------------------------------------------------------------------------------------- 6. integrity
def test_changed_content_with_old_hash_is_refused(good, tmp_path):
    """The sweep cache keys on the hash: content changed under an old hash must not pass for the old file."""
    p = rewrite(good, tmp_path / "stale.npz", arrays=_poison("L/a/bias", 7.0), keep_hash=True)
    load_error(p, "'hash'", "does not match")


def test_changed_spec_with_old_hash_is_refused(good, tmp_path):
    p = rewrite(good, tmp_path / "stale.npz", manifest=lambda m: _set(L(m, "c"), "weight_density", 0.75),
                keep_hash=True)
    load_error(p, "'hash'")


def test_forged_hash_is_refused(good, tmp_path):
    p = rewrite(good, tmp_path / "forged.npz", manifest=lambda m: _set(m, "hash", "0" * 64), keep_hash=True)
    load_error(p, "'hash'", "000000000000")


def test_hash_is_recomputed_not_copied(good, tmp_path):
    """Without a stored hash the loader computes it; it equals the saved one and the IR's recomputation, and
    meta (provenance) is outside it."""
    ref = good_workload().content_hash
    p = rewrite(good, tmp_path / "nohash.npz", manifest=lambda m: _set(m, "meta", {"moved": "elsewhere"}))
    wl = Workload.load(p)
    assert wl.content_hash == ref == Workload.load(good).content_hash
    wl._hash = None
    assert wl.content_hash == ref


def test_round_trip_is_exact(good):
    a, b = good_workload(), Workload.load(good)
    assert b.layers["a"].weights.tobytes() == a.layers["a"].weights.tobytes()  # -0.0 kept
    assert b.layers["b"].weights == a.layers["b"].weights
    assert b.images[0]["a"].acts == a.images[0]["a"].acts


# ------------------------------------------------------------------------------------------- 7. CSV
TOPO_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"
CSV_CASES = [
    # (id, text, substrings)
    ("extra-cell", TOPO_HEADER + "\nconv1,8,8,3,3,3,4,1,99,\n", ["line 2", "extra cell '99'"]),
    ("two-extra-cells", TOPO_HEADER + "\nconv1,8,8,3,3,3,4,1,,7\n", ["line 2", "column 9"]),
    ("gemm-extra-cell", "Layer, M, N, K\ng,4,4,4,5\n", ["line 2", "extra cell"]),
    ("C=K=1e9", TOPO_HEADER + f"\nfc,1,1,1,1,{10 ** 9},{10 ** 9},1,\n", ["line 2", "max_tensor_elements"]),
    ("H=W=1e7", TOPO_HEADER + f"\nc,{10 ** 7},{10 ** 7},3,3,3,4,1,\n", ["line 2", "max_tensor_elements"]),
    ("gemm-1e9", f"Layer, M, N, K\ng,{10 ** 9},{10 ** 9},{10 ** 9}\n", ["line 2", "max_tensor_elements"]),
    ("5000-digits", TOPO_HEADER + "\nc,8,8,3,3," + "9" * 5000 + ",4,1,\n", ["line 2", "'Channels'", "characters"]),
    ("negative", TOPO_HEADER + "\nc,8,8,3,3,-3,4,1,\n", ["'Channels'", ">= 1"]),
    ("zero-stride", TOPO_HEADER + "\nc,8,8,3,3,3,4,0,\n", ["'Strides'"]),
    ("float", TOPO_HEADER + "\nc,8,8,3,3,3.5,4,1,\n", ["'Channels'", "integer"]),
    ("exponent", TOPO_HEADER + "\nc,8,8,3,3,1e3,4,1,\n", ["'Channels'"]),
    ("nan", TOPO_HEADER + "\nc,nan,8,3,3,3,4,1,\n", ["'IFMAP Height'"]),
    ("inf", TOPO_HEADER + "\nc,8,inf,3,3,3,4,1,\n", ["'IFMAP Width'"]),
    ("missing-value", TOPO_HEADER + "\nc,8,8,3,3,,4,1,\n", ["'Channels'", "missing"]),
    ("short-row", TOPO_HEADER + "\nc,8,8\n", ["'Filter Height'", "missing"]),
    ("missing-column", "Layer name, IFMAP Height, IFMAP Width, Filter Height, Channels, Num Filter, Strides\n"
                       "c,8,8,3,3,4,1\n", ["Filter Width"]),
    ("unknown-header", "a,b,c\n1,2,3\n", ["'header'"]),
    ("only-header", TOPO_HEADER + "\n", ["no layer rows"]),
    ("empty", "", ["empty file"]),
    ("blank-lines", "\n\n  \n", ["empty file"]),
    ("duplicate-name", TOPO_HEADER + "\nc,8,8,3,3,3,4,1,\nc,8,8,3,3,3,4,1,\n", ["line 3", "duplicate"]),
    ("slash-name", TOPO_HEADER + "\na/b,8,8,3,3,3,4,1,\n", ["'/'"]),
    ("filter-larger", TOPO_HEADER + "\nc,2,2,3,3,3,4,1,\n", ["'Filter Height'"]),
    ("sparsity-n-above-m", TOPO_HEADER + " Sparsity\nc,8,8,3,3,3,4,1,3:2\n", ["'Sparsity'"]),
    ("sparsity-letters", TOPO_HEADER + " Sparsity\nc,8,8,3,3,3,4,1,a:b\n", ["'Sparsity'"]),
    ("sparsity-m-zero", TOPO_HEADER + " Sparsity\nc,8,8,3,3,3,4,1,0:0\n", ["'Sparsity'"]),
    ("unclosed-quote", TOPO_HEADER + '\n"c,8,8,3,3,3,4,1,\n', ["line 2", "missing value"]),
    ("nul-byte", TOPO_HEADER + "\nc,8,8,3,3,3\x00,4,1,\n", ["NUL"]),
]


@pytest.mark.parametrize("text, must", [c[1:] for c in CSV_CASES], ids=[c[0] for c in CSV_CASES])
def test_csv(tmp_path, text, must):
    p = tmp_path / "t.csv"
    p.write_text(text)
    msg = raises_one_line(WorkloadError, import_csv, p, must=(str(p), *must))
    assert len(msg) < 600, msg


def test_csv_not_utf8_and_folder(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes(TOPO_HEADER.encode() + b"\n\xff\xfe,1,2\n")
    with pytest.raises(WorkloadError, match="not UTF-8"):
        import_csv(p)
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(WorkloadError, match="is a folder"):
        import_csv(tmp_path / "d.csv")


def test_csv_caps(tmp_path, monkeypatch):
    p = tmp_path / "t.csv"
    p.write_text(TOPO_HEADER + "\n" + "".join(f"c{i},8,8,3,3,3,4,1,\n" for i in range(5)))
    monkeypatch.setenv("ACCELSIM_LIMITS", "max_layers=4")
    with pytest.raises(WorkloadError, match="max_layers"):
        import_csv(p)
    monkeypatch.setenv("ACCELSIM_LIMITS", "max_text_bytes=64")
    with pytest.raises(WorkloadError, match="max_text_bytes"):
        import_csv(p)


# ------------------------------------------------------------------------- 8. zoo names, torch import
def test_resolve_names(tmp_path):
    with pytest.raises(WorkloadError, match="unknown workload"):
        resolve("no-such-network")
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(WorkloadError, match="is a folder"):
        resolve(str(tmp_path / "d.npz"))
    (tmp_path / "w.onnx").write_text("x")
    with pytest.raises(WorkloadError, match="unrecognised workload file type"):
        resolve(str(tmp_path / "w.onnx"))


SHAPES = [("empty", ""), ("trailing-x", "3x"), ("letters", "axb"), ("zero", "0x224x224"), ("negative", "-3x4"),
          ("float", "3.5x4"), ("huge", "3x100000x100000"), ("digits", "9" * 5000)]


@pytest.mark.parametrize("text", [c[1] for c in SHAPES], ids=[c[0] for c in SHAPES])
def test_torch_import_input_shape(text):
    pytest.importorskip("torch")
    from workloads.torch_import import parse_shape
    with pytest.raises(WorkloadError) as e:
        parse_shape(text)
    msg = one_line(e.value)
    assert "--input" in msg and len(msg) < 300, msg


def test_torch_import_image_count_capped(monkeypatch):
    pytest.importorskip("torch")
    from workloads.torch_import import make_inputs
    monkeypatch.setenv("ACCELSIM_LIMITS", "max_images=3")
    with pytest.raises(WorkloadError, match="max_images"):
        make_inputs("x", None, (3, 8, 8), 4)


@pytest.mark.parametrize("content", ["folder", "text", "list"])
def test_torch_import_checkpoint(tmp_path, content):
    torch = pytest.importorskip("torch")
    from workloads.torch_import import load_weights
    p = tmp_path / "w.pt"
    if content == "folder":
        p.mkdir()
    elif content == "text":
        p.write_text("not a checkpoint")
    else:
        torch.save([1, 2, 3], p)
    with pytest.raises(WorkloadError) as e:
        load_weights(torch.nn.Linear(2, 2), p)
    assert str(p) in one_line(e.value)


# ----------------------------------------------------------------------------- 9. hypothesis-generated
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=False),
                      st.text(max_size=8))
json_value = st.recursive(json_leaf, lambda c: st.one_of(st.lists(c, max_size=3),
                                                         st.dictionaries(st.text(max_size=5), c, max_size=3)),
                          max_leaves=6)


def _paths(x, prefix=()):
    """Every path into a JSON tree (dict keys and list indices)."""
    yield prefix
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _paths(v, (*prefix, i))


@pytest.fixture(scope="module")
def good_manifest(good):
    return members(good)["__manifest__"]


def _replace(m, path, value):
    if not path:
        return value
    cur = m
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return m


def _accepts_or_one_line(p, expect_hash=None):
    try:
        wl = Workload.load(p)
    except WorkloadError as e:
        assert str(p) in one_line(e)
        return None
    wl.layer_names()  # a DAG
    assert len(wl.content_hash) == 64
    if expect_hash:
        assert wl.content_hash == expect_hash
    return wl


@robust_settings
@given(data=st.data())
def test_hypothesis_manifest_values(good, good_manifest, tmp_path_factory, data):
    """Any value at any place of the manifest: a workload or one line naming the file."""
    import copy
    m = copy.deepcopy(good_manifest)
    paths = sorted(_paths(m), key=repr)
    path = data.draw(st.sampled_from(paths), label="path")
    value = data.draw(json_value, label="value")
    m = _replace(m, path, value)
    p = tmp_path_factory.mktemp("h") / "h.npz"
    rewrite(good, p, manifest=lambda _: m, keep_hash=data.draw(st.booleans(), label="keep_hash"))
    _accepts_or_one_line(p)


@robust_settings
@given(data=st.data())
def test_hypothesis_archive_bytes(good, tmp_path_factory, data):
    """Flipped bytes anywhere in the archive: refused, or (a byte the zip never reads) the same content."""
    raw = bytearray(good.read_bytes())
    for _ in range(data.draw(st.integers(1, 4), label="n")):
        i = data.draw(st.integers(0, len(raw) - 1), label="at")
        raw[i] ^= data.draw(st.integers(1, 255), label="xor")
    p = tmp_path_factory.mktemp("b") / "b.npz"
    p.write_bytes(bytes(raw))
    _accepts_or_one_line(p, expect_hash=good_workload().content_hash)


size = st.one_of(st.integers(-2, 40), st.integers(10 ** 4, 10 ** 12))


@robust_settings
@given(C=size, K=size, H=size, W=size, R=st.integers(-1, 7), S=st.integers(-1, 7),
       kind=st.sampled_from(["conv", "fc", "depthwise"]))
def test_hypothesis_layer_dims(C, K, H, W, R, S, kind):
    """Any dimensions: a Layer whose every tensor fits the cap, or one line naming the field."""
    try:
        lay = Layer("x", kind, C=C, K=K, H=H, W=W, R=R, S=S, groups=C if kind == "depthwise" else 1)
    except WorkloadError as e:
        assert "x." in one_line(e) or "field 'name'" in str(e)
        return
    assert max(lay.K * lay.C // lay.groups * lay.R * lay.S, lay.C * lay.H * lay.W, lay.K * lay.P * lay.Q) <= CAP


csv_cell = st.one_of(st.integers(-5, 300).map(str), st.sampled_from(["", " ", "x", "1e3", "nan", "2:4", "3.5",
                                                                      '"', "9" * 30, "c1", "a/b"]))


@robust_settings
@given(header=st.sampled_from([TOPO_HEADER, TOPO_HEADER + " Sparsity", "Layer, M, N, K", "Layer,M,N,K,",
                               "a,b"]),
       rows=st.lists(st.lists(csv_cell, min_size=0, max_size=11), max_size=4))
def test_hypothesis_csv(tmp_path_factory, header, rows):
    p = tmp_path_factory.mktemp("csv") / "t.csv"
    p.write_text(header + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    try:
        wl = import_csv(p)
    except WorkloadError as e:
        assert str(p) in one_line(e)
        return
    assert wl.layers and len(wl.layer_names()) == len(wl.layers)


# --------------------------------------------------------------------- 10. the CLI, memory-bounded
MEM_MB = 2048  # address space of each child: a loader that allocates what a bomb asks for dies under it
RSS_MB = 400   # peak RSS a refused bomb may cost (the CLI alone takes ~60 MB)


def _zeros_member(zf: zipfile.ZipFile, key: str, n: int, descr="|u1"):
    """A .npy member of ``n`` zero bytes, streamed (a few MB compressed, never ``n`` bytes in memory)."""
    with zf.open(f"{key}.npy", "w", force_zip64=True) as f:
        f.write(npy_header({"descr": descr, "fortran_order": False, "shape": (n,)}))
        chunk = bytes(1 << 22)
        left = n
        while left:
            f.write(chunk[:min(left, len(chunk))])
            left -= min(left, len(chunk))


@pytest.fixture(scope="module")
def mask_bomb(tmp_path_factory) -> Path:
    """A workload file of ~1 MB whose one layer (C = K = 38,730: 1.5e9 weights) unpacks to a 1.5 GB mask."""
    C = 38_730
    p = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    m = {"format": "accelsim-workload", "format_version": 1, "name": "bomb", "meta": {}, "edges": [], "images": [],
         "layers": [{"name": "fc", "kind": "fc", "C": C, "K": C, "meta": {},
                     "weights": {"form": "sparse", "shape": [C, C, 1, 1], "dtype": None, "values": False}}]}
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        blob = np.frombuffer(json.dumps(m).encode(), np.uint8)
        import io
        b = io.BytesIO()
        np.save(b, blob)
        zf.writestr("__manifest__.npy", b.getvalue())
        _zeros_member(zf, "L/fc/weights.mask", (C * C + 7) // 8)
    assert p.stat().st_size < 2_000_000
    return p


def test_cli_mask_bomb_is_refused_before_allocation(mask_bomb):
    r = run_cli("workload", "show", mask_bomb, "--no-effectual", mem_limit_mb=MEM_MB)
    assert_one_line_error(r, str(mask_bomb), "max_tensor_elements", "fc.weights")
    assert r.maxrss_mb < RSS_MB, r


def test_cli_header_bomb(good, tmp_path):
    p = rewrite(good, tmp_path / "h.npz", arrays=lambda d: d.pop("L/a/bias"), keep_hash=True)
    _npy_member(p, "L/a/bias", {"descr": "<f8", "fortran_order": False, "shape": (10 ** 12,)}, b"\0" * 64)
    r = run_cli("workload", "show", p, "--no-effectual", mem_limit_mb=MEM_MB)
    assert_one_line_error(r, str(p), "L/a/bias")
    assert r.maxrss_mb < RSS_MB, r


@pytest.mark.parametrize("fmt", ["npz", "csv"])
def test_cli_huge_layer_dims(tmp_path, good, fmt):
    """C = K = 10^9 (nothing stored, densities only): refused at the layer, not when a model materialises it."""
    if fmt == "csv":
        p = tmp_path / "huge.csv"
        p.write_text(TOPO_HEADER + f"\nfc,1,1,1,1,{10 ** 9},{10 ** 9},1,\n")
    else:
        p = rewrite(good, tmp_path / "huge.npz", manifest=lambda m: (_set(L(m, "c"), "C", 10 ** 9),
                                                                     _set(L(m, "c"), "K", 10 ** 9)) and None)
    r = run_cli("workload", "show", p, mem_limit_mb=MEM_MB)
    assert_one_line_error(r, str(p), "max_tensor_elements")
    assert r.maxrss_mb < RSS_MB, r


def test_cli_cycle_and_stale_hash(good, tmp_path):
    p = rewrite(good, tmp_path / "cyc.npz", manifest=lambda m: m["edges"].append(["c", "a"]))
    assert_one_line_error(run_cli("workload", "show", p, "--no-effectual"), str(p), "'edges'", "cycle")
    p = rewrite(good, tmp_path / "stale.npz", arrays=_poison("L/a/bias", 3.0), keep_hash=True)
    assert_one_line_error(run_cli("simulate", "-w", p, "-a", "scnn", "--json"), str(p), "'hash'")


def test_cli_convert_bad_input_leaves_nothing(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text(TOPO_HEADER + "\nconv1,8,8,3,3,3,4,1,99,\n")
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(out)
    r = run_cli("workload", "convert", src, "--out", out / "w.npz")
    assert_one_line_error(r, str(src), "extra cell")
    assert_no_leftovers(out, before)


@pytest.mark.slow
@pytest.mark.skipif(not FULL, reason="ACCELSIM_FULL=1: the 2.4 GB dense expansion under a 2 GB address space")
def test_cli_dense_expansion_bomb_full(tmp_path, monkeypatch):
    """A dense-form tensor at the cap (268 M float64 = 2.1 GB) with no non-zeros: packs to ~33 MB of zeros
    (a few KB compressed); its expansion (4.8 GB with the mask) is counted against max_workload_bytes (4 GiB)
    before any array is read."""
    C = CAP // 1024
    p = tmp_path / "dense.npz"
    m = {"format": "accelsim-workload", "format_version": 1, "name": "d", "meta": {}, "edges": [], "images": [],
         "layers": [{"name": "fc", "kind": "fc", "C": C, "K": 1024, "meta": {},
                     "weights": {"form": "dense", "shape": [1024, C, 1, 1], "dtype": "float64", "values": True}}]}
    import io
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        b = io.BytesIO()
        np.save(b, np.frombuffer(json.dumps(m).encode(), np.uint8))
        zf.writestr("__manifest__.npy", b.getvalue())
        _zeros_member(zf, "L/fc/weights.mask", CAP // 8)
        b = io.BytesIO()
        np.save(b, np.zeros(0))
        zf.writestr("L/fc/weights.values.npy", b.getvalue())
    r = run_cli("workload", "show", p, "--no-effectual", mem_limit_mb=MEM_MB)
    assert_one_line_error(r, str(p), "max_workload_bytes")
    assert r.maxrss_mb < RSS_MB, r


def test_zlib_is_what_the_bombs_assume():
    """The bombs rely on deflate compressing zeros ~1000:1 (if not, they would be too big to be a test)."""
    assert len(zlib.compress(bytes(1 << 20), 1)) < 8000
