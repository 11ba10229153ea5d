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


def _gate_modules(h):
    from dynhead.gates import SpatialGate
    return [m for m in h.modules() if isinstance(m, SpatialGate)]


def test_gate_override_runs_the_gate_convs_then_uses_the_given_decision():
    """A head driven by given gates (compare at --width, benchmarks) still runs every gate conv: the
    override replaces the gate's output, not its work.  ``run_gates=False`` skips them; an override of
    the wrong shape is refused."""
    from collections import Counter

    from dynhead.errors import DynheadError
    from dynhead.model import HeadContext, random_gate_override
    torch.manual_seed(0)
    h = build_head("dynamic", 2, 32, 3).eval()
    f = random_features((128, 192), 32, batch=2, seed=1)
    gates = random_gate_override(h, f, 0.4, seed=2)
    seen = Counter()
    hooks = [m.register_forward_hook(lambda mod, i, o: seen.update([mod])) for m in _gate_modules(h)]
    with torch.no_grad():
        for masked in (False, True):
            ctx = HeadContext(masked=masked, gate_override=gates)
            h(f, masked=masked, ctx=ctx)
            assert all(ctx.gates[k] is gates[k] or torch.equal(ctx.gates[k], gates[k]) for k in gates)
            assert seen == {m: len(f) for m in _gate_modules(h)}  # every gate, once per level
            seen.clear()
        h(f, ctx=HeadContext(gate_override=gates, run_gates=False))
        assert not seen
        bad = {k: v[:1] for k, v in gates.items()}  # batch 1 gates for a batch 2 input
        with pytest.raises(DynheadError, match="gate override .* has shape"):
            h(f, ctx=HeadContext(gate_override=bad))
    for hk in hooks:
        hk.remove()


@pytest.mark.parametrize("kind", ["dynamic", "fix"])
@pytest.mark.parametrize("masked", [False, True])
def test_probe_names_exactly_the_traced_convs(kind, masked):
    """dynhead.probe sees every conv a forward runs (torch hooks; the masked depth convs, which call no
    module, through register_masked_conv_hook) under the trace's layer names, each once."""
    from dynhead.masked_conv import register_masked_conv_hook
    from dynhead.model import HeadContext, random_gate_override
    from dynhead.probe import conv_list_mismatch, executed_convs
    from dynhead.trace import layer_keys, layer_name
    torch.manual_seed(0)
    h = build_head(kind, 2, 32, 3).eval()
    f = random_features((128, 192), 32, batch=2, seed=1)
    g = random_gate_override(h, f, 0.4, seed=2) if kind == "dynamic" else None
    want = [layer_name(*k) for k in layer_keys(2, len(f), gated=kind == "dynamic")]
    with torch.no_grad():
        ran = executed_convs(h, lambda: h(f, masked=masked, ctx=HeadContext(masked=masked, gate_override=g)),
                             [x.shape[-2:] for x in f])
    assert sorted(ran) == sorted(want) and conv_list_mismatch(ran, want) is None
    # the masked depth convs are seen only through the masked-conv hook (torch hooks never fire there)
    seen = []
    handle = register_masked_conv_hook(lambda conv, x, mask: seen.append(conv))
    with torch.no_grad():
        h(f, masked=masked, ctx=HeadContext(masked=masked, gate_override=g))
    handle.remove()
    assert len(seen) == (2 * 2 * 2 * len(f) if masked and kind == "dynamic" else 0)
    # a mismatch is named: what did not run, what was not expected, what ran twice
    why = conv_list_mismatch(ran[1:] + ["pred.l0.cls", "x.s0.l0.conv1"], want)
    assert f"1 not run ({ran[0]})" in why and "1 not expected (x.s0.l0.conv1)" in why
    assert "1 run more than once (pred.l0.cls)" in why
    with torch.no_grad():  # features of another size at one level are reported with their size
        ran = executed_convs(h, lambda: h(f, masked=masked, ctx=HeadContext(masked=masked, gate_override=g)),
                             [(1, 1)] + [x.shape[-2:] for x in f[1:]])
    assert any(n.endswith("@16x24") for n in ran)
