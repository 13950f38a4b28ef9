"""Same seed, same bytes: bootstraps, randomization inference and simulation.

Each random procedure is run in a fresh interpreter with one and with two BLAS /
OpenMP threads and the raw bytes of its numeric output are compared; in this
process, no call (seeded or not) may touch numpy's or Python's global random state.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import warnings

import numpy as np
import pytest

import clusterimpact as ci

SCRIPT = r'''
import hashlib, sys, warnings
import numpy as np
import clusterimpact as ci

warnings.simplefilter("ignore")
sim = ci.simulate.scenario("staggered_basic", seed=11, n_clusters=14, firms_per_cluster=2)
p = sim.panel
att = ci.att_gt(p, "y", bootstrap=199, seed=3)
agg = ci.att_gt(p, "y").aggregate("dynamic")
block = ci.simulate.scenario("staggered_basic", seed=5, n_clusters=16, level="firm", firms_per_cluster=1,
                             cohorts=(6,), never_share=0.7)
outputs = {
    "simulate": sim.data.select_dtypes("number").to_numpy(dtype=float),
    "truth": sim.truth["effect"].to_numpy(),
    "multiplier": att.tidy()[["std_error", "band_low", "band_high"]].to_numpy(dtype=float),
    "wild": ci.twfe(p, "y").wild_bootstrap(reps=499, seed=4).tidy()[
        ["p_value", "conf_low", "conf_high"]].to_numpy(dtype=float),
    "score": agg.wild_bootstrap(reps=499, seed=5).tidy()[["p_value", "conf_low", "conf_high"]].to_numpy(
        dtype=float),
    "randomization": ci.att_gt(p, "y").aggregate("simple").randomization(reps=49, seed=6).tidy()[
        ["p_value", "conf_low", "conf_high"]].to_numpy(dtype=float),
    "sdid_bootstrap": ci.synthetic_did(block.panel, "y", se="bootstrap", reps=50, seed=7).tidy()[
        ["estimate", "std_error"]].to_numpy(dtype=float),
    "sdid_placebo": ci.synthetic_did(block.panel, "y", se="placebo", reps=50, seed=8).tidy()[
        ["estimate", "std_error"]].to_numpy(dtype=float),
}
for name, values in outputs.items():
    print(name, hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest())
'''


def _digests(threads: int) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "PYTHONHASHSEED": str(threads)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                         check=True, timeout=600)
    return dict(line.split() for line in out.stdout.splitlines())


def test_same_seed_same_bytes_regardless_of_threads():
    one, two = _digests(1), _digests(2)
    assert set(one) == {"simulate", "truth", "multiplier", "wild", "score", "randomization",
                        "sdid_bootstrap", "sdid_placebo"}
    assert one == two


def _fingerprint() -> tuple[str, object]:
    state = np.random.get_state()  # noqa: NPY002 - the legacy global state is what we check
    digest = hashlib.sha256(state[1].tobytes() + repr(state[2:]).encode()).hexdigest()
    return digest, random.getstate()


@pytest.mark.parametrize("seed", [None, 12])
def test_global_random_state_untouched(seed):
    np.random.seed(123)  # noqa: NPY002
    random.seed(456)
    before = _fingerprint()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim = ci.simulate.scenario("staggered_basic", seed=seed, n_clusters=10, firms_per_cluster=2)
        p = sim.panel
        ci.att_gt(p, "y", bootstrap=49, seed=seed)
        agg = ci.att_gt(p, "y").aggregate("simple")
        agg.wild_bootstrap(reps=99, seed=seed)
        agg.randomization(reps=19, seed=seed, conf_int=False)
        ci.twfe(p, "y").wild_bootstrap(reps=99, seed=seed)
        data = sim.data.drop_duplicates("worker_id").assign(d=lambda d: (d["cohort"] > 0).astype(int))
        ci.match(data, treatment="d", covariates=["age"], method="nearest", m_order="random", seed=seed)
    assert _fingerprint() == before


def test_seeded_calls_repeat_in_process():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = ci.simulate.scenario("staggered_basic", seed=3, n_clusters=10, firms_per_cluster=2)
        b = ci.simulate.scenario("staggered_basic", seed=3, n_clusters=10, firms_per_cluster=2)
        assert a.data.equals(b.data)
        r1 = ci.att_gt(a.panel, "y", bootstrap=99, seed=np.random.default_rng(9)).tidy()
        r2 = ci.att_gt(b.panel, "y", bootstrap=99, seed=np.random.default_rng(9)).tidy()
    assert r1.equals(r2)
