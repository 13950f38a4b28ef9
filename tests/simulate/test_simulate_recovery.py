"""Simple unbiased estimators recover the simulated truth (and biased designs are caught).

The estimator is the no-covariate DiD of cohort-period means with never-treated
comparisons, computed directly with pandas:
``(mean_{g,t} - mean_{g,g-1}) - (mean_{never,t} - mean_{never,g-1})`` for ``t >= g``
(by subgroup: the same within the subgroup; survey-weighted means where weights exist).
Averaged over seeds, its error against the per-seed truth must be zero within
Monte-Carlo error. The default run is quick; ``-m slow`` runs many more replications.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci


def cell_did(sim: ci.simulate.Simulation, y: str, by: str | None = None) -> pd.DataFrame:
    """DiD of (weighted) cohort-period means for every post-adoption cell (cohort, time[, by])."""
    data = sim.data.dropna(subset=[y])
    keys = [by] if by else []
    w = data["weight"] if "weight" in data else pd.Series(1.0, index=data.index)
    frame = pd.DataFrame({"cohort": data["cohort"], "time": data["period"], "wy": w * data[y], "w": w,
                          **{k: data[k].astype(str) for k in keys}})
    sums = frame.groupby(["cohort", "time", *keys])[["wy", "w"]].sum()
    mean = (sums["wy"] / sums["w"]).rename("mean").reset_index()
    never = mean[mean["cohort"] == 0].drop(columns="cohort").rename(columns={"mean": "never"})
    treated = mean[mean["cohort"] > 0]
    cells = treated.merge(never, on=["time", *keys])
    base = cells[cells["time"] == cells["cohort"] - 1][["cohort", *keys, "mean", "never"]]
    base = base.rename(columns={"mean": "mean_base", "never": "never_base"})
    post = cells[cells["time"] >= cells["cohort"]].merge(base, on=["cohort", *keys])
    post["did"] = (post["mean"] - post["mean_base"]) - (post["never"] - post["never_base"])
    return post[["cohort", "time", *keys, "did"]]


def errors_over_seeds(name: str, y: str, reps: int, by: str | None = None, **overrides) -> pd.DataFrame:
    """Per seed and cell: DiD estimate minus the truth of that seed's data."""
    out = []
    for seed in range(reps):
        sim = ci.simulate.scenario(name, seed=1000 + seed, **overrides)
        truth = sim.truth_table(by, outcome=y).drop(columns=["outcome", "event_time", "n_obs"])
        if by:
            truth[by] = truth[by].astype(str)
        est = cell_did(sim, y, by)
        merged = est.merge(truth, on=["cohort", "time", *([by] if by else [])], validate="1:1")
        assert len(merged) == len(est)
        out.append(merged.assign(error=merged["did"] - merged["effect"], seed=seed))
    return pd.concat(out, ignore_index=True)


def z_scores(errors: pd.DataFrame, by: str | None = None) -> pd.Series:
    """Monte-Carlo z statistic of the mean error of each cell."""
    cells = errors.groupby(["cohort", "time", *([by] if by else [])])["error"]
    return cells.mean() / (cells.std(ddof=1) / np.sqrt(cells.size()))


# Max |z| over ~10-40 cells; with t tails at 20-40 replications a per-cell bound of 4.5
# keeps the family-wise false alarm rate far below 1e-3, and the runs are seeded.
Z_MAX = 4.5


@pytest.mark.parametrize(("name", "y", "by", "reps", "overrides"), [
    ("staggered_basic", "y", None, 40, {}),
    ("football_stitching", "earnings", "gender", 20, {}),
    ("garment_codes", "wage", "tier", 15, {}),
    ("garment_codes", "outsourced_share", None, 15, {}),
    ("village_distribution", "income", "gender", 20, {}),
    ("tannery_effluent", "log_bod", None, 20, {}),
])
def test_did_of_means_recovers_truth(name, y, by, reps, overrides):
    errors = errors_over_seeds(name, y, reps, by, **overrides)
    z = z_scores(errors, by)
    assert np.isfinite(z).all()
    assert z.abs().max() < Z_MAX, z.sort_values().tail()


def test_employed_did_is_exact():
    """Y(0) of ``employed`` is 1 for everyone, so the DiD of means equals the truth identically."""
    errors = errors_over_seeds("football_stitching", "employed", 3, "site")
    np.testing.assert_allclose(errors["error"], 0.0, atol=1e-12)
    assert (errors.query("site == 'home'")["effect"] < -0.2).all()


def test_pretrend_violation_is_detected():
    """Negative control: with differential trends the same check fails loudly."""
    errors = errors_over_seeds("staggered_basic", "y", 15, pretrend=0.5)
    z = z_scores(errors)
    assert z.abs().max() > 10
    assert errors["error"].mean() > 0.3  # treated clusters trend up faster


def test_exclusion_with_dropped_rows_biases_did():
    """Negative control: excluded home workers vanish, so treated-cell means rise by composition."""
    errors = errors_over_seeds("football_stitching", "earnings", 10, exclusion_mode="drop")
    assert errors["error"].mean() > 0.2
    assert z_scores(errors).median() > 3


@pytest.mark.slow
@pytest.mark.parametrize(("name", "y", "by", "reps"), [
    ("staggered_basic", "y", None, 400),
    ("football_stitching", "earnings", "site", 150),
    ("garment_codes", "hours", "tier", 100),
    ("village_distribution", "confidence", "gender", 150),
])
def test_did_of_means_recovers_truth_many_seeds(name, y, by, reps):
    errors = errors_over_seeds(name, y, reps, by)
    z = z_scores(errors, by)
    assert z.abs().max() < Z_MAX, z.sort_values().tail()
    # and the average bias over all cells is small relative to the effects
    assert abs(errors["error"].mean()) < 0.02 * errors["effect"].abs().mean() + 4 * errors.groupby(
        "seed")["error"].mean().std() / np.sqrt(reps)


# ---------------------------------------------------------------- ci.att_gt
def test_att_gt_matches_cell_did_on_simulated_panel():
    sim = ci.simulate.scenario("staggered_basic", seed=21)
    tidy = ci.att_gt(sim.panel, "y", method="reg").tidy()
    est = cell_did(sim, "y").merge(tidy, on=["cohort", "time"], validate="1:1")
    assert len(est) == len(cell_did(sim, "y"))
    np.testing.assert_allclose(est["estimate"], est["did"], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("reps", [pytest.param(12), pytest.param(120, marks=pytest.mark.slow)])
def test_att_gt_simple_aggregation_recovers_truth(reps):
    errors, ses = [], []
    for seed in range(reps):
        sim = ci.simulate.scenario("staggered_basic", seed=2000 + seed)
        agg = ci.att_gt(sim.panel, "y").aggregate("simple").tidy()
        errors.append(agg["estimate"].iloc[0] - sim.aggregate_truth("simple")["effect"].iloc[0])
        ses.append(agg["std_error"].iloc[0])
    errors = np.asarray(errors)
    z = errors.mean() / (errors.std(ddof=1) / np.sqrt(reps))
    assert abs(z) < Z_MAX
    # the analytic clustered SE is of the order of the Monte-Carlo spread of the error
    assert 0.4 < np.mean(ses) / errors.std(ddof=1) < 2.5
