"""Housekeeping behind the maintenance flow: expired alerts, old log files, backup retention."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from migration_guard.tasks.alerts.api import delete_expired_alerts
from migration_guard.tasks.alerts.model import utcnow

LOG_PATTERNS = ("*.log", "*.log.*", "*.jsonl")
_TASK = {"cache_policy": NO_CACHE, "persist_result": False}


def old_files(log_dir: Path, max_age: timedelta, now: datetime) -> list[Path]:
    """Log files in ``log_dir`` (and corrupt alert files below it) not modified for ``max_age``."""
    log_dir = Path(log_dir)
    if not log_dir.is_dir():
        return []
    candidates = {p for pattern in LOG_PATTERNS for p in log_dir.glob(pattern)}
    candidates |= set(log_dir.rglob("*.corrupt"))
    cutoff = (now - max_age).timestamp()
    return sorted(p for p in candidates if p.is_file() and p.stat().st_mtime < cutoff)


def delete_old_logs(log_dir: Path, max_age: timedelta, now: datetime | None = None) -> list[str]:
    """Delete :func:`old_files`; return their names."""
    deleted = []
    for path in old_files(log_dir, max_age, now or utcnow()):
        try:
            os.unlink(path)
            deleted.append(str(path))
        except FileNotFoundError:
            continue
    return deleted


@task(name="delete-expired-alerts", **_TASK)
def delete_expired_alerts_task(settings: Any, retention: timedelta) -> list[str]:
    """Alerts resolved longer than ``retention`` ago."""
    return delete_expired_alerts(settings, retention=retention)


@task(name="delete-old-logs", **_TASK)
def delete_old_logs_task(log_dir: Path, max_age: timedelta) -> list[str]:
    """Log files older than ``max_age``."""
    return delete_old_logs(log_dir, max_age)


@task(name="apply-backup-retention", **_TASK)
def apply_backup_retention_task(backup_dir: Path, keep_last: int, keep_days: float) -> list[str]:
    """Backups beyond retention (the newest ``keep_last`` and those younger than ``keep_days`` stay)."""
    from migration_guard.tasks.backup import apply_retention

    return [str(p) for p in apply_retention(Path(backup_dir), keep_last, keep_days)]
