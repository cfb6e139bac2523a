"""The history store port. Both stores (``sqlite``, ``postgres``; ``backend.open_store`` picks one) keep the same four tables (``mg_observations``,
``mg_statement_snapshots``, ``mg_statement_counters``, ``mg_statement_texts``) and run the same SQL
(times are epoch seconds, so the two stores behave alike); only connecting and the DDL differ."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, nullcontext
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from migration_guard.tasks.db import describe_target
from migration_guard.tasks.history.model import Observation, Point, StatementCounter, StatementSnapshot

#: subjects named in one query (SQLite allows 32,766 parameters, older builds 999)
SUBJECTS_PER_QUERY = 500


def database_key(dsn: str) -> str:
    """The name a database's history is kept under: ``host:port/dbname`` of its DSN (no user, no
    password), so the healthcheck and safe-migrate find the same rows for the same database."""
    return describe_target(dsn)


def epoch(at: datetime) -> float:
    """Seconds since 1970 (UTC) of an aware datetime (naive ones are taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.timestamp()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(float(seconds), tz=timezone.utc)


class HistoryStore(ABC):
    """Where observations and statement snapshots are kept. Use as a context manager.

    Subclasses give ``_execute`` / ``_query`` / ``_commit`` and their DDL; the SQL here uses ``%s``
    placeholders (SQLite's store rewrites them)."""

    #: what ``describe`` prints (never a password)
    location: str = ""
    #: read time windows as a join with their VALUES (SQLite: one index range each; its OR of the
    #: ranges walked every point, ~4x slower) or as an OR of ranges (PostgreSQL: a bitmap of the
    #: ranges; its plan for the join, before the table has statistics, compared every point with
    #: every window)
    windows_as_join: bool = False

    @abstractmethod
    def _execute(self, statement: str, params: Sequence[Any] = ()) -> None: ...

    @abstractmethod
    def _executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None: ...

    @abstractmethod
    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _insert_returning_id(self, statement: str, params: Sequence[Any]) -> int: ...

    @abstractmethod
    def _commit(self) -> None: ...

    def _atomic(self) -> AbstractContextManager[Any]:
        """A block whose statements commit together on a store that commits each on its own
        (a reader's autocommit PostgreSQL store); elsewhere ``_commit`` already does."""
        return nullcontext()

    @abstractmethod
    def close(self) -> None:
        """Close the store's connection."""

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- observations ---------------------------------------------------------------------------

    def add_observations(self, at: datetime, observations: Sequence[Observation]) -> int:
        """Store ``observations`` taken at ``at``; returns how many."""
        return self.add_timed_observations([(at, o) for o in observations])

    def add_timed_observations(self, readings: Sequence[tuple[datetime, Observation]]) -> int:
        """Store observations taken at different times (an imported or synthetic history) in one
        commit; returns how many."""
        self._executemany(
            "INSERT INTO mg_observations (at, database, metric, subject, value, limit_value) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [(epoch(at), o.database, o.metric, o.subject, float(o.value), o.limit) for at, o in readings])
        self._commit()
        self.__dict__.pop("_ends_memo", None)
        return len(readings)

    def series(self, database: str, metric: str, since: datetime, subjects: Sequence[str] | None = None,
               ) -> dict[str, list[Point]]:
        """Every point of ``metric`` for ``database`` from ``since`` on, by subject, oldest first
        (only those of ``subjects`` when given)."""
        if subjects is None:
            return self.metrics_series(database, (metric,), since).get(metric, {})
        found: dict[str, list[Point]] = {}
        wanted = sorted(set(subjects))
        for start in range(0, len(wanted), SUBJECTS_PER_QUERY):
            chunk = wanted[start:start + SUBJECTS_PER_QUERY]
            found.update(_by_subject(self._query(
                "SELECT subject, at, value, limit_value FROM mg_observations WHERE database = %s AND metric = %s "
                f"AND at >= %s AND subject IN ({', '.join(['%s'] * len(chunk))}) ORDER BY subject, at",
                (database, metric, epoch(since), *chunk))))
        return found

    def metrics_series(self, database: str, metrics: Sequence[str], since: datetime,
                       ) -> dict[str, dict[str, list[Point]]]:
        """:meth:`series` of several metrics in one query: by metric, then subject."""
        if not metrics:
            return {}
        names = ", ".join(["%s"] * len(metrics))
        return _by_metric(self._query(
            "SELECT metric, subject, at, value, limit_value FROM mg_observations "
            f"WHERE database = %s AND metric IN ({names}) AND at >= %s ORDER BY metric, subject, at",
            (database, *metrics, epoch(since))))

    def series_ends(self, database: str, metric: str, since: datetime,
                    ) -> dict[str, tuple[Point | None, Point]]:
        """Per subject of ``metric`` since ``since``: its reading at the first and at the last
        time recorded (None first when the subject was not read then) — two index seeks, enough to
        rule out the many series nowhere near their limit before reading any point by point."""
        # the capacity forecast and the sequence scope of one run ask the same
        return self.remembered(("ends", database, metric, epoch(since)),
                               lambda: self._series_ends(database, metric, since))

    def remembered(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()``, worked out once per ``key`` until this store next writes (two checks of
        one run reading the same thing)."""
        memo = self.__dict__.setdefault("_ends_memo", {})
        if key not in memo:
            memo[key] = compute()
        return memo[key]

    def _series_ends(self, database: str, metric: str, since: datetime) -> dict[str, tuple[Point | None, Point]]:
        # one round trip; each end an index walk (ORDER BY at LIMIT 1 is, on either store, even
        # before the table has statistics: min() / max() then scanned every point since ``since``)
        end = ("SELECT {which}, subject, at, value, limit_value FROM mg_observations WHERE database = %s "
               "AND metric = %s AND at = (SELECT at FROM mg_observations WHERE database = %s AND metric = %s "
               "AND at >= %s ORDER BY at {order} LIMIT 1)")
        rows = self._query(f"{end.format(which=0, order='ASC')} UNION ALL {end.format(which=1, order='DESC')}",
                           (database, metric, database, metric, epoch(since)) * 2)
        first = _by_subject([r[1:] for r in rows if r[0] == 0])
        return {subject: (first.get(subject, [None])[0], points[-1])
                for subject, points in _by_subject([r[1:] for r in rows if r[0] == 1]).items()}

    def series_in_windows(self, database: str, metric: str, windows: Sequence[tuple[datetime, datetime]],
                          ) -> dict[str, list[Point]]:
        """The points of ``metric`` for ``database`` taken inside any of ``windows`` (start, end;
        inclusive), by subject, oldest first: a seasonal baseline reads its slots, not the history."""
        return self.metrics_in_windows(database, (metric,), windows).get(metric, {})

    def metrics_in_windows(self, database: str, metrics: Sequence[str], windows: Sequence[tuple[datetime, datetime]],
                           ) -> dict[str, dict[str, list[Point]]]:
        """:meth:`series_in_windows` of several metrics in one query: by metric, then subject."""
        windows = _merged(windows)
        if not windows or not metrics:
            return {}
        names = ", ".join(["%s"] * len(metrics))
        bounds = [epoch(t) for window in windows for t in window]
        if self.windows_as_join:
            values = ", ".join(["(%s, %s)"] * len(windows))
            return _by_metric(self._query(
                f"WITH w (lo, hi) AS (VALUES {values}) SELECT o.metric, o.subject, o.at, o.value, o.limit_value "
                f"FROM w JOIN mg_observations o ON o.database = %s AND o.metric IN ({names}) AND o.at >= w.lo "
                "AND o.at <= w.hi ORDER BY o.metric, o.subject, o.at", (*bounds, database, *metrics)))
        ranges = " OR ".join(["(at >= %s AND at <= %s)"] * len(windows))
        return _by_metric(self._query(
            "SELECT metric, subject, at, value, limit_value FROM mg_observations "
            f"WHERE database = %s AND metric IN ({names}) AND ({ranges}) ORDER BY metric, subject, at",
            (database, *metrics, *bounds)))

    # -- pg_stat_statements snapshots ----------------------------------------------------------

    def add_statement_snapshot(self, at: datetime, database: str, reason: str,
                               counters: Sequence[StatementCounter], label: str = "") -> int:
        """Store one pg_stat_statements snapshot, all or nothing; returns its id."""
        with self._atomic():
            snapshot_id = self._insert_returning_id(
                "INSERT INTO mg_statement_snapshots (at, database, reason, label) VALUES (%s, %s, %s, %s) RETURNING id",
                (epoch(at), database, reason, label))
            self._executemany(
                "INSERT INTO mg_statement_counters (snapshot_id, queryid, calls, total_ms) VALUES (%s, %s, %s, %s)",
                [(snapshot_id, c.queryid, int(c.calls), float(c.total_ms)) for c in counters])
            self._executemany(
                "INSERT INTO mg_statement_texts (database, queryid, query) VALUES (%s, %s, %s) "
                "ON CONFLICT (database, queryid) DO UPDATE SET query = excluded.query",
                [(database, c.queryid, c.query) for c in counters])
            self._commit()
        return snapshot_id

    def statement_snapshots(self, database: str, since: datetime) -> list[StatementSnapshot]:
        """The snapshots of ``database`` taken from ``since`` on, oldest first."""
        rows = self._query(
            "SELECT id, at, reason, label FROM mg_statement_snapshots WHERE database = %s AND at >= %s "
            "ORDER BY at, id", (database, epoch(since)))
        return [StatementSnapshot(int(i), from_epoch(at), reason, label) for i, at, reason, label in rows]

    def latest_statement_snapshot(self, database: str, reason: str | None = None) -> StatementSnapshot | None:
        """The newest snapshot of ``database`` (of that ``reason`` when given)."""
        where, params = ("database = %s", (database,)) if reason is None else (
            "database = %s AND reason = %s", (database, reason))
        rows = self._query(f"SELECT id, at, reason, label FROM mg_statement_snapshots WHERE {where} "
                           "ORDER BY at DESC, id DESC LIMIT 1", params)
        return StatementSnapshot(int(rows[0][0]), from_epoch(rows[0][1]), rows[0][2], rows[0][3]) if rows else None

    def statement_counters(self, database: str, snapshot_id: int) -> dict[str, StatementCounter]:
        """The counters of one snapshot by queryid (with the query's text)."""
        rows = self._query(
            "SELECT c.queryid, coalesce(t.query, ''), c.calls, c.total_ms FROM mg_statement_counters c "
            "LEFT JOIN mg_statement_texts t ON t.database = %s AND t.queryid = c.queryid "
            "WHERE c.snapshot_id = %s", (database, snapshot_id))
        return {q: StatementCounter(q, text, int(calls), float(total)) for q, text, calls, total in rows}

    # -- retention ------------------------------------------------------------------------------

    def prune(self, before: datetime) -> dict[str, int]:
        """Delete what was recorded before ``before``; returns the rows deleted per table."""
        cutoff = epoch(before)
        counts = {
            "observations": self._count("SELECT count(*) FROM mg_observations WHERE at < %s", (cutoff,)),
            "statement_snapshots": self._count(
                "SELECT count(*) FROM mg_statement_snapshots WHERE at < %s", (cutoff,)),
        }
        self._execute("DELETE FROM mg_observations WHERE at < %s", (cutoff,))
        self._execute("DELETE FROM mg_statement_counters WHERE snapshot_id IN "
                      "(SELECT id FROM mg_statement_snapshots WHERE at < %s)", (cutoff,))
        self._execute("DELETE FROM mg_statement_snapshots WHERE at < %s", (cutoff,))
        self._execute("DELETE FROM mg_statement_texts AS t WHERE NOT EXISTS (SELECT 1 FROM mg_statement_counters c "
                      "JOIN mg_statement_snapshots s ON s.id = c.snapshot_id "
                      "WHERE s.database = t.database AND c.queryid = t.queryid)")
        self._commit()
        self.__dict__.pop("_ends_memo", None)
        return counts

    def _count(self, statement: str, params: Sequence[Any]) -> int:
        return int(self._query(statement, params)[0][0])


def _merged(windows: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """``windows`` in time order with the overlapping ones joined (a point is then in one only)."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _by_metric(rows: Sequence[tuple[Any, ...]]) -> dict[str, dict[str, list[Point]]]:
    by_metric: dict[str, list[tuple[Any, ...]]] = {}
    for metric, *rest in rows:
        by_metric.setdefault(metric, []).append(tuple(rest))
    return {metric: _by_subject(found) for metric, found in by_metric.items()}


def _by_subject(rows: Sequence[tuple[Any, ...]]) -> dict[str, list[Point]]:
    found: dict[str, list[Point]] = {}
    for subject, at, value, limit in rows:
        found.setdefault(subject, []).append(Point(from_epoch(at), float(value), None if limit is None else float(limit)))
    return found
