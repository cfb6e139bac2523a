"""The shadow database: an empty database on the same server (or SHADOW_DATABASE_URL), the
migrations replayed into it, and the schema they produce snapshotted.

The shadow database is created on the same server (needs CREATEDB) and dropped afterwards, or the
database named by SHADOW_DATABASE_URL is reset and reused (its target schema is dropped and
re-created; it must not be the live database).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from migration_guard.tasks.db import classify_error, connect, libpq_dsn
from migration_guard.tasks.errors import Category, MigrationGuardError
from migration_guard.tasks.models import Migration
from migration_guard.tasks.project import Project
from migration_guard.tasks.scratch import create_scratch_database, scratch_name
from migration_guard.tasks.schema.model import SchemaSnapshot
from migration_guard.tasks.schema.snapshot import snapshot_schema
from migration_guard.tasks.sql.statements import split_statements


class ShadowDatabaseError(MigrationGuardError):
    """The shadow database could not be created or a migration failed in it."""


def expected_snapshot(project: Project, migrations: Sequence[Migration]) -> tuple[SchemaSnapshot, str]:
    """(snapshot, shadow label) of the schema ``migrations`` produce, built in a shadow database.

    Raises:
        ShadowDatabaseError: the shadow database cannot be created or a migration fails in it.
    """
    with shadow_database(project.dsn, shadow_url_setting(project), project.schema) as (shadow_dsn, label):
        with connect(shadow_dsn, connect_timeout=project.settings.connect_timeout) as shadow:
            apply_migrations(shadow, migrations, project.schema)
            return snapshot_schema(shadow, [project.schema], exclude_tables=ledger_tables(project)), label


def ledger_tables(project: Project) -> set[str]:
    """The ledger tables left out of schema snapshots (they are not part of the application schema)."""
    excluded = {"_prisma_migrations"}
    if project.ledger.table_schema == project.schema:
        excluded.add(project.ledger.table_name)
    return excluded


def apply_migrations(conn: psycopg.Connection, migrations: Sequence[Migration], schema: str) -> None:
    """Run each migration's statements in order on an autocommit connection (shadow use only).

    Raises:
        ShadowDatabaseError: a statement failed; the message names the migration and line.
    """
    if schema != "public":
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    for migration in migrations:
        for statement in split_statements(migration.sql, migration.name):
            try:
                conn.execute(statement.text)
            except psycopg.Error as exc:
                error = classify_error(exc)
                if error.category is Category.DATABASE_CONNECTION:  # the server went away, not the migration
                    raise error from None
                raise ShadowDatabaseError(
                    f"migration {migration.name} (line {statement.line}) failed in the shadow database: "
                    f"{error.original or error.message}",
                    "the applied migrations do not replay cleanly; check that migration",
                ) from None


@contextmanager
def shadow_database(live_dsn: str, shadow_url: str | None, schema: str) -> Iterator[tuple[str, str]]:
    """Yield (dsn, label) of an empty shadow database; drop (or leave reset) it afterwards.

    Raises:
        ShadowDatabaseError: cannot create or reset it (the message says what to configure).
    """
    if shadow_url:
        if _same_database(shadow_url, live_dsn):
            raise ShadowDatabaseError(
                "SHADOW_DATABASE_URL points at the live database",
                "point SHADOW_DATABASE_URL at a separate, disposable database",
            )
        _reset_schema(shadow_url, schema)
        yield shadow_url, "SHADOW_DATABASE_URL"
        _reset_schema(shadow_url, schema)
        return
    name = scratch_name("mg_shadow")
    with connect(live_dsn) as admin:
        try:
            create_scratch_database(admin, name)
        except psycopg.Error as exc:
            error = classify_error(exc, live_dsn)
            if error.category is Category.DATABASE_CONNECTION:
                raise error from None
            raise ShadowDatabaseError(
                f"cannot create a shadow database for the drift check: {error.original or error.message}",
                "grant CREATEDB to the migration role (ALTER ROLE ... CREATEDB) or set SHADOW_DATABASE_URL "
                "to a disposable database",
            ) from None
    try:
        yield make_conninfo(libpq_dsn(live_dsn), dbname=name), f"temporary database {name} (dropped)"
    finally:
        try:
            with connect(live_dsn) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        except (MigrationGuardError, psycopg.Error):  # server gone: the tagged leftover is collected later
            pass


def _reset_schema(dsn: str, schema: str) -> None:
    with connect(dsn) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))


def _same_database(a: str, b: str) -> bool:
    def key(dsn: str) -> tuple:
        params = conninfo_to_dict(libpq_dsn(dsn))
        return (params.get("host") or "localhost", str(params.get("port") or 5432), params.get("dbname"))

    try:
        return key(a) == key(b)
    except psycopg.Error:
        return False


def shadow_url_setting(project: Project) -> str | None:
    """SHADOW_DATABASE_URL as a plain string, or None (then a temporary database is created)."""
    value = project.settings.shadow_database_url
    return value.get_secret_value() if value is not None else None
