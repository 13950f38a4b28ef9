"""Summary indices over families of indicators (one test instead of many).

Both indices first standardise each component by the comparison group's
baseline mean and standard deviation and flip the sign of components where a
lower value is better, so that every component points the same way:
:math:`z_{ij} = s_j (y_{ij} - \\bar y^{ref}_j) / \\sigma^{ref}_j` with :math:`s_j = \\pm 1`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from clusterimpact.errors import SpecificationError, suggest

__all__ = ["anderson_index", "klk_index"]


def _mask(data: pd.DataFrame, value, name: str) -> np.ndarray:
    if value is None:
        return np.ones(len(data), dtype=bool)
    if isinstance(value, str):
        if value not in data:
            raise SpecificationError(f"{name}={value!r} is not a column.{suggest(value, data.columns)}")
        value = data[value]
    out = np.asarray(value)
    if out.shape != (len(data),):
        raise SpecificationError(f"{name} must have one entry per row ({len(data)}), got {out.shape}.")
    return out.astype(bool)


def _standardise(data: pd.DataFrame, components: Sequence[str], positive, reference, baseline
                 ) -> tuple[np.ndarray, np.ndarray]:
    components = list(components)
    missing = [c for c in components if c not in data]
    if missing:
        raise SpecificationError(f"Component column(s) {missing} not found."
                                 f"{suggest(missing[0], data.columns)}")
    if len(components) < 1:
        raise SpecificationError("Give at least one component.")
    if positive is None:
        sign = np.ones(len(components))
    elif isinstance(positive, Mapping):
        sign = np.array([1.0 if positive.get(c, True) else -1.0 for c in components])
    else:
        flags = list(positive)
        if len(flags) != len(components):
            raise SpecificationError(f"positive has {len(flags)} flags for {len(components)} components.")
        sign = np.where(np.asarray(flags, dtype=bool), 1.0, -1.0)
    ref = _mask(data, reference, "reference") & _mask(data, baseline, "baseline")
    y = data[components].to_numpy(dtype=float)
    mean = np.nanmean(np.where(ref[:, None], y, np.nan), axis=0)
    sd = np.nanstd(np.where(ref[:, None], y, np.nan), axis=0, ddof=1)
    bad = ~(sd > 0)
    if bad.any():
        raise SpecificationError(f"Components {np.array(components)[bad].tolist()} do not vary in the "
                                 "reference (comparison, baseline) rows; drop them.")
    return sign * (y - mean) / sd, ref


def klk_index(data: pd.DataFrame, components: Sequence[str], *, reference=None, baseline=None,
              positive=None, group=None) -> pd.Series:
    """Kling, Liebman & Katz (2007) equally weighted mean of standardised components.

    Parameters
    ----------
    data
        One row per observation.
    components
        Indicator columns.
    reference
        Boolean mask (or column name) of the comparison group whose mean and SD
        standardise each component; ``baseline`` further restricts it to baseline rows.
    positive
        Whether a higher value is better, per component (list of bools or a dict
        ``{column: bool}``; default all ``True``); components with ``False`` are flipped.
    group
        Assignment group (column name or array) for the imputation of missing
        components (default: one group).

    Returns
    -------
    pandas.Series
        The index, aligned to ``data.index``; NaN where every component is missing.

    Notes
    -----
    :math:`I_i = K^{-1}\\sum_j z_{ij}`. As in KLK (2007), an observation with at least one
    valid component has its missing components imputed at the mean of :math:`z_j` in
    its assignment group.

    References
    ----------
    Kling, J. R., Liebman, J. B. and Katz, L. F. (2007). Experimental analysis of
    neighborhood effects. *Econometrica*, 75(1), 83-119.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"wage": [1.0, 2.0, 3.0, 4.0], "injuries": [2.0, 1.0, 1.0, 0.0],
    ...                    "treated": [0, 0, 1, 1]})
    >>> klk_index(df, ["wage", "injuries"], reference=df.treated == 0,
    ...           positive={"injuries": False}).round(4).tolist()
    [-0.7071, 0.7071, 1.4142, 2.8284]
    """
    z, _ = _standardise(data, components, positive, reference, baseline)
    groups = np.zeros(len(data), dtype=int) if group is None else pd.factorize(
        np.asarray(data[group] if isinstance(group, str) else group))[0]
    filled = z.copy()
    for g in np.unique(groups):
        rows = groups == g
        gmean = np.nanmean(np.where(rows[:, None], z, np.nan), axis=0)
        hole = rows[:, None] & np.isnan(z)
        filled[hole] = np.broadcast_to(gmean, z.shape)[hole]
    out = filled.mean(axis=1)
    out[np.all(np.isnan(z), axis=1)] = np.nan
    return pd.Series(out, index=data.index, name="klk_index")


def anderson_index(data: pd.DataFrame, components: Sequence[str], *, reference=None, baseline=None,
                   positive=None, standardize: bool = True) -> pd.Series:
    """Anderson (2008) inverse-covariance-weighted summary index.

    Parameters
    ----------
    data, components, reference, baseline, positive
        As in :func:`klk_index`.
    standardize
        Rescale the index to mean 0 and SD 1 in the reference rows (as Anderson does).

    Returns
    -------
    pandas.Series
        The index aligned to ``data.index``; ``attrs["weights"]`` holds the
        component weights :math:`w_j` (normalised to sum to one).

    Notes
    -----
    With :math:`\\hat\\Sigma` the covariance matrix of the standardised components in the
    reference rows (pairwise complete), the weights are the row sums of
    :math:`\\hat\\Sigma^{-1}`, :math:`w_j = \\sum_k (\\hat\\Sigma^{-1})_{jk}`, and
    :math:`I_i = \\sum_{j \\in A_i} w_j z_{ij} / \\sum_{j \\in A_i} w_j` over the components
    :math:`A_i` observed for :math:`i` (missing components are skipped, as in
    Anderson's paper). Highly correlated components share weight, so adding a near
    duplicate does not double-count it.

    References
    ----------
    Anderson, M. L. (2008). Multiple inference and gender differences in the effects of
    early intervention. *Journal of the American Statistical Association*, 103(484), 1481-1495.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 5.0], "b": [1.0, 0.0, 2.0, 4.0, 3.0]})
    >>> idx = anderson_index(df, ["a", "b"], standardize=False)
    >>> idx.attrs["weights"].round(3).tolist()
    [0.5, 0.5]
    """
    z, ref = _standardise(data, components, positive, reference, baseline)
    zr = pd.DataFrame(z[ref])
    cov = zr.cov().to_numpy()  # pairwise complete
    if not np.all(np.isfinite(cov)):
        raise SpecificationError("Cannot estimate the covariance of the components in the "
                                 "reference rows (too few complete pairs).")
    w = np.linalg.pinv(cov).sum(axis=1)
    observed = ~np.isnan(z)
    num = np.where(observed, z, 0.0) @ w
    den = observed.astype(float) @ w
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(observed.any(axis=1) & (np.abs(den) > 1e-12), num / den, np.nan)
    if standardize:
        r = out[ref]
        out = (out - np.nanmean(r)) / np.nanstd(r, ddof=1)
    series = pd.Series(out, index=data.index, name="anderson_index")
    series.attrs["weights"] = pd.Series(w / w.sum(), index=list(components))
    return series
