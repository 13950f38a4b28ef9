"""Forest plot of subgroup x outcome estimates (winners and losers)."""

from __future__ import annotations

import numpy as np
import pandas as pd

_COLOURS = {"gains": "#1b7837", "loses": "#b2182b", "no detectable change": "#777777"}


def forest_plot(table: pd.DataFrame, ax=None, *, label_columns: list[str] | None = None,
                title: str | None = None):
    """Horizontal forest plot of ``estimate`` with ``conf_low``/``conf_high``; returns the Axes.

    Rows are labelled by ``label_columns`` (default: the non-statistic columns);
    a ``classification`` column, if present, colours the points.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"group": ["a", "b"], "estimate": [1.0, -1.0],
    ...                   "conf_low": [0.5, -1.5], "conf_high": [1.5, -0.5]})
    >>> ax = forest_plot(t)
    """
    import matplotlib.pyplot as plt

    stat_cols = {"estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high", "df",
                 "p_value_adjusted", "classification", "n_units"}
    labels = label_columns or [c for c in table.columns if c not in stat_cols]
    text = [" | ".join(str(v) for v in row) for row in table[labels].itertuples(index=False)] \
        if labels else [str(i) for i in range(len(table))]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.4 * len(table) + 1.2))
    pos = np.arange(len(table))[::-1]
    colours = [_COLOURS.get(c, "#2166ac") for c in table.get("classification", [""] * len(table))]
    est = table["estimate"].to_numpy(dtype=float)
    lo, hi = table["conf_low"].to_numpy(dtype=float), table["conf_high"].to_numpy(dtype=float)
    for y, e, a, b, c in zip(pos, est, lo, hi, colours, strict=True):
        ax.plot([a, b], [y, y], color=c, lw=2)
        ax.plot([e], [y], "o", color=c)
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_yticks(pos)
    ax.set_yticklabels(text)
    ax.set_xlabel("effect (with confidence interval)")
    if title:
        ax.set_title(title)
    if "classification" in table:
        from matplotlib.lines import Line2D

        present = [k for k in _COLOURS if k in set(table["classification"])]
        ax.legend([Line2D([0], [0], color=_COLOURS[k], marker="o") for k in present], present,
                  loc="best", fontsize="small")
    return ax
