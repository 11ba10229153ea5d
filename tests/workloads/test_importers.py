"""SCALE-Sim topology / GEMM CSV import and export."""

import pytest

from workloads import WorkloadError
from workloads.importers import export_topology_csv, import_csv, topology_rows
from workloads.zoo import resolve

HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"
TOPO = HEADER + """
Conv1,227,227,11,11,3,96,4,
Conv2,31,31,5,5,96,256,1,
Conv3,15,17,3,3,256,384,2,
FC6,1,1,1,1,9216,4096,1,
"""


def _write(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_topology_import(tmp_path):
    wl = import_csv(_write(tmp_path, TOPO))
    assert wl.layer_names() == ["Conv1", "Conv2", "Conv3", "FC6"]
    c1, c3, fc = wl.layers["Conv1"], wl.layers["Conv3"], wl.layers["FC6"]
    assert (c1.P, c1.Q, c1.padding, c1.macs_dense) == (55, 55, 0, 105_415_200)
    assert (c3.H, c3.W, c3.stride, c3.P, c3.Q) == (15, 17, 2, 7, 8)
    assert fc.kind == "fc" and fc.macs_dense == 9216 * 4096
    assert list(wl.graph.edges) == [("Conv1", "Conv2"), ("Conv2", "Conv3"), ("Conv3", "FC6")]


def test_topology_round_trip_same_rows(tmp_path):
    a = import_csv(_write(tmp_path, TOPO))
    out = tmp_path / "out.csv"
    export_topology_csv(a, out)
    b = import_csv(out)
    assert topology_rows(a) == topology_rows(b)
    assert [L.shape_dict() for L in a.layers.values()] == [L.shape_dict() for L in b.layers.values()]
    # the exported text is the input, up to the file name
    assert out.read_text().splitlines() == TOPO.strip().splitlines()
    export_topology_csv(b, tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes()


def test_rows_without_trailing_comma_and_reordered_columns(tmp_path):
    text = ("Channels,Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Num Filter,Strides\n"
            "3, c1, 8, 8, 3, 3, 4, 1\n\n")
    wl = import_csv(_write(tmp_path, text))
    L = wl.layers["c1"]
    assert (L.C, L.K, L.H, L.P) == (3, 4, 8, 6)


def test_sparsity_column_round_trip(tmp_path):
    text = HEADER + " Sparsity,\nA,8,8,3,3,4,8,1,2:4,\nB,6,6,1,1,8,8,1,,\n"
    wl = import_csv(_write(tmp_path, text))
    assert wl.layers["A"].weight_density == 0.5 and wl.layers["A"].meta["sparsity"] == "2:4"
    assert wl.layers["B"].weight_density is None
    export_topology_csv(wl, tmp_path / "o.csv")
    assert (tmp_path / "o.csv").read_text().splitlines() == text.strip().splitlines()


def test_gemm_import(tmp_path):
    wl = import_csv(_write(tmp_path, "Layer, M, N, K,\ng1, 64, 128, 256,\nv, 1, 10, 20,\n"))
    g = wl.layers["g1"]
    assert (g.kind, g.C, g.K, g.H, g.W, g.P, g.Q) == ("conv", 256, 128, 64, 1, 64, 1)
    assert g.macs_dense == 64 * 128 * 256 and g.meta["gemm"] == {"M": 64, "N": 128, "K": 256}
    assert wl.layers["v"].kind == "fc" and wl.layers["v"].macs_dense == 200
    # exported as a 1x1 conv that SCALE-Sim's own conv->GEMM turns back into (M, N, K)
    assert topology_rows(wl)[0] == ["g1", 64, 1, 1, 1, 256, 128, 1]


def test_export_padded_grouped_and_depthwise(tmp_path):
    alex = resolve("alexnet")
    rows = {r[0]: r for r in topology_rows(alex)}
    assert rows["conv2"] == ["conv2", 31, 31, 5, 5, 48, 256, 1]  # 27 + 2*2 padded, C/groups
    out = tmp_path / "alex.csv"
    export_topology_csv(alex, out)
    back = import_csv(out)
    for n, L in alex.layers.items():  # output sizes and MACs survive; padding/groups are folded in
        assert (back.layers[n].P, back.layers[n].Q, back.layers[n].macs_dense) == (L.P, L.Q, L.macs_dense)
    mb = resolve("mobilenet-v1-0.5")
    dw = {r[0]: r for r in topology_rows(mb)}["conv_dw_1"]
    assert dw == ["conv_dw_1", 66, 66, 3, 3, 1, 16, 1]


def test_export_refuses_dilation(tmp_path):
    from workloads import Layer, Workload
    wl = Workload("d")
    wl.add_layer(Layer("x", "conv", C=2, K=2, H=9, W=9, R=3, S=3, dilation=2))
    with pytest.raises(WorkloadError, match="dilation"):
        export_topology_csv(wl, tmp_path / "d.csv")
    assert not (tmp_path / "d.csv").exists()


BAD = [
    # (text, substrings the one-line error must contain)
    (HEADER.replace(" Filter Width,", "") + "\nA,8,8,3,3,4,1,\n", ["t.csv", "Filter Width", "line 1", "missing column"]),
    (HEADER + "\nA,8,8,3,3,4,x,1,\n", ["t.csv", "Num Filter", "line 2", "integer"]),
    (HEADER + "\nA,8,8,3,3,4,8,1,\nB,8,8,3,3,4,8,0,\n", ["t.csv", "Strides", "line 3", ">= 1"]),
    (HEADER + "\nA,-8,8,3,3,4,8,1,\n", ["t.csv", "IFMAP Height", "line 2", ">= 1"]),
    (HEADER + "\nA,8,0,3,3,4,8,1,\n", ["IFMAP Width", "line 2"]),
    (HEADER + "\nA,8,8,3,3,4,8,\n", ["Strides", "line 2", "missing value"]),
    (HEADER + "\nA,8,8,3.5,3,4,8,1,\n", ["Filter Height", "line 2", "'3.5'"]),
    (HEADER + "\nA,2,8,3,3,4,8,1,\n", ["Filter Height", "line 2", "filter height 3 > IFMAP height 2"]),
    (HEADER + "\nA,8,8,3,3,4,8,1,\nA,8,8,3,3,4,8,1,\n", ["Layer name", "line 3", "duplicate"]),
    (HEADER + " Sparsity,\nA,8,8,3,3,4,8,1,5:4,\n", ["Sparsity", "line 2", "N:M"]),
    (HEADER + "\n", ["no layer rows"]),
    ("", ["empty file"]),
    ("foo, bar\n1, 2\n", ["unrecognised header"]),
    ("Layer, M, N,\ng,1,2,\n", ["'K'", "line 1", "missing column"]),
    ("Layer, M, N, K,\ng,4,0,3,\n", ["'N'", "line 2", ">= 1"]),
]


@pytest.mark.parametrize("text,parts", BAD, ids=[str(i) for i in range(len(BAD))])
def test_csv_errors_name_file_line_column(tmp_path, text, parts):
    with pytest.raises(WorkloadError) as ei:
        import_csv(_write(tmp_path, text))
    msg = str(ei.value)
    assert "\n" not in msg
    for s in parts:
        assert s in msg, (s, msg)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(WorkloadError, match="no such file"):
        import_csv(tmp_path / "nope.csv")
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(WorkloadError, match="UTF-8"):
        import_csv(p)


def test_crlf_and_bom(tmp_path):
    p = tmp_path / "w.csv"
    p.write_bytes(("\ufeff" + TOPO.replace("\n", "\r\n")).encode("utf-8"))
    wl = import_csv(p)
    assert wl.layer_names() == ["Conv1", "Conv2", "Conv3", "FC6"]
    assert wl.layers["Conv1"].macs_dense == 105_415_200
