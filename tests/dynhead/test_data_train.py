import numpy as np
import pytest
import torch

from dynhead.data import CLASSES, SyntheticDetection, check_image_array, load_image_folder, make_image, save_png
from dynhead.errors import DynheadError
from dynhead.model import FCOS
from dynhead.train import (
    average_precision_50,
    centerness_target,
    fcos_targets,
    giou_loss,
    locations,
    nms,
    small_config,
    train,
)


def test_synthetic_boxes_are_exact_and_deterministic():
    img, boxes, labels = make_image("train", 0, 3, (128, 160))
    img2, boxes2, _ = make_image("train", 0, 3, (128, 160))
    assert np.array_equal(img, img2) and np.array_equal(boxes, boxes2)
    assert img.shape == (128, 160, 3) and img.dtype == np.uint8
    assert len(boxes) == len(labels) >= 1 and set(labels.tolist()) <= set(range(len(CLASSES)))
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 160).all() and (boxes[:, 3] <= 128).all()
    # held-out split: different images
    assert not np.array_equal(make_image("val", 0, 3, (128, 160))[0], img)
    ds = SyntheticDetection(5, "val", size=(96, 96), num_classes=3)
    assert all(set(ds[i][2].tolist()) <= {0, 1, 2} for i in range(5))


def test_targets_center_sampling_and_ranges():
    cfg = small_config()
    sizes = [(20, 20), (10, 10), (5, 5), (3, 3), (2, 2)]
    locs = locations(sizes)
    boxes = [torch.tensor([[40.0, 40.0, 60.0, 60.0]])]  # 20 px: level P3 (range -1..16? max ltrb <= 16)
    lab, reg = fcos_targets(locs, boxes, [torch.tensor([2])], 4, cfg.size_ranges)
    pos = (lab[0] != 4).nonzero().flatten()
    assert len(pos) > 0 and (lab[0, pos] == 2).all()
    pts = torch.cat(locs)[pos]
    # centre sampling radius 1.5 * stride around (50, 50), strictly inside the box
    assert ((pts - 50).abs() < 1.5 * 8 + 1e-6).all()
    assert (reg[0, pos] > 0).all() and (reg[0, pos].max(1).values <= 16).all()
    assert torch.allclose(centerness_target(torch.tensor([[5.0, 5.0, 5.0, 5.0]])), torch.tensor([1.0]))


def test_giou_perfect_box_zero_loss():
    t = torch.tensor([[3.0, 4.0, 5.0, 6.0]])
    assert float(giou_loss(t, t, torch.ones(1))) == pytest.approx(0.0, abs=1e-6)
    assert float(giou_loss(t * 0.5, t, torch.ones(1))) > 0.1


def test_nms_and_map():
    b = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=torch.float32)
    s = torch.tensor([0.9, 0.8, 0.7])
    assert nms(b, s, 0.6).tolist() == [0, 2]
    gts = [(np.array([[0, 0, 10, 10]]), np.array([0]))]
    perfect = [(np.array([[0, 0, 10, 10]]), np.array([0.9]), np.array([0]))]
    assert average_precision_50(perfect, gts, 1)["mAP"] == 1.0
    wrong = [(np.array([[50, 50, 60, 60]]), np.array([0.9]), np.array([0]))]
    assert average_precision_50(wrong, gts, 1)["mAP"] == 0.0


def test_budget_loss_gradients_reach_depth_gates_only():
    torch.manual_seed(0)
    m = FCOS(small_config(depth=1))
    img, b, l = make_image("train", 0, 0, (128, 128))
    x, _ = m.preprocess(torch.from_numpy(img).permute(2, 0, 1)[None])
    m(x)
    ratio = (m.head.last_costs["soft"] / m.head.last_costs["full"]).mean()
    ratio.backward()
    dg = m.head.cls_subnet[0].depth_module.gate.gate_conv.bias.grad
    sg = m.head.cls_subnet[0].dynamic_convs[0].gate.gate_conv.bias.grad
    assert dg is not None and float(dg) > 0
    assert sg is None or float(sg) == 0.0  # scale gates are detached in the budget


def test_tiny_training_run_reduces_loss_and_checkpoints(tmp_path):
    logs = []
    info = train(tmp_path / "m.pt", 0.5, iters=12, batch=2, size=(96, 96), n_val=4, log_every=4, ckpt_every=6,
                 log=logs.append)
    assert (tmp_path / "m.pt").is_file() and len(logs) >= 3
    assert info["iterations"] == 12 and "mAP50" in info["eval"] and 0 <= info["eval"]["used_over_full"] <= 1
    from dynhead.checkpoint import load_model
    m = load_model(tmp_path / "m.pt")
    assert m.checkpoint_meta["train"]["lambda"] == 0.5


def test_image_checks(tmp_path):
    with pytest.raises(DynheadError, match="not RGB"):
        check_image_array(np.zeros((10, 10)))
    assert check_image_array(np.zeros((3, 8, 9), np.float32)).shape == (8, 9, 3)
    from PIL import Image
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "gray.png")
    with pytest.raises(DynheadError, match="not RGB"):
        load_image_folder(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DynheadError, match="no images"):
        load_image_folder(empty)
    save_png(tmp_path / "empty" / "a.png", make_image("val", 0, 0, (32, 32))[0])
    assert load_image_folder(empty)[0][1].shape == (32, 32, 3)


def test_gate_free_training_and_its_cli_checks(tmp_path, capsys):
    """``--head fix`` trains the gate-free baseline with the same loop (no budget term); a budget weight
    for a head without gates is refused in one line."""
    from dynhead.__main__ import main
    from dynhead.checkpoint import load_model
    info = train(tmp_path / "f.pt", 0.0, iters=3, batch=2, size=(64, 64), n_val=2, log_every=3,
                 cfg=small_config(head="fix", depth=2), log=lambda s: None)
    m = load_model(tmp_path / "f.pt")
    assert m.head.kind == "fix" and m.cfg.depth == 2 and info["eval"]["used_over_full"] == 1.0
    assert not any(".gate." in n for n, _ in m.named_parameters())
    assert main(["train", "--out", str(tmp_path / "x.pt"), "--head", "fix", "--lambda", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "no effect on a gate-free (fix) head" in err and len(err.strip().splitlines()) == 1
