"""Statistical sampling of a layer's independent work units (``--sample off|auto|FRACTION``).

SMARTS-style sampling (Wunderlich et al., ISCA 2003) at the granularity a model names: a model whose
layer time is a sum over independent work units (SCNN's barrier rounds, EIE's output pixels,
Cambricon-X's output blocks, Eyeriss v2's passes) returns a :class:`UnitSpace` from
``AcceleratorModel.sampling_units``.  Its contract, checked for every model by the contract test
(:func:`check_decomposition`):

    simulate_layer(inst)  ==  space.result(sum over all units i of space.run(all)[i])

for cycles, every breakdown cause, every action count and the MAC counts, exactly (``result`` adds what
belongs to no unit: a preload, a pipeline fill, a layer-wide stall).  Then a seeded,
stratified random sample of units (strata: equal-count bins of the space's cheap work proxy, e.g. each
unit's non-zero operands) is simulated exactly by the model's own cycle loop, and every quantity Y is
estimated with the stratified estimator (Cochran, *Sampling Techniques*, 3rd ed., sec. 5.3)

    Y^ = sum_h N_h * mean_h(y),   Var(Y^) = sum_h N_h^2 (1 - n_h / N_h) s_h^2 / n_h,

and a 95 % interval ``Y^ +- t(0.975, df) * sqrt(Var)`` (Satterthwaite's df).  Units are drawn without
replacement, so a stratum sampled in full contributes no variance and a layer sampled in full is exact.
When the space has a work proxy (``SampleSpec.estimator = "ratio"``, the default) the estimate is the
combined ratio estimator on it (Cochran sec. 6.11, :func:`_estimate`): the same expansion scaled by
``X / X^`` (the proxy's known total over its estimate), with the variance of the residuals from the ratio
fit; on replayed SCNN layers of the paper's head it raised interval coverage from 91.5 % to 97-98 % of 200
seeds at the same sample.

``auto`` (the default of ``--sample auto``) draws a pilot, estimates from it the sample that makes the
layer's cycle interval at most +-1 % of its estimate (Neyman allocation, sec. 5.5), and simulates the
layer exhaustively instead when that sample would be more than half of the units (or the layer has
fewer than :attr:`SampleSpec.min_units` units): then the result is the exhaustive one, bit for bit.
A space may name units that must run in full (:attr:`UnitSpace.must_run`: SCNN's rounds of a pass that
may stall on DRAM, where a max() bends the estimate); one that overrides :meth:`UnitSpace.release` first
sees a sample over every unit and may then release some of them (SCNN: passes whose DRAM time exceeds a
margin over the sample's bound on their compute, so their stall is linear in it).
In any mode a sample whose units show no spread (zero estimated variance with units left out) runs the
layer exhaustively too: a zero-width interval would claim the units not run are known.  Where the space
names classes of identical units (:meth:`UnitSpace.unit_classes`; EIE's pixels of one non-zero pattern),
that exhaustive result runs one unit per class, weighted by the class sizes (exact).

A sampled layer's ``extra["sampling"]`` holds the mode, unit name, units, sampled units, strata, and
for cycles and energy (pJ) the estimate's variance and 95 % interval; :func:`total_interval` adds
layers' variances (independent samples) for report totals.  Functional mode always runs exhaustively:
it needs every output.
"""

from __future__ import annotations

import abc
import math
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .errors import SettingsError

if TYPE_CHECKING:  # settings objects parse --sample on machines without yaml (measurement-only compare)
    from .base import LayerResult

__all__ = ["SampleSpec", "UnitResults", "UnitSpace", "sample_layer", "check_decomposition", "total_interval",
           "totals_of", "SAMPLE_MODES"]

SAMPLE_MODES = ("off", "auto")
MAC_FIELDS = ("macs_effectual", "macs_actual", "macs_skipped", "macs_gated")


@dataclass(frozen=True)
class SampleSpec:
    """How to sample: ``mode`` "off" (exhaustive), "auto" (+-``target`` relative half-width of each layer's
    cycles at 95 %) or "fraction" (``fraction`` of every stratum's units); ``seed`` seeds every draw
    (with the layer's name and image)."""

    mode: str = "off"
    fraction: float = 0.0
    #: auto: the relative half-width of the 95 % interval of each layer's cycles
    target: float = 0.01
    seed: int = 0
    #: layers with fewer units than this run exhaustively (an interval from a handful of units is not one)
    min_units: int = 64
    #: units of the pilot sample in auto mode (at least 2 per stratum, else at most a 16th of the units)
    pilot: int = 64
    #: strata per layer (Dalenius-Hodges bins of the work proxy).  16, not 8: with 8, EIE's border and
    #: interior pixels (two clusters of cycles) shared a stratum whose pilot variance was low-biased, and
    #: auto's interval covered the exhaustive value in 69 % of 100 seeds; with 16, 98 % (helper run,
    #: C=256 3x3 50x84 conv)
    strata: int = 16
    #: auto: run exhaustively when the sample it needs exceeds this share of the units
    exhaustive_share: float = 0.5
    #: "ratio": the combined ratio estimator on the space's work proxy (:func:`_estimate`); "mean": the
    #: stratified expansion estimator (also used when a space has no proxy)
    estimator: str = "ratio"

    def __post_init__(self):
        if self.estimator not in ("ratio", "mean"):
            raise SettingsError("sample", f"estimator must be 'ratio' or 'mean', got {self.estimator!r}")

    @classmethod
    def parse(cls, text, field_name: str = "sample", seed: int = 0) -> "SampleSpec":
        """``off``, ``auto`` or a fraction in (0, 1] (``1`` = every unit, through the sampler)."""
        if isinstance(text, SampleSpec):
            return text
        if text is None:
            return cls(seed=seed)
        t = str(text).strip().lower()
        if t in SAMPLE_MODES:
            return cls(mode=t, seed=seed)
        try:
            f = float(t)
        except ValueError:
            f = float("nan")
        if not (0.0 < f <= 1.0):
            raise SettingsError(field_name, f"expected off, auto or a fraction of the work units in (0, 1], "
                                            f"got {str(text)[:40]!r}")
        return cls(mode="fraction", fraction=f, seed=seed)

    @classmethod
    def canonical(cls, value, field_name: str = "sample") -> str:
        """The checked text of a ``--sample`` value as settings objects store it: ``off``, ``auto`` or the
        fraction (``%g``); a SettingsError naming ``field_name`` otherwise."""
        spec = cls.parse(value, field_name)
        return f"{spec.fraction:g}" if spec.mode == "fraction" else spec.mode

    @property
    def label(self) -> str:
        return f"fraction {self.fraction:g}" if self.mode == "fraction" else self.mode

    @property
    def active(self) -> bool:
        return self.mode != "off"


@dataclass
class UnitResults:
    """Per-unit numbers of the selected units (each array has one entry per selected unit).  ``breakdown``
    and ``actions`` map each name to an array; a name missing in one unit is 0 there.  ``aux``: any other
    additive per-unit numbers the model's :meth:`UnitSpace.result` needs (e.g. one pass's compute cycles,
    to set that pass's DRAM stall); estimated like the rest."""

    cycles: np.ndarray
    breakdown: dict[str, np.ndarray]
    actions: dict[str, np.ndarray]
    macs: dict[str, np.ndarray]  # MAC_FIELDS
    aux: dict[str, np.ndarray] = field(default_factory=dict)


class UnitSpace(abc.ABC):
    """A layer's independent work units, as a model defines them (see the module doc for the contract)."""

    #: what one unit is, in the model's words (``"barrier round"``, ``"output pixel"``, ...)
    unit: str = "unit"

    def __init__(self, inst, n_units: int, proxy: np.ndarray | None = None, distinct_units: int | None = None):
        self.inst = inst
        self.n_units = int(n_units)
        self.proxy = None if proxy is None else np.asarray(proxy, dtype=np.float64)
        #: how many unit simulations the exhaustive run costs (fewer than ``n_units`` when the model runs
        #: identical units once, e.g. SCNN's rounds of dense-weight Kc groups); auto runs exhaustively when
        #: that is no more than the sample it would draw
        self.distinct_units = self.n_units if distinct_units is None else int(distinct_units)
        #: units the sample must include (a stratum taken in full), e.g. where :meth:`result` applies a
        #: non-linear step (SCNN: the rounds of a pass that may stall on DRAM); None: none
        self.must_run: np.ndarray | None = None

    def release(self, sel: np.ndarray, first: UnitResults) -> np.ndarray | None:
        """After the first draw (``sel``, its numbers ``first``), the units that must still run in full: a subset
        of :attr:`must_run` (the draw showed that the others' non-linear step cannot bite), or None to keep
        :attr:`must_run` as it is (the default).  Only a space that overrides this draws its first sample
        before taking the must-run units (:func:`sample_layer`)."""
        return None

    def unit_classes(self) -> np.ndarray | None:
        """``(n_units,)`` class ids where units of one class give identical results (the same numbers from
        :meth:`run`, exactly), or None (unknown; the default).  Lets a layer whose sample shows no spread
        run one unit per class instead of every unit (exact)."""
        return None

    @abc.abstractmethod
    def run(self, sel: np.ndarray) -> UnitResults:
        """Simulate exactly the units ``sel`` (sorted indices) with the model's cycle loop."""

    @abc.abstractmethod
    def result(self, totals: UnitResults) -> LayerResult:
        """The layer's LayerResult from the totals over all units (each array of length one; estimated when
        sampled, so floats): the model adds what belongs to no unit (a preload, a pipeline fill, a stall
        that is a max over the layer), ``macs_dense``, utilisation and its own ``extra``."""


def totals_of(u: UnitResults, weights: np.ndarray | None = None) -> UnitResults:
    """Column sums of ``u`` as length-one arrays; with ``weights``, each unit's row counted that many times
    (one unit standing for its class of identical units)."""
    def t(a):
        a = np.asarray(a, dtype=np.float64)
        return np.array([float(np.sum(a) if weights is None else np.dot(a, weights))])
    return UnitResults(t(u.cycles), {k: t(v) for k, v in u.breakdown.items()},
                       {k: t(v) for k, v in u.actions.items()}, {k: t(v) for k, v in u.macs.items()},
                       {k: t(v) for k, v in u.aux.items()})


def _columns(u: UnitResults, bd_keys, act_keys, energy_pJ: dict[str, float], aux_keys=()) -> np.ndarray:
    """Rows = units, columns = cycles, breakdown..., actions..., MACs..., aux..., energy (pJ)."""
    n = len(u.cycles)
    cols = [np.asarray(u.cycles, dtype=np.float64)]
    cols += [np.asarray(u.breakdown.get(k, np.zeros(n)), dtype=np.float64) for k in bd_keys]
    acts = [np.asarray(u.actions.get(k, np.zeros(n)), dtype=np.float64) for k in act_keys]
    cols += acts
    cols += [np.asarray(u.macs.get(k, np.zeros(n)), dtype=np.float64) for k in MAC_FIELDS]
    cols += [np.asarray(u.aux.get(k, np.zeros(n)), dtype=np.float64) for k in aux_keys]
    e = np.zeros(n)
    for k, a in zip(act_keys, acts):
        e += a * energy_pJ.get(k, 0.0)
    cols.append(e)
    return np.stack(cols, axis=1) if n else np.zeros((0, len(cols)))


def _from_columns(v: np.ndarray, bd_keys, act_keys, aux_keys=()) -> UnitResults:
    nb, na, nm = len(bd_keys), len(act_keys), len(MAC_FIELDS)
    one = lambda x: np.array([float(x)])  # noqa: E731
    return UnitResults(one(v[0]), {k: one(v[1 + i]) for i, k in enumerate(bd_keys)},
                       {k: one(v[1 + nb + i]) for i, k in enumerate(act_keys)},
                       {k: one(v[1 + nb + na + i]) for i, k in enumerate(MAC_FIELDS)},
                       {k: one(v[1 + nb + na + nm + i]) for i, k in enumerate(aux_keys)})


def strata_of(space: UnitSpace, n_strata: int, take_all: float = 0.01) -> np.ndarray:
    """Stratum of every unit.  With a work proxy: the top ``take_all`` share of units by proxy form a
    take-all stratum (simulated in full: heavy-tailed work, e.g. the few dense rounds of a gated layer,
    would otherwise make the variance estimate unreliable); the rest are cut at the Dalenius-Hodges
    cum-sqrt(f) boundaries of the proxy (Cochran sec. 5A.7) and, besides, at every gap between
    neighbouring proxy values wider than a tenth of their range (clusters of units stay apart: a
    stratum mixing SCNN's light last Kc-group rounds with its full ones looked variance-free whenever
    its sample missed the light one, and its interval covered in 48 % of 200 seeds).  Without a proxy:
    equal-count bins of the unit index (neighbouring units are alike: a spatial stratification).
    ``n_strata`` is capped at one per 12 units and at one per 2 % of the proxy's coefficient of variation
    (at least 2).  The take-all stratum is the last."""
    N = space.n_units
    H = max(1, min(n_strata, N // 12))
    if space.proxy is not None and H > 1:
        # stratify as far as the proxy varies: one stratum per 2 % of its coefficient of variation (units
        # of near-equal work, e.g. the full Kc groups of a dense-weight layer, need no more than two)
        x = space.proxy
        cv = float(x.std() / x.mean()) if x.mean() > 0 else 0.0
        H = max(2, min(H, int(math.ceil(cv / 0.02))))
    if space.proxy is None or H == 1:
        return (np.arange(N) * H) // N
    order = np.argsort(space.proxy, kind="stable")
    n_top = min(N - 2 * H, max(1, int(math.ceil(take_all * N))))
    rest = order[:N - n_top]
    x = space.proxy[rest]
    s = np.empty(N, dtype=np.int64)
    s[order[N - n_top:]] = 2 * H + 1  # above every other label (compacted below)
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        s[rest] = (np.arange(len(rest)) * H) // len(rest)
        return _compact(s)
    f, edges = np.histogram(x, bins=min(200, 10 * H), range=(lo, hi))
    c = np.cumsum(np.sqrt(f))
    cuts = edges[1:][np.searchsorted(c, c[-1] * np.arange(1, H) / H)]
    u = np.unique(x)
    wide = np.flatnonzero(np.diff(u) > 0.1 * (hi - lo))[:H]
    cuts = np.unique(np.concatenate([cuts, (u[wide] + u[wide + 1]) / 2]))
    s[rest] = np.searchsorted(cuts, x, side="left")
    return _compact(s)


def _must_stratum(st: np.ndarray, must: np.ndarray) -> np.ndarray:
    """``st`` with the ``must`` units moved to one more stratum (taken in full by the caller), renumbered."""
    return _compact(np.where(must, int(st.max()) + 1, st))


def _members(st: np.ndarray) -> tuple[int, list[np.ndarray], np.ndarray]:
    """Strata count, each stratum's units and their counts ``N_h``."""
    H = int(st.max()) + 1
    members = [np.flatnonzero(st == h) for h in range(H)]
    return H, members, np.array([len(m) for m in members])


def _compact(s: np.ndarray) -> np.ndarray:
    """Renumber strata 0.. without gaps (empty bins dropped)."""
    _, inv = np.unique(s, return_inverse=True)
    return inv.astype(np.int64)


def _layer_rng(spec: SampleSpec, inst) -> np.random.Generator:
    key = zlib.crc32(f"{inst.layer.name}\0{inst.image}".encode())
    return np.random.default_rng([int(spec.seed) & 0xFFFFFFFF, key])


def _draw(rng, members: np.ndarray, taken: np.ndarray, k: int) -> np.ndarray:
    """``k`` more units of one stratum, not yet taken."""
    free = members[~taken[members]]
    k = min(k, len(free))
    return np.sort(rng.choice(free, size=k, replace=False)) if k > 0 else free[:0]


def _expand(v: np.ndarray, st: np.ndarray, Nh: np.ndarray):
    """The stratified expansion ``sum_h N_h * mean_h(v)`` of the sampled values ``v`` (rows; strata ``st``)."""
    tot = np.zeros(v.shape[1:])
    for h in range(len(Nh)):
        if Nh[h] == 0:
            continue
        rows = v[st == h]
        if len(rows) == 0:
            raise AssertionError("every non-empty stratum has a sampled unit")
        tot += Nh[h] * rows.mean(axis=0)
    return tot


def _estimate(Y: np.ndarray, st: np.ndarray, Nh: np.ndarray, x: np.ndarray | None = None,
              X: float | None = None):
    """Estimate of the column totals and their variances from the sampled rows ``Y`` (strata ``st``).

    Without an auxiliary: the stratified expansion estimator (module doc).  With the work proxy of the
    sampled units ``x`` and its known total over all units ``X``: the combined ratio estimator
    (Cochran sec. 6.11), ``Y^_R = (Y^_st / X^_st) X``, whose variance comes from the residuals
    ``d = y - R^ x``, ``R^ = Y^_st / X^_st``: ``sum_h N_h^2 (1 - n_h/N_h) s_dh^2 / n_h`` (eq. 6.48).  Its
    scale ``X / X^_st`` is the same for every column, so the estimated breakdown still adds up to the
    estimated cycles.  Where cycles follow the proxy closely (SCNN's rounds, EIE's pixels) the residuals
    are a fraction of the units' spread, and so are the interval and the sample auto needs."""
    est = _expand(Y, st, Nh)
    xs = float(_expand(x, st, Nh)) if x is not None else 0.0
    D = Y
    if x is not None and xs > 0:
        R = est / xs
        est = est * (X / xs)
        D = Y - x[:, None] * R[None, :]
    var = np.zeros(Y.shape[1])
    for h in range(len(Nh)):
        rows = D[st == h]
        n = len(rows)
        if n > 1 and n < Nh[h]:
            var += Nh[h] ** 2 * (1 - n / Nh[h]) * rows.var(axis=0, ddof=1) / n
    return est, var, D


def _residuals(y: np.ndarray, st: np.ndarray, Nh: np.ndarray, x: np.ndarray | None) -> np.ndarray:
    """``y``'s residuals from the combined ratio fit on the proxy ``x`` (``y`` itself without one)."""
    if x is None:
        return y
    xs = float(_expand(x, st, Nh))
    return y - x * (float(_expand(y, st, Nh)) / xs) if xs > 0 else y


def t975(df: float) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (at least 1): a 95 % interval's factor."""
    # scipy.special's inverse of Student's t CDF, which scipy.stats.t.ppf calls (the same values): importing
    # scipy.stats cost 0.4-1.3 s in every worker process of a simulate call
    from scipy.special import stdtrit
    return float(stdtrit(max(1.0, df), 0.975))


def _df(y: np.ndarray, st: np.ndarray, Nh: np.ndarray) -> float:
    """Satterthwaite's effective degrees of freedom of a stratified variance estimate (Cochran sec. 5.4):
    ``(sum a_h s_h^2)^2 / sum (a_h s_h^2)^2 / (n_h - 1)``, ``a_h = N_h^2 (1 - n_h/N_h) / n_h``.  When one
    stratum of two or three sampled units carries most of the variance, the interval uses its few degrees
    of freedom, not the sample's n - H (with n - H, SCNN's gated layer covered in 84 % of 200 seeds)."""
    num = den = 0.0
    for h in range(len(Nh)):
        yh = y[st == h]
        n = len(yh)
        if n < 2 or n >= Nh[h]:
            continue
        v = Nh[h] ** 2 * (1 - n / Nh[h]) * yh.var(ddof=1) / n
        num += v
        den += v * v / (n - 1)
    return num * num / den if den > 0 else float(max(1, len(y) - len(Nh)))


def _auto_plan(Yc: np.ndarray, s_st: np.ndarray, Nh: np.ndarray, spec: SampleSpec,
               xc: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """``auto``'s plan from the pilot's cycles ``Yc`` (strata ``s_st``; ``xc`` their work proxy, when the
    estimate is the ratio estimator): ``(units needed, units wanted per stratum)`` for a +-``spec.target``
    half-width of the layer's cycles; ``(0, pilot counts)`` when the pilot already meets it.  ``units
    needed`` counts the Neyman sample plus the strata already taken in full.  The spreads planned with are
    those the interval will use: of the ratio fit's residuals when there is a proxy."""
    H = len(Nh)
    nh = np.bincount(s_st, minlength=H)
    mh = np.array([Yc[s_st == h].mean() for h in range(H)])
    est_c = float(_expand(Yc, s_st, Nh))
    Dc = _residuals(Yc, s_st, Nh, xc)
    sh = np.array([Dc[s_st == h].std(ddof=1) if nh[h] > 1 and nh[h] < Nh[h] else 0.0 for h in range(H)])
    # a stratum's sd from two or three units is often 0 by chance (a rare slow unit missed): plan with at
    # least the pooled relative sd of all strata times its mean (the interval itself uses only the measured
    # variances)
    open_ = (nh > 1) & (nh < Nh)
    if open_.any():
        cv_pool = math.sqrt(float((((nh - 1) * (sh / np.maximum(mh, 1e-12)) ** 2)[open_]).sum())
                            / float((nh - 1)[open_].sum()))
        sh = np.where(open_, np.maximum(sh, cv_pool * mh), sh)
    z = t975(_df(Dc, s_st, Nh))
    V = (spec.target * max(est_c, 1.0) / z) ** 2
    if float((Nh ** 2 * (1 - nh / Nh) * sh ** 2 / np.maximum(nh, 1)).sum()) <= V:
        return 0, nh
    a = float((Nh * sh).sum())
    need = math.ceil(a * a / (V + float((Nh * sh * sh).sum())))
    # Neyman allocation, but every stratum gets at least half its proportional share: a stratum whose two
    # or three pilot units happened to agree would otherwise get no more units and add no variance (SCNN's
    # gated layer: the interval covered in 81 % of 200 seeds with pure Neyman)
    N = int(Nh.sum())
    alloc = np.ceil(np.maximum(need * Nh * sh / a, 0.5 * need * Nh / N)).astype(int)
    return need + int(nh[sh == 0].sum()), alloc


def sample_layer(model, inst, spec: SampleSpec, space: UnitSpace, exhaustive) -> LayerResult:
    """The layer's result by sampling ``space`` per ``spec``; ``exhaustive()`` gives the model's own exhaustive
    result, used when sampling would not pay (auto) or the layer is small."""
    N = space.n_units
    info = {"mode": spec.label, "unit": space.unit, "units": N, "seed": spec.seed}

    def whole(reason: str) -> LayerResult:
        """The exhaustive result, saying why the layer was not sampled."""
        res = exhaustive()
        res.extra["sampling"] = {**info, "sampled": N, "exhaustive": reason}
        return res

    if N < max(2, spec.min_units):
        return whole(f"fewer than {spec.min_units} units")
    if spec.mode == "auto" and space.distinct_units <= spec.min_units:
        return whole(f"auto: the exhaustive run simulates {space.distinct_units} distinct units (identical "
                     f"units once)")
    st = strata_of(space, spec.strata)
    # units taken in full: strata_of's take-all stratum (its last, with a proxy) and the model's must-run units
    full = (st == st.max()) if space.proxy is not None and st.max() > 0 else np.zeros(N, dtype=bool)
    must = None if space.must_run is None else np.asarray(space.must_run, dtype=bool)
    # a space that can release must-run units after seeing a sample draws that sample first (over every unit)
    release = must is not None and must.any() and type(space).release is not UnitSpace.release
    if must is not None and must.any() and not release:
        if must.all():
            return whole("every unit must run (model)")
        st = _must_stratum(st, must)
        full |= must
    H, members, Nh = _members(st)
    rng = _layer_rng(spec, inst)
    taken = np.zeros(N, dtype=bool)
    if spec.mode == "fraction":
        want = [min(Nh[h], max(2, math.ceil(spec.fraction * Nh[h]))) for h in range(H)]
    else:  # the pilot: 2 units per stratum, or a 16th of the units, at most spec.pilot
        pilot = min(spec.pilot, max(2 * H, N // 16))
        want = [min(Nh[h], max(2, math.ceil(pilot * Nh[h] / N))) for h in range(H)]
    for h in np.unique(st[full]):  # the take-all stratum (strata_of) and the must-run one
        want[h] = int(Nh[h])
    sel = np.sort(np.concatenate([_draw(rng, members[h], taken, want[h]) for h in range(H)]))
    taken[sel] = True
    parts = [(sel, space.run(sel))]
    if release:
        got = space.release(sel, parts[0][1])
        must = must if got is None else must & np.asarray(got, dtype=bool)
        if must.all():
            return whole("every unit must run (model; the first sample released none)")
        if must.any():  # the rest run in full, as one more stratum; every other stratum keeps 2 sampled units
            st = _must_stratum(st, must)
            full |= must
            H, members, Nh = _members(st)
            nh = np.bincount(st[sel], minlength=H)
            whole_h = set(np.unique(st[full]).tolist())
            top = [int(Nh[h]) if h in whole_h else max(0, min(int(Nh[h]), 2) - int(nh[h])) for h in range(H)]
            more = np.sort(np.concatenate([_draw(rng, members[h], taken, top[h]) for h in range(H)]))
            if len(more):
                more = more.astype(np.int64)
                taken[more] = True
                parts.append((more, space.run(more)))
    if spec.mode == "auto":  # one more draw, planned from the pilot (Neyman allocation)
        sel = np.concatenate([p[0] for p in parts])  # the pilot (and, after a release, the must-run rest)
        need, alloc = _auto_plan(np.concatenate([np.asarray(p[1].cycles, dtype=np.float64) for p in parts]),
                                 st[sel], Nh, spec, None if space.proxy is None else space.proxy[sel])
        if need > spec.exhaustive_share * N or need >= space.distinct_units:
            return whole(f"auto: +-{spec.target:.0%} needs {need:,} of {N:,} units")
        nh = np.bincount(st[sel], minlength=H)
        more = np.sort(np.concatenate([_draw(rng, members[h], taken, int(alloc[h]) - int(nh[h])) for h in range(H)]))
        if len(more):
            more = more.astype(np.int64)
            taken[more] = True
            parts.append((more, space.run(more)))
    idx = np.concatenate([p[0] for p in parts])
    bd_keys = sorted(set().union(*(p[1].breakdown for p in parts)))
    act_keys = sorted(set().union(*(p[1].actions for p in parts)))
    aux_keys = sorted(set().union(*(p[1].aux for p in parts)))
    pj = {a: model.energy.energy_pJ(a) for a in act_keys}
    Y = np.concatenate([_columns(p[1], bd_keys, act_keys, pj, aux_keys) for p in parts])
    ratio = spec.estimator == "ratio" and space.proxy is not None
    est, var, D = _estimate(Y, st[idx], Nh, space.proxy[idx] if ratio else None,
                            float(space.proxy.sum()) if ratio else None)
    n = len(idx)
    if var[0] <= 0 and n < N:
        # every sampled unit sits exactly on the fit (e.g. a depthwise layer's rounds, equal cycles in each
        # stratum): the sample shows no spread, so it cannot bound the units it did not run, and a zero-width
        # interval would be a false claim (seen on 10 of 64 sampled layers of the paper's baseline head at
        # 400x672, estimates 0.1-0.5 % off); the layer runs exhaustively instead, once per class of identical
        # units where the model knows them (EIE on dense input: a handful of border classes)
        why = f"the {n} sampled units show no spread: nothing bounds the other {N - n}"
        cls = space.unit_classes()
        if cls is not None:
            ids, first, counts = np.unique(cls, return_index=True, return_counts=True)
            if len(ids) <= N // 4:
                return _by_classes(space, first, counts, {**info, "sampled": N,
                                                          "exhaustive": f"{why}; ran once per class of identical "
                                                                        f"units ({len(ids):,} classes)"})
        return whole(why)
    res = space.result(_from_columns(est, bd_keys, act_keys, aux_keys))
    hw_c = t975(_df(D[:, 0], st[idx], Nh)) * math.sqrt(var[0])
    hw_e = t975(_df(D[:, -1], st[idx], Nh)) * math.sqrt(var[-1])
    # the interval is the units' (what belongs to no unit is exact); centred on the layer's estimate
    res.extra["sampling"] = {**info, "sampled": int(n), "strata": H, "confidence": 0.95,
                             "estimator": "ratio" if ratio else "stratified mean",
                             "cycles_var": float(var[0]), "cycles_ci": [res.cycles - hw_c, res.cycles + hw_c],
                             "cycles_rel_half_width": hw_c / max(res.cycles, 1.0),
                             "energy_pJ_var": float(var[-1]), "energy_pJ_half_width": hw_e}
    return res


def _by_classes(space: UnitSpace, first: np.ndarray, counts: np.ndarray, info: dict) -> LayerResult:
    """The exhaustive result from one unit per class of identical units (:meth:`UnitSpace.unit_classes`):
    each class's numbers times its size (:func:`totals_of`), through :meth:`UnitSpace.result`, as the
    exhaustive contract's own sum over every unit (:func:`check_decomposition`)."""
    order = np.argsort(first)
    res = space.result(totals_of(space.run(first[order]), counts[order].astype(np.float64)))
    res.extra["sampling"] = info
    return res


def total_interval(results, key: str = "cycles") -> dict | None:
    """95 % interval of the sum of ``key`` (``"cycles"`` or ``"energy_pJ"``) over layer results, from the
    sampled layers' variances (independent draws; exhaustive layers add none); None when nothing was sampled."""
    vs = [(r.extra.get("sampling") or {}).get(f"{key}_var") for r in results]
    if not any(v is not None for v in vs):
        return None
    var = sum(v for v in vs if v is not None)
    hw = 1.959963984540054 * math.sqrt(var)
    sampled = sum(1 for v in vs if v is not None)
    return {"half_width": hw, "var": var, "sampled_layers": sampled, "layers": len(vs), "confidence": 0.95}


def check_decomposition(model, inst) -> list[str]:
    """The contract of :class:`UnitSpace` on one instance: differences between the model's exhaustive result
    and ``space.result(sum over all units)`` (empty list: exact).  A consistency check (the model's loop
    is a sum over its units by construction), run by the contract test for every model with a space."""
    space = model.sampling_units(inst)
    if space is None:
        return []
    ref = model.simulate_layer(inst)
    got = space.result(totals_of(space.run(np.arange(space.n_units))))
    bad = []
    if got.cycles != ref.cycles:
        bad.append(f"cycles {got.cycles} != {ref.cycles}")
    for k in set(ref.breakdown) | set(got.breakdown):
        if got.breakdown.get(k, 0) != ref.breakdown.get(k, 0):
            bad.append(f"breakdown {k} {got.breakdown.get(k, 0)} != {ref.breakdown.get(k, 0)}")
    for k in set(ref.actions) | set(got.actions):
        if not math.isclose(float(got.actions.get(k, 0)), float(ref.actions.get(k, 0)), rel_tol=1e-9, abs_tol=1e-6):
            bad.append(f"action {k} {got.actions.get(k, 0)} != {ref.actions.get(k, 0)}")
    for k in ("macs_dense",) + MAC_FIELDS:
        if getattr(got, k) != getattr(ref, k):
            bad.append(f"{k} {getattr(got, k)} != {getattr(ref, k)}")
    return bad
