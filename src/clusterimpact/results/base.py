"""The one result type shared by every estimator.

A :class:`Result` is a frozen table of estimates with their joint covariance
matrix. Everything a user does with an estimate (tidy table, text summary,
notebook display, plot, LaTeX/Markdown export, subgroup contrasts) is
implemented once here; estimators only fill the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clusterimpact.errors import SpecificationError

__all__ = ["Result"]

_STAT_COLUMNS = ["estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]


@dataclass(frozen=True, eq=False, repr=False)
class Result:
    """Estimates, their covariance and how they were obtained.

    Parameters
    ----------
    keys
        One row per estimate with the columns that identify it (``term``,
        ``cohort``/``time``, ``event_time``, subgroup columns ...). May have
        no columns when there is a single estimate.
    estimate
        Point estimates, shape ``(k,)``.
    vcov
        Their covariance matrix, shape ``(k, k)``; NaN where not estimable.
    alpha
        One minus the confidence level of ``conf_low``/``conf_high``.
    dof
        Degrees of freedom of the t reference distribution, a scalar or one
        per estimate; ``None`` uses the normal distribution.
    extra
        Further columns appended to :meth:`tidy` (bands, counts, notes).
    info
        Metadata: ``estimator``, ``outcome``, ``n_obs``, ``n_units``,
        ``n_clusters``, ``vcov_type``, ``by`` (list of subgroup columns) ...
    influence
        Optional influence functions, shape ``(n, k)``, scaled so that
        ``estimate - truth ~ influence.mean(axis=0)``; kept so that
        aggregation, subgroup contrasts and bootstraps never refit.
    cluster
        Optional integer cluster code of each row of ``influence``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from clusterimpact.results import Result
    >>> res = Result(keys=pd.DataFrame({"term": ["treated"]}),
    ...              estimate=np.array([0.5]), vcov=np.array([[0.04]]))
    >>> res.tidy()[["term", "estimate", "std_error"]]
          term  estimate  std_error
    0  treated       0.5        0.2
    """

    keys: pd.DataFrame
    estimate: np.ndarray
    vcov: np.ndarray
    alpha: float = 0.05
    dof: np.ndarray | float | None = None
    extra: pd.DataFrame | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    influence: np.ndarray | None = None
    cluster: np.ndarray | None = None

    def __post_init__(self) -> None:
        est = np.atleast_1d(np.asarray(self.estimate, dtype=float))
        vcov = np.atleast_2d(np.asarray(self.vcov, dtype=float))
        if vcov.shape != (est.size, est.size):
            raise SpecificationError(
                f"vcov has shape {vcov.shape}, expected {(est.size, est.size)} for {est.size} estimates."
            )
        if len(self.keys) != est.size:
            raise SpecificationError(f"keys has {len(self.keys)} rows for {est.size} estimates.")
        if not 0 < self.alpha < 1:
            raise SpecificationError(f"alpha must lie in (0, 1), got {self.alpha}.")
        est.flags.writeable = False
        vcov.flags.writeable = False
        object.__setattr__(self, "estimate", est)
        object.__setattr__(self, "vcov", vcov)
        object.__setattr__(self, "keys", self.keys.reset_index(drop=True))
        object.__setattr__(self, "info", dict(self.info))

    # ------------------------------------------------------------------ numbers
    @property
    def std_error(self) -> np.ndarray:
        """Standard errors, the square roots of the diagonal of :attr:`vcov`.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> Result(pd.DataFrame(index=[0]), np.array([1.0]), np.array([[4.0]])).std_error
        array([2.])
        """
        diag = np.diag(self.vcov).copy()
        diag[diag < 0] = np.nan
        return np.sqrt(diag)

    def _dof_array(self) -> np.ndarray:
        if self.dof is None:
            return np.full(self.estimate.size, np.inf)
        return np.broadcast_to(np.asarray(self.dof, dtype=float), self.estimate.shape)

    def critical_value(self, alpha: float | None = None) -> np.ndarray:
        """Two-sided critical values of the reference distribution (normal or t).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> r = Result(pd.DataFrame(index=[0]), np.array([1.0]), np.array([[1.0]]))
        >>> round(float(r.critical_value()[0]), 3)
        1.96
        """
        a = self.alpha if alpha is None else alpha
        dof = self._dof_array()
        return np.where(np.isfinite(dof), stats.t.ppf(1 - a / 2, np.where(np.isfinite(dof), dof, 1)),
                        stats.norm.ppf(1 - a / 2))

    def tidy(self, alpha: float | None = None) -> pd.DataFrame:
        """A plain DataFrame: the key columns, then the estimates and their inference.

        The columns after the keys are ``estimate, std_error, statistic,
        p_value, conf_low, conf_high`` (plus ``df`` for t-based inference and
        any extra columns of the estimator).

        Parameters
        ----------
        alpha
            Override the result's ``alpha`` for the confidence interval.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> r = Result(pd.DataFrame({"term": ["x"]}), np.array([2.0]), np.array([[1.0]]))
        >>> list(r.tidy().columns)
        ['term', 'estimate', 'std_error', 'statistic', 'p_value', 'conf_low', 'conf_high']
        """
        se = self.std_error
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = self.estimate / se
        dof = self._dof_array()
        p = np.where(
            np.isfinite(dof),
            2 * stats.t.sf(np.abs(stat), np.where(np.isfinite(dof), dof, 1)),
            2 * stats.norm.sf(np.abs(stat)),
        )
        crit = self.critical_value(alpha)
        out = self.keys.copy()
        out["estimate"] = self.estimate
        out["std_error"] = se
        out["statistic"] = stat
        out["p_value"] = p
        out["conf_low"] = self.estimate - crit * se
        out["conf_high"] = self.estimate + crit * se
        if self.dof is not None:
            out["df"] = dof
        if self.extra is not None:
            for col in self.extra.columns:
                out[col] = self.extra[col].to_numpy()
        return out

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Confidence intervals as a two-column frame indexed like :meth:`tidy`.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> r = Result(pd.DataFrame({"term": ["x"]}), np.array([0.0]), np.array([[1.0]]))
        >>> r.conf_int(alpha=0.1).round(3).to_numpy().tolist()
        [[-1.645, 1.645]]
        """
        return self.tidy(alpha)[["conf_low", "conf_high"]]

    def with_alpha(self, alpha: float) -> Result:
        """Return the same result with another confidence level.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> r = Result(pd.DataFrame({"term": ["x"]}), np.array([0.0]), np.array([[1.0]]))
        >>> r.with_alpha(0.1).alpha
        0.1
        """
        return replace(self, alpha=alpha)

    # ------------------------------------------------------------- subgroups
    @property
    def by(self) -> list[str]:
        """Subgroup columns the result was estimated ``by`` (empty if none).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> Result(pd.DataFrame(index=[0]), np.array([1.0]), np.array([[1.0]])).by
        []
        """
        return list(self.info.get("by") or [])

    def compare(self, *, adjust: str | None = "holm") -> Result:
        """Pairwise differences between subgroups and a joint test that all are equal.

        Uses the joint covariance of the subgroup estimates (from stacked
        influence functions), so differences have correct standard errors.

        Parameters
        ----------
        adjust
            Multiplicity adjustment of the pairwise p-values, any method of
            :func:`statsmodels.stats.multitest.multipletests` (``"holm"``,
            ``"bonferroni"``, ``"fdr_bh"`` ...) or ``None``; the adjusted values
            are in the column ``p_value_adjusted``.

        Returns
        -------
        Result
            ``tidy()`` has ``contrast, estimate, std_error, conf_low, conf_high,
            p_value``; the last row (``contrast == "all equal"``) is the Wald
            test of equal effects, whose ``statistic`` is chi-squared with
            ``df`` = number of subgroups - 1.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> r = Result(pd.DataFrame({"gender": ["f", "m"]}), np.array([1.0, 3.0]),
        ...            np.diag([1.0, 1.0]), info={"by": ["gender"]})
        >>> r.compare().tidy()[["contrast", "estimate"]]
              contrast  estimate
        0      m - f       2.0
        1    all equal       NaN
        """
        from clusterimpact.results.compare import compare_subgroups

        return compare_subgroups(self, adjust=adjust)

    def wild_bootstrap(self, **options: Any) -> Result:
        """Score wild cluster bootstrap from the influence functions (Kline & Santos 2012).

        Needs ``influence`` and ``cluster``; options as in
        :func:`clusterimpact.inference.wild.score_wild_bootstrap` (``reps``, ``weights``,
        ``impose_null``, ``seed``, ``term``, ``alpha`` ...). Regression results override
        this with the wild cluster bootstrap of the coefficients.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> psi = np.random.default_rng(0).normal(size=(40, 1))
        >>> r = Result(pd.DataFrame({"term": ["att"]}), np.array([0.5]), np.array([[0.03]]),
        ...            influence=psi - psi.mean(), cluster=np.repeat(np.arange(20), 2))
        >>> int(r.wild_bootstrap(reps=199, weights="webb", seed=1).tidy()["reps"][0])
        199
        """
        from clusterimpact.inference.wild import score_wild_bootstrap

        return score_wild_bootstrap(self, **options)

    def randomization(self, **options: Any) -> Result:
        """Randomization inference: re-assign roll-out dates across clusters and re-estimate.

        Needs ``info["refit"]`` (estimators that support it store it: ``att_gt``
        and its aggregations, ``twfe``); options as in
        :func:`clusterimpact.inference.randomization.randomization` (``reps``,
        ``seed``, ``strata``, ``statistic`` ...).

        Examples
        --------
        >>> import warnings, clusterimpact as ci
        >>> df = ci.datasets.load("mpdta").assign(state=lambda d: d["countyreal"] // 1000)
        >>> p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat", cluster="state")
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     ri = ci.att_gt(p, "lemp").aggregate("simple").randomization(reps=49, seed=1)
        >>> 0 < float(ri.tidy()["p_value"][0]) <= 1
        True
        """
        from clusterimpact.inference.randomization import randomization

        return randomization(self, **options)

    def honest(self, **options: Any) -> Result:
        """HonestDiD sensitivity of an event study to violations of parallel trends.

        Options as in :func:`clusterimpact.inference.honest.honest` (``method``,
        ``grid``, ``target``, ``alpha``, ``inference`` ...); needs ``event_time`` keys.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> r = Result(pd.DataFrame({"event_time": [-2, 0]}), np.array([0.0, 1.0]), np.eye(2) * 0.01)
        >>> r.honest(method="relative_magnitude", grid=[1.0]).tidy()["excludes_zero"].tolist()
        [True]
        """
        from clusterimpact.inference.honest import honest

        return honest(self, **options)

    # ------------------------------------------------------------- display
    def _title(self) -> str:
        name = self.info.get("estimator", type(self).__name__)
        outcome = self.info.get("outcome")
        return f"{name}" + (f" — outcome: {outcome}" if outcome else "")

    def _header(self) -> list[tuple[str, str]]:
        labels = {
            "n_obs": "Observations",
            "n_units": "Units",
            "n_clusters": "Clusters",
            "control": "Comparison group",
            "method": "Method",
            "vcov_type": "Standard errors",
            "by": "Subgroups by",
        }
        rows = []
        for key, label in labels.items():
            value = self.info.get(key)
            if value is None or value == []:
                continue
            if isinstance(value, list | tuple):
                value = ", ".join(map(str, value))
            rows.append((label, str(value)))
        rows.append(("Confidence level", f"{1 - self.alpha:.0%}"))
        return rows

    def _display_table(self, digits: int = 4) -> pd.DataFrame:
        tab = self.tidy()
        num = tab.select_dtypes("number").columns
        tab[num] = tab[num].round(digits)
        return tab

    def summary(self, digits: int = 4) -> str:
        """A text summary: what was estimated, on what, and the table.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> r = Result(pd.DataFrame({"term": ["x"]}), np.array([2.0]), np.array([[1.0]]),
        ...            info={"estimator": "demo"})
        >>> print(r.summary().splitlines()[0])
        demo
        """
        lines = [self._title(), "=" * max(len(self._title()), 20)]
        lines += [f"{label:<20} {value}" for label, value in self._header()]
        lines += ["", self._display_table(digits).to_string(index=False)]
        notes = self.info.get("notes") or []
        lines += [f"Note: {n}" for n in notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self._title()}, {self.estimate.size} estimate(s)>"

    def _repr_html_(self) -> str:
        """HTML rendering for notebooks.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> r = Result(pd.DataFrame({"term": ["x"]}), np.array([2.0]), np.array([[1.0]]))
        >>> r._repr_html_().startswith("<div")
        True
        """
        import html

        head = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in self._header()
        )
        notes = "".join(f"<p><em>Note:</em> {html.escape(n)}</p>" for n in self.info.get("notes") or [])
        table = self._display_table().to_html(index=False, border=0, na_rep="")
        return (
            f"<div class='clusterimpact-result'><h4>{html.escape(self._title())}</h4>"
            f"<table>{head}</table>{table}{notes}</div>"
        )

    def to_markdown(self, digits: int = 4) -> str:
        """The tidy table as a GitHub-flavoured Markdown table.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> r = Result(pd.DataFrame({"term": ["x"]}), np.array([2.0]), np.array([[1.0]]))
        >>> print(r.to_markdown().splitlines()[0])
        | term | estimate | std_error | statistic | p_value | conf_low | conf_high |
        """
        from clusterimpact.results.export import frame_to_markdown

        return frame_to_markdown(self._display_table(digits))

    def to_latex(self, digits: int = 4, caption: str | None = None) -> str:
        """The tidy table as a LaTeX ``tabular`` (booktabs rules).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> r = Result(pd.DataFrame({"term": ["x"]}), np.array([2.0]), np.array([[1.0]]))
        >>> "\\\\toprule" in r.to_latex()
        True
        """
        from clusterimpact.results.export import frame_to_latex

        return frame_to_latex(self._display_table(digits), caption=caption or self._title())

    def plot(self, ax=None, **kwargs):
        """Plot the estimates with confidence intervals; returns the matplotlib Axes.

        Event-time results give an event-study plot, group-time results one
        panel per cohort, anything else a coefficient (forest) plot.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> r = Result(pd.DataFrame({"term": ["a", "b"]}), np.array([1.0, 2.0]), np.eye(2))
        >>> ax = r.plot()
        """
        from clusterimpact import plots

        return plots.plot_result(self, ax=ax, **kwargs)
