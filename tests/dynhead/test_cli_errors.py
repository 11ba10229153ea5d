"""Bad input: one-line errors, exit code 2."""

import numpy as np
import pytest
import torch

from dynhead.__main__ import main
from dynhead.checkpoint import save_checkpoint
from dynhead.data import make_image, save_png
from dynhead.model import FCOS
from dynhead.train import small_config
from workloads import Workload


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    m = FCOS(small_config(depth=1))
    p = tmp_path_factory.mktemp("ck") / "m.pt"
    save_checkpoint(m, p)
    return p


def _err(capsys):
    e = capsys.readouterr().err.strip()
    assert len(e.splitlines()) == 1, e
    return e


def test_wrong_shape_checkpoint(tmp_path, capsys, ckpt):
    obj = torch.load(ckpt, weights_only=True)
    obj["model"]["head.cls_subnet.0.depth_module.bottleneck.conv1.weight"] = torch.zeros(32, 32, 1, 1)
    torch.save(obj, tmp_path / "bad.pt")
    (tmp_path / "imgs").mkdir()
    save_png(tmp_path / "imgs" / "a.png", make_image("val", 0, 0, (64, 64))[0])
    rc = main(["trace", "--checkpoint", str(tmp_path / "bad.pt"), "--images", str(tmp_path / "imgs"),
               "--size", "64x64", "--out", str(tmp_path / "t.npz")])
    e = _err(capsys)
    assert rc == 2 and "bad.pt" in e and "conv1.weight (32, 32, 1, 1) vs model (32, 32, 3, 3)" in e


def test_non_rgb_image_and_empty_folder(tmp_path, capsys, ckpt):
    from PIL import Image
    (tmp_path / "g").mkdir()
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "g" / "gray.png")
    rc = main(["trace", "--checkpoint", str(ckpt), "--images", str(tmp_path / "g"), "--size", "64x64",
               "--out", str(tmp_path / "t.npz")])
    e = _err(capsys)
    assert rc == 2 and "gray.png" in e and "not RGB" in e
    (tmp_path / "e").mkdir()
    rc = main(["trace", "--checkpoint", str(ckpt), "--images", str(tmp_path / "e"), "--size", "64x64",
               "--out", str(tmp_path / "t.npz")])
    e = _err(capsys)
    assert rc == 2 and "no images" in e and str(tmp_path / "e") in e


def test_size_not_multiple_of_32_is_padded_and_said(tmp_path, capsys, ckpt):
    (tmp_path / "i").mkdir()
    save_png(tmp_path / "i" / "a.png", make_image("val", 0, 1, (70, 90))[0])
    out = tmp_path / "t.npz"
    rc = main(["trace", "--checkpoint", str(ckpt), "--images", str(tmp_path / "i"), "--size", "70x90",
               "--out", str(out), "--no-acts"])
    cap = capsys.readouterr()
    assert rc == 0 and "padded to 96x96" in cap.err
    wl = Workload.load(out)
    assert wl.meta["padded_size"] == [96, 96] and "not a multiple of 32" in wl.meta["padding_note"]
    assert wl.layers["cls.s0.l0.conv1"].H == 12


def test_missing_checkpoint_and_bad_args(tmp_path, capsys):
    rc = main(["trace", "--checkpoint", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "t.npz")])
    assert rc == 2 and "not found" in _err(capsys)
    rc = main(["train", "--out", str(tmp_path / "m.pt"), "--size", "100x100"])
    assert rc == 2 and "multiple of 32" in _err(capsys)
    with pytest.raises(SystemExit) as e:
        main(["flops", "--head", "nope", "--depth", "2", "--size", "8x8"])
    assert e.value.code == 2
