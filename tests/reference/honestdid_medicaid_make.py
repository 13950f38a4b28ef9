"""Rebuild the Medicaid-expansion event study of the HonestDiD README (betahat, sigma).

Run once by hand: ``python tests/reference/honestdid_medicaid_make.py PATH/ehec_data.csv``
(``ehec_data.csv`` from Mixtape-Sessions/Advanced-DID, Exercises/Data). It fits the
README's ``feols(dins ~ i(year, D, ref = 2013) | stfips + year, cluster = "stfips")``
by least squares with state and year dummies and fixest's default small-sample
correction for clustered errors, ``G/(G-1) * (n-1)/(n-K)`` with ``K`` the event-time
coefficients plus the year effects (state effects are nested in the clusters), and
prints the coefficients and covariance stored in ``honestdid_medicaid.json``.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd


def event_study(path: str) -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(path)
    d = df[(df.year < 2016) & (df.yexp2.isna() | (df.yexp2 != 2015))].reset_index(drop=True)
    treated = (d.yexp2 == 2014).to_numpy(float)
    years = [y for y in sorted(d.year.unique()) if y != 2013]
    ev = np.column_stack([(d.year == y).to_numpy(float) * treated for y in years])
    states = pd.get_dummies(d.stfips).to_numpy(float)
    yfe = pd.get_dummies(d.year).to_numpy(float)[:, 1:]
    x = np.column_stack([ev, states, yfe])
    y = d.dins.to_numpy(float)
    xtx_inv = np.linalg.pinv(x.T @ x)
    b = xtx_inv @ x.T @ y
    u = y - x @ b
    codes = pd.factorize(d.stfips)[0]
    scores = np.zeros((codes.max() + 1, x.shape[1]))
    np.add.at(scores, codes, x * u[:, None])
    n, g, k = len(y), codes.max() + 1, ev.shape[1] + yfe.shape[1]
    vcov = xtx_inv @ scores.T @ scores @ xtx_inv * g / (g - 1) * (n - 1) / (n - k)
    p = ev.shape[1]
    return b[:p], vcov[:p, :p]


if __name__ == "__main__":
    beta, sigma = event_study(sys.argv[1])
    print(json.dumps({"betahat": beta.tolist(), "sigma": sigma.tolist()}, indent=1))
