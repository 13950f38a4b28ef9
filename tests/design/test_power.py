"""ci.power: hand-computed MDEs from the documented formulas and a simulation check."""

import numpy as np
import pytest
from scipy import stats

import clusterimpact as ci
from clusterimpact import power


def test_bloom_hand_computed():
    # J = 40, n = 25, rho = 0.05, P = 0.5, normal: 2.80158 * sqrt(0.088 / 10)
    se = np.sqrt((0.05 + 0.95 / 25) / (0.25 * 40))
    mult = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert power.mde(40, 25, 0.05, dist="normal") == pytest.approx(mult * se, rel=1e-12)
    mult_t = stats.t.ppf(0.975, 38) + stats.t.ppf(0.8, 38)
    assert power.mde(40, 25, 0.05, sd=2.0) == pytest.approx(2 * mult_t * se, rel=1e-12)
    # unequal allocation, icc = 1 (only clusters count)
    assert power.mde(30, 10, 1.0, treated_share=1 / 3, dist="normal") == pytest.approx(
        mult * np.sqrt(1 / (2 / 9 * 30)), rel=1e-12)


def test_did_variance_matches_bpw_decomposition():
    m, r, phi = 3, 2, 0.6
    lags = np.abs(np.subtract.outer(np.arange(5), np.arange(5)))
    cov = phi**lags
    pre, post = cov[:m, :m], cov[m:, m:]
    psi_b = (pre.sum() - np.trace(pre)) / (m * (m - 1))
    psi_a = (post.sum() - np.trace(post)) / (r * (r - 1))
    psi_x = cov[:m, m:].mean()
    bpw = (1 / m + 1 / r) + (m - 1) / m * psi_b + (r - 1) / r * psi_a - 2 * psi_x
    assert power.did_variance(m, r, autocorr=phi) == pytest.approx(bpw, rel=1e-12)
    assert power.did_variance(2, 3) == pytest.approx(1 / 2 + 1 / 3)
    # with a permanent unit effect (equicorrelation) the DiD variance is (1 - rho)(1/m + 1/r)
    eq = np.full((5, 5), 0.4) + 0.6 * np.eye(5)
    assert power.did_variance(3, 2, corr=eq) == pytest.approx(0.6 * (1 / 3 + 1 / 2))


def test_power_inverts_mde_and_clusters_needed():
    kw = dict(design="did", pre=4, post=2, autocorr=0.3)
    m = power.mde(50, 20, 0.1, **kw)
    assert power.power(m, 50, 20, 0.1, **kw) == pytest.approx(0.8, abs=1e-9)
    j = power.clusters_needed(m * (1 + 1e-9), 20, 0.1, **kw)
    assert j == 50
    with pytest.raises(ci.SpecificationError, match="icc"):
        power.mde(40, 10, 1.5)
    with pytest.raises(ci.SpecificationError, match="corr must be"):
        power.did_variance(2, 2, corr=np.eye(3))


def _simulate(reps, seed, j=40, n=10, icc=0.1, m=3, r=3, phi=0.5, effect=0.0):
    """Cluster-mean DiD with AR(1) cluster shocks and iid worker noise; returns estimates."""
    rng = np.random.default_rng(seed)
    t = m + r
    out = np.empty(reps)
    for k in range(reps):
        shock = np.empty((j, t))
        shock[:, 0] = rng.normal(size=j)
        for s in range(1, t):
            shock[:, s] = phi * shock[:, s - 1] + np.sqrt(1 - phi**2) * rng.normal(size=j)
        y = np.sqrt(icc) * shock[:, None, :] + np.sqrt(1 - icc) * rng.normal(size=(j, n, t))
        # worker noise is iid over time while the formula applies one AR(1) to the cluster
        # mean, so the check uses icc close to 1, where the two coincide
        ybar = y.mean(axis=1)
        treated = np.arange(j) < j // 2
        ybar[treated, m:] += effect
        delta = ybar[:, m:].mean(axis=1) - ybar[:, :m].mean(axis=1)
        out[k] = delta[treated].mean() - delta[~treated].mean()
    return out


def test_simulated_se_close_to_formula_when_worker_noise_is_negligible():
    est = _simulate(400, 1, n=10_000 // 100, icc=0.999)
    se = power.mde(40, 100, 0.999, design="did", pre=3, post=3, autocorr=0.5, dist="normal") / (
        stats.norm.ppf(0.975) + stats.norm.ppf(0.8))
    assert np.std(est) == pytest.approx(se, rel=0.12)


@pytest.mark.slow
def test_simulated_power_slow():
    se_mult = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    m = power.mde(40, 100, 0.999, design="did", pre=3, post=3, autocorr=0.5, dist="normal")
    est = _simulate(3000, 2, n=100, icc=0.999, effect=m)
    se = m / se_mult
    rejected = np.mean(np.abs(est / se) > stats.norm.ppf(0.975))
    assert rejected == pytest.approx(0.8, abs=0.03)
