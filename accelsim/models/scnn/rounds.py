"""What SCNN's barrier rounds share and what each adds (:class:`Prepared`, :func:`round_numbers`): used by
the exhaustive path (:mod:`.model`) and the sampled one (:mod:`.sampling`), so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workloads import LayerInstance

from ..common.planar import Plan
from .formats import ActStreams, WeightStreams
from .kernel import (
    ST_AREAD,
    ST_CYC,
    ST_EFF,
    ST_GATED,
    ST_IVEC,
    ST_MASK,
    ST_OOP,
    ST_PADP,
    ST_PROD,
    ST_SKIPPROD,
    ST_SKIPSTEP,
    ST_STALL,
    ST_STEPS,
    ST_WLOAD,
    ST_WRITE,
)


@dataclass
class Prepared:
    """A layer ready for the cycle loop (:meth:`SCNN.prepare`): what every round shares."""

    inst: LayerInstance
    plan: Plan
    ast: ActStreams
    wst: WeightStreams
    act_dram: bool
    note: str | None
    has_mask: bool
    mask: np.ndarray
    skip: bool
    streams: tuple                # scnn_kernel's arguments between the round arrays and ``functional``
    xbar: tuple                   # ... and between ``out`` and ``stats``
    halo_r: np.ndarray            # (NR,) halo exchange cycles per round
    drain_r: np.ndarray           # (NR,) PPU drain cycles per round
    halo_psums: int
    drained: int
    in_tile: np.ndarray           # (T,) stored input entries per tile
    dram_in: np.ndarray           # (n_pass,) input bytes read from DRAM
    dram_out: np.ndarray          # (n_pass,) output bytes spilled to DRAM
    out_total: int
    timing_streams: tuple         # ``streams`` for the fast path: without the mask when it cannot change timing
    mask_count: np.ndarray | None  # (T, G) masked products per (tile, group) when timing_streams drop the mask
    unit_class: np.ndarray        # (NR, NPE) class id of every unit (:func:`unit_classes`; idle PEs one class)
    unit_first: np.ndarray        # first unit of each class id
    n_unit_classes: int           # classes of active units: the kernel runs the exhaustive path needs
    wround: np.ndarray            # (NR,) weight entries each round reads from DRAM (:func:`dram_weight_loads`)


#: kernel counters summed over a round's PEs (:func:`round_numbers`)
ROUND_SUMS = (("steps", ST_STEPS), ("stall", ST_STALL), ("prod", ST_PROD), ("oop", ST_OOP), ("mask", ST_MASK),
              ("eff", ST_EFF), ("write", ST_WRITE), ("aread", ST_AREAD), ("gated", ST_GATED), ("wload", ST_WLOAD),
              ("ivec", ST_IVEC), ("padp", ST_PADP), ("skipstep", ST_SKIPSTEP), ("skipprod", ST_SKIPPROD))


def round_numbers(prep: Prepared, rounds: np.ndarray, S: np.ndarray) -> dict[str, np.ndarray]:
    """Each round's additive numbers (int64 arrays over ``rounds``) from its kernel stats ``S[len(rounds), npe]``:
    ``cyc`` its share of the layer's cycles (barrier = slowest PE ``T``, + halo exchange, + the previous
    round's PPU drain not hidden under it, ``ppu``; planar.timeline), ``imb`` its idle PE-cycles, ``wround`` the
    weight entries it reads from DRAM (``prep.wround``, :func:`dram_weight_loads`), the counters of
    ``ROUND_SUMS`` summed over PEs (``wload``: the entries written into the PEs' weight FIFOs), and
    ``stall_max`` / ``steps_max`` (the slowest PE's)."""
    rounds = np.asarray(rounds, dtype=np.int64)
    cyc_pe = S[:, :, ST_CYC]
    npe = S.shape[1]
    T = cyc_pe.max(axis=1) if cyc_pe.size else np.zeros(len(rounds), dtype=np.int64)
    work = T + prep.halo_r[rounds]
    prev = prep.drain_r[np.maximum(rounds - 1, 0)]
    ppu = np.where(rounds > 0, np.maximum(0, prev - work), 0).astype(np.int64)
    rn = {"cyc": work + ppu, "T": T, "ppu": ppu, "imb": npe * T - cyc_pe.sum(axis=1), "wround": prep.wround[rounds],
          "stall_max": S[:, :, ST_STALL].max(axis=1, initial=0), "steps_max": S[:, :, ST_STEPS].max(axis=1, initial=0)}
    for k, i in ROUND_SUMS:
        rn[k] = S[:, :, i].sum(axis=1)
    return rn


def dram_weight_loads(plan: Plan, ast: ActStreams, wst: WeightStreams, F: int, I: int,
                      fifo_entries: int) -> np.ndarray:
    """``(NR,)`` weight entries each barrier round reads from DRAM (paper Sec. III-B: weights are broadcast
    to the PEs' weight FIFOs).

    A PE needs the (channel, group) block of a channel its tile has non-zero activations in: the block once
    when its F-vectors fit the weight FIFO (``fifo_entries``; the FIFO re-streams it), else once per I-vector
    (the kernel's ``wload``, written into each PE's FIFO).  A broadcast read serves every PE of the round at
    once, so planar mode reads each block as often as the PE that needs it most: once if any PE has
    activations in its channel, else the most I-vectors of any PE; summed over blocks.  (Counting the PE with
    the largest total instead misses the blocks only other PEs need: on small tiles at low density each PE
    needs a different few channels, and the round needs nearly all of them.)  Channel mode (FC / 1x1 output
    plane) gives every PE its own group: nothing is shared, the PEs' loads add.  Exact, from the stream
    lengths alone; a dense input makes it the largest single PE's load."""
    T = plan.tiles.shape[0]
    G, CVg = wst.cv0.shape[0], wst.CVg
    na = np.diff(ast.ptr).reshape(T, ast.CV)
    nw = np.diff(wst.ptr).reshape(G, CVg)
    niv, nwv = -(-na // I), -(-nw // F)
    fit = nwv <= fifo_entries
    wfit, wrest = np.where(fit, nw, 0), np.where(fit, 0, nw)
    rt, rg = plan.round_tile, plan.round_group
    act = (rt >= 0) & (rg >= 0)
    if plan.mode == "channel":
        # one input tile (T = 1), group g on each PE: per group the load of the tile's activations
        ch = wst.cv0.astype(np.int64)[:, None] + np.arange(CVg)                       # (G, CVg)
        per_g = ((na[0][ch] > 0) * wfit).sum(axis=1) + (niv[0][ch] * wrest).sum(axis=1)
        return np.where(act, per_g[np.maximum(rg, 0)], 0).sum(axis=1).astype(np.int64)
    # planar: the round's PEs hold the tiles of one pass and share one group
    tiles_of = [np.asarray(t, dtype=np.int64) for t in plan.pass_tiles]
    any_a = np.stack([(na[t] > 0).any(axis=0) for t in tiles_of]).astype(np.int64)   # (n_pass, CV)
    max_iv = np.stack([niv[t].max(axis=0) for t in tiles_of])                       # (n_pass, CV)
    if CVg == ast.CV and not wst.cv0.any():
        per_pg = any_a @ wfit.T + max_iv @ wrest.T                                     # (n_pass, G)
    else:  # grouped / depthwise: group g reads channels cv0[g] + 0 .. CVg - 1
        per_pg = np.zeros((len(tiles_of), G), dtype=np.int64)
        for g in range(G):
            c0 = int(wst.cv0[g])
            per_pg[:, g] = any_a[:, c0:c0 + CVg] @ wfit[g] + max_iv[:, c0:c0 + CVg] @ wrest[g]
    g_r = np.where(act, rg, -1).max(axis=1)
    return np.where(g_r >= 0, per_pg[plan.round_pass, np.maximum(g_r, 0)], 0).astype(np.int64)


def group_classes(wst: WeightStreams, w_p: np.ndarray, w_term: np.ndarray, w_lane: np.ndarray) -> np.ndarray:
    """``(G,)`` class of every Kc group: the kernel reads a group only through its weight stream (block lengths,
    positions ``w_p``/``q``, bank-hash terms, RLE padding) and its first input channel ``cv0``, all in group-local
    coordinates (the bank hash uses the local output channel, kernel.bank_terms; the global one and the values
    are read only in functional mode).  Groups whose streams are equal are one class: with dense weights (the
    FCOS head's) every full Kc group is."""
    G, CVg = wst.cv0.shape[0], wst.CVg
    gsig: dict[bytes, int] = {}
    gcls = np.empty(G, dtype=np.int64)
    for g in range(G):
        b0, b1 = g * CVg, (g + 1) * CVg
        e0, e1 = int(wst.ptr[b0]), int(wst.ptr[b1])
        key = b"".join(np.ascontiguousarray(a).tobytes() for a in (
            wst.cv0[g:g + 1], np.diff(wst.ptr[b0:b1 + 1]), w_p[e0:e1], wst.q[e0:e1], w_term[e0:e1],
            w_lane[e0:e1], wst.pad[e0:e1]))
        gcls[g] = gsig.setdefault(key, len(gsig))
    return gcls


def unit_keys(plan, tcls: np.ndarray, gcls: np.ndarray) -> np.ndarray:
    """``(NR, NPE)`` key of every (round, PE) unit: equal keys give equal kernel stats (same tile class, same
    group class); -1 for an idle PE."""
    rt, rg = plan.round_tile, plan.round_group
    act = (rt >= 0) & (rg >= 0)
    ng = int(gcls.max()) + 1 if gcls.size else 1
    return np.where(act, tcls[np.maximum(rt, 0)] * ng + gcls[np.maximum(rg, 0)], -1).astype(np.int64)


def unit_classes(ukey: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Dense class ids ``(NR, NPE)`` of the units of :func:`unit_keys`, the first unit of each id (flat,
    round-major), and the number of classes of active units."""
    vals, first, inv = np.unique(ukey.ravel(), return_index=True, return_inverse=True)
    return inv.reshape(ukey.shape).astype(np.int64), first.astype(np.int64), int((vals >= 0).sum())
