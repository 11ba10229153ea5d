"""PT-IS-CP planar tiling shared by SCNN and its dense baseline DCNN (Parashar et al., ISCA 2017).

The layer plan (input-stationary planar tiles, output footprints and halos, Kc output-channel
groups, barrier rounds, planar passes, the FC / 1x1-plane channel mapping, stride phases and the
grouped-layer fallback; see :mod:`accelsim.models.scnn.model`, section 2), the barrier-round
timeline (halo exchange, PPU drain, DRAM overlap per pass), the output-spill accounting and the
config fields of the shared geometry.  Used by ``accelsim/models/scnn/`` and ``accelsim/models/dcnn/``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from workloads import Layer

from ...config import ArchConfig, Field

_T2 = "SCNN ISCA 2017 design-parameter table (accelerators.md 2.1)"

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


def geom(cfg: ArchConfig):
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
    rows, cols, F, I, cap = geom(cfg)
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


def phase_counts(lo, hi, pad, s):
    """(T, s) number of indices in [lo, hi) of each phase (i + pad) mod s."""
    out = np.zeros((lo.shape[0], s), dtype=np.int64)
    for ph in range(s):
        # count i in [lo, hi) with (i + pad) % s == ph
        first = lo + ((ph - (lo + pad)) % s)
        out[:, ph] = np.maximum(0, (hi - first + s - 1) // s)
    return out


def _entry_bounds(tile_entries, plan: Plan):
    """``(lo, hi)`` (T,) bounds on the stored input entries per tile: ``tile_entries.bounds(plan)`` when the
    callable has it, else its exact counts (``lo == hi``)."""
    b = getattr(tile_entries, "bounds", None)
    if b is None:
        e = np.asarray(tile_entries(plan), dtype=np.int64)
        return e, e
    return b(plan)


def max_entries_above(tile_entries, plan: Plan, lo, hi, limit: int):
    """The exact largest entries of a tile when it exceeds ``limit``, else None.  Counts (``tile_entries(plan,
    idx)``) only tiles whose bounds leave them undecided, largest upper bound first, and stops once no uncounted
    tile's upper bound exceeds both ``limit`` and the largest count so far: a tile pruned so holds at most that."""
    if hi.max(initial=0) <= limit:
        return None
    known = lo == hi
    m = int(lo[known].max(initial=-1))
    open_ = np.flatnonzero(~known)
    open_ = open_[np.argsort(-hi[open_], kind="stable")]
    i, n = 0, 8
    while i < len(open_) and hi[open_[i]] > max(m, limit):
        batch = open_[i:i + n]
        batch = batch[hi[batch] > max(m, limit)]
        m = max(m, int(np.max(tile_entries(plan, batch))))
        i += n
        n *= 2
    return m if m > limit else None


def plan_with_capacity(L: Layer, cfg: ArchConfig, tile_entries, iaram_entries: int):
    """Smallest planar split whose footprint fits the accumulators and, when the input is not
    resident, whose tiles fit IARAM.  ``tile_entries(plan) -> (T,) stored input entries per tile``.
    When it also has ``bounds(plan) -> (lo, hi)`` (T,) bounds on them, it is called as
    ``tile_entries(plan, idx)`` for the tiles ``idx`` only, where the bounds do not decide (SCNN:
    :class:`~accelsim.models.scnn.formats.ActCounter`); the plan is the same either way.

    Returns ``(plan, act_from_dram, extra_note)``.
    """
    rows, cols, F, I, cap = geom(cfg)
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
    lo, hi = _entry_bounds(tile_entries, plan)
    npe = rows * cols
    if plan.mode == "channel":
        return plan, max_entries_above(tile_entries, plan, lo, hi, iaram_entries) is not None, None
    lo_pe = lo.reshape(plan.n_pass, npe).sum(axis=0)
    hi_pe = hi.reshape(plan.n_pass, npe).sum(axis=0)
    if hi_pe.max(initial=0) <= iaram_entries:
        return plan, False, None
    if lo_pe.max(initial=0) <= iaram_entries:  # undecided by the bounds: count every tile
        lo = hi = np.asarray(tile_entries(plan), dtype=np.int64)
        if lo.reshape(plan.n_pass, npe).sum(axis=0).max(initial=0) <= iaram_entries:
            return plan, False, None
    # not resident: read from DRAM once, in passes whose tiles fit IARAM
    for _ in range(256):
        emax = max_entries_above(tile_entries, plan, lo, hi, iaram_entries)
        if emax is None:
            return plan, True, None
        th = (plan.tiles[:, 1] - plan.tiles[:, 0]).max()
        tw = (plan.tiles[:, 3] - plan.tiles[:, 2]).max()
        if th <= 1 and tw <= 1:
            return plan, True, "input tile of one pixel exceeds IARAM: channels streamed from DRAM per round"
        ratio = emax / iaram_entries
        grow = max(1.05, math.sqrt(ratio))
        if th >= tw:
            ny = max(ny + 1, int(math.ceil(ny * grow)))
        else:
            nx = max(nx + 1, int(math.ceil(nx * grow)))
        ny = min(ny, -(-L.H // rows))
        nx = min(nx, -(-L.W // cols))
        plan = plan_layer(L, cfg, ny, nx)
        lo, hi = _entry_bounds(tile_entries, plan)
    return plan, True, None


# ================================================================== round logic
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
    from ...engine import pe_timeline
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



class PlanarArrayMixin:
    """Hooks shared by the models of an 8 x 8-style PE grid of F x I multiplier arrays (SCNN, DCNN): put
    before :class:`accelsim.base.AcceleratorModel` in the bases."""

    ISO_FIELDS = {"pe_rows": "sqrt", "pe_cols": "sqrt"}
    DRAM_BANDWIDTH = ("dram.bandwidth_bytes_per_s", False)

    def peak_macs_per_cycle(self) -> int:
        c = self.cfg
        return c["pe_rows"] * c["pe_cols"] * c["multipliers.F"] * c["multipliers.I"]

    def unsupported_reason(self, layer: Layer) -> str | None:
        return footprint_unsupported(layer, self.cfg)
