import os

import numpy as np
import pytest
import torch

from dynhead.cost import GIGA, hard_macs_from_workload
from dynhead.data import make_image
from dynhead.errors import DynheadError
from dynhead.model import FCOS, build_head, random_features
from dynhead.trace import magnitude_prune_, trace_head_only, trace_model
from dynhead.train import small_config
from workloads import Workload
from workloads.effectual import conv_reference


def _model(seed=0):
    torch.manual_seed(seed)
    m = FCOS(small_config(depth=2))
    # make the gates genuinely sparse (an untrained gate is ~0.99 everywhere)
    for mod in m.modules():
        if hasattr(mod, "gate_conv"):
            with torch.no_grad():
                mod.gate_conv.weight.normal_(0, 0.05)
                mod.gate_conv.bias.fill_(0.3)
    return m.eval()


def _images(n=2):
    return [make_image("val", 1, i, (128, 128))[0] for i in range(n)]


def test_trace_roundtrip_names_masks_and_consistency(tmp_path, gn_ref):
    m = _model()
    wl = trace_model(m, _images(2), (128, 128), names=["a.png", "b.png"])
    p = tmp_path / "t.npz"
    wl.save(p)
    wl2 = Workload.load(p)
    assert wl2.content_hash == wl.content_hash and wl2.n_images == 2
    D, L = 2, 5
    assert len(wl2.layers) == 2 * D * L * 7 + L * 3
    L0 = wl2.layers["cls.s1.l0.conv1"]
    assert L0.meta == {"tower": "cls", "stage": 1, "level": 0, "op": "conv1", "cost_channels": 32, "used": True}
    assert wl2.layers["reg.s0.l0.scale1"].meta["used"] is False  # feeds level -1: runs, counted, unused
    assert wl2.layers["reg.s0.l0.scale1"].kind == "depthwise" and wl2.layers["reg.s0.l0.scale1"].groups == 32
    assert "pred.l4.ctr" in wl2.layers
    for i in range(2):
        im = wl2.image_meta[i]
        # used GFLOPs from the model's tally == recomputed from the stored masks
        assert im["used_gflops"] == pytest.approx(im["used_gflops_from_masks"], rel=0, abs=1e-12)
        assert hard_macs_from_workload(wl2, i) / GIGA == pytest.approx(im["used_gflops"], abs=1e-12)
        assert 0 < im["depth_gate_active"] < im["dilated_active"] <= 1
    # conv2 input = ReLU(GN over the dilated mask of conv1(a)), computed here from the stored data
    inst1 = wl2.instance("cls.s0.l0.conv1", 1)
    inst2 = wl2.instance("cls.s0.l0.conv2", 1)
    c1 = conv_reference(inst1.acts_dense(), inst1.weights_dense(), padding=1)
    m1 = inst1.out_mask_or_ones()
    gn = m.head.cls_subnet[0].depth_module.bottleneck.conv1.norm
    ref = np.maximum(gn_ref(c1, m1, gn), 0) * m1
    assert np.allclose(inst2.acts_dense(), ref, atol=2e-4)
    # conv2's out mask is inside conv1's (dilated) mask
    assert not (inst2.out_mask_or_ones() & ~m1).any()
    # graph: conv2 depends on conv1; stage-1 conv1 depends on stage-0 outputs
    assert ("cls.s0.l0.conv1", "cls.s0.l0.conv2") in wl2.graph.edges
    assert "cls.s0.l0.conv2" in set(wl2.graph.predecessors("cls.s1.l0.conv1"))


def test_trace_wide_head_masks_from_narrow_and_prune():
    m = _model(1)
    imgs = _images(1)
    narrow = trace_model(m, imgs, (128, 128), store_acts=False)
    wide = trace_model(m, imgs, (128, 128), width=64, prune=0.25, store_acts=False, store_weights=True)
    for n, L in wide.layers.items():
        if L.meta["op"] in ("conv1", "conv2", "scale0", "scale1"):
            assert np.array_equal(wide.images[0][n].out_mask, narrow.images[0][n].out_mask), n
        if L.meta["op"] in ("conv1", "conv2"):
            assert L.C == 64 and L.weight_density == pytest.approx(0.25, abs=1e-3)
    r = narrow.image_meta[0]["used_gflops"] / wide.image_meta[0]["used_gflops"]
    assert r == pytest.approx(narrow.image_meta[0]["used_over_full"] / wide.image_meta[0]["used_over_full"]
                              * narrow.image_meta[0]["full_gflops"] / wide.image_meta[0]["full_gflops"])
    assert wide.image_meta[0]["used_gflops"] == pytest.approx(wide.image_meta[0]["used_gflops_from_masks"])
    assert "masks" in wide.meta["sources"] and wide.meta["pruning"]["target_density"] == 0.25


def test_magnitude_prune_exact_density():
    h = build_head("dynamic", 1, 32, 3)
    d = magnitude_prune_(h, 0.1)
    assert d["cls_subnet.0.depth_module.bottleneck.conv1.weight"] == pytest.approx(0.1, abs=1e-3)
    assert float((h.cls_subnet[0].depth_module.gate.gate_conv.weight != 0).float().mean()) == 1.0
    with pytest.raises(DynheadError):
        magnitude_prune_(h, 0.0)


FULL = os.environ.get("ACCELSIM_FULL") == "1"


@pytest.mark.slow
@pytest.mark.parametrize("C,D,size", [(256, 6, (800, 1333))] if FULL else [(64, 6, (256, 416))])
def test_full_size_head_trace_used_gflops_equal_cost_tally(tmp_path, C, D, size):
    """Acceptance: C=256 D6 at 800x1333 (ACCELSIM_FULL=1); reduced by default."""
    torch.manual_seed(0)
    head = build_head("dynamic", D, C, 80).eval()
    g = torch.Generator().manual_seed(1)
    for mod in head.modules():
        if hasattr(mod, "gate_conv"):
            with torch.no_grad():
                mod.gate_conv.weight.copy_(torch.randn(mod.gate_conv.weight.shape, generator=g) * 0.02)
                mod.gate_conv.bias.fill_(0.2)
    feats = random_features(size, C, batch=1, seed=2)
    wl = trace_head_only(head, [feats], ["img0"], store_acts=False, store_weights=False)
    p = tmp_path / "full.npz"
    wl.save(p)
    wl2 = Workload.load(p)
    used = wl2.image_meta[0]["used_gflops"]
    assert used == hard_macs_from_workload(wl2, 0) / GIGA
    with torch.no_grad():
        head(feats, masked=True)
    assert float(head.last_costs["hard"][0]) / GIGA == used
    assert 0 < used < wl2.image_meta[0]["full_gflops"]


def test_trace_rejects_plain_fcos_and_empty():
    m = FCOS(small_config(head="fcos", depth=1))
    with pytest.raises(DynheadError, match="dynamic or fix"):
        trace_model(m, _images(1), (128, 128))
    with pytest.raises(DynheadError, match="no images"):
        trace_model(_model(), [], (128, 128))


def test_generic_torch_importer_agrees_with_the_dedicated_trace():
    """Two independent paths to the same head: the generic PyTorch importer (which knows nothing of
    dynhead) and dynhead.trace find the same head convolutions (2 towers x D stages x 5 levels x 7 convs,
    plus 15 predictors) with the same shapes and MACs."""
    from collections import Counter

    import dynhead
    from dynhead.trace import trace_model
    from workloads.torch_import import import_torch, make_inputs, resolve_model
    m = resolve_model("fcos-dynamic-large")
    wl, _ = import_torch(m, make_inputs("fcos-dynamic-large", m, (3, 160, 160), 1), "fcos")
    head = [L for L in wl.layers.values() if L.meta["module"].startswith("head.")]
    tr = trace_model(m, dynhead.sample_images()[:1], size=(160, 160), masked=False)
    sig = lambda Ls: Counter((L.kind, L.C, L.K, L.H, L.W, L.R, L.stride, L.padding) for L in Ls)  # noqa: E731
    assert len(head) == len(tr.layers) == 2 * m.cfg.depth * 5 * 7 + 15
    assert sig(head) == sig(tr.layers.values())
    assert sum(L.macs_dense for L in head) == sum(L.macs_dense for L in tr.layers.values())
