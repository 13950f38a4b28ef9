"""Shipped datasets load offline and carry their provenance."""

import hashlib
import json
import socket
from pathlib import Path

import pytest

import clusterimpact as ci

SHARED = Path(__file__).resolve().parents[3] / "shared"


@pytest.fixture
def no_network(monkeypatch):
    def guard(*args, **kwargs):
        raise OSError("network access attempted during a dataset load")

    monkeypatch.setattr(socket, "socket", guard)
    monkeypatch.setattr(socket, "create_connection", guard)


@pytest.mark.parametrize(
    ("name", "shape"),
    [("mpdta", (2500, 6)), ("card_krueger", (410, 46)), ("prop99", (1209, 9)),
     ("castle", (550, 185)), ("nsw_lalonde", (19204, 15))],
)
def test_load_offline(no_network, name, shape):
    df = ci.datasets.load(name)
    assert df.shape == shape


def test_describe_has_provenance():
    for name in ci.datasets.names():
        text = ci.datasets.describe(name)
        assert "Provenance" in text or "sha256" in text, name
        assert "\nLicence: " in text and "\nCitation: " in text, name


def test_unknown_dataset_suggests():
    with pytest.raises(ci.SpecificationError, match="Did you mean 'mpdta'"):
        ci.datasets.load("mpdat")


def test_load_returns_fresh_frames():
    a = ci.datasets.load("mpdta")
    a["lemp"] = 0.0
    assert ci.datasets.load("mpdta")["lemp"].iloc[0] != 0.0


@pytest.mark.parametrize("name", ["mpdta", "prop99", "castle", "card_krueger"])
def test_same_bytes_as_reference_source(name):
    ref = SHARED / "reference" / f"{name}.json"
    if not ref.exists():
        pytest.skip("shared/ reference folder not beside this checkout")
    expected = json.loads(ref.read_text())["dataset"]["sha256"]
    path = Path(ci.__file__).parent / "datasets" / "data" / name
    csv = next(p for p in path.iterdir() if p.suffix == ".csv")
    assert hashlib.sha256(csv.read_bytes()).hexdigest() == expected


def test_panel_columns_roles():
    for name in ("mpdta", "prop99", "castle"):
        with __import__("warnings").catch_warnings():
            __import__("warnings").simplefilter("ignore")
            p = ci.Panel(ci.datasets.load(name), **ci.datasets.panel_columns(name))
        assert p.cohorts.size >= 1
