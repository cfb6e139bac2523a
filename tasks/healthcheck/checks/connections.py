"""connections: client connections vs max_connections (minus the superuser reserve).

Problem: when connections run out, new requests fail with "too many clients". Solution: find idle
sessions and pools that hold too many connections; raise max_connections or add a pooler.
"""

from __future__ import annotations

from migration_guard.tasks import catalog
from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem

NAME = "connections"


def run(ctx: CheckContext) -> Outcome:
    usage = catalog.connection_usage(ctx.conn)
    limits = ctx.config.thresholds
    summary = f"{usage.used} of {usage.available} connections ({usage.percent:.0f}%)"
    severity = ("HIGH" if usage.percent >= limits.connections_critical_percent
                else "MEDIUM" if usage.percent >= limits.connections_warn_percent else None)
    if severity is None:
        return Outcome(summary, round(usage.percent, 1), "percent")
    return Outcome(
        summary, round(usage.percent, 1), "percent",
        Problem(severity, "DATABASE_HEALTH", f"Connections almost exhausted on {ctx.target.name}",
                f"{usage.used} of {usage.available} available connections are in use ({usage.percent:.0f}%, "
                f"max_connections {usage.max_connections}).",
                "When none are left, new requests fail with 'sorry, too many clients already'.",
                ("SELECT usename, application_name, state, count(*) FROM pg_stat_activity "
                 "GROUP BY 1, 2, 3 ORDER BY 4 DESC;",
                 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle' "
                 "AND state_change < now() - interval '1 hour';   -- idle for an hour",
                 "put a pooler (PgBouncer) in front, or raise max_connections")),
    )


CHECK = Check(NAME, "client connections vs max_connections", run)
