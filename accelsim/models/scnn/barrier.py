"""SCNN's barrier from candidate PEs (``--sample auto`` / FRACTION only): a round lasts as long as its slowest
PE, and only the PEs that could be the slowest walk the crossbar.

Why it pays: in the paper's heads a round's barrier PE is nearly always among the few PEs with the most
multiplier steps (the barrier's steps rank was 0-3 of 64 on every round of the baseline head's P3 conv2), and
the crossbar walk (``fifo`` model, :func:`.crossbar.fifo_grant` every cycle) costs ~40x the kernel's counting
of the same unit (``XB_COUNT``: every counter but the stalls).  So every unit class is counted, and the
crossbar runs on

0. every unit of a round whose largest unit has at most ``SMALL_ROUND`` of the layer's largest unit's steps,
   and every unit of at most ``SMALL_STEPS`` steps (cheap, and the cycles per step spread most among small
   units);
1. a seeded random sample of ``RANDOM_UNITS`` active unit classes (their cycles-per-step ratios widen rule 2's
   bound; those that rules 0 and 2 would not have walked start the stall sample, step 3), and each round's unit
   with the most steps;
2. then, until none is left, every unit whose steps x ``MARGIN`` x the largest cycles-per-step ratio of the
   walked units with at least ``SIZE_SHARE`` of its steps reach its round's slowest walked unit (a
   *candidate*: it might be the barrier);
3. more random non-candidates, ``BATCH`` at a time, until the imputed stalls' 95 % half-width is at most
   ``STALL_PRECISION`` of the layer's PE-cycles (or every non-candidate was walked).

A unit that is no candidate cannot be a round's barrier unless its cycles per step exceed ``MARGIN`` x every
ratio seen on walked units of at least ``SIZE_SHARE`` its size: a statistical rule, not a proof (no cheap
bound on a FIFO crossbar's stalls is known).
benchmarks/paper_scale.py's accuracy part checks it against exhaustive runs: the layers that take it must
give the exhaustive cycles exactly.  On 15 replayed layers of the paper's three heads (scnn and
scnn-maskskip, 20 seeds each) no round's barrier was missed even with ``MARGIN`` 1.0; at 400x672 (2 images)
rules 1-2 alone missed one barrier in 2,530 layers of scnn-maskskip (a round of 300-step units at 2.5 cycles
per step beside 17k-step rounds at 1.0), and with the size condition of rule 2 one more by one cycle (a
depthwise scale conv's 2-step unit at 4.5 cycles per step): rule 0 walks both (RESULTS.md sec. 7, seventh
pass).

What it changes against the exhaustive run: the stalls of units that were not run (only the split of idle PE
time between ``bank_conflict`` and ``load_imbalance`` reads them; cycles, actions and energy do not).  They
are imputed as ``steps x R``, ``R`` the ratio estimator (Cochran sec. 6.2) from the random sample of
non-candidates (steps 1 and 3: a simple random sample of them, its size chosen sequentially), and the
estimate's 95 % half-width on the summed stalls is reported.  Step 3 adds walks only where
rule 1's sample leaves the half-width above ``STALL_PRECISION``.  ``paper_scale.py``'s accuracy part also
counts the layers whose interval covers the exhaustive stalls.  In an offline replay at 800x1333 (every class
also walked, 3 seeds, every 3rd layer) they covered 94.7 % (baseline head, scnn) and 93.2 % (Small head,
scnn-maskskip) of the layers with imputed stalls; 82.7 % and 88.1 % while rule 1's random classes that rules 0
and 2 would have walked anyway stayed in the sample (RESULTS.md sec. 7, tenth and eleventh passes).
"""

from __future__ import annotations

import zlib

import numpy as np

from ...sampling import t975
from .crossbar import XB_COUNT
from .kernel import N_ST, ST_CYC, ST_STALL, ST_STEPS, scnn_kernel_parallel

#: safety factor on the largest cycles-per-step ratio seen (module docstring, rule 2)
MARGIN = 1.05
#: active unit classes the crossbar walks at random before the candidates (rule 1); all when there are fewer.
#: Their ratios widen rule 2's bound: with 16 instead of 48, an offline replay of every 3rd Small-head layer
#: (scnn-maskskip, 3 seeds) found a round whose barrier only step 3's extra walks caught (RESULTS sec. 7)
RANDOM_UNITS = 48
#: the stall sample grows by this many random non-candidates at a time (step 3)
BATCH = 8
#: step 3 stops once the imputed stalls' 95 % half-width is at most this share of the layer's PE-cycles (the
#: breakdown's ``bank_conflict`` / ``load_imbalance`` split to +-1 % of them, as ``--sample auto`` asks of cycles)
STALL_PRECISION = 0.01
#: rounds whose largest unit has at most this share of the layer's largest unit's steps are walked in full
SMALL_ROUND = 0.05
#: units of at most this many multiplier steps are walked in any case (rule 0): a walk costs about its steps,
#: and a unit of a few steps may take up to F x I cycles per step (all its products on one bank)
SMALL_STEPS = 64
#: rule 2 bounds a unit's cycles per step by walked units with at least this share of its steps
SIZE_SHARE = 0.5
#: step 3 stops no earlier than this many classes in the stall sample (or the whole population): the ratio
#: estimator's normal interval asks for n > 30 (Cochran, Sampling Techniques, 3rd ed., sec. 6.3).  With fewer, a
#: sample of a population whose stalls are rare is often all zeros, and its interval [0, 0] misses: 18 of 40 seeds
#: covered on a small gated layer with a minimum of 2, 37 with this one (tests/accelsim/test_scnn_barrier.py)
MIN_STALL_SAMPLE = 30


def walk_units(prep, ut: np.ndarray, ug: np.ndarray, xbar: tuple) -> np.ndarray:
    """Kernel stats ``(len(ut), N_ST)`` of the (tile ``ut``, group ``ug``) units, each as a one-PE round, with the
    crossbar arguments ``xbar`` (``prep.xbar``, or its ``XB_COUNT`` variant): timing only."""
    st = np.zeros((len(ut), 1, N_ST), dtype=np.int64)
    if len(ut):
        scnn_kernel_parallel(np.ascontiguousarray(ut[:, None]), np.ascontiguousarray(ug[:, None]),
                             *prep.timing_streams, *xbar, True, st)
    return st[:, 0]


def barrier_stats(prep, ut: np.ndarray, ug: np.ndarray, grid: np.ndarray, seed: int) -> tuple[np.ndarray, dict]:
    """Per-class kernel stats ``(n_classes, N_ST)`` of the unit classes ``(ut, ug)`` (tile, group; -1: idle PE)
    laid out over the rounds as ``grid[n_rounds, npe]`` (class ids), with the crossbar run only on the
    classes the module docstring's rules pick; the others' ``ST_STALL`` is imputed and their ``ST_CYC`` is
    their steps + it.  Returns the stats and what was done (``extra["barrier"]`` of the layer)."""
    n = len(ut)
    count_xbar = (prep.xbar[0], XB_COUNT, prep.xbar[2], prep.xbar[3])
    stats = walk_units(prep, ut, ug, count_xbar)
    steps = stats[:, ST_STEPS]
    active = (ut >= 0) & (ug >= 0) & (steps > 0)
    w = np.bincount(grid.ravel(), minlength=n).astype(np.float64)  # units per class
    cyc = np.full(n, -1, dtype=np.int64)   # crossbar cycles once walked
    stall = np.zeros(n, dtype=np.int64)

    def run(ids):
        ids = np.asarray(ids, dtype=np.int64)
        got = walk_units(prep, ut[ids], ug[ids], prep.xbar)
        cyc[ids], stall[ids] = got[:, ST_CYC], got[:, ST_STALL]

    rng = np.random.default_rng([seed, n, int(steps.sum()) & 0x7FFFFFFF])
    act_ids = np.flatnonzero(active)
    rand = np.sort(rng.choice(act_ids, min(len(act_ids), RANDOM_UNITS), replace=False))
    gsteps = np.where(active[grid], steps[grid], -1)
    top = np.unique(grid[np.arange(grid.shape[0]), gsteps.argmax(axis=1)])
    # rounds of small units in full (rule 0): they cost little, and there the cycles per step spread most (a
    # gated layer's round of 300-step units ran at 2.5 cycles per step, its 17k-step rounds at 1.0)
    small = gsteps.max(axis=1, initial=0) <= SMALL_ROUND * max(int(gsteps.max(initial=0)), 0)
    top = np.union1d(top, grid[small].ravel())
    top = np.union1d(top, np.flatnonzero(steps <= SMALL_STEPS))  # and every small unit: cheap, widest spread
    top = top[active[top]]
    run(np.union1d(rand, top))
    in_rand = np.zeros(n, dtype=bool)
    in_rand[rand] = True
    barrier = np.zeros(n, dtype=bool)  # walked for the barrier (rules 0-2), whether or not also drawn at random
    barrier[top] = True
    while True:
        ran = cyc >= 0
        rho = _ratio_bound(steps, cyc, ran)
        T = _walked_barrier(cyc, ran, grid)
        meets = active[grid] & (gsteps * rho[grid] >= T[:, None])  # rule 2's test, walked or not
        new = np.unique(grid[meets & ~ran[grid]])
        if not len(new):
            break
        barrier[new] = True
        run(new)
    ran = cyc >= 0
    # the population whose stalls are estimated: the active classes that rules 0-2 leave unwalked.  A random class
    # that rule 0 picks or that meets rule 2's test (the loop's last bound: where the loop stopped) is of the
    # walked kind, not of that population, so it leaves the stall sample: drawn from the rest, the sample is a
    # simple random one of the population it estimates.  Keeping those classes in it (before 2026-12-01) mixed
    # in the large and the small units, whose stalls per step differ from the population's (module docstring).
    # ``meets`` and ``T`` are the loop's last (nothing was walked after them)
    like = np.zeros(n, dtype=bool)
    like[grid[meets]] = True
    barrier |= like & in_rand
    pop = active & ~barrier
    order = np.concatenate([np.flatnonzero(pop & in_rand), rng.permutation(np.flatnonzero(pop & ~ran))])
    limit = STALL_PRECISION * grid.shape[1] * float(T.sum())  # of the layer's PE-cycles (these rounds)
    k = int((pop & in_rand).sum())
    est = None
    while k < len(order):
        est = _stall_estimate(order, k, w, steps, stall)
        if est is not None and est[1] <= limit and k >= min(MIN_STALL_SAMPLE, len(order)):
            break
        k2 = min(len(order), k + BATCH)
        run(order[k:k2])
        in_rand[order[k:k2]] = True
        k = k2
    ran = cyc >= 0
    T = _walked_barrier(cyc, ran, grid)  # a walked non-candidate may be a round's barrier the rule missed
    smp, rest = order[:k], order[k:]
    info = {"margin": MARGIN, "classes": int(active.sum()), "crossbar_walks": int(ran.sum()),
            "candidates": int(barrier.sum()), "random": int(in_rand.sum()), "imputed": len(rest),
            "stall_imputed": 0.0, "stall_half_width": 0.0}
    if len(rest):  # the loop stopped on an estimate within the precision asked
        R, hw = est
        # never above the barrier of the unit's fastest round less its steps: R is the sample's mean ratio, which
        # may exceed rule 2's bound for a large unit (bounded by larger units only)
        room = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(room, grid.ravel(), np.repeat(T, grid.shape[1]))
        # rounded at random (seeded) to whole cycles: unbiased, where rounding each class to the nearest cycle
        # turns a sub-cycle share on every class into a bias of the whole layer
        imp = np.floor(R * steps[rest] + rng.random(len(rest))).astype(np.int64)
        imp = np.minimum(imp, room[rest] - steps[rest])
        stall[rest] = imp
        cyc[rest] = steps[rest] + imp
        info.update(stall_imputed=float((w[rest] * imp).sum()), stall_ratio=R, stall_half_width=hw,
                    stall_sample=len(smp))
    cyc[~active] = steps[~active]
    stats[:, ST_STALL] = stall
    stats[:, ST_CYC] = cyc
    return stats, info


def _stall_estimate(order: np.ndarray, k: int, w: np.ndarray, steps: np.ndarray, stall: np.ndarray):
    """``(R, half-width)`` of the population ``order`` (class ids) from its first ``k`` (walked, a simple random
    sample): ``R`` the ratio estimator of stall per step (classes weighted by their units ``w``), the half-width
    the 95 % one of the population's summed stalls (Cochran sec. 6.3, finite-population corrected); None for
    fewer than 2.  ``k`` is below the population's size (else nothing is imputed)."""
    N = len(order)
    if k < 2:
        return None
    s = order[:k]
    z, a = w[s] * stall[s], w[s] * steps[s]
    R = float(z.sum() / a.sum())
    e = z - R * a
    var = N * N * (1 - k / N) * float(e.var(ddof=1)) / k
    return R, float(t975(k - 1) * np.sqrt(var))


def _walked_barrier(cyc: np.ndarray, ran: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per round of ``grid``: the most cycles of its walked units (0 where none was walked)."""
    return np.where(ran[grid], cyc[grid], 0).max(axis=1, initial=0)


def _ratio_bound(steps: np.ndarray, cyc: np.ndarray, ran: np.ndarray) -> np.ndarray:
    """Per class: ``MARGIN`` x the largest cycles per step of the walked classes with at least ``SIZE_SHARE`` of
    its steps (rule 2; the layer's largest ratio where none is that large).  Small units stall the most per
    step (few products on few banks): bounding a large unit by them made the rule walk 50-77 % of a gated
    layer's units, against 7-49 % with the size condition, and no barrier was missed either way (replayed
    paper-scale layers, RESULTS.md sec. 7)."""
    if not ran.any():
        return np.zeros(len(steps))
    rs = steps[ran]
    rr = cyc[ran] / rs
    o = np.argsort(-rs, kind="stable")
    top = np.maximum.accumulate(rr[o])                       # largest ratio among the k largest walked classes
    k = np.searchsorted(-rs[o], -SIZE_SHARE * steps, side="right")  # walked classes with >= share x the steps
    return np.where(k > 0, top[np.maximum(k - 1, 0)], rr.max()) * MARGIN


def layer_seed(inst, seed: int) -> int:
    """The rule's random sample's seed for a layer instance (its name and image, and ``--seed``)."""
    return zlib.crc32(f"{inst.layer.name}|{inst.image}|{seed}".encode())


def merge(infos: list[dict]) -> dict | None:
    """One ``extra["barrier"]`` from the calls of several kernel runs on one layer (independent samples: the
    half-widths add in quadrature); None when the rule never ran."""
    if not infos:
        return None
    out = {k: sum(d[k] for d in infos) for k in ("classes", "crossbar_walks", "candidates", "random", "imputed",
                                                  "stall_imputed")}
    out["margin"] = infos[0]["margin"]
    out["stall_half_width"] = float(np.sqrt(sum(d["stall_half_width"] ** 2 for d in infos)))
    return out
