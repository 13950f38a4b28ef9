"""The result of :func:`clusterimpact.match`: weights, balance before/after, effect estimates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import SpecificationError
from clusterimpact.results.base import Result

__all__ = ["MatchResult"]

_DENOM = {"ATT": "treated", "ATC": "control", "ATE": "pooled", "ATO": "pooled"}


def _ess(w: np.ndarray) -> float:
    w = w[w > 0]
    return float(w.sum() ** 2 / (w @ w)) if w.size else 0.0


def _jacobian(f: Callable[[np.ndarray], np.ndarray], theta: np.ndarray) -> np.ndarray:
    """Central finite-difference Jacobian of a vector function."""
    k = theta.size
    out = np.empty((k, k))
    for j in range(k):
        h = 1e-6 * max(1.0, abs(theta[j]))
        up, dn = theta.copy(), theta.copy()
        up[j] += h
        dn[j] -= h
        out[:, j] = (f(up) - f(dn)) / (2 * h)
    return out


def _sandwich(psi: Callable[[np.ndarray], np.ndarray], theta: np.ndarray) -> np.ndarray:
    """Influence functions ``-psi_i A^{-1}'`` of an M-estimator, shape ``(n, k)``."""
    scores = psi(theta)
    a = _jacobian(lambda t: psi(t).mean(axis=0), theta)
    return -scores @ np.linalg.inv(a).T


def _cluster_variance(inf: np.ndarray, cluster: np.ndarray | None) -> tuple[float, int]:
    n = inf.size
    if cluster is None:
        return float(inf @ inf / n**2), n
    codes = pd.factorize(cluster)[0]
    sums = np.bincount(codes, weights=inf)
    g = sums.size
    return float(g / (g - 1) * sums @ sums / n**2), g


@dataclass(frozen=True, eq=False, repr=False)
class MatchResult:
    """Weights from :func:`clusterimpact.match` and what can be done with them.

    Attributes
    ----------
    weights : pandas.Series
        One weight per row of the input, aligned to its index; zero for
        unmatched, trimmed or discarded units. Matched controls are weighted
        to represent the focal (treated, for the ATT) units, MatchIt-style.
    propensity : pandas.Series or None
        Estimated propensity scores (NaN for trimmed units).
    matches : dict or None
        For nearest-neighbour methods: row position of each matched focal
        unit -> row positions of its matches.
    info : dict
        Method, estimand, common-support diagnostics, trimming threshold,
        entropy-balancing convergence ...

    Examples
    --------
    >>> import numpy as np, pandas as pd, clusterimpact as ci
    >>> rng = np.random.default_rng(2)
    >>> df = pd.DataFrame({"x": rng.normal(size=200)})
    >>> df["d"] = (df["x"] + rng.normal(size=200) > 1).astype(int)
    >>> df["y"] = df["x"] + 2 * df["d"] + rng.normal(size=200)
    >>> m = ci.match(df, treatment="d", covariates="x", method="entropy")
    >>> bool(m.balance().query("sample == 'after'")["smd"].abs().max() < 1e-6)
    True
    """

    data: pd.DataFrame
    treatment: str
    covariates: list[str]
    method: str
    estimand: str
    weights: pd.Series
    propensity: pd.Series | None = None
    matches: dict[int, np.ndarray] | None = None
    coords: np.ndarray | None = None
    kept: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ balance
    @property
    def treated(self) -> np.ndarray:
        """Boolean treatment indicator of each row.

        Examples
        --------
        >>> import pandas as pd, clusterimpact as ci
        >>> df = pd.DataFrame({"d": [1, 0, 0, 1, 0, 0], "x": [1.0, 0.9, 0.1, 2.0, 1.9, 0.5]})
        >>> ci.match(df, treatment="d", covariates="x", method="mahalanobis").treated.sum()
        np.int64(2)
        """
        return self.data[self.treatment].to_numpy().astype(bool)

    def balance(self, *, s_d_denom: str | None = None, binary: str = "raw") -> pd.DataFrame:
        """Covariate balance before and after, stacked in one frame with a ``sample`` column.

        Rows with ``sample == "before"`` describe all units, ``"after"`` the
        weighted (matched) sample; the SMD denominators come from the unadjusted
        sample in both, so the two are comparable (cobalt's convention). A
        ``propensity_score`` row comes first when a score was estimated.

        Parameters
        ----------
        s_d_denom
            Default by estimand: ``"treated"`` (ATT), ``"control"`` (ATC), ``"pooled"`` (ATE, ATO).
        binary
            ``"raw"`` (cobalt) or ``"std"`` (MatchIt); see :func:`clusterimpact.balance`.

        Examples
        --------
        >>> import pandas as pd, clusterimpact as ci
        >>> df = pd.DataFrame({"d": [1, 0, 0, 1, 0, 0], "x": [1.0, 0.9, 0.1, 2.0, 1.9, 0.5]})
        >>> b = ci.match(df, treatment="d", covariates="x", method="mahalanobis").balance()
        >>> b[["sample", "covariate", "mean_control"]].round(2).values.tolist()
        [['before', 'x', 0.85], ['after', 'x', 1.4]]
        """
        from clusterimpact.design.balance import balance_table, covariate_matrix

        denom = s_d_denom or _DENOM[self.estimand]
        d = self.treated
        x, names, kinds = covariate_matrix(self.data, self.covariates)
        if self.propensity is not None:
            x = np.column_stack([self.propensity.to_numpy(), x])
            names, kinds = ["propensity_score", *names], ["continuous", *kinds]
        ok = ~np.isnan(x).any(axis=1)
        w = self.weights.to_numpy()
        out = []
        for label, wt in (("before", np.ones(len(d))), ("after", w)):
            tab = balance_table(x[ok], names, kinds, d[ok], wt[ok], s_d_denom=denom, binary=binary)
            tab.insert(0, "sample", label)
            out.append(tab)
        return pd.concat(out, ignore_index=True)

    def sample_sizes(self) -> pd.DataFrame:
        """Units by arm: all, matched (effective sample size), matched, unmatched, discarded.

        Examples
        --------
        >>> import pandas as pd, clusterimpact as ci
        >>> df = pd.DataFrame({"d": [1, 0, 0, 1, 0, 0], "x": [1.0, 0.9, 0.1, 2.0, 1.9, 0.5]})
        >>> m = ci.match(df, treatment="d", covariates="x", method="mahalanobis")
        >>> m.sample_sizes().loc["matched"].tolist()
        [2.0, 2.0]
        """
        d = self.treated
        w = self.weights.to_numpy()
        kept = self.kept if self.kept is not None else np.ones(len(d), dtype=bool)
        rows = {}
        for arm, label in ((~d, "control"), (d, "treated")):
            rows[label] = {
                "all": float(arm.sum()),
                "matched (ESS)": round(_ess(w[arm]), 2),
                "matched": float((arm & (w > 0)).sum()),
                "unmatched": float((arm & kept & (w == 0)).sum()),
                "discarded": float((arm & ~kept).sum()),
            }
        return pd.DataFrame(rows)

    def summary(self, digits: int = 4) -> str:
        """Text summary: method, sample sizes and balance before and after.

        Examples
        --------
        >>> import pandas as pd, clusterimpact as ci
        >>> df = pd.DataFrame({"d": [1, 0, 0, 1, 0, 0], "x": [1.0, 0.9, 0.1, 2.0, 1.9, 0.5]})
        >>> print(ci.match(df, treatment="d", covariates="x", method="mahalanobis").summary().splitlines()[0])
        Matching: mahalanobis, estimand ATT
        """
        lines = [f"Matching: {self.method}, estimand {self.estimand}"]
        for key in ("link", "ratio", "replace", "caliper", "trim_threshold", "n_strata"):
            if self.info.get(key) is not None and (key != "link" or self.propensity is not None):
                lines.append(f"  {key}: {self.info[key]}")
        if "entropy" in self.info:
            e = self.info["entropy"]
            lines.append(f"  entropy balancing converged: {e['converged']} "
                         f"(largest standardised gap {e['max_standardised_gap']:.1e})")
        lines += ["", "Sample sizes:", self.sample_sizes().to_string(), ""]
        bal = self.balance()
        wide = bal.pivot_table(index="covariate", columns="sample", values=["smd", "variance_ratio"],
                               sort=False)
        wide.columns = [f"{a}_{b}" for a, b in wide.columns]
        lines += ["Balance (SMD; binary rows: raw difference):", wide.round(digits).to_string()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        n = int((self.weights > 0).sum())
        return f"<MatchResult: {self.method}, {self.estimand}, {n} units weighted>"

    def plot(self, ax=None, **kwargs):
        """Love plot of absolute SMDs before and after; returns the matplotlib Axes.

        Examples
        --------
        >>> import pandas as pd, clusterimpact as ci
        >>> df = pd.DataFrame({"d": [1, 0, 0, 1, 0, 0], "x": [1.0, 0.9, 0.1, 2.0, 1.9, 0.5]})
        >>> ax = ci.match(df, treatment="d", covariates="x", method="mahalanobis").plot()
        """
        from clusterimpact.design.balance import love_plot

        return love_plot(self.balance(), ax=ax, **kwargs)

    # ------------------------------------------------------------------ effects
    def att(self, y: str, *, cluster: str | None = None, alpha: float = 0.05,
            var_neighbors: int = 2) -> Result:
        """Estimate the effect on ``y`` in the matched or weighted sample.

        Parameters
        ----------
        y
            Outcome column of the data given to :func:`~clusterimpact.match`.
        cluster
            Column of clusters for cluster-robust standard errors (e.g. the
            industrial cluster of each firm). With matching, the weights are
            then treated as fixed.
        alpha
            One minus the confidence level.
        var_neighbors
            Matching: same-arm neighbours used to estimate conditional
            variances in the Abadie-Imbens variance (their J; default 2).

        Returns
        -------
        Result
            One row, ``term`` = the estimand; normal reference distribution.

        Notes
        -----
        The point estimate is the weighted difference in means
        :math:`\\hat\\tau = \\sum_{D=1} w Y / \\sum_{D=1} w - \\sum_{D=0} w Y / \\sum_{D=0} w`;
        for nearest-neighbour matching it equals the matching estimator
        :math:`N_1^{-1}\\sum_{D_i=1}(Y_i - \\hat Y_i(0))`.

        *Matching* (nearest, mahalanobis; ATT): the Abadie-Imbens (2006,
        Theorem 7) variance :math:`N_1^{-2}[\\sum_{D_i=1}(Y_i - \\hat Y_i(0) -
        \\hat\\tau)^2 + \\sum_{D_j=0}(K_j^2 - K_j/M)\\hat\\sigma^2_j]`, with
        :math:`K_j` the number of times control :math:`j` is used (each use
        counting :math:`1/\\#` matches of its focal unit, times :math:`M`
        divided by :math:`M`) and :math:`\\hat\\sigma^2_j = \\frac{J}{J+1}(Y_j -
        \\bar Y_{\\mathcal J(j)})^2` from its :math:`J` nearest same-arm
        neighbours. It treats the matching distance as known; with an
        estimated propensity score it ignores the Abadie-Imbens (2016)
        adjustment.

        *Weighting* (ipw, overlap, entropy): the estimating equations of the
        weights (propensity-score score, or the entropy-balancing moment
        conditions) are stacked with :math:`w D (Y - \\mu_1)` and :math:`w (1-D)
        (Y - \\mu_0)`; the variance is the HC0 sandwich :math:`A^{-1} B A^{-T}/n`
        (Jacobian :math:`A` by central differences), so it accounts for the
        estimation of the weights (as WeightIt's ``lm_weightit``).
        *CEM*, or any method with ``cluster=``: weights treated as fixed,
        (cluster-)robust variance of the weighted difference in means with the
        :math:`G/(G-1)` correction.

        References
        ----------
        Abadie, A. and Imbens, G. W. (2006). Large sample properties of matching
        estimators for average treatment effects. *Econometrica* 74, 235-267.

        Lunceford, J. K. and Davidian, M. (2004). Stratification and weighting via
        the propensity score in estimation of causal treatment effects.
        *Statistics in Medicine* 23, 2937-2960.

        Examples
        --------
        >>> import numpy as np, pandas as pd, clusterimpact as ci
        >>> rng = np.random.default_rng(3)
        >>> df = pd.DataFrame({"x": rng.normal(size=400)})
        >>> df["d"] = (df["x"] + rng.normal(size=400) > 0.5).astype(int)
        >>> df["y"] = df["x"] + 1.0 * df["d"] + rng.normal(size=400)
        >>> res = ci.match(df, treatment="d", covariates="x", method="ipw").att("y")
        >>> bool(abs(res.estimate[0] - 1.0) < 0.5)
        True
        """
        if y not in self.data:
            from clusterimpact.errors import suggest

            raise SpecificationError(f"Outcome column {y!r} not in the data.{suggest(y, self.data.columns)}")
        yv = self.data[y].to_numpy(dtype=float)
        d = self.treated
        w = self.weights.to_numpy()
        use = w > 0
        if np.isnan(yv[use]).any():
            raise SpecificationError(
                f"Missing values in the outcome {y!r} for {int(np.isnan(yv[use]).sum())} weighted unit(s).")
        cl = None
        if cluster is not None:
            if cluster not in self.data:
                raise SpecificationError(f"Cluster column {cluster!r} not in the data.")
            cl = self.data[cluster].to_numpy()
        m1 = np.average(yv[use & d], weights=w[use & d])
        m0 = np.average(yv[use & ~d], weights=w[use & ~d])
        tau = m1 - m0
        influence, codes = None, None
        if self.method in ("nearest", "mahalanobis") and cl is None:
            var = self._ai_variance(yv, tau, var_neighbors)
            vtype, n_clusters = "Abadie-Imbens (2006)", None
        elif self.method in ("ipw", "overlap", "entropy") and cl is None:
            inf = self._m_influence(yv, m1, m0)
            var, _ = _cluster_variance(inf, None)
            influence = np.zeros(len(d))
            influence[self._kept_mask()] = inf
            vtype, n_clusters = "M-estimation sandwich (HC0, weights estimated)", None
        else:
            wu, du, yu = w[use], d[use], yv[use]
            inf = np.where(du, wu * (yu - m1) / wu[du].sum(), -wu * (yu - m0) / wu[~du].sum()) * use.sum()
            var, n_clusters = _cluster_variance(inf, None if cl is None else cl[use])
            influence = np.zeros(len(d))
            influence[use] = inf * len(d) / use.sum()
            vtype = "robust (weights fixed)" if cl is None else f"cluster-robust ({cluster}; weights fixed)"
            if cl is not None:
                codes = pd.factorize(cl)[0]
        sizes = self.sample_sizes()
        return Result(
            keys=pd.DataFrame({"term": [self.estimand]}),
            estimate=np.array([tau]),
            vcov=np.array([[var]]),
            alpha=alpha,
            extra=pd.DataFrame({"mean_treated": [m1], "mean_control": [m0],
                                "n_treated": [sizes.loc["matched", "treated"]],
                                "n_control": [sizes.loc["matched", "control"]],
                                "ess_control": [sizes.loc["matched (ESS)", "control"]]}),
            info={"estimator": f"{self.estimand} after {self.method} " +
                  ("matching" if self.method in ("nearest", "mahalanobis", "cem") else "weighting"),
                  "outcome": y, "n_obs": int(use.sum()), "method": self.method, "vcov_type": vtype,
                  "n_clusters": n_clusters},
            influence=None if influence is None else influence[:, None],
            cluster=codes,
        )

    def _kept_mask(self) -> np.ndarray:
        return self.kept if self.kept is not None else np.ones(len(self.data), dtype=bool)

    def _ai_variance(self, yv: np.ndarray, tau: float, n_nb: int) -> float:
        d = self.treated
        sign = 1.0 if self.estimand == "ATT" else -1.0
        ratio = self.info.get("ratio", 1)
        k = np.zeros(len(d))
        contrasts = []
        for i, js in self.matches.items():
            contrasts.append(sign * (yv[i] - yv[js].mean()))
            np.add.at(k, js, 1.0 / len(js))
        c = np.asarray(contrasts)
        n_f = c.size
        extra = 0.0
        reused = np.flatnonzero(k * ratio > 1 + 1e-12)
        if reused.size:
            kept = self._kept_mask()
            for j in reused:
                same = np.flatnonzero(kept & (d == d[j]))
                same = same[same != j]
                dist = np.sqrt(((self.coords[same] - self.coords[j]) ** 2).sum(axis=1))
                nb = same[np.argsort(dist, kind="stable")[:n_nb]]
                s2 = len(nb) / (len(nb) + 1) * (yv[j] - yv[nb].mean()) ** 2
                extra += max(k[j] ** 2 - k[j] / ratio, 0.0) * s2
        return float((((c - tau) ** 2).sum() + extra) / n_f**2)

    def _m_influence(self, yv: np.ndarray, m1: float, m0: float) -> np.ndarray:
        from clusterimpact.design.balance import covariate_matrix
        from clusterimpact.design.propensity import _probability, score_contributions

        kept = self._kept_mask()
        d = self.treated[kept].astype(float)
        y = yv[kept]
        x_ps = covariate_matrix(self.data, self.covariates, drop_first=True)[0][kept]
        est = self.estimand
        if self.method in ("ipw", "overlap"):
            design = np.column_stack([np.ones(len(d)), x_ps])
            link = self.info["link"]
            k = design.shape[1]

            def weights_of(beta):
                e = _probability(link, design @ beta)
                if self.method == "overlap":
                    return np.where(d == 1, 1 - e, e)
                return {"ATT": np.where(d == 1, 1.0, e / (1 - e)),
                        "ATC": np.where(d == 1, (1 - e) / e, 1.0),
                        "ATE": np.where(d == 1, 1 / e, 1 / (1 - e))}[est]

            def psi(theta):
                beta, a1, a0 = theta[:k], theta[k], theta[k + 1]
                w = weights_of(beta)
                return np.column_stack([score_contributions(link, design, d, beta),
                                        d * w * (y - a1), (1 - d) * w * (y - a0)])

            theta = np.r_[self.info["ps_coef"], m1, m0]
        else:
            c = self._entropy_moments(x_ps)
            c = c / c.std(axis=0)
            # to reweight: ATT -> controls to the treated mean, ATC -> treated to the
            # control mean, ATE -> both to the overall mean
            if est == "ATT":
                source, groups = d == 1, [d == 0]
            elif est == "ATC":
                source, groups = d == 0, [d == 1]
            else:
                source, groups = np.ones(len(d), dtype=bool), [d == 1, d == 0]
            q = c.shape[1]
            m_hat = c[source].mean(axis=0)
            lams = []
            from clusterimpact.design.matching import entropy_weights

            for g in groups:
                _, inf = entropy_weights(c[g], m_hat)
                lams.append(inf["lambda"])

            def psi(theta):
                m = theta[:q]
                cols = [source[:, None] * (c - m)]
                w = np.ones(len(d))
                for r, g in enumerate(groups):
                    lam = theta[q * (r + 1): q * (r + 2)]
                    e = np.exp(np.clip((c - m) @ lam, -700, 700))
                    cols.append(g[:, None] * e[:, None] * (c - m))
                    w = np.where(g, e, w)
                a1, a0 = theta[-2], theta[-1]
                cols += [(d * w * (y - a1))[:, None], ((1 - d) * w * (y - a0))[:, None]]
                return np.column_stack(cols)

            theta = np.r_[m_hat, *lams, m1, m0]
        inf = _sandwich(psi, theta)
        return inf[:, -2] - inf[:, -1]

    def _entropy_moments(self, x_ps: np.ndarray) -> np.ndarray:
        from clusterimpact.design.matching import _moment_matrix, kinds_ps

        return _moment_matrix(x_ps, kinds_ps(self.data, self.covariates), self.info.get("moments", 1))

