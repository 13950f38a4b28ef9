"""Regenerate mpdta_sunab_diffdiff.json with diff-diff (run in an environment that has it).

    python -c "import clusterimpact as ci; ci.datasets.load('mpdta').to_csv('mpdta.csv', index=False)"
    python tests/reference/mpdta_sunab_diffdiff_make.py mpdta.csv
"""

import json
import sys

import pandas as pd
from diff_diff import SunAbraham, __version__

data = pd.read_csv(sys.argv[1])
fit = SunAbraham(cluster="countyreal").fit(data, outcome="lemp", unit="countyreal", time="year",
                                           first_treat="first.treat")
effects = fit.event_study_effects
keys = sorted(effects)
print(json.dumps({"version": __version__, "event_time": [int(e) for e in keys],
                  "estimate": [float(effects[e]["effect"]) for e in keys],
                  "std_error": [float(effects[e]["se"]) for e in keys]}, indent=1))
