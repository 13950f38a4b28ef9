"""Event-study covariances: with_vcov, CR2 contrasts, Sun-Abraham shares, and an independent
fully interacted regression for Sun-Abraham (fixest's sunab convention)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.errors import SpecificationError
from clusterimpact.inference.vcov import VcovData, compute_vcov, satterthwaite_contrast


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def mpdta():
    return ci.datasets.load("mpdta")


@pytest.fixture(scope="module")
def panel(mpdta):
    return ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")


def _small(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    cohorts = rng.choice([3, 5, np.inf], 36)
    for i in range(36):
        for t in range(1, 8):
            e = t - cohorts[i]
            effect = 1 + 0.3 * e + 0.5 * (cohorts[i] == 3) if e >= 0 else 0.0
            rows.append({"id": i, "t": t, "g": cohorts[i], "cl": i // 3,
                         "y": 0.1 * t + effect
                         + rng.normal() + 0.5 * rng.normal() * (i % 3)})
    d = pd.DataFrame(rows)
    return d, ci.Panel(d, unit="id", time="t", cohort="g", cluster="cl")


# ---------------------------------------------------------------- with_vcov
@pytest.mark.parametrize("method", ["twfe", "sun_abraham"])
@pytest.mark.parametrize("vcov", ["CR2", "CR3", "HC1", "CR1"])
def test_with_vcov_equals_fitting_with_that_vcov(panel, method, vcov):
    base = _quiet(ci.event_study, panel, "lemp", method=method)
    switched = _quiet(base.with_vcov, vcov)
    direct = _quiet(ci.event_study, panel, "lemp", method=method, vcov=vcov)
    assert type(switched) is type(base)
    np.testing.assert_array_equal(switched.estimate, base.estimate)
    np.testing.assert_allclose(switched.vcov, direct.vcov, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(switched.tidy()["df"], direct.tidy()["df"], rtol=1e-8)
    assert switched.info["vcov_type"] == vcov


def test_with_vcov_by_subgroup_keeps_cross_covariances(mpdta):
    d = mpdta.assign(half=mpdta["countyreal"] % 2)
    p = ci.Panel(d, unit="countyreal", time="year", cohort="first.treat")
    res = _quiet(ci.event_study, p, "lemp", method="sun_abraham", by="half")
    cr2 = _quiet(res.with_vcov, "CR2")
    first = np.flatnonzero(res.keys["half"] == 0)
    second = np.flatnonzero(res.keys["half"] == 1)
    # different units (the clusters) in the two halves: the cross-covariances, products of
    # per-cluster scores, vanish
    np.testing.assert_allclose(cr2.vcov[np.ix_(first, second)], 0.0, atol=1e-15)
    for half, idx in ((0, first), (1, second)):
        alone = _quiet(ci.event_study, ci.Panel(d[d.half == half], unit="countyreal", time="year",
                                                cohort="first.treat"), "lemp",
                       method="sun_abraham", vcov="CR2")
        np.testing.assert_allclose(cr2.vcov[np.ix_(idx, idx)], alone.vcov, rtol=1e-8)


def test_with_vcov_two_way_and_errors(panel):
    res = _quiet(ci.event_study, panel, "lemp", method="twfe")
    two = _quiet(res.with_vcov, "CR1", cluster2="time")
    assert two.info["vcov_type"].startswith("CR1 (two-way")
    assert not np.allclose(two.std_error, res.std_error)
    assert np.all(np.isfinite(two.std_error))
    imp = _quiet(ci.event_study, panel, "lemp", method="imputation")
    with pytest.raises(SpecificationError, match="own variance"):
        imp.with_vcov("CR2")
    with pytest.raises(SpecificationError, match="Unknown vcov"):
        res.with_vcov("CR9")
    with pytest.raises(SpecificationError, match="cluster2"):
        res.with_vcov("CR2", cluster2="time")


# ------------------------------------------------------- CR2 on the aggregates
def _dense_sa(d, unit="id", time="t", cohort="g", y="y", ref=-1):
    """The fully interacted regression with explicit unit and period dummies."""
    e = d[time] - d[cohort]
    treated = np.isfinite(d[cohort])
    cell = treated & (e != ref)
    cells = (pd.DataFrame({"g": d[cohort][cell], "e": e[cell]}).drop_duplicates()
             .sort_values(["e", "g"]).reset_index(drop=True))
    x = np.column_stack([((d[cohort] == g) & (e == h)).to_numpy(float)
                         for g, h in cells.itertuples(index=False)])
    fe = pd.get_dummies(d[[unit, time]].astype(str), drop_first=True).to_numpy(float)
    design = np.column_stack([x, np.ones(len(d)), fe])
    coef, *_ = np.linalg.lstsq(design, d[y].to_numpy(), rcond=None)
    resid = d[y].to_numpy() - design @ coef
    mass = np.array([(x[:, j]).sum() for j in range(x.shape[1])])
    labels = np.unique(cells["e"])
    agg = np.zeros((labels.size, len(cells)))
    agg[np.searchsorted(labels, cells["e"]), np.arange(len(cells))] = mass
    agg /= agg.sum(axis=1, keepdims=True)
    return design, resid, coef[: len(cells)], agg, cells, labels


def test_sun_abraham_cr2_each_aggregate_has_its_own_satterthwaite_df():
    d, p = _small(1)
    res = ci.event_study(p, "y", method="sun_abraham", vcov="CR2")
    design, resid, delta, agg, _, labels = _dense_sa(d)
    est = compute_vcov("CR2", VcovData(design, resid), d["cl"].to_numpy())
    k = delta.size
    full = np.zeros((labels.size, design.shape[1]))
    full[:, :k] = agg
    np.testing.assert_allclose(res.estimate, agg @ delta, rtol=1e-8)
    np.testing.assert_allclose(res.vcov, full @ est.cov @ full.T, rtol=1e-6)
    dof = [satterthwaite_contrast(est, c) for c in full]
    np.testing.assert_allclose(res.tidy()["df"], dof, rtol=1e-6)
    assert np.ptp(dof) > 1.0  # not one df for every estimate


# ---------------------------------------------------------- share variance
def test_share_variance_adds_the_cohort_share_influence():
    d, p = _small(2)
    fixed = _quiet(ci.event_study, p, "y", method="sun_abraham")
    est = _quiet(ci.event_study, p, "y", method="sun_abraham", sa_share_variance=True)
    np.testing.assert_array_equal(est.estimate, fixed.estimate)
    design, resid, delta, agg, cells, labels = _dense_sa(d)
    cl = d["cl"].to_numpy()
    g = np.unique(cl).size
    n, kk = design.shape
    cr1 = compute_vcov("CR1", VcovData(design, resid), cl, fixef_k="full")
    # fixest's K counts only the period dummies (unit dummies nested in clusters): rescale
    k_nested = delta.size + (d["t"].nunique() - 1) + 1
    scale = (n - kk) / (n - k_nested)
    u_delta = cr1.details["scores"][:, : delta.size] * np.sqrt(scale)  # G x cells
    # share influence, written out by (cluster, cohort, event time) counts
    e = (d["t"] - d["g"]).to_numpy()
    psi = np.zeros((g, labels.size))
    for h_i, h in enumerate(labels):
        at_h = np.isfinite(d["g"]).to_numpy() & (e == h)
        m_h = at_h.sum()
        for j, (gg, hh) in enumerate(cells.itertuples(index=False)):
            if hh != h:
                continue
            in_cell = at_h & (d["g"] == gg).to_numpy()
            omega = in_cell.sum() / m_h
            m_c_cell = np.bincount(cl, weights=in_cell, minlength=g)
            m_c_h = np.bincount(cl, weights=at_h, minlength=g)
            psi[:, h_i] += delta[j] * (m_c_cell - omega * m_c_h) / m_h
    total = u_delta @ agg.T + np.sqrt(g / (g - 1)) * psi
    np.testing.assert_allclose(fixed.vcov, (u_delta @ agg.T).T @ (u_delta @ agg.T), rtol=1e-6)
    np.testing.assert_allclose(est.vcov, total.T @ total, rtol=1e-6)


# ------------------------------------- Sun-Abraham vs an independent construction
def test_sun_abraham_mpdta_equals_statsmodels_interacted_regression(mpdta, panel):
    """No published fixest ``sunab`` output on a dataset we ship was found, so the
    cohort x relative-time coefficients and the IW aggregates are checked against the fully
    interacted regression fitted by statsmodels (unit and year dummies, CR1 by county) and
    fixest's aggregation weights (each cohort's share of the treated rows at a relative time).

    Convention: statsmodels' cluster covariance uses (n-1)/(n-K) with K counting every dummy;
    fixest's default ssc(fixef.K = "nested") leaves out the county dummies (nested in the
    county clusters) and counts the year effects as T levels (as our castle fixture against
    fixest confirms), so the statsmodels covariance is rescaled by (n-K_sm)/(n-K_fixest).
    """
    import statsmodels.api as sm

    res = _quiet(ci.event_study, panel, "lemp", method="sun_abraham")
    d = mpdta.assign(g=mpdta["first.treat"].where(mpdta["first.treat"] > 0, np.inf))
    design, _, _, agg, cells, _ = _dense_sa(d, unit="countyreal", time="year", y="lemp")
    fit = sm.OLS(d["lemp"].to_numpy(), design).fit(
        cov_type="cluster", cov_kwds={"groups": d["countyreal"].to_numpy()})
    k_cells = len(cells)
    n, k_sm = design.shape[0], int(np.linalg.matrix_rank(design))
    k_fixest = k_cells + d["year"].nunique()
    cov = fit.cov_params()[:k_cells, :k_cells] * (n - k_sm) / (n - k_fixest)
    delta = fit.params[:k_cells]
    table = res.cohort_effects
    np.testing.assert_allclose(table["estimate"], delta, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(table["std_error"], np.sqrt(np.diag(cov)), rtol=1e-6)
    # fixest's aggregation weights: cohort shares among the treated rows at each relative time
    shares = (d[np.isfinite(d.g)].assign(e=lambda f: f.year - f.g).groupby(["e", "g"]).size()
              .groupby(level="e").transform(lambda s: s / s.sum()))
    np.testing.assert_allclose(table["weight"], shares.loc[list(zip(cells["e"], cells["g"], strict=True))],
                               rtol=1e-12)
    np.testing.assert_allclose(res.estimate, agg @ delta, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.vcov, agg @ cov @ agg.T, rtol=1e-6)
    assert np.all(res.tidy()["df"] == d["countyreal"].nunique() - 1)


def test_sun_abraham_mpdta_matches_diff_diff(panel):
    """diff-diff 3.13.0's SunAbraham on mpdta (fixture tests/reference/mpdta_sunab_diffdiff.json)."""
    import json
    from pathlib import Path

    ref = json.loads((Path(__file__).resolve().parents[1] / "reference"
                      / "mpdta_sunab_diffdiff.json").read_text())
    tidy = _quiet(ci.event_study, panel, "lemp", method="sun_abraham").tidy()
    np.testing.assert_array_equal(tidy["event_time"], ref["event_time"])
    np.testing.assert_allclose(tidy["estimate"], ref["estimate"], rtol=1e-8)
    np.testing.assert_allclose(tidy["std_error"], ref["std_error"], rtol=1e-6)
