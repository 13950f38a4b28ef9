"""Weight solvers for synthetic control and synthetic difference-in-differences.

Numpy in, numpy out; no pandas. Three solvers:

* :func:`simplex_lstsq`: exact minimiser of a (penalised) least-squares
  criterion over the unit simplex by an active-set method (Lawson & Hanson's
  NNLS adapted to the sum-to-one constraint). Used for synthetic-control
  unit weights, where the weights must be the exact optimum for the nested
  choice of the predictor weights :math:`V` to be well defined.
* :func:`fw_simplex`: Frank-Wolfe with exact line search for ridge-penalised
  least squares on the simplex, batched over replications (placebo and
  bootstrap draws run as one array computation, each draw keeping its own
  stopping rule). It follows the conventions of R ``synthdid``'s
  ``fw.step``/``sc.weight.fw`` so that the SDID weights agree with it.
* :func:`sdid_weights`: the two SDID weight problems (unit weights
  :math:`\\omega` and time weights :math:`\\lambda`) on the collapsed panel,
  with intercepts and the sparsification restart of ``synthdid``.

Examples
--------
>>> import numpy as np
>>> from clusterimpact.kernels.synthetic import simplex_lstsq
>>> A = np.array([[1.0, 0.0], [0.0, 1.0]]); b = np.array([0.3, 0.7])
>>> simplex_lstsq(A, b).round(6).tolist()
[0.3, 0.7]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "SdidWeights",
    "fw_simplex",
    "noise_level",
    "project_simplex",
    "sdid_weights",
    "simplex_lstsq",
    "sparsify",
]


# --------------------------------------------------------------------------- exact simplex LS
def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection of ``v`` (last axis) onto the unit simplex.

    Uses the sort-based algorithm of Held, Wolfe & Crowder (1974) /
    Duchi et al. (2008).

    Examples
    --------
    >>> import numpy as np
    >>> project_simplex(np.array([0.5, 2.0, -1.0])).tolist()
    [0.0, 1.0, 0.0]
    """
    v = np.asarray(v, dtype=float)
    u = -np.sort(-v, axis=-1)
    css = np.cumsum(u, axis=-1) - 1.0
    k = np.arange(1, v.shape[-1] + 1)
    cond = u - css / k > 0
    rho = v.shape[-1] - 1 - np.argmax(cond[..., ::-1], axis=-1)
    theta = np.take_along_axis(css, rho[..., None], axis=-1) / (rho[..., None] + 1)
    return np.maximum(v - theta, 0.0)


def _solve_eq(q_mat: np.ndarray, q_vec: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Minimise ``w'Qw - 2q'w`` subject to ``sum(w) = 1`` over the coordinates ``idx``."""
    m = idx.size
    kkt = np.zeros((m + 1, m + 1))
    kkt[:m, :m] = q_mat[np.ix_(idx, idx)]
    kkt[:m, m] = 1.0
    kkt[m, :m] = 1.0
    rhs = np.r_[q_vec[idx], 1.0]
    try:
        sol = np.linalg.solve(kkt, rhs)
    except np.linalg.LinAlgError:
        sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    return sol[:m]


def simplex_lstsq(
    A: np.ndarray,
    b: np.ndarray,
    *,
    ridge: float = 0.0,
    linear: np.ndarray | None = None,
    tol: float = 1e-12,
    max_iter: int | None = None,
) -> np.ndarray:
    """Exact minimiser of a penalised least-squares criterion over the unit simplex.

    Parameters
    ----------
    A
        Matrix of shape ``(m, n)`` (rows: fitted quantities; columns: donors).
    b
        Target, shape ``(m,)``.
    ridge
        Ridge penalty :math:`\\eta \\ge 0` on :math:`\\|w\\|^2`.
    linear
        Optional linear penalty :math:`c` (shape ``(n,)``), e.g. the pairwise
        discrepancies of the penalised synthetic control.
    tol
        Relative tolerance of the optimality (KKT) check.
    max_iter
        Bound on active-set changes (default ``10 n + 100``).

    Returns
    -------
    numpy.ndarray
        Weights ``w`` of shape ``(n,)``, ``w >= 0``, ``sum(w) == 1``.

    Notes
    -----
    Minimises :math:`\\|Aw - b\\|^2 + \\eta\\|w\\|^2 + c'w` subject to
    :math:`w \\ge 0,\\ 1'w = 1`. With :math:`Q = A'A + \\eta I` and
    :math:`q = A'b - c/2` the KKT conditions are :math:`(Qw - q)_j = \\mu` on the
    support and :math:`\\ge \\mu` off it. The active-set loop of Lawson & Hanson
    (1974) adds the coordinate that most violates them, solves the
    equality-constrained problem on the support exactly (a bordered linear
    system) and, if a coordinate turns negative, moves only as far as
    feasibility allows and drops it. The loop terminates in finitely many
    steps at the exact optimum (up to rounding); the optimum is unique when
    :math:`Q` is positive definite (``ridge > 0`` or ``A`` of full column rank),
    otherwise any minimiser may be returned.

    References
    ----------
    Lawson, C. L. and Hanson, R. J. (1974). *Solving Least Squares Problems*, ch. 23.

    Examples
    --------
    >>> import numpy as np
    >>> simplex_lstsq(np.eye(2), np.array([0.9, 0.5])).round(4).tolist()
    [0.7, 0.3]
    """
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    n = A.shape[1]
    q_mat = A.T @ A
    if ridge:
        q_mat = q_mat + ridge * np.eye(n)
    q_vec = A.T @ b
    if linear is not None:
        q_vec = q_vec - 0.5 * np.asarray(linear, dtype=float)
    scale = max(float(np.abs(q_mat).max()), float(np.abs(q_vec).max()), 1e-300)
    # start at the best vertex: f(e_j) = Q_jj - 2 q_j
    j0 = int(np.argmin(np.diag(q_mat) - 2 * q_vec))
    w = np.zeros(n)
    w[j0] = 1.0
    support = np.zeros(n, dtype=bool)
    support[j0] = True
    limit = max_iter if max_iter is not None else 10 * n + 100
    for _ in range(limit):
        grad = q_mat @ w - q_vec
        mu = float(np.min(grad[support])) if support.all() else float(grad[support].mean())
        if support.all():
            break
        slack = np.where(support, np.inf, grad - mu)
        j = int(np.argmin(slack))
        if slack[j] >= -tol * scale:
            break
        support[j] = True
        for _ in range(n + 1):
            idx = np.flatnonzero(support)
            z = _solve_eq(q_mat, q_vec, idx)
            if (z > 0).all():
                w[:] = 0.0
                w[idx] = z
                break
            neg = z <= 0
            wi = w[idx]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = np.where(neg, wi / (wi - z), np.inf)
            step = float(np.clip(np.min(ratios), 0.0, 1.0))
            new = wi + step * (z - wi)
            new[(new <= 1e-15) | (neg & (ratios <= step))] = 0.0
            w[:] = 0.0
            w[idx] = new
            support = w > 0
            if not support.any():  # numerical breakdown; restart at the best vertex
                support[j0] = True
                w[j0] = 1.0
                break
    w = np.maximum(w, 0.0)
    return w / w.sum()


# --------------------------------------------------------------------------- Frank-Wolfe (synthdid)
def fw_simplex(
    A: np.ndarray,
    b: np.ndarray,
    x0: np.ndarray,
    zeta2: np.ndarray | float,
    *,
    n_rows: np.ndarray | None = None,
    col_valid: np.ndarray | None = None,
    min_decrease: np.ndarray | float = 1e-3,
    max_iter: int = 1000,
) -> tuple[np.ndarray, np.ndarray]:
    """Batched Frank-Wolfe for ridge-penalised least squares on the simplex.

    Parameters
    ----------
    A
        Design, shape ``(R, m, n)`` (``R`` independent problems) or ``(m, n)``.
    b
        Targets, shape ``(R, m)`` or ``(m,)``.
    x0
        Starting points on the simplex, shape ``(R, n)`` or ``(n,)``.
    zeta2
        Squared regularisation :math:`\\zeta^2` (scalar or one per problem).
    n_rows
        Number of genuine rows of each problem (default ``m``): rows beyond it
        must be zero padding. The penalty is :math:`\\eta = n_{rows}\\zeta^2`.
    col_valid
        Boolean ``(R, n)`` mask of genuine columns (padding columns keep weight 0).
    min_decrease
        Stop once an iteration decreases the objective by at most
        ``min_decrease**2`` (after at least two iterations).
    max_iter
        Iteration limit.

    Returns
    -------
    x, iterations
        Solutions ``(R, n)`` (``(n,)`` for one problem) and the iterations used.

    Notes
    -----
    The objective is :math:`\\zeta^2\\|x\\|^2 + \\|Ax - b\\|^2/m` over the simplex.
    Each step moves towards the vertex :math:`e_i`, :math:`i = \\arg\\min_j
    [A'(Ax-b) + \\eta x]_j`, by the exact line-search step
    :math:`s = -g'd / (\\|Ad\\|^2 + \\eta\\|d\\|^2)` clipped to :math:`[0, 1]`,
    :math:`d = e_i - x`: the conventions of ``synthdid``'s ``fw.step`` and
    ``sc.weight.fw`` (Arkhangelsky et al. 2021), including its stopping rule.
    Problems that have stopped are frozen while the others continue, so a
    batch returns exactly what the problems would return one at a time.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.eye(3); b = np.array([0.2, 0.3, 0.5])
    >>> x, it = fw_simplex(A, b, np.full(3, 1 / 3), 0.0, min_decrease=1e-8, max_iter=10000)
    >>> bool(np.abs(x - b).max() < 1e-3)
    True
    """
    single = np.ndim(A) == 2
    A = np.asarray(A, dtype=float)
    if single:
        A, b, x0 = A[None], np.asarray(b, dtype=float)[None], np.asarray(x0, dtype=float)[None]
    n_rep, m, n = A.shape
    b = np.broadcast_to(np.asarray(b, dtype=float), (n_rep, m))
    x = np.broadcast_to(np.asarray(x0, dtype=float), (n_rep, n)).copy()
    zeta2 = np.broadcast_to(np.asarray(zeta2, dtype=float), (n_rep,))
    rows = np.broadcast_to(np.asarray(m if n_rows is None else n_rows, dtype=float), (n_rep,))
    eta = rows * zeta2
    min_dec2 = np.broadcast_to(np.asarray(min_decrease, dtype=float) ** 2, (n_rep,))
    invalid = None if col_valid is None else ~np.asarray(col_valid, dtype=bool)

    active = np.ones(n_rep, dtype=bool)
    prev = np.full(n_rep, np.nan)
    iters = np.zeros(n_rep, dtype=np.int64)
    idx = np.arange(n_rep)
    a_s, at_s, b_s, x_s = A, np.swapaxes(A, 1, 2), b, x.copy()
    e_s, z_s, r_s, md_s = eta, zeta2, rows, min_dec2
    inv_s = invalid
    ax_s = np.matmul(a_s, x_s[:, :, None])[:, :, 0]
    for t in range(1, max_iter + 1):
        half_grad = np.matmul(at_s, (ax_s - b_s)[:, :, None])[:, :, 0] + e_s[:, None] * x_s
        if inv_s is not None:
            half_grad[inv_s] = np.inf
        i = np.argmin(half_grad, axis=1)
        if inv_s is not None:
            half_grad[inv_s] = 0.0
        d = -x_s
        rr = np.arange(idx.size)
        d[rr, i] += 1.0
        d_err = a_s[rr, :, i] - ax_s
        num = -np.einsum("rn,rn->r", half_grad, d)
        den = np.einsum("rm,rm->r", d_err, d_err) + e_s * np.einsum("rn,rn->r", d, d)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(den > 0, np.clip(num / den, 0.0, 1.0), 0.0)
        x_s = x_s + step[:, None] * d
        ax_s = np.matmul(a_s, x_s[:, :, None])[:, :, 0]
        err = ax_s - b_s
        val = z_s * np.einsum("rn,rn->r", x_s, x_s) + np.einsum("rm,rm->r", err, err) / r_s
        iters[idx] = t
        x[idx] = x_s
        if t >= 2:
            keep = prev[idx] - val > md_s
            prev[idx] = val
            if not keep.all():
                active[idx[~keep]] = False
                idx = idx[keep]
                if idx.size == 0:
                    break
                a_s, b_s, x_s, ax_s = a_s[keep], b_s[keep], x_s[keep], ax_s[keep]
                at_s = np.swapaxes(a_s, 1, 2)
                e_s, z_s, r_s, md_s = e_s[keep], z_s[keep], r_s[keep], md_s[keep]
                inv_s = None if inv_s is None else inv_s[keep]
        else:
            prev[idx] = val
    return (x[0], iters[:1]) if single else (x, iters)


def sparsify(v: np.ndarray) -> np.ndarray:
    """``synthdid``'s sparsification: zero entries ``<= max/4`` and renormalise (last axis).

    Examples
    --------
    >>> import numpy as np
    >>> sparsify(np.array([0.5, 0.1, 0.4])).round(4).tolist()
    [0.5556, 0.0, 0.4444]
    """
    v = np.asarray(v, dtype=float)
    out = np.where(v <= v.max(axis=-1, keepdims=True) / 4, 0.0, v)
    return out / out.sum(axis=-1, keepdims=True)


def noise_level(y0_pre: np.ndarray) -> float:
    """Noise level of ``synthdid``: sd of the first differences of control pre-period outcomes.

    ``y0_pre`` has shape ``(N0, T0)``; the result is the sample standard
    deviation (``ddof=1``) of all ``N0 (T0 - 1)`` within-unit first differences.

    Examples
    --------
    >>> import numpy as np
    >>> round(noise_level(np.array([[0.0, 1.0, 3.0], [1.0, 1.0, 2.0]])), 4)
    0.8165
    """
    diffs = np.diff(np.asarray(y0_pre, dtype=float), axis=1)
    return float(np.std(diffs, ddof=1)) if diffs.size > 1 else 0.0


@dataclass(frozen=True)
class SdidWeights:
    """Unit weights ``omega`` ``(R, N0)`` and time weights ``lam`` ``(R, T0)`` of a batch.

    Examples
    --------
    >>> import numpy as np
    >>> SdidWeights(np.ones((1, 2)) / 2, np.ones((1, 3)) / 3).omega.shape
    (1, 2)
    """

    omega: np.ndarray
    lam: np.ndarray


def _center_rows(mat: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Subtract from each column of each (R, m, k) problem its mean over the valid rows."""
    if valid is None:
        return mat - mat.mean(axis=1, keepdims=True)
    w = valid[:, :, None].astype(float)
    mean = (mat * w).sum(axis=1, keepdims=True) / w.sum(axis=1, keepdims=True)
    return (mat - mean) * w


def _fw_two_rounds(A, b, x0, zeta2, n_rows, col_valid, min_decrease, max_iter, max_iter_pre, sparse):
    x, _ = fw_simplex(A, b, x0, zeta2, n_rows=n_rows, col_valid=col_valid,
                      min_decrease=min_decrease, max_iter=max_iter_pre if sparse else max_iter)
    if sparse:
        x, _ = fw_simplex(A, b, sparsify(x), zeta2, n_rows=n_rows, col_valid=col_valid,
                          min_decrease=min_decrease, max_iter=max_iter)
    return x


def sdid_weights(
    y0: np.ndarray,
    y1: np.ndarray,
    t0: int,
    zeta_omega: np.ndarray | float,
    zeta_lambda: np.ndarray | float,
    *,
    valid: np.ndarray | None = None,
    omega0: np.ndarray | None = None,
    lambda0: np.ndarray | None = None,
    min_decrease: np.ndarray | float,
    omega_intercept: bool = True,
    lambda_intercept: bool = True,
    update_lambda: bool = True,
    max_iter: int = 10_000,
    max_iter_pre_sparsify: int = 100,
    sparse: bool = True,
) -> SdidWeights:
    """SDID unit and time weights for a batch of block designs (``synthdid`` conventions).

    Parameters
    ----------
    y0
        Control outcomes, shape ``(R, N0, T)`` (``R`` problems; rows beyond a
        problem's number of controls are padding, flagged by ``valid``).
    y1
        Mean treated outcome per period, shape ``(R, T)``.
    t0
        Number of pre-treatment periods (the first ``t0`` columns).
    zeta_omega, zeta_lambda
        Regularisation of the unit and time weights (scalars or one per problem).
    valid
        Boolean ``(R, N0)`` mask of genuine control rows (default: all).
    omega0, lambda0
        Starting values (default uniform), as ``synthdid`` uses the point
        estimate's weights to start placebo and bootstrap replications.
    min_decrease, max_iter, max_iter_pre_sparsify, sparse
        Frank-Wolfe stopping rule and the sparsification restart.
    omega_intercept, lambda_intercept
        Whether the weight problems include an intercept (demeaning).
    update_lambda
        If ``False``, ``lambda0`` is used as given (e.g. zeros for SC).

    Returns
    -------
    SdidWeights

    Notes
    -----
    On the collapsed panel (post periods averaged for controls, treated units
    averaged), the time weights solve
    :math:`\\min_{\\lambda_0, \\lambda \\in \\Delta}\\ \\sum_{i \\le N_0}
    (\\lambda_0 + \\sum_{s \\le T_0} \\lambda_s Y_{is} - \\bar Y_{i,post})^2 / N_0
    + \\zeta_\\lambda^2 \\|\\lambda\\|^2` and the unit weights
    :math:`\\min_{\\omega_0, \\omega \\in \\Delta}\\ \\sum_{t \\le T_0}
    (\\omega_0 + \\sum_{i \\le N_0} \\omega_i Y_{it} - \\bar Y_{tr,t})^2 / T_0
    + \\zeta_\\omega^2 \\|\\omega\\|^2`; intercepts are profiled out by centring.
    Each is solved by :func:`fw_simplex`, first for at most
    ``max_iter_pre_sparsify`` iterations, then restarted at
    :func:`sparsify` of that solution (``synthdid``'s default).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> y0 = rng.normal(size=(1, 5, 4)); y1 = y0[:, :2].mean(axis=1)
    >>> w = sdid_weights(y0, y1, 3, 0.1, 1e-6, min_decrease=1e-6)
    >>> bool(np.isclose(w.omega.sum(), 1.0)), bool(np.isclose(w.lam.sum(), 1.0))
    (True, True)
    """
    y0 = np.asarray(y0, dtype=float)
    y1 = np.asarray(y1, dtype=float)
    n_rep, n0, _ = y0.shape
    if valid is None:
        n_ctrl = np.full(n_rep, n0, dtype=float)
    else:
        valid = np.asarray(valid, dtype=bool)
        n_ctrl = valid.sum(axis=1).astype(float)
    zo2 = np.asarray(zeta_omega, dtype=float) ** 2
    zl2 = np.asarray(zeta_lambda, dtype=float) ** 2
    pre = y0[:, :, :t0]
    post = y0[:, :, t0:].mean(axis=2)

    # time weights: rows = controls, columns = pre periods, target = post mean
    if update_lambda:
        mat = np.concatenate([pre, post[:, :, None]], axis=2)
        mat = _center_rows(mat, valid) if lambda_intercept else (
            mat if valid is None else mat * valid[:, :, None])
        lam0 = np.full((n_rep, t0), 1.0 / t0) if lambda0 is None else np.array(lambda0, dtype=float)
        lam = _fw_two_rounds(mat[:, :, :t0], mat[:, :, t0], lam0, zl2, n_ctrl, None,
                             min_decrease, max_iter, max_iter_pre_sparsify, sparse)
    else:
        lam = np.broadcast_to(np.asarray(lambda0, dtype=float), (n_rep, t0)).copy()

    # unit weights: rows = pre periods, columns = controls, target = treated mean
    mat = np.concatenate([np.swapaxes(pre, 1, 2), y1[:, :t0, None]], axis=2)
    if omega_intercept:
        mat = mat - mat.mean(axis=1, keepdims=True)
    if valid is not None:
        mat[:, :, :n0] *= valid[:, None, :]
    if omega0 is None:
        om0 = np.zeros((n_rep, n0))
        om0[:] = 1.0
        if valid is not None:
            om0 = om0 * valid
        om0 /= om0.sum(axis=1, keepdims=True)
    else:
        om0 = np.array(omega0, dtype=float)
    omega = _fw_two_rounds(mat[:, :, :n0], mat[:, :, n0], om0, zo2, t0, valid,
                           min_decrease, max_iter, max_iter_pre_sparsify, sparse)
    return SdidWeights(omega=omega, lam=lam)
