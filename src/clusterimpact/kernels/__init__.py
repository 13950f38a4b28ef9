"""Numerical kernels: numpy arrays in, (estimate, influence function) out; no pandas.

Examples
--------
>>> import numpy as np
>>> from clusterimpact.kernels import drdid_panel
>>> drdid_panel(np.array([3.0, 5, 1, 2, 3]), np.array([1, 1, 0, 0, 0])).att
2.0
"""

from clusterimpact.kernels.drdid import (
    DidKernelResult,
    drdid_imp_panel,
    drdid_imp_rc,
    drdid_panel,
    drdid_rc,
    ipw_did_panel,
    reg_did_panel,
    reg_did_rc,
    std_ipw_did_panel,
    std_ipw_did_rc,
)

__all__ = [
    "DidKernelResult",
    "drdid_imp_panel",
    "drdid_imp_rc",
    "drdid_panel",
    "drdid_rc",
    "ipw_did_panel",
    "reg_did_panel",
    "reg_did_rc",
    "std_ipw_did_panel",
    "std_ipw_did_rc",
]
