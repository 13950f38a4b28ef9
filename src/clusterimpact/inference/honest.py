"""Sensitivity of event-study conclusions to violations of parallel trends (HonestDiD).

Rambachan & Roth (2023): the event-study coefficients are
:math:`\\hat\\beta = (\\hat\\beta_{pre}, \\hat\\beta_{post}) \\sim N(\\tau + \\delta, \\Sigma)` with
:math:`\\tau_{pre} = 0` and :math:`\\delta` the (unknown) difference in trends. Restricting
:math:`\\delta` to a set :math:`\\Delta` gives confidence sets for
:math:`\\theta = l'\\tau_{post}` that stay valid whenever :math:`\\delta \\in \\Delta`:

- ``"relative_magnitude"`` :math:`\\Delta^{RM}(\\bar M)`: every post-period change
  :math:`|\\delta_{t+1} - \\delta_t|` is at most :math:`\\bar M` times the largest pre-period one;
- ``"smoothness"`` :math:`\\Delta^{SD}(M)`: the slope of :math:`\\delta` changes by at most
  :math:`M` between consecutive periods (:math:`M = 0`: a linear pre-trend extrapolated);
- ``"smoothness_relative_magnitude"`` :math:`\\Delta^{SDRM}(\\bar M)`: post-period second
  differences at most :math:`\\bar M` times the largest pre-period one.

``inference="flci"`` (smoothness only) is the fixed-length interval built on the
optimal affine estimator (Armstrong & Kolesár 2018); ``"conditional"`` and
``"hybrid"`` (conditional-least-favourable, the default for relative magnitudes)
invert the linear-programming moment-inequality test of Andrews, Roth & Pakes
(2023), see :mod:`clusterimpact.inference._arp`. :func:`pretrend_power` gives the power
of the usual pre-test against linear violations and the bias it leaves (Roth 2022).

The normalised (reference) period, :math:`\\delta_0 = 0`, sits between the last
pre-period and the first post-period estimate, as in the R package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy import linalg, optimize, stats
from scipy.optimize import linprog

from clusterimpact.errors import SpecificationError
from clusterimpact.inference._arp import MomentTest
from clusterimpact.results.base import Result
from clusterimpact.results.sensitivity import SensitivityResult

__all__ = ["EventStudyInputs", "PretrendPower", "event_study_inputs", "flci", "honest",
           "pretrend_power", "pretrend_slope"]

HonestMethod = Literal["relative_magnitude", "smoothness", "smoothness_relative_magnitude"]
HonestInference = Literal["flci", "conditional", "hybrid"]


# ----------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class EventStudyInputs:
    """Event-study coefficients split into pre- and post-periods.

    Examples
    --------
    >>> import numpy as np
    >>> e = EventStudyInputs(np.zeros(3), np.eye(3), 2, np.array([-3, -2, 0]))
    >>> e.n_post
    1
    """

    betahat: np.ndarray
    sigma: np.ndarray
    n_pre: int
    event_time: np.ndarray

    @property
    def n_post(self) -> int:
        """Number of post-period coefficients."""
        return self.betahat.size - self.n_pre


def event_study_inputs(res: Result) -> EventStudyInputs:
    """Pull :math:`\\hat\\beta`, :math:`\\Sigma` and the pre/post split out of an event-study result.

    Rows without a positive finite variance (a reference period reported as 0)
    are dropped; rows are sorted by ``event_time``; ``event_time < 0`` is pre.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from clusterimpact.results import Result
    >>> r = Result(pd.DataFrame({"event_time": [-2, -1, 0]}), np.array([0.1, 0.0, 1.0]),
    ...            np.diag([1.0, np.nan, 1.0]))
    >>> event_study_inputs(r).event_time.tolist()
    [-2, 0]
    """
    if "event_time" not in res.keys.columns:
        raise SpecificationError("honest() needs an event-study result (key column 'event_time'); "
                                 "use att_gt(...).aggregate('dynamic') or ci.event_study(...).")
    if res.by:
        raise SpecificationError(f"The result has subgroups {res.by}; run the sensitivity analysis "
                                 "on one subgroup's event study at a time.")
    var = np.diag(res.vcov)
    keep = np.isfinite(res.estimate) & np.isfinite(var) & (var > 0)
    keep &= np.all(np.isfinite(res.vcov[:, keep]), axis=1)
    ev = res.keys["event_time"].to_numpy()
    order = np.flatnonzero(keep)[np.argsort(ev[keep], kind="stable")]
    n_pre = int(np.sum(ev[order] < 0))
    if n_pre == 0 or n_pre == order.size:
        raise SpecificationError(f"Need pre- and post-period estimates; got {n_pre} pre and "
                                 f"{order.size - n_pre} post.")
    return EventStudyInputs(res.estimate[order], res.vcov[np.ix_(order, order)], n_pre, ev[order])


def _target(target: object, inp: EventStudyInputs) -> np.ndarray:
    post_ev = inp.event_time[inp.n_pre:]
    if target is None or (isinstance(target, str) and target == "average"):
        return np.full(inp.n_post, 1.0 / inp.n_post)
    if isinstance(target, int | np.integer | float) and not isinstance(target, bool):
        hit = np.flatnonzero(post_ev == target)
        if hit.size != 1:
            raise SpecificationError(f"target={target!r} is not a post-period event time; "
                                     f"choose one of {post_ev.tolist()}.")
        return np.eye(inp.n_post)[hit[0]]
    lvec = np.asarray(target, dtype=float).ravel()
    if lvec.size != inp.n_post:
        raise SpecificationError(f"target has {lvec.size} weights for {inp.n_post} post periods.")
    return lvec


# ------------------------------------------------------------------ restrictions
def _differences(n_points: int, order: int) -> np.ndarray:
    return np.diff(np.eye(n_points), n=order, axis=0)


def _polyhedra(method: str, n_pre: int, n_post: int, m: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Constraint sets ``A delta <= d`` (columns: pre then post, delta_0 dropped), post rows only.

    Relative magnitudes are unions of polyhedra (one per pre-period change
    that attains the maximum and its sign); as in the R package only the rows
    that involve post-period coefficients enter the test.
    """
    n = n_pre + n_post
    order = 1 if method == "relative_magnitude" else 2
    diff = np.delete(_differences(n + 1, order), n_pre, axis=1)  # rows: consecutive changes
    post_rows = np.flatnonzero(np.any(diff[:, n_pre:] != 0, axis=1))
    if method == "smoothness":
        a = np.vstack([diff[post_rows], -diff[post_rows]])
        return [(a, np.full(a.shape[0], m))]
    pre_rows = np.flatnonzero(np.all(diff[:, n_pre:] == 0, axis=1))
    if pre_rows.size == 0:
        raise SpecificationError(f"method={method!r} needs at least {order} pre-period "
                                 "coefficient(s).")
    out = []
    for r in pre_rows:
        for sign in (1.0, -1.0):
            bound = sign * m * diff[r]
            a = np.vstack([diff[post_rows] - bound, -diff[post_rows] - bound])
            out.append((a, np.zeros(a.shape[0])))
    return out


def _moment_tests(inp: EventStudyInputs, lvec: np.ndarray, polys: list) -> list[MomentTest]:
    a0 = lvec / (lvec @ lvec)
    null = linalg.null_space(lvec[None, :])
    tests = []
    for a, d in polys:
        post = a[:, inp.n_pre:]
        tests.append(MomentTest(a @ inp.betahat - d, post @ a0, post @ null, a @ inp.sigma @ a.T))
    return tests


def _identified_set(inp: EventStudyInputs, lvec: np.ndarray, method: str, m: float
                    ) -> tuple[float, float]:
    """Bounds of l'tau_post when beta is known (pre-period rows included)."""
    n = inp.betahat.size
    order = 1 if method == "relative_magnitude" else 2
    diff = np.delete(_differences(n + 1, order), inp.n_pre, axis=1)
    if method == "smoothness":
        sets = [(np.vstack([diff, -diff]), np.full(2 * diff.shape[0], m))]
    else:
        sets = []
        pre = np.flatnonzero(np.all(diff[:, inp.n_pre:] == 0, axis=1))
        scale = np.where(np.isin(np.arange(diff.shape[0]), pre), 1.0, m)[:, None]
        for r in pre:
            for sign in (1.0, -1.0):
                bound = scale * sign * diff[r]
                sets.append((np.vstack([diff - bound, -diff - bound]), np.zeros(2 * diff.shape[0])))
    f = np.r_[np.zeros(inp.n_pre), lvec]
    eq = np.eye(n)[: inp.n_pre]
    theta = float(lvec @ inp.betahat[inp.n_pre:])
    lo, hi = np.inf, -np.inf
    for a, d in sets:
        for sign in (1.0, -1.0):
            r = linprog(sign * f, A_ub=a, b_ub=d, A_eq=eq, b_eq=inp.betahat[: inp.n_pre],
                        bounds=[(None, None)] * n, method="highs")
            if r.status == 0:
                val = theta - sign * r.fun
                lo, hi = (min(lo, val), hi) if sign < 0 else (lo, max(hi, val))
            elif r.status == 3:
                lo, hi = (-np.inf, hi) if sign < 0 else (lo, np.inf)
    return lo, hi


# ------------------------------------------------------------------ inversion
def _invert(accept, lo: float, hi: float, points: int, tol: float) -> tuple[float, float]:
    """Smallest and largest accepted theta: a grid, widened if open, then bisection."""
    for _ in range(4):
        grid = np.linspace(lo, hi, points)
        acc = accept(grid)
        if not acc.any():
            return np.nan, np.nan
        first, last = np.flatnonzero(acc)[[0, -1]]
        if first > 0 and last < points - 1:
            break
        width = hi - lo
        lo, hi = (lo - width if first == 0 else lo), (hi + width if last == points - 1 else hi)
    else:
        first = first if first > 0 else None
        last = last if last < points - 1 else None
    ends = []
    for idx, step in ((first, -1), (last, 1)):
        if idx is None:
            ends.append(-np.inf if step < 0 else np.inf)
            continue
        inside, outside = grid[idx], grid[idx + step]
        while abs(outside - inside) > tol:
            mid = 0.5 * (inside + outside)
            if accept(np.array([mid]))[0]:
                inside = mid
            else:
                outside = mid
        ends.append(inside)
    return ends[0], ends[1]


def _conditional_ci(inp: EventStudyInputs, lvec: np.ndarray, method: str, m: float, *,
                    alpha: float, hybrid: bool, kappa: float, lf_draws: int, seed,
                    theta_grid: np.ndarray | None, grid_points: int) -> tuple[float, float]:
    tests = _moment_tests(inp, lvec, _polyhedra(method, inp.n_pre, inp.n_post, m))
    cvs = [t.least_favorable_cv(kappa, lf_draws, seed) if hybrid else None for t in tests]

    def accept(theta: np.ndarray) -> np.ndarray:
        out = np.zeros(theta.size, dtype=bool)
        for t, cv in zip(tests, cvs, strict=True):
            out |= t.accept(theta, alpha=alpha, lf_cv=cv, kappa=kappa)
        return out

    if theta_grid is not None:
        grid = np.asarray(theta_grid, float)
        acc = accept(grid)
        return (float(grid[acc].min()), float(grid[acc].max())) if acc.any() else (np.nan, np.nan)
    sd = float(np.sqrt(lvec @ inp.sigma[inp.n_pre:, inp.n_pre:] @ lvec))
    id_lo, id_hi = _identified_set(inp, lvec, method, m)
    theta = float(lvec @ inp.betahat[inp.n_pre:])
    lo = (id_lo if np.isfinite(id_lo) else theta - 50 * sd) - 20 * sd
    hi = (id_hi if np.isfinite(id_hi) else theta + 50 * sd) + 20 * sd
    return _invert(accept, lo, hi, grid_points, 1e-7 * max(sd, 1e-12))


# ------------------------------------------------------------------------ FLCI
def _folded_normal_quantile(b: float, alpha: float) -> float:
    """``c`` with ``P(|N(b, 1)| <= c) = 1 - alpha``."""
    b = abs(b)
    f = lambda c: stats.norm.cdf(c - b) - stats.norm.cdf(-c - b) - (1 - alpha)  # noqa: E731
    return float(optimize.brentq(f, 0.0, b + 10.0, xtol=1e-14))


def flci(inp: EventStudyInputs, lvec: np.ndarray, m: float, alpha: float = 0.05
         ) -> tuple[float, float, np.ndarray]:
    """Optimal fixed-length confidence interval for ``l'tau_post`` under Delta^SD(M).

    Returns ``(conf_low, conf_high, weights)``; the interval is
    ``weights @ betahat +- half_length``.

    Notes
    -----
    Affine estimators :math:`w'\\hat\\beta` with :math:`w = (v, l)` have worst-case bias
    :math:`\\bar b(w) = \\max_{\\delta \\in \\Delta^{SD}(M)} w'\\delta`. Writing
    :math:`\\delta = s\\,t + K\\,\\Delta^2\\delta` (a linear trend plus the effect of the
    second differences, :math:`|\\Delta^2\\delta| \\le M`), the bias is finite only if
    :math:`\\sum_t w_t t = 0` and then equals :math:`M\\lVert K'w\\rVert_1`. The interval is
    :math:`w'\\hat\\beta \\pm \\sigma_w\\, cv_\\alpha(\\bar b/\\sigma_w)`, :math:`cv_\\alpha(b)` the
    :math:`1-\\alpha` quantile of :math:`|N(b,1)|`, minimised over :math:`v`: for each bias
    bound :math:`B` the variance is minimised (a quadratic programme), then the
    half-length over :math:`B`.

    Examples
    --------
    >>> import numpy as np
    >>> inp = EventStudyInputs(np.array([-0.1, 0.0, 1.0]), np.eye(3) * 0.01, 2, np.array([-3, -2, 0]))
    >>> lo, hi, w = flci(inp, np.array([1.0]), 0.0)
    >>> [round(float(x), 4) for x in (lo, hi)], w.round(3).tolist()
    ([0.7453, 1.1747], [0.4, 0.2, 1.0])
    """
    n_pre, n = inp.n_pre, inp.betahat.size
    times = np.r_[np.arange(-n_pre, 0), np.arange(1, inp.n_post + 1)].astype(float)
    # K: effect on delta (delta_0 = 0, delta_1 - delta_0 = 0) of each second difference
    n_dd = n - 1
    kmat = np.zeros((n, n_dd))
    for j in range(n_dd):
        dd = np.zeros(n_dd)
        dd[j] = 1.0
        path = np.zeros(n + 1)  # points -n_pre..n_post, index n_pre is t = 0
        for i in range(n_pre + 1, n):  # forward: dd index i-1 is centred at point i
            path[i + 1] = 2 * path[i] - path[i - 1] + dd[i - 1]
        for i in range(n_pre, 0, -1):  # backward
            path[i - 1] = 2 * path[i] - path[i + 1] + dd[i - 1]
        kmat[:, j] = np.delete(path, n_pre)
    sig = inp.sigma
    # variance of w = (v, l) as a quadratic in v, the trend constraint t_pre'v = -t_post'l
    q, lin = sig[:n_pre, :n_pre], sig[:n_pre, n_pre:] @ lvec
    const = lvec @ sig[n_pre:, n_pre:] @ lvec
    t_pre, rhs = times[:n_pre], -times[n_pre:] @ lvec
    kpre, kpost = kmat[:n_pre].T, kmat[n_pre:].T @ lvec

    def variance(v: np.ndarray) -> float:
        return float(v @ q @ v + 2 * lin @ v + const)

    # minimum variance: KKT of min v'Qv + 2 lin'v s.t. t_pre'v = rhs
    kkt = np.block([[2 * q, t_pre[:, None]], [t_pre[None, :], np.zeros((1, 1))]])
    v0 = np.linalg.lstsq(kkt, np.r_[-2 * lin, rhs], rcond=None)[0][:n_pre]
    bias = lambda v: m * float(np.abs(kpre @ v + kpost).sum())  # noqa: E731
    if m == 0:
        best_v = v0
    else:
        n_u = n_dd
        # minimum achievable bias (LP in v, u): min 1'u s.t. -u <= K'w <= u, trend
        a_ub = np.block([[kpre, -np.eye(n_u)], [-kpre, -np.eye(n_u)]])
        b_ub = np.r_[-kpost, kpost]
        a_eq = np.r_[t_pre, np.zeros(n_u)][None, :]
        r = linprog(np.r_[np.zeros(n_pre), np.ones(n_u)], A_ub=a_ub, b_ub=b_ub, A_eq=a_eq,
                    b_eq=[rhs], bounds=[(None, None)] * (n_pre + n_u), method="highs")
        b_min, b_max = m * r.fun, bias(v0)

        def min_var(b: float, start: np.ndarray) -> np.ndarray:
            cons = [{"type": "eq", "fun": lambda z: t_pre @ z[:n_pre] - rhs},
                    {"type": "ineq", "fun": lambda z: -(a_ub @ z - b_ub)},
                    {"type": "ineq", "fun": lambda z: b / m - z[n_pre:].sum()}]
            z0 = np.r_[start, np.abs(kpre @ start + kpost)]
            sol = optimize.minimize(lambda z: variance(z[:n_pre]), z0, method="SLSQP",
                                    jac=lambda z: np.r_[2 * q @ z[:n_pre] + 2 * lin, np.zeros(n_u)],
                                    constraints=cons, options={"ftol": 1e-15, "maxiter": 500})
            return sol.x[:n_pre]

        def half(b: float) -> tuple[float, np.ndarray]:
            v = min_var(b, v0)
            sd = np.sqrt(variance(v))
            return sd * _folded_normal_quantile(bias(v) / sd, alpha), v

        if b_max - b_min <= 1e-12 * max(1.0, b_max):
            best_v = v0
        else:
            grid = np.linspace(b_min, b_max, 12)
            vals = [half(b)[0] for b in grid]
            i = int(np.argmin(vals))
            lo_b, hi_b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
            opt = optimize.minimize_scalar(lambda b: half(b)[0], bounds=(lo_b, hi_b),
                                           method="bounded", options={"xatol": 1e-10 * b_max})
            best_v = half(opt.x)[1] if opt.fun < vals[i] else half(grid[i])[1]
    sd = np.sqrt(variance(best_v))
    h = sd * _folded_normal_quantile(bias(best_v) / sd, alpha)
    w = np.r_[best_v, lvec]
    center = float(w @ inp.betahat)
    return center - h, center + h, w


# ----------------------------------------------------------------- public entry
def honest(res: Result, *, method: HonestMethod = "relative_magnitude", grid=None, target=None,
           alpha: float = 0.05, inference: HonestInference | None = None,
           kappa: float | None = None, lf_draws: int = 1000, seed: int | None = 0,
           theta_grid=None, grid_points: int = 200) -> SensitivityResult:
    """Robust confidence intervals under restricted violations of parallel trends.

    Parameters
    ----------
    res
        An event-study :class:`~clusterimpact.results.Result` (key ``event_time``, joint
        ``vcov``): ``att_gt(...).aggregate("dynamic")`` (preferably with
        ``base_period="universal"``) or :func:`clusterimpact.event_study`.
    method
        ``"relative_magnitude"`` (:math:`\\bar M`), ``"smoothness"`` (:math:`M`) or
        ``"smoothness_relative_magnitude"`` (:math:`\\bar M`).
    grid
        Values of :math:`M` / :math:`\\bar M`. Default: :math:`\\bar M \\in \\{0, 0.5, 1, 1.5, 2\\}`;
        for smoothness ten values from 0 to the largest pre-period second
        difference plus 1.96 standard errors.
    target
        The parameter :math:`l'\\tau_{post}`: ``None``/``"average"`` (equal-weight
        average of the post periods), a post-period event time (``0`` for the
        impact effect, R's default) or a vector :math:`l` of post-period weights.
    alpha
        One minus the coverage.
    inference
        ``"flci"`` (default for smoothness), ``"hybrid"`` (conditional-least-favourable,
        default otherwise) or ``"conditional"``.
    kappa, lf_draws, seed
        Size of the least-favourable first stage (default ``alpha / 10``), the
        number of simulation draws for its critical value and their seed.
    theta_grid
        Test exactly these values of :math:`\\theta` and report the smallest and
        largest accepted (the R package's grid convention); by default a grid of
        ``grid_points`` values around the identified set, refined by bisection.

    Returns
    -------
    SensitivityResult
        ``tidy()`` has ``M`` (or ``Mbar``), ``method``, ``estimate``, ``conf_low``,
        ``conf_high``; ``.original`` is the usual interval for :math:`l'\\hat\\beta_{post}`,
        ``.breakdown`` the largest grid value whose interval excludes zero.

    Notes
    -----
    :math:`\\Delta^{SD}(M) = \\{\\delta: |(\\delta_{t+1}-\\delta_t)-(\\delta_t-\\delta_{t-1})| \\le M\\}`,
    :math:`\\Delta^{RM}(\\bar M) = \\{\\delta: |\\delta_{t+1}-\\delta_t| \\le \\bar M \\max_{s<0}
    |\\delta_{s+1}-\\delta_s|, t \\ge 0\\}`, with :math:`\\delta_0 = 0`. For a candidate
    :math:`\\bar\\theta` the moments :math:`A\\hat\\beta - d - A_{post}\\,\\tau_{post}`, with
    :math:`l'\\tau_{post} = \\bar\\theta` and the rest of :math:`\\tau_{post}` a nuisance, are tested
    by the ARP conditional test (hybrid: reject when the statistic exceeds the
    least-favourable critical value at level :math:`\\kappa`, otherwise test
    conditionally at :math:`(\\alpha-\\kappa)/(1-\\kappa)` with the truncation capped there).
    :math:`\\Delta^{RM}` is a union of polyhedra (which pre-period change is the largest,
    and its sign); the set is the union of their confidence sets.

    References
    ----------
    Rambachan, A. and Roth, J. (2023). A more credible approach to parallel trends.
    *Review of Economic Studies*, 90(5), 2555-2591.

    Andrews, I., Roth, J. and Pakes, A. (2023). Inference for linear conditional moment
    inequalities. *Review of Economic Studies*, 90(6), 2763-2791.

    Armstrong, T. B. and Kolesár, M. (2018). Optimal inference in a class of regression
    models. *Econometrica*, 86(2), 655-683.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from clusterimpact.results import Result
    >>> r = Result(pd.DataFrame({"event_time": [-3, -2, 0, 1]}), np.array([0.01, -0.01, 0.5, 0.6]),
    ...            np.eye(4) * 0.01)
    >>> s = honest(r, method="smoothness", grid=[0.0, 0.1])
    >>> s.tidy()[["M", "conf_low", "conf_high"]].round(3).to_numpy().tolist()
    [[0.0, 0.362, 0.744], [0.1, 0.135, 0.964]]
    """
    methods = get_args(HonestMethod)
    if method not in methods:
        raise SpecificationError(f"method={method!r} is not allowed; use one of {list(methods)}.")
    if inference is None:
        inference = "flci" if method == "smoothness" else "hybrid"
    if inference not in get_args(HonestInference):
        raise SpecificationError(f"inference={inference!r} is not allowed; use one of "
                                 f"{list(get_args(HonestInference))}.")
    if inference == "flci" and method != "smoothness":
        raise SpecificationError("inference='flci' is valid for method='smoothness' only; use "
                                 "'hybrid' or 'conditional'.")
    if not 0 < alpha < 1:
        raise SpecificationError(f"alpha must lie in (0, 1), got {alpha}.")
    inp = event_study_inputs(res)
    lvec = _target(target, inp)
    kappa = alpha / 10 if kappa is None else float(kappa)
    param = "M" if method == "smoothness" else "Mbar"
    if grid is None:
        grid = _default_grid(inp, method)
    grid = np.atleast_1d(np.asarray(grid, dtype=float))
    if np.any(grid < 0):
        raise SpecificationError(f"{param} must be non-negative.")
    lows, highs = [], []
    for m in grid:
        if inference == "flci":
            lo, hi, _ = flci(inp, lvec, float(m), alpha)
        else:
            lo, hi = _conditional_ci(inp, lvec, method, float(m), alpha=alpha,
                                     hybrid=inference == "hybrid", kappa=kappa, lf_draws=lf_draws,
                                     seed=seed, theta_grid=theta_grid, grid_points=grid_points)
        lows.append(lo), highs.append(hi)
    theta = float(lvec @ inp.betahat[inp.n_pre:])
    var = float(lvec @ inp.sigma[inp.n_pre:, inp.n_pre:] @ lvec)
    original = Result(keys=pd.DataFrame({"term": ["l'tau_post"]}), estimate=np.array([theta]),
                      vcov=np.array([[var]]), alpha=alpha,
                      info={"estimator": "Original event-study estimate"})
    label = {"flci": "FLCI", "conditional": "Conditional", "hybrid": "C-LF"}[inference]
    keys = pd.DataFrame({param: grid, "method": label})
    info = {**res.info, "estimator": f"HonestDiD sensitivity ({method})", "restriction": method,
            "inference": inference, "target": lvec.tolist(),
            "event_time": inp.event_time.tolist(), "n_pre": inp.n_pre}
    info["notes"] = [f"Robust {1 - alpha:.0%} intervals for l'tau_post with l = "
                     f"{np.round(lvec, 4).tolist()} over post periods "
                     f"{inp.event_time[inp.n_pre:].tolist()}."]
    if res.info.get("base_period") == "varying":
        info["notes"].append("att_gt with base_period='varying': pre-period estimates are "
                             "short differences; the R package requires base_period='universal'.")
    return SensitivityResult(keys=keys, estimate=np.full(grid.size, theta),
                             vcov=np.diag(np.full(grid.size, np.nan)), alpha=alpha, info=info,
                             conf_low=np.array(lows, float), conf_high=np.array(highs, float),
                             original=original, parameter=param)


def _default_grid(inp: EventStudyInputs, method: str) -> np.ndarray:
    if method != "smoothness":
        return np.arange(0.0, 2.01, 0.5)
    pre = np.r_[inp.betahat[: inp.n_pre], 0.0]
    if inp.n_pre >= 2:
        d2 = np.diff(np.eye(inp.n_pre + 1), 2, axis=0)[:, :-1]
        sd = np.sqrt(np.diag(d2 @ inp.sigma[: inp.n_pre, : inp.n_pre] @ d2.T))
        top = float(np.max(np.abs(np.diff(pre, 2)) + 1.96 * sd))
    else:
        top = float(np.sqrt(inp.sigma[0, 0]))
    return np.linspace(0.0, top, 10)


# ------------------------------------------------------------ pre-test power
@dataclass(frozen=True)
class PretrendPower:
    """Power of the pre-test against a linear violation and the bias left after passing it.

    Attributes
    ----------
    slope, power, alpha
        The violation :math:`\\delta_t = \\text{slope}\\times(t - t_{ref})`, the probability that
        some pre-period coefficient is individually significant at ``alpha``.
    bias
        Per post period: ``event_time``, ``delta`` (the violation, i.e. the bias of
        the estimate without pre-testing) and ``conditional_bias`` (its mean given
        that the pre-test passed); last row ``event_time == "target"`` for ``l``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> p = PretrendPower(0.1, 0.5, 0.05, pd.DataFrame({"event_time": [0]}))
    >>> p.power
    0.5
    """

    slope: float
    power: float
    alpha: float
    bias: pd.DataFrame

    def tidy(self) -> pd.DataFrame:
        """The bias table with the slope and the power as columns.

        Examples
        --------
        >>> import pandas as pd
        >>> PretrendPower(0.1, 0.5, 0.05, pd.DataFrame({"event_time": [0]})).tidy().shape
        (1, 3)
        """
        return self.bias.assign(slope=self.slope, power=self.power)


def _pass_probability(inp: EventStudyInputs, slope: float, alpha: float, times: np.ndarray
                      ) -> float:
    sd = np.sqrt(np.diag(inp.sigma)[: inp.n_pre])
    c = stats.norm.ppf(1 - alpha / 2) * sd
    mean = slope * times[: inp.n_pre]
    mvn = stats.multivariate_normal(mean=mean, cov=inp.sigma[: inp.n_pre, : inp.n_pre],
                                    allow_singular=True)
    try:  # a fixed stream for the Genz integration (keyword renamed in scipy 1.15)
        return float(mvn.cdf(c, lower_limit=-c, rng=np.random.default_rng(0)))
    except TypeError:  # pragma: no cover - older scipy
        return float(mvn.cdf(c, lower_limit=-c, random_state=np.random.default_rng(0)))


def _relative_times(res: Result, inp: EventStudyInputs) -> np.ndarray:
    ref = float(res.info.get("reference", -1))
    return inp.event_time.astype(float) - ref


def pretrend_power(res: Result, slope: float | None = None, *, power: float | None = None,
                   alpha: float = 0.05, target=None, draws: int = 200_000,
                   seed: int | None = 0) -> PretrendPower:
    """Power of the pre-test against a linear trend and the bias conditional on passing it.

    Parameters
    ----------
    res
        An event-study result (see :func:`honest`).
    slope
        Slope of the linear violation per period; or give ``power`` (e.g. ``0.5``,
        ``0.8``) to use the slope at which the pre-test has that power.
    alpha
        Level of the individual pre-period t-tests.
    target
        Post-period weights for the ``"target"`` row, as in :func:`honest`.
    draws, seed
        Simulation draws (from the normal law of the estimates) for the conditional bias.

    Notes
    -----
    Roth (2022): with :math:`\\hat\\beta \\sim N(\\tau + \\delta, \\Sigma)`,
    :math:`\\delta_t = s\\,(t - t_{ref})`, the pre-test passes when
    :math:`|\\hat\\beta_j| \\le z_{1-\\alpha/2}\\sigma_j` for every pre-period :math:`j`
    (a rectangle :math:`B`); power is :math:`1 - P(\\hat\\beta_{pre} \\in B)`. Given passing,
    :math:`E[\\hat\\beta_{post} - \\tau_{post} \\mid \\hat\\beta_{pre} \\in B] = \\delta_{post} +
    \\Sigma_{21}\\Sigma_{11}^{-1}(E[\\hat\\beta_{pre} \\mid B] - \\delta_{pre})`.

    References
    ----------
    Roth, J. (2022). Pretest with caution: event-study estimates after testing for
    parallel trends. *American Economic Review: Insights*, 4(3), 305-322.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from clusterimpact.results import Result
    >>> r = Result(pd.DataFrame({"event_time": [-2, 0]}), np.zeros(2), np.eye(2))
    >>> round(pretrend_power(r, slope=0.0).power, 3)
    0.05
    """
    inp = event_study_inputs(res)
    times = _relative_times(res, inp)
    if (slope is None) == (power is None):
        raise SpecificationError("Give exactly one of slope= and power=.")
    if slope is None:
        slope = pretrend_slope(res, power=float(power), alpha=alpha)
    pw = 1.0 - _pass_probability(inp, slope, alpha, times)
    delta = slope * times
    rng = np.random.default_rng(seed)
    pre = slice(0, inp.n_pre)
    draw = rng.multivariate_normal(delta[pre], inp.sigma[pre, pre], size=draws, method="eigh")
    crit = stats.norm.ppf(1 - alpha / 2) * np.sqrt(np.diag(inp.sigma)[pre])
    passed = np.all(np.abs(draw) <= crit, axis=1)
    shift = draw[passed].mean(axis=0) - delta[pre] if passed.any() else np.full(inp.n_pre, np.nan)
    coef = inp.sigma[inp.n_pre:, pre] @ np.linalg.pinv(inp.sigma[pre, pre])
    cond = delta[inp.n_pre:] + coef @ shift
    lvec = _target(target, inp)
    tab = pd.DataFrame({"event_time": [*inp.event_time[inp.n_pre:].tolist(), "target"],
                        "delta": np.r_[delta[inp.n_pre:], lvec @ delta[inp.n_pre:]],
                        "conditional_bias": np.r_[cond, lvec @ cond]})
    return PretrendPower(float(slope), pw, alpha, tab)


def pretrend_slope(res: Result, power: float = 0.8, *, alpha: float = 0.05) -> float:
    """Slope of the linear violation that the pre-test detects with probability ``power``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from clusterimpact.results import Result
    >>> r = Result(pd.DataFrame({"event_time": [-2, 0]}), np.zeros(2), np.eye(2))
    >>> round(pretrend_slope(r, power=0.5), 3)  # |N(-s, 1)| > 1.96 half the time
    1.96
    """
    if not alpha < power < 1:
        raise SpecificationError(f"power must lie in (alpha, 1), got {power}.")
    inp = event_study_inputs(res)
    times = _relative_times(res, inp)
    f = lambda s: 1.0 - _pass_probability(inp, s, alpha, times) - power  # noqa: E731
    hi = float(np.sqrt(np.max(np.diag(inp.sigma)[: inp.n_pre])))
    while f(hi) < 0:
        hi *= 2
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-10 * hi))
