"""Inference: covariance estimators (HC1, CR1, CR2, CR3, two-way clustering)."""

from clusterimpact.inference.vcov import (
    CR1,
    CR2,
    CR3,
    HC1,
    VCOV_ESTIMATORS,
    VcovData,
    VcovEstimate,
    compute_vcov,
)

__all__ = ["CR1", "CR2", "CR3", "HC1", "VCOV_ESTIMATORS", "VcovData", "VcovEstimate",
           "compute_vcov"]
