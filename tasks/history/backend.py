"""The choice of history store: SQLite in STATE_DIR unless STATE_DATABASE_URL names a PostgreSQL
database (never the monitored database unless that is the URL given)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from migration_guard.tasks.errors import DatabaseError, MigrationGuardError
from migration_guard.tasks.history.postgres import PostgresStore
from migration_guard.tasks.history.sqlite import SqliteStore
from migration_guard.tasks.history.store import HistoryStore

HISTORY_FILE = "history.sqlite3"

logger = logging.getLogger("migration_guard.history")


def open_store(settings: Any) -> HistoryStore:
    """The configured store: PostgreSQL at STATE_DATABASE_URL when set, else SQLite at
    STATE_DIR/history.sqlite3 (default LOG_DIR/state/history.sqlite3; the folder is created).
    Readers that must not create anything use :func:`open_existing_store`.

    Raises:
        DatabaseError: STATE_DATABASE_URL does not answer.
        HistoryStoreUnavailable: the SQLite file cannot be opened (full disk, damaged file).
        OSError: STATE_DIR cannot be created or written.
    """
    url = getattr(settings, "state_database_url", None)
    if url is not None and url.get_secret_value().strip():
        return _postgres(url.get_secret_value().strip(), settings.connect_timeout)
    return _sqlite(state_dir(settings) / HISTORY_FILE)


def _postgres(dsn: str, connect_timeout: int, *, create: bool = True) -> PostgresStore:
    """The PostgreSQL store; its connection's error says it is STATE_DATABASE_URL's."""
    try:
        return PostgresStore(dsn, connect_timeout=connect_timeout, create=create)
    except DatabaseError as exc:
        raise DatabaseError(
            f"the health history's STATE_DATABASE_URL: {exc.message}",
            _state_hint(exc.suggestion),
            category=exc.category, kind=exc.kind, sqlstate=exc.sqlstate, original=exc.original) from None


def _state_hint(suggestion: str) -> str:
    """A connection error's suggestion, about STATE_DATABASE_URL rather than DATABASE_URL."""
    if "DATABASE_URL" in suggestion:
        return suggestion.replace("DATABASE_URL", "STATE_DATABASE_URL")
    fix = "fix STATE_DATABASE_URL, or unset it to keep the history in STATE_DIR (SQLite)"
    return f"{suggestion}; or {fix}" if suggestion else fix


def open_existing_store(settings: Any) -> HistoryStore | None:
    """The configured store if it already holds a history (None otherwise): creates no file,
    folder or table, so a look-only healthcheck (``--no-alerts``) leaves no trace.

    Raises:
        DatabaseError: STATE_DATABASE_URL does not answer.
    """
    url = getattr(settings, "state_database_url", None)
    if url is not None and url.get_secret_value().strip():
        store = _postgres(url.get_secret_value().strip(), settings.connect_timeout, create=False)
        if store.exists:
            return store
        store.close()
        return None
    path = state_dir(settings) / HISTORY_FILE
    return _sqlite(path, read_only=True) if path.exists() else None


_NOT_OPENED = object()
#: per thread: the store the checks of one database share (see :func:`shared_history_reads`)
_shared = threading.local()


class _Run:
    """What the blocks of one run share across threads: PostgreSQL stores a finished block left
    open for the next block, or the record step, to use (see :func:`shared_history_reads`)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.depth = 0
        self.idle: list[PostgresStore] = []
        self.lock = threading.Lock()

    def take(self) -> PostgresStore | None:
        with self.lock:
            return self.idle.pop() if self.idle else None

    def park(self, store: HistoryStore) -> bool:
        """Keep ``store`` for a later block of the run (PostgreSQL only: a SQLite reader's open
        snapshot would hold writers off); False when it was not kept."""
        if not isinstance(store, PostgresStore) or store._conn.closed or store._conn.broken:
            return False
        with self.lock:
            if self.depth == 0:
                return False
            self.idle.append(store)
        return True


#: the runs in this process, by ``id(settings)`` (the settings object ties a block to its run)
_runs: dict[int, _Run] = {}
_runs_lock = threading.Lock()


def _run_of(settings: Any) -> _Run | None:
    run = _runs.get(id(settings))
    return run if run is not None and run.settings is settings else None


@contextmanager
def shared_history_reads(settings: Any) -> Iterator[None]:
    """Within this block (one database's checks, in one thread), :func:`reading_store` hands every
    history check the same store, opened on first use: one store connection per database and
    run, not one per check. At its end a SQLite store is closed, a PostgreSQL one is kept for the
    run's next block or its record step (:func:`writing_store`) until the outermost block of the
    run (nested in any thread) ends: a state database's connection costs more than the reads."""
    with _runs_lock:
        run = _run_of(settings)
        if run is None:
            run = _runs[id(settings)] = _Run(settings)
        with run.lock:
            run.depth += 1
    previous = getattr(_shared, "slot", None)
    _shared.slot = [settings, _NOT_OPENED, 0]  # settings, the store, how many readers use it now
    try:
        yield
    finally:
        store = _shared.slot[1]
        _shared.slot = previous
        with _runs_lock:
            with run.lock:
                run.depth -= 1
                last = run.depth == 0
                leftover = run.idle if last else []
                if last:
                    run.idle = []
            if last and _runs.get(id(settings)) is run:
                del _runs[id(settings)]
        if isinstance(store, HistoryStore) and not run.park(store):
            _close_quietly(store)
        for idle in leftover:
            _close_quietly(idle)


@contextmanager
def reading_store(settings: Any) -> Iterator[HistoryStore | None]:
    """The existing store to read the history from (see :func:`open_existing_store`; None when
    there is none): the one shared by :func:`shared_history_reads`, else one opened and closed here.
    A shared store a reader failed on is closed, so the next check opens a fresh one."""
    slot = getattr(_shared, "slot", None)
    if slot is None or slot[0] is not settings:
        store = open_existing_store(settings)
        try:
            yield store
        finally:
            if store is not None:
                store.close()
        return
    run = _run_of(settings)
    if slot[1] is _NOT_OPENED:
        kept = run.take() if run is not None else None
        slot[1] = kept if kept is not None else open_existing_store(settings)
    slot[2] += 1
    try:
        yield slot[1]
    except BaseException:
        if isinstance(slot[1], HistoryStore):
            store, slot[1] = slot[1], _NOT_OPENED
            _close_quietly(store)
        raise
    finally:
        slot[2] -= 1
    # a PostgreSQL store goes back to the run between checks: the other databases' threads use it
    # rather than open their own (each new backend also plans on cold caches)
    if slot[2] == 0 and run is not None and isinstance(slot[1], PostgresStore) and run.park(slot[1]):
        slot[1] = _NOT_OPENED


@contextmanager
def writing_store(settings: Any) -> Iterator[HistoryStore]:
    """The store to write a run's readings to: a PostgreSQL store a block of the run left open
    (its writes are atomic, see ``PostgresStore``), else one opened (and created) with
    :func:`open_store` and closed here. Raises what :func:`open_store` raises."""
    run = _run_of(settings)
    kept = run.take() if run is not None else None
    if kept is not None:
        try:
            yield kept
        except BaseException:
            _close_quietly(kept)
            raise
        if not run.park(kept):
            _close_quietly(kept)
        return
    store = open_store(settings)
    try:
        yield store
    finally:
        store.close()


def _close_quietly(store: HistoryStore) -> None:
    try:
        store.close()
    except Exception as exc:  # noqa: BLE001 - the checks have their results; a store going away is no verdict
        logger.warning("health history store not closed cleanly: %s", exc)


class HistoryStoreUnavailable(MigrationGuardError):
    """The SQLite history cannot be opened (a full disk, a read-only or damaged file)."""


def _sqlite(path: Path, read_only: bool = False) -> SqliteStore:
    try:
        return SqliteStore(path, read_only=read_only)
    except sqlite3.Error as exc:
        raise HistoryStoreUnavailable(
            f"the health history {path} cannot be opened: {exc}",
            f"free disk space where {path.parent} lives, or point STATE_DIR at a writable folder",
        ) from None


def state_dir(settings: Any) -> Path:
    """STATE_DIR, else LOG_DIR/state (kept wherever the logs are kept, e.g. the compose volume)."""
    return Path(settings.state_dir) if settings.state_dir is not None else Path(settings.log_dir) / "state"
