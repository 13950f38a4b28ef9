"""Shared pytest set-up: a non-interactive plotting backend and closed figures."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
