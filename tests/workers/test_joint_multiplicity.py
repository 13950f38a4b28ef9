"""workers.adjust_pvalues delegates to inference.multiplicity (Holm, Bonferroni, BH, Romano-Wolf)."""

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

import clusterimpact as ci


@pytest.fixture(scope="module")
def family():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(30, 6)) @ np.linalg.cholesky(0.5 * np.eye(6) + 0.5).T * 0.05
    estimate = np.array([0.0, 0.05, 0.12, 0.2, -0.3, 0.01])
    return estimate, scores


def _old_romano_wolf(estimate, scores, reps, seed):
    """The step-down of the former private implementation (share of draws, no +1)."""
    se = np.sqrt((scores**2).sum(axis=0))
    t = estimate / se
    v = np.random.default_rng(seed).standard_normal((reps, scores.shape[0]))
    tstar = np.abs(v @ scores) / se
    order = np.argsort(-np.abs(t))
    padj = np.array([np.mean(tstar[:, order[j:]].max(axis=1) >= np.abs(t[k])) for j, k in enumerate(order)])
    out = np.empty(t.size)
    out[order] = np.maximum.accumulate(padj)
    return out


@pytest.mark.parametrize(("ours", "theirs"), [("holm", "holm"), ("bonferroni", "bonferroni"),
                                              ("fdr_bh", "fdr_bh"), ("bh", "fdr_bh")])
def test_closed_form_adjustments_unchanged(family, ours, theirs):
    estimate, scores = family
    p = 2 * stats.norm.sf(np.abs(estimate / np.sqrt((scores**2).sum(axis=0))))
    got = ci.workers.adjust_pvalues(estimate, scores, method=ours)
    np.testing.assert_allclose(got, multipletests(p, method=theirs)[1], rtol=1e-12, atol=1e-15)


def test_romano_wolf_is_the_finite_sample_corrected_old_value(family):
    estimate, scores = family
    reps = 499
    got = ci.workers.adjust_pvalues(estimate, scores, method="romano_wolf", reps=reps, seed=4)
    old = _old_romano_wolf(estimate, scores, reps, 4)
    # same draws and step-down; the multiplicity module counts the observed statistic as one of the
    # draws, (1 + #)/(B + 1), so the adjusted p-values move up by at most 1/(B + 1)
    np.testing.assert_allclose(got, (1 + reps * old) / (reps + 1), rtol=0, atol=1e-12)
    assert np.all(got >= old) and np.max(got - old) <= 1 / (reps + 1) + 1e-12
