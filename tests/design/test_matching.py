"""ci.match: MatchIt / cobalt / WeightIt published lalonde outputs, invariants, inference, errors."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci

REF = json.loads((Path(__file__).parents[1] / "reference" / "matchit_lalonde.json").read_text())
COV = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
NAMES = ["age", "educ", "race_black", "race_hispan", "race_white", "married", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    d = ci.datasets.load("nsw_lalonde").set_index("id")
    s = d.loc[REF["treated_ids"] + REF["control_ids"]].reset_index()
    s["treat"] = [1] * 185 + [0] * 429
    s["race"] = np.where(s["black"] == 1, "black", np.where(s["hisp"] == 1, "hispan", "white"))
    return s


def close(got: float, printed: float, digits: int = 4, data_rounding: bool = False) -> bool:
    """Printed precision: half a unit in the last digit (+5e-7 relative for earnings means)."""
    return abs(got - printed) <= 0.5 * 10**-digits + (5e-7 * abs(printed) if data_rounding else 0) + 1e-12


def after(m, **kw) -> pd.DataFrame:
    b = m.balance(**kw)
    return b[b["sample"] == "after"].set_index("covariate")


def test_nearest_ps_matches_cobalt_readme(lalonde):
    m = ci.match(lalonde, treatment="treat", covariates=COV, method="nearest")
    bal = m.balance()
    before = bal[bal["sample"] == "before"].set_index("covariate")["smd"]
    adj = bal[bal["sample"] == "after"].set_index("covariate")["smd"]
    ref = REF["nearest_ps"]
    for name in ["distance", *NAMES]:
        ours = "propensity_score" if name == "distance" else name
        assert close(before[ours], ref["diff_un"][name]), name
        assert close(adj[ours], ref["diff_adj"][name]), name
    sizes = m.sample_sizes()
    assert sizes.loc["matched", "control"] == ref["sample_sizes"]["matched_control"]
    assert sizes.loc["unmatched", "control"] == ref["sample_sizes"]["unmatched_control"]
    # 1:1 without replacement: every weight is 0 or 1
    assert set(np.unique(m.weights)) == {0.0, 1.0}


def test_mahalanobis_with_replacement_matches_matchit_readme(lalonde):
    m = ci.match(lalonde, treatment="treat", covariates=COV, method="mahalanobis", replace=True)
    tab = after(m, binary="std")
    rows = REF["mahalanobis_replace"]["matched"]["rows"]
    for name in NAMES:
        mt, mc, smd, _vr, ks = rows[name]
        earn = name.startswith("re")
        assert close(tab.loc[name, "mean_treated"], mt, data_rounding=earn), name
        assert close(tab.loc[name, "mean_control"], mc, data_rounding=earn), name
        assert close(tab.loc[name, "smd"], smd), name
        assert close(tab.loc[name, "ks"], ks), name
    # variance ratios and the matched count depend on tie-breaking among identical controls
    # (see the fixture's note); they must still be close
    assert abs(m.sample_sizes().loc["matched", "control"] - 79) <= 5


def test_ipw_att_matches_weightit_readme(lalonde):
    m = ci.match(lalonde, treatment="treat", covariates=COV, method="ipw")
    ref = REF["ipw_att"]
    bal = m.balance()
    adj = bal[bal["sample"] == "after"].set_index("covariate")["smd"]
    for name in ["prop.score", *NAMES]:
        assert close(adj["propensity_score" if name == "prop.score" else name], ref["diff_adj"][name]), name
    wc = m.weights[lalonde["treat"] == 0]
    assert close(wc.min(), ref["control_weight_min"], 3) and close(wc.max(), ref["control_weight_max"], 3)
    assert close(m.sample_sizes().loc["matched (ESS)", "control"], ref["ess_control"], 2)
    res = m.att("re78").tidy().iloc[0]
    lw = ref["lm_weightit"]
    assert close(res["estimate"], lw["treat"], 1)
    assert close(res["std_error"], lw["treat_se"], 1)
    assert close(res["conf_low"], lw["conf_low"], 1) and close(res["conf_high"], lw["conf_high"], 1)
    assert close(res["mean_control"], lw["intercept"], 1)


def test_weights_align_to_index_and_input_untouched(lalonde):
    df = lalonde.sample(frac=1.0, random_state=3).set_index(np.arange(1000, 1614))
    before = df.copy()
    m = ci.match(df, treatment="treat", covariates=COV, method="ipw")
    pd.testing.assert_frame_equal(df, before)
    assert m.weights.index.equals(df.index)
    base = ci.match(lalonde, treatment="treat", covariates=COV, method="ipw").weights
    np.testing.assert_allclose(m.weights.sort_values().to_numpy(), base.sort_values().to_numpy(), rtol=1e-8)


@pytest.mark.parametrize("estimand", ["ATT", "ATC", "ATE"])
def test_entropy_balancing_equalises_means(lalonde, estimand):
    m = ci.match(lalonde, treatment="treat", covariates=COV, method="entropy", estimand=estimand)
    assert m.info["entropy"]["converged"]
    d = lalonde["treat"].to_numpy() == 1
    w = m.weights.to_numpy()
    for c in ["age", "educ", "married", "nodegree", "re74", "re75"]:
        x = lalonde[c].to_numpy(float)
        target = {"ATT": x[d].mean(), "ATC": x[~d].mean(), "ATE": x.mean()}[estimand]
        for arm in ((~d,) if estimand == "ATT" else (d,) if estimand == "ATC" else (d, ~d)):
            assert np.average(x[arm], weights=w[arm]) == pytest.approx(target, rel=1e-7, abs=1e-7)


def test_entropy_second_moments_and_infeasible(lalonde):
    m = ci.match(lalonde, treatment="treat", covariates=["age", "educ", "re74"], method="entropy", moments=2)
    d = lalonde["treat"].to_numpy() == 1
    w = m.weights.to_numpy()
    a = lalonde["age"].to_numpy(float)
    assert np.average(a[~d] ** 2, weights=w[~d]) == pytest.approx((a[d] ** 2).mean(), rel=1e-7)
    bad = lalonde.assign(z=np.where(lalonde["treat"] == 1, 10.0, lalonde["age"] / 100))
    with pytest.raises(ci.EstimationError, match="infeasible"):
        ci.match(bad, treatment="treat", covariates=["z"], method="entropy")


def test_matching_estimator_equals_weighted_difference(lalonde):
    m = ci.match(lalonde, treatment="treat", covariates=COV, method="mahalanobis", replace=True, ratio=2)
    y = lalonde["re78"].to_numpy()
    direct = np.mean([y[i] - y[js].mean() for i, js in m.matches.items()])
    res = m.att("re78")
    assert res.estimate[0] == pytest.approx(direct, rel=1e-10)
    assert res.std_error[0] > 0


def test_abadie_imbens_reduces_to_paired_variance(lalonde):
    m = ci.match(lalonde, treatment="treat", covariates=COV, method="nearest")
    y = lalonde["re78"].to_numpy()
    diffs = np.array([y[i] - y[js[0]] for i, js in m.matches.items()])
    se = np.sqrt(((diffs - diffs.mean()) ** 2).sum()) / diffs.size
    assert m.att("re78").std_error[0] == pytest.approx(se, rel=1e-12)


def test_caliper_exact_and_trim(lalonde):
    m = ci.match(lalonde, treatment="treat", covariates=COV, method="nearest", caliper=0.1, exact="married")
    d = lalonde["treat"].to_numpy() == 1
    lp = np.log(m.propensity / (1 - m.propensity)).to_numpy()
    width = m.info["caliper_width_logit"]
    assert width == pytest.approx(0.1 * lp.std(ddof=1))
    married = lalonde["married"].to_numpy()
    for i, js in m.matches.items():
        assert np.all(np.abs(lp[js] - lp[i]) <= width + 1e-12)
        assert np.all(married[js] == married[i])
    assert m.sample_sizes().loc["unmatched", "treated"] > 0
    t = ci.match(lalonde, treatment="treat", covariates=COV, method="ipw", trim="crump")
    a = t.info["trim_threshold"]
    assert 0 < a < 0.5 and t.info["n_trimmed"] > 0
    kept = t.weights > 0
    assert kept.sum() == len(lalonde) - t.info["n_trimmed"]
    assert t.info["common_support"]["control_outside"] >= 0
    assert d.sum() >= (kept & (lalonde["treat"] == 1)).sum()


def test_cem_weights_and_strata(lalonde):
    m = ci.match(lalonde, treatment="treat", covariates=["age", "educ", "race", "married"], method="cem")
    w = m.weights.to_numpy()
    d = lalonde["treat"].to_numpy() == 1
    assert np.all(w[d & (w > 0)] == 1.0)
    assert w[~d & (w > 0)].mean() == pytest.approx(1.0)
    # binary and categorical covariates are matched exactly
    tab = after(m)
    for c in ["race_black", "race_hispan", "race_white", "married"]:
        assert abs(tab.loc[c, "smd"]) < 1e-12
    res = m.att("re78", cluster="race")
    assert res.info["n_clusters"] == 3 and np.isfinite(res.std_error[0])


def test_overlap_weights_exact_mean_balance_for_logit(lalonde):
    m = ci.match(lalonde, treatment="treat", covariates=["age", "educ", "married"], method="overlap")
    tab = after(m, binary="std")
    assert np.abs(tab.loc[["age", "educ", "married"], "mean_treated"] -
                  tab.loc[["age", "educ", "married"], "mean_control"]).max() < 1e-6
    assert np.isfinite(m.att("re78").std_error[0])


def test_weighting_se_against_bootstrap_free_check():
    # probit IPW on simulated data: the sandwich SE is close to the Monte Carlo SD
    rng = np.random.default_rng(5)
    est = []
    ses = []
    for _ in range(40):
        x = rng.normal(size=600)
        d = (0.5 * x + rng.normal(size=600) > 0.3).astype(int)
        y = x + d + rng.normal(size=600)
        df = pd.DataFrame({"x": x, "d": d, "y": y})
        r = ci.match(df, treatment="d", covariates="x", method="ipw", link="probit").att("y")
        est.append(r.estimate[0])
        ses.append(r.std_error[0])
    assert abs(np.mean(est) - 1.0) < 0.1
    assert np.std(est, ddof=1) == pytest.approx(np.mean(ses), rel=0.35)


def test_polars_input_and_plot(lalonde):
    pl = pytest.importorskip("polars")
    m = ci.match(pl.from_pandas(lalonde), treatment="treat", covariates=COV, method="ipw")
    assert np.isclose(m.weights.sum(), ci.match(lalonde, treatment="treat", covariates=COV,
                                                method="ipw").weights.sum())
    ax = m.plot()
    assert ax.get_xlabel().startswith("Absolute")
    assert "Sample sizes" in m.summary()


def test_errors(lalonde):
    with pytest.raises(ci.SpecificationError, match="Did you mean 'nearest'"):
        ci.match(lalonde, treatment="treat", covariates=COV, method="nearset")
    with pytest.raises(ci.SpecificationError, match="supports estimand"):
        ci.match(lalonde, treatment="treat", covariates=COV, method="nearest", estimand="ATE")
    with pytest.raises(ci.SpecificationError, match="Did you mean 'educ'"):
        ci.match(lalonde, treatment="treat", covariates=["edu"])
    with pytest.raises(ci.SpecificationError, match="exact="):
        ci.match(lalonde, treatment="treat", covariates=COV, method="ipw", exact="married")
    with pytest.raises(ci.SpecificationError, match="Outcome column"):
        ci.match(lalonde, treatment="treat", covariates=COV, method="ipw").att("re79")
    sep = pd.DataFrame({"d": [0, 0, 0, 1, 1, 1], "x": [0.0, 1, 2, 3, 4, 5]})
    with pytest.raises(ci.EstimationError, match="separates"):
        ci.match(sep, treatment="d", covariates="x", method="ipw")
