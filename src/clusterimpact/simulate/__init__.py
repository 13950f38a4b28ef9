"""Simulated cluster-programme data with known true effects.

``scenario(name, seed=..., **overrides)`` returns a :class:`Simulation` with
``.data``, ``.panel``, ``.truth`` (true ATT(g, t), by subgroup where relevant),
``.params`` and ``.describe()``; ``scenarios()`` lists the names. The engine
(:mod:`clusterimpact.simulate.engine`) generates cluster -> firm -> worker
panels from a frozen :class:`SimParams`. All data are simulated.

Examples
--------
>>> import clusterimpact as ci
>>> sim = ci.simulate.scenario("staggered_basic", seed=1, n_clusters=12, firms_per_cluster=2)
>>> sim.panel.cohorts.tolist()
[3.0, 5.0, 7.0]
"""

from clusterimpact.simulate.engine import generate
from clusterimpact.simulate.params import Outcome, SimParams
from clusterimpact.simulate.scenarios import scenario, scenarios
from clusterimpact.simulate.simulation import Simulation

__all__ = ["Outcome", "SimParams", "Simulation", "generate", "scenario", "scenarios"]
