"""Drift: the live schema vs a temporary shadow database built by applying the applied migrations.

The shadow database is created on the same server (needs CREATEDB) and dropped afterwards, or the
database named by SHADOW_DATABASE_URL is reset and reused (its target schema is dropped and
re-created; it must not be the live database).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from migration_guard.tasks.db import classify_error, connect, libpq_dsn
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.models import Migration
from migration_guard.tasks.schema.compare import compare_snapshots
from migration_guard.tasks.schema.model import DriftReport, SchemaSnapshot
from migration_guard.tasks.schema.snapshot import snapshot_schema
from migration_guard.tasks.sql.statements import split_statements


class ShadowDatabaseError(MigrationGuardError):
    """The shadow database could not be created or a migration failed in it."""


def check_drift(project, *, migrations: Sequence[Migration] | None = None) -> DriftReport:
    """Compare the live schema with a shadow database built from the applied migrations.

    Args:
        project: a :class:`~migration_guard.tasks.project.Project`.
        migrations: the migrations that should be in effect, in order (default: those the
            ledger records as applied and that exist on disk).

    Returns:
        A :class:`DriftReport`; ``checked`` is False (with ``reason``) when the shadow database
        could not be built, e.g. without CREATEDB and no SHADOW_DATABASE_URL.
    """
    started = time.perf_counter()
    if migrations is None:
        migrations, missing = applied_migrations(project)
        if missing:
            return DriftReport(
                checked=False, reason=f"applied migrations missing locally: {', '.join(missing)}; "
                "restore them to check drift", seconds=time.perf_counter() - started,
            )
    names = [m.name for m in migrations]
    excluded = _excluded_tables(project)
    try:
        expected, label = expected_snapshot(project, migrations)
        with connect(project.dsn, connect_timeout=project.settings.connect_timeout) as live:
            actual = snapshot_schema(live, [project.schema], exclude_tables=excluded)
    except MigrationGuardError as exc:
        reason = f"{exc.message} ({exc.suggestion})" if exc.suggestion else exc.message
        return DriftReport(checked=False, applied_migrations=names, reason=reason,
                           seconds=time.perf_counter() - started)
    differences = compare_snapshots(expected, actual)
    return DriftReport(checked=True, differences=differences, applied_migrations=names, shadow=label,
                       seconds=time.perf_counter() - started)



def expected_snapshot(project, migrations: Sequence[Migration]) -> tuple[SchemaSnapshot, str]:
    """(snapshot, shadow label) of the schema ``migrations`` produce, built in a shadow database.

    Raises:
        ShadowDatabaseError: the shadow database cannot be created or a migration fails in it.
    """
    with shadow_database(project.dsn, _shadow_url_setting(project), project.schema) as (shadow_dsn, label):
        with connect(shadow_dsn, connect_timeout=project.settings.connect_timeout) as shadow:
            apply_migrations(shadow, migrations, project.schema)
            return snapshot_schema(shadow, [project.schema], exclude_tables=_excluded_tables(project)), label


def _excluded_tables(project) -> set[str]:
    excluded = {"_prisma_migrations"}
    if project.ledger.table_schema == project.schema:
        excluded.add(project.ledger.table_name)
    return excluded


def applied_migrations(project) -> tuple[list[Migration], list[str]]:
    """(applied migrations found on disk in apply order, names applied but missing locally)."""
    from migration_guard.tasks.project import read_ledger

    _, entries = read_ledger(project)
    applied = {e.migration_name for e in entries if e.is_applied}
    local = project.ledger.read_migrations()
    local_names = {m.name for m in local}
    return [m for m in local if m.name in applied], sorted(applied - local_names)


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
    name = f"mg_shadow_{uuid.uuid4().hex[:12]}"
    with connect(live_dsn) as admin:
        try:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            error = classify_error(exc, live_dsn)
            raise ShadowDatabaseError(
                f"cannot create a shadow database for the drift check: {error.original or error.message}",
                "grant CREATEDB to the migration role (ALTER ROLE ... CREATEDB) or set SHADOW_DATABASE_URL "
                "to a disposable database",
            ) from None
    try:
        yield make_conninfo(libpq_dsn(live_dsn), dbname=name), f"temporary database {name} (dropped)"
    finally:
        with connect(live_dsn) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


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


def _shadow_url_setting(project) -> str | None:
    value = getattr(project.settings, "shadow_database_url", None)
    return value.get_secret_value() if value is not None else None
