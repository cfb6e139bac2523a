"""table_stats never waits behind a session holding ACCESS EXCLUSIVE on the table (a migration
running now): it falls back to the catalog's page counts within about half a second."""

from __future__ import annotations

import time

import psycopg

from migration_guard.tasks.catalog import table_stats


def test_a_locked_table_is_sized_from_the_catalog_without_waiting(db_url: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE big AS SELECT g FROM generate_series(1, 20000) g")
    db.execute("ANALYZE big")
    exact = table_stats(db, [("public", "big")])[("public", "big")]
    with psycopg.connect(db_url) as holder:
        holder.execute("LOCK TABLE big IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        locked = table_stats(db, [("public", "big")])[("public", "big")]
        waited = time.monotonic() - started
        holder.rollback()
    assert waited < 3, waited
    assert locked.estimated_rows == exact.estimated_rows == 20000
    assert 0.5 * exact.total_bytes <= locked.total_bytes <= 1.5 * exact.total_bytes


def test_a_callers_transaction_keeps_its_lock_timeout(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE t (id int)")
        conn.execute("SET LOCAL lock_timeout = '7s'")
        table_stats(conn, [("public", "t")])
        assert conn.execute("SHOW lock_timeout").fetchone()[0] == "7s"
