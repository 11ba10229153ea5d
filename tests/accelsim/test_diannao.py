"""DianNao baseline: hand-worked cycles, DMA stalls, masked positions, functional output."""

import numpy as np
import pytest
from test_cambricon_x import _inst  # same-directory helper (pytest puts tests/accelsim on sys.path)

from accelsim.engine import largest_remainder, make_model, run_instance
from accelsim.errors import ConfigError
from accelsim.models.common.nfu import dma_traffic
from workloads import Layer
from workloads.effectual import conv_reference


def test_hand_worked_fc():
    # K=20 -> 2 blocks of 16 lanes; C=40 -> ceil(40/16) = 3 cycles per block
    L = Layer("fc", "fc", C=40, K=20, weights=np.ones((20, 40)))
    r = run_instance(make_model("diannao", {"dma.enabled": False, "pipeline.fill_cycles": 0}), _inst(L))
    assert r.cycles == 6 and sum(r.breakdown.values()) == 6
    # slots 6*256 = 1536: busy 800, fragmentation 20*(48-40) = 160, idle lanes 12*48 = 576
    assert r.breakdown == {"busy": 3, "fragmentation": 1, "load_imbalance": 2, "memory_stall": 0,
                           "pipeline_fill": 0}
    assert r.macs_actual == 800 and r.utilization == pytest.approx(800 / 1536)


def test_dma_stall_and_traffic():
    L = Layer("fc", "fc", C=64, K=16, weights=np.ones((16, 64)))
    r = run_instance(make_model("diannao", {"dma.bytes_per_cycle": 8.0, "pipeline.fill_cycles": 0}), _inst(L))
    # bytes: weights 16*64*2 = 2048, inputs 128, outputs 32 -> 2208 B / 8 = 276 cycles vs 4 compute
    assert r.extra["dma_bytes"]["total"] == 2208
    assert r.cycles == 276 and r.breakdown["memory_stall"] == 272


def test_dma_traffic_tiles_and_spills():
    d = dma_traffic(C=100, H=10, W=10, K=32, n_active=100, map_bytes=np.full(32, 5000), n_pe=16,
                    nbin_bytes=8192, nbout_bytes=1024, sb_bytes_per_pe=2048, data_bytes=2)
    # 3 tiles per map; input 20000 B > NBin -> 2 blocks x 3 tiles = 6 passes; psums 16*100*2 = 3200 B > NBout
    assert d["input_passes"] == 6 and d["inputs"] == 6 * 20000
    assert d["psum_spill"] == 2 * (2 * 2 * 3200)
    assert d["total"] == 32 * 5000 + 6 * 20000 + d["psum_spill"] + 32 * 100 * 2


def test_masked_positions_skipped_and_functional():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3, 3, 3))
    L = Layer("c", "conv", C=3, K=5, H=6, W=6, R=3, S=3, padding=1, weights=w)
    acts = rng.standard_normal((3, 6, 6))
    mask = np.zeros((6, 6), bool)
    mask[2:4, 1:5] = True
    r = run_instance(make_model("diannao", {"dma.enabled": False, "pipeline.fill_cycles": 0}), _inst(L, acts, mask),
                     functional=True)
    assert r.cycles == 8 * 2  # 8 active positions x ceil(27/16)
    ref = conv_reference(acts, w, 1, 1) * mask[None]
    np.testing.assert_allclose(r.output, ref, rtol=1e-9, atol=1e-12)


def test_dense_timeline_returns_what_its_docstring_says():
    """The docstring names each returned value, and the walk returns exactly those: cycles and the
    multiplier slots doing real work (lanes with a map x L per active position)."""
    import re

    from accelsim.models.diannao.model import _dense_timeline
    active = np.array([True, False, True, True])
    out = _dense_timeline(20, 40, active, 16, 16)  # 2 blocks (16 + 4 lanes), ceil(40/16) = 3 cycles per group
    named = re.search(r"returns \(([^)]*)\)", _dense_timeline.__doc__).group(1).split(",")
    assert len(named) == len(out) == 2
    assert out == (2 * 3 * 3, (16 + 4) * 40 * 3)


@pytest.mark.parametrize("bits", [8, 16, 32])
def test_actions_follow_data_width(bits):
    L = Layer("fc", "fc", C=40, K=20, weights=np.ones((20, 40)))
    m = make_model("diannao", {"data.bits": bits})
    r = run_instance(m, _inst(L))
    named = [a for a in r.actions if not a.endswith(("_byte", "_byte_ns"))]
    assert sorted(named) == sorted(f"{p}_{bits}b" for p in ("mult", "add", "sb_read", "nbin_read", "nbout_write"))
    assert set(r.actions) <= set(m.ACTIONS) and all(a in m.energy for a in r.actions)
    assert r.extra["dma_bytes"]["weights"] == 20 * 40 * bits // 8


def test_validate_suite():
    """accelsim validate diannao: the published peak, area and chip power beside the model, with relative errors."""
    from accelsim.models.diannao import validate
    res = validate(None)
    by = {c["name"]: c for c in res["checks"]}
    peak = by["peak throughput vs the paper's 452 GOP/s"]
    assert peak["kind"] == "consistency" and peak["simulated"] == pytest.approx(2 * 256 * 0.98)
    area = by["area (generic NFU rows) vs the published 3.02 mm^2"]
    assert area["kind"] == "validation" and area["pass"] is True and area["rel_error"] < 0
    power = [c for c in res["checks"] if c["name"].startswith("chip power")]
    assert len(power) == 2 and all(c["kind"] == "validation" and c["reference"] == 0.485 for c in power)
    assert all(isinstance(c["rel_error"], float) and c["pass"] is not None for c in power)
    modes = res["power_analysis"]["modes"]
    # stall cycles only leak in the model, so the run average is below the computing-only power
    assert modes["DMA stalls included"]["total_w"] < modes["computing only, ideal memory"]["total_w"]
    assert modes["computing only, ideal memory"]["off_chip_dram_w"] == 0.0 < modes["DMA stalls included"]["off_chip_dram_w"]


def test_largest_remainder_sums():
    parts = largest_remainder({"a": 1.4, "b": 1.4, "c": 0.2}, 3)
    assert sum(parts.values()) == 3 and parts["c"] == 0


def test_config_errors():
    with pytest.raises(ConfigError, match="dma.bytes_per_cycle"):
        make_model("diannao", {"dma.bytes_per_cycle": 0})
    with pytest.raises(ConfigError, match="index.format"):
        make_model("diannao", {"index.format": "step"})
    with pytest.raises(ConfigError, match="data.bits"):  # energy rows exist for 8, 16 and 32 bits only
        make_model("diannao", {"data.bits": 12})
