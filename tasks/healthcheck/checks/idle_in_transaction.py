"""idle_in_transaction: sessions idle inside an open transaction for longer than
``thresholds.idle_in_transaction``.

Problem: the open transaction keeps its locks and its snapshot; migrations queue behind the locks
and VACUUM cannot remove dead rows. Solution: terminate the session and fix the application code
(or set idle_in_transaction_session_timeout).
"""

from __future__ import annotations

from migration_guard.tasks import catalog
from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.checks.fixes import terminate_backend
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.sql.identifiers import quoted_if_needed
from migration_guard.tasks.durations import format_duration

NAME = "idle_in_transaction"


def run(ctx: CheckContext) -> Outcome:
    limit = ctx.config.thresholds.idle_in_transaction
    sessions = catalog.idle_in_transaction_sessions(ctx.conn, limit.total_seconds())
    if not sessions:
        return Outcome(f"no session idle in transaction longer than {format_duration(limit)}", 0, "sessions")
    oldest = sessions[0]
    return Outcome(
        f"{len(sessions)} session(s) idle in transaction; oldest pid {oldest.pid} for "
        f"{format_duration(oldest.age_seconds or 0)}", len(sessions), "sessions",
        Problem("MEDIUM", "DATABASE_HEALTH", f"Sessions idle in transaction on {ctx.target.name}",
                f"{len(sessions)} session(s) idle inside an open transaction longer than {format_duration(limit)}. "
                f"Oldest: {oldest.describe()}",
                "Their locks block migrations and writes; VACUUM cannot clean up behind their snapshot.",
                tuple(terminate_backend(s.pid) for s in sessions[:3])
                + (f"ALTER DATABASE {quoted_if_needed(ctx.conn.info.dbname)} SET idle_in_transaction_session_timeout = '10min';",)),
    )


CHECK = Check(NAME, "sessions idle inside an open transaction", run)
