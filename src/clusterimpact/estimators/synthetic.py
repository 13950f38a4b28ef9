"""Synthetic control (Abadie, Diamond & Hainmueller 2010) for one treated unit or cluster.

:func:`synthetic_control` builds a convex combination of never-treated donor
units that reproduces the treated unit's pre-treatment predictors, and reads
the effect off the post-treatment gap. Inference is by in-space placebos
(every donor in turn treated as if it were the treated unit); the result
also offers in-time placebos and leave-one-out refits. Synthetic
difference-in-differences lives in :mod:`clusterimpact.estimators.sdid` and is
re-exported here.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize

from clusterimpact.errors import SpecificationError
from clusterimpact.estimators._synthetic_common import (
    hull_check,
    progress,
    wide_outcome,
)
from clusterimpact.estimators.sdid import synthetic_did
from clusterimpact.kernels.synthetic import noise_level, sdid_weights, simplex_lstsq
from clusterimpact.results.base import Result
from clusterimpact.results.synthetic import SyntheticResult

__all__ = ["synthetic_control", "synthetic_did"]

Window = tuple[Any, Any] | Sequence[Any]


def _softmax(theta: np.ndarray) -> np.ndarray:
    e = np.exp(theta - theta.max())
    return e / e.sum()


@dataclass(eq=False)
class _ScDesign:
    """Everything a synthetic-control fit needs, built once and reused by placebos and refits."""

    y: np.ndarray                 # (n, T): row 0 = treated (mean), rows 1.. = donors
    labels: list[Any]             # row labels
    periods: pd.Index
    t0: int
    covariates: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (n, T)
    windows: dict[str, np.ndarray] = field(default_factory=dict)     # name -> period mask
    lags: list[int] = field(default_factory=list)                    # column indices
    demean: bool = False
    penalty: float = 0.0
    v: Any = "nested"
    outcome_name: str = "y"
    solver: str = "exact"
    noise: float = 0.0

    def outcomes(self, t0: int) -> np.ndarray:
        """Outcome matrix (demeaned over the first ``t0`` periods if requested)."""
        y = self.y
        return y - y[:, :t0].mean(axis=1, keepdims=True) if self.demean else y

    def predictors(self, t0: int) -> tuple[np.ndarray | None, list[str]]:
        """Predictor matrix ``(k, n)`` using only periods before ``t0`` (``None``: outcomes only)."""
        rows, names = [], []
        before = np.arange(self.y.shape[1]) < t0
        for name, mat in self.covariates.items():
            mask = self.windows[name] & before
            if not mask.any():
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows are reported below
                vals = np.nanmean(mat[:, mask], axis=1)
            if np.isnan(vals).any():
                bad = [self.labels[i] for i in np.flatnonzero(np.isnan(vals))[:5]]
                raise SpecificationError(
                    f"The predictor {name!r} is missing in every period of its window for unit(s) "
                    f"{bad}; choose another window with predictor_periods=.")
            rows.append(vals)
            names.append(name)
        y = self.outcomes(t0)
        for j in self.lags:
            if j < t0:
                rows.append(y[:, j])
                names.append(f"{self.outcome_name}[{self.periods[j]}]")
        if not rows:
            return None, []
        return np.vstack(rows), names


def _fit_weights(design: _ScDesign, t0: int, target: int, donors: np.ndarray,
                 x_all: np.ndarray | None, starts: int = 2) -> tuple[np.ndarray, np.ndarray | None]:
    """Unit weights (and predictor weights V) for one treated row against ``donors``."""
    if design.solver == "frank_wolfe":  # synthdid::sc_estimate conventions
        y, nl = design.y, design.noise
        w = sdid_weights(y[donors][None], y[target][None], t0, 1e-6 * nl, 0.0,
                         min_decrease=1e-5 * nl, omega_intercept=design.demean,
                         update_lambda=False, lambda0=np.zeros(t0))
        return w.omega[0], None
    z = design.outcomes(t0)[:, :t0].T          # (t0, n)
    zt, zd = z[:, target], z[:, donors]
    pen = design.penalty

    def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        lin = pen * ((a - b[:, None]) ** 2).sum(axis=0) if pen else None
        return simplex_lstsq(a, b, linear=lin)

    if x_all is None:
        return solve(zd, zt), None
    scale = x_all.std(axis=1, ddof=1)
    scale[~(scale > 0)] = 1.0
    xs = x_all / scale[:, None]
    xt, xd = xs[:, target], xs[:, donors]
    k = xs.shape[0]

    def weights_for(v: np.ndarray) -> np.ndarray:
        sv = np.sqrt(v)
        return solve(sv[:, None] * xd, sv * xt)

    if (isinstance(design.v, str) and design.v == "equal") or k == 1:
        v = np.full(k, 1.0 / k)
        return weights_for(v), v
    if not isinstance(design.v, str):
        v = np.abs(np.asarray(design.v, dtype=float))
        if v.size != k or not v.sum() > 0:
            raise SpecificationError(f"v= needs {k} non-negative predictor weights, got {v.size}.")
        v = v / v.sum()
        return weights_for(v), v

    def loss(theta: np.ndarray) -> float:
        r = zt - zd @ weights_for(_softmax(theta))
        return float(r @ r) / t0

    candidates = [np.zeros(k)]
    if starts > 1 and k < xs.shape[1] - 1:
        # regression-based start: importance of each predictor for the pre-period outcomes
        design_mat = np.column_stack([np.ones(xs.shape[1]), xs.T])
        coef = np.linalg.lstsq(design_mat, z.T, rcond=None)[0][1:]
        imp = (coef ** 2).sum(axis=1)
        if imp.sum() > 0:
            candidates.append(np.log(np.maximum(imp / imp.sum(), 1e-8)))
    best = None
    for theta0 in candidates:
        f0 = loss(theta0)
        opt = optimize.minimize(loss, theta0, method="Nelder-Mead",
                                options={"maxiter": (150 if starts > 1 else 60) * k, "xatol": 1e-4,
                                         "fatol": 1e-9 * max(f0, 1e-12)})
        cand = (opt.fun, opt.x) if opt.fun <= f0 else (f0, theta0)
        if best is None or cand[0] < best[0]:
            best = cand
    v = _softmax(best[1])
    return weights_for(v), v


@dataclass(eq=False)
class _ScFit:
    w: np.ndarray
    v: np.ndarray | None
    gap: np.ndarray
    estimate: float
    pre_rmspe: float
    post_rmspe: float
    names: list[str]


def _fit_one(design: _ScDesign, t0: int, target: int, donors: np.ndarray, x_all, starts=2,
             t_end: int | None = None) -> _ScFit:
    w, v = _fit_weights(design, t0, target, donors, x_all, starts)
    y = design.outcomes(t0)[:, :t_end]
    gap = y[target] - w @ y[donors]
    pre, post = gap[:t0], gap[t0:]
    return _ScFit(w=w, v=v, gap=gap, estimate=float(post.mean()),
                  pre_rmspe=float(np.sqrt(np.mean(pre ** 2))),
                  post_rmspe=float(np.sqrt(np.mean(post ** 2))), names=[])


@dataclass(eq=False)
class _ScRefit:
    """Stored design for in-time placebos and leave-one-out refits."""

    design: _ScDesign
    fit: _ScFit
    alpha: float

    def in_time_placebo(self, period: Any = None) -> SyntheticResult:
        d = self.design
        if period is None:
            t_new = d.t0 // 2
        else:
            pos = np.flatnonzero(np.asarray(d.periods == period))
            if pos.size == 0:
                raise SpecificationError(f"Period {period!r} is not in the panel.")
            t_new = int(pos[0])
        if not 2 <= t_new < d.t0:
            raise SpecificationError(
                f"An in-time placebo must start after at least 2 periods and before the actual "
                f"start {d.periods[d.t0]!r}; got position {t_new}.")
        return _finish(d, t_new, placebo=False, alpha=self.alpha, t_end=d.t0, warn=False,
                       label="in-time placebo")

    def leave_one_out(self) -> pd.DataFrame:
        d = self.design
        donors = np.arange(1, d.y.shape[0])
        x_all, _ = d.predictors(d.t0)
        rows = []
        pos = np.flatnonzero(self.fit.w > 1e-10)
        for j in progress(pos, pos.size, "leave-one-out"):
            keep = np.delete(donors, j)
            f = _fit_one(d, d.t0, 0, keep, x_all)
            rows.append({"dropped": d.labels[donors[j]], "weight": float(self.fit.w[j]),
                         "estimate": f.estimate, "pre_rmspe": f.pre_rmspe})
        return pd.DataFrame(rows, columns=["dropped", "weight", "estimate", "pre_rmspe"])


def _finish(design: _ScDesign, t0: int, *, placebo: bool, alpha: float, t_end: int | None = None,
            warn: bool = True, label: str = "synthetic control", extra_info=None) -> SyntheticResult:
    n = design.y.shape[0]
    donors = np.arange(1, n)
    x_all, names = design.predictors(t0)
    fit = _fit_one(design, t0, 0, donors, x_all, t_end=t_end)
    y = design.outcomes(t0)[:, :t_end]
    periods = design.periods[: y.shape[1]]
    n_t = y.shape[1]
    if warn:
        hull_check(y[0, :t0], y[donors, :t0], fit.pre_rmspe, "synthetic_control",
                   demeaned=design.demean, stacklevel=4)

    se, p_perm = np.nan, np.nan
    table = gaps_long = None
    gap_se = np.full(n_t, np.nan)
    if placebo:
        fits = []
        for j in progress(donors, donors.size, "in-space placebos"):
            fits.append(_fit_one(design, t0, int(j), donors[donors != j], x_all, starts=1,
                                 t_end=t_end))
        ests = np.array([f.estimate for f in fits])
        gaps = np.vstack([f.gap for f in fits])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.divide(*np.array([[f.post_rmspe, f.pre_rmspe] for f in [fit, *fits]]).T)
        rank = 1 + (ratios[1:] >= ratios[0]).sum()
        p_perm = rank / (donors.size + 1)
        se = float(np.sqrt(np.mean((ests - ests.mean()) ** 2)))
        gap_se = np.sqrt(np.mean((gaps - gaps.mean(axis=0)) ** 2, axis=0))
        all_fits = [fit, *fits]
        order = (-ratios).argsort(kind="stable").argsort() + 1
        table = pd.DataFrame({
            "unit": design.labels,
            "treated": np.r_[True, np.zeros(donors.size, dtype=bool)],
            "pre_rmspe": [f.pre_rmspe for f in all_fits],
            "post_rmspe": [f.post_rmspe for f in all_fits],
            "ratio": ratios,
            "estimate": [f.estimate for f in all_fits],
            "rank": order,
        })
        gaps_long = pd.DataFrame({
            "unit": np.repeat([design.labels[j] for j in donors], n_t),
            "period": np.tile(np.asarray(periods), donors.size),
            "event_time": np.tile(np.arange(n_t) - t0, donors.size),
            "gap": gaps.ravel(),
        })

    event = np.arange(n_t) - t0
    synthetic = fit.w @ y[donors]
    traj = pd.DataFrame({"period": periods, "event_time": event, "treated": y[0],
                         "synthetic": synthetic})
    uw = pd.DataFrame({"unit": [design.labels[j] for j in donors], "weight": fit.w})
    uw = uw.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)
    info: dict[str, Any] = {
        "estimator": f"Synthetic control ({label})" if label != "synthetic control"
        else "Synthetic control",
        "outcome": design.outcome_name, "n_units": n, "n_donors": int(donors.size),
        "n_pre_periods": t0, "n_post_periods": n_t - t0,
        "treatment_start": periods[t0], "pre_rmspe": fit.pre_rmspe,
        "method": ("outcomes only (V = I)" if x_all is None else f"predictors (V: {_v_label(design.v)})")
        + (", Frank-Wolfe as synthdid::sc_estimate" if design.solver == "frank_wolfe" else "")
        + (", demeaned" if design.demean else "") + (f", penalty {design.penalty:g}"
                                                      if design.penalty else ""),
        "vcov_type": "in-space placebos" if placebo else None,
        "predictor_weights": None if fit.v is None else dict(zip(names, fit.v.tolist(), strict=True)),
        "notes": ["std_error: sd of the in-space placebo estimates; p_value: permutation p-value "
                  "of the post/pre RMSPE ratio (Abadie et al. 2010)."] if placebo else [],
    }
    info.update(extra_info or {})
    per = Result(keys=pd.DataFrame({"event_time": event}), estimate=fit.gap,
                 vcov=np.diag(gap_se ** 2), alpha=alpha,
                 extra=pd.DataFrame({"period": periods}),
                 info={**info, "estimator": info["estimator"] + ", per-period gaps"})
    extra = pd.DataFrame({"p_value": [p_perm]}) if placebo else None
    return SyntheticResult(
        keys=pd.DataFrame({"term": ["ATT"]}), estimate=np.array([fit.estimate]),
        vcov=np.array([[se ** 2]]), alpha=alpha, extra=extra, info=info,
        unit_weights=uw, trajectory=traj, period_effects=per, placebo_table=table,
        placebo_gaps=gaps_long, refit=_ScRefit(design, fit, alpha),
    )


def _v_label(v: Any) -> str:
    return v if isinstance(v, str) else "given"


def _window_mask(panel, spec: Any, t0: int, name: str) -> np.ndarray:
    pv = np.asarray(panel.periods)
    if spec is None:
        mask = np.arange(pv.size) < t0
    elif isinstance(spec, tuple) and len(spec) == 2:
        mask = (pv >= spec[0]) & (pv <= spec[1])
    else:
        mask = np.isin(pv, list(spec))
    if not mask.any():
        raise SpecificationError(f"The window {spec!r} of predictor {name!r} holds no observed period.")
    return mask


def synthetic_control(
    panel,
    y: str,
    *,
    predictors: Sequence[str] | None = None,
    predictor_periods: Window | Mapping[str, Window] | None = None,
    outcome_lags: Sequence[Any] | None = None,
    demean: bool = False,
    penalty: float = 0.0,
    placebo: bool = True,
    v: Literal["nested", "equal"] | Sequence[float] = "nested",
    solver: Literal["exact", "frank_wolfe"] = "exact",
    alpha: float = 0.05,
) -> SyntheticResult:
    """Synthetic control estimate of the effect on one treated unit (or the mean of a block).

    Parameters
    ----------
    panel
        A balanced :class:`clusterimpact.Panel` with one adoption period (a
        block design); units never treated are the donors. With several
        treated units their mean outcome (and mean predictors) is the
        treated series.
    y
        Outcome column.
    predictors
        Covariate columns whose means over ``predictor_periods`` are matched.
    predictor_periods
        Window(s) for the covariate means: ``(first, last)`` (inclusive), a
        list of periods, or a mapping column -> window. Default: all
        pre-treatment periods. Missing values are skipped (as in R ``Synth``).
    outcome_lags
        Pre-treatment periods whose outcome values are matched as predictors.
    demean
        Match and compare outcomes net of each unit's pre-treatment mean: the
        intercept-shifted synthetic control of Doudchenko & Imbens (2016) and
        Ferman & Pinto (2021).
    penalty
        :math:`\\lambda \\ge 0` of the penalised synthetic control of Abadie &
        L'Hour (2021); large values approach nearest-neighbour matching and
        make the weights unique.
    placebo
        Run in-space placebos (each donor in turn as the treated unit, the
        other donors as its pool) for the standard error and permutation
        p-value.
    v
        Predictor weights :math:`V` when predictors are given: ``"nested"``
        (chosen to minimise the pre-treatment outcome MSPE), ``"equal"``, or
        explicit values.
    solver
        ``"exact"`` (active-set solution of the weight problem) or
        ``"frank_wolfe"``: the approximate solution of R ``synthdid``'s
        ``sc_estimate`` (Frank-Wolfe with ridge :math:`10^{-6}\\hat\\sigma`,
        early stopping and sparsification; outcomes-only specification
        without penalty), which reproduces the SC column of Arkhangelsky et
        al. (2021, Table 1).
    alpha
        One minus the confidence level.

    Returns
    -------
    SyntheticResult
        ``tidy()`` has one row (``term == "ATT"``) with ``estimate`` (the mean
        post-treatment gap), ``std_error`` (sd of the placebo estimates),
        normal ``conf_low``/``conf_high`` and the permutation ``p_value``;
        ``.weights()``, ``.placebos()``, ``.effects_by_period()``,
        ``.in_time_placebo()``, ``.leave_one_out()`` and ``.plot(kind=...)``.

    Raises
    ------
    SpecificationError
        Staggered adoption (use :func:`synthetic_did`), an unbalanced panel
        or missing outcomes (the cells are listed), fewer than 2
        pre-treatment periods, no donors.

    Warns
    -----
    ConvexHullWarning
        When the treated unit lies above every donor or below every donor in
        more than 10% of the pre-treatment periods, with the pre-treatment RMSPE.

    Notes
    -----
    With treated predictors :math:`X_1` (:math:`k\\times 1`) and donor
    predictors :math:`X_0` (:math:`k\\times J`), each row divided by its
    standard deviation across units, the weights are

    .. math:: w^*(V) = \\arg\\min_{w \\in \\Delta^J} (X_1 - X_0 w)'V(X_1 - X_0 w)
              + \\lambda \\sum_j w_j \\|X_1 - X_{0j}\\|_V^2,

    solved exactly by an active-set method
    (:func:`~clusterimpact.kernels.synthetic.simplex_lstsq`), and the diagonal
    :math:`V` (:math:`V = \\mathrm{diag}(\\mathrm{softmax}(\\theta))`) minimises the
    pre-treatment outcome fit :math:`\\|Z_1 - Z_0 w^*(V)\\|^2/T_0` by
    Nelder-Mead from equal weights and from a regression-based start
    (squared coefficients of the pre-period outcomes on the predictors),
    keeping the better. :math:`V` is often not unique and the outer problem
    is not convex (Klößner et al. 2018): different optimisers or starts, R
    ``Synth`` included, can return different :math:`V` and weights with the
    same fit; report ``info["predictor_weights"]`` and check robustness
    (``leave_one_out``, ``v="equal"``). Without predictors or lags, the
    "outcomes only" variant matches every pre-period outcome with
    :math:`V = I`. The effect in period :math:`t` is
    :math:`Y_{1t} - \\sum_j w_j Y_{jt}` and the estimate is its mean over the
    post-treatment periods.

    Placebos refit each donor against the others with the same
    specification (one Nelder-Mead start). The p-value is
    :math:`(1 + \\#\\{j: r_j \\ge r_1\\})/(J + 1)` for the ratios
    :math:`r = \\mathrm{RMSPE}_{post}/\\mathrm{RMSPE}_{pre}`; the standard error is
    the standard deviation of the placebo estimates (an approximation that
    treats donors as exchangeable with the treated unit).

    References
    ----------
    Abadie, A., Diamond, A. and Hainmueller, J. (2010). Synthetic control methods for
    comparative case studies. *JASA* 105(490), 493-505.

    Abadie, A. and L'Hour, J. (2021). A penalized synthetic control estimator for
    disaggregated data. *JASA* 116(536), 1817-1834.

    Doudchenko, N. and Imbens, G. (2016). Balancing, regression, difference-in-differences
    and synthetic control methods: a synthesis. NBER WP 22791.

    Ferman, B. and Pinto, C. (2021). Synthetic controls with imperfect pretreatment fit.
    *Quantitative Economics* 12(4), 1197-1221.

    Klößner, S., Kaul, A., Pfeifer, G. and Schieler, M. (2018). Comparative politics and the
    synthetic control method revisited. *Swiss J. Econ. Stat.* 154(11).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("prop99"), unit="state", time="year", treatment="treated")
    >>> res = ci.synthetic_control(p, "cigsale", placebo=False)
    >>> round(float(res.estimate[0]), 2)
    -19.51
    >>> fw = ci.synthetic_control(p, "cigsale", solver="frank_wolfe", placebo=False)
    >>> round(float(fw.estimate[0]), 5)  # synthdid::sc_estimate
    -19.61966
    """
    if not 0 < alpha < 1:
        raise SpecificationError(f"alpha must lie in (0, 1), got {alpha}.")
    if penalty < 0 or not np.isfinite(penalty):
        raise SpecificationError(f"penalty must be a finite number >= 0, got {penalty}.")
    if solver not in ("exact", "frank_wolfe"):
        raise SpecificationError(f"solver must be 'exact' or 'frank_wolfe', got {solver!r}.")
    if solver == "frank_wolfe" and (predictors or outcome_lags or penalty):
        raise SpecificationError(
            "solver='frank_wolfe' reproduces synthdid::sc_estimate, which matches all pre-period "
            "outcomes without penalty; drop predictors/outcome_lags/penalty or use solver='exact'.")
    if isinstance(v, str) and v not in ("nested", "equal"):
        raise SpecificationError(f"v must be 'nested', 'equal' or a sequence of weights, got {v!r}.")
    wide = wide_outcome(panel, y, "synthetic_control")
    if wide.cohorts.size > 1:
        raise SpecificationError(
            f"synthetic_control needs a block design (one adoption period); the panel has "
            f"{wide.cohorts.size} cohorts. Use synthetic_did (cohort by cohort), or fit each "
            "cohort on a subset of the data.")
    t0 = int(wide.t0[0])
    treated = wide.cohort_rows(0)

    def stack(mat: np.ndarray) -> np.ndarray:
        return np.vstack([mat[treated].mean(axis=0), mat[wide.controls]])

    label = wide.units[treated[0]] if treated.size == 1 else f"treated (mean of {treated.size} units)"
    covs, windows = {}, {}
    for name in predictors or []:
        mat = np.full((panel.n_units, panel.n_periods), np.nan)
        mat[panel.unit_code, panel.time_code] = panel.column(name, role="predictor")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            covs[name] = np.vstack([np.nanmean(mat[treated], axis=0), mat[wide.controls]])
        spec = predictor_periods.get(name) if isinstance(predictor_periods, Mapping) \
            else predictor_periods
        windows[name] = _window_mask(panel, spec, t0, name)
    lags = []
    for period in outcome_lags or []:
        pos = np.flatnonzero(np.asarray(panel.periods == period))
        if pos.size == 0 or pos[0] >= t0:
            raise SpecificationError(f"outcome_lags: {period!r} is not a pre-treatment period.")
        lags.append(int(pos[0]))
    design = _ScDesign(y=stack(wide.y), labels=[label, *wide.units[wide.controls]],
                       periods=wide.periods, t0=t0, covariates=covs, windows=windows, lags=lags,
                       demean=demean, penalty=float(penalty), v=v, outcome_name=y, solver=solver,
                       noise=noise_level(wide.y[wide.controls, :t0]))
    return _finish(design, t0, placebo=placebo, alpha=alpha,
                   extra_info={"n_treated": int(treated.size)})

