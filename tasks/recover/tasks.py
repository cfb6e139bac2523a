"""Prefect tasks of the recover flow: the plain steps of ``tasks/recover/steps.py`` wrapped as tasks.

Read-only steps (detect, diagnose, verify) retry on transient database errors; the steps that
change things (backup, execute) never retry on their own.
"""

from __future__ import annotations

from prefect import task

from migration_guard.tasks.recover.steps import (
    RecoverSteps,
    alert_step,
    backup_step,
    detect_step,
    diagnose_step,
    earlier_schema_step,
    execute_step,
    verify_step,
)
from migration_guard.tasks.retry import DB_TASK_OPTIONS

detect_task = task(name="recover-detect", **DB_TASK_OPTIONS)(detect_step)
backup_task = task(name="recover-backup")(backup_step)
diagnose_task = task(name="recover-diagnose", **DB_TASK_OPTIONS)(diagnose_step)
execute_task = task(name="recover-execute")(execute_step)
verify_task = task(name="recover-verify", **DB_TASK_OPTIONS)(verify_step)
alert_task = task(name="recover-alert")(alert_step)
earlier_schema_task = task(name="recover-earlier-schema", **DB_TASK_OPTIONS)(earlier_schema_step)

PREFECT_STEPS = RecoverSteps(detect_task, backup_task, diagnose_task, execute_task, verify_task, alert_task,
                             earlier_schema_task)
