"""Cambricon-X model: hand-worked cycle counts, invariants (hypothesis), functional output, configs."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.engine import make_model, run_instance
from accelsim.errors import ConfigError
from accelsim.models.cambricon_x import compress
from workloads import Layer, Workload

FULL = bool(os.environ.get("ACCELSIM_FULL"))


def _inst(L, acts=None, mask=None):
    wl = Workload("t")
    wl.add_layer(L)
    if acts is not None or mask is not None:
        wl.set_image_data(0, L.name, acts=acts, out_mask=mask)
    return wl.instance(L.name, 0)


def _fc(rows, C):
    """FC layer whose row k has non-zeros at the given positions (value = position + 1)."""
    w = np.zeros((len(rows), C))
    for k, pos in enumerate(rows):
        w[k, pos] = np.asarray(pos) + 1.0
    return Layer("fc", "fc", C=C, K=len(rows), weights=w)


IDEAL = {"dma.enabled": False, "pipeline.fill_cycles": 0}


def test_hand_worked_fc_chunks_fragmentation_imbalance():
    # PE0: 17 non-zeros -> 2 chunks (1 slot used of the 2nd); PE1: 16 -> 1 chunk; PEs 2..15 idle
    L = _fc([list(range(17)), list(range(20, 36))], C=64)
    r = run_instance(make_model("cambricon-x", IDEAL), _inst(L, acts=np.ones(64)))
    assert r.cycles == 2 and r.extra["pe_cycles"][:3] == [2, 1, 0]
    assert sum(r.breakdown.values()) == r.cycles
    # slots: busy 33, fragmentation 15, idle 16*2*16 - 48 = 464 -> cycles 33/256, 15/256, 464/256
    assert r.breakdown["load_imbalance"] == 2 and r.breakdown["busy"] == 0
    assert r.macs_actual == 33 and r.macs_dense == 128 and r.macs_skipped == 95 and r.macs_gated == 0


def test_im_window_splits_chunks():
    # 3 non-zeros 20 neurons apart: one chunk with a 64-neuron window, three with a 16-neuron window
    L = _fc([[0, 20, 40]], C=64)
    wide = run_instance(make_model("cambricon-x", {**IDEAL, "im.window_neurons": 64}), _inst(L))
    narrow = run_instance(make_model("cambricon-x", {**IDEAL, "im.window_neurons": 16}), _inst(L))
    assert wide.cycles == 1 and narrow.cycles == 3
    assert narrow.breakdown["im_window"] >= 0 and sum(narrow.breakdown.values()) == 3


def test_step_index_padding_and_storage():
    # 3-bit steps: max run 7 zeros; non-zeros at 0 and 20 -> padding entries at 8 and 16
    L = _fc([[0, 20]], C=32)
    c = compress(_inst(L), "step", 16, 3)
    assert c.pos.tolist() == [0, 8, 16, 20] and c.pad.tolist() == [False, True, True, False]
    assert c.map_bits().tolist() == [4 * (16 + 3)]
    d = compress(_inst(L), "direct", 16, 3)
    assert d.map_bits().tolist() == [2 * 16 + 32]
    auto = run_instance(make_model("cambricon-x", {**IDEAL, "index.step_bits": 3, "index.format": "auto"}), _inst(L))
    assert auto.extra["index_format"] == "direct"  # 8 bytes < ceil(76 / 8) = 10 bytes
    r = run_instance(make_model("cambricon-x", {**IDEAL, "index.step_bits": 3}), _inst(L, acts=np.ones(32)))
    assert r.macs_actual == 2 and r.macs_gated == 2 and r.macs_skipped == 32 - 4
    assert r.extra["index_formats"]["step"]["padding_entries"] == 2
    assert r.extra["index_formats"]["direct"]["storage_bytes"] == 8


def _rand_layer(draw_kind, seed, density, C, K, H):
    rng = np.random.default_rng(seed)
    if draw_kind == "fc":
        L = Layer("x", "fc", C=C * 9, K=K)
    elif draw_kind == "dw":
        L = Layer("x", "depthwise", C=C, K=C, H=H, W=H, R=3, S=3, padding=1, groups=C)
    else:
        L = Layer("x", "conv", C=C, K=K, H=H, W=H + 1, R=3, S=3, stride=1 + seed % 2, padding=1)
    w = rng.standard_normal(L.weight_shape) * (rng.random(L.weight_shape) < density)
    from dataclasses import replace
    L = replace(L, weights=w)
    acts = np.maximum(0, rng.standard_normal(L.act_shape))
    mask = rng.random((L.P, L.Q)) < 0.7
    return L, acts, mask, rng


@settings(max_examples=25 if not FULL else 200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["conv", "fc", "dw"]), seed=st.integers(0, 10_000), density=st.floats(0.02, 1.0),
       C=st.integers(1, 12), K=st.integers(1, 40), H=st.integers(3, 7), fmt=st.sampled_from(["step", "direct"]),
       bits=st.integers(1, 6), window=st.sampled_from([16, 24, 64, 256]))
def test_invariants(kind, seed, density, C, K, H, fmt, bits, window):
    L, acts, mask, rng = _rand_layer(kind, seed, density, C, K, H)
    m = make_model("cambricon-x", {"index.format": fmt, "index.step_bits": bits, "im.window_neurons": window})
    inst = _inst(L, acts, mask)
    a = run_instance(m, inst)
    # lower bound: every non-zero synapse of every active output needs a multiplier slot
    nnz = int((L.weights != 0).sum())
    assert a.extra["compute_cycles"] * 256 >= nnz * int(mask.sum())
    assert sum(a.breakdown.values()) == a.cycles
    assert a.macs_actual + a.macs_gated + a.macs_skipped == a.macs_dense
    assert a.macs_effectual <= a.macs_actual
    # deterministic
    b = run_instance(m, inst)
    assert (a.cycles, a.breakdown, a.actions) == (b.cycles, b.breakdown, b.actions)
    # monotone: removing non-zeros never adds compute cycles
    w2 = L.weights.copy()
    nz = np.flatnonzero(w2)
    if nz.size:
        w2.ravel()[rng.choice(nz, rng.integers(1, nz.size + 1), replace=False)] = 0.0
    from dataclasses import replace
    c = run_instance(m, _inst(replace(L, weights=w2), acts, mask))
    assert c.extra["compute_cycles"] <= a.extra["compute_cycles"]
    s = a.extra["savings"]
    assert s["dense_weights_no_mask_cycles"] >= s["sparse_weights_no_mask_cycles"] >= s["actual_compute_cycles"]


@pytest.mark.parametrize("spec", [
    dict(kind="conv", C=5, K=19, H=8, W=7, R=3, S=3, padding=1),
    dict(kind="conv", C=6, K=8, H=11, W=9, R=3, S=2, stride=2, padding=1, dilation=2, groups=2),
    dict(kind="depthwise", C=7, K=7, H=6, W=6, R=3, S=3, padding=1, groups=7),
    dict(kind="fc", C=300, K=33),
])
@pytest.mark.parametrize("fmt", ["step", "direct"])
def test_functional_matches_torch(spec, fmt):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    L = Layer("f", **spec)
    w = rng.standard_normal(L.weight_shape) * (rng.random(L.weight_shape) < 0.3)
    bias = rng.standard_normal(L.K)
    from dataclasses import replace
    L = replace(L, weights=w, bias=bias)
    acts = np.maximum(0, rng.standard_normal(L.act_shape))
    mask = rng.random((L.P, L.Q)) < 0.6
    r = run_instance(make_model("cambricon-x", {"index.format": fmt, "index.step_bits": 2}), _inst(L, acts, mask),
                     functional=True)
    ref = torch.nn.functional.conv2d(torch.tensor(acts)[None], torch.tensor(w), torch.tensor(bias), stride=L.stride,
                                     padding=L.padding, dilation=L.dilation, groups=L.groups)[0].numpy()
    ref = ref * mask[None]
    np.testing.assert_allclose(r.output, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())
    from workloads.effectual import effectual_macs
    assert r.macs_effectual == effectual_macs(_inst(L, acts, mask))  # walk == shared BLAS count


@pytest.mark.parametrize("spec", [dict(kind="conv", C=9, K=21, H=7, W=6, R=3, S=3, padding=1),
                                  dict(kind="fc", C=100, K=40),
                                  dict(kind="depthwise", C=18, K=18, H=5, W=5, R=3, S=3, padding=1, groups=18)])
@pytest.mark.parametrize("fmt", ["step", "direct"])
def test_dense_weights_equal_diannao(spec, fmt):
    rng = np.random.default_rng(2)
    L = Layer("d", **spec)
    from dataclasses import replace
    L = replace(L, weights=rng.random(L.weight_shape) + 0.5)  # all non-zero
    mask = rng.random((L.P, L.Q)) < 0.8
    inst = _inst(L, np.maximum(0, rng.standard_normal(L.act_shape)), mask)
    cx = run_instance(make_model("cambricon-x", {"index.format": fmt}), inst)
    dn = run_instance(make_model("diannao"), inst)
    assert cx.extra["compute_cycles"] == dn.extra["compute_cycles"]
    assert cx.cycles >= dn.cycles  # index bits only add DMA traffic; the IM adds pipeline stages
    assert cx.macs_actual == dn.macs_actual and cx.macs_effectual == dn.macs_effectual


def test_output_mask_savings_separate_from_weight_sparsity():
    rng = np.random.default_rng(3)
    L = Layer("m", "conv", C=4, K=16, H=6, W=6, R=3, S=3, padding=1,
              weights=rng.standard_normal((16, 4, 3, 3)) * (rng.random((16, 4, 3, 3)) < 0.25))
    mask = np.zeros((6, 6), bool)
    mask[:3] = True
    r = run_instance(make_model("cambricon-x", IDEAL), _inst(L, np.ones((4, 6, 6)), mask))
    s = r.extra["savings"]
    assert s["output_mask_saved_cycles"] == s["sparse_weights_no_mask_cycles"] // 2
    assert s["dense_weights_no_mask_cycles"] == 36 * 3  # ceil(36/16) = 3 cycles x 36 positions
    off = run_instance(make_model("cambricon-x", {**IDEAL, "skip_masked_outputs": False}), _inst(L, None, mask))
    assert off.cycles == s["sparse_weights_no_mask_cycles"] and off.extra["savings"]["output_mask_saved_cycles"] == 0


def test_lockstep_never_faster_and_energy_rows():
    rng = np.random.default_rng(4)
    L = Layer("l", "fc", C=500, K=48, weights=rng.standard_normal((48, 500)) * (rng.random((48, 500)) < 0.2))
    a = run_instance(make_model("cambricon-x"), _inst(L))
    b = run_instance(make_model("cambricon-x", {"pe.sync": "lockstep"}), _inst(L))
    assert b.extra["compute_cycles"] >= a.extra["compute_cycles"]
    assert 0.0 < a.extra["energy_share_im"] < 1.0
    assert a.energy_j > 0 and set(a.energy_pJ) <= set(a.actions)


def test_actions_follow_data_width():
    """data.bits 8 / 16 / 32: the width-named actions carry the configured width, each has its own energy row,
    and the arithmetic and buffer energy grow with the width (same layer, same counts)."""
    rng = np.random.default_rng(5)
    L = Layer("c", "conv", C=6, K=20, H=7, W=7, R=3, S=3, padding=1,
              weights=rng.standard_normal((20, 6, 3, 3)) * (rng.random((20, 6, 3, 3)) < 0.4))
    per_width = {}
    for bits in (8, 16, 32):
        m = make_model("cambricon-x", {"data.bits": bits})
        r = run_instance(m, _inst(L))
        named = [a for a in r.actions if a.startswith(("mult_", "add_", "sb_read_", "im_select_", "nbin_read_",
                                                       "nbout_write_"))]
        assert len(named) == 6 and all(a.endswith(f"_{bits}b") for a in named), named
        assert set(r.actions) <= set(m.ACTIONS) and all(a in m.energy for a in r.actions)
        per_width[bits] = r
    for pre in ("mult", "sb_read", "nbin_read"):
        e = [per_width[b].energy_pJ[f"{pre}_{b}b"] for b in (8, 16, 32)]
        assert e[0] < e[1] < e[2], (pre, e)
    assert per_width[8].actions["mult_8b"] == per_width[32].actions["mult_32b"]  # counts do not depend on width


def test_chip_power_is_on_chip_energy_over_time():
    """chip_power: every action's energy lands in one block, DRAM apart (off chip), leakage over the whole layer."""
    from accelsim.models.common.nfu import OFF_CHIP, block_of, chip_power
    rng = np.random.default_rng(6)
    L = Layer("fc", "fc", C=300, K=40, weights=rng.standard_normal((40, 300)))
    r = run_instance(make_model("cambricon-x"), _inst(L))
    pw = chip_power(r.energy_pJ, r.latency_s)
    on = sum(v for a, v in r.energy_pJ.items() if a != "dram_byte") * 1e-12 / r.latency_s
    assert pw["total_w"] == pytest.approx(on) and sum(pw["blocks_w"].values()) == pytest.approx(on)
    assert pw["off_chip_w"] > 0 and pw["off_chip_w"] == pytest.approx(r.energy_pJ["dram_byte"] * 1e-12 / r.latency_s)
    assert block_of("dram_byte") == OFF_CHIP and OFF_CHIP not in pw["blocks_w"]
    assert all(block_of(a) != a for a in make_model("cambricon-x").ACTIONS)  # every declared action has a block
    # SRAM leakage: (16 SBs x 2 KB + NBin + NBout) bytes for every ns of the layer, stalls included
    ns = r.cycles * 1e9 / 1e9
    assert r.actions["sb_leakage_byte_ns"] == pytest.approx(16 * 2048 * ns)
    assert r.actions["nb_leakage_byte_ns"] == pytest.approx(2 * 8192 * ns)


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="im.window_neurons"):
        make_model("cambricon-x", {"im.window_neurons": 8})
    with pytest.raises(ConfigError, match="index.format"):
        make_model("cambricon-x", {"index.format": "csr"})
    with pytest.raises(ConfigError, match="pe.count"):
        make_model("cambricon-x", {"pe.count": 0})
    p = tmp_path / "cx.yaml"
    p.write_text("model: cambricon-x\nbase: cambricon-x\nsb:\n  bytes_per_pe: {value: 2, unit: KB}\n")
    with pytest.raises(ConfigError, match=r"cx.yaml.*sb.bytes_per_pe.*unit"):
        make_model(str(p))


@pytest.mark.slow
def test_validate_suite():
    from accelsim.models.cambricon_x import validate
    res = validate(None, full=FULL)
    by = {c["name"]: c for c in res["checks"]}
    for name in ("peak useful throughput (config)", "invariant: deterministic",
                 "functional output vs numpy conv (float64)",
                 "all weights non-zero: max speedup over DianNao (AlexNet layers)"):
        assert by[name]["pass"] is True, name
    assert set(res["per_layer"]) == {"alexnet", "vgg16"}
    power = [c for c in res["checks"] if c["name"].startswith("chip power")]
    assert len(power) == 2 and all(c["kind"] == "validation" and c["reference"] == 0.954 for c in power)
    assert all(isinstance(c["rel_error"], float) and c["pass"] is not None for c in power)
    assert len(res["power_analysis"]["account"]) == 2
