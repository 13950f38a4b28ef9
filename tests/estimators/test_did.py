"""ci.did: the public two-period DiD against the kernels, DRDID/Stata numbers and Card & Krueger."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.estimators.did import did
from clusterimpact.kernels import drdid as K

NSW = Path("/work/shared/data/nsw_lalonde/nsw_smith_todd.csv")
CK = Path("/work/shared/data/card_krueger/card_krueger_public.csv")
CK_REF = Path("/work/shared/reference/card_krueger.json")
REF = Path(__file__).parents[1] / "reference" / "drdid_lalonde.json"
COV = ["age", "educ", "black", "married", "nodegree", "hisp", "re74"]
METHOD_OF = {"drdid_panel": "dr", "drdid_imp_panel": "dr_improved", "reg_did_panel": "reg",
             "std_ipw_did_panel": "ipw", "drdid_rc": "dr", "drdid_imp_rc": "dr_improved",
             "reg_did_rc": "reg", "std_ipw_did_rc": "ipw"}


@pytest.fixture(scope="module")
def lalonde_long() -> pd.DataFrame:
    if not NSW.exists():  # pragma: no cover
        pytest.skip("shared Lalonde data not available")
    df = pd.read_csv(NSW)
    ev = df[(df["treated"] == 0) | (df["sample"] == 2)]
    base = ev.drop(columns=["re75", "re78"])
    long = pd.concat([base.assign(year=1975, re=ev["re75"]), base.assign(year=1978, re=ev["re78"])])
    long["first"] = np.where(long["experimental"] == 1, 1978, 0)
    return long.reset_index(drop=True)


STATA = [r for r in json.loads(REF.read_text())["references"]
         if r["repo"] == "friosavila/csdid_drdid" and r["function"] in METHOD_OF]


@pytest.mark.parametrize("ref", STATA, ids=[f"{r['function']}-{len(r['covariates'])}" for r in STATA])
def test_stata_drdid_numbers_with_cluster_equal_unit(lalonde_long, ref):
    # Stata drdid >= 1.6 prints sqrt(sum psi^2)/n, exactly the clustered-by-unit variance here;
    # tolerance = half a unit in the 7th printed digit (+1e-8 relative, see tests/kernels).
    unit = "id" if ref["design"] == "panel" else None
    panel = ci.Panel(lalonde_long, unit=unit, time="year", cohort="first")
    res = did(panel, "re", covariates=ref["covariates"] or None, method=METHOD_OF[ref["function"]])
    tab = res.tidy()
    tol = lambda v: 0.5 * 10 ** -(len(repr(v).split(".")[1])) + 1e-8 * abs(v)  # noqa: E731
    assert abs(tab["estimate"].iloc[0] - ref["att"]) <= tol(ref["att"])
    assert abs(tab["std_error"].iloc[0] - ref["std_error"]) <= tol(ref["std_error"])


def test_cluster_by_unit_equals_kernel_se_and_coarser_clusters_differ(lalonde_long):
    panel = ci.Panel(lalonde_long, unit="id", time="year", cohort="first")
    res = did(panel, "re", covariates=COV, method="dr")
    wide = lalonde_long[lalonde_long["year"] == 1975].sort_values("id")
    post = lalonde_long[lalonde_long["year"] == 1978].sort_values("id")
    x = np.column_stack([np.ones(len(wide)), wide[COV].to_numpy(float)])
    k = K.drdid_panel(post["re"].to_numpy() - wide["re"].to_numpy(), wide["experimental"].to_numpy(), x)
    np.testing.assert_allclose(res.estimate[0], k.att, rtol=1e-12)
    np.testing.assert_allclose(res.std_error[0], k.std_error, rtol=1e-10)
    grouped = lalonde_long.assign(cl=lalonde_long["age"])
    res_cl = did(ci.Panel(grouped, unit="id", time="year", cohort="first", cluster="cl"),
                 "re", covariates=COV, method="dr")
    np.testing.assert_allclose(res_cl.estimate, res.estimate, rtol=1e-12)
    assert not np.isclose(res_cl.std_error[0], res.std_error[0], rtol=1e-3)


def test_by_subgroups_stack_into_joint_vcov(lalonde_long):
    panel = ci.Panel(lalonde_long, unit="id", time="year", cohort="first")
    cov = ["age", "educ", "married", "nodegree", "re74"]
    res = did(panel, "re", covariates=cov, method="reg", by="black")
    tab = res.tidy()
    assert list(tab["black"]) == [0, 1]
    for b in (0, 1):
        sub = did(ci.Panel(lalonde_long[lalonde_long["black"] == b], unit="id", time="year",
                           cohort="first"), "re", covariates=cov, method="reg")
        np.testing.assert_allclose(tab["estimate"].iloc[b], sub.estimate[0], rtol=1e-12)
        np.testing.assert_allclose(tab["std_error"].iloc[b], sub.std_error[0], rtol=1e-10)
    # units are their own clusters and belong to one subgroup: no covariance
    assert res.vcov[0, 1] == 0.0
    comp = res.compare().tidy()
    assert comp["contrast"].iloc[-1] == "all equal"
    np.testing.assert_allclose(comp["std_error"].iloc[0], np.sqrt(res.vcov[0, 0] + res.vcov[1, 1]))


def test_card_krueger_table3_balanced_did():
    # Card & Krueger (1994) Table 3 row 4 (balanced sample, 75 PA + 309 NJ): 2.75 (1.34).
    # Printed to 2 decimals. The estimate matches to that precision; the SE here uses n (not
    # n - 1) in each group's variance (DRDID/did convention), giving 1.334 vs the published
    # 1.34, so the SE tolerance is 0.01.
    if not CK.exists():  # pragma: no cover
        pytest.skip("Card-Krueger data not available")
    ref = json.loads(CK_REF.read_text())["references"][0]["published"]["row4_balanced"]["did"]
    ck = pd.read_csv(CK).assign(store=lambda d: np.arange(len(d)))
    fte1 = ck["empft"] + ck["nmgrs"] + 0.5 * ck["emppt"]
    fte2 = ck["empft2"] + ck["nmgrs2"] + 0.5 * ck["emppt2"]
    long = pd.concat([ck.assign(wave=1, fte=fte1), ck.assign(wave=2, fte=fte2)])
    long["first"] = np.where(long["state"] == 1, 2, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.DroppedRowsWarning)
        res = did(ci.Panel(long, unit="store", time="wave", cohort="first"), "fte", method="reg")
    assert res.info["n_units"] == 384
    assert abs(res.estimate[0] - ref[0]) <= 0.005
    assert abs(res.std_error[0] - ref[1]) <= 0.01


def test_toy_example_by_hand():
    df = pd.DataFrame({"id": np.repeat(np.arange(6), 2), "t": np.tile([1, 2], 6),
                       "g": np.repeat([2, 2, 0, 0, 0, 0], 2),
                       "y": [1.0, 4, 2, 5, 0, 1, 1, 3, 2, 4, 1, 2]})
    panel = ci.Panel(df, unit="id", time="t", cohort="g")
    for method in ("dr", "dr_improved", "ipw", "reg", "twfe"):
        res = did(panel, "y", method=method)
        np.testing.assert_allclose(res.estimate[0], 3.0 - 1.5, rtol=1e-12)
        # sum_treated (dy - 3)^2 / 2^2 + sum_control (dy - 1.5)^2 / 4^2
        np.testing.assert_allclose(res.std_error[0], 0.25, rtol=1e-10)
    assert set(res.tidy().columns) >= {"estimate", "std_error", "conf_low", "conf_high", "p_value"}


def test_errors():
    df = pd.DataFrame({"id": np.repeat(np.arange(4), 3), "t": np.tile([1, 2, 3], 4),
                       "g": np.repeat([3, 0, 0, 0], 3), "y": np.arange(12.0)})
    with pytest.raises(ci.SpecificationError, match="two periods"):
        did(ci.Panel(df, unit="id", time="t", cohort="g"), "y")
    two = df[df["t"] < 3].assign(g=np.repeat([2, 0, 0, 0], 2))
    with pytest.raises(ci.SpecificationError, match="method"):
        did(ci.Panel(two, unit="id", time="t", cohort="g"), "y", method="dr2")
