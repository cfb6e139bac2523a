"""The I/O steps of safe-migrate, as plain functions (no Prefect import: the CLI stays fast).

Each ``*_step`` does one piece of I/O. ``SafeMigrateSteps`` is the port the sequence
(``tasks/migrate/pipeline.py``) runs against; ``PLAIN_STEPS`` bundles these functions for the CLI,
and ``migration_guard.tasks.migrate.tasks.PREFECT_STEPS`` runs the same steps as Prefect tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from migration_guard.tasks.backup import BackupInfo, VerifyResult, create_backup, restore_backup, verify_backup
from migration_guard.tasks.backup.scope import BackupScope, analyze_sql
from migration_guard.tasks.backup.scoped import scope_for_change
from migration_guard.tasks.catalog import invalid_indexes, not_valid_constraints
from migration_guard.tasks.db import connection
from migration_guard.tasks.history.record import record_before_migration
from migration_guard.tasks.migrate.apply import ApplyOptions, ApplyReport, apply_pending
from migration_guard.tasks.migrate.execute import StatementFailed, run_statements
from migration_guard.tasks.migrate.hooks import HookResult, run_hooks, startup_check
from migration_guard.tasks.migrate.options import SafeMigrateOptions
from migration_guard.tasks.migrate.plan import MigrationPlan, build_plan
from migration_guard.tasks.project import Project
from migration_guard.tasks.scratch import collect_leftovers
from migration_guard.tasks.status.pipeline import read_status
from migration_guard.tasks.validate import ValidationContext, ValidationOptions, run_validation


def validate_step(project: Project, options: SafeMigrateOptions) -> dict[str, Any]:
    """The validate checks (without their backup: safe-migrate takes its own), as a dict."""
    report = run_validation(ValidationContext(project, ValidationOptions(
        backup=False, strict=options.strict, lock_timeout=str(options.apply.lock_timeout),
        retry_budget_s=options.apply.retry_budget_s)))
    return report.to_dict()


def backup_scope_step(project: Project, options: SafeMigrateOptions) -> BackupScope:
    """What the pre-migrate backup holds: BACKUP_SCOPE (``options.backup_scope``) applied to the
    statements of the pending migrations (the whole schema, the data of the tables they touch
    and of the migration ledger; full when what they write cannot be known), read-only.

    Raises:
        DatabaseError: the database cannot be reached.
    """
    if options.backup_scope == "full":
        return BackupScope("full", reasons=("BACKUP_SCOPE=full: every table's data",), policy="full")
    pending = [(s.name, s.migration.sql) for s in read_status(project).pending if s.migration is not None]
    touched = analyze_sql(pending, project.schema)  # nothing pending: nothing but the ledger to keep
    ledger = [(project.ledger.table_schema, project.ledger.table_name)]
    with connection(project.dsn, connect_timeout=project.settings.connect_timeout) as conn:
        return scope_for_change(conn, options.backup_scope, touched, always=ledger)


def create_backup_step(dsn: str, backup_dir: Path, reason: str, migration_head: str | None = None,
                       scope: BackupScope | None = None) -> BackupInfo:
    """pg_dump the database into ``backup_dir`` (metadata beside it); a scoped ``scope`` dumps the
    whole schema and only its tables' data.

    Raises:
        BackupError / DatabaseError: the backup could not be made.
    """
    return create_backup(dsn, Path(backup_dir), reason=reason, migration_head=migration_head, scope=scope)


def verify_backup_step(path: Path, restore_check: bool = False, dsn: str | None = None) -> VerifyResult:
    """Verify a backup (TOC, checksum, data read back; optionally a scratch restore with row counts).

    Raises:
        BackupError / DatabaseError: the backup is unreadable or does not match.
    """
    return verify_backup(Path(path), restore_check=restore_check, dsn=dsn)


def plan_step(project: Project, options: SafeMigrateOptions) -> MigrationPlan:
    """The dry-run plan (read-only)."""
    return build_plan(project, options.apply, hooks=options.hooks, startup_check=options.startup_check,
                      backup=options.backup, validate=options.validate)


def apply_step(project: Project, options: ApplyOptions, logger: Any | None = None) -> ApplyReport:
    """Take the migration lock and apply every pending migration (progress lines on ``logger``).
    First a pg_stat_statements snapshot goes to the health history (the healthcheck compares query
    times before and after; never fails the migration), and our scratch databases left by a run
    that is gone are dropped (best effort)."""
    record_before_migration(project.dsn, project.settings)
    collect_leftovers(project.dsn, connect_timeout=project.settings.connect_timeout)
    return apply_pending(project.dsn, project.ledger, options, logger=logger)


def hooks_step(commands: list[list[str]], timeout_s: float, cwd: Path | None,
               logger: Any | None = None) -> list[HookResult]:
    """Run the post-migrate hooks in order, stopping at the first failure; one line per hook on ``logger``."""
    results = run_hooks(commands, timeout_s=timeout_s, cwd=cwd)
    if logger is not None:
        for result in results:
            logger.info("hook %s: %s in %.2fs", result.name, "ok" if result.ok else result.error, result.duration_s)
    return results


def startup_check_step(command: str | None, url: str | None, timeout_s: float, cwd: Path | None) -> HookResult | None:
    """The application start-up check (command exit 0, or URL 2xx); None when none is configured."""
    return startup_check(command, url, timeout_s=timeout_s, cwd=cwd)


def verify_step(project: Project, validate_constraints: bool, options: ApplyOptions) -> dict[str, Any]:
    """Status clean, no INVALID index, NOT VALID constraints validated when asked. A migration
    someone else is running (status ``running``) and the indexes a live session is building are
    theirs, not a failure of this run: listed (``running``, ``indexes_being_built``), not problems."""
    status = read_status(project)
    problems = [f"{s.name}: {s.state.value}" for s in (*status.problems, *status.pending)]
    running = [f"{s.name}: {s.detail}" for s in status.running]
    validated, failed_validation = [], []
    with connection(project.dsn, connect_timeout=project.settings.connect_timeout) as conn:
        indexes = invalid_indexes(conn)
        invalid = [f"{i.schema}.{i.name} on {i.table}" for i in indexes if not i.being_built]
        being_built = [f"{i.schema}.{i.name} on {i.table} (pid {i.builder_pid})" for i in indexes if i.being_built]
        pending_constraints = not_valid_constraints(conn)
        if validate_constraints:
            for c in pending_constraints:
                statement = sql.SQL("ALTER TABLE {}.{} VALIDATE CONSTRAINT {}").format(
                    sql.Identifier(c.schema), sql.Identifier(c.table), sql.Identifier(c.name)).as_string(conn)
                try:
                    run_statements(conn, [statement], lock_timeout=options.lock_timeout,
                                   statement_timeout=options.statement_timeout, transactional=True,
                                   retry_budget_s=options.retry_budget_s)
                    validated.append(f"{c.schema}.{c.table}.{c.name}")
                except StatementFailed as exc:
                    failed_validation.append(f"{c.schema}.{c.table}.{c.name}: {exc.message}")
            pending_constraints = not_valid_constraints(conn)
    not_valid = [f"{c.schema}.{c.table}.{c.name}" for c in pending_constraints]
    return {
        "ok": not problems and not invalid and not failed_validation,
        "status": status.summary, "problems": problems, "invalid_indexes": invalid,
        "running": running, "indexes_being_built": being_built,
        "not_valid_constraints": not_valid, "validated_constraints": validated,
        "constraint_validation_failures": failed_validation,
    }


def restore_step(project: Project, backup_path: str) -> dict[str, Any]:
    """Restore the pre-migrate backup over the database (only on ``on_failure=restore``)."""
    result = restore_backup(Path(backup_path), project.dsn, replace_existing=True)
    return {"database": result.database, "duration_s": result.duration_s, "replaced": True}


def pending_step(project: Project) -> list[str]:
    """Names of the migrations the next apply would run (a status read: no lock, no writes)."""
    return [s.name for s in read_status(project).pending if s.migration is not None]


@dataclass(frozen=True)
class SafeMigrateSteps:
    """The I/O steps of safe-migrate; plain functions for the CLI, Prefect tasks for flow runs."""

    validate: Callable[[Project, SafeMigrateOptions], dict[str, Any]]
    create_backup: Callable[..., BackupInfo]  # (dsn, backup_dir, reason, migration_head, scope=None)
    verify_backup: Callable[[Path, bool, str | None], VerifyResult]
    plan: Callable[[Project, SafeMigrateOptions], MigrationPlan]
    apply: Callable[[Project, ApplyOptions], ApplyReport]
    hooks: Callable[[list[list[str]], float, Path | None], list[HookResult]]
    startup_check: Callable[[str | None, str | None, float, Path | None], HookResult | None]
    verify: Callable[[Project, bool, ApplyOptions], dict[str, Any]]
    restore: Callable[[Project, str], dict[str, Any]]
    backup_scope: Callable[[Project, SafeMigrateOptions], BackupScope] = backup_scope_step
    pending: Callable[[Project], list[str]] = pending_step


PLAIN_STEPS = SafeMigrateSteps(
    validate=validate_step, create_backup=create_backup_step, verify_backup=verify_backup_step, plan=plan_step,
    apply=apply_step, hooks=hooks_step, startup_check=startup_check_step, verify=verify_step, restore=restore_step,
    backup_scope=backup_scope_step, pending=pending_step,
)
