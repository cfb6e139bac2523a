"""The embedded history store: one SQLite file (WAL, so a reading check never blocks the writer)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from migration_guard.tasks.history.store import HistoryStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS mg_observations (
    at REAL NOT NULL, database TEXT NOT NULL, metric TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '',
    value REAL NOT NULL, limit_value REAL);
CREATE INDEX IF NOT EXISTS mg_observations_series ON mg_observations (database, metric, at);
CREATE INDEX IF NOT EXISTS mg_observations_at ON mg_observations (at);
CREATE TABLE IF NOT EXISTS mg_statement_snapshots (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, database TEXT NOT NULL, reason TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS mg_statement_snapshots_at ON mg_statement_snapshots (database, at);
CREATE TABLE IF NOT EXISTS mg_statement_counters (
    snapshot_id INTEGER NOT NULL, queryid TEXT NOT NULL, calls INTEGER NOT NULL, total_ms REAL NOT NULL,
    PRIMARY KEY (snapshot_id, queryid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mg_statement_texts (
    database TEXT NOT NULL, queryid TEXT NOT NULL, query TEXT NOT NULL, PRIMARY KEY (database, queryid));
"""


class SqliteStore(HistoryStore):
    """History in the SQLite file ``path`` (created 0600 in a 0750 folder on first use)."""

    windows_as_join = True

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        path = Path(path)
        self.location = str(path)
        if read_only:
            # readers (the checks) write nothing, not even journal files: a full log disk stays
            # free for the log itself
            self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10,
                                         isolation_level=None, check_same_thread=False)
            self._conn.execute("BEGIN")
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        # a rollback journal (not WAL): no -wal / -shm files beside the store, and read-only
        # connections need none
        self._conn.execute("PRAGMA journal_mode=DELETE")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self._conn.execute("BEGIN")

    @staticmethod
    def _sql(statement: str) -> str:
        return statement.replace("%s", "?")

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(self._sql(statement), tuple(params))

    def _executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(self._sql(statement), [tuple(r) for r in rows])

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(self._sql(statement), tuple(params)).fetchall()

    def _insert_returning_id(self, statement: str, params: Sequence[Any]) -> int:
        return int(self._conn.execute(self._sql(statement), tuple(params)).fetchone()[0])

    def _commit(self) -> None:
        self._conn.execute("COMMIT")
        self._conn.execute("BEGIN")

    def close(self) -> None:
        """Roll back anything uncommitted and close the file."""
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        finally:
            self._conn.close()
