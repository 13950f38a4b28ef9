"""Small staggered panels shared by the reliability tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def staggered_frame(n_units: int = 12, n_periods: int = 5, seed: int = 0, start: int = 2000) -> pd.DataFrame:
    """Units 0-1 adopt at start+2, 2-3 at start+3, 4-5 at start+4; the rest never (cohort 0).

    Columns ``id, t, g, y, x, c`` (cluster: pairs of units), ``w`` (one weight per unit)
    and ``sex`` (alternating ``f``/``m`` by unit).
    """
    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(n_units), n_periods)
    t = np.tile(np.arange(start, start + n_periods), n_units)
    first = np.array([2, 2, 3, 3, 4, 4] + [0] * (n_units - 6))
    g = np.where(first > 0, start + first, 0)[u]
    y = rng.normal(size=u.size) + 0.1 * (t - start) + 1.0 * ((g > 0) & (t >= g))
    return pd.DataFrame({
        "id": u, "t": t, "g": g, "y": y, "x": rng.normal(size=u.size), "c": u // 2,
        "w": rng.uniform(0.5, 2.0, n_units)[u], "sex": np.where(u % 2 == 1, "f", "m"),
    })


@pytest.fixture
def frame() -> pd.DataFrame:
    return staggered_frame()
