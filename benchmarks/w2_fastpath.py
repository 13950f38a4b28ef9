"""Min-of-N W2 timing (Panel + att_gt + aggregate('simple')) and peak RSS, with the numpy floor."""
import sys, time, resource, gc, numpy as np, pandas as pd
import clusterimpact as ci
path, cl, reps = sys.argv[1], (None if sys.argv[2] == "none" else sys.argv[2]), int(sys.argv[3])
df = pd.read_parquet(path)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
T = df["period"].nunique()
coh = df["first_treat"].to_numpy(); per = df["period"].to_numpy(); y = df["y"].to_numpy()
cc = np.searchsorted(np.unique(coh), coh); pc = per - per.min()
def w2():
    p = ci.Panel(df, unit="unit", time="period", cohort="first_treat", cluster=cl)
    return ci.att_gt(p, "y", control="never_treated").aggregate("simple")
w2()
tf = tp = tw = np.inf
for _ in range(reps):
    t0 = time.perf_counter(); np.bincount(cc * T + pc, weights=y); tf = min(tf, time.perf_counter() - t0)
    t0 = time.perf_counter(); p = ci.Panel(df, unit="unit", time="period", cohort="first_treat", cluster=cl); tp = min(tp, time.perf_counter() - t0)
    t0 = time.perf_counter(); a = w2(); tw = min(tw, time.perf_counter() - t0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
frame = df.memory_usage(deep=True).sum() / 2**20
print(f"{ci.__file__.split('/src/')[0]} cluster={cl}: floor {tf*1e3:.1f} ms | Panel {tp*1e3:.1f} ms | W2 {tw*1e3:.1f} ms (x floor {tw/tf:.1f}) | peak RSS {peak:.0f} MB, after load {base:.0f} MB, frame {frame:.0f} MB | est {a.estimate[0]:.12f} se {a.std_error[0]:.12f}")
