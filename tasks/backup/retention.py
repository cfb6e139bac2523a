"""Retention: keep the newest N backups and anything younger than D days; delete the rest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from migration_guard.tasks.backup.files import remove_path
from migration_guard.tasks.backup.metadata import BackupInfo, list_backups


def select_expired(backups: Sequence[BackupInfo], keep_last: int, keep_days: float, now: datetime) -> list[BackupInfo]:
    """Backups to delete: neither among the ``keep_last`` newest nor younger than ``keep_days``.

    A scoped backup holds the data of a few tables only, so the newest FULL backup of each
    database is kept too, however old (otherwise scoped pre-migrate backups would age out the
    only copy of every other table)."""
    newest_first = sorted(backups, key=lambda b: b.created_at, reverse=True)
    cutoff = now - timedelta(days=keep_days)
    newest_full: dict[tuple[str, str], BackupInfo] = {}
    for b in newest_first:
        if not b.scoped:
            newest_full.setdefault((b.target, b.database), b)
    keep = {id(b) for b in newest_full.values()}
    return [b for index, b in enumerate(newest_first)
            if index >= max(keep_last, 0) and b.created_at < cutoff and id(b) not in keep]


#: a ``.<name>.partial`` dump this old was left by a killed process, not a running one
STALE_PARTIAL_AGE = timedelta(days=1)


def apply_retention(backup_dir: Path, keep_last: int, keep_days: float, *, now: datetime | None = None) -> list[Path]:
    """Delete expired backups (dump and metadata) in ``backup_dir``, and partial dumps older than a
    day (left by a killed process); return the paths deleted."""
    now = now or datetime.now(timezone.utc)
    expired = select_expired(list_backups(Path(backup_dir)), keep_last, keep_days, now)
    for info in expired:
        remove_path(info.path)
        remove_path(info.metadata_path)
    stale = [p for p in stale_partials(Path(backup_dir), now)]
    for path in stale:
        remove_path(path)
    return [info.path for info in expired] + stale


def stale_partials(backup_dir: Path, now: datetime) -> list[Path]:
    """Temporary dumps (``.<name>.partial``) not modified for STALE_PARTIAL_AGE."""
    if not backup_dir.is_dir():
        return []
    cutoff = (now - STALE_PARTIAL_AGE).timestamp()
    return sorted(p for p in backup_dir.glob(".*.partial") if p.stat().st_mtime < cutoff)
