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

from migration_guard.tasks.errors import MigrationGuardError
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
        return PostgresStore(url.get_secret_value().strip(), connect_timeout=settings.connect_timeout)
    return _sqlite(state_dir(settings) / HISTORY_FILE)


def open_existing_store(settings: Any) -> HistoryStore | None:
    """The configured store if it already holds a history (None otherwise): creates no file,
    folder or table, so a look-only healthcheck (``--no-alerts``) leaves no trace.

    Raises:
        DatabaseError: STATE_DATABASE_URL does not answer.
    """
    url = getattr(settings, "state_database_url", None)
    if url is not None and url.get_secret_value().strip():
        store = PostgresStore(url.get_secret_value().strip(), connect_timeout=settings.connect_timeout, create=False)
        if store.exists:
            return store
        store.close()
        return None
    path = state_dir(settings) / HISTORY_FILE
    return _sqlite(path, read_only=True) if path.exists() else None


class _Held:
    """One store the readers of a run share, and how many are using it right now."""

    def __init__(self, store: HistoryStore | None) -> None:
        self.store = store
        self.users = 0
        #: a reader failed on it: no new reader gets it, the last one out closes it
        self.retired = False


class _SharedReads:
    """The store the history checks of one run share (see :func:`shared_history_reads`)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.held: _Held | None = None
        self.depth = 0
        self.lock = threading.Lock()


#: the runs sharing their reads, by ``id(settings)`` (the settings object is what ties a check to its run)
_runs: dict[int, _SharedReads] = {}
_runs_lock = threading.Lock()


@contextmanager
def shared_history_reads(settings: Any) -> Iterator[None]:
    """Within this block — the checks of one run, in any thread of this process — :func:`reading_store`
    hands every history check the same store, opened on first use and closed when the outermost
    block ends: one store connection per run, not one per database and check (a state database's
    connection costs more than the reads). Nested blocks for the same ``settings`` share the outer one."""
    with _runs_lock:
        shared = _runs.get(id(settings))
        if shared is None or shared.settings is not settings:
            shared = _runs[id(settings)] = _SharedReads(settings)
        shared.depth += 1
    try:
        yield
    finally:
        with _runs_lock:
            shared.depth -= 1
            last = shared.depth == 0
            if last and _runs.get(id(settings)) is shared:
                del _runs[id(settings)]
        with shared.lock:
            held = shared.held
            # a SQLite reader's snapshot holds off other processes' writers: kept no longer than
            # the block that needed it, when no one reads from it right now
            done = held is not None and held.users == 0 and (last or isinstance(held.store, SqliteStore))
            if done:
                shared.held = None
            elif last and held is not None:  # a reader still at it (another thread): it closes the store
                shared.held, held.retired = None, True
        if done and held.store is not None:
            _close_quietly(held.store)


@contextmanager
def reading_store(settings: Any) -> Iterator[HistoryStore | None]:
    """The existing store to read the history from (see :func:`open_existing_store`; None when
    there is none): the one shared by :func:`shared_history_reads`, else one opened and closed here.
    A shared store a reader failed on is handed to no one else (the next reader opens a fresh one)
    and closed when its last reader is done."""
    shared = _runs.get(id(settings))
    if shared is None or shared.settings is not settings:
        store = open_existing_store(settings)
        try:
            yield store
        finally:
            if store is not None:
                store.close()
        return
    with shared.lock:  # opened once, by the first reader; the others wait for it
        if shared.held is None:
            shared.held = _Held(open_existing_store(settings))
        held = shared.held
        held.users += 1
    try:
        yield held.store
    except BaseException:
        with shared.lock:
            if shared.held is held:
                shared.held = None
            held.retired = True
        raise
    finally:
        with shared.lock:
            held.users -= 1
            close_now = held.retired and held.users == 0
        if close_now and held.store is not None:
            _close_quietly(held.store)


@contextmanager
def writing_store(settings: Any) -> Iterator[HistoryStore]:
    """The store to write a run's readings to: the run's shared one when it is a PostgreSQL store
    (a state database's connection costs more than the writes; its writes are atomic, see
    ``PostgresStore``), else one opened (and created) with :func:`open_store` and closed here —
    after closing a shared SQLite reader, whose open snapshot would hold the writer's commit off.
    Raises what :func:`open_store` raises."""
    shared = _runs.get(id(settings))
    if shared is not None and shared.settings is settings:
        with shared.lock:
            held = shared.held
            if held is not None and isinstance(held.store, PostgresStore) and not held.retired:
                held.users += 1
            elif held is not None:  # a SQLite reader's open snapshot would lock the writer out: done with it
                shared.held, held.retired = None, True
                if held.users == 0 and held.store is not None:
                    _close_quietly(held.store)
                held = None
        if held is not None:
            try:
                yield held.store
            finally:
                with shared.lock:
                    held.users -= 1
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
