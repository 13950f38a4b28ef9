"""Multiple-testing adjustments for families of indicators.

Evaluations test many decent-work indicators at once; reporting the one that
happens to be significant overstates the evidence. :func:`adjust` turns a
family of p-values (or of estimates with a joint bootstrap) into adjusted
p-values controlling the family-wise error rate (Bonferroni, Holm,
Romano-Wolf, Westfall-Young) or the false discovery rate (Benjamini-Hochberg,
Anderson's sharpened q-values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats

from clusterimpact.errors import SpecificationError
from clusterimpact.inference.multiplier import MultiplierWeights, child_seed, multiplier_draws
from clusterimpact.results.base import Result

__all__ = ["AdjustMethod", "adjust", "bootstrap_t_stats", "sharpened_qvalues"]

AdjustMethod = Literal["bonferroni", "holm", "bh", "sharpened", "romano_wolf", "westfall_young"]
_BOOT = ("romano_wolf", "westfall_young")


def _bonferroni(p: np.ndarray) -> np.ndarray:
    return np.minimum(p * p.size, 1.0)


def _holm(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    adj = np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1))
    out = np.empty_like(p)
    out[order] = np.minimum(adj, 1.0)
    return out


def _bh(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    raw = p[order] / (np.arange(1, p.size + 1) / p.size)
    adj = np.minimum.accumulate(raw[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(adj, 1.0)
    return out


def sharpened_qvalues(pvalues: Sequence[float] | np.ndarray, step: float = 0.001) -> np.ndarray:
    """Anderson (2008) sharpened FDR q-values: the two-stage step-up of Benjamini, Krieger & Yekutieli.

    Parameters
    ----------
    pvalues
        Unadjusted p-values.
    step
        Resolution of the q grid (Anderson's code: 0.001, from 1 down).

    Returns
    -------
    numpy.ndarray
        For each hypothesis the smallest grid value :math:`q` at which the
        two-stage procedure rejects it (1 if never).

    Notes
    -----
    For level :math:`q`, let :math:`q' = q/(1+q)`. Stage 1 runs Benjamini-Hochberg at
    :math:`q'` and rejects :math:`r_1` hypotheses; stage 2 runs it at
    :math:`q' m/(m - r_1)` (the number of true nulls estimated by :math:`m - r_1`). Ranks
    are average ranks of the p-values (Stata's ``egen rank``), as in Anderson's code.

    References
    ----------
    Benjamini, Y., Krieger, A. M. and Yekutieli, D. (2006). Adaptive linear step-up
    procedures that control the false discovery rate. *Biometrika*, 93(3), 491-507.

    Anderson, M. L. (2008). Multiple inference and gender differences in the effects of
    early intervention. *Journal of the American Statistical Association*, 103(484), 1481-1495.

    Examples
    --------
    >>> sharpened_qvalues([0.001, 0.01, 0.03, 0.5]).tolist()
    [0.005, 0.016, 0.021, 0.143]
    """
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    rank = stats.rankdata(p, method="average")
    grid = np.round(np.arange(round(1 / step), 0, -1) * step, 12)
    q = np.ones(m)
    for level in grid:  # descending: the last level that rejects is the smallest
        adj = level / (1 + level)
        r1 = np.max(np.where(p <= adj * rank / m, rank, 0))
        level2 = adj * m / (m - r1) if r1 < m else np.inf
        r2 = np.max(np.where(p <= level2 * rank / m, rank, 0))
        q[rank <= r2] = level
    return q


def bootstrap_t_stats(results: Result | Sequence[Result], *, reps: int = 999,
                      weights: MultiplierWeights = "rademacher",
                      seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Joint bootstrap t-statistics ``(reps, k)`` from stacked influence functions.

    Every result needs ``influence`` and ``cluster`` over the same rows (e.g.
    several outcomes estimated on one panel); the same multipliers are used for
    all columns so that the dependence between the estimates is kept.

    Notes
    -----
    With :math:`U_c = n^{-1}\\sum_{i \\in c}\\psi_i` (cluster sums of influence functions),
    draw :math:`b` is :math:`t^*_{bj} = \\sum_c v_{bc}U_{cj} / (\\sum_c U_{cj}^2)^{1/2}`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> psi = np.random.default_rng(0).normal(size=(50, 2))
    >>> r = Result(pd.DataFrame({"term": ["a", "b"]}), np.zeros(2), np.eye(2),
    ...            influence=psi, cluster=np.arange(50))
    >>> bootstrap_t_stats(r, reps=99, seed=1).shape
    (99, 2)
    """
    items = [results] if isinstance(results, Result) else list(results)
    for r in items:
        if r.influence is None or r.cluster is None:
            raise SpecificationError("A joint bootstrap needs results with influence functions and "
                                     "clusters; pass boot_stats= (a reps x k matrix) otherwise.")
    first = items[0]
    for r in items[1:]:
        if r.influence.shape[0] != first.influence.shape[0] or not np.array_equal(
                np.asarray(r.cluster), np.asarray(first.cluster)):
            raise SpecificationError("Results must share the rows and clusters of their influence "
                                     "functions (estimate them on the same panel).")
    infl = np.column_stack([r.influence for r in items]) / first.influence.shape[0]
    codes = pd.factorize(np.asarray(first.cluster))[0]
    sums = np.zeros((codes.max() + 1, infl.shape[1]))
    np.add.at(sums, codes, np.nan_to_num(infl))
    draws = multiplier_draws(sums, reps, weights=weights, seed=child_seed(seed))
    with np.errstate(divide="ignore", invalid="ignore"):
        return draws / np.sqrt((sums**2).sum(axis=0))


def _romano_wolf(t: np.ndarray, boot: np.ndarray) -> np.ndarray:
    order = np.argsort(-np.abs(t))
    bt = np.abs(boot[:, order])
    # max over the hypotheses not yet rejected: running max from the right
    tail_max = np.maximum.accumulate(bt[:, ::-1], axis=1)[:, ::-1]
    raw = (1 + (tail_max >= np.abs(t[order])[None, :]).sum(axis=0)) / (boot.shape[0] + 1)
    out = np.empty_like(raw)
    out[order] = np.maximum.accumulate(raw)
    return out


def _westfall_young(t: np.ndarray, boot: np.ndarray) -> np.ndarray:
    reps = boot.shape[0]
    at, ab = np.abs(t), np.abs(boot)
    p = (1 + (ab >= at[None, :]).sum(axis=0)) / (reps + 1)
    # bootstrap p-values of every draw from the same bootstrap law (rank of |t*|)
    srt = np.sort(ab, axis=0)
    pb = np.empty_like(ab)
    for j in range(ab.shape[1]):
        pb[:, j] = (1 + reps - np.searchsorted(srt[:, j], ab[:, j], side="left")) / (reps + 1)
    order = np.argsort(p, kind="stable")
    tail_min = np.minimum.accumulate(pb[:, order][:, ::-1], axis=1)[:, ::-1]
    raw = (tail_min <= p[order][None, :]).mean(axis=0)
    out = np.empty_like(raw)
    out[order] = np.minimum(np.maximum.accumulate(raw), 1.0)
    return out


def _collect(results) -> tuple[pd.DataFrame, list[Result]]:
    if isinstance(results, Result):
        results = [results]
    if isinstance(results, Mapping):
        names, items = list(results.keys()), list(results.values())
    elif isinstance(results, pd.DataFrame):
        if "p_value" not in results:
            raise SpecificationError("A DataFrame passed to adjust() needs a 'p_value' column.")
        return results.reset_index(drop=True).copy(), []
    else:
        items = list(results)
        if items and not isinstance(items[0], Result):
            p = np.asarray(items, dtype=float)
            return pd.DataFrame({"hypothesis": np.arange(p.size), "p_value": p}), []
        names = [r.info.get("outcome") or f"result {i}" for i, r in enumerate(items)]
    frames = []
    for name, r in zip(names, items, strict=True):
        tab = r.tidy()
        keys = [" & ".join(map(str, row)) for row in r.keys.itertuples(index=False)]
        label = [f"{name}" + (f": {k}" if k and len(tab) > 1 else "") for k in keys]
        frames.append(pd.DataFrame({"hypothesis": label, "estimate": tab["estimate"],
                                    "statistic": tab["statistic"], "p_value": tab["p_value"]}))
    return pd.concat(frames, ignore_index=True), items


def adjust(results, method: AdjustMethod = "holm", *, alpha: float = 0.05,
           boot_stats: np.ndarray | None = None, reps: int = 999,
           weights: MultiplierWeights = "rademacher",
           seed: int | np.random.Generator | None = None) -> pd.DataFrame:
    """Adjust a family of tests for multiplicity.

    Parameters
    ----------
    results
        p-values (array-like), a :class:`~clusterimpact.results.Result` (its rows are
        the family), a list or dict of results (dict keys label them), or a
        DataFrame with a ``p_value`` (and for bootstrap methods ``statistic``) column.
    method
        ``"bonferroni"``, ``"holm"``, ``"bh"`` (Benjamini-Hochberg), ``"sharpened"``
        (Anderson's two-stage q-values), ``"romano_wolf"`` or ``"westfall_young"``.
    alpha
        Level for the ``reject`` column.
    boot_stats
        For the bootstrap methods: a ``(reps, k)`` matrix of bootstrap t-statistics
        centred at the estimates. By default they are drawn with
        :func:`bootstrap_t_stats` from the results' influence functions.
    reps, weights, seed
        Multiplier bootstrap settings when ``boot_stats`` is not given.

    Returns
    -------
    pandas.DataFrame
        ``hypothesis, estimate, statistic, p_value, p_value_adjusted, reject, method``
        (``estimate``/``statistic`` only when known).

    Notes
    -----
    Holm: :math:`\\tilde p_{(j)} = \\max_{i \\le j} (m - i + 1)p_{(i)}`; BH:
    :math:`\\tilde p_{(j)} = \\min_{i \\ge j} m p_{(i)}/i` (both equal to statsmodels). With
    :math:`|t|` sorted decreasingly, Romano-Wolf step-down gives
    :math:`\\tilde p_{(j)} = \\max_{i \\le j} (1 + \\#\\{b: \\max_{l \\ge i}|t^*_{b(l)}|
    \\ge |t_{(i)}|\\})/(B+1)`.
    Westfall-Young free step-down (min-P) does the same with bootstrap p-values:
    :math:`\\tilde p_{(j)} = \\max_{i \\le j} \\#\\{b: \\min_{l \\ge i} p^*_{b(l)} \\le p_{(i)}\\}/B`,
    with :math:`p` and :math:`p^*` from each statistic's own bootstrap distribution.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure.
    *Scandinavian Journal of Statistics*, 6(2), 65-70.

    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate.
    *Journal of the Royal Statistical Society B*, 57(1), 289-300.

    Romano, J. P. and Wolf, M. (2005). Stepwise multiple testing as formalized data
    snooping. *Econometrica*, 73(4), 1237-1282.

    Westfall, P. H. and Young, S. S. (1993). *Resampling-Based Multiple Testing*. Wiley.

    Examples
    --------
    >>> adjust([0.01, 0.04, 0.03], method="holm")["p_value_adjusted"].round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    methods = get_args(AdjustMethod)
    if method not in methods:
        raise SpecificationError(f"method={method!r} is not allowed; use one of {list(methods)}.")
    tab, items = _collect(results)
    p = tab["p_value"].to_numpy(dtype=float)
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise SpecificationError("All p-values must be finite and in [0, 1].")
    if method in _BOOT:
        if "statistic" not in tab:
            raise SpecificationError(f"method={method!r} needs test statistics: pass results or a "
                                     "DataFrame with a 'statistic' column, and boot_stats.")
        t = tab["statistic"].to_numpy(dtype=float)
        boot = (np.asarray(boot_stats, dtype=float) if boot_stats is not None
                else bootstrap_t_stats(items, reps=reps, weights=weights, seed=seed))
        if boot.ndim != 2 or boot.shape[1] != t.size:
            raise SpecificationError(f"boot_stats must have shape (reps, {t.size}), got {boot.shape}.")
        adj = _romano_wolf(t, boot) if method == "romano_wolf" else _westfall_young(t, boot)
    else:
        adj = {"bonferroni": _bonferroni, "holm": _holm, "bh": _bh,
               "sharpened": sharpened_qvalues}[method](p)
    tab["p_value_adjusted"] = adj
    tab["reject"] = adj <= alpha
    tab["method"] = method
    return tab
