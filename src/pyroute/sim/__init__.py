"""The what-if simulator: drives the real Router with synthetic or recorded traffic.

``load_scenario(path)`` reads a scenario (docs/scenario.md); ``simulate(scenario, seed=...)``
runs it and returns a :class:`Report`; :mod:`pyroute.sim.theory` holds Erlang C and A.
"""

from .engine import simulate
from .report import Batch, Interval, KPIs, OperatorLoad, QueueSeries, Report, Spread
from .scenario import Crew, Dist, Scenario, Traffic, load_scenario, scenario_from

__all__ = ["simulate", "load_scenario", "scenario_from", "Scenario", "Crew", "Traffic",
           "Dist", "Report", "KPIs", "Batch", "Interval", "OperatorLoad", "QueueSeries", "Spread"]
