"""Prefect tasks around backups: create (retried once, only when the database was unreachable: a
second dump is not what any other failure needs) and verify (retried on transient database
errors). Progress becomes periodic lines in the run log (``tasks/backup/progress.py``).

Used by the validate flow and, as safe-migrate's backup steps, by ``tasks/migrate/tasks.py``.
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from migration_guard.tasks.backup import BackupInfo, VerifyResult, create_backup, verify_backup
from migration_guard.tasks.backup.scope import BackupScope
from migration_guard.tasks.backup.progress import log_created, log_verified, progress_logger
from migration_guard.tasks.retry import DB_TASK_OPTIONS


@task(name="create-backup", **{**DB_TASK_OPTIONS, "retries": 1})
def create_backup_task(
    dsn: str,
    backup_dir: Path,
    reason: str,
    migration_head: str | None = None,
    scope: BackupScope | None = None,
    fmt: str = "auto",
    jobs: int | None = None,
    lock_wait_timeout: str | None = "60s",
) -> BackupInfo:
    """pg_dump the database into ``backup_dir`` (scoped when ``scope`` says so); retried once only
    if the database was unreachable."""
    logger = get_run_logger()
    info = create_backup(dsn, Path(backup_dir), reason=reason, migration_head=migration_head, fmt=fmt, jobs=jobs,
                         progress=progress_logger(logger), lock_wait_timeout=lock_wait_timeout, scope=scope)
    log_created(logger, info)
    return info


@task(name="verify-backup", **DB_TASK_OPTIONS)
def verify_backup_task(path: Path, restore_check: bool = False, dsn: str | None = None) -> VerifyResult:
    """Verify a backup (TOC, checksum, data read back; optionally a scratch restore with row counts)."""
    result = verify_backup(Path(path), restore_check=restore_check, dsn=dsn)
    log_verified(get_run_logger(), path, result)
    return result
