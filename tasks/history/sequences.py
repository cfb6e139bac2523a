"""Which sequences a healthcheck run reads. A sequence's last value lives in its own relation: a
run on a new session opens each one (with its owning column's catalog rows), which for a schema of
200 sequences costs more server time than every other reading together (bench/history_cost.py).
Most sequences are nowhere near their limit, and one read every few hours forecasts them as well
as hourly. So a run reads every sequence when the last such scan is ``SCAN_INTERVAL`` old (a
``sequences_scanned`` observation marks each scan), and in between only the watched ones: those
that could reach their limit within ``WATCH_DAYS`` at their average rate, whose rate is not known
yet, that went down (a reset), or that use ``NEARLY_FULL`` of their limit already."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from migration_guard.tasks.history.forecast import WINDOW, reaches_limit_within
from migration_guard.tasks.history.model import SEQUENCE_VALUE, SEQUENCES_SCANNED, Point
from migration_guard.tasks.history.store import HistoryStore
from migration_guard.tasks.sql.identifiers import split_qualified

#: every sequence is read at least this often (a far sequence cannot come near its limit between)
SCAN_INTERVAL = timedelta(hours=6)
#: a scheduled run starts a little early or late: one 5 h 58 min after the last scan still scans
SCAN_SLACK = timedelta(minutes=2)
#: read every run while its average rate could take it to its limit within this many days (the
#: capacity forecast's own cut-off: 10 x its 30-day warning)
WATCH_DAYS = 300.0
#: read every run, and an alert whatever its rate (capacity_forecast), from this share of its limit on
NEARLY_FULL = 0.80


@dataclass(frozen=True)
class SequenceScope:
    """Every sequence (``every``), or only those feeding ``owners`` (schema, table, column) and the
    unowned ``sequences`` (schema, name) — plain names, as the catalog spells them."""

    every: bool = True
    owners: tuple[tuple[str, str, str], ...] = ()
    sequences: tuple[tuple[str, str], ...] = ()

    @property
    def size(self) -> int:
        return len(self.owners) + len(self.sequences)


EVERY = SequenceScope()


def watched_subjects(ends: Mapping[str, tuple[Point | None, Point]]) -> list[str]:
    """The sequences (history subjects) read on every run: ``reaches_limit_within`` WATCH_DAYS
    says they could, or cannot tell (one reading), or they use NEARLY_FULL of their limit already."""
    return [subject for subject, (first, last) in ends.items()
            if reaches_limit_within(first, last, WATCH_DAYS) is not False
            or (last.limit is not None and last.value >= NEARLY_FULL * last.limit)]


def scope_of(subjects: list[str]) -> SequenceScope:
    """The scope that reads exactly the sequences behind ``subjects`` (``schema.table.column`` of
    the column a sequence feeds, or ``schema.sequence``)."""
    owners, sequences = [], []
    for subject in subjects:
        parts = split_qualified(subject)
        if len(parts) == 3:
            owners.append((parts[0], parts[1], parts[2]))
        elif len(parts) == 2:
            sequences.append((parts[0], parts[1]))
    return SequenceScope(False, tuple(owners), tuple(sequences))


def sequence_ends(store: HistoryStore, database: str, since: datetime) -> dict[str, tuple[Point | None, Point]]:
    """``series_ends`` of the sequences from ``since`` on, the first end taken at the first scan
    since then: a run between scans reads only some sequences, and every other one would look new
    (no first reading) if the window began at such a run."""
    def first_scan() -> datetime:
        scans = store.series(database, SEQUENCES_SCANNED, since).get("", [])
        return scans[0].at if scans else since

    start = store.remembered(("first scan", database, since), first_scan)  # the forecast and the scope ask
    return store.series_ends(database, SEQUENCE_VALUE, start)


def sequence_scope(store: HistoryStore | None, database: str, at: datetime) -> SequenceScope:
    """What a run of ``database`` at ``at`` reads: every sequence when there is no store, or no
    scan within ``SCAN_INTERVAL``; else the watched ones."""
    if store is None or not store.series(database, SEQUENCES_SCANNED, at - SCAN_INTERVAL + SCAN_SLACK):
        return EVERY
    return scope_of(watched_subjects(sequence_ends(store, database, at - WINDOW - timedelta(hours=1))))
