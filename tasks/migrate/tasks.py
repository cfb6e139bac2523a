"""Prefect tasks of the safe-migrate flow: the plain steps of ``tasks/migrate/steps.py`` run as tasks.

Applying is not retried by Prefect (its own lock_timeout retries are bounded and logged); reads
and verification are retried on transient database errors. The backup steps are the backup
capability's own tasks (``create-backup``, ``verify-backup`` in ``tasks/backup/tasks.py``); the
validate step stays a plain call here: ``flows/safe_migrate.py`` runs it as the `validate` subflow.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from prefect import get_run_logger

from migration_guard.tasks.backup.tasks import create_backup_task, verify_backup_task
from migration_guard.tasks.migrate.apply import ApplyOptions, ApplyReport
from migration_guard.tasks.migrate.hooks import HookResult
from migration_guard.tasks.migrate.steps import PLAIN_STEPS, apply_step, hooks_step
from migration_guard.tasks.project import Project
from migration_guard.tasks.retry import DB_TASK_OPTIONS
from migration_guard.tasks.tasks import prefect_steps


def apply_logging_to_run(project: Project, options: ApplyOptions) -> ApplyReport:
    """Take the migration lock and apply every pending migration; progress in the run log."""
    return apply_step(project, options, logger=get_run_logger())


def hooks_logging_to_run(commands: list[list[str]], timeout_s: float, cwd: Path | None) -> list[HookResult]:
    """Run the post-migrate hooks in order, stopping at the first failure; one run-log line per hook."""
    return hooks_step(commands, timeout_s, cwd, logger=get_run_logger())


PREFECT_STEPS = prefect_steps(
    dataclasses.replace(PLAIN_STEPS, apply=apply_logging_to_run, hooks=hooks_logging_to_run,
                        create_backup=create_backup_task, verify_backup=verify_backup_task),
    {
        "plan": {"name": "migrate-plan", **DB_TASK_OPTIONS},
        "apply": {"name": "apply-migrations"},
        "hooks": {"name": "post-migrate-hooks"},
        "startup_check": {"name": "startup-check"},
        "verify": {"name": "verify-migrations", **DB_TASK_OPTIONS},
        "restore": {"name": "restore-backup"},
    },
)
