"""The `safe-migrate` flow: validate, back up, apply under the migration lock without ever leaving a
half-applied migration, run hooks and the start-up check, verify, report (artifact + alert).

The sequence lives in ``tasks/migrate/pipeline.py``; this flow runs it over the Prefect steps of
``tasks/migrate/tasks.py`` (validate as the `validate` subflow) and ends Failed when the run failed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from prefect import flow, get_run_logger

from migration_guard.blocks.resolve import resolve_settings
from migration_guard.flows.prefect_api import expected_failure, flow_run_url
from migration_guard.flows.validate import validate_flow
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.migrate.alerting import alert_outcome
from migration_guard.tasks.migrate.options import SafeMigrateOptions, options_from_settings
from migration_guard.tasks.migrate.pipeline import run_safe_migrate
from migration_guard.tasks.migrate.plan import plan_markdown
from migration_guard.tasks.migrate.report import SafeMigrateReport, artifact_key, report_markdown
from migration_guard.tasks.migrate.tasks import PREFECT_STEPS
from migration_guard.tasks.project import Project


class SafeMigrateFailed(MigrationGuardError):
    """Raised at the end of a failed run so Prefect marks it Failed; the report is the artifact."""

    def __init__(self, report: SafeMigrateReport) -> None:
        super().__init__(report.summary, "; ".join(report.recovery))
        self.report = report


@flow(name="safe-migrate", log_prints=False)
def safe_migrate_flow(
    database_url: str | None = None,
    migrations_dir: str | None = None,
    migration_tool: str | None = None,
    database_block: str | None = None,
    project_block: str | None = None,
    dry_run: bool = False,
    validation: bool = True,
    backup: bool = True,
    strict: bool = False,
    on_failure: str = "report",
    lock_timeout: str | None = None,
    statement_timeout: str | None = None,
    retry_budget_s: float | None = None,
    lock_wait_s: float | None = None,
    validate_constraints: bool = False,
    hooks: list[list[str]] | None = None,
    startup_check_command: str | None = None,
    startup_check_url: str | None = None,
    backup_dir: str | None = None,
    backup_scope: str | None = None,
    allow: list[str] | None = None,
) -> dict[str, Any]:
    """Apply pending migrations safely; returns the report (``SafeMigrateReport.to_dict()``).

    Args:
        database_url / migrations_dir / migration_tool: override the environment.
        database_block / project_block: names of saved blocks to read settings from.
        dry_run: only build and publish the plan; change nothing.
        validation / backup: run the validate checks / take a verified pg_dump first.
        strict: validation WARN counts as FAIL.
        on_failure: ``report`` (default) or ``restore`` — restore the pre-migrate backup when a hook,
            the start-up check or verification fails after the migrations committed.
        lock_timeout / statement_timeout: PostgreSQL durations (default LOCK_TIMEOUT / STATEMENT_TIMEOUT).
        retry_budget_s: seconds to keep retrying a statement that hits lock_timeout (MIGRATE_RETRY_BUDGET).
        lock_wait_s: seconds to wait for the migration advisory lock (MIGRATE_LOCK_WAIT).
        validate_constraints: VALIDATE constraints added NOT VALID during verification.
        hooks: post-migrate commands as argv lists (default POST_MIGRATE_HOOKS).
        startup_check_command / startup_check_url: the application start-up check (default STARTUP_CHECK_*).
        backup_dir: where the backup goes (default BACKUP_DIR).
        backup_scope: what the pre-migrate backup holds: ``auto`` (scoped from 1 GiB), ``scoped`` (the
            whole schema + the data of the tables the pending migrations touch) or ``full``
            (default BACKUP_SCOPE, else auto).
        allow: lint rules whose blocking findings are acknowledged for this run, e.g.
            ``["ban-drop-column"]`` (as ``migrate --allow``); the report lists each acknowledged change.

    Raises:
        SafeMigrateFailed: the run failed (after the artifact and the alert were written); the run
            ends Failed with one ERROR line and no traceback in its logs.
    """
    if on_failure not in {"report", "restore"}:
        raise ValueError(f"on_failure must be 'report' or 'restore', got {on_failure!r}")
    settings = resolve_settings(
        database_block, project_block, database_url=database_url, migrations_dir=migrations_dir,
        migration_tool=migration_tool, backup_dir=backup_dir, backup_scope=backup_scope,
    )
    project = Project.from_settings(settings)
    options = options_from_settings(
        settings, lock_timeout=lock_timeout, statement_timeout=statement_timeout, retry_budget_s=retry_budget_s,
        lock_wait_s=lock_wait_s, hooks=hooks, startup_check_command=startup_check_command,
        startup_check_url=startup_check_url, validate=validation, backup=backup, strict=strict,
        on_failure=on_failure, validate_constraints=validate_constraints, allow=allow or None,
    )
    logger = get_run_logger()
    key = artifact_key(project.target)
    if dry_run:
        plan = PREFECT_STEPS.plan(project, options)
        _publish(plan_markdown(plan), key, f"safe-migrate plan for {project.target} (dry run)")
        logger.info("dry run: %d pending migration(s); nothing changed", len(plan.migrations))
        return {"dry_run": True, "plan": plan.to_dict()}

    def validate_subflow(proj: Project, opts: SafeMigrateOptions) -> dict[str, Any]:
        return validate_flow(database_url=database_url, migrations_dir=migrations_dir, migration_tool=migration_tool,
                             database_block=database_block, project_block=project_block, backup=False,
                             strict=opts.strict)

    steps = dataclasses.replace(PREFECT_STEPS, validate=validate_subflow)
    report = run_safe_migrate(project, options, steps, logger=logger)
    _publish(report_markdown(report.to_dict()), key, f"safe-migrate {project.target}: {report.summary}")
    alert_outcome(settings, report, flow_run_url=flow_run_url(), logger=logger)
    if not report.ok:
        return expected_failure(SafeMigrateFailed(report), logger)
    return report.to_dict()


def _publish(markdown: str, key: str, description: str) -> None:
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(markdown=markdown, key=key, description=description[:500])


__all__ = ["SafeMigrateFailed", "safe_migrate_flow"]
