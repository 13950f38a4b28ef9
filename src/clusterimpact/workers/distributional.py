"""Distributional effects and the "who gains, who loses" table.

* :func:`changes_in_changes`: Athey & Imbens (2006) changes-in-changes for a
  continuous outcome: the mean effect on the treated and quantile treatment
  effects on the treated (QTT), with a cluster bootstrap.
* :func:`quantile_did`: quantile difference-in-differences (the DiD of
  quantiles), same interface.
* :func:`winners_losers`: a tidy subgroup x outcome table with
  multiplicity-adjusted p-values and a sign classification, plus a forest plot.

Examples
--------
>>> import clusterimpact as ci
>>> sim = ci.simulate.scenario("football_stitching", seed=1)
>>> wl = ci.winners_losers(ci.workers.subgroup_effects(sim.panel, "earnings", by="site"))
>>> wl.tidy()[["subgroup", "classification"]].to_dict("list")
{'subgroup': ['factory', 'centre', 'home'], 'classification': ['gains', 'gains', 'loses']}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import SpecificationError
from clusterimpact.results.base import Result

__all__ = ["WinnersLosers", "changes_in_changes", "quantile_did", "winners_losers"]

_DEFAULT_Q = (0.1, 0.25, 0.5, 0.75, 0.9)


class _Cell:
    r"""Outcomes of one (group, period) cell sorted, with their cumulative weight shares.

    Sampling weights enter as in a weighted empirical distribution: :math:`F(y) =
    \sum_i w_i 1\{y_i \le y\} / \sum_i w_i` (integer weights equal replicated rows).
    """

    def __init__(self, y: np.ndarray, w: np.ndarray | None):
        order = np.argsort(y, kind="stable")
        self.y = y[order]
        self.w = np.ones(y.size) if w is None else w[order]
        self.cum = np.cumsum(self.w) / self.w.sum()

    def quantile(self, q: np.ndarray) -> np.ndarray:
        """Athey-Imbens inverse: ``min{y : F(y) >= q}`` (``q = 0`` gives the minimum)."""
        idx = np.searchsorted(self.cum, np.asarray(q) - 1e-12, side="left")
        return self.y[np.clip(idx, 0, self.y.size - 1)]

    def cdf(self, y: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.y, y, side="right")
        return np.where(k > 0, self.cum[np.maximum(k - 1, 0)], 0.0)

    def mean(self) -> float:
        return float(self.w @ self.y / self.w.sum())


def _estimates(cells: list[_Cell], quantiles: np.ndarray, kind: str) -> np.ndarray:
    c00, c01, c10, c11 = cells
    if kind == "cic":
        counter = _Cell(c01.quantile(c00.cdf(c10.y)), c10.w)
        mean = c11.mean() - counter.mean()
        qte = c11.quantile(quantiles) - counter.quantile(quantiles)
    else:
        mean = (c11.mean() - c10.mean()) - (c01.mean() - c00.mean())
        qte = (c11.quantile(quantiles) - c10.quantile(quantiles)
               - c01.quantile(quantiles) + c00.quantile(quantiles))
    return np.r_[mean, qte]


def _distributional(panel, y: str, kind: str, quantiles: Sequence[float], pre: Any, post: Any,
                    reps: int, seed: int | np.random.Generator | None, alpha: float) -> Result:
    q = np.asarray(quantiles, dtype=float)
    if q.size == 0 or np.any((q <= 0) | (q >= 1)):
        raise SpecificationError(f"quantiles must lie strictly between 0 and 1, got {list(quantiles)}.")
    periods = list(panel.periods)
    cohorts = panel.cohorts
    if post is None:
        post = periods[-1]
    if pre is None:
        earlier = [p for p, v in zip(periods, panel.period_values, strict=True) if v < cohorts.min()]
        pre = earlier[-1]
    for name, value in (("pre", pre), ("post", post)):
        if value not in periods:
            raise SpecificationError(f"{name}={value!r} is not an observed period ({periods}).")
    tv = dict(zip(periods, panel.period_values, strict=True))
    pre_v, post_v = tv[pre], tv[post]
    yv = panel.column(y)
    coh = panel.cohort_value
    treated = (coh > pre_v) & (coh <= post_v)
    control = coh > post_v
    at_pre, at_post = panel.time_value == pre_v, panel.time_value == post_v
    ok = np.isfinite(yv)
    masks = [control & at_pre & ok, control & at_post & ok, treated & at_pre & ok, treated & at_post & ok]
    if any(m.sum() < 2 for m in masks):
        raise SpecificationError("Each of the four (group, period) cells needs at least two outcomes.")
    w = np.asarray(panel.weights, dtype=float) if panel.has_weights else None

    def cells(idx: np.ndarray | slice) -> list[_Cell]:
        return [_Cell(yv[idx][m[idx]], None if w is None else w[idx][m[idx]]) for m in masks]

    est = _estimates(cells(slice(None)), q, kind)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    cl = panel.cluster_code
    arms = [np.unique(cl[treated]), np.unique(cl[control])]
    rows_by_cluster = pd.Series(np.arange(cl.size)).groupby(cl).apply(np.asarray).to_dict()
    draws = np.empty((reps, est.size))
    for b in range(reps):
        picked = np.concatenate([rng.choice(a, a.size, replace=True) for a in arms])
        idx = np.concatenate([rows_by_cluster[c] for c in picked])
        draws[b] = _estimates(cells(idx), q, kind)
    vcov = np.cov(draws, rowvar=False)
    keys = pd.DataFrame({"term": ["mean"] + [f"q{v:g}" for v in q], "quantile": np.r_[np.nan, q]})
    label = "Changes-in-changes (Athey-Imbens)" if kind == "cic" else "Quantile DiD"
    info = {"estimator": label, "outcome": y, "n_obs": int(sum(m.sum() for m in masks)),
            "n_clusters": int(sum(a.size for a in arms)),
            "vcov_type": f"cluster bootstrap ({reps} draws, clusters resampled within arm)",
            "notes": [f"Periods {pre} (pre) and {post} (post); treated: first treated in ({pre}, {post}]; "
                      f"comparison: not treated by {post}."]}
    return Result(keys=keys, estimate=est, vcov=vcov, alpha=alpha, info=info)


def changes_in_changes(panel, y: str, *, quantiles: Sequence[float] = _DEFAULT_Q, pre: Any = None,
                       post: Any = None, reps: int = 199, seed: int | np.random.Generator | None = None,
                       alpha: float = 0.05) -> Result:
    """Changes-in-changes: mean and quantile effects on the treated (Athey & Imbens 2006).

    Parameters
    ----------
    panel
        A :class:`~clusterimpact.Panel` (panel or repeated cross-sections); rows are
        used as cross-sections of the four (group, period) cells.
    y
        Continuous outcome.
    quantiles
        Quantiles of the QTT.
    pre, post
        The two periods (default: the last period before the first cohort, and
        the last period). Treated: units first treated in ``(pre, post]``;
        comparison: units not treated by ``post``.
    reps, seed
        Cluster bootstrap draws (clusters resampled within arm) and randomness.
    alpha
        One minus the confidence level.

    Returns
    -------
    Result
        ``tidy()`` rows ``term`` = ``"mean"`` and ``"q0.1"`` ... with ``quantile``.

    Notes
    -----
    With :math:`F_{gt}` the outcome distribution of group :math:`g` in period
    :math:`t` (0 = comparison/pre, 1 = treated/post), if untreated outcomes are
    :math:`h(U, t)` with :math:`h` increasing in :math:`U` and the distribution of
    :math:`U` stable over time within group, the treated's untreated outcome in
    period 1 is distributed as :math:`k(Y_{10})` with
    :math:`k(y) = F_{01}^{-1}(F_{00}(y))`. So
    :math:`\\tau = E[Y_{11}] - E[k(Y_{10})]` and
    :math:`\\tau_q = F_{11}^{-1}(q) - F_{01}^{-1}(F_{00}(F_{10}^{-1}(q)))`, with the
    empirical :math:`F^{-1}(q) = \\min\\{y: F_n(y) \\ge q\\}`. Unlike DiD the
    model is invariant to monotone transformations of the outcome. Standard
    errors: standard deviation of a cluster bootstrap.

    References
    ----------
    Athey, S. and Imbens, G. W. (2006). Identification and inference in
    nonlinear difference-in-differences models. *Econometrica*, 74(2), 431-497.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1)
    >>> res = ci.changes_in_changes(sim.panel, "earnings", quantiles=[0.5], reps=49, seed=1)
    >>> res.tidy()["term"].tolist()
    ['mean', 'q0.5']
    """
    return _distributional(panel, y, "cic", quantiles, pre, post, reps, seed, alpha)


def quantile_did(panel, y: str, *, quantiles: Sequence[float] = _DEFAULT_Q, pre: Any = None,
                 post: Any = None, reps: int = 199, seed: int | np.random.Generator | None = None,
                 alpha: float = 0.05) -> Result:
    """Quantile difference-in-differences, the DiD of the four cells' quantiles.

    :math:`\\tau_q = F^{-1}_{11}(q) - F^{-1}_{10}(q) - F^{-1}_{01}(q) + F^{-1}_{00}(q)`.

    Same interface as :func:`changes_in_changes`; the ``"mean"`` row is the
    ordinary DiD of means. The QDiD assumes parallel trends of every quantile,
    which is not invariant to transformations of the outcome (Athey & Imbens
    2006, section 3.3).

    References
    ----------
    Athey, S. and Imbens, G. W. (2006). Identification and inference in
    nonlinear difference-in-differences models. *Econometrica*, 74(2), 431-497.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1)
    >>> ci.workers.quantile_did(sim.panel, "earnings", reps=19, seed=1).estimate.size
    6
    """
    return _distributional(panel, y, "qdid", quantiles, pre, post, reps, seed, alpha)


# ----------------------------------------------------------------------------- winners and losers
@dataclass(frozen=True, eq=False, repr=False)
class WinnersLosers(Result):
    """Who gains, who loses: subgroup x outcome effects with a sign classification.

    ``tidy()`` has ``outcome, subgroup``, the statistics, ``p_value_adjusted``
    and ``classification``; ``plot()`` draws a forest plot coloured by class.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1)
    >>> wl = ci.winners_losers(ci.workers.subgroup_effects(sim.panel, "earnings", by="gender"))
    >>> ax = wl.plot()
    """

    def plot(self, ax=None, **kwargs):
        """Forest plot of the table, coloured gains / loses / no detectable change.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("football_stitching", seed=1)
        >>> ax = ci.winners_losers(ci.workers.subgroup_effects(sim.panel, "earnings", by="site")).plot()
        """
        from clusterimpact.plots.forest import forest_plot

        return forest_plot(self.tidy(), ax=ax, label_columns=["outcome", "subgroup"],
                           title=kwargs.pop("title", "Who gains, who loses"), **kwargs)


def winners_losers(*results: Result, alpha: float = 0.05, adjust: str | None = "holm",
                   seed: int | np.random.Generator | None = None) -> WinnersLosers:
    """A tidy "who gains, who loses" table from subgroup results.

    Parameters
    ----------
    *results
        Results estimated with ``by=`` (e.g. from
        :func:`~clusterimpact.workers.subgroup_effects`, ``att_gt(...).aggregate()``,
        ``did``); each row becomes (outcome, subgroup).
    alpha
        Level of the classification and the confidence intervals.
    adjust
        Multiplicity adjustment over all rows (``"holm"``, ``"fdr_bh"``,
        ``"romano_wolf"`` ...). With a single stacked result (one joint covariance)
        Romano-Wolf uses the correlations; across separate results the rows are
        adjusted with Holm/BH on their p-values.
    seed
        Randomness of the Romano-Wolf bootstrap.

    Returns
    -------
    WinnersLosers
        ``classification`` is ``"gains"`` / ``"loses"`` if the adjusted p-value is
        below ``alpha`` (by the sign of the estimate), else ``"no detectable change"``.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1)
    >>> res = ci.workers.subgroup_effects(sim.panel, ["earnings", "employed"], by="gender")
    >>> ci.winners_losers(res).tidy()["classification"].tolist()
    ['loses', 'gains', 'loses', 'loses']
    """
    from clusterimpact.workers.joint import adjust_pvalues

    if not results:
        raise SpecificationError("winners_losers() needs at least one result.")
    frames, est, scores = [], [], []
    for res in results:
        by = res.by
        if not by:
            raise SpecificationError("winners_losers() needs results estimated with by=...")
        keys = res.keys
        outcome = (keys["outcome"] if "outcome" in keys
                   else pd.Series([res.info.get("outcome", "")] * len(keys)))
        frames.append(pd.DataFrame({"outcome": outcome.astype(str).to_numpy(),
                                    "subgroup": keys[by].astype(str).agg(" & ".join, axis=1).to_numpy()}))
        est.append(res.estimate)
        scores.append(getattr(res, "scores", None))
    keys = pd.concat(frames, ignore_index=True)
    estimate = np.concatenate(est)
    vcov = np.full((estimate.size, estimate.size), np.nan)
    start = 0
    for res in results:
        k = res.estimate.size
        vcov[start:start + k, start:start + k] = res.vcov
        start += k
    out = WinnersLosers(keys=keys, estimate=estimate, vcov=vcov, alpha=alpha,
                        info={"estimator": "Who gains, who loses", "adjust": adjust})
    tab = out.tidy()
    if len(results) == 1 and scores[0] is not None:
        padj = adjust_pvalues(estimate, scores[0], method=adjust, seed=seed)
    elif adjust is None:
        padj = tab["p_value"].to_numpy()
    else:
        if adjust == "romano_wolf":
            raise SpecificationError("Romano-Wolf needs one stacked result: use "
                                     "ci.workers.subgroup_effects(panel, [outcomes...], by=...).")
        from statsmodels.stats.multitest import multipletests

        method = {"bh": "fdr_bh"}.get(adjust, adjust)
        p = tab["p_value"].to_numpy()
        padj = np.full(p.size, np.nan)
        ok = np.isfinite(p)
        padj[ok] = multipletests(p[ok], method=method)[1]
    cls = np.where(padj < alpha, np.where(estimate > 0, "gains", "loses"), "no detectable change")
    return WinnersLosers(keys=keys, estimate=estimate, vcov=vcov, alpha=alpha,
                         extra=pd.DataFrame({"p_value_adjusted": padj, "classification": cls}),
                         info=out.info)
