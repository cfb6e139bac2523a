"""Run migration statements without ever waiting unboundedly in PostgreSQL's lock queue.

Every statement runs under ``lock_timeout`` and ``statement_timeout`` (``SET LOCAL`` inside a
transaction, session-level in autocommit). When a lock is not granted in time (SQLSTATE 55P03)
the attempt is abandoned — so readers queued behind our DDL wait at most ``lock_timeout`` — and
retried after an exponential backoff with jitter, as long as the total time budget allows. While a
statement waits, a watcher asks ``pg_blocking_pids`` who blocks it and logs the blocker.

Two modes:
- ``transactional=True``: all statements in one transaction; a failure rolls everything back
  (``before_commit`` lets the caller write the ledger row in that same transaction);
- ``transactional=False``: one statement at a time in autocommit (``CREATE INDEX CONCURRENTLY``
  ...), each made re-runnable (see ``rerunnable.py``); ``on_step`` records progress after each.

SIGINT / SIGTERM (``tasks/interrupts.py``) arrive as :class:`~migration_guard.tasks.interrupts.Interrupted`:
psycopg cancels the running statement, the transaction is rolled back, and the exception goes on.
A signal during COMMIT (and the ledger write sent with it) asks the server whether the
transaction committed (``txid_status``): ``Interrupted.transaction_committed`` is True, False or,
when the server cannot say, None.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from migration_guard.tasks.catalog import SessionInfo
from migration_guard.tasks.db import classify_error
from migration_guard.tasks.errors import Category, MigrationGuardError
from migration_guard.tasks import interrupts
from migration_guard.tasks.migrate.rerunnable import Step, step_for, steps_for
from migration_guard.tasks.durations import postgres_duration_seconds, postgres_duration_setting
from migration_guard.tasks.migrate.timeouts import is_inherit
from migration_guard.tasks.sql.statements import Statement, split_statements

LOCK_NOT_AVAILABLE = "55P03"
_log = logging.getLogger("migration_guard.migrate")

OnStep = Callable[[psycopg.Connection, int, Step], None]


@dataclass(frozen=True)
class LockWait:
    """One attempt that hit lock_timeout."""

    step: str
    attempt: int
    waited_s: float
    blockers: tuple[str, ...]
    backoff_s: float

    def describe(self) -> str:
        who = "; ".join(self.blockers) if self.blockers else "blocker not observed"
        return f"{self.step}: lock not granted within lock_timeout (attempt {self.attempt}, blocked by {who})"


@dataclass
class ExecutionResult:
    """What running a batch of statements took."""

    steps_done: int = 0
    attempts: int = 0
    elapsed_s: float = 0.0
    lock_waits: list[LockWait] = field(default_factory=list)
    step_timings: list[tuple[str, float]] = field(default_factory=list)
    cleanups: list[str] = field(default_factory=list)


class StatementFailed(MigrationGuardError):
    """A migration statement failed.

    Attributes:
        step: the step's label (``statement 3 (line 12)``); statement: its parsed form, if any.
        sqlstate / kind / original: the classified database error.
        steps_done: steps completed and committed before the failure (step mode), or 0 when
            the whole transaction rolled back.
        rolled_back: True when the failure rolled back everything this call did.
        lock_waits: the lock_timeout hits before the failure.
    """

    category = Category.DATABASE_MIGRATION

    def __init__(
        self, message: str, suggestion: str, *, step: str, statement: Statement | None, sqlstate: str | None,
        kind: str, original: str, steps_done: int, rolled_back: bool, lock_waits: list[LockWait],
    ) -> None:
        super().__init__(message, suggestion)
        self.step = step
        self.statement = statement
        self.sqlstate = sqlstate
        self.kind = kind
        self.original = original
        self.steps_done = steps_done
        self.rolled_back = rolled_back
        self.lock_waits = lock_waits


class LockRetryExhausted(StatementFailed):
    """lock_timeout kept firing until the retry budget ran out."""

    category = Category.TIMEOUT


def run_statements(
    conn: psycopg.Connection,
    statements: Sequence[Step | Statement | str] | str,
    *,
    lock_timeout: str | float,
    statement_timeout: str | float,
    transactional: bool,
    retry_budget_s: float,
    on_step: OnStep | None = None,
    before_commit: Callable[[psycopg.Connection], None] | None = None,
    start_at: int = 0,
    backoff_base_s: float | None = None,
    backoff_max_s: float = 5.0,
    logger: logging.Logger | logging.LoggerAdapter | Any | None = None,
    rng: random.Random | None = None,
    interrupt_notes: bool = True,
) -> ExecutionResult:
    """Run ``statements`` with bounded lock waits, retrying lock timeouts inside a time budget.

    Args:
        conn: a connection used only for this; it is switched to autocommit (transactions are
            explicit), and its session timeouts are restored afterwards.
        statements: Steps, parsed Statements or SQL text (split into statements).
        lock_timeout / statement_timeout: PostgreSQL durations (``"5s"``) or seconds; 0 = none.
        transactional: one transaction for everything (True) or autocommit step by step (False).
        retry_budget_s: total seconds, from the first attempt, within which 55P03 is retried.
        on_step: ``on_step(conn, steps_done, step)`` after each step (inside the transaction in
            transactional mode; committed on its own in step mode).
        before_commit: ``before_commit(conn)`` runs last inside the transaction (transactional only).
        start_at: skip the first ``start_at`` steps (resume a step-by-step migration).
        backoff_base_s / backoff_max_s: backoff before retry n is ``min(max, base * 2**(n-1))``,
            jittered to between half and all of it. The base defaults to lock_timeout (at least
            0.2 s): clients queued behind the failed attempt catch up before the next one queues
            them again, so no client waits much longer than one lock_timeout.
        logger: where waits and blockers are logged (a Prefect run logger works).
        interrupt_notes: on SIGINT / SIGTERM, tell ``tasks/interrupts`` what was rolled back and
            which statements stay committed (False when the caller says it in its own words).

    Returns:
        ExecutionResult with attempts, timings and every lock wait.

    Raises:
        LockRetryExhausted: 55P03 kept happening until the budget ran out (nothing of the failed
            step or transaction remains).
        StatementFailed: any other failure of a statement, classified by SQLSTATE.
        Interrupted: SIGINT / SIGTERM; the running statement was cancelled, an open transaction
            rolled back (unless ``.transaction_committed``); ``.steps_done`` counts the steps
            committed before it (step mode), as in ``ExecutionResult``.
    """
    log = logger or _log
    rng = rng or random.Random()
    steps = _as_steps(statements)
    conn.autocommit = True
    if is_inherit(statement_timeout):
        statement_timeout = conn.execute("SELECT current_setting('statement_timeout')").fetchone()[0]
    lock_pg, statement_pg = postgres_duration_setting(lock_timeout, name="lock_timeout"), postgres_duration_setting(statement_timeout, name="statement_timeout")
    watch_delay = min(max(postgres_duration_seconds(lock_timeout) / 2, 0.05), 1.0) if postgres_duration_seconds(lock_timeout) else 1.0
    if backoff_base_s is None:
        backoff_base_s = max(0.2, postgres_duration_seconds(lock_timeout))
    result = ExecutionResult(steps_done=start_at)
    started = time.monotonic()
    try:
        if transactional:
            _run_in_transaction(conn, steps, start_at, lock_pg, statement_pg, retry_budget_s, on_step,
                                before_commit, result, started, watch_delay, backoff_base_s, backoff_max_s, log, rng)
        else:
            _run_step_by_step(conn, steps, start_at, lock_pg, statement_pg, retry_budget_s, on_step,
                              result, started, watch_delay, backoff_base_s, backoff_max_s, log, rng)
    except interrupts.Interrupted as exc:
        exc.steps_done = result.steps_done  # type: ignore[attr-defined]
        if interrupt_notes:
            _note_interrupted(steps, start_at, result.steps_done, transactional,
                              getattr(exc, "transaction_committed", False))
        raise
    finally:
        result.elapsed_s = time.monotonic() - started
    return result


def _note_interrupted(steps: list[Step], start_at: int, done: int, transactional: bool, committed: bool | None) -> None:
    if transactional:
        if committed:
            interrupts.note_committed(f"the transaction of {len(steps) - start_at} statement(s)")
        elif committed is None:
            interrupts.note_undone("interrupted during COMMIT: whether it committed is unknown, check before re-running")
        else:
            interrupts.note_undone("cancelled the running statement and rolled back its transaction")
        return
    if done > start_at:
        first, last = steps[start_at].label, steps[done - 1].label
        interrupts.note_committed(f"{done - start_at} statement(s) run one by one ({first}" +
                                  (f" to {last})" if done - start_at > 1 else ")"))
    if done < len(steps):
        interrupts.note_undone(f"cancelled {steps[done].label}; it and the {len(steps) - done - 1} after it did not run")


def _as_steps(statements: Sequence[Step | Statement | str] | str) -> list[Step]:
    if isinstance(statements, str):
        statements = [statements]
    steps: list[Step] = []
    for item in statements:
        if isinstance(item, Step):
            steps.append(item)
        elif isinstance(item, Statement):
            if not item.is_transaction_control:
                steps.append(step_for(item))
        else:
            steps.extend(steps_for(split_statements(item)))
    return steps


def _run_in_transaction(
    conn, steps, start_at, lock_pg, statement_pg, budget, on_step, before_commit, result, started,
    watch_delay, base, cap, log, rng,
) -> None:
    # BEGIN, both SET LOCALs and the transaction id (to ask whether an interrupted COMMIT went
    # through) in one round trip; the values are validated "<n>ms" literals.
    begin = sql.SQL("BEGIN; SET LOCAL lock_timeout = {}; SET LOCAL statement_timeout = {}; "
                    "SELECT txid_current()").format(sql.Literal(lock_pg), sql.Literal(statement_pg))
    attempt = 0
    while True:
        attempt += 1
        result.attempts += 1
        done = start_at
        failing: Step | None = None
        watch = BlockerWatch(conn, watch_delay, log)
        try:
            with watch:
                try:
                    xid = _last_value(conn.execute(begin))
                except psycopg.Error:  # e.g. the server restarted between two migrations
                    failing = Step("BEGIN", "the transaction's BEGIN")
                    raise
                try:
                    for step in steps[start_at:]:
                        watch.label = step.label
                        step_started = time.monotonic()
                        try:
                            conn.execute(step.sql)  # type: ignore[arg-type] - migration text, run verbatim
                        except psycopg.Error:
                            failing = step
                            raise
                        result.step_timings.append((step.label, time.monotonic() - step_started))
                        done += 1
                        if on_step is not None:
                            on_step(conn, done, step)
                    try:
                        # the ledger writes and COMMIT travel together: one round trip, not three
                        with conn.pipeline():
                            if before_commit is not None:
                                before_commit(conn)
                            conn.execute("COMMIT")
                    except psycopg.Error:
                        failing = Step("COMMIT", "the ledger write or COMMIT")
                        raise
                    except interrupts.Interrupted as exc:
                        # the COMMIT may have reached the server before the cancel: ask it
                        committed = transaction_outcome(conn, xid)
                        exc.transaction_committed = committed  # type: ignore[attr-defined]
                        if committed:
                            result.steps_done = done
                        raise
                except BaseException:
                    _rollback_quietly(conn)
                    raise
            result.steps_done = done
            return
        except psycopg.Error as exc:
            if failing is None:
                raise
            result.step_timings.clear()
            _handle_failure(conn, exc, failing, attempt, started, budget, result, watch, base, cap, log, rng,
                            steps_done=start_at, rolled_back=True)


def _last_value(cursor: psycopg.Cursor) -> Any:
    """The value of the last result of a multi-statement query."""
    while cursor.nextset():
        pass
    row = cursor.fetchone()
    return row[0] if row else None


def transaction_outcome(conn: psycopg.Connection, xid: int | None, wait_s: float = 5.0) -> bool | None:
    """Did transaction ``xid`` commit? (``txid_status``, asked on ``conn`` or, if it broke, a fresh
    session); None when the server cannot tell us in ``wait_s``."""
    if xid is None:
        return None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if not conn.closed and not conn.broken and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                status = conn.execute("SELECT txid_status(%s)", (xid,)).fetchone()[0]
            else:
                with psycopg.connect(**_monitor_params(conn), autocommit=True) as fresh:
                    status = fresh.execute("SELECT txid_status(%s)", (xid,)).fetchone()[0]
        except psycopg.Error:
            status = None
        if status in ("committed", "aborted"):
            return status == "committed"
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def _rollback_quietly(conn: psycopg.Connection) -> None:
    if conn.closed or conn.broken:
        return
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
    except psycopg.Error:
        pass


def _run_step_by_step(
    conn, steps, start_at, lock_pg, statement_pg, budget, on_step, result, started, watch_delay, base, cap, log, rng,
) -> None:
    previous = conn.execute(
        "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')"
    ).fetchone()
    conn.execute(
        "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
        (lock_pg, statement_pg),
    )
    try:
        done = start_at
        for step in steps[start_at:]:
            attempt = 0
            while True:
                attempt += 1
                result.attempts += 1
                if step.prepare is not None:
                    for action in step.prepare(conn):
                        log.warning("%s: removed a leftover of an earlier attempt: %s", step.label, action)
                        result.cleanups.append(action)
                watch = BlockerWatch(conn, watch_delay, log, label=step.label)
                step_started = time.monotonic()
                try:
                    with watch:
                        conn.execute(step.sql)  # type: ignore[arg-type]
                except psycopg.Error as exc:
                    _handle_failure(conn, exc, step, attempt, started, budget, result, watch, base, cap, log, rng,
                                    steps_done=done, rolled_back=False)
                    continue
                result.step_timings.append((step.label, time.monotonic() - step_started))
                break
            done += 1
            result.steps_done = done
            if on_step is not None:  # interrupted here, the record undercounts: the steps are re-runnable
                on_step(conn, done, step)
    finally:
        if not conn.closed and previous is not None:
            try:
                conn.execute(
                    "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
                    previous,
                )
            except psycopg.Error:
                pass


def _handle_failure(
    conn, exc, step, attempt, started, budget, result, watch, base, cap, log, rng, *, steps_done, rolled_back,
) -> None:
    """Back off and return (the caller retries) on 55P03 within budget; raise otherwise."""
    classified = classify_error(exc)
    where = _where(step)
    if classified.sqlstate == LOCK_NOT_AVAILABLE:
        backoff = rng.uniform(0.5, 1.0) * min(cap, base * 2 ** (attempt - 1))
        elapsed = time.monotonic() - started
        wait = LockWait(step.label, attempt, watch.elapsed_s, tuple(watch.blockers), backoff)
        result.lock_waits.append(wait)
        if elapsed + backoff < budget:
            log.warning("%s; retrying in %.2fs (%.1fs of %.1fs budget used)", wait.describe(), backoff, elapsed, budget)
            time.sleep(backoff)
            return
        blockers = "; ".join(sorted({b for w in result.lock_waits for b in w.blockers})) or "not observed"
        pids = sorted({int(p) for w in result.lock_waits for b in w.blockers for p in re.findall(r"\bpid (\d+)", b)})
        terminate = " ".join(f"SELECT pg_terminate_backend({pid});" for pid in pids)
        raise LockRetryExhausted(
            f"{where} could not get its lock within lock_timeout in {attempt} attempt(s) over {elapsed:.1f}s "
            f"(retry budget {budget:.0f}s); blocked by: {blockers}",
            (f"end or wait out the blocking transaction ({terminate}), or run the " if terminate else
             "end or wait out the blocking transaction (find it: SELECT pid, state, xact_start, left(query, 80) "
             "FROM pg_stat_activity WHERE xact_start < now() - interval '30 seconds' ORDER BY xact_start), or run the ")
            + "migration when the table is quieter; raise MIGRATE_RETRY_BUDGET to wait longer",
            step=step.label, statement=step.statement, sqlstate=classified.sqlstate, kind="lock_timeout",
            original=classified.original, steps_done=steps_done, rolled_back=rolled_back,
            lock_waits=list(result.lock_waits),
        ) from None
    raise StatementFailed(
        f"{where} failed: {classified.original or classified.message}"
        + (f" (SQLSTATE {classified.sqlstate})" if classified.sqlstate else ""),
        classified.suggestion if classified.kind != "other" else "fix the statement in the migration file and re-run",
        step=step.label, statement=step.statement, sqlstate=classified.sqlstate, kind=classified.kind,
        original=classified.original, steps_done=steps_done, rolled_back=rolled_back,
        lock_waits=list(result.lock_waits),
    ) from None


def _where(step: Step) -> str:
    first_line = step.sql.strip().splitlines()[0] if step.sql.strip() else ""
    if len(first_line) > 80:
        first_line = first_line[:77] + "..."
    return f"{step.label} `{first_line}`"


#: a statement running longer than this gets a progress line, and another every as many seconds
PROGRESS_EVERY_S = 10.0


class BlockerWatch:
    """While a statement runs longer than ``delay_s``, ask ``pg_blocking_pids`` who blocks it.

    Registering costs a dict insert: one shared scheduler thread notices slow statements and only
    then starts a monitor (its own short-lived connection), so fast migrations pay nothing.
    """

    def __init__(self, conn: psycopg.Connection, delay_s: float, log: Any, label: str = "") -> None:
        self.conn = conn
        self.delay_s = delay_s
        self.log = log
        self.label = label
        self.blockers: list[str] = []
        self.elapsed_s = 0.0
        self.pid = conn.info.backend_pid
        self.stopped = threading.Event()
        self.started = 0.0

    def __enter__(self) -> BlockerWatch:
        self.started = time.monotonic()
        self.stopped.clear()
        _SCHEDULER.add(self)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.elapsed_s = time.monotonic() - self.started
        self.stopped.set()
        _SCHEDULER.remove(self)

    def monitor(self) -> None:
        """Poll pg_blocking_pids until the statement ends (runs in its own thread)."""
        try:
            with psycopg.connect(**_monitor_params(self.conn), autocommit=True) as monitor:
                label, since, next_report = self.label, time.monotonic() - self.delay_s, PROGRESS_EVERY_S
                while not self.stopped.is_set():
                    for session in blocking_sessions(monitor, self.pid):
                        line = session.describe()
                        if line not in self.blockers:
                            self.blockers.append(line)
                            self.log.warning("%s is waiting for a lock held by %s", self.label or "statement", line)
                    if self.label != label:  # the transaction moved on to its next statement
                        label, since, next_report = self.label, time.monotonic(), PROGRESS_EVERY_S
                    running = time.monotonic() - since
                    if running >= next_report:
                        self.log.info("%s still running after %.0fs", label or "statement", running)
                        next_report += PROGRESS_EVERY_S
                    self.stopped.wait(0.2)
        except Exception as exc:  # noqa: BLE001 - best effort: the statement's own outcome is what matters
            self.log.debug("blocker watch stopped: %s", type(exc).__name__)


class _WatchScheduler:
    """One daemon thread that starts a monitor for each watch still running after its delay."""

    def __init__(self) -> None:
        self._watches: dict[int, BlockerWatch] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, watch: BlockerWatch) -> None:
        with self._cond:
            self._watches[id(watch)] = watch
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mg-blocker-watch", daemon=True)
                self._thread.start()
            self._cond.notify()

    def remove(self, watch: BlockerWatch) -> None:
        with self._cond:
            self._watches.pop(id(watch), None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [w for w in self._watches.values() if now - w.started >= w.delay_s]
                for watch in due:
                    del self._watches[id(watch)]
                pending = [w.started + w.delay_s - now for w in self._watches.values()]
                if not due:
                    self._cond.wait(timeout=min(pending) if pending else 5.0)
                    continue
            for watch in due:
                if not watch.stopped.is_set():
                    threading.Thread(target=watch.monitor, name="mg-blocker-monitor", daemon=True).start()


_SCHEDULER = _WatchScheduler()


def blocking_sessions(conn: psycopg.Connection, pid: int) -> list[SessionInfo]:
    """Sessions that block backend ``pid`` (``pg_blocking_pids``), described from pg_stat_activity."""
    rows = conn.execute(
        "SELECT a.pid, a.usename::text, a.application_name, host(a.client_addr), a.state, a.backend_start, "
        "a.xact_start, a.state_change, a.query, "
        "EXTRACT(EPOCH FROM (now() - coalesce(a.xact_start, a.state_change, a.backend_start)))::float8 "
        "FROM pg_stat_activity a WHERE a.pid = ANY(pg_blocking_pids(%s)) ORDER BY a.xact_start",
        (pid,),
    ).fetchall()
    return [SessionInfo(*row) for row in rows]


def _monitor_params(conn: psycopg.Connection) -> dict[str, Any]:
    params: dict[str, Any] = dict(conn.info.get_parameters())
    params.pop("sslcertmode", None)
    params["port"] = conn.info.port
    params["application_name"] = "migration-guard-monitor"
    params["connect_timeout"] = 5
    if conn.info.password:
        params["password"] = conn.info.password
    return params
