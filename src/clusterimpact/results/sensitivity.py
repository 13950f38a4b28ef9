"""Sensitivity-analysis results: robust intervals over a grid of restriction sizes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clusterimpact.results.base import Result

__all__ = ["SensitivityResult"]


@dataclass(frozen=True, eq=False, repr=False)
class SensitivityResult(Result):
    """Robust confidence intervals for one parameter, one row per value of ``M`` / ``Mbar``.

    Returned by :meth:`Result.honest`. ``estimate`` repeats the original point
    estimate of the target; the robust interval of each row is in ``conf_low``
    and ``conf_high`` (these are not ``estimate +- z * se``: their ``vcov`` is NaN).

    Attributes
    ----------
    conf_low, conf_high
        Robust interval bounds, one per grid value (NaN: empty set; +-inf: open).
    original
        The usual interval for the target (``Result`` with one row).
    parameter
        ``"M"`` (smoothness) or ``"Mbar"`` (relative magnitudes).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> s = SensitivityResult(pd.DataFrame({"Mbar": [0.0, 1.0], "method": "C-LF"}),
    ...                       np.array([0.5, 0.5]), np.diag([np.nan, np.nan]),
    ...                       conf_low=np.array([0.2, -0.1]), conf_high=np.array([0.8, 1.1]),
    ...                       parameter="Mbar")
    >>> s.tidy()[["Mbar", "conf_low", "conf_high"]].to_numpy().tolist()
    [[0.0, 0.2, 0.8], [1.0, -0.1, 1.1]]
    >>> s.breakdown
    0.0
    """

    conf_low: np.ndarray | None = None
    conf_high: np.ndarray | None = None
    original: Result | None = None
    parameter: str = "M"

    def tidy(self, alpha: float | None = None) -> pd.DataFrame:
        """The grid value, the method, the original estimate and the robust interval.

        ``alpha`` cannot change the robust intervals (they are computed at the
        result's level); it is accepted for interface compatibility only.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> s = SensitivityResult(pd.DataFrame({"M": [0.0], "method": "FLCI"}), np.array([1.0]),
        ...                       np.array([[np.nan]]), conf_low=np.array([0.5]),
        ...                       conf_high=np.array([1.5]))
        >>> list(s.tidy().columns)
        ['M', 'method', 'estimate', 'conf_low', 'conf_high', 'excludes_zero']
        """
        out = self.keys.copy()
        out["estimate"] = self.estimate
        out["conf_low"] = self.conf_low
        out["conf_high"] = self.conf_high
        out["excludes_zero"] = (out["conf_low"] > 0) | (out["conf_high"] < 0)
        return out

    @property
    def breakdown(self) -> float:
        """Largest grid value whose robust interval still excludes zero (NaN if none).

        The "breakdown value" of Rambachan & Roth, at the resolution of the grid;
        if the interval excludes zero at every grid value, the largest one is
        returned (the breakdown lies beyond the grid).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> s = SensitivityResult(pd.DataFrame({"M": [0.0, 1.0, 2.0], "method": "FLCI"}),
        ...                       np.ones(3), np.diag(np.full(3, np.nan)),
        ...                       conf_low=np.array([0.5, 0.1, -0.2]), conf_high=np.full(3, 2.0))
        >>> s.breakdown
        1.0
        """
        tab = self.tidy()
        grid = tab[self.parameter].to_numpy(dtype=float)
        ok = tab["excludes_zero"].to_numpy(dtype=bool)
        # the largest M such that every smaller grid value also excludes zero
        order = np.argsort(grid)
        run = np.cumprod(ok[order]).astype(bool)
        return float(grid[order][run].max()) if run.any() else float("nan")

    def _display_table(self, digits: int = 4) -> pd.DataFrame:
        tab = self.tidy()
        num = tab.select_dtypes("number").columns
        tab[num] = tab[num].round(digits)
        return tab

    def plot(self, ax=None, **kwargs):
        """Original interval, then the robust intervals against ``M`` / ``Mbar``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from clusterimpact.results import Result
        >>> orig = Result(pd.DataFrame({"term": ["x"]}), np.array([0.5]), np.array([[0.01]]))
        >>> s = SensitivityResult(pd.DataFrame({"M": [0.0, 1.0], "method": "FLCI"}),
        ...                       np.full(2, 0.5), np.diag([np.nan, np.nan]),
        ...                       conf_low=np.array([0.2, -0.1]), conf_high=np.array([0.8, 1.1]),
        ...                       original=orig)
        >>> s.plot().get_xlabel()
        'M'
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=kwargs.pop("figsize", (6, 4)))
        grid = self.keys[self.parameter].to_numpy(dtype=float)
        step = float(np.min(np.diff(np.unique(grid)))) if np.unique(grid).size > 1 else 1.0
        if self.original is not None:
            lo, hi = self.original.conf_int().to_numpy()[0]
            x0 = grid.min() - step
            ax.plot([x0, x0], [lo, hi], color="tab:red", lw=2, label="Original")
            ax.plot([x0 - 0.15 * step, x0 + 0.15 * step], [lo, lo], color="tab:red")
            ax.plot([x0 - 0.15 * step, x0 + 0.15 * step], [hi, hi], color="tab:red")
        low = np.where(np.isfinite(self.conf_low), self.conf_low, np.nan)
        high = np.where(np.isfinite(self.conf_high), self.conf_high, np.nan)
        label = str(self.keys["method"].iloc[0]) if "method" in self.keys else "Robust"
        ax.vlines(grid, low, high, color="tab:blue", lw=2, label=label)
        ax.hlines(np.r_[low, high], np.r_[grid, grid] - 0.15 * step, np.r_[grid, grid] + 0.15 * step,
                  color="tab:blue")
        ax.axhline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel(self.parameter)
        ax.set_ylabel(f"{1 - self.alpha:.0%} robust confidence interval")
        ax.set_title(kwargs.get("title") or self._title())
        ax.legend(frameon=False)
        return ax
