"""The :class:`Simulation` returned by :func:`clusterimpact.simulate.scenario`.

It holds the simulated data, the realised effect of every row, the
parameters used, and derives the true effects (the truth tables) from them.

Examples
--------
>>> import clusterimpact as ci
>>> sim = ci.simulate.scenario("staggered_basic", seed=1, n_clusters=12, firms_per_cluster=2)
>>> sim.truth.columns.tolist()
['outcome', 'cohort', 'time', 'event_time', 'effect', 'n_obs']
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from clusterimpact.design.panel import Panel
from clusterimpact.errors import SpecificationError, suggest
from clusterimpact.simulate.params import SimParams

__all__ = ["Simulation"]

ALL = "all"
AggregateKind = Literal["simple", "group", "calendar", "dynamic"]


@dataclass(frozen=True, eq=False)
class Simulation:
    """Simulated cluster-programme data with the effects that generated them.

    Attributes
    ----------
    name : str
        Scenario name.
    data : pandas.DataFrame
        The simulated data (see :func:`clusterimpact.simulate.engine.generate`).
    effects : pandas.DataFrame
        Row-aligned with ``data``: the realised effect ``Y - Y(untreated)`` of
        every row and outcome (nonzero before adoption only through
        anticipation, and for never-treated rows only through spillovers).
    params : SimParams
        The parameters actually used (defaults plus overrides).
    seed : int or None
        The integer seed (drawn from fresh entropy when ``seed=None`` was
        given, so that any run can be reproduced); ``None`` if a Generator was
        passed.
    truth_by : tuple of str
        Subgroup columns the scenario's ``truth`` is disaggregated by.
    summary, notes : str
        One-line description and scenario-specific assumptions.
    references : tuple of str
        The literature the stylised parameters draw on.

    Notes
    -----
    **Estimand.** For outcome ``y``, cohort ``g`` and period ``t``, the truth is

    ``ATT(g, t) = sum_i w_i (Y_it - Y_it(untreated)) / sum_i w_i``

    over the rows ``i`` of units first treated in ``g`` that are *observed* in
    period ``t`` with a non-missing ``y`` (``w`` = survey weights, else 1). It
    is a finite-sample (conditional) ATT of the realised data: the target of
    Callaway and Sant'Anna's ATT(g, t) with never-treated comparisons when
    parallel trends hold and the treated composition does not change between
    ``g - 1`` and ``t``. With exclusion that drops rows, attrition that depends
    on treatment, or ``pretrend != 0``, DiD estimators target something else:
    that gap is the point of those scenarios. Pre-adoption cells (``t < g``)
    hold the true effect in that period (zero unless ``anticipation`` is set);
    a varying-base pre-period estimate targets ``ATT(g, t) - ATT(g, t - 1)``.

    References
    ----------
    Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with
    multiple time periods. *Journal of Econometrics* 225(2), 200-230.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("staggered_basic", seed=3, n_clusters=12, firms_per_cluster=2)
    >>> sim.panel.n_periods
    8
    >>> bool(sim.truth.query("time < cohort")["effect"].eq(0).all())
    True
    """

    name: str
    data: pd.DataFrame
    effects: pd.DataFrame
    params: SimParams
    seed: int | None
    truth_by: tuple[str, ...] = ()
    summary: str = ""
    notes: str = ""
    references: tuple[str, ...] = ()

    # ---------------------------------------------------------------- roles
    @property
    def unit(self) -> str | None:
        """Unit id column used by :attr:`panel` (``None`` for repeated cross-sections)."""
        if self.params.design == "repeated_cross_section":
            return None
        return self.params.id_names[2] if self.params.level == "worker" else self.params.id_names[1]

    @property
    def cluster(self) -> str:
        """Cluster id column (the level of assignment and of clustered inference)."""
        return self.params.id_names[0]

    @property
    def outcomes(self) -> list[str]:
        """Names of the simulated outcomes (including ``employed`` when workers are excluded)."""
        return list(self.effects.columns)

    @cached_property
    def panel(self) -> Panel:
        """A :class:`~clusterimpact.Panel` over :attr:`data` (built on first access).

        ``unit`` = worker (or firm) id (``None`` for repeated cross-sections),
        ``time="period"``, ``cohort="cohort"`` (0 = never), ``cluster`` = cluster
        id, ``weights="weight"`` when survey weights are simulated.
        """
        return Panel(self.data, unit=self.unit, time="period", cohort="cohort", cluster=self.cluster,
                     weights="weight" if self.params.survey_weights else None)

    # ---------------------------------------------------------------- truth
    def _outcome_names(self, outcome: str | list[str] | None) -> list[str]:
        if outcome is None:
            return self.outcomes
        names = [outcome] if isinstance(outcome, str) else list(outcome)
        for name in names:
            if name not in self.effects:
                raise SpecificationError(f"No simulated outcome {name!r}.{suggest(name, self.outcomes)} "
                                         f"Outcomes: {', '.join(self.outcomes)}.")
        return names

    def truth_table(self, by: str | list[str] | None = None,
                    outcome: str | list[str] | None = None) -> pd.DataFrame:
        """True ATT(g, t) by cohort, period and optionally subgroup columns.

        Parameters
        ----------
        by
            Column(s) of :attr:`data` to disaggregate by (e.g. ``"gender"``,
            ``["tier", "gender"]``); cells are crossed.
        outcome
            Outcome(s) to report; all by default.

        Returns
        -------
        pandas.DataFrame
            ``outcome, cohort, time, event_time, <by...>, effect, n_obs``
            (``n_obs`` = rows in the cell; the estimand is in the class Notes).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("garment_codes", seed=2, n_clusters=8, cohort_sizes=(2, 2))
        >>> t = sim.truth_table("tier", outcome="wage")
        >>> sorted(t["tier"].unique())
        ['first_tier', 'home_based', 'subcontractor']
        """
        by_cols = [by] if isinstance(by, str) else list(by or [])
        for col in by_cols:
            if col not in self.data:
                raise SpecificationError(
                    f"by: no column {col!r} in the data.{suggest(col, self.data.columns)}")
        cohort = self.data["cohort"].to_numpy()
        treated = cohort > 0
        weight = (self.data["weight"].to_numpy(dtype=float) if self.params.survey_weights
                  else np.ones(len(self.data)))
        frames = []
        for name in self._outcome_names(outcome):
            effect = self.effects[name].to_numpy()
            rows = treated & ~np.isnan(effect)
            cell = pd.DataFrame({
                "cohort": cohort[rows],
                "time": self.data["period"].to_numpy()[rows],
                **{col: self.data[col].to_numpy()[rows] for col in by_cols},
                "_weighted": (weight * effect)[rows],
                "_weight": weight[rows],
            })
            grouped = cell.groupby(["cohort", "time", *by_cols], sort=True, observed=True)
            out = grouped.agg(_weighted=("_weighted", "sum"), _weight=("_weight", "sum"),
                              n_obs=("_weight", "size")).reset_index()
            out["effect"] = out.pop("_weighted") / out.pop("_weight")
            out.insert(0, "outcome", name)
            out.insert(3, "event_time", out["time"] - out["cohort"])
            frames.append(out[["outcome", "cohort", "time", "event_time", *by_cols, "effect", "n_obs"]])
        return pd.concat(frames, ignore_index=True)

    @cached_property
    def truth(self) -> pd.DataFrame:
        """True effects: ATT(g, t) for every outcome, overall and by the scenario's subgroups.

        Columns ``outcome, cohort, time, event_time``, one column per entry of
        :attr:`truth_by` (``"all"`` on rows aggregated over it), ``effect`` and
        ``n_obs``. Rows with every subgroup column equal to ``"all"`` are the
        overall ATT(g, t); rows with one column set are that subgroup's ATT(g, t)
        (one disaggregation at a time; use :meth:`truth_table` for crossings).
        """
        overall = self.truth_table(None)
        if not self.truth_by:
            return overall
        frames = [overall.assign(**dict.fromkeys(self.truth_by, ALL))]
        for col in self.truth_by:
            table = self.truth_table(col)
            table[col] = table[col].astype(str)
            frames.append(table.assign(**{c: ALL for c in self.truth_by if c != col}))
        cols = ["outcome", "cohort", "time", "event_time", *self.truth_by, "effect", "n_obs"]
        return pd.concat(frames, ignore_index=True)[cols]

    def cohort_weights(self) -> pd.Series:
        """Cohort sizes used to aggregate ATT(g, t): units (weighted) per cohort, never-treated excluded.

        For a panel each unit counts once (its survey weight, or 1); for
        repeated cross-sections each row counts.
        """
        data = self.data
        if self.unit is not None:
            data = data[~data[self.unit].duplicated()]
        data = data[data["cohort"] > 0]
        w = data["weight"] if self.params.survey_weights else pd.Series(1.0, index=data.index)
        return w.groupby(data["cohort"]).sum()

    def aggregate_truth(self, kind: AggregateKind = "simple", outcome: str | None = None) -> pd.DataFrame:
        """Aggregate the true ATT(g, t) as ``did::aggte`` / ``GroupTimeResult.aggregate`` do.

        Parameters
        ----------
        kind
            ``"simple"`` (post-adoption cells weighted by cohort size),
            ``"group"`` (per cohort, average over its post-adoption periods),
            ``"calendar"`` (per period, over cohorts already treated) or
            ``"dynamic"`` (per event time, cohort-size weighted).
        outcome
            Which outcome (default: the first).

        Returns
        -------
        pandas.DataFrame
            ``effect`` with the key column ``cohort``, ``time`` or ``event_time``
            (none for ``"simple"``).

        Notes
        -----
        With ``p_g`` the cohort size (:meth:`cohort_weights`):
        simple ``= sum_{t >= g} p_g ATT(g,t) / sum_{t >= g} p_g``;
        group ``= mean_{t >= g} ATT(g,t)``; calendar ``= sum_{g <= t} p_g ATT(g,t) /
        sum_{g <= t} p_g``; dynamic ``= sum_g p_g ATT(g, g+e) / sum_g p_g`` over
        the cohorts observed at event time ``e``.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("staggered_basic", seed=4, n_clusters=12, firms_per_cluster=2)
        >>> sim.aggregate_truth("dynamic")["event_time"].min()
        np.int64(-6)
        """
        name = self._outcome_names(outcome if outcome is not None else self.outcomes[0])[0]
        table = self.truth_table(None, name)
        table["p"] = table["cohort"].map(self.cohort_weights()).to_numpy(dtype=float)
        post = table[table["time"] >= table["cohort"]]

        def weighted(frame: pd.DataFrame) -> float:
            return float(np.average(frame["effect"], weights=frame["p"]))

        if kind == "simple":
            return pd.DataFrame({"effect": [weighted(post)]})
        if kind == "group":
            return post.groupby("cohort")["effect"].mean().reset_index()
        if kind == "calendar":
            return post.groupby("time")[["effect", "p"]].apply(weighted).rename("effect").reset_index()
        if kind == "dynamic":
            return table.groupby("event_time")[["effect", "p"]].apply(weighted).rename("effect").reset_index()
        kinds = ("simple", "group", "calendar", "dynamic")
        raise SpecificationError(f"kind must be one of {kinds}, got {kind!r}.{suggest(kind, kinds)}")

    # ------------------------------------------------------------- describe
    def describe(self) -> str:
        """Plain-text account of what was simulated and assumed.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("staggered_basic", seed=1, n_clusters=12, firms_per_cluster=2)
        >>> sim.describe().splitlines()[0]
        "SIMULATED DATA - scenario 'staggered_basic' (seed 1)."
        """
        from clusterimpact.simulate.text import describe

        return describe(self)

    def __repr__(self) -> str:
        return (f"<Simulation {self.name!r} (simulated, seed {self.seed}): {len(self.data)} rows, "
                f"outcomes {', '.join(self.outcomes)}>")
