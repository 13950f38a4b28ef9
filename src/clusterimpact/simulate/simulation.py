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

from collections.abc import Sequence
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
Per = Literal["unit", "firm"]


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

    def _keys(self, by: str | list[str] | None) -> list[str]:
        by_cols = [by] if isinstance(by, str) else list(by or [])
        for col in by_cols:
            if col not in self.data:
                raise SpecificationError(
                    f"by: no column {col!r} in the data.{suggest(col, self.data.columns)}")
        return by_cols

    def _row_weights(self) -> np.ndarray:
        return (self.data["weight"].to_numpy(dtype=float) if self.params.survey_weights
                else np.ones(len(self.data)))

    def _cells(self, name: str, keys: dict[str, np.ndarray], per: Per) -> pd.DataFrame:
        """Weighted mean effect of ``name`` over the treated rows of each (cohort, time, keys) cell."""
        if per not in ("unit", "firm"):
            raise SpecificationError(
                f"per must be 'unit' or 'firm', got {per!r}.{suggest(per, ('unit', 'firm'))}")
        cohort = self.data["cohort"].to_numpy()
        effect = self.effects[name].to_numpy()
        rows = (cohort > 0) & ~np.isnan(effect)
        weight = self._row_weights()[rows]
        columns = {"cohort": cohort[rows], "time": self.data["period"].to_numpy()[rows],
                   **{k: v[rows] for k, v in keys.items()}}
        if per == "firm":  # one observation per firm-period: its (weighted) mean effect, weight 1
            columns["_firm"] = self.data[self.params.id_names[1]].to_numpy()[rows]
        labels, codes = zip(*(pd.factorize(v, sort=True)[::-1] for v in columns.values()), strict=True)
        dims = tuple(len(lab) for lab in labels)
        flat, inverse = np.unique(np.ravel_multi_index(codes, dims), return_inverse=True)
        cells = np.column_stack(np.unravel_index(flat, dims))
        sum_w = np.bincount(inverse, weight, minlength=len(cells))
        mean = np.bincount(inverse, weight * effect[rows], minlength=len(cells)) / sum_w
        if per == "firm":
            flat, inverse = np.unique(np.ravel_multi_index(tuple(cells[:, :-1].T), dims[:-1]),
                                      return_inverse=True)
            firm_cells = np.column_stack(np.unravel_index(flat, dims[:-1]))
            n_obs = np.bincount(inverse, minlength=len(firm_cells))
            mean = np.bincount(inverse, mean, minlength=len(firm_cells)) / n_obs
            cells = firm_cells
        else:
            n_obs = np.bincount(inverse, minlength=len(cells))
        out = pd.DataFrame({k: pd.Index(labels[j]).take(cells[:, j]).array
                            for j, k in enumerate(list(columns)[:cells.shape[1]])})
        out.insert(0, "outcome", name)
        out.insert(3, "event_time", out["time"] - out["cohort"])
        out["effect"] = mean
        out["n_obs"] = n_obs
        return out[["outcome", "cohort", "time", "event_time", *keys, "effect", "n_obs"]]

    def truth_table(self, by: str | list[str] | None = None,
                    outcome: str | list[str] | None = None, *, per: Per = "unit") -> pd.DataFrame:
        """True ATT(g, t) by cohort, period and optionally subgroup columns.

        Parameters
        ----------
        by
            Column(s) of :attr:`data` to disaggregate by (e.g. ``"gender"``,
            ``["tier", "gender"]``); cells are crossed.
        outcome
            Outcome(s) to report; all by default.
        per
            ``"unit"`` (default): every row counts (with its survey weight);
            ``"firm"``: every firm-period counts once, with the mean effect of
            its rows (the estimand of a firm panel, e.g.
            :func:`~clusterimpact.workers.outsourcing_effects`).

        Returns
        -------
        pandas.DataFrame
            ``outcome, cohort, time, event_time, <by...>, effect, n_obs``
            (``n_obs`` = rows, or firms, in the cell; the estimand is in the class Notes).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("garment_codes", seed=2, n_clusters=8, cohort_sizes=(2, 2))
        >>> t = sim.truth_table("tier", outcome="wage")
        >>> sorted(t["tier"].unique())
        ['first_tier', 'home_based', 'subcontractor']
        """
        by_cols = self._keys(by)
        keys = {col: _values(self.data[col]) for col in by_cols}
        frames = [self._cells(name, keys, per) for name in self._outcome_names(outcome)]
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

    def cohort_weights(self, by: str | list[str] | None = None, *, per: Per = "unit") -> pd.Series:
        """Cohort sizes used to aggregate ATT(g, t): units (weighted) per cohort, never-treated excluded.

        For a panel each unit counts once (its survey weight, or 1); for
        repeated cross-sections each row counts. With ``by`` the sizes are per
        (cohort, subgroup) (the weights of ``att_gt(..., by=...).aggregate()``,
        which aggregates each subgroup with its own cohort sizes); with
        ``per="firm"`` each firm counts once.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("staggered_basic", seed=1, n_clusters=12, firms_per_cluster=2)
        >>> sim.cohort_weights().index.tolist()
        [3, 5, 7]
        """
        by_cols = self._keys(by)
        data = self.data
        if per == "firm":
            data = data[~data[self.params.id_names[1]].duplicated()]
        elif self.unit is not None:
            data = data[~data[self.unit].duplicated()]
        data = data[data["cohort"] > 0]
        use_weights = self.params.survey_weights and per == "unit"
        w = data["weight"] if use_weights else pd.Series(1.0, index=data.index)
        return w.groupby([data["cohort"], *(data[c] for c in by_cols)], observed=True).sum()

    def aggregate_truth(self, kind: AggregateKind = "simple", outcome: str | None = None,
                        by: str | list[str] | None = None, *, per: Per = "unit") -> pd.DataFrame:
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
        by
            Subgroup column(s): aggregate each subgroup's ATT(g, t) with that
            subgroup's cohort sizes (the target of ``att_gt(..., by=by)
            .aggregate(kind)`` and of :func:`~clusterimpact.workers.subgroup_effects`).
        per
            ``"unit"`` or ``"firm"`` (see :meth:`truth_table`; cohort sizes in firms).

        Returns
        -------
        pandas.DataFrame
            ``effect`` with the ``by`` columns and the key column ``cohort``,
            ``time`` or ``event_time`` (none for ``"simple"``).

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
        >>> sim = ci.simulate.scenario("football_stitching", seed=1)
        >>> sim.aggregate_truth("simple", "earnings", by="site").round(2)
              site  effect
        0  factory    0.37
        1   centre    0.57
        2     home   -0.91
        """
        name = self._outcome_names(outcome if outcome is not None else self.outcomes[0])[0]
        by_cols = self._keys(by)
        table = self.truth_table(by_cols, name, per=per)
        p = self.cohort_weights(by_cols, per=per).rename("p").reset_index()
        table = table.merge(p, on=["cohort", *by_cols], how="left", validate="m:1")
        return _aggregate(table, kind, by_cols)

    def ddd_truth(self, subgroup: str, target: object, kind: AggregateKind = "simple",
                  outcome: str | None = None) -> pd.DataFrame:
        """True effect targeted by triple differences (:func:`clusterimpact.ddd`) on a target subgroup.

        For every cell, ``ATT_target(g, t) - ATT_rest(g, t)``: the effect on the
        target subgroup minus the effect on the other subgroups of the same
        treated clusters (the DDD removes what the two share). It equals the
        target's own ATT(g, t) when the programme leaves the others untouched,
        the assumption under which DDD identifies the target's effect.
        Aggregated as :meth:`aggregate_truth` with the cohort sizes of the
        target subgroup (as ``DDDResult.aggregate`` does).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("football_stitching", seed=1)
        >>> round(float(sim.ddd_truth("site", "home", outcome="earnings")["effect"].iloc[0]), 2)
        -1.43
        """
        name = self._outcome_names(outcome if outcome is not None else self.outcomes[0])[0]
        (col,) = self._keys(subgroup)
        flag = (self.data[col] == target).to_numpy()
        if not flag.any() or flag.all():
            raise SpecificationError(f"ddd_truth: {col} == {target!r} must select some rows but not all.")
        cells = self._cells(name, {"_target": flag}, "unit")
        wide = cells.pivot_table(index=["outcome", "cohort", "time", "event_time"], columns="_target",
                                 values="effect").dropna().reset_index()
        wide["effect"] = wide[True] - wide[False]
        target_p = self.cohort_weights([col]).xs(target, level=col).rename("p")
        table = wide[["outcome", "cohort", "time", "event_time", "effect"]].merge(
            target_p.reset_index(), on="cohort", how="inner")
        return _aggregate(table, kind, [])

    def quantile_truth(self, outcome: str | None = None,
                       quantiles: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 0.9),
                       time: int | None = None) -> pd.DataFrame:
        """True mean and quantile effects on the treated in one period (the QTT).

        Over the rows observed in ``time`` (default: the last period) of units
        first treated by then, ``QTT(q) = F^{-1}_{Y}(q) - F^{-1}_{Y(0)}(q)``, the
        difference between the ``q``-quantiles of the observed outcomes and of
        the same rows' untreated outcomes ``Y - effect`` (``F^{-1}(q) = min{y :
        F(y) >= q}``, unweighted); ``mean`` is their mean effect. This is what
        :func:`~clusterimpact.changes_in_changes` and
        :func:`~clusterimpact.workers.quantile_did` estimate with ``post=time``.

        Returns
        -------
        pandas.DataFrame
            ``term`` (``"mean"``, ``"q0.1"``, ...), ``quantile`` and ``effect``.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("football_stitching", seed=1)
        >>> sim.quantile_truth("earnings", [0.5])["term"].tolist()
        ['mean', 'q0.5']
        """
        name = self._outcome_names(outcome if outcome is not None else self.outcomes[0])[0]
        t = self.params.periods[-1] if time is None else time
        cohort = self.data["cohort"].to_numpy()
        effect = self.effects[name].to_numpy()
        rows = (self.data["period"].to_numpy() == t) & (cohort > 0) & (cohort <= t) & ~np.isnan(effect)
        if not rows.any():
            raise SpecificationError(f"quantile_truth: no treated rows observed in period {t!r}.")
        q = np.asarray(quantiles, dtype=float)
        y1 = self.data[name].to_numpy()[rows]
        y0 = y1 - effect[rows]
        qtt = np.quantile(y1, q, method="inverted_cdf") - np.quantile(y0, q, method="inverted_cdf")
        return pd.DataFrame({"term": ["mean", *(f"q{v:g}" for v in q)], "quantile": np.r_[np.nan, q],
                             "effect": np.r_[effect[rows].mean(), qtt]})

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


def _aggregate(table: pd.DataFrame, kind: str, by: list[str]) -> pd.DataFrame:
    """Aggregate ATT(g, t) cells (``cohort, time, event_time, <by>, effect, p``) as did::aggte."""
    post = table[table["time"] >= table["cohort"]]

    def weighted(frame: pd.DataFrame) -> float:
        return float(np.average(frame["effect"], weights=frame["p"]))

    keys = {"simple": [], "group": ["cohort"], "calendar": ["time"], "dynamic": ["event_time"]}
    if kind not in keys:
        raise SpecificationError(
            f"kind must be one of {tuple(keys)}, got {kind!r}.{suggest(kind, tuple(keys))}")
    frame = table if kind == "dynamic" else post
    group = [*by, *keys[kind]]
    if not group:
        return pd.DataFrame({"effect": [weighted(frame)]})
    if kind == "group":
        return frame.groupby(group, observed=True)["effect"].mean().reset_index()
    return (frame.groupby(group, observed=True)[["effect", "p"]].apply(weighted).rename("effect")
            .reset_index())


def _values(column: pd.Series) -> np.ndarray | pd.Categorical:
    """A column's values, keeping the category order of categoricals (for sorted truth tables)."""
    return column.array if isinstance(column.dtype, pd.CategoricalDtype) else column.to_numpy()
