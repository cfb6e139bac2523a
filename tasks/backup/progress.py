"""Backup progress as log lines: periodic lines while pg_dump writes, one line when a backup is
written and one when it is verified. Plain functions over any logger with ``.info`` (the Prefect
run logger in ``tasks/backup/tasks.py``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from migration_guard.tasks.backup.create import BackupProgress, ProgressCallback
from migration_guard.tasks.backup.metadata import BackupInfo
from migration_guard.tasks.backup.sizing import format_bytes
from migration_guard.tasks.backup.verify import VerifyResult

#: seconds between two "still dumping" lines
LOG_EVERY_SECONDS = 10.0


def progress_logger(logger: Any, every: float = LOG_EVERY_SECONDS) -> ProgressCallback:
    """A ``create_backup`` progress callback that logs at most one dump line per ``every`` seconds
    (and every phase change)."""
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


def log_created(logger: Any, info: BackupInfo) -> None:
    """One line for a written backup: name, size, time, format, checksum prefix."""
    logger.info("backup %s: %s in %.1f s (%s, sha256 %s…)", info.path.name, format_bytes(info.size_bytes),
                info.duration_s, info.format, info.sha256[:12])


def log_verified(logger: Any, path: Path, result: VerifyResult) -> None:
    """One line for a verified backup: name, level, entries."""
    logger.info("backup %s verified (%s): %d entries, %d with data", Path(path).name, result.level,
                result.toc_entries, result.data_entries)
