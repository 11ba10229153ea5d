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
from dataclasses import replace
from pathlib import Path

import numpy as np

from .errors import WorkloadError
from .ir import SERVICES, Layer, SparseTensor, Workload, find_cycle
from .limits import check as check_cap
from .manifest import check as check_manifest
from .manifest import parse as parse_manifest

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


def _hash_start(manifest: dict):
    """sha256 fed with the spec part of the content hash (then :func:`_hash_array` per array, in sorted
    key order)."""
    h = hashlib.sha256()
    # layer ``meta`` is provenance (it may hold machine-specific paths), not content: left out
    layers = [{k: v for k, v in L.items() if k != "meta"} for L in manifest["layers"]]
    spec = {"name": manifest["name"], "layers": layers, "edges": manifest["edges"]}
    h.update(json.dumps(spec, sort_keys=True, default=str).encode())
    return h


def _hash_array(h, key: str, a: np.ndarray) -> None:
    a = np.ascontiguousarray(a)
    h.update(key.encode())
    h.update(str(a.dtype).encode())
    h.update(str(a.shape).encode())
    h.update(a.reshape(-1).view(np.uint8))  # the bytes, without the copy tobytes() makes


def _hash(arrays: dict, manifest: dict) -> str:
    h = _hash_start(manifest)
    for k in sorted(arrays):
        _hash_array(h, k, arrays[k])
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


def _remove_stale_tmp(path: Path) -> None:
    """Remove ``.<name>.<pid>.*.tmp`` files beside ``path`` left by a writer that was killed outright
    (SIGKILL, power loss): their process no longer exists."""
    head = f".{path.name}."
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for e in entries:
        if not (e.name.startswith(head) and e.name.endswith(".tmp")):
            continue
        pid = e.name[len(head):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            try:
                os.unlink(e.path)
            except OSError:
                pass
        except OSError:  # another user's live process
            pass


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temp file in the target folder, then rename (no half-written file).  An output path
    that cannot be written is reported as bad input naming the file.  The temp file is removed on any
    exception, Ctrl-C included; one left by a writer killed outright is removed by the next write
    beside it (its name carries the writer's pid)."""
    path = Path(path)
    if path.is_dir():
        raise WorkloadError("is a folder, expected a file name", file=str(path))
    ensure_dir(path.parent)
    _remove_stale_tmp(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise WorkloadError(f"cannot write here ({e.strerror or type(e).__name__})", file=str(path)) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


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


# -------------------------------------------------------------------------------------------- load
def _unpack(arr: np.ndarray, shape) -> np.ndarray:
    return np.unpackbits(arr, count=int(np.prod(shape))).astype(bool).reshape(shape)


def _packed(shape) -> tuple[int]:
    return ((int(np.prod(shape)) + 7) // 8,)


class _Archive:
    """The ``.npy`` members of an ``.npz``.  :meth:`read` checks a member's header (dtype, shape) against
    what the manifest implies before allocating anything, so a header announcing 10^12 elements, or a
    small compressed member that expands to gigabytes, fails as one line."""

    def __init__(self, zf: zipfile.ZipFile, file: str):
        self.zf, self.file = zf, file
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            if not info.filename.endswith(".npy") or info.is_dir():
                raise WorkloadError("not an array (.npy) member of an .npz", field=info.filename)
            key = info.filename[:-4]
            if key in self.members:
                raise WorkloadError("array stored twice in the archive", field=key)
            self.members[key] = info

    def read(self, key: str, shape: tuple | None, dtype: str) -> np.ndarray:
        """Member ``key`` as an array of exactly ``shape`` and ``dtype`` (``"real"``: any native bool, int,
        uint or float type; ``shape`` None: one dimension of at most ``max_text_bytes`` elements)."""
        if key not in self.members:
            raise WorkloadError("array missing from the archive", field=key)
        with self.zf.open(self.members[key]) as f:
            try:
                version = np.lib.format.read_magic(f)
                if version not in ((1, 0), (2, 0)):
                    raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported")
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                got_shape, _fortran, got_dtype = read_header(f)
            except (ValueError, SyntaxError, TypeError) as e:  # numpy parses the header text as a literal
                raise WorkloadError(f"not an .npy array ({' '.join(str(e).split())[:160]})", field=key) from None
            got_shape = tuple(got_shape)
            if shape is None:
                if len(got_shape) != 1:
                    raise WorkloadError(f"array header says shape {got_shape}, expected one dimension", field=key)
                check_cap("max_text_bytes", got_shape[0], "bytes", field=key)
                shape = got_shape
            if dtype == "real":
                if got_dtype.kind not in "biuf" or got_dtype.byteorder == ">" or got_dtype.hasobject:
                    raise WorkloadError(f"dtype {got_dtype} is not a native real number type "
                                        "(bool, int, uint or float)", field=key)
                dtype = got_dtype
            if got_shape != tuple(shape) or got_dtype != np.dtype(dtype):
                raise WorkloadError(f"array header says {got_dtype} {got_shape}, the manifest implies "
                                    f"{np.dtype(dtype)} {tuple(shape)}", field=key)
            arr = np.empty(shape, dtype)
            buf = memoryview(arr.reshape(-1).view(np.uint8))
            n = 0
            while n < len(buf):
                k = f.readinto(buf[n:])
                if not k:
                    raise WorkloadError(f"array data truncated ({n:,} of {len(buf):,} bytes)", field=key)
                n += k
        return arr


def _tensor_plan(prefix: str, entry: dict, shape) -> tuple[dict, int]:
    """({archive key: (shape, dtype) or a function of the arrays read so far giving them}, bytes it
    expands to at most) of one tensor entry, after checking its shape against the layer."""
    if list(entry["shape"]) != list(shape):
        raise WorkloadError(f"shape {entry['shape']} does not match the layer ({list(shape)})", field=prefix)
    plan = {f"{prefix}.mask": (_packed(shape), "uint8")}
    if entry["values"]:  # one value per non-zero of the mask (read first: '.mask' sorts before '.values')
        plan[f"{prefix}.values"] = lambda raw: ((int(np.count_nonzero(_unpack(raw[f"{prefix}.mask"], shape))),),
                                                entry["dtype"])
    if entry.get("negzero"):
        plan[f"{prefix}.negzero"] = (_packed(shape), "uint8")
    item = np.dtype(entry["dtype"]).itemsize if entry["values"] else 0
    return plan, int(np.prod(shape)) * (2 + item * (2 if entry["form"] == "dense" else 1))


def _tensor(raw: dict, prefix: str, entry: dict, shape):
    """The tensor of one entry from the arrays read (taken out of ``raw``, so a dense tensor's packed parts
    are freed as soon as it is built)."""
    mask = _unpack(raw.pop(f"{prefix}.mask"), shape)
    values = raw.pop(f"{prefix}.values") if entry["values"] else None
    if entry["form"] == "sparse":
        return SparseTensor(mask, values)
    out = np.zeros(shape, dtype=values.dtype)
    out[mask] = values
    if entry.get("negzero"):
        out[_unpack(raw.pop(f"{prefix}.negzero"), shape)] = -0.0
    return out


def load(path) -> Workload:
    """Load a workload saved by :func:`save`.  The manifest is checked in full (:mod:`workloads.manifest`),
    then every size against the caps (:mod:`workloads.limits`), then each array's header, before anything is
    allocated; the content hash is recomputed and must match the stored one.  Every defect raises a one-line
    :class:`WorkloadError` naming the file and the field."""
    file = str(path)
    if not os.path.exists(file):
        raise WorkloadError("no such file", file=file)
    if os.path.isdir(file):
        raise WorkloadError("is a folder, expected an .npz workload file", file=file)
    try:
        zf = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        reason = "not a zip file; truncated or another format?" if isinstance(e, zipfile.BadZipFile) \
            else f"{type(e).__name__}: {e.strerror if isinstance(e, OSError) else e}"
        raise WorkloadError(f"not a readable .npz archive ({reason})", file=file) from None
    try:
        return _load(_Archive(zf, file), file)
    except WorkloadError as e:
        if e.file is None:
            raise WorkloadError(e.reason, file=file, field=e.field) from None
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, zlib.error, NotImplementedError,
            RuntimeError) as e:  # RuntimeError: an encrypted member; NotImplementedError: unknown compression
        raise WorkloadError(f"corrupt archive ({type(e).__name__}: {' '.join(str(e).split())[:160]})",
                            file=file) from None
    finally:
        zf.close()


def _load(ar: _Archive, file: str) -> Workload:
    if "__manifest__" not in ar.members:
        raise WorkloadError("no __manifest__ entry: not an accelsim workload", field="__manifest__")
    m = check_manifest(parse_manifest(ar.read("__manifest__", None, "uint8").tobytes()))
    if m["format"] != FORMAT:
        raise WorkloadError(f"format {m['format']!r} is not {FORMAT!r}", field="format")
    ver = m["format_version"]
    if not 1 <= ver <= FORMAT_VERSION:
        raise WorkloadError(f"format_version {ver!r} is not supported (this build reads 1..{FORMAT_VERSION})",
                            field="format_version")
    name = m.get("name", Path(file).stem)
    wl = Workload(name, meta=m.get("meta", {}))
    # 1. shapes only: every layer (its sizes against the caps), every tensor entry against its layer, the
    #    memory all of it expands to, and the archive's members against what the manifest names
    layers, plan, total = [], {}, 0
    for spec in m.get("layers", []):
        L = Layer(**{k: v for k, v in spec.items() if k not in ("weights", "bias")})
        if spec.get("weights"):
            p, b = _tensor_plan(f"L/{L.name}/weights", spec["weights"], L.weight_shape)
            plan.update(p)
            total += b
        if spec.get("bias"):
            plan[f"L/{L.name}/bias"] = ((L.K,), "real")
            total += 8 * L.K
        layers.append((L, spec.get("weights"), spec.get("bias", False)))
    by_name = {L.name: L for L, _, _ in layers}
    images = m.get("images", [])
    for i, img in enumerate(images):
        for nm, e in img.get("layers", {}).items():
            L = by_name[nm]
            if e.get("acts"):
                p, b = _tensor_plan(f"I/{i}/{nm}/acts", e["acts"], L.act_shape)
                plan.update(p)
                total += b
            if e.get("out_mask"):
                if list(e["out_mask"]) != [L.P, L.Q]:
                    raise WorkloadError(f"output mask shape {e['out_mask']} != output size {[L.P, L.Q]}",
                                        field=f"I/{i}/{nm}/out_mask")
                plan[f"I/{i}/{nm}/out_mask"] = (_packed((L.P, L.Q)), "uint8")
                total += 2 * L.P * L.Q
    check_cap("max_workload_bytes", total, "the arrays expand to bytes", field="layers")
    extra = sorted(set(ar.members) - set(plan) - {"__manifest__"})
    if extra:
        raise WorkloadError("array not named by the manifest", field=extra[0])
    # 2. the arrays, in the content hash's order, each hashed as it is read: the hash is of what was read,
    #    never the stored one taken on trust
    h = _hash_start({"name": name, "layers": m.get("layers", []), "edges": m.get("edges", [])})
    raw: dict[str, np.ndarray] = {}
    for key in sorted(plan):
        shape, dtype = plan[key](raw) if callable(plan[key]) else plan[key]
        raw[key] = ar.read(key, shape, dtype)
        _hash_array(h, key, raw[key])
    actual = h.hexdigest()
    if m.get("hash") and m["hash"] != actual:
        raise WorkloadError(f"content hash {m['hash'][:12]}... does not match the content ({actual[:12]}...): "
                            "changed after it was written (re-save it to accept the change)", field="hash")
    # 3. the workload
    for L, wentry, has_bias in layers:
        if wentry or has_bias:
            L = replace(L, weights=_tensor(raw, f"L/{L.name}/weights", wentry, L.weight_shape) if wentry else None,
                        bias=raw.pop(f"L/{L.name}/bias") if has_bias else None)
        wl.add_layer(L)
    for a, b in m.get("edges", []):
        wl.graph.add_edge(a, b)
    cyc = find_cycle(wl.graph)
    if cyc:
        raise WorkloadError(f"edge {cyc[0]!r} -> {cyc[1]!r} closes a cycle: layers must form a DAG", field="edges")
    for i, img in enumerate(images):
        wl._ensure_image(i)
        wl.image_meta[i] = img.get("meta", {})
        for nm, e in img.get("layers", {}).items():
            L = wl.layers[nm]
            acts = _tensor(raw, f"I/{i}/{nm}/acts", e["acts"], L.act_shape) if e.get("acts") else None
            om = raw.pop(f"I/{i}/{nm}/out_mask", None)
            om = None if om is None else _unpack(om, (L.P, L.Q))
            wl.set_image_data(i, nm, acts=acts, out_mask=om, act_density=e.get("act_density"))
    wl.source = file
    wl._hash = actual
    return wl


# Workload.content_hash / .save / .load (workloads.ir imports no other module of the project)
SERVICES.update(content_hash=content_hash, save=save, load=load)
