"""Indicators of decent work and programme outcomes, and summary indices over them.

Examples
--------
>>> from clusterimpact.indicators import anderson_index, klk_index
>>> anderson_index.__name__, klk_index.__name__
('anderson_index', 'klk_index')
"""

from clusterimpact.indicators.indices import anderson_index, klk_index

__all__ = ["anderson_index", "klk_index"]
