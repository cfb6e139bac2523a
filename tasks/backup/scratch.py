"""Scratch databases for restore checks and per-table row counts (one count query per table)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg import sql

from migration_guard.tasks.db import connection, libpq_dsn
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.scratch import create_scratch_database, scratch_name


def dsn_for_database(dsn: str, dbname: str) -> str:
    """``dsn`` pointed at another database on the same server."""
    return pg_conninfo.make_conninfo(libpq_dsn(dsn), dbname=dbname)


def create_database(dsn: str, name: str) -> None:
    """CREATE DATABASE ``name`` (from template0) on the server of ``dsn``."""
    with connection(dsn) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))


def drop_database(dsn: str, name: str) -> None:
    """DROP DATABASE IF EXISTS ``name`` WITH (FORCE), from a connection to ``dsn``'s database."""
    with connection(dsn) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_exists(dsn: str, name: str) -> bool:
    with connection(dsn) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


@contextmanager
def scratch_database(dsn: str, prefix: str = "mg_verify") -> Iterator[str]:
    """A new empty database on ``dsn``'s server, named and tagged as migration-guard's scratch
    (``tasks/scratch.py``: a leftover is collected once its creator is gone), dropped on exit
    whatever happens; yields its name."""
    name = scratch_name(prefix)
    with connection(dsn) as conn:
        create_scratch_database(conn, name)
    try:
        yield name
    finally:
        try:
            drop_database(dsn, name)
        except MigrationGuardError:  # server gone mid-check: the tagged leftover is collected later
            pass


def user_tables(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(schema, table) of every ordinary table outside the system schemas."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%' ORDER BY 1, 2"
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def row_counts(conn: psycopg.Connection, tables: list[tuple[str, str]]) -> dict[str, int]:
    """Exact ``count(*)`` of each table that exists, keyed ``schema.table``."""
    existing = set(user_tables(conn))
    counts: dict[str, int] = {}
    for schema, table in tables:
        if (schema, table) not in existing:
            continue
        query = sql.SQL("SELECT count(*) FROM ONLY {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        counts[f"{schema}.{table}"] = int(conn.execute(query).fetchone()[0])  # type: ignore[index]
    return counts
