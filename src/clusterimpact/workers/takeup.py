"""Offer versus take-up: the ITT and the fuzzy (Wald) DiD of de Chaisemartin & D'Haultfoeuille (2018).

When clusters are *offered* the programme but only some workers or firms
*take it up*, the DiD of the outcome is the intention-to-treat (ITT) effect of
the offer. Scaling it by the DiD of take-up gives the Wald-DID; the
time-corrected Wald-TC drops the assumption that effects are stable over
time and equal across groups.

Examples
--------
>>> import numpy as np, pandas as pd, clusterimpact as ci
>>> df = pd.DataFrame({"g": [1, 1, 1, 1, 0, 0, 0, 0], "t": [0, 0, 1, 1] * 2,
...                    "d": [0, 0, 1, 0, 0, 0, 0, 0], "y": [1.0, 2, 4, 2, 1, 2, 2, 3]})
>>> ci.workers.wald_did(df, "y", group="g", period="t", takeup="d").tidy()["term"].tolist()
['itt', 'first_stage', 'wald_did', 'wald_tc']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clusterimpact.errors import SpecificationError, suggest
from clusterimpact.results.base import Result

__all__ = ["wald_did"]


def _col(frame: pd.DataFrame, name: str, role: str) -> np.ndarray:
    if name not in frame:
        raise SpecificationError(f"The {role} column {name!r} is not in the data."
                                 f"{suggest(name, frame.columns)}")
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def wald_did(data, y: str, *, group: str, period: str, takeup: str, cluster: str | None = None,
             alpha: float = 0.05) -> Result:
    """ITT, first stage, Wald-DID and Wald-TC in a two-group, two-period design.

    Parameters
    ----------
    data
        A DataFrame (or :class:`~clusterimpact.Panel`, whose ``data`` is used);
        rows are individuals in a (group, period) cell (repeated cross-sections
        or the rows of a panel).
    y
        Outcome.
    group
        0/1: 1 for the group offered the programme between the periods.
    period
        0/1: 0 before, 1 after.
    takeup
        0/1 treatment actually received (take-up).
    cluster
        Column for clustered standard errors (default: rows independent).
    alpha
        One minus the confidence level.

    Returns
    -------
    Result
        Rows ``itt`` (DiD of the outcome), ``first_stage`` (DiD of take-up),
        ``wald_did = itt / first_stage`` and ``wald_tc``, with a joint covariance.

    Notes
    -----
    With cell means :math:`\\bar Y_{gt}`, :math:`\\bar D_{gt}`,
    :math:`W_{DID} = \\frac{\\bar Y_{11}-\\bar Y_{10}-\\bar Y_{01}+\\bar Y_{00}}
    {\\bar D_{11}-\\bar D_{10}-\\bar D_{01}+\\bar D_{00}}` and

    .. math:: W_{TC} = \\frac{\\bar Y_{11} - \\bar Y_{10} - \\sum_{d} \\Pr(D_{10}=d)\\,
              \\delta_d}{\\bar D_{11} - \\bar D_{10}},\\qquad
              \\delta_d = E(Y_{01}|D=d) - E(Y_{00}|D=d).

    Assumptions (de Chaisemartin & D'Haultfoeuille 2018): binary take-up;
    take-up rises in the offered group and is stable in the comparison group
    (no one is moved into or out of treatment there); monotonicity (no one
    stops taking up because of the offer). Wald-TC needs parallel trends of
    the untreated *and* treated outcomes between units with the same
    treatment in the two groups, and identifies the local average effect
    on the switchers (who take up because of the offer). Wald-DID needs, in
    addition, effects that are stable over time and equal across groups;
    otherwise it is a weighted sum of effects with possibly negative weights.
    Wald-TC needs the comparison group's pre- and post-period cells to contain
    every take-up value that the offered group's pre-period cell contains.
    Standard errors: the delta method on the influence functions of the cell
    means, :math:`\\psi_W = (\\psi_N - W\\psi_D)/D`, summed within clusters.

    References
    ----------
    de Chaisemartin, C. and D'Haultfoeuille, X. (2018). Fuzzy
    differences-in-differences. *Review of Economic Studies*, 85(2), 999-1028.

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"g": [1, 1, 1, 1, 0, 0, 0, 0], "t": [0, 0, 1, 1] * 2,
    ...                    "d": [0, 0, 1, 0, 0, 0, 0, 0], "y": [1.0, 2, 4, 2, 1, 2, 2, 3]})
    >>> ci.workers.wald_did(df, "y", group="g", period="t", takeup="d").estimate.round(2).tolist()
    [0.5, 0.5, 1.0, 1.0]
    """
    frame = data.data if hasattr(data, "is_panel") else data
    yv, g, t, d = (_col(frame, c, r) for c, r in ((y, "outcome"), (group, "group"), (period, "period"),
                                                   (takeup, "take-up")))
    for name, v in ((group, g), (period, t), (takeup, d)):
        if np.isnan(v).any() or not np.isin(v, (0.0, 1.0)).all():
            raise SpecificationError(f"The column {name!r} must be 0/1 without missing values.")
    if np.isnan(yv).any():
        raise SpecificationError(f"The outcome {y!r} has missing values; drop those rows first.")
    n = yv.size
    cl = np.arange(n) if cluster is None else pd.factorize(frame[cluster])[0]
    cell = {(a, b): (g == a) & (t == b) for a in (0.0, 1.0) for b in (0.0, 1.0)}
    if any(m.sum() == 0 for m in cell.values()):
        raise SpecificationError("Each of the four (group, period) cells needs rows.")

    def mean_if(v: np.ndarray, m: np.ndarray) -> tuple[float, np.ndarray]:
        mu = float(v[m].mean())
        return mu, np.where(m, v - mu, 0.0) / m.mean()

    my, py, md, pd_ = {}, {}, {}, {}
    for key, m in cell.items():
        my[key], py[key] = mean_if(yv, m)
        md[key], pd_[key] = mean_if(d, m)
    sign = {(1.0, 1.0): 1, (1.0, 0.0): -1, (0.0, 1.0): -1, (0.0, 0.0): 1}
    itt = sum(sign[k] * my[k] for k in cell)
    fs = sum(sign[k] * md[k] for k in cell)
    psi_itt = sum(sign[k] * py[k] for k in cell)
    psi_fs = sum(sign[k] * pd_[k] for k in cell)
    wald = itt / fs
    psi_wald = (psi_itt - wald * psi_fs) / fs
    # time-corrected Wald
    num, psi_num = my[(1.0, 1.0)] - my[(1.0, 0.0)], py[(1.0, 1.0)] - py[(1.0, 0.0)]
    for dv in (0.0, 1.0):
        share, psi_share = mean_if((d == dv).astype(float), cell[(1.0, 0.0)])
        if share == 0:
            continue
        m01, m00 = cell[(0.0, 1.0)] & (d == dv), cell[(0.0, 0.0)] & (d == dv)
        if m01.sum() == 0 or m00.sum() == 0:
            raise SpecificationError(f"Wald-TC needs comparison-group rows with take-up {dv:g} in both "
                                     "periods (the offered group's pre-period has them).")
        a, pa = mean_if(yv, m01)
        b, pb = mean_if(yv, m00)
        delta, psi_delta = a - b, pa - pb
        num -= share * delta
        psi_num = psi_num - share * psi_delta - delta * psi_share
    den, psi_den = md[(1.0, 1.0)] - md[(1.0, 0.0)], pd_[(1.0, 1.0)] - pd_[(1.0, 0.0)]
    wtc = num / den
    psi_tc = (psi_num - wtc * psi_den) / den
    infl = np.column_stack([psi_itt, psi_fs, psi_wald, psi_tc])
    scores = np.zeros((int(cl.max()) + 1, 4))
    np.add.at(scores, cl, infl)
    scores /= n
    info = {"estimator": "Fuzzy DiD (de Chaisemartin & D'Haultfoeuille 2018)", "outcome": y,
            "n_obs": n, "n_clusters": int(np.unique(cl).size),
            "vcov_type": "delta method on influence functions"
            + (f", clustered by {cluster}" if cluster else "")}
    return Result(keys=pd.DataFrame({"term": ["itt", "first_stage", "wald_did", "wald_tc"]}),
                  estimate=np.array([itt, fs, wald, wtc]), vcov=scores.T @ scores, alpha=alpha,
                  info=info, influence=infl, cluster=cl)
