"""Design: who is treated when, comparison groups, baseline and balance.

Examples
--------
>>> from clusterimpact.design import Panel
>>> Panel.__name__
'Panel'
"""

from clusterimpact.design.panel import Panel

__all__ = ["Panel"]
