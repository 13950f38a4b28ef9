"""Multiplicity adjustments: statsmodels equality, hand examples, brute force and FWER control."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import fdrcorrection_twostage, multipletests

import clusterimpact as ci
from clusterimpact.inference.multiplicity import adjust, bootstrap_t_stats, sharpened_qvalues
from clusterimpact.results import Result

P = np.array([0.0004, 0.012, 0.013, 0.04, 0.049, 0.2, 0.31, 0.74, 0.0004, 0.9])


@pytest.mark.parametrize(("ours", "theirs"), [("holm", "holm"), ("bh", "fdr_bh"),
                                              ("bonferroni", "bonferroni")])
def test_equal_to_statsmodels_exactly(ours, theirs):
    rng = np.random.default_rng(3)
    for p in (P, rng.uniform(size=37) ** 3):
        expected = multipletests(p, method=theirs)[1]
        got = adjust(p, method=ours)["p_value_adjusted"].to_numpy()
        assert np.array_equal(got, expected)


def test_sharpened_qvalues_hand_example():
    # q = 0.005: q' = 0.004975; stage 1 rejects p = 0.001 (<= q'/4), r1 = 1; stage 2 at
    # q' * 4/3 rejects it again; at q = 0.004 stage 1 rejects nothing and stage 2 (= BH at q')
    # neither. p = 0.5 is rejected from q = 0.143 (q' = 0.1251, r1 = 3, stage 2 level 0.5004).
    assert sharpened_qvalues([0.001, 0.01, 0.03, 0.5]).tolist() == [0.005, 0.016, 0.021, 0.143]


def test_sharpened_agrees_with_statsmodels_two_stage_bky():
    rng = np.random.default_rng(7)
    p = np.r_[rng.uniform(0, 0.02, 8), rng.uniform(size=12)]
    q = sharpened_qvalues(p)
    for level in (0.01, 0.05, 0.1, 0.2):
        assert np.array_equal(q <= level, fdrcorrection_twostage(p, alpha=level, method="bky")[0])


def _naive_romano_wolf(t, boot):
    k = t.size
    order = np.argsort(-np.abs(t))
    out = np.zeros(k)
    running = 0.0
    for j in range(k):
        rest = order[j:]
        mx = np.abs(boot[:, rest]).max(axis=1)
        pj = (1 + np.sum(mx >= abs(t[order[j]]))) / (boot.shape[0] + 1)
        running = max(running, pj)
        out[order[j]] = running
    return out


def _naive_westfall_young(t, boot):
    b = boot.shape[0]
    p = np.array([(1 + np.sum(np.abs(boot[:, j]) >= abs(t[j]))) / (b + 1) for j in range(t.size)])
    pb = np.array([[(1 + np.sum(np.abs(boot[:, j]) >= abs(boot[i, j]))) / (b + 1)
                    for j in range(t.size)] for i in range(b)])
    order = np.argsort(p, kind="stable")
    out, running = np.zeros(t.size), 0.0
    for j in range(t.size):
        q = pb[:, order[j:]].min(axis=1)
        running = max(running, np.mean(q <= p[order[j]]))
        out[order[j]] = min(running, 1.0)
    return out


def test_romano_wolf_and_westfall_young_match_brute_force():
    rng = np.random.default_rng(11)
    cov = 0.5 + 0.5 * np.eye(5)
    boot = rng.multivariate_normal(np.zeros(5), cov, size=499)
    t = np.array([3.1, -2.2, 0.4, 1.9, -0.1])
    tab = pd.DataFrame({"hypothesis": list("abcde"), "statistic": t, "p_value": 0.5})
    rw = adjust(tab, method="romano_wolf", boot_stats=boot)["p_value_adjusted"].to_numpy()
    wy = adjust(tab, method="westfall_young", boot_stats=boot)["p_value_adjusted"].to_numpy()
    np.testing.assert_allclose(rw, _naive_romano_wolf(t, boot), rtol=0, atol=1e-15)
    np.testing.assert_allclose(wy, _naive_westfall_young(t, boot), rtol=0, atol=1e-15)
    # step-down FWER methods are no more conservative than single-step Bonferroni on |t|
    assert rw[0] <= 5 * (1 + np.sum(np.abs(boot[:, 0]) >= 3.1)) / 500 + 1e-12


def _family(rng, n_clusters=60, k=4, effect=None):
    """k outcomes on one panel of n_clusters x 3 rows; influence functions of the means."""
    n = n_clusters * 3
    cl = np.repeat(np.arange(n_clusters), 3)
    common = rng.normal(size=(n_clusters, 1))[cl]
    y = 0.7 * common + rng.normal(size=(n, k))
    if effect is not None:
        y = y + effect
    est = y.mean(axis=0)
    infl = y - est
    sums = np.zeros((n_clusters, k))
    np.add.at(sums, cl, infl / n)
    vcov = sums.T @ sums
    return Result(pd.DataFrame({"term": [f"y{j}" for j in range(k)]}), est, vcov,
                  influence=infl, cluster=cl)


def test_joint_bootstrap_from_influence_functions():
    rng = np.random.default_rng(2)
    res = _family(rng)
    t = bootstrap_t_stats(res, reps=2000, seed=1)
    assert np.allclose(t.std(axis=0), 1, atol=0.06)
    corr = np.corrcoef(t, rowvar=False)
    assert corr[0, 1] > 0.15  # the common cluster shock is kept across outcomes
    out = adjust(res, method="romano_wolf", reps=199, seed=4)
    assert list(out.columns) == ["hypothesis", "estimate", "statistic", "p_value",
                                 "p_value_adjusted", "reject", "method"]
    assert np.all(out["p_value_adjusted"] >= out["p_value"] - 0.02)


def test_list_and_dict_inputs_label_hypotheses():
    a = Result(pd.DataFrame({"term": ["att"]}), np.array([1.0]), np.array([[0.25]]),
               info={"outcome": "wage"})
    b = Result(pd.DataFrame({"term": ["att"]}), np.array([0.1]), np.array([[0.25]]))
    assert adjust([a, b])["hypothesis"].tolist() == ["wage", "result 1"]
    assert adjust({"wage": a, "hours": b}, method="bh")["hypothesis"].tolist() == ["wage", "hours"]


def test_errors():
    with pytest.raises(ci.SpecificationError, match="method"):
        adjust([0.1], method="nope")
    with pytest.raises(ci.SpecificationError, match="statistic"):
        adjust([0.1, 0.2], method="romano_wolf")
    with pytest.raises(ci.SpecificationError, match="p-values"):
        adjust([0.1, 1.2])


def _fwer(method, sims, reps):
    rng = np.random.default_rng(123)
    hits = 0
    for s in range(sims):
        res = _family(rng, n_clusters=80, k=5)
        out = adjust(res, method=method, reps=reps, seed=s)
        hits += bool(out["reject"].any())
    return hits / sims


@pytest.mark.parametrize("method", ["romano_wolf", "westfall_young"])
def test_fwer_control_quick(method):
    # 150 families of 5 correlated null outcomes: FWER at 5% (binomial sd 1.8 points)
    assert _fwer(method, 150, 199) <= 0.10


@pytest.mark.slow
@pytest.mark.parametrize("method", ["romano_wolf", "westfall_young", "holm"])
def test_fwer_control_slow(method):
    assert 0.02 <= _fwer(method, 1000, 499) <= 0.075
