"""``att_gt`` and the worker estimators recover the simulator's truth, scenario by scenario.

For every scenario and every estimator the scenario is built to exercise, the
estimator is run on ``R`` seeded replications; each replication knows its own
truth (the simulator's finite-sample estimand for what that estimator targets:
``aggregate_truth`` for ``att_gt`` and its subgroup versions, ``ddd_truth`` for
triple differences, ``quantile_truth`` for changes-in-changes and quantile DiD,
the always-employed effect for Lee bounds, ``takeup_truth`` for the Wald DiD (ITT and
effect on joiners, garment_codes with voluntary take-up), ``exposure_truth`` for
``exposure_did``/``exposure_twfe`` (suppliers of never-treated clusters linked to adopting
ones), ``retention_truth`` for ``retention_did`` and ``baseline_composition_truth`` for
``reweight_to_baseline``). Checks, per reported quantity:

* unbiasedness within Monte-Carlo error: ``|mean(estimate - truth)| <= z * sd(estimate -
  truth) / sqrt(R)`` with ``z = 3.5`` for one quantity and, for a family of ``k``
  quantities, the Bonferroni value with the same family-wise false-alarm rate as one
  3.5 test (``z = Phi^-1(1 - 2.33e-4 / k)``): an unbiased estimator fails with
  probability below 5e-4, a bias of about ``4 sd / sqrt(R)`` is caught;
* where the method claims calibrated standard errors: ``|mean SE / sd(estimate) - 1| <=
  0.2``, with ``R`` large enough that 0.2 is at least 3.5 Monte-Carlo standard errors of
  an SD ratio (``sqrt(1 / (2 (R - 1)))``); where it claims conservative ones (``att_gt``
  simple and dynamic aggregates with cohort effects that differ: the influence function
  carries the sampling of the cohort shares, which the simulator fixes) ``mean SE /
  sd >= 0.8``; with one treated cluster (tannery) no SE claim is made.

The default run uses ``R = 20`` replications (about 30 s of CPU for the whole file): it checks
unbiasedness only, because 20 replications cannot measure an SD to within 20%. ``-m slow`` uses
``R = 250`` and checks both. Two known gaps are recorded as strict ``xfail`` tests at the end.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import clusterimpact as ci
from clusterimpact.simulate import Outcome
from clusterimpact.simulate.scenarios import GARMENT_SUPPLIERS, GARMENT_TAKEUP

Z_ONE = 3.5
ALPHA_FAMILY = 2 * stats.norm.sf(Z_ONE)  # 4.65e-4: the false-alarm rate of one 3.5 test
SE_TOL = 0.2
REPS = 20
SLOW_REPS = 250

Record = tuple[str, float, float, float]  # label, estimate, std. error (nan if none), truth


@dataclass(frozen=True)
class Case:
    """One scenario x estimator: run ``fit`` on ``reps`` replications and check the records."""

    scenario: str
    estimator: str
    fit: Callable[[ci.simulate.Simulation], list[Record]]
    se: str = "match"  # "match", "conservative" or "none"
    overrides: tuple[tuple[str, object], ...] = ()
    variant: str = ""  # names the overrides: cases of one (scenario, variant) share simulations
    target: str = "point"  # "point": estimate = truth; "bounds": rows "... lower" <= truth <= "... upper"
    complete: bool = True  # every replication reports every quantity (False: a subgroup may be absent)
    se_skip: tuple[str, ...] = ()  # quantities whose SEs are checked separately (known gaps)

    @property
    def id(self) -> str:
        return f"{self.scenario}{self.variant}-{self.estimator}"


def run_cases(cases: list[Case], reps: int, seed0: int = 90_000) -> dict[str, pd.DataFrame]:
    """Records of every replication for cases that share a design (one simulation per seed)."""
    (design,) = {(c.scenario, c.variant) for c in cases}
    overrides = dict(cases[0].overrides)
    rows: dict[str, list] = {c.id: [] for c in cases}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        for r in range(reps):
            sim = ci.simulate.scenario(design[0], seed=seed0 + r, **overrides)
            for c in cases:
                rows[c.id] += [(*rec, r) for rec in c.fit(sim)]
    return {k: pd.DataFrame(v, columns=["label", "estimate", "std_error", "truth", "seed"])
            for k, v in rows.items()}


def summarise(records: pd.DataFrame) -> pd.DataFrame:
    """Per label: R, mean estimate, mean truth, mean error, its MC s.e., z, mean SE, SD of estimates."""
    records = records.assign(error=records["estimate"] - records["truth"])
    g = records.groupby("label", sort=False)
    out = pd.DataFrame({
        "R": g.size(), "mean_estimate": g["estimate"].mean(), "mean_truth": g["truth"].mean(),
        "bias": g["error"].mean(), "mc_se": g["error"].std(ddof=1) / np.sqrt(g.size()),
        "mean_se": g["std_error"].mean(), "sd_estimate": g["estimate"].std(ddof=1)})
    with np.errstate(divide="ignore", invalid="ignore"):
        out["z"] = out["bias"] / out["mc_se"]
        out["se_ratio"] = out["mean_se"] / out["sd_estimate"]
    return out


def z_critical(k: int) -> float:
    """Per-quantity bound with the family-wise false-alarm rate of one |z| <= 3.5 test."""
    return float(stats.norm.isf(ALPHA_FAMILY / (2 * k)))


def check(case: Case, records: pd.DataFrame, reps: int) -> pd.DataFrame:
    table = summarise(records)
    if case.complete:
        assert (table["R"] == reps).all(), table["R"]
    else:
        assert (table["R"] >= 0.8 * reps).all(), table["R"]
    exact = table["mc_se"] < 1e-12  # identities (e.g. employed: Y(0) = 1) give no Monte-Carlo spread
    assert (table.loc[exact, "bias"].abs() < 1e-10).all(), table[exact]  # identities hold exactly
    z = table.loc[~exact, "z"]
    assert np.isfinite(z).all(), table
    if case.target == "bounds":  # the lower bound is not above the truth, the upper not below it
        side = np.where(z.index.str.endswith("lower"), 1.0, -1.0)
        assert (side * z <= z_critical(len(table))).all(), table
    else:
        assert (z.abs() <= z_critical(len(table))).all(), table.sort_values("z")
    if case.se != "none" and Z_ONE * np.sqrt(1 / (2 * (reps - 1))) <= SE_TOL:
        varies = (table["sd_estimate"] > 1e-12) & np.isfinite(table["mean_se"])
        ratio = table.loc[varies & ~table.index.isin(case.se_skip), "se_ratio"]
        if case.se == "match":
            assert ((ratio - 1).abs() <= SE_TOL).all(), table[["mean_se", "sd_estimate", "se_ratio"]]
        else:
            assert (ratio >= 1 - SE_TOL).all(), table[["mean_se", "sd_estimate", "se_ratio"]]
    return table


# ------------------------------------------------------------------------------- estimators
def tidy_records(tidy: pd.DataFrame, truth: pd.DataFrame, keys: list[str], prefix: str) -> list[Record]:
    """Pair tidy estimates with truth rows on ``keys`` (every estimate must have a truth)."""
    if not keys:
        assert len(tidy) == len(truth) == 1
        return [(prefix, float(tidy["estimate"].iloc[0]), float(tidy["std_error"].iloc[0]),
                 float(truth["effect"].iloc[0]))]
    tidy = tidy.copy()
    truth = truth.copy()
    for k in keys:
        numeric = k in ("cohort", "time", "event_time")
        tidy[k] = tidy[k].astype(float if numeric else str)
        truth[k] = truth[k].astype(float if numeric else str)
    merged = tidy.merge(truth, on=keys, how="left", validate="1:1")
    assert merged["effect"].notna().all(), merged
    labels = merged[keys].astype(str).agg(",".join, axis=1)
    return [(f"{prefix} {lab}", float(e), float(s), float(t)) for lab, e, s, t in
            zip(labels, merged["estimate"], merged["std_error"], merged["effect"], strict=True)]


KEY = {"simple": [], "group": ["cohort"], "dynamic": ["event_time"], "calendar": ["time"]}


def att_gt_fit(outcomes: tuple[str, ...], kinds: tuple[str, ...]) -> Callable:
    """``att_gt(panel, y).aggregate(kind)`` against ``aggregate_truth(kind, y)``."""
    def fit(sim):
        out = []
        for y in outcomes:
            res = ci.att_gt(sim.panel, y)
            for kind in kinds:
                out += tidy_records(res.aggregate(kind).tidy(), sim.aggregate_truth(kind, y), KEY[kind],
                                    f"{y} {kind}")
        return out
    return fit


def subgroup_fit(outcomes: tuple[str, ...], by: str) -> Callable:
    """``workers.subgroup_effects(panel, outcomes, by=by)`` against ``aggregate_truth(by=by)``."""
    def fit(sim):
        tidy = ci.workers.subgroup_effects(sim.panel, list(outcomes), by=by, adjust=None).tidy()
        out = []
        for y in outcomes:
            rows = tidy[tidy["outcome"] == y]
            out += tidy_records(rows, sim.aggregate_truth("simple", y, by=by), [by], y)
        return out
    return fit


def tier_fit(outcomes: tuple[str, ...]) -> Callable:
    def fit(sim):
        tidy = ci.workers.tier_effects(sim.panel, list(outcomes), adjust=None).tidy()
        out = []
        for y in outcomes:
            rows = tidy[tidy["outcome"] == y]
            out += tidy_records(rows, sim.aggregate_truth("simple", y, by="tier"), ["tier"], y)
        return out
    return fit


def outsourcing_fit(sim):
    """Firm panel: each firm counts once, so the truth is per firm (``per="firm"``)."""
    tidy = ci.workers.outsourcing_effects(sim.data, adjust=None).tidy()
    return tidy_records(tidy, sim.aggregate_truth("simple", "outsourced_share", by="tier", per="firm"),
                        ["tier"], "outsourced_share")


def employment_fit(sim):
    tidy = ci.workers.employment_effects(sim.panel, by="site", adjust=None).tidy()
    return tidy_records(tidy, sim.aggregate_truth("simple", "employed", by="site"), ["site"], "employed")


def ddd_fit(y: str, subgroup: str, target: str, kinds: tuple[str, ...] = ("simple", "group")) -> Callable:
    def fit(sim):
        res = ci.ddd(sim.panel, y, subgroup=subgroup, target=target)
        out = []
        for kind in kinds:
            out += tidy_records(res.aggregate(kind).tidy(),
                                sim.ddd_truth(subgroup, target, kind, outcome=y), KEY[kind], f"ddd {kind}")
        return out
    return fit


QUANTILES = (0.25, 0.5, 0.75, 0.9)


def distributional_fit(method: Callable, y: str) -> Callable:
    def fit(sim):
        res = method(sim.panel, y, quantiles=QUANTILES, reps=49, seed=sim.seed)
        return tidy_records(res.tidy(), sim.quantile_truth(y, QUANTILES), ["term"], method.__name__)
    return fit


def lee_frame(sim, y: str = "earnings") -> pd.DataFrame:
    """Last period of the first cohort and never-treated workers: change since the base period."""
    d, last = sim.data, sim.params.periods[-1]
    g = sim.params.cohorts[0]
    keep = d["cohort"].isin([0, g]).to_numpy()
    pre = d[keep & (d["period"] == g - 1).to_numpy()].set_index("worker_id")
    post = d[keep & (d["period"] == last).to_numpy()].set_index("worker_id")
    out = pd.DataFrame({"cluster": post["cluster_id"], "treated": (post["cohort"] > 0).astype(int),
                        "employed": post["employed"].astype(int), "dy": post[y] - pre[y]})
    out.loc[out["employed"] == 0, "dy"] = np.nan
    return out


def lee_fit(sim):
    """Both Lee bounds, each paired with the effect on the always-employed (employed at the end)."""
    b = ci.lee_bounds(lee_frame(sim), "dy", treatment="treated", selected="employed", cluster="cluster")
    cells = sim.truth_table("employed", "earnings")
    g, last = sim.params.cohorts[0], sim.params.periods[-1]
    cell = cells[(cells["cohort"] == g) & (cells["time"] == last) & (cells["employed"] == 1.0)]
    truth = float(cell["effect"].iloc[0])
    return [(f"lee {k}", float(e), float(s), truth)
            for k, e, s in zip(("lower", "upper"), b.estimate, b.std_error, strict=True)]


def wald_frame(sim, g: int) -> pd.DataFrame:
    """The 2x2 of take-up: cohort ``g`` (offered) against never-treated clusters, periods g - 1 and last."""
    d, last = sim.data, sim.params.periods[-1]
    keep = (d["cohort"].isin([0, g]) & d["period"].isin([g - 1, last])).to_numpy()
    return d[keep].assign(offered=(d["cohort"][keep] > 0).astype(int),
                          post=(d["period"][keep] == last).astype(int))


def wald_fit(outcomes: tuple[str, ...]) -> Callable:
    """``workers.wald_did``: ITT against the mean effect, Wald-DID and Wald-TC against the joiners' effect."""
    def fit(sim):
        out, last = [], sim.params.periods[-1]
        for g in sim.params.cohorts:
            frame = wald_frame(sim, g)
            for y in outcomes:
                res = ci.workers.wald_did(frame, y, group="offered", period="post", takeup="takeup",
                                          cluster="cluster_id")
                truth = sim.takeup_truth(y).set_index(["cohort", "time"])
                post, pre = truth.loc[(g, last)], truth.loc[(g, g - 1)]
                assert pre["itt"] == 0 and pre["first_stage"] == 0  # no anticipation: nothing before
                targets = {"itt": post["itt"], "first_stage": post["first_stage"],
                           "wald_did": post["effect_on_joiners"], "wald_tc": post["effect_on_joiners"]}
                out += [(f"{y} g={g} {term}", float(e), float(se), float(targets[term]))
                        for term, e, se in zip(res.keys["term"], res.estimate, res.std_error, strict=True)]
        return out
    return fit


def supplier_panel(sim) -> ci.Panel:
    """Workers of never-treated clusters; exposure = baseline share of sales to a treated partner cluster.

    Built as an evaluator would: trade links (share to the partner cluster, the rest to the home
    market) and the clusters' roll-out dates go through ``workers.supplier_exposure``.
    """
    d = sim.data
    own = d[(d["cohort"] == 0).to_numpy()]
    firms = own.drop_duplicates("firm_id")
    share = firms["partner_sales_share"].to_numpy()
    links = pd.DataFrame({"supplier_id": np.tile(firms["firm_id"].to_numpy(), 2),
                          "buyer_id": np.r_[firms["partner_cluster"].to_numpy(), np.full(len(firms), -1)],
                          "sales": np.r_[share, 1.0 - share]})
    buyers = (d.drop_duplicates("cluster_id")[["cluster_id", "cohort"]]
              .rename(columns={"cluster_id": "buyer_id"}))
    exposure = ci.workers.supplier_exposure(links, buyers)[["supplier_id", "exposure", "onset"]]
    frame = own.merge(exposure, left_on="firm_id", right_on="supplier_id", how="left", validate="m:1")
    return ci.Panel(frame, unit="worker_id", time="period", cohort="onset", cluster="cluster_id")


BINS = (0.0, 0.5, 1.0)


def exposure_fit(outcomes: tuple[str, ...]) -> Callable:
    """``exposure_did`` by bin against ``exposure_truth``; ``exposure_twfe`` against the slope."""
    def fit(sim):
        panel, out = supplier_panel(sim), []
        for y in outcomes:
            res = ci.workers.exposure_did(panel, y, bins=BINS)
            out += tidy_records(res.tidy(), sim.exposure_truth(y, bins=BINS), ["exposure_bin"],
                                f"{y} exposure_did")
            twfe = ci.workers.exposure_twfe(panel, y)
            slope = sim.exposure_truth(y)["effect_per_exposure"].iloc[0]
            out.append((f"{y} exposure_twfe slope", float(twfe.estimate[0]), float(twfe.std_error[0]),
                        float(slope)))
        return out
    return fit


def unlinked_att_gt_fit(outcomes: tuple[str, ...]) -> Callable:
    """Without the linked firms (whose spillovers contaminate comparisons), att_gt on the subset's truth."""
    inner = att_gt_fit(outcomes, ("simple", "group"))

    def fit(sim):
        sub = sim.subset((sim.data["partner_cluster"] == 0).to_numpy())
        return inner(sub)
    return fit


def retention_fit(by: str, employed: str | None) -> Callable:
    def fit(sim):
        tidy = ci.workers.retention_did(sim.panel, by=by, employed=employed, adjust=None).tidy()
        return tidy_records(tidy, sim.retention_truth(by=by), [by], "retained")
    return fit


def reweight_fit(y: str, by: str) -> Callable:
    def fit(sim):
        res = ci.workers.reweight_to_baseline(sim.panel, y, by=by)
        return [(f"{y} baseline composition by {by}", float(res.estimate[0]), float(res.std_error[0]),
                 float(sim.baseline_composition_truth(y, by=by)["effect"].iloc[0]))]
    return fit


# ------------------------------------------------------------------------------- the cases
EXPOSURE_BIN_LABELS = tuple(f"{y} exposure_did {b}" for y in ("wage", "hours")
                            for b in ("(0, 0.5]", "(0.5, 1]"))
WOMEN_ONLY = (("outcomes", (Outcome("income", baseline=80.0, cluster_sd=10.0, unit_sd=25.0, time_sd=3.0,
                                    cluster_time_sd=6.0, noise_sd=15.0, rho=0.4,
                                    baseline_by={"gender": {"female": -20.0}}, effect=0.0,
                                    effect_by={"gender": {"female": 8.0}}, dynamic=(0.5, 1.0, 1.2)),)),
              ("survey_weights", False))

CASES = [
    # staggered_basic: ATT(g, t) differing by cohort and growing with exposure
    Case("staggered_basic", "att_gt group", att_gt_fit(("y",), ("group",))),
    Case("staggered_basic", "att_gt simple+dynamic+calendar",
         att_gt_fit(("y",), ("simple", "dynamic", "calendar")), se="conservative"),
    # football_stitching: opposite-signed subgroup effects, exclusion, distributional change
    Case("football_stitching", "att_gt",
         att_gt_fit(("earnings", "employed"), ("simple", "group", "dynamic")), se="conservative"),
    Case("football_stitching", "subgroup_effects site", subgroup_fit(("earnings",), "site"), complete=False,
         se_skip=("earnings factory",)),
    Case("football_stitching", "subgroup_effects gender", subgroup_fit(("earnings",), "gender")),
    Case("football_stitching", "employment_effects site", employment_fit, se="conservative",
         complete=False),
    Case("football_stitching", "ddd home", ddd_fit("earnings", "site", "home")),
    Case("football_stitching", "changes_in_changes", distributional_fit(ci.changes_in_changes, "earnings")),
    Case("football_stitching", "quantile_did", distributional_fit(ci.workers.quantile_did, "earnings")),
    Case("football_stitching", "lee_bounds always-employed", lee_fit, target="bounds"),
    Case("football_stitching", "reweight_to_baseline gender", reweight_fit("earnings", "gender")),
    Case("football_stitching", "retention_did gender", retention_fit("gender", "employed"),
         overrides=(("attrition", 0.05),), variant="[attrition]"),
    Case("football_stitching", "retention_did site", retention_fit("site", None),
         overrides=(("exclusion_mode", "drop"),), variant="[drop]", complete=False),
    # garment_codes: first tier gains, work and long hours move to lower tiers
    Case("garment_codes", "att_gt",
         att_gt_fit(("wage", "hours", "accident"), ("simple", "group", "dynamic")), se="conservative"),
    Case("garment_codes", "tier_effects", tier_fit(("wage", "hours", "accident"))),
    Case("garment_codes", "outsourcing_effects", outsourcing_fit),
    # garment_codes with voluntary take-up: mostly first-tier firms join; ITT and effect on joiners
    Case("garment_codes", "wald_did", wald_fit(("wage", "hours")), overrides=tuple(GARMENT_TAKEUP.items()),
         variant="[takeup]"),
    Case("garment_codes", "att_gt ITT", att_gt_fit(("wage", "hours"), ("simple", "group")),
         se="conservative", overrides=tuple(GARMENT_TAKEUP.items()), variant="[takeup]"),
    # garment_codes with domestic suppliers linked to exporting clusters: spillovers by exposure
    Case("garment_codes", "exposure_did+twfe", exposure_fit(("wage", "hours")),
         overrides=tuple(GARMENT_SUPPLIERS.items()), variant="[suppliers]",
         se_skip=EXPOSURE_BIN_LABELS),
    Case("garment_codes", "att_gt unlinked firms", unlinked_att_gt_fit(("wage", "hours")), se="conservative",
         overrides=tuple(GARMENT_SUPPLIERS.items()), variant="[suppliers]"),
    # village_distribution: survey weights, three waves, women gain more
    Case("village_distribution", "att_gt",
         att_gt_fit(("income", "confidence", "cohesion"), ("simple", "group", "dynamic")),
         se="conservative"),
    Case("village_distribution", "subgroup_effects gender", subgroup_fit(("income", "confidence"), "gender")),
    Case("village_distribution", "reweight_to_baseline gender", reweight_fit("income", "gender")),
    Case("village_distribution", "att_gt repeated cross-sections", att_gt_fit(("income",), ("simple",)),
         se="conservative", overrides=(("design", "repeated_cross_section"), ("firms_per_cluster", 40)),
         variant="[rcs]"),
    Case("village_distribution", "ddd women-only effect", ddd_fit("income", "gender", "female"),
         overrides=WOMEN_ONLY, variant="[women-only]"),
    # tannery_effluent: ONE treated cluster; no claim about analytic SEs
    Case("tannery_effluent", "att_gt dynamic", att_gt_fit(("log_bod", "treatment_cost"), ("dynamic",)),
         se="none"),
    Case("tannery_effluent", "att_gt",
         att_gt_fit(("log_bod", "log_cod", "log_chromium", "treatment_cost"), ("simple",)),
         se="none"),
    Case("tannery_effluent", "subgroup_effects size_class",
         subgroup_fit(("log_bod", "treatment_cost"), "size_class"), se="none", complete=False),
]


@functools.cache
def records(design: tuple[str, str], reps: int) -> dict[str, pd.DataFrame]:
    """Records of every case of one design, computed once per ``reps`` and shared by its tests."""
    return run_cases([c for c in CASES if (c.scenario, c.variant) == design], reps)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_recovers_truth(case):
    check(case, records((case.scenario, case.variant), REPS)[case.id], REPS)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_recovers_truth_many_replications(case):
    check(case, records((case.scenario, case.variant), SLOW_REPS)[case.id], SLOW_REPS)


# ------------------------------------------------------------------------------- known gaps
@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="subgroup in few clusters: the factory subgroup of football_stitching "
                   "is present in about 9-11 of 30 clusters (about 4 comparison clusters); its analytic SE "
                   "is about 28% below the spread of the estimates. att_gt(by=) now says so with a "
                   "FewClustersWarning naming the subgroup (the remedy is the wild bootstrap); the "
                   "analytic SE itself stays small, which this test records. small_sample=True "
                   "narrows the gap (SE 14% below the spread, 150 replications; coverage 76% -> "
                   "83%) but does not close it")
def test_subgroup_se_in_few_clusters():
    case = next(c for c in CASES if c.id == "football_stitching-subgroup_effects site")
    table = summarise(records((case.scenario, case.variant), SLOW_REPS)[case.id])
    assert abs(table.loc["earnings factory", "se_ratio"] - 1) <= SE_TOL


@pytest.mark.parametrize("method", ["ddd", "cic"])
def test_weighted_panel_is_weighted(method):
    """ddd and changes_in_changes use the Panel's sampling weights, as att_gt does (they used to
    ignore them and estimate the unweighted effect on village_distribution)."""
    sim = ci.simulate.scenario("village_distribution", seed=1)
    unweighted = ci.Panel(sim.data, unit="respondent_id", time="period", cohort="cohort",
                          cluster="village_id")
    if method == "ddd":
        def fit(panel):
            return ci.ddd(panel, "income", subgroup="gender", target="female").aggregate().estimate
    else:
        def fit(panel):
            return ci.changes_in_changes(panel, "income", quantiles=[0.5], reps=2, seed=1).estimate
    assert not np.allclose(fit(sim.panel), fit(unweighted))


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="exposure_did in few exposed clusters: about 10 domestic clusters "
                   "have a treated partner (each bin fewer); with 250 replications the analytic SE of each "
                   "bin is 22-29% below the spread of the estimates (exposure_twfe's CR1 slope: 12-14% "
                   "below, within tolerance); exposure_did(..., small_sample=True) leaves it "
                   "12-16% below (150 replications)")
def test_exposure_did_se_in_few_exposed_clusters():
    case = next(c for c in CASES if c.id == "garment_codes[suppliers]-exposure_did+twfe")
    table = summarise(records((case.scenario, case.variant), SLOW_REPS)[case.id])
    assert ((table.loc[list(EXPOSURE_BIN_LABELS), "se_ratio"] - 1).abs() <= SE_TOL).all()
