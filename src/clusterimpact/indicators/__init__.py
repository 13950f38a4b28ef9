"""Indicators of decent work and programme outcomes, and summary indices over them.

Examples
--------
>>> from clusterimpact.indicators import anderson_index, klk_index
>>> anderson_index.__name__, klk_index.__name__
('anderson_index', 'klk_index')
"""

from clusterimpact.indicators.catalogue import (
    Indicator,
    align_directions,
    below_minimum_wage,
    catalogue,
    child_labour,
    effluent_exceedance,
    excessive_hours,
    forced_labour,
    get,
    injury_rate,
    positive,
    profit_margin,
)
from clusterimpact.indicators.indices import anderson_index, klk_index

__all__ = [
    "Indicator",
    "align_directions",
    "anderson_index",
    "below_minimum_wage",
    "catalogue",
    "child_labour",
    "effluent_exceedance",
    "excessive_hours",
    "forced_labour",
    "get",
    "injury_rate",
    "klk_index",
    "positive",
    "profit_margin",
]
