"""Randomization inference over roll-out dates, and Conley-Taber for one or two treated clusters.

Under the sharp null of no effect anywhere, the outcomes do not depend on
which cluster got the programme when; so re-assigning the observed roll-out
dates (the cluster -> cohort mapping, within assignment strata) and re-estimating
gives the exact null distribution of any statistic when the assignment was random
(Fisher 1935; for DiD designs, MacKinnon & Webb 2020). The ``strata=`` here are
the blocks of the randomisation, not a survey design's sampling strata
(``Panel(strata=)``), which do not restrict the re-assignments; the refits keep
the Panel's design (weights, strata, fpc), so the statistic is the estimator's
own: sampling-weighted when the estimator uses the Panel's ``weights=``, and with
``statistic="t"`` every re-assignment is studentised by its design-based standard
error, as the observed statistic. The randomization p-value is about the sampled
clusters (the assignment of dates among them), not a design-based statement about
the population the survey represents. The p-value is

.. math:: p = \\frac{1 + \\#\\{b: |T_b| \\ge |T|\\}}{1 + B}

with random re-assignments, or the share over all distinct assignments
(identity included) when there are at most ``reps`` of them (exact test).

**Confidence interval** (test inversion under a constant additive effect
:math:`\\tau`): the untreated outcome is :math:`y - \\tau D`, with :math:`D` the
observed treatment. For an estimator linear in the outcome, the estimate under
assignment :math:`b` on :math:`y - \\tau D` is :math:`\\hat\\theta_b - \\tau c_b`, where
:math:`c_b` is the estimate with :math:`D` itself as the outcome; so
:math:`p(\\tau)` is a step function whose steps are found exactly from two refits per
assignment. For other estimators or ``statistic="t"`` the interval is NaN with a note.

**Refit protocol.** A result can be re-estimated if ``result.info["refit"]`` holds
a :class:`RefitSpec`: the panel it was estimated on and a callable
``fit(panel, outcome) -> Result``. :func:`clusterimpact.twfe` stores one.

References
----------
Fisher, R. A. (1935). *The Design of Experiments*. Oliver & Boyd.

MacKinnon, J. G. & Webb, M. D. (2020). Randomization inference for
difference-in-differences with few treated clusters. *Journal of Econometrics*
218(2), 435-450.

Conley, T. G. & Taber, C. R. (2011). Inference with "difference in differences"
with a small number of policy changes. *Review of Economics and Statistics* 93(1), 113-125.

Ferman, B. & Pinto, C. (2019). Inference in differences-in-differences with few
treated groups and heteroskedasticity. *Review of Economics and Statistics* 101(3), 452-467.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact.errors import FewClustersWarning, SpecificationError, suggest

__all__ = ["RefitSpec", "conley_taber", "randomization"]

_MAX_ENUM = 200_000
_PROGRESS_SECONDS = 2.0
_COHORT = "__ri_cohort"
_TREAT = "__ri_treated"


@dataclass(frozen=True, eq=False)
class RefitSpec:
    """How a result was produced, so that it can be re-estimated on re-assigned cohorts.

    Attributes
    ----------
    panel
        The :class:`~clusterimpact.Panel` the result was estimated on.
    fit
        ``fit(panel, outcome) -> Result``: the estimator with every other option fixed.
    outcome
        The outcome column of the original fit.
    linear_in_outcome
        Whether the estimate is linear in the outcome (enables the interval).

    Examples
    --------
    >>> import functools, clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
    ...              cohort="first.treat")
    >>> spec = RefitSpec(p, functools.partial(ci.twfe, vcov="CR1"), "lemp")
    >>> round(float(spec(p).estimate[0]), 4)
    -0.0365
    """

    panel: Any
    fit: Callable[..., Any]
    outcome: str
    linear_in_outcome: bool = True

    def __call__(self, panel: Any, outcome: str | None = None) -> Any:
        """Re-estimate on ``panel`` (default outcome: the original one)."""
        return self.fit(panel, outcome or self.outcome)


def _cluster_cohorts(panel) -> np.ndarray:
    codes = np.asarray(panel.cluster_code)
    cohort = np.asarray(panel.cohort_value, dtype=float)
    g = int(codes.max()) + 1
    first = np.full(g, np.nan)
    first[codes] = cohort
    same = (first[codes] == cohort) | (np.isinf(first[codes]) & np.isinf(cohort))
    if not same.all():
        bad = np.unique(codes[~same])[:5]
        raise SpecificationError(
            "Randomization inference re-assigns roll-out dates across clusters, but the cohort "
            f"varies within {np.unique(codes[~same]).size} cluster(s) (e.g. cluster codes "
            f"{bad.tolist()}). Use a Panel whose cluster= is the level at which the programme "
            "was assigned.")
    return first


def _strata(panel, strata: str | Sequence[str] | None, g: int) -> np.ndarray:
    if strata is None:
        return np.zeros(g, dtype=np.int64)
    names = [strata] if isinstance(strata, str) else list(strata)
    for name in names:
        if name not in panel.data:
            raise SpecificationError(f"The strata column {name!r} is not in the data."
                                     f"{suggest(name, panel.data.columns)}")
    codes = panel.data[names].astype(str).agg("|".join, axis=1).to_numpy() if len(names) > 1 \
        else panel.data[names[0]].to_numpy()
    s, _ = pd.factorize(codes, sort=True)
    cl = np.asarray(panel.cluster_code)
    out = np.full(g, -1, dtype=np.int64)
    out[cl] = s
    if not np.array_equal(out[cl], s):
        raise SpecificationError(f"Strata {names} vary within clusters; they must be cluster-level.")
    return out


def _n_assignments(labels: np.ndarray, strata: np.ndarray) -> int:
    total = 1
    for s in np.unique(strata):
        lab = labels[strata == s]
        _, counts = np.unique(lab.astype(str), return_counts=True)
        total *= math.factorial(lab.size) // math.prod(math.factorial(int(c)) for c in counts)
    return total


def _multiset_perms(labels: np.ndarray):
    """Every distinct arrangement of ``labels`` (a multiset)."""
    _, inverse = np.unique(labels.astype(str), return_inverse=True)
    order = [int(i) for i in dict.fromkeys(inverse.tolist())]

    def rec(free: tuple[int, ...], kinds: list[int]):
        if not kinds:
            yield {}
            return
        kind, rest = kinds[0], kinds[1:]
        need = int((inverse == kind).sum())
        for chosen in itertools.combinations(free, need):
            left = tuple(p for p in free if p not in chosen)
            for tail in rec(left, rest):
                yield {kind: chosen, **tail}

    example = {int(k): i for i, k in enumerate(inverse)}
    for assign in rec(tuple(range(labels.size)), order):
        out = np.empty(labels.size, dtype=labels.dtype)
        for kind, positions in assign.items():
            out[list(positions)] = labels[example[kind]]
        yield out


def _assignments(labels: np.ndarray, strata: np.ndarray, reps: int, rng) -> tuple[list[np.ndarray], bool]:
    total = _n_assignments(labels, strata)
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    if total <= min(reps, _MAX_ENUM):
        per = [list(_multiset_perms(labels[idx])) for idx in groups]
        out = []
        for combo in itertools.product(*per):
            new = labels.copy()
            for idx, part in zip(groups, combo, strict=True):
                new[idx] = part
            out.append(new)
        return out, True
    out = []
    for _ in range(reps):
        new = labels.copy()
        for idx in groups:
            new[idx] = labels[idx][rng.permutation(idx.size)]
        out.append(new)
    return out, False


def _stat(res, row: int, statistic: str) -> float:
    if statistic == "t":
        return float(res.tidy()["statistic"].iloc[row])
    return float(res.estimate[row])


def _interval(theta_obs: float, c_obs: float, theta: np.ndarray, c: np.ndarray, alpha: float,
              enumerated: bool) -> tuple[float, float]:
    """Exact inversion of the constant-effect RI test over its breakpoints."""
    def p(tau: float) -> float:
        ref = abs(theta_obs - tau * c_obs)
        hits = np.abs(theta - tau * c) >= ref - 1e-10 * max(1.0, ref)
        return hits.mean() if enumerated else (1 + hits.sum()) / (1 + hits.size)

    with np.errstate(divide="ignore", invalid="ignore"):
        cuts = np.concatenate([(theta - theta_obs) / (c - c_obs), (theta + theta_obs) / (c + c_obs)])
    cuts = np.unique(cuts[np.isfinite(cuts)])
    if cuts.size == 0:
        return np.nan, np.nan
    span = max(1.0, float(np.ptp(cuts)))
    probe = np.concatenate([[cuts[0] - span], (cuts[:-1] + cuts[1:]) / 2, [cuts[-1] + span]])
    keep = np.array([p(t) > alpha for t in probe])
    if keep[0] or keep[-1]:
        return (-np.inf if keep[0] else np.nan), (np.inf if keep[-1] else np.nan)
    if not keep.any():
        return np.nan, np.nan
    idx = np.flatnonzero(keep)
    return float(cuts[idx[0] - 1]), float(cuts[idx[-1]])


def randomization(result, *, reps: int = 999, seed: int | np.random.Generator | None = None,
                  strata: str | Sequence[str] | None = None,
                  statistic: Literal["estimate", "t"] = "estimate", term: int | str | None = None,
                  alpha: float | None = None, refit: RefitSpec | None = None,
                  conf_int: bool = True, conley_taber: bool | None = None,
                  ties: Literal["count", "randomize"] = "count"):
    r"""Randomization inference that re-assigns roll-out dates across clusters.

    Parameters
    ----------
    result
        A result whose ``info["refit"]`` is a :class:`RefitSpec` (or pass ``refit=``).
    reps
        Random re-assignments; when the number of distinct assignments is at most
        ``reps`` all of them are used (exact p-value; ``reps`` in the output says how many).
    seed
        Integer or Generator (the global state is never used).
    strata
        Cluster-level column(s): dates are permuted only within strata. These are
        *assignment* strata (the blocks within which roll-out dates were randomised),
        not the Panel's sampling ``strata=`` of a survey design, which are not used
        for the re-assignments: the null distribution comes from how the dates were
        assigned, so pass the sampling strata here only if the dates were also
        randomised within them.
    statistic
        ``"estimate"`` (default; gives the interval) or ``"t"`` (studentised, better
        behaved with heterogeneous clusters).
    term
        Row of the result to test (index or ``term`` name); default the first (headline).
    alpha
        Level of the interval (default the result's).
    refit
        Override the stored :class:`RefitSpec`.
    conf_int
        Invert the test for an interval (one more refit per assignment).
    conley_taber
        Add Conley-Taber intervals (with the Ferman-Pinto size correction) when one or
        two clusters are treated; default: whenever that is the case and the result is
        a regression.
    ties
        ``"count"`` (default): re-assignments whose statistic ties with the observed
        one count as at least as extreme, the conservative p-value
        :math:`\#\{|T_b| \ge |T|\} / B`. ``"randomize"``: the randomized
        p-value :math:`(\#\{|T_b| > |T|\} + U\,\#\{|T_b| = |T|\}) / B` with
        :math:`U \sim U(0, 1)` drawn from ``seed`` (Lehmann & Romano 2005, sec. 15.2;
        Young 2019), whose rejection probability under the sharp null is exactly the
        level, however coarse the assignment grid. With few clusters the grid is coarse
        (6 clusters, half treated: 20 assignments tied in pairs, smallest counted
        p-value 0.1), so the counted test cannot reject at 5% while the randomized one
        has size exactly 5%; the price is that two analysts with different seeds can
        reach different conclusions on the same data, so report the seed. The interval
        always uses the counted rule. With sampled (not enumerated) assignments the
        observed statistic counts as one more tie.

    Returns
    -------
    Result
        ``tidy()`` has ``estimate, std_error, statistic, p_value, conf_low, conf_high``
        (randomization), ``reps``, ``exact`` and, for one or two treated clusters,
        ``ct_p_value, ct_conf_low, ct_conf_high``.

    Examples
    --------
    >>> import pandas as pd, numpy as np, clusterimpact as ci
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"u": np.repeat(np.arange(8), 4), "t": np.tile(np.arange(4), 8)})
    >>> df["g"] = np.where(df["u"] < 4, 2, 0); df["y"] = rng.normal(size=32)
    >>> res = ci.twfe(ci.Panel(df, unit="u", time="t", cohort="g"), "y", vcov="HC1")
    >>> ri = res.randomization(reps=999)
    >>> int(ri.tidy()["reps"][0]), bool(ri.tidy()["exact"][0])
    (70, True)
    """
    spec = refit if refit is not None else result.info.get("refit")
    if not isinstance(spec, RefitSpec):
        raise SpecificationError("This result does not remember how it was estimated "
                                 "(no info['refit']); pass refit=RefitSpec(panel, fit, outcome).")
    if statistic not in ("estimate", "t"):
        raise SpecificationError(f"statistic must be 'estimate' or 't', got {statistic!r}.")
    if ties not in ("count", "randomize"):
        raise SpecificationError(f"ties must be 'count' or 'randomize', got {ties!r}.")
    panel = spec.panel
    if not pd.api.types.is_numeric_dtype(panel.data[panel.time]):
        raise SpecificationError("Randomization inference needs a numeric time column (cohorts are "
                                 "written back on its scale).")
    alpha = result.alpha if alpha is None else alpha
    row = _row(result, term)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    labels = _cluster_cohorts(panel)
    g = labels.size
    strata_codes = _strata(panel, strata, g)
    plans, exact = _assignments(labels, strata_codes, reps, rng)
    data = panel.data.assign(**{_TREAT: np.asarray(panel.treated, dtype=float)})
    cl = np.asarray(panel.cluster_code)
    want_ci = conf_int and statistic == "estimate" and spec.linear_in_outcome

    def build(assign: np.ndarray):
        frame = data.assign(**{_COHORT: assign[cl]})
        return type(panel)(frame, unit=panel.unit, time=panel.time, cohort=_COHORT,
                           cluster=panel.cluster, weights=panel.weights_column,
                           strata=panel.strata_column, fpc=panel.fpc_column, nest=panel.nest,
                           lonely_psu=panel.lonely_psu)  # the sampling design is kept

    obs = _stat(result, row, statistic)
    theta, c = np.empty(len(plans)), np.empty(len(plans))
    bar, started = None, time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c_obs = float(spec(build(labels), _TREAT).estimate[row]) if want_ci else np.nan
        for b, assign in enumerate(plans):
            pan = build(assign)
            theta[b] = _stat(spec(pan), row, statistic)
            c[b] = float(spec(pan, _TREAT).estimate[row]) if want_ci else np.nan
            expected = (time.perf_counter() - started) * len(plans) / (b + 1)
            if bar is None and b >= 4 and expected > _PROGRESS_SECONDS:
                bar = _progress(len(plans), b + 1)
            elif bar:
                bar.update(1)
    if bar:
        bar.close()
    p = ri_p_value(theta, obs, exact, rng if ties == "randomize" else None)
    notes = [f"{'All' if exact else 'Random'} {len(plans)} re-assignment(s) of roll-out dates across "
             f"{g} clusters{' within strata' if strata is not None else ''}"
             f"{' (exact test)' if exact else ''}."]
    if ties == "randomize":
        notes.append("p-value randomized over ties (ties='randomize'): exact size under the sharp "
                     "null; it depends on the seed.")
    if want_ci:
        low, high = _interval(float(result.estimate[row]), c_obs, theta, c, alpha, exact)
        notes.append("Interval: RI test inverted under a constant additive effect.")
    else:
        low = high = np.nan
        notes.append("No interval: not requested, or test inversion needs statistic='estimate' "
                     "and an estimator linear in the outcome.")
    extra = {"statistic": obs, "p_value": p, "conf_low": low, "conf_high": high,
             "reps": len(plans), "exact": exact}
    n_treated = int(np.isfinite(labels).sum())
    if conley_taber is None:
        conley_taber = n_treated <= 2 and getattr(result, "fit", None) is not None
    if conley_taber:
        ct = _conley_taber_for(result, panel, row, alpha, n_treated, notes)
        extra.update(ct)
    p_min = _smallest_p(theta, exact)
    if p_min > alpha and ties == "count":
        notes.append(f"With these {len(plans)} assignments the smallest attainable p-value is "
                     f"{p_min:.3g} > {alpha}: this test cannot reject at level {alpha} (assignments "
                     "whose estimates tie in absolute value, e.g. treated and control swapped in "
                     "a half-treated design, count together).")
    return _package(result, row, extra, notes, statistic)


def ri_p_value(theta: np.ndarray, obs: float, exact: bool,
               rng: np.random.Generator | None = None) -> float:
    r"""Two-sided randomization p-value of ``obs`` against the re-assignment statistics ``theta``.

    Counted (``rng=None``): :math:`\#\{|T_b| \ge |T|\} / B` when the ``B``
    assignments are all of them (the observed one among them), else
    :math:`(1 + \#\{|T_b| \ge |T|\}) / (1 + B)`. Randomized (a Generator):
    ties (equal up to a relative 1e-10) count with weight :math:`U \sim U(0, 1)`,
    :math:`(\#\{|T_b| > |T|\} + U\,\#\{|T_b| = |T|\}) / B` (plus one tie
    and one assignment when sampled), so that :math:`P(p \le \alpha) = \alpha`
    exactly under the sharp null (Lehmann & Romano 2005, sec. 15.2).

    Examples
    --------
    >>> import numpy as np
    >>> theta = np.array([-2.0, -1.0, 1.0, 2.0])      # all 4 assignments; observed 2.0
    >>> ri_p_value(theta, 2.0, exact=True)
    0.5
    >>> 0.0 <= ri_p_value(theta, 2.0, exact=True, rng=np.random.default_rng(0)) <= 0.5
    True
    """
    a, ref = np.abs(theta), abs(obs)
    tol = 1e-10 * max(1.0, ref)
    above, tied = int(np.sum(a > ref + tol)), int(np.sum(np.abs(a - ref) <= tol))
    extra = 0 if exact else 1
    if rng is None:
        return float(above + tied + extra) / (a.size + extra)
    return float(above + rng.uniform() * (tied + extra)) / (a.size + extra)


def _smallest_p(theta: np.ndarray, exact: bool) -> float:
    """Smallest p-value any observed statistic could get from these re-assignments.

    An observed statistic at least as extreme as every re-assignment still ties with
    those at the maximum of :math:`|T_b|` (with all assignments enumerated, the observed
    one is among them, and so is its sign-flipped twin when one exists).
    """
    a = np.abs(theta[np.isfinite(theta)])
    if a.size == 0:
        return 1.0
    top = a.max()
    ties = int(np.sum(a >= top - 1e-10 * max(1.0, top)))
    return ties / a.size if exact else 1.0 / (1 + a.size)


def _row(result, term) -> int:
    if term is None:
        return 0
    if isinstance(term, int | np.integer):
        return int(term)
    names = result.keys["term"].astype(str).tolist() if "term" in result.keys else []
    if str(term) not in names:
        raise SpecificationError(f"Unknown term {term!r}.{suggest(str(term), names)}")
    return names.index(str(term))


def _progress(total: int, done: int):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return False
    return tqdm(total=total, initial=done, desc="randomization", leave=False)


def _package(result, row: int, extra: dict[str, Any], notes: list[str], statistic: str):
    from clusterimpact.results.base import Result

    keys = result.keys.iloc[[row]].reset_index(drop=True)
    se = float(result.std_error[row])
    info = {k: v for k, v in result.info.items() if k in ("outcome", "n_obs", "n_units", "n_clusters")}
    info.update({"estimator": f"{result.info.get('estimator', 'Result')} — randomization inference",
                 "method": f"re-assigned roll-out dates, statistic: {statistic}",
                 "vcov_type": "randomization (p-value, interval); std_error from the original fit",
                 "notes": notes})
    return Result(keys=keys, estimate=np.array([result.estimate[row]]), vcov=np.array([[se ** 2]]),
                  alpha=result.alpha, extra=pd.DataFrame({k: [v] for k, v in extra.items()}), info=info)


def conley_taber(result, panel, *, term: int | str | None = None,
                 alpha: float | None = None, size_correction: bool = True) -> dict[str, float]:
    """Conley-Taber (2011) inference for a regression with one or two treated clusters.

    Parameters
    ----------
    result
        A :class:`~clusterimpact.results.regression.RegressionResult` fitted on every row of
        ``panel`` (e.g. :func:`clusterimpact.twfe`).
    panel
        Its :class:`~clusterimpact.Panel` (treated clusters are those with a cohort).
    term
        Coefficient to test (default the first).
    alpha
        Level of the interval.
    size_correction
        Rescale control clusters to the treated cluster's residual variance with the
        Ferman & Pinto (2019) model :math:`\\sigma^2(n) = A + B/n` in the cluster size.

    Returns
    -------
    dict
        ``ct_p_value`` (of :math:`\\beta = 0`), ``ct_conf_low``, ``ct_conf_high``, ``ct_draws``.

    Notes
    -----
    With weights :math:`h_i = w_i \\ddot x_i'MR`, :math:`\\hat\\beta - \\beta = \\sum_i h_i\\varepsilon_i`
    and, to cluster-period resolution, the treated clusters contribute
    :math:`\\sum_{k}\\sum_t H_{g_k t}\\bar\\varepsilon_{g_k t}`. Its distribution is estimated by
    putting the residual paths :math:`\\bar{\\hat\\varepsilon}_{jt}` of control clusters in place of
    the treated ones: :math:`\\Gamma = \\{\\sum_k\\sum_t H_{g_k t}\\bar{\\hat\\varepsilon}_{j_k t}\\}` over
    distinct controls :math:`j_1,\\dots,j_K`; the interval is
    :math:`[\\hat\\beta - \\Gamma_{1-\\alpha/2}, \\hat\\beta - \\Gamma_{\\alpha/2}]`. Valid when the
    treated clusters' errors are distributed like the controls' (after the size
    correction) and there are many control clusters; it does not need many treated ones.

    Examples
    --------
    >>> import warnings, numpy as np, pandas as pd, clusterimpact as ci
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"u": np.repeat(np.arange(30), 6), "t": np.tile(np.arange(6), 30)})
    >>> df["g"] = np.where(df["u"] == 0, 3, 0); df["y"] = rng.normal(size=180)
    >>> p = ci.Panel(df, unit="u", time="t", cohort="g")
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     out = conley_taber(ci.twfe(p, "y"), p)
    >>> out["ct_draws"], out["ct_conf_low"] < out["ct_conf_high"]
    (29, True)
    """
    fit = getattr(result, "fit", None)
    if fit is None or fit.n != panel.n_obs:
        raise SpecificationError("Conley-Taber needs a regression result fitted on every row of the "
                                 "panel (no dropped rows).")
    row = _row(result, term)
    alpha = result.alpha if alpha is None else alpha
    labels = _cluster_cohorts(panel)
    treated = np.flatnonzero(np.isfinite(labels))
    controls = np.flatnonzero(~np.isfinite(labels))
    if not 1 <= treated.size <= 2 or controls.size < 2:
        raise SpecificationError(f"Conley-Taber is for one or two treated clusters and several controls; "
                                 f"got {treated.size} treated and {controls.size} control clusters.")
    g, t_codes = labels.size, np.asarray(panel.time_code)
    n_t = int(t_codes.max()) + 1
    cl = np.asarray(panel.cluster_code)
    w = np.ones(fit.n) if fit.weights is None else np.asarray(fit.weights, dtype=float)
    h = w * (fit.x @ (fit.bread @ np.eye(fit.k)[row]))
    cell = cl * n_t + t_codes
    big_h = np.bincount(cell, weights=h, minlength=g * n_t).reshape(g, n_t)
    wsum = np.bincount(cell, weights=w, minlength=g * n_t)
    with np.errstate(invalid="ignore", divide="ignore"):
        ebar = np.where(wsum > 0, np.bincount(cell, weights=w * fit.resid, minlength=g * n_t) / wsum, 0.0)
    ebar = ebar.reshape(g, n_t)
    size = np.bincount(cl, minlength=g).astype(float)
    draws = big_h[treated] @ ebar[controls].T                      # (K, J)
    if size_correction and np.ptp(size[controls]) > 0.05 * size[controls].mean() and controls.size >= 4:
        design = np.column_stack([np.ones(controls.size), 1 / size[controls]])
        for k, gk in enumerate(treated):
            coef = np.linalg.lstsq(design, draws[k] ** 2, rcond=None)[0]
            var_c = np.maximum(design @ coef, 1e-12 * max(float(np.mean(draws[k] ** 2)), 1e-300))
            var_t = max(float(coef @ [1.0, 1 / size[gk]]), float(var_c.min()))
            draws[k] *= np.sqrt(var_t / var_c)
    if treated.size == 1:
        gamma = draws[0]
    else:
        pair = draws[0][:, None] + draws[1][None, :]
        gamma = pair[~np.eye(controls.size, dtype=bool)]
    est = float(result.estimate[row])
    return {"ct_p_value": float(np.mean(np.abs(gamma) >= abs(est) - 1e-12)),
            "ct_conf_low": est - float(np.quantile(gamma, 1 - alpha / 2)),
            "ct_conf_high": est - float(np.quantile(gamma, alpha / 2)),
            "ct_draws": int(gamma.size)}


def _conley_taber_for(result, panel, row: int, alpha: float, n_treated: int,
                      notes: list[str]) -> dict[str, float]:
    warnings.warn(
        f"Only {n_treated} treated cluster(s): randomization p-values are coarse (at best "
        f"1/{'G' if n_treated == 1 else 'C(G,2)'}) and, with clusters of different sizes, can "
        "over- or under-reject (MacKinnon & Webb 2020); cluster-robust and wild bootstrap "
        "inference fail. Conley-Taber intervals (ct_* columns) assume the treated clusters' "
        "errors are distributed like the controls' after a Ferman-Pinto rescaling by cluster "
        "size, and need many control clusters.", FewClustersWarning, stacklevel=4)
    try:
        out = conley_taber(result, panel, term=row, alpha=alpha)
    except SpecificationError as err:
        notes.append(f"Conley-Taber not computed: {err}")
        return {}
    notes.append("ct_*: Conley & Taber (2011) with the Ferman & Pinto (2019) size correction.")
    return out
