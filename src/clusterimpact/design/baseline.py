"""Baseline tables: conditions in treated and comparison units before the programme.

The reviews of CSR in industrial clusters find that evaluations rarely record
conditions before an initiative. :func:`baseline` compares treated and
comparison units on any outcome in the pre-programme window, with
cluster-robust standard errors of the differences and normalised differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.design.panel import Panel
from clusterimpact.errors import SpecificationError
from clusterimpact.results.base import Result

__all__ = ["baseline"]


def _baseline_rows(panel: Panel, period: Any) -> np.ndarray:
    """Boolean mask of the rows in the baseline window."""
    if period is None:
        first_cohort = panel.cohorts.min()
        mask = panel.time_value < first_cohort
        if not mask.any():
            raise SpecificationError(
                "No period precedes the first treated cohort, so there is no baseline. "
                "Pass period= to choose one."
            )
        return mask
    wanted = list(period) if isinstance(period, list | tuple | np.ndarray | pd.Index) else [period]
    known = list(panel.periods)
    missing = [p for p in wanted if p not in known]
    if missing:
        raise SpecificationError(
            f"Baseline period(s) {missing} not observed; observed periods are {known[:12]}"
            + (" ..." if len(known) > 12 else "") + "."
        )
    values = panel.period_values[[known.index(p) for p in wanted]]
    return np.isin(panel.time_value, values)


def _arm_stats(y: np.ndarray, w: np.ndarray, arm: np.ndarray) -> tuple[float, float, float, float]:
    """Weighted mean, SD, count and weight total of ``y`` within ``arm``."""
    wa, ya = w[arm], y[arm]
    total = wa.sum()
    if total <= 0:
        return np.nan, np.nan, 0.0, 0.0
    mean = float(np.dot(wa, ya) / total)
    var = float(np.dot(wa, (ya - mean) ** 2) / total)
    n = float(arm.sum())
    sd = float(np.sqrt(var * n / (n - 1))) if n > 1 else np.nan
    return mean, sd, n, float(total)


def baseline(
    panel: Panel,
    outcomes: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    period: Any = None,
    alpha: float = 0.05,
) -> Result:
    """Compare treated and comparison units before the programme.

    Treated units are those ever treated in the data; comparison units are the
    never treated (or, when there are none, the units of later cohorts are
    compared with the earliest cohort). All rows in the baseline window are
    pooled, so repeated pre-period observations of a unit count once per
    period and the standard errors are clustered on ``panel.cluster``.

    Parameters
    ----------
    panel
        The evaluation :class:`~clusterimpact.Panel`.
    outcomes
        One or more numeric columns (outcomes or covariates).
    by
        Worker or firm subgroup column(s): one comparison per subgroup.
    period
        Baseline period(s) in the units of ``panel.time``; default: every
        period before the first cohort is treated.
    alpha
        One minus the confidence level.

    Returns
    -------
    Result
        ``tidy()`` has ``variable`` (and the ``by`` columns), ``estimate``
        (treated minus comparison mean), its cluster-robust ``std_error``,
        ``p_value``, ``conf_low``, ``conf_high``, and ``mean_treated``,
        ``sd_treated``, ``n_treated``, ``mean_comparison``, ``sd_comparison``,
        ``n_comparison``, ``normalized_difference``.

    Notes
    -----
    With weights :math:`w_i`, arm means :math:`\\bar y_a = \\sum_{i\\in a} w_i
    y_i / \\sum_{i \\in a} w_i`; the difference :math:`\\hat\\delta = \\bar y_1 -
    \\bar y_0` has influence function :math:`\\psi_i = D_i w_i (y_i - \\bar
    y_1)/W_1 - (1 - D_i) w_i (y_i - \\bar y_0)/W_0`, and the cluster-robust
    variance is :math:`\\frac{G}{G-1}\\sum_g (\\sum_{i \\in g} \\psi_i)^2`, with a
    t reference distribution on :math:`G - 1` degrees of freedom. The
    normalised difference is :math:`(\\bar y_1 - \\bar y_0) / \\sqrt{(s_1^2 +
    s_0^2)/2}` (Imbens & Rubin 2015, ch. 14); values above about 0.25 signal
    imbalance that regression adjustment alone may not fix.

    References
    ----------
    Imbens, G. W. and Rubin, D. B. (2015). *Causal Inference for Statistics,
    Social, and Biomedical Sciences*. Cambridge University Press.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
    ...              cohort="first.treat")
    >>> tab = ci.baseline(p, ["lemp", "lpop"]).tidy()
    >>> tab[["variable", "n_treated", "n_comparison"]].to_dict("list")
    {'variable': ['lemp', 'lpop'], 'n_treated': [191.0, 191.0], 'n_comparison': [309.0, 309.0]}
    """
    names = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    if not names:
        raise SpecificationError("baseline() needs at least one outcome column.")
    rows = _baseline_rows(panel, period)
    if panel.has_never_treated:
        arm = np.isfinite(panel.cohort_value)
        comparison_label = "never treated"
    else:
        arm = panel.cohort_value == panel.cohorts.min()
        comparison_label = "later cohorts"
    group_codes, group_labels = panel.groups(by)
    by_names = [] if by is None else ([by] if isinstance(by, str) else list(by))

    keys, estimates, extras, influence = [], [], [], []
    n_clusters = panel.n_clusters
    for name in names:
        y_all = panel.column(name, role="baseline variable")
        for g in range(len(group_labels)):
            sel = rows & (group_codes == g) & ~np.isnan(y_all)
            y, w, d = y_all[sel], panel.weights[sel], arm[sel]
            m1, s1, n1, w1 = _arm_stats(y, w, d)
            m0, s0, n0, w0 = _arm_stats(y, w, ~d)
            psi = np.zeros(sel.sum())
            if w1 > 0 and w0 > 0:
                psi = np.where(d, w * (y - m1) / w1, -w * (y - m0) / w0)
            influence.append(np.bincount(panel.cluster_code[sel], psi, minlength=n_clusters))
            keys.append({"variable": name, **group_labels.iloc[g].to_dict()} if by_names
                        else {"variable": name})
            estimates.append(m1 - m0)
            pooled = np.sqrt((s1**2 + s0**2) / 2) if np.isfinite(s1) and np.isfinite(s0) else np.nan
            extras.append({
                "mean_treated": m1, "sd_treated": s1, "n_treated": n1,
                "mean_comparison": m0, "sd_comparison": s0, "n_comparison": n0,
                "normalized_difference": (m1 - m0) / pooled if pooled and pooled > 0 else np.nan,
            })
    scores = np.column_stack(influence)
    g_eff = int((np.abs(scores).sum(axis=1) > 0).sum())
    factor = g_eff / (g_eff - 1) if g_eff > 1 else np.nan
    vcov = factor * scores.T @ scores
    for j, est in enumerate(estimates):
        if not np.isfinite(est):
            vcov[j, :] = vcov[:, j] = np.nan
    return Result(
        keys=pd.DataFrame(keys),
        estimate=np.asarray(estimates, dtype=float),
        vcov=vcov,
        alpha=alpha,
        dof=float(max(g_eff - 1, 1)),
        extra=pd.DataFrame(extras),
        info={
            "estimator": "Baseline comparison (treated minus " + comparison_label + ")",
            "n_obs": int(rows.sum()),
            "n_clusters": g_eff,
            "vcov_type": f"cluster-robust ({panel.cluster})",
            "by": by_names,
            "baseline_periods": [str(p) for p in panel.periods[np.isin(panel.period_values,
                                                                       np.unique(panel.time_value[rows]))]],
        },
    )
