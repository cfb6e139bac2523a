"""query_regressions: frequent statements markedly slower since the last migration (pg_stat_statements).

Around the latest migration finished within the last 24 hours, compares each frequent
statement's mean time per call before it (up to the snapshot safe-migrate took before applying,
else the healthcheck's last hourly snapshot before the migration finished) with its mean since
(counters now minus that snapshot). Every migration finished after that snapshot is named.

Problem: a migration that drops an index a query needs (or leaves it INVALID, or changes a
column's type) turns a millisecond lookup into a scan; nothing fails, everything gets slower.
Solution: look at the named query's plan (EXPLAIN) and restore what it lost.
"""

from __future__ import annotations

from datetime import timedelta

from migration_guard.tasks.catalog import IndexInfo, invalid_indexes
from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.history.causes import Cause, likely_causes
from migration_guard.tasks.history.collect import StatementsUnavailable, read_statements
from migration_guard.tasks.history.statements import MIN_CALLS, SLOWDOWN_FACTOR, Regression, regressions
from migration_guard.tasks.history.backend import reading_store
from migration_guard.tasks.history.store import database_key
from migration_guard.tasks.models import LedgerEntry, Migration

NAME = "query_regressions"
#: migrations finished this recently are compared; older ones are settled
RECENT = timedelta(hours=24)
QUERY_SHOWN = 160


def recent_migrations(ctx: CheckContext) -> tuple[list[LedgerEntry], list[Migration]] | None:
    """(ledger entries applied within ``RECENT``, oldest first; the migrations on disk, in order);
    None without a migrations folder or ledger table."""
    if ctx.target.migrations_dir is None:
        return None
    from migration_guard.tasks.ledgers import get_ledger

    ledger = get_ledger(ctx.target.migration_tool or getattr(ctx.settings, "migration_tool", None),
                        ctx.target.migrations_dir, ctx.target.schema or "public")
    if not ledger.table_exists(ctx.conn):
        return None
    entries = [e for e in ledger.read_entries(ctx.conn)
               if e.is_applied and e.finished_at is not None and e.finished_at >= ctx.now - RECENT]
    return sorted(entries, key=lambda e: e.finished_at), ledger.read_migrations()


def causes_of(regression: Regression, applied: list[str], on_disk: list[Migration],
              invalid: list[IndexInfo]) -> list[Cause]:
    """What the applied migrations did to the tables the query reads (from their SQL), and the
    INVALID indexes on those tables."""
    names = set(applied)
    first = next((i for i, m in enumerate(on_disk) if m.name in names), len(on_disk))
    return likely_causes([m for m in on_disk if m.name in names], on_disk[:first], regression.query, invalid)


def short(query: str) -> str:
    """A query on one line, cut at ``QUERY_SHOWN`` characters."""
    text = " ".join(query.split())
    return text if len(text) <= QUERY_SHOWN else text[:QUERY_SHOWN - 1] + "…"


def fix_line(cause: Cause) -> str:
    """The cause's statement with what it does (both run CONCURRENTLY: no write lock)."""
    what = "rebuilds it" if cause.fix.startswith("REINDEX") else f"re-creates what {cause.migration} dropped"
    return f"{cause.fix}   -- {what} (no write lock)"


def describe(r: Regression) -> str:
    return (f"`{short(r.query)}`: {r.before.mean_ms:.2f} ms -> {r.after.mean_ms:.2f} ms per call "
            f"({r.factor:.0f}x; {r.before.calls:,} calls before, {r.after.calls:,} after)")


def run(ctx: CheckContext) -> Outcome:
    now_counters = read_statements(ctx.conn)
    if isinstance(now_counters, StatementsUnavailable):
        return Outcome(f"not monitored: {now_counters.reason}; to enable it: {now_counters.how_to_enable}")
    found = recent_migrations(ctx)
    migrations, on_disk = found if found is not None else ([], [])
    if not migrations:
        return Outcome(f"no migration applied in the last {RECENT.total_seconds() / 3600:.0f} h to compare around",
                       0, "queries")
    key = database_key(ctx.target.dsn)
    last = migrations[-1].finished_at
    with reading_store(ctx.settings) as store:
        snapshots = ([s for s in store.statement_snapshots(key, last - RECENT - timedelta(days=7)) if s.at <= last]
                     if store is not None else [])
        if not snapshots:
            return Outcome(f"no pg_stat_statements snapshot from before {migrations[-1].migration_name}: "
                           "nothing to compare (safe-migrate and each healthcheck take one)", 0, "queries")
        baseline = snapshots[-1]
        earlier = snapshots[-2] if len(snapshots) > 1 else None
        baseline_counters = store.statement_counters(key, baseline.id)
        earlier_counters = store.statement_counters(key, earlier.id) if earlier is not None else None
    applied = [m.migration_name for m in migrations if m.finished_at >= baseline.at]
    slower = regressions(earlier_counters, baseline_counters, {c.queryid: c for c in now_counters})
    names = ", ".join(applied) or migrations[-1].migration_name
    if not slower:
        return Outcome(f"no frequent query (>= {MIN_CALLS} calls) slower after {names}", 0, "queries")
    worst = slower[0]
    lines = [describe(r) for r in slower[:5]]
    causes = causes_of(worst, applied, on_disk, invalid_indexes(ctx.conn))
    cause_text = (" Likely cause: " + "; ".join(f"{c.migration}: {c.text}" for c in causes) + ".") if causes else ""
    return Outcome(
        f"{len(slower)} query(ies) slower after {names}; worst {describe(worst)}", len(slower), "queries",
        Problem("MEDIUM", "PERFORMANCE", f"Query {worst.factor:.0f}x slower after migration {applied[-1] if applied else names} "
                f"on {ctx.target.name}",
                f"Since {names} was applied, {len(slower)} frequent query(ies) take at least {SLOWDOWN_FACTOR:.0f}x "
                "longer per call (pg_stat_statements): " + "; ".join(lines) + "." + cause_text,
                "Every call of these queries is slower; under load the database saturates and requests time out.",
                (*(fix_line(c) for c in causes if c.fix),
                 f"EXPLAIN (ANALYZE, BUFFERS) {short(worst.query)};   -- replace $1, $2 ... with real values",
                 f"look in {names} for a dropped index or a changed column type on the tables this query reads"),
                key=worst.queryid),
    )


CHECK = Check(NAME, "frequent queries slower since the last migration (pg_stat_statements)", run)
