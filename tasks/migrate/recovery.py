"""What to run next after a failed safe-migrate: the exact recovery commands and, once migrations
were committed, the rollback choices (down migrations, the pre-migrate backup, fixing forward)."""

from __future__ import annotations

import shlex
import time
from datetime import UTC, datetime
from typing import Any

from migration_guard.tasks.errors import Category, MigrationGuardError
from migration_guard.tasks.migrate.apply import MigrationApplyError
from migration_guard.tasks.migrate.cause import DataFailure, data_failure
from migration_guard.tasks.migrate.report import SafeMigrateReport
from migration_guard.tasks.project import Project, read_ledger, read_migrations

#: classified kinds that mean the session went away, not that the SQL is wrong
CONNECTION_KINDS = frozenset({"terminated", "starting_up", "connection", "connection_refused", "timeout",
                              "server_closed"})
#: libpq/psycopg texts of a connection that died with no SQLSTATE (an immediate restart, a network cut)
_LOST_TEXTS = ("server closed the connection", "terminating connection", "connection is lost", "consuming input failed",
               "ssl syscall", "the connection is closed", "shutting down", "starting up", "connection refused",
               "no connection to the server", "connection to server", "could not receive data",
               "lost the session holding the migration lock")
#: stages at which a lost connection can interrupt applying
_APPLY_STAGES = frozenset({"apply", "lock"})
#: how long the ledger is re-read after a lost connection (the server may be restarting)
LEDGER_REREAD_SECONDS = 10.0

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
    verification_cut = stage == "verify" and is_connection_lost(error)
    if stage in _APPLY_STAGES and is_connection_lost(error):
        _lost_connection_advice(report, project, error)
    elif verification_cut:
        _verification_cut_advice(report)
    elif stage == "apply" and isinstance(error, MigrationApplyError):
        failure = _data_failure(error, project)
        if failure is not None:
            report.cause = failure.to_dict()
            report.suggestion = failure.advice
            report.recovery += [f"{failure.what_failed}. {failure.advice}", failure.rows]
        else:
            advice = _apply_failure_advice(error, project)
            report.recovery.append(advice)
            if str(error.cause.sqlstate or "").startswith(DATA_SQLSTATE_CLASSES):
                report.suggestion = advice  # not the generic "fix the statement in the migration file"
    elif report.suggestion:
        report.recovery.append(report.suggestion)
    if (report.committed or stage in POST_COMMIT_STAGES) and not verification_cut:
        report.rollback_choices.extend(_rollback_choices(report.applied, project, restore))
    if restore and _changed_something(report, error):
        report.recovery.append(f"backup to restore if needed: {restore}")
    elif restore:  # no restore command to paste: restoring now would only throw away later writes
        report.recovery.append(f"nothing was changed by this run, so nothing needs restoring (the pre-migrate "
                               f"backup stays: {shlex.quote(report.backup_path)})")


def _changed_something(report: SafeMigrateReport, error: Any) -> bool:
    """True when this run may have changed the database: migrations committed, a post-commit step
    failed, a step-by-step migration stopped part way, or the connection was lost (unknown)."""
    if report.committed or report.failed_stage in POST_COMMIT_STAGES:
        return True
    outcome = getattr(error, "outcome", None)
    if outcome is not None and getattr(outcome, "mode", "transaction") != "transaction" and getattr(outcome, "steps_done", 0):
        return True
    return report.failed_stage in _APPLY_STAGES and is_connection_lost(error)


def is_connection_lost(error: Any) -> bool:
    """True when ``error`` (or the statement failure it wraps) is the connection going away — a
    restart, a terminated backend, a network cut — rather than the migration's SQL."""
    cause = getattr(error, "cause", None) or error
    if getattr(cause, "kind", None) in CONNECTION_KINDS:
        return True
    if getattr(error, "category", None) is Category.DATABASE_CONNECTION:
        return True
    if getattr(cause, "sqlstate", None):
        return str(cause.sqlstate).startswith(("08", "57P"))
    text = " ".join(str(getattr(x, "message", x)) + " " + str(getattr(x, "original", "") or "")
                    for x in (error, cause)).lower()
    return any(marker in text for marker in _LOST_TEXTS)


def _lost_connection_advice(report: SafeMigrateReport, project: Project, error: Any) -> None:
    """Name the migration in flight, list exactly what committed before it (from the ledger, re-read
    once the server answers), and advise re-running — never editing the file."""
    outcome = getattr(error, "outcome", None)
    in_flight = outcome.name if outcome is not None else None
    committed, unfinished, read_error = _committed_since(project, report.started_at)
    if committed is None:
        committed = [m for m in report.applied]
    elif report.apply is None or set(committed) - set(report.applied):
        report.apply = {**(report.apply or {}), "applied": committed}
    if in_flight is None and unfinished:
        in_flight = unfinished[0]
    report.committed = bool(committed)
    state = ""
    if outcome is not None and outcome.mode == "transaction":
        state = " (it ran in one transaction, so none of it is applied)"
    elif outcome is not None:
        state = f" (stopped after {outcome.steps_done} of {outcome.total_steps} statements; the re-run resumes there)"
    before = ", ".join(committed) if committed else "nothing"
    where = f"while applying {in_flight}" if in_flight else "before the next migration started"
    report.error = (f"connection to the database lost {where}{state}; committed before it in this run: {before}. "
                    f"Cause: {report.error}")
    report.suggestion = ("the migration files are fine (the connection was lost, not the SQL): once "
                         "`pg_isready` answers, re-run: migration-guard migrate   # it resumes where this run stopped")
    report.lost_connection = {"in_flight": in_flight, "committed": committed, "ledger_read": read_error is None,
                              "ledger_error": read_error}
    report.recovery.append(f"wait for the database to accept connections, then re-run: migration-guard migrate")
    if read_error is not None:
        report.recovery.append("the ledger could not be re-read now; once the server is back, see exactly what "
                               "committed with: migration-guard status")


def _verification_cut_advice(report: SafeMigrateReport) -> None:
    """The connection was lost during the final verification: the migrations are committed and
    nothing needs undoing; re-running migrate (nothing left to apply) re-runs the verification."""
    applied = ", ".join(report.applied) or "nothing"
    report.error = (f"connection to the database lost during the final verification; applied and committed in this "
                    f"run: {applied}; not verified. Cause: {report.error}")
    report.suggestion = ("nothing needs undoing (the connection was lost, not the migrations): once the database "
                         "accepts connections, re-run: migration-guard migrate   # nothing left to apply, it verifies")
    report.recovery.append("wait for the database to accept connections, then re-run the verification: "
                           "migration-guard migrate")


def _committed_since(project: Project, since_epoch: float) -> tuple[list[str] | None, list[str], str | None]:
    """(migrations whose ledger row finished after ``since_epoch``, unfinished ones, None) from a
    fresh ledger read — retried for a few seconds while the server restarts; (None, [], error) when
    it cannot be read."""
    since = datetime.fromtimestamp(since_epoch - 1, UTC)
    deadline = time.monotonic() + LEDGER_REREAD_SECONDS
    while True:
        try:
            _exists, entries = read_ledger(project)
        except MigrationGuardError as exc:
            if time.monotonic() >= deadline:
                return None, [], exc.message
            time.sleep(0.5)
            continue
        committed = [e.migration_name for e in entries if e.finished_at is not None and e.rolled_back_at is None
                     and e.finished_at >= since]
        unfinished = [e.migration_name for e in entries if e.is_failed]
        return committed, unfinished, None


#: SQLSTATE classes of failures on the data in the tables (22 data exception, 23 integrity violation)
DATA_SQLSTATE_CLASSES = ("22", "23")


def _data_failure(error: MigrationApplyError, project: Project) -> DataFailure | None:
    """The shared cause analysis of a migration that failed on data (None for any other failure)."""
    cause = error.cause
    if not str(cause.sqlstate or "").startswith(DATA_SQLSTATE_CLASSES) or cause.statement is None:
        return None
    migration = next((m for m in read_migrations(project) if m.name == error.outcome.name), None)
    if migration is None:
        return None
    return data_failure(project, migration, cause.statement, cause.sqlstate, cause.original or cause.message,
                        error.outcome.steps_done, error.outcome.mode == "transaction")


def _apply_failure_advice(error: MigrationApplyError, project: Project) -> str:
    outcome = error.outcome
    path = next((str(m.path) for m in read_migrations(project) if m.name == outcome.name), outcome.name)
    kind = getattr(error.cause, "kind", "other")
    if outcome.mode == "transaction" and kind != "other":  # connection lost, timeout, privilege: the file is fine
        return (f"{outcome.name} was rolled back completely ({kind}, not the migration file); "
                f"{error.cause.suggestion}; then re-run: migration-guard migrate")
    if outcome.mode == "transaction" and str(error.cause.sqlstate or "").startswith(DATA_SQLSTATE_CLASSES):
        return (f"{outcome.name} was rolled back completely; it failed on data (SQLSTATE {error.cause.sqlstate}) whose "
                f"rows cannot be named in the database as it is now (they may come from the migration's own earlier "
                f"statements): check the data {error.cause.step} needs, or {path}, then re-run: migration-guard migrate")
    if outcome.mode == "transaction":
        return f"{outcome.name} was rolled back completely; fix {path} and re-run: migration-guard migrate"
    return (f"{outcome.name} stopped after {outcome.steps_done} of {outcome.total_steps} statements; "
            "fix the cause, then resume with: migration-guard migrate   # or: migration-guard recover")


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
