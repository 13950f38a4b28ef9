"""Generate ``survey_panel.csv``: a two-period worker panel from a stratified two-stage sample.

Seven strata (the last holds a single PSU, for the lonely-PSU options), PSU
(factory) ids numbered within stratum (so the design needs ``nest=True``),
programme assigned to whole PSUs, unequal sampling weights. The data are
synthetic (numpy seed 20240611); ``survey_r.R`` computes the reference numbers
with R ``survey`` and writes ``survey_r.json``.

Run from the repository root: ``python tests/reference/survey_panel_make.py``.
"""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20240611)
sampled = [4, 5, 3, 6, 2, 4, 1]          # PSUs sampled per stratum
population = [10, 12, 7, 20, 2, 9, 5]    # PSUs in the population (stratum 5 fully sampled)
rows = []
worker = 0
for h, (n_h, big_n) in enumerate(zip(sampled, population, strict=True), start=1):
    for j in range(1, n_h + 1):
        treated = (j + h) % 2 == 0
        size = int(rng.integers(20, 80))       # workers in the factory
        m = int(rng.integers(3, 8))            # workers interviewed
        w = big_n / n_h * size / m
        u = rng.normal(0, 1.0)
        for _ in range(m):
            worker += 1
            a = rng.normal(0, 1.0)
            for t in (1, 2):
                y = 10 + h * 0.3 + u + a + 0.5 * (t == 2) + 1.0 * treated * (t == 2) \
                    + 0.4 * u * (t == 2) + rng.normal(0, 0.7)
                rows.append({"worker": worker, "period": t, "stratum": h, "psu": j,
                             "first_treat": 2 if treated else 0, "w": round(w, 6),
                             "N_h": big_n, "f_h": round(n_h / big_n, 12), "y": round(y, 6)})
out = Path(__file__).with_name("survey_panel.csv")
pd.DataFrame(rows).to_csv(out, index=False)
print(f"wrote {out} ({len(rows)} rows)")
