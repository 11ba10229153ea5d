"""SCNN density workloads from the reference set scnn_layer_densities (../shared, else packaged)."""

import csv

import numpy as np
import pytest

from workloads import WorkloadError
from workloads.shared_data import scnn_googlenet_inception, scnn_vgg16
from workloads.zoo import resolve

TABLES = {"scnn-vgg16": "vgg16_conv.csv", "scnn-googlenet-inception": "googlenet_inception_3a_5b.csv"}


@pytest.mark.parametrize("name", list(TABLES))
def test_layers_and_exact_mask_densities(shared, name):
    rows = list(csv.DictReader(open(shared / "validation/scnn_layer_densities" / TABLES[name])))
    wl = resolve(name, shared=shared, seed=7)
    assert wl.layer_names() == [r["layer"] for r in rows]
    for r in rows:
        L = wl.layers[r["layer"]]
        assert (L.C, L.K, L.H, L.W, L.R, L.S, L.stride, L.padding) == tuple(
            int(r[k]) for k in ("C", "K", "H", "W", "R", "S", "stride", "pad"))
        assert L.act_density == float(r["act_density"]) and L.weight_density == float(r["weight_density"])
        inst = wl.instance(L.name)
        w_size, a_size = int(np.prod(L.weight_shape)), int(np.prod(L.act_shape))
        assert inst.weights.shape == L.weight_shape and inst.acts.shape == L.act_shape
        assert inst.weights.nnz == round(L.weight_density * w_size)
        assert inst.acts.nnz == round(L.act_density * a_size)
        assert not inst.functional_ok  # patterns only


def test_seed_selects_masks(shared):
    a, b, c = (scnn_googlenet_inception(shared, s) for s in (1, 1, 2))
    assert a.content_hash == b.content_hash != c.content_hash
    n = "inception_3a_3x3"
    assert np.array_equal(a.instance(n).weight_mask(), b.instance(n).weight_mask())
    assert not np.array_equal(a.instance(n).weight_mask(), c.instance(n).weight_mask())


def test_vgg16_shapes_match_reference_network(shared):
    ref = resolve("vgg16")
    wl = scnn_vgg16(shared, 0)
    for n, L in wl.layers.items():
        assert L.shape_dict() == ref.layers[n].shape_dict()


def test_round_trip_of_mask_workload(shared, tmp_path):
    from workloads import Workload
    wl = scnn_googlenet_inception(shared, 3)
    h = wl.save(tmp_path / "g.npz")
    back = Workload.load(tmp_path / "g.npz")
    assert back.content_hash == h == wl.content_hash
    n = "inception_5b_5x5"
    assert back.instance(n).acts == wl.instance(n).acts


def _fake_shared(tmp_path, shared, edit=None, drop_file=False):
    d = tmp_path / "sh" / "validation" / "scnn_layer_densities"
    d.mkdir(parents=True)
    src = shared / "validation/scnn_layer_densities/googlenet_inception_3a_5b.csv"
    if not drop_file:
        text = src.read_text()
        (d / src.name).write_text(edit(text) if edit else text)
    return tmp_path / "sh"


@pytest.mark.parametrize("edit,parts", [
    (lambda t: t.replace(",act_density", ",actd"), ["act_density", "missing column", "line 1"]),
    (lambda t: t.replace("inception_3a_3x3,96,128,28,28,3,3,1,1,0.67,0.45",
                         "inception_3a_3x3,96,128,28,28,3,3,1,1,0.67,1.45"), ["weight_density", "line 4", "[0, 1]"]),
    (lambda t: t.replace("inception_3a_5x5,16,32,28,28,5,5,1,2",
                         "inception_3a_5x5,16,32,28,28,5,5,0,2"), ["stride", "line 6"]),
    (lambda t: t.replace("inception_5b_1x1,832,384", "inception_5b_1x1,832,abc"), ["'K'", "line 8", "integer"]),
    (lambda t: t.replace("inception_5b_3x3,192,384,7,7,3,3,1,1,0.30",
                         "inception_5b_3x3,192,384,7,7,3,3,1,1,"), ["act_density", "missing value"]),
])
def test_malformed_table(shared, tmp_path, edit, parts):
    root = _fake_shared(tmp_path, shared, edit)
    with pytest.raises(WorkloadError) as ei:
        scnn_googlenet_inception(root, 0)
    msg = str(ei.value)
    assert "googlenet_inception_3a_5b.csv" in msg and "\n" not in msg
    for p in parts:
        assert p in msg, (p, msg)


def test_missing_table_and_folder(shared, tmp_path):
    root = _fake_shared(tmp_path, shared, drop_file=True)
    with pytest.raises(WorkloadError, match="googlenet_inception_3a_5b.csv"):
        scnn_googlenet_inception(root, 0)
    # a shared folder without the set: the packaged copy stands in for it
    empty = tmp_path / "empty"
    empty.mkdir()
    assert scnn_googlenet_inception(empty, 0).content_hash == scnn_googlenet_inception("none", 0).content_hash


def test_unknown_reference_set_names_where_it_looked(tmp_path):
    from workloads.zoo import require_shared
    with pytest.raises(WorkloadError, match="no_such_set") as ei:
        require_shared("no_such_set", tmp_path)
    assert "packaged sets" in str(ei.value) and "\n" not in str(ei.value)
