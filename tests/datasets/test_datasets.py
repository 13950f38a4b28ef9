"""Shipped datasets load offline and carry their provenance."""

import hashlib
import socket
from pathlib import Path

import pytest

import clusterimpact as ci


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


# sha256 of the CSVs as recorded in shared/reference/<name>.json ("dataset.sha256"),
# i.e. the files the published reference numbers were computed on.
REFERENCE_SHA256 = {
    "mpdta": "d02c862efc18c2adf036855af5fdc5c3c0e6a69eccc722337e07b59cb4111f5f",
    "prop99": "13ca4d74dd0bda7f264c6635bec06f4c77b65e6fab3f7787522c3e7c6f68398e",
    "castle": "857563244baa50a504fb39ae8ffe8a17f6c8d7dd78e460195a0caada4f25c095",
    "card_krueger": "959e54fb2b1adde53075efeb4c28195d14b784c6f4201b43e01715fe7fe1e9fa"
,
}


@pytest.mark.parametrize("name", sorted(REFERENCE_SHA256))
def test_same_bytes_as_reference_source(name):
    path = Path(ci.__file__).parent / "datasets" / "data" / name
    csv = next(p for p in path.iterdir() if p.suffix == ".csv")
    assert hashlib.sha256(csv.read_bytes()).hexdigest() == REFERENCE_SHA256[name]


def test_panel_columns_roles():
    for name in ("mpdta", "prop99", "castle"):
        with __import__("warnings").catch_warnings():
            __import__("warnings").simplefilter("ignore")
            p = ci.Panel(ci.datasets.load(name), **ci.datasets.panel_columns(name))
        assert p.cohorts.size >= 1
