"""safe-migrate's machinery: the migration lock, bounded statement execution with lock-timeout
retries, applying one migration while writing the ledger as the tool does, the dry-run plan,
post-migrate hooks, and the safe-migrate sequence over its steps port. Plain functions; the
Prefect layer lives in ``tasks/migrate/tasks.py`` and ``flows/safe_migrate.py``.

- ``lock.py``      ``migration_lock(conn, key, wait_s)``: the tool's advisory lock, bounded wait,
                   error naming the holder.
- ``timeouts.py``  STATEMENT_TIMEOUT's ``inherit`` value and its validation.
- ``rerunnable.py`` rewrites non-transactional statements so a second run is safe.
- ``execute.py``   ``run_statements(...)``: SET LOCAL timeouts, retry 55P03 with backoff + jitter
                   inside a budget, who-blocks logging (pg_blocking_pids).
- ``apply.py``     one migration, transactional or step by step, ledger written like Prisma.
- ``plan.py``      the ``--dry-run`` plan.
- ``hooks.py``     post-migrate hooks and the application start-up check.
- ``options.py``   ``SafeMigrateOptions`` and ``options_from_settings`` (each field's env var).
- ``steps.py``     the steps port ``SafeMigrateSteps`` and ``PLAIN_STEPS`` (validate, backup, plan,
                   apply, hooks, start-up check, verify, restore as plain I/O functions).
- ``pipeline.py``  the safe-migrate sequence, once: ``run_safe_migrate(project, options, steps)``.
- ``policy.py``    which validation findings stop safe-migrate and which it handles itself.
- ``recovery.py``  the recovery commands and rollback choices of a failed run.
- ``report.py``    ``SafeMigrateReport``, its markdown (artifact / CLI) and its artifact key.
- ``alerting.py``  ``alert_outcome``: fire the safe-migrate alert on failure, resolve it on success.
- ``tasks.py``     ``PREFECT_STEPS``: the same steps as Prefect tasks (the only Prefect import here).
"""
