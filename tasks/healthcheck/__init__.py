"""Health checks: one module per check, listed in :mod:`.registry`.

Contract (``base``): a check is ``Check(name, description, run, applies)``; ``run(ctx)`` gets a
:class:`~.base.CheckContext` (open read-only connection with statement_timeout, target, settings,
config thresholds, the run's ``now``) and returns an :class:`~.base.Outcome` with at most one
:class:`~.base.Problem` (severity, category, title, message, impact, exact-command suggestions).
Each module's docstring states the problem and the fix; the same words become the alert.

- ``runner.check_database``: every check of one database, isolated; connection failure → the
  others are UNKNOWN. ``report``: the run as data, health+json, alerts, JSON-lines log.
- ``config``: HEALTHCHECK_CONFIG (databases, thresholds, freshness checks, assertions).
- To add a check: a module with ``CHECK``, listed in ``registry.BUILTIN_CHECKS``, and a test with a
  passing and a failing case against a real database (``tests/test_checks_*.py``).
"""
