"""SCNN (Parashar et al., ISCA 2017): cycle-level, data-driven model of the PT-IS-CP-sparse dataflow.

Reads top-down like the paper (Sec. III-IV; ``../shared/docs/accelerators.md`` section 2):

1. **Config** (``FIELDS``): 8x8 PEs, an F x I = 4 x 4 multiplier array per PE, A = 32
   accumulator banks x 32 entries x 24 b (double-buffered), IARAM/OARAM 10 KB, a 50-entry
   weight FIFO, 16-bit values with 4-bit run-length indices, DRAM bandwidth.

2. **Plan** (:func:`plan_layer`, shared with the dense DCNN baseline in ``dcnn.py``):

   * *Planar tiling.*  The H x W **input** plane is cut into ``pe_rows x pe_cols`` tiles
     with balanced boundaries (``floor(i*H/rows)``), one tile per PE, spanning all C
     channels.  Each PE holds its input tile (input stationary, no input halo) and owns
     the output pixels whose centre tap ``p*stride - pad + ((R-1)//2)*dilation`` falls in
     its tile (clamped at the border).  Its accumulators cover its *footprint*: every
     output reachable from its tile, i.e. the owned outputs plus an output halo of up to
     R-1 rows / S-1 columns.
   * *Kc.*  All PEs use one accumulator layout of ``Pacc x Qacc`` (the largest footprint),
     so ``Kc = floor(banks*entries / (Pacc*Qacc))``, capped at K/groups (``kc`` > 0 in
     the config caps it further, e.g. the paper's Kc = 8 study).  A plane whose footprint
     does not fit even one channel is processed in several *planar passes* (a finer tile
     grid, ``pe_rows*ny x pe_cols*nx`` tiles, pass (a, b) = the contiguous block of tiles
     a*rows.., b*cols..).
   * *Strides* are handled as in DNNsim: activations and weights are split into the
     stride^2 phases ((y+pad) mod s, (x+pad) mod s) / ((r*dil) mod s, (s*dil) mod s) and
     only matching phases are multiplied, so no product is discarded for misalignment.
   * *Grouped / depthwise layers* (documented fallback, not native SCNN): each
     convolution group runs as its own C/g -> K/g convolution on the array, its Kc groups
     never crossing a convolution group (DNNsim's "MobileNet fix").
   * *FC layers and 1x1 output planes*: planar tiling has nothing to split, so the output
     channels are dealt to the PEs (each PE holds a broadcast copy of the input vector and
     its own slice of K); with one activation per channel an I-vector holds one useful
     entry, hence ~25 % of peak (Sec. VI).

3. **Compressed formats** (:func:`build_act_streams`, :func:`build_weight_streams`): the
   activations of each PE tile are run-length encoded per (channel, phase) in row-major
   order, the weights per (channel c, Kc-group) block in (r, s, k) order -- k innermost, so
   an F-vector of a dense block spans F output channels at one filter tap (DNNsim's
   order; ``weight_order: krs`` gives the other order).  Both use
   :func:`accelsim.sparse._rle_fill` with ``index_bits``-bit zero counts: a run longer
   than 2^bits - 1 inserts an explicit zero, which occupies a multiplier slot
   (``rle_padding``).

4. **Cycle loop** (:func:`_scnn_kernel`, Numba): for every barrier round (pass, Kc-group)
   and PE: for each input channel (and phase) the PE holds an I-vector of its activation
   entries while the F-vectors of the (c, group) weight block stream past; one
   multiplier-array step computes the F x I Cartesian product.  Each product's output
   coordinate ``(k, (y+pad-r*dil)/s, (x+pad-s*dil)/s)`` comes from the indices; products
   outside the output plane are discarded (``out_of_plane``); the rest cross the 16 x 32
   scatter crossbar to an accumulator bank.  The paper gives no hash; two are provided
   (:func:`bank_terms`, ``accumulator.bank_hash``), with ``spatial = (p-p0)*Qacc + (q-q0)``
   the position in the PE's accumulator footprint:

       linear (default): ``bank = ((k_local*Pacc + p - p0)*Qacc + q - q0) mod A``
       skewed:           ``bank = (k_local mod F) + F * ((spatial + k_local // F) mod (A/F))``

   (linear: plain low-order interleaving of the accumulator address; skewed: an F-vector
   of consecutive channels uses F distinct lanes and consecutive pixels of an I-vector
   distinct spatial slots, so dense data never conflict).  The default is ``linear``:
   SCNN's loss at full density is attributed (in a third-party reading of the paper) to
   contention among products hashing to the same accumulator bank, which the skewed hash
   never produces on dense data (docs/timing-model.md, SCNN "Bank hash"; until 2026-11-27
   the default was skewed).
   A bank accepts one product per cycle.  ``accumulator.conflict_model``:
   ``step_max`` (default, DNNsim's model) -- a step lasts ``max products on one bank``
   cycles and the ``max - 1`` extra cycles are ``bank_conflict`` stalls, counted exactly
   per step; ``queue`` -- per-bank queues of ``queue_depth`` products (8, as in
   SCNN_Simulator_101) drain one product per cycle, a step issues when every bank it
   needs has room, and the round ends when the queues are empty.
   After each round all PEs barrier (``load_imbalance`` = idle PE-cycles), exchange
   output halos (``halo``: the largest halo of a PE, ``(footprint - owned) x Kc`` partial
   sums at ``halo.psums_per_cycle``), and the PPU drains the owned accumulators
   (``ppu.entries_per_cycle``) while the next round computes in the other accumulator
   buffer; only the excess shows (``ppu_drain``; the last round's drain is exposed).

5. **Memory.**  A layer whose compressed input tiles (summed over a PE's passes) fit in
   IARAM is resident (produced on chip by the previous layer); otherwise the plane is
   split into passes whose tiles fit and the input is read from DRAM once.  Outputs of a
   PE that overflow its OARAM are written to DRAM (output entries are estimated as the
   outputs with at least one effectual product: ReLU zeros are unknown in timing mode).
   Weights are always streamed from DRAM, broadcast to all PEs, once per pass and (c,
   group) block when the block fits the weight FIFO, else once per I-vector.  Per pass,
   DRAM time ``bytes / (bandwidth/clock)`` overlaps compute (double-buffered); the excess
   is ``memory_stall``.

6. **Output mask** (the dynamic head's spatial gate, ``out_mask`` (P, Q)): baseline SCNN
   ignores it -- products aimed at masked-off outputs are computed, routed and
   accumulated (``masked_output``, counted in ``macs_actual``) and the PPU discards them.
   With ``output_mask_skip: true`` (a variant, not the paper's design) the activation
   sequencer drops activations none of whose R x S targets is active (their products are
   ``macs_skipped``) and the products of kept activations that aim at masked-off outputs
   are gated before the multiplier (slot kept, no multiply / crossbar / accumulator
   energy; ``macs_gated``).

Functional mode accumulates the real products (float64) into the output at the same
coordinates (halo exchange is a sum, so a global buffer is equivalent), adds the bias
and zeroes masked-off outputs; timing-only mode skips the arithmetic.

Cycle breakdown (keys shared with the other models; they sum to ``cycles``): ``busy``
(effectual products / (F*I), averaged over PEs), ``fragmentation`` (empty multiplier
slots of partial I/F vectors), ``rle_padding``, ``out_of_plane``, ``masked_output``,
``bank_conflict``, ``load_imbalance``, ``halo``, ``ppu_drain``, ``memory_stall``.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

from workloads import Layer, LayerInstance
from workloads.effectual import effectual_counts

from ..formats import rle as rle_format
from ..config import ArchConfig, Field
from ..engine import AcceleratorModel, LayerResult
from ..errors import ConfigError, UnsupportedLayer
from . import register_model

_T2 = "SCNN ISCA 2017 design-parameter table (accelerators.md 2.1)"

#: cycle-breakdown keys in report order
BREAKDOWN_KEYS = ("busy", "fragmentation", "rle_padding", "out_of_plane", "masked_output", "bank_conflict",
                  "load_imbalance", "halo", "ppu_drain", "memory_stall")

GEOMETRY_FIELDS: dict[str, Field] = {
    "pe_rows": Field(int, "PEs", 8, doc="PE grid rows", source=_T2),
    "pe_cols": Field(int, "PEs", 8, doc="PE grid columns", source=_T2),
    "multipliers.F": Field(int, "weights", 4, doc="weights per F-vector (multiplier array rows), per PE",
                           source=_T2),
    "multipliers.I": Field(int, "activations", 4, doc="activations per I-vector (array columns), per PE",
                           source=_T2),
    "accumulator.banks": Field(int, "banks", 32, doc="accumulator banks A per PE (A = 2*F*I)", source=_T2),
    "accumulator.entries": Field(int, "entries", 32, doc="entries per bank per buffer (double-buffered), per PE",
                                 source=_T2),
    "accumulator.bits": Field(int, "bits", 24, doc="accumulator width", source=_T2),
    "kc": Field(int, "channels", 0, min=0, doc="cap on the output-channel group Kc (0: derived from the "
                                                "accumulator capacity only)", source="assumed"),
    "iaram_bytes": Field(int, "bytes", 10240, doc="input activation RAM per PE (compressed data + indices)",
                         source=_T2),
    "oaram_bytes": Field(int, "bytes", 10240, doc="output activation RAM per PE", source=_T2),
    "weight_fifo.entries": Field(int, "entries", 50, doc="weight FIFO per PE; an entry = F weights + F indices",
                                 source=_T2),
    "value_bits": Field(int, "bits", 16, doc="activation / weight width", source=_T2),
    "index_bits": Field(int, "bits", 4, doc="run-length index width (zeros before a value)", source=_T2),
    "halo.psums_per_cycle": Field(float, "psums/cycle", 1.0, doc="partial sums a PE sends to its neighbours "
                                  "per cycle in the halo exchange", source="assumed (DNNsim charges one per cycle)"),
    "ppu.entries_per_cycle": Field(float, "entries/cycle", 4.0, doc="accumulator entries the PPU drains per "
                                   "cycle, per PE", source="assumed"),
    "dram.bandwidth_bytes_per_s": Field(float, "bytes/s", 50e9, doc="off-chip bandwidth",
                                        source="assumed; accelerators.md 2.1 quotes a nominal 50 GB/s (unverified)"),
}


# =============================================================================== plan
@dataclass
class Plan:
    """How one layer maps onto the PE grid (shared by SCNN and DCNN)."""

    mode: str                      # "planar" or "channel" (FC / 1x1 output plane)
    stride: int
    nph: int                       # stride^2 phases
    tiles: np.ndarray              # (T, 4) input tile bounds y0, y1, x0, x1
    foot: np.ndarray               # (T, 4) output footprint p0, p1, q0, q1 (half-open, clipped; empty: p1<=p0)
    owned_area: np.ndarray         # (T,) owned output pixels
    owner: np.ndarray              # (P, Q) tile owning each output pixel
    Pacc: int
    Qacc: int
    Kc: int
    kgroups: np.ndarray            # (G, 3) k0, k1, conv group
    round_tile: np.ndarray         # (NR, NPE) tile per PE per barrier round (-1 idle)
    round_group: np.ndarray        # (NR, NPE) Kc-group per PE per round (-1 idle)
    round_pass: np.ndarray         # (NR,) pass index of each round
    n_pass: int
    pass_tiles: list = field(default_factory=list)   # tiles of each pass
    notes: list = field(default_factory=list)


def _geom(cfg: ArchConfig):
    return (cfg["pe_rows"], cfg["pe_cols"], cfg["multipliers.F"], cfg["multipliers.I"],
            cfg["accumulator.banks"] * cfg["accumulator.entries"])


def _bounds(n: int, parts: int) -> np.ndarray:
    return (np.arange(parts + 1, dtype=np.int64) * n) // parts


def _footprint_1d(b0, b1, pad, R, dil, s, P):
    """Output index range [lo, hi) reachable from input rows [b0, b1) (vectorised)."""
    lo = -((-(b0 + pad - (R - 1) * dil)) // s)  # ceil
    hi = (b1 - 1 + pad) // s + 1
    lo = np.clip(lo, 0, P)
    hi = np.clip(hi, 0, P)
    hi = np.where(b1 > b0, hi, lo)
    return lo, np.maximum(hi, lo)


def _owner_1d(P, H, pad, R, dil, s, bounds):
    yc = np.clip(np.arange(P) * s - pad + ((R - 1) // 2) * dil, 0, H - 1)
    return np.searchsorted(bounds, yc, side="right") - 1


def footprint_unsupported(L: Layer, cfg: ArchConfig) -> str | None:
    """Reason the layer cannot run even with 1-pixel tiles, or None."""
    cap = cfg["accumulator.banks"] * cfg["accumulator.entries"]
    s, d = L.stride, L.dilation
    fy = ((L.R - 1) * d) // s + 1
    fx = ((L.S - 1) * d) // s + 1
    if min(fy, L.P) * min(fx, L.Q) > cap:
        return (f"the output footprint of one input pixel ({fy}x{fx}) exceeds the accumulator capacity "
                f"({cap} entries per PE)")
    return None


def plan_layer(L: Layer, cfg: ArchConfig, ny: int = 1, nx: int = 1) -> Plan:
    """Tiles, footprints, Kc and barrier rounds of layer ``L`` with a planar split ``ny x nx``."""
    rows, cols, F, I, cap = _geom(cfg)
    npe = rows * cols
    s, pad, dil, R, S, P, Q, H, W = L.stride, L.padding, L.dilation, L.R, L.S, L.P, L.Q, L.H, L.W
    Kg = L.K // L.groups
    channel = (P * Q == 1)
    notes = []
    if channel:
        tiles = np.array([[0, H, 0, W]], dtype=np.int64)
        foot = np.array([[0, 1, 0, 1]], dtype=np.int64)
        owned = np.array([1], dtype=np.int64)
        owner = np.zeros((P, Q), dtype=np.int64)
        Pacc = Qacc = 1
        Kc = min(cap, max(1, -(-Kg // npe)))
        if cfg["kc"]:
            Kc = min(Kc, cfg["kc"])
        notes.append("FC / 1x1 output plane: output channels dealt to PEs, input broadcast")
    else:
        TR, TC = rows * ny, cols * nx
        yb, xb = _bounds(H, TR), _bounds(W, TC)
        ty, tx = np.meshgrid(np.arange(TR), np.arange(TC), indexing="ij")
        # tile id order: pass-major so that the tiles of a pass are contiguous PE-grid blocks
        pa, pi = ty // rows, ty % rows
        pb, pj = tx // cols, tx % cols
        tid = ((pa * nx + pb) * rows + pi) * cols + pj
        T = TR * TC
        tiles = np.zeros((T, 4), dtype=np.int64)
        tiles[tid.ravel(), 0] = yb[ty.ravel()]
        tiles[tid.ravel(), 1] = yb[ty.ravel() + 1]
        tiles[tid.ravel(), 2] = xb[tx.ravel()]
        tiles[tid.ravel(), 3] = xb[tx.ravel() + 1]
        p0, p1 = _footprint_1d(tiles[:, 0], tiles[:, 1], pad, R, dil, s, P)
        q0, q1 = _footprint_1d(tiles[:, 2], tiles[:, 3], pad, S, dil, s, Q)
        foot = np.stack([p0, p1, q0, q1], axis=1)
        oy = _owner_1d(P, H, pad, R, dil, s, yb)
        ox = _owner_1d(Q, W, pad, S, dil, s, xb)
        owner = tid[oy[:, None], ox[None, :]]
        owned = np.bincount(owner.ravel(), minlength=T).astype(np.int64)
        Pacc = int((p1 - p0).max())
        Qacc = int((q1 - q0).max())
        Kc = min(Kg, cap // max(1, Pacc * Qacc))
        if cfg["kc"]:
            Kc = min(Kc, cfg["kc"])
    # Kc-groups never cross a convolution group
    kg = []
    for g in range(L.groups):
        for k0 in range(0, Kg, max(1, Kc)):
            kg.append((g * Kg + k0, g * Kg + min(Kg, k0 + Kc), g))
    kgroups = np.array(kg, dtype=np.int64).reshape(-1, 3)
    G = kgroups.shape[0]
    if channel:
        NR = -(-G // npe)
        rt = np.full((NR, npe), -1, dtype=np.int64)
        rg = np.full((NR, npe), -1, dtype=np.int64)
        ids = np.arange(G)
        rg.ravel()[:G] = ids
        rt.ravel()[:G] = 0
        rp = np.zeros(NR, dtype=np.int64)
        n_pass, pass_tiles = 1, [np.array([0])]
    else:
        n_pass = ny * nx
        NR = n_pass * G
        rt = np.repeat(np.arange(n_pass * npe, dtype=np.int64).reshape(n_pass, 1, npe), G, axis=1).reshape(NR, npe)
        rg = np.tile(np.arange(G, dtype=np.int64)[None, :, None], (n_pass, 1, npe)).reshape(NR, npe)
        rp = np.repeat(np.arange(n_pass, dtype=np.int64), G)
        pass_tiles = [np.arange(a * npe, (a + 1) * npe) for a in range(n_pass)]
    return Plan("channel" if channel else "planar", s, s * s, tiles, foot, owned, owner, Pacc, Qacc, max(1, Kc),
                kgroups, rt, rg, rp, n_pass, pass_tiles, notes)


def plan_with_capacity(L: Layer, cfg: ArchConfig, tile_entries, iaram_entries: int):
    """Smallest planar split whose footprint fits the accumulators and, when the input is not
    resident, whose tiles fit IARAM.  ``tile_entries(plan) -> (T,) stored input entries per tile``.

    Returns ``(plan, act_from_dram, extra_note)``.
    """
    rows, cols, F, I, cap = _geom(cfg)
    ny = nx = 1
    for _ in range(64):
        plan = plan_layer(L, cfg, ny, nx)
        if plan.mode == "planar" and plan.Pacc * plan.Qacc > cap:
            if plan.Pacc >= plan.Qacc and ny * rows < L.H:
                ny += 1
            elif nx * cols < L.W:
                nx += 1
            else:
                ny += 1
            continue
        break
    ent = tile_entries(plan)
    npe = rows * cols
    if plan.mode == "channel":
        return plan, bool(ent.max(initial=0) > iaram_entries), None
    per_pe = ent.reshape(plan.n_pass, npe).sum(axis=0)
    if per_pe.max(initial=0) <= iaram_entries:
        return plan, False, None
    # not resident: read from DRAM once, in passes whose tiles fit IARAM
    for _ in range(256):
        if ent.max(initial=0) <= iaram_entries:
            return plan, True, None
        th = (plan.tiles[:, 1] - plan.tiles[:, 0]).max()
        tw = (plan.tiles[:, 3] - plan.tiles[:, 2]).max()
        if th <= 1 and tw <= 1:
            return plan, True, "input tile of one pixel exceeds IARAM: channels streamed from DRAM per round"
        ratio = ent.max() / iaram_entries
        grow = max(1.05, math.sqrt(ratio))
        if th >= tw:
            ny = max(ny + 1, int(math.ceil(ny * grow)))
        else:
            nx = max(nx + 1, int(math.ceil(nx * grow)))
        ny = min(ny, -(-L.H // rows))
        nx = min(nx, -(-L.W // cols))
        plan = plan_layer(L, cfg, ny, nx)
        ent = tile_entries(plan)
    return plan, True, None


# ================================================================ compressed formats
@njit(cache=True)
def _streams(V, max_run, ptr, pos, val, pad):
    """RLE-encode each row of V (nb, L) into the flat entry arrays (two-pass: ptr then fill)."""
    nb, Lr = V.shape
    k = 0
    for b in range(nb):
        ptr[b] = k
        row = V[b]
        nz = np.flatnonzero(row)
        n = rle_format.rle_counts(nz, Lr, max_run)
        if pos.shape[0] > 0:
            runs = np.empty(n, dtype=np.int64)
            rle_format.rle_fill(nz, row[nz], max_run, val[k:k + n], runs, pos[k:k + n])
            for e in range(k, k + n):
                pad[e] = val[e] == 0.0
        k += n
    ptr[nb] = k
    return k


def rle_streams(V: np.ndarray, index_bits: int):
    """Entries of each row of ``V`` (nb, L) in SCNN's RLE format: ptr (nb+1), pos, val, is_padding."""
    V = np.ascontiguousarray(V, dtype=np.float64)
    max_run = (1 << index_bits) - 1
    nb = V.shape[0]
    ptr = np.zeros(nb + 1, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    n = _streams(V, max_run, ptr, empty, np.zeros(0), np.zeros(0, dtype=np.bool_))
    pos = np.zeros(n, dtype=np.int64)
    val = np.zeros(n, dtype=np.float64)
    pad = np.zeros(n, dtype=np.bool_)
    _streams(V, max_run, ptr, pos, val, pad)
    return ptr, pos, val, pad


@dataclass
class ActStreams:
    ptr: np.ndarray   # (T*CV + 1,) entries of (tile, channel*nph + phase)
    p: np.ndarray     # output-unit row of each entry: (y + pad - phy) / s
    q: np.ndarray
    term: np.ndarray  # spatial accumulator address of the entry in its tile's footprint: (p-p0)*Qacc + (q-q0)
    val: np.ndarray
    pad: np.ndarray
    CV: int

    def counts(self, T):
        return np.diff(self.ptr).reshape(T, self.CV)


def _phase_pixels(y0, y1, x0, x1, pad, s, phy, phx):
    ys = np.arange(y0, y1)
    xs = np.arange(x0, x1)
    ys = ys[(ys + pad) % s == phy]
    xs = xs[(xs + pad) % s == phx]
    return ys, xs


def build_act_streams(acts: np.ndarray, L: Layer, plan: Plan, index_bits: int, keep: np.ndarray | None = None):
    """RLE streams of every (tile, channel, phase).  ``keep`` (H, W) bool drops pixels (mask-skip variant)."""
    s, pad, nph = plan.stride, L.padding, plan.nph
    C = acts.shape[0]
    CV = C * nph
    T = plan.tiles.shape[0]
    cnt = np.zeros(T * CV, dtype=np.int64)
    chunks = []
    for t in range(T):
        y0, y1, x0, x1 = plan.tiles[t]
        fp0, fq0 = plan.foot[t, 0], plan.foot[t, 2]
        for phy in range(s):
            for phx in range(s):
                ph = phy * s + phx
                ys, xs = _phase_pixels(y0, y1, x0, x1, pad, s, phy, phx)
                if ys.size == 0 or xs.size == 0:
                    continue
                V = acts[:, ys[:, None], xs[None, :]].reshape(C, -1)
                if keep is not None:
                    V = V * keep[ys[:, None], xs[None, :]].reshape(1, -1)
                ptr, pos, val, pd = rle_streams(V, index_bits)
                ap = (ys[pos // xs.size] + pad - phy) // s
                aq = (xs[pos % xs.size] + pad - phx) // s
                term = (ap - fp0) * plan.Qacc + (aq - fq0)
                chunks.append((t, ph, ptr, (ap, aq, term, val, pd)))
                cnt[t * CV + np.arange(C) * nph + ph] = np.diff(ptr)
    ptr = np.zeros(T * CV + 1, dtype=np.int64)
    np.cumsum(cnt, out=ptr[1:])
    n = int(ptr[-1])
    arrs = [np.zeros(n, dtype=np.int64) for _ in range(3)] + [np.zeros(n), np.zeros(n, dtype=np.bool_)]
    for t, ph, cptr, cols in chunks:
        if nph == 1:  # the chunk is the contiguous run of tile t
            for dst, src in zip(arrs, cols):
                dst[ptr[t * CV]:ptr[(t + 1) * CV]] = src
            continue
        for c in range(C):
            b = t * CV + c * nph + ph
            for dst, src in zip(arrs, cols):
                dst[ptr[b]:ptr[b + 1]] = src[cptr[c]:cptr[c + 1]]
    return ActStreams(ptr, arrs[0], arrs[1], arrs[2], arrs[3], arrs[4], CV)


@dataclass
class WeightStreams:
    ptr: np.ndarray   # (G*CVg + 1,) entries of (Kc-group, local channel*nph + phase)
    p: np.ndarray     # (r*dil - phy)/s
    q: np.ndarray
    k: np.ndarray     # global output channel
    kl: np.ndarray    # output channel within its Kc-group
    val: np.ndarray
    pad: np.ndarray
    CVg: int
    cv0: np.ndarray   # (G,) first act stream channel index of each group's convolution group


def build_weight_streams(w: np.ndarray, L: Layer, plan: Plan, index_bits: int, order: str = "rsk"):
    """RLE streams of every (Kc-group, input channel, phase) weight block."""
    s, dil = plan.stride, L.dilation
    K, Cg, R, S = w.shape
    nph = plan.nph
    CVg = Cg * nph
    G = plan.kgroups.shape[0]
    rr, ss = np.meshgrid(np.arange(R), np.arange(S), indexing="ij")
    rr, ss = rr.ravel(), ss.ravel()
    tap_ph = ((rr * dil) % s) * s + (ss * dil) % s
    cnt = np.zeros(G * CVg, dtype=np.int64)
    chunks = {}
    for g in range(G):
        k0, k1, cg = plan.kgroups[g]
        kc = k1 - k0
        wg = w[k0:k1].reshape(kc, Cg, R * S)
        for ph in range(nph):
            taps = np.flatnonzero(tap_ph == ph)
            if taps.size == 0:
                continue
            blk = wg[:, :, taps]                          # (kc, Cg, ntap)
            if order == "rsk":
                V = blk.transpose(1, 2, 0).reshape(Cg, -1)  # tap-major, k innermost
            else:
                V = blk.transpose(1, 0, 2).reshape(Cg, -1)  # k-major, tap innermost
            ptr, pos, val, pd = rle_streams(V, index_bits)
            if order == "rsk":
                tap, kl = pos // kc, pos % kc
            else:
                kl, tap = pos // taps.size, pos % taps.size
            r, sc = rr[taps[tap]], ss[taps[tap]]
            phy, phx = ph // s, ph % s
            wp = (r * dil - phy) // s
            wq = (sc * dil - phx) // s
            chunks[(g, ph)] = (ptr, wp, wq, kl + k0, kl, val, pd)
            cnt[g * CVg + np.arange(Cg) * nph + ph] = np.diff(ptr)
    ptr = np.zeros(G * CVg + 1, dtype=np.int64)
    np.cumsum(cnt, out=ptr[1:])
    n = int(ptr[-1])
    arrs = [np.zeros(n, dtype=np.int64) for _ in range(4)] + [np.zeros(n), np.zeros(n, dtype=np.bool_)]
    for (g, ph), (cptr, *cols) in chunks.items():
        for c in range(Cg):
            b = g * CVg + c * nph + ph
            a0, a1 = cptr[c], cptr[c + 1]
            for dst, src in zip(arrs, cols):
                dst[ptr[b]:ptr[b + 1]] = src[a0:a1]
    cv0 = plan.kgroups[:, 2] * CVg
    return WeightStreams(ptr, arrs[0], arrs[1], arrs[2], arrs[3], arrs[4], arrs[5], CVg, cv0)


# ==================================================================== cycle loop
# per-(round, PE) statistics returned by the kernel
ST_CYC, ST_STEPS, ST_STALL, ST_PROD, ST_OOP, ST_MASK, ST_EFF, ST_WRITE, ST_AREAD, ST_WLOAD, ST_GATED, \
    ST_IVEC, ST_PADP = range(13)
N_ST = 13
#: coordinate sentinels that put every product of an RLE padding entry out of the plane
_PAD_A, _PAD_W = -(1 << 40), (1 << 40)


@njit(cache=True)
def _scnn_kernel(round_tile, round_group, a_ptr, a_p, a_q, a_term, a_val, a_padcum, CV,
                 w_ptr, w_p, w_q, w_k, w_term, w_lane, w_val, w_padcum, CVg, cv0,
                 F, I, M, mult, P, Q, mask, has_mask, mask_skip, functional, out, fifo_entries, qdepth, stats):
    """Walk every barrier round, PE, channel, I-vector and F-vector; count cycles per step.

    Bank of a product = ((a_term + w_term) mod M) * mult + w_lane (see ``bank_terms``); a
    step lasts max(products on one bank) cycles (``qdepth`` = 0), or, with per-bank queues of
    ``qdepth`` products draining one per cycle, the step issues once every bank's queue has
    room for its products (stall = the wait) and the round ends when the queues are empty.
    RLE padding entries carry sentinel
    coordinates (their products fall out of the plane) and are counted per block in closed
    form.  ``stats[r, pe]`` gets the counters ST_*; products aimed at masked-off outputs are
    gated when ``mask_skip``.  ``out`` (K, P, Q) accumulates in functional mode.
    """
    NR, NPE = round_tile.shape
    A = M * mult
    stamp_of = np.zeros(A, dtype=np.int64)
    cnt = np.zeros(A, dtype=np.int64)
    stamp = 0
    occ = np.zeros(A, dtype=np.int64)
    last = np.zeros(A, dtype=np.int64)
    touched = np.zeros(F * I, dtype=np.int64)
    pow2 = (M & (M - 1)) == 0
    mm = M - 1
    general = has_mask or functional
    for r in range(NR):
        for pe in range(NPE):
            t = round_tile[r, pe]
            g = round_group[r, pe]
            if t < 0 or g < 0:
                continue
            steps = 0
            stall = 0
            prod = 0
            oop = 0
            msk = 0
            eff = 0
            wr = 0
            aread = 0
            wload = 0
            gated = 0
            nivec = 0
            padp = 0
            now = 0
            if qdepth > 0:
                occ[:] = 0
                last[:] = 0
            c0 = cv0[g]
            for cl in range(CVg):
                ab = a_ptr[t * CV + c0 + cl]
                ae = a_ptr[t * CV + c0 + cl + 1]
                wb = w_ptr[g * CVg + cl]
                we = w_ptr[g * CVg + cl + 1]
                if ab == ae or wb == we:
                    continue
                na_all = ae - ab
                nw_all = we - wb
                pa = a_padcum[ae] - a_padcum[ab]
                pw = w_padcum[we] - w_padcum[wb]
                padp += pa * nw_all + na_all * pw - pa * pw
                aread += na_all
                niv = (na_all + I - 1) // I
                nwv = (nw_all + F - 1) // F
                nivec += niv
                # the FIFO re-streams a block that fits; a larger one is reloaded per I-vector
                if nwv <= fifo_entries:
                    wload += nw_all
                else:
                    wload += nw_all * niv
                prod += na_all * nw_all
                steps += niv * nwv
                for ib in range(ab, ae, I):
                    ie = min(ib + I, ae)
                    for fb in range(wb, we, F):
                        fe = min(fb + F, we)
                        stamp += 1
                        mx = 1
                        nt = 0
                        for ii in range(ib, ie):
                            ap = a_p[ii]
                            aq = a_q[ii]
                            at = a_term[ii]
                            for ff in range(fb, fe):
                                p = ap - w_p[ff]
                                q = aq - w_q[ff]
                                if p < 0 or p >= P or q < 0 or q >= Q:
                                    oop += 1
                                    continue
                                if general:
                                    if has_mask and not mask[p, q]:
                                        msk += 1
                                        if mask_skip:
                                            gated += 1
                                            continue
                                    else:
                                        eff += 1
                                    if functional:
                                        out[w_k[ff], p, q] += a_val[ii] * w_val[ff]
                                else:
                                    eff += 1
                                x = at + w_term[ff]
                                b = ((x & mm) if pow2 else (x % M)) * mult + w_lane[ff]
                                if stamp_of[b] != stamp:
                                    stamp_of[b] = stamp
                                    cnt[b] = 1
                                    touched[nt] = b
                                    nt += 1
                                else:
                                    c = cnt[b] + 1
                                    cnt[b] = c
                                    if c > mx:
                                        mx = c
                                wr += 1
                        if qdepth > 0:
                            wait = 0
                            for j in range(nt):
                                b = touched[j]
                                o = occ[b] - (now - last[b])
                                if o < 0:
                                    o = 0
                                lim = qdepth if qdepth > cnt[b] else cnt[b]
                                if o + cnt[b] - lim > wait:
                                    wait = o + cnt[b] - lim
                            now += wait
                            stall += wait
                            for j in range(nt):
                                b = touched[j]
                                o = occ[b] - (now - last[b])
                                if o < 0:
                                    o = 0
                                occ[b] = o + cnt[b]
                                last[b] = now
                            now += 1
                        else:
                            stall += mx - 1
            if qdepth > 0:  # drain the queues before the barrier
                tail = 0
                for b in range(A):
                    o = occ[b] - (now - last[b])
                    if o > tail:
                        tail = o
                stall += tail
            st = stats[r, pe]
            st[ST_CYC] = steps + stall
            st[ST_STEPS] = steps
            st[ST_STALL] = stall
            st[ST_PROD] = prod
            st[ST_OOP] = oop - padp
            st[ST_MASK] = msk
            st[ST_EFF] = eff
            st[ST_WRITE] = wr
            st[ST_AREAD] = aread
            st[ST_WLOAD] = wload
            st[ST_GATED] = gated
            st[ST_IVEC] = nivec
            st[ST_PADP] = padp


def bank_terms(ast: "ActStreams", wst: "WeightStreams", plan: Plan, F: int, A: int, kind: str):
    """Per-entry terms of the accumulator bank hash: bank = ((a_term + w_term) mod M) * mult + w_lane.

    ``linear`` (default): bank = address mod A, address = (k_local*Pacc + p - p0)*Qacc + (q - q0)
    (low-order interleaving of the linear accumulator address).
    ``skewed``: bank = (k_local mod F) + F * ((spatial + k_local // F) mod (A / F)),
    spatial = (p - p0)*Qacc + (q - q0): an F-vector of consecutive output channels uses F
    distinct bank lanes, consecutive pixels of an I-vector distinct spatial slots, and the
    k_local // F skew separates channels k and k + F.
    """
    wpos = wst.p * plan.Qacc + wst.q
    if kind == "linear":
        return ast.term, wst.kl * plan.Pacc * plan.Qacc - wpos, np.zeros_like(wst.kl), A, 1
    return ast.term, wst.kl // F - wpos, wst.kl % F, A // F, F


# ============================================================== shared round logic
def apportion(parts: dict[str, float], total: int) -> dict[str, int]:
    """Round non-negative float parts to ints summing exactly to ``total`` (largest remainder)."""
    keys = list(parts)
    v = np.array([max(0.0, float(parts[k])) for k in keys])
    if v.sum() <= 0:
        return {k: 0 for k in keys} | ({keys[0]: int(total)} if keys and total else {})
    v = v * (total / v.sum())
    fl = np.floor(v).astype(np.int64)
    rem = int(total - fl.sum())
    order = np.argsort(-(v - fl), kind="stable")
    fl[order[:rem]] += 1
    return {k: int(x) for k, x in zip(keys, fl)}


def timeline(plan: Plan, cfg: ArchConfig, pe_cycles: np.ndarray, halo_r: np.ndarray, drain_r: np.ndarray,
             dram_bytes_pass: np.ndarray):
    """Chip time from per-(round, PE) compute cycles: barrier per round, serial halo exchange,
    PPU drain overlapped with the next round, DRAM overlapped per pass.

    Returns ``(cycles, T_r, ppu_stall_r, mem_stall_pass)``.
    """
    T_r = pe_cycles.max(axis=1) if pe_cycles.size else np.zeros(0, dtype=np.int64)
    work = T_r + halo_r
    ppu = np.zeros_like(work)
    if work.size:
        ppu[1:] = np.maximum(0, drain_r[:-1] - work[1:])
        ppu[-1] += drain_r[-1]  # the last round's drain is exposed
    per_round = work + ppu
    bpc = cfg["dram.bandwidth_bytes_per_s"] / cfg.clock_hz
    comp_pass = np.bincount(plan.round_pass, weights=per_round, minlength=plan.n_pass)
    mem_cyc = np.ceil(dram_bytes_pass / bpc)
    mem_stall = np.maximum(0, mem_cyc - comp_pass)
    cycles = int(per_round.sum() + mem_stall.sum())
    return cycles, T_r, ppu, mem_stall


def round_timeline(plan: Plan, pe_cycles, pe_stall, T_r, halo_r, ppu_r, mem_stall) -> dict:
    """``engine.pe_timeline`` of a barrier-round schedule (SCNN, DCNN): a pass's DRAM stall is
    placed after its last round, as :func:`timeline` adds it to the layer."""
    from ..engine import pe_timeline
    last = np.zeros(len(T_r), dtype=np.int64)
    for p_, r_ in enumerate(np.searchsorted(plan.round_pass, np.arange(plan.n_pass), side="right") - 1):
        if 0 <= r_ < len(last) and plan.round_pass[r_] == p_:
            last[r_] += int(mem_stall[p_])
    return pe_timeline(pe_cycles, pe_stall, T_r, halo_r, ppu_r, last)


def halo_and_drain(plan: Plan, cfg: ArchConfig):
    """Per round: halo exchange cycles (largest PE halo x Kc / rate), PPU drain cycles, total halo psums."""
    kc = plan.kgroups[:, 1] - plan.kgroups[:, 0]
    rt, rg = plan.round_tile, plan.round_group
    active = (rt >= 0) & (rg >= 0)
    fa = (plan.foot[:, 1] - plan.foot[:, 0]) * (plan.foot[:, 3] - plan.foot[:, 2])
    halo_px = np.maximum(0, fa - plan.owned_area)
    kcr = np.where(active, kc[np.maximum(rg, 0)], 0)
    halo_psums = np.where(active, halo_px[np.maximum(rt, 0)], 0) * kcr
    halo_r = np.ceil(halo_psums.max(axis=1) / cfg["halo.psums_per_cycle"]).astype(np.int64)
    drain = np.where(active, plan.owned_area[np.maximum(rt, 0)], 0) * kcr
    drain_r = np.ceil(drain.max(axis=1) / cfg["ppu.entries_per_cycle"]).astype(np.int64)
    return halo_r, drain_r, int(halo_psums.sum()), int(drain.sum())


def out_entries_per_tile(inst: LayerInstance, plan: Plan, counts: np.ndarray | None = None):
    """Estimated stored output entries per tile: owned outputs with >= 1 effectual product, per channel."""
    L = inst.layer
    if counts is None:
        counts = effectual_counts(inst)
    nzk = ((counts > 0) & inst.out_mask_or_ones()[None]).sum(axis=0)
    T = plan.tiles.shape[0]
    if plan.mode == "channel":
        # outputs of K slice of each PE: per group
        return None, int(nzk.sum())
    return np.bincount(plan.owner.ravel(), weights=nzk.ravel(), minlength=T).astype(np.int64), int(nzk.sum())


def output_spill_bytes_pass(plan: Plan, cfg: ArchConfig, out_tile_entries, total_out_entries, entry_bits,
                            oaram_bytes):
    """DRAM bytes written per pass for PEs whose outputs overflow OARAM."""
    rows, cols = cfg["pe_rows"], cfg["pe_cols"]
    npe = rows * cols
    cap = oaram_bytes * 8 // entry_bits
    res = np.zeros(plan.n_pass)
    if plan.mode == "channel":
        per_pe = -(-total_out_entries // npe)
        if per_pe > cap:
            res[0] = total_out_entries * entry_bits / 8
        return res
    e = out_tile_entries.reshape(plan.n_pass, npe)
    spill_pe = e.sum(axis=0) > cap
    res[:] = (e * spill_pe[None]).sum(axis=1) * entry_bits / 8
    return res


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


# ======================================================================= model
@register_model("scnn")
class SCNN(AcceleratorModel):
    """SCNN PT-IS-CP-sparse accelerator (ISCA 2017), cycle-level; see the module docstring."""

    FIELDS = {
        **GEOMETRY_FIELDS,
        "output_mask_skip": Field(bool, "", False, doc="variant: drop activations / gate products aimed at "
                                  "masked-off outputs before the multiplier array", source="assumed (not in SCNN)"),
        "accumulator.bank_hash": Field(str, "", "linear", choices=("linear", "skewed"), doc="product -> bank "
                                       "mapping (see bank_terms): linear = address mod banks, skewed = channel "
                                       "lane + skewed spatial interleave (conflict-free on dense data)",
                                       source="assumed (paper gives no hash; SCNN's dense-data loss is attributed "
                                              "to bank contention, which linear has and skewed lacks)"),
        "accumulator.conflict_model": Field(str, "", "step_max", choices=("step_max", "queue"), doc="step_max: "
                                            "a step lasts max products on one bank (DNNsim); queue: per-bank "
                                            "queues of queue_depth products", source="assumed (paper gives none)"),
        "accumulator.queue_depth": Field(int, "products", 8, doc="per-bank queue depth of the queue model",
                                         source="losif63/SCNN_Simulator_101 crossbar queue depth 8"),
        "weight_order": Field(str, "", "rsk", choices=("rsk", "krs"), doc="order of a (c, Kc-group) weight "
                              "block: rsk = k innermost (F-vector spans output channels), krs = s innermost",
                              source="assumed (DNNsim core/src/SCNN.cpp uses r, s, k)"),
    }
    MAPPING_NOTES = {
        "conv": "planar tiles over the PE grid, input stationary, Kc output-channel groups, output halos",
        "depthwise": "fallback: each group as its own 1-channel convolution, Kc = 1 (very low utilisation)",
        "fc": "output channels dealt to PEs, input broadcast; one activation per I-vector (25 % of peak)",
    }

    @classmethod
    def check_config(cls, cfg: ArchConfig) -> None:
        if cfg["accumulator.bits"] < cfg["value_bits"]:
            raise ConfigError(f"accumulator.bits ({cfg['accumulator.bits']}) must be >= value_bits "
                              f"({cfg['value_bits']})", file=cfg.file, field="accumulator.bits")
        if cfg["accumulator.bank_hash"] == "skewed" and cfg["accumulator.banks"] % cfg["multipliers.F"]:
            raise ConfigError(f"the skewed bank hash needs banks ({cfg['accumulator.banks']}) to be a multiple of "
                              f"F ({cfg['multipliers.F']})", file=cfg.file, field="accumulator.banks")
        if cfg["index_bits"] > 16:
            raise ConfigError("must be <= 16", file=cfg.file, field="index_bits")
        ent = cfg["iaram_bytes"] * 8 // (cfg["value_bits"] + cfg["index_bits"])
        if ent < cfg["multipliers.I"]:
            raise ConfigError(f"IARAM holds {ent} entries, fewer than one I-vector", file=cfg.file,
                              field="iaram_bytes")

    def peak_macs_per_cycle(self) -> int:
        c = self.cfg
        return c["pe_rows"] * c["pe_cols"] * c["multipliers.F"] * c["multipliers.I"]

    def unsupported_reason(self, layer: Layer) -> str | None:
        return footprint_unsupported(layer, self.cfg)

    @property
    def entry_bits(self) -> int:
        return self.cfg["value_bits"] + self.cfg["index_bits"]

    # ---------------------------------------------------------------- simulate
    def simulate_layer(self, inst: LayerInstance, functional: bool = False) -> LayerResult:
        cfg, L = self.cfg, inst.layer
        why = self.unsupported_reason(L)
        if why:
            raise UnsupportedLayer(f"{cfg.name}: layer {L.name!r}: {why}")
        rows, cols, F, I, cap = _geom(cfg)
        npe, A, ib = rows * cols, cfg["accumulator.banks"], cfg["index_bits"]
        acts = inst.acts_dense()
        w = inst.weights_dense()
        has_mask = inst.out_mask is not None and not bool(np.all(inst.out_mask))
        mask = inst.out_mask_or_ones()
        skip = bool(cfg["output_mask_skip"]) and has_mask
        iaram_entries = cfg["iaram_bytes"] * 8 // self.entry_bits

        cache = {}

        def tile_entries(plan):
            key = (plan.tiles.shape[0], plan.Qacc, plan.Pacc, plan.tiles.tobytes())
            if key not in cache:
                cache[key] = build_act_streams(acts, L, plan, ib)
            return cache[key].counts(plan.tiles.shape[0]).sum(axis=1)

        plan, act_dram, note = plan_with_capacity(L, cfg, tile_entries, iaram_entries)
        key = (plan.tiles.shape[0], plan.Qacc, plan.Pacc, plan.tiles.tobytes())
        stored = cache[key]
        keep = needed_inputs(L, mask) if skip else None
        ast = build_act_streams(acts, L, plan, ib, keep) if skip else stored
        wst = build_weight_streams(w, L, plan, ib, cfg["weight_order"])

        NR = plan.round_tile.shape[0]
        stats = np.zeros((NR, npe, N_ST), dtype=np.int64)
        out = np.zeros((L.K, L.P, L.Q)) if functional else np.zeros((1, 1, 1))
        a_term, w_term, w_lane, M, mult = bank_terms(ast, wst, plan, F, A, cfg["accumulator.bank_hash"])
        a_p = np.where(ast.pad, _PAD_A, ast.p)
        w_p = np.where(wst.pad, _PAD_W, wst.p)
        a_padcum = np.concatenate([[0], np.cumsum(ast.pad)]).astype(np.int64)
        w_padcum = np.concatenate([[0], np.cumsum(wst.pad)]).astype(np.int64)
        _scnn_kernel(plan.round_tile, plan.round_group, ast.ptr, a_p, ast.q, a_term, ast.val, a_padcum, ast.CV,
                     wst.ptr, w_p, wst.q, wst.k, w_term, w_lane, wst.val, w_padcum, wst.CVg, wst.cv0,
                     F, I, M, mult, L.P, L.Q, mask, has_mask, skip, functional, out,
                     cfg["weight_fifo.entries"],
                     cfg["accumulator.queue_depth"] if cfg["accumulator.conflict_model"] == "queue" else 0, stats)
        res = self._finish(inst, plan, stats, stored, act_dram, skip, has_mask)
        if note:
            res.extra["notes"].append(note)
        if functional:
            if L.bias is not None:
                out += np.asarray(L.bias, dtype=np.float64)[:, None, None]
            out *= mask[None]
            res.output = out
        return res

    def _finish(self, inst, plan: Plan, stats, stored: ActStreams, act_dram, skip, has_mask) -> LayerResult:
        cfg, L = self.cfg, inst.layer
        rows, cols, F, I, cap = _geom(cfg)
        npe, FI, eb = rows * cols, F * I, self.entry_bits
        S = stats
        halo_r, drain_r, halo_psums, drained = halo_and_drain(plan, cfg)
        # DRAM bytes per pass
        T = plan.tiles.shape[0]
        in_tile = stored.counts(T).sum(axis=1)
        dram_in = np.zeros(plan.n_pass)
        if act_dram:
            if plan.mode == "channel":
                dram_in[0] = in_tile[0] * eb / 8 * plan.round_tile.shape[0]
            else:
                dram_in = np.array([in_tile[t].sum() for t in plan.pass_tiles]) * eb / 8
        wl = S[:, :, ST_WLOAD]
        w_round = wl.sum(axis=1) if plan.mode == "channel" else wl.max(axis=1)  # broadcast serves all PEs
        dram_w = np.bincount(plan.round_pass, weights=w_round * eb / 8, minlength=plan.n_pass)
        out_tile, out_total = out_entries_per_tile(inst, plan)
        dram_out = output_spill_bytes_pass(plan, cfg, out_tile, out_total, eb, cfg["oaram_bytes"])
        dram_pass = dram_in + dram_w + dram_out
        cycles, T_r, ppu_r, mem_stall = timeline(plan, cfg, S[:, :, ST_CYC], halo_r, drain_r, dram_pass)

        tot = {n: int(S[:, :, i].sum()) for n, i in (("steps", ST_STEPS), ("stall", ST_STALL), ("prod", ST_PROD),
                                                     ("oop", ST_OOP), ("mask", ST_MASK), ("eff", ST_EFF),
                                                     ("write", ST_WRITE), ("aread", ST_AREAD), ("gated", ST_GATED),
                                                     ("wload", ST_WLOAD), ("ivec", ST_IVEC),
                                                     ("padp", ST_PADP))}
        pad_prod = tot["padp"]
        parts = {
            "busy": tot["eff"] / FI / npe,
            "fragmentation": (tot["steps"] * FI - tot["prod"]) / FI / npe,
            "rle_padding": pad_prod / FI / npe,
            "out_of_plane": tot["oop"] / FI / npe,
            "masked_output": tot["mask"] / FI / npe,
            "bank_conflict": tot["stall"] / npe,
            "load_imbalance": float((T_r[:, None] - S[:, :, ST_CYC]).sum()) / npe,
            "halo": float(halo_r.sum()),
            "ppu_drain": float(ppu_r.sum()),
            "memory_stall": float(mem_stall.sum()),
        }
        breakdown = apportion(parts, cycles)
        macs_actual = tot["prod"] - tot["gated"]
        dram_bytes = float(dram_pass.sum())
        actions = {
            "mult_16b": macs_actual,
            "xbar_24b": tot["write"],
            "acc_read_24b": tot["write"] + halo_psums + drained,
            "acc_add_24b": tot["write"] + halo_psums,
            "acc_write_24b": tot["write"] + halo_psums,
            "noc_psum_24b": halo_psums,
            "iaram_read_20b": tot["aread"],
            "wfifo_read_80b": tot["steps"],
            "wfifo_write_80b": -(-tot["wload"] // F),
            "ppu_op_24b": drained,
            "oaram_write_20b": out_total,
            "dram_byte": dram_bytes,
        }
        eff = tot["eff"]
        extra = {
            "mode": plan.mode, "Kc": plan.Kc, "groups_kc": int(plan.kgroups.shape[0]), "passes": plan.n_pass,
            "rounds": int(plan.round_tile.shape[0]), "Pacc": plan.Pacc, "Qacc": plan.Qacc,
            "tile_hw_max": [int((plan.tiles[:, 1] - plan.tiles[:, 0]).max()),
                            int((plan.tiles[:, 3] - plan.tiles[:, 2]).max())],
            "multiplier_steps": tot["steps"], "conflict_stall_pe_cycles": tot["stall"],
            "conflict_stall_max_per_round": int(S[:, :, ST_STALL].max(axis=1).sum()),
            "compute_cycles_max_pe_steps": int(S[:, :, ST_STEPS].max(axis=1).sum()),
            "products": tot["prod"], "products_out_of_plane": tot["oop"], "products_rle_padding": pad_prod,
            "macs_masked_wasted": tot["mask"] - tot["gated"], "macs_masked_gated": tot["gated"],
            "crossbar_writes": tot["write"], "act_entries_read": tot["aread"], "i_vectors": tot["ivec"],
            "halo_psums": halo_psums, "act_from_dram": bool(act_dram), "dram_bytes": dram_bytes,
            "dram_bytes_in": float(dram_in.sum()), "dram_bytes_weights": float(dram_w.sum()),
            "dram_bytes_out": float(dram_out.sum()), "out_entries_est": out_total,
            "input_entries_stored": int(in_tile.sum()),
            "slot_utilization": tot["prod"] / max(1, cycles * npe * FI),
            "notes": list(plan.notes),
        }
        if self.record_pe_timeline:
            extra["pe_timeline"] = round_timeline(plan, S[:, :, ST_CYC], S[:, :, ST_STALL], T_r, halo_r, ppu_r,
                                                  mem_stall)
        return LayerResult(inst.name, inst.image, cycles, breakdown, actions, L.macs_dense, eff, macs_actual,
                           macs_skipped=max(0, L.macs_dense - tot["prod"]), macs_gated=tot["gated"],
                           utilization=eff / max(1, cycles * npe * FI), extra=extra)

    def area_mm2(self) -> dict[str, float]:
        return {}


# ================================================================== validation
def _layers_from_csv(path: Path) -> list[dict]:
    with open(path) as f:
        return [dict(r) for r in csv.DictReader(f)]


def _layer(row: dict, dens: float | None, name_suffix="") -> Layer:
    i = lambda k: int(row[k])  # noqa: E731
    return Layer(row["layer"] + name_suffix, "conv", C=i("C"), K=i("K"), H=i("H"), W=i("W"), R=i("R"), S=i("S"),
                 stride=i("stride"), padding=i("pad"),
                 weight_density=dens if dens is not None else float(row["weight_density"]),
                 act_density=dens if dens is not None else float(row["act_density"]))


def _run(model, L: Layer, seed=0):
    from ..engine import run_instance
    return run_instance(model, LayerInstance(L, 0, act_density=L.act_density), seed=seed)


def _check(name, sim, ref, unit="", note="", tol=None, passed=None):
    rel = (sim - ref) / ref if ref else None
    ok = passed if passed is not None else (abs(rel) <= tol if (tol is not None and rel is not None) else None)
    return {"name": name, "simulated": sim, "reference": ref, "rel_error": rel, "unit": unit, "pass": ok,
            "note": note}


# GoogLeNet inception modules (Szegedy et al. 2015, Table 1): plane, input channels and the
# output channels of the four 1x1 convolutions (#1x1, #3x3 reduce, #5x5 reduce, pool proj).
GOOGLENET_1X1 = {
    "3a": (28, 192, (64, 96, 16, 32)), "3b": (28, 256, (128, 128, 32, 64)),
    "4a": (14, 480, (192, 96, 16, 64)), "4b": (14, 512, (160, 112, 24, 64)),
    "4c": (14, 512, (128, 128, 24, 64)), "4d": (14, 512, (112, 144, 32, 64)),
    "4e": (14, 528, (256, 160, 32, 128)), "5a": (7, 832, (256, 160, 32, 128)),
    "5b": (7, 832, (384, 192, 48, 128)),
}


def _pooled_utilization(model, layers, key) -> tuple[float, dict]:
    """Effectual MACs / (cycles x peak MACs per cycle) pooled over ``layers``, and per ``key(layer)``."""
    peak = model.peak_macs_per_cycle()
    sums: dict = {}
    for L in layers:
        rr = _run(model, L)
        e0, s0 = sums.get(key(L), (0, 0))
        sums[key(L)] = (e0 + rr.macs_effectual, s0 + rr.cycles * peak)
    eff, slots = (sum(v) for v in zip(*sums.values()))
    return eff / slots, {k: e / s for k, (e, s) in sums.items()}


def _googlenet_1x1_bracket(model, rows: list[dict]) -> dict:
    """Utilisation of all 36 GoogLeNet 1x1 layers with every module at 3a's, then at 5b's mean
    (activation, weight) densities of the shared data; per plane size and overall."""
    out = {}
    for mod in ("3a", "5b"):
        sel = [r for r in rows if r["layer"].startswith(f"inception_{mod}") and r["R"] == "1"]
        da = float(np.mean([float(r["act_density"]) for r in sel]))
        dw = float(np.mean([float(r["weight_density"]) for r in sel]))
        layers = [Layer(f"inception_{name}_1x1_{j}", "conv", C=c, K=k, H=hw, W=hw, R=1, S=1,
                        act_density=da, weight_density=dw)
                  for name, (hw, c, ks) in GOOGLENET_1X1.items() for j, k in enumerate(ks)]
        u, by_plane = _pooled_utilization(model, layers, lambda L: f"{L.H}x{L.W}")
        out[f"densities_of_{mod}"] = {"act_density": da, "weight_density": dw, "utilization": u,
                                      "by_plane": by_plane}
    return out


def validate(shared: Path | None, full: bool = False) -> dict:
    """Density sweep on GoogLeNet inception 3a/5b shapes (paper Fig. 10) plus the utilisation studies.

    Default: a subset of layers and densities (< 60 s on one core); ``full`` runs all.
    Pass/fail tolerances are this project's (+-25 % on ratios, crossover within 0.1 density);
    the numbers are reported whatever they are.
    """
    from ..engine import make_model
    t0 = time.perf_counter()
    res: dict = {"model": "scnn", "checks": [], "full": full}
    if shared is None:
        res["skipped"] = "shared reference data not found"
        return res
    path = Path(shared) / "validation" / "scnn_layer_densities" / "googlenet_inception_3a_5b.csv"
    if not path.exists():
        res["skipped"] = f"{path} missing"
        return res
    rows = _layers_from_csv(path)
    if not full:
        keep = {"inception_3a_1x1", "inception_3a_3x3", "inception_3a_5x5", "inception_5b_3x3",
                "inception_5b_1x1"}
        rows = [r for r in rows if r["layer"] in keep]
    densities = [1.0, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1] if full else \
        [1.0, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.3, 0.1]
    scnn = make_model("scnn")
    dcnn = make_model("dcnn")
    dopt = make_model("dcnn-opt")
    curve = []
    for d in densities:
        cs = cd = es = ed = eo = 0.0
        for r in rows:
            L = _layer(r, d)
            a, b, o = _run(scnn, L), _run(dcnn, L), _run(dopt, L)
            cs += a.cycles
            cd += b.cycles
            es += a.energy_j
            ed += b.energy_j
            eo += o.energy_j
        curve.append({"density": d, "scnn_cycles": cs, "dcnn_cycles": cd, "perf_scnn_over_dcnn": cd / cs,
                      "energy_scnn_over_dcnn": es / ed, "energy_scnn_over_dcnn_opt": es / eo})
    res["density_curve"] = curve
    res["layers"] = [r["layer"] for r in rows]
    c1 = curve[0]["perf_scnn_over_dcnn"]
    res["checks"].append(_check("perf SCNN/DCNN at density 1.0", c1, 0.79, "x", "paper Fig. 10", tol=0.25))
    ds = np.array([c["density"] for c in curve])

    def crossover(key, inverse=False):
        v = np.array([c[key] for c in curve])
        v = 1 / v if inverse else v
        for i in range(len(ds) - 1):
            if (v[i] - 1) * (v[i + 1] - 1) <= 0 and v[i] != v[i + 1]:
                return float(ds[i] + (1 - v[i]) * (ds[i + 1] - ds[i]) / (v[i + 1] - v[i]))
        return None

    for label, key, inv, ref in (("performance crossover density", "perf_scnn_over_dcnn", False, 0.85),
                                 ("energy crossover density vs DCNN", "energy_scnn_over_dcnn", True, 0.83),
                                 ("energy crossover density vs DCNN-opt", "energy_scnn_over_dcnn_opt", True, 0.6)):
        x = crossover(key, inv)
        res["checks"].append(_check(label, x, ref, "density", "interpolated on the simulated curve", passed=(x is not None and abs(x - ref) <= 0.1))
                             if x is not None else {"name": label, "simulated": None, "reference": ref,
                                                    "rel_error": None, "unit": "density", "pass": False,
                                                    "note": "no crossing in the simulated sweep"})
    res["checks"].append(_check("speedup at density 0.1", curve[-1]["perf_scnn_over_dcnn"], 24.0, "x",
                                "paper Fig. 10", tol=0.25))
    res["checks"].append(_check("energy SCNN/DCNN at density 1.0", curve[0]["energy_scnn_over_dcnn"], 1.33, "x",
                                "paper: 33 % more energy; our energy table is derived, not the paper's",
                                tol=0.25))
    res["checks"].append(_check("energy SCNN/DCNN at density 0.1", curve[-1]["energy_scnn_over_dcnn"], 0.06, "x",
                                "paper: 6 % of DCNN energy", tol=0.5))
    # FC at ~25 % of peak: the paper's figure is the multiplier utilisation; FC layers have no
    # weight reuse and are DRAM-bound at 50 GB/s, so the utilisation of the compute cycles
    # (cycles - memory_stall) is the checked number and the total is reported beside it
    fc = Layer("fc", "fc", C=4096 if full else 1024, K=4096 if full else 1024, weight_density=1.0, act_density=1.0)
    r = _run(scnn, fc)
    comp = r.cycles - r.breakdown.get("memory_stall", 0)
    u_fc = r.macs_effectual / (comp * scnn.peak_macs_per_cycle())
    res["checks"].append(_check("FC multiplier utilisation of compute cycles (dense)", u_fc, 0.25, "",
                                f"paper: 25 % of peak; including DRAM stalls {r.utilization:.3f}", tol=0.2))
    # GoogLeNet 1x1 layers with Kc = 8: below 20 %
    scnn8 = make_model("scnn", {"kc": 8})
    allrows = _layers_from_csv(path)
    u, per = _pooled_utilization(scnn8, [_layer(x, None) for x in allrows if x["R"] == "1"], lambda L: L.name)
    res["kc8_1x1_utilization"] = per
    res["checks"].append(_check("GoogLeNet 1x1 utilisation with Kc=8", u, 0.20, "",
                                "paper: below 20 %; pass = below; the 3a (28x28) and 5b (7x7) 1x1 layers of the "
                                "shared data, per layer in kc8_1x1_utilization", passed=u < 0.20))
    # The shared data hold 3a and 5b only; the network's other 1x1 layers (3b, 4a-4e, 5a) have
    # public shapes but unknown densities.  Bracket them: all modules at 3a's densities (denser,
    # the upper end) and all at 5b's (the lower end).
    res["kc8_1x1_googlenet_bracket"] = _googlenet_1x1_bracket(scnn8, allrows)
    # PE granularity: 64 PEs x 16 multipliers vs 4 PEs x 256 on every 3a/5b layer.  The paper
    # has 64x16 faster by 11 % at math utilisations 59 % vs 35 %; since both designs do the same
    # effectual work on the same 1024 multipliers, a utilisation over all chip cycles would
    # differ by exactly the speed ratio (1.11, not 1.69), so the paper's figure must count the
    # PEs' own busy cycles (issue steps + conflict stalls), not the cycles they wait at barriers.
    big = make_model("scnn-4x256")
    gran = {}
    for label, m in (("64x16", scnn), ("4x256", big)):
        g = {"cycles": 0, "macs_effectual": 0, "pe_active_slots": 0, "pe_issue_slots": 0}
        FI = m.cfg["multipliers.F"] * m.cfg["multipliers.I"]
        for x in allrows:
            rr = _run(m, _layer(x, None))
            g["cycles"] += rr.cycles
            g["macs_effectual"] += rr.macs_effectual
            g["pe_issue_slots"] += rr.extra["multiplier_steps"] * FI
            g["pe_active_slots"] += (rr.extra["multiplier_steps"] + rr.extra["conflict_stall_pe_cycles"]) * FI
        g["chip_utilization"] = g["macs_effectual"] / (g["cycles"] * m.peak_macs_per_cycle())
        g["math_utilization_pe_active"] = g["macs_effectual"] / g["pe_active_slots"]
        g["math_utilization_issue_steps"] = g["macs_effectual"] / g["pe_issue_slots"]
        gran[label] = g
    res["granularity"] = gran
    u64, u4 = gran["64x16"]["math_utilization_pe_active"], gran["4x256"]["math_utilization_pe_active"]
    res["checks"].append(_check("math utilisation 64x16", u64, 0.59, "",
                                "paper 59 %; effectual / (PE busy cycles x 16), busy = issue steps + "
                                "conflict stalls; chip-cycle utilisation in granularity", tol=0.25))
    res["checks"].append(_check("math utilisation 4x256", u4, 0.35, "", "paper 35 %; as above, x 256",
                                tol=0.25))
    res["checks"].append(_check("64x16 beats 4x256", u64 / u4, 0.59 / 0.35, "x",
                                "paper: ratio 1.69; pass = 64x16 higher", passed=u64 > u4))
    sp = gran["4x256"]["cycles"] / gran["64x16"]["cycles"]
    res["checks"].append(_check("64x16 speed over 4x256", sp, 1.11, "x",
                                "paper: 64x16 faster by 11 %; pass = 64x16 faster", passed=sp > 1.0))
    # sensitivity of the sweep to the two unpublished crossbar choices
    sens = []
    for label, ov in (("queue depth 8", {"accumulator.conflict_model": "queue"}),
                      ("skewed bank hash", {"accumulator.bank_hash": "skewed"})):
        m = make_model("scnn", ov)
        for d in ((1.0, 0.5, 0.1) if not full else densities):
            cs = sum(_run(m, _layer(r, d)).cycles for r in rows)
            cd = next(c["dcnn_cycles"] for c in curve if c["density"] == d)
            sens.append({"variant": label, "density": d, "perf_scnn_over_dcnn": cd / cs})
    res["sensitivity"] = sens
    res["wall_s"] = time.perf_counter() - t0
    return res
