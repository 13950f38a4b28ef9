"""Event-study results: estimates by event time, a joint pre-trend test and post-period averages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import linalg, stats

from clusterimpact.errors import SpecificationError
from clusterimpact.results.base import Result

__all__ = ["EventStudyResult"]


@dataclass(frozen=True, eq=False, repr=False)
class EventStudyResult(Result):
    """Effects by event time (periods relative to first treatment), with their joint covariance.

    Returned by :func:`clusterimpact.event_study`. ``tidy()`` has
    ``event_time, estimate, std_error, statistic, p_value, conf_low,
    conf_high`` (plus ``df`` for t-based inference, ``n_obs``: the sum of
    weights of the rows behind each estimate, and the ``by`` columns). The
    reference period is not a row (it is zero by construction).

    Attributes
    ----------
    cohort_effects
        For ``method="sun_abraham"``: the cohort-by-event-time coefficients
        with their aggregation weights; ``None`` otherwise.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
    ...              cohort="first.treat")
    >>> res = ci.event_study(p, "lemp", method="imputation")
    >>> res.tidy()[["event_time", "estimate"]].round(4).tail(2)
       event_time  estimate
    5           2   -0.1361
    6           3   -0.1047
    """

    cohort_effects: pd.DataFrame | None = None
    refit: Callable[..., EventStudyResult] | None = None

    # ------------------------------------------------------------ covariance
    def with_vcov(self, vcov: str, *, cluster2: Literal["time", "unit"] | None = None,
                  **options: Any) -> EventStudyResult:
        """The same estimates with another covariance estimator from the registry.

        For the regression event studies (``"twfe"``, ``"sun_abraham"``); the
        imputation and two-stage methods have their own variance (BJS, GMM).

        Parameters
        ----------
        vcov
            ``"HC1"``, ``"CR1"``, ``"CR2"`` or ``"CR3"``
            (:data:`~clusterimpact.inference.vcov.VCOV_ESTIMATORS`); clustered on
            ``panel.cluster``. CR2 and CR3 give each estimate (each Sun-Abraham
            aggregate, a contrast of the cell coefficients) its own Bell-McCaffrey
            degrees of freedom.
        cluster2
            Two-way clustering (CR1 only; Cameron, Gelbach & Miller 2011): the
            second dimension, ``"time"`` (the period fixed-effect codes) or
            ``"unit"``.
        **options
            Options of the estimator (e.g. ``fixef_k="full"``, ``cluster_df=
            "conventional"`` for CR1, ``absorbed="ignore"`` for CR2).

        Returns
        -------
        EventStudyResult
            Same estimates, new ``vcov``, ``dof`` and ``info["vcov_type"]``. The
            default CR1 Sun-Abraham fit uses closed-form cell sums without a
            design matrix, so the regression is rebuilt (fixed effects absorbed
            again) to compute the new covariance; the estimates are kept.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> res = ci.event_study(p, "lemp", method="sun_abraham").with_vcov("CR2")
        >>> res.info["vcov_type"], bool(res.tidy()["df"].between(20, 500).all())
        ('CR2', True)
        """
        from clusterimpact.inference.vcov import VCOV_ESTIMATORS

        method = self.info.get("method")
        if self.refit is None:
            raise SpecificationError(
                f"with_vcov applies to the regression event studies ('twfe', 'sun_abraham'); "
                f"method {method!r} has its own variance (imputation: BJS's clustered estimator; "
                "two-stage: the GMM sandwich). Refit with another method for registry covariances.")
        key = str(vcov).upper()
        if key not in VCOV_ESTIMATORS and key != "SURVEY":
            from clusterimpact.errors import suggest

            raise SpecificationError(f"Unknown vcov {vcov!r}; choose one of "
                                     f"{', '.join(map(repr, VCOV_ESTIMATORS))}."
                                     f"{suggest(key, VCOV_ESTIMATORS)}")
        if cluster2 is not None and (cluster2 not in ("time", "unit") or key != "CR1"):
            raise SpecificationError(
                f"cluster2 must be 'time' or 'unit' and needs vcov='CR1' (two-way clustering); "
                f"got cluster2={cluster2!r} with vcov={vcov!r}.")
        new = self.refit(key, options, cluster2)
        if new.estimate.shape != self.estimate.shape:
            raise SpecificationError("The refitted regression estimates a different set of terms.")
        return replace(new, estimate=self.estimate, alpha=self.alpha)

    # ---------------------------------------------------------------- helpers
    def _groups(self) -> list[tuple[dict, np.ndarray]]:
        by = self.by
        if not by:
            return [({}, np.arange(self.estimate.size))]
        out = []
        for label, idx in self.keys.groupby(by, sort=True).indices.items():
            label = label if isinstance(label, tuple) else (label,)
            out.append((dict(zip(by, label, strict=True)), np.asarray(idx)))
        return out

    def _event(self) -> np.ndarray:
        return self.keys["event_time"].to_numpy(dtype=float)

    # -------------------------------------------------------------- pre-trends
    def pretrend_test(self) -> pd.DataFrame:
        """Joint Wald test that every pre-period (lead) effect is zero.

        Uses the method's own covariance of the leads: the registry
        covariance for ``"twfe"`` and ``"sun_abraham"``, the GMM covariance
        for ``"two_stage"`` and, for ``"imputation"``, the covariance of BJS's
        pre-trend regression (their Test 1: leads added to the untreated-only
        fixed-effects model).

        Returns
        -------
        pandas.DataFrame
            One row (per subgroup) with ``n_leads``, the chi-squared form
            ``chi2, chi2_df, chi2_p_value`` (:math:`W = \\hat b'\\hat V^{-1}\\hat b
            \\sim \\chi^2_q`) and the F form ``f_stat = W/q`` with ``f_df1 = q``
            and ``f_df2`` the degrees of freedom of the t reference (``inf``
            under the normal, when it equals the chi-squared test).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> test = ci.event_study(p, "lemp", method="sun_abraham").pretrend_test()
        >>> int(test["n_leads"][0]), round(float(test["chi2"][0]), 2)
        (3, 5.65)
        """
        rows = []
        event = self._event()
        dof = self._dof_array()
        for label, idx in self._groups():
            lead = idx[(event[idx] < 0) & np.isfinite(self.estimate[idx])]
            row = dict(label)
            row["n_leads"] = int(lead.size)
            if lead.size == 0:
                row.update(chi2=np.nan, chi2_df=0, chi2_p_value=np.nan, f_stat=np.nan,
                           f_df1=0, f_df2=np.nan, f_p_value=np.nan)
                rows.append(row)
                continue
            b = self.estimate[lead]
            v = self.vcov[np.ix_(lead, lead)]
            vinv = linalg.pinvh(v)
            q = int(np.linalg.matrix_rank(v))
            chi2 = float(b @ vinv @ b)
            df2 = float(np.min(dof[lead]))
            f = chi2 / q
            row.update(chi2=chi2, chi2_df=q, chi2_p_value=float(stats.chi2.sf(chi2, q)), f_stat=f,
                       f_df1=q, f_df2=df2,
                       f_p_value=float(stats.f.sf(f, q, df2) if np.isfinite(df2)
                                       else stats.chi2.sf(chi2, q)))
            rows.append(row)
        return pd.DataFrame(rows)

    # ------------------------------------------------------------- aggregation
    def aggregate(self, kind: Literal["simple"] = "simple", *,
                  weights: Literal["obs", "equal"] = "obs") -> Result:
        """Average post-period effect, a linear combination of the event-time estimates.

        Parameters
        ----------
        kind
            ``"simple"``: :math:`\\bar\\tau = \\sum_{e \\ge 0} \\omega_e \\hat\\tau_e`.
        weights
            ``"obs"`` (default): :math:`\\omega_e` proportional to the treated
            observations (sum of weights) in bin :math:`e`, which for the
            imputation and two-stage methods gives the average effect over
            all treated observations in the window; ``"equal"``: equal weights.

        Returns
        -------
        Result
            One row (per subgroup) with ``term == "simple"``; the standard
            error is :math:`\\sqrt{\\omega'\\hat V\\omega}` from the joint
            covariance. ``info["weights"]`` lists :math:`\\omega_e`.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> agg = ci.event_study(p, "lemp", method="two_stage").aggregate("simple")
        >>> agg.tidy()[["term", "estimate"]].round(4)
             term  estimate
        0  simple   -0.0477
        """
        if kind != "simple":
            raise SpecificationError(f"Unknown aggregation {kind!r}; event studies support 'simple'.")
        if weights not in ("obs", "equal"):
            raise SpecificationError(f"weights must be 'obs' or 'equal', got {weights!r}.")
        event = self._event()
        mass = (self.extra["n_obs"].to_numpy(dtype=float) if self.extra is not None
                and "n_obs" in self.extra else np.ones(self.estimate.size))
        groups = self._groups()
        comb = np.zeros((len(groups), self.estimate.size))
        key_rows, weight_rows = [], []
        for j, (label, idx) in enumerate(groups):
            post = idx[(event[idx] >= 0) & np.isfinite(self.estimate[idx])]
            if post.size == 0:
                raise SpecificationError("No post-period estimate to aggregate (check lags).")
            om = mass[post] if weights == "obs" else np.ones(post.size)
            om = om / om.sum()
            comb[j, post] = om
            key_rows.append({"term": "simple", **label})
            weight_rows += [{**label, "event_time": self.keys["event_time"].iloc[i], "weight": o}
                            for i, o in zip(post, om, strict=True)]
        sub = self.vcov.copy()
        sub[~np.isfinite(sub)] = 0.0  # entries outside the post blocks get zero weight
        vc = comb @ sub @ comb.T
        dof_all = self._dof_array()
        dof = None
        if self.dof is not None:
            dof = np.array([float(np.min(dof_all[comb[j] != 0])) for j in range(len(groups))])
        what = ("treated observations (sum of weights) in each post-period bin"
                if weights == "obs" else "equal across post-period bins")
        info = {**self.info, "weights": pd.DataFrame(weight_rows),
                "notes": [f"Average post-period effect; weights proportional to {what} "
                          "(see info['weights'])."]}
        info["estimator"] = f"{self.info.get('estimator', 'Event study')}: simple aggregate"
        return Result(keys=pd.DataFrame(key_rows), estimate=comb @ self.estimate, vcov=vc,
                      alpha=self.alpha, dof=dof, info=info)
