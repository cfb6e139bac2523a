"""xid_wraparound: age of the database's oldest unfrozen transaction ID (age(datfrozenxid)).

Problem: at about 2.1 billion PostgreSQL stops accepting writes to prevent wraparound. Solution:
find what blocks autovacuum from freezing (long transactions, abandoned replication slots,
prepared transactions) and VACUUM (FREEZE) the oldest tables.
"""

from __future__ import annotations

from migration_guard.tasks import catalog
from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem

NAME = "xid_wraparound"
WRAPAROUND = 2**31


def run(ctx: CheckContext) -> Outcome:
    age = catalog.transaction_id_age(ctx.conn)
    limits = ctx.config.thresholds
    percent = 100.0 * age / WRAPAROUND
    summary = f"age(datfrozenxid) {age:,} ({percent:.1f}% of wraparound)"
    severity = "HIGH" if age >= limits.xid_age_critical else "MEDIUM" if age >= limits.xid_age_warn else None
    if severity is None:
        return Outcome(summary, age, "transactions")
    return Outcome(
        summary, age, "transactions",
        Problem(severity, "DATABASE_HEALTH", f"Transaction ID wraparound approaching on {ctx.target.name}",
                f"The oldest unfrozen transaction ID is {age:,} transactions old ({percent:.1f}% of the "
                "point where PostgreSQL stops accepting writes).",
                "If it reaches ~2.1 billion, the database refuses all writes until a manual VACUUM completes.",
                ("SELECT c.oid::regclass, age(c.relfrozenxid) FROM pg_class c WHERE c.relkind IN ('r','m','t') "
                 "ORDER BY 2 DESC LIMIT 10;",
                 "VACUUM (FREEZE, VERBOSE) <table>;   -- for the oldest tables above",
                 "SELECT slot_name, active, xmin, catalog_xmin FROM pg_replication_slots;   -- abandoned slots hold it back",
                 "SELECT pid, xact_start, state FROM pg_stat_activity WHERE backend_xmin IS NOT NULL "
                 "ORDER BY age(backend_xmin) DESC LIMIT 5;")),
    )


CHECK = Check(NAME, "transaction ID wraparound age of the database", run)
