"""pyroute's benchmarks: the scale workloads behind ``pyroute bench`` and the
pytest-benchmark suites (``pytest bench/``).

Installed as ``pyroute.bench``. :mod:`.workloads` holds the state and the timed operations
shared by both (:mod:`.journalbench`, :mod:`.redisbench`, :mod:`.servicebench` and
:mod:`.simbench` the durability, Redis, service and simulator ones); :mod:`.runner` runs a
suite of them and collects the figures; :mod:`.report` renders the results (terminal
tables, ``bench/RESULTS.md``). Imports go one way: report, then runner, then workloads.
"""
