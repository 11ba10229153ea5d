"""The contract every accelerator model satisfies, checked on every registered preset and on the toy plug-in.

One test, parametrised over (preset, layer): every preset that ``accelsim.config.list_presets()`` finds
(the built-in model packages, installed entry points) plus ``examples/toy_model`` loaded as a plug-in,
times a handful of small seeded layers.  A model that declines a layer (``unsupported_reason``) is
skipped for it with its own reason.  Per-model test files keep only their hand-worked numbers.

Invariants (see :mod:`accelsim.base`):

* cycles: ``sum(breakdown) == cycles`` (non-negative integers); ``cycles * peak_macs_per_cycle >=
  macs_actual``.
* compute counts (base.py: dense = algorithmic; effectual = non-zero w x non-zero a x active output;
  actual = what the multipliers performed, ineffectual work included; skipped = ineffectual MACs
  eliminated with their cycles; gated = ineffectual MACs that kept their slot, not their energy).
  Every algorithmic MAC is either performed, skipped or gated, and effectual work is never skipped
  or gated::

      macs_dense     == layer.macs_dense == macs_actual + macs_skipped + macs_gated
      macs_effectual == workloads.effectual_macs(inst),   0 <= macs_effectual <= macs_actual
      macs_skipped >= 0,  macs_gated >= 0

* energy: every emitted action has a row in the config's energy table; every declared ``ACTIONS``
  entry has a row; when ``ACTIONS`` is declared, every emitted action is in it.
* functional mode: the output equals ``torch.nn.functional.conv2d`` in float64 (rtol 1e-9) on the
  outputs the mask keeps; masked-off outputs are either all zero or all equal to the reference
  (the IR leaves them to the design); skipped for a model that returns no output.
* determinism: the same inputs give the same cycles, breakdown, actions and MAC counts twice on one
  instance, on a fresh instance, and in functional mode.
* config: every field has a non-empty source and a unit.  Unit rule: ``""`` is allowed for str and
  bool fields and for dimensionless numbers only; a number counts as dimensionless when its schema
  bounds it to [0, 1] (a fraction or density) or it is a random seed (key ending in ``seed``).
  Every other int/float field needs a unit (counts have one too: "PEs", "entries", "bits").
* sampling (a consistency check): a model whose ``sampling_units`` names work units gives exactly its
  exhaustive result from the sum of all units (:func:`accelsim.sampling.check_decomposition`), and a
  sampled result still has ``sum(breakdown) == cycles`` and ``dense == actual + skipped + gated``.
* ``area()``: total > 0, every component >= 0 with a source.  ``iso_overrides(4.0)`` touches only
  schema fields and gives a valid config.  ``dram_bytes_per_s()`` is None or > 0.

A known violation is listed in :data:`KNOWN` with its precise reason: that case is an xfail while
the other invariants of the case still have to hold, and it fails once the violation is gone (so the
entry gets deleted).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from accelsim.config import COMMON_FIELDS, list_presets
from accelsim.engine import make_model, run_instance
from accelsim.registry import load_plugin
from accelsim.sampling import SampleSpec, check_decomposition, sample_layer
from workloads import Layer, LayerInstance, effectual_macs

TOY = Path(__file__).resolve().parents[2] / "examples" / "toy_model"
if str(TOY) not in sys.path:
    sys.path.insert(0, str(TOY))
load_plugin("toy_accel")  # the out-of-tree example, as `--plugin toy_accel` would load it

PRESETS = list_presets()


def _layers() -> dict[str, LayerInstance]:
    rng = np.random.default_rng(20261129)

    def sparse(shape, density, nonneg=False):
        x = rng.standard_normal(shape)
        return (np.abs(x) if nonneg else x) * (rng.random(shape) < density)

    def inst(L, density=0.6, out_mask=None):
        return LayerInstance(L, 0, acts=sparse(L.act_shape, density, nonneg=True), weights=L.weights,
                             out_mask=out_mask)

    out = [
        inst(Layer("conv3x3", "conv", C=6, K=8, H=7, W=7, R=3, S=3, stride=1, padding=1,
                   weights=sparse((8, 6, 3, 3), 0.6))),
        inst(Layer("conv1x1", "conv", C=8, K=8, H=6, W=6, weights=sparse((8, 8, 1, 1), 0.7),
                   bias=rng.standard_normal(8)), density=0.5),
        inst(Layer("fc", "fc", C=32, K=16, weights=sparse((16, 32), 0.5), bias=rng.standard_normal(16))),
        inst(Layer("dw3x3", "depthwise", C=8, K=8, H=6, W=6, R=3, S=3, padding=1, groups=8,
                   weights=sparse((8, 1, 3, 3), 0.7), bias=rng.standard_normal(8))),
        # the dynamic head's spatial gate: an output mask (P, Q) shared by all K outputs
        inst(Layer("masked", "conv", C=6, K=8, H=8, W=8, R=3, S=3, padding=1, weights=sparse((8, 6, 3, 3), 0.6)),
             out_mask=rng.random((8, 8)) < 0.4),
        inst(Layer("conv3x3_s2", "conv", C=6, K=8, H=9, W=9, R=3, S=3, stride=2, padding=1,
                   weights=sparse((8, 6, 3, 3), 0.6))),
    ]
    return {i.name: i for i in out}


LAYERS = _layers()

#: (model, layer or "*", check) -> why the model breaks that invariant today (precise, to be fixed in the model)
KNOWN: dict[tuple[str, str, str], str] = {}


def _known(model: str, layer: str, check: str) -> str | None:
    return KNOWN.get((model, layer, check)) or KNOWN.get((model, "*", check))


def _dimensionless(key: str, f) -> bool:
    fraction = f.min is not None and f.min >= 0 and f.max is not None and f.max <= 1
    return fraction or key.rsplit(".", 1)[-1].endswith("seed")


def _reference(inst: LayerInstance) -> np.ndarray:
    torch = pytest.importorskip("torch")
    L = inst.layer
    x = torch.tensor(inst.acts_dense(np.float64))[None]
    w = torch.tensor(inst.weights_dense(np.float64))
    b = None if L.bias is None else torch.tensor(np.asarray(L.bias, np.float64))
    if L.kind == "fc":
        return torch.nn.functional.linear(x.reshape(1, -1), w.reshape(L.K, L.C), b)[0].numpy().reshape(L.K, 1, 1)
    return torch.nn.functional.conv2d(x, w, b, stride=L.stride, padding=L.padding, dilation=L.dilation,
                                      groups=L.groups)[0].numpy()


def _signature(r) -> tuple:
    return (int(r.cycles), {k: int(v) for k, v in r.breakdown.items()}, {k: float(v) for k, v in r.actions.items()},
            (r.macs_dense, r.macs_effectual, r.macs_actual, r.macs_skipped, r.macs_gated))


@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("preset", PRESETS)
def test_contract(preset, layer):
    m = make_model(preset)
    inst = LAYERS[layer]
    why = m.unsupported_reason(inst.layer)
    if why:
        pytest.skip(f"{preset} declines {layer}: {why}")
    cls, cfg, L = type(m), m.cfg, inst.layer
    fails: dict[str, list[str]] = {}

    def expect(check: str, ok, msg: str):
        if not ok:
            fails.setdefault(check, []).append(msg)

    r = run_instance(m, inst)

    # cycles
    bd = r.breakdown
    expect("breakdown", all(float(v) == int(v) and v >= 0 for v in bd.values()), f"non-integer or negative: {bd}")
    expect("breakdown", sum(bd.values()) == r.cycles, f"sum(breakdown) {sum(bd.values())} != cycles {r.cycles}")
    peak = m.peak_macs_per_cycle()
    expect("peak", peak > 0 and r.cycles * peak >= r.macs_actual,
           f"cycles {r.cycles} x peak {peak} < macs_actual {r.macs_actual}")

    # compute counts
    d, e, a, s, g = r.macs_dense, r.macs_effectual, r.macs_actual, r.macs_skipped, r.macs_gated
    expect("mac_identity", d == L.macs_dense, f"macs_dense {d} != layer.macs_dense {L.macs_dense}")
    expect("mac_identity", a + s + g == d, f"actual {a} + skipped {s} + gated {g} = {a + s + g} != dense {d}")
    expect("mac_identity", s >= 0 and g >= 0, f"negative skipped {s} or gated {g}")
    expect("effectual", e == effectual_macs(inst), f"macs_effectual {e} != effectual_macs {effectual_macs(inst)}")
    expect("effectual", 0 <= e <= a, f"effectual {e} not within [0, actual {a}]")

    # energy rows and declared actions
    table = m.energy
    missing = sorted(k for k in r.actions if k not in table)
    expect("energy_rows", not missing, f"emitted actions without a row in {table.name}: {missing}")
    expect("energy_rows", all(k in table for k in cls.ACTIONS),
           f"declared ACTIONS without a row in {table.name}: {sorted(k for k in cls.ACTIONS if k not in table)}")
    if cls.ACTIONS:
        undeclared = sorted(set(r.actions) - set(cls.ACTIONS))
        expect("actions_declared", not undeclared, f"emitted but not in ACTIONS: {undeclared}")
    expect("energy_rows", all(math.isfinite(float(v)) and v >= 0 for v in r.actions.values()),
           f"action counts must be finite and >= 0: {r.actions}")

    # determinism (same instance, fresh instance) and functional mode not changing the timing
    sig = _signature(r)
    expect("determinism", _signature(run_instance(m, inst)) == sig, "second run on the same instance differs")
    expect("determinism", _signature(run_instance(make_model(preset), inst)) == sig, "fresh instance differs")
    rf = run_instance(m, inst, functional=True)
    expect("functional_timing", _signature(rf) == sig, "functional mode changes cycles, actions or MAC counts")

    # functional output
    no_output = rf.output is None
    if not no_output:
        ref = _reference(inst)
        out = np.asarray(rf.output, dtype=np.float64)
        if out.size != ref.size:
            expect("functional", False, f"output shape {out.shape} != reference {ref.shape}")
        else:
            out = out.reshape(ref.shape)
            keep = inst.out_mask_or_ones()
            atol = 1e-9 * max(1.0, float(np.abs(ref).max()))
            ok = np.allclose(out[:, keep], ref[:, keep], rtol=1e-9, atol=atol)
            expect("functional", ok, f"kept outputs differ from torch: max abs err "
                                     f"{float(np.abs(out[:, keep] - ref[:, keep]).max()):.3g}")
            off = out[:, ~keep]
            expect("functional", not off.size or not off.any() or np.allclose(off, ref[:, ~keep], rtol=1e-9, atol=atol),
                   "masked-off outputs are neither all zero nor the reference values")

    # config: units and sources
    schema = {**COMMON_FIELDS, **cls.FIELDS}
    for k in cfg.values:
        f = schema[k]
        expect("sources", str(cfg.sources.get(k) or "").strip(), f"field {k!r} has no source")
        if not cfg.units.get(k) and f.type in (int, float) and not _dimensionless(k, f):
            expect("units", False, f"numeric field {k!r} has unit ''")

    # sampling (accelsim.sampling): a model that names its work units adds them up to its exhaustive result
    # exactly (consistency: its loop is a sum over them), and a sampled result keeps the result invariants
    mi = inst.materialize(0)
    bad = check_decomposition(m, mi)
    expect("sampling", not bad, "units do not add up to the exhaustive result: " + "; ".join(bad[:3]))
    space = m.sampling_units(mi)
    if space is not None and space.n_units >= 2:
        rs = sample_layer(m, mi, SampleSpec(mode="fraction", fraction=0.5, min_units=2, seed=1), space,
                          lambda: m.simulate_layer(mi))
        expect("sampling", sum(rs.breakdown.values()) == rs.cycles, f"sampled breakdown sums to "
                                                                     f"{sum(rs.breakdown.values())} != {rs.cycles}")
        expect("sampling", rs.macs_actual + rs.macs_skipped + rs.macs_gated == rs.macs_dense,
               f"sampled dense {rs.macs_dense} != actual + skipped + gated")

    # area, iso-throughput overrides, DRAM bandwidth
    rep = m.area()
    expect("area", rep.total_mm2 > 0, f"area total {rep.total_mm2} mm^2")
    for c in rep.components:
        expect("area", c.area_mm2 >= 0 and str(c.source or "").strip(), f"component {c.name}: {c.area_mm2} mm^2, "
                                                                         f"source {c.source!r}")
    iso = m.iso_overrides(4.0)
    expect("iso", set(iso) <= set(schema), f"iso_overrides touch fields outside the schema: {set(iso) - set(schema)}")
    if set(iso) <= set(schema):
        try:
            cfg.with_overrides(iso)
        except Exception as ex:  # noqa: BLE001 -- any failure to build the iso config breaks the contract
            expect("iso", False, f"iso config does not validate: {ex}")
    bw = m.dram_bytes_per_s()
    expect("dram", bw is None or (math.isfinite(bw) and bw > 0), f"dram_bytes_per_s() = {bw}")

    # verdict: unexpected failures fail; known ones xfail (and must still occur); no output -> skip
    model = cfg.model
    unexpected = {c: v for c, v in fails.items() if not _known(model, layer, c)}
    assert not unexpected, f"{preset} on {layer}: " + "; ".join(f"{c}: {' | '.join(v)}" for c, v in unexpected.items())
    stale = [c for (mo, la, c) in KNOWN if mo == model and la in (layer, "*") and c not in fails]
    assert not stale, f"{preset} on {layer}: known violation(s) {stale} no longer occur; delete them from KNOWN"
    if fails:
        pytest.xfail("; ".join(f"{_known(model, layer, c)} [{' | '.join(v)}]" for c, v in fails.items()))
    if no_output:
        pytest.skip(f"{model} has no functional mode (simulate_layer(functional=True) returned no output)")
