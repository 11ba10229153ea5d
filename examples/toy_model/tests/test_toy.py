"""The toy model's golden number: cycles of one small layer worked out by hand.

Everything else a model must satisfy (breakdown sums to cycles, MAC identity, energy rows, units and
sources, functional output vs torch, determinism, area, iso fields) is accelsim's contract test
(tests/accelsim/test_contract.py in the accelsim repository), which runs on every registered model.
"""

import numpy as np
import toy_accel  # noqa: F401  (registers "toy")

from accelsim.engine import make_model, run_instance
from workloads import Layer, LayerInstance


def test_hand_worked_cycles():
    # 3x3 input, one 3x3 filter with a zero centre tap, stride 1, padding 1 -> 3x3 outputs
    acts = np.array([[[1.0, 0.0, 2.0], [0.0, 0.0, 3.0], [4.0, 0.0, 0.0]]])
    w = np.ones((1, 1, 3, 3))
    w[0, 0, 1, 1] = 0.0
    L = Layer("hand", "conv", C=1, K=1, H=3, W=3, R=3, S=3, padding=1, weights=w)
    m = make_model("toy", {"pe.count": 4, "pe.lanes": 2, "pipeline.fill_cycles": 2, "dram.bytes_per_cycle": 16.0})
    r = run_instance(m, LayerInstance(L, 0, acts=acts, weights=w))
    # non-zero activations per output window, raster order: 1 3 2 | 2 4 2 | 1 2 1 = 18 products;
    # ceil(n / 2 lanes) = 1 2 1 1 | 2 1 1 1 | 1; tiles of 4 PEs: 2 + 2 + 1 = 5 compute cycles;
    # DRAM 18 + 10 + 18 = 46 B at 16 B/cycle = 3 cycles, hidden; fill 2  ->  7 cycles
    assert r.cycles == 7
    assert r.breakdown["pipeline_fill"] == 2 and r.breakdown["memory_stall"] == 0
    # the zero centre tap meets the 4 non-zero activations once each: 4 gated products
    assert (r.macs_actual, r.macs_gated, r.macs_effectual, r.macs_dense) == (14, 4, 14, 81)
    assert r.actions["dram_byte"] == 46
    # centre output masked off: 1 3 2 2 | 2 1 2 1 -> ceil 1 2 1 1 | 1 1 1 1 -> 2 + 1 = 3, + fill 2
    om = np.ones((3, 3), bool)
    om[1, 1] = False
    assert run_instance(m, LayerInstance(L, 0, acts=acts, weights=w, out_mask=om)).cycles == 5
