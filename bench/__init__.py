"""pyroute's benchmarks: the scale workloads behind ``pyroute bench`` and the
pytest-benchmark suites (``pytest bench/``).

Installed as ``pyroute.bench``. :mod:`.workloads` holds the benchmark functions shared by
both; :mod:`.report` renders their results (terminal table, ``bench/RESULTS.md``).
"""
