"""Prefect tasks of the validate flow: the plain steps of ``steps.py`` as tasks — one retryable
``validation-check`` task per check (its runs named ``check-<name>``), ``read-status``, the backup
tasks of ``tasks/backup/tasks.py`` — and the report published as a markdown artifact."""

from __future__ import annotations

import dataclasses

from migration_guard.tasks.backup.tasks import create_backup_task, verify_backup_task
from migration_guard.tasks.retry import DB_TASK_OPTIONS
from migration_guard.tasks.tasks import prefect_steps
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, ValidationReport
from migration_guard.tasks.validate.report_artifact import report_artifact_key, report_markdown
from migration_guard.tasks.validate.steps import PLAIN_STEPS

_TASKS = prefect_steps(PLAIN_STEPS, {
    "run_check": {"name": "validation-check", **DB_TASK_OPTIONS},
    "read_status": {"name": "read-status", **DB_TASK_OPTIONS},
})
run_check_task = _TASKS.run_check


def run_check_as_task(check_name: str, ctx: ValidationContext) -> CheckResult:
    """Run the check as the ``validation-check`` task renamed ``check-<name>``: a name that depends
    on the call's argument is a per-call ``with_options``, which ``prefect_steps`` (options fixed
    per step) cannot express."""
    return run_check_task.with_options(name=f"check-{check_name}")(check_name, ctx)  # type: ignore[attr-defined]


def publish_report(report: ValidationReport, database: str) -> str:
    """Write the markdown artifact ``validation-<database>``; return its key (not a task: it runs
    in the flow, as an artifact of the flow run)."""
    from prefect.artifacts import create_markdown_artifact

    key = report_artifact_key(database)
    create_markdown_artifact(markdown=report_markdown(report), key=key,
                             description=f"validate {report.database}: {report.summary}")
    return key


#: the backup steps are the backup capability's own tasks (``create-backup``, ``verify-backup``)
PREFECT_STEPS = dataclasses.replace(_TASKS, run_check=run_check_as_task, create_backup=create_backup_task,
                                    verify_backup=verify_backup_task, publish=publish_report)
