"""Survey designs: Panel validation, design-based variances against R survey, coverage.

Reference numbers: ``tests/reference/survey_r.json``, computed by
``tests/reference/survey_r.R`` with R 4.2.2 and survey 4.1-1 from
``tests/reference/survey_panel.csv`` (a synthetic stratified two-stage panel
made by ``tests/reference/survey_panel_make.py``). The specifications are
identical (same linearisation, same n_h/(n_h-1) and fpc conventions), so
estimates and standard errors are compared at rtol 1e-8.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.errors import ClusterImpactWarning, PanelError, SpecificationError
from clusterimpact.inference.survey import SurveyDesign, stratified_vcov, survey_vcov

REF = Path(__file__).resolve().parents[1] / "reference"
R = json.loads((REF / "survey_r.json").read_text())
DATA = pd.read_csv(REF / "survey_panel.csv")
MAIN = DATA[DATA["stratum"] != 7]  # stratum 7 holds a single PSU


def _panel(data: pd.DataFrame = MAIN, **kw) -> ci.Panel:
    args = {"unit": "worker", "time": "period", "cohort": "first_treat", "cluster": "psu",
            "strata": "stratum", "fpc": "N_h", "nest": True, "weights": "w"}
    args.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusterImpactWarning)
        return ci.Panel(data, **args)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusterImpactWarning)
        return fn(*args, **kw)


# ------------------------------------------------------------------ R survey references
@pytest.mark.parametrize("key, fpc", [("count_fpc", "N_h"), ("fraction_fpc", "f_h"),
                                      ("no_fpc", None)])
def test_2x2_did_matches_r_survey_domain_contrast(key, fpc):
    """did/att_gt = svycontrast(svyby(~dy, ~treated, svymean), c(-1, 1)); twfe = svyglm."""
    ref = R[key]
    p = _panel(fpc=fpc)
    results = {
        "did dr": _quiet(ci.did, p, "y"),
        "did reg": _quiet(ci.did, p, "y", method="reg"),
        "att_gt simple": _quiet(ci.att_gt, p, "y").aggregate("simple"),
        "att_gt group": _quiet(ci.att_gt, p, "y").aggregate("group"),
    }
    for name, res in results.items():
        np.testing.assert_allclose(res.estimate[0], ref["att"], rtol=1e-8, err_msg=name)
        np.testing.assert_allclose(res.std_error[0], ref["att_se"], rtol=1e-8, err_msg=name)
        assert res.dof == ref["degf"], name
    tw = _quiet(ci.twfe, p, "y")
    assert tw.info["vcov_type"] == "survey"
    np.testing.assert_allclose(tw.estimate[0], ref["glm_coef"], rtol=1e-8)
    np.testing.assert_allclose(tw.std_error[0], ref["glm_se"], rtol=1e-8)
    np.testing.assert_allclose(tw.tidy()["df"][0], ref["degf"])


@pytest.mark.parametrize("option", ["adjust", "average", "certainty", "remove"])
def test_lonely_psu_options_match_r_survey(option):
    p = _panel(DATA, lonely_psu=option)
    ref = R[f"lonely_{option}"]
    np.testing.assert_allclose(_quiet(ci.did, p, "y").std_error[0], ref["att_se"], rtol=1e-8)
    np.testing.assert_allclose(_quiet(ci.twfe, p, "y").std_error[0], ref["glm_se"], rtol=1e-8)


def test_weighted_mean_and_ratio_on_long_rows_match_r_survey():
    """Several rows per PSU: survey_vcov sums the linearised scores within PSUs."""
    y, w, n_h = (MAIN[c].to_numpy(dtype=float) for c in ("y", "w", "N_h"))
    psu = MAIN["stratum"] * 100 + MAIN["psu"]
    mean = (w * y).sum() / (w.sum())
    v = survey_vcov(w * (y - mean) / w.sum(), psu=psu, strata=MAIN["stratum"], fpc=n_h)
    np.testing.assert_allclose(mean, R["long"]["mean_y"], rtol=1e-8)
    np.testing.assert_allclose(np.sqrt(v[0, 0]), R["long"]["mean_y_se"], rtol=1e-8)
    ratio = (w * y).sum() / (w * n_h).sum()
    z = w * (y - ratio * n_h) / (w * n_h).sum()
    v = survey_vcov(z, psu=psu, strata=MAIN["stratum"], fpc=n_h)
    np.testing.assert_allclose(ratio, R["long"]["ratio"], rtol=1e-8)
    np.testing.assert_allclose(np.sqrt(v[0, 0]), R["long"]["ratio_se"], rtol=1e-8)


# ------------------------------------------------------------ reduction to the clustered IF
@pytest.fixture(scope="module")
def mpdta():
    return ci.datasets.load("mpdta").assign(one=1, state=lambda d: d["countyreal"] // 1000)


@pytest.mark.parametrize("cluster", ["countyreal", "state"])
def test_one_stratum_no_fpc_reduces_to_clustered_influence_variance(mpdta, cluster):
    """Exact without the n/(n-1) factor; G/(G-1) times it with R survey's convention."""
    base = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat", cluster=cluster)
    svy = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat", cluster=cluster,
                   strata="one")
    g = base.n_clusters
    r0, r1 = _quiet(ci.att_gt, base, "lemp"), _quiet(ci.att_gt, svy, "lemp")
    np.testing.assert_allclose(r1.vcov, r0.vcov * g / (g - 1), rtol=1e-10)
    for kind in ("simple", "group", "dynamic", "calendar"):
        a0, a1 = r0.aggregate(kind), r1.aggregate(kind)
        np.testing.assert_allclose(a1.vcov, a0.vcov * g / (g - 1), rtol=1e-10, err_msg=kind)
        np.testing.assert_allclose(a1.overall.vcov if a1.overall else 0,
                                   a0.overall.vcov * g / (g - 1) if a0.overall else 0, rtol=1e-10)
        exact = svy.survey.vcov(np.asarray(a0.influence) / r0.design.n_rows,
                                r0.design.row_cluster, small_sample=False)
        np.testing.assert_allclose(exact, a0.vcov, rtol=1e-10, err_msg=kind)
    two = _two_periods(base)
    g = two.n_clusters
    d0, d1 = _quiet(ci.did, two, "lemp"), _quiet(ci.did, _two_periods(svy), "lemp")
    np.testing.assert_allclose(d1.vcov, d0.vcov * g / (g - 1), rtol=1e-10)


def _two_periods(panel: ci.Panel) -> ci.Panel:
    df = panel.data
    df = df[df["year"].isin([2006, 2007]) & df["first.treat"].isin([0, 2007])]
    kw = {"strata": panel.strata_column} if panel.strata_column else {}
    return ci.Panel(df, unit="countyreal", time="year", cohort="first.treat",
                    cluster=panel.cluster, **kw)


def test_no_survey_keeps_the_existing_numbers(mpdta):
    p = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")
    assert p.survey is None
    res = ci.att_gt(p, "lemp")
    assert res.dof is None and "design-based" not in res.info["vcov_type"]
    assert ci.twfe(p, "lemp").info["vcov_type"] == "CR1"


def test_fpc_scales_variance_by_one_minus_fraction(mpdta):
    """Equal sampling fractions in every stratum: V_fpc = (1 - f) V_no_fpc exactly."""
    df = mpdta.assign(f=0.8)
    kw = {"unit": "countyreal", "time": "year", "cohort": "first.treat", "strata": "state",
          "lonely_psu": "remove"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusterImpactWarning)
        v0 = ci.att_gt(ci.Panel(df, **kw), "lemp").aggregate("dynamic").vcov
        v1 = ci.att_gt(ci.Panel(df, fpc="f", **kw), "lemp").aggregate("dynamic").vcov
    np.testing.assert_allclose(v1, 0.2 * v0, rtol=1e-10)


def test_twfe_with_vcov_switches_between_survey_and_cr1():
    p = _panel()
    res = _quiet(ci.twfe, p, "y")
    cr1 = _quiet(res.with_vcov, "CR1")
    assert cr1.info["vcov_type"] == "CR1"
    np.testing.assert_allclose(cr1.with_vcov("survey").std_error, res.std_error, rtol=1e-12)
    plain = _quiet(ci.twfe, _panel(strata=None, fpc=None, nest=False), "y")
    with pytest.raises(SpecificationError, match="needs a survey design"):
        plain.with_vcov("survey")


def test_ddd_and_its_aggregation_use_the_design():
    sim = ci.simulate.scenario("football_stitching", seed=1)
    df = sim.panel.data
    cl = sim.panel.cluster
    strata = df[cl].astype("category").cat.codes % 3
    df = df.assign(stratum=strata)
    kw = {"unit": sim.panel.unit, "time": sim.panel.time, "cohort": sim.panel.cohort_column,
          "cluster": cl}
    base = ci.Panel(df, **kw)
    svy = ci.Panel(df, strata="stratum", **kw)
    r0 = _quiet(ci.ddd, base, "earnings", subgroup="site", target="home")
    r1 = _quiet(ci.ddd, svy, "earnings", subgroup="site", target="home")
    np.testing.assert_allclose(r1.estimate, r0.estimate)
    v = svy.survey.vcov(r0.influence / r0.influence.shape[0], r0.cluster)
    np.testing.assert_allclose(r1.vcov, v, rtol=1e-12)
    a1 = r1.aggregate()
    assert a1.dof == svy.survey.df
    v = svy.survey.vcov(a1.influence / a1.influence.shape[0], a1.cluster)
    np.testing.assert_allclose(a1.vcov, v, rtol=1e-12)


# ------------------------------------------------------------------ the core formula
def test_stratified_vcov_by_hand():
    z = np.array([[1.0, 0.0], [3.0, 1.0], [2.0, 2.0], [6.0, 0.0], [4.0, 1.0]])
    stratum = np.array([0, 0, 1, 1, 1])
    population = np.array([np.inf, 6.0])
    got = stratified_vcov(z, stratum, population)
    d0 = z[:2] - z[:2].mean(0)
    d1 = z[2:] - z[2:].mean(0)
    want = 2 * d0.T @ d0 + 0.5 * 1.5 * d1.T @ d1
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_vcov_is_invariant_to_row_order_and_psu_relabelling():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(40, 3))
    psu = rng.integers(0, 10, size=40)
    design = SurveyDesign(np.repeat([0, 1], 5), np.array([20.0, np.inf]))
    v = design.vcov(scores, psu)
    order = rng.permutation(40)
    np.testing.assert_allclose(design.vcov(scores[order], psu[order]), v, rtol=1e-12)
    # relabel PSUs within strata
    perm = np.r_[rng.permutation(5), 5 + rng.permutation(5)]
    np.testing.assert_allclose(design.vcov(scores, perm[psu]), v, rtol=1e-12)
    # a fully sampled stratum contributes nothing
    census = SurveyDesign(np.repeat([0, 1], 5), np.array([5.0, np.inf]))
    only1 = SurveyDesign(np.repeat([0, 1], 5), np.array([np.inf, np.inf]))
    part = scores * (psu >= 5)[:, None]
    np.testing.assert_allclose(census.vcov(scores, psu), only1.vcov(part, psu), rtol=1e-12)


# ------------------------------------------------------------------ Panel validation
def test_psus_not_nested_in_strata_name_the_rule_and_suggest_nest():
    with pytest.raises(PanelError, match=r"not nested in strata.*nest=True"):
        _panel(nest=False)


def test_nest_relabels_clusters_within_strata():
    p = _panel()
    assert p.n_clusters == MAIN.groupby(["stratum", "psu"]).ngroups == 24
    assert list(p.cluster_labels.names) == ["stratum", "psu"]
    assert p.survey.n_psu.tolist() == [4, 5, 3, 6, 2, 4]
    same = _panel(MAIN.assign(psu=MAIN["stratum"] * 100 + MAIN["psu"]), nest=False)
    np.testing.assert_array_equal(same.survey.psu_stratum, p.survey.psu_stratum)


def test_lonely_psu_fail_names_the_stratum_and_options_warn():
    with pytest.raises(PanelError, match=r"single PSU.*7.*lonely_psu="):
        ci.Panel(DATA, unit="worker", time="period", cohort="first_treat", cluster="psu",
                 strata="stratum", nest=True)
    with pytest.warns(ClusterImpactWarning, match="lonely_psu='adjust'"):
        ci.Panel(DATA, unit="worker", time="period", cohort="first_treat", cluster="psu",
                 strata="stratum", nest=True, lonely_psu="adjust")
    with pytest.raises(SpecificationError, match="lonely_psu='ajust' is not allowed"):
        _panel(lonely_psu="ajust")


def test_fpc_rules():
    bad = MAIN.copy()
    bad.loc[bad.index[0], "N_h"] = 11
    with pytest.raises(PanelError, match="varies within stratum"):
        _panel(bad)
    small = MAIN.assign(N_h=np.where(MAIN["stratum"] == 2, 3, MAIN["N_h"]))
    with pytest.raises(PanelError, match=r"more sampled than population PSUs.*5 sampled, fpc 3"):
        _panel(small)
    mixed = MAIN.assign(N_h=np.where(MAIN["stratum"] == 2, 0.5, MAIN["N_h"]))
    with pytest.raises(PanelError, match="mixes population counts"):
        _panel(mixed)
    neg = MAIN.assign(N_h=np.where(MAIN["stratum"] == 2, -1, MAIN["N_h"]))
    with pytest.raises(PanelError, match="Non-positive values in the fpc column"):
        _panel(neg)
    with pytest.raises(PanelError, match=r"Column\(s\) not found.*fpc='Nh'"):
        _panel(fpc="Nh")


def test_strata_missing_or_varying_within_unit():
    miss = MAIN.assign(stratum=MAIN["stratum"].where(MAIN.index != MAIN.index[3]))
    with pytest.raises(PanelError, match="Missing values in the strata column"):
        _panel(miss)
    vary = MAIN.assign(stratum=np.where(MAIN["period"] == 2, MAIN["stratum"] + 10,
                                        MAIN["stratum"]))
    with pytest.raises(PanelError, match="strata column 'stratum' varies within unit"):
        _panel(vary)


@pytest.mark.parametrize("option", ["adjust", "average", "certainty", "remove"])
def test_bootstrap_rows_reproduce_the_design_variance(option):
    # multipliers on these PSU rows have exactly the linearised covariance (fpc, lonely PSUs)
    from clusterimpact.inference.survey import bootstrap_rows, stratified_vcov
    rng = np.random.default_rng(3)
    z = rng.normal(size=(9, 2))
    stratum = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3])  # stratum 2 has a single PSU
    population = np.array([np.inf, 8.0, 5.0, 20.0])
    rows = bootstrap_rows(z, stratum, population, option)
    np.testing.assert_allclose(rows.T @ rows, stratified_vcov(z, stratum, population, option),
                               rtol=1e-13, atol=1e-15)


def test_multiplier_bootstrap_with_a_survey_design_matches_the_linearised_variance():
    analytic = _quiet(ci.att_gt, _panel(), "y")
    boot = _quiet(ci.att_gt, _panel(), "y", bootstrap=40_000, seed=3)
    assert "multiplier bootstrap per PSU" in boot.info["vcov_type"]
    # the reported SEs are R did's IQR/1.349 of draws on the design's PSU rows...
    from clusterimpact.inference.multiplier import multiplier_draws, summarize_draws
    d = boot.design
    rows = d.survey.bootstrap_rows(np.asarray(boot.influence) / d.n_rows, d.row_cluster)
    draws = multiplier_draws(rows, 40_000, weights=d.boot_weights, seed=d.boot_seed)
    np.testing.assert_allclose(boot.std_error, summarize_draws(draws, 0.05)[0], rtol=1e-12)
    # ...whose standard deviation is the design-based SE (Monte Carlo s.e. ~0.4% here, any seed)
    np.testing.assert_allclose(draws.std(axis=0), analytic.std_error, rtol=0.015)
    # the IQR/1.349 of draws over 24 PSUs is not the SD: 1.004-1.026 x it over seeds 1-6, so the
    # reported SEs, cell by cell and for the aggregations, are compared within 4%
    np.testing.assert_allclose(boot.std_error, analytic.std_error, rtol=0.04)
    for kind in ("simple", "dynamic"):
        a, b = analytic.aggregate(kind), boot.aggregate(kind)
        np.testing.assert_allclose(b.std_error, a.std_error, rtol=0.04)
    # and they are not the clustered (stratum- and fpc-blind) bootstrap's
    blind = _panel(MAIN.assign(psu_id=MAIN["stratum"] * 1000 + MAIN["psu"]), cluster="psu_id",
                   strata=None, fpc=None, nest=False)
    naive = _quiet(ci.att_gt, blind, "y", bootstrap=40_000, seed=3).aggregate("simple")
    assert abs(naive.std_error[0] / boot.aggregate("simple").std_error[0] - 1) > 0.03


def test_input_frame_is_not_modified():
    df = MAIN.copy()
    _panel(df)
    pd.testing.assert_frame_equal(df, MAIN)


# ------------------------------------------------------------------ Monte Carlo
def _population(seed: int = 11, n_strata: int = 4, big_n: int = 40):
    """A finite population of factories (PSUs) in strata; treated factories, two periods."""
    rng = np.random.default_rng(seed)
    stratum = np.repeat(np.arange(n_strata), big_n)
    n_psu = stratum.size
    size = rng.integers(20, 60, size=n_psu)
    treated = np.zeros(n_psu, dtype=bool)
    for h in range(n_strata):
        treated[h * big_n + rng.permutation(big_n)[: big_n // 2]] = True
    u = rng.normal(0, 1, n_psu) + 0.5 * stratum
    tau = 1.0 + 0.5 * rng.normal(size=n_psu) + 0.3 * stratum  # heterogeneous effects
    psu_of = np.repeat(np.arange(n_psu), size)
    dy = (0.5 + 0.6 * u[psu_of] + tau[psu_of] * treated[psu_of]
          + rng.normal(0, 1.0, psu_of.size))
    y1 = 10 + u[psu_of] + rng.normal(0, 1, psu_of.size)
    treat_w = treated[psu_of]
    truth = dy[treat_w].mean() - dy[~treat_w].mean()
    return {"stratum": stratum, "size": size, "treated": treated, "psu_of": psu_of,
            "y1": y1, "y2": y1 + dy, "truth": truth, "big_n": big_n,
            "start": np.r_[0, np.cumsum(size)[:-1]]}


def _sample(pop, rng, n_h: int, m: int | None) -> pd.DataFrame:
    """SRSWOR of n_h PSUs per stratum, then m workers per PSU (all when m is None)."""
    big_n = pop["big_n"]
    n_strata = pop["stratum"].size // big_n
    psus = (np.arange(n_strata)[:, None] * big_n
            + rng.random((n_strata, big_n)).argsort(1)[:, :n_h]).ravel()
    size = pop["size"][psus]
    take = size if m is None else np.full(psus.size, m)
    keep = np.arange(size.max())[None, :] < take[:, None]
    # the first `take` entries of a random permutation of each PSU's 0..size-1 workers
    perm = np.argsort(np.where(np.arange(size.max())[None, :] < size[:, None],
                               rng.random((psus.size, size.max())), 2.0), axis=1)
    pos = perm
    rows_psu = np.repeat(np.arange(psus.size), take)
    workers = pop["start"][psus][rows_psu] + pos[keep]
    weight = (big_n / n_h) * (size / take)[rows_psu]
    n = workers.size
    frame = pd.DataFrame({
        "worker": np.tile(np.arange(n), 2), "period": np.repeat([1, 2], n),
        "psu": np.tile(psus[rows_psu], 2), "stratum": np.tile(pop["stratum"][psus][rows_psu], 2),
        "first_treat": np.tile(np.where(pop["treated"][psus][rows_psu], 2, 0), 2),
        "w": np.tile(weight, 2), "N_h": big_n,
        "y": np.r_[pop["y1"][workers], pop["y2"][workers]],
    })
    return frame


def _coverage(reps: int, seed: int = 5):
    """Two-stage sample (8 of 40 factories per stratum, 6 workers each), ultimate-cluster variance.

    With second-stage subsampling the first-stage fpc alone would remove (1 - f)
    of the within-factory variance too (R survey needs an fpc for every stage
    then), so the design is declared without it: the with-replacement
    (ultimate cluster) approximation, as is usual for two-stage surveys.
    """
    pop = _population()
    rng = np.random.default_rng(seed)
    hits, est, se = [], [], []
    for _ in range(reps):
        df = _sample(pop, rng, n_h=8, m=6)
        kw = {"unit": "worker", "time": "period", "cohort": "first_treat", "cluster": "psu",
              "strata": "stratum", "weights": "w"}
        res = _quiet(ci.did, ci.Panel(df, **kw), "y", method="reg")
        low, high = res.tidy()[["conf_low", "conf_high"]].to_numpy()[0]
        hits.append(low <= pop["truth"] <= high)
        est.append(res.estimate[0])
        se.append(res.std_error[0])
    return np.mean(hits), np.array(est), np.array(se), pop["truth"]


def test_design_based_intervals_cover_reduced():
    cover, est, _se, truth = _coverage(300)
    assert 0.91 <= cover <= 0.985, cover
    assert abs(est.mean() - truth) < 3 * est.std() / np.sqrt(est.size) + 0.02


@pytest.mark.slow
def test_design_based_intervals_cover_full():
    cover, est, se, _truth = _coverage(2000)
    assert 0.93 <= cover <= 0.97, cover
    # the mean squared SE tracks the Monte Carlo variance of the estimate; the with-replacement
    # approximation overstates it by about f = 0.2 times the between-factory part (1.13 here)
    assert 0.9 < np.mean(se ** 2) / est.var() < 1.25


def test_fpc_tracks_the_sampling_variance_when_the_fraction_is_large():
    """One-stage cluster sample, 60% of PSUs drawn: SEs with the fpc match the Monte Carlo SD;
    without it they overstate it by about 1/sqrt(1 - f)."""
    pop = _population(big_n=10, seed=2)
    rng = np.random.default_rng(9)
    est, v_fpc, v_no = [], [], []
    for _ in range(300):
        df = _sample(pop, rng, n_h=6, m=None)
        kw = {"unit": "worker", "time": "period", "cohort": "first_treat", "cluster": "psu",
              "strata": "stratum", "weights": "w"}
        r1 = _quiet(ci.did, ci.Panel(df, fpc="N_h", **kw), "y", method="reg")
        r0 = _quiet(ci.did, ci.Panel(df, **kw), "y", method="reg")
        est.append(r1.estimate[0]), v_fpc.append(r1.vcov[0, 0]), v_no.append(r0.vcov[0, 0])
    mc = np.var(est)
    np.testing.assert_allclose(np.array(v_fpc) / np.array(v_no), 0.4, rtol=1e-10)
    assert 0.75 < np.mean(v_fpc) / mc < 1.3
    assert np.mean(v_no) / mc > 1.9


def test_multiplier_bootstrap_follows_strata_and_fpc_on_mpdta(mpdta):
    # states as strata of counties with a 30% sampling fraction: every cell and event time's
    # bootstrap SE converges to its design-based SE, fpc and stratification included
    df = mpdta.assign(f=0.3)
    kw = {"unit": "countyreal", "time": "year", "cohort": "first.treat", "strata": "state",
          "fpc": "f", "lonely_psu": "adjust"}
    panel = _quiet(ci.Panel, df, **kw)
    analytic = _quiet(ci.att_gt, panel, "lemp")
    boot = _quiet(ci.att_gt, panel, "lemp", bootstrap=40_000, seed=11)
    # R did's bootstrap SE is the IQR of the draws / 1.349: equal to the SD for normal draws,
    # up to ~2.5% above it here for the 2004 cells (20 treated counties, Mammen multipliers);
    # the covariance of the draws equals the design's exactly in expectation
    # (test_bootstrap_rows_reproduce_the_design_variance)
    np.testing.assert_allclose(boot.std_error, analytic.std_error, rtol=0.04)
    np.testing.assert_allclose(boot.aggregate("dynamic").std_error,
                               analytic.aggregate("dynamic").std_error, rtol=0.04)
    rows = panel.survey.bootstrap_rows(np.asarray(analytic.influence) / analytic.design.n_rows,
                                       analytic.design.row_cluster)
    draws = ci.inference.multiplier.multiplier_draws(rows, 40_000, seed=11)
    sd = np.sqrt(np.diag(analytic.vcov))
    gap = (np.cov(draws.T) - analytic.vcov) / np.outer(sd, sd)  # Monte Carlo s.e. ~0.007
    assert np.abs(gap).max() < 0.035
    bands = boot.aggregate("dynamic").tidy()
    assert (bands["band_high"] - bands["band_low"] > bands["conf_high"] - bands["conf_low"]).all()


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("method", ["twfe", "sun_abraham"])
def test_event_study_survey_matches_r_svyglm(mpdta, method, weighted):
    """vcov='survey' = R svyglm on the dummy regression (Sun-Abraham: its svycontrast of the
    cohort x event-time dummies with cohort weight-share weights), without and with county
    sampling weights 1 + countyreal mod 3; tests/reference/survey_event_study_r.R."""
    ref = json.loads((REF / "survey_event_study_r.json").read_text())
    key = ("weighted_" if weighted else "") + method
    panel = _quiet(ci.Panel, mpdta.assign(f=0.3, w=1 + mpdta["countyreal"] % 3), unit="countyreal",
                   time="year", cohort="first.treat", strata="state", fpc="f",
                   lonely_psu="adjust", weights="w" if weighted else None)
    tidy = _quiet(ci.event_study, panel, "lemp", method=method, vcov="survey").tidy()
    tidy = tidy.set_index("event_time").loc[ref["event_time"]]
    np.testing.assert_allclose(tidy["estimate"], ref[f"{key}_estimate"], rtol=1e-8)
    np.testing.assert_allclose(tidy["std_error"], ref[f"{key}_se"], rtol=1e-8)
    assert (tidy["df"] == ref["degf"]).all()
    switched = _quiet(ci.event_study, panel, "lemp", method=method).with_vcov("survey")
    np.testing.assert_allclose(switched.std_error, tidy["std_error"].to_numpy(), rtol=1e-12)


def test_event_study_survey_needs_a_design(mpdta):
    # (the imputation methods with a design: tests/inference/test_survey_imputation.py)
    plain = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")
    for method in ("twfe", "sun_abraham"):
        with pytest.raises(SpecificationError, match="needs a survey design"):
            ci.event_study(plain, "lemp", method=method, vcov="survey")


def test_event_study_vcov_none_follows_the_panel_design(mpdta):
    svy = _quiet(ci.Panel, mpdta.assign(f=0.3), unit="countyreal", time="year",
                 cohort="first.treat", strata="state", fpc="f", lonely_psu="adjust")
    auto = _quiet(ci.event_study, svy, "lemp", vcov=None)
    explicit = _quiet(ci.event_study, svy, "lemp", vcov="survey")
    np.testing.assert_array_equal(auto.std_error, explicit.std_error)
    plain = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")
    np.testing.assert_array_equal(ci.event_study(plain, "lemp", vcov=None).std_error,
                                  ci.event_study(plain, "lemp").std_error)


def test_randomization_refits_keep_the_survey_design():
    # 8 factories (PSUs) in 2 strata with an fpc, 2 treated: all 28 assignments are enumerated;
    # each is studentised by its own design-based SE, as the observed statistic (before, the
    # refitted panels dropped strata/fpc and twfe(vcov='survey') failed on them)
    from itertools import combinations
    rng = np.random.default_rng(5)
    psu = np.repeat(np.arange(8), 3 * 4)
    worker = np.repeat(np.arange(24), 4)
    period = np.tile(np.arange(4), 24)
    base = pd.DataFrame({"worker": worker, "period": period, "psu": psu, "stratum": psu // 4,
                         "N": 10.0, "y": rng.normal(size=96) + rng.normal(size=8)[psu]})

    def fit(treated):
        df = base.assign(g=np.where(np.isin(base["psu"], treated), 2, 0))
        p = _panel(df, unit="worker", time="period", cohort="g", cluster="psu",
                   strata="stratum", fpc="N", nest=False, weights=None)
        return _quiet(ci.twfe, p, "y")

    observed = fit([0, 5])
    assert observed.info["vcov_type"] == "survey"
    t = np.array([fit(list(c)).tidy()["statistic"][0] for c in combinations(range(8), 2)])
    t_obs = observed.tidy()["statistic"][0]
    ri = _quiet(observed.randomization, reps=999, statistic="t", seed=1).tidy()
    assert bool(ri["exact"][0]) and ri["reps"][0] == 28
    np.testing.assert_allclose(ri["p_value"][0], np.mean(np.abs(t) >= abs(t_obs) * (1 - 1e-10)),
                               rtol=1e-12)


def test_multiplier_bootstrap_without_a_design_is_the_clustered_one(mpdta):
    # no survey design: multipliers on the clusters' influence rows as they are (no centring,
    # no n/(n-1) or fpc scaling), as before survey designs existed (R did's bootstrap)
    from clusterimpact.inference.multiplier import multiplier_draws, summarize_draws
    p = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat", cluster="state")
    res = _quiet(ci.att_gt, p, "lemp", bootstrap=999, seed=7)
    d = res.design
    assert d.survey is None and "per PSU" not in res.info["vcov_type"]
    draws = multiplier_draws(np.asarray(res.influence), 999, weights=d.boot_weights,
                             seed=d.boot_seed) / d.n_rows
    se, crit = summarize_draws(draws, 0.05)
    np.testing.assert_allclose(res.std_error, se, rtol=1e-12)
    np.testing.assert_allclose(res.tidy()["band_low"], res.estimate - crit * se, rtol=1e-12)
    # ...and not the design-based rows: with states as the only stratum they would be centred
    # and scaled by G/(G-1)
    centred = ci.Panel(mpdta.assign(s=0), unit="countyreal", time="year", cohort="first.treat",
                       cluster="state", strata="s")
    boot = _quiet(ci.att_gt, centred, "lemp", bootstrap=999, seed=7)
    assert np.abs(boot.std_error / res.std_error - 1).max() > 1e-3
