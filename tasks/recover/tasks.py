"""Prefect tasks of the recover flow: the plain steps of ``tasks/recover/steps.py`` wrapped as tasks.

Read-only steps (detect, diagnose, verify) retry on transient database errors; the steps that
change things (backup, execute) never retry on their own.
"""

from __future__ import annotations

from migration_guard.tasks.recover.steps import PLAIN_STEPS
from migration_guard.tasks.retry import DB_TASK_OPTIONS
from migration_guard.tasks.tasks import prefect_steps

PREFECT_STEPS = prefect_steps(PLAIN_STEPS, {
    "detect": {"name": "recover-detect", **DB_TASK_OPTIONS},
    "backup": {"name": "recover-backup"},
    "diagnose": {"name": "recover-diagnose", **DB_TASK_OPTIONS},
    "execute": {"name": "recover-execute"},
    "verify": {"name": "recover-verify", **DB_TASK_OPTIONS},
    "alert": {"name": "recover-alert"},
    "earlier_schema": {"name": "recover-earlier-schema", **DB_TASK_OPTIONS},
})
