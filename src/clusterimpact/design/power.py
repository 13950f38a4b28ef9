"""Minimum detectable effects, power and sample size for designs with clustered assignment.

Two designs:

- ``design="cross_section"``: a cluster-randomised comparison of one post-period
  cross-section (Bloom 1995; Duflo, Glennerster & Kremer 2007), with the
  intra-cluster correlation (ICC) design effect;
- ``design="did"``: difference-in-differences of cluster means over ``pre``
  and ``post`` periods with serially correlated errors (Burlig, Preonas &
  Woerman 2020), the usual design for evaluating a cluster programme.

All functions take the outcome's standard deviation ``sd`` (default 1, so
effects are in SD units) and return plain floats or integers.

Examples
--------
>>> from clusterimpact import power
>>> round(power.mde(clusters=40, units_per_cluster=25, icc=0.05), 4)
0.2698
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import optimize, stats

from clusterimpact.design.power_sim import PowerSimulation, simulate
from clusterimpact.errors import SpecificationError

__all__ = ["PowerSimulation", "clusters_needed", "did_variance", "mde", "power", "simulate"]



def did_variance(pre: int, post: int, *, autocorr: float = 0.0, corr: np.ndarray | None = None) -> float:
    """Variance of (mean of post periods - mean of pre periods) for a unit with unit-variance errors.

    Notes
    -----
    With :math:`m` pre and :math:`r` post periods and error correlation
    matrix :math:`R` (AR(1), :math:`R_{st} = \\phi^{|s-t|}`, unless ``corr`` is
    given), the variance is :math:`a'Ra` with :math:`a = (-1/m, \\dots, -1/m,
    1/r, \\dots, 1/r)`. This equals Burlig, Preonas & Woerman's (2020)
    :math:`(1/m + 1/r)\\sigma^2 + \\frac{m-1}{m}\\bar\\psi^B + \\frac{r-1}{r}
    \\bar\\psi^A - 2\\bar\\psi^X` in units of :math:`\\sigma^2`, where
    :math:`\\bar\\psi^B, \\bar\\psi^A, \\bar\\psi^X` are the average
    covariances within the pre period, within the post period and across.

    Examples
    --------
    >>> did_variance(1, 1)
    2.0
    >>> round(did_variance(3, 3, autocorr=0.5), 4)
    0.8819
    """
    if pre < 1 or post < 1:
        raise SpecificationError(f"pre and post must be at least 1, got {pre} and {post}.")
    t = pre + post
    if corr is None:
        if not -1 < autocorr < 1:
            raise SpecificationError(f"autocorr must lie in (-1, 1), got {autocorr}.")
        lags = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))
        corr = autocorr**lags
    corr = np.asarray(corr, dtype=float)
    if corr.shape != (t, t):
        raise SpecificationError(f"corr must be {t} x {t} (pre + post periods), got {corr.shape}.")
    a = np.r_[np.full(pre, -1.0 / pre), np.full(post, 1.0 / post)]
    return float(a @ corr @ a)


def _se(clusters: float, units_per_cluster: float, icc: float, treated_share: float, design: str,
        pre: int, post: int, autocorr: float, corr: np.ndarray | None, sd: float) -> float:
    if not 0 <= icc <= 1:
        raise SpecificationError(f"icc must lie in [0, 1], got {icc}.")
    if not 0 < treated_share < 1:
        raise SpecificationError(f"treated_share must lie in (0, 1), got {treated_share}.")
    if clusters <= 2 or units_per_cluster < 1:
        raise SpecificationError("Need more than 2 clusters and at least 1 unit per cluster.")
    # variance of one cluster mean (in units of sd^2): ICC design effect
    cluster_var = icc + (1 - icc) / units_per_cluster
    if design == "did":
        cluster_var *= did_variance(pre, post, autocorr=autocorr, corr=corr)
    elif design != "cross_section":
        raise SpecificationError(f"design must be 'cross_section' or 'did', got {design!r}.")
    return sd * np.sqrt(cluster_var / (treated_share * (1 - treated_share) * clusters))


def _multiplier(alpha: float, target: float, df: float | None) -> float:
    dist = stats.norm if df is None else stats.t(df)
    return float(dist.ppf(1 - alpha / 2) + dist.ppf(target))


def mde(clusters: float, units_per_cluster: float = 1, icc: float = 0.0, *, treated_share: float = 0.5,
        design: Literal["cross_section", "did"] = "cross_section", pre: int = 1, post: int = 1,
        autocorr: float = 0.0, corr: np.ndarray | None = None, sd: float = 1.0, alpha: float = 0.05,
        target_power: float = 0.8, dist: Literal["t", "normal"] = "t") -> float:
    """Minimum detectable effect of a two-arm design with clustered assignment.

    Parameters
    ----------
    clusters
        Total number of clusters :math:`J` (both arms).
    units_per_cluster
        Units (workers, firms) sampled per cluster, :math:`n`.
    icc
        Intra-cluster correlation :math:`\\rho` of the outcome.
    treated_share
        Share :math:`P` of clusters treated.
    design
        ``"cross_section"`` (one post-period comparison) or ``"did"``.
    pre, post
        DiD: number of pre and post periods :math:`m, r`.
    autocorr
        DiD: AR(1) autocorrelation :math:`\\phi` of cluster-mean errors across periods.
    corr
        DiD: a full :math:`(m + r)\\times(m + r)` error correlation matrix instead.
    sd
        Standard deviation :math:`\\sigma` of the outcome (1: effects in SD units).
    alpha
        Two-sided test size.
    target_power
        Power :math:`1 - \\kappa`.
    dist
        ``"t"`` with :math:`J - 2` degrees of freedom (default) or ``"normal"``.

    Returns
    -------
    float
        The MDE in the units of ``sd``.

    Notes
    -----
    Cross-section (Bloom 1995; Duflo, Glennerster & Kremer 2007, eq. 11):

    .. math:: MDE = (t_{1-\\alpha/2} + t_{1-\\kappa})\\,\\sigma\\,
              \\sqrt{\\frac{\\rho + (1-\\rho)/n}{P(1-P)J}}.

    DiD (Burlig, Preonas & Woerman 2020): the cluster-mean variance
    :math:`\\sigma^2(\\rho + (1-\\rho)/n)` is multiplied by
    :func:`did_variance`, :math:`a'Ra`, which with AR(1) errors is
    :math:`(1/m + 1/r) + \\frac{m-1}{m}\\bar\\psi^B + \\frac{r-1}{r}\\bar\\psi^A
    - 2\\bar\\psi^X`; with :math:`\\phi = 0` it is :math:`1/m + 1/r` and DiD
    needs more clusters than the cross-section, with strongly persistent
    errors fewer. Power uses the same approximation:
    :math:`1 - \\kappa = F(|\\delta|/SE - t_{1-\\alpha/2})`.

    References
    ----------
    Bloom, H. S. (1995). Minimum detectable effects: a simple way to report the
    statistical power of experimental designs. *Evaluation Review* 19, 547-556.

    Burlig, F., Preonas, L. and Woerman, M. (2020). Panel data and experimental
    design. *Journal of Development Economics* 144, 102458.

    Duflo, E., Glennerster, R. and Kremer, M. (2007). Using randomization in
    development economics research: a toolkit. *Handbook of Development Economics* 4.

    Examples
    --------
    >>> from clusterimpact import power
    >>> round(power.mde(clusters=40, units_per_cluster=25, icc=0.05, dist="normal"), 4)
    0.2628
    >>> round(power.mde(40, 25, 0.05, design="did", pre=3, post=3, autocorr=0.5), 4)
    0.2533
    """
    se = _se(clusters, units_per_cluster, icc, treated_share, design, pre, post, autocorr, corr, sd)
    return float(_multiplier(alpha, target_power, None if dist == "normal" else clusters - 2) * se)


def power(effect: float, clusters: float, units_per_cluster: float = 1, icc: float = 0.0, *,
          treated_share: float = 0.5, design: Literal["cross_section", "did"] = "cross_section",
          pre: int = 1, post: int = 1, autocorr: float = 0.0, corr: np.ndarray | None = None,
          sd: float = 1.0, alpha: float = 0.05, dist: Literal["t", "normal"] = "t") -> float:
    """Power to detect ``effect`` (the inverse of :func:`mde`; same parameters and formulas).

    Examples
    --------
    >>> from clusterimpact import power
    >>> m = power.mde(40, 25, 0.05)
    >>> round(power.power(m, 40, 25, 0.05), 6)
    0.8
    """
    se = _se(clusters, units_per_cluster, icc, treated_share, design, pre, post, autocorr, corr, sd)
    ref = stats.norm if dist == "normal" else stats.t(clusters - 2)
    return float(ref.cdf(abs(effect) / se - ref.ppf(1 - alpha / 2)))


def clusters_needed(effect: float, units_per_cluster: float = 1, icc: float = 0.0, *,
                    treated_share: float = 0.5, design: Literal["cross_section", "did"] = "cross_section",
                    pre: int = 1, post: int = 1, autocorr: float = 0.0, corr: np.ndarray | None = None,
                    sd: float = 1.0, alpha: float = 0.05, target_power: float = 0.8,
                    dist: Literal["t", "normal"] = "t", max_clusters: int = 100_000) -> int:
    """Smallest total number of clusters with at least ``target_power`` to detect ``effect``.

    Examples
    --------
    >>> from clusterimpact import power
    >>> j = power.clusters_needed(0.3, 25, 0.05)
    >>> j, power.power(0.3, j, 25, 0.05) >= 0.8 > power.power(0.3, j - 1, 25, 0.05)
    (33, True)
    """
    kw = dict(units_per_cluster=units_per_cluster, icc=icc, treated_share=treated_share, design=design,
              pre=pre, post=post, autocorr=autocorr, corr=corr, sd=sd, alpha=alpha, dist=dist)
    if effect == 0:
        raise SpecificationError("effect must be non-zero.")

    def gap(j: float) -> float:
        return power(effect, j, **kw) - target_power

    if gap(max_clusters) < 0:
        raise SpecificationError(f"Even {max_clusters} clusters do not reach power {target_power}.")
    j = 3
    if gap(j) < 0:
        j = int(np.ceil(optimize.brentq(gap, 3, max_clusters)))
    while j > 3 and gap(j - 1) >= 0:
        j -= 1
    while gap(j) < 0:
        j += 1
    return j
