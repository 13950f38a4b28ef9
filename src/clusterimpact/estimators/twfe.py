"""Two-way fixed-effects regression of an outcome on the treatment dummy.

:func:`twfe` regresses :math:`y_{it}` on :math:`D_{it} = 1\\{t \\ge g_i\\}`
(and optional covariates) with unit and period fixed effects absorbed, and
returns a :class:`~clusterimpact.results.regression.RegressionResult` whose
covariance estimator can be switched without refitting
(``res.with_vcov("CR2")``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import partial
from typing import Literal

import numpy as np
import pandas as pd

from clusterimpact.errors import (
    DroppedRowsWarning,
    EstimationError,
    EstimationWarning,
    SpecificationError,
    suggest,
)
from clusterimpact.estimators._subgroups import FEW_CLUSTERS, warn_few_subgroup_clusters
from clusterimpact.inference.randomization import RefitSpec
from clusterimpact.inference.vcov import VcovData
from clusterimpact.kernels.demean import Absorbed, demean
from clusterimpact.results.regression import RegressionResult

__all__ = ["twfe"]

VcovName = Literal["CR1", "CR2", "CR3", "HC1", "SURVEY"]
_VCOV_NAMES = ("CR1", "CR2", "CR3", "HC1", "SURVEY")


def _well_conditioned(gram: np.ndarray, limit: float = 1e-8) -> bool:
    """Whether a Gram matrix is clearly of full rank: smallest over largest eigenvalue > ``limit``.

    Rounding leaves a singular Gram an eigenvalue of order ``eps`` times its largest, and a
    regressor the fixed effects absorb (a time-invariant covariate) keeps only rounding
    noise, so a ratio far above ``eps`` certifies what the rank test of the design itself
    (an SVD, ~100 ms for a million rows and eight columns) would find; otherwise the caller
    runs that test. Regressors on very different scales also fall back to it.

    Examples
    --------
    >>> import numpy as np
    >>> _well_conditioned(np.eye(2)), _well_conditioned(np.ones((2, 2)))
    (True, False)
    >>> _well_conditioned(np.diag([1.0, 1e-26]))  # an absorbed regressor's rounding noise
    False
    """
    ev = np.linalg.eigvalsh(gram)
    return bool(ev[-1] > 0 and ev[0] > limit * ev[-1])


def _demean_by_group(x: np.ndarray, fe_codes: list[np.ndarray], members: list[np.ndarray],
                     w: np.ndarray | None, tol: float
                     ) -> tuple[Absorbed, np.ndarray, np.ndarray, np.ndarray]:
    """Absorb subgroup-interacted fixed effects: one :func:`demean` per subgroup's rows.

    With every fixed effect interacted with the subgroup, the projection is block
    diagonal by subgroup, so each subgroup is demeaned on its own (the exact
    two-way path then sees its own unit-by-period table instead of one with
    units times subgroup-periods cells); degrees of freedom add up. The demeaned
    regressors go straight into the subgroup-interacted design: column ``j * G + s``
    holds regressor ``j`` (column ``1 + j`` of ``x``) on subgroup ``s``'s rows, else 0.

    Returns the absorption of the first column of ``x`` (the outcome; its ``values``
    are ``(n, 1)``, written over that column of ``x``), the ``(n, k * G)`` interacted
    design, and per design column its largest absolute value before and after demeaning.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.asfortranarray([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 5.0]])
    >>> r, xd, before, after = _demean_by_group(
    ...     x, [np.array([0, 0, 1, 1])], [np.array([0, 1]), np.array([2, 3])], None, 1e-10)
    >>> r.values.ravel().tolist(), r.fe_dof
    ([-0.5, 0.5, -0.5, 0.5], 2)
    >>> xd.tolist(), before.tolist(), after.tolist()
    ([[-0.5, 0.0], [0.5, 0.0], [0.0, -1.0], [0.0, 1.0]], [2.0, 5.0], [0.5, 1.0])
    """
    n, k = x.shape[0], x.shape[1] - 1
    n_groups = len(members)
    yd = x[:, :1]  # each subgroup's rows are read before they are written
    xd = np.zeros((n, k * n_groups), order="F")
    buffer = np.empty(max((idx.size for idx in members), default=0) * x.shape[1])
    before = np.zeros(k * n_groups)
    after = np.zeros(k * n_groups)
    single = np.zeros(n, dtype=bool)
    fe_dof, iterations, converged = 0, 0, True
    for s, idx in enumerate(members):  # a handful of subgroups (their rows), each vectorised
        if idx.size == 0:
            continue
        # one buffer for every subgroup's block (a Fortran view of its start)
        sub = buffer[:idx.size * x.shape[1]].reshape((idx.size, x.shape[1]), order="F")
        for j in range(x.shape[1]):  # column gathers straight into a Fortran block
            np.take(x[:, j], idx, out=sub[:, j])
        before[s::n_groups] = np.abs(sub[:, 1:]).max(axis=0)
        part = demean(sub, [f[idx] for f in fe_codes], None if w is None else w[idx], tol=tol,
                      overwrite=True)
        yd[idx, 0] = part.values[:, 0]
        for j in range(k):
            xd[idx, j * n_groups + s] = part.values[:, 1 + j]
        after[s::n_groups] = np.abs(part.values[:, 1:]).max(axis=0)
        single[idx] = part.singletons
        fe_dof += part.fe_dof
        iterations = max(iterations, part.iterations)
        converged &= part.converged
    return Absorbed(yd, (), fe_dof, single, iterations, converged), xd, before, after


def _group_members(g: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """Row indices of each subgroup, ascending: ``np.flatnonzero(g == s)`` on one-byte codes.

    Examples
    --------
    >>> import numpy as np
    >>> [m.tolist() for m in _group_members(np.array([1, 0, 1, 2, 0]), 3)]
    [[1, 4], [0, 2], [3]]
    """
    small = g.astype(np.uint8) if n_groups <= 256 else g  # 8x less memory traffic per pass
    return [np.flatnonzero(small == s) for s in range(n_groups)]


def _nested_in(codes: np.ndarray, group: np.ndarray) -> bool:
    """Whether every level of ``codes`` lies in one subgroup (then interacting it changes nothing).

    Examples
    --------
    >>> import numpy as np
    >>> _nested_in(np.array([0, 0, 1, 1]), np.array([2, 2, 0, 0]))
    True
    >>> _nested_in(np.array([0, 0, 1, 1]), np.array([2, 1, 0, 0]))
    False
    """
    if codes.size == 0:
        return True
    first = np.empty(int(codes.max()) + 1, dtype=group.dtype)
    first[codes] = group  # some row's subgroup per level
    return bool(np.array_equal(first[codes], group))


def _fe_codes(panel, fe: Sequence[str] | None) -> tuple[list[np.ndarray], list[str]]:
    names = ["unit", "time"] if fe is None else [fe] if isinstance(fe, str) else list(fe)
    codes = []
    for name in names:
        if name == "unit":
            if not panel.is_panel:
                raise SpecificationError("Unit fixed effects need a panel (unit=...), not "
                                         "repeated cross-sections; use fe=['time', <column>].")
            codes.append(np.asarray(panel.unit_code))
        elif name == "time":
            codes.append(np.asarray(panel.time_code))
        elif name == "cluster":
            codes.append(np.asarray(panel.cluster_code))
        elif isinstance(name, str) and "^" in name and name not in panel.data:
            codes.append(_interacted_fe(panel, name))
        elif name in panel.data:
            c, _ = pd.factorize(panel.data[name], sort=True)
            if (c < 0).any():
                raise SpecificationError(f"The fixed-effect column {name!r} has missing values.")
            codes.append(c.astype(np.int64))
        else:
            raise SpecificationError(
                f"Unknown fixed effect {name!r}: use 'unit', 'time', 'cluster', a column name or "
                "'<column>^time'."
                f"{suggest(name, ['unit', 'time', 'cluster', *map(str, panel.data.columns)])}")
    return codes, names


def _interacted_fe(panel, name: str) -> np.ndarray:
    """Codes of ``"col^time"`` (fixest's syntax): one fixed effect per (column level, period).

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"id": [1, 1, 2, 2], "t": [1, 2, 1, 2], "g": [2, 2, 0, 0],
    ...                    "region": ["a", "a", "b", "b"]})
    >>> _interacted_fe(ci.Panel(df, unit="id", time="t", cohort="g"), "region^time").tolist()
    [0, 1, 2, 3]
    """
    parts = [p.strip() for p in name.split("^")]
    if len(parts) != 2 or "time" not in parts or parts.count("time") != 1:
        raise SpecificationError(
            f"Interacted fixed effect {name!r}: use '<column>^time' (category-specific period "
            "effects), e.g. 'region^time'.")
    column = parts[0] if parts[1] == "time" else parts[1]
    if column not in panel.data:
        raise SpecificationError(f"The column {column!r} of fixed effect {name!r} is not in the data."
                                 f"{suggest(column, list(map(str, panel.data.columns)))}")
    c, _ = pd.factorize(panel.data[column], sort=True)
    if (c < 0).any():
        raise SpecificationError(f"The fixed-effect column {column!r} has missing values.")
    n_t = len(panel.period_values)
    return c.astype(np.int64) * n_t + np.asarray(panel.time_code)


def _per_unit(g: np.ndarray, panel) -> np.ndarray | None:
    """Each unit's value of the row array ``g`` (by unit code), ``None`` if it varies within a unit.

    Examples
    --------
    >>> import numpy as np, pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"id": [1, 1, 2, 2], "t": [1, 2, 1, 2], "g": [2, 2, 0, 0]})
    >>> p = ci.Panel(df, unit="id", time="t", cohort="g")
    >>> _per_unit(np.array([3, 3, 1, 1]), p).tolist(), _per_unit(np.array([3, 1, 1, 1]), p)
    ([3, 1], None)
    """
    unit = np.asarray(panel.unit_code)
    first = np.empty(panel.n_units, dtype=g.dtype)
    first[unit] = g  # some row's value per unit (every unit has rows)
    return first if np.array_equal(first[unit], g) else None


def _n_levels(codes: np.ndarray) -> int:
    """Number of distinct values (O(n) for non-negative integer codes)."""
    if codes.dtype.kind in "iu" and codes.size and codes.min() >= 0:
        return int(np.count_nonzero(np.bincount(codes)))
    return int(np.unique(codes).size)


def twfe(
    panel,
    y: str,
    *,
    covariates: Sequence[str] | None = None,
    vcov: VcovName | None = None,
    fe: Sequence[str] | None = None,
    weights: str | None = None,
    by: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    tol: float = 1e-10,
) -> RegressionResult:
    """Two-way fixed-effects (TWFE) difference-in-differences regression.

    Parameters
    ----------
    panel
        A :class:`clusterimpact.Panel`; standard errors are clustered on
        ``panel.cluster``.
    y
        Outcome column.
    covariates
        Time-varying covariates added to the regression.
    vcov
        ``"CR1"`` (fixest small-sample correction, df :math:`G-1`), ``"CR2"``
        (Bell-McCaffrey with Satterthwaite df), ``"CR3"`` (cluster
        jackknife), ``"HC1"`` or ``"survey"`` (design-based, linearised, for a
        Panel with ``strata=``/``fpc=``: R ``svyglm``'s variance, df #PSUs -
        #strata). Default: ``"survey"`` when the Panel declares a survey
        design, else ``"CR1"``. Switch later with ``res.with_vcov(...)``.
    fe
        Fixed effects to absorb: ``"unit"``, ``"time"``, ``"cluster"``, data
        columns, or ``"<column>^time"`` (one effect per column level and period,
        fixest's syntax: e.g. ``["unit", "region^time"]`` for region-specific
        period effects); default ``["unit", "time"]``.
    weights
        Weight column; default the panel's weights if it has any.
    by
        Subgroup column(s): one treatment coefficient per subgroup from the
        fully interacted model (fixed effects and covariates by subgroup, the
        same as separate regressions), with their joint covariance, so
        ``res.compare()`` works.
    alpha
        One minus the confidence level.
    tol
        Convergence tolerance of the fixed-effect absorption.

    Returns
    -------
    RegressionResult
        ``tidy()`` has ``term, estimate, std_error, statistic, p_value,
        conf_low, conf_high, df`` (plus the ``by`` columns).

    Notes
    -----
    The model is :math:`y_{it} = \\beta D_{it} + x_{it}'\\gamma + \\alpha_i +
    \\lambda_t + \\varepsilon_{it}`, estimated by (weighted) least squares
    after absorbing :math:`\\alpha_i, \\lambda_t`
    (:func:`clusterimpact.kernels.demean.demean`). With staggered adoption and
    heterogeneous effects :math:`\\beta` is a weighted average of 2x2
    comparisons, some with negative weights (Goodman-Bacon 2021); prefer
    :func:`clusterimpact.att_gt` for the effect itself. Rows with a missing
    outcome or covariate, or a zero weight, are dropped with a
    :class:`~clusterimpact.errors.DroppedRowsWarning`. Singletons are kept (as
    in fixest's default); they do not change :math:`\\hat\\beta`.

    References
    ----------
    Goodman-Bacon, A. (2021). Difference-in-differences with variation in
    treatment timing. *Journal of Econometrics* 225(2), 254-277.

    Examples
    --------
    >>> import warnings, pandas as pd, clusterimpact as ci
    >>> df = ci.datasets.load("mpdta")
    >>> panel = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")
    >>> res = ci.twfe(panel, "lemp")
    >>> res.tidy()[["term", "estimate"]].round(4)
          term  estimate
    0  treated   -0.0365
    >>> round(float(res.with_vcov("CR2").tidy()["df"][0]), 1) > 0
    True
    """
    if vcov is None:
        vcov = "SURVEY" if panel.survey is not None else "CR1"
    if str(vcov).upper() not in _VCOV_NAMES:
        raise SpecificationError(
            f"Unknown vcov {vcov!r}; choose one of {', '.join(map(repr, _VCOV_NAMES))}."
            f"{suggest(str(vcov).upper(), _VCOV_NAMES)}")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates or [])
    outcome = np.asarray(panel.column(y, role="outcome"), dtype=float)
    cov_cols = [np.asarray(panel.column(c, role="covariate"), dtype=float) for c in covariates]
    if weights is not None:
        w = np.asarray(panel.column(weights, role="weights"), dtype=float)
    elif getattr(panel, "has_weights", False):
        w = np.asarray(panel.weights, dtype=float)
    else:
        w = None
    fe_codes, fe_names = _fe_codes(panel, fe)
    group, labels = panel.groups(by)
    n_groups = len(labels)

    keep = np.isfinite(outcome)
    for col in cov_cols:
        keep &= np.isfinite(col)
    if w is not None:
        keep &= np.isfinite(w) & (w > 0)
    n_drop = int((~keep).sum())
    if n_drop:
        warnings.warn(f"twfe dropped {n_drop} row(s) with a missing outcome or covariate or a "
                      "zero weight.", DroppedRowsWarning, stacklevel=2)
    all_rows = n_drop == 0

    def rows(a: np.ndarray) -> np.ndarray:  # no copy when every row is kept
        return a if all_rows else a[keep]

    treated = rows(np.asarray(panel.treated))
    fe_codes = [rows(f) for f in fe_codes]
    cluster = rows(np.asarray(panel.cluster_code))
    wk = None if w is None else rows(w)
    n, k0 = treated.size, 1 + len(cov_cols)
    # [y, treated, covariates] as one column-major matrix, demeaned once
    yx = np.empty((n, 1 + k0), order="F")
    yx[:, 0] = rows(outcome)
    yx[:, 1] = treated
    for j, col in enumerate(cov_cols):
        yx[:, 2 + j] = rows(col)
    unit_group = None
    if n_groups > 1:
        # fully interacted model = separate regressions, one joint covariance: with every
        # fixed effect interacted with the subgroup the projection is block diagonal, so the
        # subgroup-g column of a regressor demeaned is the regressor demeaned on g's rows
        g = rows(group)
        absorbed, xd, scale, size = _demean_by_group(yx, fe_codes, _group_members(g, n_groups),
                                                     wk, tol)
        # each unit's subgroup, when every unit's rows are kept and lie in one subgroup
        unit_group = _per_unit(g, panel) if all_rows and panel.is_panel else None
        fe_codes = [f if (unit_group is not None and f is panel.unit_code) or _nested_in(f, g)
                    else f.astype(np.int64) * n_groups + g for f in fe_codes]
    else:
        scale = np.abs(yx[:, 1:]).max(axis=0)
        absorbed = demean(yx, fe_codes, wk, tol=tol, overwrite=True)
        xd = absorbed.values[:, 1:]
        size = np.abs(xd).max(axis=0)
    terms = ["treated", *covariates]
    del yx
    if not absorbed.converged:
        warnings.warn("Fixed-effect absorption did not converge; estimates may be inaccurate.",
                      EstimationWarning, stacklevel=2)
    yd = absorbed.values[:, 0]
    s = None if wk is None else np.sqrt(wk)
    xs = xd if s is None else xd * s[:, None]
    gram = xs.T @ xs
    # a regressor the fixed effects absorb keeps only rounding noise (relative to its size
    # before demeaning), which no rank test of the demeaned design alone can tell from signal
    absorbed_cols = size <= 1e-9 * np.maximum(scale, 1e-300)
    if absorbed_cols.any() or (not _well_conditioned(gram)
                               and np.linalg.matrix_rank(xs) < xs.shape[1]):
        kept: list[int] = []
        for j in range(xs.shape[1]):  # greedy pass: which columns add nothing
            if not absorbed_cols[j] and np.linalg.matrix_rank(xs[:, [*kept, j]]) == len(kept) + 1:
                kept.append(j)
        bad = list(dict.fromkeys(terms[j // n_groups] for j in range(xs.shape[1]) if j not in kept))
        raise EstimationError(
            f"Regressor(s) {', '.join(map(repr, bad))} are collinear with the fixed effects or with "
            "the regressors before them: after absorbing the fixed effects they have no variation "
            "of their own (e.g. every unit treated at the same time, a time-invariant covariate, "
            "or a covariate that duplicates another). Remove them.")
    bread = np.linalg.inv(gram)
    coef = bread @ (xs.T @ (yd if s is None else yd * s))
    resid = yd - xd @ coef
    order = [j * n_groups + gi for gi in range(n_groups) for j in range(k0)]
    keys = pd.DataFrame({"term": [terms[j] for _ in range(n_groups) for j in range(k0)]})
    if by is not None:
        for col in labels.columns:
            keys[col] = np.repeat(labels[col].to_numpy(), k0)
    perm = np.asarray(order)
    identity = bool(np.array_equal(perm, np.arange(perm.size)))
    fit = VcovData(xd if identity else xd[:, perm], resid, wk, bread[np.ix_(perm, perm)],
                   tuple(fe_codes))
    info = {
        "estimator": "TWFE",
        "outcome": y,
        "n_obs": n,
        "n_units": (panel.n_units if all_rows and panel.is_panel else
                    _n_levels(rows(np.asarray(panel.unit_code)))),
        "fixed_effects": fe_names,
        "fe_dof": absorbed.fe_dof,
        "n_singletons": int(absorbed.singletons.sum()),
        "by": [by] if isinstance(by, str) else list(by or []),
        "method": "TWFE (y on D = 1{t >= cohort}, unit and time FE absorbed)",
        # how to re-estimate on re-assigned cohorts (randomization inference)
        "refit": RefitSpec(panel, partial(twfe, covariates=covariates, vcov=vcov, fe=fe,
                                          weights=weights, by=by, alpha=alpha, tol=tol), y),
    }
    n_clusters = panel.n_clusters if all_rows else _n_levels(cluster)
    if n_groups > 1 and str(vcov).upper() == "CR1" and n_clusters >= FEW_CLUSTERS:
        # the (subgroup, cluster) presence table from one entry per unit when it can
        by_unit = unit_group is not None
        warn_few_subgroup_clusters(
            unit_group if by_unit else g,
            np.isfinite(panel.unit_cohort if by_unit else rows(np.asarray(panel.cohort_value))),
            panel.unit_cluster if by_unit else cluster, labels,
            remedy="check them with vcov='CR2' (Bell-McCaffrey df) or res.wild_bootstrap()",
            stacklevel=3)
    return RegressionResult.from_fit(keys, coef[perm], fit, cluster, str(vcov).upper(),
                                     alpha=alpha, info=info, survey=panel.survey)
