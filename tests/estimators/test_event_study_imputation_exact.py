"""The imputation first stage equals dense least squares with unit and period dummies."""

from __future__ import annotations

import numpy as np
import pandas as pd

import clusterimpact as ci


def test_imputation_equals_dense_first_stage_on_mpdta():
    d = ci.datasets.load("mpdta")
    g, t, y = d["first.treat"].to_numpy(), d["year"].to_numpy(), d["lemp"].to_numpy()
    treated = (g > 0) & (t >= g)
    dummies = np.column_stack([
        pd.get_dummies(d["countyreal"].astype(str)).to_numpy(float),
        pd.get_dummies(d["year"].astype(str), drop_first=True).to_numpy(float)])
    coef = np.linalg.lstsq(dummies[~treated], y[~treated], rcond=None)[0]
    tau = y[treated] - dummies[treated] @ coef
    event = (t - g)[treated]
    panel = ci.Panel(d, unit="countyreal", time="year", cohort="first.treat")
    res = ci.event_study(panel, "lemp", method="imputation")
    np.testing.assert_allclose(res.aggregate("simple").tidy()["estimate"][0], tau.mean(), rtol=1e-8)
    tidy = res.tidy().set_index("event_time")
    for e in np.unique(event):
        np.testing.assert_allclose(tidy.loc[e, "estimate"], tau[event == e].mean(), rtol=1e-8)
