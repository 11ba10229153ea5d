import pytest
import torch
import torch.nn.functional as F

from dynhead.gates import dilate3x3
from dynhead.masked_conv import masked_conv2d, masked_depth_branch
from dynhead.model import build_head, random_features


def _head_all_open(h):
    for m in h.modules():
        if hasattr(m, "gate_conv"):
            with torch.no_grad():
                m.gate_conv.weight.zero_()
                m.gate_conv.bias.fill_(10.0)  # gate = 1 - 1e-9ish > 0 everywhere


def _check_masked_conv(device):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 8, 9, 11, generator=g).to(device)
    w = torch.randn(5, 8, 3, 3, generator=g).to(device)
    b = torch.randn(5, generator=g).to(device)
    m = (torch.rand(3, 9, 11, generator=g) < 0.4).to(device)
    out = masked_conv2d(x, w, m, b)
    ref = F.conv2d(x.double(), w.double(), b.double(), padding=1)
    assert torch.allclose(out.double()[m[:, None].expand_as(out)], ref[m[:, None].expand_as(ref)], rtol=1e-5,
                          atol=1e-5)
    assert (out[~m[:, None].expand_as(out)] == 0).all()


def test_masked_conv_matches_conv_at_active_pixels_batch3():
    _check_masked_conv("cpu")


def test_masked_conv_chunking_and_empty_mask():
    x = torch.randn(2, 4, 6, 7)
    w = torch.randn(3, 4, 3, 3)
    m = torch.rand(2, 6, 7) < 0.5
    assert torch.allclose(masked_conv2d(x, w, m, chunk=5), masked_conv2d(x, w, m), atol=1e-6)
    assert (masked_conv2d(x, w, torch.zeros(2, 6, 7, dtype=torch.bool)) == 0).all()


@pytest.mark.parametrize("kind", ["dynamic", "fix"])
def test_all_gates_open_masked_equals_dense(kind):
    torch.manual_seed(0)
    h = build_head(kind, 2, 64, 5).eval()
    _head_all_open(h)
    f = random_features((128, 192), 64, batch=2, seed=3)
    with torch.no_grad():
        a = h(f)
        b = h(f, masked=True)
    for x, y in zip(sum(a, []), sum(b, [])):
        rel = (x - y).abs().max() / y.abs().max().clamp(min=1e-12)
        assert rel < 1e-4


def test_real_masks_active_pixels_equal_dense_gated_reference(gn_ref):
    def _gn_over(x, mask, gn):
        return torch.from_numpy(gn_ref(x.detach().numpy(), mask.numpy(), gn)).float()

    torch.manual_seed(1)
    h = build_head("dynamic", 1, 32, 3).eval()
    bn = h.cls_subnet[0].depth_module.bottleneck
    with torch.no_grad():
        for p in (bn.conv1.norm.weight, bn.conv1.norm.bias, bn.conv2.norm.weight, bn.conv2.norm.bias):
            p.normal_()
    a = torch.randn(2, 32, 12, 15)
    g = torch.relu(torch.randn(2, 1, 12, 15) - 0.5)  # ~30 % open, irregular
    m2 = g[:, 0] > 0
    m1 = dilate3x3(g)[:, 0] > 0
    assert 0 < m2.float().mean() < m1.float().mean() < 1
    with torch.no_grad():
        br, h1 = masked_depth_branch(a, bn.conv1, bn.conv2, m1, m2)
        for i in range(2):
            c1 = F.conv2d(a[i:i + 1], bn.conv1.weight, padding=1)[0]
            r1 = torch.relu(_gn_over(c1, m1[i], bn.conv1.norm)) * m1[i]
            c2 = F.conv2d(r1[None], bn.conv2.weight, padding=1)[0]
            r2 = _gn_over(c2, m2[i], bn.conv2.norm)
            assert torch.allclose(h1[i], r1, atol=1e-5)
            assert torch.allclose(br[i][:, m2[i]], r2[:, m2[i]], atol=1e-4)
            assert (br[i][:, ~m2[i]] == 0).all()


def test_masked_head_batch_independent():
    # batch N masked == N separate batch-1 masked runs (GN statistics are per image)
    torch.manual_seed(2)
    h = build_head("dynamic", 2, 32, 3).eval()
    for m in h.modules():
        if hasattr(m, "gate_conv"):
            with torch.no_grad():
                m.gate_conv.weight.normal_(0, 0.2)
                m.gate_conv.bias.fill_(0.5)
    f = random_features((128, 192), 32, batch=3, seed=5)
    with torch.no_grad():
        a = h(f, masked=True)
        hard = h.last_costs["hard"].clone()
        assert (hard < h.last_costs["full"]).all()
        for i in range(3):
            b = h([x[i:i + 1] for x in f], masked=True)
            assert float(h.last_costs["hard"][0]) == float(hard[i])
            for x, y in zip(sum(a, []), sum(b, [])):
                assert torch.allclose(x[i:i + 1], y, atol=1e-5, rtol=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_masked_equals_dense_and_cpu(monkeypatch):
    # FP32 throughout: cuDNN convs (dense) default to TF32 on Ampere and later, matmuls (masked) do
    # not, and TF32's ~3e-4 relative error alone would exceed the tolerance below
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    _check_masked_conv("cuda")
    torch.manual_seed(0)
    h = build_head("dynamic", 2, 64, 5).eval()
    _head_all_open(h)
    f = random_features((128, 192), 64, batch=2, seed=3)
    hc = h.cuda()
    with torch.no_grad():
        a = hc([x.cuda() for x in f])
        b = hc([x.cuda() for x in f], masked=True)
    for x, y in zip(sum(a, []), sum(b, [])):
        assert (x - y).abs().max() / y.abs().max() < 1e-4
