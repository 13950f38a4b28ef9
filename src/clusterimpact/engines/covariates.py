"""TWFE and dynamic-TWFE event studies with covariates from per-block cross-products.

Why cross-products suffice (balanced panels)
--------------------------------------------
Take a balanced panel (every unit observed in all :math:`T` periods with the
outcome and every covariate), unit weights :math:`w_i` constant over time and
any stacked row vector :math:`z_{it} = (y_{it}, x_{it}')'` -- the regressors
being the treatment or relative-time dummies (functions of cohort and period)
and time-varying covariates: numeric columns, or the indicators
:math:`1\\{c_{it} = \\ell\\}` of a categorical column's levels but the first
(treatment coding, the reference level dropped). With proportional weights
the two-way (unit, period) within transform is closed-form for *any* column:

.. math:: \\ddot z_{it} = z_{it} - \\bar z_i - \\bar z^w_t + \\bar z^w,
          \\qquad \\bar z_i = T^{-1}\\textstyle\\sum_t z_{it},

with :math:`\\bar z^w_t` the weighted period means and :math:`\\bar z^w` their
mean over periods. Write :math:`a_{it} = z_{it} - \\bar z_i` (so
:math:`\\sum_t a_{it} = 0`) and :math:`m_t = \\bar z^w_t - \\bar z^w`, so
:math:`\\ddot z_{it} = a_{it} - m_t`. For a block :math:`b` of units (same
subgroup, cohort and cluster), with :math:`Z_{bt} = \\sum_{i\\in b}w_iz_{it}`,
:math:`\\bar Z_b = T^{-1}\\sum_t Z_{bt}`, :math:`W_b = \\sum_{i\\in b}w_i`,

.. math:: A_b = \\sum_{i\\in b,t} w_i\\ddot z_{it}\\ddot z_{it}'
          = S_b - T P_b - \\sum_t (Z_{bt}-\\bar Z_b)m_t' - \\sum_t m_t(Z_{bt}-\\bar Z_b)'
            + W_b\\sum_t m_tm_t',

:math:`S_b = \\sum_{i\\in b,t} w_iz_{it}z_{it}'` and
:math:`P_b = \\sum_{i\\in b} w_i\\bar z_i\\bar z_i'`. The least-squares
coefficient is :math:`\\hat\\beta = (\\sum_b A_b^{xx})^{-1}\\sum_b A_b^{xy}` and
cluster :math:`c`'s CR1 score is :math:`\\sum_{b\\in c}(A_b^{xy} - A_b^{xx}\\hat\\beta)`
(the residual :math:`\\ddot y - \\ddot x'\\hat\\beta` times :math:`w\\ddot x`,
summed): both are linear in the block statistics
:math:`(W_b, Z_{b\\cdot}, S_b, P_b)`, which the engine returns. The entries of
:math:`S_b, P_b` that involve a (cohort, period) regressor follow from
:math:`Z_{bt}` (:math:`\\sum_t x(g,t)Z_{bt}` and :math:`\\bar x_g\\bar Z_b`), so the
engine computes the products of the outcome and the covariates only:
per block, :math:`T` sums, one sum of squares and one sum of products of unit
means per pair of those columns. Products of two indicators of the same
categorical column are the indicator itself or zero and are not computed.

The outcome and each numeric covariate are centred on their overall mean in
the engine (a constant, absorbed by the fixed effects) so that the
differences :math:`S_b - TP_b` do not cancel a large common level. What is
left is the ratio of a covariate's spread across units to its variation
within units: when the within sum of squares is below ``1e-6`` of the total,
the difference loses more digits than the tolerance of the tests allows and
the fit is refused (:class:`~clusterimpact.errors.SpecificationError` naming
the column), rather than returning an inexact number.

What is not exact
-----------------
Unbalanced panels (or rows missing a covariate): the unit means are then
over each unit's own periods and the two-way transform is no longer
closed-form. With ``cluster = unit`` the blocks are the units, so one row per
unit comes back (no moment-table reduction as without covariates).

Examples
--------
>>> import clusterimpact as ci
>>> df = ci.datasets.load("mpdta")
>>> df["size"] = (df["lpop"] + (df["year"] % 3) / 2 > 3.5).map({True: "large", False: "small"})
>>> lp = ci.LazyPanel(df, unit="countyreal", time="year", cohort="first.treat")
>>> lp.twfe("lemp", covariates=["size"]).tidy()[["term", "estimate"]].round(4)
          term  estimate
0      treated   -0.0363
1  size::small   -0.0083
"""

from __future__ import annotations

import re
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

__all__ = ["CrossStats", "cross_stats", "twfe_from_cross"]

_INF = float("inf")
_C = re.compile(r"^\s*C\(\s*(.+?)\s*\)\s*$")
_ABSORBED = 1e-12   # within / total sum of squares: no variation of its own (exact zero)
_PRECISION = 1e-6   # below: the closed-form differences lose too many digits


@dataclass(frozen=True)
class _Term:
    """One free column of the cross-products: the outcome, a numeric covariate or one level."""

    name: str
    column: str
    level: Any = None          # categorical level (None: numeric)


@dataclass(frozen=True, eq=False)
class CrossStats:
    """Per-block sums and cross-products of the outcome and covariates (balanced panel).

    A block is the set of units sharing a (subgroup, cohort, cluster). The free
    columns are the centred outcome and the covariate terms (numeric columns,
    centred, and one indicator per non-reference level of a categorical one).

    Attributes
    ----------
    y, by, periods, cohort, cluster, groups, units, weight
        As in :class:`~clusterimpact.engines.compress.CellStats`.
    terms : tuple of str
        Covariate term names (``column`` or ``column::level``).
    zsum : numpy.ndarray
        ``(B, T, V)``: :math:`\\sum_{i\\in b} w_iv_{it}` for the ``V = 1 + len(terms)``
        free columns (outcome first).
    sq : numpy.ndarray
        ``(B, V, V)``: :math:`\\sum_{i\\in b,t} w_iv_{it}v_{it}'`.
    unit_sq : numpy.ndarray
        ``(B, V, V)``: :math:`\\sum_{i\\in b} w_i\\bar v_i\\bar v_i'` (unit means).
    total_sq : numpy.ndarray
        ``(V,)``: the total of ``sq``'s diagonal (size of each column, for the
        precision check).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> df = ci.datasets.load("mpdta")
    >>> df["size"] = (df["lpop"] + (df["year"] % 3) / 2 > 3.5).map({True: "large", False: "small"})
    >>> lp = ci.LazyPanel(df, unit="countyreal", time="year", cohort="first.treat")
    >>> st = ci.engines.covariates.cross_stats(lp, "lemp", ["size"])
    >>> st.terms, st.zsum.shape
    (('size::small',), (500, 5, 2))
    """

    y: str
    by: tuple[str, ...]
    periods: np.ndarray
    cohort: np.ndarray
    cluster: np.ndarray
    groups: pd.DataFrame
    units: np.ndarray
    weight: np.ndarray
    terms: tuple[str, ...]
    zsum: np.ndarray
    sq: np.ndarray
    unit_sq: np.ndarray
    total_sq: np.ndarray
    cluster_name: str
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
        >>> df["shift"] = df["year"] % 2
        >>> lp = ci.LazyPanel(df, unit="countyreal", time="year", cohort="first.treat",
        ...                   cluster="state")
        >>> ci.engines.covariates.cross_stats(lp, "lemp", ["C(shift)"]).n_blocks
        29
        """
        return int(self.cohort.size)


# ---------------------------------------------------------------- engine side
def _resolve_terms(lp: LazyPanel, covariates: Any) -> tuple[list[_Term], dict[str, float]]:
    """Covariate terms (categorical columns expanded to their non-reference levels) and the
    centring constant of each numeric column."""
    from clusterimpact.errors import suggest

    names = [covariates] if isinstance(covariates, str) else list(covariates)
    terms: list[_Term] = []
    numeric: list[str] = []
    for raw in names:
        m = _C.match(str(raw))
        column = m.group(1) if m else str(raw)
        if column not in lp.source.columns:
            raise SpecificationError(f"The covariate column {column!r} is not in the data."
                                     f"{suggest(column, lp.source.columns)}")
        if m or not lp.source.is_numeric(column):
            levels = _levels(lp, column)
            if len(levels) < 2:
                raise SpecificationError(
                    f"The categorical covariate {column!r} has a single level ({levels[0]!r}): "
                    "it is constant and absorbed by the fixed effects. Remove it.")
            terms += [_Term(f"{column}::{lv}", column, lv) for lv in levels[1:]]
        else:
            terms.append(_Term(column, column))
            numeric.append(column)
    centre = _means(lp, numeric) if numeric else {}
    return terms, centre


def _levels(lp: LazyPanel, column: str) -> list[Any]:
    """Sorted levels of a categorical covariate (one ``GROUP BY`` query)."""
    out = lp.source.run(Query(derive={"v": col(column), "one": lit(1)}, keys=("v",),
                              aggs={"n": ("sum", "one")}))
    values = out["v"]
    if values.isna().any():
        n = int(out.loc[values.isna(), "n"].sum())
        lp._fail(f"Missing values in the covariate column {column!r}: {n} row(s).",
                 lp._missing(column), [lp.unit, lp.time, column],
                 "Give them a level (e.g. 'unknown') or drop them; the compressed regression "
                 "needs a balanced panel.", n)
    return sorted(values.tolist())


def _means(lp: LazyPanel, columns: list[str]) -> dict[str, float]:
    """Overall means of numeric covariates (the centring constants), checking for inf."""
    derive: dict[str, Expr] = {"one": lit(1)}
    aggs: dict[str, tuple[str, str]] = {}
    for j, c in enumerate(columns):
        v = lp._num(c)
        ok = ~lp._missing(c) & ~v.is_inf()
        derive |= {f"s{j}": when(ok, v, 0.0), f"n{j}": when(ok, 1, 0),
                   f"i{j}": when(v.is_inf(), 1, 0)}
        aggs |= {f"s{j}": ("sum", f"s{j}"), f"n{j}": ("sum", f"n{j}"), f"i{j}": ("sum", f"i{j}")}
    out = lp.source.run(Query(derive=derive, aggs=aggs)).iloc[0]
    for j, c in enumerate(columns):
        if out[f"i{j}"]:
            lp._fail(f"Infinite values in the covariate column {c!r}: {int(out[f'i{j}'])} row(s).",
                     lp._num(c).is_inf(), [lp.unit, lp.time, c], total=int(out[f"i{j}"]))
    return {c: float(out[f"s{j}"]) / max(float(out[f"n{j}"]), 1.0) for j, c in enumerate(columns)}


def _zero_pair(a: _Term, b: _Term) -> bool:
    return a.level is not None and b.level is not None and a.column == b.column and a.level != b.level


def _term_expr(lp: LazyPanel, term: _Term, centre: dict[str, float]) -> Expr:
    if term.level is not None:
        return when(col(term.column) == lit(term.level), 1.0, 0.0)
    return lp._num(term.column) - centre[term.column]


def _cross_query(lp: LazyPanel, y: str, terms: list[_Term], centre: dict[str, float],
                 names: list[str], periods: np.ndarray) -> Query:
    """Per-unit pass (period sums, sums of products), then per block (weighted sums)."""
    t = lp._num(lp.time)
    k = periods.size
    free = [_Term(y, y), *terms]
    ybar = float(np.mean(lp._period_means)) if lp._period_means.size else 0.0
    vals = [lp._num(y) - ybar, *(_term_expr(lp, tm, centre) for tm in terms)]
    ok = ~lp._missing(y) & ~lp._num(y).is_inf()
    for tm in terms:
        ok = ok & ~lp._missing(tm.column)
    derive: dict[str, Expr] = {"u": col(lp.unit), "c": col(lp.cluster), "ok": when(ok, 1, 0),
                               "one": lit(1)}
    aggs: dict[str, tuple[str, str]] = {"c": ("min", "c"), "n": ("sum", "ok"),
                                        "rows": ("sum", "one")}
    for a, v in enumerate(vals):
        for j, p in enumerate(periods):
            derive[f"v{a}_{j}"] = when(ok & (t == float(p)), v, 0.0)
            aggs[f"v{a}_{j}"] = ("sum", f"v{a}_{j}")
    pairs = [(a, b) for a in range(len(free)) for b in range(a, len(free))]
    for a, b in pairs:
        if _zero_pair(free[a], free[b]):
            continue
        prod = vals[a] if (a == b and free[a].level is not None) else vals[a] * vals[b]
        derive[f"s{a}_{b}"] = when(ok, prod, 0.0)
        aggs[f"s{a}_{b}"] = ("sum", f"s{a}_{b}")
    if lp.cohort_column is not None:
        derive["g"] = lp._cohort_expr()
    else:
        derive["g"] = when(lp._num(lp.treatment_column) == 1, t, _INF)
    aggs["g"] = ("min", "g")
    if lp.weights_column is not None:
        derive["w"] = lp._num(lp.weights_column)
        aggs |= {"w": ("min", "w"), "wmax": ("max", "w")}
    if names:
        from clusterimpact.engines.lazy import _any
        derive["bna"] = when(_any([lp._missing(b) for b in names]), 1, 0)
        aggs["bna"] = ("sum", "bna")
    for j, b in enumerate(names):
        derive[f"b{j}"] = col(b)
        aggs |= {f"b{j}": ("min", f"b{j}"), f"bmax{j}": ("max", f"b{j}")}
    inner = Query(derive=derive, keys=("u",), aggs=aggs)

    last = float(lp.period_values[-1])
    w = col("w") if lp.weights_column is not None else lit(1.0)
    outer: dict[str, Expr] = {
        "c": col("c"), "g": when(col("g") > last, _INF, col("g")),
        "full": when((col("n") == k) & (col("rows") == k), 1, 0), "one": lit(1), "w": w,
        "part": when(col("n") < col("rows"), 1, 0), "bad": col("rows") - col("n")}
    oaggs: dict[str, tuple[str, str]] = {"units": ("sum", "one"), "w": ("sum", "w"),
                                         "part": ("sum", "part"), "bad": ("sum", "bad")}
    for a in range(len(free)):
        for j in range(k):
            outer[f"v{a}_{j}"] = col(f"v{a}_{j}") * w
            oaggs[f"v{a}_{j}"] = ("sum", f"v{a}_{j}")
    usum = []
    for a in range(len(free)):
        s = col(f"v{a}_0")
        for j in range(1, k):
            s = s + col(f"v{a}_{j}")
        usum.append(s)
    for a, b in pairs:
        outer[f"p{a}_{b}"] = usum[a] * usum[b] * w / float(k * k)
        oaggs[f"p{a}_{b}"] = ("sum", f"p{a}_{b}")
        if f"s{a}_{b}" in derive:
            outer[f"s{a}_{b}"] = col(f"s{a}_{b}") * w
            oaggs[f"s{a}_{b}"] = ("sum", f"s{a}_{b}")
    if names:
        from clusterimpact.engines.lazy import _any
        outer["bna"] = col("bna")
        outer["bvar"] = when(_any([col(f"b{j}") != col(f"bmax{j}") for j in range(len(names))]),
                             1, 0)
        oaggs |= {"bna": ("sum", "bna"), "bvar": ("sum", "bvar")}
        outer |= {f"b{j}": col(f"b{j}") for j in range(len(names))}
    if lp.weights_column is not None:
        from clusterimpact.engines.lazy import _WEIGHT_ATOL
        outer["wvar"] = when((col("wmax") - col("w")) > _WEIGHT_ATOL, 1, 0)
        oaggs["wvar"] = ("sum", "wvar")
    keys = ("c", "g", *[f"b{j}" for j in range(len(names))], "full")
    return Query(derive=outer, keys=keys, aggs=oaggs, source=inner)


def cross_stats(lp: LazyPanel, y: str, covariates: Any, by: Any = None) -> CrossStats:
    """Compress a balanced panel to the per-block cross-products of :class:`CrossStats`.

    Categorical covariates are string, categorical or boolean columns, or any
    column written ``"C(column)"``; their first sorted level is the reference.

    Raises
    ------
    SpecificationError
        Unknown columns, a categorical covariate with one level, an unbalanced
        panel (units missing periods, or rows missing the outcome or a
        covariate), subgroups or weights that vary within unit.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> df = ci.datasets.load("mpdta")
    >>> df["shift"] = df["year"] % 2 + (df["countyreal"] % 3 == 0)
    >>> lp = ci.LazyPanel(df, unit="countyreal", time="year", cohort="first.treat")
    >>> cross_stats(lp, "lemp", ["C(shift)"]).terms
    ('shift::1', 'shift::2')
    """
    names = [by] if isinstance(by, str) else list(by or [])
    for name in names:
        if name not in lp.source.columns:
            from clusterimpact.errors import suggest
            raise SpecificationError(f"The by= column {name!r} is not in the data."
                                     f"{suggest(name, lp.source.columns)}")
    periods, _, _ = lp._outcome_periods(y)
    terms, centre = _resolve_terms(lp, covariates)
    out = lp.source.run(_cross_query(lp, y, terms, centre, names, periods))
    _, _, full, units, weight, labels = lp._unit_pass_result(out, names)
    bad = int(out["bad"].sum())
    incomplete = int(out["units"].to_numpy()[out["full"].to_numpy() == 0].sum())
    if bad or incomplete:
        raise SpecificationError(
            f"TWFE with covariates from cell statistics needs a balanced panel: {incomplete} "
            f"unit(s) lack some period, the outcome {y!r} or a covariate in some period "
            f"({bad} row(s) miss the outcome or a covariate). With unit fixed effects the unit "
            "means are then over each unit's own periods, which the block cross-products do not "
            "record. Run ci.twfe / ci.event_study on a ci.Panel of the rows, or keep the units "
            "observed with every column in every period.")
    out = out.loc[full].reset_index(drop=True)
    k, nv = periods.size, 1 + len(terms)
    zsum = np.stack([out[[f"v{a}_{j}" for j in range(k)]].to_numpy(dtype=float)
                     for a in range(nv)], axis=2)
    sq = np.zeros((len(out), nv, nv))
    usq = np.zeros((len(out), nv, nv))
    free = [_Term(y, y), *terms]
    for a in range(nv):
        for b in range(a, nv):
            usq[:, a, b] = usq[:, b, a] = out[f"p{a}_{b}"].to_numpy(dtype=float)
            if not _zero_pair(free[a], free[b]):
                sq[:, a, b] = sq[:, b, a] = out[f"s{a}_{b}"].to_numpy(dtype=float)
    groups = out[[f"b{j}" for j in range(len(names))]]
    groups.columns = names
    return CrossStats(
        y=y, by=tuple(names), periods=periods, cohort=pd.to_numeric(out["g"]).to_numpy(dtype=float),
        cluster=out["c"].to_numpy(), groups=groups, units=units[full], weight=weight[full],
        terms=tuple(tm.name for tm in terms), zsum=zsum, sq=sq, unit_sq=usq,
        total_sq=np.einsum("bvv->v", sq), cluster_name=lp.cluster, n_rows=lp.n_obs,
        engine=lp.engine, group_labels=labels)


# ---------------------------------------------------------------- the fits
def _cross_products(st: CrossStats, rows: np.ndarray, cidx: np.ndarray, design: np.ndarray
                    ) -> SimpleNamespace:
    """Per-block :math:`A_b` of ``z = (y, design, covariates)`` for the blocks ``rows``.

    ``design`` is ``(cohorts, T, K)`` (functions of cohort and period), ``cidx`` each block's
    cohort index; see the module notes for the algebra.
    """
    w, zf, sf, pf = st.weight[rows], st.zsum[rows], st.sq[rows], st.unit_sq[rows]
    fb = design[cidx[rows]]                                   # (B, T, K)
    n_b, t, kd = fb.shape
    nv = zf.shape[2]
    p = nv + kd
    fi = np.r_[0, 1 + kd + np.arange(nv - 1)]                 # free columns in z
    di = 1 + np.arange(kd)                                    # design columns in z
    zd = w[:, None, None] * fb
    z = np.empty((n_b, t, p))
    z[:, :, fi], z[:, :, di] = zf, zd
    s = np.empty((n_b, p, p))
    s[:, fi[:, None], fi[None, :]] = sf
    s[:, di[:, None], di[None, :]] = np.einsum("btk,btl->bkl", fb, zd)
    cross = np.einsum("btk,btv->bkv", fb, zf)
    s[:, di[:, None], fi[None, :]] = cross
    s[:, fi[:, None], di[None, :]] = cross.transpose(0, 2, 1)
    fbar, zbar = fb.mean(axis=1), zf.mean(axis=1)
    u = np.empty((n_b, p, p))
    u[:, fi[:, None], fi[None, :]] = pf
    u[:, di[:, None], di[None, :]] = w[:, None, None] * np.einsum("bk,bl->bkl", fbar, fbar)
    ucross = np.einsum("bk,bv->bkv", fbar, zbar)
    u[:, di[:, None], fi[None, :]] = ucross
    u[:, fi[:, None], di[None, :]] = ucross.transpose(0, 2, 1)
    m = z.sum(axis=0) / w.sum()
    m -= m.mean(axis=0)                                       # m_t = zbar^w_t - zbar^w
    zc = z - z.mean(axis=1, keepdims=True)
    zm = np.einsum("btk,tl->bkl", zc, m)
    a = s - t * u - zm - zm.transpose(0, 2, 1) + w[:, None, None] * (m.T @ m)[None]
    return SimpleNamespace(a=a, gram=a[:, 1:, 1:].sum(axis=0), xty=a[:, 1:, 0].sum(axis=0),
                           raw=np.einsum("bjj->j", s)[1:], w=w, units=int(st.units[rows].sum()))


def _check_covariates(f: SimpleNamespace, kd: int, terms: tuple[str, ...]) -> np.ndarray:
    """Covariates without variation of their own (absorbed); refuse ill-conditioned ones."""
    within = np.diag(f.gram)[kd:]
    ratio = within / np.maximum(f.raw[kd:], 1e-300)
    absorbed = ratio <= _ABSORBED
    weak = ~absorbed & (ratio < _PRECISION)
    if weak.any():
        names = [terms[j] for j in np.flatnonzero(weak)]
        raise SpecificationError(
            f"Covariate(s) {', '.join(map(repr, names))} vary too little within units relative to "
            f"their spread across units (within sum of squares {ratio[weak].min():.1e} of the "
            "total): the compressed cross-products would lose more than four digits. Use "
            "ci.twfe / ci.event_study on a ci.Panel of the rows for them.")
    return absorbed


def _cluster_scores(f: SimpleNamespace, cluster: np.ndarray, coef: np.ndarray, cols: np.ndarray,
                    n_clusters: int) -> np.ndarray:
    """Per-cluster :math:`\\sum_{b\\in c}(A_b^{xy} - A_b^{xx}\\hat\\beta)` on the kept columns."""
    axx = f.a[:, 1:, 1:][:, cols[:, None], cols[None, :]]
    sb = f.a[:, 1:, 0][:, cols] - axx @ coef
    return np.column_stack([np.bincount(cluster, weights=sb[:, j], minlength=n_clusters)
                            for j in range(cols.size)])


def _setup(st: CrossStats, drop_always: bool) -> SimpleNamespace:
    periods = np.asarray(st.periods, float)
    keep = np.asarray(st.units) > 0
    always = np.asarray(st.cohort) <= periods[0]
    n_always = int(np.asarray(st.units)[always & keep].sum()) * periods.size if drop_always else 0
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


def _small(n: int, big_k: int, g: int) -> float:
    from clusterimpact.engines.regression import _small as small
    return small(n, big_k, g)


def twfe_from_cross(st: CrossStats, *, alpha: float = 0.05) -> RegressionResult:
    """``ci.twfe(panel, y, covariates=...)`` (unit and period FE, CR1) from :class:`CrossStats`.

    One coefficient for the treatment and one per covariate term (per ``by``
    subgroup, fully interacted as ``ci.twfe``). A categorical covariate enters
    as the indicators of its levels but the first, which is what ``ci.twfe``
    gives with those indicator columns as numeric covariates.

    Raises
    ------
    EstimationError
        A regressor collinear with the fixed effects or the regressors before it.
    SpecificationError
        A covariate too weakly varying within units for exact cross-products.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> df = ci.datasets.load("mpdta")
    >>> df["size"] = (df["lpop"] + (df["year"] % 3) / 2 > 3.5).map({True: "large", False: "small"})
    >>> lp = ci.LazyPanel(df, unit="countyreal", time="year", cohort="first.treat")
    >>> res = twfe_from_cross(cross_stats(lp, "lemp", ["size"]))
    >>> res.tidy()["term"].tolist()
    ['treated', 'size::small']
    """
    b = _setup(st, drop_always=False)
    design = (b.periods[None, :] >= b.cohorts[:, None]).astype(float)[:, :, None]
    terms = ["treated", *st.terms]
    k0, n_groups, t = len(terms), len(b.labels), b.periods.size
    coefs, scores, n, units = [], [], 0, 0
    for s in range(n_groups):
        rows = b.keep & (b.group == s)
        f = _cross_products(st, rows, b.cidx, design)
        absorbed = _check_covariates(f, 1, st.terms)
        keep = independent_columns(np.where(np.r_[False, absorbed][:, None]
                                            | np.r_[False, absorbed][None, :], 0.0, f.gram))
        if keep.size < k0 or not f.gram[0, 0] > 1e-12 * max(f.raw[0], 1.0):
            bad = [terms[j] for j in range(k0) if j not in set(keep.tolist())] or ["treated"]
            raise EstimationError(
                f"Regressor(s) {', '.join(map(repr, bad))} are collinear with the fixed effects or "
                "with the regressors before them: after absorbing the fixed effects they have no "
                "variation of their own (e.g. every unit treated at the same time, a time-invariant "
                "covariate, or a covariate that duplicates another). Remove them. (From cell "
                f"statistics a covariate counts as absorbed when its within-unit sum of squares is "
                f"below {_ABSORBED:g} of its total; if it does vary within units, fit ci.twfe on "
                "a ci.Panel of the rows.)")
        bread = np.linalg.inv(f.gram)
        coef = bread @ f.xty
        coefs.append(coef)
        scores.append(_cluster_scores(f, b.cluster[rows], coef, np.arange(k0), b.n_clusters) @ bread)
        n, units = n + f.units * t, units + f.units
    g = int(np.count_nonzero(np.bincount(b.cluster[b.keep], minlength=b.n_clusters)))
    u = np.column_stack(scores)
    warn_few_clusters(g, stacklevel=2)
    cov = _small(n, n_groups * k0 + t * n_groups, g) * (u.T @ u)
    keys = pd.DataFrame({"term": terms * n_groups})
    for col_ in b.labels.columns if st.by else []:
        keys[col_] = np.repeat(b.labels[col_].to_numpy(), k0)
    info = {
        "estimator": "TWFE", "outcome": st.y, "n_obs": n, "n_units": units,
        "fixed_effects": ["unit", "time"], "fe_dof": units + n_groups * (t - 1), "n_singletons": 0,
        "by": list(st.by), "covariates": list(st.terms),
        "method": "TWFE (y on D = 1{t >= cohort} and covariates, unit and time FE absorbed)",
        "vcov_type": "CR1", "vcov_label": "CR1 (cluster-robust, fixest small-sample correction)",
        "n_clusters": g,
        "engine": f"compressed ({st.engine}): {st.n_rows} rows -> {st.n_blocks} blocks "
                  "(cross-products)",
    }
    return RegressionResult(keys=keys, estimate=np.concatenate(coefs), vcov=cov, alpha=alpha,
                            dof=np.full(n_groups * k0, float(g - 1)), info=info, influence=u * g,
                            cluster=np.arange(u.shape[0]))


def event_study_from_cross(st: CrossStats, *, leads: int | None = None, lags: int | None = None,
                           reference: int | None = -1, bin_endpoints: bool = True,
                           alpha: float = 0.05) -> Any:
    """``ci.event_study(method="twfe", covariates=...)`` (CR1) from :class:`CrossStats`.

    The relative-time indicators are those of
    :func:`clusterimpact.engines.regression.event_design`; covariate coefficients are kept
    in each fit's details as ``ci.event_study`` keeps them. Units treated in or before the
    first period are dropped and collinear regressors dropped with the row-level warnings.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> df = ci.datasets.load("mpdta")
    >>> df["size"] = (df["lpop"] + (df["year"] % 3) / 2 > 3.5).map({True: "large", False: "small"})
    >>> lp = ci.LazyPanel(df, unit="countyreal", time="year", cohort="first.treat")
    >>> event_study_from_cross(cross_stats(lp, "lemp", ["size"])).tidy()["event_time"].tolist()
    [-4, -3, -2, 0, 1, 2, 3]
    """
    from clusterimpact.engines.regression import event_design
    from clusterimpact.errors import DroppedRowsWarning
    from clusterimpact.estimators.event_study import _assemble

    if reference is not None and (not np.isfinite(reference) or reference >= 0):
        raise SpecificationError(f"reference must be a negative relative period (or None), got "
                                 f"{reference!r}.")
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
    fits = [_event_cross_fit(st, b, b.keep & (b.group == s), design, labels)
            for s in range(len(b.labels))]
    units = int(st.units[b.keep].sum())
    sample = SimpleNamespace(n=units * b.periods.size, unit=np.arange(units), n_clusters=b.n_clusters)
    meta = {"n_dropped_missing": 0, "n_dropped_always_treated": b.n_always,
            "fixed_effects": ["unit", "time"]}
    res = _assemble(fits, b.labels, list(st.by), "twfe", st.y, alpha, sample, meta,
                    {"window": (-big_l, big_r), "reference": reference,
                     "bin_endpoints": bin_endpoints, "vcov": "CR1"})
    res.info["engine"] = (f"compressed ({st.engine}): {st.n_rows} rows -> {st.n_blocks} blocks "
                          "(cross-products)")
    return res


def _event_cross_fit(st: CrossStats, b: SimpleNamespace, rows: np.ndarray, design: np.ndarray,
                     labels: np.ndarray) -> MethodFit:
    """One subgroup's dynamic TWFE with covariates, as ``fit_dynamic_twfe`` on the rows."""
    f = _cross_products(st, rows, b.cidx, design)
    kd = labels.size
    absorbed = _check_covariates(f, kd, st.terms)
    gram = f.gram.copy()
    noise = np.r_[np.diag(gram)[:kd] <= _ABSORBED * np.maximum(f.raw[:kd], 1e-300), absorbed]
    gram[noise, :] = 0.0
    gram[:, noise] = 0.0
    keep = independent_columns(gram)
    names = [f"event_time::{e:g}" for e in labels] + [f"covariate {j}" for j in range(len(st.terms))]
    if not np.any(keep < kd):
        raise EstimationError("Every relative-time indicator is collinear with the fixed effects.")
    if keep.size < len(names):
        dropped = [names[j] for j in range(len(names)) if j not in set(keep.tolist())]
        warnings.warn(f"{len(dropped)} regressor(s) collinear with the fixed effects and earlier "
                      f"regressors were dropped: {', '.join(dropped[:8])}"
                      f"{' ...' if len(dropped) > 8 else ''}.", EstimationWarning, stacklevel=4)
    bread = np.linalg.inv(f.gram[np.ix_(keep, keep)])
    coef = bread @ f.xty[keep]
    sc = _cluster_scores(f, b.cluster[rows], coef, keep, b.n_clusters) @ bread
    g = int(np.count_nonzero(np.bincount(b.cluster[rows], minlength=b.n_clusters)))
    warn_few_clusters(g, stacklevel=5)
    sc *= np.sqrt(_small(f.units * b.periods.size, keep.size + b.periods.size, g))
    ev = np.flatnonzero(keep < kd)
    sc_ev = sc[:, ev]
    mass = np.einsum("b,btk->k", f.w, design[b.cidx[rows]])[keep[ev]]
    return MethodFit(labels[keep[ev]], coef[ev], sc_ev.T @ sc_ev, float(g - 1), sc_ev, mass,
                     {"covariates": coef[keep >= kd]})
