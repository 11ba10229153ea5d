"""Workload .npz storage: bit-identical round trips and clear errors on bad files."""

import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workloads import Layer, SparseTensor, Workload, WorkloadError
from workloads.storage import FORMAT_VERSION


def _same(a, b):
    """Exact equality: same container type, dtype, shape and bytes."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, SparseTensor):
        return isinstance(b, SparseTensor) and a == b
    a, b = np.asarray(a), np.asarray(b)
    return (not isinstance(b, SparseTensor) and a.dtype == b.dtype and a.shape == b.shape
            and a.tobytes() == b.tobytes())


def assert_identical(a: Workload, b: Workload):
    assert a.name == b.name and a.meta == b.meta
    assert list(a.layers) == list(b.layers) and sorted(a.graph.edges) == sorted(b.graph.edges)
    for n, L in a.layers.items():
        M = b.layers[n]
        assert L.spec_dict() == M.spec_dict()
        assert _same(L.weights, M.weights) and _same(L.bias, M.bias)
    assert len(a.images) == len(b.images) and a.image_meta == b.image_meta
    for ia, ib in zip(a.images, b.images):
        assert set(ia) == set(ib)
        for n in ia:
            assert _same(ia[n].acts, ib[n].acts) and _same(ia[n].out_mask, ib[n].out_mask)
            assert ia[n].act_density == ib[n].act_density
    assert a.content_hash == b.content_hash


@st.composite
def workloads_(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    wl = Workload(draw(st.sampled_from(["w", "héad-ü"])), meta={"note": "prop", "k": [1, 2]})
    n_layers = draw(st.integers(1, 3))
    n_images = draw(st.integers(0, 2))
    dens = st.floats(0.0, 1.0)
    prev = None
    for li in range(n_layers):
        kind = draw(st.sampled_from(["conv", "depthwise", "fc"]))
        C = draw(st.integers(1, 6))
        if kind == "fc":
            L = Layer(f"l{li}", "fc", C=C, K=draw(st.integers(1, 6)))
        else:
            g = C if kind == "depthwise" else draw(st.sampled_from([g for g in (1, 2, 3) if C % g == 0]))
            K = C if kind == "depthwise" else g * draw(st.integers(1, 3))
            H, W = draw(st.integers(1, 9)), draw(st.integers(1, 9))
            R, S = draw(st.integers(1, min(H, 3))), draw(st.integers(1, min(W, 3)))
            L = Layer(f"l{li}", kind, C=C, K=K, H=H, W=W, R=R, S=S, groups=g, stride=draw(st.integers(1, 2)),
                      padding=draw(st.integers(0, 1)))
        wd = draw(dens)
        L.weight_density = wd
        form = draw(st.sampled_from(["dense64", "dense32", "int8", "pattern", "sparse", "none"]))
        m = rng.random(L.weight_shape) < wd
        v = rng.standard_normal(L.weight_shape) * m
        if form == "dense64":
            L.weights = v
        elif form == "dense32":
            L.weights = v.astype(np.float32)
        elif form == "int8":
            L.weights = (v * 50).astype(np.int8)
        elif form == "pattern":
            L.weights = SparseTensor(m)
        elif form == "sparse":
            L.weights = SparseTensor(m, v[m].astype(np.float16))
        if draw(st.booleans()):
            L.bias = rng.standard_normal(L.K)
        wl.add_layer(L, deps=[prev] if prev else [])
        prev = L.name
        for i in range(n_images):
            ad = draw(dens)
            a = (rng.random(L.act_shape) < ad) * rng.random(L.act_shape)
            acts = draw(st.sampled_from([None, "dense", "sparse", "pattern"]))
            acts = {None: None, "dense": a, "sparse": SparseTensor.from_dense(a),
                    "pattern": SparseTensor(a != 0)}[acts]
            om = rng.random((L.P, L.Q)) < draw(dens) if draw(st.booleans()) else None
            wl.set_image_data(i, L.name, acts=acts, out_mask=om, act_density=ad)
            wl.image_meta[i] = {"image": f"img{i}", "score": 0.5}
    return wl


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wl=workloads_())
def test_round_trip_bit_identical(tmp_path, wl):
    p = tmp_path / "w.npz"
    h = wl.save(p)
    back = Workload.load(p)
    assert back.content_hash == h
    assert_identical(wl, back)
    # a second generation is identical too, and the recomputed hash agrees with the stored one
    back._hash = None
    assert back.content_hash == h
    p2 = tmp_path / "w2.npz"
    assert back.save(p2) == h
    assert_identical(back, Workload.load(p2))


def test_hash_changes_with_data(tmp_path):
    wl = Workload("w")
    wl.add_layer(Layer("a", "conv", C=2, K=2, H=4, W=4, R=3, S=3, weights=np.ones((2, 2, 3, 3))))
    h1 = wl.content_hash
    wl.set_image_data(0, "a", out_mask=np.eye(2, dtype=bool))
    h2 = wl.content_hash
    wl.layers["a"].weights[0, 0, 0, 0] = 0.0
    wl._hash = None
    assert len({h1, h2, wl.content_hash}) == 3


# ------------------------------------------------------------- bad files
@pytest.fixture
def saved(tmp_path):
    wl = Workload("w")
    wl.add_layer(Layer("a", "conv", C=3, K=4, H=6, W=6, R=3, S=3, padding=1,
                       weights=np.arange(108, dtype=np.float64).reshape(4, 3, 3, 3), bias=np.ones(4)))
    wl.add_layer(Layer("b", "fc", C=8, K=2), deps=["a"])
    a = np.zeros((3, 6, 6))
    a[0, 1, 2] = 1.5
    wl.set_image_data(0, "a", acts=SparseTensor.from_dense(a), out_mask=np.ones((6, 6), bool))
    p = tmp_path / "good.npz"
    wl.save(p)
    return p


def _rewrite(src, dst, manifest=None, arrays=None):
    with np.load(src) as z:
        data = {k: z[k] for k in z.files}
    m = json.loads(bytes(data.pop("__manifest__")).decode())
    if manifest:
        manifest(m)
    if arrays:
        arrays(data)
    np.savez_compressed(dst, __manifest__=np.frombuffer(json.dumps(m).encode(), np.uint8), **data)
    return dst


def _err(path) -> str:
    with pytest.raises(WorkloadError) as ei:
        Workload.load(path)
    msg = str(ei.value)
    assert str(path) in msg and "\n" not in msg
    return msg


def test_good_file_loads(saved):
    wl = Workload.load(saved)
    assert wl.instance("a").acts.nnz == 1 and wl.layers["a"].bias.shape == (4,)


@pytest.mark.parametrize("frac", [0.0, 0.3, 0.9])
def test_truncated(saved, tmp_path, frac):
    data = saved.read_bytes()
    p = tmp_path / "trunc.npz"
    p.write_bytes(data[:int(len(data) * frac)])
    assert "npz" in _err(p) or "archive" in _err(p)


def test_corrupted_payload(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as z:
        info = z.getinfo("L/a/weights.values.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 5
    for i in range(start, start + 20):
        data[i] ^= 0xFF
    p = tmp_path / "bad.npz"
    p.write_bytes(bytes(data))
    _err(p)


def test_not_a_zip_and_missing(tmp_path):
    p = tmp_path / "x.npz"
    p.write_text("hello")
    _err(p)
    assert "no such file" in _err(tmp_path / "none.npz")


def test_newer_and_unknown_format_version(saved, tmp_path):
    for v in (FORMAT_VERSION + 1, 0, "1", None):
        p = _rewrite(saved, tmp_path / f"v{v}.npz", manifest=lambda m, v=v: m.update(format_version=v))
        assert "format_version" in _err(p)
    p = _rewrite(saved, tmp_path / "fmt.npz", manifest=lambda m: m.update(format="other"))
    assert "format" in _err(p)
    p = _rewrite(saved, tmp_path / "nomani.npz", manifest=lambda m: None)
    with np.load(p) as z:
        data = {k: z[k] for k in z.files if k != "__manifest__"}
    np.savez_compressed(p, **data)
    assert "__manifest__" in _err(p)


def test_wrong_dtype(saved, tmp_path):
    p = _rewrite(saved, tmp_path / "dt.npz",
                 arrays=lambda d: d.update({"L/a/weights.values": d["L/a/weights.values"].astype(np.int32)}))
    assert "L/a/weights.values" in _err(p) and "int32" in _err(p)
    p = _rewrite(saved, tmp_path / "dtm.npz",
                 arrays=lambda d: d.update({"L/a/weights.mask": d["L/a/weights.mask"].astype(np.int64)}))
    assert "L/a/weights.mask" in _err(p)


def test_mismatched_shapes(saved, tmp_path):
    def grow_c(m):
        m["layers"][0]["C"] = 6  # weights stored for C=3
    assert "L/a/weights" in _err(_rewrite(saved, tmp_path / "c.npz", manifest=grow_c))

    def out_mask(m):
        m["images"][0]["layers"]["a"]["out_mask"] = [5, 5]
    assert "out_mask" in _err(_rewrite(saved, tmp_path / "om.npz", manifest=out_mask))
    p = _rewrite(saved, tmp_path / "v.npz",
                 arrays=lambda d: d.update({"I/0/a/acts.values": np.ones(3)}))
    assert "I/0/a/acts.values" in _err(p)
    p = _rewrite(saved, tmp_path / "b.npz", arrays=lambda d: d.update({"L/a/bias": np.ones(5)}))
    assert "bias" in _err(p)

    def neg(m):
        m["layers"][1]["C"] = -8
    assert "b.C" in _err(_rewrite(saved, tmp_path / "neg.npz", manifest=neg))


@pytest.mark.parametrize("key", ["L/a/weights.mask", "L/a/weights.values", "L/a/bias", "I/0/a/acts.mask",
                                 "I/0/a/out_mask"])
def test_missing_arrays(saved, tmp_path, key):
    p = _rewrite(saved, tmp_path / "m.npz", arrays=lambda d: d.pop(key))
    msg = _err(p)
    assert f"field '{key}'" in msg and "missing" in msg


def test_bad_edges_and_layer_names(saved, tmp_path):
    p = _rewrite(saved, tmp_path / "e.npz", manifest=lambda m: m["edges"].append(["a", "zz"]))
    assert "edges" in _err(p)
    p = _rewrite(saved, tmp_path / "k.npz", manifest=lambda m: m["layers"][0].update(bogus=1))
    assert "layers.a" in _err(p)


def test_unwritable_output_is_one_line_bad_input(tmp_path):
    """An output path under a regular file (or any folder that cannot be made) is reported as bad
    input naming the path, not as a traceback; nothing is written."""
    from workloads.errors import WorkloadError
    from workloads.storage import atomic_write_bytes, ensure_dir
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(WorkloadError, match="cannot create the output folder") as e:
        atomic_write_bytes(blocker / "sub" / "x.json", b"{}")
    assert str(blocker / "sub") in str(e.value) and len(str(e.value).splitlines()) == 1
    with pytest.raises(WorkloadError, match="cannot create the output folder"):
        ensure_dir(blocker / "out")
    from accelsim.cli import main
    assert main(["workload", "convert", "alexnet", "--out", str(blocker / "w.npz")]) == 2
