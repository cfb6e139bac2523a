"""Live lint's exact size probes: statistics can be stale (a table ANALYZEd while empty keeps
``reltuples = 0`` until auto-analyze, which needs 50 + 10% changed rows), so before believing a zero
the linter looks at the table itself.

- ``relpages`` vs the table's current size in pages: PostgreSQL's planner scales ``reltuples`` by the
  current number of pages; so do we.
- when ``reltuples`` is 0 or -1 but the table has pages: the planner's own estimate for the current
  pages (``EXPLAIN SELECT * FROM t``: density from the column widths), and ``n_live_tup``
  (cumulative statistics, updated as rows are written).
- ``SELECT EXISTS (SELECT 1 FROM t)`` when the estimate is still zero: exact and cheap (stops at the
  first visible row), run with a short lock_timeout/statement_timeout so a table locked by someone
  else is "unknown", never "empty".
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

    from migration_guard.tasks.catalog import TableStats

#: Bounds of the EXISTS probe (it takes ACCESS SHARE, so it waits behind an ACCESS EXCLUSIVE holder).
PROBE_LOCK_TIMEOUT = "500ms"
PROBE_STATEMENT_TIMEOUT = "2s"

_PAGES_QUERY = (
    "SELECT n.nspname, c.relname, c.relpages, c.reltuples, "
    "pg_relation_size(c.oid) / current_setting('block_size')::int, coalesce(s.n_live_tup, 0) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid "
    "JOIN unnest(%s::text[], %s::text[]) AS t(s, r) ON t.s = n.nspname AND t.r = c.relname "
    "WHERE c.relkind IN ('r', 'p', 'm')"
)


def refine_estimates(conn: psycopg.Connection, stats: dict[tuple[str, str], TableStats]) -> dict[tuple[str, str], TableStats]:
    """``stats`` with row estimates corrected for stale statistics (one query for all tables):
    ``reltuples`` scaled to the current pages, or ``n_live_tup`` when ``reltuples`` is 0 / -1."""
    if not stats:
        return stats
    keys = list(stats)
    rows = conn.execute(_PAGES_QUERY, ([k[0] for k in keys], [k[1] for k in keys])).fetchall()
    refined = dict(stats)
    for schema, table, relpages, reltuples, pages_now, live in rows:
        key = (schema, table)
        if key not in refined:
            continue
        estimate = int(refined[key].estimated_rows)
        if reltuples > 0 and relpages > 0:
            estimate = max(estimate, int(reltuples / relpages * pages_now))
        elif pages_now > 0:
            planned = planner_rows(conn, key)
            if planned is not None:
                estimate = max(estimate, planned)
        if int(live) > max(estimate, 0):
            estimate = int(live)
        refined[key] = replace(refined[key], estimated_rows=estimate)
    return refined


def planner_rows(conn: psycopg.Connection, key: tuple[str, str]) -> int | None:
    """The planner's row estimate for the whole table (EXPLAIN, not executed), or None in time."""
    from psycopg import sql

    query = sql.SQL("EXPLAIN (FORMAT JSON) SELECT * FROM {}").format(sql.Identifier(*key))
    result = _bounded(conn, query)
    return int(result[0]["Plan"]["Plan Rows"]) if result is not None else None


def _bounded(conn: psycopg.Connection, query):
    """The first column of the first row of ``query`` under the probe's timeouts, or None."""
    import psycopg

    try:
        with conn.transaction():  # a savepoint inside a caller's transaction: the timeouts are put back
            old = conn.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout'), "
                               "set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)",
                               (PROBE_LOCK_TIMEOUT, PROBE_STATEMENT_TIMEOUT)).fetchone()
            value = conn.execute(query).fetchone()[0]
            conn.execute("SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)",
                         (old[0], old[1]))
            return value
    except psycopg.Error:
        return None


def table_has_rows(conn: psycopg.Connection, key: tuple[str, str]) -> bool | None:
    """Exactly whether the table has a visible row (``SELECT EXISTS``), or None when it cannot be
    told in time (locked by another session, no privilege)."""
    from psycopg import sql

    found = _bounded(conn, sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(*key)))
    return None if found is None else bool(found)


def probe_emptiness(conn: psycopg.Connection, stats: dict[tuple[str, str], TableStats]) -> dict[tuple[str, str], bool]:
    """table → has rows, for every table whose (refined) estimate is zero or unknown; tables whose
    probe could not run are left out (so they are never taken for empty)."""
    found = {}
    for key, item in stats.items():
        if item.estimated_rows <= 0:
            has_rows = table_has_rows(conn, key)
            if has_rows is not None:
                found[key] = has_rows
    return found
