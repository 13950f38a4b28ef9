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

import dataclasses
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

    # ------------------------------------------------- take-up, suppliers, retention
    def subset(self, rows: np.ndarray | pd.Series) -> Simulation:
        """The same simulation restricted to some rows; every truth then refers to those rows.

        Use it when an analysis drops units (e.g. suppliers linked to another
        cluster, whose spillovers would contaminate a comparison group): the
        truths of the subset are the estimands of estimators run on it.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("staggered_basic", seed=1, n_clusters=12, firms_per_cluster=2)
        >>> len(sim.subset(sim.data["period"] > 1).data), int((sim.data["period"] > 1).sum())
        (1624, 1624)
        """
        keep = np.asarray(rows, dtype=bool)
        if keep.shape != (len(self.data),):
            raise SpecificationError(f"subset: rows must be a boolean mask of length {len(self.data)}, "
                                     f"got shape {keep.shape}.")
        return dataclasses.replace(self, data=self.data[keep].reset_index(drop=True),
                                   effects=self.effects[keep].reset_index(drop=True))

    def takeup_truth(self, outcome: str | None = None) -> pd.DataFrame:
        """True intention-to-treat effect, take-up share and effect on joiners, per (cohort, period).

        Needs a simulation with voluntary take-up (``takeup=`` set, so the data
        have a ``takeup`` column). Over the rows of cohort ``g`` observed in
        period ``t`` (survey-weighted if simulated): ``itt`` = mean effect
        (= ATT(g, t): non-joiners' effect is zero), ``first_stage`` = share of
        rows taking part, ``effect_on_joiners`` = mean effect over the rows
        taking part (NaN before adoption), so ``itt = first_stage *
        effect_on_joiners`` after adoption. In a 2x2 of cohort ``g`` against
        never-treated clusters, periods ``g - 1`` and ``t``, the ITT of
        :func:`~clusterimpact.workers.wald_did` targets ``itt``, and its
        Wald-DID and Wald-TC target ``effect_on_joiners`` (de Chaisemartin and
        D'Haultfoeuille 2018: take-up is zero before the offer and in the
        comparison group, so the switchers are the joiners).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("garment_codes", seed=1, takeup=0.5)
        >>> t = sim.takeup_truth("wage").query("time >= cohort")
        >>> bool(((t["itt"] - t["first_stage"] * t["effect_on_joiners"]).abs() < 1e-12).all())
        True
        """
        if "takeup" not in self.data:
            raise SpecificationError("takeup_truth needs voluntary take-up: simulate with takeup=<share>.")
        name = self._outcome_names(outcome if outcome is not None else self.outcomes[0])[0]
        d = self.data
        effect = self.effects[name].to_numpy()
        rows = (d["cohort"].to_numpy() > 0) & ~np.isnan(effect)
        w = self._row_weights()[rows]
        take = d["takeup"].to_numpy()[rows] == 1
        frame = pd.DataFrame({"cohort": d["cohort"].to_numpy()[rows], "time": d["period"].to_numpy()[rows],
                              "w": w, "wd": w * take, "we": w * effect[rows], "wde": w * take * effect[rows]})
        s = frame.groupby(["cohort", "time"], sort=True).sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            out = pd.DataFrame({"itt": s["we"] / s["w"], "first_stage": s["wd"] / s["w"],
                                "effect_on_joiners": s["wde"] / s["wd"]}).reset_index()
        out.insert(0, "outcome", name)
        out.insert(3, "event_time", out["time"] - out["cohort"])
        return out

    def exposure_truth(self, outcome: str | None = None, kind: AggregateKind = "simple",
                       bins: Sequence[float] | None = None) -> pd.DataFrame:
        """True effect on exposed suppliers in never-treated clusters (the spillover), aggregated.

        Needs ``linked_share > 0`` (the data then have ``partner_cluster`` and
        ``partner_sales_share``). The exposed units are those of clusters never
        treated whose firm is linked to a treated partner cluster; their onset
        is the partner's first treated period and their exposure the
        ``partner_sales_share``. Cells are (onset, period[, exposure bin]) means
        of the realised effect, aggregated as :meth:`aggregate_truth` with the
        number of exposed units per onset (per bin) as cohort sizes: the
        target of :func:`~clusterimpact.workers.exposure_did` on the supplier
        panel of never-treated clusters (onset 0 for the unexposed).

        Parameters
        ----------
        outcome
            Outcome (default: the first).
        kind
            ``"simple"``, ``"group"``, ``"calendar"`` or ``"dynamic"``.
        bins
            Exposure bin edges as in ``exposure_did`` (right-closed intervals
            labelled ``"(low, high]"``); default one bin ``(0, 1]``.

        Returns
        -------
        pandas.DataFrame
            ``exposure_bin``, the aggregation key (none for ``"simple"``),
            ``effect``, ``effect_per_exposure`` (the same aggregation of the cell
            ratios mean effect / mean exposure: the slope of a response linear
            in exposure, the target of
            :func:`~clusterimpact.workers.exposure_twfe` when, as in the
            simulator, the spillover is ``spillover * exposure``) and
            ``mean_exposure`` (over exposed units).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> from clusterimpact.simulate import Outcome
        >>> sim = ci.simulate.scenario("staggered_basic", seed=1, linked_share=0.8,
        ...                            linked_exposure=(0.2, 1.0),
        ...                            outcomes=(Outcome("y", effect=1.0, spillover=-0.5),))
        >>> float(sim.exposure_truth("y")["effect_per_exposure"].iloc[0])
        -0.5
        """
        if "partner_cluster" not in self.data:
            raise SpecificationError("exposure_truth needs links between clusters: simulate with "
                                     "linked_share > 0 (and an outcome with spillover != 0).")
        name = self._outcome_names(outcome if outcome is not None else self.outcomes[0])[0]
        d = self.data
        cohort_of = d.groupby(self.cluster, sort=False)["cohort"].first()
        onset = d["partner_cluster"].map(cohort_of).fillna(0).to_numpy()
        share = d["partner_sales_share"].to_numpy(dtype=float)
        effect = self.effects[name].to_numpy()
        rows = (d["cohort"].to_numpy() == 0) & (onset > 0) & (share > 0) & ~np.isnan(effect)
        if not rows.any():
            raise SpecificationError("exposure_truth: no unit of a never-treated cluster is linked to a "
                                     "treated one.")
        edges = np.asarray((0.0, 1.0) if bins is None else bins, dtype=float)
        labels = np.array([f"({edges[k]:.4g}, {edges[k + 1]:.4g}]" for k in range(edges.size - 1)])
        code = np.searchsorted(edges, share[rows], side="left") - 1
        if code.min() < 0 or code.max() >= labels.size:
            raise SpecificationError(f"exposure_truth: exposures outside the bins {list(edges)}.")
        w = self._row_weights()[rows]
        frame = pd.DataFrame({"exposure_bin": labels[code], "cohort": onset[rows].astype(np.int64),
                              "time": d["period"].to_numpy()[rows], "w": w, "we": w * effect[rows],
                              "wx": w * share[rows],
                              "unit": d[self.unit].to_numpy()[rows] if self.unit else np.flatnonzero(rows)})
        cells = frame.groupby(["exposure_bin", "cohort", "time"], sort=True)[["w", "we", "wx"]].sum()
        cells = cells.assign(effect=cells["we"] / cells["w"], ratio=cells["we"] / cells["wx"]).reset_index()
        units = frame.drop_duplicates("unit")
        p = units.groupby(["exposure_bin", "cohort"])["w"].sum().rename("p").reset_index()
        cells = cells.merge(p, on=["exposure_bin", "cohort"], how="left")
        cells["event_time"] = cells["time"] - cells["cohort"]
        out = _aggregate(cells, kind, ["exposure_bin"])
        out["effect_per_exposure"] = _aggregate(cells.assign(effect=cells["ratio"]), kind,
                                                ["exposure_bin"])["effect"].to_numpy()
        mean_x = units.groupby("exposure_bin")["wx"].sum() / units.groupby("exposure_bin")["w"].sum()
        out["mean_exposure"] = out["exposure_bin"].map(mean_x).to_numpy()
        return out

    def retention_truth(self, by: str | list[str] | None = None, kind: AggregateKind = "simple",
                        *, employed: str | None = "employed") -> pd.DataFrame:
        """True effect on staying in the sample (present and employed), the target of ``retention_did``.

        On the full unit x period grid of a panel, a unit is retained in a
        period if its row is present and (when ``employed`` is a column)
        ``employed == 1``. Without the programme a unit leaves only by
        attrition (completely at random), so for units of treated cohorts the
        realised effect on retention is ``employed - 1`` on present rows and 0
        on rows lost to attrition (``exclusion_mode="zero"``), or ``-1`` on
        every missing row (``exclusion_mode="drop"``, which needs
        ``attrition=0``: otherwise exits by exclusion and by attrition cannot
        be told apart). Cells are unweighted means over units (as
        :func:`~clusterimpact.workers.retention_did`, whose grid has no survey
        weights), aggregated with the number of units per cohort (and
        subgroup).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("football_stitching", seed=1, exclusion_mode="drop")
        >>> sim.retention_truth(by="gender").round(2)
           gender  effect
        0  female   -0.45
        1    male   -0.06
        """
        if self.unit is None:
            raise SpecificationError("retention_truth needs a panel (design='panel').")
        drop = bool(self.params.exclusion) and self.params.exclusion_mode == "drop"
        if drop and self.params.attrition > 0:
            raise SpecificationError("retention_truth: with exclusion_mode='drop' and attrition > 0 the "
                                     "data do not say which exits the programme caused; use "
                                     "exclusion_mode='zero'.")
        by_cols = self._keys(by)
        d = self.data
        unit_codes, unit_ids = pd.factorize(d[self.unit], sort=True)
        time_codes, periods = pd.factorize(d["period"], sort=True)
        present = np.zeros((unit_ids.size, periods.size))
        if employed is not None and employed in d and not drop:
            present[unit_codes, time_codes] = d[employed].to_numpy(dtype=float) - 1.0
        elif drop:
            present -= 1.0
            present[unit_codes, time_codes] = 0.0
        first = ~pd.Series(unit_codes).duplicated().to_numpy()
        units = d.loc[first, ["cohort", *by_cols]].reset_index(drop=True)
        units.index = unit_codes[first]
        units = units.sort_index()
        treated = units["cohort"].to_numpy() > 0
        grid = present[treated]
        long = pd.DataFrame({"cohort": np.repeat(units["cohort"].to_numpy()[treated], periods.size),
                             "time": np.tile(np.asarray(periods), int(treated.sum())),
                             "effect": grid.ravel()})
        for col in by_cols:
            long[col] = np.repeat(units[col].to_numpy()[treated], periods.size)
        keys = ["cohort", "time", *by_cols]
        cells = long.groupby(keys, observed=True, sort=True)["effect"].mean().reset_index()
        p = long.groupby(["cohort", *by_cols], observed=True).size().div(periods.size).rename("p")
        cells = cells.merge(p.reset_index(), on=["cohort", *by_cols], how="left")
        cells["event_time"] = cells["time"] - cells["cohort"]
        return _aggregate(cells, kind, by_cols)

    def baseline_composition_truth(self, outcome: str | None = None, *, by: str | list[str]) -> pd.DataFrame:
        """True effect at the baseline workforce composition, the target of ``reweight_to_baseline``.

        ``sum_s w_s ATT_s`` with ``ATT_s`` the simple aggregate of subgroup
        ``s`` (:meth:`aggregate_truth` with ``by``) and ``w_s`` the share of
        subgroup ``s`` among the units of treated cohorts observed in the first
        period (unweighted, as :func:`~clusterimpact.workers.reweight_to_baseline`;
        renormalised over subgroups with a truth).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("football_stitching", seed=1)
        >>> round(float(sim.baseline_composition_truth("earnings", by="gender")["effect"].iloc[0]), 2)
        0.07
        """
        by_cols = self._keys(by)
        sub = self.aggregate_truth("simple", outcome, by=by_cols)
        d = self.data
        first = d[(d["period"] == d["period"].min()) & (d["cohort"] > 0)]
        if self.unit is not None:
            first = first.drop_duplicates(self.unit)
        share = first.groupby(by_cols, observed=True).size().rename("w").reset_index()
        merged = sub.merge(share, on=by_cols, how="inner")
        return pd.DataFrame({"effect": [float(np.average(merged["effect"], weights=merged["w"]))]})

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
