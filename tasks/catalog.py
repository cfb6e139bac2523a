"""Catalog lookups shared by validate, healthcheck, safe-migrate and recover.

One query per object kind, never per-table loops or information_schema joins (see FIELD-NOTES).
Every function takes an open connection and returns plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from migration_guard.tasks.models import LiveSession


@dataclass(frozen=True)
class SessionInfo:
    """A backend from pg_stat_activity, enough to name it in an error or an alert."""

    pid: int
    usename: str | None
    application_name: str | None
    client_addr: str | None
    state: str | None
    backend_start: datetime | None
    xact_start: datetime | None
    state_change: datetime | None
    query: str | None
    age_seconds: float | None = None

    def describe(self) -> str:
        """One line: pid, user, application, client, state, since when, query."""
        since = f" since {self.xact_start or self.backend_start:%Y-%m-%d %H:%M:%S}" if (self.xact_start or self.backend_start) else ""
        query = (self.query or "").strip().replace("\n", " ")
        if len(query) > 120:
            query = query[:117] + "..."
        return (
            f"pid {self.pid} (user {self.usename or '?'}, application {self.application_name or '?'!r}, "
            f"client {self.client_addr or 'local'}, {self.state or '?'}{since}): {query}"
        )


_SESSION_COLUMNS = """
    a.pid, a.usename::text, a.application_name, host(a.client_addr) AS client_addr, a.state,
    a.backend_start, a.xact_start, a.state_change, a.query,
    EXTRACT(EPOCH FROM (now() - coalesce(a.xact_start, a.state_change, a.backend_start)))::float8 AS age_seconds
"""


def advisory_key_parts(key: int) -> tuple[int, int]:
    """(classid, objid) under which pg_locks shows a bigint advisory lock key."""
    return (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF


def advisory_lock_holders(conn: psycopg.Connection, key: int) -> list[SessionInfo]:
    """Sessions holding the session-level advisory lock ``key`` (e.g. Prisma's 72707369)."""
    classid, objid = advisory_key_parts(key)
    with conn.cursor(row_factory=class_row(SessionInfo)) as cur:
        cur.execute(
            f"SELECT {_SESSION_COLUMNS} FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s "
            "AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (classid, objid),
        )
        return cur.fetchall()


def migration_sessions(conn: psycopg.Connection, key: int) -> list[LiveSession]:
    """Other client sessions of this database that may be applying a migration, in one query: the
    holders of the migration advisory lock ``key``, migration-guard's own migrate sessions, and
    every session running a statement now (the caller matches their queries to a migration)."""
    classid, objid = advisory_key_parts(key)
    rows = conn.execute(
        "SELECT a.pid, a.application_name, a.state, a.query, a.backend_start, a.query_start, "
        "EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted "
        "AND l.classid = %s AND l.objid = %s AND l.objsubid = 1 AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())) AS holds_lock, "
        "a.usename::text, host(a.client_addr) "
        "FROM pg_stat_activity a WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() "
        "AND a.backend_type = 'client backend' ORDER BY a.backend_start",
        (classid, objid),
    ).fetchall()
    sessions = [LiveSession(*r) for r in rows]
    return [s for s in sessions if s.holds_lock or s.state == "active"
            or (s.application_name or "").startswith("migration-guard migrate")]


def sessions_in_transaction(conn: psycopg.Connection, min_age_seconds: float = 0) -> list[SessionInfo]:
    """Other sessions of this database with an open transaction older than ``min_age_seconds``
    (idle in transaction, or running a long statement)."""
    with conn.cursor(row_factory=class_row(SessionInfo)) as cur:
        cur.execute(
            f"SELECT {_SESSION_COLUMNS} FROM pg_stat_activity a "
            "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL "
            "AND a.backend_type = 'client backend' "
            "AND now() - a.xact_start >= make_interval(secs => %s) ORDER BY a.xact_start",
            (min_age_seconds,),
        )
        return cur.fetchall()


@dataclass(frozen=True)
class TableLock:
    """A lock another session holds (or waits for) on a table."""

    schema: str
    table: str
    mode: str
    granted: bool
    session: SessionInfo


def locks_on_tables(conn: psycopg.Connection, tables: list[tuple[str, str]]) -> list[TableLock]:
    """Locks other sessions hold or wait for on the given (schema, table) pairs."""
    if not tables:
        return []
    schemas = [t[0] for t in tables]
    names = [t[1] for t in tables]
    rows = conn.execute(
        f"SELECT n.nspname, c.relname, l.mode, l.granted, {_SESSION_COLUMNS} "
        "FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_stat_activity a ON a.pid = l.pid "
        "JOIN unnest(%s::text[], %s::text[]) AS t(s, r) ON t.s = n.nspname AND t.r = c.relname "
        "WHERE l.locktype = 'relation' AND l.pid <> pg_backend_pid() ORDER BY a.xact_start",
        (schemas, names),
    ).fetchall()
    return [TableLock(r[0], r[1], r[2], r[3], SessionInfo(*r[4:])) for r in rows]


@dataclass(frozen=True)
class IndexInfo:
    """An index with ``indisvalid = false``.

    Attributes:
        builder_pid: the backend building it right now (CREATE INDEX CONCURRENTLY / REINDEX in
            progress, from pg_stat_progress_create_index), else None: then it is debris, left by a
            build that failed or was cancelled.
    """

    schema: str
    table: str
    name: str
    definition: str
    valid: bool
    ready: bool
    builder_pid: int | None = None

    @property
    def being_built(self) -> bool:
        """A live session is building it: invalid until the build ends, not debris."""
        return self.builder_pid is not None


def invalid_indexes(conn: psycopg.Connection) -> list[IndexInfo]:
    """Every INVALID index outside the system schemas, saying which are being built right now."""
    rows = conn.execute(
        "SELECT n.nspname, t.relname, c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisready, "
        "(SELECT min(p.pid) FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid) "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "ORDER BY 1, 2, 3"
    ).fetchall()
    return [IndexInfo(*r) for r in rows]


@dataclass(frozen=True)
class ConstraintInfo:
    schema: str
    table: str
    name: str
    type: str  # 'f' foreign key, 'c' check, 'u' unique, 'p' primary key, 'x' exclusion, 'n' not null
    definition: str
    validated: bool


def not_valid_constraints(conn: psycopg.Connection) -> list[ConstraintInfo]:
    """Constraints added NOT VALID and never validated."""
    rows = conn.execute(
        "SELECT n.nspname, t.relname, c.conname, c.contype::text, pg_get_constraintdef(c.oid), c.convalidated "
        "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE NOT c.convalidated AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3"
    ).fetchall()
    return [ConstraintInfo(*r) for r in rows]


@dataclass(frozen=True)
class TableStats:
    schema: str
    table: str
    estimated_rows: int  # pg_class.reltuples; -1 = never analyzed
    total_bytes: int


def table_stats(conn: psycopg.Connection, tables: list[tuple[str, str]]) -> dict[tuple[str, str], TableStats]:
    """Row estimates and total sizes of the given (schema, table) pairs that exist, in one query.

    The exact size needs a lock on each table; behind a session holding ACCESS EXCLUSIVE (a
    migration running now) it gives up after 500 ms and uses the page counts the catalog keeps
    (lock-free, as fresh as the last VACUUM / ANALYZE) instead of waiting.
    """
    if not tables:
        return {}
    params = ([t[0] for t in tables], [t[1] for t in tables])
    previous = conn.execute("SELECT current_setting('lock_timeout')").fetchone()[0]
    try:
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', '500ms', true)")
            rows = conn.execute(_TABLE_STATS.format(size="pg_total_relation_size(c.oid)"), params).fetchall()
    except psycopg.errors.LockNotAvailable:
        rows = conn.execute(_TABLE_STATS.format(size=_SIZE_FROM_PAGES), params).fetchall()
    finally:
        if not conn.autocommit:  # a caller's transaction keeps its own lock_timeout
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (previous,))
    return {(r[0], r[1]): TableStats(r[0], r[1], int(r[2]), int(r[3])) for r in rows}


_TABLE_STATS = (
    "SELECT n.nspname, c.relname, c.reltuples::bigint, {size} "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN unnest(%s::text[], %s::text[]) AS t(s, r) ON t.s = n.nspname AND t.r = c.relname "
    "WHERE c.relkind IN ('r', 'p', 'm')"
)
_SIZE_FROM_PAGES = (
    "((c.relpages + coalesce((SELECT tc.relpages FROM pg_class tc WHERE tc.oid = c.reltoastrelid), 0) "
    "+ coalesce((SELECT sum(ic.relpages) FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid "
    "WHERE x.indrelid = c.oid), 0))::bigint * current_setting('block_size')::bigint)"
)


def server_version_num(conn: psycopg.Connection) -> int:
    """server_version_num, e.g. 150020."""
    return int(conn.info.server_version)


def current_settings(conn: psycopg.Connection, names: list[str]) -> dict[str, Any]:
    """Several GUC values in one query."""
    rows = conn.execute(
        "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", (names,)
    ).fetchall()
    return dict(rows)


# --- health monitoring (healthcheck): one query each -------------------------------------------

def _sessions_aged_by(age_expression: str) -> str:
    return (
        "a.pid, a.usename::text, a.application_name, host(a.client_addr) AS client_addr, a.state, "
        "a.backend_start, a.xact_start, a.state_change, a.query, "
        f"EXTRACT(EPOCH FROM (now() - {age_expression}))::float8 AS age_seconds"
    )


@dataclass(frozen=True)
class ConnectionUsage:
    used: int
    max_connections: int
    reserved: int

    @property
    def available(self) -> int:
        """Connections ordinary roles can open (max_connections minus the superuser reserve)."""
        return max(self.max_connections - self.reserved, 1)

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.available


def connection_usage(conn: psycopg.Connection) -> ConnectionUsage:
    """Client connections of the whole server vs max_connections - superuser_reserved_connections."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), "
        "current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int"
    ).fetchone()
    return ConnectionUsage(int(row[0]), int(row[1]), int(row[2]))


def long_running_queries(conn: psycopg.Connection, min_age_seconds: float) -> list[SessionInfo]:
    """Sessions of this database running one statement for at least ``min_age_seconds``."""
    with conn.cursor(row_factory=class_row(SessionInfo)) as cur:
        cur.execute(
            f"SELECT {_sessions_aged_by('a.query_start')} FROM pg_stat_activity a "
            "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() "
            "AND a.backend_type = 'client backend' AND a.state = 'active' "
            "AND now() - a.query_start >= make_interval(secs => %s) ORDER BY a.query_start",
            (min_age_seconds,),
        )
        return cur.fetchall()


def idle_in_transaction_sessions(conn: psycopg.Connection, min_age_seconds: float) -> list[SessionInfo]:
    """Sessions of this database idle inside an open transaction for at least ``min_age_seconds``
    (they hold their locks and stop VACUUM from cleaning up)."""
    with conn.cursor(row_factory=class_row(SessionInfo)) as cur:
        cur.execute(
            f"SELECT {_sessions_aged_by('a.state_change')} FROM pg_stat_activity a "
            "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() "
            "AND a.state IN ('idle in transaction', 'idle in transaction (aborted)') "
            "AND now() - a.state_change >= make_interval(secs => %s) ORDER BY a.state_change",
            (min_age_seconds,),
        )
        return cur.fetchall()


@dataclass(frozen=True)
class LockWait:
    """A session waiting for a lock, how long, and who blocks it."""

    waiting: SessionInfo
    wait_seconds: float
    blocking_pids: tuple[int, ...]
    relation: str | None


def blocked_lock_waits(conn: psycopg.Connection, min_wait_seconds: float) -> list[LockWait]:
    """Sessions of this database waiting for a lock at least ``min_wait_seconds`` (pg_locks.waitstart)."""
    rows = conn.execute(
        f"SELECT {_sessions_aged_by('l.waitstart')}, pg_blocking_pids(a.pid), l.relation::regclass::text "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE NOT l.granted AND a.datname = current_database() AND l.waitstart IS NOT NULL "
        "AND now() - l.waitstart >= make_interval(secs => %s) ORDER BY l.waitstart",
        (min_wait_seconds,),
    ).fetchall()
    return [LockWait(SessionInfo(*r[:10]), float(r[9] or 0), tuple(r[10] or ()), r[11]) for r in rows]


def transaction_id_age(conn: psycopg.Connection) -> int:
    """age(datfrozenxid) of this database: how close it is to transaction ID wraparound (2^31)."""
    return int(conn.execute(
        "SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()"
    ).fetchone()[0])


def replication_lag_seconds(conn: psycopg.Connection) -> tuple[bool, float | None]:
    """(is a replica, seconds since the last replayed transaction; None on a primary or before
    the first replay)."""
    in_recovery, lag = conn.execute(
        "SELECT pg_is_in_recovery(), "
        "CASE WHEN pg_is_in_recovery() THEN EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))::float8 END"
    ).fetchone()
    return bool(in_recovery), (float(lag) if lag is not None else None)


@dataclass(frozen=True)
class ColumnType:
    """A column's type as pg_type names it (``varchar``, ``int4``, ``numeric``) and its modifiers
    (``varchar(20)`` → (20,), ``numeric(10,2)`` → (10, 2), unbounded → ())."""

    type_name: str
    modifiers: tuple[int, ...]


def column_types(conn: psycopg.Connection, tables: list[tuple[str, str]]) -> dict[tuple[str, str, str], ColumnType]:
    """(schema, table, column) → ColumnType for every live column of the given tables, in one query."""
    if not tables:
        return {}
    rows = conn.execute(
        "SELECT n.nspname, c.relname, a.attname, t.typname, a.atttypmod "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "JOIN unnest(%s::text[], %s::text[]) AS q(s, r) ON q.s = n.nspname AND q.r = c.relname "
        "WHERE a.attnum > 0 AND NOT a.attisdropped",
        ([t[0] for t in tables], [t[1] for t in tables]),
    ).fetchall()
    return {(r[0], r[1], r[2]): ColumnType(r[3], _type_modifiers(r[3], r[4])) for r in rows}


def _type_modifiers(type_name: str, typmod: int) -> tuple[int, ...]:
    if typmod < 0:
        return ()
    if type_name in ("varchar", "bpchar"):
        return (typmod - 4,)
    if type_name == "numeric":
        value = typmod - 4
        return ((value >> 16) & 0xFFFF, value & 0xFFFF)
    if type_name in ("timestamp", "timestamptz", "time", "timetz", "interval", "bit", "varbit"):
        return (typmod,)
    return ()


@dataclass(frozen=True)
class DatabaseIdentity:
    """Which database this is, beyond its address: the server's system identifier (the same for a
    server and its replicas, different for a restored copy) and the database's oid."""

    system_identifier: str | None
    database_oid: int


def database_identity(conn: psycopg.Connection) -> DatabaseIdentity:
    """The identity of the connected database; ``system_identifier`` is None when the role may not
    read ``pg_control_system()`` (its EXECUTE can be revoked)."""
    oid = conn.execute("SELECT oid::bigint FROM pg_database WHERE datname = current_database()").fetchone()[0]
    try:
        with conn.transaction():
            system = conn.execute("SELECT system_identifier::text FROM pg_control_system()").fetchone()[0]
    except psycopg.errors.InsufficientPrivilege:
        system = None
    return DatabaseIdentity(system, int(oid))
