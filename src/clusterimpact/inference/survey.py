"""Design-based variances for stratified cluster samples (Taylor linearisation).

Baseline and endline worker surveys are usually stratified cluster samples:
strata (regions, sectors), primary sampling units (PSUs: factories, villages)
drawn within each stratum, sampling weights and, when a large share of a
stratum's PSUs is drawn, a finite-population correction. A
:class:`SurveyDesign` describes such a one-stage design PSU by PSU, and
:meth:`SurveyDesign.vcov` turns any matrix of linearised scores (influence
functions) into the design-based covariance of the estimates, for many
estimates at once. :class:`~clusterimpact.Panel` builds the design from its
``cluster=`` (the PSU), ``strata=``, ``fpc=``, ``nest=`` and ``lonely_psu=``
arguments, and every estimator that produces influence functions uses it.

Notes
-----
Write :math:`z_{hi}` for the total over PSU :math:`i` of stratum :math:`h` of
the (sum-scaled) influence function of an estimate, so that
:math:`\\hat\\theta - \\theta \\approx \\sum_h\\sum_i z_{hi}`. With :math:`n_h`
sampled PSUs out of :math:`N_h` and :math:`f_h = n_h / N_h` (0 without fpc),

.. math:: \\hat V = \\sum_h (1 - f_h)\\,\\frac{n_h}{n_h - 1}
          \\sum_{i \\in h} (z_{hi} - \\bar z_h)(z_{hi} - \\bar z_h)'

(Binder 1983; Wolter 2007, ch. 6; R ``survey``'s ``svyrecvar`` for a one-stage
design, Stata's ``svy: `` linearised variance). PSUs that hold no row of an
estimate (a subgroup, or units an estimator drops) count with :math:`z_{hi} = 0`,
as in R ``survey``'s domain estimation. Inference uses the t distribution with
the design degrees of freedom, #PSUs - #strata (Stata's ``svy`` convention and
R ``survey``'s ``degf``).

**Strata with a single PSU** have no within-stratum variance. As R's
``options(survey.lonely.psu=)``: ``"fail"`` raises; ``"remove"`` and
``"certainty"`` let them contribute nothing; ``"adjust"`` centres their PSU
total at the mean PSU total of the whole sample, :math:`\\sum_{hi} z_{hi} / n`
(R ``survey`` >= 4.2); ``"average"`` replaces their contribution by the
average of the other strata's (the sum over strata with two or more PSUs is
multiplied by #strata / #such strata).

**Convention.** The :math:`n_h/(n_h-1)` factor is R ``survey``'s and Stata's.
clusterimpact's clustered influence-function variance without a survey design
(R ``did``'s) is :math:`\\sum_g z_g z_g'` without it, so with one stratum and no
fpc a declared design gives variances :math:`G/(G-1)` times larger;
``small_sample=False`` removes the factor and reproduces that variance exactly.

References
----------
Binder, D. A. (1983). On the variances of asymptotically normal estimators from
complex surveys. *International Statistical Review* 51(3), 279-292.

Wolter, K. M. (2007). *Introduction to Variance Estimation*, 2nd ed. Springer.

Lumley, T. (2004). Analysis of complex survey samples. *Journal of Statistical
Software* 9(8), 1-19.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy import sparse

from clusterimpact.errors import (
    ClusterImpactWarning,
    EstimationError,
    PanelError,
    SpecificationError,
    show_rows,
    suggest,
)

__all__ = ["LonelyPSU", "SurveyDesign", "bootstrap_rows", "survey_vcov"]

LonelyPSU = Literal["fail", "adjust", "average", "certainty", "remove"]
_LONELY: tuple[str, ...] = get_args(LonelyPSU)


def check_lonely_option(value: str) -> None:
    """Raise :class:`SpecificationError` unless ``value`` is a ``lonely_psu`` option."""
    if value not in _LONELY:
        raise SpecificationError(f"lonely_psu={value!r} is not allowed; use one of "
                                 f"{', '.join(map(repr, _LONELY))}.{suggest(str(value), _LONELY)}")


@dataclass(frozen=True, eq=False)
class SurveyDesign:
    """A one-stage stratified cluster design, described PSU by PSU.

    Parameters
    ----------
    psu_stratum
        Stratum code (0-based) of each PSU, by PSU code; shape ``(n_psu,)``.
    population
        Number of PSUs in the population of each stratum, shape ``(n_strata,)``;
        ``inf`` where no finite-population correction applies.
    lonely_psu
        What strata with a single sampled PSU contribute (see the module notes).
    stratum_labels
        Labels of the strata, by code (for messages and :meth:`describe`).
    columns
        The ``strata`` and ``fpc`` column names, for labels; ``None`` if absent.

    Examples
    --------
    Two strata of two PSUs each, 4 of 10 PSUs sampled in the second:

    >>> import numpy as np
    >>> design = SurveyDesign(np.array([0, 0, 1, 1]), np.array([np.inf, 10.0]))
    >>> design.n_psu.tolist(), design.fraction.tolist(), design.df
    ([2, 2], [0.0, 0.2], 2)
    >>> z = np.array([[1.0], [-1.0], [2.0], [0.0]])   # PSU totals of one estimate
    >>> float(design.vcov(z)[0, 0])                    # 2*(1+1) + 0.8*2*(1+1)
    7.2
    """

    psu_stratum: np.ndarray
    population: np.ndarray
    lonely_psu: LonelyPSU = "fail"
    stratum_labels: pd.Index | None = None
    columns: tuple[str | None, str | None] = (None, None)

    def __post_init__(self) -> None:
        check_lonely_option(self.lonely_psu)
        stratum = np.asarray(self.psu_stratum, dtype=np.int64)
        population = np.asarray(self.population, dtype=float)
        if stratum.size and (stratum.min() < 0 or stratum.max() >= population.size):
            raise SpecificationError("psu_stratum holds codes outside 0..n_strata - 1.")
        for name, value in (("psu_stratum", stratum), ("population", population)):
            value.flags.writeable = False
            object.__setattr__(self, name, value)
        if (self.population < self.n_psu).any():
            raise SpecificationError("population holds fewer PSUs than were sampled in some stratum.")

    # ---------------------------------------------------------- description
    @property
    def n_psu(self) -> np.ndarray:
        """Sampled PSUs per stratum.

        Examples
        --------
        >>> import numpy as np
        >>> SurveyDesign(np.array([0, 1, 1]), np.full(2, np.inf), "remove").n_psu.tolist()
        [1, 2]
        """
        return np.bincount(self.psu_stratum, minlength=self.population.size)

    @property
    def fraction(self) -> np.ndarray:
        """Sampling fraction :math:`f_h = n_h / N_h` per stratum (0 without fpc).

        Examples
        --------
        >>> import numpy as np
        >>> SurveyDesign(np.array([0, 0]), np.array([8.0])).fraction.tolist()
        [0.25]
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            f = self.n_psu / self.population
        return np.where(np.isfinite(self.population), f, 0.0)

    @property
    def df(self) -> int:
        """Design degrees of freedom: sampled PSUs minus strata (Stata ``svy``, R ``degf``).

        Examples
        --------
        >>> import numpy as np
        >>> SurveyDesign(np.array([0, 0, 1, 1, 1]), np.full(2, np.inf)).df
        3
        """
        return int(self.psu_stratum.size - np.count_nonzero(self.n_psu))

    @property
    def has_fpc(self) -> bool:
        """Whether a finite-population correction applies in some stratum.

        Examples
        --------
        >>> import numpy as np
        >>> SurveyDesign(np.array([0, 0]), np.array([np.inf])).has_fpc
        False
        """
        return bool(np.isfinite(self.population).any())

    def label(self) -> str:
        """A short description for result headers (``vcov_type``).

        Examples
        --------
        >>> import numpy as np
        >>> SurveyDesign(np.array([0, 0, 1, 1]), np.array([4.0, 9.0])).label()
        'design-based (linearised): 4 PSUs in 2 strata, with fpc, df = 2'
        """
        strata = self.population.size
        return (f"design-based (linearised): {self.psu_stratum.size} PSUs in {strata} "
                f"strat{'um' if strata == 1 else 'a'}" + (", with fpc" if self.has_fpc else "")
                + f", df = {self.df}")

    def describe(self) -> pd.DataFrame:
        """One row per stratum: sampled PSUs, population PSUs and sampling fraction.

        Examples
        --------
        >>> import numpy as np
        >>> SurveyDesign(np.array([0, 0, 1, 1]), np.array([4.0, 9.0])).describe()
           stratum  n_psu  population  fraction
        0        0      2         4.0  0.500000
        1        1      2         9.0  0.222222
        """
        labels = (np.arange(self.population.size) if self.stratum_labels is None
                  else np.asarray(self.stratum_labels))
        return pd.DataFrame({"stratum": labels, "n_psu": self.n_psu, "population": self.population,
                             "fraction": self.fraction})

    # ------------------------------------------------------------ variance
    def vcov(self, scores: np.ndarray, psu: np.ndarray | None = None, *,
             small_sample: bool = True) -> np.ndarray:
        """Design-based covariance of the estimates whose linearised scores are ``scores``.

        Parameters
        ----------
        scores
            ``(m, k)`` (or ``(m,)``) sum-scaled influence functions: the
            estimates minus the truth are approximately ``scores.sum(axis=0)``.
            Rows are observations, units or PSUs.
        psu
            PSU code of each row; ``None`` when the rows are the PSUs in code
            order. PSUs without a row count with a zero total.
        small_sample
            Multiply each stratum by :math:`n_h/(n_h-1)` (R ``survey``, Stata).

        Returns
        -------
        numpy.ndarray
            ``(k, k)`` covariance matrix.

        Examples
        --------
        >>> import numpy as np
        >>> design = SurveyDesign(np.array([0, 0, 0]), np.array([np.inf]))
        >>> psi = np.array([1.0, 2.0, -1.0, -2.0])          # four rows in three PSUs
        >>> float(design.vcov(psi, psu=np.array([0, 0, 1, 2]))[0, 0])   # 1.5*(9+1+4)
        21.0
        """
        totals = psu_totals(scores, psu, self.psu_stratum.size)
        return stratified_vcov(totals, self.psu_stratum, self.population, self.lonely_psu,
                               small_sample=small_sample)

    def bootstrap_rows(self, scores: np.ndarray, psu: np.ndarray | None = None) -> np.ndarray:
        """PSU rows to resample with multipliers: their cross-product is :meth:`vcov`.

        See :func:`bootstrap_rows`.

        Examples
        --------
        >>> import numpy as np
        >>> design = SurveyDesign(np.array([0, 0, 1, 1]), np.array([np.inf, 10.0]))
        >>> z = np.array([[1.0], [-1.0], [2.0], [0.0]])
        >>> rows = design.bootstrap_rows(z)
        >>> float((rows.T @ rows)[0, 0]), float(design.vcov(z)[0, 0])
        (7.2, 7.2)
        """
        totals = psu_totals(scores, psu, self.psu_stratum.size)
        return bootstrap_rows(totals, self.psu_stratum, self.population, self.lonely_psu)


def psu_totals(scores: np.ndarray, psu: np.ndarray | None, n_psu: int) -> np.ndarray:
    """``(n_psu, k)`` PSU totals of the rows of ``scores`` (PSUs without rows are zero).

    Examples
    --------
    >>> import numpy as np
    >>> psu_totals(np.array([1.0, 2.0, 3.0]), np.array([2, 0, 2]), 4).ravel().tolist()
    [2.0, 0.0, 4.0, 0.0]
    """
    scores = np.asarray(scores, dtype=float)
    scores = scores.reshape(scores.shape[0], -1)
    if psu is None:
        if scores.shape[0] != n_psu:
            raise SpecificationError(f"scores has {scores.shape[0]} rows for {n_psu} PSUs; give psu=.")
        return scores
    psu = np.asarray(psu, dtype=np.int64)
    if psu.shape != (scores.shape[0],):
        raise SpecificationError(f"psu has shape {psu.shape}, expected ({scores.shape[0]},).")
    if psu.size and (psu.min() < 0 or psu.max() >= n_psu):
        raise SpecificationError(f"psu holds codes outside 0..{n_psu - 1}.")
    if psu.size == n_psu and (psu == np.arange(n_psu)).all():
        return scores
    add = sparse.csr_matrix((np.ones(psu.size), (psu, np.arange(psu.size))),
                            shape=(n_psu, psu.size))
    return np.asarray(add @ scores)


def stratified_vcov(totals: np.ndarray, stratum: np.ndarray, population: np.ndarray,
                    lonely_psu: LonelyPSU = "fail", *, small_sample: bool = True) -> np.ndarray:
    """:math:`\\sum_h (1-f_h)\\frac{n_h}{n_h-1}\\sum_i (z_{hi}-\\bar z_h)(z_{hi}-\\bar z_h)'` from PSU totals.

    ``totals`` is ``(n_psu, k)``, ``stratum`` the stratum code of each PSU and
    ``population`` the population PSUs per stratum (``inf``: no fpc). Strata
    with one PSU are treated as ``lonely_psu`` says (see the module notes).

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[1.0], [3.0], [5.0]])
    >>> stratified_vcov(z, np.array([0, 0, 1]), np.full(2, np.inf), "adjust").ravel().tolist()
    [8.0]
    """
    dev, weight = _centred_totals(totals, stratum, population, lonely_psu, small_sample)
    return (dev * weight[:, None]).T @ dev


def bootstrap_rows(totals: np.ndarray, stratum: np.ndarray, population: np.ndarray,
                   lonely_psu: LonelyPSU = "fail", *, small_sample: bool = True) -> np.ndarray:
    """PSU rows :math:`\\tilde z_{hi}` whose cross-product is :func:`stratified_vcov`.

    :math:`\\tilde z_{hi} = \\sqrt{(1-f_h)\\,n_h/(n_h-1)}\\,(z_{hi} - \\bar z_h)`: a
    multiplier bootstrap :math:`\\sum_{hi} v_{hi}\\tilde z_{hi}` with independent
    mean-zero, unit-variance multipliers per PSU then has exactly the design-based
    (linearised) covariance, strata, finite-population corrections and lonely PSUs
    included, as Callaway & Sant'Anna's multiplier bootstrap has the clustered one.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[1.0], [3.0], [5.0], [6.0]])
    >>> st, pop = np.array([0, 0, 1, 1]), np.array([np.inf, 10.0])
    >>> rows = bootstrap_rows(z, st, pop)
    >>> bool(np.allclose(rows.T @ rows, stratified_vcov(z, st, pop)))
    True
    """
    dev, weight = _centred_totals(totals, stratum, population, lonely_psu, small_sample)
    return dev * np.sqrt(weight)[:, None]


def _centred_totals(totals: np.ndarray, stratum: np.ndarray, population: np.ndarray,
                    lonely_psu: LonelyPSU, small_sample: bool) -> tuple[np.ndarray, np.ndarray]:
    """PSU totals centred within stratum and each PSU's variance weight (fpc, n/(n-1), lonely)."""
    totals = np.asarray(totals, dtype=float)
    n_strata = population.size
    n_h = np.bincount(stratum, minlength=n_strata)
    ones = sparse.csr_matrix((np.ones(stratum.size), (stratum, np.arange(stratum.size))),
                             shape=(n_strata, stratum.size))
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.asarray(ones @ totals) / n_h[:, None]
    dev = totals - means[stratum]
    lonely = n_h == 1
    if lonely.any():
        if lonely_psu == "fail":
            raise EstimationError(f"{int(lonely.sum())} stratum/strata have a single PSU; declare "
                                  "lonely_psu= ('adjust', 'average', 'certainty', 'remove').")
        if lonely_psu == "adjust":  # centre at the mean PSU total of the whole sample
            rows = lonely[stratum]
            dev[rows] = totals[rows] - totals.sum(axis=0) / max(stratum.size, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(np.isfinite(population), n_h / population, 0.0)
        factor = np.where(n_h > 1, n_h / (n_h - 1.0), 1.0) if small_sample else np.ones(n_strata)
    scale = (1.0 - f) * factor
    if lonely_psu in ("average", "certainty", "remove"):
        scale = np.where(lonely, 0.0, scale)
    if lonely_psu == "average" and lonely.any():
        present, ok = int(np.count_nonzero(n_h)), int(np.count_nonzero(n_h > 1))
        scale = scale * (present / ok) if ok else np.zeros_like(scale)
    return dev, scale[stratum]


def survey_vcov(scores: np.ndarray, *, psu: np.ndarray, strata: np.ndarray | None = None,
                fpc: np.ndarray | None = None, lonely_psu: LonelyPSU = "fail",
                small_sample: bool = True) -> np.ndarray:
    """Design-based covariance of estimates from their linearised scores, row by row.

    A convenience front end of :class:`SurveyDesign` for plain arrays: one
    entry of ``psu``, ``strata`` and ``fpc`` per row of ``scores``.

    Parameters
    ----------
    scores
        ``(n, k)`` sum-scaled influence functions (estimate - truth ~ column sums).
    psu
        Primary sampling unit of each row (any labels).
    strata
        Stratum of each row (PSUs must be nested in strata); ``None``: one stratum.
    fpc
        Per row, the population number of PSUs of its stratum (values > 1) or
        the sampling fraction (all values <= 1), as R ``survey``'s ``fpc``.
    lonely_psu, small_sample
        As :class:`SurveyDesign` and :meth:`SurveyDesign.vcov`.

    Examples
    --------
    Standard error of a weighted mean (the Hajek estimator), linearised:

    >>> import numpy as np
    >>> y = np.array([3.0, 5.0, 4.0, 6.0, 1.0, 2.0]); w = np.array([1.0, 2, 1, 1, 2, 1])
    >>> mean = (w * y).sum() / w.sum()
    >>> z = w * (y - mean) / w.sum()
    >>> v = survey_vcov(z[:, None], psu=np.array([1, 1, 2, 3, 4, 5]),
    ...                 strata=np.array([0, 0, 0, 0, 1, 1]), fpc=np.array([6, 6, 6, 6, 4, 4]))
    >>> round(float(np.sqrt(v[0, 0])), 6)
    0.353035
    """
    psu_code, _ = pd.factorize(pd.Series(np.asarray(psu)), sort=True)
    n_psu = int(psu_code.max()) + 1 if psu_code.size else 0
    strata_arr = np.zeros(psu_code.size, dtype=np.int64) if strata is None else np.asarray(strata)
    s_code, s_labels = pd.factorize(pd.Series(strata_arr), sort=True)
    psu_stratum = np.zeros(n_psu, dtype=np.int64)
    psu_stratum[psu_code] = s_code
    if (psu_stratum[psu_code] != s_code).any():
        raise SpecificationError("PSUs are not nested in strata: some PSU appears in several strata.")
    population = np.full(len(s_labels), np.inf)
    if fpc is not None:
        population = _population(np.asarray(fpc, dtype=float), s_code, len(s_labels),
                                 np.bincount(psu_stratum, minlength=len(s_labels)))
    design = SurveyDesign(psu_stratum, population, lonely_psu, pd.Index(s_labels))
    return design.vcov(scores, psu_code)


def _population(fpc: np.ndarray, stratum: np.ndarray, n_strata: int, n_h: np.ndarray) -> np.ndarray:
    """Population PSUs per stratum from an fpc given per row (counts, or fractions if all <= 1)."""
    first = np.full(n_strata, np.nan)
    first[stratum[::-1]] = fpc[::-1]
    if (fpc != first[stratum]).any():
        raise SpecificationError("fpc varies within a stratum.")
    if (first <= 0).any() or np.isnan(first).any():
        raise SpecificationError("fpc must be positive.")
    return first if (first > 1).any() else n_h / first


# --------------------------------------------------------------------- Panel support
def design_from_frame(frame: pd.DataFrame, psu_code: np.ndarray, n_psu: int, psu_name: str | None,
                      strata_values: np.ndarray | None, strata_name: str | None,
                      fpc_values: np.ndarray | None, fpc_name: str | None,
                      lonely_psu: LonelyPSU) -> SurveyDesign:
    """Validate a Panel's survey columns and build its :class:`SurveyDesign`.

    Raises :class:`~clusterimpact.errors.PanelError` naming the column, the rule
    and a few offending rows: PSUs not nested in strata, missing strata, a
    non-positive, missing or stratum-varying fpc, fpc mixing counts and
    fractions, fewer population than sampled PSUs, and (with
    ``lonely_psu="fail"``) strata with a single PSU.
    """
    check_lonely_option(lonely_psu)
    psu_label = psu_name or "unit"
    if strata_values is None:
        s_code, s_labels = np.zeros(psu_code.size, dtype=np.int64), pd.Index([0])
    else:
        s_code, s_labels = pd.factorize(pd.Series(strata_values), sort=True)
        s_labels = pd.Index(s_labels, name=strata_name)
        bad = s_code < 0
        if bad.any():
            raise PanelError(f"Missing values in the strata column {strata_name!r}: {int(bad.sum())} "
                             "row(s).\n" + show_rows(frame, bad, [strata_name]))
    psu_stratum = np.full(n_psu, -1, dtype=np.int64)
    psu_stratum[psu_code[::-1]] = s_code[::-1]
    bad = psu_stratum[psu_code] != s_code
    if bad.any():
        n_bad = np.unique(psu_code[bad]).size
        raise PanelError(
            f"PSUs are not nested in strata: {n_bad} PSU(s) of the cluster column {psu_label!r} "
            f"appear in more than one stratum of {strata_name!r}. If PSU ids are reused across "
            "strata (PSU 1 of stratum A is not PSU 1 of stratum B), pass nest=True as in R "
            "survey's svydesign(nest=TRUE).\n"
            + show_rows(frame, np.isin(psu_code, np.unique(psu_code[bad])),
                        [c for c in (psu_name, strata_name) if c]))
    n_strata = len(s_labels)
    n_h = np.bincount(psu_stratum, minlength=n_strata)
    population = np.full(n_strata, np.inf)
    if fpc_values is not None:
        population = _panel_population(frame, fpc_values, fpc_name, s_code, n_h, s_labels, strata_name)
    lonely = np.flatnonzero(n_h == 1)
    if lonely.size:
        names = ", ".join(map(repr, s_labels[lonely][:8].tolist())) + (" ..." if lonely.size > 8 else "")
        if lonely_psu == "fail":
            raise PanelError(
                f"{lonely.size} stratum/strata of {strata_name!r} have a single PSU, so their "
                f"variance cannot be estimated: {names}. Merge them with similar strata, or pass "
                "lonely_psu='adjust' (centre at the overall mean, R survey's 'adjust'), 'average', "
                "'certainty' or 'remove' (as R's options(survey.lonely.psu=)).")
        warnings.warn(f"{lonely.size} stratum/strata of {strata_name!r} have a single PSU ({names}); "
                      f"treated as lonely_psu={lonely_psu!r}.", ClusterImpactWarning, stacklevel=4)
    return SurveyDesign(psu_stratum, population, lonely_psu, s_labels, (strata_name, fpc_name))


def _panel_population(frame: pd.DataFrame, fpc: np.ndarray, name: str | None, s_code: np.ndarray,
                      n_h: np.ndarray, s_labels: pd.Index, strata_name: str | None) -> np.ndarray:
    cols = [c for c in (strata_name, name) if c]
    for bad, rule in ((np.isnan(fpc), "Missing values in"), (fpc <= 0, "Non-positive values in")):
        if bad.any():
            raise PanelError(f"{rule} the fpc column {name!r}: {int(bad.sum())} row(s).\n"
                             + show_rows(frame, bad, cols))
    first = np.full(n_h.size, np.nan)
    first[s_code[::-1]] = fpc[::-1]
    bad = fpc != first[s_code]
    if bad.any():
        raise PanelError(f"The fpc column {name!r} varies within stratum"
                         + (f" ({strata_name!r})" if strata_name else "") + ": it must hold one "
                         "value per stratum, the population number of PSUs or the sampling fraction.\n"
                         + show_rows(frame, np.isin(s_code, np.unique(s_code[bad])), cols))
    counts = (first > 1).any()
    if counts and (first < 1).any():
        raise PanelError(f"The fpc column {name!r} mixes population counts (> 1) and sampling "
                         "fractions (< 1); give all strata one or the other (as R survey).\n"
                         + show_rows(frame, (fpc < 1)[...], cols))
    population = first if counts else n_h / first
    small = population < n_h - 1e-9 * n_h
    if small.any():
        what = ", ".join(f"{s_labels[h]!r}: {n_h[h]} sampled, fpc {first[h]:g}"
                         for h in np.flatnonzero(small)[:5])
        raise PanelError(f"The fpc column {name!r} implies more sampled than population PSUs in "
                         f"{int(small.sum())} stratum/strata ({what}). fpc is the number of PSUs in "
                         "the stratum's population (or the sampling fraction n_h/N_h).")
    return np.maximum(population, n_h)
