"""Fixed-effect absorption: exactness, convergence, degrees of freedom, singletons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clusterimpact.kernels.demean import demean, fe_redundancies, is_nested, singletons


def _dummies(codes):
    _, c = np.unique(codes, return_inverse=True)
    out = np.zeros((c.size, c.max() + 1))
    out[np.arange(c.size), c] = 1.0
    return out


def _unbalanced(seed=0, n_units=30, n_periods=8, drop=40):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    time = np.tile(np.arange(n_periods), n_units)
    keep = np.ones(unit.size, bool)
    keep[rng.choice(unit.size, drop, replace=False)] = False
    x = rng.normal(size=(unit.size, 3)) + unit[:, None] * 0.1
    w = rng.uniform(0.2, 3.0, unit.size)
    return x[keep], unit[keep], time[keep], w[keep]


def test_single_fe_is_groupby_demeaning():
    x, unit, _, w = _unbalanced()
    res = demean(x, unit, w)
    frame = pd.DataFrame(x * w[:, None]).groupby(unit).transform("sum").to_numpy()
    wsum = pd.Series(w).groupby(unit).transform("sum").to_numpy()
    np.testing.assert_allclose(res.values, x - frame / wsum[:, None], rtol=1e-12, atol=1e-13)
    assert res.iterations == 1 and res.converged and res.fe_dof == np.unique(unit).size


@pytest.mark.parametrize("weighted", [False, True])
def test_two_fe_equal_dense_projection(weighted):
    x, unit, time, w = _unbalanced(seed=1)
    w = w if weighted else None
    res = demean(x, [unit, time], w, tol=1e-14)
    d = np.column_stack([_dummies(unit), _dummies(time)])
    s = np.ones(len(x)) if w is None else np.sqrt(w)
    coef = np.linalg.lstsq(d * s[:, None], x * s[:, None], rcond=None)[0]
    np.testing.assert_allclose(res.values, x - d @ coef, atol=1e-10)
    assert res.converged
    assert res.fe_dof == np.linalg.matrix_rank(d)


def test_three_fe_and_input_not_mutated():
    x, unit, time, _ = _unbalanced(seed=2)
    third = (unit + time) % 4
    before = x.copy()
    res = demean(x, [unit, time, third], tol=1e-13)
    d = np.column_stack([_dummies(unit), _dummies(time), _dummies(third)])
    coef = np.linalg.lstsq(d, x, rcond=None)[0]
    np.testing.assert_allclose(res.values, x - d @ coef, atol=1e-9)
    np.testing.assert_array_equal(x, before)


def test_balanced_panel_converges_in_one_sweep():
    unit = np.repeat(np.arange(5), 4)
    time = np.tile(np.arange(4), 5)
    y = np.random.default_rng(0).normal(size=20)
    res = demean(y, [unit, time])
    # second sweep only confirms convergence
    assert res.iterations <= 2 and res.fe_dof == 5 + 4 - 1


def test_redundancies_disconnected_graph():
    # two separate components: units {0,1} x times {0,1}, units {2,3} x times {2,3}
    unit = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    time = np.array([0, 1, 0, 1, 2, 3, 2, 3])
    assert fe_redundancies([unit, time]) == 2
    d = np.column_stack([_dummies(unit), _dummies(time)])
    assert demean(np.ones(8), [unit, time]).fe_dof == np.linalg.matrix_rank(d)


def test_singletons_and_nesting():
    unit = np.array([0, 0, 1, 2, 2])
    time = np.array([0, 1, 0, 0, 1])
    np.testing.assert_array_equal(singletons([unit, time]), [False, False, True, False, False])
    assert demean(np.ones(5), [unit, time]).singletons.sum() == 1
    assert is_nested(unit, np.array([7, 7, 7, 8, 8]))
    assert not is_nested(time, np.array([7, 7, 7, 8, 8]))


def test_bad_input():
    with pytest.raises(ValueError, match="integer codes"):
        demean(np.ones(3), np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        demean(np.ones(3), np.array([0, 1]))
    with pytest.raises(ValueError, match="positive"):
        demean(np.ones(3), np.array([0, 1, 1]), np.array([1.0, 0.0, 1.0]))
    out = demean(np.ones((3, 2)), None)
    assert out.fe_dof == 0 and out.values.shape == (3, 2)
