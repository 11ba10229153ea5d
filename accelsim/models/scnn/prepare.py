"""Everything of an SCNN layer but the cycle loop (:func:`prepare_layer`): the plan, the compressed streams,
the bank-hash terms, the classes of identical work units, and the per-round / per-pass numbers that need no
kernel (model docstring, sections 2-6; :class:`~accelsim.models.scnn.rounds.Prepared`)."""

from __future__ import annotations

import numpy as np

from workloads import Layer, LayerInstance
from workloads.effectual import nonzero_outputs

from ...config import ArchConfig
from ..common import scratch
from ..common.planar import Plan, geom, halo_and_drain, output_spill_bytes_pass, plan_with_capacity
from .crossbar import ARB_CODES, XBAR_CODES
from .formats import ActCounter, build_act_streams, build_weight_streams, pad_prefix
from .kernel import PAD_A, PAD_W, bank_terms
from .maskcount import masked_products
from .rounds import Prepared, dram_weight_loads, group_classes, unit_classes, unit_keys
from .tilekeys import full_tiles, tile_classes


def out_entries_per_tile(inst: LayerInstance, plan: Plan):
    """Estimated stored output entries per tile: owned outputs with >= 1 effectual product, per channel
    (:func:`workloads.effectual.nonzero_outputs`: computed at the active positions only)."""
    nzk = nonzero_outputs(inst)
    T = plan.tiles.shape[0]
    if plan.mode == "channel":
        # outputs of K slice of each PE: per group
        return None, int(nzk.sum())
    return np.bincount(plan.owner.ravel(), weights=nzk.ravel(), minlength=T).astype(np.int64), int(nzk.sum())


def needed_inputs(L: Layer, mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: input pixels with at least one active output among their R x S targets."""
    s, pad, dil = L.stride, L.padding, L.dilation
    need = np.zeros((L.H, L.W), dtype=bool)
    ys = np.arange(L.H)
    xs = np.arange(L.W)
    for r in range(L.R):
        py = ys + pad - r * dil
        vy = (py >= 0) & (py % s == 0) & (py // s < L.P)
        for c in range(L.S):
            px = xs + pad - c * dil
            vx = (px >= 0) & (px % s == 0) & (px // s < L.Q)
            sub = np.zeros((L.H, L.W), dtype=bool)
            yy, xx = np.flatnonzero(vy), np.flatnonzero(vx)
            if yy.size and xx.size:
                sub[np.ix_(yy, xx)] = mask[np.ix_(py[yy] // s, px[xx] // s)]
            need |= sub
    return need


def prepare_layer(cfg: ArchConfig, inst: LayerInstance, eb: int) -> Prepared:
    """The :class:`Prepared` layer for :meth:`SCNN.run_rounds` (``eb``: bits per stored entry, value + index).
    Shared by the exhaustive and the sampled path."""
    L = inst.layer
    rows, cols, F, I, cap = geom(cfg)
    A, ib = cfg["accumulator.banks"], cfg["index_bits"]
    acts = scratch.dense_acts(inst)
    w = inst.weights_dense()
    has_mask = inst.out_mask is not None and not bool(np.all(inst.out_mask))
    mask = inst.out_mask_or_ones()
    skip = bool(cfg["output_mask_skip"]) and has_mask
    iaram_entries = cfg["iaram_bytes"] * 8 // eb

    # candidate splits are sized from the stream lengths alone (bounds first, streams counted only on the tiles
    # they leave undecided); only the chosen one's streams are built
    counter = ActCounter(acts, L, ib)
    plan, act_dram, note = plan_with_capacity(L, cfg, counter, iaram_entries)
    # entries of the input as stored (IARAM / DRAM bytes), before mask-skip drops pixels: with mask skipping
    # only their counts are needed, the kernel walks the streams without the dropped pixels; without, the
    # streams' own pass counts them (a fill alone where the planner's passes or a zero-free input know them)
    T = plan.tiles.shape[0]
    if skip:
        stored = counter.counts(plan)
        ast = build_act_streams(acts, L, plan, ib, needed_inputs(L, mask))
    else:
        ast = build_act_streams(acts, L, plan, ib, counts=counter.known_counts(plan))
        stored = ast.counts(T)
    wst = build_weight_streams(w, L, plan, ib, cfg["weight_order"])
    a_term, w_term, w_lane, M, mult = bank_terms(ast, wst, plan, F, A, cfg["accumulator.bank_hash"])
    a_p = scratch.empty(ast.p.shape[0], np.int64)  # np.where(ast.pad, PAD_A, ast.p) in reused memory
    np.copyto(a_p, ast.p)
    np.copyto(a_p, PAD_A, where=ast.pad)
    w_p = np.where(wst.pad, PAD_W, wst.p)
    a_padcum, w_padcum = pad_prefix(ast.pad), pad_prefix(wst.pad)
    xm = cfg["accumulator.conflict_model"]
    streams = (ast.ptr, a_p, ast.q, a_term, ast.val, a_padcum, ast.CV,
               wst.ptr, w_p, wst.q, wst.k, w_term, w_lane, wst.val, w_padcum, wst.CVg, wst.cv0,
               F, I, M, mult, L.P, L.Q, mask, has_mask, skip, skip and cfg["mask_skip_granularity"] == "step")
    xbar = (cfg["weight_fifo.entries"], XBAR_CODES[xm],
            cfg["accumulator.fifo_depth"] if xm == "fifo" else cfg["accumulator.queue_depth"],
            ARB_CODES[cfg["accumulator.arbitration"]])
    halo_r, drain_r, halo_psums, drained = halo_and_drain(plan, cfg)
    # fast path (timing only): without mask skipping the mask does not change timing, only which in-plane
    # products count as masked_output; the cycle loop then runs without it and the masked counts come from
    # maskcount.py, so tiles whose masks differ can share a run
    full = full_tiles(ast, plan.tiles, acts.shape[0])  # tiles with every pixel of every channel an entry
    mask_count = masked_products(ast, wst, T, L.P, L.Q, mask, full[0], plan.nph) if has_mask and not skip else None
    timing_streams = streams if mask_count is None else streams[:-3] + (False,) + streams[-2:]
    ukey = unit_keys(plan, tile_classes(ast, T, a_p, a_term, w_p, wst, L.P, L.Q, mask if skip else None, full),
                     group_classes(wst, w_p, w_term, w_lane))
    # DRAM bytes per pass of the input and the outputs (the weights' come from the rounds)
    in_tile = stored.sum(axis=1)
    dram_in = np.zeros(plan.n_pass)
    if act_dram:
        if plan.mode == "channel":
            dram_in[0] = in_tile[0] * eb / 8 * plan.round_tile.shape[0]
        else:
            dram_in = np.array([in_tile[t].sum() for t in plan.pass_tiles]) * eb / 8
    out_tile, out_total = out_entries_per_tile(inst, plan)
    dram_out = output_spill_bytes_pass(plan, cfg, out_tile, out_total, eb, cfg["oaram_bytes"])
    wround = dram_weight_loads(plan, ast, wst, F, I, cfg["weight_fifo.entries"])
    return Prepared(inst, plan, ast, wst, act_dram, note, has_mask, mask, skip, streams, xbar,
                    halo_r, drain_r, halo_psums, drained, in_tile, dram_in, dram_out, out_total,
                    timing_streams, mask_count, *unit_classes(ukey), wround)
