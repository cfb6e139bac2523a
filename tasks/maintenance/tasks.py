"""Prefect tasks behind the maintenance flow: expired alerts, old log files, backup retention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from migration_guard.tasks.alerts.api import delete_expired_alerts
from migration_guard.tasks.maintenance.cleanup import delete_old_logs

_TASK = {"cache_policy": NO_CACHE, "persist_result": False}


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
