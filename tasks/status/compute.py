"""Status: the join of migrations on disk and ledger rows into per-migration states (plain logic)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from migration_guard.tasks.models import LedgerEntry, LiveSession, Migration, MigrationStatus, State, StatusReport
from migration_guard.tasks.status.inflight import find_in_flight


def compute_statuses(
    migrations: Sequence[Migration], entries: Sequence[LedgerEntry], *, tool: str = "prisma",
    sessions: Sequence[LiveSession] = (),
) -> list[MigrationStatus]:
    """Decide each migration's state from the files and the ledger rows (Prisma's rules).

    - applied: a row with finished_at set and rolled_back_at NULL, and the file's checksum matches
      (line-ending-only differences match);
    - modified: applied, but the file changed since;
    - running: a row neither finished nor rolled back that a live session is applying now
      (``sessions``; see ``tasks/status/inflight.py`` for the evidence and its confidence);
    - failed: a row neither finished nor rolled back, and no applied row (and not running);
    - rolled_back: every row rolled back (Prisma re-applies it on the next deploy);
    - pending: on disk, no row;
    - missing_locally: applied in the database, no file on disk.
    """
    rows_by_name: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        rows_by_name[entry.migration_name].append(entry)
    local = {m.name: m for m in migrations}
    names = sorted(set(local) | set(rows_by_name))
    unfinished = [e for e in entries if e.is_failed]
    newest = max(unfinished, key=lambda e: e.started_at).id if unfinished else None
    return [_status_of(name, local.get(name), tuple(rows_by_name.get(name, ())), tool, sessions, newest)
            for name in names]


def _status_of(name: str, migration: Migration | None, rows: tuple[LedgerEntry, ...], tool: str,
               sessions: Sequence[LiveSession] = (), newest_unfinished: str | None = None) -> MigrationStatus:
    applied = [r for r in rows if r.is_applied]
    failed = [r for r in rows if r.is_failed]
    if applied:
        if migration is None:
            return MigrationStatus(
                name, State.MISSING_LOCALLY, None, rows,
                "applied to the database but its migration file is not on disk",
                _restore_hint(name, tool),
            )
        if not migration.matches_checksum(applied[-1].checksum):
            return MigrationStatus(
                name, State.MODIFIED, migration, rows,
                f"edited after it was applied (ledger checksum {applied[-1].checksum[:12]}…, "
                f"file {migration.checksum[:12]}…)",
                f"restore the applied version (git log -p -- {migration.path}) and put the change "
                "in a new migration",
            )
        return MigrationStatus(name, State.APPLIED, migration, rows)
    if failed and sessions:
        last = failed[-1]
        in_flight = find_in_flight(migration, last, sessions, newest_unfinished=last.id == newest_unfinished)
        if in_flight is not None:
            session = in_flight.session
            return MigrationStatus(
                name, State.RUNNING, migration, rows,
                f"running since {last.started_at:%Y-%m-%d %H:%M:%S %Z}, by pid {session.pid} "
                f"(application {session.application}; {in_flight.confidence} confidence: {in_flight.evidence}); "
                f"current statement: {session.current_statement or '(none)'}",
                "wait for it to finish, then: migration-guard status   # never mark a running migration "
                "resolved: it would corrupt the ledger when it finishes",
                in_flight,
            )
    if failed:
        last = failed[-1]
        where = f" after {last.applied_steps_count} step(s)" if last.applied_steps_count else ""
        detail = f"started {last.started_at:%Y-%m-%d %H:%M:%S %Z} and failed{where}"
        if len(failed) > 1:
            detail += f" ({len(failed)} failed attempts)"
        if migration is None:
            detail += "; its migration file is not on disk"
        return MigrationStatus(
            name, State.FAILED, migration, rows, detail,
            f"migration-guard recover   # or by hand: prisma migrate resolve --rolled-back {name} (undo) "
            f"or --applied {name} (finish)" if tool == "prisma" else "migration-guard recover",
        )
    if rows:
        return MigrationStatus(
            name, State.ROLLED_BACK, migration, rows,
            "rolled back; it will be applied again by the next migrate"
            + ("" if migration else " (its file is not on disk, so it will not)"),
            "migration-guard migrate" if migration else "",
        )
    return MigrationStatus(name, State.PENDING, migration, rows, "not applied yet", "migration-guard migrate")


def _restore_hint(name: str, tool: str) -> str:
    target = f"prisma/migrations/{name}" if tool == "prisma" else f"{name}.sql"
    return (
        f"restore it from version control: git log --all --diff-filter=D -- '*{target}*' "
        "then git checkout <commit>^ -- <path>"
    )


def build_report(
    migrations: Sequence[Migration],
    entries: Sequence[LedgerEntry],
    *,
    tool: str,
    migrations_dir: str,
    database: str,
    ledger_table: str,
    ledger_exists: bool,
    sessions: Sequence[LiveSession] = (),
) -> StatusReport:
    """A :class:`StatusReport` from files, ledger rows and the live sessions that may be applying
    one of them."""
    return StatusReport(
        tool=tool,
        migrations_dir=migrations_dir,
        database=database,
        ledger_table=ledger_table,
        ledger_exists=ledger_exists,
        statuses=tuple(compute_statuses(migrations, entries, tool=tool, sessions=sessions)),
    )


def report_to_dict(report: StatusReport) -> dict:
    """Stable JSON shape of a status report (documented in README; keys only ever added)."""
    return {
        "tool": report.tool,
        "migrations_dir": report.migrations_dir,
        "database": report.database,
        "ledger_table": report.ledger_table,
        "ledger_exists": report.ledger_exists,
        "exit_code": report.exit_code,
        "summary": {state.value: report.count(state) for state in State},
        "migrations": [
            {
                "name": s.name,
                "state": s.state.value,
                "detail": s.detail,
                "suggestion": s.suggestion,
                "checksum": s.migration.checksum if s.migration else None,
                "path": str(s.migration.path) if s.migration else None,
                "in_flight": s.in_flight.to_dict() if s.in_flight else None,
                "attempts": [
                    {
                        "id": e.id,
                        "checksum": e.checksum,
                        "started_at": e.started_at.isoformat() if e.started_at else None,
                        "finished_at": e.finished_at.isoformat() if e.finished_at else None,
                        "rolled_back_at": e.rolled_back_at.isoformat() if e.rolled_back_at else None,
                        "applied_steps_count": e.applied_steps_count,
                        "logs": e.logs,
                    }
                    for e in s.entries
                ],
            }
            for s in report.statuses
        ],
    }
