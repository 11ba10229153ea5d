"""Systolic model: SCALE-Sim's fold counting on small cases worked out by hand, N:M row
skipping, functional output vs torch conv2d, config errors, the DRAM model's bounds."""

import numpy as np
import pytest

from accelsim.engine import make_model, run_instance
from accelsim.errors import AccelsimError, ConfigError
from accelsim.models.systolic import condensed_rows, fold_counts, validate
from workloads import Layer, Workload
from workloads.effectual import effectual_macs


def _run(layer, functional=False, image=None, **over):
    wl = Workload("t")
    wl.add_layer(layer)
    if image is not None:
        wl.set_image_data(0, layer.name, **image)
    return run_instance(make_model("systolic", over), wl.instance(layer.name, 0), functional=functional)


# Layer A: C=2, K=3, 5x5 input, 3x3 filter, stride 1, no padding -> P=Q=3.
# GEMM: M = 9 output pixels, Kw = 3*3*2 = 18 window, Kf = 3 filters.  Array 4x4.
#  os: Sr=M=9, Sc=Kf=3, T=Kw=18 -> ceil(9/4)=3 row folds x 1 col fold = 3 folds,
#      each T+H+W-2 = 18+4+4-2 = 24 cycles -> 72 demand rows -> SCALE-Sim reports 72-1 = 71.
#  ws: Sr=Kw=18, Sc=3, T=M=9 -> 5 x 1 folds of 2H+W+T-2 = 8+4+9-2 = 19 -> 95-1 = 94.
#  is: Sr=Kw=18, Sc=M=9, T=Kf=3 -> 5 x 3 = 15 folds of 8+4+3-2 = 13 -> 195-1 = 194.
# (SCALE-Sim 3.0.0 printed 71 / 94 / 194 for this layer on a 4x4 array.)
LAYER_A = dict(C=2, K=3, H=5, W=5, R=3, S=3)


@pytest.mark.parametrize("df,folds,cycles,stream", [("os", 3, 71, 3 * 18), ("ws", 5, 94, 5 * 9),
                                                    ("is", 15, 194, 15 * 3)])
def test_hand_worked_folds(df, folds, cycles, stream):
    r = _run(Layer("a", "conv", **LAYER_A), **{"array.height": 4, "array.width": 4, "dataflow": df})
    assert r.extra["folds"] == folds
    assert r.extra["compute_cycles"] == cycles == r.cycles  # ideal memory: no stalls
    assert r.breakdown["stream"] == stream and r.breakdown["fill_drain"] == cycles - stream
    assert r.macs_actual == 9 * 18 * 3 == r.macs_dense  # every mapped PE slot does one MAC per streamed operand


def test_fold_counts_rectangular_array():
    # os, GEMM M=100, Kw=7, Kf=50 on 8 rows x 16 cols: ceil(100/8)=13 x ceil(50/16)=4 = 52 folds
    # of 7+8+16-2 = 29 -> 52*29-1 = 1507.  ws on the same: Sr=7 -> 1 x 4 folds of 16+16+100-2=130 -> 519.
    assert fold_counts("os", 100, 50, 7, 8, 16) == (52, 1507)
    assert fold_counts("ws", 7, 50, 100, 8, 16) == (4, 519)


def test_groups_run_one_after_another():
    # depthwise C=K=4, 6x6, 3x3, pad 1: per channel GEMM M=36, Kw=9, Kf=1; os on 4x4:
    # ceil(36/4)=9 folds x (9+4+4-2=15) = 135 rows per channel, reported as 134 by SCALE-Sim for each
    # of its per-channel 'DP' layers; 4 channels -> 4*134 = 536.
    r = _run(Layer("dw", "depthwise", C=4, K=4, H=6, W=6, R=3, S=3, padding=1, groups=4),
             **{"array.height": 4, "array.width": 4})
    assert r.extra["compute_cycles"] == 536 and r.extra["folds"] == 36


def test_nm_row_skipping_hand_worked():
    # 2:4 on layer A's window of 18 rows: blocks [0-3] [4-7] [8-11] [12-15] keep 2 each, [16-17] keeps 2
    # -> 10 condensed rows -> ws on 4x4: ceil(10/4)=3 folds of 19 -> 57-1 = 56 (SCALE-Sim: 56).
    keep = (np.arange(18) % 4) < 2
    w = np.broadcast_to(keep.reshape(1, 2, 3, 3), (3, 2, 3, 3)).astype(float)
    lay = Layer("a", "conv", weights=w, **LAYER_A)
    r = _run(lay, **{"array.height": 4, "array.width": 4, "dataflow": "ws", "sparsity.enabled": True})
    assert r.extra["reduction_rows"] == 10 and r.extra["compute_cycles"] == 56
    assert r.macs_actual == 10 * 3 * 9 and r.macs_skipped == 8 * 3 * 9


def test_condensed_rows_uses_the_data():
    w = np.zeros((12, 2))
    w[0, 0] = w[5, 1] = w[6, 1] = 1.0  # blocks of 4: b0 {1,0}, b1 {0,2}, b2 empty
    assert condensed_rows(w, 2, 4) == 4  # b2 is all padding and dropped; b1 keeps 2 -> 1*2 + 2
    w[9, 0] = 1.0
    assert condensed_rows(w, 2, 4) == 5  # b2 now holds 1 non-zero -> 2*2 + 1
    w[8, 0] = w[10, 0] = 1.0
    with pytest.raises(AccelsimError, match="not 2:4 sparse"):
        condensed_rows(w, 2, 4, "x")


def test_functional_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    cases = [Layer("c1", "conv", C=6, K=10, H=9, W=11, R=3, S=3, stride=2, padding=1, groups=2,
                   weights=rng.standard_normal((10, 3, 3, 3)), bias=rng.standard_normal(10)),
             Layer("dw", "depthwise", C=5, K=5, H=7, W=7, R=3, S=3, padding=2, dilation=2, groups=5,
                   weights=rng.standard_normal((5, 1, 3, 3))),
             Layer("fc", "fc", C=37, K=9, weights=rng.standard_normal((9, 37)))]
    for lay in cases:
        acts = rng.standard_normal((lay.C, lay.H, lay.W)) * (rng.random((lay.C, lay.H, lay.W)) > 0.4)
        ref = torch.nn.functional.conv2d(torch.tensor(acts)[None], torch.tensor(lay.weights.reshape(lay.weight_shape)),
                                         None if lay.bias is None else torch.tensor(lay.bias), stride=lay.stride,
                                         padding=lay.padding, dilation=lay.dilation, groups=lay.groups)[0].numpy()
        for df in ("os", "ws", "is"):
            r = _run(lay, functional=True, image={"acts": acts},
                     **{"array.height": 4, "array.width": 3, "dataflow": df})
            np.testing.assert_allclose(r.output, ref, rtol=1e-9, atol=1e-12)


def test_effectual_count_matches_reference():
    rng = np.random.default_rng(2)
    lay = Layer("e", "conv", C=4, K=6, H=8, W=8, R=3, S=3, padding=1, groups=2, stride=2,
                weights=rng.standard_normal((6, 2, 3, 3)) * (rng.random((6, 2, 3, 3)) > 0.5))
    wl = Workload("t")
    wl.add_layer(lay)
    wl.set_image_data(0, "e", acts=np.maximum(0, rng.standard_normal((4, 8, 8))), out_mask=rng.random((4, 4)) > 0.5)
    inst = wl.instance("e", 0).materialize(0)
    # the factorised count equals the per-output count summed over active outputs
    from workloads.effectual import effectual_counts
    per_out = int((effectual_counts(inst) * inst.out_mask_or_ones()[None]).sum())
    assert effectual_macs(inst) == per_out > 0


def test_double_buffered_bounds():
    lay = Layer("b", "conv", C=16, K=40, H=20, W=20, R=3, S=3, padding=1)
    ideal = _run(lay)
    slow = _run(lay, **{"memory.model": "double_buffered", "dram.bandwidth_bytes_per_cycle": 0.5,
                        "sram.ifmap_kb": 1, "sram.filter_kb": 1, "sram.ofmap_kb": 1})
    fast = _run(lay, **{"memory.model": "double_buffered", "dram.bandwidth_bytes_per_cycle": 1e9})
    c = ideal.extra["compute_cycles"]
    assert slow.extra["compute_cycles"] == fast.extra["compute_cycles"] == c == ideal.cycles
    # a double-buffered array can never beat the DRAM roofline nor its compute time
    dram = slow.extra["dram_bytes"]["rd"] + slow.extra["dram_bytes"]["wr"]
    assert slow.cycles >= max(c, dram / 0.5) and slow.breakdown["dram_stall"] > 0
    assert fast.cycles - c == fast.breakdown["prefetch"] + fast.breakdown["writeback"] <= 2
    # smaller SRAMs refetch more
    big = _run(lay, **{"memory.model": "double_buffered", "sram.ifmap_kb": 1024, "sram.filter_kb": 1024})
    assert slow.extra["dram_bytes"]["rd"] > big.extra["dram_bytes"]["rd"]


def test_energy_rows_and_sources():
    r = _run(Layer("a", "conv", **LAYER_A))
    assert r.actions["int_mult_8b"] == r.macs_actual and r.energy_pJ["int_mult_8b"] == pytest.approx(0.2 * 486)
    assert "sram_32kb_64b" in r.actions  # 64 KiB buffers -> nearest Horowitz size class


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="sparsity.enabled.*ws"):
        make_model("systolic", {"sparsity.enabled": True})
    with pytest.raises(ConfigError, match="dataflow.*one of"):
        make_model("systolic", ["dataflow=rs"])
    with pytest.raises(ConfigError, match="array.height.*> 0"):
        make_model("systolic", ["array.height=0"])
    with pytest.raises(ConfigError, match="sparsity.N"):
        make_model("systolic", {"dataflow": "ws", "sparsity.enabled": True, "sparsity.N": 5})
    p = tmp_path / "s.yaml"
    p.write_text("model: systolic\nbase: systolic\narray: {hieght: 8}\n")
    with pytest.raises(ConfigError, match="s.yaml.*array.hieght"):
        make_model(str(p))


def test_count_fields_have_a_unit():
    """N and M count values in an N:M block: every numeric field carries a unit (the contract test's rule),
    and the unit is part of the report."""
    cfg = make_model("systolic").cfg
    assert cfg.units["sparsity.N"] == cfg.units["sparsity.M"] == "values"
    numeric = [k for k, v in cfg.values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    assert all(cfg.units.get(k) for k in numeric), [k for k in numeric if not cfg.units.get(k)]


def test_validate_against_recorded_scalesim():
    res = validate()
    assert res["pass"] and all(c["rel_error"] == 0 for c in res["checks"])


def test_fold_counts_properties():
    hyp = pytest.importorskip("hypothesis")
    st = hyp.strategies

    @hyp.settings(max_examples=200, deadline=None)
    @hyp.given(st.sampled_from(["os", "ws", "is"]), st.integers(1, 300), st.integers(1, 300), st.integers(1, 300),
               st.integers(1, 40), st.integers(1, 40))
    def check(df, M, Kw, Kf, H, W):
        Sr, Sc, T = {"os": (M, Kf, Kw), "ws": (Kw, Kf, M), "is": (Kw, M, Kf)}[df]
        folds, cyc = fold_counts(df, Sr, Sc, T, H, W)
        assert folds == -(-Sr // H) * -(-Sc // W)
        assert cyc + 1 >= -(-M * Kw * Kf // (H * W))  # never faster than the peak of H*W MACs/cycle
        assert fold_counts(df, Sr + 1, Sc, T, H, W)[1] >= cyc <= fold_counts(df, Sr, Sc, T + 1, H, W)[1]

    check()
