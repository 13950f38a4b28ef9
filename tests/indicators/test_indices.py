"""Summary indices: hand examples, missing components and invariances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clusterimpact as ci
from clusterimpact.indicators import anderson_index, klk_index


def _data(seed=0, n=60):
    rng = np.random.default_rng(seed)
    common = rng.normal(size=n)
    df = pd.DataFrame({
        "wage": 10 + 2 * common + rng.normal(size=n),
        "hours": 45 - 1.5 * common + rng.normal(size=n),  # lower is better
        "contract": 0.5 + 0.1 * common + 0.1 * rng.normal(size=n),
        "treated": np.repeat([0, 1], n // 2),
        "post": np.tile([0, 1], n // 2),
    })
    return df


POS = {"hours": False}
COLS = ["wage", "hours", "contract"]


def test_klk_hand_example_with_missing_component():
    df = pd.DataFrame({"a": [0.0, 2.0, 4.0, 6.0], "b": [1.0, 3.0, np.nan, 1.0],
                       "g": [0, 0, 1, 1]})
    # reference rows 0-1: a ~ (1, sd sqrt 2), b ~ (2, sd sqrt 2)
    s = np.sqrt(2.0)
    za = (df.a - 1) / s
    zb = (df.b - 2) / s
    # row 2's b is imputed at group 1's mean of z_b, i.e. row 3's z_b
    expected = [(za[0] + zb[0]) / 2, (za[1] + zb[1]) / 2, (za[2] + zb[3]) / 2, (za[3] + zb[3]) / 2]
    got = klk_index(df, ["a", "b"], reference=df.g == 0, group="g")
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_anderson_hand_example_weights():
    # reference covariance exactly [[1, .5, 0], [.5, 1, 0], [0, 0, 1]]: the inverse's row sums are
    # 2/3, 2/3 and 1, so the correlated pair shares weight: (2/7, 2/7, 3/7)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    x -= x.mean(axis=0)
    x = x @ np.linalg.inv(np.linalg.cholesky(np.cov(x, rowvar=False)).T)  # sample cov = I
    target = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    x = x @ np.linalg.cholesky(target).T
    df = pd.DataFrame(x, columns=["a", "b", "c"])
    w = anderson_index(df, ["a", "b", "c"]).attrs["weights"]
    np.testing.assert_allclose(w.to_numpy(), [2 / 7, 2 / 7, 3 / 7], rtol=1e-10)


def test_anderson_small_exact():
    df = pd.DataFrame({"a": [0.0, 1.0, 2.0, 4.0], "b": [0.0, 2.0, 1.0, 5.0]})
    z = (df - df.mean()) / df.std()
    winv = np.linalg.inv(z.cov().to_numpy()).sum(axis=1)
    expected = (z.to_numpy() @ winv) / winv.sum()
    got = anderson_index(df, ["a", "b"], standardize=False)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    std = anderson_index(df, ["a", "b"])
    assert std.mean() == pytest.approx(0, abs=1e-12) and std.std() == pytest.approx(1)


def test_anderson_missing_component_uses_available_weights():
    df = pd.DataFrame({"a": [0.0, 1.0, 2.0, 4.0, 3.0], "b": [0.0, 2.0, 1.0, 5.0, np.nan]})
    full = anderson_index(df.iloc[:4], ["a", "b"], standardize=False)
    got = anderson_index(df, ["a", "b"], reference=np.r_[[True] * 4, False], standardize=False)
    np.testing.assert_allclose(got.iloc[:4], full, rtol=1e-12)
    za = (3.0 - df.a[:4].mean()) / df.a[:4].std()
    assert got.iloc[4] == pytest.approx(za)  # only a is observed: its z-score


@pytest.mark.parametrize("fn", [anderson_index, klk_index])
def test_flipping_sign_with_direction_flag_is_invariant(fn):
    df = _data()
    ref = (df.treated == 0) & (df.post == 0)
    base = fn(df, COLS, reference=ref, positive=POS)
    flipped = df.assign(hours=-df.hours)
    again = fn(flipped, COLS, reference=ref, positive={"hours": True})
    np.testing.assert_allclose(base, again, rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.01, 100), shift=st.floats(-1e3, 1e3))
def test_affine_rescaling_of_a_component_is_invariant(scale, shift):
    df = _data(3)
    ref = df.treated == 0
    for fn in (anderson_index, klk_index):
        base = fn(df, COLS, reference=ref, positive=POS)
        other = fn(df.assign(wage=df.wage * scale + shift), COLS, reference=ref, positive=POS)
        np.testing.assert_allclose(base, other, rtol=1e-8, atol=1e-8)


def test_row_order_invariance_and_index_alignment():
    df = _data(4).sample(frac=1.0, random_state=0)
    idx = anderson_index(df, COLS, reference=df.treated == 0, positive=POS)
    assert idx.index.equals(df.index)
    back = anderson_index(df.sort_index(), COLS, reference=df.sort_index().treated == 0,
                          positive=POS)
    np.testing.assert_allclose(idx.sort_index(), back, rtol=1e-12)


def test_errors():
    df = _data()
    with pytest.raises(ci.SpecificationError, match="wage"):
        klk_index(df, ["wages"])
    with pytest.raises(ci.SpecificationError, match="do not vary"):
        anderson_index(df.assign(k=1.0), ["wage", "k"])
