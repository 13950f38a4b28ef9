"""Simulation-based power and minimum detectable effect of a proposed roll-out design.

The analytic formulas of :mod:`clusterimpact.design.power` assume one
comparison of period means. A staggered roll-out analysed with
Callaway-Sant'Anna is not that, and its power depends on which cells the
estimator actually uses. :func:`simulate` answers the design question
directly: draw data from the package's cluster -> worker engine
(:mod:`clusterimpact.simulate.engine`) under the proposed design, estimate
with :func:`clusterimpact.att_gt` (simple aggregation, standard errors
clustered on the assignment cluster) and count rejections.

Examples
--------
>>> import clusterimpact as ci
>>> res = ci.power.simulate([0.0, 0.5, 1.0], clusters_per_wave=10, never_treated=10,
...                         workers_per_cluster=5, periods=4, reps=20, seed=2, progress=False)
>>> res.tidy()[["effect", "power"]].to_numpy().tolist()
[[0.0, 0.05], [0.5, 0.4], [1.0, 1.0]]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from clusterimpact.errors import ClusterImpactWarning, EstimationWarning, SpecificationError
from clusterimpact.results.base import Result

__all__ = ["PowerSimulation", "simulate"]


@dataclass(frozen=True, eq=False, repr=False)
class PowerSimulation(Result):
    """Simulated power per effect size (from :func:`simulate`).

    ``estimate`` is the rejection rate at each effect size and ``vcov`` its
    Monte Carlo variance :math:`\\hat p(1-\\hat p)/R` (independent across effect
    sizes only approximately: the effect sizes share their random draws).
    ``draws`` holds every replication's estimate and standard error.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> res = ci.power.simulate([0.0, 0.3], clusters_per_wave=8, never_treated=8,
    ...                         workers_per_cluster=5, periods=4, reps=10, seed=2, progress=False)
    >>> list(res.tidy().columns[:4])
    ['effect', 'power', 'mc_std_error', 'conf_low']
    """

    draws: pd.DataFrame | None = None

    def tidy(self, alpha: float | None = None) -> pd.DataFrame:
        """Power per effect size with its Monte Carlo standard error.

        Returns
        -------
        pandas.DataFrame
            ``effect, power, mc_std_error, conf_low, conf_high`` (a normal
            interval for the rejection probability, clipped to [0, 1]),
            ``mean_estimate, sd_estimate, mean_std_error`` (of the ATT across
            replications), ``analytic_power`` (two-sided, from the standard error of
            :func:`clusterimpact.power.mde` for the same design where it applies,
            else NaN) and ``reps``.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> res = ci.power.simulate([0.0], clusters_per_wave=8, never_treated=8,
        ...                         workers_per_cluster=5, periods=4, reps=10, seed=2, progress=False)
        >>> int(res.tidy()["reps"].iloc[0])
        10
        """
        crit = stats.norm.ppf(1 - (self.alpha if alpha is None else alpha) / 2)
        se = self.std_error
        out = self.keys.copy()
        out["power"] = self.estimate
        out["mc_std_error"] = se
        out["conf_low"] = np.clip(self.estimate - crit * se, 0.0, 1.0)
        out["conf_high"] = np.clip(self.estimate + crit * se, 0.0, 1.0)
        if self.extra is not None:
            for col in self.extra.columns:
                out[col] = self.extra[col].to_numpy()
        return out

    def mde(self, power: float = 0.8) -> float:
        """Smallest effect with the target power, by linear interpolation on the grid.

        Uses the non-negative effect sizes in increasing order (power is taken to be
        increasing in the effect) and interpolates linearly between the last grid
        point below ``power`` and the first at or above it.

        Returns
        -------
        float
            The interpolated MDE; NaN (with a warning) if the grid never reaches ``power``.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> res = ci.power.simulate([0.0, 0.5, 1.0], clusters_per_wave=10, never_treated=10,
        ...                         workers_per_cluster=5, periods=4, reps=20, seed=2, progress=False)
        >>> round(res.mde(0.8), 3)
        0.833
        """
        if not 0 < power < 1:
            raise SpecificationError(f"power must lie in (0, 1), got {power}.")
        effect = self.keys["effect"].to_numpy(dtype=float)
        keep = effect >= 0
        order = np.argsort(effect[keep])
        x, y = effect[keep][order], self.estimate[keep][order]
        above = np.flatnonzero(y >= power)
        if above.size == 0:
            warnings.warn(f"No effect size on the grid reaches power {power} (largest: "
                          f"{x.max() if x.size else np.nan}); extend the grid.", EstimationWarning,
                          stacklevel=2)
            return float("nan")
        k = int(above[0])
        if k == 0:
            return float(x[0])
        x0, x1, y0, y1 = x[k - 1], x[k], y[k - 1], y[k]
        return float(x0 + (power - y0) * (x1 - x0) / (y1 - y0))

    def plot(self, ax=None, *, target: float = 0.8, **kwargs):
        """Power against effect size with Monte Carlo intervals (and the analytic curve); returns the Axes.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> res = ci.power.simulate([0.0, 0.5], clusters_per_wave=8, never_treated=8,
        ...                         workers_per_cluster=5, periods=4, reps=10, seed=2, progress=False)
        >>> ax = res.plot()
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        tab = self.tidy().sort_values("effect")
        err = np.vstack([tab["power"] - tab["conf_low"], tab["conf_high"] - tab["power"]])
        ax.errorbar(tab["effect"], tab["power"], yerr=err, marker="o", capsize=3,
                    label=f"simulated ({int(tab['reps'].iloc[0])} reps)", **kwargs)
        if tab["analytic_power"].notna().any():
            ax.plot(tab["effect"], tab["analytic_power"], linestyle="--", color="grey", label="analytic")
        ax.axhline(self.alpha, color="grey", linewidth=0.8, linestyle=":")
        ax.axhline(target, color="black", linewidth=0.8, linestyle=":")
        ax.set_xlabel("effect size (SD of the time-varying error)")
        ax.set_ylabel("power")
        ax.set_ylim(0, 1.02)
        ax.legend(frameon=False)
        return ax


def _design(clusters_per_wave, never_treated: int, cohorts, periods: int, workers_per_cluster: int,
            icc: float, autocorr: float):
    from clusterimpact.simulate.params import Outcome, SimParams

    sizes = (int(clusters_per_wave),) if np.isscalar(clusters_per_wave) else tuple(
        int(s) for s in clusters_per_wave)
    if not sizes or min(sizes) < 1:
        raise SpecificationError(
            f"clusters_per_wave needs a positive count per wave, got {clusters_per_wave}.")
    if never_treated < 0:
        raise SpecificationError(f"never_treated must be non-negative, got {never_treated}.")
    if cohorts is None:
        first = periods // 2 + 1
        cohorts = tuple(range(first, first + len(sizes)))
        if cohorts[-1] > periods:
            raise SpecificationError(f"{len(sizes)} waves do not fit in {periods} periods after "
                                     f"{periods // 2} pre-periods; give cohorts= or more periods.")
    cohorts = tuple(int(c) for c in cohorts)
    if len(cohorts) != len(sizes):
        raise SpecificationError(f"cohorts {cohorts} and clusters_per_wave {sizes} differ in length.")
    if not 0 <= icc < 1:
        raise SpecificationError(f"icc must lie in [0, 1), got {icc}.")
    if int(workers_per_cluster) < 1:
        raise SpecificationError(f"workers_per_cluster must be at least 1, got {workers_per_cluster}.")
    # persistent cluster and worker effects are differenced out; the time-varying error has
    # variance 1: icc from cluster-by-period shocks, 1 - icc idiosyncratic (AR(1) with autocorr)
    y = Outcome("y", baseline=0.0, cluster_sd=0.5, unit_sd=0.5, time_sd=0.2, cluster_time_sd=np.sqrt(icc),
                noise_sd=np.sqrt(1.0 - icc), rho=autocorr, effect=1.0)
    return SimParams(outcomes=(y,), level="worker", n_clusters=sum(sizes) + int(never_treated),
                     n_periods=int(periods), cohorts=cohorts, cohort_sizes=sizes,
                     firms_per_cluster=int(workers_per_cluster), tier_shares=(1.0, 0.0, 0.0),
                     workers_per_firm=(1.0, 1.0, 1.0))


def _analytic(effects: np.ndarray, params, icc: float, autocorr: float, alpha: float) -> np.ndarray:
    """Two-sided power from :func:`clusterimpact.power.mde` for one wave (pre = g - 1, post = g..T)."""
    from clusterimpact.design.power import mde

    if len(params.cohorts) != 1 or params.n_clusters - sum(params.cohort_sizes) < 1:
        return np.full(effects.size, np.nan)
    n = params.firms_per_cluster
    post = params.first_period + params.n_periods - params.cohorts[0]
    lags = np.abs(np.subtract.outer(np.arange(post + 1), np.arange(post + 1)))
    cov = icc * np.eye(post + 1) + (1 - icc) / n * autocorr**lags  # one cluster mean
    var = icc + (1 - icc) / n
    share = params.cohort_sizes[0] / params.n_clusters
    z = stats.norm.ppf(1 - alpha / 2)
    # the MDE at power 1/2 is z * SE
    se = mde(params.n_clusters, n, icc, treated_share=share, design="did", pre=1, post=post,
             corr=cov / var, alpha=alpha, target_power=0.5, dist="normal") / z
    shift = np.abs(effects) / se
    return stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z)


def _cluster_sums(res: Result) -> np.ndarray:
    infl = np.nan_to_num(np.asarray(res.influence, dtype=float)[:, 0])
    return np.bincount(np.asarray(res.cluster, dtype=np.int64), weights=infl) / infl.size


def _combine(base: Result, unit: Result, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ATT and SE of ``y0 + delta * dose`` for every delta, from the fits on ``y0`` and ``dose``.

    Without covariates ``att_gt`` and its aggregation are linear in the outcome, and so are the
    influence functions: :math:`\\hat\\theta(\\delta) = \\hat\\theta_0 + \\delta\\hat\\theta_1`,
    :math:`S_c(\\delta) = S_{0c} + \\delta S_{1c}` (cluster sums), :math:`se^2 = \\sum_c S_c^2`
    times the estimator's own scaling of :math:`\\sum_c S_{0c}^2` (1 for the analytic SE).
    """
    s0, s1 = _cluster_sums(base), _cluster_sums(unit)
    raw0 = float(s0 @ s0)
    scale = float(base.vcov[0, 0]) / raw0 if raw0 > 0 else 1.0
    sums = s0[None, :] + grid[:, None] * s1[None, :]
    return base.estimate[0] + grid * unit.estimate[0], np.sqrt(scale * np.einsum("kc,kc->k", sums, sums))


def simulate(effects: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4), *,
             clusters_per_wave: int | Sequence[int] = (10,), never_treated: int = 10,
             cohorts: Sequence[int] | None = None, workers_per_cluster: int = 20, periods: int = 6,
             icc: float = 0.05, autocorr: float = 0.0, reps: int = 500, alpha: float = 0.05,
             control: str = "never_treated", seed: int | np.random.Generator | None = None,
             progress: bool = True) -> PowerSimulation:
    """Simulated power of ``att_gt`` (simple aggregation, clustered SEs) for a proposed roll-out.

    Parameters
    ----------
    effects
        Grid of true effects, in standard deviations of the time-varying error
        (constant over event time and workers).
    clusters_per_wave
        Clusters adopting in each wave (an int for a single wave).
    never_treated
        Clusters that never adopt.
    cohorts
        Adoption period of each wave (periods are ``1..periods``); default: the
        waves adopt in consecutive periods after ``periods // 2`` pre-periods.
    workers_per_cluster
        Workers followed in each cluster (a balanced panel).
    periods
        Number of survey rounds.
    icc
        Share of the time-varying error variance due to cluster-by-period
        shocks (what clustered inference is for); the rest is idiosyncratic.
    autocorr
        AR(1) coefficient of the idiosyncratic error across periods.
    reps
        Monte Carlo replications.
    alpha
        Size of the two-sided test of no effect (normal critical value, as in
        ``att_gt``'s confidence intervals).
    control
        ``"never_treated"`` or ``"not_yet_treated"`` comparison units.
    seed
        ``int``, ``numpy.random.Generator`` or ``None``; the same seed gives the same result.
    progress
        Show a progress bar (tqdm) if the run takes longer than two seconds.

    Returns
    -------
    PowerSimulation
        ``tidy()`` with ``effect, power, mc_std_error, ...``; ``.mde(power=0.8)``;
        ``.plot()``.

    Notes
    -----
    Replication :math:`r` draws, with :func:`clusterimpact.simulate.generate`,
    :math:`Y_{ict}(0) = \\alpha_c + \\alpha_i + \\lambda_t + s_{ct} + u_{it}` with
    :math:`\\mathrm{Var}(s_{ct}) = \\rho` (``icc``), :math:`\\mathrm{Var}(u_{it}) = 1-\\rho`,
    :math:`u` AR(1), and :math:`Y_{ict} = Y_{ict}(0) + \\delta D_{ct}` for each
    :math:`\\delta` on the grid, re-using the same draw of :math:`Y(0)` for every
    :math:`\\delta` (common random numbers, so the power curve is smooth). ``att_gt`` is
    fitted twice per replication, to :math:`Y(0)` and to :math:`D`, and the estimate and
    clustered influence function at every :math:`\\delta` follow by linearity (exact
    without covariates; a test checks it against fitting :math:`Y` directly). It rejects
    when :math:`|\\hat\\theta/\\widehat{se}| > z_{1-\\alpha/2}` for the simple aggregate
    :math:`\\hat\\theta` of ``att_gt``. The power estimate is :math:`\\hat p = R^{-1}
    \\sum_r 1\\{\\text{reject}_r\\}` with Monte Carlo standard error
    :math:`\\sqrt{\\hat p(1-\\hat p)/R}`. For a single wave, ``analytic_power`` is
    :math:`\\Phi(|\\delta|/SE - z) + \\Phi(-|\\delta|/SE - z)` with the :math:`SE` of
    :func:`clusterimpact.power.mde` for ``design="did"``, ``pre=1`` (``att_gt``
    compares every post period with the period before adoption), ``post`` the
    periods from adoption on and the exact correlation of cluster-mean errors
    :math:`\\rho I + (1-\\rho) n^{-1} R_{AR}` rescaled to a correlation matrix.

    References
    ----------
    Burlig, F., Preonas, L. and Woerman, M. (2020). Panel data and experimental design.
    *Journal of Development Economics* 144, 102458.

    Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple
    time periods. *Journal of Econometrics* 225(2), 200-230.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> res = ci.power.simulate([0.0, 0.5, 1.0], clusters_per_wave=10, never_treated=10,
    ...                         workers_per_cluster=5, periods=4, reps=20, seed=2, progress=False)
    >>> res.tidy()["power"].tolist()
    [0.05, 0.4, 1.0]
    """
    from tqdm.auto import tqdm

    from clusterimpact.design.panel import Panel
    from clusterimpact.estimators.att_gt import att_gt
    from clusterimpact.simulate.engine import generate

    grid = np.atleast_1d(np.asarray(effects, dtype=float))
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)):
        raise SpecificationError("effects must be a non-empty list of finite numbers.")
    if isinstance(reps, bool) or not isinstance(reps, int | np.integer) or reps < 2:
        raise SpecificationError(f"reps must be an integer of at least 2, got {reps!r}.")
    if not 0 < alpha < 1:
        raise SpecificationError(f"alpha must lie in (0, 1), got {alpha}.")
    params = _design(clusters_per_wave, never_treated, cohorts, periods, workers_per_cluster, icc, autocorr)
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**63))
    root = np.random.SeedSequence(seed)
    streams = root.spawn(int(reps))
    crit = stats.norm.ppf(1 - alpha / 2)
    est = np.full((reps, grid.size), np.nan)
    se = np.full((reps, grid.size), np.nan)
    caught: list[str] = []
    for r in tqdm(range(reps), desc="power", delay=2.0, disable=not progress, leave=False):
        data, realised = generate(params, np.random.default_rng(streams[r]))
        tau = realised["y"].to_numpy()
        frame = data[["cluster_id", "worker_id", "period", "cohort"]].assign(
            y0=data["y"].to_numpy() - tau, dose=tau)
        panel = Panel(frame, unit="worker_id", time="period", cohort="cohort", cluster="cluster_id")
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always", ClusterImpactWarning)
            base = att_gt(panel, "y0", control=control).aggregate("simple")
            unit = att_gt(panel, "dose", control=control).aggregate("simple")
        caught += [str(w.message) for w in log if issubclass(w.category, ClusterImpactWarning)]
        est[r], se[r] = _combine(base, unit, grid)
    with np.errstate(invalid="ignore", divide="ignore"):
        reject = np.abs(est / se) > crit
    ok = np.isfinite(est) & np.isfinite(se)
    n_ok = ok.sum(axis=0)
    power = np.where(n_ok > 0, (reject & ok).sum(axis=0) / np.maximum(n_ok, 1), np.nan)
    mc_var = power * (1 - power) / np.maximum(n_ok, 1)
    extra = pd.DataFrame({
        "mean_estimate": np.nanmean(est, axis=0),
        "sd_estimate": np.nanstd(est, axis=0, ddof=1),
        "mean_std_error": np.nanmean(se, axis=0),
        "analytic_power": _analytic(grid, params, icc, autocorr, alpha),
        "reps": n_ok,
    })
    draws = pd.DataFrame({"rep": np.repeat(np.arange(reps), grid.size), "effect": np.tile(grid, reps),
                          "estimate": est.ravel(), "std_error": se.ravel(), "reject": reject.ravel()})
    notes = [f"{len(set(caught))} distinct warning(s) during the replications, e.g.: {caught[0]}"] if caught \
        else []
    info = {"estimator": "Simulated power of att_gt (simple aggregation)", "outcome": "simulated y",
            "n_clusters": params.n_clusters, "n_units": params.n_clusters * params.firms_per_cluster,
            "n_obs": params.n_clusters * params.firms_per_cluster * params.n_periods, "control": control,
            "vcov_type": "Monte Carlo binomial", "cohorts": params.cohorts,
            "clusters_per_wave": params.cohort_sizes, "never_treated": int(never_treated),
            "workers_per_cluster": params.firms_per_cluster, "periods": params.n_periods, "icc": icc,
            "autocorr": autocorr, "reps": int(reps), "seed": root.entropy, "notes": notes}
    return PowerSimulation(keys=pd.DataFrame({"effect": grid}), estimate=power, vcov=np.diag(mc_var),
                           alpha=alpha, extra=extra, info=info, draws=draws)
