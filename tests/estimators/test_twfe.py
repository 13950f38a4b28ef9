"""ci.twfe: published castle-doctrine numbers, vcov switching, by=, errors."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.inference.vcov import compute_vcov
from clusterimpact.results.regression import RegressionResult

SHARED = Path("/work/shared")


@pytest.fixture(scope="module")
def castle():
    path = SHARED / "data" / "castle" / "castle.csv"
    if not path.exists():
        pytest.skip("castle data not available")
    d = pd.read_csv(path)
    d = pd.concat([d, (d["cdl"] > 0).astype(int).rename("post_cdlpos")], axis=1)
    ref = json.loads((SHARED / "reference" / "castle.json").read_text())
    case = next(r for r in ref["references"] if r["id"] == "twfe_unweighted_post_cdlpos")
    return d, case


def test_castle_matches_fixest(castle):
    """fixest: feols(l_homicide ~ D | sid + year, cluster = ~sid), D = 1{cdl > 0}."""
    d, case = castle
    panel = ci.Panel(d, unit="sid", time="year", treatment="post_cdlpos")
    res = ci.twfe(panel, "l_homicide")
    row = res.tidy().iloc[0]
    assert row["term"] == "treated"
    assert abs(row["estimate"] - case["estimate"]) < case["tolerance"]["coef_abs"]
    assert abs(row["std_error"] / case["se_crv1_state_fixest"] - 1) < case["tolerance"]["se_rel"]
    assert row["df"] == 49  # fixest's t(G - 1)
    assert {"term", "estimate", "std_error", "conf_low", "conf_high", "p_value", "df"} <= set(
        res.tidy().columns)
    assert res.info["n_clusters"] == 50 and res.info["fe_dof"] == 60


def test_with_vcov_does_not_refit(castle):
    d, _ = castle
    panel = ci.Panel(d, unit="sid", time="year", treatment="post_cdlpos")
    res = ci.twfe(panel, "l_homicide")
    cr2 = res.with_vcov("CR2")
    assert isinstance(cr2, RegressionResult) and cr2 is not res
    assert cr2.info["vcov_type"] == "CR2" and res.info["vcov_type"] == "CR1"
    np.testing.assert_array_equal(cr2.estimate, res.estimate)
    assert 1 < cr2.tidy()["df"][0] < 49
    direct = ci.twfe(panel, "l_homicide", vcov="CR2")
    np.testing.assert_allclose(direct.vcov, cr2.vcov, rtol=1e-12)
    np.testing.assert_allclose(direct.dof, cr2.dof, rtol=1e-12)
    # influence functions reproduce the CR0 meat
    infl = res.influence / res.fit.n
    scores = pd.DataFrame(infl).groupby(res.cluster).sum().to_numpy()
    cr1 = compute_vcov("CR1", res.fit, res.cluster, adj=False, cluster_adj=False)
    np.testing.assert_allclose(scores.T @ scores, cr1.cov, rtol=1e-10)


def _toy(seed=0, n_units=24, n_periods=6):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    time = np.tile(np.arange(2000, 2000 + n_periods), n_units)
    cohort = np.where(unit % 3 == 0, 2003, np.where(unit % 3 == 1, 2004, 0))[unit // 1]
    treated = (cohort > 0) & (time >= cohort)
    y = 1.0 * treated + rng.normal(size=n_units)[unit] + 0.1 * (time - 2000) + rng.normal(
        size=unit.size)
    return pd.DataFrame({"id": unit, "t": time, "g": cohort, "y": y,
                         "x": rng.normal(size=unit.size), "sex": np.where(unit % 2, "f", "m"),
                         "region": unit % 8, "w": rng.uniform(0.5, 2, unit.size)})


def test_by_equals_separate_regressions():
    df = _toy()
    panel = ci.Panel(df, unit="id", time="t", cohort="g", cluster="region")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        joint = ci.twfe(panel, "y", covariates=["x"], by="sex", vcov="CR2")
        tidy = joint.tidy()
        assert list(tidy["sex"]) == ["f", "f", "m", "m"]
        for sex in ("f", "m"):
            sub = ci.Panel(df[df["sex"] == sex], unit="id", time="t", cohort="g", cluster="region")
            alone = ci.twfe(sub, "y", covariates=["x"], vcov="CR2").tidy()
            got = tidy[tidy["sex"] == sex].reset_index(drop=True)
            np.testing.assert_allclose(got["estimate"], alone["estimate"], rtol=1e-8)
            # coefficients of one subgroup do not involve the other subgroup's data
            np.testing.assert_allclose(got["std_error"], alone["std_error"], rtol=1e-6)
    assert joint.vcov.shape == (4, 4)


def test_weights_and_scaling():
    df = _toy(seed=2)
    panel = ci.Panel(df, unit="id", time="t", cohort="g", weights="w")
    res = ci.twfe(panel, "y", vcov="HC1")
    scaled = ci.twfe(ci.Panel(df.assign(y=df["y"] * 4), unit="id", time="t", cohort="g",
                              weights="w"), "y", vcov="HC1")
    np.testing.assert_allclose(scaled.estimate, 4 * res.estimate, rtol=1e-9)
    np.testing.assert_allclose(scaled.std_error, 4 * res.std_error, rtol=1e-9)
    explicit = ci.twfe(ci.Panel(df, unit="id", time="t", cohort="g"), "y", vcov="HC1",
                       weights="w")
    np.testing.assert_allclose(explicit.estimate, res.estimate, rtol=1e-12)
    unweighted = ci.twfe(ci.Panel(df, unit="id", time="t", cohort="g"), "y", vcov="HC1")
    assert abs(unweighted.estimate[0] - res.estimate[0]) > 1e-6


def test_dropped_rows_and_errors():
    df = _toy(seed=3)
    df.loc[[1, 5], "x"] = np.nan
    panel = ci.Panel(df, unit="id", time="t", cohort="g")
    with pytest.warns(ci.DroppedRowsWarning, match="dropped 2 row"):
        res = ci.twfe(panel, "y", covariates=["x"], vcov="CR2")
    assert res.info["n_obs"] == len(df) - 2
    with pytest.raises(ci.SpecificationError, match="Unknown vcov 'CR4'"):
        ci.twfe(panel, "y", vcov="CR4")
    with pytest.raises(ci.SpecificationError, match=r"Unknown fixed effect 'regon'.*'region'"):
        ci.twfe(panel, "y", fe=["unit", "time", "regon"])
    with pytest.raises(ci.EstimationError, match="collinear"):
        ci.twfe(panel, "y", covariates=["region"])  # time-invariant: absorbed by unit FE
    with pytest.raises(ci.SpecificationError, match="unknown keyword"):
        res.with_vcov("CR1", small=True)
