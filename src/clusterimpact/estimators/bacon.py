"""What the static TWFE coefficient is made of: Goodman-Bacon's 2x2s and dCdH's cell weights.

* :func:`bacon`: the Goodman-Bacon (2021) decomposition of the TWFE
  difference-in-differences coefficient into every 2x2 comparison of timing
  groups (earlier vs later treated, later vs earlier treated, treated vs
  never treated, later vs always treated) with its estimate and weight.
* :func:`twfe_weights`: the de Chaisemartin & D'Haultfoeuille (2020) weights
  that the TWFE estimand puts on each treated (unit, period) cell's effect,
  the number and sum of the negative ones and the robustness measures
  :math:`\\sigma_{fe}` and :math:`\\underline\\sigma_{fe}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from clusterimpact.errors import EstimationError, SpecificationError
from clusterimpact.kernels.demean import demean
from clusterimpact.results.base import Result

__all__ = ["BaconResult", "TwfeWeights", "bacon", "twfe_weights"]

_TYPES = ("Treated vs Untreated", "Earlier vs Later Treated", "Later vs Earlier Treated",
          "Later vs Always Treated")


@dataclass(frozen=True, eq=False, repr=False)
class BaconResult(Result):
    """The 2x2 comparisons behind a TWFE coefficient, with their weights.

    ``tidy()`` has one row per comparison with ``type, treated, control``,
    the 2x2 ``estimate`` and its ``weight`` (no standard errors: the
    decomposition is descriptive). ``twfe`` is the TWFE coefficient and
    ``weighted_sum`` :math:`\\sum_j s_j\\hat\\beta_j`.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("castle"), unit="sid", time="year", cohort="effyear")
    >>> dec = ci.bacon(p, "l_homicide")
    >>> round(dec.twfe, 6) == round(dec.weighted_sum, 6)
    True
    """

    twfe: float = float("nan")
    weighted_sum: float = float("nan")
    details: dict = field(default_factory=dict)

    def by_type(self) -> pd.DataFrame:
        """Total weight and weighted-average estimate of each comparison type.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("castle"), unit="sid", time="year", cohort="effyear")
        >>> ci.bacon(p, "l_homicide").by_type()["type"].tolist()
        ['Earlier vs Later Treated', 'Later vs Earlier Treated', 'Treated vs Untreated']
        """
        tab = self.tidy()
        tab["weighted"] = tab["estimate"] * tab["weight"]
        out = tab.groupby("type", sort=True).agg(weight=("weight", "sum"), weighted=("weighted", "sum"),
                                                 n_comparisons=("weight", "size")).reset_index()
        out["avg_est"] = out["weighted"] / out["weight"]
        return out[["type", "weight", "avg_est", "n_comparisons"]]

    def plot(self, ax=None, **kwargs):
        """Scatter of each 2x2's weight against its estimate, by comparison type.

        A dashed line marks the TWFE coefficient. Returns the Axes.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("castle"), unit="sid", time="year", cohort="effyear")
        >>> ax = ci.bacon(p, "l_homicide").plot()
        >>> ax.get_xlabel()
        'Weight'
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(7, 4))
        tab = self.tidy()
        markers = dict(zip(_TYPES, ("o", "^", "s", "D"), strict=True))
        for kind, sub in tab.groupby("type", sort=True):
            ax.scatter(sub["weight"], sub["estimate"], label=kind, marker=markers.get(kind, "o"),
                       alpha=0.8, **kwargs)
        ax.axhline(self.twfe, color="black", lw=0.8, ls="--", label=f"TWFE = {self.twfe:.4f}")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("Weight")
        ax.set_ylabel("2x2 DiD estimate")
        ax.set_title("Goodman-Bacon decomposition")
        ax.legend(frameon=False, fontsize="small")
        return ax


def _balanced_matrix(panel, y: str) -> tuple[np.ndarray, np.ndarray]:
    if not panel.is_panel or not panel.is_balanced:
        raise SpecificationError("The decomposition needs a balanced panel (every unit in every "
                                 "period); balance it first, e.g. keep units observed in all periods.")
    if panel.has_weights:
        raise SpecificationError("The decomposition is defined for the unweighted TWFE regression; "
                                 "build the Panel without weights=.")
    values = np.asarray(panel.column(y, role="outcome"), dtype=float)
    if not np.isfinite(values).all():
        raise SpecificationError(f"The outcome {y!r} has missing values; the decomposition needs a "
                                 "balanced panel without gaps.")
    mat = np.empty((panel.n_units, panel.n_periods))
    mat[panel.unit_code, panel.time_code] = values
    return mat, np.asarray(panel.unit_cohort, dtype=float)


def bacon(panel, y: str) -> BaconResult:
    """Goodman-Bacon (2021) decomposition of the static TWFE DiD coefficient.

    Parameters
    ----------
    panel
        A balanced, unweighted :class:`clusterimpact.Panel` with absorbing
        treatment (units treated in the first period form the "always
        treated" group; never-treated units the "untreated").
    y
        Outcome column.

    Returns
    -------
    BaconResult
        One row per 2x2 comparison; ``by_type()`` sums them by type;
        ``plot()`` draws weight against estimate.

    Notes
    -----
    With timing groups :math:`k` (first treated period :math:`t_k`), sample
    shares :math:`n_k` and treated-period shares :math:`\\bar D_k`, the TWFE
    coefficient is :math:`\\hat\\beta = \\sum_{k \\ne U} s_{kU}\\hat\\beta_{kU} +
    \\sum_{k<l} (s^k_{kl}\\hat\\beta^k_{kl} + s^l_{kl}\\hat\\beta^l_{kl})`
    (Goodman-Bacon 2021, Theorem 1), with 2x2 DiDs of group means

    * :math:`\\hat\\beta_{kU}`: :math:`k` against the never treated, all periods;
    * :math:`\\hat\\beta^k_{kl}`: earlier :math:`k` against not-yet-treated
      :math:`l`, periods before :math:`t_l`;
    * :math:`\\hat\\beta^l_{kl}`: later :math:`l` against already-treated
      :math:`k`, periods from :math:`t_k` on (all periods when :math:`k` is
      always treated, :math:`\\bar D_k = 1`);

    and weights proportional to

    .. math::

        s_{kU} \\propto (n_k + n_U)^2\\, n_{kU}(1-n_{kU})\\, \\bar D_k(1-\\bar D_k),\\qquad
        s^k_{kl} \\propto ((n_k+n_l)(1-\\bar D_l))^2\\, n_{kl}(1-n_{kl})
            \\frac{\\bar D_k-\\bar D_l}{1-\\bar D_l}\\frac{1-\\bar D_k}{1-\\bar D_l},

        s^l_{kl} \\propto ((n_k+n_l)\\bar D_k)^2\\, n_{kl}(1-n_{kl})
            \\frac{\\bar D_l}{\\bar D_k}\\frac{\\bar D_k-\\bar D_l}{\\bar D_k},

    with :math:`n_{ab} = n_a/(n_a+n_b)`, normalised by the variance of the
    two-way demeaned treatment, :math:`\\hat V^D`, so that they sum to one.
    ``details["weight_sum_unnormalised"]`` reports that sum (1 up to
    rounding), a check of the formulas.

    References
    ----------
    Goodman-Bacon, A. (2021). Difference-in-differences with variation in
    treatment timing. *Journal of Econometrics* 225(2), 254-277.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("castle"), unit="sid", time="year", cohort="effyear")
    >>> ci.bacon(p, "l_homicide").by_type().round(5)
                           type   weight  avg_est  n_comparisons
    0  Earlier vs Later Treated  0.05976 -0.00554             10
    1  Later vs Earlier Treated  0.03190  0.07032             10
    2      Treated vs Untreated  0.90834  0.08796              5
    """
    mat, cohort = _balanced_matrix(panel, y)
    periods = np.asarray(panel.period_values, dtype=float)
    n_units = mat.shape[0]
    # group codes: never treated (inf), always treated (<= first period), timing groups
    always = cohort <= periods[0]
    key = np.where(always, -np.inf, cohort)
    groups, code = np.unique(key, return_inverse=True)
    means = np.vstack([mat[code == j].mean(axis=0) for j in range(groups.size)])
    share = np.bincount(code) / n_units
    dbar = np.array([1.0 if np.isneginf(g) else 0.0 if np.isposinf(g) else float(np.mean(periods >= g))
                     for g in groups])

    def did(a: int, b: int, pre: np.ndarray, post: np.ndarray) -> float:
        ya, yb = means[a], means[b]
        return float((ya[post].mean() - ya[pre].mean()) - (yb[post].mean() - yb[pre].mean()))

    rows = []
    never = np.flatnonzero(np.isposinf(groups))
    timing = [j for j in range(groups.size) if np.isfinite(groups[j])]
    alw = np.flatnonzero(np.isneginf(groups))
    for k in timing:
        post = periods >= groups[k]
        for u in never:
            nk = share[k] / (share[k] + share[u])
            s = (share[k] + share[u]) ** 2 * nk * (1 - nk) * dbar[k] * (1 - dbar[k])
            rows.append((_TYPES[0], groups[k], np.inf, did(k, u, ~post, post), s))
    for k, ll in combinations(timing, 2):  # groups sorted: k earlier than ll
        nkl = share[k] / (share[k] + share[ll])
        window = periods < groups[ll]
        post = window & (periods >= groups[k])
        s_k = (((share[k] + share[ll]) * (1 - dbar[ll])) ** 2 * nkl * (1 - nkl)
               * (dbar[k] - dbar[ll]) / (1 - dbar[ll]) * (1 - dbar[k]) / (1 - dbar[ll]))
        rows.append((_TYPES[1], groups[k], groups[ll], did(k, ll, window & ~post, post), s_k))
        window = periods >= groups[k]
        post = periods >= groups[ll]
        s_l = (((share[k] + share[ll]) * dbar[k]) ** 2 * nkl * (1 - nkl)
               * (dbar[ll] / dbar[k]) * (dbar[k] - dbar[ll]) / dbar[k])
        rows.append((_TYPES[2], groups[ll], groups[k], did(ll, k, window & ~post, post), s_l))
    for a in alw:
        for ll in timing:
            nkl = share[a] / (share[a] + share[ll])
            post = periods >= groups[ll]
            s_l = (share[a] + share[ll]) ** 2 * nkl * (1 - nkl) * dbar[ll] * (1 - dbar[ll])
            rows.append((_TYPES[3], groups[ll], -np.inf, did(ll, a, ~post, post), s_l))
    if not rows:
        raise EstimationError("No 2x2 comparison: the treatment does not vary over time.")
    tab = pd.DataFrame(rows, columns=["type", "treated", "control", "estimate", "raw"])
    # variance of the two-way demeaned treatment (balanced panel: closed form)
    d = (periods[None, :] >= cohort[:, None]).astype(float)
    dd = d - d.mean(axis=1, keepdims=True) - d.mean(axis=0, keepdims=True) + d.mean()
    v_d = float(np.mean(dd**2))
    if v_d <= 0:
        raise EstimationError("The treatment has no variation left after unit and period effects.")
    weight = tab["raw"].to_numpy() / v_d
    twfe = float(np.sum(dd * (mat - mat.mean(axis=1, keepdims=True))) / np.sum(dd**2))
    est = tab["estimate"].to_numpy()
    labels = {np.inf: "never treated", -np.inf: "always treated"}
    tl = panel._label_times

    def lab(v: float):
        return labels[v] if np.isinf(v) else tl(np.array([v]))[0]

    keys = pd.DataFrame({"type": tab["type"], "treated": [lab(v) for v in tab["treated"]],
                         "control": [lab(v) for v in tab["control"]]})
    total = float(weight.sum())
    weight = weight / total
    return BaconResult(
        keys=keys, estimate=est, vcov=np.full((est.size, est.size), np.nan),
        extra=pd.DataFrame({"weight": weight}),
        info={"estimator": "Goodman-Bacon decomposition of TWFE", "outcome": y,
              "n_obs": panel.n_obs, "n_units": panel.n_units,
              "notes": ["Descriptive: the 2x2 estimates carry no standard errors."]},
        twfe=twfe, weighted_sum=float(weight @ est),
        details={"weight_sum_unnormalised": total, "variance_of_demeaned_treatment": v_d},
    )


@dataclass(frozen=True, eq=False)
class TwfeWeights:
    """de Chaisemartin-D'Haultfoeuille weights of the TWFE estimand on treated cells.

    Attributes
    ----------
    cells
        One row per treated (cohort, period) cell: ``cohort, time, n_obs``,
        ``weight`` (the cell's total weight; they sum to one over treated
        cells) and ``weight_per_obs`` (:math:`W_{gt}`, whose
        :math:`N_{gt}/N_1`-weighted mean is one).
    beta
        The TWFE coefficient (``NaN`` without an outcome).
    n_negative, sum_negative
        Number of treated (unit, period) observations with a negative weight
        and the sum of their weights; ``n_positive`` likewise.
    sigma_fe
        :math:`|\\hat\\beta_{fe}|/\\sigma(W)`: the smallest standard deviation
        of the treated cells' effects compatible with :math:`\\beta_{fe}` and
        an average effect on the treated of zero.
    sigma_fe_under
        The smallest standard deviation compatible with :math:`\\beta_{fe}`
        and every cell's effect of the opposite sign (``NaN`` when no
        weight has the sign that allows it).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("castle"), unit="sid", time="year", cohort="effyear")
    >>> tw = ci.twfe_weights(p, "l_homicide")
    >>> round(float(tw.cells["weight"].sum()), 10)
    1.0
    """

    cells: pd.DataFrame
    beta: float
    n_positive: int
    n_negative: int
    sum_negative: float
    sigma_fe: float
    sigma_fe_under: float

    def summary(self) -> str:
        """Plain-language summary as printed by ``twowayfeweights``.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("castle"), unit="sid", time="year", cohort="effyear")
        >>> ci.twfe_weights(p, "l_homicide").summary().startswith("Under the common trends")
        True
        """
        n = self.n_positive + self.n_negative
        lines = [f"Under the common trends assumption, the TWFE coefficient estimates a weighted sum of "
                 f"{n} ATTs (treated unit-period cells): {self.n_positive} receive a positive weight "
                 f"and {self.n_negative} a negative weight; the negative weights sum to "
                 f"{self.sum_negative:.4f}."]
        if np.isfinite(self.beta):
            lines.append(f"beta_fe = {self.beta:.4f} is compatible with an ATT of zero if the standard "
                         f"deviation of the ATTs across treated cells is at least {self.sigma_fe:.4f}.")
            if np.isfinite(self.sigma_fe_under):
                lines.append("It is compatible with ATTs of the opposite sign in every treated cell if "
                             f"that standard deviation is at least {self.sigma_fe_under:.4f}.")
        return "\n".join(lines)


def _sigma_under(w: np.ndarray, p: np.ndarray, beta: float) -> float:
    """Smallest sd of cell effects with :math:`\\sum p W \\Delta = \\beta` and all effects of the other sign.

    Minimises :math:`\\sum p\\Delta^2 - (\\sum p\\Delta)^2` subject to the
    constraint and :math:`\\operatorname{sign}(\\beta)\\Delta \\le 0`. On the
    active set the first-order conditions give :math:`\\Delta = a + bW`; the
    active set is a tail of the cells sorted by weight (most negative
    weights for :math:`\\beta > 0`), so every tail is tried.
    """
    if beta == 0:
        return 0.0
    sign = np.sign(beta)
    ws, bs = w * sign, abs(beta)  # now need sum p W Delta = bs > 0 with Delta <= 0
    order = np.argsort(ws)  # most negative first
    best = np.inf
    for k in range(1, ws.size + 1):
        act = order[:k]
        pa, wa = p[act], ws[act]
        # minimise f(a,b) = sum pa (a + b wa)^2 - (sum pa (a + b wa))^2 s.t. sum pa wa (a + b wa) = bs
        s0, s1, s2 = pa.sum(), pa @ wa, pa @ wa**2
        q = 2 * np.array([[s0 - s0**2, s1 - s0 * s1], [s1 - s0 * s1, s2 - s1**2]])
        c = np.array([s1, s2])
        kkt = np.block([[q, c[:, None]], [c[None, :], np.zeros((1, 1))]])
        try:
            sol = np.linalg.solve(kkt, np.array([0.0, 0.0, bs]))
        except np.linalg.LinAlgError:
            sol = np.linalg.lstsq(kkt, np.array([0.0, 0.0, bs]), rcond=None)[0]
        delta = sol[0] + sol[1] * wa
        if np.all(delta <= 1e-12) and np.isclose(pa @ (wa * delta), bs):
            full = np.zeros(ws.size)
            full[act] = delta
            var = p @ full**2 - (p @ full) ** 2
            best = min(best, float(np.sqrt(max(var, 0.0))))
    return best if np.isfinite(best) else float("nan")


def twfe_weights(panel, y: str | None = None) -> TwfeWeights:
    """de Chaisemartin & D'Haultfoeuille (2020) weights behind the static TWFE coefficient.

    Parameters
    ----------
    panel
        A :class:`clusterimpact.Panel` (weights, if any, are used).
    y
        Outcome column; needed for :math:`\\hat\\beta_{fe}` and the
        robustness measures.

    Returns
    -------
    TwfeWeights

    Notes
    -----
    Let :math:`\\varepsilon_{it}` be the residual of the treatment
    :math:`D_{it}` on unit and period fixed effects. Under common trends,
    :math:`\\beta_{fe} = \\sum_{D_{it}=1} \\frac{N_{it}}{N_1} W_{it}\\Delta_{it}` with
    :math:`W_{it} = \\varepsilon_{it} / \\sum_{D=1}\\frac{N_{it}}{N_1}\\varepsilon_{it}`
    (their Theorem 1), so cells with :math:`\\varepsilon_{it} < 0` (typically
    early cohorts late in the panel) get negative weights.
    :math:`\\sigma_{fe} = |\\hat\\beta_{fe}|/\\sigma(W)` with
    :math:`\\sigma(W)^2 = \\sum_{D=1}\\frac{N_{it}}{N_1}(W_{it}-1)^2`
    (their Corollary 1); :math:`\\underline\\sigma_{fe}` solves the
    constrained problem in :func:`_sigma_under` on (cohort, period) cells.

    References
    ----------
    de Chaisemartin, C. & D'Haultfoeuille, X. (2020). Two-way fixed effects
    estimators with heterogeneous treatment effects. *American Economic
    Review* 110(9), 2964-2996.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("castle"), unit="sid", time="year", cohort="effyear")
    >>> tw = ci.twfe_weights(p, "l_homicide")
    >>> tw.n_negative, round(tw.beta, 4), round(tw.sigma_fe, 3)
    (0, 0.0818, 0.387)
    """
    d = np.asarray(panel.treated, dtype=float)
    w = np.asarray(panel.weights, dtype=float)
    fe = [np.asarray(panel.unit_code), np.asarray(panel.time_code)]
    eps = demean(d, fe, w if panel.has_weights else None).values[:, 0]
    treated = d == 1
    n1 = w[treated].sum()
    denom = float(np.sum(w[treated] * eps[treated]) / n1)
    if abs(denom) < 1e-14:
        raise EstimationError("The treatment has no variation left after unit and period effects.")
    big_w = eps / denom
    cohort = np.asarray(panel.cohort_value, dtype=float)
    time = np.asarray(panel.time_value, dtype=float)
    frame = pd.DataFrame({"cohort": cohort[treated], "time": time[treated], "n": w[treated],
                          "wt": w[treated] * big_w[treated] / n1, "W": big_w[treated]})
    cells = frame.groupby(["cohort", "time"], sort=True).agg(
        n_obs=("n", "sum"), weight=("wt", "sum"), weight_per_obs=("W", "mean")).reset_index()
    share = cells["n_obs"].to_numpy() / n1
    wc = cells["weight_per_obs"].to_numpy()
    beta = float("nan")
    if y is not None:
        yv = np.asarray(panel.column(y, role="outcome"), dtype=float)
        if not np.isfinite(yv).all():
            raise SpecificationError(f"The outcome {y!r} has missing values.")
        yd = demean(yv, fe, w if panel.has_weights else None).values[:, 0]
        beta = float(np.sum(w * eps * yd) / np.sum(w * eps**2))
    sd_w = float(np.sqrt(np.sum(share * (wc - 1.0) ** 2)))
    neg = big_w[treated] < 0
    return TwfeWeights(
        cells=cells, beta=beta, n_positive=int((~neg).sum()), n_negative=int(neg.sum()),
        sum_negative=float(np.sum(w[treated][neg] * big_w[treated][neg]) / n1),
        sigma_fe=abs(beta) / sd_w if np.isfinite(beta) and sd_w > 0 else float("nan"),
        sigma_fe_under=_sigma_under(wc, share, beta) if np.isfinite(beta) else float("nan"),
    )
