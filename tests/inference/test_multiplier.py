"""Clustered multiplier bootstrap (R did's mboot on cluster sums)."""

from __future__ import annotations

import numpy as np
import pytest

import clusterimpact as ci
from clusterimpact.inference.multiplier import (
    multiplier_bootstrap,
    multiplier_draws,
    summarize_draws,
)


def _psi(n=400, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, k)) * np.array([1.0, 2.0, 0.5])[:k]


@pytest.mark.parametrize("weights", ["mammen", "rademacher"])
def test_se_matches_analytic(weights):
    psi = _psi()
    n = psi.shape[0]
    b = multiplier_bootstrap(psi / n, reps=4000, weights=weights, seed=1)
    analytic = np.sqrt((psi**2).sum(0)) / n
    # IQR-based SE from 4,000 draws: Monte Carlo error about 2-3%
    np.testing.assert_allclose(b.std_error, analytic, rtol=0.08)
    assert 1.96 < b.crit_value < 3.0


def test_multiplier_moments():
    d = multiplier_draws(np.eye(20000)[:, :1], 1, weights="mammen", seed=0)
    v = multiplier_draws(np.eye(20000), 1, weights="mammen", seed=0).ravel()
    assert d.shape == (1, 1)
    assert abs(v.mean()) < 0.03 and abs(v.var() - 1) < 0.05 and abs((v**3).mean() - 1) < 0.1


def test_seed_reproducible_and_no_global_state():
    psi = _psi()
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checking the legacy global RNG)
    a = multiplier_bootstrap(psi, reps=200, seed=5)
    b = multiplier_bootstrap(psi, reps=200, seed=5)
    c = multiplier_bootstrap(psi, reps=200, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(a.std_error, b.std_error)
    np.testing.assert_array_equal(a.std_error, c.std_error)
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    # the stored child seed regenerates the draws; chunking does not change them
    d1 = multiplier_draws(psi, 200, seed=a.seed)
    d2 = multiplier_draws(psi[:, :1], 200, seed=a.seed)
    np.testing.assert_allclose(d1[:, 0], d2[:, 0], rtol=1e-12)  # BLAS order only


def test_clustered_equals_bootstrap_of_cluster_sums():
    psi = _psi(300, 2)
    cluster = np.arange(300) // 10
    sums = np.zeros((30, 2))
    np.add.at(sums, cluster, psi)
    b = multiplier_bootstrap(sums / 300, reps=3000, seed=2)
    analytic = np.sqrt((sums**2).sum(0)) / 300
    np.testing.assert_allclose(b.std_error, analytic, rtol=0.12)


def test_degenerate_column_is_nan():
    psi = _psi(100, 2)
    psi[:, 1] = 0.0
    se, crit = summarize_draws(multiplier_draws(psi, 100, seed=0), 0.05)
    assert np.isfinite(se[0]) and np.isnan(se[1]) and np.isfinite(crit)


def test_bad_arguments():
    with pytest.raises(ci.SpecificationError, match="use one of"):
        multiplier_bootstrap(_psi(), weights="webb")
    with pytest.raises(ci.SpecificationError):
        multiplier_bootstrap(_psi(), reps=0)
    with pytest.raises(ci.SpecificationError):
        multiplier_bootstrap(_psi(), alpha=2)


def test_att_gt_bootstrap_clustered_and_aggregates():
    df = ci.datasets.load("mpdta")
    df = df.assign(state=df["countyreal"] // 1000)
    p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat", cluster="state")
    res = ci.att_gt(p, "lemp", bootstrap=999, seed=3)
    analytic = ci.att_gt(p, "lemp")
    ratio = res.std_error / analytic.std_error
    assert np.all((ratio > 0.75) & (ratio < 1.3))
    agg = res.aggregate("dynamic")
    tab = agg.tidy()
    assert {"band_low", "band_high"} <= set(tab.columns)
    assert (tab["band_high"] - tab["band_low"] > tab["conf_high"] - tab["conf_low"]).all()
    again = ci.att_gt(p, "lemp", bootstrap=999, seed=3).aggregate("dynamic")
    np.testing.assert_array_equal(agg.std_error, again.std_error)
