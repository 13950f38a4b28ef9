"""Contrasts between subgroup estimates (``Result.compare``).

For subgroup estimates :math:`\\hat\\theta_1, \\dots, \\hat\\theta_S` with joint
covariance :math:`V` (from stacked influence functions), the pairwise
difference :math:`\\hat\\theta_b - \\hat\\theta_a` has variance
:math:`V_{aa} + V_{bb} - 2V_{ab}`, and the joint hypothesis of equal effects
:math:`C\\theta = 0` with :math:`C` the :math:`(S-1) \\times S` matrix of
successive differences is tested by the Wald statistic
:math:`W = (C\\hat\\theta)'(CVC')^{-1}(C\\hat\\theta) \\sim \\chi^2_{S-1}`.
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from clusterimpact.errors import SpecificationError

if TYPE_CHECKING:
    from clusterimpact.results.base import Result


def _labels(keys: pd.DataFrame, by: list[str]) -> list[str]:
    return [" & ".join(str(v) for v in row) for row in keys[by].itertuples(index=False)]


def compare_subgroups(result: Result, *, adjust: str | None = "holm") -> Result:
    """Pairwise subgroup differences and the joint equality test; see :meth:`Result.compare`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from clusterimpact.results import Result
    >>> r = Result(pd.DataFrame({"g": ["a", "b", "c"]}), np.array([1.0, 2.0, 4.0]),
    ...            np.eye(3), info={"by": ["g"]})
    >>> compare_subgroups(r).tidy()["contrast"].tolist()
    ['b - a', 'c - a', 'c - b', 'all equal']
    """
    from clusterimpact.results.base import Result

    by = result.by
    if not by:
        raise SpecificationError(
            "compare() needs a result estimated with by=...; this one has no subgroups."
        )
    other = [c for c in result.keys.columns if c not in by]
    if other and result.keys[other].drop_duplicates().shape[0] > 1:
        raise SpecificationError(
            "compare() needs one estimate per subgroup, but this result has several per subgroup "
            f"(keys {other}). Aggregate first, e.g. res.aggregate('simple').compare()."
        )
    ok = np.isfinite(result.estimate) & np.isfinite(np.diag(result.vcov))
    if ok.sum() < 2:
        raise SpecificationError("compare() needs at least two subgroups with finite estimates.")
    labels = np.array(_labels(result.keys, by))[ok]
    theta = result.estimate[ok]
    vcov = result.vcov[np.ix_(ok, ok)]
    s = theta.size
    pairs = list(combinations(range(s), 2))
    contrast = np.zeros((len(pairs), s))
    for row, (a, b) in enumerate(pairs):
        contrast[row, a], contrast[row, b] = -1.0, 1.0
    est = contrast @ theta
    cov = contrast @ vcov @ contrast.T
    # joint test of equal effects on successive differences
    succ = np.diff(np.eye(s), axis=0)
    diff = succ @ theta
    wald = float(diff @ np.linalg.pinv(succ @ vcov @ succ.T) @ diff)
    joint_p = float(stats.chi2.sf(wald, s - 1))

    names = [f"{labels[b]} - {labels[a]}" for a, b in pairs]
    keys = pd.DataFrame({"contrast": [*names, "all equal"]})
    k = len(pairs)
    full_est = np.append(est, np.nan)
    full_cov = np.full((k + 1, k + 1), np.nan)
    full_cov[:k, :k] = cov
    res = Result(
        keys=keys,
        estimate=full_est,
        vcov=full_cov,
        alpha=result.alpha,
        dof=result.dof if np.isscalar(result.dof) or result.dof is None else None,
        info={**result.info, "estimator": f"Subgroup contrasts ({', '.join(by)})", "by": []},
    )
    tidy = res.tidy()
    pvals = tidy["p_value"].to_numpy().copy()
    stat = tidy["statistic"].to_numpy().copy()
    pvals[-1], stat[-1] = joint_p, wald
    adjusted = pvals.copy()
    if adjust is not None and k > 1:
        from statsmodels.stats.multitest import multipletests

        adjusted[:k] = multipletests(pvals[:k], method=adjust)[1]
    extra = pd.DataFrame(
        {
            "statistic": stat,
            "p_value": pvals,
            "p_value_adjusted": adjusted,
            "test_df": [np.nan] * k + [s - 1],
        }
    )
    object.__setattr__(res, "extra", extra)
    return res
