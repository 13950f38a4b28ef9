"""Named scenarios: simulated cluster programmes with parameters stylised from case studies.

Every scenario is SIMULATED. The parameters are drawn from what the case
literature describes qualitatively (who works where, who gains, who loses,
how the programme was rolled out); none is estimated from real data.

Examples
--------
>>> import clusterimpact as ci
>>> sorted(ci.simulate.scenarios())[:2]
['football_stitching', 'garment_codes']
>>> sim = ci.simulate.scenario("staggered_basic", seed=7, n_clusters=12, firms_per_cluster=2)
>>> sim.data.equals(ci.simulate.scenario("staggered_basic", seed=7, n_clusters=12,
...                                      firms_per_cluster=2).data)
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from clusterimpact.errors import SpecificationError, suggest
from clusterimpact.simulate.engine import generate
from clusterimpact.simulate.params import Outcome, SimParams
from clusterimpact.simulate.simulation import Simulation

__all__ = ["scenario", "scenarios"]

LUND_THOMSEN_NADVI = (
    "Lund-Thomsen, P. and Nadvi, K. (2010). Clusters, chains and compliance: corporate social "
    "responsibility and governance in football manufacturing in South Asia. Journal of Business "
    "Ethics 93(2), 201-222.")
LTLV_2016 = (
    "Lund-Thomsen, P., Lindgreen, A. and Vanhamme, J. (2016). Industrial clusters and corporate "
    "social responsibility in developing countries: what we know, what we do not know, and what we "
    "need to know. Journal of Business Ethics 133(1), 9-24.")
PYKE_LT = (
    "Pyke, F. and Lund-Thomsen, P. (2016; online 2015). Social upgrading in developing country "
    "industrial clusters: a reflection on the literature. Competition & Change 20(1), 53-68.")
KENNEDY_1999 = (
    "Kennedy, L. (1999). Cooperating for survival: tannery pollution and joint action in the Palar "
    "Valley (India). World Development 27(9), 1673-1691.")
BARRIENTOS_SMITH = (
    "Barrientos, S. and Smith, S. (2007). Do workers benefit from ethical trade? Assessing codes of "
    "labour practice in global production systems. Third World Quarterly 28(4), 713-729.")
CALLAWAY_SANTANNA = (
    "Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time "
    "periods. Journal of Econometrics 225(2), 200-230.")


@dataclass(frozen=True)
class _Scenario:
    summary: str
    build: Callable[[], SimParams]
    truth_by: tuple[str, ...]
    notes: str
    references: tuple[str, ...]


def _football() -> SimParams:
    earnings = Outcome(
        "earnings", baseline=3.0, cluster_sd=0.3, unit_sd=0.5, time_sd=0.15, cluster_time_sd=0.25,
        noise_sd=0.4, rho=0.5,
        baseline_by={"gender": {"female": -0.6}, "site": {"home": -0.4}, "age_group": {"child": -1.2}},
        effect=0.0, effect_by={"site": {"factory": 0.4, "centre": 0.7}}, dynamic=(0.6, 1.0),
        when_excluded=0.0)
    return SimParams(
        outcomes=(earnings,), n_clusters=30, n_periods=8, cohorts=(3, 5), cohort_sizes=(10, 10),
        firms_per_cluster=6, tier_shares=(0.05, 0.25, 0.70), workers_per_firm=(30.0, 15.0, 4.0),
        site_by_tier=("factory", "centre", "home"), female_share=(0.05, 0.1, 0.85),
        child_share=(0.0, 0.02, 0.15), youth_share=(0.3, 0.35, 0.3),
        contract_shares=((0.3, 0.1, 0.1, 0.5), (0.0, 0.1, 0.1, 0.8), (0.0, 0.0, 0.0, 1.0)),
        migrant_share=0.05, export_share=1.0,
        exclusion={"site": {"home": 0.6}, "age_group": {"child": 0.9}}, exclusion_mode="zero",
        exclusion_spread=2)


def _tannery() -> SimParams:
    def pollutant(name: str, level: float, effect: float) -> Outcome:
        return Outcome(name, baseline=level, cluster_sd=0.4, unit_sd=0.35, time_sd=0.1,
                       cluster_time_sd=0.12, noise_sd=0.25, rho=0.6, trend=-0.005,
                       baseline_by={"size_class": {"small": 0.3, "large": -0.3}},
                       effect=effect, effect_by={"size_class": {"small": 0.4 * effect}},
                       dynamic=(0.4, 0.7, 1.0))

    cost = Outcome("treatment_cost", baseline=20.0, cluster_sd=3.0, unit_sd=3.0, time_sd=0.5,
                   cluster_time_sd=1.0, noise_sd=1.5, rho=0.6,
                   baseline_by={"size_class": {"small": -8.0, "large": 4.0}},
                   effect=3.0, effect_by={"size_class": {"small": 6.0, "large": -5.0}}, dynamic=(0.5, 1.0))
    return SimParams(
        outcomes=(pollutant("log_bod", np.log(1500.0), -1.2), pollutant("log_cod", np.log(4000.0), -0.9),
                  pollutant("log_chromium", np.log(120.0), -1.0), cost),
        level="firm", n_clusters=12, n_periods=20, cohorts=(13,), cohort_sizes=(1,),
        firms_per_cluster=30, tier_shares=(0.2, 0.5, 0.3), workers_per_firm=(80.0, 20.0, 5.0),
        export_share=0.7, id_names=("cluster_id", "tannery_id", "worker_id"))


def _garment() -> SimParams:
    wage = Outcome("wage", baseline=5.0, cluster_sd=0.4, unit_sd=0.6, time_sd=0.15, cluster_time_sd=0.2,
                   noise_sd=0.4, trend=0.05,
                   baseline_by={"tier": {"subcontractor": -1.0, "home_based": -2.0},
                                "gender": {"female": -0.6}, "cluster_type": {"domestic": -0.8}},
                   effect=0.5, effect_by={"tier": {"subcontractor": -0.5, "home_based": -0.7}},
                   dynamic=(0.5, 1.0), spillover=-0.3)
    hours = Outcome("hours", baseline=58.0, cluster_sd=2.0, unit_sd=4.0, time_sd=1.0, cluster_time_sd=1.5,
                    noise_sd=3.0, baseline_by={"tier": {"home_based": -12.0}},
                    effect=-6.0, effect_by={"tier": {"subcontractor": 9.0, "home_based": 8.0}},
                    dynamic=(0.5, 1.0), spillover=5.0)
    accident = Outcome("accident", baseline=-1.3, cluster_sd=0.2, unit_sd=0.3, time_sd=0.1,
                       cluster_time_sd=0.15, noise_sd=1.0, rho=0.2,
                       baseline_by={"tier": {"subcontractor": 0.3}},
                       effect=-0.5, effect_by={"tier": {"subcontractor": 0.7, "home_based": 0.5}},
                       scale="binary", spillover=0.4)
    return SimParams(
        outcomes=(wage, hours, accident), n_clusters=40, n_periods=8, cohorts=(4, 6), cohort_sizes=(10, 10),
        assignment="export_first", export_share=0.5, firms_per_cluster=6,
        tier_shares=(0.35, 0.4, 0.25), workers_per_firm=(40.0, 12.0, 4.0),
        site_by_tier=("factory", "factory", "home"), female_share=(0.7, 0.6, 0.9),
        child_share=(0.0, 0.02, 0.06), migrant_share=0.4, outsourcing=1.0)


#: Overrides of ``garment_codes`` for voluntary adoption of the code by firms of offered clusters.
GARMENT_TAKEUP: dict[str, Any] = {
    "takeup": 0.35, "takeup_by": {"tier": {"first_tier": 0.45, "home_based": -0.2}}}
#: Overrides of ``garment_codes`` linking lower-tier firms to an exporting partner cluster.
GARMENT_SUPPLIERS: dict[str, Any] = {"linked_share": 0.6, "linked_exposure": (0.2, 1.0)}


def _village() -> SimParams:
    income = Outcome("income", baseline=80.0, cluster_sd=10.0, unit_sd=25.0, time_sd=3.0,
                     cluster_time_sd=6.0, noise_sd=15.0, rho=0.4, baseline_by={"gender": {"female": -20.0}},
                     effect=4.0, effect_by={"gender": {"female": 4.0}}, dynamic=(0.5, 1.0, 1.2))
    confidence = Outcome("confidence", cluster_sd=0.2, unit_sd=0.7, time_sd=0.05, cluster_time_sd=0.1,
                         noise_sd=0.5, rho=0.3, baseline_by={"gender": {"female": -0.3}},
                         effect=0.05, effect_by={"gender": {"female": 0.25}})
    cohesion = Outcome("cohesion", cluster_sd=0.3, unit_sd=0.6, time_sd=0.05, cluster_time_sd=0.15,
                       noise_sd=0.5, rho=0.3, effect=-0.05, dynamic=(0.5, 1.0))
    return SimParams(
        outcomes=(income, confidence, cohesion), n_clusters=60, n_periods=6, cohorts=(3, 4, 5),
        never_share=0.25, firms_per_cluster=12, tier_shares=(0.0, 0.0, 1.0),
        workers_per_firm=(1.0, 1.0, 2.5), female_share=(0.5, 0.5, 0.5), child_share=(0.0, 0.0, 0.0),
        youth_share=(0.25, 0.25, 0.25), migrant_share=0.1, survey_weights=True,
        id_names=("village_id", "household_id", "respondent_id"),
        drop_columns=("cluster_type", "tier", "size_class", "firm_size", "contract", "site"))


def _staggered() -> SimParams:
    y = Outcome("y", baseline=10.0, effect=1.0, effect_by_cohort={3: 0.5, 7: -0.5},
                dynamic=(1.0, 1.3, 1.6, 1.9, 2.2, 2.5), effect_sd=0.3)
    return SimParams(outcomes=(y,), n_clusters=40, n_periods=8, cohorts=(3, 5, 7), never_share=0.25,
                     firms_per_cluster=5)


_SCENARIOS: dict[str, _Scenario] = {
    "football_stitching": _Scenario(
        "Sialkot-style football stitching: monitoring moves stitching into centres; centre wages rise "
        "while home-based (mostly women) stitchers and children lose work.",
        _football, ("gender", "site"),
        "Stylised on the Atlanta Agreement (1997) child-labour monitoring in Sialkot, Pakistan, joined "
        "by manufacturers in waves: stitching moved from homes to registered stitching centres, "
        "earnings of (mostly male) centre stitchers rose, while many women who could not work outside "
        "the home, and children, lost work in the brands' chain. Clusters are stitching networks; "
        "tiers are manufacturer (factory), stitching centre and home-based unit. Earnings (thousand "
        "rupees a month, stitching only) are 0 once a worker is excluded, and employed drops to 0. "
        "Opposite-signed effects (centre gains, home losses) roughly cancel on average.",
        (LUND_THOMSEN_NADVI, LTLV_2016, PYKE_LT)),
    "tannery_effluent": _Scenario(
        "A common effluent treatment plant (CETP) in ONE tannery cluster; firm-level pollution and "
        "cost outcomes; few donor clusters.",
        _tannery, ("size_class",),
        "Stylised on joint action for common effluent treatment in tannery clusters (Palar Valley, "
        "Tamil Nadu; Jajmau, Kanpur): by default one cluster connects its tanneries to a CETP in period "
        "13 of 20 (quarters); 11 untreated clusters serve as donors for synthetic control. Outcomes are the "
        "logs of BOD, COD and total chromium in discharged effluent (mg/l) and treatment cost per "
        "tonne of hides; small tanneries, with no own treatment before, gain most in pollution and pay "
        "most in cost; large ones save. With one treated cluster, cluster-level inference needs "
        "few-cluster methods.",
        (KENNEDY_1999, LTLV_2016, PYKE_LT)),
    "garment_codes": _Scenario(
        "Garment codes of conduct in export clusters: first-tier conditions improve while work moves "
        "to subcontractors and home-workers.",
        _garment, ("tier",),
        "Export-oriented clusters adopt buyer codes in two waves; domestic clusters never do. Codes "
        "raise first-tier wages (USD a day), cut excessive hours and accidents; first-tier firms "
        "outsource more (firm-level outsourced_share), and lower-tier workers see unchanged wages, "
        "longer hours and no safety gain. Two mechanisms are off by default and switched on by "
        "overrides (GARMENT_TAKEUP, GARMENT_SUPPLIERS in clusterimpact.simulate.scenarios): "
        "voluntary take-up (takeup=0.35 with +0.45 for first-tier firms and -0.2 for home-based "
        "units: only joiners are affected, and they are mostly first-tier firms, which gain most), "
        "and lower-tier firms selling to the first tier of another cluster (linked_share=0.6, share "
        "of sales to that partner drawn from 0.2 to 1): once the partner adopts the code, work moved "
        "to suppliers whose own cluster has not adopted lowers their wages by 0.3 x exposure, "
        "lengthens hours by 5 x exposure and raises accident risk (spillover; in domestic clusters, "
        "which never adopt, these are the exposed suppliers of Simulation.exposure_truth).",
        (BARRIENTOS_SMITH, LTLV_2016, PYKE_LT)),
    "village_distribution": _Scenario(
        "Clean-technology sales agents rolled out across villages in three waves; survey outcomes on "
        "income, confidence and social cohesion, with survey weights.",
        _village, ("gender",),
        "Villages are clusters, households the middle level, respondents the units. Women agents gain "
        "more income and confidence than men; social cohesion falls slightly. Survey weights are "
        "village population over sample size. Override design='repeated_cross_section' for fresh "
        "respondents each round (the Panel then has unit=None; each simulated person is interviewed "
        "once, so raise firms_per_cluster for larger rounds).",
        (LTLV_2016, PYKE_LT)),
    "staggered_basic": _Scenario(
        "A plain staggered roll-out with heterogeneous dynamic effects and known ATT(g,t), for tests "
        "and Monte Carlo.",
        _staggered, (),
        "Three waves (periods 3, 5, 7) and never-treated clusters; effects differ by cohort and grow "
        "with exposure; parallel trends hold unless pretrend is set.",
        (CALLAWAY_SANTANNA,)),
}


def scenarios() -> dict[str, str]:
    """Names of the built-in scenarios with a one-line description.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> "football_stitching" in ci.simulate.scenarios()
    True
    """
    return {name: s.summary for name, s in _SCENARIOS.items()}


def scenario(name: str, *, seed: int | np.random.Generator | None = None, **overrides: Any) -> Simulation:
    """Simulate a named cluster-programme scenario with known true effects.

    Parameters
    ----------
    name
        One of :func:`scenarios`.
    seed
        Integer seed or a ``numpy.random.Generator``; ``None`` draws fresh
        entropy (recorded in ``Simulation.seed``). The global RNG is never used.
    **overrides
        Fields of :class:`~clusterimpact.simulate.params.SimParams` to replace
        (e.g. ``n_clusters=100``, ``pretrend=0.2``, ``design="repeated_cross_section"``).

    Returns
    -------
    Simulation
        ``.data``, ``.panel``, ``.truth``, ``.params``, ``.describe()``.

    Raises
    ------
    SpecificationError
        For an unknown scenario or parameter name (with the closest names) or
        an invalid parameter value.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1, n_clusters=6, cohort_sizes=(2, 2))
    >>> sim.panel.cluster, sim.truth.columns.tolist()[:6]
    ('cluster_id', ['outcome', 'cohort', 'time', 'event_time', 'gender', 'site'])
    """
    if name not in _SCENARIOS:
        raise SpecificationError(f"Unknown scenario {name!r}.{suggest(name, _SCENARIOS)} "
                                 f"Scenarios: {', '.join(_SCENARIOS)}.")
    spec = _SCENARIOS[name]
    params = spec.build().with_overrides(**overrides)
    if isinstance(seed, np.random.Generator):
        rng, used = seed, None
    else:
        if seed is None:
            seed = int(np.random.SeedSequence().entropy) % 2**63
        elif isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise SpecificationError(
                f"seed must be an int, a numpy Generator or None, got {type(seed).__name__}.")
        used = int(seed)
        rng = np.random.default_rng(used)
    data, effects = generate(params, rng)
    return Simulation(name=name, data=data, effects=effects, params=params, seed=used,
                      truth_by=tuple(c for c in (*spec.truth_by, "takeup") if c in data),
                      summary=spec.summary,
                      notes=spec.notes, references=spec.references)
