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
    stored: ActStreams            # the input as stored (IARAM / DRAM bytes), before mask-skip drops
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


#: kernel counters summed over a round's PEs (:func:`round_numbers`)
ROUND_SUMS = (("steps", ST_STEPS), ("stall", ST_STALL), ("prod", ST_PROD), ("oop", ST_OOP), ("mask", ST_MASK),
              ("eff", ST_EFF), ("write", ST_WRITE), ("aread", ST_AREAD), ("gated", ST_GATED), ("wload", ST_WLOAD),
              ("ivec", ST_IVEC), ("padp", ST_PADP), ("skipstep", ST_SKIPSTEP), ("skipprod", ST_SKIPPROD))


def round_numbers(prep: Prepared, rounds: np.ndarray, S: np.ndarray) -> dict[str, np.ndarray]:
    """Each round's additive numbers (int64 arrays over ``rounds``) from its kernel stats ``S[len(rounds), npe]``:
    ``cyc`` its share of the layer's cycles (barrier = slowest PE ``T``, + halo exchange, + the previous
    round's PPU drain not hidden under it, ``ppu``; planar.timeline), ``imb`` its idle PE-cycles, ``wround`` the
    weight entries it loads from DRAM (broadcast: the most any PE loads; channel mode: every PE's), the
    counters of ``ROUND_SUMS`` summed over PEs, and ``stall_max`` / ``steps_max`` (the slowest PE's)."""
    rounds = np.asarray(rounds, dtype=np.int64)
    cyc_pe = S[:, :, ST_CYC]
    npe = S.shape[1]
    T = cyc_pe.max(axis=1) if cyc_pe.size else np.zeros(len(rounds), dtype=np.int64)
    work = T + prep.halo_r[rounds]
    prev = prep.drain_r[np.maximum(rounds - 1, 0)]
    ppu = np.where(rounds > 0, np.maximum(0, prev - work), 0).astype(np.int64)
    wl = S[:, :, ST_WLOAD]
    rn = {"cyc": work + ppu, "T": T, "ppu": ppu, "imb": npe * T - cyc_pe.sum(axis=1),
          "wround": wl.sum(axis=1) if prep.plan.mode == "channel" else wl.max(axis=1, initial=0),
          "stall_max": S[:, :, ST_STALL].max(axis=1, initial=0), "steps_max": S[:, :, ST_STEPS].max(axis=1, initial=0)}
    for k, i in ROUND_SUMS:
        rn[k] = S[:, :, i].sum(axis=1)
    return rn
