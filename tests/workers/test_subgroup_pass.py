"""att_gt(by=): one pass over shared cell statistics equals estimating each subgroup alone.

The subgroup codes are built per unit (``_unit_groups``); these tests check
that they are ``Panel.groups``' codes for every kind of column, that bad
columns still raise the row-level errors, and that 8 subgroups estimated in
one call equal separate fits on each subgroup's sub-panel (estimates, SEs,
aggregations, and the cross-subgroup covariance from the stacked influence
functions).
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.estimators.att_gt import _unit_groups

BY = ["female", "age_band", "home_based"]


def _worker_panel(n_units=1200, n_periods=6, n_clusters=40, seed=3):
    rng = np.random.default_rng(seed)
    cl_cohort = rng.choice([0, 3, 4, 5], n_clusters, p=[0.4, 0.2, 0.2, 0.2])
    cluster = np.sort(rng.integers(0, n_clusters, n_units))
    female = rng.integers(0, 2, n_units)
    age = rng.integers(0, 2, n_units)
    home = (rng.random(n_units) < 0.3 + 0.3 * female).astype(int)
    tau = np.linspace(-1.0, 1.0, 8)[female * 4 + age * 2 + home]
    first = cl_cohort[cluster]
    period = np.tile(np.arange(1, n_periods + 1), n_units)
    first_row = np.repeat(first, n_periods)
    d = (first_row > 0) & (period >= first_row)
    y = (np.repeat(rng.normal(size=n_units), n_periods) + 0.2 * period
         + np.repeat(tau, n_periods) * d + rng.normal(size=n_units * n_periods))
    return pd.DataFrame({
        "unit": np.repeat(np.arange(n_units), n_periods), "period": period,
        "cluster": np.repeat(cluster, n_periods), "first_treat": first_row,
        "female": np.repeat(female, n_periods), "age_band": np.repeat(age, n_periods),
        "home_based": np.repeat(home, n_periods), "y": y,
        "w": np.repeat(rng.uniform(0.5, 2.0, n_units), n_periods),
    })


def _panel(df, **kw):
    return ci.Panel(df, unit="unit", time="period", cohort="first_treat", **kw)


@pytest.fixture(scope="module")
def workers():
    return _worker_panel()


def _row_level(panel, by):
    codes, labels = panel.groups(by)
    unit_group = np.empty(panel.n_units, dtype=np.int64)
    unit_group[panel.unit_code] = codes
    return unit_group, labels


@pytest.mark.parametrize("shuffle", [False, True])
def test_unit_codes_equal_row_level_groups_for_every_column_kind(workers, shuffle):
    rng = np.random.default_rng(0)
    n = workers["unit"].nunique()
    per_unit = {
        "int8": rng.integers(-3, 3, n).astype(np.int8),
        "float": rng.choice([2.5, -1.0, 7.0], n),
        "bool": rng.random(n) < 0.4,
        "obj": rng.choice(["b", "a", "c"], n).astype(object),
        "str": pd.array(rng.choice(["z", "y"], n), dtype="string"),
        "cat": pd.Categorical(rng.choice(["lo", "hi"], n), categories=["unused", "lo", "hi"],
                              ordered=False),
        "big": rng.integers(0, 10**12, n),
    }
    df = workers.assign(**{k: np.repeat(np.asarray(v), 6) for k, v in per_unit.items()})
    df["str"] = df["str"].astype("string")
    df["cat"] = pd.Categorical(df["cat"], categories=["unused", "lo", "hi"])
    if shuffle:  # rows not sorted: the non-grid path
        df = df.sample(frac=1.0, random_state=1)
    panel = _panel(df)
    for by in (["int8"], ["float"], ["bool"], ["obj"], ["str"], ["cat"], ["big"],
               ["cat", "obj", "int8"], ["float", "bool", "str"], ["cat", "bool", "int8"], BY):
        got_codes, got_labels = _unit_groups(panel, tuple(by))
        ref_codes, ref_labels = _row_level(panel, by)
        np.testing.assert_array_equal(got_codes, ref_codes)
        pd.testing.assert_frame_equal(got_labels.reset_index(drop=True),
                                      ref_labels.reset_index(drop=True))


def test_bad_subgroup_columns_still_raise(workers):
    varies = workers.assign(odd=workers["period"] % 2)
    with pytest.raises(ci.SpecificationError, match="vary within unit"):
        ci.att_gt(_panel(varies), "y", by="odd")
    missing = workers.assign(female=workers["female"].astype(float))
    missing.loc[missing["unit"] == 5, "female"] = np.nan
    with pytest.raises(ci.PanelError, match="Missing values"):
        ci.att_gt(_panel(missing), "y", by=["female", "age_band"])
    with pytest.raises(ci.SpecificationError, match="not in the data"):
        ci.att_gt(_panel(workers), "y", by="femal")


def _separate(df, by, **kw):
    """att_gt on each subgroup's sub-panel, in the subgroups' sorted order."""
    out = []
    for key, sub in df.groupby(by, sort=True):
        res = ci.att_gt(_panel(sub, cluster="cluster", **kw.pop("panel_kw", {})), "y", **kw)
        out.append((key, res))
    return out


@pytest.mark.parametrize("control", ["never_treated", "not_yet_treated"])
@pytest.mark.parametrize("weights", [None, "w"])
def test_eight_subgroups_in_one_pass_equal_separate_fits(workers, control, weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joint = ci.att_gt(_panel(workers, cluster="cluster", weights=weights), "y", by=BY,
                          control=control)
        tab = joint.tidy()
        simple = joint.aggregate("simple").tidy()
        assert len(simple) == 8
        for i, (key, sub) in enumerate(workers.groupby(BY, sort=True)):
            alone = ci.att_gt(_panel(sub, cluster="cluster", weights=weights), "y",
                              control=control)
            mine = tab[(tab[BY] == list(key)).all(axis=1)]
            np.testing.assert_allclose(mine["estimate"], alone.estimate, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(mine["std_error"], alone.std_error, rtol=1e-10)
            ref = alone.aggregate("simple")
            np.testing.assert_allclose(simple["estimate"].iloc[i], ref.estimate[0], rtol=1e-10)
            np.testing.assert_allclose(simple["std_error"].iloc[i], ref.std_error[0], rtol=1e-10)


def test_cross_subgroup_covariance_is_the_cluster_sum_of_stacked_influence(workers):
    """Cov(s, s') = sum_c S_cs S_cs' / n^2 with S_cs each subgroup's own cluster sums."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joint = ci.att_gt(_panel(workers, cluster="cluster"), "y", by=BY).aggregate("simple")
        n_cl = workers["cluster"].nunique()
        scores = []
        for _, sub in workers.groupby(BY, sort=True):
            sub_panel = _panel(sub, cluster="cluster")
            agg = ci.att_gt(sub_panel, "y").aggregate("simple")
            # each subgroup's own per-cluster sums, placed at the cluster's position overall
            where = np.asarray(sub_panel.cluster_labels)[np.asarray(agg.cluster)]
            s = np.zeros(n_cl)
            rows = np.asarray(agg.influence)[:, 0]
            np.add.at(s, where, rows)
            scores.append(s / rows.size)
    scores = np.column_stack(scores)
    np.testing.assert_allclose(joint.vcov, scores.T @ scores, rtol=1e-9, atol=1e-15)
    assert np.abs(joint.vcov - np.diag(np.diag(joint.vcov))).max() > 0  # clusters mix subgroups
