"""Spark local mode gives the row-level ci.att_gt (1e-10); few tests, one Spark session."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java (none on PATH or JAVA_HOME)")
    from pyspark.sql import SparkSession

    try:
        session = (SparkSession.builder.master("local[2]").appName("clusterimpact-tests")
                   .config("spark.ui.enabled", "false")
                   .config("spark.sql.shuffle.partitions", "2")
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                   .config("spark.driver.memory", "1g").getOrCreate())
    except Exception as err:  # JVM failed to start
        pytest.skip(f"Spark could not start: {err}")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_equals_rows(spark, mpdta, staggered, assert_same):
    roles = dict(unit="countyreal", time="year", cohort="first.treat")
    lp = ci.LazyPanel(spark.createDataFrame(mpdta), **roles)
    assert lp.engine == "spark"
    assert_same(ci.att_gt(ci.Panel(mpdta, **roles), "lemp"), lp.att_gt("lemp"))
    roles = dict(unit="worker_id", time="period", cohort="cohort", cluster="cluster_id")
    ref = ci.att_gt(ci.Panel(staggered, **roles), "y", by="gender", bootstrap=99, seed=2)
    got = ci.LazyPanel(spark.createDataFrame(staggered), **roles).att_gt(
        "y", by="gender", bootstrap=99, seed=2)
    assert_same(ref, got)


def test_spark_validation_matches_panel(spark, mpdta):
    dup = pd.concat([mpdta, mpdta.iloc[[0, 7, 7]]])
    roles = dict(unit="countyreal", time="year", cohort="first.treat")
    with pytest.raises(ci.PanelError) as want:
        ci.Panel(dup, **roles)
    with pytest.raises(ci.PanelError) as got:
        ci.LazyPanel(spark.createDataFrame(dup), **roles)
    assert str(got.value).splitlines()[0] == str(want.value).splitlines()[0]


def test_spark_regressions_equal_rows(spark, staggered, assert_regression):
    import warnings

    def _quiet(fn, *args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ci.FewClustersWarning)
            return fn(*args, **kwargs)

    roles = dict(unit="worker_id", time="period", cohort="cohort", cluster="cluster_id")
    panel = ci.Panel(staggered, **roles)
    lp = ci.LazyPanel(spark.createDataFrame(staggered), **roles)
    assert_regression(_quiet(ci.twfe, panel, "y", by="gender"), _quiet(lp.twfe, "y", by="gender"))
    assert_regression(_quiet(ci.event_study, panel, "y", method="twfe"),
                      _quiet(lp.event_study, "y"))
    fe = ["unit", "tier^time"]  # category-specific period effects, one slope
    ref, got = _quiet(ci.twfe, panel, "y", fe=fe), _quiet(lp.twfe, "y", fe=fe)
    np.testing.assert_allclose(got.estimate, ref.estimate, rtol=1e-10)
    np.testing.assert_allclose(got.std_error, ref.std_error, rtol=1e-10)
    assert_regression(_quiet(ci.event_study, panel, "y", fe=fe), _quiet(lp.event_study, "y", fe=fe))


def test_spark_covariates_equal_rows(spark, staggered, add_covariates, assert_regression):
    # categorical (string) and numeric covariates: per-block cross-products pushed to Spark
    import warnings

    stag = add_covariates(staggered, "worker_id", "period")
    dummies = [c for c in stag.columns if c.startswith("occupation::")]
    roles = dict(unit="worker_id", time="period", cohort="cohort", cluster="cluster_id")
    panel = ci.Panel(stag, **roles)
    lp = ci.LazyPanel(spark.createDataFrame(stag.drop(columns=dummies)), **roles)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        assert_regression(ci.twfe(panel, "y", covariates=[*dummies, "hours"], by="gender"),
                          lp.twfe("y", covariates=["occupation", "hours"], by="gender"))
        ref = ci.event_study(panel, "y", method="twfe", covariates=[*dummies, "hours"])
        got = lp.event_study("y", covariates=["occupation", "hours"])
    np.testing.assert_allclose(got.estimate, ref.estimate, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.std_error, ref.std_error, rtol=0, atol=1e-10)


def test_spark_unbalanced_equals_rows(spark, staggered, assert_regression):
    # units missing periods and outcomes: observation-pattern statistics pushed to Spark
    import warnings

    keep = (np.arange(len(staggered)) % 7 != 3) & ~((staggered["worker_id"] % 23 == 0)
                                                   & (np.arange(len(staggered)) % 8 > 0))
    df = staggered.loc[keep].copy()
    df.loc[df.index[::41], "y"] = np.nan
    roles = dict(unit="worker_id", time="period", cohort="cohort", cluster="cluster_id")
    panel = ci.Panel(df, **roles)
    lp = ci.LazyPanel(spark.createDataFrame(df), **roles)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.ClusterImpactWarning)
        assert_regression(ci.twfe(panel, "y", by="gender"), lp.twfe("y", by="gender"))
        ref, got = ci.event_study(panel, "y", method="twfe"), lp.event_study("y")
    np.testing.assert_allclose(got.estimate, ref.estimate, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.std_error, ref.std_error, rtol=0, atol=1e-10)
