"""Covariate balance between treated and comparison units: SMDs, variance ratios, love plots.

The conventions follow R ``cobalt`` (Greifer 2024), so that numbers can be
compared with ``bal.tab()`` and ``MatchIt``'s ``summary()``:

- the standardised mean difference (SMD) divides the (weighted) difference in
  means by a standard deviation computed on the *unadjusted* sample, so that
  SMDs before and after matching or weighting share one denominator;
- the denominator is the treated-group SD by default (the ATT convention),
  the control-group SD for the ATC, or the pooled SD ``sqrt((s1^2 + s0^2)/2)``;
- binary covariates get the raw difference in proportions (``type ==
  "binary"``), as cobalt does by default; ``binary="std"`` standardises them
  by ``sqrt(p(1 - p))`` as MatchIt's ``summary()`` does;
- categorical covariates are expanded into one indicator row per level
  (``race_black``, ``race_white`` ...).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact.design._frames import to_pandas
from clusterimpact.errors import ClusterImpactWarning, SpecificationError, show_rows, suggest

__all__ = ["balance", "covariate_matrix", "love_plot", "treatment_vector"]

SdDenom = Literal["treated", "control", "pooled"]
BinaryStat = Literal["raw", "std"]


# ----------------------------------------------------------------------------- input checks
def _check_columns(frame: pd.DataFrame, names: Sequence[str], role: str) -> None:
    missing = [c for c in names if c not in frame.columns]
    if missing:
        parts = [f"{c!r}{suggest(c, frame.columns)}" for c in missing]
        raise SpecificationError(
            f"{role} column(s) not found in the data: " + "; ".join(parts)
            + f"\nAvailable columns: {', '.join(map(str, frame.columns[:30]))}"
            + (" ..." if frame.shape[1] > 30 else "")
        )


def _as_list(names: str | Sequence[str] | None) -> list[str]:
    if names is None:
        return []
    return [names] if isinstance(names, str) else list(names)


def treatment_vector(frame: pd.DataFrame, treatment: str) -> np.ndarray:
    """The 0/1 treatment column as a boolean array, with clear errors.

    Examples
    --------
    >>> import pandas as pd
    >>> treatment_vector(pd.DataFrame({"d": [0, 1, 1]}), "d").tolist()
    [False, True, True]
    """
    _check_columns(frame, [treatment], "Treatment")
    col = frame[treatment]
    bad = col.isna().to_numpy()
    if bad.any():
        raise SpecificationError(
            f"Missing values in the treatment column {treatment!r}: {int(bad.sum())} row(s). "
            "Drop them first.\n" + show_rows(frame, bad, [treatment])
        )
    values = pd.unique(col)
    if not set(values.tolist()) <= {0, 1}:
        raise SpecificationError(
            f"The treatment column {treatment!r} must be binary (0/1 or True/False); found the "
            f"values {sorted(map(str, values))[:8]}. Recode it, e.g. (data[{treatment!r}] == level)."
        )
    d = col.to_numpy().astype(bool)
    if d.all() or not d.any():
        raise SpecificationError(
            f"The treatment column {treatment!r} has only {'treated' if d.all() else 'control'} units; "
            "balance needs both arms."
        )
    return d


def _is_categorical(col: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col))


def covariate_matrix(frame: pd.DataFrame, covariates: Sequence[str], *, drop_first: bool = False
                     ) -> tuple[np.ndarray, list[str], list[str]]:
    """Numeric covariate matrix with categorical columns expanded into indicators.

    Returns the matrix, the column labels (``name`` or ``name_level``) and the
    type of each column (``"binary"`` or ``"continuous"``). Missing values are
    an error that reports the count per column.

    Examples
    --------
    >>> import pandas as pd
    >>> x, names, kinds = covariate_matrix(pd.DataFrame({"a": [1.0, 2.5], "g": ["u", "v"]}), ["a", "g"])
    >>> names, kinds
    (['a', 'g_u', 'g_v'], ['continuous', 'binary', 'binary'])
    """
    covariates = _as_list(covariates)
    if not covariates:
        raise SpecificationError("Give at least one covariate.")
    _check_columns(frame, covariates, "Covariate")
    counts = {c: int(frame[c].isna().sum()) for c in covariates}
    counts = {c: n for c, n in counts.items() if n}
    if counts:
        detail = ", ".join(f"{c!r}: {n}" for c, n in counts.items())
        mask = frame[list(counts)].isna().any(axis=1).to_numpy()
        raise SpecificationError(
            f"Missing values in covariates ({detail} row(s)); drop or impute them first "
            "(e.g. add a missingness indicator and fill).\n" + show_rows(frame, mask, list(counts))
        )
    blocks, names, kinds = [], [], []
    for c in covariates:
        col = frame[c]
        if _is_categorical(col):
            levels = sorted(pd.unique(col), key=str)
            if drop_first:
                levels = levels[1:]
            for lev in levels:
                blocks.append((col == lev).to_numpy(dtype=float))
                names.append(f"{c}_{lev}")
                kinds.append("binary")
        else:
            x = col.to_numpy(dtype=float)
            if np.isinf(x).any():
                raise SpecificationError(f"Infinite values in the covariate {c!r}: {int(np.isinf(x).sum())}.")
            blocks.append(x)
            names.append(str(c))
            kinds.append("binary" if np.isin(np.unique(x), [0.0, 1.0]).all() else "continuous")
    return np.column_stack(blocks), names, kinds


def _weights(frame: pd.DataFrame, weights: Any, what: str = "weights") -> np.ndarray:
    if weights is None:
        return np.ones(len(frame))
    if isinstance(weights, str):
        _check_columns(frame, [weights], "Weights")
        w = frame[weights].to_numpy(dtype=float)
    elif isinstance(weights, pd.Series):
        w = weights.reindex(frame.index).to_numpy(dtype=float)
    else:
        w = np.asarray(weights, dtype=float)
    if w.shape != (len(frame),):
        raise SpecificationError(f"{what} must have one value per row ({len(frame)}), got shape {w.shape}.")
    if np.isnan(w).any() or np.isinf(w).any() or (w < 0).any():
        raise SpecificationError(f"{what} must be finite and non-negative (NaN, inf or negative found).")
    return w


# ----------------------------------------------------------------------------- statistics
def _wmean(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (w @ x) / w.sum()


def _wvar(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted variance with the reliability-weights correction (the sample variance when w = 1)."""
    s = w.sum()
    m = _wmean(x, w)
    denom = s - (w @ w) / s
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ (x - m) ** 2) / denom


def _ks(x: np.ndarray, d: np.ndarray, w: np.ndarray) -> float:
    """Largest gap between the weighted ECDFs of the two arms (MatchIt's ``eCDF Max``)."""
    order = np.argsort(x, kind="stable")
    xs, ds, ws = x[order], d[order], w[order]
    f1 = np.cumsum(np.where(ds, ws, 0.0)) / ws[ds].sum()
    f0 = np.cumsum(np.where(ds, 0.0, ws)) / ws[~ds].sum()
    last = np.r_[xs[1:] != xs[:-1], True]
    return float(np.max(np.abs(f1 - f0)[last]))


def balance_table(x: np.ndarray, names: list[str], kinds: list[str], d: np.ndarray, w: np.ndarray,
                  *, s_d_denom: SdDenom = "treated", binary: BinaryStat = "raw",
                  base: np.ndarray | None = None) -> pd.DataFrame:
    """Balance statistics from arrays (see :func:`balance`); ``base`` are the sampling weights.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0], [2.0], [3.0], [5.0]]); d = np.array([True, True, False, False])
    >>> balance_table(x, ["x"], ["continuous"], d, np.ones(4))["smd"].round(4).tolist()
    [-3.5355]
    """
    base = np.ones(len(d)) if base is None else base
    wa = w * base
    rows = []
    for j, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        col = x[:, j]
        keep1, keep0 = d & (wa > 0), ~d & (wa > 0)
        m1, m0 = _wmean(col[keep1], wa[keep1]), _wmean(col[keep0], wa[keep0])
        # denominators from the unadjusted (base-weighted) sample, as cobalt does
        if kind == "binary":
            p1, p0 = _wmean(col[d], base[d]), _wmean(col[~d], base[~d])
            v1, v0 = p1 * (1 - p1), p0 * (1 - p0)
        else:
            v1, v0 = _wvar(col[d], base[d]), _wvar(col[~d], base[~d])
        sd = {"treated": np.sqrt(v1), "control": np.sqrt(v0), "pooled": np.sqrt((v1 + v0) / 2)}[s_d_denom]
        diff = m1 - m0
        if kind == "binary" and binary == "raw":
            smd = diff
        else:
            smd = diff / sd if sd > 0 else (0.0 if diff == 0 else np.nan)
        if kind == "binary":
            vr = np.nan
        else:
            a1, a0 = _wvar(col[keep1], wa[keep1]), _wvar(col[keep0], wa[keep0])
            vr = a1 / a0 if a0 > 0 else np.nan
        rows.append({"covariate": name, "mean_treated": m1, "mean_control": m0, "smd": smd,
                     "variance_ratio": vr, "type": kind,
                     "ks": _ks(col[keep1 | keep0], d[keep1 | keep0], wa[keep1 | keep0])})
    return pd.DataFrame(rows)


def balance(
    data: Any,
    *,
    treatment: str,
    covariates: str | Sequence[str],
    weights: str | np.ndarray | pd.Series | None = None,
    s_d_denom: SdDenom = "treated",
    binary: BinaryStat = "raw",
    sampling_weights: str | None = None,
) -> pd.DataFrame:
    """Covariate balance between treated and control units, optionally after weighting.

    Parameters
    ----------
    data
        pandas or polars DataFrame (not modified).
    treatment
        Binary (0/1 or boolean) treatment column.
    covariates
        Covariate column(s). Non-numeric columns are expanded into one
        indicator row per level; numeric 0/1 columns are treated as binary.
    weights
        Adjustment weights (matching or weighting weights): a column name, an
        array with one value per row or a Series aligned to ``data.index``
        (e.g. :attr:`MatchResult.weights`). Default: none.
    s_d_denom
        Standard deviation used in the SMD: ``"treated"`` (default, the ATT
        convention), ``"control"`` (ATC) or ``"pooled"`` (ATE).
    binary
        ``"raw"`` (default, cobalt): binary covariates report the raw
        difference in proportions in ``smd``; ``"std"`` (MatchIt): they are
        standardised by ``sqrt(p(1 - p))``.
    sampling_weights
        Optional survey/sampling weight column, applied before and after
        adjustment and in the SMD denominators.

    Returns
    -------
    pandas.DataFrame
        One row per covariate (or level): ``covariate, mean_treated,
        mean_control, smd, variance_ratio``, then ``type`` (``"binary"`` or
        ``"continuous"``; binary rows carry raw differences when
        ``binary="raw"`` and no variance ratio) and ``ks`` (the largest
        distance between the weighted empirical CDFs, MatchIt's ``eCDF Max``).

    Raises
    ------
    SpecificationError
        Missing columns (with close names), a non-binary treatment, missing
        covariate values (with counts per column), bad weights.

    Warns
    -----
    ClusterImpactWarning
        When a covariate is constant within one arm (its SMD is undefined or
        its variance ratio infinite).

    Notes
    -----
    With adjustment weights :math:`w_i`, :math:`\\bar x_a = \\sum_{i \\in a} w_i
    x_i / \\sum_{i\\in a} w_i`. The SMD is :math:`(\\bar x_1 - \\bar x_0)/s`
    with :math:`s = s_1` (treated), :math:`s_0` or :math:`\\sqrt{(s_1^2 +
    s_0^2)/2}`, where :math:`s_a^2` is the *unweighted* sample variance in arm
    :math:`a` (:math:`p_a(1-p_a)` for binary covariates). The variance ratio
    is :math:`v_1 / v_0` with the weighted variance :math:`v = \\sum w (x -
    \\bar x)^2 / (\\sum w - \\sum w^2 / \\sum w)`, the sample variance when all
    weights are one. Rules of thumb: :math:`|SMD| < 0.1` and a variance ratio
    in :math:`(0.5, 2)` (Stuart 2010; Austin 2009).

    References
    ----------
    Austin, P. C. (2009). Balance diagnostics for comparing the distribution of
    baseline covariates between treatment groups in propensity-score matched
    samples. *Statistics in Medicine* 28, 3083-3107.

    Greifer, N. (2024). cobalt: Covariate Balance Tables and Plots. R package.

    Stuart, E. A. (2010). Matching methods for causal inference: a review and a
    look forward. *Statistical Science* 25, 1-21.

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"d": [1, 1, 1, 0, 0, 0], "age": [20, 30, 40, 25, 45, 35],
    ...                    "urban": [1, 1, 0, 0, 1, 0]})
    >>> ci.balance(df, treatment="d", covariates=["age", "urban"])[["covariate", "smd"]].round(3)
      covariate    smd
    0       age -0.500
    1     urban  0.333
    """
    frame = to_pandas(data)
    d = treatment_vector(frame, treatment)
    x, names, kinds = covariate_matrix(frame, _as_list(covariates))
    w = _weights(frame, weights)
    base = _weights(frame, sampling_weights, "sampling_weights") if sampling_weights else np.ones(len(d))
    for arm, label in ((d, "treated"), (~d, "control")):
        if (w * base)[arm].sum() <= 0:
            raise SpecificationError(f"The weights of every {label} unit are zero; nothing to compare.")
    const = [n for j, n in enumerate(names) if kinds[j] == "continuous"
             and any(np.ptp(x[arm & (w > 0), j]) == 0 for arm in (d, ~d))]
    if const:
        warnings.warn(
            f"Covariate(s) constant within one arm: {', '.join(const)}; their SMD may be undefined "
            "and variance ratio infinite.", ClusterImpactWarning, stacklevel=2)
    return balance_table(x, names, kinds, d, w, s_d_denom=s_d_denom, binary=binary, base=base)


def love_plot(table: pd.DataFrame, ax=None, *, threshold: float | None = 0.1, absolute: bool = True,
              title: str | None = None):
    """Love plot: SMD of each covariate, one marker per sample (before / after adjustment).

    Parameters
    ----------
    table
        Output of :func:`balance` (one sample) or of :meth:`MatchResult.balance`
        (a ``sample`` column with ``"before"`` and ``"after"``).
    ax
        Matplotlib Axes to draw on (a new figure if ``None``).
    threshold
        Draw dashed lines at ``±threshold`` (default 0.1); ``None`` for none.
    absolute
        Plot absolute SMDs (default), as is conventional.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"covariate": ["a", "a"], "smd": [0.5, 0.05], "sample": ["before", "after"]})
    >>> ax = love_plot(t)
    >>> ax.get_xlabel()
    'Absolute standardised mean difference'
    """
    if ax is None:
        import matplotlib.pyplot as plt

        n = table["covariate"].nunique()
        _, ax = plt.subplots(figsize=(6.5, max(2.5, 0.35 * n + 1.2)))
    tab = table if "sample" in table else table.assign(sample="sample")
    order = list(pd.unique(tab["covariate"]))
    y = {c: i for i, c in enumerate(order[::-1])}
    styles = {"before": ("o", "#7f7f7f"), "after": ("D", "#1f77b4")}
    for sample, sub in tab.groupby("sample", sort=False):
        marker, colour = styles.get(str(sample), ("s", "#ff7f0e"))
        v = sub["smd"].to_numpy(dtype=float)
        ax.scatter(np.abs(v) if absolute else v, [y[c] for c in sub["covariate"]], marker=marker,
                   color=colour, label=str(sample), zorder=3)
    ax.set_yticks(list(y.values()), list(y.keys()))
    ax.axvline(0, color="black", lw=0.8)
    if threshold is not None:
        for t in ([threshold] if absolute else [-threshold, threshold]):
            ax.axvline(t, color="black", lw=0.8, ls="--")
    ax.set_xlabel(("Absolute standardised" if absolute else "Standardised") + " mean difference")
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, loc="lower right")
    return ax
