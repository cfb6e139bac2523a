"""replication_lag: on a replica, seconds since the last replayed transaction; OK on a primary.

Problem: reads from a lagging replica return stale data. Solution: look at the replica's WAL
receiver and the primary's replication slots; check network and replica IO.
"""

from __future__ import annotations

from migration_guard.tasks import catalog
from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.healthcheck.config import Thresholds
from migration_guard.tasks.durations import format_duration

NAME = "replication_lag"


def run(ctx: CheckContext) -> Outcome:
    is_replica, lag = catalog.replication_lag_seconds(ctx.conn)
    return evaluate(is_replica, lag, ctx.config.thresholds, ctx.target.name)


def evaluate(is_replica: bool, lag: float | None, limits: Thresholds, database: str) -> Outcome:
    """Decide on (is a replica, lag seconds) — plain data."""
    if not is_replica:
        return Outcome("primary (not a replica)", 0, "s")
    if lag is None:
        return Outcome("replica, nothing replayed yet", None, "s", unknown=True)
    summary = f"replica {format_duration(lag)} behind"
    severity = ("HIGH" if lag >= limits.replication_lag_critical.total_seconds()
                else "MEDIUM" if lag >= limits.replication_lag_warn.total_seconds() else None)
    if severity is None:
        return Outcome(summary, round(lag, 1), "s")
    return Outcome(
        summary, round(lag, 1), "s",
        Problem(severity, "DATABASE_HEALTH", f"Replica {database} is {format_duration(lag)} behind",
                f"The last transaction replayed on {database} is {format_duration(lag)} old.",
                "Reads served by this replica return stale data; a failover would lose recent writes.",
                ("SELECT status, sender_host, latest_end_lsn, latest_end_time FROM pg_stat_wal_receiver;   -- on the replica",
                 "SELECT application_name, state, replay_lag FROM pg_stat_replication;   -- on the primary")),
    )


CHECK = Check(NAME, "replay lag of a replica (OK on a primary)", run)
