"""Parameters of the cluster-programme data-generating process.

Two frozen dataclasses describe a simulation completely: :class:`Outcome`
(how one outcome is generated and how the programme moves it) and
:class:`SimParams` (the clusters, firms, workers, roll-out and the
programme-wide mechanisms: anticipation, spillovers, outsourcing, exclusion,
attrition, violated parallel trends). Everything is validated once, in
``__post_init__``, with :class:`~clusterimpact.errors.SpecificationError`
messages that name the field.

Examples
--------
>>> from clusterimpact.simulate.params import Outcome, SimParams
>>> p = SimParams(outcomes=(Outcome("y", effect=1.0),), n_clusters=10)
>>> p.n_clusters, p.outcomes[0].name
(10, 'y')
>>> p.with_overrides(n_periods=6).n_periods
6
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from clusterimpact.errors import SpecificationError, suggest

__all__ = ["ATTRIBUTES", "TIERS", "Outcome", "SimParams"]

#: The three supply-chain tiers, in the order used by every per-tier tuple.
TIERS: tuple[str, str, str] = ("first_tier", "subcontractor", "home_based")
CONTRACTS: tuple[str, ...] = ("permanent", "casual", "contract_labour", "piece_rate")
SITES: tuple[str, ...] = ("factory", "centre", "home")

#: Attribute columns that ``effect_by``, ``baseline_by`` and ``exclusion`` may refer to, with
#: their levels. Worker attributes exist only when ``level="worker"``.
ATTRIBUTES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "cluster_type": ("export", "domestic"),
    "tier": TIERS,
    "size_class": ("small", "medium", "large"),
    "gender": ("female", "male"),
    "age_group": ("child", "youth", "adult"),
    "contract": CONTRACTS,
    "site": SITES,
    "migrant_status": ("migrant", "local"),
})
FIRM_ATTRIBUTES = ("cluster_type", "tier", "size_class")

Scale = Literal["identity", "exp", "logistic", "binary"]
Level = Literal["unit", "firm"]


def _freeze(mapping: Mapping[Any, Any] | None) -> Mapping[Any, Any]:
    """A read-only copy of a (possibly nested) mapping."""
    if mapping is None:
        return MappingProxyType({})
    return MappingProxyType({k: _freeze(v) if isinstance(v, Mapping) else v for k, v in mapping.items()})


def _check_attribute_map(owner: str, mapping: Mapping[str, Mapping[str, float]]) -> None:
    for attribute, levels in mapping.items():
        if attribute not in ATTRIBUTES:
            raise SpecificationError(
                f"{owner}: unknown attribute {attribute!r}.{suggest(attribute, ATTRIBUTES)} "
                f"Known: {', '.join(ATTRIBUTES)}."
            )
        for level in levels:
            if level not in ATTRIBUTES[attribute]:
                raise SpecificationError(
                    f"{owner}: {attribute!r} has no level {level!r}."
                    f"{suggest(level, ATTRIBUTES[attribute])} Levels: {', '.join(ATTRIBUTES[attribute])}."
                )


@dataclass(frozen=True)
class Outcome:
    """How one outcome is generated, and the programme's true effect on it.

    The outcome is built on a latent scale and then mapped by ``scale``:

    ``L0[i,t] = baseline + sum(baseline_by) + cluster_c + unit_i + time_t + trend*t
    + shock_{c,t} + pretrend_c*(t - t_1) + u[i,t]``, with ``u`` AR(1) (``rho``,
    stationary standard deviation ``noise_sd``); ``L1 = L0 + tau``; the observed
    outcome is ``Y = scale(L1)`` and the realised unit-period effect is
    ``scale(L1) - scale(L0)``.

    Parameters
    ----------
    name
        Column name in the simulated data.
    baseline, cluster_sd, unit_sd, time_sd, cluster_time_sd, noise_sd, rho, trend
        Level, cluster effect SD, unit (worker or firm) effect SD, SD of common
        period effects, SD of cluster-by-period shocks (what makes cluster-level
        inference necessary), SD and AR(1) coefficient of the idiosyncratic
        error, common linear trend per period.
    baseline_by
        Additive level shifts by attribute, e.g. ``{"gender": {"female": -0.8}}``
        (a wage gap). Keys are listed in :data:`ATTRIBUTES`.
    effect
        Effect on the latent scale at event time 0 for the reference unit.
    effect_by
        Additive shifts of the effect by attribute, e.g.
        ``{"site": {"home": -1.0}}``: the source of winners and losers.
    effect_by_cohort
        Additive shifts of the effect by cohort (first treated period).
    dynamic
        Multipliers of the effect by event time 0, 1, 2, ...; the last one is
        carried forward.
    effect_sd
        SD of unit-level idiosyncratic effect heterogeneity (realised, hence part
        of the truth).
    spillover
        Effect on linked lower-tier units of clusters not (yet) treated whose
        partner cluster is treated (see ``SimParams.linked_share``).
    scale
        ``"identity"``, ``"exp"`` (log-normal levels), ``"logistic"`` (a share
        in (0, 1)) or ``"binary"`` (``1{L > 0}``).
    level
        ``"unit"``: generated for each panel unit; ``"firm"``: generated per
        firm and repeated for each of its workers (e.g. an outsourcing share).
    when_excluded
        Value of the outcome for an excluded worker (``0.0`` for earnings);
        ``None`` makes it missing (a wage rate is undefined without work).

    Examples
    --------
    >>> Outcome("wage", baseline=5.0, effect=0.5, effect_by={"tier": {"home_based": -0.7}}).effect
    0.5
    """

    name: str
    baseline: float = 0.0
    cluster_sd: float = 0.5
    unit_sd: float = 1.0
    time_sd: float = 0.3
    cluster_time_sd: float = 0.3
    noise_sd: float = 0.7
    rho: float = 0.5
    trend: float = 0.0
    baseline_by: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    effect: float = 0.0
    effect_by: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    effect_by_cohort: Mapping[int, float] = field(default_factory=dict)
    dynamic: tuple[float, ...] = (1.0,)
    effect_sd: float = 0.0
    spillover: float = 0.0
    scale: Scale = "identity"
    level: Level = "unit"
    when_excluded: float | None = None

    def __post_init__(self) -> None:
        where = f"Outcome {self.name!r}"
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise SpecificationError(f"{where}: the name must be a valid identifier.")
        for name in ("cluster_sd", "unit_sd", "time_sd", "cluster_time_sd", "noise_sd", "effect_sd"):
            if getattr(self, name) < 0:
                raise SpecificationError(f"{where}: {name} must be non-negative, got {getattr(self, name)}.")
        if not -1 < self.rho < 1:
            raise SpecificationError(f"{where}: rho must lie in (-1, 1), got {self.rho}.")
        if self.scale not in ("identity", "exp", "logistic", "binary"):
            raise SpecificationError(f"{where}: scale must be identity, exp, logistic or binary, "
                                     f"got {self.scale!r}.{suggest(self.scale, Scale.__args__)}")
        if self.level not in ("unit", "firm"):
            raise SpecificationError(f"{where}: level must be 'unit' or 'firm', got {self.level!r}.")
        if len(self.dynamic) == 0:
            raise SpecificationError(f"{where}: dynamic needs at least one multiplier.")
        object.__setattr__(self, "dynamic", tuple(float(d) for d in self.dynamic))
        for name in ("baseline_by", "effect_by"):
            frozen = _freeze(getattr(self, name))
            _check_attribute_map(f"{where}.{name}", frozen)
            object.__setattr__(self, name, frozen)
        object.__setattr__(self, "effect_by_cohort",
                           _freeze({int(k): float(v) for k, v in self.effect_by_cohort.items()}))
        if self.level == "firm":
            used = set(self.baseline_by) | set(self.effect_by)
            worker_only = sorted(used - set(FIRM_ATTRIBUTES))
            if worker_only:
                raise SpecificationError(f"{where}: a firm-level outcome cannot depend on worker "
                                         f"attributes {worker_only}.")


@dataclass(frozen=True)
class SimParams:
    """Every assumption of a simulated cluster programme (frozen; see :func:`scenario`).

    Parameters
    ----------
    outcomes
        The outcomes to generate (:class:`Outcome`).
    level
        ``"worker"``: a worker panel (cluster -> firm -> worker);
        ``"firm"``: a firm panel (no workers; worker attributes unavailable).
    design
        ``"panel"`` or ``"repeated_cross_section"`` (each simulated person is
        observed once, in a period drawn at random; the Panel has ``unit=None``).
    n_clusters, n_periods, first_period
        Number of clusters and periods; periods are labelled
        ``first_period, first_period + 1, ...``.
    cohorts
        Roll-out periods (first treated period of each wave), increasing.
    cohort_sizes
        Number of clusters in each wave; by default the clusters not
        never-treated are split evenly across waves.
    never_share
        Share of clusters never treated (used when ``cohort_sizes`` is None).
    assignment
        ``"random"`` or ``"export_first"`` (export-oriented clusters adopt
        first, in random order; domestic clusters last or never).
    cohort_draw
        ``"fixed"``: exactly :meth:`cluster_cohorts` clusters in each wave (a
        designed roll-out); ``"multinomial"``: the wave counts are drawn as
        ``Multinomial(n_clusters, cohort_shares())``, the same expected shares,
        so that each cluster's cohort is random as under iid sampling of
        clusters (the sampling model of the att_gt aggregations' influence
        functions, which include the estimated cohort shares). A wave may then
        be empty in small designs.
    export_share
        Share of export-oriented clusters.
    firms_per_cluster, tier_shares, workers_per_firm
        Firms per cluster, the probability of each tier (first-tier exporter,
        subcontractor, home-based unit) and the mean workforce by tier.
    site_by_tier
        Work site of each tier's workers (``factory``, ``centre``, ``home``).
    female_share, child_share, youth_share
        Shares of women, children (under 15) and youths (15-24) by tier.
    contract_shares
        Probabilities of permanent, casual, contract-labour and piece-rate work
        by tier.
    migrant_share
        Share of migrant workers.
    anticipation, anticipation_effect
        Number of periods before adoption in which units already respond, and
        the response as a fraction of the event-time-0 effect.
    pretrend
        Violation of parallel trends: the k-th of K adopting waves gets an extra
        linear trend of ``pretrend * k / K * noise_sd`` per period on every
        outcome (0 leaves parallel trends intact).
    linked_share
        Share of lower-tier firms linked to the first tier of a partner cluster;
        they receive each outcome's ``spillover`` (times their
        ``linked_exposure``) once the partner is treated and their own cluster
        is not. When positive the data carry ``partner_cluster`` (the partner's
        id, 0 for unlinked firms) and ``partner_sales_share``.
    linked_exposure
        ``(low, high)``: a linked firm's share of baseline sales going to its
        partner cluster's first tier is drawn uniformly from this range (its
        exposure, ``partner_sales_share`` in the data); the spillover is
        ``spillover * share``, linear in exposure. ``(1.0, 1.0)`` (the default)
        draws nothing: every linked firm is fully exposed.
    takeup
        Voluntary take-up: the probability that a firm of an offered (treated)
        cluster joins the programme (``None``, the default: every firm of an
        offered cluster takes part and the data have no ``takeup`` column).
        Only joiners are affected: the effects of every outcome (including
        anticipation, outsourcing and exclusion) are zero for the firms that
        do not join. The data then carry ``takeup`` (0/1: the firm takes part
        in that period, i.e. it joined and its cluster has adopted).
    takeup_by
        Additive shifts of the take-up probability by firm attribute
        (``cluster_type``, ``tier``, ``size_class``), clipped to [0, 1], e.g.
        ``{"tier": {"first_tier": 0.4}}``: joiners then differ from
        non-joiners (selection on gains when effects differ by the same
        attribute).
    outsourcing
        Increase (latent, logit scale) of the outsourced share of production in
        treated first-tier firms; when positive a firm-level outcome
        ``outsourced_share`` is added.
    exclusion
        Probability that a worker of a treated cluster loses work in the
        programme's supply chain, by attribute (combined as
        ``1 - prod(1 - p)``), e.g. ``{"site": {"home": 0.6}}``.
    exclusion_mode
        ``"zero"``: rows stay, ``employed`` drops to 0 and outcomes take their
        ``when_excluded`` value; ``"drop"``: the rows disappear.
    exclusion_spread
        Exits happen at an event time drawn uniformly from ``0 ..
        exclusion_spread - 1``.
    attrition
        Per-period probability that a unit leaves the sample for good
        (completely at random).
    survey_weights
        Add a ``weight`` column: cluster population over sample size.
    id_names
        Names of the cluster, firm and unit id columns.
    drop_columns
        Attribute columns to leave out of the data (e.g. tiers in a village survey).

    Examples
    --------
    >>> p = SimParams(outcomes=(Outcome("y"),), n_clusters=12, cohorts=(3,), cohort_sizes=(4,))
    >>> p.cluster_cohorts()
    (3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0)
    """

    outcomes: tuple[Outcome, ...] = (Outcome("y", effect=1.0),)
    level: Literal["worker", "firm"] = "worker"
    design: Literal["panel", "repeated_cross_section"] = "panel"
    n_clusters: int = 40
    n_periods: int = 8
    first_period: int = 1
    cohorts: tuple[int, ...] = (4, 6)
    cohort_sizes: tuple[int, ...] | None = None
    never_share: float = 0.3
    assignment: Literal["random", "export_first"] = "random"
    cohort_draw: Literal["fixed", "multinomial"] = "fixed"
    export_share: float = 0.5
    firms_per_cluster: int = 5
    tier_shares: tuple[float, float, float] = (0.3, 0.5, 0.2)
    workers_per_firm: tuple[float, float, float] = (15.0, 8.0, 3.0)
    site_by_tier: tuple[str, str, str] = ("factory", "factory", "home")
    female_share: tuple[float, float, float] = (0.3, 0.4, 0.7)
    child_share: tuple[float, float, float] = (0.0, 0.02, 0.08)
    youth_share: tuple[float, float, float] = (0.3, 0.3, 0.25)
    contract_shares: tuple[tuple[float, ...], ...] = (
        (0.5, 0.2, 0.2, 0.1), (0.2, 0.3, 0.3, 0.2), (0.0, 0.1, 0.0, 0.9))
    migrant_share: float = 0.2
    anticipation: int = 0
    anticipation_effect: float = 0.5
    pretrend: float = 0.0
    linked_share: float = 0.0
    linked_exposure: tuple[float, float] = (1.0, 1.0)
    takeup: float | None = None
    takeup_by: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    outsourcing: float = 0.0
    exclusion: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    exclusion_mode: Literal["zero", "drop"] = "zero"
    exclusion_spread: int = 1
    attrition: float = 0.0
    survey_weights: bool = False
    id_names: tuple[str, str, str] = ("cluster_id", "firm_id", "worker_id")
    drop_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        def bad(message: str) -> SpecificationError:
            return SpecificationError(f"SimParams: {message}")

        if not self.outcomes:
            raise bad("give at least one Outcome.")
        names = [o.name for o in self.outcomes]
        if len(set(names)) != len(names):
            raise bad(f"outcome names must be unique, got {names}.")
        for choice, allowed in (("level", ("worker", "firm")),
                                ("design", ("panel", "repeated_cross_section")),
                                ("assignment", ("random", "export_first")),
                                ("cohort_draw", ("fixed", "multinomial")),
                                ("exclusion_mode", ("zero", "drop"))):
            value = getattr(self, choice)
            if value not in allowed:
                raise bad(f"{choice} must be one of {allowed}, got {value!r}.{suggest(value, allowed)}")
        for name in ("n_clusters", "n_periods", "firms_per_cluster", "exclusion_spread"):
            if int(getattr(self, name)) < 1:
                raise bad(f"{name} must be a positive integer, got {getattr(self, name)}.")
        if self.n_periods < 2:
            raise bad("n_periods must be at least 2.")
        last = self.first_period + self.n_periods - 1
        cohorts = tuple(int(c) for c in self.cohorts)
        object.__setattr__(self, "cohorts", cohorts)
        if not cohorts or list(cohorts) != sorted(set(cohorts)):
            raise bad(f"cohorts must be a non-empty increasing tuple, got {self.cohorts}.")
        if cohorts[0] <= self.first_period or cohorts[-1] > last:
            raise bad(f"cohorts must lie in ({self.first_period}, {last}] so that each wave has an "
                      f"untreated period, got {cohorts}.")
        if self.anticipation < 0 or cohorts[0] - self.anticipation <= self.first_period:
            raise bad(f"anticipation={self.anticipation} leaves the first wave ({cohorts[0]}) without a "
                      "clean pre-period.")
        for name in ("never_share", "export_share", "migrant_share", "linked_share", "attrition"):
            if not 0 <= getattr(self, name) <= 1:
                raise bad(f"{name} must lie in [0, 1], got {getattr(self, name)}.")
        if self.attrition >= 1:
            raise bad("attrition must be below 1.")
        if self.cohort_sizes is not None:
            sizes = tuple(int(s) for s in self.cohort_sizes)
            object.__setattr__(self, "cohort_sizes", sizes)
            if len(sizes) != len(cohorts) or min(sizes) < 1 or sum(sizes) > self.n_clusters:
                raise bad(f"cohort_sizes {sizes} must give a positive count for each of the "
                          f"{len(cohorts)} cohorts and sum to at most n_clusters={self.n_clusters}.")
        elif self.n_clusters - round(self.never_share * self.n_clusters) < len(cohorts):
            raise bad(f"too few clusters ({self.n_clusters}) for {len(cohorts)} waves with "
                      f"never_share={self.never_share}.")
        for name in ("tier_shares", "workers_per_firm", "site_by_tier", "female_share", "child_share",
                     "youth_share", "contract_shares"):
            if len(getattr(self, name)) != 3:
                raise bad(f"{name} needs one entry per tier {TIERS}.")
        if abs(sum(self.tier_shares) - 1) > 1e-9 or min(self.tier_shares) < 0:
            raise bad(f"tier_shares must be non-negative and sum to 1, got {self.tier_shares}.")
        if min(self.workers_per_firm) < 1:
            raise bad("workers_per_firm must be at least 1 for every tier.")
        for site in self.site_by_tier:
            if site not in SITES:
                raise bad(f"unknown site {site!r}.{suggest(site, SITES)} Sites: {SITES}.")
        for k, (c, y) in enumerate(zip(self.child_share, self.youth_share, strict=True)):
            if c < 0 or y < 0 or c + y > 1 or not 0 <= self.female_share[k] <= 1:
                raise bad(f"female/child/youth shares of tier {TIERS[k]!r} must be valid probabilities.")
        for k, shares in enumerate(self.contract_shares):
            if len(shares) != len(CONTRACTS) or abs(sum(shares) - 1) > 1e-9 or min(shares) < 0:
                raise bad(f"contract_shares of tier {TIERS[k]!r} must be 4 probabilities {CONTRACTS} "
                          "summing to 1.")
        exclusion = _freeze(self.exclusion)
        _check_attribute_map("SimParams.exclusion", exclusion)
        for levels in exclusion.values():
            for p in levels.values():
                if not 0 <= p <= 1:
                    raise bad(f"exclusion probabilities must lie in [0, 1], got {p}.")
        object.__setattr__(self, "exclusion", exclusion)
        if self.level == "firm":
            worker_only = sorted(set(exclusion) | {a for o in self.outcomes for a in
                                                   (*o.baseline_by, *o.effect_by)} - set(FIRM_ATTRIBUTES))
            if worker_only:
                raise bad(f"level='firm' has no workers, but worker attributes {worker_only} are used.")
        if exclusion and self.level != "worker":
            raise bad("exclusion needs level='worker'.")
        if len(set(self.id_names)) != 3:
            raise bad(f"id_names must be three distinct names, got {self.id_names}.")
        if self.outsourcing and "outsourced_share" in names:
            raise bad("outsourcing > 0 adds the outcome 'outsourced_share'; do not define it yourself.")
        self._check_links_and_takeup(names, bad)

    def _check_links_and_takeup(self, names: list[str], bad: Any) -> None:
        """Validate linked_exposure, takeup and takeup_by (called by __post_init__)."""
        low, high = (float(v) for v in self.linked_exposure)
        object.__setattr__(self, "linked_exposure", (low, high))
        if not 0 < low <= high <= 1:
            raise bad(f"linked_exposure must be (low, high) with 0 < low <= high <= 1, "
                      f"got {self.linked_exposure}.")
        takeup_by = _freeze(self.takeup_by)
        _check_attribute_map("SimParams.takeup_by", takeup_by)
        object.__setattr__(self, "takeup_by", takeup_by)
        if self.takeup is None and takeup_by:
            raise bad("takeup_by needs takeup (the base take-up probability), e.g. takeup=0.5.")
        if self.takeup is not None and not 0 <= self.takeup <= 1:
            raise bad(f"takeup must lie in [0, 1], got {self.takeup}.")
        worker_only = sorted(set(takeup_by) - set(FIRM_ATTRIBUTES))
        if worker_only:
            raise bad(f"take-up is a firm decision: takeup_by may use {FIRM_ATTRIBUTES}, not {worker_only}.")
        added = ({"takeup"} if self.takeup is not None else set()) | (
            {"partner_cluster", "partner_sales_share"} if self.linked_share else set())
        clash = sorted(added & set(names))
        if clash:
            raise bad(f"outcome name(s) {clash} clash with columns the simulator adds.")

    # ----------------------------------------------------------------- helpers
    @property
    def periods(self) -> tuple[int, ...]:
        """The period labels."""
        return tuple(range(self.first_period, self.first_period + self.n_periods))

    def cluster_cohorts(self) -> tuple[int, ...]:
        """First treated period of each cluster in assignment order (0 = never treated).

        Examples
        --------
        >>> SimParams(n_clusters=5, cohorts=(3, 4), never_share=0.2).cluster_cohorts()
        (3, 3, 4, 4, 0)
        """
        if self.cohort_sizes is not None:
            sizes = list(self.cohort_sizes)
        else:
            n_treated = self.n_clusters - round(self.never_share * self.n_clusters)
            base, extra = divmod(n_treated, len(self.cohorts))
            sizes = [base + (k < extra) for k in range(len(self.cohorts))]
        out: list[int] = []
        for g, s in zip(self.cohorts, sizes, strict=True):
            out += [g] * s
        return tuple(out + [0] * (self.n_clusters - len(out)))

    def cohort_shares(self) -> tuple[float, ...]:
        """Expected share of clusters in each wave, then never treated (sums to 1).

        Examples
        --------
        >>> SimParams(n_clusters=5, cohorts=(3, 4), never_share=0.2).cohort_shares()
        (0.4, 0.4, 0.2)
        """
        cohorts = self.cluster_cohorts()
        counts = [cohorts.count(g) for g in (*self.cohorts, 0)]
        return tuple(c / self.n_clusters for c in counts)

    def all_outcomes(self) -> tuple[Outcome, ...]:
        """The outcomes, plus ``outsourced_share`` when ``outsourcing > 0``."""
        if not self.outsourcing:
            return self.outcomes
        extra = Outcome("outsourced_share", baseline=-1.0, cluster_sd=0.3, unit_sd=0.4, time_sd=0.1,
                        cluster_time_sd=0.15, noise_sd=0.25, rho=0.6, effect=0.0,
                        effect_by={"tier": {"first_tier": float(self.outsourcing)}},
                        dynamic=(0.5, 1.0), scale="logistic", level="firm")
        return (*self.outcomes, extra)

    def with_overrides(self, **overrides: Any) -> SimParams:
        """A copy with some fields replaced; unknown names fail with a suggestion.

        Raises
        ------
        SpecificationError
            For a name that is not a field (with the closest field names).

        Examples
        --------
        >>> SimParams().with_overrides(n_clusters=12).n_clusters
        12
        >>> try:
        ...     SimParams().with_overrides(n_cluster=12)
        ... except SpecificationError as err:
        ...     print(err)
        Unknown simulation parameter(s): 'n_cluster'. Did you mean 'n_clusters' or 'firms_per_cluster'?
        """
        fields = [f.name for f in dataclasses.fields(self)]
        unknown = [k for k in overrides if k not in fields]
        if unknown:
            hints = [suggest(k, fields) for k in unknown]
            parts = [f"{k!r}.{hint}" if hint else repr(k) for k, hint in zip(unknown, hints, strict=True)]
            known = "" if all(hints) else f" Known parameters: {', '.join(fields)}."
            raise SpecificationError("Unknown simulation parameter(s): " + "; ".join(parts) + known)
        return dataclasses.replace(self, **overrides)
