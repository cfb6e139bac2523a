"""long_queries: statements running longer than ``thresholds.long_query``.

Problem: a runaway query holds locks and a snapshot (VACUUM cannot clean up behind it) and eats
CPU / IO. Solution: look at it, then cancel it (pg_cancel_backend) or terminate the session.
"""

from __future__ import annotations

from migration_guard.tasks import catalog
from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.checks.fixes import terminate_backend
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.durations import format_duration

NAME = "long_queries"


def run(ctx: CheckContext) -> Outcome:
    limit = ctx.config.thresholds.long_query
    sessions = catalog.long_running_queries(ctx.conn, limit.total_seconds())
    if not sessions:
        return Outcome(f"no query running longer than {format_duration(limit)}", 0, "sessions")
    oldest = sessions[0]
    return Outcome(
        f"{len(sessions)} query(ies) running longer than {format_duration(limit)}; oldest pid {oldest.pid} "
        f"for {format_duration(oldest.age_seconds or 0)}", len(sessions), "sessions",
        Problem("MEDIUM", "DATABASE_HEALTH", f"Long-running queries on {ctx.target.name}",
                f"{len(sessions)} statement(s) running longer than {format_duration(limit)}. Oldest: "
                f"{oldest.describe()}",
                "Long statements hold locks and block VACUUM; writes to the same tables can queue behind them.",
                tuple(f"SELECT pg_cancel_backend({s.pid});   -- cancel the statement, keep the session"
                      for s in sessions[:3])
                + (f"{terminate_backend(oldest.pid)}   -- if cancel does not stop it",)),
    )


CHECK = Check(NAME, "statements running longer than thresholds.long_query", run)
