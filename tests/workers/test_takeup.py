"""Fuzzy DiD: hand example, Wald-TC vs Wald-DID under time-varying effects, delta-method SEs."""

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci


def _fuzzy(seed, n=20000, tau=(1.0, 3.0), always=(0.1, 0.3), complier=0.4):
    rng = np.random.default_rng(seed)
    rows = []
    for g in (0, 1):
        u = rng.random(n)
        at = u < always[g]
        comp = (u >= always[g]) & (u < always[g] + complier * g)
        for t in (0, 1):
            d = at | (comp & (t == 1))
            y = 2.0 * g + 0.5 * t + rng.normal(size=n) + np.where(d, tau[t], 0.0)
            rows.append(pd.DataFrame({"g": g, "t": t, "d": d.astype(int), "y": y,
                                      "cl": rng.integers(0, 200, n) + 1000 * g}))
    return pd.concat(rows, ignore_index=True)


def test_hand_example():
    df = pd.DataFrame({"g": [1, 1, 1, 1, 0, 0, 0, 0], "t": [0, 0, 1, 1] * 2,
                       "d": [0, 0, 1, 0, 0, 0, 0, 0], "y": [1.0, 2, 4, 2, 1, 2, 2, 3]})
    res = ci.workers.wald_did(df, "y", group="g", period="t", takeup="d")
    np.testing.assert_allclose(res.estimate, [0.5, 0.5, 1.0, 1.0])


def test_wald_tc_unbiased_when_wald_did_is_not():
    df = _fuzzy(1)
    res = ci.workers.wald_did(df, "y", group="g", period="t", takeup="d", cluster="cl")
    tab = res.tidy().set_index("term")
    # ITT = .6 tau1 - .2 tau0 = 1.6, first stage .4: Wald-DID -> 4, Wald-TC -> tau1 = 3
    assert abs(tab.loc["wald_tc", "estimate"] - 3.0) < 3 * tab.loc["wald_tc", "std_error"]
    assert abs(tab.loc["wald_did", "estimate"] - 4.0) < 3 * tab.loc["wald_did", "std_error"]
    assert abs(tab.loc["first_stage", "estimate"] - 0.4) < 0.02


def test_delta_method_se_matches_simulation_spread():
    draws = np.array([ci.workers.wald_did(_fuzzy(s, n=2000), "y", group="g", period="t",
                                          takeup="d").estimate for s in range(60)])
    res = ci.workers.wald_did(_fuzzy(99, n=2000), "y", group="g", period="t", takeup="d")
    np.testing.assert_allclose(res.std_error[2:], draws[:, 2:].std(axis=0, ddof=1), rtol=0.3)


def test_errors():
    df = _fuzzy(2, n=200)
    with pytest.raises(ci.SpecificationError, match="0/1"):
        ci.workers.wald_did(df.assign(d=df.d * 2), "y", group="g", period="t", takeup="d")
    with pytest.raises(ci.SpecificationError, match="Did you mean"):
        ci.workers.wald_did(df, "y", group="g", period="t", takeup="dd")
    with pytest.raises(ci.SpecificationError, match="Wald-TC"):
        ci.workers.wald_did(df[~((df.g == 0) & (df.d == 1))], "y", group="g", period="t", takeup="d")
