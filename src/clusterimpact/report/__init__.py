"""Reports: HTML/Markdown evaluation reports and the ``clusterimpact`` command.

Examples
--------
>>> from clusterimpact.report import Report
>>> Report("x").title
'x'
"""

from clusterimpact.report.builder import Report

__all__ = ["Report"]
