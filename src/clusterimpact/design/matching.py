"""Matching and weighting to build a comparison group: nearest neighbour, Mahalanobis, CEM, IPW,
entropy balancing and overlap weights.

:func:`match` returns a :class:`~clusterimpact.results.matching.MatchResult`
whose ``weights`` follow MatchIt's conventions (matched controls are weighted
to represent the treated; weights of matched units average one within each
arm), whose ``balance()`` compares covariates before and after, and whose
``att(y)`` estimates the effect with Abadie-Imbens (2006) standard errors for
nearest-neighbour matching and M-estimation (sandwich) ones for weighting.

The weights are unit-level; to use them in a difference-in-differences
analysis merge them onto the panel by unit and pass the column as
``ci.Panel(..., weights="match_weight")``, or call
:func:`clusterimpact.design.controls.matched_did`, which does both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize

from clusterimpact.design._frames import to_pandas
from clusterimpact.design.balance import _as_list, _check_columns, covariate_matrix, treatment_vector
from clusterimpact.design.propensity import common_support, crump_threshold, fit_propensity
from clusterimpact.errors import EstimationError, SpecificationError
from clusterimpact.results.matching import MatchResult

__all__ = ["entropy_weights", "match"]

Method = Literal["nearest", "mahalanobis", "cem", "ipw", "entropy", "overlap"]
Estimand = Literal["ATT", "ATC", "ATE", "ATO"]
_METHODS = ("nearest", "mahalanobis", "cem", "ipw", "entropy", "overlap")
_ESTIMANDS = {
    "nearest": ("ATT", "ATC"), "mahalanobis": ("ATT", "ATC"), "cem": ("ATT", "ATC"),
    "ipw": ("ATT", "ATC", "ATE"), "entropy": ("ATT", "ATC", "ATE"), "overlap": ("ATO",),
}


# ----------------------------------------------------------------------------- helpers
def _pooled_within_cov(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Covariance of ``x`` after demeaning within each arm (Rubin 1980; MatchIt, optmatch)."""
    xc = x.copy()
    for arm in (d, ~d):
        xc[arm] -= xc[arm].mean(axis=0)
    return xc.T @ xc / (len(x) - 2)


def _mahalanobis_coordinates(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Coordinates in which Euclidean distance is the Mahalanobis distance (generalised inverse)."""
    keep = np.ptp(x, axis=0) > 0
    x = x[:, keep]
    if x.shape[1] == 0:
        return np.zeros((len(x), 1))
    cov = _pooled_within_cov(x, d)
    vals, vecs = np.linalg.eigh(cov)
    pos = vals > 1e-10 * vals.max()
    return x @ (vecs[:, pos] / np.sqrt(vals[pos]))


def _nearest(focal: np.ndarray, pool: np.ndarray, coords: np.ndarray, *, ratio: int, replace: bool,
             allowed: np.ndarray | None, strata: np.ndarray | None) -> dict[int, np.ndarray]:
    """Greedy nearest-neighbour matching; ties go to the unit that comes first in the data."""
    available = np.ones(len(pool), dtype=bool)
    matches: dict[int, np.ndarray] = {}
    for i in focal:
        ok = available.copy()
        if strata is not None:
            ok &= strata[pool] == strata[i]
        if allowed is not None:
            ok &= allowed(i, pool)
        if not ok.any():
            continue
        cand = np.flatnonzero(ok)
        dist = ((coords[pool[cand]] - coords[i]) ** 2).sum(axis=1)
        chosen = cand[_closest(dist, ratio)]
        matches[int(i)] = pool[chosen]
        if not replace:
            available[chosen] = False
    return matches


def _closest(dist: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest distances; distances equal up to rounding (relative
    1e-9) count as ties and go to the unit that comes first in the data."""
    left = np.ones(dist.size, dtype=bool)
    out = []
    for _ in range(min(k, dist.size)):
        best = dist[left].min()
        pos = int(np.flatnonzero(left & (dist <= best + 1e-9 * max(best, 1e-12)))[0])
        out.append(pos)
        left[pos] = False
    return np.asarray(out, dtype=np.int64)


def _weights_from_matches(matches: dict[int, np.ndarray], n: int, focal_arm: np.ndarray) -> np.ndarray:
    """MatchIt's weights: focal units 1, each match 1/(number of matches of its focal unit), then
    rescaled so that the weights of matched units average one within each arm."""
    w = np.zeros(n)
    for i, js in matches.items():
        w[i] += 1.0
        np.add.at(w, js, 1.0 / len(js))
    return _normalise(w, focal_arm)


def _normalise(w: np.ndarray, d: np.ndarray) -> np.ndarray:
    out = w.copy()
    for arm in (d, ~d):
        pos = arm & (w > 0)
        if pos.any():
            out[pos] = w[pos] * pos.sum() / w[pos].sum()
    return out


def _sturges_codes(x: np.ndarray) -> np.ndarray:
    """Equal-width bins with Sturges' number of bins (the ``cem`` default)."""
    k = int(np.ceil(np.log2(len(x)) + 1))
    edges = np.linspace(x.min(), x.max(), k + 1)
    return np.clip(np.searchsorted(edges, x, side="right") - 1, 0, k - 1)


def _cem(x: np.ndarray, kinds: list[str], d: np.ndarray, focal_arm: np.ndarray,
         exact_codes: np.ndarray | None, cutpoints: dict[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    cols = []
    for j, kind in enumerate(kinds):
        if kind == "binary":
            cols.append(x[:, j].astype(np.int64))
        elif cutpoints and j in cutpoints:
            edges = np.linspace(x[:, j].min(), x[:, j].max(), cutpoints[j] + 1)
            cols.append(np.clip(np.searchsorted(edges, x[:, j], side="right") - 1, 0, cutpoints[j] - 1))
        else:
            cols.append(_sturges_codes(x[:, j]))
    if exact_codes is not None:
        cols.append(exact_codes)
    strata = pd.MultiIndex.from_arrays(cols).factorize()[0] if len(cols) > 1 else cols[0]
    n_f = np.bincount(strata, weights=focal_arm.astype(float))
    n_o = np.bincount(strata, weights=(~focal_arm).astype(float))
    both = (n_f > 0) & (n_o > 0)
    w = np.where(both[strata], np.where(focal_arm, 1.0, n_f[strata] / np.maximum(n_o[strata], 1)), 0.0)
    return _normalise(w, d), strata


def entropy_weights(c: np.ndarray, target: np.ndarray, *, tol: float = 1e-8,
                    max_iter: int = 200) -> tuple[np.ndarray, dict[str, Any]]:
    """Entropy-balancing weights of the rows of ``c`` whose weighted means equal ``target``.

    Solves the convex dual of Hainmueller (2012): minimise
    :math:`\\log \\sum_i \\exp(\\lambda'(c_i - t))` over :math:`\\lambda`; the
    weights are :math:`w_i \\propto \\exp(\\lambda' c_i)`, normalised to mean one.

    Raises
    ------
    EstimationError
        When the target lies outside the convex hull of the rows (balance is
        infeasible) or the optimiser does not reach the tolerance.

    Examples
    --------
    >>> import numpy as np
    >>> c = np.array([[0.0], [1.0], [2.0], [4.0]])
    >>> w, info = entropy_weights(c, np.array([2.5]))
    >>> round(float(w @ c[:, 0] / w.sum()), 10), info["converged"]
    (2.5, True)
    """
    scale = c.std(axis=0)
    scale[scale == 0] = 1.0
    z = (c - target) / scale
    lo, hi = z.min(axis=0), z.max(axis=0)
    outside = np.flatnonzero((lo > -1e-12) | (hi < 1e-12))
    if outside.size:
        raise EstimationError(
            "Entropy balancing is infeasible: the target mean of moment(s) "
            f"{outside.tolist()} lies at or outside the range of the units being reweighted."
        )

    def fun(lam: np.ndarray) -> tuple[float, np.ndarray]:
        e = z @ lam
        m = e.max()
        q = np.exp(e - m)
        s = q.sum()
        return float(m + np.log(s)), (q @ z) / s

    def hess(lam: np.ndarray) -> np.ndarray:
        e = z @ lam
        q = np.exp(e - e.max())
        p = q / q.sum()
        mu = p @ z
        return (z * p[:, None]).T @ z - np.outer(mu, mu)

    res = optimize.minimize(fun, np.zeros(z.shape[1]), jac=True, hess=hess, method="trust-exact",
                            options={"gtol": tol * 1e-2, "maxiter": max_iter})
    lam = res.x
    e = z @ lam
    w = np.exp(e - e.max())
    w = w * len(w) / w.sum()
    gap = np.abs((w @ z) / w.sum()).max()
    info = {"converged": bool(gap < tol), "iterations": int(res.nit), "max_standardised_gap": float(gap),
            "lambda": lam / scale}
    if gap >= tol:
        raise EstimationError(
            f"Entropy balancing did not converge (largest standardised imbalance {gap:.2e} after "
            f"{res.nit} iterations): the moment conditions are (nearly) infeasible. Drop or coarsen "
            "covariates, or balance means only (moments=1)."
        )
    return w, info


def _moment_matrix(x: np.ndarray, kinds: list[str], moments: int) -> np.ndarray:
    """Columns whose weighted means entropy balancing equalises: covariates (and squares)."""
    cols = [x]
    if moments >= 2:
        cont = [j for j, k in enumerate(kinds) if k == "continuous"]
        if cont:
            cols.append(x[:, cont] ** 2)
    c = np.column_stack(cols)
    c = c[:, np.ptp(c, axis=0) > 0]
    # drop exactly collinear moments (they would make the dual singular)
    r = np.linalg.qr(c - c.mean(axis=0), mode="r")
    return c[:, np.abs(np.diag(r)) > 1e-9 * np.abs(np.diag(r)).max()]


def _entropy(x: np.ndarray, kinds: list[str], d: np.ndarray, estimand: str, moments: int
             ) -> tuple[np.ndarray, dict[str, Any]]:
    c = _moment_matrix(x, kinds, moments)
    w = np.ones(len(d))
    info: dict[str, Any] = {}
    if estimand == "ATT":
        w[~d], info = entropy_weights(c[~d], c[d].mean(axis=0))
    elif estimand == "ATC":
        w[d], info = entropy_weights(c[d], c[~d].mean(axis=0))
    else:
        target = c.mean(axis=0)
        w[d], i1 = entropy_weights(c[d], target)
        w[~d], i0 = entropy_weights(c[~d], target)
        info = {"converged": i1["converged"] and i0["converged"],
                "iterations": max(i1["iterations"], i0["iterations"]),
                "max_standardised_gap": max(i1["max_standardised_gap"], i0["max_standardised_gap"])}
    return w, info


# ----------------------------------------------------------------------------- front door
def match(
    data: Any,
    *,
    treatment: str,
    covariates: str | Sequence[str],
    method: Method = "nearest",
    ratio: int = 1,
    replace: bool = False,
    caliper: float | None = None,
    exact: str | Sequence[str] | None = None,
    estimand: Estimand | None = None,
    link: Literal["logit", "probit"] = "logit",
    trim: float | Literal["crump"] | None = None,
    moments: int = 1,
    m_order: Literal["largest", "smallest", "data", "random"] | None = None,
    cutpoints: dict[str, int] | None = None,
    seed: int | np.random.Generator | None = None,
) -> MatchResult:
    """Match or weight comparison units so that they resemble the treated.

    Parameters
    ----------
    data
        pandas or polars DataFrame, one row per unit (not modified).
    treatment
        Binary (0/1) treatment column.
    covariates
        Pre-treatment covariates; non-numeric columns are expanded into indicators.
    method
        ``"nearest"``: greedy nearest neighbour on the propensity score
        (matching the highest scores first for the ATT, as MatchIt does);
        ``"mahalanobis"``: nearest neighbour on the Mahalanobis distance with the
        pooled within-arm covariance; ``"cem"``: coarsened exact matching
        (Sturges bins, binary and categorical covariates exact); ``"ipw"``:
        inverse probability weights; ``"entropy"``: entropy balancing
        (Hainmueller 2012); ``"overlap"``: overlap weights (Li, Morgan & Zaslavsky 2018).
    ratio
        Matches per focal unit (nearest, mahalanobis).
    replace
        Match with replacement (a comparison unit can serve several focal units).
    caliper
        Maximum distance of a match in standard deviations of the *logit* of
        the propensity score (Austin 2011 suggests 0.2); units without a
        match within the caliper stay unmatched.
    exact
        Column(s) on which matches must agree exactly (nearest, mahalanobis, cem).
    estimand
        ``"ATT"`` (default), ``"ATC"``, ``"ATE"`` (ipw, entropy) or ``"ATO"`` (overlap).
    link
        Propensity score model, ``"logit"`` or ``"probit"`` (statsmodels).
    trim
        Drop units with propensity scores outside ``[a, 1 - a]`` before
        matching or weighting: a number ``a`` or ``"crump"`` for the optimal
        ``a`` of Crump, Hotz, Imbens & Mitnik (2009). The score is re-estimated
        on the trimmed sample.
    moments
        Entropy balancing: 1 balances means, 2 also variances (squares of
        continuous covariates).
    m_order
        Order in which focal units are matched; default ``"largest"`` score
        first for the ATT (``"smallest"`` for the ATC) and ``"data"`` for Mahalanobis.
    cutpoints
        CEM: number of equal-width bins per continuous covariate (default Sturges).
    seed
        Used only with ``m_order="random"``.

    Returns
    -------
    MatchResult
        ``weights`` (Series aligned to ``data.index``), ``balance()``,
        ``summary()``, ``plot()``, ``att(y)``.

    Notes
    -----
    Weights follow MatchIt: after matching, each focal unit has weight 1 and
    each comparison unit the sum over the focal units it serves of
    :math:`1/(\\text{number of matches of that unit})`; the weights of matched
    units are then rescaled to average one within each arm. IPW uses
    :math:`w = D + (1-D)e/(1-e)` (ATT), :math:`D/e + (1-D)/(1-e)` (ATE),
    :math:`D(1-e)/e + (1-D)` (ATC); overlap weights :math:`D(1-e) + (1-D)e`.
    Entropy balancing chooses comparison weights :math:`w_i \\propto
    \\exp(\\lambda' c_i)` whose weighted moments equal the treated ones exactly.

    References
    ----------
    Abadie, A. and Imbens, G. W. (2006). Large sample properties of matching
    estimators for average treatment effects. *Econometrica* 74, 235-267.

    Hainmueller, J. (2012). Entropy balancing for causal effects. *Political Analysis* 20, 25-46.

    Ho, D., Imai, K., King, G. and Stuart, E. (2011). MatchIt: nonparametric
    preprocessing for parametric causal inference. *J. Statistical Software* 42(8).

    Iacus, S. M., King, G. and Porro, G. (2012). Causal inference without balance
    checking: coarsened exact matching. *Political Analysis* 20, 1-24.

    Li, F., Morgan, K. L. and Zaslavsky, A. M. (2018). Balancing covariates via
    propensity score weighting. *JASA* 113, 390-400.

    Examples
    --------
    >>> import numpy as np, pandas as pd, clusterimpact as ci
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"x": rng.normal(size=300)})
    >>> df["d"] = (df["x"] + rng.normal(size=300) > 0.8).astype(int)
    >>> m = ci.match(df, treatment="d", covariates=["x"])
    >>> int((m.weights[df["d"] == 0] > 0).sum()) == int(df["d"].sum())
    True
    """
    if method not in _METHODS:
        raise SpecificationError(f"method must be one of {_METHODS}, got {method!r}.{_hint(method)}")
    estimand = estimand or ("ATO" if method == "overlap" else "ATT")
    if estimand not in _ESTIMANDS[method]:
        raise SpecificationError(
            f"method={method!r} supports estimand {' or '.join(_ESTIMANDS[method])}, not {estimand!r}.")
    if int(ratio) != ratio or ratio < 1:
        raise SpecificationError(f"ratio must be a positive integer, got {ratio!r}.")
    if caliper is not None and not caliper > 0:
        raise SpecificationError(f"caliper must be positive (in SDs of the logit score), got {caliper!r}.")
    if moments not in (1, 2):
        raise SpecificationError(f"moments must be 1 (means) or 2 (means and variances), got {moments!r}.")
    exact_cols = _as_list(exact)
    if exact_cols and method not in ("nearest", "mahalanobis", "cem"):
        raise SpecificationError(f"exact= works with nearest, mahalanobis and cem matching, not {method!r}.")
    frame = to_pandas(data)
    covs = _as_list(covariates)
    _check_columns(frame, exact_cols, "Exact-matching")
    d_all = treatment_vector(frame, treatment)
    x_bal, names, kinds = covariate_matrix(frame, covs)
    x_ps, _, _ = covariate_matrix(frame, covs, drop_first=True)
    n = len(frame)
    info: dict[str, Any] = {"method": method, "estimand": estimand, "link": link, "ratio": int(ratio),
                            "replace": bool(replace), "caliper": caliper}

    keep = np.ones(n, dtype=bool)
    ps = None
    needs_ps = method in ("nearest", "ipw", "overlap") or caliper is not None or trim is not None
    if needs_ps:
        model = fit_propensity(x_ps, d_all, link=link)
        ps = model.score
        info["common_support"] = common_support(ps, d_all)
        if trim is not None:
            a = crump_threshold(ps) if trim == "crump" else float(trim)
            if not 0 <= a < 0.5:
                raise SpecificationError(f"trim must be 'crump' or a number in [0, 0.5), got {trim!r}.")
            keep = (ps >= a) & (ps <= 1 - a)
            info["trim_threshold"] = a
            info["n_trimmed"] = int((~keep).sum())
            sub_d = d_all[keep]
            if sub_d.all() or not sub_d.any():
                raise EstimationError(f"Trimming at {a:.3f} leaves only one arm; use a smaller trim.")
            model = fit_propensity(x_ps[keep], sub_d, link=link)
            ps = np.full(n, np.nan)
            ps[keep] = model.score
        info["ps_converged"] = model.converged
        info["ps_coef"] = model.coef
    idx = np.flatnonzero(keep)
    d = d_all[keep]
    focal_arm = d if estimand in ("ATT", "ATE", "ATO") else ~d

    w_sub = np.zeros(len(idx))
    matches = None
    coords = None
    strata = None
    if exact_cols:
        strata = pd.MultiIndex.from_frame(frame.loc[keep, exact_cols].astype(str)).factorize()[0] \
            if len(exact_cols) > 1 else pd.factorize(frame.loc[keep, exact_cols[0]])[0]
    if method in ("nearest", "mahalanobis"):
        if method == "nearest":
            coords = ps[keep][:, None]
            order = m_order or ("largest" if estimand == "ATT" else "smallest")
        else:
            coords = _mahalanobis_coordinates(x_ps[keep], d)
            order = m_order or "data"
        focal = np.flatnonzero(focal_arm)
        if order in ("largest", "smallest"):
            if ps is None:
                raise SpecificationError("m_order='largest'/'smallest' needs a propensity score.")
            s = ps[keep][focal]
            focal = focal[np.argsort(-s if order == "largest" else s, kind="stable")]
        elif order == "random":
            focal = np.random.default_rng(seed).permutation(focal)
        elif order != "data":
            raise SpecificationError(f"Unknown m_order {order!r}.")
        allowed = None
        if caliper is not None:
            lp = np.log(ps[keep] / (1 - ps[keep]))
            width = caliper * lp.std(ddof=1)
            info["caliper_width_logit"] = width

            def allowed(i, pool, lp=lp, width=width):
                return np.abs(lp[pool] - lp[i]) <= width
        matches = _nearest(focal, np.flatnonzero(~focal_arm), coords, ratio=int(ratio), replace=replace,
                           allowed=allowed, strata=strata)
        if not matches:
            raise EstimationError("No unit could be matched (caliper too narrow or exact strata empty).")
        w_sub = _weights_from_matches(matches, len(idx), focal_arm)
        info["m_order"] = order
    elif method == "cem":
        cuts = None
        if cutpoints:
            cuts = {names.index(k): int(v) for k, v in cutpoints.items() if k in names}
        w_sub, strata = _cem(x_bal[keep], kinds, d, focal_arm, strata, cuts)
        if not (w_sub > 0).any():
            raise EstimationError("CEM found no stratum with both treated and control units; coarsen more.")
        info["n_strata"] = len(np.unique(strata[w_sub > 0]))
    elif method in ("ipw", "overlap"):
        e = ps[keep]
        if method == "overlap":
            w_sub = np.where(d, 1 - e, e)
        elif estimand == "ATT":
            w_sub = np.where(d, 1.0, e / (1 - e))
        elif estimand == "ATC":
            w_sub = np.where(d, (1 - e) / e, 1.0)
        else:
            w_sub = np.where(d, 1 / e, 1 / (1 - e))
    else:
        w_sub, ent_info = _entropy(x_ps[keep], kinds_ps(frame, covs), d, estimand, moments)
        info["entropy"] = ent_info
        info["moments"] = moments

    weights = np.zeros(n)
    weights[idx] = w_sub
    full_matches = None
    if matches is not None:
        full_matches = {int(idx[i]): idx[js] for i, js in matches.items()}
    full_coords = None
    if coords is not None:
        full_coords = np.full((n, coords.shape[1]), np.nan)
        full_coords[idx] = coords
    return MatchResult(
        data=frame,
        treatment=treatment,
        covariates=covs,
        method=method,
        estimand=estimand,
        weights=pd.Series(weights, index=frame.index, name="weights"),
        propensity=None if ps is None else pd.Series(ps, index=frame.index, name="propensity_score"),
        matches=full_matches,
        coords=full_coords,
        kept=keep,
        info=info,
    )


def kinds_ps(frame: pd.DataFrame, covs: list[str]) -> list[str]:
    """Kinds of the columns of the drop-first covariate matrix.

    Examples
    --------
    >>> import pandas as pd
    >>> kinds_ps(pd.DataFrame({"a": [0.5, 1.0], "g": ["u", "v"]}), ["a", "g"])
    ['continuous', 'binary']
    """
    return covariate_matrix(frame, covs, drop_first=True)[2]


def _hint(name: str) -> str:
    from clusterimpact.errors import suggest

    return suggest(name, _METHODS)
