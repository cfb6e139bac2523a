"""Writing the history: a healthcheck run's readings of every database, and the pg_stat_statements
snapshot safe-migrate takes before applying. Neither ever fails its caller: a database or a store
that cannot be reached is a warning, and the run goes on."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg

from migration_guard.tasks.db import connect
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.history.collect import StatementsUnavailable, read_observations, read_statements
from migration_guard.tasks.history.model import (
    BEFORE_MIGRATION, HEALTHCHECK, STATEMENT_CALLS, Observation, StatementCounter,
)
from migration_guard.tasks.history.backend import open_store, writing_store
from migration_guard.tasks.history.sequences import EVERY, SequenceScope, sequence_scope
from migration_guard.tasks.history.store import HistoryStore, database_key

logger = logging.getLogger("migration_guard.history")

APPLICATION_NAME = "migration-guard-history"
#: a healthcheck keeps a pg_stat_statements snapshot at most this often (the "before" baseline of
#: a migration that had no snapshot of its own; counters are cumulative, so hourly loses nothing)
STATEMENT_SNAPSHOT_INTERVAL = timedelta(hours=1)
#: an hourly schedule starts runs a little early or late: one 59 minutes after the last still snapshots
SCHEDULE_SLACK = timedelta(minutes=2)


@dataclass
class Readings:
    """What one database showed: observations, and its statements when a snapshot is due."""

    database: str
    observations: list[Observation] = field(default_factory=list)
    statements: list[StatementCounter] | None = None
    error: str | None = None


@dataclass
class RecordResult:
    """What a healthcheck run stored: rows per kind, and what could not be read or written."""

    observations: int = 0
    statement_snapshots: int = 0
    errors: list[str] = field(default_factory=list)


def _open(dsn: str, settings: Any) -> psycopg.Connection:
    return connect(dsn, connect_timeout=settings.connect_timeout, autocommit=True, application_name=APPLICATION_NAME,
                   options=f"-c statement_timeout={settings.check_timeout * 1000} -c default_transaction_read_only=on")


def read_database(dsn: str, settings: Any, *, with_statements: bool, scope: SequenceScope = EVERY) -> Readings:
    """The readings of the database at ``dsn``, its sequences those of ``scope`` (never raises: a
    failure is ``Readings.error``)."""
    key = database_key(dsn)
    try:
        conn = _open(dsn, settings)
        try:
            readings = Readings(key, read_observations(conn, key, scope))
            if with_statements:
                statements = read_statements(conn)
                readings.statements = None if isinstance(statements, StatementsUnavailable) else statements
            return readings
        finally:
            conn.close()  # not ``with``: its exit costs ~10 ms more under load, for nothing in autocommit
    except (MigrationGuardError, psycopg.Error) as exc:
        return Readings(key, error=f"{key}: {exc}")


def statement_snapshot_due(store: HistoryStore | None, database: str, at: datetime) -> bool:
    """Whether a run at ``at`` keeps a pg_stat_statements snapshot of ``database`` (the last is
    older than ``STATEMENT_SNAPSHOT_INTERVAL``, or there is none; or no store yet)."""
    last = store.latest_statement_snapshot(database) if store is not None else None
    return last is None or at - last.at >= STATEMENT_SNAPSHOT_INTERVAL - SCHEDULE_SLACK


#: readings a check took on the checks' own session, waiting for the record step of the same run
#: (keyed by database and the run's start): recording then opens no session of its own. Process
#: local: when the step runs elsewhere it finds nothing here and reads the database itself.
_handed_over: dict[tuple[str, datetime], tuple[float, Readings]] = {}
_handed_over_lock = threading.Lock()
#: readings no record step took (a run that records nothing) are dropped after this long
HANDOVER_KEPT = 600.0


def read_for_recording(conn: psycopg.Connection, database: str, at: datetime,
                       store: HistoryStore | None) -> Readings:
    """The readings of ``database`` (its history key) on an open session (the sequences
    ``sequence_scope`` names), the statements too when a snapshot is due; kept for
    :func:`record_healthcheck` of the run started ``at``, which then records them without
    connecting. Raises what the session raises."""
    readings = Readings(database, read_observations(conn, database, sequence_scope(store, database, at)))
    if statement_snapshot_due(store, database, at):
        statements = read_statements(conn)
        readings.statements = None if isinstance(statements, StatementsUnavailable) else statements
    now = time.monotonic()
    with _handed_over_lock:
        for stale in [k for k, (kept, _) in _handed_over.items() if now - kept > HANDOVER_KEPT]:
            del _handed_over[stale]
        _handed_over[(database, at)] = (now, readings)
    return readings


def _take(database: str, at: datetime) -> Readings | None:
    with _handed_over_lock:
        kept = _handed_over.pop((database, at), None)
    return kept[1] if kept else None


def record_healthcheck(settings: Any, at: datetime, dsns: Sequence[str],
                       check_values: Sequence[Observation] = ()) -> RecordResult:
    """Read every database (concurrently; not those a check already read on its session for this
    run, see :func:`read_for_recording`) and store its readings taken ``at``, plus the checks'
    numeric values; a pg_stat_statements snapshot too where the last is older than
    ``STATEMENT_SNAPSHOT_INTERVAL``. Never raises."""
    result = RecordResult()
    if not dsns and not check_values:
        return result
    with ExitStack() as stack:
        try:
            store = stack.enter_context(writing_store(settings))
        except (MigrationGuardError, psycopg.Error, sqlite3.Error, OSError) as exc:  # e.g. a full disk
            result.errors.append(f"history store: {exc}")
            logger.warning("health history not recorded: %s", exc)
            return result
        try:
            taken = {dsn: _take(database_key(dsn), at) for dsn in dsns}
            missing = [dsn for dsn in dsns if taken[dsn] is None]
            due = {dsn: statement_snapshot_due(store, database_key(dsn), at) for dsn in missing}
            scopes = {dsn: sequence_scope(store, database_key(dsn), at) for dsn in missing}
            if len(missing) <= 1:
                read = [read_database(d, settings, with_statements=due[d], scope=scopes[d]) for d in missing]
            else:
                with ThreadPoolExecutor(max_workers=min(16, len(missing))) as pool:
                    read = list(pool.map(lambda d: read_database(d, settings, with_statements=due[d], scope=scopes[d]),
                                         missing))
            by_dsn = dict(zip(missing, read, strict=True))
            readings = [taken[dsn] or by_dsn[dsn] for dsn in dsns]
            observations = [*check_values, *(o for r in readings for o in r.observations)]
            observations += [Observation(r.database, STATEMENT_CALLS, sum(c.calls for c in r.statements))
                             for r in readings if r.statements]
            result.observations = store.add_observations(at, observations)
            for r in readings:
                if r.error:
                    result.errors.append(r.error)
                if r.statements:
                    store.add_statement_snapshot(at, r.database, HEALTHCHECK, r.statements)
                    result.statement_snapshots += 1
        except Exception as exc:  # noqa: BLE001 - a store failing mid-write never fails the run
            result.errors.append(f"history store: {exc}")
            logger.warning("health history not recorded in %s: %s", store.location, exc)
    for error in result.errors:
        logger.warning("health history: %s", error)
    return result


def record_before_migration(dsn: str, settings: Any, at: datetime | None = None, label: str = "") -> int | None:
    """Snapshot pg_stat_statements of the database at ``dsn`` before a migration is applied (the
    healthcheck compares each frequent statement's mean time before and after it). Returns the
    snapshot's id; None when the extension is not available or the snapshot could not be stored
    (logged, never raised: a snapshot never stops a migration)."""
    try:
        with _open(dsn, settings) as conn:
            statements = read_statements(conn)
        if isinstance(statements, StatementsUnavailable):
            logger.info("no statement snapshot before migrating: %s", statements.reason)
            return None
        with open_store(settings) as store:
            return store.add_statement_snapshot(at or datetime.now(timezone.utc), database_key(dsn), BEFORE_MIGRATION,
                                                statements, label)
    except Exception as exc:  # noqa: BLE001 - a monitoring aid must never fail the migration
        logger.warning("no statement snapshot before migrating: %s", exc)
        return None
