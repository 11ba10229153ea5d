"""Results shared across targets (``AcceleratorModel.reuse_key``, ``engine.simulate(..., reuse=)``): models with
equal keys on an instance give the same LayerResult, so a compare that runs both simulates it once.  SCNN's
output-mask-skipping variant is SCNN wherever a layer has no output mask (the gate-free baseline head)."""

from dataclasses import replace

import numpy as np
import pytest
from random_layers import random_inst

from accelsim.engine import make_model, run_instance, simulate, with_sampling
from workloads import Layer, Workload

CASES = [dict(C=6, K=12, H=14, W=10, R=3, pad=1, da=0.5, dw=0.5, seed=3),
         dict(C=8, K=16, H=12, W=12, R=1, da=1.0, dw=1.0, seed=1),
         dict(C=6, K=10, H=11, W=9, R=3, pad=1, stride=2, da=0.4, dw=0.6, seed=4),
         dict(C=8, K=8, H=10, W=10, R=3, pad=1, groups=8, da=0.7, dw=1.0, seed=2)]


@pytest.mark.parametrize("sample", [None, "auto"])
@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_scnn_and_maskskip_share_a_key_and_a_result_without_a_mask(case, sample):
    inst = random_inst(**case)
    a, b = (with_sampling(make_model(p), sample, 0) for p in ("scnn", "scnn-maskskip"))
    ka, kb = a.reuse_key(inst), b.reuse_key(inst)
    assert ka is not None and ka == kb
    assert run_instance(a, inst).to_dict() == run_instance(b, inst).to_dict()
    # an all-ones mask is no mask either
    ones = replace(inst, out_mask=np.ones((inst.layer.P, inst.layer.Q), dtype=bool))
    assert b.reuse_key(ones) == ka and run_instance(b, ones).to_dict() == run_instance(a, inst).to_dict()


def test_no_key_with_a_mask_and_different_keys_for_different_machines():
    inst = random_inst(C=6, K=12, H=14, W=10, R=3, pad=1, seed=3)
    masked = random_inst(C=6, K=12, H=14, W=10, R=3, pad=1, seed=3, mask_density=0.5)
    scnn = make_model("scnn")
    assert scnn.reuse_key(masked) is None
    # the masked results differ, which is why no key is given there
    assert run_instance(scnn, masked).to_dict() != run_instance(make_model("scnn-maskskip"), masked).to_dict()
    others = [make_model("scnn", {"accumulator.fifo_depth": 4}), make_model("scnn-4x256"),
              with_sampling(make_model("scnn"), "auto", 1), make_model("scnn", {"tech_node_nm": 28})]
    keys = {scnn.reuse_key(inst)} | {m.reuse_key(inst) for m in others}
    assert len(keys) == 1 + len(others)
    loop = make_model("scnn")
    loop.fast_paths = False   # its result says which path ran
    assert loop.reuse_key(inst) != scnn.reuse_key(inst)
    assert make_model("eie").reuse_key(inst) is None       # the default: nothing shared


def test_simulate_reuses_unmasked_layers_and_gives_the_same_report():
    wl = Workload("reuse")
    wl.add_layer(Layer("plain", "conv", C=8, K=16, H=16, W=16, R=3, S=3, padding=1, weight_density=0.6,
                       act_density=0.5))
    wl.add_layer(Layer("gated", "conv", C=8, K=16, H=16, W=16, R=3, S=3, padding=1, weight_density=0.6,
                       act_density=0.5, out_density=0.4))
    reuse: dict = {}
    first = simulate(wl, "scnn", jobs=1, seed=2, progress=False, reuse=reuse)
    assert len(reuse) == 1                     # the unmasked layer; the gated one has a mask
    calls = []
    model = make_model("scnn-maskskip")
    orig = model.simulate_layer
    model.simulate_layer = lambda inst, functional=False: calls.append(inst.layer.name) or orig(inst, functional)
    shared = simulate(wl, model, jobs=1, seed=2, progress=False, reuse=reuse)
    assert calls == ["gated"]                  # the plain layer came from scnn's run
    alone = simulate(wl, "scnn-maskskip", jobs=1, seed=2, progress=False)
    assert shared.hash == alone.hash and shared.hash != first.hash
    # another seed is another task (synthetic data), not a reuse
    simulate(wl, "scnn-maskskip", jobs=1, seed=3, progress=False, reuse=reuse)
    assert len(reuse) == 2
