"""Seeded wide heads (dynhead.wide) and tracing gate-free heads (dynhead.trace.trace_fix_head)."""

import pytest
import torch

from dynhead.model import FCOS, HeadContext, build_head, random_features
from dynhead.trace import fix_as_dynamic, open_gates, trace_model
from dynhead.train import small_config
from dynhead.wide import canonical_name, seeded_wide_head, wide_features


def test_heads_of_other_kinds_and_depths_share_every_common_tensor():
    """A fix D6 and a dynamic D8 head at C=64 hold the same tensors for every layer they share (towers
    stage by stage, predictors); another seed gives other tensors."""
    fix = seeded_wide_head("fix", 6, 64, 4, seed=3).state_dict()
    dyn = seeded_wide_head("dynamic", 8, 64, 4, seed=3).state_dict()
    shared = 0
    for k, v in fix.items():
        ck = canonical_name(k)
        assert ck in dyn, k
        assert torch.equal(v, dyn[ck]), k
        shared += v.dim() == 4
    assert shared == 2 * 6 * 4 + 3   # per tower and stage: 2 depthwise + conv1 + conv2; 3 predictors
    other = seeded_wide_head("dynamic", 8, 64, 4, seed=4).state_dict()
    k = "bbox_subnet.5.depth_module.bottleneck.conv2.weight"
    assert not torch.equal(dyn[k], other[k])
    # He-normal tower convs (not the vanishing N(0, 0.01) of an untrained head)
    assert float(dyn[k].std()) == pytest.approx((2 / (64 * 9)) ** 0.5, rel=0.05)


def test_all_open_dynamic_head_computes_the_fix_head():
    """scale_weight = output_weight = 1 in both: with every gate open the seeded dynamic D6 head equals
    the seeded fix D6 head (so open gates, not other weights, are the only difference between rows)."""
    feats = random_features((128, 192), 64, batch=1, seed=5)
    fix = seeded_wide_head("fix", 6, 64, 4, seed=0)
    dyn = seeded_wide_head("dynamic", 6, 64, 4, seed=0)
    with torch.no_grad():
        a = fix(feats)
        b = dyn(feats, ctx=HeadContext(gate_override=open_gates(dyn, [feats])[0]))
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            assert torch.allclose(u, v, atol=1e-5)


def test_fix_as_dynamic_keeps_the_group_norm_groups():
    """A trained fix head with GroupNorm(8) (the shipped C=32 models): the all-open dynamic copy used
    for tracing computes the same outputs (a GroupNorm(32) copy would not)."""
    torch.manual_seed(0)
    fix = build_head("fix", 2, 32, 4, gn_groups=8).eval()
    with torch.no_grad():
        for p in fix.parameters():
            p.add_(0.1 * torch.randn(p.shape))
    feats = random_features((128, 128), 32, seed=1)
    dyn = fix_as_dynamic(fix)
    with torch.no_grad():
        a = fix(feats)
        b = dyn(feats, ctx=HeadContext(gate_override=open_gates(dyn, [feats])[0]))
    assert torch.allclose(a[0][0], b[0][0], atol=1e-5) and torch.allclose(a[1][2], b[1][2], atol=1e-5)


def test_trace_fix_model_has_no_gates_and_no_masks():
    torch.manual_seed(0)
    m = FCOS(small_config(head="fix", depth=2)).eval()
    imgs = [(torch.rand(128, 128, 3) * 255).to(torch.uint8).numpy()]
    for width in (None, 64):
        wl = trace_model(m, imgs, (128, 128), width=width, store_acts=False)
        assert wl.meta["head"] == "fix" and "none" in wl.meta["sources"]["masks"]
        assert not any(L.meta["op"].startswith("gate_") for L in wl.layers.values())
        assert len(wl.layers) == 2 * 2 * 5 * 4 + 15   # towers x stages x levels x (2 scale + 2 depth), predictors
        assert all(d.out_mask is None for d in wl.images[0].values())
        im = wl.image_meta[0]
        assert im["used_over_full"] == 1.0 and im["used_gflops"] == pytest.approx(im["used_gflops_from_masks"])
        assert "depth_gate_active" not in im
    # at a width: the seeded fix head's weights, on the projected features
    wide = seeded_wide_head("fix", 2, 64, 4, seed=0)
    assert (wl.layers["reg.s1.l2.conv2"].weights == wide.bbox_subnet[1].depth_module.bottleneck.conv2.weight
            .detach().numpy()).all()


def test_wide_features_one_projection_for_all():
    f = random_features((128, 128), 32, seed=0)
    a, b = wide_features(f, 96, seed=2), wide_features(f, 96, seed=2)
    assert all(torch.equal(x, y) and x.shape[1] == 96 for x, y in zip(a, b))
    assert not torch.equal(a[0], wide_features(f, 96, seed=3)[0])
