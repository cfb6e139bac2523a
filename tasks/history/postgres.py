"""The history store in a PostgreSQL database of its own (STATE_DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from migration_guard.tasks.db import connect, describe_target
from migration_guard.tasks.history.model import Observation
from migration_guard.tasks.history.store import HistoryStore, epoch

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS mg_observations (at double precision NOT NULL, database text NOT NULL, "
    "metric text NOT NULL, subject text NOT NULL DEFAULT '', value double precision NOT NULL, "
    "limit_value double precision)",
    "CREATE INDEX IF NOT EXISTS mg_observations_series ON mg_observations (database, metric, at)",
    "CREATE INDEX IF NOT EXISTS mg_observations_at ON mg_observations (at)",
    "CREATE TABLE IF NOT EXISTS mg_statement_snapshots (id bigserial PRIMARY KEY, at double precision NOT NULL, "
    "database text NOT NULL, reason text NOT NULL, label text NOT NULL DEFAULT '')",
    "CREATE INDEX IF NOT EXISTS mg_statement_snapshots_at ON mg_statement_snapshots (database, at)",
    "CREATE TABLE IF NOT EXISTS mg_statement_counters (snapshot_id bigint NOT NULL, queryid text NOT NULL, "
    "calls bigint NOT NULL, total_ms double precision NOT NULL, PRIMARY KEY (snapshot_id, queryid))",
    "CREATE TABLE IF NOT EXISTS mg_statement_texts (database text NOT NULL, queryid text NOT NULL, "
    "query text NOT NULL, PRIMARY KEY (database, queryid))",
)

#: serialises the CREATE IF NOT EXISTS of concurrent first runs (they would collide on pg_type)
SCHEMA_LOCK_KEY = 0x6D67_6869  # "mghi"


class PostgresStore(HistoryStore):
    """History in the PostgreSQL database at ``dsn`` (its tables are created on first use, unless
    ``create`` is off: then ``exists`` says whether they are there, and the store is a reader's:
    autocommit, so while it is handed from one database's checks to the next and to the record
    step it holds no transaction open, and a failed query leaves none aborted)."""

    def __init__(self, dsn: str, *, connect_timeout: int = 5, create: bool = True) -> None:
        self.location = describe_target(dsn)
        self._conn = connect(dsn, connect_timeout=connect_timeout, autocommit=not create,
                             application_name="migration-guard-history")
        self.exists = bool(self._conn.execute("SELECT to_regclass('mg_statement_texts') IS NOT NULL").fetchone()[0])
        if create and not self.exists:
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
            for statement in SCHEMA:
                self._conn.execute(statement)
            self.exists = True
        self._conn.commit()

    def add_timed_observations(self, readings: Sequence[tuple[datetime, Observation]]) -> int:
        """Store observations in one statement (arrays unnested server-side: one round trip, not
        one per row) and one commit; returns how many."""
        if readings:
            self._conn.execute(
                "INSERT INTO mg_observations (at, database, metric, subject, value, limit_value) "
                "SELECT * FROM unnest(%s::float8[], %s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[])",
                [[epoch(at) for at, _ in readings], [o.database for _, o in readings], [o.metric for _, o in readings],
                 [o.subject for _, o in readings], [float(o.value) for _, o in readings],
                 [None if o.limit is None else float(o.limit) for _, o in readings]])
        self._commit()
        return len(readings)

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(statement, tuple(params))

    def _executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(statement, rows)

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(statement, tuple(params)).fetchall()

    def _insert_returning_id(self, statement: str, params: Sequence[Any]) -> int:
        return int(self._conn.execute(statement, tuple(params)).fetchone()[0])

    def _commit(self) -> None:
        if not self._conn.autocommit:
            self._conn.commit()

    def _atomic(self) -> AbstractContextManager[Any]:
        return self._conn.transaction() if self._conn.autocommit else nullcontext()

    def close(self) -> None:
        """Roll back anything uncommitted and close the connection."""
        try:
            if not self._conn.closed and not self._conn.autocommit:
                self._conn.rollback()
        finally:
            self._conn.close()
