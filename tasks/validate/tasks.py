"""Prefect tasks behind the validate flow: one retryable task per check, and the status read."""

from __future__ import annotations

from prefect import task

from migration_guard.tasks.models import StatusReport
from migration_guard.tasks.project import Project, read_status
from migration_guard.tasks.retry import DB_TASK_OPTIONS
from migration_guard.tasks.validate.base import Check
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult
from migration_guard.tasks.validate.registry import get_check


@task(name="validation-check", **DB_TASK_OPTIONS)
def run_check_task(check_name: str, ctx: ValidationContext) -> CheckResult:
    """Run one check (retried when the database is briefly unreachable)."""
    return get_check(check_name).run(ctx)


@task(name="read-status", **DB_TASK_OPTIONS)
def read_status_task(project: Project) -> StatusReport:
    """Migrations on disk joined with the ledger."""
    return read_status(project)


def run_check_as_task(check: Check, ctx: ValidationContext) -> CheckResult:
    """Run ``check`` as a Prefect task named ``check-<name>``."""
    return run_check_task.with_options(name=f"check-{check.name}")(check.name, ctx)
