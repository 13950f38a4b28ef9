"""Min-of-N W2 timing (Panel + att_gt + aggregate('simple')) and peak RSS, with the numpy floor.

Usage: ``python3 benchmarks/w2_fastpath.py DATA.parquet CLUSTER|none REPS``. Reports wall-clock
minima and CPU-time (``time.process_time``) minima: on a shared, loaded machine the CPU ratio
to the floor is the steadier one.
"""

import resource
import sys
import time

import numpy as np
import pandas as pd

import clusterimpact as ci

path, cl, reps = sys.argv[1], (None if sys.argv[2] == "none" else sys.argv[2]), int(sys.argv[3])
df = pd.read_parquet(path)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
T = df["period"].nunique()
coh = df["first_treat"].to_numpy()
per = df["period"].to_numpy()
y = df["y"].to_numpy()
cc = np.searchsorted(np.unique(coh), coh)
pc = per - per.min()


def panel():
    return ci.Panel(df, unit="unit", time="period", cohort="first_treat", cluster=cl)


def w2():
    return ci.att_gt(panel(), "y", control="never_treated").aggregate("simple")


def timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


w2()
tf = tp = tw = cf = cw = np.inf  # wall-clock and CPU minima
for _ in range(reps):
    _, wall, cpu = timed(lambda: np.bincount(cc * T + pc, weights=y))
    tf, cf = min(tf, wall), min(cf, cpu)
    _, wall, _ = timed(panel)
    tp = min(tp, wall)
    a, wall, cpu = timed(w2)
    tw, cw = min(tw, wall), min(cw, cpu)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
frame = df.memory_usage(deep=True).sum() / 2**20
print(f"{ci.__file__.split('/src/')[0]} cluster={cl}: floor {tf*1e3:.1f} ms | Panel {tp*1e3:.1f} ms"
      f" | W2 {tw*1e3:.1f} ms (x floor {tw/tf:.1f}) | CPU: floor {cf*1e3:.1f} ms, W2 {cw*1e3:.1f} ms"
      f" (x floor {cw/cf:.1f}) | peak RSS {peak:.0f} MB, after load {base:.0f} MB, frame {frame:.0f} MB"
      f" | est {a.estimate[0]:.12f} se {a.std_error[0]:.12f}")
