"""What to run next after a failed safe-migrate: the exact recovery commands and, once migrations
were committed, the rollback choices (down migrations, the pre-migrate backup, fixing forward)."""

from __future__ import annotations

import shlex
from typing import Any

from migration_guard.tasks.migrate.apply import MigrationApplyError
from migration_guard.tasks.migrate.report import SafeMigrateReport
from migration_guard.tasks.project import Project, read_migrations

#: stages that fail after the migrations committed
POST_COMMIT_STAGES = frozenset({"hooks", "startup-check", "verify"})


def restore_command(backup_path: str) -> str:
    """The CLI command that restores ``backup_path`` over the database."""
    return f"migration-guard backup restore {shlex.quote(backup_path)} --replace --yes"


def add_recovery_advice(report: SafeMigrateReport, project: Project, error: Any) -> None:
    """Append to ``report.recovery`` the exact commands for the next step and, after a commit,
    to ``report.rollback_choices`` the ways back.

    Args:
        report: the failed run's report (``failed_stage``, ``suggestion``, ``committed``, ``backup`` set).
        project: where the migration files are (for their paths and down migrations).
        error: what failed: a ``MigrationApplyError`` gets advice by how its migration ran.
    """
    restore = restore_command(report.backup_path) if report.backup_path else None
    stage = report.failed_stage
    if stage == "apply" and isinstance(error, MigrationApplyError):
        report.recovery.append(_apply_failure_advice(error, project))
    elif report.suggestion:
        report.recovery.append(report.suggestion)
    if report.committed or stage in POST_COMMIT_STAGES:
        report.rollback_choices.extend(_rollback_choices(report.applied, project, restore))
    if restore:
        report.recovery.append(f"backup to restore if needed: {restore}")


def _apply_failure_advice(error: MigrationApplyError, project: Project) -> str:
    outcome = error.outcome
    path = next((str(m.path) for m in read_migrations(project) if m.name == outcome.name), outcome.name)
    kind = getattr(error.cause, "kind", "other")
    if outcome.mode == "transaction" and kind != "other":  # connection lost, timeout, privilege: the file is fine
        return (f"{outcome.name} was rolled back completely ({kind}, not the migration file); "
                f"{error.cause.suggestion}; then re-run: migration-guard migrate")
    if outcome.mode == "transaction":
        return f"{outcome.name} was rolled back completely; fix {path} and re-run: migration-guard migrate"
    return (f"{outcome.name} stopped after {outcome.steps_done} of {outcome.total_steps} statements; "
            "fix the cause, then resume with: migration-guard migrate   (or: migration-guard recover)")


def _rollback_choices(applied: list[str], project: Project, restore: str | None) -> list[str]:
    downs = [m for m in read_migrations(project) if m.name in applied and m.down_path is not None]
    choices = []
    if downs:
        choices.append(
            "run the down migrations, newest first: " + "; ".join(
                f"psql \"$DATABASE_URL\" -1 -f {shlex.quote(str(m.down_path))}" for m in reversed(downs))
            + " — then mark each rolled back in the ledger")
    else:
        choices.append("no down migration exists for the applied migrations")
    if restore:
        choices.append(f"restore the pre-migrate backup: {restore}")
    choices.append("fix forward: add a new migration that corrects it, then: migration-guard migrate")
    return choices
