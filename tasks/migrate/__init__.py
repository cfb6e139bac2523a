"""safe-migrate's machinery: the migration lock, bounded statement execution with lock-timeout
retries, applying one migration while writing the ledger as the tool does, the dry-run plan, and
post-migrate hooks. Plain functions over a psycopg connection; the Prefect layer lives in
``tasks/migrate/tasks.py`` and ``flows/safe_migrate.py``.

- ``lock.py``      ``migration_lock(conn, key, wait_s)``: the tool's advisory lock, bounded wait,
                   error naming the holder.
- ``timeouts.py``  PostgreSQL duration strings (``"5s"``) <-> seconds.
- ``rerunnable.py`` rewrites non-transactional statements so a second run is safe.
- ``execute.py``   ``run_statements(...)``: SET LOCAL timeouts, retry 55P03 with backoff + jitter
                   inside a budget, who-blocks logging (pg_blocking_pids).
- ``apply.py``     one migration, transactional or step by step, ledger written like Prisma.
- ``plan.py``      the ``--dry-run`` plan.
- ``hooks.py``     post-migrate hooks and the application start-up check.
- ``pipeline.py``  the safe-migrate sequence and its decisions (``run_safe_migrate`` + ``Steps``).
- ``report.py``    the report as markdown (artifact / CLI) and its artifact key.
"""
