"""Sun-Abraham's closed form (cell sums) equals the dummy regression it replaces."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import clusterimpact as ci
import clusterimpact.estimators.event_study._regression as regression


def _fit(panel, monkeypatch, closed_form, **kwargs):
    if not closed_form:
        monkeypatch.setattr(regression, "saturated_cells", lambda *a, **k: None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ci.event_study(panel, "lemp", method="sun_abraham", **kwargs)
    monkeypatch.undo()
    return res


def _mpdta(cluster=False):
    df = ci.datasets.load("mpdta")
    df["state"] = df["countyreal"] // 1000
    df["half"] = df["countyreal"] % 2
    return ci.Panel(df, unit="countyreal", time="year", cohort="first.treat",
                    cluster="state" if cluster else None)


@pytest.mark.parametrize(("cluster", "by"), [(False, None), (True, None), (True, "half")])
def test_closed_form_equals_regression(monkeypatch, cluster, by):
    panel = _mpdta(cluster)
    calls = []
    original = regression.saturated_cells

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(regression, "saturated_cells", spy)
    fast = _fit(panel, monkeypatch, True, by=by)
    assert calls and all(calls)
    slow = _fit(panel, monkeypatch, False, by=by)
    a, b = fast.tidy(), slow.tidy()
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(a["std_error"], b["std_error"], rtol=1e-6)
    np.testing.assert_allclose(a["df"], b["df"])
    np.testing.assert_allclose(fast.vcov, slow.vcov, rtol=1e-6, atol=1e-14)
    np.testing.assert_allclose(fast.cohort_effects[["estimate", "std_error", "weight", "n_obs"]],
                               slow.cohort_effects[["estimate", "std_error", "weight", "n_obs"]],
                               rtol=1e-6, atol=1e-12)
    sa, sb = fast.aggregate("simple").tidy(), slow.aggregate("simple").tidy()
    np.testing.assert_allclose(sa["std_error"], sb["std_error"], rtol=1e-6)


def test_closed_form_not_used_when_bins_pool_or_unbalanced(monkeypatch):
    panel = _mpdta()
    calls = []
    original = regression.saturated_cells

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(regression, "saturated_cells", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ci.event_study(panel, "lemp", method="sun_abraham", leads=2, lags=2)
        ci.event_study(panel, "lemp", method="sun_abraham", vcov="CR2")
        df = ci.datasets.load("mpdta").iloc[3:]
        ci.event_study(ci.Panel(df, unit="countyreal", time="year", cohort="first.treat"), "lemp",
                       method="sun_abraham")
    assert calls == [False, False]  # CR2 never tries the closed form (CR1 only)
