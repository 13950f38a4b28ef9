"""One result family shared by every estimator.

Examples
--------
>>> from clusterimpact.results import Result
>>> Result.__name__
'Result'
"""

from clusterimpact.results.base import Result

__all__ = ["Result"]
