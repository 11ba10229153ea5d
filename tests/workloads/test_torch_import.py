"""PyTorch importer: layers, real data and dependencies of any nn.Module, and the unsupported-op report."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from accelsim.cli import main  # noqa: E402
from workloads import Workload, WorkloadError  # noqa: E402
from workloads.effectual import conv_reference  # noqa: E402
from workloads.torch_import import import_torch, make_inputs, resolve_model  # noqa: E402
from workloads.zoo import resolve  # noqa: E402


def _flop_macs(model, x):
    """MACs counted by torch's own flop counter (2 FLOPs per MAC): an independent tally."""
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(x)
    return fc.get_total_flops() // 2


class Toy(nn.Module):
    """Every mapping case in one net: conv, depthwise, grouped, strided, a reused module,
    functional calls, a residual add, a concat, linear on tokens and on a vector."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.grp = nn.Conv2d(8, 8, 1, groups=2)
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.shared = nn.Conv2d(16, 16, 1)
        self.w_extra = nn.Parameter(torch.randn(4, 32, 1, 1))
        self.tok = nn.Linear(4, 6)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        a = F.relu(self.c1(x))
        b = F.relu(self.dw(a)) + a                       # residual: depends on c1 and dw
        g = self.grp(b)
        d = F.relu(self.down(g))
        s1 = self.shared(d)
        s2 = self.shared(F.relu(s1))                     # the same module again -> "#2"
        cat = torch.cat([s1, s2], 1)                     # depends on both calls
        e = F.conv2d(cat, self.w_extra)                  # functional call inside forward
        t = e.flatten(2).transpose(1, 2)                 # (1, T, 4) tokens
        return self.fc(F.relu(self.tok(t)).mean(1))


@pytest.fixture(scope="module")
def toy():
    torch.manual_seed(0)
    m = Toy().eval()
    xs = torch.randn(2, 3, 10, 10, generator=torch.Generator().manual_seed(1))
    wl, rep = import_torch(m, xs, "toy")
    return m, xs, wl, rep


def test_layers_kinds_names_and_dependencies(toy):
    m, xs, wl, rep = toy
    L = wl.layers
    assert wl.layer_names() == ["c1", "dw", "grp", "down", "shared", "shared#2", "Toy", "tok", "fc"]
    assert (L["dw"].kind, L["dw"].groups) == ("depthwise", 8)
    assert (L["grp"].kind, L["grp"].groups) == ("conv", 2)
    assert (L["down"].stride, L["down"].padding, L["down"].P) == (2, 1, 5)
    assert (L["tok"].kind, L["tok"].H, L["tok"].W, L["tok"].meta["tokens"]) == ("conv", 25, 1, 25)
    assert L["fc"].kind == "fc" and L["fc"].K == 5
    preds = {n: sorted(wl.graph.predecessors(n)) for n in wl.layers}
    assert preds["dw"] == ["c1"]
    assert preds["grp"] == ["c1", "dw"]                 # through the residual add
    assert preds["shared#2"] == ["shared"]
    assert preds["Toy"] == ["shared", "shared#2"]      # through the concatenation
    assert preds["fc"] == ["tok"]
    assert wl.n_images == 2 and rep.layers == 9


def test_imported_data_reproduce_each_layer_output(toy):
    """The stored activations and weights are the ones the model used: conv_reference on them
    (float64) equals the torch layer output for every conv layer and image."""
    m, xs, wl, _ = toy
    outs = {}
    hooks = [mod.register_forward_hook(lambda mod, a, o, n=n: outs.setdefault(n, []).append(o[0].double()))
             for n, mod in m.named_modules() if n in ("c1", "dw", "grp", "down")]
    with torch.no_grad():
        for i in range(2):
            m(xs[i:i + 1])
    for h in hooks:
        h.remove()
    for n in ("c1", "dw", "grp", "down"):
        for i in range(2):
            inst = wl.instance(n, i)
            L = inst.layer
            y = conv_reference(inst.acts_dense(), inst.weights_dense(), L.stride, L.padding, L.dilation, L.groups,
                               bias=None if L.bias is None else L.bias.astype(np.float64))
            ref = outs[n][i].numpy()
            assert np.allclose(y, ref, rtol=1e-5, atol=1e-5), n


def test_macs_match_torch_flop_counter(toy):
    m, xs, wl, rep = toy
    assert rep.macs_imported == sum(L.macs_dense for L in wl.layers.values()) == _flop_macs(m, xs[:1])
    assert rep.mac_coverage == 1.0 and not rep.unsupported


def test_resnet18_matches_the_hand_written_zoo_network():
    """Same 21 layer shapes in the same order, same MACs (1.814 GMACs) and the same residual edges as
    workloads.networks.resnet18, which was written by hand from the paper."""
    m = resolve_model("resnet18")
    wl, rep = import_torch(m, make_inputs("resnet18", m, (3, 224, 224), 1), "r18")
    z = resolve("resnet18")
    zn, tn = z.layer_names(), wl.layer_names()
    assert len(zn) == len(tn) == 21
    key = ("kind", "C", "K", "H", "W", "R", "S", "stride", "padding", "groups")
    for a, b in zip(zn, tn):
        assert tuple(getattr(z.layers[a], k) for k in key) == tuple(getattr(wl.layers[b], k) for k in key), (a, b)
    ren = dict(zip(tn, zn))
    assert {(ren[u], ren[v]) for u, v in wl.graph.edges} == set(z.graph.edges)
    assert rep.macs_imported == sum(L.macs_dense for L in z.layers.values()) == 1_814_073_344


def test_unsupported_ops_are_reported_with_their_macs():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3, padding=1)
            self.up = nn.ConvTranspose2d(4, 4, 2, stride=2)
            self.rect = nn.Conv2d(4, 4, 3, stride=(1, 2), padding=1)
            self.att = nn.MultiheadAttention(4, 2, batch_first=True)

        def forward(self, x):
            y = self.up(F.relu(self.c(x)))
            z = self.rect(y)
            t = z.flatten(2).transpose(1, 2)
            t = self.att(t, t, t)[0]
            return t @ t.transpose(1, 2)

    torch.manual_seed(0)
    m = Odd().eval()
    x = torch.randn(1, 3, 6, 6)
    wl, rep = import_torch(m, x, "odd")
    assert list(wl.layers) == ["c"]
    u = rep.unsupported
    assert set(u) == {"conv_transpose2d", "conv2d", "multi_head_attention_forward", "matmul"}
    assert "differs between the two axes" in u["conv2d"]["reason"] and u["conv2d"]["where"] == "rect"
    assert u["conv_transpose2d"]["macs"] == 4 * 6 * 6 * 4 * 2 * 2
    assert u["matmul"]["macs"] == 72 * 72 * 4
    # by hand: L = S = 72 tokens, E = 4: q, k, v, out projections + scores + weighted sum
    assert u["multi_head_attention_forward"]["macs"] == 2 * 72 * 16 + 2 * 72 * 16 + 2 * 72 * 72 * 4
    # every other MAC torch's counter sees (it skips attention) is either imported or reported
    assert rep.macs_imported + rep.macs_unsupported - u["multi_head_attention_forward"]["macs"] == _flop_macs(m, x)
    assert 0 < rep.mac_coverage < 1
    assert any(line.startswith("not imported: conv_transpose2d x1") for line in rep.lines())
    assert wl.meta["torch_import"]["macs_unsupported"] == rep.macs_unsupported


def test_fcos_detector_with_the_dynamic_head_on_real_images(tmp_path):
    """A detection model end to end: the shipped FCOS (ResNet-18 + FPN + dynamic head) on the
    shipped images; every conv MAC is imported, the graph is a DAG, and the file round-trips."""
    m = resolve_model("fcos-dynamic-large")
    xs = make_inputs("fcos-dynamic-large", m, (3, 160, 160), 2)
    wl, rep = import_torch(m, xs, "fcos")
    assert rep.macs_imported == _flop_macs(m, xs[0]) and rep.mac_coverage == 1.0
    mods = {L.meta["module"].split(".")[0] for L in wl.layers.values()}
    assert mods == {"backbone", "head"}
    assert any("#2" in n for n in wl.layers)              # the head runs once per FPN level
    import networkx as nx
    assert nx.is_directed_acyclic_graph(wl.graph)
    dens = [wl.instance(n, i).act_density for n in wl.layers for i in range(2)]
    assert 0 < min(dens) and max(dens) <= 1 and min(dens) < 0.9   # real ReLU sparsity somewhere
    p = tmp_path / "fcos.npz"
    wl.save(p)
    assert Workload.load(p).content_hash == wl.content_hash


def test_same_seed_same_workload():
    hs = []
    for _ in range(2):
        m = resolve_model("resnet18", seed=3)
        wl, _ = import_torch(m, make_inputs("resnet18", m, (3, 64, 64), 1, seed=3), "r")
        hs.append(wl.content_hash)
    assert hs[0] == hs[1]


def test_different_structure_per_image_is_an_error():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 1)

        def forward(self, x):
            return self.a(x) if x.sum() > 0 else self.b(x)

    with pytest.raises(WorkloadError, match="image 1 runs a different layer sequence"):
        import_torch(Branchy(), [torch.ones(1, 1, 2, 2), -torch.ones(1, 1, 2, 2)])


def test_cli_import_then_simulate(tmp_path, capsys):
    out = tmp_path / "r18.npz"
    assert main(["workload", "import-torch", "resnet18", "--input", "3x64x64", "--images", "2",
                 "--out", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["layers"] == 21 and rep["mac_coverage"] == 1.0 and out.is_file()
    assert main(["simulate", "--workload", str(out), "--arch", "eyeriss-v2", "--layers", "backbone.res5.0.conv1",
                 "--json"]) == 0
    sim = json.loads(capsys.readouterr().out)
    assert sim["total"]["cycles"] > 0


@pytest.mark.parametrize("argv,needle", [
    (["nosuch"], "field 'MODEL'"),
    (["os:path"], "not a torch.nn.Module"),
    (["nosuchmod_xyz:f"], "cannot import module"),
    (["torch.nn:Conv2d"], "Conv2d() failed"),
    (["resnet18", "--input", "3xa"], "field '--input'"),
    (["resnet18", "--checkpoint", "missing.pt"], "checkpoint not found"),
    (["resnet18", "--input", "1x64x64"], "failed on inputs of shape"),
])
def test_cli_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, argv, needle):
    out = tmp_path / "x.npz"
    assert main(["workload", "import-torch", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_cli_checkpoint_that_does_not_fit(tmp_path, capsys):
    ck = tmp_path / "w.pt"
    torch.save({"state_dict": {"fc.weight": torch.zeros(3, 3)}}, ck)
    assert main(["workload", "import-torch", "resnet18", "--checkpoint", str(ck), "--out",
                 str(tmp_path / "x.npz")]) == 2
    assert "does not match the model" in capsys.readouterr().err


def _layer_outputs(wl):
    """conv_reference of every imported layer and image on the stored data, as torch lays it out."""
    out = {}
    for n, L in wl.layers.items():
        for i in range(wl.n_images):
            inst = wl.instance(n, i)
            y = conv_reference(inst.acts_dense(), inst.weights_dense(), L.stride, L.padding, L.dilation, L.groups,
                               bias=None if L.bias is None else L.bias.astype(np.float64))
            out[n, i] = y.reshape(L.K, -1).T if L.meta.get("tokens") else y
    return out


def test_writes_in_place_and_into_views_carry_dependencies():
    """``buf[:, :4] = conv(x)`` returns nothing and ``buf[:, 4:].add_(...)`` writes through a view:
    the layer reading ``buf`` still depends on both writers."""
    class Fill(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 1), nn.Conv2d(8, 2, 1)

        def forward(self, x):
            buf = torch.zeros(1, 8, *x.shape[2:])
            buf[:, :4] = self.a(x)
            buf[:, 4:].add_(self.b(x))
            return self.c(buf)

    wl, _ = import_torch(Fill(), torch.randn(1, 3, 5, 5))
    assert sorted(wl.graph.predecessors("c")) == ["a", "b"]


def test_linear_on_a_flat_vector_and_on_seq_first_tokens():
    """Every leading axis of a linear's input belongs to the one image being run: a flattened
    ``(C,)`` vector is an fc layer and a seq-first ``(T, 1, C)`` input is T tokens -- neither is a
    'batch'.  MACs match torch's counter and the stored data reproduce each output."""
    class SeqFirst(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 8, 1)
            self.mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8))
            self.fc = nn.Linear(9 * 8, 5)

        def forward(self, x):
            t = self.mlp(self.c(x).flatten(2).permute(2, 0, 1))   # (T, 1, C), as nn.Transformer* lays it out
            return self.fc(t.flatten())

    torch.manual_seed(0)
    m = SeqFirst().eval()
    x = torch.randn(1, 3, 3, 3)
    outs = {}
    hooks = [mod.register_forward_hook(lambda mod, a, o, n=n: outs.update({n: o.double()}))
             for n, mod in m.named_modules() if n in ("mlp.0", "fc")]
    wl, rep = import_torch(m, x)
    for h in hooks:
        h.remove()
    assert not rep.unsupported and rep.macs_imported == _flop_macs(m, x)
    assert (wl.layers["mlp.0"].kind, wl.layers["mlp.0"].meta["tokens"]) == ("conv", 9)
    assert wl.layers["fc"].kind == "fc"
    ref = _layer_outputs(wl)
    assert np.allclose(ref["mlp.0", 0], outs["mlp.0"].reshape(9, 16).numpy(), atol=1e-5)
    assert np.allclose(ref["fc", 0].ravel(), outs["fc"].numpy(), atol=1e-5)


def test_unbatched_conv_numpy_scalar_arguments_and_empty_inputs():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(4, 1, 3, 3))

        def forward(self, x):  # an unbatched (C, H, W) image, numpy stride and padding
            return F.conv2d(x[0], self.w, stride=np.int64(2), padding=np.int64(1))

    wl, rep = import_torch(Odd(), torch.randn(1, 1, 7, 7))
    L = wl.layers["Odd"]
    assert (L.C, L.H, L.stride, L.padding, L.P) == (1, 7, 2, 1, 4) and not rep.unsupported
    with pytest.raises(WorkloadError, match="field 'inputs'"):
        import_torch(Odd(), torch.randn(0, 1, 7, 7))


def test_cli_model_failing_with_any_exception_and_too_many_images(tmp_path, capsys, monkeypatch):
    import sys
    import types
    fake = types.ModuleType("fake_models")

    class Picky(nn.Module):
        def forward(self, x):
            raise ValueError("expects 7 x 7 inputs\nsecond line")

    class Mute(nn.Module):
        def forward(self, x):
            raise RuntimeError()
    fake.Picky, fake.Mute = Picky, Mute
    monkeypatch.setitem(sys.modules, "fake_models", fake)
    out = tmp_path / "x.npz"
    for argv, needle in ((["fake_models:Picky", "--input", "3x8x8"], "ValueError: expects 7 x 7 inputs"),
                         (["fake_models:Mute", "--input", "3x8x8"], "(1, 3, 8, 8): RuntimeError"),
                         (["fcos-dynamic-small", "--images", "99"], "--images: 99")):
        assert main(["workload", "import-torch", *argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1, err
        assert not out.exists()


def test_each_module_keeps_its_train_or_eval_mode():
    """A model training with a frozen (eval) BatchNorm inside: the import runs everything in eval
    and gives every module back its own mode, not the root's."""
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1)).train()
    m[1].eval()
    mean = m[1].running_mean.clone()
    import_torch(m, torch.randn(2, 3, 6, 6))
    assert [x.training for x in m] == [True, False, True]
    assert torch.equal(m[1].running_mean, mean)           # ran in eval: statistics untouched


def test_parameters_returned_by_no_op_ops_carry_no_dependencies():
    """``w.to(x.dtype)`` returns the parameter itself: tagging it would give later layers (and later
    imports) false edges to whatever produced ``x``."""
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 3, 1)
            self.w = nn.Parameter(torch.randn(3, 3, 1, 1))

        def forward(self, x):
            y = self.a(x)
            w = self.w.to(y.dtype)               # same object: a no-op returning the parameter
            z = F.conv2d(x, w)                   # reads only x: no edge to 'a'
            return F.conv2d(y, w) + z            # this one reads y

    torch.manual_seed(0)
    m = Shared().eval()
    wl, _ = import_torch(m, torch.randn(1, 3, 4, 4), "s")
    preds = {n: sorted(wl.graph.predecessors(n)) for n in wl.layers}
    assert preds == {"a": [], "Shared": [], "Shared.call2": ["a"]}
    assert "_accelsim_src" not in m.w.__dict__
    wl2, _ = import_torch(m, torch.randn(1, 3, 4, 4), "s")   # nothing carried into a second import
    assert {n: sorted(wl2.graph.predecessors(n)) for n in wl2.layers} == preds
