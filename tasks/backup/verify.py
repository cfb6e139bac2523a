"""Verifying a backup: the archive's table of contents, its checksum against the metadata, every
data block read back, and optionally a full restore into a scratch database with row counts
compared against the source."""

from __future__ import annotations

import os
import shlex
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from migration_guard.tasks.backup.archive import archive_objects, list_archive, write_use_list
from migration_guard.tasks.backup.client import ClientConnection, client_connection, run_tool
from migration_guard.tasks.backup.errors import (
    BackupCorruptError,
    BackupError,
    BackupMismatchError,
    BackupNotFoundError,
    connection_lost,
)
from migration_guard.tasks.backup.files import remove_path, sha256_of, size_of
from migration_guard.tasks.backup.metadata import BackupInfo, read_metadata, write_metadata
from migration_guard.tasks.backup.restore import restored_objects
from migration_guard.tasks.backup.scratch import dsn_for_database, row_counts, scratch_database, user_tables
from migration_guard.tasks.backup.sizing import format_bytes
from migration_guard.tasks.backup.tools import PgTools, find_tools
from migration_guard.tasks.db import connection, database_name


#: counting rows in the live source must not queue behind an exclusive lock forever
SOURCE_SESSION_OPTIONS = "-c lock_timeout=30000"


@dataclass
class VerifyResult:
    """What verification proved about one backup.

    Attributes:
        toc_entries / data_entries: archive entries, and how many carry table data.
        checksum_ok: sha256 matched the metadata (None when there is no metadata).
        data_readable: every data block was read back and decompressed.
        restore_checked: restored into a scratch database; table_rows then holds per-table counts.
    """

    path: Path
    ok: bool
    toc_entries: int
    data_entries: int
    checksum_ok: bool | None
    data_readable: bool
    restore_checked: bool = False
    table_rows: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    level: str = "read"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def _tools_for(info: BackupInfo | None, dsn: str | None) -> PgTools:
    if dsn is not None:
        with connection(dsn) as conn:
            major = int(conn.info.server_version) // 10000
        return find_tools(major)
    major = int(info.tool_version.split(".")[0]) if info and info.tool_version[:1].isdigit() else 0
    return find_tools(major)


def verify_backup(path: Path, *, restore_check: bool = False, dsn: str | None = None, jobs: int | None = None) -> VerifyResult:
    """Prove a backup is readable, and with ``restore_check`` that it restores to the source's row counts.

    Steps: ``pg_restore --list`` (table of contents); sha256 and size against the metadata file;
    ``pg_restore -f /dev/null`` (reads and decompresses every data block); with ``restore_check``,
    restore into a scratch database on ``dsn``'s server, count rows per table there and in the
    source, drop the scratch database. On success the metadata is marked verified.

    Raises:
        BackupNotFoundError: no such backup.
        BackupCorruptError: truncated or damaged archive, or checksum mismatch (says which).
        BackupMismatchError: restored row counts differ from the source.
        BackupError: restore_check without dsn; DatabaseError / BackupToolError as usual.
    """
    started = time.monotonic()
    path = Path(path)
    if not path.exists():
        raise BackupNotFoundError(f"backup {path} does not exist", "list backups with: migration-guard backup list")
    if restore_check and dsn is None:
        raise BackupError("a restore check needs the source database URL", "pass --database-url or set DATABASE_URL")
    info = read_metadata(path)
    tools = _tools_for(info, dsn)
    offline = ClientConnection("", dict(os.environ), ())

    listing = run_tool([str(tools.pg_restore), "--list", str(path)], offline, capture_stdout=True)
    if listing.returncode != 0:
        raise BackupCorruptError(
            f"backup {path.name} is not a readable archive (pg_restore --list): {listing.first_error}",
            "the dump is damaged; take a new backup (migration-guard backup create)",
        )
    entries = [line for line in listing.stdout.splitlines() if line.strip() and not line.startswith(";")]
    toc, data = len(entries), sum(1 for line in entries if " TABLE DATA " in line)

    checksum_ok: bool | None = None
    if info is not None:
        actual_size = size_of(path)
        checksum_ok = actual_size == info.size_bytes and sha256_of(path) == info.sha256
        if not checksum_ok:
            raise BackupCorruptError(
                f"backup {path.name} does not match its metadata: {format_bytes(actual_size)} now, "
                f"{format_bytes(info.size_bytes)} when written, sha256 differs — the file is truncated or was changed",
                "take a new backup (migration-guard backup create); do not restore this one",
            )

    read_back = run_tool([str(tools.pg_restore), f"--file={os.devnull}", str(path)], offline)
    if read_back.returncode != 0:
        raise BackupCorruptError(
            f"backup {path.name} is truncated or damaged: reading its data failed ({read_back.first_error})",
            "take a new backup (migration-guard backup create); do not restore this one",
        )

    result = VerifyResult(path, True, toc, data, checksum_ok, True)
    if restore_check:
        assert dsn is not None
        result.table_rows = _restore_and_compare(path, dsn, tools, jobs, info)
        result.restore_checked = True
        result.level = "restore-check"
    result.duration_s = round(time.monotonic() - started, 3)
    if info is not None:
        info.verified = True
        info.verified_at = datetime.now(timezone.utc)
        info.verify_level = result.level
        if result.restore_checked:
            info.table_rows = result.table_rows
        write_metadata(info)
    return result


def _restore_and_compare(path: Path, dsn: str, tools: PgTools, jobs: int | None,
                         info: BackupInfo | None = None) -> dict[str, int]:
    """Restore into a scratch database and compare row counts with the source: of every table for
    a full backup, of the tables whose data it holds for a scoped one."""
    workers = jobs or os.cpu_count() or 1
    selection: list[str] = []
    use_list = None
    if info is not None and info.scoped:
        objects = archive_objects(list_archive(path, tools))
        chosen = restored_objects(objects, info, over_live=False)
        if len(chosen) != len(objects):
            handle, name = tempfile.mkstemp(prefix="mg-verify-", suffix=".uselist")
            os.close(handle)
            use_list = write_use_list(objects, {o.dump_id for o in chosen}, Path(name))
            selection = [f"--use-list={use_list}"]
    try:
        return _restore_into_scratch(path, dsn, tools, workers, selection, info)
    finally:
        if use_list is not None:
            remove_path(use_list)


def _restore_into_scratch(path: Path, dsn: str, tools: PgTools, workers: int, selection: list[str],
                          info: BackupInfo | None) -> dict[str, int]:
    with scratch_database(dsn) as scratch:
        client = client_connection(dsn, dbname=scratch)
        argv = [str(tools.pg_restore), "--no-owner", "--no-privileges", "--exit-on-error",
                f"--jobs={workers}", *selection, f"--dbname={client.conninfo}", str(path)]
        run = run_tool(argv, client)
        if run.returncode != 0 and connection_lost(run.first_error):
            raise BackupError(
                f"the restore check of backup {path.name} was cut off: pg_restore lost its connection to the "
                f"database ({run.first_error}); the dump itself was not found faulty, it stays unverified",
                "once the database accepts connections, check it again: migration-guard backup verify "
                f"{shlex.quote(str(path))} --restore-check",
            )
        if run.returncode != 0:
            raise BackupCorruptError(
                f"restoring backup {path.name} into a scratch database failed: {run.first_error}",
                "the dump cannot be restored as is; take a new backup and check the PostgreSQL log",
            )
        with connection(dsn_for_database(dsn, scratch)) as restored:
            tables = user_tables(restored)
            if info is not None and info.scoped:
                tables = [t for t in tables if t in set(info.scope_tables)]
            restored_counts = row_counts(restored, tables)
    with connection(dsn, options=SOURCE_SESSION_OPTIONS) as source:
        source_counts = row_counts(source, tables)
    mismatches = [
        (table, rows, source_counts.get(table, -1))
        for table, rows in restored_counts.items()
        if source_counts.get(table) != rows
    ]
    if mismatches:
        shown = "; ".join(
            f"{t}: backup {b}, source {'missing' if s < 0 else s}" for t, b, s in mismatches[:5]
        )
        raise BackupMismatchError(
            f"backup {path.name} restored, but {len(mismatches)} table(s) of {database_name(dsn)} have "
            f"different row counts now: {shown}",
            "if the source was written since the backup, take a new backup and re-check at a quiet moment",
            mismatches=mismatches,
        )
    return restored_counts
