"""Reference networks as layer tables (shapes only; no data arrays).

Every layer here is a convolution, depthwise convolution or fully-connected
layer of the :mod:`workloads.ir`; pooling, normalisation, ReLU and residual
additions carry no MACs and are not layers (they are noted in ``meta`` and
folded into the next layer's input size).  Edges are data dependencies: a
chain, plus the skip connections of ResNet-18.

Densities: ``weight_density`` is set where the accelerators doc (§8) gives the
Han et al. (NIPS 2015) pruned density (AlexNet, VGG16); elsewhere it is None
(dense).  Activation densities are never set here (None = dense input); models
in density-only mode materialise seeded data of whatever density a study sets.

Choices (the issue leaves them open):

* ``alexnet`` is the Caffe ``bvlc_alexnet`` that Han et al. pruned and EIE /
  SCNN evaluated: 227x227x3 input and ``groups=2`` in conv2, conv4 and conv5
  (the original two-GPU split).  Conv MACs 665,784,864 (the "666M" of the
  Eyeriss paper), fc MACs 58,621,952.
* ``mobilenet-v1`` / ``mobilenet-v1-0.5`` follow Howard et al. 2017 Table 1
  with PyTorch-style padding 1 on every 3x3 (identical output sizes to
  TensorFlow 'SAME'); layer names follow Keras (``conv1``, ``conv_dw_i``,
  ``conv_pw_i``, ``fc``) and ``meta['sparseloop']`` gives the L01..L28 index of
  the Sparseloop Eyeriss v2 artifact.
* ``resnet18`` is torchvision's (stride in the first 3x3 of a stage, 1x1
  stride-2 projection shortcuts named ``layerX.0.downsample``).
"""

from __future__ import annotations

from .ir import Layer, Workload
from .zoo import register

# Han et al. (NIPS 2015) pruned weight densities, accelerators doc §8 [paper].
HAN_ALEXNET = {"conv1": 0.84, "conv2": 0.38, "conv3": 0.35, "conv4": 0.37, "conv5": 0.37,
               "fc6": 0.09, "fc7": 0.09, "fc8": 0.25}
HAN_VGG16 = {"conv1_1": 0.58, "conv1_2": 0.22, "conv2_1": 0.34, "conv2_2": 0.36, "conv3_1": 0.53,
             "conv3_2": 0.24, "conv3_3": 0.42, "conv4_1": 0.32, "conv4_2": 0.27, "conv4_3": 0.34,
             "conv5_1": 0.35, "conv5_2": 0.29, "conv5_3": 0.36, "fc6": 0.04, "fc7": 0.04, "fc8": 0.23}
HAN_SOURCE = "Han et al., NIPS 2015 pruned weight densities (accelerators doc §8)"


def _chain(wl: Workload, layers: list[Layer]) -> Workload:
    prev = None
    for L in layers:
        wl.add_layer(L, deps=[prev] if prev else [])
        prev = L.name
    return wl


def conv(name, C, K, H, R, stride=1, padding=0, groups=1, W=None, **kw) -> Layer:
    """Square-filter convolution on an H x W (default square) input."""
    return Layer(name, "conv", C=C, K=K, H=H, W=H if W is None else W, R=R, S=R, stride=stride,
                 padding=padding, groups=groups, **kw)


def fc(name, C, K, **kw) -> Layer:
    return Layer(name, "fc", C=C, K=K, **kw)


# -------------------------------------------------------------------- AlexNet
@register("alexnet", "AlexNet (Caffe bvlc_alexnet, 227x227, groups=2 in conv2/4/5): conv1-5, fc6-8; "
                     "Han et al. weight densities")
def alexnet(shared=None, seed: int = 0) -> Workload:
    d = HAN_ALEXNET
    wl = Workload("alexnet", meta={"source": "Krizhevsky et al. 2012 / Caffe bvlc_alexnet layer table",
                                   "weight_density_source": HAN_SOURCE, "input": [3, 227, 227]})
    return _chain(wl, [
        conv("conv1", 3, 96, 227, 11, stride=4, weight_density=d["conv1"]),                 # -> 55x55
        # 3x3/2 max pool: 55 -> 27
        conv("conv2", 96, 256, 27, 5, padding=2, groups=2, weight_density=d["conv2"],
             meta={"after": "maxpool 3x3/2"}),                                               # -> 27x27
        # 3x3/2 max pool: 27 -> 13
        conv("conv3", 256, 384, 13, 3, padding=1, weight_density=d["conv3"], meta={"after": "maxpool 3x3/2"}),
        conv("conv4", 384, 384, 13, 3, padding=1, groups=2, weight_density=d["conv4"]),
        conv("conv5", 384, 256, 13, 3, padding=1, groups=2, weight_density=d["conv5"]),
        # 3x3/2 max pool: 13 -> 6; flatten 256*6*6 = 9216
        fc("fc6", 9216, 4096, weight_density=d["fc6"], meta={"after": "maxpool 3x3/2, flatten"}),
        fc("fc7", 4096, 4096, weight_density=d["fc7"]),
        fc("fc8", 4096, 1000, weight_density=d["fc8"]),
    ])


# --------------------------------------------------------------------- VGG16
VGG16_CFG = [(1, 64, 224, 2), (2, 128, 112, 2), (3, 256, 56, 3), (4, 512, 28, 3), (5, 512, 14, 3)]


@register("vgg16", "VGG16 (224x224): 13 conv + 3 fc; Han et al. weight densities")
def vgg16(shared=None, seed: int = 0) -> Workload:
    wl = Workload("vgg16", meta={"source": "Simonyan & Zisserman 2015, configuration D",
                                 "weight_density_source": HAN_SOURCE, "input": [3, 224, 224]})
    layers, C = [], 3
    for stage, K, H, n in VGG16_CFG:
        for i in range(1, n + 1):
            name = f"conv{stage}_{i}"
            meta = {"after": "maxpool 2x2/2"} if i == 1 and stage > 1 else {}
            layers.append(conv(name, C, K, H, 3, padding=1, weight_density=HAN_VGG16[name], meta=meta))
            C = K
    layers += [fc("fc6", 512 * 7 * 7, 4096, weight_density=HAN_VGG16["fc6"], meta={"after": "maxpool 2x2/2, flatten"}),
               fc("fc7", 4096, 4096, weight_density=HAN_VGG16["fc7"]),
               fc("fc8", 4096, 1000, weight_density=HAN_VGG16["fc8"])]
    return _chain(wl, layers)


# ----------------------------------------------------------------- MobileNet
# Howard et al. 2017, Table 1: (output channels of the pointwise layer, stride of the depthwise layer)
MOBILENET_V1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                       (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def mobilenet_v1(alpha: float = 1.0, resolution: int = 224, name: str | None = None) -> Workload:
    """MobileNet-v1 with width multiplier ``alpha`` at ``resolution`` x ``resolution``.

    Channel counts are ``int(c * alpha)`` as in the reference implementation.
    """
    def ch(c):
        return int(c * alpha)

    wl = Workload(name or f"mobilenet-v1-{alpha:g}-{resolution}",
                  meta={"source": "Howard et al. 2017, Table 1", "alpha": alpha, "resolution": resolution,
                        "input": [3, resolution, resolution]})
    idx = 1
    H = resolution
    layers = [conv("conv1", 3, ch(32), H, 3, stride=2, padding=1, meta={"sparseloop": "L01"})]
    H = layers[-1].P
    C = ch(32)
    for i, (k, s) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        idx += 1
        dw = Layer(f"conv_dw_{i}", "depthwise", C=C, K=C, H=H, W=H, R=3, S=3, stride=s, padding=1, groups=C,
                   meta={"sparseloop": f"L{idx:02d}"})
        H = dw.P
        idx += 1
        pw = conv(f"conv_pw_{i}", C, ch(k), H, 1, meta={"sparseloop": f"L{idx:02d}"})
        layers += [dw, pw]
        C = ch(k)
    idx += 1
    layers.append(fc("fc", C, 1000, meta={"after": f"global average pool {H}x{H}", "sparseloop": f"L{idx:02d}"}))
    return _chain(wl, layers)


@register("mobilenet-v1", "MobileNet-v1 1.0, 224x224 (27 conv/depthwise + fc, ~569M MACs)")
def mobilenet_v1_10(shared=None, seed: int = 0) -> Workload:
    return mobilenet_v1(1.0, 224, name="mobilenet-v1")


@register("mobilenet-v1-0.5", "MobileNet-v1 0.5, 128x128 (the Sparseloop Eyeriss v2 PE study's network)")
def mobilenet_v1_05(shared=None, seed: int = 0) -> Workload:
    return mobilenet_v1(0.5, 128, name="mobilenet-v1-0.5")


# ------------------------------------------------------------------ ResNet-18
@register("resnet18", "ResNet-18 (torchvision, 224x224) with residual edges")
def resnet18(shared=None, seed: int = 0) -> Workload:
    wl = Workload("resnet18", meta={"source": "He et al. 2016 / torchvision resnet18", "input": [3, 224, 224]})
    wl.add_layer(conv("conv1", 3, 64, 224, 7, stride=2, padding=3))      # -> 112x112
    # 3x3/2 max pool (padding 1): 112 -> 56
    producers, C, H = ["conv1"], 64, 56  # layers whose outputs sum into the current tensor
    for stage, K in enumerate((64, 128, 256, 512), start=1):
        for b in range(2):
            s = 2 if (b == 0 and stage > 1) else 1
            p = f"layer{stage}.{b}"
            meta = {"after": "maxpool 3x3/2"} if (stage, b) == (1, 0) else {}
            a = wl.add_layer(conv(f"{p}.conv1", C, K, H, 3, stride=s, padding=1, meta=meta), deps=producers)
            Hout = a.P
            wl.add_layer(conv(f"{p}.conv2", K, K, Hout, 3, padding=1), deps=[a.name])
            if s != 1 or C != K:
                wl.add_layer(conv(f"{p}.downsample", C, K, H, 1, stride=s), deps=producers)
                producers = [f"{p}.conv2", f"{p}.downsample"]
            else:
                producers = [f"{p}.conv2"] + producers
                # identity shortcut: the sum depends on this block's input producers too
            producers = list(dict.fromkeys(producers))
            C, H = K, Hout
    wl.add_layer(fc("fc", 512, 1000, meta={"after": f"global average pool {H}x{H}"}), deps=producers)
    return wl
