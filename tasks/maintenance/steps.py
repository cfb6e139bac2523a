"""The maintenance workflow's steps port and its plain steps (the sequence: ``pipeline.py``).

The CLI runs the sequence with :data:`PLAIN_STEPS`; the flow with the Prefect tasks of
``tasks/maintenance/tasks.py`` (the same functions, built by ``tasks/tasks.py: prefect_steps``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from migration_guard.tasks.alerts.api import delete_expired_alerts
from migration_guard.tasks.backup.retention import apply_retention
from migration_guard.tasks.history.prune import prune_history
from migration_guard.tasks.db import connection
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.maintenance.cleanup import delete_old_logs
from migration_guard.tasks.scratch import collect_scratch_databases
from migration_guard.tasks.settings import Settings


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


def history_prune_step(settings: Settings) -> list[str]:
    """Delete health history older than HISTORY_RETENTION_DAYS; return what was deleted (one line
    per table), or why nothing could be (the store is unreachable: a warning, not a failure)."""
    return prune_history(settings)


def scratch_databases_step(settings: Settings) -> list[str]:
    """Drop migration-guard's scratch databases (mg_shadow_*, mg_verify_*) whose creator is gone;
    return a line per database dropped (or why none could be looked for: a warning, not a failure)."""
    if settings.database_url is None:
        return []
    try:
        with connection(settings.require_database_url(), connect_timeout=settings.connect_timeout) as conn:
            return collect_scratch_databases(conn)
    except MigrationGuardError as exc:
        return [f"scratch databases not checked: {exc.message}"]


@dataclass(frozen=True)
class MaintenanceSteps:
    """The I/O steps of maintenance; plain functions for the CLI, Prefect tasks for flow runs."""

    delete_expired_alerts: Callable[[Settings, timedelta], list[str]]
    delete_old_logs: Callable[[Path, timedelta], list[str]]
    apply_backup_retention: Callable[[Path, int, float], list[str]]
    prune_history: Callable[[Settings], list[str]] = history_prune_step
    drop_scratch_databases: Callable[[Settings], list[str]] = scratch_databases_step


PLAIN_STEPS = MaintenanceSteps(expired_alerts_step, old_logs_step, backup_retention_step,
                               prune_history=history_prune_step, drop_scratch_databases=scratch_databases_step)
