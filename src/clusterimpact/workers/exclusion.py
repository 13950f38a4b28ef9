"""Exclusion and composition: who was pushed out, and what that does to the estimates.

A programme that moves work into monitored sites can raise the wages of
those who stay while others lose the work altogether. Estimating effects on
"workers observed after the programme" then compares different people. This
module provides

* :func:`employment_effects`: participation/employment (0/1, including those
  who left) as an outcome, by subgroup;
* :func:`attrition_table` and :func:`retention_did`: attrition by arm and
  subgroup, and a DiD on retention (differential attrition);
* :func:`lee_bounds`: Lee (2009) trimming bounds for outcomes observed only
  for the still-employed, with influence-function (cluster-robust) SEs and
  Imbens-Manski (2004) confidence intervals;
* :func:`reweight_to_baseline`: subgroup effects averaged with the baseline
  workforce composition.

Examples
--------
>>> import clusterimpact as ci
>>> sim = ci.simulate.scenario("football_stitching", seed=1)
>>> tab = ci.workers.attrition_table(sim.panel, by="site", employed="employed")
>>> tab[tab.arm == "treated"][["site", "retention_rate"]].round(2).to_dict("list")
{'site': ['factory', 'centre', 'home'], 'retention_rate': [1.0, 0.97, 0.38]}
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from clusterimpact.errors import EstimationWarning, SpecificationError, suggest
from clusterimpact.results.base import Result
from clusterimpact.workers.joint import SubgroupEffects, subgroup_effects

__all__ = ["LeeBounds", "attrition_table", "employment_effects", "imbens_manski", "lee_bounds",
           "retention_did", "reweight_to_baseline"]


def _col(data: pd.DataFrame, name: str, role: str) -> pd.Series:
    if name not in data:
        raise SpecificationError(f"The {role} column {name!r} is not in the data."
                                 f"{suggest(name, data.columns)}")
    return data[name]


def employment_effects(panel, employed: str = "employed", *, by: str | Sequence[str],
                       **kw: Any) -> SubgroupEffects:
    """Effect on being employed (0/1, rows of those who left kept as 0), by subgroup.

    A thin front door to :func:`~clusterimpact.workers.subgroup_effects` with the
    employment indicator as the outcome: negative effects show who was pushed out.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1)
    >>> res = ci.workers.employment_effects(sim.panel, by="site")
    >>> res.tidy()["estimate"].round(2).tolist()
    [0.0, -0.03, -0.56]
    """
    values = panel.column(employed, role="employment")
    ok = values[np.isfinite(values)]
    if not np.isin(ok, (0.0, 1.0)).all():
        raise SpecificationError(f"The employment column {employed!r} must be 0/1.")
    return subgroup_effects(panel, employed, by=by, **kw)


def _unit_frame(panel, by: list[str]) -> pd.DataFrame:
    first = ~pd.Series(panel.unit_code).duplicated().to_numpy()
    out = pd.DataFrame({"unit": panel.unit_code[first], "cohort": panel.cohort_value[first],
                        "cluster": panel.cluster_code[first]})
    for c in by:
        out[c] = _col(panel.data, c, "by").iloc[np.flatnonzero(first)].array
    return out.sort_values("unit").reset_index(drop=True)


def _retained(panel, employed: str | None, outcome: str | None) -> np.ndarray:
    """(units, periods) 1 if the unit is present (employed, outcome observed), else 0."""
    ok = np.ones(panel.n_obs, dtype=bool)
    if employed is not None:
        ok &= panel.column(employed, role="employment") == 1
    if outcome is not None:
        ok &= np.isfinite(panel.column(outcome))
    grid = np.zeros((panel.n_units, panel.n_periods))
    grid[panel.unit_code, panel.time_code] = ok
    return grid


def attrition_table(panel, *, by: str | Sequence[str] | None = None, employed: str | None = None,
                    outcome: str | None = None, period: Any = None) -> pd.DataFrame:
    """Retention and attrition of the baseline workforce by arm (ever treated or not) and subgroup.

    A unit counts as retained in ``period`` (default: the last) if it has a row
    there and, when given, ``employed == 1`` and a non-missing ``outcome``.
    The baseline workforce is the units retained in the first period.

    Returns
    -------
    pandas.DataFrame
        ``arm``, the ``by`` columns, ``n_baseline, n_retained, retention_rate, attrition_rate``.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1)
    >>> ci.workers.attrition_table(sim.panel, employed="employed").columns.tolist()
    ['arm', 'n_baseline', 'n_retained', 'retention_rate', 'attrition_rate']
    """
    if not panel.is_panel:
        raise SpecificationError("Attrition needs a panel of units (unit=...).")
    names = [by] if isinstance(by, str) else list(by or [])
    units = _unit_frame(panel, names)
    grid = _retained(panel, employed, outcome)
    t = panel.n_periods - 1 if period is None else int(np.flatnonzero(panel.periods == period)[0])
    units["arm"] = np.where(np.isfinite(units["cohort"]), "treated", "comparison")
    base = grid[units["unit"], 0] == 1
    units["kept"] = grid[units["unit"], t]
    out = units[base].groupby(["arm", *names], observed=True, sort=False).agg(
        n_baseline=("kept", "size"), n_retained=("kept", "sum")).reset_index()
    out["n_retained"] = out["n_retained"].astype(int)
    out["retention_rate"] = out["n_retained"] / out["n_baseline"]
    out["attrition_rate"] = 1 - out["retention_rate"]
    order = {"treated": 0, "comparison": 1}
    return out.sort_values(["arm", *names], key=lambda s: s.map(order) if s.name == "arm" else s,
                           ignore_index=True)


def retention_did(panel, *, by: str | Sequence[str], employed: str | None = None,
                  outcome: str | None = None, **kw: Any) -> SubgroupEffects:
    """DiD on retention (differential attrition test), by subgroup.

    Builds the full unit x period grid (rows that disappeared become 0) of the
    indicator "present, employed and with the outcome observed" and estimates
    the programme's effect on it with :func:`~clusterimpact.workers.subgroup_effects`.
    Non-zero effects, or effects that differ across subgroups (``.compare()``),
    mean that post-programme samples are selected.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1, exclusion_mode="drop")
    >>> res = ci.workers.retention_did(sim.panel, by="gender")
    >>> res.tidy()["estimate"].round(2).tolist()
    [-0.45, -0.06]
    """
    from clusterimpact.design.panel import Panel

    names = [by] if isinstance(by, str) else list(by)
    units = _unit_frame(panel, names)
    grid = _retained(panel, employed, outcome)
    n_u, n_t = grid.shape
    frame = pd.DataFrame({
        "unit": np.repeat(units["unit"].to_numpy(), n_t),
        "time": np.tile(panel.period_values, n_u),
        "cohort": np.repeat(np.where(np.isfinite(units["cohort"]), units["cohort"], 0.0), n_t),
        "cluster": np.repeat(units["cluster"].to_numpy(), n_t),
        "retained": grid[units["unit"].to_numpy()].ravel(),
    })
    for c in names:
        frame[c] = np.repeat(units[c].to_numpy(), n_t)
    grid_panel = Panel(frame, unit="unit", time="time", cohort="cohort", cluster="cluster")
    res = subgroup_effects(grid_panel, "retained", by=names, **kw)
    res.info["estimator"] = "Retention DiD (differential attrition)"
    return res


# ----------------------------------------------------------------------------- Lee bounds
def imbens_manski(lower: float, upper: float, se_lower: float, se_upper: float,
                  alpha: float = 0.05) -> tuple[float, float]:
    """Imbens-Manski (2004) confidence interval for a partially identified parameter.

    :math:`[L - c\\,\\sigma_L, U + c\\,\\sigma_U]` with :math:`c` solving
    :math:`\\Phi(c + (U-L)/\\max(\\sigma_L, \\sigma_U)) - \\Phi(-c) = 1-\\alpha`; it covers
    the true parameter (not the whole identified set) with probability
    :math:`1-\\alpha`, between the one-sided (wide set) and two-sided (point) values.

    Examples
    --------
    >>> [round(v, 3) for v in imbens_manski(0.0, 0.0, 1.0, 1.0)]
    [-1.96, 1.96]
    >>> [round(v, 3) for v in imbens_manski(0.0, 100.0, 1.0, 1.0)]
    [-1.645, 101.645]
    """
    sigma = max(se_lower, se_upper)
    width = max(upper - lower, 0.0) / sigma if sigma > 0 else np.inf

    def gap(c: float) -> float:
        return stats.norm.cdf(c + width) - stats.norm.cdf(-c) - (1 - alpha)

    c = optimize.brentq(gap, 0.0, 10.0) if np.isfinite(width) else stats.norm.ppf(1 - alpha)
    return lower - c * se_lower, upper + c * se_upper


def _trimmed(y: np.ndarray, p: float, keep: str) -> tuple[float, float, np.ndarray]:
    """Fractionally trimmed mean dropping share ``p`` from the bottom (keep="upper") or top."""
    ys = np.sort(y)
    if keep == "lower":
        ys = ys[::-1]
    n = ys.size
    k = p * n
    full = int(np.floor(k))
    w = np.ones(n)
    w[:full] = 0.0
    if full < n:
        w[full] -= k - full
    mean = float(w @ ys / (n - k))
    cut = ys[min(full, n - 1)]
    return mean, float(cut), w


@dataclass(frozen=True, eq=False, repr=False)
class LeeBounds(Result):
    """Lee (2009) bounds: rows ``lower`` and ``upper`` plus the Imbens-Manski interval.

    Examples
    --------
    >>> import numpy as np, pandas as pd, clusterimpact as ci
    >>> rng = np.random.default_rng(0)
    >>> d = rng.random(2000) < 0.5
    >>> df = pd.DataFrame({"d": d, "s": rng.random(2000) < np.where(d, 0.9, 0.7),
    ...                    "y": rng.normal(size=2000) + d})
    >>> b = ci.lee_bounds(df, "y", treatment="d", selected="s")
    >>> b.tidy()["bound"].tolist(), len(b.im_conf_int)
    (['lower', 'upper'], 2)
    """

    im_conf_int: tuple[float, float] = (np.nan, np.nan)
    trim_share: float = np.nan


def lee_bounds(data, y: str, *, treatment: str, selected: str, cluster: str | None = None,
               alpha: float = 0.05) -> LeeBounds:
    """Lee (2009) trimming bounds on the effect for the always-selected (e.g. always-employed).

    Parameters
    ----------
    data
        A DataFrame (or a :class:`~clusterimpact.Panel`, whose ``data`` is used);
        one row per person, e.g. the post-programme period, or changes from baseline.
    y
        Outcome, used only where ``selected`` is true (it may be missing elsewhere).
    treatment
        0/1 treatment (random or conditionally random, e.g. cluster roll-out).
    selected
        0/1: the outcome is observed (still employed).
    cluster
        Column for cluster-robust standard errors (default: rows are independent).
    alpha
        One minus the confidence level.

    Returns
    -------
    LeeBounds
        ``tidy()`` rows ``lower`` and ``upper`` with SEs and pointwise CIs;
        ``im_conf_int`` the Imbens-Manski interval; ``trim_share`` the share trimmed.

    Notes
    -----
    Assumptions: treatment independent of potential outcomes and selection, and
    monotone selection (treatment moves everyone's selection in the same
    direction). Let :math:`q_d=\\Pr(S=1|D=d)` and :math:`h` the arm with the larger
    :math:`q`, :math:`o` the other. The share of :math:`h`'s selected who would
    not be selected under :math:`o` is :math:`p=1-q_o/q_h`; trimming it from the
    top or the bottom of :math:`h`'s outcome distribution gives the sharp bounds
    of the always-selected mean in arm :math:`h`,
    :math:`\\mu_L = E[Y|Y\\le y_{1-p}]`, :math:`\\mu_U = E[Y|Y \\ge y_p]`. The effect
    bounds are :math:`\\mu_{L}-\\bar Y_o, \\mu_U - \\bar Y_o` (if :math:`h` is treated) or
    :math:`\\bar Y_1 - \\mu_U, \\bar Y_1 - \\mu_L`. Trimming is fractional (exactly
    :math:`p n_h` observations). Standard errors come from the influence function
    of each bound, which has Lee's (2009, Proposition 3) three parts: the
    trimmed-mean term
    :math:`[y1\\{y\\ge y_p\\} + y_p(1\\{y<y_p\\}-p)]/(1-p) - \\mu_U` over
    :math:`\\Pr(D=h,S=1)`, the effect of estimating :math:`p`,
    :math:`(\\mu_U-y_p)/(1-p)\\,\\psi_p` with :math:`\\psi_p` from the delta method on
    :math:`q_o/q_h`, and the other arm's mean; summed within clusters when
    ``cluster`` is given.

    References
    ----------
    Lee, D. S. (2009). Training, wages, and sample selection: estimating sharp
    bounds on treatment effects. *Review of Economic Studies*, 76(3), 1071-1102.

    Imbens, G. W. and Manski, C. F. (2004). Confidence intervals for partially
    identified parameters. *Econometrica*, 72(6), 1845-1857.

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"d": [1] * 5 + [0] * 5, "s": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0],
    ...                    "y": [1.0, 2, 3, 4, 5, 1, 2, 3, 4, None]})
    >>> ci.lee_bounds(df, "y", treatment="d", selected="s").estimate.tolist()
    [0.0, 1.0]
    """
    frame = data.data if hasattr(data, "is_panel") else data
    d = _col(frame, treatment, "treatment").to_numpy(dtype=float)
    s = _col(frame, selected, "selection").to_numpy(dtype=float)
    yv = pd.to_numeric(_col(frame, y, "outcome"), errors="coerce").to_numpy(dtype=float)
    for name, v in ((treatment, d), (selected, s)):
        if not np.isin(v[np.isfinite(v)], (0.0, 1.0)).all() or np.isnan(v).any():
            raise SpecificationError(f"The column {name!r} must be 0/1 without missing values.")
    miss = (s == 1) & ~np.isfinite(yv)
    if miss.any():
        raise SpecificationError(f"{int(miss.sum())} selected row(s) have no outcome {y!r}.")
    cl = (np.arange(d.size) if cluster is None
          else pd.factorize(_col(frame, cluster, "cluster"))[0])
    n = d.size
    q = {a: float(s[d == a].mean()) for a in (0.0, 1.0)}
    if min((d == 0).sum(), (d == 1).sum()) == 0 or min(q.values()) == 0:
        raise SpecificationError("Both arms need rows with the outcome observed.")
    h, o = (1.0, 0.0) if q[1.0] >= q[0.0] else (0.0, 1.0)
    p = 1.0 - q[o] / q[h]
    pi = {a: float(np.mean(d == a)) for a in (0.0, 1.0)}
    psi_q = {a: np.where(d == a, s - q[a], 0.0) / pi[a] for a in (0.0, 1.0)}
    psi_p = -psi_q[o] / q[h] + q[o] * psi_q[h] / q[h] ** 2
    in_h = (d == h) & (s == 1)
    in_o = (d == o) & (s == 1)
    yh, yo = yv[in_h], yv[in_o]
    mu_o = float(yo.mean())
    psi_o = np.where(in_o, np.nan_to_num(yv) - mu_o, 0.0) / in_o.mean()
    bounds, psis = {}, {}
    for keep in ("upper", "lower"):
        mu, cut, _ = _trimmed(yh, p, keep)
        yy = np.nan_to_num(yv)
        if keep == "upper":
            phi = (yy * (yy >= cut) + cut * ((yy < cut) - p)) / (1 - p) - mu
        else:
            phi = (yy * (yy <= cut) + cut * ((yy > cut) - p)) / (1 - p) - mu
        psi_mu = np.where(in_h, phi, 0.0) / in_h.mean() + (mu - cut) / (1 - p) * psi_p
        bounds[keep], psis[keep] = mu, psi_mu
    if h == 1.0:
        est = np.array([bounds["lower"] - mu_o, bounds["upper"] - mu_o])
        cols = [psis["lower"] - psi_o, psis["upper"] - psi_o]
    else:
        est = np.array([mu_o - bounds["upper"], mu_o - bounds["lower"]])
        cols = [psi_o - psis["upper"], psi_o - psis["lower"]]
    infl = np.column_stack(cols)
    scores = np.zeros((int(cl.max()) + 1, 2))
    np.add.at(scores, cl, infl)
    scores /= n
    vcov = scores.T @ scores
    se = np.sqrt(np.diag(vcov))
    im = imbens_manski(float(est[0]), float(est[1]), float(se[0]), float(se[1]), alpha)
    info = {"estimator": "Lee (2009) bounds", "outcome": y, "n_obs": n,
            "n_clusters": int(np.unique(cl).size),
            "vcov_type": "influence function" + (f", clustered by {cluster}" if cluster else ""),
            "notes": [f"Trimmed {p:.1%} of the selected in the "
                      f"{'treated' if h == 1 else 'comparison'} arm (selection rates: treated "
                      f"{q[1.0]:.3f}, comparison {q[0.0]:.3f}).",
                      f"Imbens-Manski {1 - alpha:.0%} CI: [{im[0]:.4g}, {im[1]:.4g}]."]}
    return LeeBounds(keys=pd.DataFrame({"bound": ["lower", "upper"]}), estimate=est, vcov=vcov,
                     alpha=alpha, info=info, influence=infl, cluster=cl, im_conf_int=im, trim_share=p)


# ----------------------------------------------------------------------------- composition
def reweight_to_baseline(panel, y: str, *, by: str | Sequence[str], **kw: Any) -> Result:
    """The average effect with subgroups weighted by the baseline workforce of treated clusters.

    Subgroup effects :math:`\\hat\\theta_s` (from :func:`subgroup_effects`) are
    averaged with :math:`w_s` = share of subgroup :math:`s` among treated units
    observed in the first period: :math:`\\hat\\theta_{bw}=\\sum_s w_s\\hat\\theta_s`. Its
    influence function adds :math:`1\\{i\\ \\text{treated}\\}(\\hat\\theta_{s_i}-
    \\hat\\theta_{bw})/\\Pr(\\text{treated})` for the estimated shares. This answers
    "what would the average effect be for the workforce as it was", which the
    pooled ATT does not when composition differs across cohorts or the
    programme changed who is observed.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1)
    >>> r = ci.workers.reweight_to_baseline(sim.panel, "earnings", by="site")
    >>> r.tidy()["term"].tolist()
    ['baseline composition']
    """
    names = [by] if isinstance(by, str) else list(by)
    res = subgroup_effects(panel, y, by=names, adjust=None, **kw)
    units = _unit_frame(panel, names)
    first_units = np.unique(panel.unit_code[panel.time_code == 0])
    units = units[units["unit"].isin(first_units)]
    treated = units[np.isfinite(units["cohort"])]
    share = treated.groupby(names, observed=True).size() / len(treated)
    keys = res.keys[names]
    w = np.array([share.get(tuple(r) if len(names) > 1 else r[0], 0.0)
                  for r in keys.itertuples(index=False)])
    if not np.isclose(w.sum(), 1.0):
        warnings.warn("Some baseline subgroups have no estimate; weights renormalised.", EstimationWarning,
                      stacklevel=2)
        w = w / w.sum()
    theta = float(w @ res.estimate)
    lookup = dict(zip(map(tuple, keys.astype(str).to_numpy()), res.estimate, strict=True))
    dev = np.array([lookup.get(tuple(map(str, r)), theta) - theta
                    for r in treated[names].itertuples(index=False)])
    n_units = len(units)
    extra = np.zeros(res.scores.shape[0])
    np.add.at(extra, treated["cluster"].to_numpy(), dev * n_units / len(treated))
    score = res.scores @ w + extra / n_units
    info = {**res.info, "estimator": "Effect at baseline workforce composition", "by": [],
            "weights": dict(zip(map(str, keys.astype(str).agg(" & ".join, axis=1)), w.round(4),
                                strict=True))}
    return Result(keys=pd.DataFrame({"term": ["baseline composition"]}), estimate=np.array([theta]),
                  vcov=np.array([[score @ score]]), alpha=res.alpha, info=info,
                  influence=score[:, None] * score.size, cluster=np.arange(score.size))
