"""Tiers and displacement: tier effects, outsourcing shift and supplier exposure DiD (garment_codes)."""

import warnings

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci


@pytest.fixture(scope="module")
def garment():
    return ci.simulate.scenario("garment_codes", seed=7)


def _tier_truth(sim, outcome):
    """Simple aggregate of the true ATT(g, t) within tier (cohort-size weights = rows, balanced)."""
    t = sim.truth_table("tier", outcome)
    post = t[t["time"] >= t["cohort"]]
    return post.groupby("tier", observed=True).apply(
        lambda f: np.average(f["effect"], weights=f["n_obs"]), include_groups=False)


def test_tier_effects_recover_known_tier_effects(garment):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        res = ci.workers.tier_effects(garment.panel, ["wage", "hours"])
    tab = res.tidy()
    assert tab["tier"].astype(str).tolist()[:3] == ["first_tier", "subcontractor", "home_based"]
    for outcome in ("wage", "hours"):
        rows = tab[tab["outcome"] == outcome]
        truth = _tier_truth(garment, outcome).reindex(rows["tier"].astype(str)).to_numpy()
        z = (rows["estimate"].to_numpy() - truth) / rows["std_error"].to_numpy()
        assert np.all(np.abs(z) < 3), (outcome, z)
    # the known pattern: first-tier wages up and hours down; subcontractors' hours up
    wage, hours = tab[tab.outcome == "wage"], tab[tab.outcome == "hours"]
    assert wage["estimate"].iloc[0] > 0 and wage["conf_low"].iloc[0] > 0
    assert hours["conf_high"].iloc[0] < 0 and hours["conf_low"].iloc[1] > 0
    contrasts = res.compare().tidy()
    first_vs_sub = contrasts[(contrasts.outcome == "hours") &
                             (contrasts.contrast == "subcontractor - first_tier")]
    assert first_vs_sub["p_value"].iloc[0] < 0.01


def test_outsourcing_shift_on_firm_panel(garment):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        res = ci.workers.outsourcing_effects(garment.data)
        pooled = ci.workers.outsourcing_effects(garment.data, tier=None)
    tab = res.tidy()
    # truth at the firm level: mean realised effect over treated firms' post periods, by tier
    d = garment.data.assign(eff=garment.effects["outsourced_share"].to_numpy())
    firm = d.groupby(["firm_id", "period"], observed=True).agg(
        eff=("eff", "first"), cohort=("cohort", "first"), tier=("tier", "first")).reset_index()
    post = firm[(firm.cohort > 0) & (firm.period >= firm.cohort)]
    truth = post.groupby("tier", observed=True)["eff"].mean()
    assert truth["first_tier"] > 0.1 and truth["subcontractor"] == 0 and truth["home_based"] == 0
    z = (tab["estimate"].to_numpy() - truth.reindex(tab["tier"].astype(str)).to_numpy()) / tab["std_error"]
    assert np.all(np.abs(z) < 3)
    assert tab["conf_low"].iloc[0] > 0
    assert res.info["n_obs"] == firm.shape[0]  # one row per firm-period, not per worker
    assert pooled.tidy()["tier"].tolist() == ["all"]
    assert 0 < pooled.estimate[0] < tab["estimate"].iloc[0]


def test_supplier_exposure_hand_example():
    links = pd.DataFrame({"sup": [1, 1, 1, 2, 2, 3, 1],
                          "buy": ["a", "b", "c", "b", "d", "c", "a"],
                          "sales": [10.0, 30.0, 40.0, 5.0, 15.0, 8.0, 10.0]})
    buyers = pd.DataFrame({"buy": ["a", "a", "b", "c"], "g": [5, 5, 3, 0]})  # d missing: never
    before = links.copy()
    out = ci.workers.supplier_exposure(links, buyers, supplier="sup", buyer="buy", onset="g")
    pd.testing.assert_frame_equal(links, before)
    # supplier 1: a (20, g=5), b (30, g=3), c (40, never): E = 50/90, G = 3, at onset 30/90
    # supplier 2: b (5, g=3), d (15, never): E = 0.25, G = 3; supplier 3: only c: unexposed
    np.testing.assert_allclose(out["exposure"], [50 / 90, 0.25, 0.0])
    assert out["onset"].tolist() == [3, 3, 0]
    np.testing.assert_allclose(out["exposure_at_onset"], [30 / 90, 0.25, 0.0])
    assert out["n_buyers"].tolist() == [3, 2, 1] and out["n_treated_buyers"].tolist() == [2, 1, 0]
    with pytest.raises(ci.SpecificationError, match="varies within buyer"):
        ci.workers.supplier_exposure(links, pd.DataFrame({"buy": ["a", "a"], "g": [3, 4]}),
                                     supplier="sup", buyer="buy", onset="g")
    with pytest.raises(ci.SpecificationError, match="Did you mean 'sales'"):
        ci.workers.supplier_exposure(links, buyers, supplier="sup", buyer="buy", onset="g", sales="sale")


def _supplier_panel(sim, theta, seed, n_suppliers=600, n_sup_clusters=40):
    """Suppliers selling to the garment scenario's first-tier buyers; effect theta * E_s from G_s."""
    rng = np.random.default_rng(seed)
    firms = sim.data.drop_duplicates("firm_id")
    buyers = firms.loc[firms["tier"] == "first_tier", ["firm_id", "cohort"]]
    k = rng.integers(1, 4, n_suppliers)
    sup = np.repeat(np.arange(n_suppliers), k)
    links = pd.DataFrame({"supplier_id": sup, "buyer_id": rng.choice(buyers["firm_id"].to_numpy(), sup.size),
                          "sales": rng.gamma(2.0, 10.0, sup.size)})
    exp = ci.workers.supplier_exposure(links, buyers.rename(columns={"firm_id": "buyer_id"}))
    periods = np.arange(1, 9)
    n = len(exp)
    cl = rng.integers(0, n_sup_clusters, n)
    shocks = 0.3 * rng.standard_normal((n_sup_clusters, periods.size))
    e, g = exp["exposure"].to_numpy(), exp["onset"].to_numpy()
    post = (g[:, None] > 0) & (periods[None, :] >= g[:, None])
    y = (rng.normal(0, 1, n)[:, None] + 0.1 * periods[None, :] + shocks[cl]
         + rng.normal(0, 0.5, (n, periods.size)) + theta * e[:, None] * post)
    df = pd.DataFrame({"supplier_id": np.repeat(exp["supplier_id"], periods.size),
                       "period": np.tile(periods, n), "cluster": np.repeat(cl, periods.size),
                       "onset": np.repeat(g, periods.size), "exposure": np.repeat(e, periods.size),
                       "y": y.ravel(), "tau": (theta * e[:, None] * post).ravel()})
    return df


def test_exposure_did_and_twfe_recover_linear_dose_response(garment):
    theta = -1.0
    df = _supplier_panel(garment, theta, seed=3)
    assert 0.15 < (df.drop_duplicates("supplier_id")["exposure"] == 0).mean() < 0.6
    panel = ci.Panel(df, unit="supplier_id", time="period", cohort="onset", cluster="cluster")
    res = ci.workers.exposure_did(panel, "y", bins=[0, 1 / 3, 2 / 3, 1])
    tab = res.tidy()
    # truth per bin: mean of theta * E_s over the bin's post rows (= the simple aggregate, balanced)
    rows = df[(df.onset > 0) & (df.period >= df.onset)]
    bins = pd.cut(rows["exposure"], [0, 1 / 3, 2 / 3, 1])
    truth = rows.groupby(bins, observed=True)["tau"].mean().to_numpy()
    z = (tab["estimate"].to_numpy() - truth) / tab["std_error"].to_numpy()
    assert np.all(np.abs(z) < 3), z
    assert np.all(np.diff(tab["estimate"]) < 0)  # more exposure, larger (negative) effect
    np.testing.assert_allclose(tab["effect_per_exposure"], tab["estimate"] / tab["mean_exposure"])
    cmp = res.compare().tidy()
    assert cmp["contrast"].iloc[-1] == "all equal" and cmp["p_value"].iloc[-1] < 0.05
    tw = ci.workers.exposure_twfe(panel, "y")
    assert abs(tw.estimate[0] - theta) < 3 * tw.std_error[0]
    assert tw.tidy()["term"].tolist() == ["exposure_post"]


def test_exposure_did_stacking_equals_separate_bins(garment):
    df = _supplier_panel(garment, -1.0, seed=5, n_suppliers=300)
    panel = ci.Panel(df, unit="supplier_id", time="period", cohort="onset", cluster="cluster")
    res = ci.workers.exposure_did(panel, "y", bins=[0, 0.5, 1])
    for j, (lo, hi) in enumerate([(0, 0.5), (0.5, 1)]):
        sub = df[(df.exposure == 0) | ((df.exposure > lo) & (df.exposure <= hi))]
        alone = ci.att_gt(ci.Panel(sub, unit="supplier_id", time="period", cohort="onset",
                                   cluster="cluster"), "y").aggregate("simple")
        assert res.estimate[j] == pytest.approx(alone.estimate[0], rel=1e-10)
        assert res.std_error[j] == pytest.approx(alone.std_error[0], rel=1e-8)
    # equal-count bins
    q = ci.workers.exposure_did(panel, "y", bins=2)
    assert q.tidy()["n_units"].sum() == (df.drop_duplicates("supplier_id").exposure > 0).sum()


def test_exposure_input_errors(garment):
    df = _supplier_panel(garment, -1.0, seed=5, n_suppliers=200)
    bad = df.assign(exposure=np.where(df.onset > 0, 0.0, df.exposure))
    panel = ci.Panel(bad, unit="supplier_id", time="period", cohort="onset", cluster="cluster")
    with pytest.raises(ci.SpecificationError, match="no onset, or an onset but zero exposure"):
        ci.workers.exposure_did(panel, "y")
    varying = df.assign(exposure=df.exposure * np.where(df.period > 4, 1.0, 0.9))
    panel = ci.Panel(varying, unit="supplier_id", time="period", cohort="onset", cluster="cluster")
    with pytest.raises(ci.SpecificationError, match="varies within unit"):
        ci.workers.exposure_twfe(panel, "y")
    ok = ci.Panel(df, unit="supplier_id", time="period", cohort="onset", cluster="cluster")
    with pytest.raises(ci.SpecificationError, match="increasing"):
        ci.workers.exposure_did(ok, "y", bins=[0, 0.5, 0.5, 1])
    with pytest.raises(ci.SpecificationError, match="Did you mean 'exposure'"):
        ci.workers.exposure_did(ok, "y", exposure="exposur")


@pytest.mark.slow
def test_tier_and_exposure_coverage_monte_carlo():
    cover_tier, cover_twfe = [], []
    for seed in range(100):
        sim = ci.simulate.scenario("garment_codes", seed=1000 + seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ci.FewClustersWarning)
            tab = ci.workers.tier_effects(sim.panel, "wage", adjust=None).tidy()
        truth = _tier_truth(sim, "wage").reindex(tab["tier"].astype(str)).to_numpy()
        cover_tier.append((tab["conf_low"] <= truth) & (truth <= tab["conf_high"]))
        df = _supplier_panel(sim, -1.0, seed=seed)
        tw = ci.workers.exposure_twfe(ci.Panel(df, unit="supplier_id", time="period", cohort="onset",
                                               cluster="cluster"), "y").tidy()
        cover_twfe.append(tw["conf_low"].iloc[0] <= -1.0 <= tw["conf_high"].iloc[0])
    assert np.mean(cover_tier) > 0.88  # 40 clusters, analytic clustered SEs: slightly below 95%
    assert np.mean(cover_twfe) > 0.88
