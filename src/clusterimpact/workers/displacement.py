"""Tiers and displacement: effects down the supply chain and on suppliers of treated buyers.

A code of conduct or a monitoring programme adopted by first-tier exporters
can improve their own workers' conditions while moving work (and bad
conditions) to subcontractors and home-workers. Three questions:

1. *Effects by tier* (:func:`tier_effects`): ``att_gt`` by tier for several
   outcomes with one joint covariance, so "first tier gains, lower tiers do
   not" is a tested contrast.
2. *Outsourcing* (:func:`outsourcing_effects`): the effect on the share of
   production a firm puts out, estimated on a firm-period panel by tier.
3. *Exposure of untreated suppliers* (:func:`supplier_exposure`,
   :func:`exposure_did`, :func:`exposure_twfe`): an untreated supplier is
   exposed to the programme through the share of its baseline sales that go
   to buyers who adopt it; its onset is the buyer's roll-out date. Effects are
   estimated as a dose-response, by exposure bin with ``att_gt`` (stacked, one
   joint covariance) and as one slope from a linear-in-exposure TWFE with
   clustered standard errors.

Examples
--------
>>> import pandas as pd, clusterimpact as ci
>>> links = pd.DataFrame({"supplier_id": [1, 1, 2], "buyer_id": [10, 11, 11],
...                       "sales": [30.0, 70.0, 50.0]})
>>> buyers = pd.DataFrame({"buyer_id": [10, 11], "cohort": [4, 0]})
>>> ci.workers.supplier_exposure(links, buyers)[["supplier_id", "exposure", "onset"]]
   supplier_id  exposure  onset
0            1       0.3      4
1            2       0.0      0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.design._frames import to_pandas
from clusterimpact.design.panel import Panel
from clusterimpact.errors import SpecificationError, suggest
from clusterimpact.results.base import Result
from clusterimpact.workers.joint import SubgroupEffects, subgroup_effects

__all__ = ["exposure_did", "exposure_twfe", "outsourcing_effects", "supplier_exposure", "tier_effects"]

CGBS_2024 = ("Callaway, B., Goodman-Bacon, A. and Sant'Anna, P. H. C. (2024). Difference-in-differences "
             "with a continuous treatment. NBER Working Paper 32117.")


def _need(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SpecificationError(
            f"{what}: column(s) {missing} not found.{suggest(missing[0], frame.columns)}")


def tier_effects(panel: Panel, y: str | Sequence[str], *, tier: str = "tier", adjust: str | None = "holm",
                 **kw: Any) -> SubgroupEffects:
    """Effects of the programme on each supply-chain tier, for one or several outcomes, jointly.

    Parameters
    ----------
    panel
        Worker or firm panel with a tier column (constant within unit).
    y
        Outcome column(s).
    tier
        Tier column (e.g. first tier, subcontractor, home-based).
    adjust
        Multiplicity adjustment over the (outcome x tier) table.
    **kw
        Passed to :func:`~clusterimpact.workers.subgroup_effects` (``estimator=``,
        ``control=``, ``covariates=`` ...).

    Returns
    -------
    SubgroupEffects
        One row per (outcome, tier): the simple aggregate of ATT(g, t) within the
        tier (comparison units from the same tier); ``.compare()`` tests the
        differences between tiers with the joint covariance.

    Notes
    -----
    The tier-specific :math:`ATT_{k} = \\sum_{g,t \\ge g} w_{gk} ATT_k(g, t)` uses
    never- (or not-yet-) treated units *of the same tier* as comparisons: parallel
    trends must hold within tier. A lower tier whose effect comes from the first
    tier's adoption (work moved down the chain) is picked up here only if its own
    cluster is the treated one; suppliers in other clusters are the business of
    :func:`exposure_did`.

    References
    ----------
    Barrientos, S. and Smith, S. (2007). Do workers benefit from ethical trade? Assessing
    codes of labour practice in global production systems. *Third World Quarterly* 28(4).

    Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple
    time periods. *Journal of Econometrics* 225(2), 200-230.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("garment_codes", seed=1, n_clusters=20, cohort_sizes=(5, 5))
    >>> res = ci.workers.tier_effects(sim.panel, "wage")
    >>> res.tidy()["tier"].tolist()
    ['first_tier', 'subcontractor', 'home_based']
    """
    if tier not in panel.data:
        raise SpecificationError(f"tier={tier!r} is not a column.{suggest(tier, panel.data.columns)}")
    return subgroup_effects(panel, y, by=tier, adjust=adjust, **kw)


def outsourcing_effects(data, share: str = "outsourced_share", *, firm: str = "firm_id",
                        time: str = "period", cohort: str = "cohort", cluster: str = "cluster_id",
                        tier: str | None = "tier", adjust: str | None = "holm", **kw: Any) -> SubgroupEffects:
    """Effect on the outsourced share of production, on a firm-period panel (by tier).

    Parameters
    ----------
    data
        Worker or firm records (pandas or polars); worker rows are collapsed to
        one row per (firm, period) by averaging ``share`` (a firm-level outcome
        is constant within firm-period, so this is its value).
    share
        Outsourced share of production (or any firm-level outcome).
    firm, time, cohort, cluster
        Firm id, period, first treated period (0 = never) and cluster columns.
    tier
        Tier column (effects by tier), or ``None`` for one effect over all firms.
    adjust, **kw
        As in :func:`tier_effects`.

    Returns
    -------
    SubgroupEffects
        One row per tier (or one row ``tier == "all"``).

    Notes
    -----
    Each firm counts once, whatever its workforce: the estimand is the average
    effect over firms, :math:`\\sum_{g, t \\ge g} w_g\\,ATT^{firm}(g, t)`, not over
    workers (which :func:`tier_effects` on a worker panel would give).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("garment_codes", seed=1, n_clusters=20, cohort_sizes=(5, 5))
    >>> res = ci.workers.outsourcing_effects(sim.data)
    >>> res.tidy()[["tier", "estimate"]].round(2)["tier"].tolist()
    ['first_tier', 'subcontractor', 'home_based']
    """
    frame = to_pandas(data)
    keys = [firm, time]
    extra = [c for c in (cohort, cluster) if c not in keys]
    _need(frame, [*keys, *extra, share] + ([tier] if tier else []), "outsourcing_effects")
    values = pd.to_numeric(frame[share], errors="coerce")
    firms = (frame.assign(**{share: values}).groupby(keys, sort=True, observed=True)
             .agg(**{share: (share, "mean")}, **{c: (c, "first") for c in extra + ([tier] if tier else [])})
             .reset_index())
    by = tier
    if tier is None:
        firms["tier"] = "all"
        by = "tier"
    panel = Panel(firms, unit=firm, time=time, cohort=cohort, cluster=cluster)
    res = subgroup_effects(panel, share, by=by, adjust=adjust, **kw)
    return res


def supplier_exposure(links, buyers, *, supplier: str = "supplier_id", buyer: str = "buyer_id",
                      sales: str = "sales", onset: str = "cohort") -> pd.DataFrame:
    """Each supplier's exposure to the programme through its buyers, and its onset date.

    Parameters
    ----------
    links
        Baseline supplier-buyer trade: one row per (supplier, buyer) with ``sales``
        (value or share; rows of the same pair are summed).
    buyers
        Buyer roll-out dates: ``buyer`` and ``onset`` (first treated period, 0 or NaN
        = never); may have one row per buyer-period (the date must be constant).
    supplier, buyer, sales, onset
        Column names.

    Returns
    -------
    pandas.DataFrame
        One row per supplier: ``exposure`` :math:`E_s`, ``onset`` :math:`G_s` (0 if
        unexposed), ``exposure_at_onset`` (share to the buyers adopting at
        :math:`G_s`), ``n_buyers``, ``n_treated_buyers``.

    Notes
    -----
    With baseline sales :math:`s_{sb}` and buyer adoption dates :math:`g_b`,

    .. math:: E_s = \\frac{\\sum_b s_{sb} 1\\{g_b > 0\\}}{\\sum_b s_{sb}}, \\qquad
              G_s = \\min\\{g_b : g_b > 0, s_{sb} > 0\\}.

    Exposure is fixed at baseline so that it cannot respond to the programme
    (buyers that switch suppliers after adopting would otherwise make it
    endogenous). Buyers missing from ``buyers`` are taken as never treated.

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> links = pd.DataFrame({"supplier_id": [1, 1, 1], "buyer_id": [10, 11, 12],
    ...                       "sales": [20.0, 30.0, 50.0]})
    >>> buyers = pd.DataFrame({"buyer_id": [10, 11, 12], "cohort": [5, 3, 0]})
    >>> ci.workers.supplier_exposure(links, buyers)
       supplier_id  exposure  onset  exposure_at_onset  n_buyers  n_treated_buyers
    0            1       0.5      3                0.3         3                 2
    """
    lk, bu = to_pandas(links), to_pandas(buyers)
    _need(lk, [supplier, buyer, sales], "links")
    _need(bu, [buyer, onset], "buyers")
    s = pd.to_numeric(lk[sales], errors="coerce")
    if s.isna().any() or (s < 0).any():
        raise SpecificationError(f"links[{sales!r}] must be non-negative numbers; offending rows: "
                                 f"{lk.index[s.isna() | (s < 0)][:5].tolist()}.")
    g = pd.to_numeric(bu[onset], errors="coerce").fillna(0.0)
    g = g.where(np.isfinite(g), 0.0)
    dates = pd.DataFrame({buyer: bu[buyer].to_numpy(), "_g": g.to_numpy()}).drop_duplicates()
    if dates[buyer].duplicated().any():
        bad = dates.loc[dates[buyer].duplicated(keep=False), buyer].unique()[:5].tolist()
        raise SpecificationError(f"buyers: the roll-out date {onset!r} varies within buyer(s) {bad}.")
    trade = pd.DataFrame({supplier: lk[supplier].to_numpy(), buyer: lk[buyer].to_numpy(), "_s": s.to_numpy()})
    trade = trade.groupby([supplier, buyer], sort=False, observed=True)["_s"].sum().reset_index()
    trade = trade.merge(dates, on=buyer, how="left")
    trade["_g"] = trade["_g"].fillna(0.0)
    trade["_treated"] = (trade["_g"] > 0) & (trade["_s"] > 0)
    trade["_ts"] = np.where(trade["_treated"], trade["_s"], 0.0)
    trade["_first"] = np.where(trade["_treated"], trade["_g"], np.inf)
    grouped = trade.groupby(supplier, sort=True, observed=True)
    out = grouped.agg(total=("_s", "sum"), treated=("_ts", "sum"), onset=("_first", "min"),
                      n_buyers=(buyer, "nunique"), n_treated_buyers=("_treated", "sum")).reset_index()
    trade = trade.merge(out[[supplier, "onset"]], on=supplier)
    at_onset = (trade["_ts"] * (trade["_first"] == trade["onset"])).groupby(trade[supplier]).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["exposure"] = np.where(out["total"] > 0, out["treated"] / out["total"], 0.0)
        out["exposure_at_onset"] = np.where(
            out["total"] > 0, out[supplier].map(at_onset).to_numpy() / out["total"], 0.0)
    finite = np.isfinite(out["onset"])
    out["onset"] = np.where(finite, out["onset"], 0.0)
    if np.allclose(out["onset"], np.round(out["onset"])):
        out["onset"] = out["onset"].round().astype(np.int64)
    out["n_treated_buyers"] = out["n_treated_buyers"].astype(np.int64)
    return out[[supplier, "exposure", "onset", "exposure_at_onset", "n_buyers", "n_treated_buyers"]]


def _exposure_per_unit(panel: Panel, exposure: str) -> np.ndarray:
    e = np.asarray(panel.column(exposure, role="exposure"), dtype=float)
    if np.isnan(e).any() or (e < 0).any() or (e > 1 + 1e-12).any():
        raise SpecificationError(f"{exposure!r} must be a share in [0, 1] with no missing values.")
    codes = np.asarray(panel.unit_code) if panel.is_panel else np.arange(e.size)
    lo = np.full(codes.max() + 1, np.inf)
    hi = np.full(codes.max() + 1, -np.inf)
    np.minimum.at(lo, codes, e)
    np.maximum.at(hi, codes, e)
    if np.any(hi - lo > 1e-12):
        raise SpecificationError(f"{exposure!r} varies within unit; use the baseline exposure "
                                 "(ci.workers.supplier_exposure).")
    exposed = np.isfinite(panel.cohort_value)
    bad = exposed != (e > 0)
    if bad.any():
        raise SpecificationError(f"{bad.sum()} row(s) have a positive {exposure!r} but no onset, or an "
                                 "onset but zero exposure: unexposed suppliers need cohort 0 and exposed "
                                 "ones the buyers' roll-out date.")
    return e


def exposure_did(panel: Panel, y: str, *, exposure: str = "exposure",
                 bins: Sequence[float] | int = (0.0, 1 / 3, 2 / 3, 1.0), control: str = "never_treated",
                 adjust: str | None = None, **kw: Any) -> Result:
    """Dose-response DiD for suppliers exposed to treated buyers: ``att_gt`` by exposure bin.

    Parameters
    ----------
    panel
        Supplier panel whose cohort is the onset :math:`G_s` (0 for unexposed
        suppliers), clustered as the programme was assigned (e.g. the buyers'
        cluster or the supplier's cluster).
    y
        Outcome.
    exposure
        Baseline exposure column :math:`E_s \\in [0, 1]` (from :func:`supplier_exposure`),
        positive exactly for suppliers with an onset.
    bins
        Edges of the exposure bins (right-closed, the lowest edge excluded so that
        :math:`E = 0` is the comparison group), or a number of equal-count bins.
    control
        ``"never_treated"`` (unexposed suppliers) or ``"not_yet_treated"``.
    adjust
        Multiplicity adjustment of the pairwise bin contrasts in ``.compare()``.
    **kw
        Passed to :func:`clusterimpact.att_gt`.

    Returns
    -------
    Result
        One row per bin (``exposure_bin``) with the simple aggregate of its ATT(g, t)
        against the unexposed, ``mean_exposure``, ``n_units`` and ``effect_per_exposure``
        (estimate / mean exposure); ``info["by"] = ["exposure_bin"]`` so ``.compare()``
        tests equal effects across bins with the joint covariance.

    Notes
    -----
    Each bin :math:`B` is stacked with its own copy of the unexposed suppliers
    (ids made unique, cluster ids kept), and ``att_gt(..., by="exposure_bin")``
    estimates all bins in one pass; because a copy stays in its original
    cluster, the cluster-summed influence functions carry the covariance that
    the shared comparison group induces.

    Assumptions (Callaway, Goodman-Bacon & Sant'Anna 2024): no anticipation;
    exposure fixed at baseline; no effect of the programme on the unexposed
    suppliers (SUTVA across the network: exposure captures every channel);
    *parallel trends* between each bin and the unexposed. Then bin :math:`B`
    identifies :math:`ATT(B \\mid B) = E[Y_t(G, B) - Y_t(0) \\mid E_s \\in B]`, the
    effect of the doses in :math:`B` *on the suppliers who received them*.
    Differences between bins, and the dose-response slope, are causal
    responses only under *strong* parallel trends (suppliers at every exposure
    level would have responded alike to any dose); otherwise they also contain
    selection on gains.

    References
    ----------
    Callaway, B., Goodman-Bacon, A. and Sant'Anna, P. H. C. (2024). Difference-in-differences
    with a continuous treatment. NBER Working Paper 32117.

    Examples
    --------
    >>> import numpy as np, pandas as pd, clusterimpact as ci
    >>> rng = np.random.default_rng(0)
    >>> e = np.r_[np.zeros(40), rng.uniform(0.05, 1, 60)]
    >>> g = np.where(e > 0, 3, 0)
    >>> df = pd.DataFrame({"s": np.repeat(np.arange(100), 4), "t": np.tile([1, 2, 3, 4], 100),
    ...                    "exposure": np.repeat(e, 4), "g": np.repeat(g, 4)})
    >>> df["y"] = rng.normal(size=400) + 2.0 * df["exposure"] * (df["t"] >= df["g"]) * (df["g"] > 0)
    >>> panel = ci.Panel(df, unit="s", time="t", cohort="g")
    >>> res = ci.workers.exposure_did(panel, "y", bins=[0, 0.5, 1])
    >>> res.tidy()["exposure_bin"].tolist()
    ['(0, 0.5]', '(0.5, 1]']
    """
    from clusterimpact.estimators.att_gt import att_gt

    e = _exposure_per_unit(panel, exposure)
    exposed = e > 0
    if isinstance(bins, int | np.integer):
        if bins < 1:
            raise SpecificationError(f"bins must be at least 1, got {bins}.")
        edges = np.unique(np.quantile(np.unique(e[exposed]), np.linspace(0, 1, int(bins) + 1)))
        edges[0] = 0.0
    else:
        edges = np.asarray(bins, dtype=float)
    if edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise SpecificationError(f"bins must be increasing edges, got {list(edges)}.")
    labels = [f"({edges[k]:.4g}, {edges[k + 1]:.4g}]" for k in range(edges.size - 1)]
    code = np.where(exposed, np.searchsorted(edges, e, side="left") - 1, -1)
    outside = exposed & ((code < 0) | (code >= len(labels)))
    if outside.any():
        raise SpecificationError(f"{outside.sum()} exposed row(s) lie outside the bins {list(edges)}.")
    frame = panel.data
    cols = [c for c in dict.fromkeys([panel.unit, panel.time, panel.cluster, panel.cohort_column,
                                      panel.treatment_column, panel.weights_column, y]) if c is not None]
    base = frame[cols]
    used = [k for k in range(len(labels)) if np.any(code == k)]
    if not used:
        raise SpecificationError("No exposed suppliers (exposure > 0).")
    ucode = np.asarray(panel.unit_code) if panel.unit is not None else np.zeros(e.size, dtype=np.int64)
    parts = []
    for pos, k in enumerate(used):
        rows = (code == k) | ~exposed
        part = base.loc[rows].copy()
        part["exposure_bin"] = labels[k]
        part["_e"] = e[rows]
        part["_stacked_unit"] = pos * (int(ucode.max()) + 1) + ucode[rows]
        parts.append(part)
    stacked = pd.concat(parts, ignore_index=True)
    stacked["exposure_bin"] = pd.Categorical(stacked["exposure_bin"], categories=[labels[k] for k in used])
    unit = panel.unit
    if unit is not None:
        unit = "_stacked_unit"
    spanel = Panel(stacked, unit=unit, time=panel.time, cohort=panel.cohort_column,
                   treatment=panel.treatment_column, cluster=panel.cluster, weights=panel.weights_column)
    agg = att_gt(spanel, y, control=control, by="exposure_bin", **kw).aggregate("simple")
    exp_rows = stacked[stacked["_e"] > 0]
    if unit is not None:
        exp_rows = exp_rows.drop_duplicates("_stacked_unit")
    stats_by = exp_rows.groupby("exposure_bin", observed=True)["_e"].agg(["mean", "size"])
    keys = agg.keys.copy()
    keys["exposure_bin"] = keys["exposure_bin"].astype(str)
    mean_e = stats_by["mean"].reindex(keys["exposure_bin"]).to_numpy()
    extra = pd.DataFrame({"mean_exposure": mean_e,
                          "n_units": stats_by["size"].reindex(keys["exposure_bin"]).to_numpy(),
                          "effect_per_exposure": agg.estimate / mean_e})
    info = {**agg.info, "estimator": "Exposure DiD (att_gt by exposure bin, stacked)", "by": ["exposure_bin"],
            "exposure": exposure, "bins": list(edges), "adjust": adjust,
            "notes": ["Comparison: unexposed suppliers (exposure 0). Bin contrasts are causal only "
                      "under strong parallel trends (Callaway, Goodman-Bacon & Sant'Anna 2024)."]}
    return Result(keys=keys, estimate=agg.estimate, vcov=agg.vcov, alpha=agg.alpha, extra=extra,
                  info=info, influence=agg.influence, cluster=agg.cluster)


def exposure_twfe(panel: Panel, y: str, *, exposure: str = "exposure", vcov: str = "CR1",
                  alpha: float = 0.05, tol: float = 1e-10):
    """Linear-in-exposure TWFE, :math:`y_{st} = \\alpha_s + \\lambda_t + \\beta E_s D_{st} + e_{st}`.

    Parameters
    ----------
    panel
        Supplier panel with cohort = onset :math:`G_s` (0 if unexposed); standard
        errors are clustered on ``panel.cluster``.
    y
        Outcome.
    exposure
        Baseline exposure :math:`E_s \\in [0, 1]`.
    vcov
        ``"CR1"`` (fixest small-sample correction), ``"CR2"``, ``"CR3"`` or ``"HC1"``.
    alpha, tol
        Confidence level and fixed-effect absorption tolerance.

    Returns
    -------
    RegressionResult
        One row ``term == "exposure_post"``: :math:`\\hat\\beta`, the effect of going from
        no exposure to full exposure (all baseline sales to adopting buyers).

    Notes
    -----
    :math:`D_{st} = 1\\{t \\ge G_s\\}` for exposed suppliers (0 for the unexposed);
    :math:`\\hat\\beta` is OLS after absorbing supplier and period effects. Under strong
    parallel trends, no anticipation and a response that is linear in exposure
    and constant over event time and onset cohorts, it is the average causal
    response per unit of exposure. Callaway, Goodman-Bacon & Sant'Anna (2024)
    show that otherwise it is a weighted average of causal responses whose
    weights are driven by the exposure distribution (and with staggered onsets
    it also uses already-exposed suppliers as comparisons, as binary TWFE does);
    compare it with :func:`exposure_did`.

    References
    ----------
    Callaway, B., Goodman-Bacon, A. and Sant'Anna, P. H. C. (2024). Difference-in-differences
    with a continuous treatment. NBER Working Paper 32117.

    Examples
    --------
    >>> import numpy as np, pandas as pd, clusterimpact as ci
    >>> rng = np.random.default_rng(0)
    >>> e = np.r_[np.zeros(40), rng.uniform(0.05, 1, 60)]
    >>> df = pd.DataFrame({"s": np.repeat(np.arange(100), 4), "t": np.tile([1, 2, 3, 4], 100),
    ...                    "exposure": np.repeat(e, 4), "g": np.repeat(np.where(e > 0, 3, 0), 4)})
    >>> df["y"] = 0.1 * rng.normal(size=400) + 2.0 * df["exposure"] * (df["t"] >= 3)
    >>> res = ci.workers.exposure_twfe(ci.Panel(df, unit="s", time="t", cohort="g"), "y")
    >>> round(float(res.estimate[0]), 2)  # true slope 2
    2.05
    """
    from clusterimpact.inference.vcov import VcovData
    from clusterimpact.kernels.demean import demean
    from clusterimpact.results.regression import RegressionResult

    if not panel.is_panel:
        raise SpecificationError("exposure_twfe needs a panel (unit=...) for supplier fixed effects.")
    e = _exposure_per_unit(panel, exposure)
    outcome = np.asarray(panel.column(y, role="outcome"), dtype=float)
    keep = np.isfinite(outcome)
    if not keep.all():
        import warnings

        from clusterimpact.errors import DroppedRowsWarning

        warnings.warn(f"exposure_twfe dropped {int((~keep).sum())} row(s) with a missing outcome.",
                      DroppedRowsWarning, stacklevel=2)
    dose = (e * np.asarray(panel.treated, dtype=float))[keep]
    fe = [np.asarray(panel.unit_code)[keep], np.asarray(panel.time_code)[keep]]
    absorbed = demean(np.column_stack([outcome[keep], dose]), fe, None, tol=tol)
    yd, xd = absorbed.values[:, 0], absorbed.values[:, 1:]
    if not np.any(np.abs(xd) > 1e-12):
        raise SpecificationError("Exposure x post has no variation left after the fixed effects.")
    bread = np.linalg.inv(xd.T @ xd)
    coef = bread @ (xd.T @ yd)
    resid = yd - xd @ coef
    fit = VcovData(xd, resid, None, bread, tuple(fe))
    info = {"estimator": "TWFE, linear in exposure", "outcome": y, "n_obs": int(keep.sum()),
            "n_units": int(np.unique(fe[0]).size), "fixed_effects": ["unit", "time"],
            "fe_dof": absorbed.fe_dof, "by": [],
            "method": "y on exposure x 1{t >= onset}, supplier and period FE absorbed"}
    return RegressionResult.from_fit(pd.DataFrame({"term": ["exposure_post"]}), coef, fit,
                                     np.asarray(panel.cluster_code)[keep], str(vcov).upper(),
                                     alpha=alpha, info=info)
