"""One result family shared by every estimator.

Examples
--------
>>> from clusterimpact.results import Result
>>> Result.__name__
'Result'
"""

from clusterimpact.results.base import Result
from clusterimpact.results.event_study import EventStudyResult
from clusterimpact.results.group_time import AggregateResult, GroupTimeResult

__all__ = ["AggregateResult", "EventStudyResult", "GroupTimeResult", "Result"]
