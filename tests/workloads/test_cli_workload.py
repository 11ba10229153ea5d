"""`accelsim workload show|convert|list` through accelsim.cli.main."""

import json

from accelsim.cli import main

ALEXNET_MACS = {"conv1": 105_415_200, "conv2": 223_948_800, "conv3": 149_520_384, "conv4": 112_140_288,
                "conv5": 74_760_192, "fc6": 37_748_736, "fc7": 16_777_216, "fc8": 4_096_000}


def _json(capsys, argv):
    assert main(argv) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def test_show_alexnet_json(capsys):
    s = _json(capsys, ["workload", "show", "alexnet", "--json"])
    assert [r["name"] for r in s["layers"]] == list(ALEXNET_MACS)
    assert {r["name"]: r["macs_dense"] for r in s["layers"]} == ALEXNET_MACS
    assert s["total"]["macs_dense"] == sum(ALEXNET_MACS.values())
    conv1 = s["layers"][0]
    assert (conv1["H"], conv1["W"], conv1["C"], conv1["K"], conv1["R"], conv1["stride"], conv1["P"], conv1["Q"]) == \
        (227, 227, 3, 96, 11, 4, 55, 55)
    assert len(s["hash"]) == 64


def test_show_table_output(capsys):
    assert main(["workload", "show", "mobilenet-v1-0.5"]) == 0
    out = capsys.readouterr().out
    assert "total dense MACs: 49,160,192" in out


def test_unknown_workload_exit_2_one_line(capsys):
    assert main(["workload", "show", "no-such-net", "--json"]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "no-such-net" in lines[0] and "alexnet" in lines[0]


def test_bad_csv_exit_2(capsys, tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter,\n"
                 "c,8,8,3,3,1,1,\n")
    assert main(["workload", "show", str(p)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.csv" in err[0] and "Strides" in err[0]
    assert main(["workload", "show", str(tmp_path / "missing.npz")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_convert_to_csv_then_show(capsys, tmp_path):
    x = tmp_path / "x.csv"
    assert main(["workload", "convert", "alexnet", "--out", str(x)]) == 0
    capsys.readouterr()
    s = _json(capsys, ["workload", "show", str(x), "--json"])
    assert s["name"] == "x"
    assert {r["name"]: r["macs_dense"] for r in s["layers"]} == ALEXNET_MACS
    assert all(r["padding"] == 0 for r in s["layers"])  # topology sizes are padded sizes


def test_convert_to_npz_then_show(capsys, tmp_path, shared):
    x = tmp_path / "g.npz"
    assert main(["workload", "convert", "scnn-googlenet-inception", "--seed", "4", "--out", str(x)]) == 0
    capsys.readouterr()
    s = _json(capsys, ["workload", "show", str(x), "--json"])
    assert len(s["layers"]) == 12 and all(r["macs_effectual"] > 0 for r in s["layers"])
    assert s["total"]["macs_effectual"] < s["total"]["macs_dense"]


def test_convert_bad_extension(capsys, tmp_path):
    assert main(["workload", "convert", "alexnet", "--out", str(tmp_path / "x.txt")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_list(capsys):
    names = _json(capsys, ["workload", "list", "--json"])
    assert {"alexnet", "vgg16", "mobilenet-v1", "mobilenet-v1-0.5", "resnet18"} <= set(names)
