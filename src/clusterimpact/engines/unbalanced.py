"""TWFE and dynamic-TWFE event studies on *unbalanced* panels from per-block pattern statistics.

Why these statistics suffice
----------------------------
Let :math:`d_{it} = 1` when unit :math:`i` is observed with the outcome in
period :math:`t`, :math:`n_i = \\sum_t d_{it}`, unit weights :math:`w_i`
constant over time, and let every regressor be a function of the unit's
cohort and the period -- the treatment dummy or the relative-time dummies --
so that, with the period dummies :math:`e_t` (:math:`t \\ge 2`) appended, the
regressor row is :math:`r_{it} = F_{g_i}[t]` for a ``(T x K)`` table
:math:`F_g`. Eliminating the unit effects (the one-pass elimination of
:func:`clusterimpact.kernels.demean.demean`: subtract each unit's mean over its
own observed periods) leaves the normal equations of
:math:`\\theta = (\\beta, \\lambda_2, \\ldots, \\lambda_T)`,

.. math:: \\Big(\\sum_b F_{g_b}'(\\mathrm{diag}(N_b) - M_b)F_{g_b}\\Big)\\hat\\theta
          = \\sum_b F_{g_b}'(Y_b - Q_b),

summed over blocks :math:`b` (units sharing subgroup, cohort and cluster) with

* :math:`N_{bt} = \\sum_{i\\in b} w_id_{it}` and :math:`Y_{bt} = \\sum_{i\\in b} w_id_{it}y_{it}`,
* :math:`M_b = \\sum_{i\\in b} w_i d_id_i'/n_i` (``T x T``: the observation pattern),
* :math:`Q_{bt} = \\sum_{i\\in b} w_id_{it}\\bar y_i`, :math:`\\bar y_i` the unit's mean
  over its observed periods,

because :math:`\\sum_t d_{it}r_{it}\\bar r_i' n_i = F_g'd_id_i'F_g/n_i`. Cluster
:math:`c`'s score :math:`\\sum_{i\\in c,t} w_id_{it}\\tilde r_{it}\\hat e_{it}`
(:math:`\\tilde{\\ }` the unit-demeaned values) is, block by block,
:math:`F_g'(Y_b - Q_b) - F_g'(\\mathrm{diag}(N_b) - M_b)F_g\\hat\\theta`: linear in
the same statistics. The rows of :math:`\\hat\\theta`'s sandwich for
:math:`\\beta` equal the two-way within (Frisch-Waugh-Lovell) sandwich of the
rows, so the coefficient and its CR1 covariance are exact. The engine returns
:math:`3T + T(T+1)/2` sums per block; with ``cluster = unit`` a block is a unit.

Not covered: covariates (their unit means over each unit's own periods
enter products with the pattern; use the rows), ``bin_endpoints=False`` with
treated rows outside the window (dropping rows changes each :math:`n_i`).

Examples
--------
>>> import clusterimpact as ci
>>> df = ci.datasets.load("mpdta")
>>> df = df.drop(index=df.index[3::7])                 # unbalanced
>>> lp = ci.LazyPanel(df, unit="countyreal", time="year", cohort="first.treat")
>>> round(float(lp.twfe("lemp").estimate[0]), 4)
-0.0388
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clusterimpact.engines._spec import Expr, Query, col, lit, when
from clusterimpact.engines.compress import _group_codes
from clusterimpact.errors import EstimationError, EstimationWarning, SpecificationError
from clusterimpact.estimators.event_study._common import MethodFit, independent_columns
from clusterimpact.inference.vcov import warn_few_clusters
from clusterimpact.results.regression import RegressionResult

if TYPE_CHECKING:
    from clusterimpact.engines.lazy import LazyPanel

__all__ = ["PatternStats", "event_study_from_patterns", "pattern_stats", "twfe_from_patterns"]

_INF = float("inf")


@dataclass(frozen=True, eq=False)
class PatternStats:
    """Per-block sums of an unbalanced panel: counts, outcome sums and observation patterns.

    Attributes
    ----------
    y, by, periods, cohort, cluster, groups, units, weight
        As in :class:`~clusterimpact.engines.compress.CellStats` (units with at
        least one observed outcome).
    count : numpy.ndarray
        ``(B, T)``: :math:`N_{bt} = \\sum w_id_{it}`.
    ysum : numpy.ndarray
        ``(B, T)``: :math:`\\sum w_id_{it}y_{it}` (outcome centred on its mean).
    pattern : numpy.ndarray
        ``(B, T, T)``: :math:`\\sum w_id_id_i'/n_i`.
    ymean : numpy.ndarray
        ``(B, T)``: :math:`\\sum w_id_{it}\\bar y_i`.
    rows : numpy.ndarray
        ``(B,)``: observed rows.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> df = ci.datasets.load("mpdta")
    >>> lp = ci.LazyPanel(df.drop(index=df.index[3::7]), unit="countyreal", time="year",
    ...                   cohort="first.treat")
    >>> pattern_stats(lp, "lemp").pattern.shape
    (500, 5, 5)
    """

    y: str
    by: tuple[str, ...]
    periods: np.ndarray
    cohort: np.ndarray
    cluster: np.ndarray
    groups: pd.DataFrame
    units: np.ndarray
    weight: np.ndarray
    count: np.ndarray
    ysum: np.ndarray
    pattern: np.ndarray
    ymean: np.ndarray
    rows: np.ndarray
    cluster_name: str
    dropped_rows: int = 0
    n_rows: int = 0
    engine: str = ""
    group_labels: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def n_blocks(self) -> int:
        """Number of (subgroup, cohort, cluster) blocks.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> df = ci.datasets.load("mpdta").assign(state=lambda d: d["countyreal"] // 1000)
        >>> lp = ci.LazyPanel(df.drop(index=df.index[3::7]), unit="countyreal", time="year",
        ...                   cohort="first.treat", cluster="state")
        >>> pattern_stats(lp, "lemp").n_blocks
        29
        """
        return int(self.cohort.size)


def _pattern_query(lp: LazyPanel, y: str, names: list[str], periods: np.ndarray) -> Query:
    """Per-unit pass (observed flags and outcome sums by period), then per block."""
    from clusterimpact.engines.lazy import _WEIGHT_ATOL, _any

    t, k = lp._num(lp.time), periods.size
    ok = ~lp._missing(y)
    ybar = float(np.mean(lp._period_means))
    derive: dict[str, Expr] = {"u": col(lp.unit), "c": col(lp.cluster), "ok": when(ok, 1, 0)}
    aggs: dict[str, tuple[str, str]] = {"c": ("min", "c"), "n": ("sum", "ok")}
    for j, p in enumerate(periods):
        derive[f"o{j}"] = when(ok & (t == float(p)), 1, 0)
        derive[f"y{j}"] = when(ok & (t == float(p)), lp._num(y) - ybar, 0.0)
        aggs |= {f"o{j}": ("sum", f"o{j}"), f"y{j}": ("sum", f"y{j}")}
    derive["g"] = (lp._cohort_expr() if lp.cohort_column is not None
                   else when(lp._num(lp.treatment_column) == 1, t, _INF))
    aggs["g"] = ("min", "g")
    if lp.weights_column is not None:
        derive["w"] = lp._num(lp.weights_column)
        aggs |= {"w": ("min", "w"), "wmax": ("max", "w")}
    if names:
        derive["bna"] = when(_any([lp._missing(b) for b in names]), 1, 0)
        aggs["bna"] = ("sum", "bna")
    for j, b in enumerate(names):
        derive[f"b{j}"] = col(b)
        aggs |= {f"b{j}": ("min", f"b{j}"), f"bmax{j}": ("max", f"b{j}")}
    inner = Query(derive=derive, keys=("u",), aggs=aggs)
    last = float(lp.period_values[-1])
    seen = col("n") > 0                          # units with no observed outcome drop out
    w = (col("w") if lp.weights_column is not None else lit(1.0)) * when(seen, 1.0, 0.0)
    wn = w / when(seen, col("n"), 1)             # never divides by zero
    total = col("y0")
    for j in range(1, k):
        total = total + col(f"y{j}")
    outer: dict[str, Expr] = {"c": col("c"), "g": when(col("g") > last, _INF, col("g")),
                              "one": when(seen, 1, 0), "w": w, "rows": col("n"), "part": lit(0),
                              "full": lit(1)}
    oaggs: dict[str, tuple[str, str]] = {"units": ("sum", "one"), "w": ("sum", "w"),
                                         "rows": ("sum", "rows"), "part": ("sum", "part")}
    for j in range(k):
        outer |= {f"n{j}": col(f"o{j}") * w, f"y{j}": col(f"y{j}") * w,
                  f"q{j}": col(f"o{j}") * total * wn}
        oaggs |= {f"n{j}": ("sum", f"n{j}"), f"y{j}": ("sum", f"y{j}"), f"q{j}": ("sum", f"q{j}")}
        for m in range(j, k):
            outer[f"m{j}_{m}"] = col(f"o{j}") * col(f"o{m}") * wn
            oaggs[f"m{j}_{m}"] = ("sum", f"m{j}_{m}")
    if names:
        outer["bna"] = col("bna")
        outer["bvar"] = when(_any([col(f"b{j}") != col(f"bmax{j}") for j in range(len(names))]),
                             1, 0)
        oaggs |= {"bna": ("sum", "bna"), "bvar": ("sum", "bvar")}
        outer |= {f"b{j}": col(f"b{j}") for j in range(len(names))}
    if lp.weights_column is not None:
        outer["wvar"] = when((col("wmax") - col("w")) > _WEIGHT_ATOL, 1, 0)
        oaggs["wvar"] = ("sum", "wvar")
    keys = ("c", "g", *[f"b{j}" for j in range(len(names))], "full")
    return Query(derive=outer, keys=keys, aggs=oaggs, source=inner)


def pattern_stats(lp: LazyPanel, y: str, by: Any = None) -> PatternStats:
    """Compress a (possibly unbalanced) panel to the per-block statistics of :class:`PatternStats`.

    Raises
    ------
    SpecificationError
        Unknown ``by`` column, subgroups or weights that vary within unit.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> df = ci.datasets.load("mpdta")
    >>> lp = ci.LazyPanel(df.drop(index=df.index[3::7]), unit="countyreal", time="year",
    ...                   cohort="first.treat")
    >>> int(pattern_stats(lp, "lemp").rows.sum())
    2143
    """
    from clusterimpact.errors import suggest

    names = [by] if isinstance(by, str) else list(by or [])
    for name in names:
        if name not in lp.source.columns:
            raise SpecificationError(f"The by= column {name!r} is not in the data."
                                     f"{suggest(name, lp.source.columns)}")
    periods, _, n_bad = lp._outcome_periods(y)
    out = lp.source.run(_pattern_query(lp, y, names, periods))
    lp._unit_pass_result(out, names)            # the by= and weight checks
    out = out.loc[out["units"].to_numpy() > 0].reset_index(drop=True)
    k = periods.size
    pattern = np.zeros((len(out), k, k))
    for j in range(k):
        for m in range(j, k):
            pattern[:, j, m] = pattern[:, m, j] = out[f"m{j}_{m}"].to_numpy(dtype=float)
    groups = out[[f"b{j}" for j in range(len(names))]]
    groups.columns = names
    labels = groups.drop_duplicates()
    arr = (lambda p: out[[f"{p}{j}" for j in range(k)]].to_numpy(dtype=float))  # noqa: E731
    return PatternStats(
        y=y, by=tuple(names), periods=periods, cohort=pd.to_numeric(out["g"]).to_numpy(dtype=float),
        cluster=out["c"].to_numpy(), groups=groups, units=out["units"].to_numpy(dtype=np.int64),
        weight=out["w"].to_numpy(dtype=float), count=arr("n"), ysum=arr("y"), pattern=pattern,
        ymean=arr("q"), rows=out["rows"].to_numpy(dtype=np.int64), cluster_name=lp.cluster,
        dropped_rows=n_bad, n_rows=lp.n_obs, engine=lp.engine, group_labels=labels)


# ---------------------------------------------------------------- the fits
def _normal_equations(st: PatternStats, rows: np.ndarray, cidx: np.ndarray, design: np.ndarray
                      ) -> SimpleNamespace:
    """Per-block Gram and cross-product of ``r = (design, period dummies 2..T)``."""
    t = st.periods.size
    f = np.concatenate([design, np.broadcast_to(np.eye(t)[:, 1:], (design.shape[0], t, t - 1))],
                       axis=2)[cidx[rows]]                               # (B, T, K)
    pat = np.einsum("bt,ts->bts", st.count[rows], np.eye(t)) - st.pattern[rows]
    gram_b = np.einsum("btk,bts,bsl->bkl", f, pat, f)
    xty_b = np.einsum("btk,bt->bk", f, st.ysum[rows] - st.ymean[rows])
    return SimpleNamespace(gram_b=gram_b, xty_b=xty_b, gram=gram_b.sum(axis=0),
                           xty=xty_b.sum(axis=0), n=int(st.rows[rows].sum()),
                           units=int(st.units[rows].sum()), w=st.weight[rows], f=f,
                           count=st.count[rows])


def _setup(st: PatternStats, drop_always: bool) -> SimpleNamespace:
    periods = np.asarray(st.periods, float)
    keep = np.ones(st.n_blocks, dtype=bool)
    always = np.asarray(st.cohort) <= periods[0]
    n_always = int(st.rows[always].sum()) if drop_always else 0
    if drop_always:
        keep &= ~always
    if not keep.any():
        raise EstimationError("No usable rows remain after dropping missing values.")
    group, labels = _group_codes(st)
    code, cl = pd.factorize(pd.Series(st.cluster), sort=True)
    cvals, cidx = np.unique(np.asarray(st.cohort, float), return_inverse=True)
    return SimpleNamespace(periods=periods, cohorts=cvals, cidx=cidx.astype(np.int64), keep=keep,
                           group=group, labels=labels, cluster=code.astype(np.int64),
                           n_clusters=len(cl), n_always=n_always)


def _sandwich(fit: SimpleNamespace, cluster: np.ndarray, cols: np.ndarray, n_clusters: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients of the kept columns and the cluster scores times the bread (their rows)."""
    gram = fit.gram[np.ix_(cols, cols)]
    bread = np.linalg.inv(gram)
    theta = bread @ fit.xty[cols]
    sb = fit.xty_b[:, cols] - fit.gram_b[:, cols[:, None], cols[None, :]] @ theta
    sc = np.column_stack([np.bincount(cluster, weights=sb[:, j], minlength=n_clusters)
                          for j in range(cols.size)])
    return theta, sc @ bread


def _warn_dropped(st: PatternStats) -> None:
    if st.dropped_rows:
        from clusterimpact.errors import DroppedRowsWarning
        warnings.warn(f"twfe dropped {st.dropped_rows} row(s) with a missing outcome or covariate "
                      "or a zero weight.", DroppedRowsWarning, stacklevel=3)


def twfe_from_patterns(st: PatternStats, *, alpha: float = 0.05) -> RegressionResult:
    """``ci.twfe(panel, y)`` (unit and period FE, CR1) on an unbalanced panel from :class:`PatternStats`.

    Raises
    ------
    EstimationError
        Treatment collinear with the fixed effects.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> df = ci.datasets.load("mpdta")
    >>> lp = ci.LazyPanel(df.drop(index=df.index[3::7]), unit="countyreal", time="year",
    ...                   cohort="first.treat")
    >>> round(float(twfe_from_patterns(pattern_stats(lp, "lemp")).std_error[0]), 4)
    0.0145
    """
    from clusterimpact.engines.regression import _small

    _warn_dropped(st)
    b = _setup(st, drop_always=False)
    design = (b.periods[None, :] >= b.cohorts[:, None]).astype(float)[:, :, None]
    n_groups, t = len(b.labels), b.periods.size
    coefs, scores, n, units = [], [], 0, 0
    for s in range(n_groups):
        rows = b.keep & (b.group == s)
        fit = _normal_equations(st, rows, b.cidx, design)
        keep = independent_columns(fit.gram)
        if keep.size == 0 or keep[0] != 0:
            raise EstimationError(
                "Regressor(s) 'treated' are collinear with the fixed effects or with the "
                "regressors before them: after absorbing the fixed effects they have no variation "
                "of their own (e.g. every unit treated at the same time). Remove them.")
        theta, sc = _sandwich(fit, b.cluster[rows], keep, b.n_clusters)
        coefs.append(theta[:1])
        scores.append(sc[:, :1])
        n, units = n + fit.n, units + fit.units
    g = int(np.count_nonzero(np.bincount(b.cluster[b.keep], minlength=b.n_clusters)))
    u = np.column_stack(scores)
    warn_few_clusters(g, stacklevel=2)
    cov = _small(n, n_groups + t * n_groups, g) * (u.T @ u)
    keys = pd.DataFrame({"term": ["treated"] * n_groups})
    for col_ in b.labels.columns if st.by else []:
        keys[col_] = b.labels[col_].to_numpy()
    info = {
        "estimator": "TWFE", "outcome": st.y, "n_obs": n, "n_units": units,
        "fixed_effects": ["unit", "time"], "fe_dof": units + n_groups * (t - 1),
        "by": list(st.by),
        "method": "TWFE (y on D = 1{t >= cohort}, unit and time FE absorbed)",
        "vcov_type": "CR1", "vcov_label": "CR1 (cluster-robust, fixest small-sample correction)",
        "n_clusters": g,
        "engine": f"compressed ({st.engine}): {st.n_rows} rows -> {st.n_blocks} blocks "
                  "(observation patterns)",
    }
    return RegressionResult(keys=keys, estimate=np.concatenate(coefs), vcov=cov, alpha=alpha,
                            dof=np.full(n_groups, float(g - 1)), info=info, influence=u * g,
                            cluster=np.arange(u.shape[0]))


def event_study_from_patterns(st: PatternStats, *, leads: int | None = None,
                              lags: int | None = None, reference: int | None = -1,
                              bin_endpoints: bool = True, alpha: float = 0.05) -> Any:
    """``ci.event_study(method="twfe")`` (CR1) on an unbalanced panel from :class:`PatternStats`.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> df = ci.datasets.load("mpdta")
    >>> lp = ci.LazyPanel(df.drop(index=df.index[3::7]), unit="countyreal", time="year",
    ...                   cohort="first.treat")
    >>> res = event_study_from_patterns(pattern_stats(lp, "lemp"))
    >>> res.tidy()["event_time"].tolist()
    [-4, -3, -2, 0, 1, 2, 3]
    """
    from clusterimpact.engines.regression import _small, event_design
    from clusterimpact.errors import DroppedRowsWarning
    from clusterimpact.estimators.event_study import _assemble

    if reference is not None and (not np.isfinite(reference) or reference >= 0):
        raise SpecificationError(f"reference must be a negative relative period (or None), got "
                                 f"{reference!r}.")
    if st.dropped_rows:
        warnings.warn(f"event_study dropped {st.dropped_rows} row(s) with a missing outcome or "
                      "covariate or a zero weight.", DroppedRowsWarning, stacklevel=2)
    b = _setup(st, drop_always=True)
    if b.n_always:
        warnings.warn(f"event_study dropped {b.n_always} row(s) of units treated in or before the "
                      "first period (always treated): they have no untreated observation.",
                      DroppedRowsWarning, stacklevel=2)
    present = np.unique(b.cidx[b.keep])
    x, labels, big_l, big_r = event_design(b.periods, b.cohorts[present], leads, lags, reference,
                                           bin_endpoints)
    design = np.zeros((b.cohorts.size, *x.shape[1:]))
    design[present] = x
    fits = []
    for s in range(len(b.labels)):
        rows = b.keep & (b.group == s)
        fit = _normal_equations(st, rows, b.cidx, design)
        keep = independent_columns(fit.gram)
        kd = labels.size
        ev = keep[keep < kd]
        if ev.size == 0:
            raise EstimationError("Every relative-time indicator is collinear with the fixed effects.")
        if ev.size < kd:
            dropped = [f"event_time::{e:g}" for j, e in enumerate(labels) if j not in set(ev.tolist())]
            warnings.warn(f"{len(dropped)} regressor(s) collinear with the fixed effects and earlier "
                          f"regressors were dropped: {', '.join(dropped[:8])}"
                          f"{' ...' if len(dropped) > 8 else ''}.", EstimationWarning, stacklevel=2)
        theta, sc = _sandwich(fit, b.cluster[rows], keep, b.n_clusters)
        g = int(np.count_nonzero(np.bincount(b.cluster[rows], minlength=b.n_clusters)))
        warn_few_clusters(g, stacklevel=2)
        sc = sc[:, : ev.size] * np.sqrt(_small(fit.n, ev.size + b.periods.size, g))
        mass = np.einsum("bt,btk->k", fit.count, design[b.cidx[rows]])[ev]
        fits.append(MethodFit(labels[ev], theta[: ev.size], sc.T @ sc, float(g - 1), sc, mass,
                              {"covariates": np.zeros(0)}))
    n = int(st.rows[b.keep].sum())
    sample = SimpleNamespace(n=n, unit=np.arange(int(st.units[b.keep].sum())),
                             n_clusters=b.n_clusters)
    meta = {"n_dropped_missing": st.dropped_rows, "n_dropped_always_treated": b.n_always,
            "fixed_effects": ["unit", "time"]}
    res = _assemble(fits, b.labels, list(st.by), "twfe", st.y, alpha, sample, meta,
                    {"window": (-big_l, big_r), "reference": reference,
                     "bin_endpoints": bin_endpoints, "vcov": "CR1"})
    res.info["engine"] = (f"compressed ({st.engine}): {st.n_rows} rows -> {st.n_blocks} blocks "
                          "(observation patterns)")
    return res
