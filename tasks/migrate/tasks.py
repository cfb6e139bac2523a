"""Prefect tasks behind the safe-migrate flow: one task per step of ``tasks/migrate/pipeline.py``.

Applying is not retried by Prefect (its own lock_timeout retries are bounded and logged); reads
and verification are retried on transient database errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from migration_guard.tasks.migrate.apply import ApplyOptions, ApplyReport, apply_pending
from migration_guard.tasks.migrate.hooks import HookResult, run_hooks, startup_check
from migration_guard.tasks.migrate.pipeline import SafeMigrateOptions, restore_directly, verify_directly
from migration_guard.tasks.migrate.plan import MigrationPlan, build_plan
from migration_guard.tasks.project import Project
from migration_guard.tasks.retry import DB_TASK_OPTIONS


@task(name="migrate-plan", **DB_TASK_OPTIONS)
def plan_task(project: Project, options: SafeMigrateOptions) -> MigrationPlan:
    """The dry-run plan (read-only)."""
    return build_plan(project, options.apply, hooks=options.hooks,
                      startup_check=options.startup_command or options.startup_url,
                      backup=options.backup, validate=options.validate)


@task(name="apply-migrations")
def apply_task(project: Project, options: ApplyOptions) -> ApplyReport:
    """Take the migration lock and apply every pending migration (not retried by Prefect)."""
    return apply_pending(project.dsn, project.ledger, options, logger=get_run_logger())


@task(name="post-migrate-hooks")
def hooks_task(commands: list[list[str]], timeout_s: float, cwd: Path | None) -> list[HookResult]:
    """Run the post-migrate hooks in order, stopping at the first failure."""
    results = run_hooks(commands, timeout_s=timeout_s, cwd=cwd)
    logger = get_run_logger()
    for result in results:
        logger.info("hook %s: %s in %.2fs", result.name, "ok" if result.ok else result.error, result.duration_s)
    return results


@task(name="startup-check")
def startup_check_task(command: str | None, url: str | None, timeout_s: float, cwd: Path | None) -> HookResult | None:
    """The application start-up check (command exit 0, or URL 2xx)."""
    return startup_check(command, url, timeout_s=timeout_s, cwd=cwd)


@task(name="verify-migrations", **DB_TASK_OPTIONS)
def verify_task(project: Project, validate_constraints: bool, options: ApplyOptions) -> dict[str, Any]:
    """Status clean, no INVALID index, NOT VALID constraints validated when asked."""
    return verify_directly(project, validate_constraints, options)


@task(name="restore-backup")
def restore_task(project: Project, backup_path: str) -> dict[str, Any]:
    """Restore the pre-migrate backup over the database (asked explicitly with on_failure=restore)."""
    return restore_directly(project, backup_path)
