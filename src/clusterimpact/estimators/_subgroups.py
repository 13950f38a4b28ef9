"""What the ``by=`` estimators share: the few-clusters rule applied to each subgroup."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from clusterimpact.errors import FewClustersWarning

__all__ = ["FEW_CLUSTERS", "warn_few_subgroup_clusters"]

FEW_CLUSTERS = 30  # below this, cluster-robust analytic SEs tend to be too small


def warn_few_subgroup_clusters(group: np.ndarray, treated: np.ndarray, cluster: np.ndarray,
                               labels: pd.DataFrame, *, remedy: str,
                               stacklevel: int = 4) -> None:
    """The few-clusters rule applied to each subgroup: its SEs rest on the clusters it occupies.

    A subgroup present in few clusters (e.g. factory workers in 11 of 30 clusters, 4 of them
    comparisons) has analytic SEs that are too small even when the panel has many clusters.
    The rule is the panel's (fewer than 30 clusters) applied to the clusters each subgroup's
    units (or rows) occupy; one warning lists every such subgroup with its treated /
    untreated clusters and says what to do (``remedy``, which depends on the estimator).

    Parameters
    ----------
    group, treated, cluster
        Per unit (or row): subgroup code, whether it is ever treated, cluster code.
    labels
        One row of labels per subgroup code.
    remedy
        What to do, completing "...too small; <remedy>."

    Examples
    --------
    >>> import warnings, numpy as np, pandas as pd
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warn_few_subgroup_clusters(np.array([0, 0, 1, 1]), np.array([1, 0, 1, 0], bool),
    ...                                np.array([0, 1, 2, 3]), pd.DataFrame({"site": ["a", "b"]}),
    ...                                remedy="use the wild bootstrap")
    >>> "site=a (2 clusters: 1 treated, 1 untreated)" in str(w[0].message)
    True
    """
    n_cl = int(cluster.max()) + 1 if cluster.size else 0
    key = group.astype(np.int64) * n_cl + cluster

    def occupied(mask: np.ndarray | None) -> np.ndarray:
        present = np.zeros(len(labels) * n_cl, dtype=bool)  # (subgroup, cluster) table: O(n)
        present[key if mask is None else key[mask]] = True
        return present.reshape(len(labels), n_cl).sum(axis=1)

    n_all = occupied(None)
    few = np.flatnonzero(n_all < FEW_CLUSTERS)
    if few.size == 0:
        return
    n_treated, n_untreated = occupied(treated), occupied(~treated)
    names = [", ".join(f"{c}={v}" for c, v in labels.iloc[k].items()) for k in few]
    listed = "; ".join(f"{name} ({n_all[k]} clusters: {n_treated[k]} treated, "
                       f"{n_untreated[k]} untreated)"
                       for name, k in zip(names, few, strict=True))
    warnings.warn(
        f"Subgroup(s) whose units lie in fewer than {FEW_CLUSTERS} clusters: {listed}. Their "
        f"analytic standard errors tend to be too small; {remedy}.",
        FewClustersWarning, stacklevel=stacklevel)
