"""SCNN's work units for ``--sample`` (:mod:`accelsim.sampling`): the barrier rounds.

A round (one (pass, Kc-group) step of every PE, ``plan.round_tile`` / ``plan.round_group``) is independent of
the others in the cycle loop: every crossbar queue / FIFO drains before the barrier, the arbiters restart, and
the weight FIFO's loads are counted per (channel, group) block within the round (``kernel.py``).  So
:meth:`RoundSpace.run` runs the same Numba kernel on the selected rounds only, after the layer's plan and
compressed streams were built once (:meth:`SCNN.prepare`, shared with the exhaustive path).

A round's share of the layer's cycles is its barrier (slowest PE) + its halo exchange + the part of the
previous round's PPU drain it does not hide (the drain times come from the plan, so this needs no other
round's kernel run).  What belongs to no round is added by :meth:`RoundSpace.result`, which is the exhaustive
path's own :meth:`SCNN.assemble` on the (estimated) totals: the last round's exposed drain, the halo psums and
PPU ops, the input / output DRAM bytes, and each pass's DRAM stall ``max(0, DRAM time - compute)``.  A
round's weight entries loaded from DRAM have a closed form in the stream lengths, so every pass's DRAM bytes
are exact; a pass's compute is the estimated total apportioned over the passes by the rounds' simulated
cycles where run and their proxy (x cycles per proxy unit) elsewhere, so a max() never sees a per-pass
estimate from a handful of rounds.

Work proxy for the strata: a round's largest per-PE multiplier-step count without stalls,
``sum over channels of ceil(activations / I) * ceil(weights / F)`` from the stream lengths (no kernel).
"""

from __future__ import annotations

import numpy as np

from ...sampling import UnitResults, UnitSpace
from .barrier import merge
from .rounds import Prepared, round_numbers

#: a grouped layer's (tile, group, channel) arrays are built at once up to this many elements (else group by group)
GROUPED_AT_ONCE = 1 << 22


def round_closed_forms(prep: Prepared, F: int, I: int):
    """Per round, from the stream lengths alone (no kernel): the most multiplier steps any PE issues when no
    step stalls or is skipped (the strata's work proxy); and the weight entries the round reads from DRAM
    (``prep.wround``, :func:`~.rounds.dram_weight_loads`, the same for both paths)."""
    plan, ast, wst = prep.plan, prep.ast, prep.wst
    T = plan.tiles.shape[0]
    G, CVg = wst.cv0.shape[0], wst.CVg
    na = np.diff(ast.ptr).reshape(T, ast.CV)
    nw = np.diff(wst.ptr).reshape(G, CVg)
    niv, nwv = -(-na // I), -(-nw // F)
    if CVg == ast.CV and not wst.cv0.any():
        # every group reads every channel: a matrix product (float64 BLAS, exact: every sum is an integer
        # below 2**53), not a loop over the groups
        steps = np.rint(niv.astype(np.float64) @ nwv.astype(np.float64).T).astype(np.int64)
    elif T * G * CVg <= GROUPED_AT_ONCE:
        # grouped / depthwise (256 groups of one channel on the heads' scale convs, ~10 us each in a loop):
        # every group at once, group g reading channels cv0[g] + 0 .. CVg - 1
        ch = wst.cv0.astype(np.int64)[:, None] + np.arange(CVg)      # (G, CVg)
        steps = np.einsum("tgc,gc->tg", niv[:, ch], nwv)
    else:  # a large grouped layer: group by group (bounded memory)
        steps = np.zeros((T, G), dtype=np.int64)
        for g in range(G):
            c0 = int(wst.cv0[g])
            steps[:, g] = niv[:, c0:c0 + CVg] @ nwv[g]
    rt, rg = plan.round_tile, plan.round_group
    act = (rt >= 0) & (rg >= 0)
    t, g = np.maximum(rt, 0), np.maximum(rg, 0)
    return np.where(act, steps[t, g], 0).max(axis=1, initial=0), prep.wround


class RoundSpace(UnitSpace):
    """A layer's barrier rounds on SCNN (module docstring)."""

    unit = "barrier round"

    def __init__(self, model, inst, prep: Prepared):
        self.model, self.prep = model, prep
        cfg = model.cfg
        self.F, self.I = cfg["multipliers.F"], cfg["multipliers.I"]
        self.npe = cfg["pe_rows"] * cfg["pe_cols"]
        plan = prep.plan
        NR = plan.round_tile.shape[0]
        proxy, self.wround = round_closed_forms(prep, self.F, self.I)
        #: each round's simulated cycles (``cyc``) once run (NaN: not run), to apportion compute over passes
        self.seen = np.full(NR, np.nan)
        # the exhaustive run's cost in rounds: its distinct (round, PE) units (run once each) over the PEs
        distinct = -(-prep.n_unit_classes // self.npe) if model.fast_paths else NR
        super().__init__(inst, NR, proxy=proxy, distinct_units=distinct)
        # A pass's DRAM stall is max(0, DRAM time - compute): convex in the compute, so an estimated compute
        # biases it upwards (scnn-maskskip's gated heads: +0.02-0.09 % totals, all from layers with stalls).
        # A pass's DRAM time is exact (closed forms); its compute is at least its rounds' halo plus, unless
        # steps are skipped, their busiest PE's steps (the proxy).  Passes whose DRAM time exceeds that bound
        # may stall: their rounds are all simulated (must_run), so their compute and stall are exact; the
        # others provably do not stall.
        #: weight entries each pass loads (closed form for every round: exact)
        self.wl_pass = np.bincount(plan.round_pass, weights=self.wround, minlength=plan.n_pass)
        self.dram_cycles = model.dram_pass_cycles(prep, self.wl_pass)
        skips_steps = bool(prep.streams[-1])
        lb = np.bincount(plan.round_pass, weights=prep.halo_r + (0 if skips_steps else proxy), minlength=plan.n_pass)
        self.may_stall = self.dram_cycles > lb
        self.must_run = self.may_stall[plan.round_pass]
        #: passes the first sample showed to stall on DRAM (:meth:`release`): compute stays under DRAM time
        self.stalls = np.zeros(plan.n_pass, dtype=bool)
        #: what the barrier rule did in each run (:mod:`.barrier`)
        self.barrier: list[dict] = []

    #: :meth:`release`'s safety factor on the most cycles per proxy step any round of the first sample took
    RELEASE_MARGIN = 1.5

    def release(self, sel: np.ndarray, first: UnitResults) -> np.ndarray | None:
        """A layer whose every pass surely stalls on DRAM need not run in full: each pass then lasts its DRAM
        time whatever its compute, so the layer's cycles are exact, and each stall ``DRAM - compute`` is linear
        in the compute (no max() bends it), so the estimated compute gives unbiased stalls.  A pass counts as
        sure to stall when its DRAM time exceeds a bound on its compute: the rounds of the first sample at
        their simulated cycles, every other round at ``RELEASE_MARGIN`` x the largest barrier-per-proxy-step
        ratio the sample showed x its proxy, plus its halo and the previous round's whole PPU drain.  The depthwise scale convs of the paper's heads read
        their input from DRAM in many passes of tiny rounds and spend 1.8-2.1x their compute on DRAM, so
        they qualify (RESULTS.md sec. 7).  A statistical rule, not a proof: benchmarks/paper_scale.py's
        accuracy part checks the intervals against exhaustive runs.  Returns the rounds that must still
        run (none), or None when some pass is not sure to stall."""
        plan, prep = self.prep.plan, self.prep
        T = np.asarray(first.aux["T"], dtype=np.float64)
        px = self.proxy[sel]
        if not (px > 0).any() or (T[px <= 0] > 0).any():
            return None  # nothing to scale by, or work the proxy does not see
        rho = float((T[px > 0] / px[px > 0]).max()) * self.RELEASE_MARGIN
        prev = np.concatenate([[0], prep.drain_r[:-1]]).astype(np.float64)
        ub = rho * self.proxy + prep.halo_r + prev
        ub[sel] = first.cycles
        ub_pass = np.bincount(plan.round_pass, weights=ub, minlength=plan.n_pass)
        if prep.drain_r.size:  # the last round's drain is exposed (assemble)
            ub_pass[plan.round_pass[-1]] += float(prep.drain_r[-1])
        sure = self.dram_cycles > ub_pass
        # every pass, or none: with some passes released and others not, the layer's cycles would rest on how
        # the estimated compute splits between them, which the ratio apportioning of :meth:`result` does not
        # estimate without bias (scnn-maskskip's gated scale convs: +7-41 % cycles when it was allowed)
        if not sure.all():
            return None
        self.stalls |= sure
        self.may_stall = self.may_stall & ~sure
        return self.may_stall[plan.round_pass]

    def run(self, sel: np.ndarray) -> UnitResults:
        sel = np.asarray(sel, dtype=np.int64)
        prep, F, npe = self.prep, self.F, self.npe
        FI = F * self.I
        S = self.model.run_rounds(prep, sel, info=self.barrier)
        rn = round_numbers(prep, sel, S)
        self.seen[sel] = rn["cyc"]
        # per-round shares (estimation and its energy column; result() recomputes the layer from aux)
        breakdown = {
            "busy": rn["eff"] / FI / npe,
            "fragmentation": (rn["steps"] * FI - rn["prod"]) / FI / npe,
            "rle_padding": rn["padp"] / FI / npe,
            "out_of_plane": rn["oop"] / FI / npe,
            "masked_output": rn["mask"] / FI / npe,
            "bank_conflict": rn["stall"] / npe,
            "load_imbalance": rn["imb"] / npe,
            "halo": prep.halo_r[sel].astype(np.float64),
            "ppu_drain": rn["ppu"].astype(np.float64),
        }
        w = rn["write"]
        actions = {
            "mult_16b": rn["prod"] - rn["gated"], "xbar_24b": w, "acc_read_24b": w, "acc_add_24b": w,
            "acc_write_24b": w, "iaram_read_20b": rn["aread"], "wfifo_read_80b": rn["steps"],
            "wfifo_write_80b": rn["wload"] / F, "dram_byte": rn["wround"] * self.model.entry_bits / 8,
        }
        inplane = rn["prod"] - rn["oop"] - rn["padp"]
        macs = {"macs_effectual": rn["eff"], "macs_actual": inplane - rn["gated"], "macs_gated": rn["gated"]}
        return UnitResults(rn["cyc"], breakdown, actions, macs, dict(rn))

    def result(self, totals: UnitResults):
        a = totals.aux
        exact = all(float(v[0]).is_integer() for v in a.values())
        tot = {k: (int(v[0]) if exact else float(v[0])) for k, v in a.items()}
        plan = self.prep.plan
        # compute cycles per pass: the estimated total apportioned by each round's simulated cycles, or for a
        # round not run its proxy x the cycles per proxy unit of the rounds run (a pass's DRAM stall is
        # max(0, DRAM - compute): a noisy per-pass estimate would make a stall out of a pass whose few sampled
        # rounds are light)
        known = ~np.isnan(self.seen)
        if known.all():
            comp = np.bincount(plan.round_pass, weights=self.seen, minlength=plan.n_pass)
        else:
            xs = float(self.proxy[known].sum())
            ratio = float(self.seen[known].sum()) / xs if xs > 0 else 0.0
            pred = np.where(known, self.seen, self.proxy * ratio)
            comp = np.bincount(plan.round_pass, weights=pred, minlength=plan.n_pass)
            # passes that may stall were run in full (must_run): their compute is exact; the rest of the
            # estimate is apportioned over the other passes: those that cannot stall (their compute is at least
            # their DRAM time, so no rounding of the apportioned share may invent a stall) and those the first
            # sample showed to stall (release: their stall is DRAM - compute, linear in the estimate)
            free = ~self.may_stall
            rest = comp[free].sum()
            if rest > 0:
                comp[free] *= max(0.0, float(tot["cyc"]) - comp[~free].sum()) / rest
            nostall = free & ~self.stalls
            comp[nostall] = np.maximum(comp[nostall], self.dram_cycles[nostall])
        if self.model._prepared is not None and self.model._prepared[1] is self.prep:
            self.model._prepared = None  # sampled: no exhaustive run will reuse the streams
        res = self.model.assemble(self.prep, tot, comp, self.wl_pass)
        if self.barrier:
            res.extra["barrier"] = merge(self.barrier)
        return res
