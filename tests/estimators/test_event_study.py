"""ci.event_study: published numbers (fixest, Stata did2s, R did), dense brute force, simulations."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.errors import SpecificationError

REF = Path(__file__).resolve().parents[1] / "reference"
SHARED = Path(__file__).resolve().parents[3] / "shared"
METHODS = ["twfe", "sun_abraham", "imputation", "two_stage"]


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def castle():
    return ci.datasets.load("castle")


@pytest.fixture(scope="module")
def mpdta_panel():
    return ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year", cohort="first.treat")


# ------------------------------------------------------------------ published numbers
def test_castle_static_twfe_matches_fixest(castle):
    """leads=0, lags=0 with binned endpoints is the static TWFE; fixest CR1 by state."""
    ref = json.loads((REF / "castle_bacon.json").read_text())["twfe"]
    panel = ci.Panel(castle, unit="sid", time="year", cohort="effyear")
    res = _quiet(ci.event_study, panel, "l_homicide", leads=0, lags=0)
    row = res.tidy().iloc[0]
    assert row["event_time"] == 0
    assert abs(row["estimate"] - ref["estimate"]) < 1e-10
    assert row["std_error"] == pytest.approx(ref["se_cr1_state"], rel=1e-6)
    assert row["df"] == 49


@pytest.mark.parametrize("covariates", [False, True])
def test_castle_two_stage_matches_stata_did2s(castle, covariates):
    """Stata did2s README (castle, aweight popwt, treatment = Mixtape post): all printed digits."""
    ref = json.loads((REF / "castle_did2s.json").read_text())
    case = ref["covariates" if covariates else "no_covariates"]
    panel = ci.Panel(castle, unit="sid", time="year", treatment="post", weights="popwt")
    cov = ["blackm_15_24", "whitem_15_24", "blackm_25_44", "whitem_25_44"] if covariates else None
    res = ci.event_study(panel, "l_homicide", method="two_stage", leads=0, lags=0, covariates=cov)
    row = res.tidy().iloc[0]
    assert abs(row["estimate"] - case["estimate"]) < 5e-8
    assert abs(row["std_error"] - case["std_error"]) < 5e-8
    # the imputation point estimate is the same number
    imp = ci.event_study(panel, "l_homicide", method="imputation", leads=0, lags=0, covariates=cov)
    assert imp.tidy()["estimate"].iloc[-1] == pytest.approx(row["estimate"], rel=1e-10)


def _df_het():
    path = Path(os.environ.get("CLUSTERIMPACT_DF_HET", SHARED / "data" / "did2s_df_het" / "df_het.dta"))
    if not path.exists():
        pytest.skip("did2s df_het data not available (third-party, not committed)")
    d = pd.read_stata(path)
    d["g"] = d["g"].where(d["g"] > 0, np.inf)
    return ci.Panel(d, unit="unit", time="year", cohort="g", cluster="state")


def test_df_het_two_stage_event_study_matches_stata_did2s():
    """41 event-time coefficients and SEs of the Stata did2s README (state + year FE)."""
    ref = json.loads((REF / "did2s_df_het.json").read_text())
    panel = _df_het()
    res = ci.event_study(panel, "dep_var", method="two_stage", reference=None, fe=["state", "time"])
    tab = res.tidy().set_index("event_time")
    expected = np.asarray(ref["event_time_estimate_std_error"])
    np.testing.assert_array_equal(tab.index.to_numpy(), expected[:, 0])
    np.testing.assert_allclose(tab["estimate"], expected[:, 1], atol=5e-7)
    np.testing.assert_allclose(tab["std_error"], expected[:, 2], atol=5e-7)
    static = ci.event_study(panel, "dep_var", method="two_stage", leads=0, lags=0,
                            fe=["state", "time"]).tidy().iloc[0]
    assert abs(static["estimate"] - ref["static"]["estimate"]) < 5e-7
    assert abs(static["std_error"] - ref["static"]["std_error"]) < 5e-8


def test_sun_abraham_equals_callaway_santanna_universal_base(mpdta_panel):
    """With never-treated controls and no covariates SA's IW estimator is CS's dynamic aggregate
    with a universal base period (an identity); R did's vignette prints e=0..3 to 4 dp."""
    sa = ci.event_study(mpdta_panel, "lemp", method="sun_abraham").tidy()
    np.testing.assert_allclose(sa.loc[sa.event_time >= 0, "estimate"],
                               [-0.0199, -0.0510, -0.1373, -0.1008], atol=5e-5)
    if not hasattr(ci, "att_gt"):
        return
    cs = _quiet(ci.att_gt, mpdta_panel, "lemp", base_period="universal").aggregate("dynamic").tidy()
    cs = cs[cs.event_time != -1].reset_index(drop=True)
    np.testing.assert_allclose(sa["estimate"], cs["estimate"], rtol=1e-8, atol=1e-12)


# ------------------------------------------------------------------ dense brute force
def _small_panel(seed=0, weights=True, unbalanced=True):
    rng = np.random.default_rng(seed)
    n_units, periods = 40, np.arange(1, 9)
    cohorts = rng.choice([3, 5, 6, np.inf], n_units)
    rows = []
    for i in range(n_units):
        for t in periods:
            if unbalanced and rng.random() < 0.1:
                continue
            e = t - cohorts[i] if np.isfinite(cohorts[i]) else -99.0
            rows.append({"id": i, "t": t, "g": cohorts[i], "cl": i // 2, "x": rng.normal(),
                         "w": rng.uniform(0.5, 2.0),
                         "y": 0.3 * i / n_units + 0.1 * t + (e >= 0) * (1 + 0.2 * e) + rng.normal()})
    d = pd.DataFrame(rows)
    return d, ci.Panel(d, unit="id", time="t", cohort="g", cluster="cl",
                       weights="w" if weights else None)


def _dense_first_stage(d, covariate):
    untreated = (d.t < d.g).to_numpy()
    z = pd.get_dummies(d["id"].astype(str)).to_numpy(float)
    z = np.column_stack([z, pd.get_dummies(d["t"].astype(str), drop_first=True).to_numpy(float)])
    if covariate:
        z = np.column_stack([z, d["x"]])
    return untreated, z


def _dense_bjs_centre(tau, w, cells, cluster, leave_out):
    """BJS's auxiliary tau-bar cell by cell and cluster by cluster (Stata did_imputation's
    cluster-weighted 'smart' average; with leave_out its leaveout version, Appendix A.6)."""
    out = np.empty(tau.size)
    for rows in cells:
        for c in np.unique(cluster[rows]):
            others = rows[cluster[rows] != c] if leave_out else rows
            num = den = 0.0
            for c2 in np.unique(cluster[others]):
                r2 = others[cluster[others] == c2]
                num += w[r2].sum() * (w[r2] * tau[r2]).sum()
                den += w[r2].sum() ** 2
            out[rows[cluster[rows] == c]] = num / den
    return out


@pytest.mark.parametrize("covariate", [False, True])
@pytest.mark.parametrize("leave_out", [True, False])
def test_imputation_variance_matches_dense_bjs(covariate, leave_out):
    d, panel = _small_panel(1)
    res = ci.event_study(panel, "y", method="imputation", covariates=["x"] if covariate else None,
                         leads=0, bjs_leave_out=leave_out)
    un, z = _dense_first_stage(d, covariate)
    w, y = d["w"].to_numpy(), d["y"].to_numpy()
    z0, w0 = z[un], w[un]
    ginv = np.linalg.pinv(z0.T @ (z0 * w0[:, None]))
    beta = ginv @ z0.T @ (w0 * y[un])
    resid = y - z @ beta
    e = (d.t - d.g).to_numpy()
    cl = d["cl"].to_numpy()
    tab = res.tidy().set_index("event_time")
    for h in tab.index[tab.index >= 0]:
        sel = ~un & (e == h)
        v = np.zeros(len(d))
        v[sel] = w[sel] / w[sel].sum()
        v[un] = -w0 * (z0 @ (ginv @ (z[sel].T @ v[sel])))
        est = v @ y
        assert tab.loc[h, "estimate"] == pytest.approx(est, rel=1e-9)
        eps = resid.copy()
        cells = [np.flatnonzero(sel)[idx] for idx in d.loc[sel].groupby(["g", "t"]).indices.values()]
        eps[sel] = resid[sel] - _dense_bjs_centre(resid, w, cells, cl, leave_out)[sel]
        score = np.bincount(cl, weights=v * eps)
        assert tab.loc[h, "std_error"] == pytest.approx(np.sqrt(score @ score), rel=1e-8)


@pytest.mark.parametrize("covariate", [False, True])
def test_two_stage_variance_matches_dense_gmm(covariate):
    d, panel = _small_panel(2)
    res = ci.event_study(panel, "y", method="two_stage", covariates=["x"] if covariate else None)
    un, z = _dense_first_stage(d, covariate)
    w, y = d["w"].to_numpy(), d["y"].to_numpy()
    z0, w0 = z * un[:, None], w
    ginv = np.linalg.pinv(z0.T @ (z0 * w0[:, None]))
    resid = y - z @ (ginv @ z0.T @ (w * y))
    e = (d.t - d.g).to_numpy()
    labels = res.tidy()["event_time"].to_numpy()
    x2 = np.column_stack([(e == h).astype(float) for h in labels])
    bread = np.linalg.inv(x2.T @ (x2 * w[:, None]))
    tau = bread @ x2.T @ (w * resid)
    np.testing.assert_allclose(res.estimate, tau, rtol=1e-9)
    e2 = resid - x2 @ tau
    e1 = resid * un
    correction = (x2.T @ (z * w[:, None])) @ ginv
    psi = []
    for c in np.unique(d.cl):
        m = (d.cl == c).to_numpy()
        psi.append(x2[m].T @ (w * e2)[m] - correction @ (z0[m].T @ (w * e1)[m]))
    psi = np.vstack(psi)
    np.testing.assert_allclose(res.vcov, bread @ psi.T @ psi @ bread, rtol=1e-8, atol=1e-14)


def test_dynamic_twfe_matches_dummy_regression():
    d, panel = _small_panel(3, weights=False)
    res = _quiet(ci.event_study, panel, "y", method="twfe", vcov="HC1")
    import statsmodels.api as sm

    e = (d.t - d.g).to_numpy()
    labels = res.tidy()["event_time"].to_numpy()
    x = np.column_stack([(e == h).astype(float) for h in labels])
    fe = pd.get_dummies(d[["id", "t"]].astype(str), drop_first=True).to_numpy(float)
    fit = sm.OLS(d["y"], np.column_stack([x, np.ones(len(d)), fe])).fit(cov_type="HC1")
    np.testing.assert_allclose(res.estimate, fit.params[: labels.size], rtol=1e-8)
    np.testing.assert_allclose(res.std_error, fit.bse[: labels.size], rtol=1e-8)


# ------------------------------------------------------------------ behaviour
def test_post_estimates_agree_between_imputation_and_two_stage(mpdta_panel):
    imp = ci.event_study(mpdta_panel, "lemp", method="imputation").tidy()
    tsd = ci.event_study(mpdta_panel, "lemp", method="two_stage").tidy()
    np.testing.assert_allclose(imp.loc[imp.event_time >= 0, "estimate"].to_numpy(),
                               tsd.loc[tsd.event_time >= 0, "estimate"].to_numpy(), rtol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_tidy_pretrend_and_aggregate(mpdta_panel, method):
    res = _quiet(ci.event_study, mpdta_panel, "lemp", method=method)
    tab = res.tidy()
    assert {"event_time", "estimate", "std_error", "conf_low", "conf_high", "p_value"} <= set(tab.columns)
    assert -1 not in tab["event_time"].tolist() or method == "imputation"
    test = res.pretrend_test()
    lead = (tab.event_time < 0).to_numpy()
    b, v = res.estimate[lead], res.vcov[np.ix_(lead, lead)]
    assert test["chi2"][0] == pytest.approx(b @ np.linalg.solve(v, b), rel=1e-8)
    assert test["f_stat"][0] == pytest.approx(test["chi2"][0] / lead.sum())
    agg = res.aggregate("simple")
    weights = agg.info["weights"]
    assert weights["weight"].sum() == pytest.approx(1.0)
    post = ~lead
    om = weights["weight"].to_numpy()
    assert agg.estimate[0] == pytest.approx(om @ res.estimate[post])
    assert agg.std_error[0] == pytest.approx(np.sqrt(om @ res.vcov[np.ix_(post, post)] @ om))
    ax = res.plot()
    assert ax.get_xlabel() == "Periods relative to treatment"


@pytest.mark.parametrize("method", METHODS)
def test_invariances(method):
    d, panel = _small_panel(4)
    base = _quiet(ci.event_study, panel, "y", method=method, leads=3, lags=3)
    d2 = d.assign(y=d["y"] * 3 + 7).sample(frac=1.0, random_state=1)
    p2 = ci.Panel(d2, unit="id", time="t", cohort="g", cluster="cl", weights="w")
    other = _quiet(ci.event_study, p2, "y", method=method, leads=3, lags=3)
    np.testing.assert_allclose(other.estimate, 3 * base.estimate, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(other.std_error, 3 * base.std_error, rtol=1e-7)


def test_binning_and_window(mpdta_panel):
    res = ci.event_study(mpdta_panel, "lemp", method="sun_abraham", leads=2, lags=1)
    assert res.tidy()["event_time"].tolist() == [-2, 0, 1]
    with pytest.warns(ci.DroppedRowsWarning):
        trimmed = ci.event_study(mpdta_panel, "lemp", method="twfe", leads=2, lags=1,
                                 bin_endpoints=False)
    assert trimmed.tidy()["event_time"].tolist() == [-2, 0, 1]


def test_by_matches_separate_fits():
    d, _ = _small_panel(5)
    d["half"] = np.where(d["id"] % 2 == 0, "even", "odd")
    panel = ci.Panel(d, unit="id", time="t", cohort="g", cluster="id", weights="w")
    res = ci.event_study(panel, "y", method="two_stage", by="half", leads=2, lags=2)
    for name in ("even", "odd"):
        sub = d[d.half == name]
        alone = ci.event_study(ci.Panel(sub, unit="id", time="t", cohort="g", weights="w"), "y",
                               method="two_stage", leads=2, lags=2)
        part = res.tidy()
        part = part[part.half == name]
        np.testing.assert_allclose(part["estimate"], alone.estimate, rtol=1e-9)
        np.testing.assert_allclose(part["std_error"], alone.std_error, rtol=1e-9)
    contrast = res.aggregate("simple").compare().tidy()
    assert contrast["contrast"].iloc[0] == "odd - even" and np.isfinite(contrast["std_error"].iloc[0])


def test_errors(mpdta_panel):
    with pytest.raises(SpecificationError, match="Unknown method"):
        ci.event_study(mpdta_panel, "lemp", method="sunab")
    with pytest.raises(SpecificationError, match="reference"):
        ci.event_study(mpdta_panel, "lemp", reference=0)
    with pytest.raises(SpecificationError, match="leads"):
        ci.event_study(mpdta_panel, "lemp", leads=-1)


# ------------------------------------------------------------------ simulations
def _staggered(seed, n_units=300):
    """Cohorts 3, 5, 7 and never treated over 10 periods; effects grow with event time, faster for
    early cohorts: tau(g, e) = (1 + e) * a_g, a = 1.0, 0.6, 0.3. Static TWFE is biased downward
    (already-treated units, whose effects keep growing, serve as controls)."""
    rng = np.random.default_rng(seed)
    cohorts = rng.choice([3.0, 5.0, 7.0, np.inf], n_units, p=[0.3, 0.25, 0.25, 0.2])
    slope = {3.0: 1.0, 5.0: 0.6, 7.0: 0.3}
    t = np.tile(np.arange(1, 11), n_units)
    unit = np.repeat(np.arange(n_units), 10)
    g = cohorts[unit]
    e = np.where(np.isfinite(g), t - np.where(np.isfinite(g), g, 0), -99.0)
    tau = np.where(e >= 0, (1 + e) * np.vectorize(lambda c: slope.get(c, 0.0))(g), 0.0)
    y = rng.normal(size=n_units)[unit] + 0.2 * t + tau + rng.normal(size=t.size)
    d = pd.DataFrame({"id": unit, "t": t, "g": g, "y": y, "tau": tau})
    return d, ci.Panel(d, unit="id", time="t", cohort="g")


def _truth(d, lags):
    treated = d[d.t >= d.g]
    e = (treated.t - treated.g).clip(upper=lags)
    return treated.groupby(e)["tau"].mean()


def _monte_carlo(reps):
    lags = 99  # the full window: binning heterogeneous effects contaminates regression estimates
    out = {m: [] for m in ("sun_abraham", "imputation", "two_stage")}
    bias_static = []
    for r in range(reps):
        d, panel = _staggered(100 + r)
        truth = _truth(d, lags)
        static = _quiet(ci.twfe, panel, "y").estimate[0]
        att = d.loc[d.t >= d.g, "tau"].mean()
        bias_static.append(static - att)
        for m in out:
            res = _quiet(ci.event_study, panel, "y", method=m)
            tab = res.tidy().set_index("event_time")
            post = tab.loc[tab.index >= 0]
            out[m].append(((post["estimate"] - truth.loc[post.index]) / post["std_error"]).to_numpy())
    return np.asarray(bias_static), {m: np.vstack(v) for m, v in out.items()}


def test_simulation_robust_methods_recover_dynamic_effects():
    bias_static, z = _monte_carlo(reps=6)
    assert np.all(bias_static < 0)  # known sign of the static TWFE bias in this design
    for m, zs in z.items():
        # mean z-score across replications is within MC error of zero for every event time
        assert np.all(np.abs(zs.mean(axis=0)) < 3.5 / np.sqrt(zs.shape[0]) + 0.5), m


@pytest.mark.slow
def test_simulation_coverage_slow():
    _, z = _monte_carlo(reps=200)
    for m, zs in z.items():
        assert np.all(np.abs(zs.mean(axis=0)) < 0.25), m
        coverage = (np.abs(zs) < 1.96).mean(axis=0)
        assert np.all(coverage > 0.9), (m, coverage)


@pytest.mark.parametrize("method", ["twfe", "sun_abraham"])
def test_indicators_absorbed_by_the_fixed_effects_are_an_error(method):
    # mpdta's cohorts are constant within state, so state-by-year effects absorb every
    # relative-time indicator; the regression used to return estimates of rounding noise
    d = ci.datasets.load("mpdta").assign(state=lambda f: f["countyreal"] // 1000)
    d["state_year"] = d["state"] * 10000 + d["year"]
    p = ci.Panel(d, unit="countyreal", time="year", cohort="first.treat", cluster="state")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.ClusterImpactWarning)
        with pytest.raises(ci.EstimationError, match="collinear with the fixed effects"):
            ci.event_study(p, "lemp", method=method, fe=["unit", "state_year"])
