"""Health checks: one module per check, listed in :mod:`.registry`, built on the check kernel
(``tasks/checks``: Check, verdicts, the isolated runner, shared catalog reads and fix texts).

Contract (``base``): a check is ``Check(name, description, run, applies)``; ``run(ctx)`` gets a
:class:`~.base.CheckContext` (open read-only connection with statement_timeout, target, settings,
config thresholds, the run's ``now``) and returns an :class:`~.base.Outcome` with at most one
:class:`~.base.Problem` (severity, category, title, message, impact, exact-command suggestions).
Its verdict maps to OK / WARNING / CRITICAL / UNKNOWN (``base.STATUS_OF_VERDICT``). Each module's
docstring states the problem and the fix; the same words become the alert.

- ``runner.check_database``: every check of one database, isolated; connection failure → the
  others are UNKNOWN. ``target``: one watched database. ``config``: HEALTHCHECK_CONFIG (databases,
  thresholds, freshness checks, assertions).
- ``report``: the run as data (JSON, health+json). ``alerts``: the alerts it fires and resolves.
  ``log``: the JSON-lines history. ``artifacts``: the Prefect artifacts' keys and contents.
- ``steps``: the steps port (``HealthcheckSteps``, ``PLAIN_STEPS``); ``tasks``: the same steps as
  Prefect tasks (``PREFECT_STEPS``); ``workflow.run_healthcheck``: the sequence, written once, run
  by the CLI, `serve` and ``flows/healthcheck.py``.
- To add a check: a module with ``CHECK``, listed in ``registry.BUILTIN``, and a test with a
  passing and a failing case against a real database (``tests/test_checks_*.py``).
"""
