"""Synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021).

:func:`synthetic_did` reproduces R ``synthdid``'s defaults for a block design
and, for staggered adoption, estimates cohort by cohort against the
never-treated units and averages with cohort-size x post-period weights (as
Stata ``sdid`` does). Placebo, bootstrap and jackknife replications run as
batched array computations (:func:`~clusterimpact.kernels.synthetic.sdid_weights`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact.errors import EstimationWarning, FewClustersWarning, SpecificationError
from clusterimpact.estimators._synthetic_common import hull_check, progress, wide_matrix, wide_outcome
from clusterimpact.kernels.synthetic import noise_level, sdid_weights
from clusterimpact.results.base import Result
from clusterimpact.results.synthetic import SyntheticResult

__all__ = ["synthetic_did"]

SeMethod = Literal["placebo", "jackknife", "bootstrap"]
_SE_METHODS = ("placebo", "jackknife", "bootstrap")
# below this many treated units the jackknife variance rests on too few leave-one-out replicates:
# the t-ratio is roughly t with N1 - 1 degrees of freedom, and P(|t_19| < 1.96) = 93.5%
JACKKNIFE_MIN_TREATED = 20
_CHUNK_CELLS = 4_000_000


@dataclass(eq=False)
class _Cohort:
    value: float
    t0: int
    rows: np.ndarray
    noise: float
    zeta_omega: float
    zeta_lambda: float
    min_decrease: float
    omega: np.ndarray
    lam: np.ndarray
    curve: np.ndarray

    @property
    def n1(self) -> int:
        return int(self.rows.size)

    @property
    def t1(self) -> int:
        return int(self.curve.size - self.t0)

    @property
    def tau(self) -> float:
        return float(self.curve[self.t0:].mean())


def _curves(y0: np.ndarray, y1: np.ndarray, omega: np.ndarray, lam: np.ndarray, t0: int) -> np.ndarray:
    """Per-period SDID effects ``(R, T)``: treated minus synthetic, net of the lambda-weighted pre gap."""
    diff = y1 - np.einsum("rn,rnt->rt", omega, y0)
    return diff - np.einsum("rs,rs->r", lam, diff[:, :t0])[:, None]


def _sum_normalize(w: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1, keepdims=True)
    uniform = np.ones_like(w) / w.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, w / np.where(total > 0, total, 1.0), uniform)


def _fit_cohort(y: np.ndarray, controls: np.ndarray, rows: np.ndarray, t0: int, value: float) -> _Cohort:
    y0, y1 = y[controls], y[rows].mean(axis=0)
    t1 = y.shape[1] - t0
    noise = noise_level(y0[:, :t0])
    zo, zl, md = (rows.size * t1) ** 0.25 * noise, 1e-6 * noise, 1e-5 * noise
    w = sdid_weights(y0[None], y1[None], t0, zo, zl, min_decrease=md)
    curve = _curves(y0[None], y1[None], w.omega, w.lam, t0)[0]
    return _Cohort(value=value, t0=t0, rows=rows, noise=noise, zeta_omega=zo, zeta_lambda=zl,
                   min_decrease=md, omega=w.omega[0], lam=w.lam[0], curve=curve)


def _event_map(fits: list[_Cohort], n_t: int) -> np.ndarray:
    lo = -max(f.t0 for f in fits)
    hi = max(n_t - f.t0 for f in fits)
    return np.arange(lo, hi)


def _aggregate(curves: list[np.ndarray], n1: np.ndarray, fits: list[_Cohort],
               events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ATT (R,) with cohort weights n1*t1, and event-time curves (R, E) with weights n1."""
    n_rep = n1.shape[0]
    t1 = np.array([f.t1 for f in fits], dtype=float)
    taus = np.column_stack([c[:, f.t0:].mean(axis=1) for c, f in zip(curves, fits, strict=True)])
    wt = n1 * t1
    with np.errstate(invalid="ignore", divide="ignore"):
        att = (wt * np.nan_to_num(taus)).sum(axis=1) / wt.sum(axis=1)
    num = np.zeros((n_rep, events.size))
    den = np.zeros((n_rep, events.size))
    for g, (c, f) in enumerate(zip(curves, fits, strict=True)):
        pos = np.arange(c.shape[1]) - f.t0 - events[0]
        num[:, pos] += n1[:, [g]] * np.nan_to_num(c)
        den[:, pos] += n1[:, [g]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return att, num / den


def _chunks(n_rep: int, cells: int) -> list[np.ndarray]:
    size = max(1, _CHUNK_CELLS // max(cells, 1))
    return [np.arange(s, min(s + size, n_rep)) for s in range(0, n_rep, size)]


def _placebo(y, controls, fits, reps, rng):
    """Algorithm 4: control units re-labelled as treated, with the design's cohort sizes."""
    n0 = controls.size
    n1_total = sum(f.n1 for f in fits)
    if n0 <= n1_total:
        raise SpecificationError(
            f"Placebo standard errors need more control units ({n0}) than treated units "
            f"({n1_total}); use se='bootstrap' or se='jackknife'.")
    y0_all = y[controls]
    perms = np.argsort(rng.random((reps, n0)), axis=1)
    ctrl = perms[:, : n0 - n1_total]
    start = n0 - n1_total
    jobs = [(g, ch) for g in range(len(fits)) for ch in _chunks(reps, ctrl.shape[1] * y.shape[1])]
    out = [np.empty((reps, y.shape[1])) for _ in fits]
    offsets = np.cumsum([0] + [f.n1 for f in fits])
    for g, ch in progress(jobs, len(jobs), "SDID placebo"):
        f = fits[g]
        tr = perms[ch, start + offsets[g]: start + offsets[g + 1]]
        y0, y1 = y0_all[ctrl[ch]], y0_all[tr].mean(axis=1)
        w = sdid_weights(y0, y1, f.t0, f.zeta_omega, f.zeta_lambda, min_decrease=f.min_decrease,
                         omega0=_sum_normalize(f.omega[ctrl[ch]]),
                         lambda0=np.broadcast_to(f.lam, (ch.size, f.t0)))
        out[g][ch] = _curves(y0, y1, w.omega, w.lam, f.t0)
    n1 = np.tile(np.array([f.n1 for f in fits], dtype=float), (reps, 1))
    return out, n1


def _bootstrap(y, controls, fits, reps, rng):
    """Algorithm 2: units resampled with replacement; weights re-estimated from the point estimate's."""
    n = y.shape[0]
    is_ctrl = np.zeros(n, dtype=bool)
    is_ctrl[controls] = True
    cohort_of = np.full(n, -1)
    for g, f in enumerate(fits):
        cohort_of[f.rows] = g
    ctrl_pos = np.full(n, -1)
    ctrl_pos[controls] = np.arange(controls.size)
    draws = np.empty((0, n), dtype=np.int64)
    while draws.shape[0] < reps:
        cand = np.sort(rng.integers(0, n, size=(reps, n)), axis=1)
        ok = is_ctrl[cand].any(axis=1) & (~is_ctrl[cand]).any(axis=1)
        draws = np.vstack([draws, cand[ok]])
    draws = draws[:reps]
    n_ctrl = is_ctrl[draws].sum(axis=1)
    n0max = int(n_ctrl.max())
    # control draws first (sorted), padded
    order = np.argsort(~is_ctrl[draws], axis=1, kind="stable")
    sorted_draws = np.take_along_axis(draws, order, axis=1)[:, :n0max]
    valid = np.arange(n0max)[None, :] < n_ctrl[:, None]
    cidx = np.where(valid, sorted_draws, controls[0])
    n1 = np.stack([(cohort_of[draws] == g).sum(axis=1) for g in range(len(fits))], axis=1).astype(float)
    out = [np.full((reps, y.shape[1]), np.nan) for _ in fits]
    jobs = [(g, ch) for g in range(len(fits)) for ch in _chunks(reps, n0max * y.shape[1])]
    for g, ch in progress(jobs, len(jobs), "SDID bootstrap"):
        f = fits[g]
        ch = ch[n1[ch, g] > 0]
        if ch.size == 0:
            continue
        y0 = y[cidx[ch]] * valid[ch][:, :, None]
        counts = (cohort_of[draws[ch]] == g)
        y1 = np.einsum("rn,rnt->rt", counts.astype(float), y[draws[ch]]) / counts.sum(1)[:, None]
        om0 = _sum_normalize(np.where(valid[ch], f.omega[ctrl_pos[cidx[ch]]], 0.0))
        w = sdid_weights(y0, y1, f.t0, f.zeta_omega, f.zeta_lambda, min_decrease=f.min_decrease,
                         valid=valid[ch], omega0=om0, lambda0=np.broadcast_to(f.lam, (ch.size, f.t0)))
        out[g][ch] = _curves(y0, y1, w.omega, w.lam, f.t0)
    return out, n1


def _jackknife(y, controls, fits):
    """Algorithm 3: leave one unit out with the weights held fixed (omega renormalised)."""
    y0 = y[controls]
    n0 = controls.size
    curves, n1_rows = [], []
    all_rows = np.concatenate([f.rows for f in fits])
    for f in fits:
        y1 = y[f.rows].mean(axis=0)
        synth = f.omega @ y0
        with np.errstate(invalid="ignore", divide="ignore"):
            synth_c = (synth[None, :] - f.omega[:, None] * y0) / (1.0 - f.omega)[:, None]
        c_ctrl = y1[None, :] - synth_c
        # leaving out treated units: only this cohort's treated mean changes
        y1_t = np.tile(y1, (all_rows.size, 1))
        own = np.isin(all_rows, f.rows)
        y1_t[own] = (f.n1 * y1[None, :] - y[all_rows[own]]) / (f.n1 - 1)
        c_tr = y1_t - synth[None, :]
        diff = np.vstack([c_ctrl, c_tr])
        curves.append(diff - (diff[:, : f.t0] @ f.lam)[:, None])
        n1_col = np.r_[np.full(n0, f.n1), np.where(own, f.n1 - 1, f.n1)]
        n1_rows.append(n1_col)
    return curves, np.column_stack(n1_rows).astype(float)


def _residualise(panel, y: np.ndarray, covariates: Sequence[str], controls: np.ndarray):
    """Kranz (2022) / Stata ``sdid`` ``projected``: beta from a two-way FE regression on controls."""
    xs = np.stack([wide_matrix(panel, c, "synthetic_did", role="covariate") for c in covariates],
                  axis=2)

    def within(a: np.ndarray) -> np.ndarray:
        return a - a.mean(axis=0, keepdims=True) - a.mean(axis=1, keepdims=True) + a.mean(axis=(0, 1))

    xc = within(xs[controls]).reshape(-1, len(covariates))
    yc = within(y[controls]).ravel()
    beta, _, rank, _ = np.linalg.lstsq(xc, yc, rcond=None)
    if rank < len(covariates):
        raise SpecificationError(
            "The covariates are collinear (or constant) within units and periods among the "
            f"control units: rank {rank} < {len(covariates)}. Drop some of {list(covariates)}.")
    return y - xs @ beta, beta


def _se(draws: np.ndarray, method: str) -> np.ndarray:
    """Standard error over replications (axis 0): population sd, or the jackknife formula."""
    ok = np.isfinite(draws)
    n = ok.sum(axis=0)
    mean = np.nansum(draws, axis=0) / np.maximum(n, 1)
    ss = np.nansum((draws - mean) ** 2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "jackknife":
            return np.sqrt((n - 1) / n * ss)
        return np.sqrt(ss / n)


def _warn_few_treated_jackknife(n_treated: int, n_controls: int) -> None:
    """Warn that the jackknife is unreliable with fewer than ``JACKKNIFE_MIN_TREATED`` treated units.

    Arkhangelsky et al. (2021, Section 5) and Clarke et al. (2023) note that the
    jackknife (and the bootstrap) need many treated units; with heterogeneous
    effects across few treated units the normal interval under-covers (91% with
    9 treated of 30 in the package's Monte Carlo, docs/montecarlo.md).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _warn_few_treated_jackknife(9, 21)
    >>> "se='placebo'" in str(caught[0].message)
    True
    """
    if n_treated >= JACKKNIFE_MIN_TREATED:
        return
    better = ("se='placebo' (there are more controls than treated units)" if n_controls > n_treated
              else "se='bootstrap' (placebo needs more controls than treated units)")
    warnings.warn(
        f"se='jackknife' with {n_treated} treated units: the jackknife is not reliable with few "
        f"treated units (fewer than {JACKKNIFE_MIN_TREATED}) or heterogeneous effects (Arkhangelsky "
        "et al. 2021; Clarke et al. 2023); its 95% intervals under-cover (about 91% with 9 treated "
        f"of 30 units in the Monte Carlo, docs/montecarlo.md). Prefer {better}.",
        FewClustersWarning, stacklevel=3)


def synthetic_did(
    panel,
    y: str,
    *,
    se: SeMethod = "placebo",
    reps: int = 200,
    seed: int | np.random.Generator | None = None,
    covariates: Sequence[str] | None = None,
    alpha: float = 0.05,
) -> SyntheticResult:
    """Synthetic difference-in-differences (SDID) with ``synthdid``'s defaults.

    Parameters
    ----------
    panel
        A balanced :class:`clusterimpact.Panel`; block or staggered adoption
        with never-treated units as controls.
    y
        Outcome column.
    se
        ``"placebo"`` (Algorithm 4: controls re-labelled as treated; needs
        more controls than treated units; the only option with one treated
        unit), ``"bootstrap"`` (Algorithm 2: units resampled) or
        ``"jackknife"`` (Algorithm 3: leave one unit out, weights fixed;
        needs two treated units per cohort, else NaN with a warning; not
        reliable with fewer than 20 treated units, where it warns).
    reps
        Placebo or bootstrap replications (``0``: no standard error).
    seed
        Seed or generator for the replications.
    covariates
        Time-varying covariates, partialled out before estimation: the
        outcome is residualised on them with the coefficients of a two-way
        fixed-effects regression among the never-treated units (Kranz 2022;
        Stata ``sdid``'s ``covariates(..., projected)``).
    alpha
        One minus the confidence level (normal critical values).

    Returns
    -------
    SyntheticResult
        ``tidy()`` has one row (``term == "ATT"``); ``.weights("unit")`` and
        ``.weights("time")``, ``.placebos()`` (the replicated estimates),
        ``.effects_by_period()`` keyed by ``event_time`` and ``.plot(kind=...)``.
        ``info`` records ``zeta_omega``, ``zeta_lambda``, ``noise_level`` and
        ``cohort_weights``.

    Raises
    ------
    SpecificationError
        Unbalanced panel or missing outcomes (cells listed), fewer than 2
        pre-treatment periods, no never-treated units, an unknown ``se``, or
        placebo inference without more controls than treated units.

    Warns
    -----
    ConvexHullWarning
        When a cohort's mean treated path, net of its pre-period mean, lies
        outside the range of the (demeaned) controls in more than 10% of the
        pre-treatment periods, with the pre-treatment RMSPE.
    EstimationWarning
        When the jackknife (one treated unit in a cohort) or the bootstrap
        (one treated unit) is undefined; the standard error is then NaN.
    FewClustersWarning
        For ``se="jackknife"`` with fewer than 20 treated units (not reliable
        there; use ``"placebo"`` or ``"bootstrap"``).

    Notes
    -----
    For a block with :math:`N_0` controls, :math:`N_1` treated units,
    :math:`T_0` pre- and :math:`T_1` post-periods, the unit weights solve

    .. math:: (\\hat\\omega_0, \\hat\\omega) = \\arg\\min_{\\omega_0,\\ \\omega \\in \\Delta}
              \\sum_{t \\le T_0} \\Big(\\omega_0 + \\sum_{i \\le N_0} \\omega_i Y_{it}
              - \\bar Y_{tr,t}\\Big)^2 + \\zeta_\\omega^2 T_0 \\|\\omega\\|^2,

    with :math:`\\zeta_\\omega = (N_1 T_1)^{1/4}\\hat\\sigma`, :math:`\\hat\\sigma` the
    standard deviation of the first differences of the controls' pre-period
    outcomes; the time weights solve the analogous problem across controls
    matching :math:`\\bar Y_{i,post}` with :math:`\\zeta_\\lambda = 10^{-6}\\hat\\sigma`.
    Both use Frank-Wolfe (100 iterations, sparsification of weights below a
    quarter of the largest, then up to 10,000 iterations; stop when the
    objective falls by less than :math:`(10^{-5}\\hat\\sigma)^2`). The estimate is

    .. math:: \\hat\\tau = \\Big(\\bar Y_{tr,post} - \\sum_i \\hat\\omega_i \\bar Y_{i,post}\\Big)
              - \\sum_t \\hat\\lambda_t \\Big(\\bar Y_{tr,t} - \\sum_i \\hat\\omega_i Y_{it}\\Big),

    and the per-period effect replaces the post mean by period :math:`t`
    (``synthdid_effect_curve``). Replications re-estimate the weights
    starting from the point estimate's, with the same :math:`\\zeta`s
    (as ``synthdid`` does); the variance is
    :math:`\\frac{1}{R}\\sum_r(\\hat\\tau_r - \\bar\\tau)^2` (placebo, bootstrap) or
    :math:`\\frac{n-1}{n}\\sum_i(\\hat\\tau_{(-i)} - \\bar\\tau)^2` (jackknife).

    Staggered adoption: each cohort :math:`g` is a block against the
    never-treated units over all periods, and
    :math:`\\hat\\tau = \\sum_g \\frac{N_g T_{1g}}{\\sum_h N_h T_{1h}} \\hat\\tau_g`
    (``info["cohort_weights"]``); event-time effects average the cohorts'
    per-period effects with weights :math:`N_g`. Placebo replications assign
    the cohort sizes to randomly chosen controls, as Stata ``sdid`` does.

    References
    ----------
    Arkhangelsky, D., Athey, S., Hirshberg, D. A., Imbens, G. W. and Wager, S. (2021).
    Synthetic difference-in-differences. *American Economic Review* 111(12), 4088-4118.

    Clarke, D., Pailañir, D., Athey, S. and Imbens, G. (2023). Synthetic difference in
    differences estimation. IZA DP 15907 (Stata ``sdid``).

    Kranz, S. (2022). Synthetic difference-in-differences with time-varying covariates.
    Working paper.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("prop99"), unit="state", time="year", treatment="treated")
    >>> res = ci.synthetic_did(p, "cigsale", reps=20, seed=1)
    >>> round(float(res.estimate[0]), 5)
    -15.60383
    """
    if se not in _SE_METHODS:
        raise SpecificationError(f"se must be one of {_SE_METHODS}, got {se!r}.")
    if int(reps) != reps or reps < 0:
        raise SpecificationError(f"reps must be a non-negative integer, got {reps!r}.")
    if not 0 < alpha < 1:
        raise SpecificationError(f"alpha must lie in (0, 1), got {alpha}.")
    wide = wide_outcome(panel, y, "synthetic_did")
    ymat, beta = wide.y, None
    if covariates:
        ymat, beta = _residualise(panel, ymat, list(covariates), wide.controls)
    n_t = ymat.shape[1]
    fits = [_fit_cohort(ymat, wide.controls, wide.cohort_rows(k), int(wide.t0[k]), float(c))
            for k, c in enumerate(wide.cohorts)]
    events = _event_map(fits, n_t)
    n1 = np.array([[f.n1 for f in fits]], dtype=float)
    att, event_est = _aggregate([f.curve[None] for f in fits], n1, fits, events)

    for f in fits:
        y0p, y1p = ymat[wide.controls, : f.t0], ymat[f.rows, : f.t0].mean(axis=0)
        pre = f.curve[: f.t0] - f.curve[: f.t0].mean()
        hull_check(y1p - y1p.mean(), y0p - y0p.mean(axis=1, keepdims=True),
                   float(np.sqrt(np.mean(pre ** 2))), "synthetic_did", demeaned=True)

    rng = np.random.default_rng(seed)
    draws = None
    if se == "jackknife":
        bad = [f for f in fits if f.n1 < 2 or (f.omega > 0).sum() < 2]
        if bad:
            warnings.warn(
                "The jackknife standard error is undefined with a single treated unit in a cohort "
                "(or a single control with positive weight), as in R synthdid; it is reported as "
                "NaN. Use se='placebo'.", EstimationWarning, stacklevel=2)
        else:
            _warn_few_treated_jackknife(sum(f.n1 for f in fits), wide.controls.size)
            draws = _jackknife(ymat, wide.controls, fits)
    elif se == "bootstrap" and sum(f.n1 for f in fits) == 1:
        warnings.warn(
            "The bootstrap standard error is undefined with a single treated unit (R synthdid "
            "returns NA): every draw either omits it or repeats it. It is reported as NaN; use "
            "se='placebo'.", EstimationWarning, stacklevel=2)
    elif reps > 0:
        runner = _placebo if se == "placebo" else _bootstrap
        draws = runner(ymat, wide.controls, fits, int(reps), rng)
    if draws is not None:
        rep_att, rep_event = _aggregate(draws[0], draws[1], fits, events)
        se_att, se_event = float(_se(rep_att[:, None], se)[0]), _se(rep_event, se)
        table = pd.DataFrame({"replication": np.arange(1, rep_att.size + 1), "estimate": rep_att})
    else:
        se_att, se_event, table = np.nan, np.full(events.size, np.nan), None

    return _build_result(wide, ymat, fits, events, float(att[0]), event_est[0], se_att, se_event,
                         table, se, int(reps), alpha, y, beta, covariates)


def _build_result(wide, ymat, fits, events, att, event_est, se_att, se_event, table, se, reps,
                  alpha, outcome, beta, covariates) -> SyntheticResult:
    staggered = len(fits) > 1
    periods = wide.periods
    ctrl_labels = wide.units[wide.controls]
    uw, tw, traj = [], [], []
    for f in fits:
        label = periods[f.t0]
        u = pd.DataFrame({"unit": ctrl_labels, "weight": f.omega})
        t = pd.DataFrame({"period": periods[: f.t0], "weight": f.lam})
        y1 = ymat[f.rows].mean(axis=0)
        synth = f.omega @ ymat[wide.controls]
        shift = f.lam @ (y1[: f.t0] - synth[: f.t0])
        tr = pd.DataFrame({"period": periods, "event_time": np.arange(periods.size) - f.t0,
                           "treated": y1, "synthetic": synth + shift})
        if staggered:
            for frame in (u, t, tr):
                frame.insert(0, "cohort", label)
        uw.append(u.sort_values("weight", ascending=False, kind="stable"))
        tw.append(t.sort_values("weight", ascending=False, kind="stable"))
        traj.append(tr)
    total = sum(f.n1 * f.t1 for f in fits)
    cohort_weights = {periods[f.t0]: f.n1 * f.t1 / total for f in fits}
    first = fits[0]
    info: dict[str, Any] = {
        "estimator": "Synthetic difference-in-differences",
        "outcome": outcome,
        "n_units": int(wide.y.shape[0]),
        "n_controls": int(wide.controls.size),
        "n_treated": int(sum(f.n1 for f in fits)),
        "n_pre_periods": first.t0 if not staggered else [f.t0 for f in fits],
        "treatment_start": periods[first.t0] if not staggered else [periods[f.t0] for f in fits],
        "vcov_type": f"{se} ({reps} replications)" if se != "jackknife" else "jackknife",
        "se_method": se,
        "reps": reps if se != "jackknife" else None,
        "cohort_weights": cohort_weights,
        "noise_level": first.noise if not staggered else {periods[f.t0]: f.noise for f in fits},
        "zeta_omega": first.zeta_omega if not staggered
        else {periods[f.t0]: f.zeta_omega for f in fits},
        "zeta_lambda": first.zeta_lambda if not staggered
        else {periods[f.t0]: f.zeta_lambda for f in fits},
        "effective_n0": 1 / float(np.sum(first.omega ** 2)) if not staggered else None,
        "effective_t0": 1 / float(np.sum(first.lam ** 2)) if not staggered else None,
        "notes": [],
    }
    if beta is not None:
        info["covariate_coefficients"] = dict(zip(covariates, beta.tolist(), strict=True))
    if staggered:
        info["notes"].append(
            "Staggered adoption: cohort-specific SDID against never-treated units, averaged with "
            "weights N_g*T_post_g: " + ", ".join(f"{k}: {v:.3f}" for k, v in cohort_weights.items()))
    extra = {"period": periods[events + first.t0]} if not staggered else None
    per = Result(keys=pd.DataFrame({"event_time": events}), estimate=event_est,
                 vcov=np.diag(se_event ** 2), alpha=alpha,
                 extra=None if extra is None else pd.DataFrame(extra),
                 info={**info, "estimator": info["estimator"] + ", per-period effects"})
    return SyntheticResult(
        keys=pd.DataFrame({"term": ["ATT"]}), estimate=np.array([att]),
        vcov=np.array([[se_att ** 2]]), alpha=alpha, info=info,
        unit_weights=pd.concat(uw, ignore_index=True), time_weights=pd.concat(tw, ignore_index=True),
        trajectory=pd.concat(traj, ignore_index=True), period_effects=per, placebo_table=table,
    )
