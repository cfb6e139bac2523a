"""Apply pending migrations under the tool's lock, writing the ledger exactly as the tool does.

- A migration whose statements can all run in a transaction runs in ONE transaction, and its
  ledger row (started + finished, applied_steps_count 1) is written inside that same transaction:
  it is applied completely or not at all. On failure everything rolls back and one row records the
  attempt as rolled back (Prisma reads it as not applied) with the error in ``logs``.
- A migration with statements that cannot run in a transaction (``CREATE INDEX CONCURRENTLY`` ...)
  runs step by step: consecutive transactional statements together in one transaction that also
  updates ``applied_steps_count``; each non-transactional statement alone, in autocommit, made
  re-runnable. A failure leaves the row failed (finished_at NULL, rolled_back_at NULL) with the
  exact number of statements applied and the error in ``logs``; the next ``migrate`` resumes there.

SIGINT / SIGTERM (``tasks/interrupts.py``): the running statement is cancelled; a transactional
migration rolls back and leaves the ledger untouched (as if never started); a step-by-step one
records exactly how far it got (resumable, like a failure); migrations committed before stay.
Each is noted for the ``interrupted: ...`` line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from migration_guard.tasks import interrupts
from migration_guard.tasks.db import classify_error, connect
from migration_guard.tasks.errors import Category, MigrationFileError, MigrationGuardError
from migration_guard.tasks.ledgers import Ledger
from migration_guard.tasks.migrate.execute import LockWait, StatementFailed, run_statements
from migration_guard.tasks.migrate.lock import LockAcquisition, migration_lock
from migration_guard.tasks.migrate.rerunnable import Step, steps_for
from migration_guard.tasks.models import LedgerEntry, Migration, State
from migration_guard.tasks.sql.statements import split_statements
from migration_guard.tasks.status.compute import compute_statuses

#: prefix of the ``logs`` migration-guard writes on rows of step-by-step migrations; a failed row
#: carrying it can be resumed (its applied_steps_count is exact)
STEP_MODE_MARKER = "migration-guard step-by-step:"
ROLLED_BACK_MARKER = "migration-guard:"
_log = logging.getLogger("migration_guard.migrate")
#: how often (seconds, checked between migrations) the lock session is confirmed alive
LOCK_CHECK_INTERVAL_S = 1.0


@dataclass(frozen=True)
class PreparedMigration:
    """A migration split into the steps that will run, and how.

    Attributes:
        transactional: True when every statement can run inside one transaction.
        notes: things the plan should say (transaction control ignored, statements rewritten ...).
    """

    migration: Migration
    steps: tuple[Step, ...]
    transactional: bool
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.migration.name

    @property
    def mode(self) -> str:
        return "transaction" if self.transactional else "step-by-step"


def prepare_migration(migration: Migration) -> PreparedMigration:
    """Split and classify a migration; nothing touches the database.

    Raises:
        MigrationFileError: a statement does not parse (nothing is applied).
    """
    statements = split_statements(migration.sql, migration.name)
    for statement in statements:
        if statement.error:
            raise MigrationFileError(
                f"{migration.path}:{statement.error_line}:{statement.error_column}: {statement.error}",
                "fix the SQL; nothing was applied",
                str(migration.path),
            )
    notes = []
    if any(s.is_transaction_control for s in statements):
        notes.append("BEGIN/COMMIT written in the file are ignored: migration-guard manages the transaction")
    steps = steps_for(statements)
    transactional = all(step.transactional for step in steps)
    for step in steps:
        if step.rewritten:
            notes.append(f"{step.label} runs as `{step.sql}` so a second run is safe")
        if step.warning:
            notes.append(f"{step.label}: {step.warning}")
    return PreparedMigration(migration, tuple(steps), transactional, tuple(notes))


@dataclass
class MigrationOutcome:
    """What happened to one migration."""

    name: str
    mode: str
    ok: bool
    total_steps: int
    steps_done: int = 0
    resumed_from: int | None = None
    elapsed_s: float = 0.0
    attempts: int = 0
    lock_waits: list[LockWait] = field(default_factory=list)
    cleanups: list[str] = field(default_factory=list)
    error: str | None = None
    failed_step: str | None = None
    ledger_state: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "mode": self.mode, "ok": self.ok, "total_steps": self.total_steps,
            "steps_done": self.steps_done, "resumed_from": self.resumed_from,
            "elapsed_s": round(self.elapsed_s, 3), "attempts": self.attempts,
            "lock_waits": [w.describe() for w in self.lock_waits], "cleanups": self.cleanups,
            "error": self.error, "failed_step": self.failed_step, "ledger_state": self.ledger_state,
        }


class MigrationApplyError(MigrationGuardError):
    """A migration failed; ``outcome`` says what the database and the ledger now hold."""

    category = Category.DATABASE_MIGRATION

    def __init__(self, message: str, suggestion: str, outcome: MigrationOutcome, cause: StatementFailed) -> None:
        super().__init__(message, suggestion)
        self.outcome = outcome
        self.cause = cause
        if cause.category is Category.TIMEOUT or cause.kind in {"statement_timeout", "lock_timeout"}:
            self.category = Category.TIMEOUT


class MigrationBlockedError(MigrationGuardError):
    """A failed migration that migration-guard did not leave resumable blocks the way (P3009)."""

    category = Category.DATABASE_MIGRATION


@dataclass
class ApplyOptions:
    """Timeouts and budgets for applying migrations.

    Attributes:
        lock_timeout: PostgreSQL duration per attempt of a statement (LOCK_TIMEOUT).
        statement_timeout: PostgreSQL duration, 0 = none, or ``inherit`` (STATEMENT_TIMEOUT).
        retry_budget_s: seconds to keep retrying a statement that hits lock_timeout (MIGRATE_RETRY_BUDGET).
        lock_wait_s: seconds to wait for the migration advisory lock (MIGRATE_LOCK_WAIT).
        connect_timeout: seconds to connect (CONNECT_TIMEOUT).
    """

    lock_timeout: str | float = "500ms"
    statement_timeout: str | float = "inherit"
    retry_budget_s: float = 60.0
    lock_wait_s: float = 30.0
    connect_timeout: int = 5


@dataclass
class ApplyReport:
    """Everything ``apply_pending`` did."""

    outcomes: list[MigrationOutcome] = field(default_factory=list)
    lock_waited_s: float = 0.0
    lock_holders_seen: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def applied(self) -> list[str]:
        return [o.name for o in self.outcomes if o.ok]

    @property
    def failed(self) -> MigrationOutcome | None:
        return next((o for o in self.outcomes if not o.ok), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "applied": self.applied, "elapsed_s": round(self.elapsed_s, 3),
            "lock_waited_s": round(self.lock_waited_s, 3), "lock_holders_seen": self.lock_holders_seen,
            "migrations": [o.to_dict() for o in self.outcomes],
        }


def is_resumable(entry: LedgerEntry, migration: Migration | None) -> bool:
    """True for a failed row migration-guard wrote while applying step by step, for this file."""
    return (
        migration is not None
        and entry.is_failed
        and (entry.logs or "").startswith(STEP_MODE_MARKER)
        and migration.matches_checksum(entry.checksum)
    )


def pending_work(migrations: list[Migration], entries: list[LedgerEntry], tool: str) -> list[tuple[Migration, LedgerEntry | None]]:
    """Migrations to apply, in order, each with the failed row to resume (or None).

    Raises:
        MigrationBlockedError: a failed migration that cannot be resumed (Prisma's P3009).
    """
    work: list[tuple[Migration, LedgerEntry | None]] = []
    for status in compute_statuses(migrations, entries, tool=tool):
        if status.state in (State.PENDING, State.ROLLED_BACK) and status.migration is not None:
            work.append((status.migration, None))
        elif status.state is State.FAILED:
            last = status.failed_entries[-1]
            if status.migration is not None and is_resumable(last, status.migration):
                work.append((status.migration, last))
                continue
            raise MigrationBlockedError(
                f"migration {status.name} failed earlier and is not resumable (P3009); nothing was applied",
                f"repair it first: migration-guard recover   (it diagnoses and finishes or undoes {status.name})",
            )
    order = {m.name: i for i, m in enumerate(migrations)}
    return sorted(work, key=lambda item: order[item[0].name])


def apply_pending(
    dsn: str, ledger: Ledger, options: ApplyOptions, *, logger: Any | None = None
) -> ApplyReport:
    """Take the migration lock, then apply every pending migration in order (stop at a failure).

    The pending list is computed after the lock is granted, so concurrent runs never apply the
    same migration twice.

    Raises:
        MigrationLockError: the lock stayed held for ``lock_wait_s``.
        MigrationBlockedError: a failed migration must be recovered first.
        MigrationFileError: a pending migration does not parse (checked before anything runs).
        MigrationApplyError: a migration failed; the report so far is in ``.report``.
        DatabaseError: the database cannot be reached.
    """
    log = logger or _log
    started = time.monotonic()
    report = ApplyReport()
    migrations = ledger.read_migrations()
    try:
        _apply_all(dsn, ledger, options, migrations, report, started, log)
    except psycopg.Error as exc:  # ledger reads/writes outside a statement: classified, never a traceback
        raise classify_error(exc, dsn) from None
    report.elapsed_s = time.monotonic() - started
    return report


def _apply_all(dsn: str, ledger: Ledger, options: ApplyOptions, migrations: list[Migration], report: ApplyReport,
               started: float, log: Any) -> None:
    with connect(dsn, connect_timeout=options.connect_timeout, application_name="migration-guard migrate lock") as lock_conn:
        with migration_lock(lock_conn, ledger.lock_key, options.lock_wait_s) as acquired:
            _note_lock(report, acquired, log)
            with connect(dsn, connect_timeout=options.connect_timeout, application_name="migration-guard migrate") as conn:
                ledger.ensure_table(conn)
                work = pending_work(migrations, ledger.read_entries(conn), ledger.tool)
                prepared = [(prepare_migration(m), resume) for m, resume in work]
                if not prepared:
                    log.info("no pending migrations")
                last_check = time.monotonic()
                for item, resume in prepared:
                    if time.monotonic() - last_check > LOCK_CHECK_INTERVAL_S:
                        try:
                            _check_lock_session(lock_conn, ledger.lock_key)
                        except MigrationGuardError as exc:
                            exc.report = report  # type: ignore[attr-defined] - what is already committed
                            raise
                        last_check = time.monotonic()
                    try:
                        outcome = apply_migration(conn, ledger, item, dsn=dsn, options=options, resume=resume, logger=log)
                    except psycopg.Error as exc:  # the session died before the migration's first statement
                        lost = _lost_before_start(item, classify_error(exc, dsn))
                        report.outcomes.append(lost.outcome)
                        report.elapsed_s = time.monotonic() - started
                        lost.report = report  # type: ignore[attr-defined]
                        raise lost from None
                    except MigrationApplyError as exc:
                        report.outcomes.append(exc.outcome)
                        report.elapsed_s = time.monotonic() - started
                        exc.report = report  # type: ignore[attr-defined]
                        raise
                    report.outcomes.append(outcome)
                    interrupts.note_committed(f"migration {outcome.name}")
                    if conn.closed or conn.broken:
                        break


def _lost_before_start(prepared: PreparedMigration, error: MigrationGuardError) -> MigrationApplyError:
    """The failure of a migration none of whose statements ran (its session failed first)."""
    outcome = MigrationOutcome(prepared.name, prepared.mode, ok=False, total_steps=len(prepared.steps),
                               error=error.message, ledger_state="not started: nothing of it ran")
    cause = StatementFailed(error.message, error.suggestion, step="before its first statement", statement=None,
                            sqlstate=getattr(error, "sqlstate", None), kind=getattr(error, "kind", "other"),
                            original=getattr(error, "original", "") or error.message, steps_done=0, rolled_back=True,
                            lock_waits=[])
    return MigrationApplyError(f"migration {prepared.name} did not start: {error.message}", error.suggestion,
                               outcome, cause)


def _check_lock_session(lock_conn: psycopg.Connection, key: int) -> None:
    """Stop before the next migration if the session holding the migration lock is gone (the lock
    went with it, so another run could be migrating now)."""
    try:
        lock_conn.execute("SELECT 1")
    except psycopg.Error:
        raise MigrationGuardError(
            f"lost the session holding the migration lock pg_advisory_lock({key}); stopped before the next migration",
            "the migrations reported as applied are committed; re-run: migration-guard migrate",
        ) from None


def _note_lock(report: ApplyReport, acquired: LockAcquisition, log: Any) -> None:
    report.lock_waited_s = acquired.waited_s
    report.lock_holders_seen = acquired.seen_holders
    if acquired.seen_holders:
        log.warning("waited %.1fs for the migration lock held by %s", acquired.waited_s, "; ".join(acquired.seen_holders))


def apply_migration(
    conn: psycopg.Connection,
    ledger: Ledger,
    prepared: PreparedMigration,
    *,
    dsn: str,
    options: ApplyOptions,
    resume: LedgerEntry | None = None,
    logger: Any | None = None,
) -> MigrationOutcome:
    """Apply one migration (the caller holds the migration lock).

    Args:
        conn: the session that runs the statements (autocommit; transactions are explicit).
        ledger: writes the rows as the tool does.
        prepared: from :func:`prepare_migration`.
        dsn: to reopen a session if ``conn`` died (the failure must still reach the ledger).
        resume: a failed step-by-step row to continue from its applied_steps_count.

    Raises:
        MigrationApplyError: the migration failed; ``.outcome.ledger_state`` says what is recorded.
    """
    log = logger or _log
    if prepared.transactional and resume is None:
        return _apply_in_transaction(conn, ledger, prepared, dsn, options, log)
    return _apply_step_by_step(conn, ledger, prepared, dsn, options, resume, log)


def _apply_in_transaction(conn, ledger: Ledger, prepared: PreparedMigration, dsn: str, options: ApplyOptions, log) -> MigrationOutcome:
    migration = prepared.migration
    outcome = MigrationOutcome(migration.name, prepared.mode, ok=False, total_steps=len(prepared.steps))

    def record_applied(c: psycopg.Connection) -> None:
        entry_id = ledger.record_started(c, migration)
        ledger.record_finished(c, entry_id, 1)

    started = time.monotonic()
    try:
        result = run_statements(
            conn, list(prepared.steps), lock_timeout=options.lock_timeout, statement_timeout=options.statement_timeout,
            transactional=True, retry_budget_s=options.retry_budget_s, before_commit=record_applied, logger=log,
            interrupt_notes=False,
        )
    except interrupts.Interrupted as exc:
        committed = getattr(exc, "transaction_committed", False)
        if committed:
            interrupts.note_committed(f"migration {migration.name}")
        elif committed is None:
            interrupts.note_committed(f"perhaps migration {migration.name} (interrupted during its COMMIT; "
                                      "`migration-guard status` shows whether it is applied)")
        else:  # rolled back before its ledger row was written: the ledger is as before
            interrupts.note_undone(f"cancelled and rolled back migration {migration.name}, which stays pending")
        raise
    except StatementFailed as exc:
        outcome.elapsed_s = time.monotonic() - started
        outcome.lock_waits = exc.lock_waits
        outcome.attempts = len(exc.lock_waits) + 1
        outcome.error, outcome.failed_step = exc.message, exc.step
        logs = (
            f"{ROLLED_BACK_MARKER} {exc.message}\n\nThe migration ran in one transaction that was rolled back: "
            "nothing of it remains applied."
        )
        if _record_failure(conn, dsn, options, log, migration.name,
                           lambda c: ledger.record_rolled_back_attempt(c, migration, logs)):
            outcome.ledger_state = "rolled back: not applied, the attempt is recorded with its error"
        else:  # its row was to be written inside the rolled-back transaction: none exists
            outcome.ledger_state = "rolled back: not applied; the attempt is not recorded (the server was unreachable)"
        log.error("migration %s failed and was rolled back: %s", migration.name, exc.message)
        raise MigrationApplyError(
            f"migration {migration.name} failed and was rolled back completely: {exc.message}",
            exc.suggestion + "; then re-run: migration-guard migrate",
            outcome, exc,
        ) from None
    outcome.ok = True
    outcome.steps_done = result.steps_done
    outcome.elapsed_s = time.monotonic() - started
    outcome.attempts = result.attempts
    outcome.lock_waits = result.lock_waits
    outcome.ledger_state = "applied"
    log.info("applied %s in %.2fs (one transaction%s)", migration.name, outcome.elapsed_s,
             f", {len(result.lock_waits)} lock wait(s)" if result.lock_waits else "")
    return outcome


def _segments(steps: tuple[Step, ...]) -> list[tuple[int, int, bool]]:
    """(start, end, transactional): runs of transactional steps grouped, the others alone."""
    segments: list[tuple[int, int, bool]] = []
    for index, step in enumerate(steps):
        if step.transactional and segments and segments[-1][2] and segments[-1][1] == index:
            segments[-1] = (segments[-1][0], index + 1, True)
        else:
            segments.append((index, index + 1, step.transactional))
    return segments


def _apply_step_by_step(conn, ledger: Ledger, prepared: PreparedMigration, dsn: str, options: ApplyOptions,
                        resume: LedgerEntry | None, log) -> MigrationOutcome:
    migration = prepared.migration
    total = len(prepared.steps)
    outcome = MigrationOutcome(migration.name, prepared.mode, ok=False, total_steps=total)
    started = time.monotonic()
    if resume is not None:
        entry_id, start_at = resume.id, min(resume.applied_steps_count, total)
        outcome.resumed_from = start_at
        log.warning("resuming %s at step %d of %d (an earlier run stopped there)", migration.name, start_at + 1, total)
    else:
        with conn.transaction():
            entry_id = ledger.record_started(conn, migration)
            ledger.record_failed(conn, entry_id, f"{STEP_MODE_MARKER} in progress ({total} steps); if this row stays "
                                 "unfinished, run `migration-guard migrate` to resume or `migration-guard recover`")
        start_at = 0
    done = start_at
    recorded = [start_at]  # steps the ledger row counts (updated with each committed segment)
    try:
        for seg_start, seg_end, transactional in _segments(prepared.steps):
            if seg_end <= done:
                continue
            first = max(seg_start, done)

            def record_progress(c: psycopg.Connection, _done: int = 0, _step: Any = None, end: int = seg_end) -> None:
                ledger.record_step(c, entry_id, end)
                recorded[0] = end

            result = run_statements(
                conn, list(prepared.steps[first:seg_end]), lock_timeout=options.lock_timeout,
                statement_timeout=options.statement_timeout, transactional=transactional,
                retry_budget_s=options.retry_budget_s, logger=log,
                before_commit=record_progress if transactional else None,
                on_step=None if transactional else record_progress,
                interrupt_notes=False,
            )
            done = seg_end
            outcome.attempts += result.attempts
            outcome.lock_waits.extend(result.lock_waits)
            outcome.cleanups.extend(result.cleanups)
        with conn.transaction():
            ledger.record_finished(conn, entry_id, total)
            ledger.record_failed(conn, entry_id, None)  # type: ignore[arg-type] - a finished row has no logs, as in Prisma
    except interrupts.Interrupted:
        _record_interrupted(conn, ledger, prepared, entry_id, recorded[0], dsn, options, log)
        raise
    except StatementFailed as exc:
        done += exc.steps_done if not exc.rolled_back else 0
        outcome.steps_done = done
        outcome.elapsed_s = time.monotonic() - started
        outcome.lock_waits.extend(exc.lock_waits)
        outcome.error, outcome.failed_step = exc.message, exc.step
        logs = (
            f"{STEP_MODE_MARKER} failed after {done} of {total} statement(s) were applied: {exc.message}\n\n"
            f"Statements 1-{done} are applied and recorded (applied_steps_count = {done}); nothing after that ran. "
            "Fix the cause and run `migration-guard migrate` to resume from the next statement, "
            "or `migration-guard recover` to finish or undo it."
        )
        def record_stop(c: psycopg.Connection) -> None:
            ledger.record_step(c, entry_id, done)
            ledger.record_failed(c, entry_id, logs)

        # unrecorded, the row still counts the steps committed so far (each segment recorded its own)
        _record_failure(conn, dsn, options, log, migration.name, record_stop)
        outcome.ledger_state = f"failed after {done} of {total} statement(s): resumable"
        log.error("migration %s stopped after %d of %d statements: %s", migration.name, done, total, exc.message)
        raise MigrationApplyError(
            f"migration {migration.name} stopped after {done} of {total} statement(s): {exc.message}",
            f"{exc.suggestion}; then re-run `migration-guard migrate` (it resumes at statement {done + 1}) "
            "or run `migration-guard recover`",
            outcome, exc,
        ) from None
    outcome.ok = True
    outcome.steps_done = total
    outcome.elapsed_s = time.monotonic() - started
    outcome.ledger_state = "applied"
    log.info("applied %s in %.2fs (step by step, %d statements%s)", migration.name, outcome.elapsed_s, total,
             f", resumed at {outcome.resumed_from + 1}" if outcome.resumed_from is not None else "")
    return outcome


def _record_interrupted(conn, ledger: Ledger, prepared: PreparedMigration, entry_id: Any, done: int, dsn: str,
                        options: ApplyOptions, log: Any) -> None:
    """A step-by-step migration stopped by SIGINT / SIGTERM: its row says exactly how far it got
    (resumable, like a failure) and the ``interrupted`` line names what stays committed."""
    name, total = prepared.name, len(prepared.steps)
    if done >= total:  # the last statement and the row's finish both committed
        interrupts.note_committed(f"migration {name}")
        return
    applied = f"statements 1-{done}" if done > 1 else "statement 1" if done == 1 else "no statement"
    logs = (
        f"{STEP_MODE_MARKER} interrupted (SIGINT/SIGTERM) after {done} of {total} statement(s) were applied.\n\n"
        f"{applied.capitalize()} applied and recorded (applied_steps_count = {done}); nothing after that ran. "
        f"Run `migration-guard migrate` to resume at statement {done + 1}, or `migration-guard recover`."
    )
    try:
        with _ledger_session(conn, dsn, options) as ledger_conn:
            with ledger_conn.transaction():
                # bounded: a cleanup must not wait behind a lock on the ledger for long
                ledger_conn.execute("SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '5s'")
                ledger.record_step(ledger_conn, entry_id, done)
                ledger.record_failed(ledger_conn, entry_id, logs)
    except (psycopg.Error, MigrationGuardError) as exc:
        log.warning("could not record the interruption of %s in the ledger: %s", name, exc)
    interrupts.note_committed(
        f"migration {name} in part ({applied} of {total} applied; its ledger row records it stopped before "
        f"statement {done + 1}: `migration-guard migrate` resumes there)"
    )
    interrupts.note_undone(f"cancelled statement {done + 1} of migration {name}")


def _record_failure(conn: psycopg.Connection, dsn: str, options: ApplyOptions, log: Any, name: str,
                    write: Callable[[psycopg.Connection], None]) -> bool:
    """Record a failed attempt in the ledger; False (logged) when the server cannot be reached
    (restarting, gone): the failure itself must still be reported, not a connection error."""
    try:
        with _ledger_session(conn, dsn, options) as ledger_conn:
            with ledger_conn.transaction():
                write(ledger_conn)
        return True
    except (psycopg.Error, MigrationGuardError) as exc:
        log.warning("could not record the failure of %s in the ledger: %s", name,
                    getattr(exc, "message", None) or str(exc).splitlines()[0])
        return False


@contextmanager
def _ledger_session(conn: psycopg.Connection, dsn: str, options: ApplyOptions) -> Iterator[psycopg.Connection]:
    """``conn`` when it is still usable, else a fresh session (the failure must be recorded)."""
    usable = False
    if not conn.closed and not conn.broken:
        try:
            conn.execute("SELECT 1")
            usable = True
        except psycopg.Error:
            usable = False
    if usable:
        yield conn
        return
    with connect(dsn, connect_timeout=options.connect_timeout, application_name="migration-guard migrate") as fresh:
        yield fresh
