"""Prefect tasks behind the status flow: the plain steps of ``tasks/status/steps.py`` as tasks
(reading the ledger is retried on connection errors)."""

from __future__ import annotations

from migration_guard.tasks.retry import DB_TASK_OPTIONS
from migration_guard.tasks.status.steps import PLAIN_STEPS
from migration_guard.tasks.tasks import prefect_steps

PREFECT_STEPS = prefect_steps(PLAIN_STEPS, {
    "read_migrations": {"name": "read-migrations"},
    "read_ledger": {"name": "read-ledger", **DB_TASK_OPTIONS},
    "read_sessions": {"name": "read-migration-sessions", **DB_TASK_OPTIONS},
})
