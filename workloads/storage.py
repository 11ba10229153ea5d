"""One-file workload storage: a compressed ``.npz`` with an embedded JSON manifest.

Layout of the archive (every tensor stored as its exact non-zero pattern plus
the non-zero values, so sparse data stays small and round trips are
bit-identical):

* ``__manifest__``: UTF-8 JSON (format version, name, layer specs, edges,
  per-image metadata, which tensors exist and in which form, content hash).
* ``L/<layer>/weights.mask`` (``np.packbits``), ``L/<layer>/weights.values``,
  ``L/<layer>/bias``.
* ``I/<image>/<layer>/acts.mask``, ``.../acts.values``, ``.../out_mask``.

The content hash is sha256 over the layer specs (shapes, densities; not the
free-form ``meta``, which may hold paths), the edges and every array (name,
dtype, shape, bytes) in sorted order; reports record it.  Writes go to a
temporary file that is renamed into place, so no half-written file remains.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import WorkloadError
from .ir import SERVICES, Layer, SparseTensor, Workload

FORMAT = "accelsim-workload"
FORMAT_VERSION = 1


def _tensor_arrays(prefix: str, x) -> tuple[dict, dict]:
    """Arrays and manifest entry for one tensor (dense array or SparseTensor)."""
    if isinstance(x, SparseTensor):
        mask, values, form = x.mask, x.values, "sparse"
    else:
        x = np.asarray(x)
        mask = x != 0
        values, form = x[mask], "dense"
    arrays = {f"{prefix}.mask": np.packbits(mask.ravel())}
    if values is not None:
        arrays[f"{prefix}.values"] = values
    entry = {"form": form, "shape": list(mask.shape), "dtype": None if values is None else str(values.dtype),
             "values": values is not None}
    if form == "dense" and x.dtype.kind == "f":
        # -0.0 compares equal to 0 and would come back as +0.0: keep its positions so round trips are bit-identical
        negzero = ~mask & np.signbit(x)
        if negzero.any():
            arrays[f"{prefix}.negzero"] = np.packbits(negzero.ravel())
            entry["negzero"] = True
    return arrays, entry


def _to_arrays(wl: Workload) -> tuple[dict, dict]:
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for name, L in wl.layers.items():
        spec = L.shape_dict()
        spec.update(weight_density=L.weight_density, act_density=L.act_density, out_density=L.out_density,
                    meta=L.meta)
        if L.weights is not None:
            a, e = _tensor_arrays(f"L/{name}/weights", L.weights)
            arrays.update(a)
            spec["weights"] = e
        if L.bias is not None:
            arrays[f"L/{name}/bias"] = np.asarray(L.bias)
            spec["bias"] = True
        layers.append(spec)
    images = []
    for i, img in enumerate(wl.images):
        entries = {}
        for name, d in img.items():
            e = {"act_density": d.act_density}
            if d.acts is not None:
                a, te = _tensor_arrays(f"I/{i}/{name}/acts", d.acts)
                arrays.update(a)
                e["acts"] = te
            if d.out_mask is not None:
                arrays[f"I/{i}/{name}/out_mask"] = np.packbits(np.asarray(d.out_mask, bool).ravel())
                e["out_mask"] = list(d.out_mask.shape)
            entries[name] = e
        images.append({"layers": entries, "meta": wl.image_meta[i] if i < len(wl.image_meta) else {}})
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": wl.name, "meta": wl.meta,
                "layers": layers, "edges": [list(e) for e in wl.graph.edges], "images": images}
    return arrays, manifest


def _hash(arrays: dict, manifest: dict) -> str:
    h = hashlib.sha256()
    # layer ``meta`` is provenance (it may hold machine-specific paths), not content: left out
    layers = [{k: v for k, v in L.items() if k != "meta"} for L in manifest["layers"]]
    spec = {"name": manifest["name"], "layers": layers, "edges": manifest["edges"]}
    h.update(json.dumps(spec, sort_keys=True, default=str).encode())
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(k.encode())
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def content_hash(wl: Workload) -> str:
    arrays, manifest = _to_arrays(wl)
    return _hash(arrays, manifest)


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create an output folder; a folder that cannot be made is bad input (one line, exit 2)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WorkloadError(f"cannot create the output folder ({e.strerror or type(e).__name__})",
                            file=str(path)) from None
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temp file in the target folder, then rename (no half-written file).  An output path
    that cannot be written is reported as bad input naming the file."""
    path = Path(path)
    ensure_dir(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise WorkloadError(f"cannot write here ({e.strerror or type(e).__name__})", file=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(wl: Workload, path) -> str:
    """Save ``wl`` to ``path`` (.npz); returns the content hash."""
    arrays, manifest = _to_arrays(wl)
    manifest["hash"] = _hash(arrays, manifest)
    buf = io.BytesIO()
    blob = np.frombuffer(json.dumps(manifest, default=_json_default).encode(), dtype=np.uint8)
    np.savez_compressed(buf, __manifest__=blob, **arrays)
    atomic_write_bytes(path, buf.getvalue())
    wl._hash = manifest["hash"]
    return manifest["hash"]


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _unpack(arr: np.ndarray, shape, file, field) -> np.ndarray:
    n = int(np.prod(shape))
    if arr.dtype != np.uint8 or arr.size != (n + 7) // 8:
        raise WorkloadError(f"packed mask has {arr.size} bytes of {arr.dtype}, expected {(n + 7) // 8} uint8 for shape {tuple(shape)}",
                            file=file, field=field)
    return np.unpackbits(arr, count=n).astype(bool).reshape(shape)


def _array(z, key: str, file: str) -> np.ndarray:
    if key not in z:
        raise WorkloadError("array missing from the archive", file=file, field=key)
    return z[key]


def _load_tensor(z, prefix: str, entry: dict, expect_shape, file: str):
    if list(entry.get("shape", [])) != list(expect_shape):
        raise WorkloadError(f"shape {entry.get('shape')} does not match the layer ({list(expect_shape)})",
                            file=file, field=prefix)
    key = f"{prefix}.mask"
    if key not in z:
        raise WorkloadError("array missing from the archive", file=file, field=key)
    mask = _unpack(z[key], expect_shape, file, key)
    values = None
    if entry.get("values"):
        vkey = f"{prefix}.values"
        if vkey not in z:
            raise WorkloadError("array missing from the archive", file=file, field=vkey)
        values = z[vkey]
        if str(values.dtype) != entry.get("dtype"):
            raise WorkloadError(f"dtype {values.dtype} != manifest {entry.get('dtype')}", file=file, field=vkey)
        if values.shape != (int(mask.sum()),):
            raise WorkloadError(f"{values.shape[0] if values.ndim else 0} values for {int(mask.sum())} non-zeros",
                                file=file, field=vkey)
    if entry.get("form") == "dense":
        if values is None:
            raise WorkloadError("dense tensor stored without values", file=file, field=prefix)
        out = np.zeros(expect_shape, dtype=values.dtype)
        out[mask] = values
        if entry.get("negzero"):
            nkey = f"{prefix}.negzero"
            if nkey not in z:
                raise WorkloadError("array missing from the archive", file=file, field=nkey)
            out[_unpack(z[nkey], expect_shape, file, nkey)] = -0.0
        return out
    return SparseTensor(mask, values)


def load(path) -> Workload:
    """Load a workload saved by :func:`save`; every defect raises :class:`WorkloadError`."""
    file = str(path)
    if not os.path.exists(file):
        raise WorkloadError("no such file", file=file)
    if not zipfile.is_zipfile(file):
        raise WorkloadError("not an .npz archive (not a zip file; truncated or another format?)", file=file)
    try:
        z = np.load(file, allow_pickle=False)
        keys = set(z.files)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise WorkloadError(f"not a readable .npz archive ({type(e).__name__}: {e})", file=file) from None
    try:
        return _load(z, keys, file)
    except WorkloadError as e:
        if e.file is None:
            raise WorkloadError(e.reason, file=file, field=e.field) from None
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, zlib.error) as e:
        raise WorkloadError(f"corrupt archive ({type(e).__name__}: {e})", file=file) from None
    finally:
        z.close()


def _load(z, keys, file) -> Workload:
    if "__manifest__" not in keys:
        raise WorkloadError("no __manifest__ entry: not an accelsim workload", file=file, field="__manifest__")
    try:
        manifest = json.loads(bytes(z["__manifest__"]).decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WorkloadError(f"manifest is not valid JSON ({e})", file=file, field="__manifest__") from None
    if manifest.get("format") != FORMAT:
        raise WorkloadError(f"format {manifest.get('format')!r} is not {FORMAT!r}", file=file, field="format")
    ver = manifest.get("format_version")
    if not isinstance(ver, int) or ver > FORMAT_VERSION or ver < 1:
        raise WorkloadError(f"format_version {ver!r} is not supported (this build reads 1..{FORMAT_VERSION})",
                            file=file, field="format_version")
    wl = Workload(manifest.get("name", Path(file).stem), meta=manifest.get("meta") or {})
    for spec in manifest.get("layers", []):
        spec = dict(spec)
        wentry = spec.pop("weights", None)
        has_bias = spec.pop("bias", False)
        try:
            L = Layer(**spec)
        except TypeError as e:
            raise WorkloadError(f"bad layer spec ({e})", file=file, field=f"layers.{spec.get('name')}") from None
        if wentry:
            L.weights = _load_tensor(z, f"L/{L.name}/weights", wentry, L.weight_shape, file)
        if has_bias:
            b = _array(z, f"L/{L.name}/bias", file)
            if b.shape != (L.K,):
                raise WorkloadError(f"bias shape {b.shape} != ({L.K},)", file=file, field=f"L/{L.name}/bias")
            L.bias = b
        wl.add_layer(L)
    for a, b in manifest.get("edges", []):
        if a not in wl.layers or b not in wl.layers:
            raise WorkloadError(f"edge {a!r} -> {b!r} names an unknown layer", file=file, field="edges")
        wl.graph.add_edge(a, b)
    for i, img in enumerate(manifest.get("images", [])):
        wl._ensure_image(i)
        wl.image_meta[i] = img.get("meta") or {}
        for name, e in img.get("layers", {}).items():
            if name not in wl.layers:
                raise WorkloadError(f"image {i} names unknown layer {name!r}", file=file, field=f"images.{i}")
            L = wl.layers[name]
            acts = None
            if e.get("acts"):
                acts = _load_tensor(z, f"I/{i}/{name}/acts", e["acts"], L.act_shape, file)
            om = None
            if e.get("out_mask"):
                if list(e["out_mask"]) != [L.P, L.Q]:
                    raise WorkloadError(f"output mask shape {e['out_mask']} != output size {[L.P, L.Q]}",
                                        file=file, field=f"I/{i}/{name}/out_mask")
                key = f"I/{i}/{name}/out_mask"
                om = _unpack(_array(z, key, file), (L.P, L.Q), file, key)
            wl.set_image_data(i, name, acts=acts, out_mask=om, act_density=e.get("act_density"))
    wl.source = file
    h = manifest.get("hash")
    wl._hash = h if h else None
    return wl


# Workload.content_hash / .save / .load (workloads.ir imports no other module of the project)
SERVICES.update(content_hash=content_hash, save=save, load=load)
