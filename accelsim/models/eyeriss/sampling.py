"""Eyeriss v2's processing passes as sampling units (``--sample``, :mod:`accelsim.sampling`).

A pass is one (output-channel tile, channel tile, filter-row tile, output-row tile) of the chosen RS+
mapping: every PE works on one tile and the pass lasts as long as its slowest PE or its data delivery
(:func:`~.kernel.array_pass_units`).  Passes are independent (the NoC's multicast de-duplication is per
pass and cluster) and the layer's array time is their sum, so a pass is a unit: its cycles, breakdown
causes, NoC / GLB / spad-write actions and its accumulation groups' compute times (``aux``) add up.
What belongs to no pass is exact and added by :meth:`EyerissPasses.result`: the per-iact counters
(spad reads, MACs, SIMD slots: :meth:`~.layerarrays.LayerArrays.counts`, layer totals of the data), the
DRAM traffic of the tiling and the DRAM stall ``max(0, DRAM cycles - array time)``, taken on the
estimated array time.

The mapping is searched once, in the constructor (:meth:`~.model.EyerissV2.map_layer`, the same search
as the exhaustive run).  Ranking the best ``mapper.top_k`` candidates walks each on the real data; the
chosen candidate's walked passes are then kept and :meth:`EyerissPasses.run` reads them; only when the
choice needs no walk (one legal candidate, ``mapper.top_k: 1``, or a pinned mapping) does ``run`` walk
just the selected passes.  Work proxy (the strata): per pass, the busiest PE's MAC-stage cycles or fed
iacts (:meth:`~.layerarrays.LayerArrays.tiles`), a numpy max over the pass's tiles.

The exhaustive :meth:`~.model.EyerissV2.simulate_layer` is ``result(sum over all passes)`` by
construction: it builds this space and sums every pass.
"""

from __future__ import annotations

import numpy as np

from ...sampling import UnitResults, UnitSpace
from .kernel import (
    A_ACTIVE,
    A_ADDR_OVH,
    A_FILL,
    A_FRAG,
    A_I_NOC,
    A_I_SPADW,
    A_IADDR,
    A_IDEAL,
    A_IMB,
    A_P_GLB_R,
    A_P_GLB_W,
    A_P_NOC,
    A_PASSES,
    A_ST_I,
    A_ST_P,
    A_ST_W,
    A_TOTAL,
    A_W_NOC,
    A_W_SPADW,
    NACC,
    array_pass_units,
)

#: breakdown cause -> accumulator slot of one pass (the DRAM stall is the layer's: :meth:`EyerissPasses.result`)
BREAKDOWN = {"busy": A_IDEAL, "pe_address_stall": A_ADDR_OVH, "spatial_fragmentation": A_FRAG,
             "load_imbalance": A_IMB, "pipeline_fill_drain": A_FILL, "noc_iact_stall": A_ST_I,
             "noc_weight_stall": A_ST_W, "psum_glb_stall": A_ST_P}
#: action -> accumulator slot of one pass (the part of the action a pass does; the rest is layer-level)
ACTIONS = {"iact_spad_meta_read": A_IADDR, "iact_spad_write": A_I_SPADW, "weight_spad_write": A_W_SPADW,
           "glb_iact_read": A_I_NOC, "noc_iact": A_I_NOC, "glb_psum_read": A_P_GLB_R, "glb_psum_write": A_P_GLB_W,
           "noc_weight": A_W_NOC, "noc_psum": A_P_NOC}
#: other additive numbers of a pass that the result needs
AUX = {"pes_active": A_ACTIVE, "passes": A_PASSES}
MEMORY = ("glb_iact_read", "glb_psum_read", "glb_psum_write", "noc_iact", "noc_weight", "noc_psum")
GROUP = "group_compute_{:03d}"


def pass_proxy(work: np.ndarray, feed: np.ndarray, m, grid) -> np.ndarray:
    """Per pass (loop order of :func:`~.kernel.array_pass_units`), the busiest PE's MAC-stage cycles or fed
    iacts: the max of ``max(work, feed)`` over the tiles of the pass."""
    n_mt, n_ct, n_rt, n_ft = grid
    nMb, nCb, R, P = work.shape
    t = np.zeros((n_mt * m.Mk * m.Mc, n_ct * m.Ck * m.Cr, n_rt * m.Rsp, n_ft * m.Fk * m.Fc), dtype=np.int64)
    t[:nMb, :nCb, :R, :P] = np.maximum(work, feed)
    t = t.reshape(n_mt, m.Mk, m.Mc, n_ct, m.Ck, m.Cr, n_rt, m.Rsp, n_ft, m.Fk, m.Fc)
    return t.max(axis=(1, 2, 4, 5, 7, 9, 10)).reshape(-1).astype(np.float64)


class EyerissPasses(UnitSpace):
    """The processing passes of one layer under its searched mapping (module doc)."""

    unit = "processing pass"

    def __init__(self, model, inst, mapping=None, walk: bool = True, proxy: bool = True):
        self.model = model
        m, dram, ncand, ld, walked = model.map_layer(inst, mapping, walk=walk)
        self.m, self.dram, self.ncand, self.ld, self._walked = m, dram, ncand, ld, walked
        self.grid = model.pass_grid(ld, m)
        self.ngroups = m.Fk * m.Mk * m.Fc * m.Mc
        self._args = None
        n = int(np.prod(self.grid))
        pr = pass_proxy(*ld.tiles(m.M0, m.C0), m, self.grid) if proxy else None
        super().__init__(inst, n, pr)

    def _rows(self, sel: np.ndarray):
        if self._walked is not None:
            rows, grows = self._walked
            return rows[sel], grows[sel]
        if self._args is None:
            _, ft_chunk = self.model._dram(self.ld, self.m)
            self._args = self.model.pass_args(self.ld, self.m, ft_chunk)
        return array_pass_units(sel, *self._args)

    def run(self, sel) -> UnitResults:
        sel = np.ascontiguousarray(sel, dtype=np.int64)
        rows, grows = self._rows(sel)
        cfg = self.model.cfg
        zero = np.zeros(len(sel))
        acts = {k: rows[:, s] for k, s in ACTIONS.items()}
        if not cfg["pe.compressed_spads"]:
            acts["iact_spad_meta_read"] = zero
        if cfg["memory.ideal"]:
            acts.update({k: zero for k in MEMORY})
        aux = {k: rows[:, s] for k, s in AUX.items()}
        aux.update({GROUP.format(g): grows[:, g] for g in range(self.ngroups)})
        return UnitResults(cycles=rows[:, A_TOTAL], breakdown={k: rows[:, s] for k, s in BREAKDOWN.items()},
                           actions=acts, macs={}, aux=aux)

    def result(self, totals: UnitResults):
        def one(d, k):
            v = d.get(k)
            return 0.0 if v is None else float(v[0])
        acc = np.zeros(NACC, dtype=np.float64)
        acc[A_TOTAL] = float(totals.cycles[0])
        for k, s in BREAKDOWN.items():
            acc[s] = one(totals.breakdown, k)
        for k, s in ACTIONS.items():
            acc[s] = one(totals.actions, k)
        for k, s in AUX.items():
            acc[s] = one(totals.aux, k)
        groups = max((one(totals.aux, GROUP.format(g)) for g in range(self.ngroups)), default=0.0)
        return self.model.layer_result(self.inst, self.ld, self.m, self.dram, self.ncand, acc, groups)
