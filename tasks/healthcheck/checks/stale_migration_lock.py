"""stale_migration_lock: a migration advisory lock (Prisma's or ours) held by an idle session for
longer than ``thresholds.stale_migration_lock``.

Problem: every later migrate waits on the lock (or times out) although nothing is migrating.
Solution: terminate the idle session holding it.
"""

from __future__ import annotations

from migration_guard.tasks import catalog
from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.checks.fixes import terminate_backend
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.durations import format_duration
from migration_guard.tasks.ledgers.prisma import PrismaLedger
from migration_guard.tasks.ledgers.sqldir import SqlDirLedger

NAME = "stale_migration_lock"
LOCK_KEYS = {"prisma": PrismaLedger.lock_key, "migration-guard": SqlDirLedger.lock_key}


def run(ctx: CheckContext) -> Outcome:
    limit = ctx.config.thresholds.stale_migration_lock.total_seconds()
    stale = []
    for owner, key in LOCK_KEYS.items():
        sessions = catalog.migration_sessions(ctx.conn, key)
        # migration-guard migrate holds the lock on an idle session while another one applies
        applying = any(s.application_name == "migration-guard migrate" for s in sessions)
        for holder in catalog.advisory_lock_holders(ctx.conn, key):
            idle_for = (ctx.now - holder.state_change).total_seconds() if holder.state_change else 0
            if applying and holder.application_name == "migration-guard migrate lock":
                continue
            if holder.state != "active" and idle_for >= limit:
                stale.append((owner, key, holder, idle_for))
    if not stale:
        return Outcome("no stale migration lock", 0, "locks")
    owner, key, holder, idle_for = stale[0]
    return Outcome(
        f"{owner} migration lock {key} held by idle pid {holder.pid} for {format_duration(idle_for)}",
        round(idle_for), "s",
        Problem("HIGH", "DATABASE_MIGRATION", f"Migration lock held by an idle session on {ctx.target.name}",
                f"The {owner} migration lock (pg_advisory_lock({key})) has been held for "
                f"{format_duration(idle_for)} by a session doing nothing: {holder.describe()}",
                "Every migration waits for this lock and fails; deploys are blocked.",
                (f"{terminate_backend(holder.pid)}   -- after checking no migration is running",
                 f"SELECT pid, state, state_change, query FROM pg_stat_activity WHERE pid = {holder.pid};")),
    )


CHECK = Check(NAME, "a migration advisory lock held by an idle session", run)
