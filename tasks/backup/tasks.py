"""Prefect tasks around backups: create (not retried: a second dump is not what a failure needs)
and verify (retried on transient database errors). Progress becomes periodic log lines."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import get_run_logger, task

from migration_guard.tasks.backup import BackupInfo, BackupProgress, VerifyResult, create_backup, verify_backup
from migration_guard.tasks.backup.sizing import format_bytes
from migration_guard.tasks.retry import DB_TASK_OPTIONS

LOG_EVERY_SECONDS = 10.0


def _progress_logger(logger, every: float = LOG_EVERY_SECONDS):  # noqa: ANN001, ANN202 - Prefect logger adapter
    last = [time.monotonic()]

    def report(update: BackupProgress) -> None:
        now = time.monotonic()
        if update.phase == "dump" and now - last[0] < every:
            return
        last[0] = now
        share = f" (~{update.fraction:.0%} of the estimate)" if update.fraction is not None and update.phase == "dump" else ""
        logger.info("backup %s: %s written after %.0f s%s", update.phase, format_bytes(update.bytes_written),
                    update.elapsed_s, share)

    return report


@task(name="create-backup", **{**DB_TASK_OPTIONS, "retries": 1})
def create_backup_task(
    dsn: str,
    backup_dir: Path,
    reason: str,
    migration_head: str | None = None,
    fmt: str = "auto",
    jobs: int | None = None,
    lock_wait_timeout: str | None = "60s",
) -> BackupInfo:
    """pg_dump the database into ``backup_dir``; retried once only if the database was unreachable."""
    logger = get_run_logger()
    info = create_backup(dsn, Path(backup_dir), reason=reason, migration_head=migration_head, fmt=fmt, jobs=jobs,
                         progress=_progress_logger(logger), lock_wait_timeout=lock_wait_timeout)
    logger.info("backup %s: %s in %.1f s (%s, sha256 %s…)", info.path.name, format_bytes(info.size_bytes),
                info.duration_s, info.format, info.sha256[:12])
    return info


@task(name="verify-backup", **DB_TASK_OPTIONS)
def verify_backup_task(path: Path, restore_check: bool = False, dsn: str | None = None) -> VerifyResult:
    """Verify a backup (TOC, checksum, data read back; optionally a scratch restore with row counts)."""
    result = verify_backup(Path(path), restore_check=restore_check, dsn=dsn)
    get_run_logger().info("backup %s verified (%s): %d entries, %d with data", Path(path).name, result.level,
                          result.toc_entries, result.data_entries)
    return result
