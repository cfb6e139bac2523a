"""lock_waits: sessions waiting for a lock longer than ``thresholds.lock_wait``.

Problem: requests stall behind the lock holder (a migration's ALTER queues everyone behind it).
Solution: find the blocking pid and end its transaction.
"""

from __future__ import annotations

from migration_guard.tasks import catalog
from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.checks.fixes import terminate_backend
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.durations import format_duration

NAME = "lock_waits"


def run(ctx: CheckContext) -> Outcome:
    limit = ctx.config.thresholds.lock_wait
    waits = catalog.blocked_lock_waits(ctx.conn, limit.total_seconds())
    if not waits:
        return Outcome(f"no lock wait longer than {format_duration(limit)}", 0, "sessions")
    longest = max(waits, key=lambda w: w.wait_seconds)
    blockers = sorted({pid for w in waits for pid in w.blocking_pids})
    on = f" on {longest.relation}" if longest.relation else ""
    return Outcome(
        f"{len(waits)} session(s) waiting for locks; longest {format_duration(longest.wait_seconds)}{on}",
        round(longest.wait_seconds, 1), "s",
        Problem("MEDIUM", "DATABASE_HEALTH", f"Sessions blocked on locks on {ctx.target.name}",
                f"{len(waits)} session(s) waiting longer than {format_duration(limit)} for a lock{on}; "
                f"blocked: {longest.waiting.describe()}; blocking pid(s): {', '.join(map(str, blockers)) or 'unknown'}",
                "Requests touching the locked tables stall until the blocker finishes.",
                tuple(f"SELECT pid, state, xact_start, query FROM pg_stat_activity WHERE pid = {pid};" for pid in blockers[:3])
                + tuple(f"{terminate_backend(pid)}   -- ends the blocking transaction" for pid in blockers[:3])),
    )


CHECK = Check(NAME, "sessions waiting for a lock longer than thresholds.lock_wait", run)
