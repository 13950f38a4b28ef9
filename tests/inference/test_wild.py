"""Wild cluster bootstrap: published fwildclusterboot draws, wildboottest p-values, brute force."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.inference.vcov import VcovData
from clusterimpact.inference.wild import _enumerate, score_wild_bootstrap, wild_test, wild_weights
from clusterimpact.kernels.demean import demean
from clusterimpact.results import Result

REF = Path(__file__).parents[1] / "reference"


def _wbt_data(name):
    """The two data sets of tests/reference/wild_wildboottest_py.json, rebuilt."""
    if name == "A_G5":  # wildboottest tests/test_bootalgo.py::data(5)
        rs = np.random.RandomState(12312)
        n, k = 10000, 3
        x = rs.normal(0, 1, n * k).reshape((n, k))
        x[:, 0] = 1
        beta = rs.normal(0, 1, k)
        beta[1] = 0.005
        y = x @ beta + rs.normal(0, 1, n)
        return x, y, rs.choice(list(range(5)), n)
    rs = np.random.RandomState(20240611)
    n, g = 400, 9
    cl = rs.choice(g, n)
    x = np.column_stack([np.ones(n), rs.normal(size=n) + 0.5 * (cl % 3), rs.normal(size=n)])
    y = x @ [0.2, 0.1, -0.3] + rs.normal(size=n) + rs.normal(size=g)[cl]
    return x, y, cl


def _ols(x, y):
    b = np.linalg.lstsq(x, y, rcond=None)[0]
    return VcovData(x, y - x @ b), b


def test_fwildclusterboot_enumerated_t_boot():
    """R fwildclusterboot's 32 enumerated t* (no ssc) on wildboottest's test data, to 1e-10."""
    ref = json.loads((REF / "wild_fwildclusterboot_enum.json").read_text())
    x, y, cl = _wbt_data("A_G5")
    assert np.allclose(x[0], [1.0, -0.4037156320778326, -0.463878574616604], atol=1e-14)
    fit, b = _ols(x, y)
    for col, impose in (("WCR11", True), ("WCU11", False)):
        t = wild_test(fit, b, cl, [0, 1, 0], reps=99999, impose_null=impose, ssc=1.0)
        assert t.enumerated and t.reps == 32
        np.testing.assert_allclose(np.sort(t.t_boot), np.sort(ref["t_boot"][col]), rtol=0, atol=1e-10)


@pytest.mark.parametrize("case", range(8))
def test_wildboottest_pvalues_identical(case):
    """wildboottest 0.3.2 at identical specification (enumerated Rademacher): p and t to 1e-10."""
    ref = json.loads((REF / "wild_wildboottest_py.json").read_text())["results"][case]
    x, y, cl = _wbt_data(ref["data"])
    fit, b = _ols(x, y)
    kind = "symmetric" if ref["p_value_type"] == "two-tailed" else "equal_tailed"
    t = wild_test(fit, b, cl, [0, 1, 0], reps=99999, impose_null=ref["impose_null"], p_value=kind)
    assert t.reps == ref["B"]
    assert abs(t.statistic / ref["t_stat"] - 1) < 1e-10
    assert abs(t.p_value - ref["p_value"]) < 1e-10
    np.testing.assert_allclose(np.sort(t.t_boot), ref["t_boot_sorted"], rtol=0, atol=1e-10)


# ------------------------------------------------------------------ brute force
def _brute(y, x, dummies, cl, rvec, r, impose_null, w):
    """Refit OLS with every fixed-effect dummy for each of the 2^G sign vectors."""
    n, k = x.shape
    w = np.ones(n) if w is None else w
    s = np.sqrt(w)
    z = x if dummies is None else np.column_stack([x, dummies])
    rz = np.concatenate([rvec, np.zeros(z.shape[1] - k)])
    zs = z * s[:, None]
    zi = np.linalg.pinv(zs.T @ zs)
    b = zi @ zs.T @ (y * s)
    bt = b - zi @ rz * (rz @ b - r) / (rz @ zi @ rz) if impose_null else b
    fitted, u = z @ bt, y - z @ bt
    center = r if impose_null else rz @ b
    codes = np.unique(cl, return_inverse=True)[1]
    g = codes.max() + 1

    def tstat(yy, c0):
        bb = zi @ zs.T @ (yy * s)
        e = (yy - z @ bb) * s
        sc = np.array([rz @ zi @ (zs[codes == h].T @ e[codes == h]) for h in range(g)])
        return (rz @ bb - c0) / np.sqrt(sc @ sc)

    tb = np.array([tstat(fitted + u * v[codes], center) for v in _enumerate(g).T])
    return tb, tstat(y, r)


@pytest.fixture(scope="module")
def fe_data():
    rng = np.random.default_rng(5)
    units, periods = 18, 5
    unit = np.repeat(np.arange(units), periods)
    time = np.tile(np.arange(periods), units)
    keep = rng.random(unit.size) > 0.15  # unbalanced
    unit, time = unit[keep], time[keep]
    cl = unit // 3
    n = unit.size
    x = rng.normal(size=(n, 2)) + 0.3 * cl[:, None]
    y = x @ [0.5, -0.2] + rng.normal(size=n) + 0.1 * unit + 0.2 * time
    dummies = np.column_stack([(unit == u).astype(float) for u in range(units)]
                              + [(time == t).astype(float) for t in range(1, periods)])
    return dict(y=y, x=x, unit=unit, time=time, cl=cl, dummies=dummies, w=rng.uniform(0.5, 2, n))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("impose_null", [True, False])
@pytest.mark.parametrize("fe", ["unit+time", "unit", "none"])
def test_fast_equals_brute_force(fe_data, weighted, impose_null, fe):
    """Fast algorithm = refitting OLS (with dummies) for each weight vector, to 1e-10.

    unit FE are nested in the clusters; time FE are not (the E correction matters)."""
    d = fe_data
    w = d["w"] if weighted else None
    rvec, r = np.array([1.0, 0.5]), 0.3
    if fe == "none":
        x = np.column_stack([np.ones(d["y"].size), d["x"]])
        tb, t = _brute(d["y"], x, None, d["cl"], np.r_[0.0, rvec], r, impose_null, w)
        s = np.ones(x.shape[0]) if w is None else np.sqrt(w)
        b = np.linalg.lstsq(x * s[:, None], d["y"] * s, rcond=None)[0]
        fit, coef, restriction = VcovData(x, d["y"] - x @ b, w), b, np.r_[0.0, rvec]
    else:
        sets = [d["unit"], d["time"]] if fe == "unit+time" else [d["unit"]]
        dummies = d["dummies"] if fe == "unit+time" else d["dummies"][:, :18]
        tb, t = _brute(d["y"], d["x"], dummies, d["cl"], rvec, r, impose_null, w)
        ab = demean(np.column_stack([d["y"], d["x"]]), sets, w, tol=1e-14)
        yd, xd = ab.values[:, 0], ab.values[:, 1:]
        s = np.ones(yd.size) if w is None else np.sqrt(w)
        coef = np.linalg.lstsq(xd * s[:, None], yd * s, rcond=None)[0]
        fit, restriction = VcovData(xd, yd - xd @ coef, w, None, tuple(sets)), rvec
    res = wild_test(fit, coef, d["cl"], restriction, null=r, impose_null=impose_null, ssc=1.0)
    assert res.enumerated and res.reps == 64
    np.testing.assert_allclose(res.t_boot, tb, rtol=0, atol=1e-10)
    assert abs(res.statistic - t) < 1e-10
    brute_p = np.mean(np.abs(tb) >= abs(t) - 1e-10 * max(1, abs(t)))
    assert res.p_value == brute_p


def test_ci_inverts_the_test():
    """p(conf bound) sits on alpha: just inside p > alpha, just outside p <= alpha."""
    x, y, cl = _wbt_data("B_G9")
    fit, b = _ols(x, y)
    for impose in (True, False):
        t = wild_test(fit, b, cl, [0, 1, 0], reps=999, weights="webb", seed=4, impose_null=impose)
        eps = 1e-6 * (t.conf_high - t.conf_low)
        inside = wild_test(fit, b, cl, [0, 1, 0], reps=999, weights="webb", seed=4,
                           impose_null=impose, null=t.conf_low + eps)
        outside = wild_test(fit, b, cl, [0, 1, 0], reps=999, weights="webb", seed=4,
                            impose_null=impose, null=t.conf_low - eps)
        assert inside.p_value > 0.05 >= outside.p_value
        if not impose:  # WCU: closed form from the quantile of |t*|
            q = np.quantile(np.abs(t.t_boot), 0.95, method="higher")
            se = (t.estimate - t.null) / t.statistic
            assert abs(t.conf_high - (t.estimate + q * se)) < 1e-6 * se


def test_seed_reproducible_and_no_global_state():
    x, y, cl = _wbt_data("B_G9")
    fit, b = _ols(x, y)
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - checks the global state is untouched
    one = wild_test(fit, b, cl, [0, 1, 0], reps=2000, weights="mammen", seed=11)
    two = wild_test(fit, b, cl, [0, 1, 0], reps=2000, weights="mammen", seed=11)
    three = wild_test(fit, b, cl, [0, 1, 0], reps=2000, weights="mammen", seed=12)
    assert np.array_equal(one.t_boot, two.t_boot) and one.p_value == two.p_value
    assert not np.array_equal(one.t_boot, three.t_boot)
    gen = np.random.default_rng(11)
    assert np.array_equal(wild_test(fit, b, cl, [0, 1, 0], reps=2000, weights="mammen", seed=gen).t_boot,
                          one.t_boot)
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


@pytest.mark.parametrize("kind", ["rademacher", "webb", "mammen"])
def test_weight_moments(kind):
    v = wild_weights(kind, (200_000, 1), seed=0)
    assert abs(v.mean()) < 0.01 and abs(v.var() - 1) < 0.01
    if kind == "mammen":
        assert abs((v ** 3).mean() - 1) < 0.03


@pytest.fixture(scope="module")
def mpdta_twfe():
    panel = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year", cohort="first.treat")
    return ci.twfe(panel, "lemp")


def test_regression_result_interface(mpdta_twfe):
    wb = mpdta_twfe.wild_bootstrap(reps=999, seed=1)
    tab = wb.tidy()
    assert list(tab.columns[:7]) == ["term", "estimate", "std_error", "statistic", "p_value",
                                     "conf_low", "conf_high"]
    row, cr1 = tab.iloc[0], mpdta_twfe.tidy().iloc[0]
    assert row["estimate"] == cr1["estimate"]
    assert abs(row["statistic"] - cr1["statistic"]) < 1e-8  # same CR1 scale
    assert row["conf_low"] < row["estimate"] < row["conf_high"] and row["p_value"] < 0.05
    assert row["reps"] == 999 and row["weights"] == "rademacher" and row["bootstrap"] == "WCR"
    assert wb.info["n_clusters"] == 500
    assert isinstance(wb, Result) and "wild" in wb.summary()
    with pytest.raises(ci.SpecificationError, match="Did you mean"):
        mpdta_twfe.wild_bootstrap(reps=9, term="treatd")
    with pytest.raises(ci.SpecificationError, match="weights"):
        mpdta_twfe.wild_bootstrap(reps=9, weights="normal")


def test_linear_combination_and_terms():
    rng = np.random.default_rng(3)
    n, g = 300, 15
    cl = rng.integers(0, g, n)
    x = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    y = x @ [1.0, 0.4, 0.4] + rng.normal(size=n) + rng.normal(size=g)[cl]
    fit, b = _ols(x, y)
    from clusterimpact.results.regression import RegressionResult

    res = RegressionResult.from_fit(pd.DataFrame({"term": ["c", "a", "b"]}), b, fit, cl, "CR1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        comb = res.wild_bootstrap(reps=499, seed=2, term={"a": 1, "b": -1}, weights="webb")
        direct = wild_test(fit, b, cl, [0, 1, -1], reps=499, seed=2, weights="webb")
        both = res.wild_bootstrap(reps=499, seed=2, term=["a", "b"], weights="webb")
    assert comb.tidy()["p_value"][0] == direct.p_value
    assert both.tidy()["term"].tolist() == ["a", "b"]


def test_score_bootstrap_is_wild_bootstrap_of_the_mean():
    rng = np.random.default_rng(7)
    n, g = 240, 12
    cl = np.repeat(np.arange(g), n // g)
    psi = rng.normal(size=(n, 2)) + rng.normal(size=(g, 2))[cl]
    psi -= psi.mean(0)
    est = np.array([0.3, -0.1])
    res = Result(pd.DataFrame({"term": ["a", "b"]}), est, np.cov(psi.T) / n, influence=psi, cluster=cl)
    out = res.wild_bootstrap(reps=999, weights="webb", seed=5)
    # the same test as a regression of phi = estimate + psi on a constant
    phi = est[1] + psi[:, 1]
    fit, b = _ols(np.ones((n, 1)), phi)
    ref = wild_test(fit, b, cl, [1.0], reps=999, weights="webb", seed=5, ssc=g / (g - 1))
    row = out.tidy().iloc[1]
    assert abs(row["p_value"] - ref.p_value) < 1e-12
    assert abs(row["conf_low"] - ref.conf_low) < 1e-10 and abs(row["statistic"] - ref.statistic) < 1e-10
    with pytest.raises(ci.SpecificationError, match="influence"):
        score_wild_bootstrap(Result(pd.DataFrame({"term": ["x"]}), np.ones(1), np.eye(1)))


def test_few_cluster_warnings():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"u": np.repeat(np.arange(40), 5), "t": np.tile(np.arange(5), 40)})
    df["c"] = df["u"] // 5
    df["g"] = np.where(df["c"] < 2, 3, 0)
    df["y"] = rng.normal(size=len(df))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ci.twfe(ci.Panel(df, unit="u", time="t", cohort="g", cluster="c"), "y")
    with pytest.warns(ci.FewClustersWarning, match="MacKinnon & Webb"):
        wb = res.wild_bootstrap(reps=999)
    assert wb.tidy()["reps"][0] == 256  # 2^8 <= 999: enumerated
    assert any("enumerated" in note for note in wb.info["notes"])


def test_enumerated_wcr_ties_and_half_treated_warnings():
    """Under WCR the sign vectors +-(1,...,1) rebuild the sample, so |t*| = |t| twice: the
    symmetric p-value counts them (p >= 2/2^G; wildboottest's strict '>' may not, by rounding).
    Half-treated designs get the coarse-grid warning but not the few-treated one."""
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"u": np.repeat(np.arange(48), 5), "t": np.tile(np.arange(5), 48)})
    df["c"] = df["u"] // 6
    df["g"] = np.where(df["c"] < 4, 3, 0)
    df["y"] = rng.normal(size=len(df)) + rng.normal(size=8)[df["c"]] + 3.0 * (
        (df["g"] > 0) & (df["t"] >= df["g"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ci.twfe(ci.Panel(df, unit="u", time="t", cohort="g", cluster="c"), "y")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wb = res.wild_bootstrap(reps=999)
    messages = [str(w.message) for w in caught if issubclass(w.category, ci.FewClustersWarning)]
    assert any("multiple of 1/256" in m for m in messages)
    assert not any("MacKinnon & Webb" in m for m in messages)
    test = wb.info["wild_tests"][0]
    assert test.enumerated and test.reps == 256
    ties = np.isclose(np.abs(test.t_boot), abs(test.statistic), rtol=1e-10, atol=0)
    assert ties.sum() >= 2
    assert test.p_value == np.mean(np.abs(test.t_boot) >= abs(test.statistic) * (1 - 1e-10))
    assert test.p_value >= 2 / 256 and (test.p_value * 256) % 2 == 0
