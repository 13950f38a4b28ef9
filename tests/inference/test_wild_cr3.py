"""Wild cluster bootstrap studentised with CR3 (the cluster jackknife): brute force and identities.

The brute force refits the whole model, every fixed-effect dummy included, on each of the
2^G sign-vector samples and, for each, once without each cluster (G + 1 least-squares fits per
draw), so it checks the fixed-effect algebra of the leave-one-cluster-out pieces too.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import clusterimpact as ci
from clusterimpact.inference.vcov import VcovData
from clusterimpact.inference.wild import _enumerate, wild_test
from clusterimpact.kernels.demean import demean

REF = Path(__file__).parents[1] / "reference"


def _wls(z, y, s):
    return np.linalg.pinv(z * s[:, None]) @ (y * s)


def _cr3_t(z, yy, s, codes, g, rz, center):
    """t statistic with the jackknife variance sum_g (R'b_(g) - R'b)^2, refitting without g."""
    b = _wls(z, yy, s)
    loo = []
    for h in range(g):
        keep = codes != h
        zk = z[keep]
        used = np.abs(zk).sum(axis=0) > 0          # dummies of the dropped cluster's units vanish
        bk = np.zeros(z.shape[1])
        bk[used] = _wls(zk[:, used], yy[keep], s[keep])
        loo.append(rz @ bk)
    d = np.array(loo) - rz @ b
    return (rz @ b - center) / np.sqrt(d @ d)


def _brute_cr3(y, x, dummies, cl, rvec, r, impose_null, w):
    n, k = x.shape
    s = np.ones(n) if w is None else np.sqrt(w)
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
    tb = np.array([_cr3_t(z, fitted + u * v[codes], s, codes, g, rz, center) for v in _enumerate(g).T])
    return tb, _cr3_t(z, y, s, codes, g, rz, r)


@pytest.fixture(scope="module")
def fe_data():
    """6 clusters of 1 to 5 units (unequal), unbalanced panel, two regressors."""
    rng = np.random.default_rng(7)
    sizes = np.array([1, 5, 2, 4, 3, 5])
    unit_cl = np.repeat(np.arange(6), sizes)
    units, periods = unit_cl.size, 4
    unit = np.repeat(np.arange(units), periods)
    time = np.tile(np.arange(periods), units)
    keep = rng.random(unit.size) > 0.15
    keep[::periods] = True                      # every unit keeps one period at least
    unit, time = unit[keep], time[keep]
    cl = unit_cl[unit]
    n = unit.size
    x = rng.normal(size=(n, 2)) + 0.3 * cl[:, None]
    y = x @ [0.5, -0.2] + rng.normal(size=n) + 0.1 * unit + 0.2 * time + rng.normal(size=6)[cl]
    dummies = np.column_stack([(unit == u).astype(float) for u in range(units)]
                              + [(time == t).astype(float) for t in range(1, periods)])
    return dict(y=y, x=x, unit=unit, time=time, cl=cl, dummies=dummies, units=units,
                w=rng.uniform(0.5, 2, n))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("impose_null", [True, False])
@pytest.mark.parametrize("fe", ["unit+time", "cluster+unit+time", "time", "unit", "none"])
def test_cr3_equals_brute_force_refits(fe_data, weighted, impose_null, fe):
    """All 64 bootstrap t* and the statistic equal 7 refits per draw (with dummies) to 1e-10.

    Unit FE are nested in the clusters; time FE are not, so leaving a cluster out changes
    the period effects the other clusters are demeaned by (two nested sets take the
    alternating-projection route)."""
    d = fe_data
    w = d["w"] if weighted else None
    rvec, r = np.array([1.0, 0.5]), 0.3
    unit_d, time_d = d["dummies"][:, :d["units"]], d["dummies"][:, d["units"]:]
    if fe == "none":
        x = np.column_stack([np.ones(d["y"].size), d["x"]])
        tb, t = _brute_cr3(d["y"], x, None, d["cl"], np.r_[0.0, rvec], r, impose_null, w)
        s = np.ones(x.shape[0]) if w is None else np.sqrt(w)
        b = np.linalg.lstsq(x * s[:, None], d["y"] * s, rcond=None)[0]
        fit, coef, restriction = VcovData(x, d["y"] - x @ b, w), b, np.r_[0.0, rvec]
    else:
        sets = {"unit+time": [d["unit"], d["time"]], "unit": [d["unit"]], "time": [d["time"]],
                "cluster+unit+time": [d["cl"], d["unit"], d["time"]]}[fe]
        cl_d = np.column_stack([(d["cl"] == c).astype(float) for c in range(6)])
        dummies = {"unit+time": d["dummies"], "unit": unit_d,
                   "cluster+unit+time": np.column_stack([cl_d, d["dummies"]]),
                   "time": np.column_stack([np.ones(d["y"].size), time_d])}[fe]
        tb, t = _brute_cr3(d["y"], d["x"], dummies, d["cl"], rvec, r, impose_null, w)
        ab = demean(np.column_stack([d["y"], d["x"]]), sets, w, tol=1e-14)
        yd, xd = ab.values[:, 0], ab.values[:, 1:]
        s = np.ones(yd.size) if w is None else np.sqrt(w)
        coef = np.linalg.lstsq(xd * s[:, None], yd * s, rcond=None)[0]
        fit, restriction = VcovData(xd, yd - xd @ coef, w, None, tuple(sets)), rvec
    res = wild_test(fit, coef, d["cl"], restriction, null=r, impose_null=impose_null, vcov="CR3")
    assert res.enumerated and res.reps == 64 and res.vcov == "CR3"
    np.testing.assert_allclose(res.t_boot, tb, rtol=0, atol=1e-10)
    assert abs(res.statistic - t) < 1e-10
    assert res.p_value == np.mean(np.abs(tb) >= abs(t) - 1e-10 * max(1, abs(t)))


def test_cr3_differs_from_cr1(fe_data):
    """The studentisation matters: same draws, other t* (a test of the option being used)."""
    d = fe_data
    ab = demean(np.column_stack([d["y"], d["x"]]), [d["unit"], d["time"]], None, tol=1e-14)
    yd, xd = ab.values[:, 0], ab.values[:, 1:]
    coef = np.linalg.lstsq(xd, yd, rcond=None)[0]
    fit = VcovData(xd, yd - xd @ coef, None, None, (d["unit"], d["time"]))
    one = wild_test(fit, coef, d["cl"], [1.0, 0.0], ssc=1.0)
    three = wild_test(fit, coef, d["cl"], [1.0, 0.0], vcov="CR3")
    assert np.max(np.abs(one.t_boot - three.t_boot)) > 1e-3


@pytest.mark.parametrize("case", [0, 1], ids=["WCR13", "WCU13"])
def test_wildboottest_cr3_bootstrap(case):
    """wildboottest 0.3.2 bootstrap_type='13' (CRV3-studentised; all 512 sign vectors): t* and t
    to 1e-10 after its (G-1)/G factor; the p-value differs only by the tie convention (WCR:
    the sign vectors +-(1..1) reproduce |t|, counted here, not by wildboottest's strict >)."""
    from test_wild import _ols, _wbt_data

    ref = json.loads((REF / "wild_wildboottest_cr3_py.json").read_text())["results"][case]
    x, y, cl = _wbt_data(ref["data"])
    fit, b = _ols(x, y)
    t = wild_test(fit, b, cl, [0, 1, 0], reps=99999, impose_null=ref["impose_null"], vcov="CR3")
    factor = np.sqrt(9 / 8)                     # wildboottest's CRV3 carries (G-1)/G, G = 9
    assert t.reps == ref["B"] == 512
    assert abs(t.statistic * factor / ref["t_stat"] - 1) < 1e-10
    np.testing.assert_allclose(np.sort(t.t_boot) * factor, ref["t_boot_sorted"], rtol=0, atol=1e-10)
    ties = np.sum(np.abs(np.abs(t.t_boot) - abs(t.statistic)) <= 1e-10 * abs(t.statistic))
    assert ties == (2 if ref["impose_null"] else 0)
    assert t.p_value == pytest.approx(ref["p_value"] + ties / 512, abs=1e-15)


@pytest.fixture(scope="module")
def castle():
    return ci.Panel(ci.datasets.load("castle"), unit="sid", time="year", treatment="post")


@pytest.mark.parametrize("weights", [None, "popwt"])
def test_statistic_is_the_cr3_t_and_interval_inverts(castle, weights):
    """The reported statistic and std_error are res.with_vcov('CR3')'s (refit without each
    cluster, every fixed effect included), and p(conf bound) sits on alpha."""
    panel = ci.Panel(ci.datasets.load("castle"), unit="sid", time="year", treatment="post",
                     weights=weights)
    res = ci.twfe(panel, "l_homicide", covariates=["l_police", "unemployrt"])
    cr3 = res.with_vcov("CR3").tidy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = res.wild_bootstrap(reps=999, seed=2, vcov="CR3").tidy()
    np.testing.assert_allclose(wb["statistic"], cr3["statistic"], rtol=1e-9)
    np.testing.assert_allclose(wb["std_error"], cr3["std_error"], rtol=1e-9)
    assert wb["bootstrap"][0] == "WCR (CR3)"
    for i, term in enumerate(wb["term"]):
        lo = wb["conf_low"][i]
        eps = 1e-6 * (wb["conf_high"][i] - lo)
        p_in, p_out = (res.wild_bootstrap(reps=999, seed=2, vcov="CR3", term=term, null=lo + sgn * eps)
                       .tidy()["p_value"][0] for sgn in (1, -1))
        assert p_in > 0.05 >= p_out


def test_unknown_vcov_names_the_choices(castle):
    res = ci.twfe(castle, "l_homicide")
    with pytest.raises(ci.errors.SpecificationError, match=r"'CR1', 'CR3'.*Did you mean 'CR3'"):
        res.wild_bootstrap(reps=99, vcov="CV3")
