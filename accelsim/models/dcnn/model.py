"""DCNN and DCNN-opt: SCNN's dense baselines (Parashar et al., ISCA 2017, Sec. V).

DCNN has the same 1024 multipliers (8 x 8 PEs x F x I = 4 x 4) and runs the same
planar-tiled, input-stationary dataflow as SCNN with *dense* Cartesian products
(PT-IS-CP-dense, the paper's stepping stone to SCNN): the layer plan (tiles, output
halos, Kc groups, barrier rounds, planar passes, FC mapping, stride phases, grouped-layer
fallback) is :func:`accelsim.models.common.planar.plan_layer`, so a comparison isolates what
sparsity changes.  Dense operands need no scatter crossbar: the products of a dense
F x I step go to fixed, distinct accumulator banks, so there are no bank conflicts.
(DNNsim's ``dense_cycles`` counts SCNN's dense baseline the same way.)

Per barrier round and PE, for every input channel and stride phase the multiplier array
takes ``ceil(pixels_of_tile / I) * ceil(Kc * taps / F)`` cycles: dense data makes the
cycle count data-independent, so it is evaluated in closed form (vectorised numpy),
exactly the count a cycle loop over dense vectors would give.  Halo exchange, PPU drain
and DRAM overlap follow SCNN's rules (:func:`accelsim.models.common.planar.timeline`).

DCNN-opt (``zero_gating``, ``dram_compressed_acts``): same cycles; multiplies (and
accumulator updates) with a zero operand are gated (energy only, ``macs_gated``), and
activations travel to/from DRAM run-length compressed.  The activation RAM is 2x SCNN's
(dense 16-bit data; paper).

Breakdown keys: ``busy`` (effectual), ``zero_operand`` (in-plane products with a zero
operand, which a dense design cannot skip), ``masked_output``, ``out_of_plane``,
``fragmentation``, ``load_imbalance``, ``halo``, ``ppu_drain``, ``memory_stall``.
"""

from __future__ import annotations

import numpy as np

from workloads import LayerInstance
from workloads.effectual import effectual_macs, nonzero_outputs

from ...area import AreaReport
from ...base import AcceleratorModel, LayerResult
from ...config import Field
from ...errors import UnsupportedLayer
from ...formats.rle import rle_entry_count
from ...registry import register_model
from ..common.planar import (
    GEOMETRY_FIELDS,
    PlanarArrayMixin,
    apportion,
    halo_and_drain,
    output_spill_bytes_pass,
    phase_counts,
    plan_with_capacity,
    round_timeline,
    timeline,
)
from .area import dcnn_area


def _valid_taps_1d(n_out, n_in, pad, R, dil, s):
    """(n_out, R) bool: output index o reads an in-plane input through tap r."""
    o = np.arange(n_out)[:, None]
    y = o * s - pad + np.arange(R)[None, :] * dil
    return (y >= 0) & (y < n_in)


def dataflow_output(acts: np.ndarray, w: np.ndarray, L, plan) -> np.ndarray:
    """(K, P, Q) float64 output computed the way DCNN computes it: per barrier round, each PE takes the
    dense Cartesian product of its own input tile (all channels of its convolution group, input
    stationary) with the taps of its Kc-group into a private footprint accumulator
    (``Kc x Pacc x Qacc``, the owned outputs plus the output halo); at the round's end the halo
    partial sums go to the PEs that own those outputs (a sum, so adding the footprint into the owners'
    outputs is the exchange).  Products whose output falls outside the plane are computed and
    discarded, as the hardware does.  No bias, no mask (the PPU's work)."""
    s, pad, dil = L.stride, L.padding, L.dilation
    K, Cg, R, S = w.shape
    out = np.zeros((K, L.P, L.Q))
    for r_ in range(plan.round_tile.shape[0]):
        for pe in range(plan.round_tile.shape[1]):
            t, g = plan.round_tile[r_, pe], plan.round_group[r_, pe]
            if t < 0 or g < 0:
                continue
            y0, y1, x0, x1 = plan.tiles[t]
            k0, k1, cg = plan.kgroups[g]
            a = acts[cg * Cg:(cg + 1) * Cg, y0:y1, x0:x1]
            p0, q0 = (plan.foot[t, 0], plan.foot[t, 2]) if plan.mode == "planar" else (0, 0)
            acc = np.zeros((k1 - k0, plan.Pacc, plan.Qacc))        # this PE's footprint accumulators
            ys, xs = np.arange(y0, y1), np.arange(x0, x1)
            for r in range(R):
                py = ys + pad - r * dil
                vy = (py % s == 0) & (py >= 0) & (py // s < L.P)
                for c in range(S):
                    px = xs + pad - c * dil
                    vx = (px % s == 0) & (px >= 0) & (px // s < L.Q)
                    if not vy.any() or not vx.any():
                        continue                                     # all out of plane: discarded
                    prod = np.einsum("kc,cyx->kyx", w[k0:k1, :, r, c], a[:, vy][:, :, vx])
                    iy, ix = py[vy] // s - p0, px[vx] // s - q0
                    assert iy.min() >= 0 and iy.max() < plan.Pacc and ix.min() >= 0 and ix.max() < plan.Qacc, \
                        "product outside its PE's footprint"
                    acc[:, iy[:, None], ix[None, :]] += prod
            ph, qh = min(plan.Pacc, L.P - p0), min(plan.Qacc, L.Q - q0)
            out[k0:k1, p0:p0 + ph, q0:q0 + qh] += acc[:, :ph, :qh]     # owned outputs + halo exchange
    return out


def _nonzero_pairs(inst: LayerInstance, s: int, pad: int, dil: int) -> int:
    """Products with both operands non-zero, out-of-plane ones included (what a zero-gating multiplier array
    fires): per input channel and stride phase, non-zero activations of the phase x non-zero weights (over the
    channel's group's filters) of the taps that read that phase."""
    L = inst.layer
    Kg = L.K // L.groups
    am, wm = inst.act_mask(), inst.weight_mask()
    a_ph = np.zeros((L.C, s * s), dtype=np.int64)
    for phy in range(s):
        for phx in range(s):
            # the rows y with (y + pad) mod s == phy are y = (phy - pad) mod s, then every s-th: a strided view
            a_ph[:, phy * s + phx] = np.count_nonzero(am[:, (phy - pad) % s::s, (phx - pad) % s::s], axis=(1, 2))
    tph = (((np.arange(L.R) * dil) % s)[:, None] * s + ((np.arange(L.S) * dil) % s)[None, :]).ravel()
    # non-zero weights per (input channel, tap), summed over the filters of the channel's group
    wc = wm.reshape(L.groups, Kg, L.C // L.groups, L.R * L.S).sum(axis=1, dtype=np.int64).reshape(L.C, -1)
    w_ph = wc @ (tph[:, None] == np.arange(s * s)[None, :]).astype(np.int64)   # (C, phases)
    return int((a_ph * w_ph).sum())


@register_model("dcnn")
class DCNN(PlanarArrayMixin, AcceleratorModel):
    """Dense PT-IS-CP baseline with SCNN's multipliers (ISCA 2017 Sec. V); see the module docstring."""
    DATAPATH_FIELD = ("value_bits", 1)

    FIELDS = {
        **GEOMETRY_FIELDS,
        "iaram_bytes": Field(int, "bytes", 20480, doc="dense input activation RAM per PE",
                             source="SCNN paper: 2x SCNN's activation SRAM"),
        "oaram_bytes": Field(int, "bytes", 20480, doc="dense output activation RAM per PE",
                             source="SCNN paper: 2x SCNN's activation SRAM"),
        "zero_gating": Field(bool, "", False, doc="gate multiplies/accumulates with a zero operand (DCNN-opt)",
                             source="SCNN paper Sec. V"),
        "dram_compressed_acts": Field(bool, "", False, doc="activations run-length compressed in DRAM (DCNN-opt)",
                                      source="SCNN paper Sec. V"),
    }
    ACTIONS = ("mult_16b", "acc_read_24b", "acc_add_24b", "acc_write_24b", "noc_psum_24b", "iaram_read_16b",
               "wfifo_read_64b", "wfifo_write_64b", "ppu_op_24b", "oaram_write_16b", "dram_byte")
    MAPPING_NOTES = {
        "conv": "as SCNN (planar tiles, Kc groups, output halos) with dense F x I products",
        "depthwise": "fallback: each group as its own 1-channel convolution",
        "fc": "output channels dealt to PEs, input broadcast (25 % of peak)",
    }

    def area(self) -> AreaReport:
        """SCNN's PE area table (16 nm) without the scatter crossbar (see :mod:`accelsim.models.dcnn.area`)."""
        return dcnn_area(self.cfg)

    def simulate_layer(self, inst: LayerInstance, functional: bool = False) -> LayerResult:
        cfg, L = self.cfg, inst.layer
        why = self.unsupported_reason(L)
        if why:
            raise UnsupportedLayer(f"{cfg.name}: layer {L.name!r}: {why}")
        rows, cols, F, I = cfg["pe_rows"], cfg["pe_cols"], cfg["multipliers.F"], cfg["multipliers.I"]
        npe, FI, vb = rows * cols, F * I, cfg["value_bits"]
        eb = vb + cfg["index_bits"]
        s, pad, dil = L.stride, L.padding, L.dilation
        Cg = L.C // L.groups
        iaram_entries = cfg["iaram_bytes"] * 8 // vb

        def tile_entries(plan):
            t = plan.tiles
            return (t[:, 1] - t[:, 0]) * (t[:, 3] - t[:, 2]) * L.C

        plan, act_dram, _ = plan_with_capacity(L, cfg, tile_entries, iaram_entries)
        T = plan.tiles.shape[0]
        # pixels of each tile per phase, taps of each group per phase
        npy = phase_counts(plan.tiles[:, 0], plan.tiles[:, 1], pad, s)
        npx = phase_counts(plan.tiles[:, 2], plan.tiles[:, 3], pad, s)
        npix = (npy[:, :, None] * npx[:, None, :]).reshape(T, s * s)              # (T, nph)
        ry = np.bincount((np.arange(L.R) * dil) % s, minlength=s)
        sx = np.bincount((np.arange(L.S) * dil) % s, minlength=s)
        taps = (ry[:, None] * sx[None, :]).reshape(s * s)                          # (nph,)
        kc = plan.kgroups[:, 1] - plan.kgroups[:, 0]
        nw = kc[:, None] * taps[None, :]                                           # (G, nph)
        rt, rg = plan.round_tile, plan.round_group
        act = (rt >= 0) & (rg >= 0)
        a_px = np.where(act[:, :, None], npix[np.maximum(rt, 0)], 0)               # (NR, NPE, nph)
        w_n = np.where(act[:, :, None], nw[np.maximum(rg, 0)], 0)
        steps = Cg * (-(-a_px // I) * -(-w_n // F)).sum(axis=2)
        prods = Cg * (a_px * w_n).sum(axis=2)
        # weight loads: a block that fits the FIFO is loaded once per (round, channel)
        fits = -(-w_n // F) <= cfg["weight_fifo.entries"]
        loads = Cg * np.where(fits, w_n, w_n * -(-a_px // I)).sum(axis=2)

        # exact product classes from the real data
        mask = inst.out_mask_or_ones()
        eff = effectual_macs(inst)
        # without an output mask the unmasked count is the same product count: not taken twice
        eff_unmasked = (effectual_macs(LayerInstance(L, inst.image, acts=inst.acts, weights=inst.weights))
                        if inst.masked() else eff)
        vy = _valid_taps_1d(L.P, L.H, pad, L.R, dil, s)
        vx = _valid_taps_1d(L.Q, L.W, pad, L.S, dil, s)
        inplane_pos = vy.sum(1)[:, None] * vx.sum(1)[None, :] * Cg                  # (P, Q) per output channel
        inplane = int(inplane_pos.sum()) * L.K
        masked = int((inplane_pos * ~mask).sum()) * L.K
        zero_op = inplane - masked - eff
        # zero_op: in-plane products to active outputs with a zero operand
        total_prod = int(prods.sum())
        oop = total_prod - inplane
        # non-zero operand pairs (incl. out-of-plane ones): a zero-gating machine's multiplies (reported by both)
        nzpairs = _nonzero_pairs(inst, s, pad, dil)
        nz_inplane = eff_unmasked

        # memory
        halo_r, drain_r, halo_psums, drained = halo_and_drain(plan, cfg)
        comp = bool(cfg["dram_compressed_acts"])
        act_entries_c = rle_entry_count(inst.act_mask().ravel(), cfg["index_bits"]) if comp else 0
        tile_px = (plan.tiles[:, 1] - plan.tiles[:, 0]) * (plan.tiles[:, 3] - plan.tiles[:, 2])
        dram_in = np.zeros(plan.n_pass)
        if act_dram:
            frac = np.array([tile_px[t].sum() for t in plan.pass_tiles]) / max(1, L.H * L.W)
            if plan.mode == "channel":
                frac = frac * rt.shape[0]
            dram_in = frac * (act_entries_c * eb / 8 if comp else L.C * L.H * L.W * vb / 8)
        w_round = loads.sum(axis=1) if plan.mode == "channel" else loads.max(axis=1)
        dram_w = np.bincount(plan.round_pass, weights=w_round * vb / 8, minlength=plan.n_pass)
        ob = eb if comp else vb
        # outputs written back: compressed, only the non-zero ones (a dense machine writes every output)
        per_pos = nonzero_outputs(inst) if comp else np.full((L.P, L.Q), L.K)
        if plan.mode == "channel":
            out_tile, out_total = None, int(per_pos.sum())
        else:
            out_tile = np.bincount(plan.owner.ravel(), weights=per_pos.ravel(), minlength=T).astype(np.int64)
            out_total = int(per_pos.sum())
        dram_out = output_spill_bytes_pass(plan, cfg, out_tile, out_total, ob, cfg["oaram_bytes"])
        dram_pass = dram_in + dram_w + dram_out
        cycles, T_r, ppu_r, mem_stall = timeline(plan, cfg, steps, halo_r, drain_r, dram_pass)

        tot_steps = int(steps.sum())
        parts = {
            "busy": eff / FI / npe,
            "zero_operand": zero_op / FI / npe,
            "masked_output": masked / FI / npe,
            "out_of_plane": oop / FI / npe,
            "fragmentation": (tot_steps * FI - total_prod) / FI / npe,
            "load_imbalance": float((T_r[:, None] - steps).sum()) / npe,
            "halo": float(halo_r.sum()),
            "ppu_drain": float(ppu_r.sum()),
            "memory_stall": float(mem_stall.sum()),
        }
        breakdown = apportion(parts, cycles)
        gate = bool(cfg["zero_gating"])
        mults = nzpairs if gate else total_prod
        acc_upd = nz_inplane if gate else inplane
        actions = {
            "mult_16b": mults,
            "acc_read_24b": acc_upd + halo_psums + drained,
            "acc_add_24b": acc_upd + halo_psums,
            "acc_write_24b": acc_upd + halo_psums,
            "noc_psum_24b": halo_psums,
            "iaram_read_16b": int((Cg * a_px.sum(axis=2)).sum()),
            "wfifo_read_64b": tot_steps,
            "wfifo_write_64b": int(-(-loads.sum() // F)),
            "ppu_op_24b": drained,
            "oaram_write_16b": L.K * L.P * L.Q,
            "dram_byte": float(dram_pass.sum()),
        }
        out = None
        if functional:
            out = dataflow_output(inst.acts_dense().reshape(L.act_shape), inst.weights_dense().reshape(L.weight_shape),
                                  L, plan)
            if L.bias is not None:                                   # the PPU adds the bias ...
                out += np.asarray(L.bias, dtype=np.float64)[:, None, None]
            out = out * mask[None]                                   # ... and drops masked-off outputs
        extra = {"mode": plan.mode, "Kc": plan.Kc, "passes": plan.n_pass, "rounds": int(rt.shape[0]),
                 "multiplier_steps": tot_steps, "compute_cycles_max_pe_steps": int(steps.max(axis=1).sum()),
                 "products": total_prod, "products_in_plane": inplane, "nonzero_pairs": nzpairs,
                 "nonzero_pairs_in_plane": nz_inplane,
                 "halo_psums": halo_psums, "act_from_dram": bool(act_dram), "dram_bytes": float(dram_pass.sum()),
                 "notes": list(plan.notes)}
        if self.record_pe_timeline:  # dense steps never conflict: no stalls
            extra["pe_timeline"] = round_timeline(plan, steps, np.zeros_like(steps), T_r, halo_r, ppu_r, mem_stall)
        # compute counts (base.py): of the algorithmic MACs, the padding taps are never multiplied (input
        # stationary over real pixels: skipped with their cycles), the in-plane products are performed or,
        # with zero_gating, gated when an operand is zero; out-of-plane products are multiplier work outside
        # the algorithmic count (extra["products_outside_dense"], charged in mult_16b)
        extra["products_outside_dense"] = oop
        extra["padding_taps"] = L.macs_dense - inplane
        return LayerResult(inst.name, inst.image, cycles, breakdown, actions, L.macs_dense, eff,
                           nz_inplane if gate else inplane, macs_skipped=L.macs_dense - inplane,
                           macs_gated=(inplane - nz_inplane) if gate else 0,
                           utilization=eff / max(1, cycles * npe * FI), output=out, extra=extra)
