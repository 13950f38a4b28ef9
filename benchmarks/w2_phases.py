"""Per-phase minimum CPU times of Panel + att_gt + aggregate('simple') (W2, or W3) at 1e6 rows.

Usage: ``python3 benchmarks/w2_phases.py DATA.parquet [cluster|none] [w2|w3]``
(``REPS=9`` by default). Times are ``time.process_time`` minima: the shared machine is
loaded, and CPU time moves much less than wall-clock time under load.
"""
import collections
import functools
import os
import sys
import time

import numpy as np
import pandas as pd

import clusterimpact as ci
from clusterimpact.design import _codes as C
from clusterimpact.design import panel as P
from clusterimpact.estimators import att_gt as A
from clusterimpact.kernels import cells as K
from clusterimpact.results import group_time as G

clock = time.process_time
path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/bdata/stag_1e6.parquet"
cl = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "none" else None
w3 = len(sys.argv) > 3 and sys.argv[3] == "w3"
kw = {"covariates": ["female", "x0"], "method": "dr"} if w3 else {}
reps = int(os.environ.get("REPS", 9))
df = pd.read_parquet(path)
acc = collections.defaultdict(float)


def wrap(owner, name, label):
    f = getattr(owner, name, None)
    if f is None or isinstance(f, property | functools.cached_property):
        return

    @functools.wraps(f)
    def g(*a, **k):
        t0 = clock()
        try:
            return f(*a, **k)
        finally:
            acc[label] += clock() - t0
    setattr(owner, name, g)


for n in ["_validate_roles", "_encode_time", "_check_duplicates", "_check_constant_within_unit",
          "_encode_weights", "_cohort_from_column", "_check_timing", "_check_comparisons",
          "_encode", "column"]:
    wrap(P.Panel, n, "Panel." + n)
for n in ["sorted_grid", "unit_values"]:
    wrap(C, n, "_codes." + n)
for n in ["_sample", "_panel_path", "build_result", "_plan"]:
    wrap(A, n, "att_gt." + n)
for n in ["panel_cells", "block_layout", "cluster_rows", "kernel_panel_cells"]:
    wrap(K, n, "cells." + n)
for n in ["_vcov_and_se"]:
    wrap(G, n, "group_time." + n)
T = df["period"].nunique()
coh = df["first_treat"].to_numpy()
per = df["period"].to_numpy()
y = df["y"].to_numpy()
cc = np.searchsorted(np.unique(coh), coh)
pc = per - per.min()
best = {}
for _ in range(reps):
    acc.clear()
    t0 = clock()
    np.bincount(cc * T + pc, weights=y)
    acc["floor"] = clock() - t0
    t0 = clock()
    p = ci.Panel(df, unit="unit", time="period", cohort="first_treat", cluster=cl)
    acc["Panel (total)"] = clock() - t0
    t1 = clock()
    r = ci.att_gt(p, "y", control="never_treated", **kw)
    acc["att_gt (total)"] = clock() - t1
    t2 = clock()
    a = r.aggregate("simple")
    acc["aggregate (total)"] = clock() - t2
    acc[("W3" if w3 else "W2") + " (total)"] = clock() - t0
    for k, v in acc.items():
        best[k] = min(best.get(k, np.inf), v)
for k in sorted(best, key=lambda s: (s.split(".")[0].split(" ")[0], s)):
    print(f"{k:40s} {best[k]*1e3:8.2f} ms")
print(f"estimate {a.estimate[0]:.12f} se {a.std_error[0]:.12f}")
