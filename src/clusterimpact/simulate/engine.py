"""The data-generating process: cluster -> firm -> worker panels with known effects.

:func:`generate` turns a :class:`~clusterimpact.simulate.params.SimParams`
and a random generator into the simulated data and the realised effect of
the programme on every row. Everything is vectorised over units; the only
Python loops run over periods (the AR(1) recursion), outcomes and attributes.

The order of random draws is fixed, so the same seed gives bit-identical data.

Examples
--------
>>> import numpy as np
>>> from clusterimpact.simulate.engine import generate
>>> from clusterimpact.simulate.params import SimParams
>>> data, effects = generate(SimParams(n_clusters=6, cohorts=(3,), n_periods=4),
...                          np.random.default_rng(1))
>>> list(data.columns[:5])
['cluster_id', 'firm_id', 'worker_id', 'period', 'cohort']
>>> float(effects.loc[data["cohort"].eq(0), "y"].abs().max())
0.0
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from clusterimpact.errors import SpecificationError, suggest
from clusterimpact.simulate.params import ATTRIBUTES, FIRM_ATTRIBUTES, Outcome, SimParams

__all__ = ["generate"]

_SIZE_BREAKS = np.array([10, 50])  # small < 10 <= medium < 50 <= large (workers)


class _Entities:
    """Units on which an outcome is generated (firms or panel units), with their attributes."""

    def __init__(self, cluster: np.ndarray, firm: np.ndarray, attrs: Mapping[str, np.ndarray]) -> None:
        self.cluster = cluster
        self.firm = firm
        self.attrs = attrs
        self.n = cluster.size

    def lookup(self, mapping: Mapping[str, Mapping[str, float]]) -> np.ndarray:
        """Sum over attributes of the value attached to each entity's level (0 if not listed)."""
        out = np.zeros(self.n)
        for attribute, values in mapping.items():
            table = np.array([float(values.get(level, 0.0)) for level in ATTRIBUTES[attribute]])
            out += table[self.attrs[attribute]]
        return out


def _scale(latent: np.ndarray, scale: str) -> np.ndarray:
    if scale == "identity":
        return latent
    if scale == "exp":
        return np.exp(latent)
    if scale == "logistic":
        return 1.0 / (1.0 + np.exp(-latent))
    return (latent > 0).astype(float)


def _latent_untreated(outcome: Outcome, ent: _Entities, params: SimParams, slope: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
    """Untreated latent outcome, an (entities, periods) array."""
    n, t_count = ent.n, params.n_periods
    steps = np.arange(t_count, dtype=float)
    cluster_effect = outcome.cluster_sd * rng.standard_normal(params.n_clusters)
    unit_effect = outcome.unit_sd * rng.standard_normal(n)
    time_effect = outcome.time_sd * rng.standard_normal(t_count)
    shocks = outcome.cluster_time_sd * rng.standard_normal((params.n_clusters, t_count))
    innovations = rng.standard_normal((n, t_count))
    noise = np.empty((n, t_count))
    noise[:, 0] = outcome.noise_sd * innovations[:, 0]
    scale = outcome.noise_sd * np.sqrt(1.0 - outcome.rho**2)
    for t in range(1, t_count):
        noise[:, t] = outcome.rho * noise[:, t - 1] + scale * innovations[:, t]
    level = outcome.baseline + ent.lookup(outcome.baseline_by) + cluster_effect[ent.cluster] + unit_effect
    latent = noise
    latent += level[:, None]
    latent += (time_effect + outcome.trend * steps)[None, :]
    latent += shocks[ent.cluster]
    latent += (outcome.noise_sd * slope[ent.cluster])[:, None] * steps[None, :]
    return latent


def _latent_effect(outcome: Outcome, ent: _Entities, params: SimParams, cluster_cohort: np.ndarray,
                   partner: np.ndarray, link_share: np.ndarray, joined: np.ndarray | None,
                   rng: np.random.Generator) -> np.ndarray:
    """The programme's effect on the latent scale, an (entities, periods) array.

    ``link_share`` is each firm's exposure to its partner cluster (0 if not
    linked); ``joined`` (None: all) marks the firms that take the programme up.
    """
    periods = np.asarray(params.periods, dtype=float)
    cohort = cluster_cohort[ent.cluster].astype(float)
    treated = cohort > 0
    event = periods[None, :] - cohort[:, None]
    cohort_shift = np.zeros(ent.n)
    for g, shift in outcome.effect_by_cohort.items():
        cohort_shift[cohort == g] = shift
    heterogeneity = outcome.effect_sd * rng.standard_normal(ent.n)
    base = outcome.effect + ent.lookup(outcome.effect_by) + cohort_shift
    dynamic = np.asarray(outcome.dynamic)
    profile = dynamic[np.clip(event, 0, dynamic.size - 1).astype(np.int64)]
    post = treated[:, None] & (event >= 0)
    anticipating = treated[:, None] & (event < 0) & (event >= -params.anticipation)
    own_off = ~post & ~anticipating
    if joined is not None:  # non-joiners of offered clusters are untouched
        post = post & joined[ent.firm][:, None]
        anticipating = anticipating & joined[ent.firm][:, None]
    tau = np.where(post, base[:, None] * profile + heterogeneity[:, None], 0.0)
    if params.anticipation:
        tau += np.where(anticipating, params.anticipation_effect * (base + heterogeneity)[:, None], 0.0)
    if outcome.spillover:
        partner_cohort = cluster_cohort[partner[ent.cluster]].astype(float)
        partner_on = (partner_cohort[:, None] > 0) & (periods[None, :] >= partner_cohort[:, None])
        tau += outcome.spillover * (link_share[ent.firm][:, None] * (partner_on & own_off))
    return tau


def _draw_workers(params: SimParams, firm_tier: np.ndarray, firm_size: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Worker -> firm index, worker attribute codes and ages."""
    firm = np.repeat(np.arange(firm_tier.size), firm_size)
    tier = firm_tier[firm]
    n = firm.size
    female = rng.random(n) < np.asarray(params.female_share)[tier]
    u = rng.random(n)
    child_p = np.asarray(params.child_share)[tier]
    youth_p = np.asarray(params.youth_share)[tier]
    age_group = np.where(u < child_p, 0, np.where(u < child_p + youth_p, 1, 2))
    age = np.select([age_group == 0, age_group == 1],
                    [rng.integers(10, 15, n), rng.integers(15, 25, n)], rng.integers(25, 60, n))
    cumulative = np.cumsum(np.asarray(params.contract_shares, dtype=float), axis=1)
    contract = np.minimum((rng.random(n)[:, None] >= cumulative[tier]).sum(axis=1), 3)
    site_code = np.array([ATTRIBUTES["site"].index(s) for s in params.site_by_tier])
    migrant = rng.random(n) < params.migrant_share
    attrs = {
        "gender": np.where(female, 0, 1),
        "age_group": age_group,
        "contract": contract,
        "site": site_code[tier],
        "migrant_status": np.where(migrant, 0, 1),
    }
    return firm, attrs, age


def _categorical(codes: np.ndarray, attribute: str) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=list(ATTRIBUTES[attribute]))


def generate(params: SimParams, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate the data and the realised row-level effects.

    Parameters
    ----------
    params
        The assumptions (:class:`~clusterimpact.simulate.params.SimParams`).
    rng
        The random generator; nothing else is random.

    Returns
    -------
    data : pandas.DataFrame
        One row per observed unit and period (sorted by unit, then period):
        id columns, ``period``, ``cohort`` (0 = never treated), attributes,
        ``weight`` (if survey weights), ``partner_cluster`` and
        ``partner_sales_share`` (if ``linked_share > 0``), ``takeup`` (if
        ``takeup`` is set), the outcomes and ``employed`` (when workers are
        excluded with ``exclusion_mode="zero"``).
    effects : pandas.DataFrame
        Same index, one column per outcome: the realised effect
        ``Y(treated path) - Y(untreated path)`` of each row (NaN where the
        outcome is missing).

    Notes
    -----
    Let ``c`` be a cluster with first treated period ``g_c`` (0 = never),
    ``e = t - g_c`` the event time. For each outcome the latent untreated
    value is ``L0 = baseline + baseline_by + a_c + a_i + l_t + trend*t +
    s_{ct} + pretrend_c*(t - t_1) + u_{it}`` with AR(1) ``u``; the latent
    effect is ``(effect + effect_by_i + effect_by_cohort_g) * dynamic[e] + h_i``
    for ``e >= 0``, ``anticipation_effect * (effect + effect_by_i +
    effect_by_cohort_g + h_i)`` for ``-anticipation <= e < 0`` (with
    voluntary take-up, only for the firms that join: ``takeup`` /
    ``takeup_by``), plus ``spillover * s_f`` for linked lower-tier firms with
    exposure ``s_f`` (``linked_exposure``) whose partner cluster is treated
    while their own is not. Observed ``Y = scale(L0 + tau)``; the
    effect is ``Y - scale(L0)``. Excluded workers then take ``when_excluded``
    (rows stay, ``employed = 0``) or disappear; attrition removes units at a
    geometric time; a repeated cross-section keeps one random period per unit.

    Examples
    --------
    >>> import numpy as np
    >>> data, _ = generate(SimParams(n_clusters=4, cohorts=(3,), n_periods=3), np.random.default_rng(0))
    >>> sorted(data["period"].unique().tolist())
    [1, 2, 3]
    """
    c_count, t_count = params.n_clusters, params.n_periods
    periods = np.asarray(params.periods)

    # clusters: type, roll-out, partner cluster, differential trend
    export = rng.random(c_count) < params.export_share
    position = rng.random(c_count)
    order = np.lexsort((position, ~export)) if params.assignment == "export_first" else np.argsort(position)
    cluster_cohort = np.empty(c_count, dtype=np.int64)
    if params.cohort_draw == "multinomial":
        counts = rng.multinomial(c_count, np.asarray(params.cohort_shares()))
        assigned = np.repeat(np.asarray((*params.cohorts, 0), dtype=np.int64), counts)
    else:
        assigned = np.asarray(params.cluster_cohorts(), dtype=np.int64)
    cluster_cohort[order] = assigned
    partner = (np.arange(c_count) + rng.integers(1, max(c_count, 2), c_count)) % c_count
    wave = np.searchsorted(np.asarray(params.cohorts), cluster_cohort) + 1
    slope = np.where(cluster_cohort > 0, params.pretrend * wave / len(params.cohorts), 0.0)

    # firms: tier, size, links to a partner cluster's first tier
    f_count = c_count * params.firms_per_cluster
    firm_cluster = np.repeat(np.arange(c_count), params.firms_per_cluster)
    firm_tier = rng.choice(3, size=f_count, p=np.asarray(params.tier_shares))
    firm_size = 1 + rng.poisson(np.asarray(params.workers_per_firm)[firm_tier] - 1.0)
    linked_firm = (firm_tier > 0) & (rng.random(f_count) < params.linked_share)
    firm_attrs = {
        "cluster_type": np.where(export[firm_cluster], 0, 1),
        "tier": firm_tier,
        "size_class": np.searchsorted(_SIZE_BREAKS, firm_size, side="right"),
    }
    firms = _Entities(firm_cluster, np.arange(f_count), firm_attrs)
    link_share, joined = _links_and_takeup(params, firms, linked_firm, rng)

    # panel units
    age = None
    if params.level == "worker":
        unit_firm, worker_attrs, age = _draw_workers(params, firm_tier, firm_size, rng)
        unit_attrs = {name: firm_attrs[name][unit_firm] for name in FIRM_ATTRIBUTES} | worker_attrs
    else:
        unit_firm, unit_attrs = np.arange(f_count), dict(firm_attrs)
    units = _Entities(firm_cluster[unit_firm], unit_firm, unit_attrs)
    n = units.n
    unit_cohort = cluster_cohort[units.cluster]
    event = periods[None, :] - unit_cohort[:, None]
    treated_unit = unit_cohort > 0

    # outcomes
    values: dict[str, np.ndarray] = {}
    effects: dict[str, np.ndarray] = {}
    for outcome in params.all_outcomes():
        ent = firms if (outcome.level == "firm" and params.level == "worker") else units
        latent = _latent_untreated(outcome, ent, params, slope, rng)
        y0 = _scale(latent, outcome.scale)
        tau = _latent_effect(outcome, ent, params, cluster_cohort, partner, link_share, joined, rng)
        y1 = _scale(latent + tau, outcome.scale)  # a new array: y0 may be `latent` itself
        if ent is firms:
            y0, y1 = y0[unit_firm], y1[unit_firm]
        values[outcome.name], effects[outcome.name] = y1, y1 - y0

    # exclusion, attrition, sampling
    keep = np.ones((n, t_count), dtype=bool)
    if params.exclusion:
        stay = np.ones(n)
        for attribute, probs in params.exclusion.items():
            table = np.array([float(probs.get(level, 0.0)) for level in ATTRIBUTES[attribute]])
            stay *= 1.0 - table[unit_attrs[attribute]]
        excluded = treated_unit & (rng.random(n) < 1.0 - stay)
        if joined is not None:  # only the workers of joining firms are pushed out
            excluded &= joined[unit_firm]
        exit_at = rng.integers(0, params.exclusion_spread, n)
        gone = excluded[:, None] & (event >= exit_at[:, None])
        if params.exclusion_mode == "drop":
            keep &= ~gone
        else:
            for outcome in params.all_outcomes():
                if _is_unit_level(outcome, params):
                    fill = np.nan if outcome.when_excluded is None else float(outcome.when_excluded)
                    y0 = values[outcome.name] - effects[outcome.name]
                    values[outcome.name] = np.where(gone, fill, values[outcome.name])
                    effects[outcome.name] = values[outcome.name] - y0
            values["employed"] = np.where(gone, 0.0, 1.0)
            effects["employed"] = values["employed"] - 1.0
    if params.design == "repeated_cross_section":
        keep &= np.arange(t_count)[None, :] == rng.integers(0, t_count, n)[:, None]
    elif params.attrition > 0:
        stays_for = rng.geometric(params.attrition, n)
        keep &= np.arange(t_count)[None, :] < stays_for[:, None]
    cluster_weight = np.exp(np.log(50.0) + 0.5 * rng.standard_normal(c_count))

    rows_unit, rows_time = np.nonzero(keep)
    cluster_name, firm_name, unit_name = params.id_names
    rows_cluster = units.cluster[rows_unit]
    columns: dict[str, object] = {
        cluster_name: rows_cluster + 1,
        firm_name: unit_firm[rows_unit] + 1,
    }
    if params.level == "worker":
        columns[unit_name] = rows_unit + 1
    columns["period"] = periods[rows_time]
    columns["cohort"] = unit_cohort[rows_unit]
    for attribute in FIRM_ATTRIBUTES:
        columns[attribute] = _categorical(unit_attrs[attribute][rows_unit], attribute)
    columns["firm_size"] = firm_size[unit_firm][rows_unit]
    if params.level == "worker":
        columns["gender"] = _categorical(unit_attrs["gender"][rows_unit], "gender")
        columns["age"] = age[rows_unit]
        for attribute in ("age_group", "contract", "site", "migrant_status"):
            columns[attribute] = _categorical(unit_attrs[attribute][rows_unit], attribute)
    if params.survey_weights:
        columns["weight"] = cluster_weight[rows_cluster]
    if params.linked_share:
        row_firm = unit_firm[rows_unit]
        columns["partner_cluster"] = np.where(linked_firm, partner[firm_cluster] + 1, 0)[row_firm]
        columns["partner_sales_share"] = link_share[row_firm]
    if joined is not None:
        columns["takeup"] = (joined[unit_firm][rows_unit] & (event[rows_unit, rows_time] >= 0)
                             & treated_unit[rows_unit]).astype(np.int64)
    for name, array in values.items():
        columns[name] = array[rows_unit, rows_time]
    data = pd.DataFrame(columns)
    unknown = [c for c in params.drop_columns if c not in data]
    if unknown:
        raise SpecificationError(
            f"drop_columns: no column {unknown[0]!r} to drop.{suggest(unknown[0], data.columns)}")
    protected = {cluster_name, firm_name, unit_name, "period", "cohort", "weight", "takeup", *values}
    if set(params.drop_columns) & protected:
        raise SpecificationError("drop_columns may only drop attribute columns, not ids, period, cohort, "
                                 "weights or outcomes.")
    data = data.drop(columns=list(params.drop_columns))
    effect_frame = pd.DataFrame({name: array[rows_unit, rows_time] for name, array in effects.items()})
    return data, effect_frame


def _links_and_takeup(params: SimParams, firms: _Entities, linked_firm: np.ndarray,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """Each firm's exposure to its partner cluster (0 if unlinked) and who joins (None: everyone).

    Nothing is drawn unless ``linked_exposure`` is a range (with links) or
    ``takeup`` is set, so the other draws, and the data, do not change.
    """
    link_share = linked_firm.astype(float)
    low, high = params.linked_exposure
    if params.linked_share and low != high:
        link_share *= rng.uniform(low, high, firms.n)
    elif low != 1.0:
        link_share *= low
    joined = None
    if params.takeup is not None:
        p = np.clip(params.takeup + firms.lookup(params.takeup_by), 0.0, 1.0)
        joined = rng.random(firms.n) < p
    return link_share, joined


def _is_unit_level(outcome: Outcome, params: SimParams) -> bool:
    """Whether ``outcome`` is generated per panel unit (so exclusion applies to it)."""
    return outcome.level == "unit" or params.level == "firm"
