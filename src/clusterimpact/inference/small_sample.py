"""Small-sample correction for influence-function variances of cohort comparisons.

The analytic variance of a group-time effect (R ``did``'s) is
:math:`\\hat V = \\sum_c \\hat u_c^2`, with :math:`\\hat u_c` cluster :math:`c`'s summed
influence function, and its intervals use the normal distribution. Without
covariates, :math:`\\widehat{ATT}(g,t)` is a difference of two weighted cluster means
(the cohort :math:`g` and its comparison units), :math:`\\hat u_c` is the cluster's
deviation from its arm's mean, and

.. math:: E[\\hat u_c^2] = (1 - h_c)\\,\\sigma_c^2, \\qquad h_c = W_c / W_a,

where :math:`W_c` is the cluster's weight in arm :math:`a` and :math:`W_a` the arm's:
each arm loses one degree of freedom to its estimated mean, so with ten clusters per
cohort the variance is 10% too small. The correction below is the cluster-level HC2
(Bell & McCaffrey 2002) of that comparison of means,
:math:`\\tilde u_c = \\hat u_c / \\sqrt{1 - h_c}`, unbiased when the cluster totals are
homoskedastic within arm, with the arms taken to be the cohorts (a cluster with units
in several cohorts gets the weight-averaged leverage
:math:`h_c = \\sum_g W_{cg}^2 / (W_c W_g)`); and intervals use Student's *t* with the
Welch-Satterthwaite degrees of freedom (Satterthwaite 1946; Welch 1947)

.. math:: \\nu = \\frac{(\\sum_a V_a)^2}{\\sum_a V_a^2 / (G_a - 1)}, \\qquad
          V_a = \\sum_{c \\in a} \\tilde u_c^2,

the arm of a cluster being its largest cohort and :math:`G_a` the number of clusters
in arm :math:`a`. For a single cell with never-treated comparisons this is Welch's
two-sample *t* test on cluster means (exact for equal cluster sizes). Aggregations
apply the same leverages to their summed influence functions. With not-yet-treated
comparisons a cluster's leverage within its cell's pooled comparison group is smaller
than within its cohort, so the correction is then slightly conservative. Imbens &
Kolesár (2016) show why both parts are needed: the leverage adjustment removes the
bias, the *t* reference accounts for the noise of a variance estimated from few
clusters per arm.

References
----------
Bell, R. M. and McCaffrey, D. F. (2002). Bias reduction in standard errors for linear
regression with multi-stage samples. *Survey Methodology*, 28(2), 169-181.

Imbens, G. W. and Kolesár, M. (2016). Robust standard errors in small samples: some
practical advice. *Review of Economics and Statistics*, 98(4), 701-712.

Welch, B. L. (1947). The generalization of 'Student's' problem when several different
population variances are involved. *Biometrika*, 34(1/2), 28-35.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = ["ArmLeverage", "arm_leverage", "leverage_scale", "small_sample_vcov", "welch_dof"]

_ONE = 1.0 - 1e-12  # a cluster alone in its arm: its deviation is zero, left unscaled


@dataclass(frozen=True)
class ArmLeverage:
    """Per-cluster leverages and arms, one column per subgroup.

    ``leverage[c, s]`` is :math:`h_c` within subgroup ``s`` (0 where the cluster
    has no units of ``s``); ``arm[c, s]`` the cluster's largest cohort in ``s``
    (-1 when it has none); ``n_arms`` the number of cohort codes.
    """

    leverage: np.ndarray
    arm: np.ndarray
    n_arms: int


def arm_leverage(block_row: np.ndarray, block_cg: np.ndarray, block_weight: np.ndarray,
                 n_rows: int, n_groups: int, n_cohorts: int) -> ArmLeverage:
    """Leverages :math:`h_c = \\sum_g W_{cg}^2/(W_c W_g)` from (cluster, subgroup-cohort) blocks.

    Parameters
    ----------
    block_row, block_cg, block_weight
        For each block of units: its influence-function row (cluster), its
        ``subgroup * n_cohorts + cohort`` code and its summed weight.
    n_rows, n_groups, n_cohorts
        Clusters, subgroups and cohort codes (never-treated included).

    Examples
    --------
    >>> import numpy as np
    >>> lev = arm_leverage(np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]),
    ...                    np.array([1.0, 3.0, 2.0, 2.0]), 4, 1, 2)
    >>> lev.leverage.ravel().tolist(), lev.arm.ravel().tolist()
    ([0.25, 0.75, 0.5, 0.5], [0, 0, 1, 1])
    """
    n_cells = n_groups * n_cohorts
    w_code = np.bincount(block_cg, weights=block_weight, minlength=n_cells)
    key = block_row * n_groups + block_cg // n_cohorts
    w_row = np.bincount(key, weights=block_weight, minlength=n_rows * n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        h = np.bincount(key, weights=block_weight ** 2 / w_code[block_cg],
                        minlength=n_rows * n_groups) / w_row
    h = np.where(w_row > 0, h, 0.0)
    arm = np.full(n_rows * n_groups, -1, dtype=np.int64)
    order = np.lexsort((-block_weight, key))  # the heaviest block of each (row, subgroup) first
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
    arm[key[first]] = block_cg[first] % n_cohorts
    return ArmLeverage(h.reshape(n_rows, n_groups), arm.reshape(n_rows, n_groups), n_cohorts)


def leverage_scale(lev: ArmLeverage, groups: np.ndarray) -> np.ndarray:
    """``(clusters, k)`` factors :math:`1/\\sqrt{1 - h_c}` for columns of subgroups ``groups``.

    Examples
    --------
    >>> import numpy as np
    >>> lev = ArmLeverage(np.array([[0.25], [0.75], [1.0]]), np.array([[0], [0], [1]]), 2)
    >>> leverage_scale(lev, np.array([0])).ravel().round(4).tolist()
    [1.1547, 2.0, 1.0]
    """
    h = lev.leverage[:, np.asarray(groups)]
    return np.where((h > 0) & (h < _ONE), 1.0 / np.sqrt(np.clip(1.0 - h, 1e-300, None)), 1.0)


def welch_dof(adjusted: np.ndarray, groups: np.ndarray, lev: ArmLeverage) -> np.ndarray:
    """Welch-Satterthwaite df of each column of leverage-adjusted influence functions.

    :math:`\\nu = (\\sum_a V_a)^2 / \\sum_a V_a^2/(G_a - 1)` with :math:`V_a` the sum of
    squares of the column over the clusters of arm :math:`a` (the cohort arms of the
    column's subgroup) and :math:`G_a` their number.

    Examples
    --------
    >>> import numpy as np
    >>> lev = ArmLeverage(np.full((4, 1), 0.5), np.array([[0], [0], [1], [1]]), 2)
    >>> welch_dof(np.array([[1.0], [-1.0], [2.0], [-2.0]]), np.array([0]), lev).round(4).tolist()
    [1.4706]
    """
    groups = np.asarray(groups)
    dof = np.full(groups.size, np.nan)
    sq = np.asarray(adjusted, dtype=float) ** 2
    for s in np.unique(groups):
        cols = np.flatnonzero(groups == s)
        arm = lev.arm[:, s]
        rows = np.flatnonzero(arm >= 0)
        onehot = sparse.csr_matrix((np.ones(rows.size), (arm[rows], rows)),
                                   shape=(lev.n_arms, arm.size))
        v_arm = onehot @ sq[:, cols]
        g_arm = np.bincount(arm[rows], minlength=lev.n_arms)
        denom = (v_arm ** 2 / np.maximum(g_arm - 1, 1)[:, None]).sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            dof[cols] = v_arm.sum(0) ** 2 / denom
    return dof


def small_sample_vcov(infl: np.ndarray, groups: np.ndarray, lev: ArmLeverage
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leverage-adjusted covariance and Welch-Satterthwaite df of influence-function columns.

    Parameters
    ----------
    infl
        ``(clusters, k)`` summed influence functions on the variance scale
        (:math:`\\hat V = U'U`).
    groups
        Subgroup of each column (its leverages and arms).
    lev
        From :func:`arm_leverage`.

    Returns
    -------
    vcov, dof, adjusted
        :math:`\\tilde U'\\tilde U`, the degrees of freedom of each column and
        :math:`\\tilde U` itself (for resampling).

    Examples
    --------
    Welch's test on cluster means: arms of 3 and 4 clusters.

    >>> import numpy as np
    >>> y = np.array([1.0, 2.0, 4.0, 0.0, 1.0, 1.0, 2.0])
    >>> arm = np.array([0, 0, 0, 1, 1, 1, 1])
    >>> n = np.bincount(arm)
    >>> u = (y - np.bincount(arm, y)[arm] / n[arm]) / n[arm] * np.where(arm == 0, 1, -1)
    >>> lev = ArmLeverage((1 / n[arm])[:, None], arm[:, None], 2)
    >>> vcov, dof, _ = small_sample_vcov(u[:, None], np.array([0]), lev)
    >>> from scipy import stats
    >>> t = stats.ttest_ind(y[:3], y[3:], equal_var=False)
    >>> bool(np.isclose((7 / 3 - 1) / np.sqrt(vcov[0, 0]), t.statistic)), bool(np.isclose(dof[0], t.df))
    (True, True)
    """
    adjusted = np.asarray(infl, dtype=float) * leverage_scale(lev, groups)
    return adjusted.T @ adjusted, welch_dof(adjusted, groups, lev), adjusted
