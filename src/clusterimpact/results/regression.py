"""Results of least-squares estimators that can switch covariance estimator without refitting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from clusterimpact.inference.survey import SurveyDesign
from clusterimpact.inference.vcov import VcovData, VcovEstimate, compute_vcov
from clusterimpact.results.base import Result

__all__ = ["RegressionResult"]


class _LazyInfluence:
    """The influence functions of a fit, computed when first read."""

    __slots__ = ("fit",)

    def __init__(self, fit: VcovData) -> None:
        self.fit = fit

    def build(self) -> np.ndarray:
        fit = self.fit
        we = fit.resid if fit.weights is None else np.asarray(fit.weights, dtype=float) * fit.resid
        return fit.n * (fit.x * we[:, None]) @ fit.bread


@dataclass(frozen=True, eq=False, repr=False)
class RegressionResult(Result):
    """A :class:`~clusterimpact.results.Result` of a (weighted) least-squares fit.

    Besides the estimates it keeps what any covariance estimator needs (the
    regressors after absorbing the fixed effects, residuals, weights, bread,
    fixed-effect codes; see :class:`~clusterimpact.inference.vcov.VcovData`)
    and the cluster codes, so :meth:`with_vcov` never refits. Memory is
    :math:`O(nk)` plus one integer array per set of fixed effects.

    Attributes
    ----------
    fit
        The stored regression, or ``None`` for a result built by hand.
    vcov_options
        Keyword arguments of the covariance estimator in use.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from clusterimpact.inference.vcov import VcovData
    >>> rng = np.random.default_rng(0)
    >>> x = np.column_stack([np.ones(60), rng.normal(size=60)]); y = x @ [1.0, 2.0] + rng.normal(size=60)
    >>> b = np.linalg.lstsq(x, y, rcond=None)[0]
    >>> res = RegressionResult.from_fit(pd.DataFrame({"term": ["const", "x"]}), b,
    ...                                 VcovData(x, y - x @ b), np.repeat(np.arange(30), 2),
    ...                                 "CR1")
    >>> res.with_vcov("CR2").info["vcov_type"]
    'CR2'
    """

    fit: VcovData | None = None
    vcov_options: Mapping[str, Any] = field(default_factory=dict)
    survey: SurveyDesign | None = None

    @property
    def influence(self) -> np.ndarray | None:
        """Row influence functions :math:`n\\,M \\ddot x_i w_i e_i` (see :class:`Result`).

        Built from the stored fit on first access (an ``n x k`` product that the
        covariance estimators do not need).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.inference.vcov import VcovData
        >>> x = np.column_stack([np.ones(4), np.arange(4.0)]); e = np.array([1.0, -1, -1, 1])
        >>> r = RegressionResult.from_fit(pd.DataFrame({"term": ["a", "b"]}), np.zeros(2),
        ...                               VcovData(x, e), None, "HC1")
        >>> r.influence.shape
        (4, 2)
        """
        value = self.__dict__.get("_influence")
        if isinstance(value, _LazyInfluence):
            value = value.build()
            self.__dict__["_influence"] = value
        return value

    @influence.setter
    def influence(self, value: Any) -> None:
        # the frozen dataclass __init__ sets fields through object.__setattr__
        self.__dict__["_influence"] = value

    @staticmethod
    def _estimate_vcov(fit: VcovData, cluster: np.ndarray | None, name: str,
                       options: Mapping[str, Any], survey: SurveyDesign | None = None
                       ) -> VcovEstimate:
        if str(name).upper() == "SURVEY":
            return _survey_vcov(fit, cluster, survey, options)
        return compute_vcov(name, fit, None if str(name).upper() == "HC1" else cluster,
                            **dict(options))

    @classmethod
    def from_fit(cls, keys, estimate: np.ndarray, fit: VcovData, cluster: np.ndarray | None,
                 vcov: str = "CR1", *, alpha: float = 0.05, info: Mapping[str, Any] | None = None,
                 survey: SurveyDesign | None = None, **vcov_options: Any) -> RegressionResult:
        """Build a result from a fit: compute the covariance and the influence functions.

        The influence function of observation :math:`i` is
        :math:`n\\,M \\ddot x_i w_i e_i`, so that
        :math:`\\hat\\beta - \\beta \\approx` its mean. ``survey`` (the Panel's
        design, whose PSUs are the ``cluster`` codes) enables ``vcov="survey"``.
        """
        est = cls._estimate_vcov(fit, cluster, vcov, vcov_options, survey)
        influence = _LazyInfluence(fit)
        meta = dict(info or {})
        meta.update(_vcov_info(est))
        return cls(keys=keys, estimate=estimate, vcov=est.cov, alpha=alpha, dof=est.df,
                   info=meta, influence=influence,
                   cluster=None if cluster is None else np.asarray(cluster),
                   fit=fit, vcov_options=dict(vcov_options), survey=survey)

    def with_vcov(self, vcov: str, **options: Any) -> RegressionResult:
        """Return the same estimates with another covariance estimator (no refit).

        Parameters
        ----------
        vcov
            ``"HC1"``, ``"CR1"``, ``"CR2"``, ``"CR3"`` or ``"survey"`` (design-based,
            when the Panel declared a survey design).
        **options
            Options of that estimator (e.g. ``fixef_k="full"`` for CR1).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.inference.vcov import VcovData
        >>> x = np.column_stack([np.ones(8), np.arange(8.0)]); e = np.tile([1.0, -1.0], 4)
        >>> r = RegressionResult.from_fit(pd.DataFrame({"term": ["a", "b"]}), np.zeros(2),
        ...                               VcovData(x, e), None, "HC1")
        >>> r.with_vcov("CR3", absorbed="exact") is r
        Traceback (most recent call last):
        ...
        clusterimpact.errors.SpecificationError: This result keeps no cluster codes; CR3 needs them.
        """
        from clusterimpact.errors import SpecificationError

        if self.fit is None:
            raise SpecificationError("This result keeps no regression data; refit to change vcov.")
        if str(vcov).upper() != "HC1" and self.cluster is None:
            raise SpecificationError(
                f"This result keeps no cluster codes; {str(vcov).upper()} needs them.")
        est = self._estimate_vcov(self.fit, self.cluster, vcov, options, self.survey)
        info = dict(self.info)
        info.update(_vcov_info(est))
        return replace(self, vcov=est.cov, dof=est.df, info=info, vcov_options=dict(options),
                       influence=self.__dict__.get("_influence"))

    def wild_bootstrap(self, *, reps: int = 9999, weights: str = "rademacher", impose_null: bool = True,
                       seed: int | np.random.Generator | None = None, term: Any = None,
                       alpha: float | None = None, **options: Any) -> Result:
        """Wild cluster bootstrap of the coefficients (WCR by default; fast algorithm).

        See :func:`clusterimpact.inference.wild.wild_bootstrap` for every option.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> bool(ci.twfe(p, "lemp").wild_bootstrap(reps=499, seed=1).tidy()["p_value"][0] < 0.05)
        True
        """
        from clusterimpact.inference.wild import wild_bootstrap

        return wild_bootstrap(self, reps=reps, weights=weights, impose_null=impose_null, seed=seed,
                              term=term, alpha=alpha, **options)

    def randomization(self, **options: Any) -> Result:
        """Randomization inference re-assigning roll-out dates across clusters.

        See :func:`clusterimpact.inference.randomization.randomization` for the options.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> int(ci.twfe(p, "lemp").randomization(reps=19, seed=1).tidy()["reps"][0])
        19
        """
        from clusterimpact.inference.randomization import randomization

        return randomization(self, **options)


def _survey_vcov(fit: VcovData, cluster: np.ndarray | None, survey: SurveyDesign | None,
                 options: Mapping[str, Any]) -> VcovEstimate:
    """Design-based covariance of the coefficients (R ``svyglm``): scores :math:`M\\ddot x_i w_i e_i`."""
    from clusterimpact.errors import SpecificationError

    if survey is None or cluster is None:
        raise SpecificationError("vcov='survey' needs a survey design: build the Panel with "
                                 "strata= and/or fpc= (cluster= is the PSU).")
    if options:
        raise SpecificationError(f"vcov='survey' takes no options, got {sorted(options)}.")
    we = fit.resid if fit.weights is None else np.asarray(fit.weights, dtype=float) * fit.resid
    cov = survey.vcov((fit.x * we[:, None]) @ fit.bread, np.asarray(cluster))
    return VcovEstimate(cov, np.full(fit.k, float(survey.df)), "survey",
                        n_clusters=int(survey.psu_stratum.size))


def _vcov_info(est: VcovEstimate) -> dict[str, Any]:
    labels = {"HC1": "HC1 (heteroskedasticity-robust)",
              "CR1": "CR1 (cluster-robust, fixest small-sample correction)",
              "CR2": "CR2 (Bell-McCaffrey, Satterthwaite df)",
              "CR3": "CR3 (cluster jackknife)",
              "survey": "design-based (linearised, R svyglm / Stata svy)"}
    out: dict[str, Any] = {"vcov_type": est.name, "vcov_label": labels.get(est.name, est.name)}
    if est.n_clusters is not None:
        out["n_clusters"] = est.n_clusters
    return out
