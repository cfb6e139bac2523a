"""A named WAL restore point beside a backup, when the server archives WAL: the point-in-time
recovery target (pgBackRest, WAL-G, or any archive) for the state the backup holds.

Only when ``archive_mode`` is on and ``pg_stat_archiver`` shows the archive current (no failure
since the last successful archive); archiving that is configured but failing is a warning, and
so is a restore point the role may not create (``pg_create_restore_point`` needs superuser or an
explicit GRANT EXECUTE).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import psycopg

#: prefix of every restore point name this tool creates
RESTORE_POINT_PREFIX = "migration-guard"


@dataclass
class RestorePointResult:
    """What was recorded (``name``/``lsn``/``created_at``) or why not (``warnings``; ``archiving``
    says what the server does: off, current, failing, never)."""

    archiving: str
    name: str | None = None
    lsn: str | None = None
    created_at: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def archiver_state(conn: psycopg.Connection) -> tuple[str, str]:
    """(state, detail): ``off`` (archive_mode off), ``current``, ``failing`` (a failure after the
    last success) or ``never`` (on, nothing archived yet and nothing failed)."""
    mode = conn.execute("SELECT current_setting('archive_mode')").fetchone()[0]  # type: ignore[index]
    if mode == "off":
        return "off", "archive_mode is off"
    row = conn.execute(
        "SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time "
        "FROM pg_stat_archiver").fetchone()
    assert row is not None
    archived, last_wal, last_time, failed, failed_wal, failed_time = row
    if failed_time is not None and (last_time is None or failed_time > last_time):
        return "failing", (f"WAL archiving is configured (archive_mode={mode}) but failing: {failed} failure(s), the last "
                           f"for {failed_wal} at {failed_time:%Y-%m-%d %H:%M:%S %Z}; last success: "
                           f"{last_wal or 'none'} — check archive_command and the PostgreSQL log")
    if not archived:
        return "never", f"archive_mode={mode} but nothing has been archived yet (pg_stat_archiver)"
    return "current", f"archive current: {last_wal} at {last_time:%Y-%m-%d %H:%M:%S %Z}"


def record_restore_point(conn: psycopg.Connection, label: str, when: datetime) -> RestorePointResult:
    """Create ``migration-guard <label> <UTC time>`` with pg_create_restore_point when the archive is
    current; never raises for a server that cannot (the warnings say why)."""
    state, detail = archiver_state(conn)
    result = RestorePointResult(state)
    if state == "failing":
        result.warnings.append(detail + "; no restore point recorded (a PITR target needs a working archive)")
        return result
    if state != "current":
        if state == "never":
            result.warnings.append(detail + "; no restore point recorded")
        return result
    name = f"{RESTORE_POINT_PREFIX} {label} {when:%Y-%m-%dT%H:%M:%SZ}"[:63]
    try:
        row = conn.execute("SELECT pg_create_restore_point(%s)::text, now()", (name,)).fetchone()
    except psycopg.Error as exc:
        conn.rollback()
        result.warnings.append(f"the archive is current but no restore point could be created: "
                               f"{exc.diag.message_primary or exc} (pg_create_restore_point needs superuser or "
                               f"GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO the role)")
        return result
    assert row is not None
    result.name, result.lsn, result.created_at = name, row[0], row[1].isoformat()
    return result
