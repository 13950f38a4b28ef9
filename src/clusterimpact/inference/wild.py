"""Wild cluster bootstrap (restricted and unrestricted) and the score wild bootstrap.

The algorithm is the "fast and wild" one of Roodman, MacKinnon, Nielsen &
Webb (2019): one pass over the rows collects a few per-cluster cross products,
after which every bootstrap draw costs :math:`O(G^2)` (a :math:`G \\times G` by
:math:`G \\times B` matrix product), whatever the number of rows.

Notation (everything in the :math:`W^{1/2}`-scaled model, fixed effects
:math:`D` absorbed by Frisch-Waugh-Lovell): :math:`X` the demeaned regressors,
:math:`M = (X'X)^{-1}`, the hypothesis :math:`R'\\beta = r`, :math:`a = MR`,
clusters :math:`g = 1..G` with bootstrap weights :math:`v_g`.

* Restricted estimate (WCR): :math:`\\tilde\\beta = \\hat\\beta - a\\,\\delta` with
  :math:`\\delta = (R'\\hat\\beta - r)/(R'a)`; residuals :math:`\\tilde u = \\hat u + Xa\\delta`.
* Draw: :math:`y^* = X\\ddot\\beta + D\\ddot\\alpha + (\\ddot u_g v_g)_g` with
  :math:`(\\ddot\\beta, \\ddot u) = (\\tilde\\beta, \\tilde u)` (WCR) or
  :math:`(\\hat\\beta, \\hat u)` (WCU).
* Numerator: :math:`R'\\beta^* - R'\\ddot\\beta = \\sum_g v_g c_g` with
  :math:`c_g = a'X_g'\\ddot u_g`.
* Cluster scores of :math:`R'\\beta^*`: :math:`a'X_g'\\hat u^*_g = \\sum_h K_{gh} v_h`,
  :math:`K = \\operatorname{diag}(c) - F S - E`, where :math:`S_{\\cdot h} = X_h'\\ddot u_h`,
  row :math:`g` of :math:`F` is :math:`a'X_g'X_g M`, and :math:`E` is the
  fixed-effect term below. Then :math:`t^*_b = c'v_b / \\sqrt{\\kappa\\,\\lVert K v_b\\rVert^2}`.

Because :math:`\\tilde u` is affine in :math:`\\delta`, so are :math:`c` and
:math:`K`; the numerator is affine and the squared denominator quadratic in
:math:`\\delta`, and after one pass over the draws the bootstrap p-value at any
null :math:`r` costs :math:`O(B)`. Confidence intervals invert the test by
root-finding on that p-value, as boottest does.

**Absorbed fixed effects.** The coefficients are exact after FWL, since
:math:`X'M_D = X'`. The bootstrap residuals are :math:`M_{[D,X]}(\\ddot u \\circ v)`:
fixed effects nested in the clusters (unit effects when clustering by
cluster) leave :math:`\\ddot u \\circ v` orthogonal to their dummies, so they drop
out. Fixed effects *not* nested (period effects) do not: then
:math:`P_D(\\ddot u\\circ v) = \\ddot D_m(\\ddot D_m'\\ddot D_m)^{+}\\sum_h v_h D_{m,h}'\\ddot u_h`
with :math:`\\ddot D_m` the non-nested dummies residualised on the nested ones, which
adds :math:`E_{gh} = a'X_g'D_{m,g}\\,(\\ddot D_m'\\ddot D_m)^{+}D_{m,h}'\\ddot u_h`
(:math:`X_g'\\ddot D_{m,g} = X_g'D_{m,g}` because :math:`X` is orthogonal to every nested
dummy, each of which lives in one cluster). This equals refitting the full
model with dummies for every draw; implementations that bootstrap the
demeaned data as if it were the whole model skip :math:`E` and differ by
:math:`O(1/G)` in the studentisation.

**CR3 studentisation** (``vcov="CR3"``, WCR13/WCU13). With
:math:`Z = [X, \\ddot D_m]` and :math:`S_g = Z_g'\\ddot u_g` (affine in :math:`\\delta`), a
bootstrap sample refitted without cluster :math:`g` gives
:math:`R'(\\beta^*_{(g)} - \\beta^*) = (q_g - \\bar a)'\\sum_h S_h v_h - q_g'S_g v_g`, where
:math:`q_g' = R'[(Z'Z - Z_g'Z_g)^{+}]_{x\\cdot}` and :math:`\\bar a = (a, 0)`: again
:math:`\\operatorname{diag}(e) - LR` with :math:`G` small inverses computed once, so the
jackknife costs what CR1 costs per draw, and the squared denominator is still quadratic in
:math:`\\delta`. The statistic is :math:`(R'\\hat\\beta - r)/\\sqrt{\\sum_g (R'\\hat\\beta_{(g)} -
R'\\hat\\beta)^2}`, as ``res.with_vcov("CR3")`` (MacKinnon, Nielsen & Webb's CV3 also has
:math:`(G-1)/G`, which scales every t alike).

References
----------
MacKinnon, J. G., Nielsen, M. Ø. & Webb, M. D. (2023). Fast and reliable jackknife and
bootstrap methods for cluster-robust inference. *Journal of Applied Econometrics* 38(5),
671-694.

Roodman, D., MacKinnon, J. G., Nielsen, M. Ø. & Webb, M. D. (2019). Fast and
wild: bootstrap inference in Stata using boottest. *Stata Journal* 19(1), 4-60.

Cameron, A. C., Gelbach, J. B. & Miller, D. L. (2008). Bootstrap-based
improvements for inference with clustered errors. *Review of Economics and
Statistics* 90(3), 414-427.

MacKinnon, J. G. & Webb, M. D. (2017). Wild bootstrap inference for wildly
different cluster sizes. *Journal of Applied Econometrics* 32(2), 233-254.

MacKinnon, J. G. & Webb, M. D. (2018). The wild bootstrap for few (treated)
clusters. *Econometrics Journal* 21(2), 114-135.

Canay, I. A., Santos, A. & Shaikh, A. M. (2021). The wild bootstrap with a "small"
number of "large" clusters. *Review of Economics and Statistics* 103(2), 346-363.

Webb, M. D. (2023). Reworking wild bootstrap-based inference for clustered
errors. *Canadian Journal of Economics* 56(3), 839-858.

Kline, P. & Santos, A. (2012). A score based approach to wild bootstrap
inference. *Journal of Econometric Methods* 1(1), 23-41.
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd

from clusterimpact.errors import EstimationWarning, FewClustersWarning, SpecificationError, suggest
from clusterimpact.inference._wild_pieces import ClusterPieces, cluster_pieces, dense_codes

__all__ = ["WildTest", "WildWeights", "score_wild_bootstrap", "wild_bootstrap", "wild_test",
           "wild_weights"]

WildWeights = Literal["rademacher", "webb", "mammen"]
PValueType = Literal["symmetric", "equal_tailed"]
WildVcov = Literal["CR1", "CR3"]
_MAX_ENUM_G = 20
_CHUNK_ELEMENTS = 1 << 21
_PROGRESS_SECONDS = 2.0
_SQRT5 = np.sqrt(5.0)
_RADEMACHER = np.array([-1.0, 1.0])
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def wild_weights(kind: WildWeights, shape: tuple[int, int],
                 seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Draw wild bootstrap weights of mean 0 and variance 1.

    Parameters
    ----------
    kind
        ``"rademacher"`` (:math:`\\pm 1` with probability 1/2), ``"webb"`` (six points
        :math:`\\pm\\sqrt{1/2}, \\pm 1, \\pm\\sqrt{3/2}`, probability 1/6 each) or
        ``"mammen"`` (:math:`(1-\\sqrt5)/2` with probability :math:`(\\sqrt5+1)/(2\\sqrt5)`,
        else :math:`(1+\\sqrt5)/2`; third moment 1).
    shape
        ``(draws, clusters)``.
    seed
        Integer seed or Generator; the global NumPy state is never used.

    Examples
    --------
    >>> w = wild_weights("webb", (4000, 3), seed=1)
    >>> round(float(w.mean()), 1), round(float(w.var()), 1), np.unique(w).size
    (0.0, 1.0, 6)
    """
    rng = _rng(seed)
    if kind == "rademacher":
        return _RADEMACHER[rng.integers(0, 2, size=shape)]
    if kind == "webb":
        return _WEBB[rng.integers(0, 6, size=shape)]
    if kind == "mammen":
        low = rng.random(size=shape) < (_SQRT5 + 1) / (2 * _SQRT5)
        return np.where(low, (1 - _SQRT5) / 2, (1 + _SQRT5) / 2)
    choices = get_args(WildWeights)
    raise SpecificationError(f"Unknown bootstrap weights {kind!r}; choose one of "
                             f"{', '.join(map(repr, choices))}.{suggest(str(kind), choices)}")


@dataclass(frozen=True, eq=False)
class WildTest:
    """One wild bootstrap test of :math:`R'\\beta = r` and its inverted confidence interval.

    Attributes
    ----------
    estimate, null, statistic
        :math:`R'\\hat\\beta`, :math:`r` and the t-statistic (CR1-type scale :math:`\\kappa`).
    p_value, conf_low, conf_high
        Bootstrap p-value at ``null`` and the interval of nulls not rejected at ``alpha``.
    t_boot
        Bootstrap t-statistics at ``null``, shape ``(B,)``.
    reps, weights, impose_null, enumerated, p_value_type, alpha, vcov
        What was done; ``enumerated`` is True when all :math:`2^G` sign vectors were used.
    notes
        Caveats worth printing.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.inference.vcov import VcovData
    >>> rng = np.random.default_rng(0); cl = np.repeat(np.arange(8), 20)
    >>> x = rng.normal(size=(160, 1)); y = rng.normal(size=160) + 0.3 * x[:, 0]
    >>> b = np.linalg.lstsq(x, y, rcond=None)[0]
    >>> t = wild_test(VcovData(x, y - x @ b), b, cl, [1.0], reps=999, seed=1)
    >>> t.enumerated, t.reps, 0 <= t.p_value <= 1
    (True, 256, True)
    """

    estimate: float
    null: float
    statistic: float
    p_value: float
    conf_low: float
    conf_high: float
    t_boot: np.ndarray
    reps: int
    weights: str
    impose_null: bool
    enumerated: bool
    p_value_type: str
    alpha: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    vcov: str = "CR1"


class _Core:
    """Per-cluster quantities of one hypothesis and the draw-level B-vectors.

    The studentising cluster scores are :math:`Kv` with
    :math:`K = \\operatorname{diag}(e) - LR` (:math:`L` a ``(G, k + L_m)`` left factor,
    :math:`R` the matching right one), so a draw costs :math:`O(G(k + L_m))`, not
    :math:`O(G^2)`. CR1: :math:`e = c` and :math:`L = [F, X_g'D_{m,g}'a]`. CR3: the
    leave-one-cluster-out differences :math:`R'(\\beta^*_{(g)} - \\beta^*)`, with
    :math:`e_g = -q_g'S_g` and :math:`L = -(Q - 1\\bar a')` (see :func:`_loo_rows`).
    """

    def __init__(self, pieces: ClusterPieces, coef: np.ndarray, restriction: np.ndarray,
                 impose_null: bool, vcov: str = "CR1") -> None:
        m = pieces.bread
        rvec = np.asarray(restriction, dtype=float).ravel()
        if rvec.size != m.shape[0]:
            raise SpecificationError(f"The restriction has {rvec.size} entries for "
                                     f"{m.shape[0]} coefficients.")
        a = m @ rvec
        self.g, self.impose_null, self.vcov = pieces.g, impose_null, vcov
        self.estimate = float(rvec @ np.asarray(coef, dtype=float))
        self.ra = float(rvec @ a)
        s0 = pieces.xu                                             # (G, k): X_g'u_g
        ha = pieces.xx @ a                                         # (G, k): X_g'X_g a
        self.c_u = s0 @ a
        fe = pieces.fe
        self.notes = (pieces.note,) if pieces.note else ()
        alpha_g = None if fe is None else np.einsum("gkl,k->gl", fe.xd, a)   # a'X_g'D_{m,g}
        if impose_null:
            self.c = np.column_stack([self.c_u, ha @ a])
        else:
            self.c = self.c_u[:, None]
        if vcov == "CR3":
            self._cr3(pieces, rvec, a, s0, ha, alpha_g)
            kappa = 1.0
        else:
            left = [ha @ m]                                        # rows a'X_g'X_g M
            right0, right1 = [s0.T], [ha.T]
            if fe is not None:
                left.append(alpha_g)
                right0.append(fe.pinv @ fe.ud.T)
                right1.append(fe.pinv @ alpha_g.T)
            self.left = np.hstack(left)
            self.diag = self.c
            self.right = [np.vstack(right0), np.vstack(right1)] if impose_null else [np.vstack(right0)]
            self.raw_se2 = float(self.c_u @ self.c_u)
            kappa = pieces.kappa
        self.set_scale(kappa)
        self._prepare()

    def _cr3(self, pieces: ClusterPieces, rvec, a, s0, ha, alpha_g) -> None:
        fe = pieces.fe
        q = _loo_rows(pieces, rvec)
        n_fe = 0 if fe is None else fe.ud.shape[1]
        abar = np.concatenate([a, np.zeros(n_fe)])
        big0 = s0 if fe is None else np.hstack([s0, fe.ud])      # S_g = Z_g'u_g
        big1 = ha if fe is None else np.hstack([ha, alpha_g])    # its slope in delta
        self.left = -(q - abar)
        e0 = -np.einsum("gj,gj->g", q, big0)
        if self.impose_null:
            self.diag = np.column_stack([e0, -np.einsum("gj,gj->g", q, big1)])
            self.right = [big0.T, big1.T]
        else:
            self.diag = e0[:, None]
            self.right = [big0.T]
        self.raw_se2 = float(e0 @ e0)

    def set_scale(self, kappa: float) -> None:
        """Set the small-sample factor :math:`\\kappa` of the CRVE (cancels in p-values)."""
        self.kappa = float(kappa)
        self.se = float(np.sqrt(self.kappa * self.raw_se2))

    def _prepare(self) -> None:
        """Stack every product with the draws into one matrix (see :meth:`draws`)."""
        n_p = len(self.right)
        self._stack = np.vstack([self.c.T, *self.right,
                                 *[(self.left * self.diag[:, p, None]).T for p in range(n_p)]])
        self._gram = self.left.T @ self.left
        self._pairs = [(0, 0), (0, 1), (1, 1)] if n_p == 2 else [(0, 0)]

    def draws(self, v: np.ndarray, v_squared: np.ndarray | None = None) -> np.ndarray:
        """B-vectors for draws ``v`` (G x b): numerators, then squared-denominator pieces.

        With :math:`j_p = e_p \\circ v - L w_p`, :math:`w_p = R_p v`, the pieces are
        :math:`j_p'j_q = (e_p \\circ e_q)'(v\\circ v) - w_q'(L\\circ e_p)'v - w_p'(L\\circ e_q)'v
        + w_p'L'Lw_q`: one ``(P(2m) + P) x G`` by ``G x b`` product and :math:`O(m^2)` work a
        draw, no ``G x b`` temporaries. ``v_squared`` is :math:`v \\circ v`, ``None`` for
        Rademacher signs (all ones).
        """
        n_p, m = len(self.right), self.left.shape[1]
        big = self._stack @ v
        num = big[:n_p]
        w = [big[n_p + p * m: n_p + (p + 1) * m] for p in range(n_p)]
        u = [big[n_p * (1 + m) + p * m: n_p * (1 + m) + (p + 1) * m] for p in range(n_p)]
        gw = [self._gram @ x for x in w]
        out = [num]
        for p, q in self._pairs:
            ee = self.diag[:, p] * self.diag[:, q]
            sq = np.full(v.shape[1], ee.sum()) if v_squared is None else ee @ v_squared
            out.append(sq - np.einsum("jb,jb->b", w[q], u[p]) - np.einsum("jb,jb->b", w[p], u[q])
                       + np.einsum("jb,jb->b", w[p], gw[q]))
        return np.vstack(out)


def _loo_rows(pieces: ClusterPieces, rvec: np.ndarray) -> np.ndarray:
    """Rows :math:`q_g' = R'[A_{(g)}^{+}]_{x\\cdot}`, shape ``(G, k + L_m)``.

    :math:`A_{(g)} = Z'WZ - Z_g'WZ_g` with :math:`Z = [\\ddot X, \\ddot D_m]` (the non-nested
    dummies partialled on the nested effects, which leaving a cluster out does not
    change), so :math:`R'(\\hat\\beta_{(g)} - \\hat\\beta) = -q_g'Z_g'W\\hat u_g` is the refit
    without cluster :math:`g` with every fixed effect. The dummy block is inverted by
    pseudo-inverse and the regressor block through its Schur complement
    :math:`A_{xx} - A_{xd}A_{dd}^{+}A_{dx}`, which keeps the cut scale-free in :math:`X`.
    """
    axx = pieces.xx.sum(axis=0)[None] - pieces.xx
    fe = pieces.fe
    if fe is None:
        schur, tail = axx, None
    else:
        axd = fe.xd.sum(axis=0)[None] - fe.xd
        add = fe.gram[None] - fe.dd
        pd_ = np.linalg.pinv(add, rcond=1e-10, hermitian=True)
        tail = axd @ pd_                                            # (G, k, L)
        schur = axx - tail @ np.swapaxes(axd, 1, 2)
    try:
        w = np.linalg.solve(schur, np.broadcast_to(rvec, (pieces.g, rvec.size))[..., None])[..., 0]
    except np.linalg.LinAlgError:
        raise SpecificationError(
            "CR3 is undefined here: leaving some cluster out leaves a tested coefficient "
            "unidentified (e.g. the only treated cluster). Use vcov='CR1'.") from None
    if tail is None:
        return w
    return np.hstack([w, -np.einsum("gk,gkl->gl", w, tail)])


def _enumerate(g: int) -> np.ndarray:
    return np.array(list(itertools.product([1.0, -1.0], repeat=g))).T


def _pvalue(t: float, tb: np.ndarray, kind: str) -> float:
    """Bootstrap p-value; draws within :math:`10^{-10}` of the statistic count as ties (included)."""
    tol = 1e-10 * max(1.0, abs(t))
    if kind == "symmetric":
        return float(np.mean(np.abs(tb) >= abs(t) - tol))
    upper = np.mean(tb >= t - tol)
    lower = np.mean(tb <= t + tol)
    return float(min(1.0, 2 * min(upper, lower)))


class _Inverter:
    """p(r) for any null r in O(B) from the stored B-vectors."""

    def __init__(self, core: _Core, pieces: np.ndarray, kind: str) -> None:
        self.core, self.pieces, self.kind = core, pieces, kind

    def t_boot(self, r: float) -> np.ndarray:
        core, p = self.core, self.pieces
        with np.errstate(divide="ignore", invalid="ignore"):
            if not core.impose_null:
                return p[0] / np.sqrt(core.kappa * p[1])
            d = (core.estimate - r) / core.ra
            return (p[0] + d * p[1]) / np.sqrt(core.kappa * np.maximum(p[2] + 2 * d * p[3] + d * d * p[4], 0))

    def statistic(self, r: float) -> float:
        se = self.core.se
        if not (np.isfinite(se) and se > 0):  # no sampling variation: the t statistic is undefined
            return np.nan
        return (self.core.estimate - r) / se

    def p(self, r: float) -> float:
        t = self.statistic(r)
        return np.nan if np.isnan(t) else _pvalue(t, self.t_boot(r), self.kind)

    def bound(self, alpha: float, side: int, start: float) -> float:
        est, se = self.core.estimate, self.core.se
        if not np.isfinite(se) or se <= 0:
            return np.nan
        inside, step = est, max(start, 1e-3) * se
        outside = est + side * step
        for _ in range(60):
            if self.p(outside) <= alpha:
                break
            inside, step = outside, step * 2
            outside = est + side * step
        else:
            return side * np.inf
        for _ in range(200):
            mid = 0.5 * (inside + outside)
            if abs(outside - inside) <= 1e-12 * max(1.0, abs(mid)) + 1e-10 * se:
                break
            if self.p(mid) > alpha:
                inside = mid
            else:
                outside = mid
        return 0.5 * (inside + outside)


def _codes(cluster: np.ndarray) -> tuple[np.ndarray, int]:
    cl = np.asarray(cluster)
    if cl.ndim != 1:
        raise SpecificationError("The wild cluster bootstrap needs one-way cluster codes, got an array "
                                 f"of shape {cl.shape}.")
    return dense_codes(cl)


def _run_draws(cores: Sequence[_Core], g: int, reps: int, weights: str,
               seed: int | np.random.Generator | None) -> tuple[list[np.ndarray], int, bool]:
    """Feed the same draws to every hypothesis; return their B-vectors."""
    if reps < 1:
        raise SpecificationError(f"reps must be a positive integer, got {reps}.")
    if weights not in get_args(WildWeights):
        wild_weights(weights, (0, 0))  # raises with the list of choices
    if weights == "rademacher" and g <= _MAX_ENUM_G and 2 ** g <= reps:
        v = _enumerate(g)
        return [core.draws(v) for core in cores], v.shape[1], True
    rng = _rng(seed)
    chunk = max(1, _CHUNK_ELEMENTS // max(g, 1))
    out: list[list[np.ndarray]] = [[] for _ in cores]
    bar, started, done = None, time.perf_counter(), 0
    while done < reps:
        b = min(chunk, reps - done)
        v = wild_weights(weights, (b, g), rng).T
        for store, core in zip(out, cores, strict=True):
            store.append(core.draws(v, None if weights == "rademacher" else v * v))
        done += b
        elapsed = time.perf_counter() - started
        if bar is None and done < reps and elapsed * reps / done > _PROGRESS_SECONDS:
            try:
                from tqdm.auto import tqdm
                bar = tqdm(total=reps, initial=done, desc="wild bootstrap", leave=False)
            except ImportError:  # pragma: no cover - tqdm is optional
                bar = False
        elif bar:
            bar.update(b)
    if bar:
        bar.close()
    return [np.hstack(store) for store in out], reps, False


def _finish(core: _Core, pieces: np.ndarray, null: float, alpha: float, p_value: str,
            reps: int, weights: str, enumerated: bool, notes: tuple[str, ...]) -> WildTest:
    inv = _Inverter(core, pieces, p_value)
    from scipy import stats

    start = float(stats.t.ppf(1 - alpha / 2, max(core.g - 1, 1)))
    if not (np.isfinite(core.se) and core.se > 0):
        note = ("The estimate has no sampling variation (standard error zero, e.g. an outcome that "
                "does not vary): the bootstrap statistic, p-value and interval are undefined (NaN).")
        warnings.warn(note, EstimationWarning, stacklevel=4)
        notes = (*notes, note)
    return WildTest(
        estimate=core.estimate, null=float(null), statistic=inv.statistic(null), p_value=inv.p(null),
        conf_low=inv.bound(alpha, -1, start), conf_high=inv.bound(alpha, 1, start),
        t_boot=inv.t_boot(null), reps=reps, weights=weights, impose_null=core.impose_null,
        enumerated=enumerated, p_value_type=p_value, alpha=alpha, notes=notes + core.notes,
        vcov=core.vcov)


def wild_test(fit, coef: np.ndarray, cluster: np.ndarray, restriction: Sequence[float] | np.ndarray, *,
              null: float = 0.0, reps: int = 9999, weights: WildWeights = "rademacher",
              impose_null: bool = True, seed: int | np.random.Generator | None = None,
              alpha: float = 0.05, p_value: PValueType = "symmetric",
              ssc: float | None = None, vcov: WildVcov = "CR1") -> WildTest:
    """Wild cluster bootstrap-t test of one linear restriction :math:`R'\\beta = r`.

    Parameters
    ----------
    fit
        A :class:`~clusterimpact.inference.vcov.VcovData` (demeaned regressors,
        residuals, weights, bread, fixed-effect codes).
    coef
        The least-squares coefficients :math:`\\hat\\beta`.
    cluster
        One cluster code per row; the bootstrap weights are drawn per cluster.
    restriction
        :math:`R`, one entry per coefficient.
    null
        :math:`r`.
    reps
        Number of draws :math:`B`. Rademacher weights with :math:`2^G \\le B` use
        all :math:`2^G` sign vectors instead (deterministic).
    weights
        ``"rademacher"``, ``"webb"`` or ``"mammen"``.
    impose_null
        Restricted (WCR, the default, recommended) or unrestricted (WCU).
    seed
        Integer or Generator; same seed, bit-identical result.
    alpha
        Level of the test-inversion confidence interval.
    p_value
        ``"symmetric"``: :math:`\\frac1B\\sum_b 1\\{|t^*_b| > |t|\\}`;
        ``"equal_tailed"``: :math:`2\\min(\\frac1B\\sum 1\\{t^*_b > t\\}, \\frac1B\\sum 1\\{t^*_b < t\\})`.
        Draws within :math:`10^{-10}|t|` of the statistic count as at least as
        extreme (conservative). Under WCR the sign vectors :math:`\\pm(1,\\dots,1)`
        reproduce :math:`|t|` exactly, so with full enumeration the p-value is at
        least :math:`2/2^G`; boottest and fwildclusterboot write a strict ``>`` and
        then count these two draws or not as rounding falls (up to :math:`2/2^G` lower).
    ssc
        Small-sample factor :math:`\\kappa` of the CRVE in the reported statistic
        (default CR1's :math:`\\frac{G}{G-1}\\frac{n-1}{n-K}`, 1 for CR3); p-values and
        intervals do not depend on it.
    vcov
        The variance that studentises the actual and every bootstrap statistic:
        ``"CR1"`` (default; WCR11/WCU11 in boottest's numbering) or ``"CR3"``, the
        leave-one-cluster-out jackknife :math:`\\sum_g(R'\\beta^*_{(g)} - R'\\beta^*)^2`
        with every fixed effect refitted (WCR13/WCU13; MacKinnon, Nielsen & Webb 2023).
        As ``res.with_vcov("CR3")``, without the :math:`(G-1)/G` factor of their CV3,
        which would scale the statistic only. See Notes.

    Returns
    -------
    WildTest

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.inference.vcov import VcovData
    >>> rng = np.random.default_rng(2); cl = np.repeat(np.arange(12), 10)
    >>> x = np.column_stack([np.ones(120), rng.normal(size=120)]); y = x @ [1.0, 0.0] + rng.normal(size=120)
    >>> b = np.linalg.lstsq(x, y, rcond=None)[0]
    >>> t = wild_test(VcovData(x, y - x @ b), b, cl, [0, 1], reps=999, weights="webb", seed=3)
    >>> t.conf_low < t.estimate < t.conf_high
    True
    """
    codes, g = _codes(cluster)
    if g < 2:
        raise SpecificationError("The wild cluster bootstrap needs at least two clusters.")
    _check_vcov(vcov)
    pieces = cluster_pieces(fit, codes, g, cr3=vcov == "CR3")
    core = _Core(pieces, coef, np.asarray(restriction, dtype=float), impose_null, vcov)
    if ssc is not None:
        core.set_scale(ssc)
    [pieces], b, enumerated = _run_draws([core], g, reps, weights, seed)
    return _finish(core, pieces, null, alpha, p_value, b, weights, enumerated, ())


def _check_vcov(vcov: str) -> None:
    choices = get_args(WildVcov)
    if vcov not in choices:
        raise SpecificationError(f"Unknown vcov {vcov!r} for the wild bootstrap; choose one of "
                                 f"{', '.join(map(repr, choices))}.{suggest(str(vcov), choices)}")


def _hypotheses(result, term) -> tuple[pd.DataFrame, list[np.ndarray]]:
    k = result.estimate.size
    keys = result.keys
    if term is None:
        return keys, list(np.eye(k))
    names = keys["term"].astype(str).tolist() if "term" in keys else [str(i) for i in range(k)]
    if isinstance(term, Mapping):
        if len(set(names)) != len(names):
            raise SpecificationError("A linear combination needs unique term names; this result has "
                                     "repeated terms (estimated with by=?). Pass a vector instead.")
        vec = np.zeros(k)
        for name, coef in term.items():
            if str(name) not in names:
                raise SpecificationError(f"Unknown term {name!r}.{suggest(str(name), names)}")
            vec[names.index(str(name))] = float(coef)
        label = " + ".join(f"{c:g}*{n}" for n, c in term.items())
        return pd.DataFrame({"term": [label]}), [vec]
    if isinstance(term, np.ndarray) and term.dtype.kind in "fi":
        return pd.DataFrame({"term": ["R'b"]}), [np.asarray(term, dtype=float)]
    wanted = [term] if isinstance(term, str) else list(term)
    rows = []
    for name in wanted:
        hit = [i for i, n in enumerate(names) if n == str(name)]
        if not hit:
            raise SpecificationError(f"Unknown term {name!r}.{suggest(str(name), names)}")
        rows += hit
    return keys.iloc[rows].reset_index(drop=True), [np.eye(k)[i] for i in rows]


def _few_cluster_warnings(result, g: int, weights: str, impose_null: bool, enumerated: bool,
                          b: int) -> list[str]:
    notes = []
    if enumerated:
        notes.append(f"All 2^{g} = {b} Rademacher sign vectors enumerated (reps ignored); the "
                     "p-value is exact given the bootstrap DGP and a multiple of 1/2^G.")
    if weights == "rademacher" and g <= 11:
        warnings.warn(f"Only {g} clusters: Rademacher weights give at most 2^{g} = {2 ** g} distinct "
                      f"bootstrap samples, so the p-value is a multiple of 1/{2 ** g} (of 2/{2 ** g} "
                      "for a symmetric test) and intervals are coarse. weights='webb' gives finer "
                      "p-values (Webb 2023) but over-rejected more than Rademacher with 6 to 8 "
                      "clusters, half treated, in this package's Monte Carlo (docs: Inference guide).",
                      FewClustersWarning, stacklevel=3)
    counts = _treated_counts(result)
    if counts is not None and (min(counts) <= 2 or (min(counts) < 6 and min(counts) < 0.25 * g)):
        n_t, n_c = counts
        which = "treated" if n_t <= n_c else "untreated"
        what = ("under-rejects (the restricted bootstrap distribution is too dispersed) and has few "
                "distinct p-values" if impose_null else "over-rejects")
        warnings.warn(f"Only {min(counts)} {which} cluster(s) of {g}: the wild cluster bootstrap "
                      f"({'WCR' if impose_null else 'WCU'}) {what} when few clusters are treated "
                      "or untreated (MacKinnon & Webb 2017, 2018). Consider randomization inference "
                      "(res.randomization()), which reports Conley-Taber intervals for one or two "
                      "treated clusters.", FewClustersWarning, stacklevel=3)
        notes.append(f"{n_t} treated and {n_c} untreated clusters.")
    return notes


def _treated_counts(result) -> tuple[int, int] | None:
    panel = getattr(result.info.get("refit"), "panel", None)
    if panel is None:
        return None
    code = np.asarray(panel.cluster_code)
    n_t = int(np.count_nonzero(np.bincount(code[np.asarray(panel.treated, dtype=bool)],
                                           minlength=panel.n_clusters)))
    return n_t, int(panel.n_clusters - n_t)


def _package(result, keys: pd.DataFrame, tests: list[WildTest], g: int, kind: str, notes: list[str]):
    from clusterimpact.results.base import Result

    t0 = tests[0]
    label = ("WCR" if t0.impose_null else "WCU") if kind == "regression" else \
        ("score, null imposed" if t0.impose_null else "score, unrestricted")
    if t0.vcov != "CR1":
        label += f" ({t0.vcov})"
    se = np.array([(t.estimate - t.null) / t.statistic if t.statistic else np.nan for t in tests])
    extra = pd.DataFrame({
        "statistic": [t.statistic for t in tests], "p_value": [t.p_value for t in tests],
        "conf_low": [t.conf_low for t in tests], "conf_high": [t.conf_high for t in tests],
        "null": [t.null for t in tests], "reps": [t.reps for t in tests],
        "weights": [t.weights for t in tests], "bootstrap": label})
    info = {k: v for k, v in result.info.items() if k in ("outcome", "n_obs", "n_units", "by", "refit")}
    all_notes = list(dict.fromkeys([*notes, *(n for t in tests for n in t.notes)]))
    info.update({
        "estimator": f"{result.info.get('estimator', 'Result')} — wild cluster bootstrap ({label})",
        "n_clusters": g, "vcov_type": f"wild {kind} bootstrap-t, {t0.weights} weights"
        + ("" if t0.vcov == "CR1" else f", {t0.vcov}-studentised"),
        "method": f"{label}, {t0.p_value_type} p-value, CI by test inversion",
        "notes": all_notes, "wild_tests": tuple(tests)})
    return Result(keys=keys, estimate=np.array([t.estimate for t in tests]), vcov=np.diag(se ** 2),
                  alpha=t0.alpha, extra=extra, info=info)


def wild_bootstrap(result, *, reps: int = 9999, weights: WildWeights = "rademacher",
                   impose_null: bool = True, seed: int | np.random.Generator | None = None,
                   term: str | Sequence[str] | Mapping[str, float] | np.ndarray | None = None,
                   alpha: float | None = None, null: float = 0.0,
                   p_value: PValueType = "symmetric", vcov: WildVcov = "CR1"):
    """Wild cluster bootstrap of the coefficients of a regression result.

    The engine behind :meth:`RegressionResult.wild_bootstrap`; see :func:`wild_test`
    and the module notes for the algorithm and the fixed-effect treatment.

    Parameters
    ----------
    result
        A :class:`~clusterimpact.results.regression.RegressionResult` that keeps its fit and
        one-way cluster codes.
    reps, weights, impose_null, seed, p_value, vcov
        As in :func:`wild_test`; the same draws are used for every term. ``vcov="CR3"``
        (jackknife studentisation) is the choice for few clusters of very unequal sizes.
    term
        ``None`` (every coefficient), a term name or list of names, or a mapping
        ``{term: weight}`` (or a vector) for a linear combination.
    alpha
        Level of the intervals (default the result's).
    null
        Hypothesised value :math:`r` of each tested combination.

    Returns
    -------
    Result
        ``tidy()`` has the key columns, ``estimate``, ``std_error`` (CR1, or CR3 with
        ``vcov="CR3"``), ``statistic``, ``p_value``, ``conf_low``, ``conf_high`` (bootstrap),
        ``null``, ``reps``, ``weights``, ``bootstrap``.

    Examples
    --------
    >>> import warnings, clusterimpact as ci
    >>> panel = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
    ...                  cohort="first.treat")
    >>> wb = ci.twfe(panel, "lemp").wild_bootstrap(reps=999, seed=1)
    >>> list(wb.tidy().columns[:7])
    ['term', 'estimate', 'std_error', 'statistic', 'p_value', 'conf_low', 'conf_high']
    """
    fit = getattr(result, "fit", None)
    if fit is None or result.cluster is None:
        raise SpecificationError("The wild cluster bootstrap needs the regression data and cluster "
                                 "codes; this result keeps neither (refit with a cluster).")
    codes, g = _codes(result.cluster)
    if g < 2:
        raise SpecificationError("The wild cluster bootstrap needs at least two clusters.")
    alpha = result.alpha if alpha is None else alpha
    keys, restrictions = _hypotheses(result, term)
    _check_vcov(vcov)
    pieces = cluster_pieces(fit, codes, g, cr3=vcov == "CR3")
    cores = [_Core(pieces, result.estimate, vec, impose_null, vcov) for vec in restrictions]
    pieces, b, enumerated = _run_draws(cores, g, reps, weights, seed)
    notes = _few_cluster_warnings(result, g, weights, impose_null, enumerated, b)
    tests = [_finish(c, p, null, alpha, p_value, b, weights, enumerated, ())
             for c, p in zip(cores, pieces, strict=True)]
    return _package(result, keys, tests, g, "regression", notes)


def score_wild_bootstrap(result, *, reps: int = 9999, weights: WildWeights = "rademacher",
                         impose_null: bool = True, seed: int | np.random.Generator | None = None,
                         term: str | Sequence[str] | None = None, alpha: float | None = None,
                         null: float = 0.0, p_value: PValueType = "symmetric"):
    """Score (influence-function) wild cluster bootstrap for any result carrying ``influence``.

    Parameters
    ----------
    result
        A :class:`~clusterimpact.results.Result` with ``influence`` (n x k, scaled so that
        ``estimate - truth ~ influence.mean(axis=0)``) and ``cluster`` codes (default: each
        row its own cluster).
    reps, weights, impose_null, seed, alpha, null, p_value
        As in :func:`wild_bootstrap`.
    term
        ``None`` for every estimate, or the values of the result's first key column to keep.

    Returns
    -------
    Result
        Same columns as :func:`wild_bootstrap`.

    Notes
    -----
    Estimate :math:`j` is treated as the solution of the just-identified linear moment
    :math:`\\frac1n\\sum_i(\\phi_{ij} - \\theta_j) = 0` with :math:`\\phi_{ij} = \\hat\\theta_j +
    \\psi_{ij} - \\bar\\psi_j`, whose Jacobian is one because the influence function
    :math:`\\psi` already contains the inverse Hessian. The score bootstrap of Kline &
    Santos (2012) perturbs the cluster sums of the scores by :math:`v_g`; with the null
    imposed the scores are evaluated at :math:`\\theta_0`, i.e. shifted by
    :math:`\\hat\\theta - \\theta_0` (the score analogue of WCR), and the bootstrap statistic is
    studentised with the re-centred bootstrap scores. This is exactly the wild
    cluster bootstrap of the regression of :math:`\\phi` on a constant, which is how it is
    computed. The reported statistic uses :math:`\\kappa = G/(G-1)`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from clusterimpact.results import Result
    >>> rng = np.random.default_rng(0); psi = rng.normal(size=(200, 1)); psi -= psi.mean()
    >>> r = Result(pd.DataFrame({"term": ["att"]}), np.array([0.3]), np.array([[psi.var() / 200]]),
    ...            influence=psi, cluster=np.repeat(np.arange(20), 10))
    >>> out = score_wild_bootstrap(r, reps=999, weights="webb", seed=1).tidy()
    >>> bool(out["conf_low"][0] < 0.3 < out["conf_high"][0])
    True
    """
    from clusterimpact.inference.vcov import VcovData

    if result.info.get("influence_rows") == "pseudo-units":
        raise SpecificationError(
            "This result was computed from compressed second moments (LazyPanel.att_gt clustered "
            "by unit): its influence rows are pseudo-units that reproduce every variance but are "
            "not the units, so resampling them would give a wrong bootstrap. Refit with "
            "LazyPanel.att_gt(..., route='blocks') or ci.att_gt on a ci.Panel.")
    if result.influence is None:
        raise SpecificationError("The score wild bootstrap needs influence functions; this result "
                                 "keeps none.")
    psi = np.asarray(result.influence, dtype=float).reshape(result.influence.shape[0], -1)
    n = psi.shape[0]
    cluster = np.arange(n) if result.cluster is None else np.asarray(result.cluster)
    codes, g = _codes(cluster)
    if g < 2:
        raise SpecificationError("The score wild bootstrap needs at least two clusters.")
    alpha = result.alpha if alpha is None else alpha
    rows = list(range(psi.shape[1]))
    keys = result.keys
    if term is not None:
        col = keys.columns[0]
        wanted = [term] if isinstance(term, str | int | float) else list(term)
        rows = [i for i, v in enumerate(keys[col].tolist()) if v in wanted]
        if not rows:
            raise SpecificationError(f"No estimate with {col} in {wanted}.")
        keys = keys.iloc[rows].reset_index(drop=True)
    ones = np.ones((n, 1))
    cores = []
    for j in rows:
        fit = VcovData(ones, psi[:, j] - psi[:, j].mean(), bread=np.array([[1.0 / n]]))
        core = _Core(cluster_pieces(fit, codes, g), np.array([result.estimate[j]]), np.ones(1),
                     impose_null)
        core.set_scale(g / (g - 1))
        cores.append(core)
    pieces, b, enumerated = _run_draws(cores, g, reps, weights, seed)
    notes = _few_cluster_warnings(result, g, weights, impose_null, enumerated, b)
    tests = [_finish(c, p, null, alpha, p_value, b, weights, enumerated, ())
             for c, p in zip(cores, pieces, strict=True)]
    return _package(result, keys, tests, g, "score", notes)
