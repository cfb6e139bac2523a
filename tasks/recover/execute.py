"""Run a recovery plan: end stale lock holders, take the migration lock, run the steps with lock and
statement timeouts (one transaction when every step allows it, the ledger fix inside it), and fix
the ledger exactly as ``prisma migrate resolve`` would."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from migration_guard.tasks.catalog import SessionInfo, advisory_lock_holders
from migration_guard.tasks.db import classify_error, connect
from migration_guard.tasks.errors import Category, MigrationGuardError
from migration_guard.tasks.migrate.execute import StatementFailed, run_statements
from migration_guard.tasks.migrate.lock import migration_lock
from migration_guard.tasks.migrate.rerunnable import Step
from migration_guard.tasks.ledgers import Ledger
from migration_guard.tasks.models import Migration
from migration_guard.tasks.project import Project
from migration_guard.tasks.recover.model import RepairPlan


#: error kinds that mean the session went away (a restart, a terminated backend), not the plan's SQL
LOST_KINDS = frozenset({"connection", "terminated", "starting_up", "connection_refused", "server_closed"})
LOST_CONNECTION_ADVICE = ("the connection was lost (a server restart or an ended session), not a fault of the plan: "
                          "once the database accepts connections, re-run: migration-guard recover   # it diagnoses "
                          "again from what committed")


@dataclass
class ExecutionOutcome:
    """What running the plan did."""

    ok: bool
    steps_run: int = 0
    one_transaction: bool = True
    ledger: str = ""
    terminated: list[str] = field(default_factory=list)
    error: str = ""
    suggestion: str = ""
    seconds: float = 0.0
    lock_waits: list[str] = field(default_factory=list)
    #: the SQLSTATE of the error that stopped the plan, when the database gave one
    sqlstate: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON-ready data (the ``execution`` of ``recover --json``)."""
        return {"ok": self.ok, "steps_run": self.steps_run, "one_transaction": self.one_transaction,
                "ledger": self.ledger, "terminated": self.terminated, "error": self.error,
                "suggestion": self.suggestion, "seconds": round(self.seconds, 3), "lock_waits": self.lock_waits,
                "sqlstate": self.sqlstate}


def terminate_stale_holders(conn: psycopg.Connection, key: int, pids: list[int]) -> list[str]:
    """End the sessions in ``pids`` that still hold lock ``key`` idle; return who was ended."""
    ended = []
    for holder in advisory_lock_holders(conn, key):
        if holder.pid in pids and (holder.state or "idle").startswith("idle"):
            row = conn.execute("SELECT pg_terminate_backend(%s)", (holder.pid,)).fetchone()
            if row and row[0]:
                ended.append(holder.describe())
    if ended:
        _wait_released(conn, key, pids)
    return ended


def _wait_released(conn: psycopg.Connection, key: int, pids: list[int], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(h.pid in pids for h in advisory_lock_holders(conn, key)):
            return
        time.sleep(0.05)


def execute_plan(
    project: Project,
    plan: RepairPlan,
    migration: Migration | None,
    *,
    stale_holders: Sequence[SessionInfo] = (),
) -> ExecutionOutcome:
    """Run ``plan`` against the project's database.

    The ledger is fixed inside the same transaction as the steps when every step can run in a
    transaction; otherwise steps run one by one (autocommit, re-runnable) and the ledger is fixed
    in its own transaction after the last one. The project's settings give the timeouts, how long
    to wait for the migration lock (``migrate_lock_wait``) and how long to retry a statement that
    hits lock_timeout (``migrate_retry_budget``), as for ``migrate``.

    Args:
        project: the project whose database and ledger are recovered.
        plan: a runnable plan.
        migration: the failed migration's local file (needed to mark it applied).
        stale_holders: idle sessions holding the migration lock, ended first.

    Returns:
        What ran, the ledger change, or the error and what to do about it (never raises for a
        database error: ``ok`` is False).
    """
    started = time.perf_counter()
    settings = project.settings
    outcome = ExecutionOutcome(ok=False, one_transaction=plan.all_transactional)
    failure: MigrationGuardError | None = None
    ledger = project.ledger
    conn = connect(project.dsn, connect_timeout=settings.connect_timeout)
    try:
        if stale_holders:
            outcome.terminated = terminate_stale_holders(conn, ledger.lock_key, [h.pid for h in stale_holders])
        steps = [Step(s.sql, f"plan step {i} ({s.description})", s.transactional)
                 for i, s in enumerate(plan.steps, 1)]

        def fix_ledger(c: psycopg.Connection) -> None:
            outcome.ledger = _fix_ledger(c, ledger, plan, migration)

        with migration_lock(conn, ledger.lock_key, settings.migrate_lock_wait):
            if not steps:
                with conn.transaction():
                    fix_ledger(conn)
            elif plan.all_transactional:
                result = run_statements(conn, steps, lock_timeout=settings.lock_timeout,
                                        statement_timeout=settings.statement_timeout, transactional=True,
                                        retry_budget_s=settings.migrate_retry_budget, before_commit=fix_ledger)
                outcome.steps_run = result.steps_done
                outcome.lock_waits = [w.describe() for w in result.lock_waits]
            else:
                result = run_statements(conn, steps, lock_timeout=settings.lock_timeout,
                                        statement_timeout=settings.statement_timeout, transactional=False,
                                        retry_budget_s=settings.migrate_retry_budget)
                outcome.steps_run = result.steps_done
                outcome.lock_waits = [w.describe() for w in result.lock_waits]
                with conn.transaction():
                    fix_ledger(conn)
        outcome.ok = True
    except StatementFailed as exc:
        outcome.error = exc.message
        outcome.suggestion = exc.suggestion
        outcome.steps_run = exc.steps_done
        outcome.sqlstate = exc.sqlstate
        failure = exc
    except MigrationGuardError as exc:
        outcome.error = exc.message
        outcome.suggestion = exc.suggestion
        failure = exc
    except psycopg.Error as exc:
        failure = classify_error(exc, project.dsn)
        outcome.error, outcome.suggestion = failure.message, failure.suggestion
    finally:
        conn.close()
        outcome.seconds = time.perf_counter() - started
    if failure is not None:
        if outcome.ledger:  # written inside the transaction that did not commit
            outcome.ledger = f"not changed: the ledger fix for {plan.migration} did not commit"
        if getattr(failure, "kind", None) in LOST_KINDS or failure.category is Category.DATABASE_CONNECTION:
            outcome.suggestion = LOST_CONNECTION_ADVICE
    return outcome


def _fix_ledger(conn: psycopg.Connection, ledger: Ledger, plan: RepairPlan, migration: Migration | None) -> str:
    if plan.migration is None or plan.ledger_action is None:
        return ""
    if plan.ledger_action == "applied":
        if migration is None:
            raise MigrationGuardError(f"migration {plan.migration} has no local file (P3017)",
                                      "restore its folder from version control")
        ledger.mark_applied(conn, migration)
        return f"{plan.migration} marked applied (prisma migrate resolve --applied)"
    rows = ledger.mark_rolled_back(conn, plan.migration)
    return f"{plan.migration} marked rolled back ({rows} failed row(s); prisma migrate resolve --rolled-back)"
