"""Locks other sessions hold (or wait for) on the tables the pending migrations touch, when they
conflict with the lock the migration will take: WARN (apply waits them out in bounded attempts,
naming each blocker), FAIL only when LOCK_TIMEOUT is 0 and apply could not bound its wait."""

from __future__ import annotations

from migration_guard.tasks.catalog import TableLock, locks_on_tables
from migration_guard.tasks.validate.base import Check, check_connection
from migration_guard.tasks.validate.blockers import apply_wait_fix, apply_wait_line, unbounded_fix, waits_unbounded
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


def blocking_locks(locks: list[TableLock], planned: dict[tuple[str, str], str], min_age_seconds: float) -> list[TableLock]:
    """The locks that would make the migration wait: they conflict with the planned mode on their
    table and belong to a transaction at least ``min_age_seconds`` old (plain logic)."""
    from migration_guard.tasks.sql.locks import conflicts

    found = []
    for lock in locks:
        mode = planned.get((lock.schema, lock.table))
        if mode is None or not conflicts(mode, lock.mode):
            continue
        if (lock.session.age_seconds or 0) < min_age_seconds:
            continue
        found.append(lock)
    return found


def run(ctx: ValidationContext) -> CheckResult:
    """WARN naming each blocker apply will wait out (bounded); FAIL only when lock_timeout is off and
    apply would queue behind it, and every query on the table behind apply."""
    planned = ctx.planned_locks()
    if not planned:
        return CHECK.result(CheckStatus.PASS, "the pending migrations lock no existing table")
    with check_connection(ctx) as conn:
        locks = blocking_locks(locks_on_tables(conn, list(planned)), planned, ctx.options.lock_min_age_seconds)
    if not locks:
        return CHECK.result(CheckStatus.PASS, f"no conflicting lock on the {len(planned)} table(s) the migrations touch",
                            tables={f"{s}.{t}": mode for (s, t), mode in planned.items()})
    lock_timeout, budget = ctx.apply_lock_timeout, ctx.apply_retry_budget_s
    sessions = {lock.session.pid: lock.session for lock in locks}
    pids = sorted(sessions)
    details = [f"{lock.schema}.{lock.table}: {lock.mode} {'held' if lock.granted else 'awaited'} by "
               f"{lock.session.describe()} (transaction age {lock.session.age_seconds or 0:.0f} s; the migration "
               f"needs {planned[(lock.schema, lock.table)]})" for lock in locks]
    data = {"locks": [{"table": f"{l.schema}.{l.table}", "mode": l.mode, "granted": l.granted, "pid": l.session.pid,
                       "user": l.session.usename, "application": l.session.application_name, "state": l.session.state,
                       "age_seconds": round(l.session.age_seconds or 0, 1), "query": l.session.query} for l in locks],
            "lock_timeout": lock_timeout, "retry_budget_s": budget}
    table_count = len({(l.schema, l.table) for l in locks})
    if waits_unbounded(lock_timeout):
        return CHECK.result(
            CheckStatus.FAIL,
            f"{len(locks)} conflicting lock(s) on {table_count} table(s) the migrations touch, and LOCK_TIMEOUT is 0: "
            "apply would queue behind them and stall every query on the table",
            details, fix=unbounded_fix(pids), **data)
    return CHECK.result(
        CheckStatus.WARN,
        "; ".join(apply_wait_line(sessions[pid], lock_timeout, budget) for pid in pids),
        details, fix=apply_wait_fix(pids, lock_timeout, budget), **data)


CHECK = Check("table-locks", "Locks on the tables to migrate", run,
              why="the migration's lock would queue behind them, and all traffic to the table behind the migration")
