import pytest
import torch

from dynhead.checkpoint import infer_config, load_model, load_state_dict, save_checkpoint
from dynhead.errors import DynheadError
from dynhead.model import FCOS, ModelConfig


def _official_dynamic_keys(D=2, C=32, ncls=80):
    """A synthetic state_dict written from the official key list of spec §7.2 (not from our model)."""
    sd = {}
    for tower in ("cls_subnet", "bbox_subnet"):
        for d in range(D):
            p = f"head.{tower}.{d}."
            sd[p + "scale_weight"] = torch.zeros(1)
            sd[p + "output_weight"] = torch.ones(1)
            for s in range(2):
                q = p + f"dynamic_convs.{s}."
                sd[q + "convs.0.weight"] = torch.randn(C, 1, 3, 3)
                sd[q + "convs.0.bias"] = torch.randn(C)
                sd[q + "convs.1.weight"] = torch.ones(C)
                sd[q + "convs.1.bias"] = torch.zeros(C)
                sd[q + "gate.gate_conv.weight"] = torch.randn(1, C, 3, 3)
                sd[q + "gate.gate_conv.bias"] = torch.full((1,), 3.822)
            for c in ("conv1", "conv2"):
                q = p + f"depth_module.bottleneck.{c}."
                sd[q + "weight"] = torch.randn(C, C, 3, 3)
                sd[q + "norm.weight"] = torch.ones(C)
                sd[q + "norm.bias"] = torch.zeros(C)
            sd[p + "depth_module.gate.gate_conv.weight"] = torch.randn(1, C, 3, 3)
            sd[p + "depth_module.gate.gate_conv.bias"] = torch.full((1,), 3.822)
    for name, k in (("cls_score", ncls), ("bbox_pred", 4), ("centerness", 1)):
        sd[f"head.{name}.weight"] = torch.randn(k, C, 3, 3)
        sd[f"head.{name}.bias"] = torch.randn(k)
    for l in range(5):
        sd[f"head.scales.{l}.scale"] = torch.ones(1)
    return sd


def _official_backbone_keys(model):
    # detectron2 names: take our backbone's names but check their official form first
    sd = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("backbone.")}
    for k in ("backbone.bottom_up.stem.conv1.weight", "backbone.bottom_up.stem.conv1.norm.running_mean",
              "backbone.bottom_up.res2.0.conv3.weight", "backbone.bottom_up.res3.0.shortcut.weight",
              "backbone.fpn_lateral3.weight", "backbone.fpn_output5.bias", "backbone.top_block.p6.weight",
              "backbone.top_block.p7.bias"):
        assert k in sd, k
    return sd


def test_official_head_keys_load_and_infer(tmp_path):
    sd = _official_dynamic_keys(D=2, C=32)
    cfg = infer_config(sd)
    assert cfg["head"] == "dynamic" and cfg["depth"] == 2 and cfg["channels"] == 32 and cfg["num_classes"] == 80
    m = FCOS(ModelConfig(backbone_depth=50, backbone_width=16, channels=32, head="dynamic", depth=2))
    assert m.backbone.top_block.p6.weight.shape[1] == 16 * 4 * 8
    full = {**_official_backbone_keys(m), **sd}
    res = load_state_dict(m, full)
    assert not any(res.values())
    assert torch.equal(m.head.cls_subnet[1].depth_module.bottleneck.conv2.weight,
                       sd["head.cls_subnet.1.depth_module.bottleneck.conv2.weight"])
    # cvpods layout: weights under "model", plus other entries; no config -> inferred
    path = tmp_path / "official.pth"
    torch.save({"model": full, "iteration": 90000}, path)
    m2 = load_model(path, backbone_width=16)
    assert m2.cfg.head == "dynamic" and m2.cfg.backbone_norm == "FrozenBN"


def test_missing_unexpected_and_shape_errors_are_listed():
    sd = _official_dynamic_keys(D=2, C=32)
    m = FCOS(ModelConfig(backbone_depth=18, backbone_width=16, channels=32, head="dynamic", depth=2))
    full = {**{k: v for k, v in m.state_dict().items() if k.startswith("backbone.")}, **sd}
    bad = dict(full)
    del bad["head.cls_subnet.0.depth_module.gate.gate_conv.bias"]
    bad["head.extra.weight"] = torch.zeros(1)
    bad["head.cls_score.weight"] = torch.zeros(81, 32, 3, 3)
    with pytest.raises(DynheadError) as e:
        load_state_dict(m, bad, source="x.pth")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("x.pth")
    assert "missing key(s): head.cls_subnet.0.depth_module.gate.gate_conv.bias" in msg
    assert "unexpected key(s): head.extra.weight" in msg
    assert "head.cls_score.weight (81, 32, 3, 3) vs model (80, 32, 3, 3)" in msg


def test_fix_and_fcos_key_inference():
    m = FCOS(ModelConfig(backbone_depth=18, backbone_width=16, channels=32, head="fix", depth=3))
    cfg = infer_config(m.state_dict())
    assert (cfg["head"], cfg["depth"], cfg["backbone_depth"]) == ("fix", 3, 18)
    m = FCOS(ModelConfig(backbone_depth=18, backbone_width=16, channels=32, head="fcos", depth=2))
    sd = m.state_dict()
    assert "head.cls_subnet.9.weight" in sd and "head.cls_subnet.10.bias" in sd  # spec §7.2 plain head
    assert infer_config(sd)["head"] == "fcos" and infer_config(sd)["depth"] == 2


def test_roundtrip_and_wrong_shape_file(tmp_path):
    m = FCOS(ModelConfig(backbone_depth=18, backbone_width=16, backbone_norm="GN", channels=32, head="dynamic",
                         depth=2, num_classes=3, gn_groups=8))
    p = save_checkpoint(m, tmp_path / "a.pt")
    m2 = load_model(p)
    for (k, a), b in zip(m.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    obj = torch.load(p, weights_only=True)
    obj["config"]["channels"] = 64
    obj["config"]["head"] = "dynamic"
    torch.save(obj, tmp_path / "b.pt")
    with pytest.raises(DynheadError, match="shape mismatch"):
        load_model(tmp_path / "b.pt")
    (tmp_path / "c.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DynheadError, match="cannot read checkpoint"):
        load_model(tmp_path / "c.pt")
