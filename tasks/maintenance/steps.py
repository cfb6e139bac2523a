"""The maintenance workflow: its steps port, the plain steps, and the sequence (written once).

The CLI runs :func:`run_maintenance` with :data:`PLAIN_STEPS`; the flow with the Prefect tasks of
``tasks/maintenance/tasks.py`` (the same functions, built by ``tasks/tasks.py: prefect_steps``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from migration_guard.tasks.alerts.api import delete_expired_alerts
from migration_guard.tasks.backup.retention import apply_retention
from migration_guard.tasks.maintenance.cleanup import delete_old_logs
from migration_guard.tasks.settings import Settings


@dataclass(frozen=True)
class MaintenanceOptions:
    """What maintenance keeps: alerts resolved for less than ``resolved_alert_age``, logs written
    within ``log_age``, the newest ``backup_keep_last`` backups and all younger than
    ``backup_keep_days`` (``prune_backups=False`` leaves backups alone)."""

    resolved_alert_age: timedelta = timedelta(hours=24)
    log_age: timedelta = timedelta(days=7)
    backup_keep_last: int = 7
    backup_keep_days: float = 14
    prune_backups: bool = True


def expired_alerts_step(settings: Settings, retention: timedelta) -> list[str]:
    """Delete alerts resolved longer than ``retention`` ago; return their ids."""
    return delete_expired_alerts(settings, retention=retention)


def old_logs_step(log_dir: Path, max_age: timedelta) -> list[str]:
    """Delete log files older than ``max_age``; return their paths."""
    return delete_old_logs(log_dir, max_age)


def backup_retention_step(backup_dir: Path, keep_last: int, keep_days: float) -> list[str]:
    """Delete backups beyond retention (the newest ``keep_last`` and those younger than
    ``keep_days`` stay); return their paths."""
    return [str(p) for p in apply_retention(Path(backup_dir), keep_last, keep_days)]


@dataclass(frozen=True)
class MaintenanceSteps:
    """The I/O steps of maintenance; plain functions for the CLI, Prefect tasks for flow runs."""

    delete_expired_alerts: Callable[[Settings, timedelta], list[str]]
    delete_old_logs: Callable[[Path, timedelta], list[str]]
    apply_backup_retention: Callable[[Path, int, float], list[str]]


PLAIN_STEPS = MaintenanceSteps(expired_alerts_step, old_logs_step, backup_retention_step)


def run_maintenance(settings: Settings, options: MaintenanceOptions,
                    steps: MaintenanceSteps = PLAIN_STEPS) -> dict[str, list[str]]:
    """Delete what is no longer needed (firing alerts and the newest backups never); return what
    was deleted, by kind (``alerts_deleted``, ``logs_deleted``, ``backups_deleted``)."""
    alerts = steps.delete_expired_alerts(settings, options.resolved_alert_age)
    logs = steps.delete_old_logs(settings.log_dir, options.log_age)
    backups = (steps.apply_backup_retention(settings.backup_dir, options.backup_keep_last, options.backup_keep_days)
               if options.prune_backups else [])
    return {"alerts_deleted": alerts, "logs_deleted": logs, "backups_deleted": backups}
