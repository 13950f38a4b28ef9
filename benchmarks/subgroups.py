#!/usr/bin/env python
"""Subgroup (``by=``) estimation versus the pooled estimate on a 1e6-row worker panel.

Issue 8 asks that estimating 8 worker subgroups cost at most twice the pooled
estimate. This script builds a deterministic worker panel (100,000 workers x
10 periods in 500 clusters, staggered cluster-level roll-out, gender x age band
x home-based = 8 subgroups, fixed per worker), then times, in one process,

* ``ci.att_gt(panel, "y")`` against ``ci.att_gt(panel, "y", by=[...])``,
* the same for ``ci.event_study`` and ``ci.twfe``,
* ``ci.did`` on a two-period panel of 500,000 workers (1e6 rows),

as the minimum over ``--reps`` repetitions (alternating pooled and by=, so
machine load affects both sides alike) of the wall time and, for a loaded
machine, of the process CPU time (``cpu_ratio``), and the peak memory that each
call allocates (``tracemalloc`` in a separate, untimed call: numpy reports its
buffers to it).

Usage::

    python3 benchmarks/subgroups.py                 # 1e6 rows, 7 repetitions
    python3 benchmarks/subgroups.py --units 10000   # quick check
    python3 benchmarks/subgroups.py --only att_gt   # one estimator
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

import clusterimpact as ci

BY = ["female", "age_band", "home_based"]


def worker_panel(n_units: int, n_periods: int, n_clusters: int, seed: int = 8) -> pd.DataFrame:
    """A balanced worker panel with cluster-level staggered adoption and 8 subgroups.

    ``y_it = a_i + 0.2 t + tau_s 1{t >= g_c} + e_it`` with subgroup effects
    ``tau_s`` from -1 to 1 (opposite signs across home-based status), cohorts
    at periods 4, 6, 8 and 40% never-treated clusters.
    """
    rng = np.random.default_rng(seed)
    cohorts = np.array([0, 4, 6, 8]) if n_periods >= 9 else np.array([0, n_periods])
    cl_cohort = rng.choice(cohorts, n_clusters, p=[0.4] + [0.6 / (cohorts.size - 1)] *
                           (cohorts.size - 1))
    cluster = np.sort(rng.integers(0, n_clusters, n_units))
    female = (rng.random(n_units) < 0.45).astype(np.int8)
    age_band = (rng.random(n_units) < 0.5).astype(np.int8)
    home = (rng.random(n_units) < 0.3 + 0.3 * female).astype(np.int8)
    group = female * 4 + age_band * 2 + home
    tau = np.linspace(-1.0, 1.0, 8)[group]
    first = cl_cohort[cluster]
    period = np.tile(np.arange(1, n_periods + 1), n_units)
    first_row = np.repeat(first, n_periods)
    d = (first_row > 0) & (period >= first_row)
    y = (np.repeat(rng.normal(size=n_units), n_periods) + 0.2 * period
         + np.repeat(tau, n_periods) * d + rng.normal(size=n_units * n_periods))
    return pd.DataFrame({
        "unit": np.repeat(np.arange(n_units), n_periods), "period": period,
        "cluster": np.repeat(cluster, n_periods), "first_treat": first_row,
        "female": np.repeat(female, n_periods), "age_band": np.repeat(age_band, n_periods),
        "home_based": np.repeat(home, n_periods), "y": y,
    })


def _once(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def _peak(fn) -> float:
    """Peak MB traced by ``tracemalloc`` during one (untimed) call."""
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def _pair(name: str, pooled, by, reps: int) -> dict:
    pooled()  # warm-up (imports, caches)
    by()
    best = np.full((2, 2), np.inf)  # (pooled, by) x (wall, cpu)
    for _ in range(reps):  # alternate so that load hits both sides
        best[0] = np.minimum(best[0], _once(pooled))
        best[1] = np.minimum(best[1], _once(by))
    return {"estimator": name, "pooled_ms": best[0, 0] * 1e3, "by8_ms": best[1, 0] * 1e3,
            "ratio": best[1, 0] / best[0, 0], "cpu_ratio": best[1, 1] / best[0, 1],
            "pooled_peak_mb": _peak(pooled), "by8_peak_mb": _peak(by)}


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--periods", type=int, default=10)
    ap.add_argument("--clusters", type=int, default=500)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--only", nargs="*", default=["att_gt", "event_study", "twfe", "did"])
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")

    df = worker_panel(args.units, args.periods, args.clusters)
    panel = ci.Panel(df, unit="unit", time="period", cohort="first_treat", cluster="cluster")
    print(f"worker panel: {len(df):,} rows, {args.units:,} units x {args.periods} periods, "
          f"{args.clusters} clusters, {df.groupby(BY).ngroups} subgroups")
    rows = []
    if "att_gt" in args.only:
        rows.append(_pair("att_gt", lambda: ci.att_gt(panel, "y"),
                          lambda: ci.att_gt(panel, "y", by=BY), args.reps))
        rows.append(_pair("att_gt + aggregate('simple')",
                          lambda: ci.att_gt(panel, "y").aggregate("simple"),
                          lambda: ci.att_gt(panel, "y", by=BY).aggregate("simple"), args.reps))
    if "event_study" in args.only:
        rows.append(_pair("event_study", lambda: ci.event_study(panel, "y"),
                          lambda: ci.event_study(panel, "y", by=BY), args.reps))
    if "twfe" in args.only:
        rows.append(_pair("twfe", lambda: ci.twfe(panel, "y"),
                          lambda: ci.twfe(panel, "y", by=BY), args.reps))
    if "did" in args.only:
        df2 = worker_panel(args.units * args.periods // 2, 2, args.clusters)
        p2 = ci.Panel(df2, unit="unit", time="period", cohort="first_treat", cluster="cluster")
        rows.append(_pair(f"did ({len(df2):,} rows, 2 periods)", lambda: ci.did(p2, "y"),
                          lambda: ci.did(p2, "y", by=BY), args.reps))
    out = pd.DataFrame(rows)
    print(out.to_markdown(index=False, floatfmt=".2f"))
    return out


if __name__ == "__main__":
    main()
