import math

import pytest
import torch

from dynhead.errors import DynheadError
from dynhead.gates import GeReTanH, SpatialGate, gate_bias_init, geretanh, retanh
from dynhead.model import FCOS, ModelConfig, build_head, random_features, scale_offsets


def test_geretanh_values_and_properties():
    v = torch.tensor([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0])
    ref = [0.0, 0.0, 0.075, 0.233, 0.718, 0.950, 0.993]  # spec §2.2 sample values
    for a, b in zip(geretanh(v).tolist(), ref):
        assert a == pytest.approx(b, abs=6e-4)
    # slope at 0+ = 1 - tanh(tau)
    eps = 1e-5
    assert float(geretanh(torch.tensor(eps, dtype=torch.float64))) / eps == pytest.approx(1 - math.tanh(1.5), rel=1e-3)
    # tau -> 0 recovers ReTanH
    assert torch.allclose(GeReTanH(1e-9)(v), retanh(v), atol=1e-6)


def test_gate_bias_init_opens_at_099():
    assert gate_bias_init("geretanh") == pytest.approx(3.822, abs=1e-3)
    assert gate_bias_init("retanh") == pytest.approx(2.647, abs=1e-3)
    g = SpatialGate(16)
    x = torch.zeros(1, 16, 5, 5)
    assert torch.allclose(g(x), torch.full((1, 1, 5, 5), 0.99), atol=1e-5)
    with pytest.raises(DynheadError):
        gate_bias_init("relu")


def test_scale_offsets_k2():
    assert scale_offsets(2) == [-1, 1]


@pytest.mark.parametrize("kind", ["fcos", "fix", "dynamic"])
def test_heads_share_interface(kind):
    torch.manual_seed(0)
    h = build_head(kind, 2, 32, num_classes=3).eval()
    f = random_features((96, 160), 32, batch=2)
    logits, box, ctr = h(f)
    assert [t.shape for t in logits] == [(2, 3, *x.shape[-2:]) for x in f]
    assert all(b.shape[1] == 4 and (b >= 0).all() for b in box)
    assert all(c.shape[1] == 1 for c in ctr)
    c = h.last_costs
    assert c["hard"].shape == (2,) and (c["hard"] <= c["full"]).all()


def test_dynamic_init_is_pure_depth_stack():
    # w_scale = 0, w_out = 1: a dynamic stage at init equals a residual depth block of the input
    torch.manual_seed(1)
    h = build_head("dynamic", 1, 32, 3).eval()
    st = h.cls_subnet[0]
    assert st.scale_weight.item() == 0.0 and st.output_weight.item() == 1.0
    f = random_features((128, 192), 32)
    from dynhead.model import HeadContext
    out = st(f, HeadContext(), "cls", 0)
    bn = st.depth_module.bottleneck
    for x, z in zip(f, out):
        g = st.depth_module.gate(x)
        ref = torch.relu(x + g * bn.conv2(torch.relu(bn.conv1(x))))
        assert torch.allclose(z, ref, atol=1e-6)


def test_scale_path_uses_size_based_bilinear_align_corners():
    # odd sizes (13x21 -> 7x11): the resize must be size-based
    torch.manual_seed(2)
    h = build_head("fix", 1, 32, 3).eval()
    st = h.cls_subnet[0]
    with torch.no_grad():
        st.output_weight.zero_()  # a = sum of resized scale paths only
    f = [torch.randn(1, 32, s, t) for s, t in [(25, 42), (13, 21), (7, 11), (4, 6), (2, 3)]]
    # capture a via the conv1 recorder
    seen = {}
    from dynhead.model import HeadContext
    ctx = HeadContext(recorder=lambda tw, d, l, op, inp, m: seen.__setitem__((l, op), inp))
    st(f, ctx, "cls", 0)
    import torch.nn.functional as F
    l = 2
    ref = (F.interpolate(st.convs[0](f[1]), size=(7, 11), mode="bilinear", align_corners=True)
           + F.interpolate(st.convs[1](f[3]), size=(7, 11), mode="bilinear", align_corners=True))
    assert torch.allclose(seen[(l, "conv1")], ref, atol=1e-6)


def test_full_model_r18_forward_pads_to_32():
    torch.manual_seed(0)
    m = FCOS(ModelConfig(backbone_depth=18, backbone_width=16, backbone_norm="GN", channels=32, head="dynamic",
                         depth=2, num_classes=3, gn_groups=8)).eval()
    x, (H, W) = m.preprocess(torch.rand(1, 3, 100, 130) * 255)
    assert x.shape[-2:] == (128, 160) and (H, W) == (100, 130)
    logits, _, _ = m(x)
    assert [t.shape[-2:] for t in logits] == [(16, 20), (8, 10), (4, 5), (2, 3), (1, 2)]


def test_build_head_rejects_bad_args():
    with pytest.raises(DynheadError):
        build_head("dyn", 2, 32, 3)
    with pytest.raises(DynheadError):
        build_head("dynamic", 2, 30, 3)


def test_untallied_forward_gives_the_same_outputs_and_no_costs():
    """Timed forwards skip the FLOP accounting (HeadContext(tally=False)); the outputs do not change."""
    from dynhead.model import HeadContext, build_head, random_features
    torch.manual_seed(0)
    h = build_head("dynamic", 2, 32, 5).eval()
    f = random_features((128, 192), 32, batch=1, seed=1)
    with torch.no_grad():
        a = h(f, masked=True)
        assert h.last_costs is not None
        b = h(f, masked=True, ctx=HeadContext(masked=True, tally=False))
    assert h.last_costs is None
    for x, y in zip(sum(a, []), sum(b, [])):
        assert torch.equal(x, y)
