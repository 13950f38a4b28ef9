"""Synthetic-control weight solvers: exactness, batching, synthdid conventions."""

import numpy as np
import pytest
from scipy import optimize

from clusterimpact.kernels.synthetic import (
    fw_simplex,
    noise_level,
    project_simplex,
    sdid_weights,
    simplex_lstsq,
    sparsify,
)


def _slsqp(A, b, ridge=0.0, linear=None):
    """Plain scipy reference for the simplex-constrained least-squares problem."""
    n = A.shape[1]
    c = np.zeros(n) if linear is None else linear

    def f(w):
        r = A @ w - b
        return r @ r + ridge * w @ w + c @ w

    def g(w):
        return 2 * A.T @ (A @ w - b) + 2 * ridge * w + c

    res = optimize.minimize(f, np.full(n, 1 / n), jac=g, method="SLSQP", bounds=[(0, 1)] * n,
                            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
                            options={"ftol": 1e-14, "maxiter": 1000})
    return res.x, f


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(("m", "n"), [(5, 12), (20, 8), (3, 40)])
def test_simplex_lstsq_matches_slsqp_objective(seed, m, n):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(m, n))
    b = A @ rng.dirichlet(np.ones(n) * 0.3) + rng.normal(scale=0.5, size=m)
    w = simplex_lstsq(A, b)
    ref, f = _slsqp(A, b)
    assert w.min() >= 0 and np.isclose(w.sum(), 1.0, atol=1e-12)
    assert f(w) <= f(ref) + 1e-9 * max(1.0, f(ref))


def test_simplex_lstsq_kkt_conditions():
    rng = np.random.default_rng(3)
    A, b, c = rng.normal(size=(10, 30)), rng.normal(size=10), rng.uniform(size=30)
    w = simplex_lstsq(A, b, ridge=0.1, linear=c)
    grad = 2 * A.T @ (A @ w - b) + 0.2 * w + c
    on = w > 0
    mu = grad[on].mean()
    assert np.allclose(grad[on], mu, atol=1e-8)
    assert (grad[~on] >= mu - 1e-8).all()


def test_simplex_lstsq_exact_interior_and_vertex():
    A = np.eye(3)
    assert np.allclose(simplex_lstsq(A, np.array([0.2, 0.3, 0.5])), [0.2, 0.3, 0.5])
    assert np.allclose(simplex_lstsq(A, np.array([5.0, 0.0, 0.0])), [1, 0, 0])


def test_simplex_lstsq_penalty_moves_to_nearest_neighbour():
    A = np.array([[0.0, 1.0, 4.0]])
    b = np.array([2.0])  # exactly fitted by many mixtures; the penalty picks the nearest donor
    w = simplex_lstsq(A, b, linear=1e6 * ((A - b[:, None]) ** 2).sum(axis=0))
    assert np.allclose(w, [0, 1, 0])


def test_project_simplex():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 7))
    p = project_simplex(v)
    assert np.allclose(p.sum(axis=1), 1) and (p >= 0).all()
    # optimality: projection is the closest simplex point -> compare with simplex_lstsq on I
    for row, proj in zip(v[:5], p[:5], strict=True):
        assert np.allclose(simplex_lstsq(np.eye(7), row), proj, atol=1e-10)


def test_sparsify_and_noise_level():
    assert np.allclose(sparsify(np.array([0.4, 0.1, 0.5])), [0.4 / 0.9, 0, 0.5 / 0.9])
    y = np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 1.0]])
    assert np.isclose(noise_level(y), np.std([1, 2, 0, 1], ddof=1))


def test_fw_batch_equals_one_at_a_time():
    rng = np.random.default_rng(5)
    A = rng.normal(size=(6, 15, 9))
    b = rng.normal(size=(6, 15))
    x0 = np.full((6, 9), 1 / 9)
    zeta2 = rng.uniform(0.01, 1.0, size=6)
    xb, itb = fw_simplex(A, b, x0, zeta2, min_decrease=1e-4, max_iter=500)
    for r in range(6):
        xs, its = fw_simplex(A[r], b[r], x0[r], zeta2[r], min_decrease=1e-4, max_iter=500)
        assert its[0] == itb[r]
        np.testing.assert_allclose(xb[r], xs, rtol=1e-12, atol=1e-14)


def test_fw_converges_to_ridge_optimum():
    rng = np.random.default_rng(2)
    A, b = rng.normal(size=(12, 6)), rng.normal(size=12)
    x, _ = fw_simplex(A, b, np.full(6, 1 / 6), 0.5, min_decrease=1e-9, max_iter=100_000)
    exact = simplex_lstsq(A, b, ridge=12 * 0.5)
    assert np.abs(x - exact).max() < 1e-3


def test_fw_padding_columns_and_rows_are_inert():
    rng = np.random.default_rng(8)
    A, b = rng.normal(size=(10, 5)), rng.normal(size=10)
    x0 = np.full(5, 0.2)
    x, _ = fw_simplex(A, b, x0, 0.3, min_decrease=1e-6, max_iter=2000)
    A_pad = np.zeros((1, 12, 8))
    A_pad[0, :10, :5] = A
    b_pad = np.zeros((1, 12))
    b_pad[0, :10] = b
    x0_pad = np.zeros((1, 8))
    x0_pad[0, :5] = 0.2
    valid = np.zeros((1, 8), dtype=bool)
    valid[0, :5] = True
    xp, _ = fw_simplex(A_pad, b_pad, x0_pad, 0.3, n_rows=np.array([10]), col_valid=valid,
                       min_decrease=1e-6, max_iter=2000)
    np.testing.assert_allclose(xp[0, :5], x, rtol=1e-10, atol=1e-14)
    assert (xp[0, 5:] == 0).all()


def test_sdid_weights_padding_matches_unpadded():
    rng = np.random.default_rng(4)
    y0 = rng.normal(size=(7, 12)).cumsum(axis=1)
    y1 = y0[:3].mean(axis=0) + 0.5
    args = dict(min_decrease=1e-6, max_iter=3000)
    w = sdid_weights(y0[None], y1[None], 9, 0.4, 1e-6, **args)
    pad = np.zeros((1, 10, 12))
    pad[0, :7] = y0
    valid = np.zeros((1, 10), dtype=bool)
    valid[0, :7] = True
    wp = sdid_weights(pad, y1[None], 9, 0.4, 1e-6, valid=valid, **args)
    np.testing.assert_allclose(wp.omega[0, :7], w.omega[0], atol=1e-12)
    np.testing.assert_allclose(wp.lam, w.lam, atol=1e-12)
    assert (wp.omega[0, 7:] == 0).all()


def test_sdid_weights_are_shift_invariant():
    """Intercepts in both problems: adding unit and period constants changes no weight."""
    rng = np.random.default_rng(6)
    y0 = rng.normal(size=(9, 10))
    y1 = rng.normal(size=10)
    w = sdid_weights(y0[None], y1[None], 7, 0.3, 1e-6, min_decrease=1e-7)
    unit, period = rng.normal(size=(9, 1)) * 5, rng.normal(size=10) * 5
    w2 = sdid_weights((y0 + unit + period)[None], (y1 + 3.0 + period)[None], 7, 0.3, 1e-6,
                      min_decrease=1e-7)
    np.testing.assert_allclose(w2.omega, w.omega, atol=1e-9)
    np.testing.assert_allclose(w2.lam, w.lam, atol=1e-9)
