"""Monte Carlo validation of the estimators (``clusterimpact.simulate.montecarlo``).

The default run is small (tens of replications) but cannot pass by accident:
it checks that unbiased estimators are unbiased within Monte Carlo error,
that their standard errors match the spread of the estimates, that the
harness *does* flag the static TWFE under heterogeneous effects and an
interval shifted off the truth. ``-m slow`` runs every design at full size
(the numbers in docs/montecarlo.md) and checks every claim.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clusterimpact.simulate import montecarlo as mc

REPS = 30


@pytest.fixture(scope="module")
def staggered() -> pd.DataFrame:
    checks = ["att_gt dynamic e=0..3", "event_study imputation e=0..3", "twfe (static)"]
    return mc.summarise(mc.run_design(mc.DESIGNS["staggered"], REPS, checks=checks)).set_index("check")


def test_unbiased_estimators_are_unbiased_and_their_ses_match_the_spread(staggered):
    for name in ("att_gt dynamic e=0..3", "event_study imputation e=0..3"):
        row = staggered.loc[name]
        assert row["bias_z"] < 4.0, name  # max over 4 event times of |mean error| / MC s.e.
        assert 0.6 < row["mean_se"] / row["sd_estimate"] < 1.6, name
        assert row["coverage"] >= 0.80, name


def test_harness_detects_a_biased_estimator(staggered):
    # static TWFE under heterogeneous, growing effects: negative weights pull it far below the ATT
    row = staggered.loc["twfe (static)"]
    assert row["bias"] < -0.4 and row["bias_z"] > 10
    assert row["coverage"] < 0.2
    assert mc.verdict(row) == "not claimed"


def test_summary_flags_an_interval_that_misses_the_truth():
    rng = np.random.default_rng(1)
    n = 400
    est = rng.normal(size=n)
    frame = pd.DataFrame({"design": "x", "check": "c", "target": "", "rep": np.arange(n),
                          "estimate": est, "std_error": 1.0, "truth": 0.0,
                          "conf_low": est - 1.96, "conf_high": est + 1.96})
    good = mc.summarise(frame).iloc[0]
    assert abs(good["coverage"] - 0.95) < 0.04 and mc.verdict(good) == "ok"
    shifted = mc.summarise(frame.assign(conf_low=est - 0.5, conf_high=est + 0.5)).iloc[0]
    assert shifted["coverage"] < 0.5 and mc.verdict(shifted).startswith("UNDER")


def test_homogeneous_design_twfe_and_two_period_did():
    hom = mc.summarise(mc.run_design(mc.DESIGNS["homogeneous"], REPS, checks=["twfe CR1"])).iloc[0]
    assert hom["bias_z"] < 4 and hom["coverage"] >= 0.8 and 0.6 < hom["mean_se"] / hom["sd_estimate"] < 1.6
    two = mc.summarise(mc.run_design(mc.DESIGNS["two_period"], REPS, checks=["did dr"])).iloc[0]
    assert two["bias_z"] < 4 and two["coverage"] >= 0.8 and 0.6 < two["mean_se"] / two["sd_estimate"] < 1.6


def test_markdown_table_renders():
    frame = mc.run_design(mc.DESIGNS["two_period"], 3, checks=["did dr", "did twfe"])
    text = mc.to_markdown(mc.summarise(frame), seed=1, command="cmd")
    assert "| two_period | did dr | 3 |" in text and "## Claims not met in this run" in text
    # a reduced run says so in the header, row by row
    assert "**Reduced run**" in text and "two_period / did dr: 3 of 1000" in text


def test_random_cohort_design_group_effects_unbiased():
    # cohorts drawn at random (the sampling model of att_gt's aggregations): per-cohort effects
    # unbiased within Monte Carlo error and SEs of the right order
    frame = mc.run_design(mc.DESIGNS["staggered_random"], REPS, checks=["att_gt group g=3,5,7"])
    assert set(frame["target"]) == {"g=3", "g=5", "g=7"}
    row = mc.summarise(frame).iloc[0]
    assert row["bias_z"] < 4 and 0.6 < row["mean_se"] / row["sd_estimate"] < 1.6


def test_small_sample_intervals_widen_toward_the_spread():
    # ~10 clusters per cohort: R did's variance is ~15% below the spread of the cohort effects;
    # the cohort-leverage correction closes most of it and t(df) intervals are wider still
    # (full run: 94.2% coverage against 90.0%, docs/montecarlo.md)
    checks = ["att_gt group g=3,5,7", "att_gt small_sample=True: group g=3,5,7"]
    frame = mc.run_design(mc.DESIGNS["staggered_random"], REPS, checks=checks)
    rows = mc.summarise(frame).set_index("check")
    base, small = rows.loc[checks[0]], rows.loc[checks[1]]
    assert small["bias_z"] < 4
    assert small["mean_se"] / base["mean_se"] > 1.05
    both = frame.pivot_table(index=["rep", "target"], columns="check",
                             values=["conf_low", "conf_high"])
    width = both["conf_high"] - both["conf_low"]
    assert (width[checks[1]] > 1.03 * width[checks[0]]).all()


@pytest.mark.slow
def test_full_monte_carlo_claims():
    _, summary = mc.run()
    verdicts = {(r["design"], r["check"]): mc.verdict(r) for _, r in summary.iterrows()}
    bad = {k: v for k, v in verdicts.items() if v not in ("ok", "not claimed") and k not in KNOWN}
    assert not bad, bad


# claims measured not to hold in the committed full run (docs/montecarlo.md); each is documented there
# with the reason and the recommended alternative
KNOWN: set[tuple[str, str]] = {
    ("staggered", "event_study sun_abraham e=0..3"),
    ("staggered_large", "att_gt dynamic e=0..3"),
}
