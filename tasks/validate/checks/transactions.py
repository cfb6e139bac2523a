"""Sessions idle in an open transaction, or with long-running transactions, right now.

A session like that on a table the pending migrations touch is a blocker the apply step waits out
in bounded attempts (WARN naming it: "apply will wait up to N s for pid P (...)"); elsewhere it
does not stand in the migration's way (WARN: it holds back vacuum, and ``CREATE INDEX
CONCURRENTLY`` waits for every older transaction). FAIL only when LOCK_TIMEOUT is 0, where apply
would queue behind a blocker without bound.
"""

from __future__ import annotations

from migration_guard.tasks.catalog import SessionInfo, locks_on_tables, sessions_in_transaction
from migration_guard.tasks.validate.base import Check, check_connection
from migration_guard.tasks.validate.blockers import apply_wait_fix, apply_wait_line, unbounded_fix, waits_unbounded
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


def run(ctx: ValidationContext) -> CheckResult:
    """WARN for idle / long transactions (naming what apply does about the ones on touched tables)."""
    options = ctx.options
    planned = ctx.planned_locks()
    with check_connection(ctx) as conn:
        sessions = sessions_in_transaction(conn, min(options.idle_in_transaction_seconds, options.long_transaction_seconds))
        on_tables = {lock.session.pid for lock in locks_on_tables(conn, list(planned))} if planned and sessions else set()
    idle = [s for s in sessions if (s.state or "").startswith("idle in transaction")
            and (s.age_seconds or 0) >= options.idle_in_transaction_seconds]
    long_running = [s for s in sessions if s not in idle and (s.age_seconds or 0) >= options.long_transaction_seconds]
    found = idle + long_running
    lock_timeout, budget = ctx.apply_lock_timeout, ctx.apply_retry_budget_s
    data = {"sessions": [{"pid": s.pid, "user": s.usename, "application": s.application_name, "state": s.state,
                          "age_seconds": round(s.age_seconds or 0, 1), "query": s.query,
                          "on_migrated_table": s.pid in on_tables} for s in found],
            "lock_timeout": lock_timeout, "retry_budget_s": budget}
    if not found:
        return CHECK.result(CheckStatus.PASS, "no idle-in-transaction sessions or long transactions", **data)
    blockers = [s for s in found if s.pid in on_tables]
    others = [s for s in found if s.pid not in on_tables]
    details = [f"{s.describe()} (open {s.age_seconds or 0:.0f} s{'; on a table the migrations touch' if s in blockers else ''})"
               for s in found]
    pids = [s.pid for s in blockers]
    if blockers and waits_unbounded(lock_timeout):
        return CHECK.result(
            CheckStatus.FAIL,
            f"{len(blockers)} open transaction(s) on tables the migrations touch, and LOCK_TIMEOUT is 0: apply would "
            "queue behind them and stall every query on the table", details, fix=unbounded_fix(pids), **data)
    reasons = [apply_wait_line(s, lock_timeout, budget) for s in blockers]
    if others:
        reasons.append(_others_reason(others, options.idle_in_transaction_seconds, options.long_transaction_seconds))
    fix = apply_wait_fix(pids, lock_timeout, budget) if blockers else (
        "nothing blocks the migration; finish or end them when convenient: "
        + " ".join(f"SELECT pg_terminate_backend({s.pid});" for s in others)
        + " (and set idle_in_transaction_session_timeout)")
    return CHECK.result(CheckStatus.WARN, "; ".join(reasons), details, fix=fix, **data)


def _others_reason(others: list[SessionInfo], idle_s: float, long_s: float) -> str:
    idle = [s for s in others if (s.state or "").startswith("idle in transaction")]
    parts = []
    if idle:
        parts.append(f"{len(idle)} session(s) idle in an open transaction for over {idle_s:g} s")
    if len(others) > len(idle):
        parts.append(f"{len(others) - len(idle)} transaction(s) open for over {long_s:g} s")
    return " and ".join(parts) + " on no table the migrations touch (they do not block it)"


CHECK = Check("transactions", "Idle and long-running transactions", run,
              why="DDL waits behind any open transaction on its table, and every later query queues behind the DDL")
