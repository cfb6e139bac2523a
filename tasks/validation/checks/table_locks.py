"""Locks other sessions hold (or wait for) on the tables the pending migrations touch."""

from __future__ import annotations

from migration_guard.tasks.catalog import locks_on_tables
from migration_guard.tasks.db import connection
from migration_guard.tasks.validation.base import Check
from migration_guard.tasks.validation.context import ValidationContext
from migration_guard.tasks.validation.model import CheckResult, CheckStatus


def run(ctx: ValidationContext) -> CheckResult:
    touched = ctx.touched_tables()
    if touched is None:
        return CHECK.result(CheckStatus.WARN, "lock analysis unavailable (migration_guard.tasks.sql.locks is not installed)",
                            fix="the idle/long transaction check still covers open transactions")
    if not touched:
        return CHECK.result(CheckStatus.PASS, "the pending migrations touch no existing table")
    with connection(ctx.dsn, connect_timeout=ctx.connect_timeout) as conn:
        locks = locks_on_tables(conn, touched)
    if locks:
        details = [f"{lock.schema}.{lock.table}: {lock.mode} {'held' if lock.granted else 'awaited'} by "
                   f"{lock.session.describe()} (age {lock.session.age_seconds or 0:.0f} s)" for lock in locks]
        pids = sorted({lock.session.pid for lock in locks})
        return CHECK.result(
            CheckStatus.FAIL, f"{len(locks)} lock(s) held on {len({(l.schema, l.table) for l in locks})} table(s) the migrations touch",
            details, fix=f"wait for pid(s) {', '.join(map(str, pids))} to finish, or end them: SELECT pg_terminate_backend(<pid>);",
            locks=[{"table": f"{l.schema}.{l.table}", "mode": l.mode, "granted": l.granted, "pid": l.session.pid,
                    "user": l.session.usename, "application": l.session.application_name,
                    "age_seconds": round(l.session.age_seconds or 0, 1), "query": l.session.query} for l in locks])
    return CHECK.result(CheckStatus.PASS, f"no other session holds a lock on the {len(touched)} table(s) the migrations touch",
                        tables=[f"{s}.{t}" for s, t in touched])


CHECK = Check("table-locks", "Locks on the tables to migrate", run,
              why="the migration's ACCESS EXCLUSIVE lock would queue behind them and block all traffic to the table")
