"""Covariance registry: established implementations, published clubSandwich numbers,
brute-force dense CR2/CR3 and invariances."""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from clusterimpact.errors import FewClustersWarning, SpecificationError
from clusterimpact.inference.vcov import VcovData, compute_vcov, satterthwaite_contrast
from clusterimpact.kernels.demean import demean

REF = Path(__file__).parents[1] / "reference"
MIRROR = Path("/work/.mirror/jepusto+clubSandwich/repo")


# ---------------------------------------------------------------- helpers
def fit_absorbed(y, x, fe, w=None, cluster=None):
    a = demean(np.column_stack([y, x]), fe, w)
    yd, xd = a.values[:, 0], a.values[:, 1:]
    s = np.ones(len(y)) if w is None else np.sqrt(w)
    b = np.linalg.lstsq(xd * s[:, None], yd * s, rcond=None)[0]
    return b, VcovData(xd, yd - xd @ b, w, None, tuple(fe))


def dummies(codes):
    _, c = np.unique(codes, return_inverse=True)
    out = np.zeros((c.size, c.max() + 1))
    out[np.arange(c.size), c] = 1.0
    return out


def sym_power(mat, power, tol=1e-10):
    lam, vec = np.linalg.eigh(mat)
    f = np.zeros_like(lam)
    ok = lam > tol
    f[ok] = lam[ok] ** power
    return (vec * f) @ vec.T


def dense_block_adjusted(y, x, fe, w, cluster, power):
    """Brute force: full dummy model, n x n hat matrix, A_g = (I - H_gg)^{+power}."""
    n, k = x.shape
    full = np.column_stack([x, *[dummies(f) for f in fe]])
    s = np.sqrt(w)
    xs, ys = full * s[:, None], y * s
    m = np.linalg.pinv(xs.T @ xs)
    e = ys - xs @ (m @ xs.T @ ys)
    h = xs @ m @ xs.T
    ih = np.eye(n) - h
    groups = np.unique(cluster)
    meat = np.zeros((full.shape[1],) * 2)
    adj = {}
    for g in groups:
        idx = np.flatnonzero(cluster == g)
        a = sym_power(ih[np.ix_(idx, idx)], power)
        adj[g] = (idx, a)
        u = xs[idx].T @ a @ e[idx]
        meat += np.outer(u, u)
    cov = (m @ meat @ m)[:k, :k]
    dfs = []
    for j in range(k):
        c = m[:, j]
        vs = []
        for g in groups:
            idx, a = adj[g]
            v = np.zeros(n)
            v[idx] = a @ (xs[idx] @ c)
            vs.append(v)
        vmat = np.column_stack(vs)
        p = vmat.T @ ih @ vmat
        dfs.append(np.trace(p) ** 2 / np.sum(p**2))
    return cov, np.array(dfs)


def small_panel(seed=0, n_units=12, n_periods=5, n_clusters=5, weighted=True, drop=6):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    time = np.tile(np.arange(n_periods), n_units)
    cluster = unit % n_clusters
    d = ((unit % 3 == 0) & (time >= 2)).astype(float) + ((unit % 3 == 1) & (time >= 3))
    z = rng.normal(size=unit.size)
    y = 0.5 * d + 0.3 * z + rng.normal(size=n_units)[unit] + rng.normal(size=unit.size)
    keep = np.ones(unit.size, bool)
    keep[rng.choice(unit.size, drop, replace=False)] = False  # unbalanced
    w = rng.uniform(0.5, 2.0, size=unit.size) if weighted else np.ones(unit.size)
    return (y[keep], np.column_stack([d, z])[keep], [unit[keep], time[keep]],
            w[keep], cluster[keep])


# ------------------------------------------------ established implementations
@pytest.fixture(scope="module")
def ols_data():
    rng = np.random.default_rng(42)
    n = 300
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    g1 = rng.integers(0, 25, n)
    g2 = rng.integers(0, 12, n)
    y = x @ [1.0, 0.5, -0.2] + rng.normal(size=25)[g1] + rng.normal(size=n) * (1 + x[:, 1] ** 2)
    return y, x, g1, g2


def test_hc1_matches_statsmodels(ols_data):
    y, x, _, _ = ols_data
    _, vd = fit_absorbed(y, x, [])
    ref = sm.OLS(y, x).fit(cov_type="HC1")
    est = compute_vcov("HC1", vd)
    np.testing.assert_allclose(est.cov, ref.cov_params(), rtol=1e-10)
    assert est.df[0] == len(y) - 3


def test_cr1_matches_statsmodels(ols_data):
    y, x, g1, _ = ols_data
    _, vd = fit_absorbed(y, x, [])
    ref = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": g1})
    with pytest.warns(FewClustersWarning, match="CR2"):
        est = compute_vcov("CR1", vd, g1)
    np.testing.assert_allclose(est.cov, ref.cov_params(), rtol=1e-10)
    assert est.df[0] == 24


def test_twoway_cluster_matches_statsmodels(ols_data):
    y, x, g1, g2 = ols_data
    _, vd = fit_absorbed(y, x, [])
    ref = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": np.column_stack([g1, g2])})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        est = compute_vcov("CR1", vd, np.column_stack([g1, g2]), cluster_df="conventional")
        fmin = compute_vcov("CR1", vd, np.column_stack([g1, g2]))
    np.testing.assert_allclose(est.cov, ref.cov_params(), rtol=1e-10)
    assert est.n_clusters == (25, 12) and fmin.df[0] == 11


def test_cr1_with_fe_matches_statsmodels_dummies():
    """fixef_k='full' counts every FE level: the same as OLS with explicit dummies."""
    y, x, fe, _, cluster = small_panel(weighted=False)
    b, vd = fit_absorbed(y, x, fe)
    full = np.column_stack([x, dummies(fe[0]), dummies(fe[1])[:, 1:]])
    ref = sm.OLS(y, full).fit(cov_type="cluster", cov_kwds={"groups": cluster})
    np.testing.assert_allclose(b, ref.params[:2], rtol=1e-10)
    with pytest.warns(FewClustersWarning):
        est = compute_vcov("CR1", vd, cluster, fixef_k="full")
    np.testing.assert_allclose(est.cov, ref.cov_params()[:2, :2], rtol=1e-10)


def test_cr2_singleton_clusters_is_hc2(ols_data):
    y, x, _, _ = ols_data
    _, vd = fit_absorbed(y, x, [])
    ref = sm.OLS(y, x).fit(cov_type="HC2")
    est = compute_vcov("CR2", vd, np.arange(len(y)))
    np.testing.assert_allclose(est.cov, ref.cov_params(), rtol=1e-10)
    hc3 = sm.OLS(y, x).fit(cov_type="HC3")
    np.testing.assert_allclose(compute_vcov("CR3", vd, np.arange(len(y))).cov,
                               hc3.cov_params(), rtol=1e-10)


# ------------------------------------------------------- published numbers
def _deaths_path(tmp_path_factory) -> Path | None:
    env = os.environ.get("CLUSTERIMPACT_DEATHS_DTA")
    if env and Path(env).exists():
        return Path(env)
    if MIRROR.exists():
        out = tmp_path_factory.mktemp("cs") / "deaths.dta"
        try:
            blob = subprocess.run(
                ["git", "-C", str(MIRROR), "show", "HEAD:paper_ClusterRobustTesting/data/deaths.dta"],
                check=True, capture_output=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        out.write_bytes(blob)
        return out
    return None


@pytest.fixture(scope="module")
def mlda(tmp_path_factory):
    path = _deaths_path(tmp_path_factory)
    if path is None:
        pytest.skip("deaths.dta (clubSandwich MortalityRates source) not available offline")
    d = pd.read_stata(path)
    d = d[(d["dtype"] == "MVA") & (d["agegr"] == "18-20 yrs") & (d["year"] <= 1983)
          & d["beertaxa"].notna()]
    fe = [d["state"].to_numpy().astype(np.int64), d["year"].to_numpy().astype(np.int64)]
    x = d[["legal", "beertaxa"]].to_numpy(dtype=float)
    b, vd = fit_absorbed(d["mrate"].to_numpy(dtype=float), x, fe)
    return b, vd, fe[0]


def test_mlda_matches_clubsandwich_published(mlda):
    ref = json.loads((REF / "vcov_mlda_clubsandwich.json").read_text())
    pub, tol = ref["published"], ref["tolerance"]
    b, vd, state = mlda
    assert vd.n == 700 and np.unique(state).size == 50
    cr1 = compute_vcov("CR1", vd, state, adj=False, fixef_k="none")
    f1 = b[0] ** 2 / cr1.cov[0, 0]
    assert abs(f1 - pub["CR1_naive_F"]) < tol["F_abs"]
    assert cr1.df[0] == pub["CR1_df"]
    assert abs(stats.f.sf(f1, 1, cr1.df[0]) - pub["CR1_p"]) < tol["p_abs"]
    cr2 = compute_vcov("CR2", vd, state)
    f2 = b[0] ** 2 / cr2.cov[0, 0]
    assert abs(f2 - pub["CR2_HTZ_F"]) < tol["F_abs"]
    assert abs(cr2.df[0] - pub["CR2_df"]) < tol["df_abs"]
    assert abs(stats.f.sf(f2, 1, cr2.df[0]) - pub["CR2_p"]) < tol["p_abs"]
    # leaving the year dummies out of the hat matrix does not reproduce clubSandwich
    ignored = compute_vcov("CR2", vd, state, absorbed="ignore")
    assert abs(b[0] ** 2 / ignored.cov[0, 0] - pub["CR2_HTZ_F"]) > 0.1


# ------------------------------------------------------------ brute force
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("name", "power"), [("CR2", -0.5), ("CR3", -1.0)])
def test_blockwise_equals_dense(weighted, name, power):
    y, x, fe, w, cluster = small_panel(seed=3, weighted=weighted)
    _, vd = fit_absorbed(y, x, fe, w if weighted else None)
    est = compute_vcov(name, vd, cluster)
    cov, df = dense_block_adjusted(y, x, fe, w, cluster, power)
    np.testing.assert_allclose(est.cov, cov, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(est.df, df, rtol=1e-8)


def test_cr2_no_fe_equals_dense_to_1e12():
    rng = np.random.default_rng(7)
    n = 40
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    y = rng.normal(size=n)
    cl = rng.integers(0, 6, n)
    _, vd = fit_absorbed(y, x, [])
    cov, df = dense_block_adjusted(y, x, [], np.ones(n), cl, -0.5)
    est = compute_vcov("CR2", vd, cl)
    np.testing.assert_allclose(est.cov, cov, rtol=0, atol=1e-12 * np.abs(cov).max())
    np.testing.assert_allclose(est.df, df, rtol=1e-10)
    c = np.array([0.0, 1.0, -1.0])
    assert satterthwaite_contrast(est, c) > 0


def test_cr3_is_leave_one_cluster_out_jackknife():
    y, x, fe, _, cluster = small_panel(seed=5, n_units=15, n_clusters=6, weighted=False)
    b, vd = fit_absorbed(y, x, fe)
    acc = np.zeros((2, 2))
    for g in np.unique(cluster):
        keep = cluster != g
        bg, _ = fit_absorbed(y[keep], x[keep], [f[keep] for f in fe])
        acc += np.outer(bg - b, bg - b)
    np.testing.assert_allclose(compute_vcov("CR3", vd, cluster).cov, acc, rtol=1e-8)


# ------------------------------------------------------------- invariances
@pytest.mark.parametrize("name", ["HC1", "CR1", "CR2", "CR3"])
def test_row_order_and_scale(name):
    y, x, fe, w, cluster = small_panel(seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        b, vd = fit_absorbed(y, x, fe, w)
        base = compute_vcov(name, vd, cluster)
        perm = np.random.default_rng(1).permutation(len(y))
        bp, vdp = fit_absorbed(y[perm], x[perm], [f[perm] for f in fe], w[perm])
        np.testing.assert_allclose(bp, b, rtol=1e-9)
        np.testing.assert_allclose(compute_vcov(name, vdp, cluster[perm]).cov, base.cov,
                                   rtol=1e-8)
        bs, vds = fit_absorbed(3.0 * y, x, fe, w)
        np.testing.assert_allclose(bs, 3.0 * b, rtol=1e-9)
        np.testing.assert_allclose(compute_vcov(name, vds, cluster).cov, 9.0 * base.cov,
                                   rtol=1e-8)
        np.testing.assert_allclose(compute_vcov(name, vds, cluster).df, base.df, rtol=1e-8)


# ------------------------------------------------------------------ errors
def test_registry_errors():
    vd = VcovData(np.ones((4, 1)), np.array([1.0, -1.0, 0.5, -0.5]))
    with pytest.raises(SpecificationError, match="Unknown vcov 'CR5'"):
        compute_vcov("CR5", vd, np.arange(4))
    with pytest.raises(SpecificationError, match=r"unknown keyword argument\(s\) fixef_K.*fixef_k"):
        compute_vcov("CR1", vd, np.arange(4), fixef_K="full")
    with pytest.raises(SpecificationError, match="needs cluster codes"):
        compute_vcov("CR2", vd)
    with pytest.raises(SpecificationError, match="cluster has 3 rows"):
        compute_vcov("CR1", vd, np.arange(3))
    with pytest.raises(SpecificationError, match="one-way"):
        compute_vcov("CR2", vd, np.column_stack([np.arange(4), np.arange(4)]))


def test_few_clusters_warning_points_to_cr2():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(40), rng.normal(size=40)])
    with pytest.warns(FewClustersWarning, match="CR2.*wild_bootstrap"):
        compute_vcov("CR1", VcovData(x, rng.normal(size=40)), np.repeat(np.arange(10), 4))


# ------------------------------------------------------------ hypothesis
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100.0))
def test_cr2_invariant_to_permutation_relabelling_and_scale(seed, scale):
    y, x, fe, w, cluster = small_panel(seed=seed)
    _, vd = fit_absorbed(y, x, fe, w)
    base = compute_vcov("CR2", vd, cluster)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y))
    relabel = rng.permutation(100)[cluster]  # arbitrary new cluster labels
    _, vdp = fit_absorbed(scale * y[perm], x[perm], [f[perm] for f in fe], w[perm])
    est = compute_vcov("CR2", vdp, relabel[perm])
    np.testing.assert_allclose(est.cov, scale**2 * base.cov, rtol=1e-7)
    np.testing.assert_allclose(est.df, base.df, rtol=1e-7)
