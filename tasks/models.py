"""Plain data shared by ledgers, status, lint, recover and alerts (no I/O here)."""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path


@dataclass(frozen=True)
class Migration:
    """One migration on disk.

    Attributes:
        name: the ledger name (Prisma: the folder name; SQL folder: file name without .sql).
        path: the file holding the SQL (Prisma: .../migration.sql).
        sql: the text, decoded as UTF-8.
        checksum: as the tool computes it (lowercase hex SHA-256 of the file's bytes).
        checksums_accepted: checksums that count as unmodified (the CRLF / LF variants).
        down_sql / down_path: the optional down script.
    """

    name: str
    path: Path
    sql: str
    checksum: str
    checksums_accepted: frozenset[str] = frozenset()
    down_sql: str | None = None
    down_path: Path | None = None

    def matches_checksum(self, checksum: str) -> bool:
        """True when a ledger checksum belongs to this file (line-ending variants included)."""
        return checksum == self.checksum or checksum in self.checksums_accepted


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the migration ledger, as the tool wrote it."""

    id: str
    migration_name: str
    checksum: str
    started_at: datetime
    finished_at: datetime | None
    rolled_back_at: datetime | None
    applied_steps_count: int
    logs: str | None

    @property
    def is_applied(self) -> bool:
        """Prisma's rule: finished and not rolled back."""
        return self.finished_at is not None and self.rolled_back_at is None

    @property
    def is_failed(self) -> bool:
        """Started, neither finished nor rolled back (Prisma: P3009 blocks the next deploy)."""
        return self.finished_at is None and self.rolled_back_at is None

    @property
    def is_rolled_back(self) -> bool:
        return self.rolled_back_at is not None


class State(StrEnum):
    """Where one migration stands, joining disk and ledger."""

    APPLIED = "applied"
    PENDING = "pending"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    MODIFIED = "modified"
    MISSING_LOCALLY = "missing_locally"
    #: started, not finished, and a live session is applying it right now (not a failure)
    RUNNING = "running"


PROBLEM_STATES = frozenset({State.FAILED, State.MODIFIED, State.MISSING_LOCALLY})
NOT_APPLIED_STATES = frozenset({State.PENDING, State.ROLLED_BACK})


@dataclass(frozen=True)
class LiveSession:
    """A database session that may be applying a migration: a holder of the migration lock, one of
    migration-guard's own migrate sessions, or a session running a statement (pg_stat_activity)."""

    pid: int
    application_name: str | None
    state: str | None
    query: str | None
    backend_start: datetime | None
    query_start: datetime | None
    holds_lock: bool
    usename: str | None = None
    client_addr: str | None = None

    @property
    def application(self) -> str:
        """The application name, or what an empty one means (Prisma's engine sets none)."""
        return self.application_name or "(none set; Prisma's engine sets none)"

    @property
    def current_statement(self) -> str:
        """The session's current (or last) statement on one line, at most 160 characters."""
        query = " ".join((self.query or "").split())
        return query if len(query) <= 160 else query[:157] + "..."

    def describe(self) -> str:
        """One line: pid, application, user, client, state, lock, current statement."""
        lock = ", holds the migration lock" if self.holds_lock else ""
        return (f"pid {self.pid} (application {self.application}, user {self.usename or '?'}, "
                f"client {self.client_addr or 'local'}, {self.state or '?'}{lock}): {self.current_statement}")


@dataclass(frozen=True)
class InFlight:
    """Why a started, unfinished ledger row is taken to be running now.

    Attributes:
        session: the session applying it (the one to name, with its current statement).
        confidence: ``high`` (a session runs one of its statements, or migration-guard's own migrate
            holds the lock) or ``medium`` (inferred from the migration lock alone: Prisma writes no
            session id in its ledger).
        evidence: the reasoning, in one sentence.
    """

    session: LiveSession
    confidence: str
    evidence: str

    def to_dict(self) -> dict:
        """JSON-ready (the ``in_flight`` of a running migration in ``status --json``)."""
        s = self.session
        return {"confidence": self.confidence, "evidence": self.evidence, "pid": s.pid,
                "application_name": s.application_name, "user": s.usename, "state": s.state,
                "holds_lock": s.holds_lock, "query": s.current_statement,
                "query_start": s.query_start.isoformat() if s.query_start else None}


#: a frame of a migration tool's backtrace in the ledger logs ("   0: sql_schema_connector::...")
_BACKTRACE_LINE = re.compile(r"^\d+: \S+::")


@dataclass(frozen=True)
class MigrationStatus:
    """The state of one migration, why, and the command that moves it forward."""

    name: str
    state: State
    migration: Migration | None
    entries: tuple[LedgerEntry, ...] = ()
    detail: str = ""
    suggestion: str = ""
    #: set for a RUNNING migration: the session applying it and how sure that is
    in_flight: InFlight | None = None

    @property
    def failed_entries(self) -> tuple[LedgerEntry, ...]:
        return tuple(e for e in self.entries if e.is_failed)

    @property
    def applied_entry(self) -> LedgerEntry | None:
        applied = [e for e in self.entries if e.is_applied]
        return applied[-1] if applied else None

    @property
    def failure_error(self) -> str:
        """The database error the ledger recorded for the latest failed attempt ('' when none):
        the logs without the migration tool's backtrace lines."""
        failed = self.failed_entries
        if not failed or not failed[-1].logs:
            return ""
        kept = []
        for line in failed[-1].logs.splitlines():
            stripped = line.strip()
            if _BACKTRACE_LINE.match(stripped) or stripped.startswith(("at ", "with ")):
                break
            if stripped:
                kept.append(stripped)
        return "\n".join(kept)[:2000]


@dataclass(frozen=True)
class StatusReport:
    """Every migration's status plus what the report means as a whole."""

    tool: str
    migrations_dir: str
    database: str
    ledger_table: str
    ledger_exists: bool
    statuses: tuple[MigrationStatus, ...] = field(default_factory=tuple)

    def count(self, state: State) -> int:
        return sum(1 for s in self.statuses if s.state is state)

    def by_state(self, *states: State) -> list[MigrationStatus]:
        return [s for s in self.statuses if s.state in states]

    @property
    def problems(self) -> list[MigrationStatus]:
        return [s for s in self.statuses if s.state in PROBLEM_STATES]

    @property
    def pending(self) -> list[MigrationStatus]:
        """Migrations the next migrate will apply: not applied yet, or rolled back with the file
        still on disk. A rolled-back migration whose file was removed is finished business (Prisma
        ignores it too): nothing will apply it, so it is not pending."""
        return [s for s in self.statuses if s.state in NOT_APPLIED_STATES
                and not (s.state is State.ROLLED_BACK and s.migration is None)]

    @property
    def running(self) -> list[MigrationStatus]:
        """Migrations a live session is applying right now."""
        return [s for s in self.statuses if s.state is State.RUNNING]

    @property
    def last_applied(self) -> str | None:
        """Name of the last applied migration (edited after apply counts: it was applied), if any."""
        applied = [s.name for s in self.statuses if s.state.value in {"applied", "modified"}]
        return applied[-1] if applied else None

    @property
    def exit_code(self) -> int:
        """0 all applied, 1 pending or running only, 2 failed / modified / missing locally."""
        if self.problems:
            return 2
        if self.pending or self.running:
            return 1
        return 0

    @property
    def summary(self) -> str:
        parts = [f"{self.count(state)} {state.value}" for state in State if self.count(state)]
        return ", ".join(parts) if parts else "no migrations"
