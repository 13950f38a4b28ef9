"""Comparison groups for cluster programmes: ranking candidate clusters and matched DiD.

:func:`rank_comparison_clusters` ranks never-treated clusters by how closely
their pre-programme outcome path follows the treated clusters' (after
removing level differences, which DiD differences out anyway) and by
covariate similarity, and recommends a comparison set with diagnostics.
:func:`matched_did` matches units on baseline covariates and pre-period
outcome paths, then runs a DiD estimator on the matched, weighted panel.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact.design.panel import Panel
from clusterimpact.errors import SpecificationError
from clusterimpact.results.base import Result

__all__ = ["ComparisonRanking", "matched_did", "rank_comparison_clusters"]


def _pre_mask(panel: Panel, pre_periods: Any) -> np.ndarray:
    if pre_periods is None:
        mask = panel.time_value < panel.cohorts.min()
        if not mask.any():
            raise SpecificationError("No period precedes the first treated cohort; pass pre_periods=.")
        return mask
    wanted = list(pre_periods) if isinstance(pre_periods, list | tuple | np.ndarray | pd.Index) \
        else [pre_periods]
    known = list(panel.periods)
    missing = [p for p in wanted if p not in known]
    if missing:
        raise SpecificationError(f"pre_periods {missing} not observed; observed periods are {known[:12]}.")
    return np.isin(panel.time_value, panel.period_values[[known.index(p) for p in wanted]])


def _cluster_period_means(panel: Panel, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    g, t = panel.n_clusters, panel.n_periods
    ok = rows & ~np.isnan(values)
    idx = panel.cluster_code[ok] * t + panel.time_code[ok]
    w = panel.weights[ok]
    s = np.bincount(idx, weights=w * values[ok], minlength=g * t)
    n = np.bincount(idx, weights=w, minlength=g * t)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (s / n).reshape(g, t)


@dataclass(frozen=True, eq=False)
class ComparisonRanking:
    """Candidate comparison clusters ranked by pre-period fit.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per never-treated cluster: ``cluster, rmspe, mean_abs_smd``,
        one ``smd_<covariate>`` column per covariate, ``score``, ``rank``,
        ``recommended``; sorted by rank.
    recommended : list
        Labels of the recommended comparison clusters.
    diagnostics : dict
        Pre-period RMSPE of the recommended set's mean path and of all
        candidates' mean path against the treated path, largest absolute
        covariate SMD of the recommended set, numbers of clusters and periods.
    paths : pandas.DataFrame
        Cluster-by-period means of the outcome (rows: clusters; columns: periods),
        plus a ``"treated (mean)"`` row.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year", cohort="first.treat")
    >>> r = ci.rank_comparison_clusters(p, "lemp", pre_periods=[2003])
    >>> len(r.recommended) > 0
    True
    """

    table: pd.DataFrame
    recommended: list
    diagnostics: dict[str, Any]
    paths: pd.DataFrame
    pre_periods: list = field(default_factory=list)

    def plot(self, ax=None, *, aligned: bool = True, title: str | None = None):
        """Pre-period paths of the treated mean, the recommended comparisons and their mean.

        Parameters
        ----------
        aligned
            Subtract each path's pre-period mean (the level alignment used in the ranking).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year", cohort="first.treat")
        >>> ax = ci.rank_comparison_clusters(p, "lemp", pre_periods=[2003]).plot()
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(7, 4))
        paths = self.paths
        pre = [c for c in paths.columns if c in self.pre_periods]
        x = np.arange(paths.shape[1])

        def prep(v: np.ndarray) -> np.ndarray:
            return v - np.nanmean(v[[paths.columns.get_loc(c) for c in pre]]) if aligned else v

        for lab in self.recommended:
            ax.plot(x, prep(paths.loc[lab].to_numpy(float)), color="#7f7f7f", lw=0.8, alpha=0.6)
        comp = paths.loc[self.recommended].mean(axis=0).to_numpy(float)
        ax.plot(x, prep(comp), color="#7f7f7f", lw=2.2, label="chosen comparisons (mean)")
        ax.plot(x, prep(paths.loc["treated (mean)"].to_numpy(float)), color="#1f77b4", lw=2.2,
                label="treated clusters (mean)")
        if pre:
            last = max(paths.columns.get_loc(c) for c in pre)
            ax.axvline(last + 0.5, color="black", ls=":", lw=0.8)
        ax.set_xticks(x, [str(c) for c in paths.columns])
        ax.set_xlabel("Period")
        ax.set_ylabel("Outcome" + (" (minus pre-period mean)" if aligned else ""))
        if title:
            ax.set_title(title)
        ax.legend(frameon=False)
        return ax


def rank_comparison_clusters(
    panel: Panel,
    y: str,
    *,
    covariates: str | Sequence[str] | None = None,
    pre_periods: Any = None,
    n_recommend: int | None = None,
) -> ComparisonRanking:
    """Rank never-treated clusters as comparisons for the treated clusters.

    Parameters
    ----------
    panel
        The evaluation :class:`~clusterimpact.Panel`; clusters are ``panel.cluster``.
    y
        Outcome whose pre-programme path should match.
    covariates
        Numeric columns compared as pre-period cluster means (optional).
    pre_periods
        Periods used for the comparison; default all periods before the first cohort.
    n_recommend
        Size of the recommended set; default ``max(5, number of treated clusters)``,
        capped at the number of candidates.

    Returns
    -------
    ComparisonRanking

    Notes
    -----
    Let :math:`\\bar y_{ct}` be the (weighted) mean of ``y`` in cluster
    :math:`c` and pre-period :math:`t`, and :math:`\\bar y_{Tt}` the average of
    the treated clusters' means. After level alignment
    (:math:`\\tilde y_{ct} = \\bar y_{ct} - \\bar y_{c\\cdot}`), a candidate's
    pre-period RMSPE is :math:`\\sqrt{\\frac{1}{|P|}\\sum_{t \\in P}(\\tilde y_{ct} -
    \\tilde y_{Tt})^2}`. A covariate's SMD is :math:`(\\bar x_c - \\bar x_T)/s_x`
    with :math:`s_x` the SD of the cluster means across all clusters. The
    score is :math:`\\text{RMSPE}/s_y + \\text{mean}|\\text{SMD}|`, with
    :math:`s_y` the SD of the aligned cluster means, so both parts are in
    SD units; lower is better. With one pre-period the RMSPE is zero for
    every cluster (only levels are observed) and the ranking rests on the
    covariates. A good pre-period fit supports, but does not prove, parallel
    trends (Roth 2022).

    References
    ----------
    Abadie, A. (2021). Using synthetic controls: feasibility, data requirements
    and methodological aspects. *Journal of Economic Literature* 59, 391-425.

    Roth, J. (2022). Pretest with caution: event-study estimates after testing
    for parallel trends. *AER: Insights* 4, 305-322.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> df = ci.datasets.load("castle")
    >>> p = ci.Panel(df, unit="state", time="year", cohort="effyear")
    >>> r = ci.rank_comparison_clusters(p, "l_homicide", n_recommend=5)
    >>> len(r.recommended), list(r.table.columns[:3])
    (5, ['cluster', 'rmspe', 'mean_abs_smd'])
    """
    pre = _pre_mask(panel, pre_periods)
    yv = panel.column(y)
    means = _cluster_period_means(panel, yv, pre)
    used = np.unique(panel.time_code[pre])
    means = means[:, used]
    cl_treated = np.zeros(panel.n_clusters, dtype=bool)
    cl_treated[np.unique(panel.cluster_code[np.isfinite(panel.cohort_value)])] = True
    candidates = np.flatnonzero(~cl_treated)
    if candidates.size == 0:
        raise SpecificationError("No never-treated cluster to rank: every cluster contains treated units.")
    treated_path = np.nanmean(means[cl_treated], axis=0)
    aligned = means - np.nanmean(means, axis=1, keepdims=True)
    t_aligned = treated_path - np.nanmean(treated_path)
    with np.errstate(invalid="ignore"):
        rmspe = np.sqrt(np.nanmean((aligned - t_aligned) ** 2, axis=1))
    scale = np.nanstd(aligned)
    scale = scale if scale > 0 else 1.0
    covs = [] if covariates is None else ([covariates] if isinstance(covariates, str) else list(covariates))
    smd_cols = {}
    for c in covs:
        xm = _cluster_period_means(panel, panel.column(c, role="covariate"), pre)
        xc = np.nanmean(xm, axis=1)
        sd = np.nanstd(xc, ddof=1)
        smd_cols[f"smd_{c}"] = (xc - np.nanmean(xc[cl_treated])) / (sd if sd > 0 else 1.0)
    labels = list(panel.cluster_labels)
    table = pd.DataFrame({"cluster": [labels[i] for i in candidates], "rmspe": rmspe[candidates]})
    smd = np.column_stack([v[candidates] for v in smd_cols.values()]) if smd_cols else None
    table["mean_abs_smd"] = np.abs(smd).mean(axis=1) if smd is not None else 0.0
    for k, v in smd_cols.items():
        table[k] = v[candidates]
    table["score"] = table["rmspe"] / scale + table["mean_abs_smd"]
    table = table.sort_values(["score", "cluster"], kind="stable").reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    k = n_recommend or max(5, int(cl_treated.sum()))
    k = int(min(max(k, 1), len(table)))
    table["recommended"] = table["rank"] <= k
    chosen = table.loc[table["recommended"], "cluster"].tolist()
    pos = [labels.index(c) for c in chosen]

    def fit(rows: list[int] | np.ndarray) -> float:
        path = np.nanmean(means[rows], axis=0)
        return float(np.sqrt(np.nanmean(((path - np.nanmean(path)) - t_aligned) ** 2)))

    diagnostics = {
        "n_treated_clusters": int(cl_treated.sum()), "n_candidates": int(candidates.size),
        "n_recommended": k, "n_pre_periods": int(used.size),
        "rmspe_recommended": fit(pos), "rmspe_all_candidates": fit(candidates),
        "max_abs_smd_recommended": float(max((abs(np.nanmean(v[pos])) for v in smd_cols.values()),
                                             default=np.nan)),
    }
    full = _cluster_period_means(panel, yv, np.ones(panel.n_obs, dtype=bool))
    paths = pd.DataFrame(full, index=labels, columns=list(panel.periods))
    paths.loc["treated (mean)"] = np.nanmean(full[cl_treated], axis=0)
    pre_labels = [panel.periods[i] for i in used]
    return ComparisonRanking(table=table, recommended=chosen, diagnostics=diagnostics, paths=paths,
                             pre_periods=pre_labels)


def matched_did(
    panel: Panel,
    y: str,
    *,
    covariates: str | Sequence[str] | None = None,
    pre_periods: Any = None,
    method: str = "nearest",
    estimator: Literal["did", "att_gt", "twfe"] = "did",
    match_outcome_path: bool = True,
    **match_kwargs: Any,
) -> Result:
    """Match treated and never-treated units on baseline covariates and pre-period outcomes, then DiD.

    Parameters
    ----------
    panel
        A :class:`~clusterimpact.Panel` with a unit identifier.
    y
        Outcome.
    covariates
        Baseline covariates (their unit means over the pre-periods are matched on).
    pre_periods
        Periods whose outcomes define the matched pre-period path; default all
        periods before the first cohort.
    method
        Any :func:`~clusterimpact.match` method.
    estimator
        ``"did"`` (two periods: the panel is collapsed to each unit's pre-period
        and post-period means, then :func:`clusterimpact.did` with ``method="reg"``
        and no covariates), ``"att_gt"`` (its simple aggregate) or ``"twfe"``.
    match_outcome_path
        Also match on ``y`` in each pre-period (default ``True``).
    **match_kwargs
        Passed to :func:`~clusterimpact.match` (``ratio``, ``replace``, ``caliper``, ``estimand`` ...).

    Returns
    -------
    Result
        The estimator's result; ``info["match"]`` holds the :class:`MatchResult`.

    Notes
    -----
    The unit-level matching weights are merged onto the panel by unit and
    multiply any panel weights (``ci.Panel(..., weights=...)``); units with
    weight zero are dropped. Standard errors are those of the estimator on the
    weighted panel, treating the weights as fixed (clustered on
    ``panel.cluster``). Matching on pre-period outcomes can reduce bias from
    differential trends but can also introduce regression-to-the-mean bias
    when treated units were selected on transitory shocks (Daw & Hatfield 2018).

    References
    ----------
    Daw, J. R. and Hatfield, L. A. (2018). Matching and regression to the mean in
    difference-in-differences analysis. *Health Services Research* 53, 4138-4156.

    Heckman, J. J., Ichimura, H. and Todd, P. (1997). Matching as an econometric
    evaluation estimator. *Review of Economic Studies* 64, 605-654.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> df = ci.datasets.load("mpdta")
    >>> two = df[df["year"].isin([2003, 2004]) & df["first.treat"].isin([0, 2004])]
    >>> p = ci.Panel(two, unit="countyreal", time="year", cohort="first.treat")
    >>> res = ci.matched_did(p, "lemp", covariates=["lpop"], method="mahalanobis", replace=True)
    >>> len(res.tidy())
    1
    """
    import clusterimpact as ci

    if panel.unit is None:
        raise SpecificationError(
            "matched_did needs panel data (a unit identifier), not repeated cross-sections.")
    pre = _pre_mask(panel, pre_periods)
    covs = [] if covariates is None else ([covariates] if isinstance(covariates, str) else list(covariates))
    yv = panel.column(y)
    units = pd.DataFrame({"unit": panel.unit_labels})
    units["treated"] = np.isfinite(panel.unit_cohort).astype(int)
    match_cols = []
    for c in covs:
        v = panel.column(c, role="covariate")
        ok = pre & ~np.isnan(v)
        s = np.bincount(panel.unit_code[ok], weights=v[ok], minlength=panel.n_units)
        n = np.bincount(panel.unit_code[ok], minlength=panel.n_units)
        with np.errstate(invalid="ignore", divide="ignore"):
            units[c] = s / n
        match_cols.append(c)
    if match_outcome_path:
        for t in np.unique(panel.time_code[pre]):
            rows = pre & (panel.time_code == t)
            col = f"{y}_pre_{panel.periods[t]}"
            units[col] = np.nan
            units.loc[panel.unit_code[rows], col] = yv[rows]
            match_cols.append(col)
    if not match_cols:
        raise SpecificationError("Nothing to match on: give covariates= or keep match_outcome_path=True.")
    missing = units[match_cols].isna().sum()
    if missing.any():
        bad = ", ".join(f"{k}: {v}" for k, v in missing[missing > 0].items())
        raise SpecificationError(
            f"Units lack pre-period values to match on ({bad} unit(s)); balance the pre-period panel "
            "or drop those units first.")
    m = ci.match(units, treatment="treated", covariates=match_cols, method=method, **match_kwargs)
    unit_w = m.weights.to_numpy()
    row_w = unit_w[panel.unit_code] * panel.weights
    keep = row_w > 0
    data = panel.data.loc[keep].copy()
    data["_match_weight"] = row_w[keep]
    cohort_col = "_cohort"
    data[cohort_col] = np.where(np.isfinite(panel.cohort_value[keep]), panel.cohort_value[keep], 0)
    if not np.issubdtype(np.asarray(panel.periods).dtype, np.number):
        raise SpecificationError("matched_did needs a numeric time column.")
    if estimator == "did":
        post = ~pre[keep] & (panel.time_value[keep] >= panel.cohorts.min())
        prer = pre[keep]
        frames = []
        for label, rows in (("pre", prer), ("post", post)):
            sub = data.loc[rows]
            g = sub.groupby(panel.unit, sort=True)
            agg = pd.DataFrame({y: g[y].mean(), "_match_weight": g["_match_weight"].first(),
                                cohort_col: g[cohort_col].first()})
            if panel.cluster != panel.unit:
                agg[panel.cluster] = g[panel.cluster].first()
            agg["_period"] = 0 if label == "pre" else 1
            frames.append(agg.reset_index())
        two = pd.concat(frames, ignore_index=True)
        two[cohort_col] = np.where(two[cohort_col] > 0, 1, 0)
        both = two.groupby(panel.unit)["_period"].transform("nunique") == 2
        two = two.loc[both]
        p2 = Panel(two, unit=panel.unit, time="_period", cohort=cohort_col,
                   cluster=panel.cluster, weights="_match_weight")
        # ci.did is part of the package; the plain weighted 2x2 is the documented fallback
        res = ci.did(p2, y, method="reg") if hasattr(ci, "did") else _weighted_2x2(p2, y)
    else:
        p2 = Panel(data, unit=panel.unit, time=panel.time, cohort=cohort_col, cluster=panel.cluster,
                   weights="_match_weight")
        if estimator == "twfe":
            res = ci.twfe(p2, y)
        elif estimator == "att_gt":
            res = ci.att_gt(p2, y).aggregate("simple")
        else:
            raise SpecificationError(f"estimator must be 'did', 'att_gt' or 'twfe', got {estimator!r}.")
    info = dict(res.info)
    info["match"] = m
    info.setdefault("notes", [])
    info["notes"] = [*info["notes"], f"Units matched with method={method!r} on {', '.join(match_cols)}; "
                     "weights treated as fixed."]
    return dataclasses.replace(res, info=info)


def _weighted_2x2(panel: Panel, y: str) -> Result:
    """Weighted 2x2 DiD of unit changes with cluster-robust influence-function SEs."""
    yv = panel.column(y)
    n = panel.n_units
    delta = np.zeros(n)
    sign = np.where(panel.time_code == 1, 1.0, -1.0)
    np.add.at(delta, panel.unit_code, sign * yv)
    w = np.zeros(n)
    w[panel.unit_code] = panel.weights
    d = np.isfinite(panel.unit_cohort)
    m1 = np.average(delta[d], weights=w[d])
    m0 = np.average(delta[~d], weights=w[~d])
    psi = np.where(d, w * (delta - m1) / w[d].sum(), -w * (delta - m0) / w[~d].sum())
    sums = np.bincount(panel.unit_cluster, weights=psi)
    g = sums.size
    return Result(keys=pd.DataFrame({"term": ["ATT"]}), estimate=np.array([m1 - m0]),
                  vcov=np.array([[g / (g - 1) * sums @ sums]]), dof=float(g - 1),
                  info={"estimator": "Weighted 2x2 DiD", "outcome": y, "n_units": n, "n_clusters": g})
