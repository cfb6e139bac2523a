"""Creating a backup: check tools and disk, dump under a temporary name, checksum, rename, write
metadata. A failure at any step leaves nothing behind but the error; so does SIGINT / SIGTERM
(pg_dump is stopped and reaped, the partial dump removed). Partial dumps abandoned by a killed
earlier run (their writer is gone) are removed before the disk check."""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from migration_guard.tasks import interrupts
from migration_guard.tasks.backup.client import client_connection, run_tool
from migration_guard.tasks.backup.errors import BackupError, BackupSpaceError, connection_lost
from migration_guard.tasks.backup.files import (
    BackgroundFlusher,
    fsync_directory,
    make_private,
    partial_path,
    remove_abandoned_partials,
    remove_path,
    seal,
    size_of,
)
from migration_guard.tasks.backup.archive import archive_objects, list_archive
from migration_guard.tasks.backup.metadata import BackupInfo, write_metadata
from migration_guard.tasks.backup.restore_point import record_restore_point
from migration_guard.tasks.backup.scope import BackupScope
from migration_guard.tasks.backup.scoped import (
    ScopeCatalog,
    read_scope_catalog,
    scope_entries,
    scope_metadata,
    scoped_dump_args,
    too_many_for_argv,
)
from migration_guard.tasks.backup.sizing import (
    DumpPlan,
    SourceSize,
    check_free_space,
    dump_input_bytes,
    estimate_dump_bytes,
    format_bytes,
    measure_source,
    plan_dump,
)
from migration_guard.tasks.backup.tools import PgTools, find_tools
from migration_guard.tasks.db import connection, describe_target


@dataclass(frozen=True)
class BackupProgress:
    """Reported while a dump runs: bytes on disk so far against the size estimate."""

    phase: str  # "dump", "checksum", "done"
    bytes_written: int
    estimated_bytes: int
    elapsed_s: float

    @property
    def fraction(self) -> float | None:
        return min(self.bytes_written / self.estimated_bytes, 0.99) if self.estimated_bytes else None


ProgressCallback = Callable[[BackupProgress], None]

_log = logging.getLogger("migration_guard.backup")

#: how often the progress callback is called while pg_dump runs
PROGRESS_TICK_SECONDS = 0.5


@dataclass(frozen=True)
class BackupPreflight:
    """Everything decided before a dump starts (also what `validate` reports as 'room for a backup')."""

    source: SourceSize
    plan: DumpPlan
    tools: PgTools
    estimated_bytes: int
    free_bytes: int
    #: for a scoped backup: the tables it covers and their catalog facts (None: full)
    scope: ScopeCatalog | None = None


def preflight(dsn: str, backup_dir: Path, *, fmt: str = "auto", jobs: int | None = None,
              compression: int | None = None, check_space: bool = True,
              scope: BackupScope | None = None) -> BackupPreflight:
    """Measure the source, pick tools and format, and check free disk — without dumping.

    A scoped ``scope`` sizes the dump by the scoped tables' data only (relpages; a table never
    vacuumed or analysed counts with all the database bytes no statistics account for).

    Raises:
        DatabaseError: the database cannot be reached.
        BackupToolError: no pg_dump fits the server version.
        BackupSpaceError: the estimate does not fit on the disk.
        BackupError: the backup folder cannot be created or written.
    """
    catalog: ScopeCatalog | None = None
    with connection(dsn) as conn:
        source = measure_source(conn)
        if scope is not None and scope.scoped:
            catalog = read_scope_catalog(conn, scope)
            if too_many_for_argv(scoped_dump_args(catalog)):
                _log.warning("%d tables outside the scope do not fit on pg_dump's command line: taking a full backup",
                             len(catalog.outside))
                catalog = None
    tools = find_tools(source.server_major, source.server_version)
    sized = source if catalog is None else _scoped_source(source, catalog)
    plan = plan_dump(sized, fmt, jobs, compression)
    ensure_backup_dir(backup_dir)
    estimate = estimate_dump_bytes(sized, plan)
    free = check_free_space(backup_dir, estimate) if check_space else shutil.disk_usage(backup_dir).free
    return BackupPreflight(sized, plan, tools, estimate, free, catalog)


def _scoped_source(source: SourceSize, catalog: ScopeCatalog) -> SourceSize:
    """The source as a scoped dump reads it: the scope's table data (plus the bytes no statistics
    account for when a scoped table was never measured)."""
    data = catalog.data_bytes
    if catalog.unmeasured:
        data += max(0, source.database_bytes - source.data_bytes)
    text = None
    if source.copy_text_bytes is not None and source.data_bytes and not catalog.unmeasured:
        text = int(source.copy_text_bytes * min(1.0, catalog.data_bytes / source.data_bytes))  # the scope's share
    return SourceSize(source.database, data, data, len(catalog.tables), source.server_version, source.server_major,
                      copy_text_bytes=text, compressed_ratio=source.compressed_ratio if text is not None else None)


def ensure_backup_dir(backup_dir: Path) -> None:
    """Create the backup folder (mode 0700) if missing; fail clearly when it is not writable."""
    try:
        backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise BackupError(f"cannot create the backup folder {backup_dir}: {exc.strerror}",
                          "set BACKUP_DIR to a writable folder") from None
    if not os.access(backup_dir, os.W_OK | os.X_OK):
        raise BackupError(f"the backup folder {backup_dir} is not writable", "set BACKUP_DIR to a writable folder")


def backup_name(database: str, created_at: datetime, reason: str) -> str:
    """``<database>-<UTC timestamp with ms>-<reason>``, restricted to safe file-name characters."""
    safe_db = re.sub(r"[^A-Za-z0-9_.-]+", "_", database) or "db"
    safe_reason = re.sub(r"[^A-Za-z0-9_.-]+", "-", reason).strip("-") or "manual"
    stamp = created_at.strftime("%Y%m%dT%H%M%S") + f".{created_at.microsecond // 1000:03d}Z"
    return f"{safe_db}-{stamp}-{safe_reason}"


def create_backup(
    dsn: str,
    backup_dir: Path,
    *,
    reason: str,
    migration_head: str | None = None,
    fmt: str = "auto",
    jobs: int | None = None,
    compression: int | None = None,
    progress: ProgressCallback | None = None,
    check_space: bool = True,
    lock_wait_timeout: str | None = "60s",
    scope: BackupScope | None = None,
    restore_point: bool = True,
) -> BackupInfo:
    """Dump the database at ``dsn`` into ``backup_dir`` with pg_dump.

    Args:
        dsn: the source database (its password reaches pg_dump through PGPASSWORD only).
        backup_dir: destination folder (created 0700 if missing).
        reason: why (``pre-migrate``, ``manual`` ...), stored in metadata and the file name.
        migration_head: last applied migration, stored in metadata.
        fmt: ``auto`` (custom below 64 MiB of table data, else directory), ``custom`` or ``directory``.
        jobs: parallel jobs for directory format (default: one per core).
        compression: gzip level 0-9 (default 1: fast, ~2x smaller on typical data).
        progress: called about twice a second with a :class:`BackupProgress`.
        check_space: compare free disk with the size estimate before starting.
        lock_wait_timeout: give up (instead of waiting forever) when a table is locked exclusively
            at the start of the dump; None waits.
        scope: a scoped :class:`BackupScope` dumps the whole schema and only its tables' data
            (one pg_dump, one snapshot; see tasks/backup/scoped.py); None or full: everything.
        restore_point: when the server archives WAL and the archive is current, create a named
            restore point right after the dump and record it (warn when archiving fails).

    Returns:
        The :class:`BackupInfo`, also written as ``<name>.json`` beside the dump (mode 0600).

    Raises:
        BackupToolError, BackupSpaceError, BackupError, DatabaseError.

    Example:
        >>> info = create_backup(url, Path("backups"), reason="pre-migrate")  # doctest: +SKIP
    """
    backup_dir = Path(backup_dir)
    if backup_dir.is_dir():
        for abandoned in remove_abandoned_partials(backup_dir):
            _log.warning("removed %s (%s), a partial dump left by a killed run (pid %s)", abandoned.path.name,
                         format_bytes(abandoned.size_bytes), abandoned.writer_pid or "unknown")
    pre = preflight(dsn, backup_dir, fmt=fmt, jobs=jobs, compression=compression, check_space=check_space, scope=scope)
    created_at = datetime.now(timezone.utc)
    name = backup_name(pre.source.database, created_at, reason)
    final = backup_dir / f"{name}{pre.plan.suffix}"
    temp = partial_path(final)
    client = client_connection(dsn)
    argv = [str(pre.tools.pg_dump), *pre.plan.pg_dump_args(), *(scoped_dump_args(pre.scope) if pre.scope else []),
            f"--file={temp}", f"--dbname={client.conninfo}"]
    if lock_wait_timeout:
        argv.insert(1, f"--lock-wait-timeout={lock_wait_timeout}")
    if pre.tools.major >= 12:
        argv.insert(1, "--no-sync")  # seal() syncs, overlapped with the checksum

    flusher = BackgroundFlusher(temp)

    def tick(elapsed: float) -> None:
        flusher.poke()
        if progress is not None:
            progress(BackupProgress("dump", size_of(temp), pre.estimated_bytes, elapsed))

    info: BackupInfo | None = None
    try:
        if pre.plan.format == "custom":
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        else:
            temp.mkdir(mode=0o700)
        try:
            run = run_tool(argv, client, on_tick=tick, tick_seconds=PROGRESS_TICK_SECONDS)
        finally:
            flusher.close()
        if run.returncode != 0:
            raise _dump_failure(run.first_error, backup_dir, temp)
        make_private(temp)
        covered = scope.to_dict() if scope is not None and not scope.scoped else None
        if scope is not None and scope.scoped and pre.scope is None:
            covered = {**scope.to_dict(), "mode": "full", "reasons": [
                *scope.reasons, "full backup: the tables outside the scope do not fit on pg_dump's command line"]}
        if pre.scope is not None and scope is not None:
            entries = scope_entries(archive_objects(list_archive(temp, pre.tools), pre.scope.schemas, pre.scope.roles),
                                    pre.scope)
            covered = scope_metadata(scope, pre.scope, entries)
        point = _restore_point(dsn, reason, created_at) if restore_point else None
        if progress is not None:
            progress(BackupProgress("checksum", size_of(temp), pre.estimated_bytes, run.duration_s))
        try:
            digest = seal(temp)
        except OSError as exc:
            raise _os_failure(exc, backup_dir) from None
        info = BackupInfo(
            path=final, database=pre.source.database, created_at=created_at, size_bytes=size_of(temp),
            sha256=digest, reason=reason, migration_head=migration_head, verified=False,
            format=pre.plan.format, duration_s=round(run.duration_s, 3), server_version=pre.source.server_version,
            tool_version=pre.tools.version, target=describe_target(dsn), jobs=pre.plan.jobs,
            system_identifier=pre.source.system_identifier, database_oid=pre.source.database_oid,
            compression=pre.plan.compression, data_bytes_estimate=dump_input_bytes(pre.source),
            scope=covered, restore_point=point.to_dict() if point and point.lsn else None,
            warnings=list(point.warnings) if point else [],
        )
        for warning in info.warnings:
            _log.warning("backup %s: %s", name, warning)
        os.rename(temp, final)
        try:
            write_metadata(info)
            fsync_directory(backup_dir)
        except OSError as exc:
            raise _os_failure(exc, backup_dir) from None
    except BaseException as exc:
        remove_path(temp)
        if info is not None and final.exists() and not info.metadata_path.exists():
            remove_path(final)
        if isinstance(exc, interrupts.Interrupted):
            interrupts.note_undone("removed the partial dump: no backup was written")
        raise
    if progress is not None:
        progress(BackupProgress("done", info.size_bytes, info.size_bytes, info.duration_s))
    return info


def _restore_point(dsn: str, reason: str, created_at: datetime):
    """The WAL restore point beside this backup (None when the server cannot be asked)."""
    from migration_guard.tasks.errors import MigrationGuardError

    try:
        with connection(dsn) as conn:
            return record_restore_point(conn, reason, created_at)
    except MigrationGuardError as exc:
        _log.warning("could not check WAL archiving for a restore point: %s", exc.message)
        return None


def _dump_failure(first_error: str, backup_dir: Path, temp: Path) -> BackupError:
    disk_full = os.strerror(errno.ENOSPC) in first_error
    remove_path(temp)
    if disk_full or shutil.disk_usage(backup_dir).free == 0:
        free = shutil.disk_usage(backup_dir).free
        return BackupSpaceError(
            f"the disk holding {backup_dir} filled up during the dump ({format_bytes(free)} free after removing "
            f"the partial dump): {first_error}",
            "free disk space or set BACKUP_DIR to a larger disk, then re-run",
            free_bytes=free,
        )
    if "LOCK TABLE" in first_error:
        return BackupError(
            f"pg_dump could not lock a table within its lock wait timeout: {first_error}",
            "another session holds a conflicting lock (e.g. a running migration or ALTER): find it with "
            "SELECT pid, mode, query FROM pg_locks JOIN pg_stat_activity USING (pid) WHERE NOT granted OR mode = "
            "'AccessExclusiveLock'; then re-run",
        )
    if connection_lost(first_error):
        return BackupError(f"pg_dump lost its connection to the database: {first_error}",
                           "the server restarted or ended the session (not a fault of the data); the partial dump "
                           "was removed: once the database accepts connections, re-run the command")
    return BackupError(f"pg_dump failed: {first_error}", "check the message above; the partial dump was removed")


def _os_failure(exc: OSError, backup_dir: Path) -> BackupError:
    if exc.errno == errno.ENOSPC:
        return BackupSpaceError(
            f"the disk holding {backup_dir} is full: {exc.strerror}",
            "free disk space or set BACKUP_DIR to a larger disk, then re-run",
            free_bytes=shutil.disk_usage(backup_dir).free,
        )
    return BackupError(f"writing the backup in {backup_dir} failed: {exc.strerror}", "check the folder's permissions and disk")


