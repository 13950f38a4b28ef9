"""W5, bootstrap only: 9,999 WCR Rademacher draws for the TWFE coefficient, after each fit.

The harness's W5 times Panel + fit + bootstrap in a fresh process; this script times only
the bootstrap, each package's own call after its own fit, in one process (same data, same
B, same clusters, interleaved repeats so the machine's load hits every side alike):

* project       ``res.wild_bootstrap(reps=9999, seed=1)`` on ``ci.twfe`` (p-value and a
                test-inversion confidence interval);
* wildboottest  ``WildboottestCL(...)`` and its ``get_*`` calls (p-value only, no interval),
                on the two-way demeaned ``y`` and ``treat`` (the peers.py W5 route);
* pyfixest-fwl  ``feols("yd ~ td - 1").wildboottest(...)`` on the same demeaned data
                (p-value only); its ``feols`` is not timed.

Each is warmed up once (numba compiles wildboottest's kernel) and timed ``--repeats`` times;
the minimum is reported. ``--clusters 50`` coarsens the 158 clusters of gen.py's data to 50
(``cluster * 50 // 158``, still nesting the units), the issue's configuration.

Usage::

    /tmp/venv-bench/bin/python w5_bootstrap_only.py /tmp/bdata/stag_1e6.parquet --clusters 50
"""
from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd

B = 9999
SEED = 20240601


def _demean_balanced(df: pd.DataFrame, cols: list[str]) -> dict[str, np.ndarray]:
    u = pd.factorize(df["unit"])[0]
    t = pd.factorize(df["period"])[0]
    out = {}
    for c in cols:
        v = df[c].to_numpy(dtype=float)
        out[c] = (v - (np.bincount(u, v) / np.bincount(u))[u] - (np.bincount(t, v) / np.bincount(t))[t]
                  + v.mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--clusters", type=int, default=0, help="coarsen to this many clusters (0: as is)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--peers", default="project,wildboottest,pyfixest-fwl")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    df = pd.read_parquet(args.data)
    if args.clusters:
        g0 = int(df["cluster"].max()) + 1
        df["cluster"] = df["cluster"] * args.clusters // g0
    g = df["cluster"].nunique()
    peers = args.peers.split(",")
    calls = {}
    out = {}
    if "project" in peers:
        import clusterimpact as ci
        panel = ci.Panel(df, unit="unit", time="period", cohort="first_treat", cluster="cluster")
        res = ci.twfe(panel, "y", vcov="CR1")

        def project():
            t = res.wild_bootstrap(reps=B, seed=1).tidy().iloc[0]
            return float(t["p_value"]), float(t["statistic"])
        calls["project"] = project
    dm = _demean_balanced(df, ["y", "treat"])
    if "wildboottest" in peers:
        from wildboottest.wildboottest import WildboottestCL
        x, y, cl = dm["treat"][:, None], dm["y"], df["cluster"].to_numpy()

        def wbt():
            boot = WildboottestCL(X=x, Y=y, cluster=cl, R=np.array([1.0]), B=B, seed=SEED)
            boot.get_scores(bootstrap_type="11", impose_null=True)
            boot.get_weights(weights_type="rademacher")
            boot.get_numer()
            boot.get_denom()
            boot.get_tboot()
            boot.get_vcov()
            boot.get_tstat()
            boot.get_pvalue(pval_type="two-tailed")
            return float(np.ravel(boot.pvalue)[0]), float(np.ravel(boot.t_stat)[0])
        calls["wildboottest"] = wbt
    if "pyfixest-fwl" in peers:
        import pyfixest as pf
        d2 = pd.DataFrame({"yd": dm["y"], "td": dm["treat"], "cluster": df["cluster"].to_numpy()})
        model = pf.feols("yd ~ td - 1", data=d2, vcov={"CRV1": "cluster"})

        def pyfixest():
            b = model.wildboottest(param="td", reps=B, cluster="cluster", seed=SEED)
            return float(b["Pr(>|t|)"]), float(b["t value"])
        calls["pyfixest-fwl"] = pyfixest
    for name, f in calls.items():
        out[name] = {"result": f(), "times": []}           # warm-up (numba compile, caches)
    for _ in range(args.repeats):
        for name, f in calls.items():
            t0 = time.perf_counter()
            f()
            out[name]["times"].append(time.perf_counter() - t0)
    load = os.getloadavg()
    print(f"{args.data}: {len(df):,} rows, {g} clusters, B = {B}; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    base = min(out["project"]["times"]) if "project" in out else None
    for name, o in out.items():
        best = min(o["times"])
        ratio = f"{best / base:7.1f}x" if base else ""
        print(f"  {name:13s} min {best:8.4f} s  median {np.median(o['times']):8.4f} s  {ratio}  "
              f"(p, t) = ({o['result'][0]:.4f}, {o['result'][1]:.3f})")


if __name__ == "__main__":
    main()
