"""Sessions idle in an open transaction, or with long-running transactions, right now."""

from __future__ import annotations

from migration_guard.tasks.catalog import sessions_in_transaction
from migration_guard.tasks.validate.base import Check, check_connection
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


def run(ctx: ValidationContext) -> CheckResult:
    options = ctx.options
    with check_connection(ctx) as conn:
        sessions = sessions_in_transaction(conn, min(options.idle_in_transaction_seconds, options.long_transaction_seconds))
    idle = [s for s in sessions if (s.state or "").startswith("idle in transaction")
            and (s.age_seconds or 0) >= options.idle_in_transaction_seconds]
    long_running = [s for s in sessions if s not in idle and (s.age_seconds or 0) >= options.long_transaction_seconds]
    data = {"sessions": [{"pid": s.pid, "user": s.usename, "application": s.application_name, "state": s.state,
                          "age_seconds": round(s.age_seconds or 0, 1), "query": s.query} for s in idle + long_running]}
    if idle:
        pids = ", ".join(str(s.pid) for s in idle)
        return CHECK.result(
            CheckStatus.FAIL, f"{len(idle)} session(s) idle in an open transaction for over {options.idle_in_transaction_seconds:g} s",
            [f"{s.describe()} (open {s.age_seconds or 0:.0f} s)" for s in idle],
            fix=f"finish or end them: SELECT pg_terminate_backend(pid) FROM unnest(ARRAY[{pids}]) AS pid;  "
                "and set idle_in_transaction_session_timeout", **data)
    if long_running:
        return CHECK.result(
            CheckStatus.WARN, f"{len(long_running)} transaction(s) open for over {options.long_transaction_seconds:g} s",
            [f"{s.describe()} (open {s.age_seconds or 0:.0f} s)" for s in long_running],
            fix="wait for them to finish, or migrate at a quieter time (DDL queues behind them and blocks everyone)", **data)
    return CHECK.result(CheckStatus.PASS, "no idle-in-transaction sessions or long transactions", **data)


CHECK = Check("transactions", "Idle and long-running transactions", run,
              why="DDL waits behind any open transaction on its table, and every later query queues behind the DDL")
