"""Reference network layer tables against hand calculations.

Every expected MAC count below is typed in by hand from the layer's shape
(output P x Q x K x (C/groups) x R x S), not computed by the code under test.
"""

import pytest

from workloads.networks import HAN_ALEXNET, HAN_VGG16, MOBILENET_V1_BLOCKS
from workloads.zoo import list_workloads, resolve

# name: (C, K, H, R, stride, padding, groups, P, MACs)
ALEXNET = {
    "conv1": (3, 96, 227, 11, 4, 0, 1, 55, 105_415_200),    # 55*55*96*3*11*11
    "conv2": (96, 256, 27, 5, 1, 2, 2, 27, 223_948_800),    # 27*27*256*48*5*5
    "conv3": (256, 384, 13, 3, 1, 1, 1, 13, 149_520_384),   # 13*13*384*256*3*3
    "conv4": (384, 384, 13, 3, 1, 1, 2, 13, 112_140_288),   # 13*13*384*192*3*3
    "conv5": (384, 256, 13, 3, 1, 1, 2, 13, 74_760_192),    # 13*13*256*192*3*3
    "fc6": (9216, 4096, 1, 1, 1, 0, 1, 1, 37_748_736),      # 9216*4096
    "fc7": (4096, 4096, 1, 1, 1, 0, 1, 1, 16_777_216),      # 4096*4096
    "fc8": (4096, 1000, 1, 1, 1, 0, 1, 1, 4_096_000),       # 4096*1000
}


@pytest.mark.parametrize("name", list(ALEXNET))
def test_alexnet_layer_matches_hand_calculation(name):
    wl = resolve("alexnet")
    L = wl.layers[name]
    C, K, H, R, stride, pad, groups, P, macs = ALEXNET[name]
    assert (L.C, L.K, L.H, L.W, L.R, L.S, L.stride, L.padding, L.groups) == (C, K, H, H, R, R, stride, pad, groups)
    assert (L.P, L.Q) == (P, P)
    assert L.macs_dense == macs
    assert L.weight_density == HAN_ALEXNET[name]
    assert L.kind == ("fc" if name.startswith("fc") else "conv")


def test_alexnet_totals_and_chain():
    wl = resolve("alexnet")
    assert wl.layer_names() == list(ALEXNET)
    assert sum(L.macs_dense for n, L in wl.layers.items() if n.startswith("conv")) == 665_784_864  # "666M"
    assert list(wl.graph.edges) == list(zip(list(ALEXNET)[:-1], list(ALEXNET)[1:]))
    # each layer's input is the previous layer's output after pooling (sizes chain)
    assert wl.layers["fc6"].C == 256 * 6 * 6


VGG_CONV = [  # name, C, K, H (3x3, stride 1, pad 1, P = H)
    ("conv1_1", 3, 64, 224), ("conv1_2", 64, 64, 224), ("conv2_1", 64, 128, 112), ("conv2_2", 128, 128, 112),
    ("conv3_1", 128, 256, 56), ("conv3_2", 256, 256, 56), ("conv3_3", 256, 256, 56),
    ("conv4_1", 256, 512, 28), ("conv4_2", 512, 512, 28), ("conv4_3", 512, 512, 28),
    ("conv5_1", 512, 512, 14), ("conv5_2", 512, 512, 14), ("conv5_3", 512, 512, 14)]


def test_vgg16_layers():
    wl = resolve("vgg16")
    assert len(wl.layers) == 16
    for name, C, K, H in VGG_CONV:
        L = wl.layers[name]
        assert (L.C, L.K, L.H, L.R, L.stride, L.padding, L.P) == (C, K, H, 3, 1, 1, H)
        assert L.macs_dense == H * H * K * C * 9
        assert L.weight_density == HAN_VGG16[name]
    assert wl.layers["conv1_2"].macs_dense == 1_849_688_064
    assert [wl.layers[f].macs_dense for f in ("fc6", "fc7", "fc8")] == [102_760_448, 16_777_216, 4_096_000]
    total = sum(L.macs_dense for L in wl.layers.values())
    assert total == 15_470_264_320  # the usual "15.5 GMACs"


def _mobilenet_hand(alpha, res):
    """Howard et al. Table 1 walked by hand: list of (kind, MACs)."""
    ch = lambda c: int(c * alpha)  # noqa: E731
    out = []
    H = res // 2
    out.append(("conv", H * H * ch(32) * 3 * 9))
    C = ch(32)
    for k, s in MOBILENET_V1_BLOCKS:
        H = H // s
        out.append(("depthwise", H * H * C * 9))
        out.append(("conv", H * H * ch(k) * C))
        C = ch(k)
    out.append(("fc", C * 1000))
    return out


@pytest.mark.parametrize("name,alpha,res,paper_mmacs", [("mobilenet-v1", 1.0, 224, 569),
                                                         ("mobilenet-v1-0.5", 0.5, 128, 49)])
def test_mobilenet_layers_and_totals(name, alpha, res, paper_mmacs):
    wl = resolve(name)
    hand = _mobilenet_hand(alpha, res)
    layers = [wl.layers[n] for n in wl.layer_names()]
    assert len(layers) == 28
    assert [(L.kind, L.macs_dense) for L in layers] == hand
    for L in layers:
        if L.kind == "depthwise":
            assert L.groups == L.C == L.K and L.weight_shape == (L.C, 1, 3, 3)
    total = sum(m for _, m in hand)
    # Howard et al. 2017 (Tables 1/6/7): 569 M mult-adds for 1.0-224, 49 M for 0.5-128
    assert round(total / 1e6) == paper_mmacs
    assert layers[-1].C == int(1024 * alpha)


def test_mobilenet_v1_05_matches_sparseloop_layer_table(shared):
    """The Eyeriss v2 reference layers (shared layers.csv) have the same shapes and dense MACs."""
    import csv
    wl = resolve("mobilenet-v1-0.5")
    by_idx = {L.meta["sparseloop"]: L for L in wl.layers.values()}
    rows = list(csv.DictReader(open(shared / "validation/eyerissv2_pe_mobilenet05/layers.csv")))
    assert rows
    for r in rows:
        L = by_idx[r["layer"]]
        assert (L.C, L.K, L.P, L.Q, L.R, L.S, L.stride) == tuple(
            int(r[k]) for k in ("C", "M", "H_out", "W_out", "R", "S", "stride"))
        assert L.macs_dense == int(r["dense_macs"])
        assert L.kind == ("depthwise" if r["kind"] == "depthwise" else "conv")


def test_resnet18():
    wl = resolve("resnet18")
    assert len(wl.layers) == 21  # conv1, 16 3x3 convs, 3 downsample, fc
    assert wl.layers["conv1"].macs_dense == 112 * 112 * 64 * 3 * 49 == 118_013_952
    assert wl.layers["layer2.0.conv1"].P == 28 and wl.layers["layer2.0.downsample"].macs_dense == 28 * 28 * 128 * 64
    assert sum(L.macs_dense for L in wl.layers.values()) == 1_814_073_344  # the usual "1.8 GMACs"
    # residual edges: block 1 of stage 1 reads conv1's output (identity) and block 0's conv2
    assert set(wl.graph.predecessors("layer1.1.conv1")) == {"layer1.0.conv2", "conv1"}
    assert set(wl.graph.predecessors("layer2.1.conv1")) == {"layer2.0.conv2", "layer2.0.downsample"}


def test_registry_lists_networks():
    names = list_workloads()
    for n in ("alexnet", "vgg16", "mobilenet-v1", "mobilenet-v1-0.5", "resnet18",
              "scnn-vgg16", "scnn-googlenet-inception"):
        assert n in names and names[n]
