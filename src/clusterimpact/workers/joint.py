"""Several outcomes x worker subgroups, with one joint covariance: ``ci.workers.subgroup_effects``.

Each outcome is estimated by subgroup with one of the package estimators
(``att_gt`` aggregated to one ATT per subgroup, ``did`` or ``twfe``); every
estimator returns influence functions, which are summed within clusters and
stacked side by side, so one covariance matrix covers every (outcome,
subgroup) pair. That is what multiplicity adjustment across the whole table
(Holm, Benjamini-Hochberg, Romano-Wolf) and contrasts across outcomes need.

How ``att_gt(..., by=)`` computes subgroups: the subgroup code is folded into
the (subgroup, cohort) block code of every unit, so a single ``np.bincount``
pass over the rows produces the per-(cluster, subgroup, cohort, period)
outcome sums that all subgroups' ATT(g,t) are read from (no loop over
subgroups, no refit; comparison units are those of the same subgroup). With
covariates each (subgroup, cohort, period) cell calls the 2x2 kernel on the
subgroup's rows. Tests check that this equals estimating each subgroup
separately.

Examples
--------
>>> import clusterimpact as ci
>>> sim = ci.simulate.scenario("football_stitching", seed=1)
>>> res = ci.workers.subgroup_effects(sim.panel, "earnings", by="site")
>>> res.tidy()[["outcome", "site", "estimate"]].round(2)
    outcome     site  estimate
0  earnings  factory      0.34
1  earnings   centre      0.43
2  earnings     home     -1.10
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats

from clusterimpact.errors import SpecificationError, suggest
from clusterimpact.results.base import Result

__all__ = ["SubgroupEffects", "adjust_pvalues", "cluster_scores", "stack_results",
           "subgroup_effects"]

Estimator = Literal["att_gt", "did", "twfe"]
Adjust = Literal["holm", "bonferroni", "fdr_bh", "romano_wolf"]
_ALIASES = {"bh": "fdr_bh", "benjamini_hochberg": "fdr_bh", "rw": "romano_wolf"}


def cluster_scores(result: Result, n_clusters: int | None = None) -> np.ndarray:
    """Per-cluster influence sums on the variance scale: ``vcov = S.T @ S``.

    Every package result stores ``influence`` (n_rows x k) scaled so that
    ``estimate - truth ~ influence.mean(0)`` and ``cluster`` codes of its rows;
    ``S[c] = sum_{i in c} influence_i / n_rows``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from clusterimpact.results import Result
    >>> r = Result(pd.DataFrame(index=[0]), np.array([0.0]), np.array([[1.0]]),
    ...            influence=np.array([[1.0], [2.0], [3.0]]), cluster=np.array([0, 0, 1]))
    >>> cluster_scores(r).ravel().tolist()
    [1.0, 1.0]
    """
    if result.influence is None or result.cluster is None:
        raise SpecificationError("This result keeps no influence functions; cannot stack it.")
    infl = np.asarray(result.influence, dtype=float)
    cl = np.asarray(result.cluster, dtype=np.int64)
    g = int(cl.max()) + 1 if n_clusters is None else n_clusters
    out = np.zeros((g, infl.shape[1]))
    np.add.at(out, cl, np.nan_to_num(infl))
    return out / infl.shape[0]


def stack_results(results: Sequence[Result], n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack results of one panel: (estimates, per-cluster scores) with a joint covariance ``S'S``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from clusterimpact.results import Result
    >>> r = Result(pd.DataFrame(index=[0]), np.array([1.0]), np.array([[1.0]]),
    ...            influence=np.array([[1.0], [-1.0]]), cluster=np.array([0, 1]))
    >>> est, s = stack_results([r, r], 2)
    >>> (s.T @ s).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    est = np.concatenate([r.estimate for r in results])
    scores = np.column_stack([cluster_scores(r, n_clusters) for r in results])
    return est, scores


def _gaussian_t_draws(scores: np.ndarray, se: np.ndarray, reps: int,
                      seed: int | np.random.Generator | None) -> np.ndarray:
    """Bootstrap t-statistics :math:`t^*_{bm} = \\sum_c v_{bc} S_{cm} / se_m`, Gaussian :math:`v_{bc}`."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    v = rng.standard_normal((reps, scores.shape[0]))
    return (v @ scores) / se


def adjust_pvalues(estimate: np.ndarray, scores: np.ndarray, *, method: str | None = "holm",
                   reps: int = 999, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Multiplicity-adjusted two-sided p-values for a stacked family of estimates.

    Parameters
    ----------
    estimate
        The estimates (k,).
    scores
        Per-cluster influence sums (G, k), from :func:`stack_results`.
    method
        ``"holm"`` (family-wise error), ``"bonferroni"``, ``"fdr_bh"`` (false
        discovery rate; alias ``"bh"``), ``"romano_wolf"`` (step-down max-t with a
        cluster Gaussian multiplier bootstrap of the stacked influence
        functions, which uses their correlation) or ``None``.
    reps, seed
        Bootstrap draws and randomness for ``"romano_wolf"``.

    Notes
    -----
    The adjustments are those of :func:`clusterimpact.adjust`
    (:mod:`clusterimpact.inference.multiplicity`); this function supplies the
    family (two-sided normal p-values from the cluster scores) and, for
    Romano-Wolf, the joint bootstrap draws. Romano & Wolf (2005): order :math:`|t|`
    decreasingly; the adjusted p-value of the :math:`j`-th is
    :math:`\\max_{l \\le j} (1 + \\#\\{b: \\max_{m \\ge l} |t^*_{bm}| \\ge |t_l|\\})/(B + 1)`
    with :math:`t^*_{bm} = \\sum_c v_{bc} S_{cm} / se_m`, :math:`v_{bc} \\sim N(0, 1)` (so each
    :math:`t^*_m` is exactly standard normal given the data and the marginal p-values
    match the normal ones).

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure.
    *Scandinavian Journal of Statistics*, 6(2), 65-70.

    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate.
    *JRSS B*, 57(1), 289-300.

    Romano, J. P. and Wolf, M. (2005). Stepwise multiple testing as formalized
    data snooping. *Econometrica*, 73(4), 1237-1282.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.eye(4) * 0.1
    >>> adjust_pvalues(np.array([0.5, 0.0, 0.0, 0.05]), s, method="holm").round(4).tolist()
    [0.0, 1.0, 1.0, 1.0]
    """
    se = np.sqrt(np.einsum("gk,gk->k", scores, scores))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = estimate / se
    p = 2 * stats.norm.sf(np.abs(t))
    if method is None:
        return p
    method = _ALIASES.get(method, method)
    if method not in get_args(Adjust):
        raise SpecificationError(f"adjust must be one of {get_args(Adjust)} or None, got {method!r}."
                                 + suggest(method, get_args(Adjust)))
    from clusterimpact.inference.multiplicity import adjust

    out = np.full(p.size, np.nan)
    ok = np.isfinite(t) & (se > 0) if method == "romano_wolf" else np.isfinite(p)
    if not ok.any():
        return out
    family = pd.DataFrame({"p_value": p[ok], "statistic": t[ok]})
    if method == "romano_wolf":
        boot = _gaussian_t_draws(scores[:, ok], se[ok], reps, seed)
        out[ok] = adjust(family, "romano_wolf", boot_stats=boot)["p_value_adjusted"].to_numpy()
    else:
        name = {"fdr_bh": "bh"}.get(method, method)
        out[ok] = adjust(family, name)["p_value_adjusted"].to_numpy()
    return out


@dataclass(frozen=True, eq=False, repr=False)
class SubgroupEffects(Result):
    """Effects by outcome and subgroup with one joint covariance (from :func:`subgroup_effects`).

    ``tidy()`` has ``outcome``, the ``by`` columns, the usual statistics and
    ``p_value_adjusted`` (adjusted over the whole table). ``scores`` holds
    the per-cluster influence sums (``vcov = scores.T @ scores``).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1)
    >>> res = ci.workers.subgroup_effects(sim.panel, ["earnings", "employed"], by="gender")
    >>> res.compare().tidy()["contrast"].tolist()
    ['male - female', 'all equal', 'male - female', 'all equal']
    """

    scores: np.ndarray | None = None

    def outcome(self, name: str) -> Result:
        """The subgroup estimates of one outcome as a plain ``Result`` (``compare()`` works on it).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("football_stitching", seed=1)
        >>> res = ci.workers.subgroup_effects(sim.panel, "earnings", by="gender")
        >>> res.outcome("earnings").compare().tidy()["contrast"].tolist()
        ['male - female', 'all equal']
        """
        names = self.keys["outcome"].unique().tolist()
        if name not in names:
            raise SpecificationError(f"No outcome {name!r}.{suggest(name, names)} Outcomes: {names}.")
        rows = np.flatnonzero(self.keys["outcome"].to_numpy() == name)
        return Result(keys=self.keys.iloc[rows][self.by].reset_index(drop=True),
                      estimate=self.estimate[rows], vcov=self.vcov[np.ix_(rows, rows)],
                      alpha=self.alpha, info={**self.info, "outcome": name},
                      influence=None if self.scores is None
                      else self.scores[:, rows] * self.scores.shape[0],
                      cluster=None if self.scores is None else np.arange(self.scores.shape[0]))

    def compare(self, *, adjust: str | None = "holm") -> Result:
        """Pairwise subgroup contrasts and the "all equal" Wald test, for every outcome.

        Returns a ``Result`` whose ``tidy()`` has ``outcome, contrast, estimate,
        std_error, conf_low, conf_high, p_value`` (and ``p_value_adjusted``
        within outcome); see :meth:`Result.compare`.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("football_stitching", seed=1)
        >>> res = ci.workers.subgroup_effects(sim.panel, "earnings", by="site")
        >>> res.compare().tidy()["contrast"].iloc[-1]
        'all equal'
        """
        parts = []
        for name in self.keys["outcome"].unique():
            parts.append((name, self.outcome(name).compare(adjust=adjust)))
        keys = pd.concat([r.keys.assign(outcome=n)[["outcome", "contrast"]] for n, r in parts],
                         ignore_index=True)
        sizes = [r.estimate.size for _, r in parts]
        vcov = np.full((sum(sizes), sum(sizes)), np.nan)
        start = 0
        for (_, r), k in zip(parts, sizes, strict=True):
            vcov[start:start + k, start:start + k] = r.vcov
            start += k
        extra = pd.concat([r.extra for _, r in parts], ignore_index=True)
        return Result(keys=keys, estimate=np.concatenate([r.estimate for _, r in parts]), vcov=vcov,
                      alpha=self.alpha, extra=extra,
                      info={**self.info, "estimator": "Subgroup contrasts by outcome", "by": []})

    def plot(self, ax=None, **kwargs):
        """Forest plot of every (outcome, subgroup) estimate; returns the Axes.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("football_stitching", seed=1)
        >>> ax = ci.workers.subgroup_effects(sim.panel, "earnings", by="site").plot()
        """
        from clusterimpact.plots.forest import forest_plot

        return forest_plot(self.tidy(), ax=ax, **kwargs)


def _one(panel, y: str, by: list[str], estimator: str, aggregate: str, kw: dict[str, Any]) -> Result:
    if estimator == "att_gt":
        from clusterimpact.estimators.att_gt import att_gt

        res = att_gt(panel, y, by=by, **kw).aggregate(aggregate)
        if aggregate != "simple":
            raise SpecificationError("subgroup_effects needs one estimate per subgroup: "
                                     "aggregate='simple'.")
        return res
    if estimator == "did":
        from clusterimpact.estimators.did import did

        return did(panel, y, by=by, **kw)
    from clusterimpact.estimators.twfe import twfe

    res = twfe(panel, y, by=by, **kw)
    rows = np.flatnonzero(res.keys["term"].to_numpy() == "treated")
    return Result(keys=res.keys.iloc[rows][by].reset_index(drop=True), estimate=res.estimate[rows],
                  vcov=res.vcov[np.ix_(rows, rows)], alpha=res.alpha, info=res.info,
                  influence=res.influence[:, rows], cluster=res.cluster)


def subgroup_effects(
    panel,
    y: str | Sequence[str],
    *,
    by: str | Sequence[str],
    estimator: Estimator = "att_gt",
    outcomes: Sequence[str] | None = None,
    aggregate: str = "simple",
    adjust: str | None = "holm",
    alpha: float = 0.05,
    min_size: int | None = None,
    reps: int = 999,
    seed: int | np.random.Generator | None = None,
    **kw: Any,
) -> SubgroupEffects:
    """Effects of the programme on several outcomes in each worker subgroup, jointly.

    Parameters
    ----------
    panel
        A :class:`~clusterimpact.Panel`.
    y
        Outcome column or list of columns.
    by
        Subgroup column(s), e.g. ``"gender"`` or ``["gender", "site"]`` (cells are crossed).
    estimator
        ``"att_gt"`` (Callaway-Sant'Anna, aggregated with ``aggregate="simple"``),
        ``"did"`` (two periods) or ``"twfe"``.
    outcomes
        More outcome columns, appended to ``y``.
    aggregate
        Aggregation of ``att_gt`` (only ``"simple"``: one ATT per subgroup).
    adjust
        Multiplicity adjustment over the whole (outcome x subgroup) table:
        ``"holm"``, ``"bonferroni"``, ``"fdr_bh"``, ``"romano_wolf"`` or ``None``.
    alpha
        One minus the confidence level.
    min_size
        If given, :func:`~clusterimpact.workers.cell_sizes` warns about
        subgroups with fewer units than this in an arm.
    reps, seed
        Bootstrap draws and randomness of the Romano-Wolf adjustment.
    **kw
        Passed to the estimator (``covariates=``, ``control=``, ``vcov=`` ...).

    Returns
    -------
    SubgroupEffects
        One row per (outcome, subgroup) with a joint covariance across all rows.

    Notes
    -----
    With :math:`\\psi^{(r)}_i` the influence functions of estimate :math:`r` on rows
    :math:`i` (scaled so that :math:`\\hat\\theta_r - \\theta_r \\approx n_r^{-1}
    \\sum_i \\psi^{(r)}_i`), the cluster scores :math:`S_{cr} = n_r^{-1}\\sum_{i \\in c}
    \\psi^{(r)}_i` give :math:`\\widehat{Cov}(\\hat\\theta_r, \\hat\\theta_s) = \\sum_c
    S_{cr}S_{cs}`, clustered on ``panel.cluster`` (no small-sample factor: for
    ``twfe`` this is CR0, not the CR1 of the single-outcome result).

    References
    ----------
    Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with
    multiple time periods. *Journal of Econometrics*, 225(2), 200-230.

    Romano, J. P. and Wolf, M. (2005). Stepwise multiple testing as formalized
    data snooping. *Econometrica*, 73(4), 1237-1282.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1)
    >>> res = ci.workers.subgroup_effects(sim.panel, "earnings", outcomes=["employed"],
    ...                                   by="site", adjust="fdr_bh")
    >>> res.tidy().shape[0], res.vcov.shape
    (6, (6, 6))
    """
    if estimator not in get_args(Estimator):
        raise SpecificationError(f"estimator must be one of {get_args(Estimator)}, got {estimator!r}."
                                 + suggest(str(estimator), get_args(Estimator)))
    names = [y] if isinstance(y, str) else list(y)
    names += [o for o in (outcomes or []) if o not in names]
    if not names:
        raise SpecificationError("Give at least one outcome.")
    by_cols = [by] if isinstance(by, str) else list(by)
    if not by_cols:
        raise SpecificationError("subgroup_effects needs by= (a column or list of columns).")
    if min_size is not None:
        from clusterimpact.workers.categories import cell_sizes

        cell_sizes(panel, by_cols, min_size=min_size)
    results = [_one(panel, name, by_cols, estimator, aggregate, dict(kw)) for name in names]
    est, scores = stack_results(results, panel.n_clusters)
    vcov = scores.T @ scores
    keys = pd.concat([r.keys[by_cols].assign(outcome=n) for n, r in zip(names, results, strict=True)],
                     ignore_index=True)[["outcome", *by_cols]]
    padj = adjust_pvalues(est, scores, method=adjust, reps=reps, seed=seed)
    info = {**results[0].info, "estimator": f"Subgroup effects ({estimator})",
            "outcome": ", ".join(names), "by": by_cols, "adjust": adjust,
            "vcov_type": f"stacked influence functions, clustered by {panel.cluster or 'unit'}",
            "notes": []}
    return SubgroupEffects(keys=keys, estimate=est, vcov=vcov, alpha=alpha,
                           extra=pd.DataFrame({"p_value_adjusted": padj}), info=info,
                           influence=scores * scores.shape[0],
                           cluster=np.arange(scores.shape[0]), scores=scores)
