"""DCNN / DCNN-opt dense baselines."""

import numpy as np
import pytest

from accelsim.config import load_arch
from accelsim.engine import make_model, run_instance
from accelsim.errors import ConfigError
from workloads import Layer, LayerInstance
from workloads.effectual import effectual_macs

torch = pytest.importorskip("torch")

DCNN = make_model("dcnn")
OPT = make_model("dcnn-opt")


def _inst(C, K, H, W, R, pad=0, stride=1, da=0.5, dw=0.5, groups=1, seed=0, mask_density=None, kind="conv"):
    rng = np.random.default_rng(seed)
    L = Layer("l", kind, C=C, K=K, H=H, W=W, R=R, S=R, padding=pad, stride=stride, groups=groups)
    a = rng.random((C, H, W)) * (rng.random((C, H, W)) < da)
    w = rng.standard_normal(L.weight_shape) * (rng.random(L.weight_shape) < dw)
    mask = None if mask_density is None else rng.random((L.P, L.Q)) < mask_density
    return LayerInstance(L, 0, acts=a, weights=w, out_mask=mask)


@pytest.mark.parametrize("case", [dict(C=3, K=5, H=9, W=11, R=3, pad=1), dict(C=6, K=8, H=15, W=15, R=3, pad=1, stride=2),
                                  dict(C=4, K=4, H=10, W=10, R=3, pad=1, groups=2),
                                  dict(C=5, K=6, H=11, W=13, R=5, pad=2, mask_density=0.5)])
@pytest.mark.parametrize("model", [DCNN, OPT], ids=["dcnn", "dcnn-opt"])
def test_functional_and_counts(case, model):
    inst = _inst(**case)
    r = run_instance(model, inst, functional=True)
    L = inst.layer
    ref = torch.nn.functional.conv2d(torch.tensor(inst.acts_dense())[None], torch.tensor(inst.weights_dense()),
                                     stride=L.stride, padding=L.padding, groups=L.groups)[0].numpy()
    ref = ref * inst.out_mask_or_ones()[None]
    np.testing.assert_allclose(r.output, ref, rtol=1e-9, atol=1e-12)
    assert r.macs_effectual == effectual_macs(inst)
    assert sum(r.breakdown.values()) == r.cycles
    assert r.cycles * model.peak_macs_per_cycle() >= r.extra["products"]


def test_cycles_are_data_independent_and_opt_only_changes_energy():
    a = _inst(C=8, K=16, H=16, W=16, R=3, pad=1, da=0.2, dw=0.3, seed=1)
    b = _inst(C=8, K=16, H=16, W=16, R=3, pad=1, da=1.0, dw=1.0, seed=2)
    ra, rb, ro = run_instance(DCNN, a), run_instance(DCNN, b), run_instance(OPT, a)
    assert ra.cycles == rb.cycles == ro.cycles
    # closed form: 2x2-pixel tiles, Kc = 16 (4x4 footprint), 8 channels x 1 I-vector x 36 F-vectors,
    # halo 12 px x 16 channels, last PPU drain 4 px x 16 / 4 per cycle
    assert ra.cycles == 8 * 1 * 36 + 12 * 16 + 16
    # DCNN-opt gates every multiply with a zero operand
    assert ro.macs_gated == ro.extra["products"] - ro.extra["nonzero_pairs"] > 0
    assert ro.actions["mult_16b"] == ro.extra["nonzero_pairs"] < ra.actions["mult_16b"]
    assert ro.energy_j < ra.energy_j
    assert rb.actions["mult_16b"] == rb.extra["products"]


def test_dram_compressed_activations_reduce_traffic():
    inst = _inst(C=128, K=8, H=96, W=96, R=3, pad=1, da=0.3, dw=0.5)
    d, o = run_instance(DCNN, inst), run_instance(OPT, inst)
    assert d.extra["act_from_dram"] and o.extra["act_from_dram"]
    assert o.extra["dram_bytes"] < d.extra["dram_bytes"]


def test_fc_quarter_of_peak():
    inst = _inst(C=256, K=256, H=1, W=1, R=1, da=1.0, dw=1.0, kind="fc")
    r = run_instance(DCNN, inst)
    comp = r.cycles - r.breakdown["memory_stall"]
    assert 0.2 < r.macs_effectual / (comp * 1024) <= 0.25


def test_dcnn_bad_config():
    with pytest.raises(ConfigError, match="zero_gating"):
        load_arch("dcnn", ["zero_gating=maybe"])
    with pytest.raises(ConfigError, match="output_mask_skip"):
        load_arch("dcnn", ["output_mask_skip=true"])  # an SCNN-only field
