"""The health history: what each healthcheck run observed, per database, in a state store.

- ``model``: an observation (database, metric, subject, value, limit) and a statement counter.
- ``store``: the store port (``HistoryStore``); ``backend.open_store`` picks SQLite in STATE_DIR (default)
  or PostgreSQL when STATE_DATABASE_URL is set; ``sqlite`` and ``postgres`` implement it.
- ``collect``: the numeric readings of one monitored database (one connection, read-only).
- ``record``: a healthcheck run into the store (readings a check took on its session are handed
  over, else read on a session of its own); the pg_stat_statements snapshot before a migration.
- ``forecast``: when a growing metric crosses its limit (Theil–Sen over the recent history).
- ``seasonal``: whether a rate metric is unusual for this time of the week (hour-of-week median and
  MAD, falling back to hour of day), and counter rates.
- ``statements``: per-query mean time before vs after a migration (counter deltas).

Plain logic and I/O; no Prefect (nothing here needs a task of its own).
"""
