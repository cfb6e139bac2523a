"""The I/O steps of a recovery, as plain functions (no Prefect import: the CLI stays fast).

Each ``*_step`` does one piece of I/O. ``RecoverSteps`` is the port the sequence
(``pipeline.run_recovery``) calls them through; ``PLAIN_STEPS`` bundles them for the CLI and
``migration_guard.tasks.recover.tasks.PREFECT_STEPS`` wraps the same functions as Prefect tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migration_guard.tasks.catalog import SessionInfo
from migration_guard.tasks.db import connection
from migration_guard.tasks.diagnose import Diagnosis, diagnose_migration, load_catalog
from migration_guard.tasks.diagnose.replay import replay_diagnosis
from migration_guard.tasks.diagnose.migration import name_failing_from_cause, settle_whole_rollback
from migration_guard.tasks.models import MigrationStatus
from migration_guard.tasks.project import Project
from migration_guard.tasks.diagnose.cause import FailureCause
from migration_guard.tasks.diagnose.classify import classify_failure
from migration_guard.tasks.recover.detect import Detection, detect
from migration_guard.tasks.recover.execute import ExecutionOutcome, execute_plan
from migration_guard.tasks.recover.model import RepairPlan
from migration_guard.tasks.recover.verify import Verification, verify_recovery
from migration_guard.tasks.schema.model import SchemaSnapshot
from migration_guard.tasks.scratch import collect_leftovers


def detect_step(project: Project, stale_lock_seconds: float = 60.0) -> Detection:
    """Failed migrations and failure debris (read-only), once our own scratch databases left by a
    run that is gone (killed, or cut off by a restart mid-check) are dropped."""
    collect_leftovers(project.dsn, connect_timeout=project.settings.connect_timeout)
    return detect(project, stale_lock_seconds=stale_lock_seconds)


def backup_step(project: Project, migration_head: str | None) -> dict[str, Any]:
    """A verified pg_dump backup taken before any change; returns its metadata.

    Its scope follows BACKUP_SCOPE: scoped, it holds the whole schema plus the data of the tables
    the failed migration's statements touch (and the ledger's); full when what they write cannot
    be known, when no failed migration is on disk, or by policy. The metadata's ``scope`` says which.

    Raises:
        BackupError / DatabaseError: the backup could not be made or verified.
    """
    from migration_guard.tasks.backup import create_backup, verify_backup
    from migration_guard.tasks.backup.scope import BackupScope, analyze_sql
    from migration_guard.tasks.backup.scoped import scope_for_change
    from migration_guard.tasks.status.pipeline import read_status

    policy = project.settings.backup_scope
    scope = BackupScope("full", reasons=("BACKUP_SCOPE=full: every table's data",), policy="full")
    if policy != "full":
        failed = [(s.name, s.migration.sql) for s in read_status(project).problems
                  if s.migration is not None and s.failed_entries]
        touched = analyze_sql(failed, project.schema) if failed else None
        with connection(project.dsn, connect_timeout=project.settings.connect_timeout) as conn:
            scope = scope_for_change(conn, policy, touched,
                                     always=[(project.ledger.table_schema, project.ledger.table_name)])
    info = create_backup(project.dsn, Path(project.settings.backup_dir), reason="pre-recover",
                         migration_head=migration_head, scope=scope)
    verified = verify_backup(info.path)
    data = info.to_dict()
    data["path"] = str(info.path)
    data["verified"] = verified.ok
    return data


def diagnose_step(project: Project, status: MigrationStatus,
                  lock_age_seconds: float = 1.0) -> tuple[Diagnosis, FailureCause]:
    """Diagnose the failed migration statement by statement and classify why it failed (read-only on the
    live database): by replay in a shadow database when one can be built, else from the catalog."""
    entries = status.failed_entries or status.entries
    logs = entries[-1].logs if entries else None
    with connection(project.dsn, connect_timeout=project.settings.connect_timeout) as conn:
        snapshot = load_catalog(conn, [project.schema])
        diagnosis, note = replay_diagnosis(project, status.migration, conn, snapshot, logs)
        if diagnosis is not None:
            settle_whole_rollback(diagnosis, status.migration.sql, status.name)
        if diagnosis is None:
            diagnosis = diagnose_migration(status.migration.sql, status.name, snapshot, schema=project.schema,
                                           logs=logs)
            diagnosis.note = f"read from the catalog (no replay: {note})"
        cause = classify_failure(conn, diagnosis, snapshot, logs, schema=project.schema,
                                 lock_age_seconds=lock_age_seconds)
        name_failing_from_cause(diagnosis, cause.statement_index, cause.present)
    return diagnosis, cause


def execute_step(project: Project, plan: RepairPlan, status: MigrationStatus | None,
                 stale_holders: list[SessionInfo]) -> ExecutionOutcome:
    """Run the plan and fix the ledger (``MIGRATE_LOCK_WAIT`` and ``MIGRATE_RETRY_BUDGET`` apply)."""
    return execute_plan(project, plan, status.migration if status else None, stale_holders=stale_holders)


def verify_step(project: Project, migration: str | None, expected_state: str | None,
                drift: bool = True) -> Verification:
    """Status, INVALID indexes, the migration lock, drift (read-only; the shadow database is temporary)."""
    return verify_recovery(project, migration, expected_state, drift=drift)


def earlier_schema_step(project: Project, status: MigrationStatus) -> tuple[SchemaSnapshot | None, str]:
    """(snapshot, note): the schema the migrations before ``status`` produce, from a shadow database;
    (None, why) when it cannot be built (no CREATEDB, an earlier migration missing locally ...)."""
    from migration_guard.tasks.errors import MigrationGuardError
    from migration_guard.tasks.schema.drift import applied_migrations
    from migration_guard.tasks.schema.shadow import expected_snapshot

    earlier, missing = applied_migrations(project)
    if missing:
        return None, f"applied migrations missing locally: {', '.join(missing)}"
    earlier = [m for m in earlier if m.name < status.name]
    try:
        snapshot, label = expected_snapshot(project, earlier)
    except MigrationGuardError as exc:
        return None, exc.message
    return snapshot, f"earlier schema from {len(earlier)} migration(s) in a {label}"


def alert_step(project: Project, report_dict: dict[str, Any]) -> str:
    """Raise an alert when not recovered, resolve recover alerts when recovered; '' otherwise.

    Returns:
        What was done, for the report's ``alerts`` field.
    """
    from migration_guard.tasks.alerts.api import fire_alert, resolve_alerts

    settings = project.settings
    outcome = report_dict["outcome"]
    if outcome in ("recovered", "nothing_to_do"):
        resolved = resolve_alerts(settings, check="recover", database=project.target)
        return f"{len(resolved)} alert(s) resolved"
    if outcome in ("not_recovered", "recovered_unverified"):
        fire_alert(
            settings, check="recover", database=project.target, category="DATABASE_MIGRATION", severity="HIGH",
            title=f"Migration recovery needs a decision: {report_dict.get('migration') or 'debris'}",
            message=report_dict.get("reason") or "recovery did not complete",
            impact="New migrations cannot be applied until the failed migration is resolved.",
            suggestions=[s for s in (report_dict.get("next_step"), "migration-guard recover --plan") if s],
            original_error=(report_dict.get("cause") or {}).get("summary", "") or "",
            component="recover",
        )
        return "alert raised"
    return ""


@dataclass(frozen=True)
class RecoverSteps:
    """The recovery's I/O steps (the port ``pipeline.run_recovery`` calls): plain functions for the
    CLI, the same functions as Prefect tasks for flow runs."""

    detect: Callable[[Project, float], Detection]
    backup: Callable[[Project, str | None], dict[str, Any]]
    diagnose: Callable[[Project, MigrationStatus, float], tuple[Diagnosis, FailureCause]]
    execute: Callable[[Project, RepairPlan, MigrationStatus | None, list[SessionInfo]], ExecutionOutcome]
    verify: Callable[[Project, str | None, str | None, bool], Verification]
    alert: Callable[[Project, dict[str, Any]], str]
    earlier_schema: Callable[[Project, MigrationStatus], tuple[SchemaSnapshot | None, str]]


PLAIN_STEPS = RecoverSteps(detect_step, backup_step, diagnose_step, execute_step, verify_step, alert_step,
                           earlier_schema_step)
